//! Signing a branding (the gateway's branding key) and checking it (the build and the app).
//!
//! `sos-gateway branding sign acme.toml` writes `acme.toml.sig`: the ed25519 public key,
//! the signature over [`payload::signed_message`] and the payload's SHA-256. The build
//! script bakes the payload, signature and public key after checking the digest; the app
//! checks the signature at every start ([`Baked::open`]) and refuses to run on a mismatch.

#[cfg(feature = "crypto")]
use crate::Branding;
use crate::payload;
use crate::schema::BrandingError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Length of an ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Contents of `<branding.toml>.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// [`payload::FORMAT`] at signing time.
    pub format: u32,
    /// The gateway's branding public key, base64.
    pub public_key: String,
    /// ed25519 signature over the signed message, base64.
    pub signature: String,
    /// SHA-256 of the signed payload, hex.
    pub payload_sha256: String,
}

impl SignatureFile {
    /// Where the signature of the branding at `branding` lives: the same name plus `.sig`.
    pub fn path_for(branding: &Path) -> PathBuf {
        let mut name = branding.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }

    /// Reads the signature of `branding` and checks that it was made for `payload`.
    /// Returns the public key and the signature to bake.
    pub fn check(
        branding: &Path,
        payload: &[u8],
    ) -> Result<([u8; PUBLIC_KEY_LEN], [u8; SIGNATURE_LEN]), BrandingError> {
        let signature = Self::path_for(branding);
        let stale = |detail: &str| BrandingError::Stale {
            path: branding.to_path_buf(),
            signature: signature.clone(),
            detail: detail.to_string(),
        };
        let text = match std::fs::read_to_string(&signature) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BrandingError::Unsigned {
                    path: branding.to_path_buf(),
                    signature,
                });
            }
            Err(source) => {
                return Err(BrandingError::Read {
                    path: signature,
                    source,
                });
            }
        };
        let file: SignatureFile =
            serde_json::from_str(&text).map_err(|_| stale("it is not a signature file"))?;
        if file.format != payload::FORMAT {
            return Err(stale("it was made by another version"));
        }
        if file.payload_sha256 != payload::digest(payload) {
            return Err(stale("the branding changed after it was signed"));
        }
        let decode = |text: &str| STANDARD.decode(text).ok();
        let public_key = decode(&file.public_key)
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| stale("the public key is damaged"))?;
        let signature = decode(&file.signature)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| stale("the signature is damaged"))?;
        Ok((public_key, signature))
    }
}

/// Why a baked branding was refused at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TamperError {
    /// The signature does not match the baked configuration.
    #[error(
        "this copy of the app was changed after it was built, so it will not run — download \
         it again from your technician's link"
    )]
    BadSignature,
    /// The logo does not match the signed configuration.
    #[error(
        "this copy of the app was changed after it was built (its logo), so it will not run — \
         download it again from your technician's link"
    )]
    LogoChanged,
    /// Signed, but not a branding this app understands.
    #[error(
        "this app's built-in configuration is not readable by this version — ask your \
         technician for a new download"
    )]
    Unreadable,
}

/// A branding as baked into the app by the build script.
#[derive(Debug, Clone, Copy)]
pub struct Baked {
    /// The canonical payload, exactly as signed.
    pub payload: &'static [u8],
    /// ed25519 signature over [`payload::signed_message`].
    pub signature: &'static [u8],
    /// The gateway's branding public key.
    pub public_key: &'static [u8],
    /// The logo PNG.
    pub logo: &'static [u8],
}

#[cfg(feature = "crypto")]
impl Baked {
    /// Checks the signature and the logo, then decodes the branding.
    pub fn open(&self) -> Result<Branding, TamperError> {
        verify(self.public_key, self.payload, self.signature)?;
        let branding = payload::decode(self.payload).ok_or(TamperError::Unreadable)?;
        if payload::digest(self.logo) != branding.logo_sha256 {
            return Err(TamperError::LogoChanged);
        }
        Ok(branding)
    }
}

/// Checks an ed25519 signature over a branding payload.
#[cfg(feature = "crypto")]
pub fn verify(public_key: &[u8], payload: &[u8], signature: &[u8]) -> Result<(), TamperError> {
    use ring::signature::{ED25519, UnparsedPublicKey};
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&payload::signed_message(payload), signature)
        .map_err(|_| TamperError::BadSignature)
}

/// The gateway's branding key: an ed25519 key pair kept as PKCS#8.
#[cfg(feature = "crypto")]
pub struct BrandingKey(ring::signature::Ed25519KeyPair);

#[cfg(feature = "crypto")]
impl std::fmt::Debug for BrandingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BrandingKey({})", STANDARD.encode(self.public_key()))
    }
}

/// The branding key could not be made or read.
#[cfg(feature = "crypto")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the branding key is not usable: {0}")]
pub struct KeyError(String);

#[cfg(feature = "crypto")]
impl BrandingKey {
    /// A new key, as PKCS#8 bytes to keep (mode 0600).
    pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError("the system random generator failed".into()))
    }

    /// The key kept as PKCS#8.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, KeyError> {
        ring::signature::Ed25519KeyPair::from_pkcs8(bytes)
            .map(Self)
            .map_err(|e| KeyError(format!("not an ed25519 PKCS#8 key ({e})")))
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        use ring::signature::KeyPair;
        let mut out = [0; PUBLIC_KEY_LEN];
        // An ed25519 public key is always 32 bytes, so the lengths match.
        out.copy_from_slice(self.0.public_key().as_ref());
        out
    }

    /// Signs a branding payload.
    pub fn sign(&self, payload: &[u8]) -> SignatureFile {
        let signature = self.0.sign(&payload::signed_message(payload));
        SignatureFile {
            format: payload::FORMAT,
            public_key: STANDARD.encode(self.public_key()),
            signature: STANDARD.encode(signature.as_ref()),
            payload_sha256: payload::digest(payload),
        }
    }
}
