//! PINs, link tokens and API tokens: generation, lookup hashes and sealing.
//!
//! A stolen database alone reveals no PIN: PINs are stored as an HMAC under the gateway's
//! secret key (for lookup) and sealed with AES-256-GCM under a second key derived from it
//! (for "Show PIN"). The key lives in a file beside the database, not in it.
//! API tokens are stored as SHA-256 hashes only. The console's CSRF value is an HMAC of
//! the session token under a third derived key, so it is checked without being stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// Failures of the secret machinery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A sealed value does not open under this gateway's key.
    #[error("a stored PIN does not open under this gateway's key (was gateway.key replaced?)")]
    Unseal,
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| SecretError::Random)?;
    Ok(out)
}

/// A fresh 9-digit PIN, uniformly drawn (no modulo bias).
pub fn new_pin() -> Result<String, SecretError> {
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>()?);
        // 4_000_000_000 is the largest multiple of 10^9 below 2^32.
        if n < 4_000_000_000 {
            return Ok(format!("{:09}", n % 1_000_000_000));
        }
    }
}

/// A random URL-safe token with `BYTES` bytes of entropy.
pub fn new_token<const BYTES: usize>() -> Result<String, SecretError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<BYTES>()?))
}

/// SHA-256 of an API token, hex; what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The gateway's secret keys, derived from one 32-byte master key.
pub struct Keys {
    lookup: hmac::Key,
    seal: LessSafeKey,
    reset: [u8; 32],
    csrf: hmac::Key,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    /// Derives the keys from the master key.
    pub fn from_master(master: &[u8; 32]) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, master);
        let derive = |label: &[u8]| hmac::sign(&root, label);
        let lookup = hmac::Key::new(hmac::HMAC_SHA256, derive(b"sosdesk pin lookup v1").as_ref());
        let seal_key = derive(b"sosdesk pin seal v1");
        let mut reset = [0u8; 32];
        reset.copy_from_slice(derive(b"sosdesk quic reset v1").as_ref());
        let csrf = hmac::Key::new(
            hmac::HMAC_SHA256,
            derive(b"sosdesk console csrf v1").as_ref(),
        );
        // AES-256 takes exactly the 32 bytes of an HMAC-SHA256 tag.
        let seal = match UnboundKey::new(&AES_256_GCM, seal_key.as_ref()) {
            Ok(key) => LessSafeKey::new(key),
            Err(_) => unreachable!("HMAC-SHA256 output is a valid AES-256 key"),
        };
        Self {
            lookup,
            seal,
            reset,
            csrf,
        }
    }

    /// The CSRF value of a console session: a keyed hash of its API token (URL-safe
    /// base64), so page scripts can send it back without the gateway storing it.
    pub fn csrf_value(&self, session_token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.csrf, session_token.as_bytes()).as_ref())
    }

    /// Whether `given` is the CSRF value of `session_token` (constant time).
    pub fn csrf_matches(&self, session_token: &str, given: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(given.as_bytes())
            .is_ok_and(|tag| hmac::verify(&self.csrf, session_token.as_bytes(), &tag).is_ok())
    }

    /// Key of the QUIC stateless resets, the same across restarts so clients of a crashed
    /// gateway learn at once that their connection is gone.
    pub fn quic_reset_key(&self) -> [u8; 32] {
        self.reset
    }

    /// Lookup hash of a PIN (hex).
    pub fn pin_hash(&self, pin: &str) -> String {
        hex::encode(hmac::sign(&self.lookup, pin.as_bytes()).as_ref())
    }

    /// Seals a PIN: nonce followed by ciphertext and tag.
    pub fn seal_pin(&self, pin: &str) -> Result<Vec<u8>, SecretError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut data = pin.as_bytes().to_vec();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(b"pin"),
                &mut data,
            )
            .map_err(|_| SecretError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens a sealed PIN.
    pub fn open_pin(&self, sealed: &[u8]) -> Result<String, SecretError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretError::Unseal);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Unseal)?;
        let mut body = body.to_vec();
        let clear = self
            .seal
            .open_in_place(nonce, Aad::from(b"pin"), &mut body)
            .map_err(|_| SecretError::Unseal)?;
        String::from_utf8(clear.to_vec()).map_err(|_| SecretError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_nine_digits() {
        for _ in 0..200 {
            let pin = new_pin().unwrap();
            assert_eq!(pin.len(), 9);
            assert!(pin.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn sealed_pins_open_only_under_the_same_key() {
        let keys = Keys::from_master(&[7; 32]);
        let sealed = keys.seal_pin("123456789").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"123456789"));
        assert_eq!(keys.open_pin(&sealed).unwrap(), "123456789");
        let other = Keys::from_master(&[8; 32]);
        assert_eq!(other.open_pin(&sealed), Err(SecretError::Unseal));
        assert_eq!(keys.open_pin(&sealed[..5]), Err(SecretError::Unseal));
    }

    #[test]
    fn lookup_hash_is_keyed() {
        let a = Keys::from_master(&[1; 32]);
        let b = Keys::from_master(&[2; 32]);
        assert_eq!(a.pin_hash("111222333"), a.pin_hash("111222333"));
        assert_ne!(a.pin_hash("111222333"), b.pin_hash("111222333"));
    }

    #[test]
    fn csrf_values_belong_to_one_token_and_one_key() {
        let keys = Keys::from_master(&[5; 32]);
        let value = keys.csrf_value("token-a");
        assert!(keys.csrf_matches("token-a", &value));
        assert!(!keys.csrf_matches("token-b", &value));
        assert!(!keys.csrf_matches("token-a", ""));
        assert!(!keys.csrf_matches("token-a", "not base64 !"));
        assert!(!Keys::from_master(&[6; 32]).csrf_matches("token-a", &value));
    }

    #[test]
    fn tokens_carry_enough_entropy() {
        let t = new_token::<16>().unwrap();
        assert_eq!(t.len(), 22);
        assert_ne!(t, new_token::<16>().unwrap());
    }
}
