//! TLS identity of the gateway and the trust rules of its clients.
//!
//! The gateway keeps one self-signed identity (generated on first start) for HTTPS and
//! QUIC. Clients trust it by a pinned SHA-256 of its certificate ([`CertFingerprint`], the
//! `--cert-sha256` of the command lines), by a pinned SHA-256 of its public key
//! ([`KeyFingerprint`], what branded apps bake: it survives a new certificate for the same
//! key), or through the system roots; there is no unverified mode. A pinned client accepts
//! nothing else, whatever the system roots say.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Failures loading or building TLS material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading or writing the identity files failed.
    #[error("cannot use TLS identity in {path}: {source}")]
    Files {
        /// Folder of the identity.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The identity files exist but are not usable PEM.
    #[error("TLS identity in {path} is damaged ({detail}); move it away to generate a new one")]
    Damaged {
        /// Folder of the identity.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// Generating the certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
    /// No usable system root certificate was found.
    #[error("no system root certificates found; pass the gateway's --cert-sha256 instead")]
    NoSystemRoots,
}

/// SHA-256 fingerprint of a DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertFingerprint([u8; 32]);

impl CertFingerprint {
    /// Fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }
    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Why a fingerprint string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a certificate fingerprint is 64 hex digits (colons allowed), as printed by `sos-gateway serve`"
)]
pub struct FingerprintParseError;

impl FromStr for CertFingerprint {
    type Err = FingerprintParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let clean: String = text.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(clean.trim()).map_err(|_| FingerprintParseError)?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| FingerprintParseError)?;
        Ok(Self(array))
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertFingerprint({self})")
    }
}

/// SHA-256 of the DER SubjectPublicKeyInfo in the gateway's certificate (an "SPKI pin").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint([u8; 32]);

impl KeyFingerprint {
    /// Fingerprint of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }
    /// Fingerprint of the public key in a DER certificate.
    pub fn of_certificate(cert_der: &CertificateDer<'_>) -> Result<Self, rustls::Error> {
        let parsed = rustls::server::ParsedCertificate::try_from(cert_der)?;
        Ok(Self::of_spki(parsed.subject_public_key_info().as_ref()))
    }
    /// A fingerprint from its raw digest.
    pub fn from_bytes(digest: [u8; 32]) -> Self {
        Self(digest)
    }
    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl FromStr for KeyFingerprint {
    type Err = FingerprintParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CertFingerprint::from_str(text).map(|digest| Self(digest.0))
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({self})")
    }
}

/// How a client decides to trust the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Only a certificate with one of these fingerprints (primary, backup).
    Pinned(Vec<CertFingerprint>),
    /// Only a certificate for one of these public keys (primary, backup), whatever the
    /// certificate around it; the system roots are never consulted.
    PinnedKeys(Vec<KeyFingerprint>),
    /// Certificates chaining to the operating system's roots, for the expected name.
    SystemRoots,
}

/// The gateway's certificate and private key.
pub struct ServerIdentity {
    /// DER certificate.
    pub cert: CertificateDer<'static>,
    /// DER private key.
    pub key: PrivateKeyDer<'static>,
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerIdentity({})", self.fingerprint())
    }
}

const CERT_FILE: &str = "gateway-cert.pem";
const KEY_FILE: &str = "gateway-key.pem";

impl ServerIdentity {
    /// Loads the identity kept in `dir`, or generates a self-signed one for `names`
    /// (host names or IP addresses) and keeps it there (key file mode 0600).
    pub fn load_or_generate(dir: &Path, names: &[String]) -> Result<Self, TlsError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let files = |source| TlsError::Files {
            path: dir.display().to_string(),
            source,
        };
        if cert_path.exists() && key_path.exists() {
            let damaged = |detail: String| TlsError::Damaged {
                path: dir.display().to_string(),
                detail,
            };
            let cert = CertificateDer::from_pem_file(&cert_path)
                .map_err(|e| damaged(format!("certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| damaged(format!("key: {e}")))?;
            return Ok(Self { cert, key });
        }
        let generated = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        std::fs::create_dir_all(dir).map_err(files)?;
        write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())
            .map_err(files)?;
        std::fs::write(&cert_path, generated.cert.pem()).map_err(files)?;
        let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        Ok(Self {
            cert: generated.cert.der().clone(),
            key,
        })
    }

    /// Fingerprint clients pin.
    pub fn fingerprint(&self) -> CertFingerprint {
        CertFingerprint::of(&self.cert)
    }

    /// Fingerprint of the public key, what branded apps pin.
    pub fn key_fingerprint(&self) -> Result<KeyFingerprint, TlsError> {
        KeyFingerprint::of_certificate(&self.cert).map_err(|e| TlsError::Damaged {
            path: "gateway-cert.pem".into(),
            detail: format!("certificate: {e}"),
        })
    }

    /// A rustls server configuration for this identity with the given ALPN ids.
    /// TLS 1.3 only; 0-RTT stays disabled.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config.max_early_data_size = 0;
        Ok(config)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

/// The crypto provider every sosdesk endpoint uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration that trusts the gateway as `trust` says. TLS 1.3 only.
pub fn client_config(trust: &Trust, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let pinned = |pins: Pins| {
        Arc::new(PinnedVerifier {
            pins,
            algorithms: provider.signature_verification_algorithms,
        })
    };
    let mut config = match trust {
        Trust::Pinned(pins) => builder
            .dangerous()
            .with_custom_certificate_verifier(pinned(Pins::Certificates(pins.clone())))
            .with_no_client_auth(),
        Trust::PinnedKeys(pins) => builder
            .dangerous()
            .with_custom_certificate_verifier(pinned(Pins::Keys(pins.clone())))
            .with_no_client_auth(),
        Trust::SystemRoots => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TlsError::NoSystemRoots);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.enable_early_data = false;
    Ok(config)
}

/// What a [`PinnedVerifier`] compares.
#[derive(Debug)]
enum Pins {
    Certificates(Vec<CertFingerprint>),
    Keys(Vec<KeyFingerprint>),
}

impl Pins {
    fn accept(&self, end_entity: &CertificateDer<'_>) -> bool {
        match self {
            Pins::Certificates(pins) => {
                let presented = CertFingerprint::of(end_entity);
                pins.iter().any(|pin| pin.matches(&presented))
            }
            Pins::Keys(pins) => KeyFingerprint::of_certificate(end_entity)
                .is_ok_and(|presented| pins.iter().any(|pin| pin.matches(&presented))),
        }
    }
}

/// Accepts exactly the pinned certificates (or keys), whatever name they carry; the
/// handshake signature is still checked so the peer must hold the pinned key.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Pins,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pins.accept(end_entity) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.2 is never negotiated: both ends are configured for TLS 1.3 only.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_parses_with_or_without_colons() {
        let fp = CertFingerprint::of(b"cert");
        let plain = fp.to_string();
        assert_eq!(plain.len(), 64);
        assert_eq!(plain.parse::<CertFingerprint>().unwrap(), fp);
        let colons = plain
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(colons.parse::<CertFingerprint>().unwrap(), fp);
        assert!("abc".parse::<CertFingerprint>().is_err());
    }

    #[test]
    fn key_pins_follow_the_key_not_the_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let first = rcgen::CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let second = rcgen::CertificateParams::new(vec!["b.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["a.example".into()]).unwrap();
        let pin = KeyFingerprint::of_certificate(first.der()).unwrap();
        assert_eq!(
            pin,
            KeyFingerprint::of_spki(&rcgen::PublicKeyData::subject_public_key_info(&key)),
            "SHA-256 of the DER SubjectPublicKeyInfo"
        );
        assert_ne!(
            CertFingerprint::of(first.der()),
            CertFingerprint::of(second.der())
        );
        let pins = Pins::Keys(vec![
            KeyFingerprint::from_bytes([9; 32]),
            pin.to_string().parse().unwrap(),
        ]);
        assert!(pins.accept(first.der()), "the backup pin matches");
        assert!(
            pins.accept(second.der()),
            "a new certificate for the same key"
        );
        assert!(!pins.accept(other.cert.der()), "another key");
        assert!(
            !pins.accept(&CertificateDer::from(vec![1, 2, 3])),
            "garbage"
        );
    }

    #[test]
    fn identity_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerIdentity::load_or_generate(dir.path(), &["localhost".into()]).unwrap();
        let again = ServerIdentity::load_or_generate(dir.path(), &["localhost".into()]).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
