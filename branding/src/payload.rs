//! The canonical bytes of a branding: what the gateway signs and the build bakes.
//!
//! JSON with a fixed field order (the order of the struct fields) and a format number, so
//! the same branding always gives the same bytes. The app decodes exactly the bytes whose
//! signature it checked; it never re-serialises before checking.

use crate::Branding;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the payload layout.
pub const FORMAT: u32 = 1;

/// Prefix of every signed message, so a branding signature cannot be taken for any other
/// signature made with the same key.
pub const SIGNATURE_CONTEXT: &[u8] = b"sosdesk branding v1\n";

#[derive(Serialize)]
struct Out<'a> {
    format: u32,
    branding: &'a Branding,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    format: u32,
    branding: Branding,
}

/// The canonical bytes of `branding`.
pub fn encode(branding: &Branding) -> Vec<u8> {
    let out = Out {
        format: FORMAT,
        branding,
    };
    // Serialising plain strings and numbers to a Vec cannot fail.
    serde_json::to_vec(&out).unwrap_or_default()
}

/// Decodes canonical bytes; `None` if they are not a branding of this format.
pub fn decode(bytes: &[u8]) -> Option<Branding> {
    let parsed: In = serde_json::from_slice(bytes).ok()?;
    (parsed.format == FORMAT).then_some(parsed.branding)
}

/// SHA-256 of the payload, hex: what the signature file records to notice a stale file.
pub fn digest(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// The message that is signed: the context, then the payload.
pub fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut message = SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(payload);
    message
}
