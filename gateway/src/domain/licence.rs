//! Licences: ed25519-signed documents that enable features for a number of technician
//! seats until a date, and the evaluation mode of a gateway without one.
//!
//! Pure: keys and documents come in as bytes, `now` as a number. The licence authority
//! signs with `sos-gateway licence issue`; a gateway trusts only the public keys in its
//! configuration.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// Feature name of attended support sessions.
pub const SOS_FEATURE: &str = "sos";
/// Evaluation length.
pub const EVALUATION_SECS: i64 = 30 * 86_400;
/// Technician seats during evaluation.
pub const EVALUATION_SEATS: u32 = 5;

/// The signed content of a licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    /// Licence id.
    pub id: String,
    /// Who it was issued to.
    pub licensee: String,
    /// Enabled features (e.g. `sos`).
    pub features: Vec<String>,
    /// Users whose role carries attended access.
    pub seats: u32,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    /// End of validity, seconds since the epoch.
    pub expires_at: i64,
}

/// A licence with its signature, as stored in a licence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedLicence {
    /// The content.
    pub licence: Licence,
    /// Base64 ed25519 signature over the content's JSON.
    pub signature: String,
}

/// Why a licence is refused or a feature not available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenceError {
    /// Not a licence file.
    #[error("not a licence file: {0}")]
    Malformed(String),
    /// The signature does not verify under any trusted key.
    #[error(
        "the licence signature does not match any trusted licence key — check `licence_keys` in gateway.toml"
    )]
    BadSignature,
    /// A key is not usable.
    #[error("bad licence key: {0}")]
    BadKey(String),
    /// Past its end.
    #[error("the licence expired — install a renewed licence with `sos-gateway licence install`")]
    Expired,
    /// The evaluation period ended.
    #[error(
        "the 30-day evaluation has ended — install a licence with `sos-gateway licence install`"
    )]
    EvaluationOver,
    /// Feature missing.
    #[error("the licence does not include the {0} feature")]
    MissingFeature(&'static str),
    /// More technicians than seats.
    #[error(
        "{used} technicians have attended access but the licence has {seats} seats — remove users or extend the licence"
    )]
    OverSeats {
        /// Seats in use.
        used: u32,
        /// Seats licensed.
        seats: u32,
    },
}

fn content_bytes(licence: &Licence) -> Result<Vec<u8>, LicenceError> {
    serde_json::to_vec(licence).map_err(|e| LicenceError::Malformed(e.to_string()))
}

/// A new licence-authority key pair: (private PKCS#8, public key), both base64.
pub fn keygen() -> Result<(String, String), LicenceError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| LicenceError::BadKey(e.to_string()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|e| LicenceError::BadKey(e.to_string()))?;
    Ok((
        STANDARD.encode(pkcs8.as_ref()),
        STANDARD.encode(pair.public_key().as_ref()),
    ))
}

/// Signs a licence with the authority's private key (base64 PKCS#8).
pub fn issue(private_key: &str, licence: Licence) -> Result<SignedLicence, LicenceError> {
    let pkcs8 = STANDARD
        .decode(private_key.trim())
        .map_err(|e| LicenceError::BadKey(e.to_string()))?;
    let pair =
        Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| LicenceError::BadKey(e.to_string()))?;
    let signature = pair.sign(&content_bytes(&licence)?);
    Ok(SignedLicence {
        licence,
        signature: STANDARD.encode(signature.as_ref()),
    })
}

/// Parses a licence file and verifies it under one of the trusted public keys (base64).
pub fn verify(text: &str, trusted_keys: &[String]) -> Result<Licence, LicenceError> {
    let signed: SignedLicence =
        serde_json::from_str(text).map_err(|e| LicenceError::Malformed(e.to_string()))?;
    let signature = STANDARD
        .decode(signed.signature.trim())
        .map_err(|_| LicenceError::BadSignature)?;
    let content = content_bytes(&signed.licence)?;
    let ok = trusted_keys.iter().any(|key| {
        STANDARD.decode(key.trim()).is_ok_and(|public| {
            UnparsedPublicKey::new(&ED25519, public)
                .verify(&content, &signature)
                .is_ok()
        })
    });
    if ok {
        Ok(signed.licence)
    } else {
        Err(LicenceError::BadSignature)
    }
}

/// What the gateway may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entitlement {
    /// No licence installed: evaluation until `ends_at`.
    Evaluation {
        /// End of the evaluation.
        ends_at: i64,
    },
    /// A verified licence.
    Licensed(Licence),
}

impl Entitlement {
    /// Evaluation starting at the gateway's first start.
    pub fn evaluation(first_start: i64) -> Self {
        Entitlement::Evaluation {
            ends_at: first_start.saturating_add(EVALUATION_SECS),
        }
    }

    /// Seats available.
    pub fn seats(&self) -> u32 {
        match self {
            Entitlement::Evaluation { .. } => EVALUATION_SEATS,
            Entitlement::Licensed(l) => l.seats,
        }
    }

    /// End of validity.
    pub fn ends_at(&self) -> i64 {
        match self {
            Entitlement::Evaluation { ends_at } => *ends_at,
            Entitlement::Licensed(l) => l.expires_at,
        }
    }

    /// Whether attended support sessions may be created and served now.
    pub fn check_sos(&self, now: i64, seats_used: u32) -> Result<(), LicenceError> {
        match self {
            Entitlement::Evaluation { ends_at } if now >= *ends_at => {
                return Err(LicenceError::EvaluationOver);
            }
            Entitlement::Evaluation { .. } => {}
            Entitlement::Licensed(l) => {
                if now >= l.expires_at {
                    return Err(LicenceError::Expired);
                }
                if !l.features.iter().any(|f| f == SOS_FEATURE) {
                    return Err(LicenceError::MissingFeature(SOS_FEATURE));
                }
            }
        }
        let seats = self.seats();
        if seats_used > seats {
            return Err(LicenceError::OverSeats {
                used: seats_used,
                seats,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence(features: &[&str], seats: u32, expires_at: i64) -> Licence {
        Licence {
            id: "L-1".into(),
            licensee: "Example Ltd".into(),
            features: features.iter().map(|f| f.to_string()).collect(),
            seats,
            issued_at: 0,
            expires_at,
        }
    }

    #[test]
    fn issued_licences_verify_and_tampering_is_caught() {
        let (private, public) = keygen().unwrap();
        let signed = issue(&private, licence(&["sos"], 10, 1000)).unwrap();
        let text = serde_json::to_string(&signed).unwrap();
        assert_eq!(
            verify(&text, std::slice::from_ref(&public)).unwrap().seats,
            10
        );
        let tampered = text.replace("\"seats\":10", "\"seats\":99");
        assert_eq!(
            verify(&tampered, &[public]),
            Err(LicenceError::BadSignature)
        );
        let (_, stranger) = keygen().unwrap();
        assert_eq!(verify(&text, &[stranger]), Err(LicenceError::BadSignature));
        assert!(matches!(verify("{", &[]), Err(LicenceError::Malformed(_))));
    }

    #[test]
    fn entitlement_rules() {
        let eval = Entitlement::evaluation(100);
        assert_eq!(eval.check_sos(100, 5), Ok(()));
        assert_eq!(
            eval.check_sos(100, 6),
            Err(LicenceError::OverSeats { used: 6, seats: 5 })
        );
        assert_eq!(
            eval.check_sos(100 + EVALUATION_SECS, 1),
            Err(LicenceError::EvaluationOver)
        );
        let no_sos = Entitlement::Licensed(licence(&["unattended"], 10, 1000));
        assert_eq!(
            no_sos.check_sos(1, 1),
            Err(LicenceError::MissingFeature("sos"))
        );
        let ok = Entitlement::Licensed(licence(&["sos"], 2, 1000));
        assert_eq!(ok.check_sos(999, 2), Ok(()));
        assert_eq!(ok.check_sos(1000, 2), Err(LicenceError::Expired));
    }
}
