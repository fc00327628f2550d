//! The console's HTML: one layout (top bar, navigation, main), every dynamic text escaped
//! with [`escape`]. Session lists are filled by the script from the JSON API.

use crate::web::escape;
use sos_transport::api::{ChannelView, UserView};
use std::fmt::Write as _;

/// A full document with the console's style sheet and script.
fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title>\
<link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
<script src=\"/console/assets/console.js\" defer></script></head>\n<body>{body}</body></html>\n",
        escape(title)
    )
}

/// The login form, with the e-mail typed before and why the last try failed.
pub fn login(organisation: &str, email: &str, error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!(
            "<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>",
            escape(e)
        )
    });
    document(
        "Sign in — sosdesk console",
        &format!(
            "<main class=\"login\"><h1>{org}</h1><p>Sign in to the support console.</p>{error}\
<form method=\"post\" action=\"/console/login\">\
<label for=\"email\">E-mail</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{email}\">\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" id=\"sign-in\">Sign in</button></form></main>",
            org = escape(organisation),
            email = escape(email),
        ),
    )
}

/// A refused request, with what to do.
pub fn refused(why: &str) -> String {
    document(
        "Refused — sosdesk console",
        &format!(
            "<main class=\"login\"><h1>Refused</h1><p class=\"error\" role=\"alert\">{}</p>\
<p><a href=\"/console\">Back to the console</a></p></main>",
            escape(why)
        ),
    )
}

/// Which page of the navigation is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Sessions assigned to me or I was invited to.
    Home,
    /// One channel's sessions (`Private` included).
    Channel(String),
    /// Users and roles.
    Users,
    /// Channels, their members and expiry.
    Channels,
    /// Licence status.
    Licence,
    /// The app builds on offer.
    Downloads,
}

/// What every signed-in page shows around its content.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The gateway's organisation.
    pub organisation: &'a str,
    /// The signed-in user.
    pub user: &'a UserView,
    /// Channels they may use (Private last).
    pub channels: &'a [ChannelView],
    /// The CSRF value of this login (for the logout form).
    pub csrf: &'a str,
    /// Where we are.
    pub place: Place,
}

impl Frame<'_> {
    fn may(&self, permission: &str) -> bool {
        self.user.permissions.iter().any(|p| p == permission)
    }
}

/// `/console/channels/{name}`, with the name percent-encoded.
pub fn channel_href(name: &str) -> String {
    let mut out = String::from("/console/channels/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn nav_link(out: &mut String, frame: &Frame<'_>, place: Place, href: &str, label: &str) {
    let current = if frame.place == place {
        " aria-current=\"page\""
    } else {
        ""
    };
    let _ = write!(
        out,
        "<li><a href=\"{}\"{current}>{}</a></li>",
        escape(href),
        escape(label)
    );
}

/// A signed-in page: top bar, navigation on the left, `main` on the right.
fn framed(frame: &Frame<'_>, title: &str, main: &str) -> String {
    let mut nav = String::from("<nav class=\"side\" aria-label=\"Sessions\"><ul>");
    nav_link(&mut nav, frame, Place::Home, "/console", "Home");
    nav.push_str("</ul><h2>Channels</h2><ul>");
    for channel in frame.channels.iter().filter(|c| !c.private) {
        let place = Place::Channel(channel.name.clone());
        nav_link(
            &mut nav,
            frame,
            place,
            &channel_href(&channel.name),
            &channel.name,
        );
    }
    if frame.channels.iter().any(|c| c.private) {
        let place = Place::Channel("Private".into());
        nav_link(&mut nav, frame, place, &channel_href("Private"), "Private");
    }
    nav.push_str("</ul><h2>Admin</h2><ul>");
    if frame.may("manage_users") {
        nav_link(
            &mut nav,
            frame,
            Place::Users,
            "/console/admin/users",
            "Users and roles",
        );
    }
    if frame.may("manage_channels") {
        nav_link(
            &mut nav,
            frame,
            Place::Channels,
            "/console/admin/channels",
            "Channels",
        );
    }
    nav_link(
        &mut nav,
        frame,
        Place::Licence,
        "/console/admin/licence",
        "Licence",
    );
    nav_link(
        &mut nav,
        frame,
        Place::Downloads,
        "/console/admin/downloads",
        "Downloads",
    );
    nav.push_str("</ul></nav>");
    let top = format!(
        "<header class=\"top\"><a class=\"skip\" href=\"#main\">Skip to content</a>\
<span class=\"brand\">{org}</span>\
<span class=\"who\" id=\"who\">{name} <span class=\"muted\">({email})</span></span>\
<form method=\"post\" action=\"/console/logout\" class=\"inline\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" id=\"logout\">Log out</button></form></header>",
        org = escape(frame.organisation),
        name = escape(&frame.user.name),
        email = escape(&frame.user.email),
        csrf = escape(frame.csrf),
    );
    document(
        &format!("{title} — sosdesk console"),
        &format!(
            "{top}<div class=\"frame\">{nav}<main id=\"main\" tabindex=\"-1\" data-me=\"{me}\">{alerts}{main}</main></div>",
            me = escape(&frame.user.email),
            // Administrators see what the gateway warns about (filled by the script).
            alerts = if frame.may("manage_users") {
                "<div id=\"alerts\" role=\"alert\" aria-live=\"polite\"></div>"
            } else {
                ""
            },
        ),
    )
}

/// A session list: Home or one channel. The script fills the table and keeps it live.
pub fn sessions(frame: &Frame<'_>) -> String {
    let (title, new_in) = match &frame.place {
        Place::Channel(name) => (name.as_str(), Some(name)),
        _ => ("Home", None),
    };
    let intro = match new_in {
        Some(name) if name == "Private" => "Sessions in your private channel: only you see them.",
        Some(_) => "Sessions in this channel.",
        None => "Sessions assigned to you or that you were invited to.",
    };
    let new_button = new_in.map_or_else(String::new, |name| {
        format!(
            "<button type=\"button\" id=\"new-session\" class=\"primary\" data-channel=\"{}\">New session</button>",
            escape(name)
        )
    });
    let main = format!(
        "<div class=\"heading\"><h1>{title}</h1>{new_button}\
<span id=\"live\" class=\"live\" role=\"status\">Connecting…</span></div>\
<p class=\"muted\">{intro}</p>\
<p id=\"list-error\" class=\"error\" role=\"alert\" hidden></p>\
<table id=\"sessions\" data-channel=\"{channel}\"><thead><tr><th>Status</th><th>End user's machine</th>\
<th>Assignee</th><th>Invited</th><th>Channel</th><th>Created</th><th>Expires</th><th><span class=\"sr\">Actions</span></th></tr></thead>\
<tbody></tbody></table><p id=\"empty\" class=\"muted\" hidden>No sessions here.</p>\
<dialog id=\"new-session-dialog\" aria-labelledby=\"new-session-title\">\
<h2 id=\"new-session-title\">New session</h2>\
<p>Give the end user the link, or the PIN if they already have the app.</p>\
<label for=\"new-link\">Link</label><div class=\"copy\"><input id=\"new-link\" readonly>\
<button type=\"button\" data-copy=\"new-link\">Copy link</button></div>\
<label for=\"new-pin\">PIN</label><div class=\"copy\"><input id=\"new-pin\" class=\"pin\" readonly>\
<button type=\"button\" data-copy=\"new-pin\">Copy PIN</button></div>\
<p id=\"copy-status\" role=\"status\" class=\"muted\"></p>\
<form method=\"dialog\"><button id=\"new-session-done\">Done</button></form></dialog>\
<dialog id=\"session-dialog\" aria-labelledby=\"session-title\">\
<h2 id=\"session-title\">Session</h2><dl id=\"session-facts\"></dl>\
<p id=\"session-output\" role=\"status\"></p>\
<p id=\"session-error\" class=\"error\" role=\"alert\"></p>\
<div id=\"session-actions\" class=\"actions\"></div>\
<form method=\"dialog\"><button id=\"session-done\">Back to the list</button></form></dialog>",
        title = escape(title),
        channel = escape(new_in.map_or("", |c| c.as_str())),
    );
    framed(frame, title, &main)
}

/// An admin page with its own content (built by `admin_pages`).
pub fn admin(frame: &Frame<'_>, title: &str, content: &str) -> String {
    framed(
        frame,
        title,
        &format!("<h1>{}</h1>{content}", escape(title)),
    )
}
