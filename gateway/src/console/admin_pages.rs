//! The admin pages' content: users and roles, channels, licence, downloads. Tables are
//! rendered here from the Service Desk's views; forms send JSON to the API through the
//! script (`data-api`), so the API's rules and refusals apply unchanged.

use crate::web::{Build, escape};
use sos_transport::api::{ChannelView, LicenceView, RoleView, UserView};
use std::fmt::Write as _;

/// Permissions a role can carry, with what they allow.
const PERMISSIONS: [(&str, &str); 4] = [
    ("attended_access", "use support sessions"),
    ("release", "release and transfer sessions"),
    ("manage_channels", "manage channels, see every channel"),
    ("manage_users", "manage users and roles"),
];

/// A refusal in place of a page's content.
pub fn refused(why: &str) -> String {
    format!("<p class=\"error\" role=\"alert\">{}</p>", escape(why))
}

fn form_error() -> &'static str {
    "<p class=\"error form-error\" role=\"alert\" hidden></p>"
}

/// Users and roles, with the forms to add a user and to set a custom role.
pub fn users(users: &[UserView], roles: &[RoleView]) -> String {
    let mut out = String::from(
        "<h2>Users</h2><table id=\"users\"><thead><tr><th>Name</th><th>E-mail</th><th>Role</th>\
<th>Permissions</th></tr></thead><tbody>",
    );
    for u in users {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&u.name),
            escape(&u.email),
            escape(&u.role),
            escape(&u.permissions.join(", "))
        );
    }
    out.push_str("</tbody></table>");
    // The least powerful built-in role is the default choice.
    let options: String = roles
        .iter()
        .map(|r| {
            let selected = if r.name == "technician" {
                " selected"
            } else {
                ""
            };
            format!("<option{selected}>{}</option>", escape(&r.name))
        })
        .collect();
    let _ = write!(
        out,
        "<h2>Add a user</h2><form data-api=\"/api/v1/users\" data-method=\"POST\" class=\"grid\" id=\"add-user\">\
<label for=\"user-email\">E-mail</label><input id=\"user-email\" name=\"email\" type=\"email\" required>\
<label for=\"user-name\">Name</label><input id=\"user-name\" name=\"name\" required>\
<label for=\"user-role\">Role</label><select id=\"user-role\" name=\"role\">{options}</select>\
<label for=\"user-password\">Initial password</label>\
<input id=\"user-password\" name=\"password\" type=\"password\" minlength=\"8\" autocomplete=\"new-password\" required>\
{}<button type=\"submit\">Add user</button></form>",
        form_error()
    );
    out.push_str(
        "<h2>Roles</h2><table id=\"roles\"><thead><tr><th>Role</th><th>Permissions</th></tr></thead><tbody>",
    );
    for r in roles {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&r.name),
            escape(&r.permissions.join(", "))
        );
    }
    out.push_str(
        "</tbody></table><h2>Add or change a custom role</h2>\
<form data-api=\"/api/v1/roles\" data-method=\"POST\" class=\"grid\" id=\"set-role\">\
<label for=\"role-name\">Name</label><input id=\"role-name\" name=\"name\" required>\
<fieldset><legend>Permissions</legend>",
    );
    for (name, what) in PERMISSIONS {
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" name=\"permissions\" value=\"{name}\" data-kind=\"list\"> \
{name} <span class=\"muted\">({what})</span></label>"
        );
    }
    let _ = write!(
        out,
        "</fieldset>{}<button type=\"submit\">Save role</button></form>",
        form_error()
    );
    out
}

fn duration(secs: i64) -> String {
    if secs % 86_400 == 0 {
        format!("{} d", secs / 86_400)
    } else if secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} min", secs / 60)
    }
}

/// Shared channels with their members and expiry, each with a form to change them, and
/// the form to add a channel.
pub fn channels(channels: &[ChannelView]) -> String {
    let mut out = String::from(
        "<table id=\"channels\"><thead><tr><th>Channel</th><th>Session expiry</th><th>Members</th>\
<th>Change</th></tr></thead><tbody>",
    );
    for (i, c) in channels.iter().filter(|c| !c.private).enumerate() {
        let api = format!(
            "/api/v1/channels/{}",
            super::pages::channel_href(&c.name).trim_start_matches("/console/channels/")
        );
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{name}</th><td>{expiry}</td><td>{members}</td><td>\
<form data-api=\"{api}\" data-method=\"PATCH\" class=\"row-form\">\
<label for=\"expiry-{i}\">Expiry (minutes)</label>\
<input id=\"expiry-{i}\" name=\"expiry_secs\" type=\"number\" min=\"30\" max=\"10080\" data-kind=\"minutes\" value=\"{minutes}\">\
<label for=\"add-{i}\">Add members (e-mails)</label><input id=\"add-{i}\" name=\"add_members\" data-kind=\"csv\">\
<label for=\"remove-{i}\">Remove members</label><input id=\"remove-{i}\" name=\"remove_members\" data-kind=\"csv\">\
{error}<button type=\"submit\">Save {name}</button></form></td></tr>",
            name = escape(&c.name),
            expiry = duration(c.expiry_secs),
            members = escape(&c.members.join(", ")),
            api = escape(&api),
            minutes = c.expiry_secs / 60,
            error = form_error(),
        );
    }
    let _ = write!(
        out,
        "</tbody></table><h2>Add a channel</h2>\
<form data-api=\"/api/v1/channels\" data-method=\"POST\" class=\"grid\" id=\"add-channel\">\
<label for=\"channel-name\">Name</label><input id=\"channel-name\" name=\"name\" required maxlength=\"64\">\
<label for=\"channel-expiry\">Session expiry (minutes)</label>\
<input id=\"channel-expiry\" name=\"expiry_secs\" type=\"number\" min=\"30\" max=\"10080\" value=\"1440\" data-kind=\"minutes\" required>\
{}<button type=\"submit\">Add channel</button></form>",
        form_error()
    );
    out
}

fn date(secs: i64) -> String {
    format!("<time data-epoch=\"{secs}\">{secs}</time>")
}

/// The licence: mode, seats, validity, and why sessions are refused if they are.
pub fn licence(l: &LicenceView) -> String {
    let mut out = String::from("<dl id=\"licence\" class=\"facts\">");
    let mode = if l.mode == "evaluation" {
        "Evaluation"
    } else {
        "Licensed"
    };
    let _ = write!(out, "<dt>Mode</dt><dd>{mode}</dd>");
    if let Some(licensee) = &l.licensee {
        let _ = write!(out, "<dt>Licensee</dt><dd>{}</dd>", escape(licensee));
    }
    let _ = write!(
        out,
        "<dt>Features</dt><dd>{}</dd><dt>Technician seats</dt><dd>{} of {} in use</dd>\
<dt>Valid until</dt><dd>{}</dd><dt>Support sessions</dt><dd>{}</dd></dl>",
        escape(&l.features.join(", ")),
        l.seats_used,
        l.seats,
        date(l.expires_at),
        match &l.problem {
            Some(p) => format!("<span class=\"error\">Refused: {}</span>", escape(p)),
            None => "Allowed".to_string(),
        }
    );
    out.push_str(
        "<p class=\"muted\">Install a licence with <code>sos-gateway licence install</code>.</p>",
    );
    out
}

/// The app builds the link pages offer.
pub fn downloads(builds: &[Build]) -> String {
    let mut out = String::from(
        "<p>End users download these from their session link, named after the session.</p>\
<table id=\"downloads\"><thead><tr><th>System</th><th>File</th><th>Size</th><th>Kind</th></tr></thead><tbody>",
    );
    for b in builds {
        let file = b
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.1} MB</td><td>{}</td></tr>",
            b.os.name(),
            escape(&file),
            b.size as f64 / 1_000_000.0,
            if b.preset {
                "built for this gateway"
            } else {
                "generic app (needs the gateway's address)"
            }
        );
    }
    if builds.is_empty() {
        out.push_str("<tr><td colspan=\"4\">No build on offer.</td></tr>");
    }
    out.push_str(
        "</tbody></table><p class=\"muted\">Put branded builds made with <code>cargo xtask brand</code> \
in the gateway's <code>downloads/linux</code>, <code>downloads/windows</code> or \
<code>downloads/macos</code> folder.</p>",
    );
    out
}
