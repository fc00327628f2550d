//! The one branded build of a test run, and the gateways whose keys it pins.
//!
//! Kept in `target/branded/fixture` across runs: two gateway data folders (the primary key
//! and the backup key), a loopback port both use in turn, the branding.toml signed by the
//! primary gateway, and the app built from it with `cargo build -p sos --target-dir
//! target/branded` (so the workspace's own build is not invalidated). Files are rewritten
//! only when their contents change, so a second run rebuilds nothing; the first takes
//! minutes.

use crate::support::binary;
use crate::support::procs::{describe, run};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The technician's password on both fixture gateways.
pub const PASSWORD: &str = "correct horse battery";
/// The organisation of the branding.
pub const ORGANISATION: &str = "Acme Corp IT";
/// The product name of the branding.
pub const PRODUCT: &str = "Acme Support";
/// Text added to every permission question.
pub const CONSENT_TEXT: &str = "Acme staff never ask for your passwords.";

/// A 16x16 blue PNG.
pub const LOGO: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x91, 0x68,
    0x36, 0x00, 0x00, 0x00, 0x16, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xe0, 0x8e, 0xff, 0x4f,
    0x12, 0x62, 0x18, 0xd5, 0x30, 0xaa, 0x61, 0xf8, 0x6a, 0x00, 0x00, 0xf7, 0x59, 0x69, 0x10, 0xfe,
    0x6a, 0x68, 0x85, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// What the tests use.
pub struct Fixture {
    /// Loopback port of the preset gateway, TCP (HTTPS) and UDP (QUIC) alike.
    pub port: u16,
    /// Data folder of the gateway holding the primary key (and the branding key).
    pub primary: PathBuf,
    /// Data folder of the gateway holding the backup key.
    pub backup: PathBuf,
    /// The branded app.
    pub app: PathBuf,
    /// The signed bytes baked into it.
    pub payload: Vec<u8>,
}

/// The fixture, made (and the app built) once per test run.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(make)
}

fn target_dir() -> PathBuf {
    // target/<profile>/deps/<test> -> target
    crate::support::bin_dir()
        .parent()
        .expect("target folder")
        .to_path_buf()
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        std::fs::write(path, bytes).unwrap();
    }
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        && UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The port of earlier runs if it is still free, else a new free one.
fn port(dir: &Path) -> u16 {
    let file = dir.join("port");
    let kept = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .filter(|port| port_is_free(*port));
    let port = kept.unwrap_or_else(|| {
        (0..50)
            .find_map(|_| {
                let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                port_is_free(port).then_some(port)
            })
            .expect("a free loopback port for TCP and UDP")
    });
    write_if_changed(&file, port.to_string().as_bytes());
    port
}

/// A gateway data folder with technician tina; returns its key pin.
fn gateway(data: &Path) -> String {
    let gateway = binary("sos-gateway");
    let data_arg = data.to_str().unwrap();
    if !data.join("sosdesk.db").exists() {
        let args = [
            "user",
            "add",
            "--data",
            data_arg,
            "--email",
            "tina@example.com",
            "--name",
            "Tina Tech",
            "--role",
            "technician",
            "--password-stdin",
        ];
        let out = run(&gateway, &args, &format!("{PASSWORD}\n"), &[]);
        assert!(out.status.success(), "user add: {}", describe(&out));
    }
    let out = run(&gateway, &["branding", "pin", "--data", data_arg], "", &[]);
    assert!(out.status.success(), "branding pin: {}", describe(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let pin = text.trim().strip_prefix("key-sha256: ").expect("a key pin");
    assert_eq!(pin.len(), 64, "{text}");
    pin.to_string()
}

/// Holds the fixture for this process: another test run on the same checkout waits, as
/// both would use the same files and the same port.
pub fn exclusive() -> std::fs::File {
    let dir = target_dir().join("branded").join("fixture");
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("lock")).unwrap();
    file.lock().unwrap();
    file
}

fn make() -> Fixture {
    let _held = exclusive();
    let dir = target_dir().join("branded").join("fixture");
    let port = port(&dir);
    let (primary, backup) = (dir.join("gateway-primary"), dir.join("gateway-backup"));
    let (primary_pin, backup_pin) = (gateway(&primary), gateway(&backup));
    write_if_changed(&dir.join("logo.png"), LOGO);
    let toml = dir.join("branding.toml");
    let text = format!(
        "product_name = \"{PRODUCT}\"\norganisation = \"{ORGANISATION}\"\n\
         support_url = \"https://help.acme.example\"\nlogo = \"logo.png\"\n\
         consent_text = \"{CONSENT_TEXT}\"\n\n[colours]\nprimary = \"#0b5fff\"\n\n\
         [gateway]\nurl = \"https://127.0.0.1:{port}\"\nquic = \"127.0.0.1:{port}\"\n\
         key_pins = {{ primary = \"{primary_pin}\", backup = \"{backup_pin}\" }}\n"
    );
    write_if_changed(&toml, text.as_bytes());
    let payload = sos_branding::load(&toml).unwrap().payload;
    if sos_branding::SignatureFile::check(&toml, &payload).is_err() {
        let args = [
            "branding",
            "sign",
            "--data",
            primary.to_str().unwrap(),
            toml.to_str().unwrap(),
        ];
        let out = run(&binary("sos-gateway"), &args, "", &[]);
        assert!(out.status.success(), "branding sign: {}", describe(&out));
    }

    let target = target_dir().join("branded");
    eprintln!(
        "building the branded app in {} (minutes the first time)…",
        target.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let out = Command::new(cargo)
        .args(["build", "-p", "sos", "--target-dir"])
        .arg(&target)
        .env("SOS_BRANDING", &toml)
        .env_remove("CARGO_TARGET_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "branded build: {}", describe(&out));
    Fixture {
        port,
        primary,
        backup,
        app: target.join("debug").join("sos"),
        payload,
    }
}
