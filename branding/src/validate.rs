//! Field checks of `branding.toml`. Each returns the cleaned value or a sentence saying
//! what is wrong and what a valid value looks like.

use crate::Colour;

/// Largest logo file, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// Largest logo side, in pixels.
pub const MAX_LOGO_SIDE: u32 = 1024;
/// Smallest logo side, in pixels.
pub const MIN_LOGO_SIDE: u32 = 16;
/// Lowest contrast accepted between text and background (WCAG AA for body text).
pub const MIN_CONTRAST: f64 = 4.5;

/// A one-line text of 1 to `max` characters without control characters.
pub fn line(value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must be one line without control characters".into());
    }
    Ok(value.to_string())
}

/// Free text of several lines (possibly empty): no control characters but newlines.
pub fn paragraph(value: &str, max_chars: usize, max_lines: usize) -> Result<String, String> {
    let value = value.trim();
    if value.chars().count() > max_chars {
        return Err(format!("is longer than {max_chars} characters"));
    }
    if value.lines().count() > max_lines {
        return Err(format!("has more than {max_lines} lines"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err("may contain line breaks but no other control characters".into());
    }
    Ok(value
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `#rrggbb`.
pub fn colour(value: &str) -> Result<Colour, String> {
    Colour::parse(value.trim())
        .ok_or_else(|| format!("{value:?} is not a colour: write #rrggbb, e.g. \"#0b5fff\""))
}

/// A host name (letters, digits, `-`, dots), an IPv4 address or a bracketed IPv6 address.
pub fn host(value: &str) -> Result<(), String> {
    if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("{value} is not an IPv6 address"));
    }
    if value.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if value.is_empty() || value.len() > 253 || !value.split('.').all(valid_label) {
        return Err(format!(
            "{value:?} is not a host name (letters, digits, '-' and dots) or an IP address"
        ));
    }
    Ok(())
}

fn port(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("{value:?} is not a port (1 to 65535)")),
    }
}

/// Splits `host:port` (IPv6 in brackets).
fn host_port(value: &str) -> Result<(&str, u16), String> {
    let (host_part, port_part) = value
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| format!("{value:?} needs a host and a port, as host:port"))?;
    host(host_part)?;
    Ok((host_part, port(port_part)?))
}

/// `host:port` of the QUIC endpoint.
pub fn address(value: &str) -> Result<String, String> {
    let value = value.trim();
    host_port(value)?;
    Ok(value.to_string())
}

/// `https://host[:port]` with nothing after it (a trailing `/` is dropped).
pub fn origin(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .ok_or_else(|| format!("{value:?} must start with https://"))?;
    if rest.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "{value:?} must be only https://host or https://host:port (no path, no user)"
        ));
    }
    // A port follows the last ':' unless that ':' is inside an IPv6 literal.
    let has_port = if rest.starts_with('[') {
        !rest.ends_with(']')
    } else {
        rest.contains(':')
    };
    if has_port {
        host_port(rest)?;
    } else {
        host(rest)?;
    }
    Ok(value.to_string())
}

/// An https URL people can open: a host, then any path.
pub fn web_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .ok_or_else(|| format!("{value:?} must start with https://"))?;
    if value.len() > 300 {
        return Err("is longer than 300 characters".into());
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return Err(format!(
            "{value:?} contains spaces or characters not allowed in a URL"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    origin(&format!("https://{authority}"))?;
    Ok(value.to_string())
}

/// File name derived from a product name, if it has any ASCII letter or digit.
pub fn file_stem(product: &str) -> Option<String> {
    let mut stem = String::new();
    for c in product.chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let stem = stem.trim_end_matches('-').to_string();
    (!stem.is_empty()).then_some(stem)
}

/// Checks a PNG's signature, header and size; returns its width and height.
pub fn png(bytes: &[u8]) -> Result<(u32, u32), String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(format!(
            "is {} KiB; keep the logo under {} KiB",
            bytes.len() / 1024,
            MAX_LOGO_BYTES / 1024
        ));
    }
    if bytes.len() < 33 || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return Err("is not a PNG image".into());
    }
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (width, height) = (be(16), be(20));
    let fits = |side: u32| (MIN_LOGO_SIDE..=MAX_LOGO_SIDE).contains(&side);
    if !fits(width) || !fits(height) {
        return Err(format!(
            "is {width}x{height} pixels; a logo is {MIN_LOGO_SIDE} to {MAX_LOGO_SIDE} pixels on each side"
        ));
    }
    Ok((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://support.example.com/").unwrap(),
            "https://support.example.com"
        );
        assert!(origin("https://127.0.0.1:8443").is_ok());
        assert!(origin("https://[::1]:8443").is_ok());
        assert!(origin("https://[::1]").is_ok());
        assert!(origin("http://support.example.com").is_err());
        assert!(origin("https://support.example.com/path").is_err());
        assert!(origin("https://user@support.example.com").is_err());
        assert!(origin("https://support.example.com:0").is_err());
        assert!(origin("https://sup port.example.com").is_err());
    }

    #[test]
    fn addresses() {
        assert!(address("gw.example.com:8444").is_ok());
        assert!(address("127.0.0.1:8444").is_ok());
        assert!(address("[::1]:8444").is_ok());
        assert!(address("gw.example.com").is_err());
        assert!(address(":8444").is_err());
        assert!(address("gw.example.com:99999").is_err());
    }

    #[test]
    fn web_urls() {
        assert!(web_url("https://help.example.com/contact?x=1").is_ok());
        assert!(web_url("javascript:alert(1)").is_err());
        assert!(web_url("https://help.example.com/\"><script>").is_err());
    }

    #[test]
    fn stems() {
        assert_eq!(file_stem("Acme Support").as_deref(), Some("acme-support"));
        assert_eq!(file_stem("  ÄBC -- Hilfe!").as_deref(), Some("bc-hilfe"));
        assert_eq!(file_stem("日本"), None);
    }

    #[test]
    fn texts() {
        assert!(line("", 10).is_err());
        assert!(line("a\u{1b}[2J", 10).is_err());
        assert!(line(&"x".repeat(11), 10).is_err());
        assert_eq!(paragraph(" a  \n b ", 100, 3).unwrap(), "a\n b");
        assert!(paragraph("a\tb", 100, 3).is_err());
        assert!(paragraph("a\nb\nc\nd", 100, 3).is_err());
    }
}
