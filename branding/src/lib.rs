//! sosdesk branding: what a branded `sos` app shows and the one gateway it may connect to.
//!
//! An admin describes a brand in a `branding.toml` ([`schema`]); [`load`] validates it
//! (every problem at once, each naming its field and what to write instead) and turns it
//! into a [`Branding`] plus the canonical bytes that get signed and baked ([`payload`]).
//! The gateway signs those bytes with its branding key, the build script bakes bytes,
//! signature and public key into the app, and the app checks the signature at every start
//! ([`signature::Baked::open`]) so a changed byte stops it.
//!
//! Contract:
//! - A branded app always has a preset gateway **and** its key pins (primary and backup);
//!   a branding without them does not validate, so an app cannot be built that connects to
//!   a preset address unverified.
//! - The baked bytes are exactly the signed bytes; nothing is re-serialised in between.
//! - Link tokens found in file names ([`download`]) are redacted in `Debug`.
//! - No IO except reading the files named by the branding (the TOML and the logo).

#![forbid(unsafe_code)]

pub mod download;
pub mod payload;
pub mod schema;
pub mod signature;
#[cfg(feature = "ui")]
pub mod ui;
mod validate;

#[cfg(test)]
mod schema_tests;

pub use download::LinkToken;
pub use schema::{BrandingError, Loaded, Problem, load};
pub use signature::{Baked, SignatureFile, TamperError};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Product name of the generic, unbranded app (which asks for the gateway address).
pub const GENERIC_PRODUCT_NAME: &str = "sosdesk";

/// A validated branding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// Product name shown in titles and prompts ("Acme Support").
    pub product_name: String,
    /// Organisation that runs the gateway ("Acme Corp IT").
    pub organisation: String,
    /// Where end users find help (https).
    pub support_url: String,
    /// Colours of the link page (and of a future windowed app).
    pub colours: Colours,
    /// Text added to every permission question (may be empty).
    pub consent_text: String,
    /// The only gateway the app connects to.
    pub gateway: PresetGateway,
    /// SHA-256 (hex) of the logo PNG baked beside the configuration.
    pub logo_sha256: String,
}

impl Branding {
    /// File name of the branded binary, from the product name: lower-case ASCII letters
    /// and digits, other runs of characters become one `-` ("Acme Support" -> `acme-support`).
    pub fn file_stem(&self) -> String {
        validate::file_stem(&self.product_name).unwrap_or_else(|| "sos".to_string())
    }
}

/// Colours as `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Colours {
    /// Buttons and headings.
    pub primary: Colour,
    /// Page background.
    pub background: Colour,
    /// Body text.
    pub text: Colour,
}

impl Colours {
    /// The colours of the generic, unbranded app: dark text on white, blue buttons.
    pub const GENERIC: Colours = Colours {
        primary: Colour([0x1f, 0x5f, 0xbf]),
        background: Colour([0xff, 0xff, 0xff]),
        text: Colour([0x1a, 0x1a, 0x1a]),
    };
}

/// One sRGB colour, written `#rrggbb`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Colour(pub [u8; 3]);

impl Colour {
    /// Parses `#rrggbb` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix('#')?;
        if hex.len() != 6 {
            return None;
        }
        let bytes = hex::decode(hex).ok()?;
        Some(Self([bytes[0], bytes[1], bytes[2]]))
    }

    /// WCAG relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0[0]) + 0.7152 * channel(self.0[1]) + 0.0722 * channel(self.0[2])
    }

    /// WCAG contrast ratio between two colours, 1 to 21.
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (light, dark) = if a > b { (a, b) } else { (b, a) };
        (light + 0.05) / (dark + 0.05)
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Colour({self})")
    }
}

impl Serialize for Colour {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Colour::parse(&text).ok_or_else(|| serde::de::Error::custom("a colour is #rrggbb"))
    }
}

/// The gateway a branded app is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetGateway {
    /// HTTPS base URL (`https://host[:port]`): link pages, downloads, the token lookup.
    pub url: String,
    /// QUIC address (`host:port`) the app registers on.
    pub quic: String,
    /// SHA-256 of the gateway's public key (SubjectPublicKeyInfo): primary, then backup.
    pub key_pins: [KeyPin; 2],
}

/// SHA-256 of a DER SubjectPublicKeyInfo, written as 64 hex digits (colons allowed).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPin(pub [u8; 32]);

impl KeyPin {
    /// Parses 64 hex digits, colons allowed.
    pub fn parse(text: &str) -> Option<Self> {
        let clean: String = text.trim().chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(clean).ok()?;
        bytes.try_into().ok().map(Self)
    }
}

impl fmt::Display for KeyPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPin({self})")
    }
}

impl Serialize for KeyPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyPin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        KeyPin::parse(&text).ok_or_else(|| serde::de::Error::custom("a key pin is 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_and_print() {
        let c = Colour::parse("#0B5FFF").unwrap();
        assert_eq!(c.to_string(), "#0b5fff");
        assert!(Colour::parse("0b5fff").is_none());
        assert!(Colour::parse("#0b5ff").is_none());
        assert!(Colour::parse("#0b5ffg").is_none());
        let black = Colour([0, 0, 0]);
        let white = Colour([255, 255, 255]);
        assert!((black.contrast(white) - 21.0).abs() < 0.01);
        assert!((white.contrast(white) - 1.0).abs() < 0.01);
    }

    #[test]
    fn key_pins_accept_colons() {
        let hex = "ab".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(KeyPin::parse(&hex), KeyPin::parse(&colons));
        assert!(KeyPin::parse("abcd").is_none());
    }
}
