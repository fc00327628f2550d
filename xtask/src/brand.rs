//! `cargo xtask brand --config <branding.toml> --out <dir>`: the branded release app.
//!
//! Validates the branding first (the same checks as the build, so mistakes show before a
//! long build), builds `sos` in release mode with `SOS_BRANDING` set, in its own target
//! folder (`target/branded`, so the workspace's usual build is not invalidated), copies the
//! binary to `<dir>/<file name from the product name>`, checks that it starts (the app
//! verifies its baked signature first), and prints its size and SHA-256.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use sha2::{Digest, Sha256};

use crate::proc::{describe, describe_exit, run_step};
use crate::report;
use crate::signals::Shutdown;
use crate::workspace::Workspace;

/// Options of `cargo xtask brand`.
#[derive(Debug, Args)]
pub struct BrandArgs {
    /// The branding.toml, signed on the gateway with `sos-gateway branding sign` (its
    /// `.sig` file lies beside it).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Folder for the branded app (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The figures of a branded build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// Where the app was copied.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// Builds, copies, checks and reports.
pub fn run(workspace: &Workspace, args: &BrandArgs, shutdown: &Shutdown) -> Result<()> {
    let config = std::path::absolute(&args.config)
        .with_context(|| format!("cannot resolve {}", args.config.display()))?;
    let loaded = sos_branding::load(&config)?;
    sos_branding::SignatureFile::check(&config, &loaded.payload)?;
    let branding = &loaded.branding;
    report::header(&format!(
        "branded build: {} for {}, gateway {} (quic {})",
        branding.product_name, branding.organisation, branding.gateway.url, branding.gateway.quic
    ));

    let target = workspace.target.join("branded");
    let mut cmd = workspace.cargo();
    cmd.args([
        "build",
        "--release",
        "--locked",
        "-p",
        "sos",
        "--target-dir",
    ])
    .arg(&target)
    .env("SOS_BRANDING", &config);
    report::note(&format!(
        "SOS_BRANDING={} {}",
        config.display(),
        describe(&cmd)
    ));
    let status = run_step(&mut cmd, shutdown)?;
    if !status.success() {
        bail!(
            "`{}` failed ({}): see the errors above",
            describe(&cmd),
            describe_exit(status)
        );
    }

    let built = target
        .join("release")
        .join(format!("sos{}", std::env::consts::EXE_SUFFIX));
    let name = format!("{}{}", branding.file_stem(), std::env::consts::EXE_SUFFIX);
    let result = install(&built, &args.out, &name)?;
    check_starts(&result.path)?;
    println!();
    println!("branded app: {}", result.path.display());
    println!(
        "size: {} bytes ({:.1} MB)",
        result.size,
        result.size as f64 / 1_000_000.0
    );
    println!("sha256: {}", result.sha256);
    println!(
        "offer it on the link pages: copy it to <gateway data>/downloads/{}/",
        std::env::consts::OS
    );
    Ok(())
}

/// Copies `built` to `out/name` and measures it.
pub fn install(built: &Path, out: &Path, name: &str) -> Result<Built> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join(name);
    std::fs::copy(built, &path)
        .with_context(|| format!("cannot copy {} to {}", built.display(), path.display()))?;
    let (size, sha256) = digest(&path)?;
    Ok(Built { path, size, sha256 })
}

/// Size and SHA-256 of a file.
pub fn digest(path: &Path) -> Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    let mut size = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The app checks its baked signature before parsing arguments: `--version` proves it.
fn check_starts(app: &Path) -> Result<()> {
    let output = Command::new(app)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot start {}", app.display()))?;
    if !output.status.success() {
        bail!(
            "{} does not start ({}): {}",
            app.display(),
            describe_exit(output.status),
            String::from_utf8_lossy(&output.stdout).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_copies_and_measures() {
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("sos");
        std::fs::write(&built, b"abc").unwrap();
        let result = install(&built, &dir.path().join("out"), "acme-support").unwrap();
        assert_eq!(result.size, 3);
        assert_eq!(
            result.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(std::fs::read(&result.path).unwrap(), b"abc");
    }
}
