//! Starting a local gateway and its first technician, shared by `run` and `run --demo`.
//!
//! The gateway announces itself on stdout with `console: https://…`, `quic: …` and
//! `cert-sha256: <hex>`; the pin is what every client passes with `--cert-sha256`, so the
//! connection fails closed instead of trusting an unknown certificate. The first
//! technician's password is generated here, stored once in `<data>/first-technician.txt`
//! (mode 0600) and never passed on a command line.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::proc::{Launch, Output, Process, run_to_end};
use crate::report;
use crate::signals::Shutdown;

/// The first technician's login.
pub const TECHNICIAN_EMAIL: &str = "tech@example.com";
const TECHNICIAN_NAME: &str = "First Technician";
/// Where the first technician's credentials are kept, inside the data directory.
pub const CREDENTIALS_FILE: &str = "first-technician.txt";
/// First start generates a certificate and a database: give it time on a slow machine.
const BANNER_TIMEOUT: Duration = Duration::from_secs(60);
const USER_ADD_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the gateway listens.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    /// HTTPS: the technicians' REST API (the `console:` URL).
    pub listen: SocketAddr,
    /// QUIC: agents and viewers.
    pub quic: SocketAddr,
}

impl Addresses {
    /// Fails with a useful message when another program holds one of the ports.
    pub fn check_free(&self) -> Result<()> {
        TcpListener::bind(self.listen).with_context(|| {
            format!(
                "cannot listen on TCP {} (another gateway running?); stop it or choose another address with --listen",
                self.listen
            )
        })?;
        UdpSocket::bind(self.quic).with_context(|| {
            format!(
                "cannot listen on UDP {} (another gateway running?); stop it or choose another address with --quic",
                self.quic
            )
        })?;
        Ok(())
    }

    /// Two ports on 127.0.0.1 that were free a moment ago.
    pub fn free_on_loopback() -> Result<Self> {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|socket| socket.local_addr())
            .context("could not find a free TCP port on 127.0.0.1")?;
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|socket| socket.local_addr())
            .context("could not find a free UDP port on 127.0.0.1")?;
        Ok(Self {
            listen: tcp,
            quic: udp,
        })
    }

    /// The HTTPS URL a client on this machine uses.
    pub fn console_url(&self) -> String {
        format!("https://{}", reachable(self.listen))
    }

    /// The QUIC address a client on this machine uses.
    pub fn quic_address(&self) -> String {
        reachable(self.quic).to_string()
    }
}

/// 0.0.0.0 and :: accept connections but cannot be connected to: use loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port())
        }
        _ => address,
    }
}

/// What the gateway printed when it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    /// The `console:` URL, as printed.
    pub console: String,
    /// The QUIC address, as printed.
    pub quic: String,
    /// The SHA-256 of its TLS certificate, as printed.
    pub cert_sha256: String,
}

/// A running gateway.
pub struct Gateway {
    /// The child; dropping it stops the gateway.
    pub process: Process,
    /// Its announced addresses and pin.
    pub banner: Banner,
}

/// Starts `sos-gateway serve` and reads its banner.
pub fn start(
    binary: &Path,
    data: &Path,
    addresses: Addresses,
    output: Output,
    shutdown: &Shutdown,
) -> Result<Gateway> {
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(addresses.listen.to_string())
        .arg("--quic")
        .arg(addresses.quic.to_string())
        // The browser viewer learns the WebTransport port from its ticket: any free one.
        .arg("--webtransport")
        .arg(std::net::SocketAddr::new(addresses.quic.ip(), 0).to_string());
    let mut process = Launch::new("sos-gateway", cmd)
        .output(output)
        .watch_stdout()
        .spawn()?;
    let banner = read_banner(&mut process, shutdown)?;
    Ok(Gateway { process, banner })
}

fn read_banner(process: &mut Process, shutdown: &Shutdown) -> Result<Banner> {
    let mut parsed = BannerLines::default();
    process.wait_for_output(
        "its `console:`, `quic:` and `cert-sha256:` lines",
        BANNER_TIMEOUT,
        shutdown,
        |line| {
            parsed.read(line);
            parsed.is_complete()
        },
    )?;
    parsed.finish()
}

#[derive(Default)]
struct BannerLines {
    console: Option<String>,
    quic: Option<String>,
    cert_sha256: Option<String>,
}

impl BannerLines {
    fn read(&mut self, line: &str) {
        for (key, slot) in [
            ("console:", &mut self.console),
            ("quic:", &mut self.quic),
            ("cert-sha256:", &mut self.cert_sha256),
        ] {
            if let Some(value) = line.trim().strip_prefix(key) {
                *slot = Some(value.trim().to_owned());
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.console.is_some() && self.quic.is_some() && self.cert_sha256.is_some()
    }

    fn finish(self) -> Result<Banner> {
        let (Some(console), Some(quic), Some(cert_sha256)) =
            (self.console, self.quic, self.cert_sha256)
        else {
            bail!("internal: the gateway banner is incomplete");
        };
        let digits: String = cert_sha256.chars().filter(|c| *c != ':').collect();
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!(
                "the gateway printed `cert-sha256: {cert_sha256}`, which is not a SHA-256 in hex; the gateway and xtask disagree on the banner format"
            );
        }
        Ok(Banner {
            console,
            quic,
            cert_sha256,
        })
    }
}

/// The first technician's login, and the password when it was just created.
#[derive(Debug)]
pub struct Technician {
    /// Login email.
    pub email: String,
    /// Where the password is stored.
    pub credentials: PathBuf,
    /// The password, only when created by this run (it is shown once).
    pub new_password: Option<String>,
}

impl Technician {
    /// The password, read back from the credentials file when not new.
    pub fn password(&self) -> Result<String> {
        if let Some(password) = &self.new_password {
            return Ok(password.clone());
        }
        let text = fs::read_to_string(&self.credentials)
            .with_context(|| format!("could not read {}", self.credentials.display()))?;
        match field(&text, "password") {
            Some(password) => Ok(password),
            None => bail!(
                "{} has no `password:` line; delete it and the data directory to start afresh",
                self.credentials.display()
            ),
        }
    }
}

/// Creates the first technician unless `<data>/first-technician.txt` says it exists.
pub fn ensure_first_technician(
    binary: &Path,
    data: &Path,
    output: Output,
    shutdown: &Shutdown,
) -> Result<Technician> {
    let credentials = data.join(CREDENTIALS_FILE);
    if credentials.exists() {
        let text = fs::read_to_string(&credentials)
            .with_context(|| format!("could not read {}", credentials.display()))?;
        let email = field(&text, "email").unwrap_or_else(|| TECHNICIAN_EMAIL.to_owned());
        return Ok(Technician {
            email,
            credentials,
            new_password: None,
        });
    }
    let password = generate_password()?;
    add_technician(
        binary,
        data,
        (TECHNICIAN_EMAIL, TECHNICIAN_NAME),
        &password,
        output,
        shutdown,
    )
    .with_context(|| {
        format!(
            "could not create the first technician {TECHNICIAN_EMAIL}; if it exists already but {} was lost, start afresh with an empty --data directory",
            report::display_path(&credentials)
        )
    })?;
    if let Err(error) = store_credentials(&credentials, &password) {
        // The account exists now: the password must not be lost with the error.
        eprintln!(
            "xtask: could not save the password ({error:#}); the password of {TECHNICIAN_EMAIL} is: {password}"
        );
        return Err(error);
    }
    Ok(Technician {
        email: TECHNICIAN_EMAIL.to_owned(),
        credentials,
        new_password: Some(password),
    })
}

/// Adds a technician (`email`, `name`) with `password` to the gateway's data directory
/// with `sos-gateway user add`; the password goes through stdin, never a command line.
pub fn add_technician(
    binary: &Path,
    data: &Path,
    (email, name): (&str, &str),
    password: &str,
    output: Output,
    shutdown: &Shutdown,
) -> Result<()> {
    let mut cmd = Command::new(binary);
    cmd.args(["user", "add", "--data"])
        .arg(data)
        .args(["--email", email, "--name", name])
        .args(["--role", "technician", "--password-stdin"]);
    run_to_end(
        "sos-gateway user add",
        cmd,
        Some(&format!("{password}\n")),
        output,
        USER_ADD_TIMEOUT,
        shutdown,
    )?;
    Ok(())
}

fn store_credentials(path: &Path, password: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    write!(
        file,
        "# The first sosdesk technician, created by `cargo xtask run`.\nemail: {TECHNICIAN_EMAIL}\npassword: {password}\n"
    )
    .and_then(|()| file.sync_all())
    .with_context(|| format!("could not write {}", path.display()))
}

/// The value of a `key: value` line.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim() == key)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// 24 characters from [A-Za-z0-9] (about 143 bits), read from /dev/urandom.
pub fn generate_password() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const LENGTH: usize = 24;
    // The largest multiple of the alphabet size: bytes above it would bias the result.
    const LIMIT: u8 = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut random = File::open("/dev/urandom").context("could not open /dev/urandom")?;
    let mut password = String::with_capacity(LENGTH);
    let mut buffer = [0_u8; 64];
    while password.len() < LENGTH {
        random
            .read_exact(&mut buffer)
            .context("could not read /dev/urandom")?;
        for &byte in buffer.iter().filter(|&&byte| byte < LIMIT) {
            if password.len() < LENGTH {
                password.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "3f:0a";

    #[test]
    fn banner_lines_are_found_among_logs() {
        let mut lines = BannerLines::default();
        let hex = "ab".repeat(32);
        for line in [
            "2025-01-01T00:00:00Z INFO starting",
            "console: https://127.0.0.1:8443",
            "quic: 127.0.0.1:8444",
        ] {
            lines.read(line);
        }
        assert!(!lines.is_complete());
        lines.read(&format!("  cert-sha256: {hex}"));
        assert!(lines.is_complete());
        assert_eq!(
            lines.finish().unwrap(),
            Banner {
                console: String::from("https://127.0.0.1:8443"),
                quic: String::from("127.0.0.1:8444"),
                cert_sha256: hex,
            }
        );
    }

    #[test]
    fn a_malformed_pin_is_refused() {
        let mut lines = BannerLines::default();
        lines.read("console: https://x");
        lines.read("quic: x");
        lines.read(&format!("cert-sha256: {PIN}"));
        assert!(lines.finish().is_err());
    }

    #[test]
    fn passwords_are_long_alphanumeric_and_different() {
        let first = generate_password().unwrap();
        let second = generate_password().unwrap();
        assert_eq!(first.len(), 24);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(first, second);
    }

    #[test]
    fn credentials_round_trip() {
        let text = "# comment\nemail: tech@example.com\npassword: abc:def\n";
        assert_eq!(field(text, "email").as_deref(), Some("tech@example.com"));
        assert_eq!(field(text, "password").as_deref(), Some("abc:def"));
        assert_eq!(field(text, "missing"), None);
    }

    #[test]
    fn unspecified_addresses_become_loopback() {
        let addresses = Addresses {
            listen: "0.0.0.0:8443".parse().unwrap(),
            quic: "[::]:8444".parse().unwrap(),
        };
        assert_eq!(addresses.console_url(), "https://127.0.0.1:8443");
        assert_eq!(addresses.quic_address(), "[::1]:8444");
    }
}
