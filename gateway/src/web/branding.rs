//! The gateway's branding key, and the branding its link page wears.
//!
//! `sos-gateway branding sign <branding.toml>` validates the file, signs its canonical bytes
//! with the gateway's branding key (`<data>/branding-key.pk8`, ed25519, made on first use,
//! mode 0600), writes `<branding.toml>.sig` beside it for the build, and keeps a copy of the
//! branding and its logo in `<data>/branding/` so that the link page shows the same names,
//! colours and logo as the app. The private key never leaves the data folder.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sos_branding::signature::{BrandingKey, KeyError};
use sos_branding::{Branding, BrandingError, SignatureFile, payload};
use sos_transport::KeyFingerprint;
use sos_transport::tls::{ServerIdentity, TlsError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The branding key in the data folder (PKCS#8, mode 0600).
pub const KEY_FILE: &str = "branding-key.pk8";
/// Folder of the data folder holding the link page's branding.
pub const PAGE_FOLDER: &str = "branding";
const PAGE_PAYLOAD: &str = "branding.json";
const PAGE_LOGO: &str = "logo.png";

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The branding file is not valid.
    #[error(transparent)]
    Branding(#[from] BrandingError),
    /// The key is damaged or could not be made.
    #[error("{0} ({KEY_FILE} in the data folder)")]
    Key(#[from] KeyError),
    /// A file could not be read or written.
    #[error("cannot write {path}: {source}")]
    Files {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What `branding sign` did.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The signature file written.
    pub signature_path: PathBuf,
    /// The branding that was signed.
    pub branding: Branding,
    /// The branding public key (base64).
    pub public_key: String,
    /// Whether the key was made now.
    pub key_created: bool,
    /// This gateway's key pin, when its TLS identity exists; a branding whose pins do not
    /// include it makes apps that refuse this gateway.
    pub gateway_pin: Option<KeyFingerprint>,
}

fn files(path: &Path) -> impl FnOnce(std::io::Error) -> SignError + '_ {
    move |source| SignError::Files {
        path: path.to_path_buf(),
        source,
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

/// Loads the branding key of the gateway in `data`, making it on first use.
pub fn load_key(data: &Path) -> Result<(BrandingKey, bool), SignError> {
    let path = data.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok((BrandingKey::from_pkcs8(&bytes)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data).map_err(files(data))?;
            let pkcs8 = BrandingKey::generate_pkcs8()?;
            write_private(&path, &pkcs8).map_err(files(&path))?;
            Ok((BrandingKey::from_pkcs8(&pkcs8)?, true))
        }
        Err(e) => Err(files(&path)(e)),
    }
}

/// Signs the branding at `toml` with the key of the gateway in `data`.
pub fn sign(data: &Path, toml: &Path) -> Result<Signed, SignError> {
    let loaded = sos_branding::load(toml)?;
    let (key, key_created) = load_key(data)?;
    let signature = key.sign(&loaded.payload);
    let signature_path = SignatureFile::path_for(toml);
    // Serialising a struct of strings cannot fail.
    let text = serde_json::to_string_pretty(&signature).unwrap_or_default();
    std::fs::write(&signature_path, text + "\n").map_err(files(&signature_path))?;
    let page = data.join(PAGE_FOLDER);
    std::fs::create_dir_all(&page).map_err(files(&page))?;
    let payload_path = page.join(PAGE_PAYLOAD);
    std::fs::write(&payload_path, &loaded.payload).map_err(files(&payload_path))?;
    let logo_path = page.join(PAGE_LOGO);
    std::fs::write(&logo_path, &loaded.logo).map_err(files(&logo_path))?;
    Ok(Signed {
        signature_path,
        branding: loaded.branding,
        public_key: signature.public_key,
        key_created,
        gateway_pin: current_pin(data),
    })
}

/// The key pin of the TLS identity already in `data`, if any.
fn current_pin(data: &Path) -> Option<KeyFingerprint> {
    let cert = CertificateDer::from_pem_file(data.join("gateway-cert.pem")).ok()?;
    KeyFingerprint::of_certificate(&cert).ok()
}

/// The key pin of the gateway in `data` (its TLS identity is made now if it has none).
pub fn key_pin(data: &Path) -> Result<KeyFingerprint, TlsError> {
    ServerIdentity::load_or_generate(data, &["localhost".to_string()])?.key_fingerprint()
}

/// Makes (or reads) a spare TLS identity in `folder` and returns its key pin: the
/// `backup` pin. To rotate, stop the gateway, move `gateway-cert.pem` and
/// `gateway-key.pem` from `folder` into the data folder, and start it again.
pub fn spare_identity(folder: &Path) -> Result<KeyFingerprint, TlsError> {
    ServerIdentity::load_or_generate(folder, &["localhost".to_string()])?.key_fingerprint()
}

/// The branding last signed by the gateway in `data`, with its logo, for the link page.
pub fn page_branding(data: &Path) -> Option<(Branding, Vec<u8>)> {
    let page = data.join(PAGE_FOLDER);
    let branding = payload::decode(&std::fs::read(page.join(PAGE_PAYLOAD)).ok()?)?;
    let logo = std::fs::read(page.join(PAGE_LOGO)).ok()?;
    (payload::digest(&logo) == branding.logo_sha256).then_some((branding, logo))
}
