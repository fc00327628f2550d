//! Durability: the gateway is killed with SIGKILL and started again on the same data
//! folder. No session, PIN, token or audit event is lost, and the end user's app
//! reconnects by itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::binary;
use support::procs::{Running, describe, run};
use support::xvfb::Xvfb;

const PASSWORD: &str = "correct horse battery";

fn start_gateway(data: &Path, listen: &str, quic: &str) -> (Running, String, String, String) {
    let mut serve = Command::new(binary("sos-gateway"));
    serve.args([
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        listen,
        "--quic",
        quic,
    ]);
    let gateway = Running::spawn("sos-gateway", serve);
    let field = |prefix: &str| {
        gateway
            .expect_line(prefix, Duration::from_secs(20))
            .trim_start_matches(prefix)
            .trim()
            .to_string()
    };
    let console = field("console: ");
    let quic = field("quic: ");
    let cert = field("cert-sha256: ");
    (gateway, console, quic, cert)
}

fn desk(config: &Path, args: &[&str]) -> Value {
    let mut full = vec!["--config", config.to_str().unwrap()];
    full.extend_from_slice(args);
    let out = run(&binary("sos-desk"), &full, "", &[]);
    assert!(
        out.status.success(),
        "sos-desk {args:?}: {}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn wait_status(config: &Path, id: &str, status: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let show = desk(config, &["session", "show", id, "--json"]);
        if show["status"] == status {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "never {status}: {show}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kill_nine_loses_nothing_and_the_app_reconnects() {
    let xvfb = Xvfb::start(640, 480);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("gateway");
    let out = run(
        &binary("sos-gateway"),
        &[
            "user",
            "add",
            "--data",
            data.to_str().unwrap(),
            "--email",
            "tina@example.com",
            "--name",
            "Tina Tech",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let (mut gateway, console, quic, cert) = start_gateway(&data, "127.0.0.1:0", "127.0.0.1:0");
    let config = work.path().join("desk.json");
    let login = run(
        &binary("sos-desk"),
        &[
            "--config",
            config.to_str().unwrap(),
            "login",
            "--gateway",
            &console,
            "--email",
            "tina@example.com",
            "--password-stdin",
            "--cert-sha256",
            &cert,
        ],
        &format!("{PASSWORD}\n"),
        &[],
    );
    assert!(login.status.success(), "{}", describe(&login));
    let live = desk(&config, &["session", "new", "--json"]);
    let waiting = desk(&config, &["session", "new", "--json"]);
    let id = live["id"].as_str().unwrap().to_string();

    let mut agent_cmd = Command::new(binary("sos"));
    agent_cmd
        .args([
            "--gateway",
            &quic,
            "--pin",
            live["pin"].as_str().unwrap(),
            "--cert-sha256",
            &cert,
        ])
        .env("DISPLAY", &xvfb.display);
    let agent = Running::spawn("sos", agent_cmd);
    agent.expect_line("Waiting", Duration::from_secs(20));
    wait_status(&config, &id, "active", Duration::from_secs(10));

    // SIGKILL: no chance to flush anything that was not already durable.
    gateway.kill_hard();
    let (_gateway, _, quic_again, cert_again) =
        start_gateway(&data, console.trim_start_matches("https://"), &quic);
    assert_eq!(cert_again, cert, "the TLS identity is kept");
    assert_eq!(quic_again, quic);

    // The token still works; both sessions, their PINs and the audit log are there.
    let listed = desk(&config, &["session", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let pin = desk(
        &config,
        &["session", "pin", waiting["id"].as_str().unwrap(), "--json"],
    );
    assert_eq!(pin["pin"], waiting["pin"]);
    let took = wait_status(&config, &id, "active", Duration::from_secs(15));
    eprintln!("the app was back {took:?} after the gateway restarted");
    assert!(
        agent.transcript().contains("Reconnected"),
        "{}",
        agent.transcript()
    );
    let log = desk(&config, &["session", "log", &id, "--json"]);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "agent_registered").count(),
        2,
        "{actions:?}"
    );
    assert_eq!(actions[0], "created");
    let origins: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["origin"].as_str().unwrap())
        .collect();
    assert_eq!(
        origins[0], "https 127.0.0.x",
        "from where, without the full address: {origins:?}"
    );
    assert!(origins.contains(&"quic 127.0.0.x"), "{origins:?}");
}
