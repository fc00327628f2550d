//! `gateway.toml`: every `serve` flag can also be set in the file; a flag given on the
//! command line wins over the file, and the file over the defaults.

use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Contents of `gateway.toml` (all keys optional).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data folder.
    pub data: Option<PathBuf>,
    /// HTTPS listen address.
    pub listen: Option<SocketAddr>,
    /// QUIC listen address.
    pub quic: Option<SocketAddr>,
    /// WebTransport (browser viewer) listen address.
    pub webtransport: Option<SocketAddr>,
    /// Base URL of session links.
    pub public_url: Option<String>,
    /// Organisation shown to end users.
    pub organisation: Option<String>,
    /// Log JSON lines.
    pub log_json: Option<bool>,
    /// Public keys (base64 ed25519) of the licence authority.
    #[serde(default)]
    pub licence_keys: Vec<String>,
}

impl FileConfig {
    /// Reads the file, or the empty configuration when `path` is None.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid gateway.toml", path.display()))
    }
}

/// Default data folder.
pub const DEFAULT_DATA: &str = "./sosdesk-data";
/// Default HTTPS address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
/// Default QUIC address.
pub const DEFAULT_QUIC: &str = "0.0.0.0:8444";
/// Default WebTransport address (UDP; the browser viewer falls back to WebSocket on the
/// HTTPS port when it is blocked).
pub const DEFAULT_WEBTRANSPORT: &str = "0.0.0.0:8445";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../packaging/gateway.toml"
        ))
        .unwrap();
        let config: FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(config.listen, Some("0.0.0.0:8443".parse().unwrap()));
        assert!(
            toml::from_str::<FileConfig>("lisen = \"x\"").is_err(),
            "typos are refused"
        );
    }
}
