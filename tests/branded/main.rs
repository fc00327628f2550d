//! Branded builds end to end, with real pieces only: an app built with `SOS_BRANDING`
//! (pinning the keys of two fixture gateways), the gateways on the preset loopback port in
//! turn, the link page and its download over HTTPS, the app joining from its file name
//! alone, the backup key accepted, an impostor refused even when the system trusts its
//! certificate, and a flipped byte in the baked configuration refused at start.
//!
//! The branded app is built once per run (see [`fixture`]); the first run takes minutes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

#[path = "../support/mod.rs"]
mod support;

mod fixture;

use fixture::{CONSENT_TEXT, ORGANISATION, PASSWORD, PRODUCT, fixture};
use serde_json::Value;
use sos_transport::{CertFingerprint, Trust};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::binary;
use support::procs::{Running, describe, run};
use support::xvfb::Xvfb;

/// Exit status of the app for a gateway it cannot reach or verify.
const EXIT_UNREACHABLE: i32 = 4;
/// Exit status of the app for a PIN the gateway refused.
const EXIT_REFUSED: i32 = 3;
/// Exit status of the app for a baked branding that does not match its signature.
const EXIT_TAMPERED: i32 = 6;

const LINUX_BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120";

/// A gateway serving `data` on the preset port.
struct Gateway {
    process: Running,
    console: String,
    cert: String,
}

impl Gateway {
    fn serve(data: &Path, port: u16) -> Self {
        let mut serve = Command::new(binary("sos-gateway"));
        let address = format!("127.0.0.1:{port}");
        serve
            .args(["serve", "--data", data.to_str().unwrap()])
            .args(["--listen", &address, "--quic", &address])
            .args(["--webtransport", "127.0.0.1:0"])
            .args(["--organisation", ORGANISATION]);
        let process = Running::spawn("sos-gateway", serve);
        let field = |prefix: &str| {
            let line = process.expect_line(prefix, Duration::from_secs(20));
            line.trim_start_matches(prefix).trim().to_string()
        };
        let console = field("console: ");
        let cert = field("cert-sha256: ");
        Self {
            process,
            console,
            cert,
        }
    }

    /// Logs tina in with `sos-desk` (config under `work`) and creates a session.
    fn session(&self, work: &Path) -> (Desk, Value) {
        let desk = Desk(work.join(format!("desk-{}.json", &self.cert[..8])));
        let out = run(
            &binary("sos-desk"),
            &[
                "--config",
                desk.0.to_str().unwrap(),
                "login",
                "--gateway",
                &self.console,
                "--email",
                "tina@example.com",
                "--password-stdin",
                "--cert-sha256",
                &self.cert,
            ],
            &format!("{PASSWORD}\n"),
            &[],
        );
        assert!(out.status.success(), "login: {}", describe(&out));
        let session = desk.json(&["session", "new", "--json"]);
        (desk, session)
    }
}

/// `sos-desk` with its own config file.
struct Desk(PathBuf);

impl Desk {
    fn ok(&self, args: &[&str]) -> String {
        let mut full = vec!["--config", self.0.to_str().unwrap()];
        full.extend_from_slice(args);
        let out = run(&binary("sos-desk"), &full, "", &[]);
        assert!(
            out.status.success(),
            "sos-desk {args:?}: {}",
            describe(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
    fn wait_active(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let show = self.json(&["session", "show", id, "--json"]);
            if show["status"] == "active" {
                return;
            }
            assert!(Instant::now() < deadline, "never active: {show}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// GETs `url` over HTTPS pinning `cert`: status, headers and body.
fn https_get(url: &str, cert: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let pin: CertFingerprint = cert.parse().unwrap();
    let tls = sos_transport::tls::client_config(&Trust::Pinned(vec![pin]), &[b"http/1.1"]).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(LINUX_BROWSER)
            .build()
            .unwrap();
        let response = client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    })
}

/// Runs the app to its end with `args`; returns the exit code and its output.
fn app_exit(app: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(app);
    command
        .args(args)
        .args(["--consent", "terminal"])
        .env_remove("SOS_GATEWAY")
        .envs(env.iter().copied());
    let out = command.output().expect("start the app");
    (out.status.code(), describe(&out))
}

/// Starts the app (stdin piped for the consent answers), waiting for its session.
fn app_joins(app: &Path, args: &[&str], display: &str) -> Running {
    let mut command = Command::new(app);
    command
        .args(args)
        .args(["--consent", "terminal"])
        .env_remove("SOS_GATEWAY")
        .env("DISPLAY", display);
    let running = Running::spawn("branded sos", command);
    running.expect_line("Waiting", Duration::from_secs(30));
    running
}

#[test]
fn a_flipped_byte_in_the_baked_branding_stops_the_app() {
    let fixture = fixture();
    let work = tempfile::tempdir().unwrap();
    let pristine = std::fs::read(&fixture.app).unwrap();
    let at = |needle: &[u8]| {
        let found: Vec<usize> = pristine
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(found.len(), 1, "the baked bytes appear exactly once");
        found[0]
    };
    let payload_at = at(&fixture.payload);
    let logo_at = at(fixture::LOGO);

    let copy = |name: &str, bytes: &[u8]| {
        let path = work.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let (code, output) = app_exit(&copy("unchanged", &pristine), &["--version"], &[]);
    assert_eq!(code, Some(0), "{output}");

    // One byte in the middle of the signed configuration, its first byte, a logo byte.
    for (name, offset) in [
        ("config", payload_at + fixture.payload.len() / 2),
        ("first", payload_at),
        ("logo", logo_at + 40),
    ] {
        let mut tampered = pristine.clone();
        tampered[offset] ^= 0x01;
        let (code, output) = app_exit(&copy(name, &tampered), &["--version"], &[]);
        assert_eq!(code, Some(EXIT_TAMPERED), "{name}: {output}");
        assert!(
            output.contains("was changed after it was built") && output.contains("will not run"),
            "{name}: {output}"
        );
    }
}

#[test]
fn the_branded_app_joins_its_gateway_from_its_file_name_and_refuses_an_impostor() {
    let fixture = fixture();
    let _port = fixture::exclusive();
    let xvfb = Xvfb::start(1280, 720);
    let work = tempfile::tempdir().unwrap();
    let port = fixture.port;
    let address = format!("127.0.0.1:{port}");

    // A branded app takes no gateway from its command line.
    let (code, output) = app_exit(
        &fixture.app,
        &["--gateway", "127.0.0.1:9", "--pin", "123456789"],
        &[],
    );
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("does not accept --gateway"), "{output}");

    // The primary gateway: the link page offers the branded app named after the session.
    let downloads = fixture.primary.join("downloads").join("linux");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::copy(&fixture.app, downloads.join("acme-support")).unwrap();
    let gateway = Gateway::serve(&fixture.primary, port);
    let (desk, session) = gateway.session(work.path());
    let id = session["id"].as_str().unwrap().to_string();
    let pin = session["pin"].as_str().unwrap().to_string();
    let link = session["link"].as_str().unwrap().to_string();
    assert!(link.starts_with(&format!("https://{address}/s/")), "{link}");
    let token = link.rsplit('/').next().unwrap().to_string();

    let (status, _, page) = https_get(&link, &gateway.cert);
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("Remote support from {ORGANISATION}")),
        "{page}"
    );
    assert!(page.contains("What will happen"));
    assert!(page.contains(&format!("{} {} {}", &pin[..3], &pin[3..6], &pin[6..])));
    let download = format!("/s/{token}/download/linux");
    assert!(page.contains(&format!("href=\"{download}\"")), "{page}");
    assert!(
        page.contains(&format!("Download {PRODUCT} for Linux")),
        "{page}"
    );
    assert!(!page.contains("<script"));

    let (status, headers, app_bytes) =
        https_get(&format!("{}{download}", gateway.console), &gateway.cert);
    assert_eq!(status, 200);
    let disposition = headers["content-disposition"].to_str().unwrap();
    let name = format!("acme-support_{token}");
    assert_eq!(disposition, format!("attachment; filename=\"{name}\""));
    assert_eq!(app_bytes, std::fs::read(&fixture.app).unwrap());

    // Saved twice by a browser: the second copy is "<name> (1)". It joins with no argument.
    let saved = work.path().join(format!("{name} (1)"));
    std::fs::write(&saved, &app_bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&saved, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut agent = app_joins(&saved, &[], &xvfb.display);
    desk.wait_active(&id);
    let transcript = agent.transcript();
    assert!(transcript.contains(&format!("{PRODUCT} — remote support from {ORGANISATION}")));
    assert!(
        !transcript.contains("Enter the 9-digit PIN"),
        "{transcript}"
    );
    // The organisation's words come with the permission question.
    desk.ok(&["session", "request", &id, "--wait", "0"]);
    agent.expect_line("[y/N]", Duration::from_secs(10));
    let transcript = agent.transcript();
    assert!(
        transcript.contains(&format!(
            "A message from {ORGANISATION}:\n  {CONSENT_TEXT}\nAllow"
        )),
        "{transcript}"
    );
    agent.send_line("n");
    agent.send_line("stop");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    let logs = gateway.process.transcript() + &agent.transcript();
    assert!(
        !logs.contains(&token),
        "the link token appeared in a log:\n{logs}"
    );
    drop(gateway);

    // The backup key (after a rotation) is accepted too; the PIN path still works.
    let gateway = Gateway::serve(&fixture.backup, port);
    let (desk, session) = gateway.session(work.path());
    let id = session["id"].as_str().unwrap();
    let mut agent = app_joins(
        &fixture.app,
        &["--pin", session["pin"].as_str().unwrap()],
        &xvfb.display,
    );
    desk.wait_active(id);
    agent.send_line("stop");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    drop(gateway);

    // An impostor on the preset address, with another key. Its certificate is trusted by
    // "the system" (SSL_CERT_FILE), which the generic app shows by reaching its PIN check.
    let impostor_data = work.path().join("impostor");
    let impostor = Gateway::serve(&impostor_data, port);
    let impostor_cert = impostor_data.join("gateway-cert.pem");
    let system_trusts = [
        ("SSL_CERT_FILE", impostor_cert.to_str().unwrap()),
        ("SSL_CERT_DIR", "/nonexistent"),
        ("DISPLAY", xvfb.display.as_str()),
    ];
    let (code, output) = app_exit(
        &binary("sos"),
        &["--gateway", &address, "--pin", "123456789"],
        &system_trusts,
    );
    assert_eq!(
        code,
        Some(EXIT_REFUSED),
        "trusted under the system roots: {output}"
    );
    assert!(output.contains("PIN not accepted"), "{output}");

    let (code, output) = app_exit(&fixture.app, &["--pin", &pin], &system_trusts);
    assert_eq!(code, Some(EXIT_UNREACHABLE), "{output}");
    assert!(output.contains("did not prove its identity"), "{output}");
    let (code, output) = app_exit(&saved, &[], &system_trusts);
    assert_eq!(code, Some(EXIT_UNREACHABLE), "{output}");
    assert!(
        output.contains("did not prove it is your organisation's gateway"),
        "{output}"
    );
    let seen = impostor.process.transcript();
    assert!(!seen.contains("registered"), "nothing registered: {seen}");
}
