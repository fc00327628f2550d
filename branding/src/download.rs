//! Session link tokens carried in the name of a downloaded app.
//!
//! The link page names the download `<stem>_<token>` (plus `.exe` on Windows), so the app
//! finds its session from its own file name and the end user types nothing. Browsers add
//! ` (1)`, `(1)` or `-1` to a second download of the same name; those are tolerated.
//! A token is exactly [`TOKEN_CHARS`] URL-safe base64 characters, so it is found even when
//! the stem itself contains `_`.

use std::fmt;

/// Characters of a link token: 18 random bytes in URL-safe base64 without padding.
pub const TOKEN_CHARS: usize = 24;

/// A session link token. `Debug` never shows it: it opens the session's page and PIN.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LinkToken(String);

impl LinkToken {
    /// A token: exactly [`TOKEN_CHARS`] characters of `A-Z a-z 0-9 - _`.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() == TOKEN_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(text.to_string()))
    }

    /// The token in clear; use it, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken([redacted])")
    }
}

/// The name a download of `stem` gets for the session `token` (`extension` is `""` or `".exe"`).
pub fn file_name(stem: &str, token: &LinkToken, extension: &str) -> String {
    format!("{stem}_{}{extension}", token.0)
}

/// The link token in an app's file name, if there is one.
pub fn token_in_file_name(name: &str) -> Option<LinkToken> {
    let name = match name.len().checked_sub(4) {
        Some(cut)
            if name
                .get(cut..)
                .is_some_and(|e| e.eq_ignore_ascii_case(".exe")) =>
        {
            &name[..cut]
        }
        _ => name,
    };
    name.char_indices()
        .filter(|(_, c)| *c == '_')
        .find_map(|(at, _)| {
            let start = at + 1;
            let token = LinkToken::parse(name.get(start..start + TOKEN_CHARS)?)?;
            browser_suffix(name.get(start + TOKEN_CHARS..)?).then_some(token)
        })
}

/// What browsers append to a repeated download: ` (2)`, `(2)`, `-2`, ` 2`.
fn browser_suffix(rest: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if rest.is_empty() {
        return true;
    }
    let trimmed = rest.trim_start_matches(' ');
    if let Some(inner) = trimmed.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        return digits(inner);
    }
    if let Some(number) = trimmed.strip_prefix('-') {
        return trimmed.len() == rest.len() && digits(number);
    }
    trimmed.len() < rest.len() && digits(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "Ab3_-x9ZqLm0Ab3_-x9ZqLm0";

    fn token() -> LinkToken {
        LinkToken::parse(TOKEN).unwrap()
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(file_name("sos", &token(), ""), format!("sos_{TOKEN}"));
        for name in [
            format!("sos_{TOKEN}"),
            format!("acme-support_{TOKEN}.exe"),
            format!("acme-support_{TOKEN}.EXE"),
            format!("my_tool_{TOKEN}"),
            format!("sos_{TOKEN} (1)"),
            format!("sos_{TOKEN}(12)"),
            format!("sos_{TOKEN}-2"),
            format!("sos_{TOKEN} 3"),
            format!("acme_{TOKEN} (1).exe"),
        ] {
            assert_eq!(token_in_file_name(&name), Some(token()), "{name}");
        }
    }

    #[test]
    fn other_names_have_no_token() {
        for name in [
            "sos".to_string(),
            "sos_short".to_string(),
            format!("sos_{TOKEN}x"),
            format!("sos_{TOKEN} (x)"),
            format!("sos_{TOKEN} - Copy"),
            format!("sos{TOKEN}"),
            format!("sos_{}", &TOKEN[..23]),
            "sos_ééééééééééééééééééééééééé".to_string(),
        ] {
            assert_eq!(token_in_file_name(&name), None, "{name}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        assert!(!format!("{:?}", token()).contains(TOKEN));
    }
}
