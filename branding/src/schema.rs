//! `branding.toml`: the file an admin writes, and its validation.
//!
//! ```toml
//! product_name = "Acme Support"            # the app's name; the binary is `acme-support`
//! organisation = "Acme Corp IT"            # who the end user is dealing with
//! support_url = "https://help.acme.example"
//! logo = "acme-logo.png"                   # PNG, relative to this file, <= 256 KiB, 16..1024 px
//! consent_text = """
//! Acme staff never ask for your passwords.
//! """                                      # optional, added to every permission question
//!
//! [colours]
//! primary = "#0b5fff"                      # buttons and headings
//! background = "#ffffff"                   # optional, default #ffffff
//! text = "#1f2328"                         # optional, default #1f2328
//!
//! [gateway]
//! url = "https://support.acme.example:8443"   # HTTPS: link pages, downloads
//! quic = "support.acme.example:8444"          # where the app registers
//! # SHA-256 of the gateway's public key (`sos-gateway branding pin`) and of a spare key
//! # kept for rotation (`sos-gateway branding spare-identity`).
//! key_pins = { primary = "<64 hex digits>", backup = "<64 hex digits>" }
//! ```
//!
//! [`load`] reports every problem at once, each with its field and what a valid value
//! looks like; unknown keys are refused so that a typo does not silently drop a setting.

use crate::validate::{self, MIN_CONTRAST};
use crate::{Branding, Colour, Colours, KeyPin, PresetGateway, payload};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// Longest product name, in characters.
pub const MAX_PRODUCT_CHARS: usize = 40;
/// Longest organisation name, in characters.
pub const MAX_ORGANISATION_CHARS: usize = 80;
/// Longest consent text, in characters.
pub const MAX_CONSENT_CHARS: usize = 600;
/// Most lines of consent text.
pub const MAX_CONSENT_LINES: usize = 8;

const DEFAULT_BACKGROUND: Colour = Colour([0xff, 0xff, 0xff]);
const DEFAULT_TEXT: Colour = Colour([0x1f, 0x23, 0x28]);

/// One thing wrong in a branding file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, dotted (`gateway.key_pins.backup`).
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a branding could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrandingError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape.
    #[error("{path} is not a valid branding.toml: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key).
        message: String,
    },
    /// Values are wrong.
    #[error("{path} is not a valid branding:{}", list(.problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The branding has no signature file.
    #[error(
        "{path} is not signed: run `sos-gateway branding sign {path}` on the gateway \
         (it writes {signature})"
    )]
    Unsigned {
        /// The branding file.
        path: PathBuf,
        /// Where the signature was looked for.
        signature: PathBuf,
    },
    /// The signature file is damaged or was made for other contents.
    #[error(
        "{signature} does not match {path}: {detail} — sign it again with `sos-gateway branding sign {path}`"
    )]
    Stale {
        /// The branding file.
        path: PathBuf,
        /// The signature file.
        signature: PathBuf,
        /// What does not match.
        detail: String,
    },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// A validated branding with what gets baked.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The branding.
    pub branding: Branding,
    /// The logo PNG.
    pub logo: Vec<u8>,
    /// The canonical bytes that are signed and baked ([`payload::encode`]).
    pub payload: Vec<u8>,
    /// Files the branding was read from (the TOML, the logo): rebuild when they change.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    product_name: Option<String>,
    organisation: Option<String>,
    support_url: Option<String>,
    logo: Option<PathBuf>,
    consent_text: Option<String>,
    colours: Option<FileColours>,
    gateway: Option<FileGateway>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileColours {
    primary: Option<String>,
    background: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGateway {
    url: Option<String>,
    quic: Option<String>,
    key_pins: Option<FilePins>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePins {
    primary: Option<String>,
    backup: Option<String>,
}

/// Collects problems while checking fields.
struct Checker(Vec<Problem>);

impl Checker {
    fn field<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        check: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Some(value) = value else {
            self.fail(field, "is missing");
            return None;
        };
        check(value).map_err(|m| self.fail(field, &m)).ok()
    }

    fn fail(&mut self, field: &str, message: &str) {
        self.0.push(Problem {
            field: field.to_string(),
            message: message.to_string(),
        });
    }
}

/// Reads and validates the branding at `path` (the logo is resolved from its folder).
pub fn load(path: &Path) -> Result<Loaded, BrandingError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BrandingError::Read { path, source }
    };
    let text = std::fs::read_to_string(path).map_err(read_error(path))?;
    let file: File = toml::from_str(&text).map_err(|e| BrandingError::Syntax {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })?;
    let mut check = Checker(Vec::new());
    let product_name = check.field("product_name", file.product_name.as_deref(), |v| {
        let name = validate::line(v, MAX_PRODUCT_CHARS)?;
        validate::file_stem(&name)
            .map(|_| name)
            .ok_or_else(|| "needs at least one letter A-Z or digit, for the file name".into())
    });
    let organisation = check.field("organisation", file.organisation.as_deref(), |v| {
        validate::line(v, MAX_ORGANISATION_CHARS)
    });
    let support_url = check.field(
        "support_url",
        file.support_url.as_deref(),
        validate::web_url,
    );
    let consent_text = check.field(
        "consent_text",
        Some(file.consent_text.as_deref().unwrap_or("")),
        |v| validate::paragraph(v, MAX_CONSENT_CHARS, MAX_CONSENT_LINES),
    );
    let colours = colours(&mut check, file.colours.unwrap_or_default());
    let gateway = gateway(&mut check, file.gateway);
    let folder = path.parent().unwrap_or(Path::new("."));
    let logo_path = file.logo.as_ref().map(|logo| folder.join(logo));
    let logo = match &logo_path {
        None => {
            check.fail("logo", "is missing: name a PNG file, relative to this file");
            None
        }
        Some(logo_path) => match std::fs::read(logo_path) {
            Ok(bytes) => match validate::png(&bytes) {
                Ok(_) => Some(bytes),
                Err(m) => {
                    check.fail("logo", &format!("{} {m}", logo_path.display()));
                    None
                }
            },
            Err(e) => {
                check.fail("logo", &format!("cannot read {}: {e}", logo_path.display()));
                None
            }
        },
    };
    let (
        Some(product_name),
        Some(organisation),
        Some(support_url),
        Some(consent_text),
        Some(colours),
        Some(gateway),
        Some(logo),
        true,
    ) = (
        product_name,
        organisation,
        support_url,
        consent_text,
        colours,
        gateway,
        logo,
        check.0.is_empty(),
    )
    else {
        return Err(BrandingError::Invalid {
            path: path.to_path_buf(),
            problems: check.0,
        });
    };
    let branding = Branding {
        product_name,
        organisation,
        support_url,
        colours,
        consent_text,
        gateway,
        logo_sha256: hex::encode(Sha256::digest(&logo)),
    };
    let payload = payload::encode(&branding);
    let mut files = vec![path.to_path_buf()];
    files.extend(logo_path);
    Ok(Loaded {
        branding,
        logo,
        payload,
        files,
    })
}

fn colours(check: &mut Checker, file: FileColours) -> Option<Colours> {
    let primary = check.field("colours.primary", file.primary.as_deref(), validate::colour);
    let optional =
        |check: &mut Checker, field: &str, value: Option<String>, default: Colour| match value {
            Some(v) => check.field(field, Some(&v), validate::colour),
            None => Some(default),
        };
    let background = optional(
        check,
        "colours.background",
        file.background,
        DEFAULT_BACKGROUND,
    );
    let text = optional(check, "colours.text", file.text, DEFAULT_TEXT);
    let (primary, background, text) = (primary?, background?, text?);
    let contrast = text.contrast(background);
    if contrast < MIN_CONTRAST {
        check.fail(
            "colours.text",
            &format!(
                "{text} on {background} is hard to read (contrast {contrast:.1}, at least \
                 {MIN_CONTRAST} needed): darken the text or lighten the background"
            ),
        );
        return None;
    }
    Some(Colours {
        primary,
        background,
        text,
    })
}

fn gateway(check: &mut Checker, file: Option<FileGateway>) -> Option<PresetGateway> {
    let Some(file) = file else {
        check.fail(
            "gateway",
            "is missing: a branded app needs [gateway] with url, quic and key_pins",
        );
        return None;
    };
    let url = check.field("gateway.url", file.url.as_deref(), validate::origin);
    let quic = check.field("gateway.quic", file.quic.as_deref(), validate::address);
    let Some(pins) = file.key_pins else {
        check.fail(
            "gateway.key_pins",
            "is missing: a preset gateway needs the SHA-256 of its public key (primary, from \
             `sos-gateway branding pin`) and of a spare key (backup), so no app connects unverified",
        );
        return None;
    };
    let pin = |check: &mut Checker, field: &str, value: Option<&str>| {
        check.field(field, value, |v| {
            KeyPin::parse(v).ok_or_else(|| {
                format!("{v:?} is not a key pin: 64 hex digits, as printed by `sos-gateway branding pin`")
            })
        })
    };
    let primary = pin(check, "gateway.key_pins.primary", pins.primary.as_deref());
    let backup = pin(check, "gateway.key_pins.backup", pins.backup.as_deref());
    let (url, quic, primary, backup) = (url?, quic?, primary?, backup?);
    if primary == backup {
        check.fail(
            "gateway.key_pins.backup",
            "is the same as the primary: the backup is a different key, kept aside for rotation",
        );
        return None;
    }
    Some(PresetGateway {
        url,
        quic,
        key_pins: [primary, backup],
    })
}
