//! The technician's saved login: which gateway, the API token and the pinned certificate.
//!
//! Contract: the file is written atomically with mode 0600 (owner only) because it holds
//! the API token; the token is kept in a [`Secret`] so it never reaches a log or an error
//! message in clear.

use crate::address::{AddressError, GatewayUrl};
use serde::{Deserialize, Serialize};
use sos_transport::Trust;
use sos_transport::redact::Secret;
use sos_transport::tls::CertFingerprint;
use std::path::{Path, PathBuf};

/// File name inside the configuration folder.
const FILE_NAME: &str = "desk.json";

/// What `sos-desk login` stores and every other command reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskConfig {
    /// Base URL of the gateway, e.g. `https://gateway.example:8443`.
    pub gateway: String,
    /// API token for `Authorization: Bearer`.
    pub token: Secret<String>,
    /// SHA-256 fingerprint (hex) of the gateway certificate to pin; system roots when absent.
    #[serde(default)]
    pub cert_sha256: Option<String>,
}

/// Failures reading or writing the configuration file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No file: the technician has not logged in yet.
    #[error(
        "not logged in (no {path}) — run `sos-desk login --gateway https://HOST:PORT --email YOU` first"
    )]
    NotLoggedIn {
        /// Where the file was looked for.
        path: String,
    },
    /// The file exists but cannot be read or written.
    #[error("cannot use the configuration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("the configuration file {path} is damaged ({detail}) — run `sos-desk login` again")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The saved gateway address is not usable.
    #[error(
        "the gateway address saved in {path} is not usable: {source} — run `sos-desk login` again"
    )]
    Gateway {
        /// The file.
        path: String,
        /// Cause.
        source: AddressError,
    },
    /// The saved fingerprint is not 64 hex digits.
    #[error("the certificate fingerprint saved in {path} is damaged — run `sos-desk login` again")]
    Fingerprint {
        /// The file.
        path: String,
    },
    /// Neither `--config`, `SOS_DESK_CONFIG`, `XDG_CONFIG_HOME` nor `HOME` says where to look.
    #[error("cannot tell where to keep the login: set HOME, XDG_CONFIG_HOME or pass --config FILE")]
    NoLocation,
}

/// The default file: `$XDG_CONFIG_HOME/sosdesk/desk.json`, else `$HOME/.config/sosdesk/desk.json`.
///
/// Takes the two variables as arguments so the rule can be tested without touching the
/// process environment. Relative or empty values are ignored, as the XDG spec says.
pub fn default_path(
    xdg_config_home: Option<&str>,
    home: Option<&str>,
) -> Result<PathBuf, ConfigError> {
    let usable = |value: Option<&str>| {
        value
            .filter(|v| !v.is_empty() && Path::new(v).is_absolute())
            .map(PathBuf::from)
    };
    if let Some(base) = usable(xdg_config_home) {
        return Ok(base.join("sosdesk").join(FILE_NAME));
    }
    if let Some(home) = usable(home) {
        return Ok(home.join(".config").join("sosdesk").join(FILE_NAME));
    }
    Err(ConfigError::NoLocation)
}

/// [`default_path`] read from the process environment.
pub fn default_path_from_env() -> Result<PathBuf, ConfigError> {
    let xdg = std::env::var("XDG_CONFIG_HOME").ok();
    let home = std::env::var("HOME").ok();
    default_path(xdg.as_deref(), home.as_deref())
}

impl DeskConfig {
    /// Reads the configuration saved at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotLoggedIn { path: shown });
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    path: shown,
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|e| ConfigError::Damaged {
            path: shown,
            detail: e.to_string(),
        })
    }

    /// Writes the configuration to `path` with mode 0600, creating its folder (mode 0700)
    /// if needed. The file is replaced atomically, so a crash never leaves half a token.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let shown = path.display().to_string();
        let io = |source| ConfigError::Io {
            path: shown.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| ConfigError::Damaged {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&dir).map_err(io)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| FILE_NAME.to_string());
        let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let written =
            write_private(&temporary, &json).and_then(|()| std::fs::rename(&temporary, path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(io(source));
        }
        Ok(())
    }

    /// The parsed gateway address.
    pub fn gateway_url(&self, path: &Path) -> Result<GatewayUrl, ConfigError> {
        GatewayUrl::parse(&self.gateway).map_err(|source| ConfigError::Gateway {
            path: path.display().to_string(),
            source,
        })
    }

    /// How to trust the gateway: the pinned fingerprint if one was given at login.
    pub fn trust(&self, path: &Path) -> Result<Trust, ConfigError> {
        match &self.cert_sha256 {
            None => Ok(Trust::SystemRoots),
            Some(hex) => hex
                .parse::<CertFingerprint>()
                .map(|fp| Trust::Pinned(vec![fp]))
                .map_err(|_| ConfigError::Fingerprint {
                    path: path.display().to_string(),
                }),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // A leftover temporary file from a crashed run keeps its old mode; force owner-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DeskConfig {
        DeskConfig {
            gateway: "https://127.0.0.1:8443".into(),
            token: Secret::new("tok-123".into()),
            cert_sha256: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn round_trip_keeps_every_field_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("desk.json");
        sample().save(&path).unwrap();
        assert_eq!(DeskConfig::load(&path).unwrap(), sample());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Saving again over an existing (wider) file keeps it private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            sample().save(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn the_file_holds_the_token_but_debug_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.json");
        sample().save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["token"], "tok-123");
        assert_eq!(json["gateway"], "https://127.0.0.1:8443");
        assert!(!format!("{:?}", sample()).contains("tok-123"));
    }

    #[test]
    fn missing_file_means_not_logged_in() {
        let dir = tempfile::tempdir().unwrap();
        let err = DeskConfig::load(&dir.path().join("none.json")).unwrap_err();
        assert!(matches!(err, ConfigError::NotLoggedIn { .. }), "{err}");
        assert!(err.to_string().contains("sos-desk login"));
    }

    #[test]
    fn damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            DeskConfig::load(&path),
            Err(ConfigError::Damaged { .. })
        ));
    }

    #[test]
    fn trust_follows_the_saved_fingerprint() {
        let path = Path::new("desk.json");
        let pinned = sample().trust(path).unwrap();
        assert!(matches!(pinned, Trust::Pinned(ref pins) if pins.len() == 1));
        let mut roots = sample();
        roots.cert_sha256 = None;
        assert_eq!(roots.trust(path).unwrap(), Trust::SystemRoots);
        let mut bad = sample();
        bad.cert_sha256 = Some("xyz".into());
        assert!(matches!(
            bad.trust(path),
            Err(ConfigError::Fingerprint { .. })
        ));
    }

    #[test]
    fn default_path_prefers_xdg_then_home() {
        assert_eq!(
            default_path(Some("/x"), Some("/home/ann")).unwrap(),
            PathBuf::from("/x/sosdesk/desk.json")
        );
        assert_eq!(
            default_path(None, Some("/home/ann")).unwrap(),
            PathBuf::from("/home/ann/.config/sosdesk/desk.json")
        );
        assert_eq!(
            default_path(Some(""), Some("/home/ann")).unwrap(),
            PathBuf::from("/home/ann/.config/sosdesk/desk.json")
        );
        assert_eq!(
            default_path(Some("relative"), Some("/home/ann")).unwrap(),
            PathBuf::from("/home/ann/.config/sosdesk/desk.json")
        );
        assert!(matches!(
            default_path(None, None),
            Err(ConfigError::NoLocation)
        ));
    }
}
