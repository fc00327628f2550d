//! The walking skeleton, end to end, with real pieces only: Xvfb with known content, the
//! gateway on free loopback ports with a temporary data folder, a technician using
//! `sos-desk`, the end-user app `sos` answering the permission prompt on its terminal, a
//! headless viewer decoding real H.264, and input injected into the X server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::binary;
use support::procs::{Running, describe, run};
use support::stack::{Desk, Gateway};
use support::xclient::XClient;
use support::xvfb::Xvfb;

/// Reads a binary PPM (P6) into packed BGRA.
fn read_ppm(path: &Path) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).expect("snapshot written");
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..pos]).to_string());
    }
    assert_eq!(fields[0], "P6", "snapshot is a binary PPM");
    let width: u32 = fields[1].parse().unwrap();
    let height: u32 = fields[2].parse().unwrap();
    let rgb = &bytes[pos + 1..];
    assert_eq!(rgb.len(), (width * height * 3) as usize);
    let mut bgra = Vec::with_capacity((width * height * 4) as usize);
    for px in rgb.chunks_exact(3) {
        bgra.extend_from_slice(&[px[2], px[1], px[0], 255]);
    }
    (width, height, bgra)
}

#[test]
fn pin_consent_stream_input_and_close_end_to_end() {
    let xvfb = Xvfb::start(1920, 1080);
    let x = XClient::start(&xvfb.display);
    let work = tempfile::tempdir().unwrap();

    // A technician and a gateway on free loopback ports; the technician logs in (pinning
    // the gateway) and creates a session.
    let gateway = Gateway::start(work.path());
    let (console, quic, cert) = (&gateway.console, &gateway.quic, &gateway.cert);
    assert!(console.starts_with("https://127.0.0.1:"), "{console}");
    assert_eq!(cert.len(), 64, "{cert}");
    let desk = Desk::login(&gateway, work.path());
    let session = desk.json(&["session", "new", "--json"]);
    let id = session["id"].as_str().unwrap().to_string();
    let pin = session["pin"].as_str().unwrap().to_string();
    assert_eq!(pin.len(), 9);
    assert!(pin.bytes().all(|b| b.is_ascii_digit()));
    assert!(
        session["link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{console}/s/"))
    );
    assert_eq!(session["status"], "pending");

    // A wrong certificate pin is refused: fail closed, no registration.
    let impostor_pin = "00".repeat(32);
    let refused = run(
        &binary("sos"),
        &[
            "--gateway",
            quic,
            "--pin",
            &pin,
            "--cert-sha256",
            &impostor_pin,
            "--consent",
            "terminal",
        ],
        "",
        &[("DISPLAY", xvfb.display.as_str())],
    );
    assert!(
        !refused.status.success(),
        "a wrong pin must not connect: {}",
        describe(&refused)
    );
    assert_eq!(
        desk.json(&["session", "show", &id, "--json"])["status"],
        "pending"
    );

    // The end user starts the app; the session turns Active.
    let started = Instant::now();
    let mut agent_cmd = Command::new(binary("sos"));
    agent_cmd
        .args([
            "--gateway",
            quic,
            "--pin",
            &pin,
            "--cert-sha256",
            cert,
            "--consent",
            "terminal",
        ])
        .env("DISPLAY", &xvfb.display);
    let mut agent = Running::spawn("sos", agent_cmd);
    agent.expect_line("Waiting", Duration::from_secs(20));
    desk.wait_for(&id, "active", |s| s["status"] == "active");

    // First the end user denies: nothing is streamed, nothing is injected.
    desk.ok(&["session", "request", &id, "--wait", "0"]);
    let prompt = agent.expect_line("[y/N]", Duration::from_secs(10));
    assert!(
        prompt.contains("Tina Tech"),
        "the prompt names who asks: {prompt}"
    );
    agent.send_line("n");
    desk.wait_for(&id, "denied", |s| s["remote"]["state"] == "denied");
    let pointer_before = x.pointer();
    let view = desk.run(&[
        "view",
        &id,
        "--headless",
        "--record",
        work.path().join("denied.h264").to_str().unwrap(),
        "--frames",
        "1",
        "--timeout",
        "5",
    ]);
    assert!(
        !view.status.success(),
        "no stream after a deny: {}",
        describe(&view)
    );
    assert!(
        !work.path().join("denied.h264").exists()
            || std::fs::metadata(work.path().join("denied.h264"))
                .unwrap()
                .len()
                == 0
    );
    let input = desk.run(&["input", &id, "--move", "5,7", "--text", "no"]);
    assert!(
        !input.status.success(),
        "no input after a deny: {}",
        describe(&input)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        x.pointer(),
        pointer_before,
        "the pointer did not move after a deny"
    );
    assert_eq!(x.typed_text(), "", "no key arrived after a deny");

    // Then the end user grants: live H.264 reaches the viewer and matches the screen.
    desk.ok(&["session", "request", &id, "--wait", "0"]);
    agent.expect_line("[y/N]", Duration::from_secs(10));
    agent.send_line("y");
    desk.wait_for(&id, "granted", |s| s["remote"]["state"] == "granted");
    let snapshot = work.path().join("first.ppm");
    let view = desk.run(&[
        "view",
        &id,
        "--headless",
        "--record",
        work.path().join("first.h264").to_str().unwrap(),
        "--frames",
        "1",
        "--timeout",
        "60",
        "--snapshot",
        snapshot.to_str().unwrap(),
    ]);
    assert!(view.status.success(), "view: {}", describe(&view));
    eprintln!(
        "time from app start to the first decoded frame: {:?}",
        started.elapsed()
    );
    let (w, h, decoded) = read_ppm(&snapshot);
    assert_eq!((w, h), (1920, 1080));
    let screen = x.capture();
    let psnr = sos_codec::psnr_bgra(&decoded, w as usize * 4, &screen, w as usize * 4, w, h);
    eprintln!("PSNR of the decoded frame against the screen: {psnr:.2} dB");
    assert!(psnr >= 35.0, "decoded frame PSNR {psnr:.2} dB < 35 dB");

    // A changing screen streams frame after frame; the recording plays in ffmpeg.
    let record = work.path().join("stream.h264");
    {
        let _moving = x.animate();
        let view = desk.run(&[
            "view",
            &id,
            "--headless",
            "--record",
            record.to_str().unwrap(),
            "--frames",
            "20",
            "--timeout",
            "60",
        ]);
        assert!(view.status.success(), "view: {}", describe(&view));
    }
    let h264 = std::fs::read(&record).unwrap();
    assert!(
        h264.starts_with(&[0, 0, 0, 1]) || h264.starts_with(&[0, 0, 1]),
        "Annex-B stream"
    );
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
        ])
        .args([
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&record)
        .output()
        .expect("ffprobe is installed (cargo xtask setup installs ffmpeg)");
    let probe = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    assert_eq!(probe, "h264,1920,1080,20", "ffprobe reads the recording");

    // Input travels back and reaches the X server.
    desk.ok(&["input", &id, "--move", "300,200"]);
    assert_eq!(
        x.pointer(),
        (300, 200),
        "pointer moved where the technician asked"
    );
    desk.ok(&["input", &id, "--click", "left"]);
    desk.ok(&["input", &id, "--text", "hello", "--key", "Return"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while x.typed_text() != "hello" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(x.typed_text(), "hello");
    let seen = x.seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| matches!(
            s,
            support::xclient::Seen::Button {
                button: 1,
                x: 300,
                y: 200
            }
        )),
        "left click at 300,200 arrived: {seen:?}"
    );
    assert!(
        seen.contains(&support::xclient::Seen::Key(0xff0d)),
        "Return arrived: {seen:?}"
    );
    assert!(!x.anything_pressed(), "no key or button left pressed");

    // The technician closes: both ends learn why, and the PIN never works again.
    desk.ok(&["session", "close", &id]);
    agent.expect_line("Session ended", Duration::from_secs(10));
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(
        desk.json(&["session", "show", &id, "--json"])["status"],
        "closed"
    );
    let again = run(
        &binary("sos"),
        &[
            "--gateway",
            quic,
            "--pin",
            &pin,
            "--cert-sha256",
            cert,
            "--consent",
            "terminal",
        ],
        "",
        &[("DISPLAY", xvfb.display.as_str())],
    );
    assert!(!again.status.success(), "a closed session's PIN is refused");
    let text = describe(&again);
    assert!(text.contains("PIN not accepted"), "{text}");

    // Secrets stay out of the logs.
    let logs = gateway.process.transcript() + &agent.transcript();
    assert!(!logs.contains(&pin), "the PIN appeared in a log:\n{logs}");
}
