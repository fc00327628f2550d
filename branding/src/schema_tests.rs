//! Tests of loading, validating, signing and opening a branding.

use crate::schema::BrandingError;
use crate::signature::SignatureFile;
use crate::{load, payload};
use std::path::{Path, PathBuf};

const PRIMARY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const BACKUP: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// A PNG header of the given size: enough for the checks, which read no pixels.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&width.to_be_bytes());
    png.extend_from_slice(&height.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png
}

fn valid_toml() -> String {
    format!(
        r##"product_name = "Acme Support"
organisation = "Acme Corp IT"
support_url = "https://help.acme.example/contact"
logo = "logo.png"
consent_text = """
Acme staff never ask for your passwords.
"""

[colours]
primary = "#0b5fff"

[gateway]
url = "https://support.acme.example:8443/"
quic = "support.acme.example:8444"
key_pins = {{ primary = "{PRIMARY}", backup = "{BACKUP}" }}
"##
    )
}

fn write(dir: &Path, toml: &str) -> PathBuf {
    std::fs::write(dir.join("logo.png"), png_header(64, 64)).unwrap();
    let path = dir.join("branding.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn problems(toml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    match load(&write(dir.path(), toml)) {
        Err(BrandingError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_valid_file_loads_and_its_payload_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&write(dir.path(), &valid_toml())).unwrap();
    let b = &loaded.branding;
    assert_eq!(b.product_name, "Acme Support");
    assert_eq!(b.file_stem(), "acme-support");
    assert_eq!(b.gateway.url, "https://support.acme.example:8443");
    assert_eq!(b.colours.background.to_string(), "#ffffff");
    assert_eq!(b.consent_text, "Acme staff never ask for your passwords.");
    assert_eq!(b.gateway.key_pins[0].to_string(), PRIMARY);
    assert_eq!(payload::decode(&loaded.payload).as_ref(), Some(b));
    assert_eq!(payload::encode(b), loaded.payload, "encoding is canonical");
    assert_eq!(loaded.files.len(), 2);
}

#[test]
fn every_problem_is_reported_with_its_field() {
    let toml = valid_toml()
        .replace("\"#0b5fff\"", "\"blue\"")
        .replace("https://help", "http://help")
        .replace("support.acme.example:8444", "support.acme.example");
    let found = problems(&toml);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("support_url: "), "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("colours.primary: \"blue\" is not a colour"))
    );
    assert!(found.iter().any(|p| p.starts_with("gateway.quic: ")));
}

#[test]
fn an_address_without_pins_is_refused() {
    let toml = valid_toml()
        .lines()
        .filter(|l| !l.starts_with("key_pins"))
        .collect::<Vec<_>>()
        .join("\n");
    let found = problems(&toml);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("gateway.key_pins: is missing"),
        "{found:?}"
    );
    let same = valid_toml().replace(BACKUP, PRIMARY);
    assert!(problems(&same)[0].contains("same as the primary"));
    let short = valid_toml().replace(BACKUP, "abcd");
    assert!(problems(&short)[0].starts_with("gateway.key_pins.backup: \"abcd\""));
}

#[test]
fn logos_must_be_small_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &valid_toml());
    std::fs::remove_file(dir.path().join("logo.png")).unwrap();
    assert!(
        matches!(load(&path), Err(BrandingError::Invalid { ref problems, .. })
        if problems[0].field == "logo" && problems[0].message.contains("cannot read"))
    );
    std::fs::write(dir.path().join("logo.png"), b"GIF89a not a png at all, no").unwrap();
    let error = load(&path).unwrap_err().to_string();
    assert!(error.contains("is not a PNG image"), "{error}");
    std::fs::write(dir.path().join("logo.png"), png_header(4096, 64)).unwrap();
    let error = load(&path).unwrap_err().to_string();
    assert!(error.contains("4096x64 pixels"), "{error}");
}

#[test]
fn unreadable_colour_pairs_and_typos_are_refused() {
    let grey = valid_toml().replace(
        "primary = \"#0b5fff\"",
        "primary = \"#0b5fff\"\ntext = \"#cccccc\"",
    );
    assert!(problems(&grey)[0].contains("hard to read"));
    let dir = tempfile::tempdir().unwrap();
    let typo = valid_toml().replace("organisation", "organization");
    let error = load(&write(dir.path(), &typo)).unwrap_err();
    assert!(
        matches!(&error, BrandingError::Syntax { message, .. } if message.contains("organization")),
        "{error}"
    );
}

#[test]
fn hostile_texts_are_refused() {
    let escape = valid_toml().replace("Acme Corp IT", "Acme\\u001b[2J");
    assert!(problems(&escape)[0].starts_with("organisation: "));
    let long = valid_toml().replace("Acme Support", &"A".repeat(41));
    assert!(problems(&long)[0].starts_with("product_name: is longer than 40"));
}

#[test]
fn the_signature_file_must_match_the_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &valid_toml());
    let loaded = load(&path).unwrap();
    assert!(matches!(
        SignatureFile::check(&path, &loaded.payload),
        Err(BrandingError::Unsigned { .. })
    ));
    let key = crate::signature::BrandingKey::from_pkcs8(
        &crate::signature::BrandingKey::generate_pkcs8().unwrap(),
    )
    .unwrap();
    let signed = key.sign(&loaded.payload);
    std::fs::write(
        SignatureFile::path_for(&path),
        serde_json::to_string(&signed).unwrap(),
    )
    .unwrap();
    let (public_key, signature) = SignatureFile::check(&path, &loaded.payload).unwrap();
    assert_eq!(public_key, key.public_key());
    crate::signature::verify(&public_key, &loaded.payload, &signature).unwrap();

    std::fs::write(&path, valid_toml().replace("Acme Corp IT", "Acme Corp")).unwrap();
    let changed = load(&path).unwrap();
    let error = SignatureFile::check(&path, &changed.payload).unwrap_err();
    assert!(
        error.to_string().contains("changed after it was signed"),
        "{error}"
    );
}

#[test]
fn a_baked_branding_opens_only_while_unchanged() {
    use crate::signature::{Baked, BrandingKey, TamperError};
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&write(dir.path(), &valid_toml())).unwrap();
    let key = BrandingKey::from_pkcs8(&BrandingKey::generate_pkcs8().unwrap()).unwrap();
    let signed = key.sign(&loaded.payload);
    let (public_key, signature) = {
        std::fs::write(
            SignatureFile::path_for(&dir.path().join("branding.toml")),
            serde_json::to_string(&signed).unwrap(),
        )
        .unwrap();
        SignatureFile::check(&dir.path().join("branding.toml"), &loaded.payload).unwrap()
    };
    let leak = |bytes: &[u8]| -> &'static [u8] { Box::leak(bytes.to_vec().into_boxed_slice()) };
    let baked = Baked {
        payload: leak(&loaded.payload),
        signature: leak(&signature),
        public_key: leak(&public_key),
        logo: leak(&loaded.logo),
    };
    assert_eq!(baked.open().unwrap(), loaded.branding);
    for at in [0, loaded.payload.len() / 2, loaded.payload.len() - 1] {
        let mut flipped = loaded.payload.clone();
        flipped[at] ^= 0x01;
        let tampered = Baked {
            payload: leak(&flipped),
            ..baked
        };
        assert_eq!(tampered.open(), Err(TamperError::BadSignature), "byte {at}");
    }
    let mut logo = loaded.logo.clone();
    logo[20] ^= 0x01;
    let new_logo = Baked {
        logo: leak(&logo),
        ..baked
    };
    assert_eq!(new_logo.open(), Err(TamperError::LogoChanged));
    let other = BrandingKey::from_pkcs8(&BrandingKey::generate_pkcs8().unwrap()).unwrap();
    let other_key = other.public_key();
    let wrong_key = Baked {
        public_key: leak(&other_key),
        ..baked
    };
    assert_eq!(wrong_key.open(), Err(TamperError::BadSignature));
}

#[test]
fn the_documented_example_only_lacks_its_key_pins() {
    let example = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/branding.example.toml"
    ));
    let Err(BrandingError::Invalid { problems, .. }) = load(example) else {
        panic!("the example's placeholders are not valid pins");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["gateway.key_pins.primary", "gateway.key_pins.backup"],
        "{problems:?}"
    );
}
