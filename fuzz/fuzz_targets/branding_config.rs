//! The branding verifier, both halves: `branding.toml` as the build checks it (arbitrary
//! text beside an arbitrary logo file), and the baked payload as the branded app checks it
//! at start (arbitrary payload, signature and key). No panic; an accepted config has a
//! product name and its payload decodes back to it; a decoded payload re-encodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sos_branding::payload;
use std::sync::OnceLock;

fn folder() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&split, rest)) = bytes.split_first() else {
        return;
    };
    let cut = usize::from(split).min(rest.len());
    let (logo, text) = rest.split_at(cut);

    // The config as the build reads it.
    let dir = folder().path();
    let toml = dir.join("branding.toml");
    std::fs::write(dir.join("logo.png"), logo).expect("write logo");
    std::fs::write(&toml, text).expect("write config");
    if let Ok(loaded) = sos_branding::load(&toml) {
        assert!(!loaded.branding.product_name.trim().is_empty());
        assert_eq!(payload::decode(&loaded.payload), Some(loaded.branding));
    }

    // The baked branding as the app opens it (`Baked::open`): the signature check and the
    // payload decoder take arbitrary bytes without panicking.
    let (key, rest) = rest.split_at(rest.len().min(32));
    let (signature, payload_bytes) = rest.split_at(rest.len().min(64));
    let _ = sos_branding::signature::verify(key, payload_bytes, signature);
    if let Some(branding) = payload::decode(payload_bytes) {
        assert_eq!(payload::decode(&payload::encode(&branding)), Some(branding));
    }
});
