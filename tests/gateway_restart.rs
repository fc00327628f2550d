//! Durability: the gateway is killed with SIGKILL and started again on the same data
//! folder. No session, PIN, token or audit event is lost, and the end user's app
//! reconnects by itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::binary;
use support::procs::Running;
use support::stack::{Desk, Gateway};
use support::xvfb::Xvfb;

#[test]
fn kill_nine_loses_nothing_and_the_app_reconnects() {
    let xvfb = Xvfb::start(640, 480);
    let work = tempfile::tempdir().unwrap();
    let mut gateway = Gateway::start(work.path());
    let (console, quic, cert) = (
        gateway.console.clone(),
        gateway.quic.clone(),
        gateway.cert.clone(),
    );
    let desk = Desk::login(&gateway, work.path());
    let live = desk.json(&["session", "new", "--json"]);
    let waiting = desk.json(&["session", "new", "--json"]);
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
    desk.wait_within(&id, "active", Duration::from_secs(10), |s| {
        s["status"] == "active"
    });

    // SIGKILL: no chance to flush anything that was not already durable.
    gateway.process.kill_hard();
    let again = Gateway::serve(
        &work.path().join("gateway"),
        console.trim_start_matches("https://"),
        &quic,
    );
    assert_eq!(again.cert, cert, "the TLS identity is kept");
    assert_eq!(again.quic, quic);

    // The token still works; both sessions, their PINs and the audit log are there.
    let listed = desk.json(&["session", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let pin = desk.json(&["session", "pin", waiting["id"].as_str().unwrap(), "--json"]);
    assert_eq!(pin["pin"], waiting["pin"]);
    let back = Instant::now();
    desk.wait_within(&id, "active", Duration::from_secs(15), |s| {
        s["status"] == "active"
    });
    let took = back.elapsed();
    eprintln!("the app was back {took:?} after the gateway restarted");
    assert!(
        agent.transcript().contains("Reconnected"),
        "{}",
        agent.transcript()
    );
    let log = desk.json(&["session", "log", &id, "--json"]);
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
