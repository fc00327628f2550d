//! Redacting wrappers: values that must never reach a log in clear.
//!
//! `Debug` and `Display` of these types print a placeholder; the clear value is reachable
//! only through an explicit accessor, so a stray `tracing::info!(?x)` cannot leak it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A secret value (token, password) whose formatting is redacted.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The clear value; call only where it is used, never to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// Unwraps the clear value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

/// A support-session PIN: exactly nine ASCII digits. Formatting is redacted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pin(String);

/// Why a string is not a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// Not nine digits after removing spaces and dashes.
    #[error("a PIN has exactly 9 digits (spaces and dashes are ignored)")]
    Malformed,
}

impl Pin {
    /// Parses a PIN as a person types it: spaces and dashes are ignored.
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\t'))
            .collect();
        if digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(PinError::Malformed)
        }
    }
    /// The nine digits in clear; never log them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(*********)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*********")
    }
}

impl Serialize for Pin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Pin::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_accepts_nine_digits_with_separators() {
        let pin = Pin::parse("123 456-789").unwrap();
        assert_eq!(pin.expose(), "123456789");
    }

    #[test]
    fn pin_rejects_wrong_length_and_letters() {
        assert_eq!(Pin::parse("12345678"), Err(PinError::Malformed));
        assert_eq!(Pin::parse("1234567890"), Err(PinError::Malformed));
        assert_eq!(Pin::parse("12345678a"), Err(PinError::Malformed));
        assert_eq!(Pin::parse("١٢٣٤٥٦٧٨٩"), Err(PinError::Malformed));
    }

    #[test]
    fn formatting_never_shows_the_secret() {
        let pin = Pin::parse("987654321").unwrap();
        let secret = Secret::new("tok-abc".to_string());
        let text = format!("{pin} {pin:?} {secret:?}");
        assert!(!text.contains("987654321"), "{text}");
        assert!(!text.contains("tok-abc"), "{text}");
    }
}
