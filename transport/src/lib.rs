//! sosdesk wire layer: the messages the agent, the gateway and the technician's viewer
//! exchange, their framing, the QUIC endpoints and the certificate trust rules.
//!
//! Contract:
//! - Every decoder of network bytes is bounded ([`MAX_CONTROL_MESSAGE`], [`MAX_FRAME_BYTES`])
//!   and never panics on bad input: it returns [`WireError`].
//! - Trust fails closed: a client either checks a pinned certificate (or key) fingerprint or the
//!   system roots, and never connects unverified or in plaintext.
//! - Transport carries video frames as opaque bytes; it knows nothing about the codec.
//! - Secrets (PINs, tokens) are wrapped in redacting types and never printed in clear.

#![forbid(unsafe_code)]

pub mod api;
pub mod endpoint;
pub mod framing;
pub mod redact;
pub mod tls;
pub mod wire;

pub use framing::WireError;
pub use redact::{Pin, PinError, Secret};
pub use tls::{CertFingerprint, KeyFingerprint, Trust};

/// ALPN protocol id spoken on the gateway's QUIC port.
pub const ALPN: &[u8] = b"sos/1";
/// Largest control message accepted from a peer, in bytes.
pub const MAX_CONTROL_MESSAGE: usize = 64 * 1024;
/// Largest encoded video frame accepted from a peer, in bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
