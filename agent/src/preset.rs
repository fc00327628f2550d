//! Joining without typing: a branded app found a session link token in its own file name
//! and asks its preset gateway, over HTTPS, for that session's PIN. Registration then takes
//! the usual PIN path ([`crate::join`]), so the wire protocol does not change.
//!
//! Contract: talks only to the URL it is given, verified as the given [`Trust`] says
//! (pinned keys in branded builds), never follows a redirect, reads at most
//! [`MAX_ANSWER_BYTES`] of answer, and never logs the token or the PIN.

use sos_transport::api::PinView;
use sos_transport::tls::client_config;
use sos_transport::{Pin, Trust};
use std::time::Duration;

/// Largest answer read from the gateway.
pub const MAX_ANSWER_BYTES: usize = 4096;
/// Longest wait for the gateway.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why the PIN could not be found from the link token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresetError {
    /// The gateway's address did not answer.
    #[error("Cannot reach {url} — check your network ({detail})")]
    Unreachable {
        /// The gateway's HTTPS address.
        url: String,
        /// What the connection attempt reported.
        detail: String,
    },
    /// Whoever answered is not the preset gateway.
    #[error(
        "The server at {url} did not prove it is your organisation's gateway, so this app did \
         not connect — check your network, or ask your technician ({detail})"
    )]
    Untrusted {
        /// The gateway's HTTPS address.
        url: String,
        /// What the verification reported.
        detail: String,
    },
    /// The session of this download is over (or never existed).
    #[error(
        "The session this app was downloaded for is not open any more — ask your technician \
         for a new link, or type the PIN"
    )]
    LinkNotValid,
    /// The gateway answered something else.
    #[error(
        "The gateway answered something unexpected ({0}) — ask your technician whether this \
         app is up to date, or type the PIN"
    )]
    Protocol(String),
    /// The secure connection could not even be prepared.
    #[error("Cannot prepare a secure connection: {0}")]
    Setup(String),
}

/// Asks the gateway at `url` (`https://host[:port]`) for the PIN of the session whose link
/// token is `token`.
pub async fn pin_for_token(url: &str, trust: &Trust, token: &str) -> Result<Pin, PresetError> {
    let tls =
        client_config(trust, &[b"http/1.1"]).map_err(|e| PresetError::Setup(e.to_string()))?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!("sos/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PresetError::Setup(chain(&e)))?;
    let address = format!("{}/s/{token}/pin.json", url.trim_end_matches('/'));
    let mut response = client
        .get(&address)
        .send()
        .await
        .map_err(|e| connect_error(url, e))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| connect_error(url, e))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(PresetError::Protocol("answer too long".into()));
        }
        body.extend_from_slice(&chunk);
    }
    match status.as_u16() {
        200 => {
            let view: PinView = serde_json::from_slice(&body)
                .map_err(|_| PresetError::Protocol("not a PIN answer".into()))?;
            Pin::parse(&view.pin).map_err(|_| PresetError::Protocol("not a PIN".into()))
        }
        404 => Err(PresetError::LinkNotValid),
        other => Err(PresetError::Protocol(format!("HTTP status {other}"))),
    }
}

/// The error and its causes on one line (reqwest's own line hides the TLS reason).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn connect_error(url: &str, error: reqwest::Error) -> PresetError {
    // The address carries the token: describe the failure without it.
    let detail = chain(&error.without_url());
    if detail.contains("certificate") || detail.contains("Certificate") {
        PresetError::Untrusted {
            url: url.to_string(),
            detail,
        }
    } else {
        PresetError::Unreachable {
            url: url.to_string(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        assert!(
            PresetError::LinkNotValid
                .to_string()
                .contains("ask your technician for a new link, or type the PIN")
        );
        let untrusted = PresetError::Untrusted {
            url: "https://gw.example".into(),
            detail: "invalid peer certificate".into(),
        };
        assert!(untrusted.to_string().contains("did not prove"));
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let url = format!("https://127.0.0.1:{port}");
        let trust = Trust::PinnedKeys(vec![sos_transport::KeyFingerprint::from_bytes([1; 32])]);
        let error = pin_for_token(&url, &trust, "A".repeat(24).as_str())
            .await
            .unwrap_err();
        assert!(matches!(error, PresetError::Unreachable { .. }), "{error}");
        assert!(!error.to_string().contains("AAAAAAAA"), "no token: {error}");
    }
}
