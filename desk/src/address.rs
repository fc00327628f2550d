//! The gateway's address: its HTTPS base URL and the QUIC `host:port` derived from it.
//!
//! Contract: only `https://` is accepted — there is no plaintext mode to fall back to — and
//! path segments (session ids) are percent-encoded, so no id can reach another endpoint.

use reqwest::Url;
use std::fmt;

/// Why a gateway address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not a URL at all.
    #[error("`{text}` is not a URL ({detail}); give it as https://HOST:PORT")]
    Invalid {
        /// What was given.
        text: String,
        /// Parser message.
        detail: String,
    },
    /// A scheme other than https.
    #[error("the gateway is reached over https only, not `{scheme}` — give https://HOST:PORT")]
    NotHttps {
        /// The scheme given.
        scheme: String,
    },
    /// The URL carries a user name, password, query or fragment.
    #[error("give only https://HOST:PORT (no user name, password, query or fragment)")]
    Extras,
}

/// A validated `https://` base URL of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUrl {
    url: Url,
}

impl GatewayUrl {
    /// Parses and validates the address given at login.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let mut url = Url::parse(text.trim()).map_err(|e| AddressError::Invalid {
            text: text.to_string(),
            detail: e.to_string(),
        })?;
        if url.scheme() != "https" {
            return Err(AddressError::NotHttps {
                scheme: url.scheme().to_string(),
            });
        }
        if url.host().is_none() {
            return Err(AddressError::Invalid {
                text: text.to_string(),
                detail: "no host".into(),
            });
        }
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(AddressError::Extras);
        }
        // A base path is kept, without its trailing slash, so segments append cleanly.
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(Self { url })
    }

    /// The URL of an API endpoint: `<base>/api/v1/<segments...>`, each segment encoded.
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // An https URL always has a path that can take segments; the `if let` only
            // satisfies the type.
            path.pop_if_empty().push("api").push("v1").extend(segments);
        }
        url
    }

    /// The host as a name or an IP literal (IPv6 without brackets).
    pub fn host(&self) -> String {
        self.bracketed_host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    }

    /// `host:port` of the gateway's QUIC endpoint on the same host, IPv6 in brackets.
    pub fn quic_address(&self, port: u16) -> String {
        format!("{}:{port}", self.bracketed_host())
    }

    /// The URL's host as written in URLs: IPv6 literals keep their brackets.
    fn bracketed_host(&self) -> &str {
        // `parse` refused URLs without a host.
        self.url.host_str().unwrap_or_default()
    }
}

impl fmt::Display for GatewayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_literal_gives_a_bracketed_quic_address() {
        let url = GatewayUrl::parse("https://[::1]:8443").unwrap();
        assert_eq!(url.host(), "::1");
        assert_eq!(url.quic_address(4433), "[::1]:4433");
        assert_eq!(url.to_string(), "https://[::1]:8443");
    }

    #[test]
    fn ipv4_and_names_keep_their_host() {
        let url = GatewayUrl::parse("https://127.0.0.1:8443/").unwrap();
        assert_eq!(url.host(), "127.0.0.1");
        assert_eq!(url.quic_address(4433), "127.0.0.1:4433");
        assert_eq!(url.to_string(), "https://127.0.0.1:8443");
        let url = GatewayUrl::parse("https://Desk.Example.org").unwrap();
        assert_eq!(url.host(), "desk.example.org");
        assert_eq!(url.quic_address(443), "desk.example.org:443");
    }

    #[test]
    fn endpoints_encode_their_segments() {
        let url = GatewayUrl::parse("https://gw:8443").unwrap();
        assert_eq!(
            url.endpoint(&["sessions", "abc", "pin"]).as_str(),
            "https://gw:8443/api/v1/sessions/abc/pin"
        );
        assert_eq!(
            url.endpoint(&["sessions", "../login?x=1"]).as_str(),
            "https://gw:8443/api/v1/sessions/..%2Flogin%3Fx=1"
        );
        let based = GatewayUrl::parse("https://gw/sos/").unwrap();
        assert_eq!(
            based.endpoint(&["info"]).as_str(),
            "https://gw/sos/api/v1/info"
        );
    }

    #[test]
    fn plaintext_and_extras_are_refused() {
        assert_eq!(
            GatewayUrl::parse("http://gw:8080"),
            Err(AddressError::NotHttps {
                scheme: "http".into()
            })
        );
        assert!(matches!(
            GatewayUrl::parse("gw:8443"),
            Err(AddressError::NotHttps { .. } | AddressError::Invalid { .. })
        ));
        assert!(matches!(
            GatewayUrl::parse("not a url"),
            Err(AddressError::Invalid { .. })
        ));
        assert_eq!(
            GatewayUrl::parse("https://ann:pw@gw"),
            Err(AddressError::Extras)
        );
        assert_eq!(
            GatewayUrl::parse("https://gw/?a=1"),
            Err(AddressError::Extras)
        );
    }
}
