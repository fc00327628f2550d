//! The web console in a real headless Chromium against a real gateway on free loopback
//! ports: what a technician sees and does, checked on the page itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use std::process::Command;
use std::time::Duration;
use support::binary;
use support::browser::{Browser, Key, WAIT};
use support::procs::Running;
use support::stack::{EMAIL, Gateway};
use support::xvfb::Xvfb;

#[test]
fn login_wrong_password_and_logout() {
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let browser = Browser::for_gateway(&gateway);

    // The root leads to the console, which asks to sign in.
    browser.goto(&gateway.console);
    browser.wait_for("the login form", WAIT, |b| {
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

    browser.log_in(&gateway, EMAIL);
    assert_eq!(browser.text("#who"), format!("Tina Tech ({EMAIL})"));
    // The session cookie is out of the page script's reach; the CSRF value is not.
    let cookies = browser.js("return document.cookie", vec![]);
    let cookies = cookies.as_str().unwrap();
    assert!(cookies.contains("sosdesk_csrf="), "{cookies}");
    assert!(!cookies.contains("sosdesk_session"), "{cookies}");

    browser.click("#logout");
    browser.wait_for("the login form after logout", WAIT, |b| {
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

/// The id of the first session row in the list.
fn first_row_id(browser: &Browser) -> String {
    browser.wait_for("a session row", WAIT, |b| {
        b.js(
            "const row = document.querySelector('#sessions tbody tr'); return row && row.dataset.id",
            vec![],
        )
        .as_str()
        .map(str::to_string)
    })
}

/// Whether the button matching `css` is disabled.
fn disabled(browser: &Browser, css: &str) -> bool {
    browser.attribute(css, "disabled").as_deref() == Some("true")
}

#[test]
fn a_session_from_new_to_closed_without_reloading_the_page() {
    let xvfb = Xvfb::start(1280, 720);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let browser = Browser::for_gateway(&gateway);
    browser.log_in(&gateway, EMAIL);
    browser.wait_for_text("#live", "Live");
    browser.screenshot("home");

    // New session in the Default channel: the dialog shows the link and the PIN.
    browser.click("nav.side a[href='/console/channels/Default']");
    browser.wait_for_text("main h1", "Default");
    browser.click("#new-session");
    let pin = browser.wait_for("the new session's PIN", WAIT, |b| {
        b.attribute("#new-pin", "value").filter(|v| !v.is_empty())
    });
    let link = browser.attribute("#new-link", "value").unwrap();
    assert_eq!(pin.len(), 9, "{pin}");
    assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
    assert!(
        link.starts_with(&format!("{}/s/", gateway.console)),
        "{link}"
    );
    browser.screenshot("new-session");
    // Keyboard: the dialog takes the focus (on Copy link) and Escape closes it.
    assert_eq!(
        browser.js("return document.activeElement.dataset.copy", vec![]),
        "new-link"
    );
    browser.press(Key::Escape);
    browser.wait_for("the new-session dialog to close", WAIT, |b| {
        (b.js(
            "return document.getElementById('new-session-dialog').open",
            vec![],
        ) == false)
            .then_some(())
    });
    let id = first_row_id(&browser);
    let badge = format!("#sessions tr[data-id='{id}'] .badge");
    browser.wait_for_text(&badge, "Pending");
    // From here on the page must never reload: the marker would be gone.
    browser.js("window.noReload = true", vec![]);

    // The end user starts the app with the PIN read from the page: Active, live.
    let mut agent_cmd = Command::new(binary("sos"));
    agent_cmd
        .args(["--gateway", &gateway.quic, "--pin", &pin])
        .args(["--cert-sha256", &gateway.cert, "--consent", "terminal"])
        .env("DISPLAY", &xvfb.display);
    let mut agent = Running::spawn("sos", agent_cmd);
    agent.expect_line("Waiting", Duration::from_secs(20));
    browser.wait_for_text(&badge, "Active");
    let machine = browser.text(&format!("#sessions tr[data-id='{id}'] td:nth-child(2)"));
    assert_ne!(machine, "not connected yet");
    assert_eq!(
        browser.text(&format!("#sessions tr[data-id='{id}'] td:nth-child(3)")),
        EMAIL
    );

    // The panel, opened with the keyboard: a technician's role lacks release, and the page
    // says so.
    browser.press_on(
        &format!("#sessions tr[data-id='{id}'] button.open"),
        Key::Enter,
    );
    browser.wait_for_text("#session-status", "Active");
    assert!(disabled(&browser, "#act-release"));
    assert_eq!(
        browser.text("#why-release"),
        "release needs the release permission"
    );
    assert!(disabled(&browser, "#act-start"));
    assert!(browser.text("#why-start").contains("has not granted"));

    // Request permission from the page; the end user grants on the app's terminal.
    assert!(!disabled(&browser, "#act-request"));
    assert_eq!(
        browser.attribute("#request-control", "checked").as_deref(),
        Some("true")
    );
    browser.click("#act-request");
    let prompt = agent.expect_line("[y/N]", Duration::from_secs(10));
    assert!(
        prompt.contains("Tina Tech"),
        "the prompt names who asks: {prompt}"
    );
    agent.send_line("y");
    browser.wait_for_text("#session-permission", "granted: view and control");
    browser.wait_for("Start remote session to be enabled", WAIT, |b| {
        (!disabled(b, "#act-start")).then_some(())
    });
    browser.screenshot("session-panel");

    // Start remote session opens the viewer's page for this session.
    browser.click("#act-start");
    browser.wait_for("the viewer's address", WAIT, |b| {
        b.url()
            .ends_with(&format!("/console/sessions/{id}/view"))
            .then_some(())
    });
    browser.goto(&format!("{}/console/channels/Default", gateway.console));
    browser.wait_for_text("#live", "Live");
    browser.js("window.noReload = true", vec![]);
    browser.click(&format!("#sessions tr[data-id='{id}'] button.open"));
    browser.wait_for_text("#session-permission", "granted");

    // Show PIN gives the same PIN.
    browser.click("#act-show_pin");
    let shown = browser.wait_for("the PIN in the panel", WAIT, |b| {
        b.try_find("#panel-value")?;
        b.attribute("#panel-value", "value")
    });
    assert_eq!(shown, pin);

    // Close (asked twice): the badge turns Closed, in the list too, without a reload.
    browser.click("#act-close");
    browser.wait_for_text("#act-close", "Click again");
    browser.click("#act-close");
    browser.wait_for_text("#session-status", "Closed");
    browser.click("#session-done");
    browser.wait_for_text(&badge, "Closed");
    assert_eq!(browser.js("return window.noReload === true", vec![]), true);
    browser.screenshot("list");
    agent.expect_line("Session ended", Duration::from_secs(10));
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn admin_pages_and_the_actions_each_role_may_take() {
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start_with_roles(
        work.path(),
        &[
            ("ann@example.com", "Ann Admin", "admin"),
            ("tom@example.com", "Tom Tech", "technician"),
        ],
    );
    let browser = Browser::for_gateway(&gateway);
    // Tina creates a session in Default.
    browser.log_in(&gateway, EMAIL);
    browser.click("nav.side a[href='/console/channels/Default']");
    browser.wait_for_text("main h1", "Default");
    browser.click("#new-session");
    browser.wait_for("the new session's PIN", WAIT, |b| {
        b.attribute("#new-pin", "value").filter(|v| !v.is_empty())
    });
    browser.click("#new-session-done");
    let id = first_row_id(&browser);
    let row = format!("#sessions tr[data-id='{id}']");
    // She invites Tom from the session's panel; the list shows him.
    browser.click(&format!("{row} button.open"));
    browser.type_into("#invite-email", "tom@example.com");
    browser.click("#act-invite");
    browser.wait_for_text(&format!("{row} td:nth-child(4)"), "tom@example.com");
    browser.press(Key::Escape);
    browser.log_out();

    browser.log_in(&gateway, "ann@example.com");

    // Users and roles: the table lists everyone; a new user appears once added.
    browser.click("nav.side a[href='/console/admin/users']");
    browser.wait_for_text("#users", "tom@example.com");
    browser.type_into("#user-email", "nina@example.com");
    browser.type_into("#user-name", "Nina <New>");
    browser.type_into("#user-password", "long enough password");
    browser.click("#add-user button[type=submit]");
    browser.wait_for_text("#users", "nina@example.com");
    // Text from users is shown as text, never as markup.
    assert!(browser.text("#users").contains("Nina <New>"));
    browser.screenshot("admin-users");

    // Channels: a new channel with its expiry, then in the navigation.
    browser.click("nav.side a[href='/console/admin/channels']");
    browser.wait_for_text("#channels", "Default");
    browser.type_into("#channel-name", "<i>Tier 2</i>");
    browser.type_into("#channel-expiry", "90");
    browser.click("#add-channel button[type=submit]");
    browser.wait_for_text("#channels", "<i>Tier 2</i>");
    browser.wait_for_text("#channels", "90 min");
    assert!(browser.text("nav.side").contains("<i>Tier 2</i>"));
    // A refused change says why, in the form.
    browser.type_into("#channel-name", "Private");
    browser.click("#add-channel button[type=submit]");
    browser.wait_for_text("#add-channel .form-error", "is not 'Private'");
    browser.screenshot("admin-channels");

    browser.click("nav.side a[href='/console/admin/licence']");
    browser.wait_for_text("#licence", "Evaluation");
    browser.screenshot("admin-licence");
    browser.click("nav.side a[href='/console/admin/downloads']");
    browser.wait_for_text("#downloads", "Linux");
    browser.screenshot("admin-downloads");

    // The admin may release Tina's session (her role may not): In queue.
    browser.click("nav.side a[href='/console/channels/Default']");
    let badge = format!("{row} .badge");
    browser.wait_for_text(&badge, "Pending");
    browser.click(&format!("{row} button.open"));
    browser.wait_for_text("#session-status", "Pending");
    browser.click("#act-release");
    browser.wait_for_text(&badge, "In queue");
    browser.press(Key::Escape);
    browser.log_out();

    // Tom, a technician: no admin pages; on Home he finds the session he was invited to,
    // may not close it, and may take it from the queue.
    browser.log_in(&gateway, "tom@example.com");
    assert!(!browser.text("nav.side").contains("Users and roles"));
    browser.wait_for_text(&badge, "In queue");
    browser.click(&format!("{row} button.open"));
    browser.wait_for_text("#session-status", "In queue");
    for action in ["close", "delete", "invite", "request"] {
        assert!(disabled(&browser, &format!("#act-{action}")), "{action}");
    }
    assert_eq!(browser.text("#why-close"), "only the assignee can do this");
    assert_eq!(browser.text("#why-invite"), "only the assignee can invite");
    browser.screenshot("technician-panel");
    assert_eq!(
        browser.attribute("#assign-email", "value").as_deref(),
        Some("tom@example.com")
    );
    browser.click("#act-assign");
    browser.wait_for_text(&badge, "Pending");
    browser.wait_for_text(&format!("{row} td:nth-child(3)"), "tom@example.com");
    browser.wait_for("Close to be enabled for the new assignee", WAIT, |b| {
        (!disabled(b, "#act-close")).then_some(())
    });

    // Copy link shows the session's link; transfer to his private channel moves it there.
    browser.click("#act-copy_link");
    let link = browser.wait_for("the link in the panel", WAIT, |b| {
        b.try_find("#panel-value")?;
        b.attribute("#panel-value", "value")
    });
    assert!(
        link.starts_with(&format!("{}/s/", gateway.console)),
        "{link}"
    );
    let options = browser.text("#transfer-channel");
    assert!(
        options.contains("Private") && !options.contains("Default"),
        "{options}"
    );
    browser.click("#act-transfer_channel");
    browser.wait_for_text("#session-facts", "Private");
    browser.press(Key::Escape);
    browser.wait_for("Home to show the session in Private", WAIT, |b| {
        b.try_text(&format!("{row} td:nth-child(5)"))
            .filter(|channel| channel == "Private")
    });
    // Delete (asked twice) from the Private channel's page: gone from the list.
    browser.click("nav.side a[href='/console/channels/Private']");
    browser.wait_for_text(&badge, "Pending");
    browser.click(&format!("{row} button.open"));
    browser.wait_for_text("#session-status", "Pending");
    browser.click("#act-delete");
    browser.wait_for_text("#act-delete", "Click again");
    browser.click("#act-delete");
    browser.wait_for("the deleted session to leave the list", WAIT, |b| {
        b.try_find(&row).is_none().then_some(())
    });
    browser.wait_for_text("#empty", "No sessions here");

    browser.goto(&format!("{}/console/admin/users", gateway.console));
    browser.wait_for_text("main", "listing users needs the manage_users permission");
}
