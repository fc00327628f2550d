//! The console's HTML: one layout, every dynamic text escaped with [`escape`].

use crate::store::User;
use crate::web::escape;

/// A full document with the console's style sheet and script.
fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title>\
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

/// The top bar: organisation, who is signed in, logout.
fn top_bar(organisation: &str, user: &User, csrf: &str) -> String {
    format!(
        "<header class=\"top\"><span class=\"brand\">{org}</span>\
<span class=\"who\" id=\"who\">{name} <span class=\"muted\">({email})</span></span>\
<form method=\"post\" action=\"/console/logout\" class=\"inline\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" id=\"logout\">Log out</button></form></header>",
        org = escape(organisation),
        name = escape(&user.name),
        email = escape(&user.email),
        csrf = escape(csrf),
    )
}

/// Home: the sessions assigned to the user or that they were invited to.
pub fn home(organisation: &str, user: &User, csrf: &str) -> String {
    document(
        "Home — sosdesk console",
        &format!(
            "{}<main id=\"main\"><h1>Home</h1></main>",
            top_bar(organisation, user, csrf)
        ),
    )
}
