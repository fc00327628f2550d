//! Console sessions carried in cookies, and the CSRF rules that come with them.
//!
//! A console login stores an ordinary API token (hashed and revocable like any other) in
//! the HttpOnly cookie [`SESSION_COOKIE`]; [`CSRF_COOKIE`], readable by the page's script,
//! holds a keyed hash of that token ([`Keys::csrf_value`]). A cookie-authenticated request
//! with an unsafe method must send that value back in [`CSRF_HEADER`] (a foreign page can
//! neither read the cookie nor set the header), and an `Origin` header, when the browser
//! sends one, must be the gateway's own. Bearer tokens (the CLI) are not affected: browsers
//! never attach them by themselves.
//!
//! Never logs a token or a CSRF value.

use crate::domain::secrets::Keys;
use axum::http::{HeaderMap, HeaderValue, Method, header};

/// Cookie holding the console's API token (HttpOnly).
pub const SESSION_COOKIE: &str = "sosdesk_session";
/// Cookie holding the CSRF value the page's script sends back (readable by script).
pub const CSRF_COOKIE: &str = "sosdesk_csrf";
/// Header carrying the CSRF value on unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The two `Set-Cookie` values of a fresh console session.
pub fn session_cookies(keys: &Keys, token: &str) -> [HeaderValue; 2] {
    [
        cookie_value(&format!(
            "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/"
        )),
        cookie_value(&format!(
            "{CSRF_COOKIE}={}; Secure; SameSite=Strict; Path=/",
            keys.csrf_value(token)
        )),
    ]
}

/// The two `Set-Cookie` values that remove the console session from the browser.
pub fn cleared_cookies() -> [HeaderValue; 2] {
    [
        HeaderValue::from_static(
            "sosdesk_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
        ),
        HeaderValue::from_static("sosdesk_csrf=; Secure; SameSite=Strict; Path=/; Max-Age=0"),
    ]
}

fn cookie_value(text: &str) -> HeaderValue {
    // Tokens and CSRF values are URL-safe base64: always a valid header value.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Why a cookie-authenticated request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfError {
    /// No CSRF value came with an unsafe request.
    #[error("the request lacks the console's X-CSRF-Token header — reload the page")]
    Missing,
    /// The CSRF value is not the one of this session.
    #[error("the console's CSRF token does not match this login — reload the page")]
    Mismatch,
    /// The request came from another site's page.
    #[error("requests from another site's page are refused — use the console itself")]
    ForeignOrigin,
}

/// Whether a method changes something (everything but GET, HEAD and OPTIONS).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks an `Origin` header, when present, against the gateway's own origin: the origin
/// of its public URL or the `https://` origin of the `Host` the browser addressed.
pub fn check_origin(headers: &HeaderMap, public_url: &str) -> Result<(), CsrfError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| CsrfError::ForeignOrigin)?;
    let own = origin_of(public_url);
    let addressed = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| format!("https://{host}"));
    if origin.eq_ignore_ascii_case(own)
        || addressed.is_some_and(|a| origin.eq_ignore_ascii_case(&a))
    {
        Ok(())
    } else {
        Err(CsrfError::ForeignOrigin)
    }
}

/// Checks an unsafe request authenticated by the session cookie `token`: the origin, then
/// the CSRF value `given` (from the header, or a form field for plain HTML forms).
pub fn check_unsafe(
    keys: &Keys,
    headers: &HeaderMap,
    public_url: &str,
    token: &str,
    given: Option<&str>,
) -> Result<(), CsrfError> {
    check_origin(headers, public_url)?;
    let given = given.ok_or(CsrfError::Missing)?;
    if keys.csrf_matches(token, given) {
        Ok(())
    } else {
        Err(CsrfError::Mismatch)
    }
}

/// `scheme://authority` of a URL (the URL itself when it has no path).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn cookies_are_found_among_others_and_headers() {
        let h = headers(&[("cookie", "a=1; sosdesk_session=tok"), ("cookie", "b=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "sosdesk"), None);
        assert_eq!(
            cookie(&headers(&[("cookie", "sosdesk_session=")]), SESSION_COOKIE),
            None
        );
    }

    #[test]
    fn origin_must_be_the_gateways_own() {
        let url = "https://gw.example:8443";
        assert_eq!(check_origin(&headers(&[]), url), Ok(()));
        let own = headers(&[("origin", "https://gw.example:8443")]);
        assert_eq!(check_origin(&own, url), Ok(()));
        let by_host = headers(&[
            ("origin", "https://10.0.0.5:8443"),
            ("host", "10.0.0.5:8443"),
        ]);
        assert_eq!(check_origin(&by_host, url), Ok(()));
        for foreign in ["https://evil.example", "http://gw.example:8443", "null"] {
            let h = headers(&[("origin", foreign), ("host", "gw.example:8443")]);
            assert_eq!(
                check_origin(&h, url),
                Err(CsrfError::ForeignOrigin),
                "{foreign}"
            );
        }
        assert_eq!(origin_of("https://gw.example/base"), "https://gw.example");
    }

    #[test]
    fn unsafe_requests_need_this_sessions_csrf_value() {
        let keys = Keys::from_master(&[9; 32]);
        let url = "https://gw.example";
        let none = headers(&[]);
        let value = keys.csrf_value("tok");
        assert_eq!(check_unsafe(&keys, &none, url, "tok", Some(&value)), Ok(()));
        assert_eq!(
            check_unsafe(&keys, &none, url, "tok", None),
            Err(CsrfError::Missing)
        );
        let other = keys.csrf_value("other");
        assert_eq!(
            check_unsafe(&keys, &none, url, "tok", Some(&other)),
            Err(CsrfError::Mismatch)
        );
        assert!(is_unsafe(&Method::POST) && is_unsafe(&Method::DELETE));
        assert!(!is_unsafe(&Method::GET));
    }

    #[test]
    fn set_cookies_carry_the_agreed_attributes() {
        let keys = Keys::from_master(&[9; 32]);
        let [session, csrf] = session_cookies(&keys, "tok");
        let session = session.to_str().unwrap();
        assert!(session.starts_with("sosdesk_session=tok;"));
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(session.contains(attr), "{attr}");
        }
        let csrf = csrf.to_str().unwrap();
        assert!(csrf.starts_with(&format!("sosdesk_csrf={};", keys.csrf_value("tok"))));
        assert!(!csrf.contains("HttpOnly"));
        assert!(csrf.contains("SameSite=Strict") && csrf.contains("Secure"));
    }
}
