//! `gateway.toml`: every `serve` flag can also be set in the file; a flag given on the
//! command line wins over the file, and the file over the defaults.

use crate::domain::ratelimit::Limits;
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
    /// Limits on PIN guessing (`[pin_limits]`).
    #[serde(default)]
    pub pin_limits: PinLimitsFile,
    /// How long after losing its connection an end-user app may come back with its ticket
    /// and keep the end user's grant, in seconds (0: always ask again).
    pub resume_window_seconds: Option<u32>,
}

/// Default of `resume_window_seconds`: long enough to ride out a 20-second outage plus the
/// 20 seconds either side takes to notice it, short enough that an app left alone does not
/// come back to a screen shared hours ago.
pub const DEFAULT_RESUME_WINDOW_SECONDS: u32 = 60;

/// Longest `resume_window_seconds` accepted (the app keeps a grant no longer either).
pub const MAX_RESUME_WINDOW_SECONDS: u32 = 300;

/// `[pin_limits]`: every key optional, the defaults of [`Limits::default`] otherwise.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PinLimitsFile {
    /// Counting window, minutes.
    pub window_minutes: Option<u32>,
    /// Wrong PINs from one address within the window before it is blocked.
    pub per_address: Option<u32>,
    /// Wrong PINs from one network (/24, /56) within the window before it is blocked.
    pub per_network: Option<u32>,
    /// Wrong PINs gateway-wide within the window before PIN registration switches off.
    pub gateway_wide: Option<u32>,
    /// First block, minutes (doubling on each repeat).
    pub first_block_minutes: Option<u32>,
    /// Longest block, hours.
    pub longest_block_hours: Option<u32>,
}

impl PinLimitsFile {
    /// The limits these settings give, checked.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let defaults = Limits::default();
        let positive = |value: Option<u32>, name: &str| -> anyhow::Result<Option<u32>> {
            match value {
                Some(0) => anyhow::bail!("pin_limits.{name} must be at least 1"),
                other => Ok(other),
            }
        };
        let limits = Limits {
            window: positive(self.window_minutes, "window_minutes")?
                .map_or(defaults.window, |m| i64::from(m) * 60),
            per_ip_failures: positive(self.per_address, "per_address")?
                .unwrap_or(defaults.per_ip_failures),
            per_net_failures: positive(self.per_network, "per_network")?
                .unwrap_or(defaults.per_net_failures),
            global_failures: positive(self.gateway_wide, "gateway_wide")?
                .unwrap_or(defaults.global_failures),
            block: positive(self.first_block_minutes, "first_block_minutes")?
                .map_or(defaults.block, |m| i64::from(m) * 60),
            max_block: positive(self.longest_block_hours, "longest_block_hours")?
                .map_or(defaults.max_block, |h| i64::from(h) * 3600),
            max_tracked: defaults.max_tracked,
        };
        if limits.max_block < limits.block {
            anyhow::bail!(
                "pin_limits.longest_block_hours is shorter than first_block_minutes: the first block could never happen"
            );
        }
        Ok(limits)
    }
}

impl FileConfig {
    /// The resume window, checked.
    pub fn resume_window(&self) -> anyhow::Result<std::time::Duration> {
        let seconds = self
            .resume_window_seconds
            .unwrap_or(DEFAULT_RESUME_WINDOW_SECONDS);
        if seconds > MAX_RESUME_WINDOW_SECONDS {
            anyhow::bail!(
                "resume_window_seconds is {seconds}: at most {MAX_RESUME_WINDOW_SECONDS} (the end user's app keeps a grant no longer)"
            );
        }
        Ok(std::time::Duration::from_secs(u64::from(seconds)))
    }

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
        assert_eq!(config.pin_limits.limits().unwrap(), Limits::default());
        assert_eq!(
            config.resume_window().unwrap(),
            std::time::Duration::from_secs(u64::from(DEFAULT_RESUME_WINDOW_SECONDS))
        );
        assert!(
            toml::from_str::<FileConfig>("lisen = \"x\"").is_err(),
            "typos are refused"
        );
    }

    #[test]
    fn the_resume_window_is_checked() {
        let none: FileConfig = toml::from_str("resume_window_seconds = 0\n").unwrap();
        assert!(
            none.resume_window().unwrap().is_zero(),
            "0: always ask again"
        );
        let long: FileConfig = toml::from_str("resume_window_seconds = 301\n").unwrap();
        let error = long.resume_window().unwrap_err().to_string();
        assert!(error.contains("at most 300"), "{error}");
    }

    #[test]
    fn pin_limits_are_read_in_human_units_and_checked() {
        let config: FileConfig = toml::from_str(
            "[pin_limits]\nper_address = 3\ngateway_wide = 50\nfirst_block_minutes = 5\nlongest_block_hours = 2\n",
        )
        .unwrap();
        let limits = config.pin_limits.limits().unwrap();
        assert_eq!(limits.per_ip_failures, 3);
        assert_eq!(limits.global_failures, 50);
        assert_eq!((limits.block, limits.max_block), (300, 7200));
        assert_eq!(limits.window, Limits::default().window);
        let zero: FileConfig = toml::from_str("[pin_limits]\nper_address = 0\n").unwrap();
        let error = zero.pin_limits.limits().unwrap_err().to_string();
        assert!(error.contains("per_address must be at least 1"), "{error}");
        let upside_down: FileConfig =
            toml::from_str("[pin_limits]\nfirst_block_minutes = 120\nlongest_block_hours = 1\n")
                .unwrap();
        assert!(upside_down.pin_limits.limits().is_err());
        assert!(toml::from_str::<FileConfig>("[pin_limits]\nper_adress = 3\n").is_err());
    }
}
