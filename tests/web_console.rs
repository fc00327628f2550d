//! The web console in a real headless Chromium against a real gateway on free loopback
//! ports: what a technician sees and does, checked on the page itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use support::browser::Browser;
use support::stack::{EMAIL, Gateway, PASSWORD};

/// Logs in through the console's form as `email`.
fn log_in(browser: &Browser, gateway: &Gateway, email: &str) {
    browser.goto(&format!("{}/console/login", gateway.console));
    browser.type_into("#email", email);
    // Enter submits, as in any form.
    browser.type_into("#password", &format!("{PASSWORD}\n"));
    browser.wait_for("the console after login", support::browser::WAIT, |b| {
        b.try_find("#logout").map(|_| ())
    });
}

#[test]
fn login_wrong_password_and_logout() {
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let browser = Browser::for_gateway(&gateway);

    // The root leads to the console, which asks to sign in.
    browser.goto(&gateway.console);
    browser.wait_for("the login form", support::browser::WAIT, |b| {
        b.try_find("#sign-in").map(|_| ())
    });
    assert!(
        browser.url().ends_with("/console/login"),
        "{}",
        browser.url()
    );
    browser.screenshot("login");

    // A wrong password: told so, still on the form, the e-mail kept.
    browser.type_into("#email", EMAIL);
    browser.type_into("#password", "not the password\n");
    browser.wait_for_text("#login-error", "not accepted");
    assert_eq!(browser.attribute("#email", "value").as_deref(), Some(EMAIL));

    log_in(&browser, &gateway, EMAIL);
    assert_eq!(browser.text("#who"), format!("Tina Tech ({EMAIL})"));
    // The session cookie is out of the page script's reach; the CSRF value is not.
    let cookies = browser.js("return document.cookie", vec![]);
    let cookies = cookies.as_str().unwrap();
    assert!(cookies.contains("sosdesk_csrf="), "{cookies}");
    assert!(!cookies.contains("sosdesk_session"), "{cookies}");

    browser.click("#logout");
    browser.wait_for("the login form after logout", support::browser::WAIT, |b| {
        b.try_find("#sign-in").map(|_| ())
    });
    // Logged out for good: the console sends back to the form.
    browser.goto(&format!("{}/console", gateway.console));
    assert!(
        browser.url().ends_with("/console/login"),
        "{}",
        browser.url()
    );
}
