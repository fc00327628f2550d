//! PIN guessing across the gateway: past the gateway-wide budget, PINs alone are refused
//! (even the right one), while the app downloaded from the session's link, which carries
//! the link's token in its file name, still joins with its PIN; administrators see the
//! warning in the console.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use std::time::Duration;
use support::binary;
use support::browser::Browser;
use support::procs::{Running, describe, run};
use support::stack::{Desk, Gateway};
use support::xvfb::Xvfb;

#[test]
fn guessed_pins_switch_registration_to_link_only_and_the_link_still_joins() {
    let xvfb = Xvfb::start(640, 480);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start_configured(
        work.path(),
        "[pin_limits]\nper_address = 100\nper_network = 100\ngateway_wide = 3\n",
        &[("ann@example.com", "Ann Admin", "admin")],
    );
    let desk = Desk::login(&gateway, work.path());
    let session = desk.json(&["session", "new", "--json"]);
    let id = session["id"].as_str().unwrap().to_string();
    let pin = session["pin"].as_str().unwrap().to_string();
    let link = session["link"].as_str().unwrap().to_string();
    let token = link.rsplit("/s/").next().unwrap().to_string();
    // A wrong PIN: the right one with its last digit changed.
    let last = pin.chars().last().unwrap().to_digit(10).unwrap();
    let wrong = format!("{}{}", &pin[..8], (last + 1) % 10);
    let app_args = |pin: &str| {
        vec![
            "--gateway".to_string(),
            gateway.quic.clone(),
            "--pin".to_string(),
            pin.to_string(),
            "--cert-sha256".to_string(),
            gateway.cert.clone(),
            "--consent".to_string(),
            "terminal".to_string(),
        ]
    };
    let display = [("DISPLAY", xvfb.display.as_str())];
    let sos = binary("sos");
    // The app with only a PIN: it must be refused; returns what it printed.
    let refused = |pin: &str, what: &str| {
        let args = app_args(pin);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&sos, &args, "", &display);
        assert!(!out.status.success(), "{what}: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for guess in 1..=3 {
        let said = refused(&wrong, &format!("guess {guess}"));
        assert!(said.contains("PIN not accepted"), "guess {guess}: {said}");
    }

    // The budget is spent: the right PIN, typed into an app that does not hold the link,
    // is refused like a guess, and the answer points to the link.
    let said = refused(&pin, "the right PIN without the link");
    assert!(said.contains("use the link your technician sent"), "{said}");

    // Administrators are warned in the console; technicians are not bothered with it.
    let browser = Browser::for_gateway(&gateway);
    browser.log_in(&gateway, "ann@example.com");
    let alert = browser.wait_for_text("#alerts", "PIN registration is off");
    assert!(alert.contains("session link"), "{alert}");
    browser.screenshot("alert-link-only");
    browser.log_out();
    browser.log_in(&gateway, support::stack::EMAIL);
    assert!(
        browser.try_find("#alerts").is_none(),
        "a technician sees no alerts box"
    );
    let status = desk.json(&["session", "show", &id, "--json"]);
    assert_eq!(status["status"], "pending", "{status}");

    // The same app as downloaded from the link: its file name carries the token.
    let downloaded = work.path().join(format!("sos_{token}"));
    std::fs::copy(&sos, &downloaded).unwrap();
    let mut app = std::process::Command::new(&downloaded);
    app.args(app_args(&pin)).env("DISPLAY", &xvfb.display);
    let app = Running::spawn("sos (from the link)", app);
    app.expect_line("Waiting", Duration::from_secs(20));
    desk.wait_for(&id, "active", |s| s["status"] == "active");

    // The PIN is not written anywhere in the gateway's log, guesses included.
    let log = gateway.process.transcript();
    assert!(!log.contains(&pin) && !log.contains(&wrong), "{log}");
}
