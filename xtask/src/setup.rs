//! `cargo xtask setup`: the system packages and rustup components the workspace needs.
//!
//! Installs only what is missing, with one `apt-get update` and one `apt-get install`,
//! non-interactively (CI has no stdin). Must run before openh264 is first compiled: without
//! nasm, openh264-sys2 silently builds its slow C fallback, so installing nasm late also
//! forgets the openh264 builds made without it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::proc::{self, describe, describe_exit, run_step};
use crate::report;
use crate::signals::Shutdown;
use crate::workspace::Workspace;

/// The Debian packages, each with what needs it.
const PACKAGES: &[(&str, &str)] = &[
    ("nasm", "openh264's assembly (fast H.264 encoding)"),
    ("pkg-config", "finding the X11 libraries at build time"),
    ("libxcb1-dev", "screen capture (scrap)"),
    ("libxcb-shm0-dev", "screen capture through shared memory"),
    ("libxcb-randr0-dev", "screen geometry"),
    ("libx11-dev", "X11 clients"),
    ("libxtst-dev", "input injection (XTest)"),
    ("libxkbcommon-dev", "keyboard layouts in the viewer"),
    (
        "libxkbcommon-x11-0",
        "the viewer window (winit loads it at start)",
    ),
    (
        "xvfb",
        "the virtual X display of the system tests and the demo",
    ),
    ("xdotool", "driving and observing the X display in tests"),
    (
        "xclip",
        "putting text on the clipboard in the app's paste test",
    ),
    ("chromium", "the headless browser of the web console tests"),
    (
        "chromium-driver",
        "chromedriver, which the web console tests drive Chromium through",
    ),
    ("x11-utils", "xdpyinfo, xwininfo"),
    ("x11-xserver-utils", "xrandr, xset"),
    (
        "ffmpeg",
        "ffprobe/ffplay for recordings, the x264 peer of the bench",
    ),
    ("ca-certificates", "TLS to the package registries"),
    ("g++", "libFuzzer, built for the fuzz targets"),
];

/// Commands that must be on PATH once the packages are in.
const TOOLS: &[(&str, &str)] = &[
    ("nasm", "nasm"),
    ("pkg-config", "pkg-config"),
    ("Xvfb", "xvfb"),
    ("xdotool", "xdotool"),
    ("xclip", "xclip"),
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("ffprobe", "ffmpeg"),
];

/// `cargo xtask setup`: a header, [`install`], the time it took.
pub fn run(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    let started = Instant::now();
    report::header(TITLE);
    install(workspace, shutdown)?;
    report::note(&format!(
        "setup done in {}",
        report::duration(started.elapsed())
    ));
    Ok(())
}

/// What the setup step is about, for headers.
pub const TITLE: &str = "setup: system packages, rustup components, cargo-fuzz";

/// Checks and installs everything; prints what it did.
pub fn install(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    packages(workspace, shutdown)?;
    rust_components(workspace, shutdown)?;
    cargo_fuzz(workspace, shutdown)
}

/// cargo-fuzz (the fuzz targets in fuzz/), from crates.io when missing. It runs on the
/// stable toolchain with `--sanitizer none`.
fn cargo_fuzz(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    let present = workspace
        .cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if present {
        report::note("cargo fuzz is available");
        return Ok(());
    }
    report::note("installing cargo-fuzz (the fuzz targets' runner), about a minute");
    let mut install = workspace.cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    step(&mut install, shutdown)
        .context("could not install cargo-fuzz: check access to crates.io, or pass --no-fuzz")
}

fn packages(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    if proc::which("dpkg-query").is_none() {
        return not_debian();
    }
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|&(name, _)| name)
        .filter(|name| !installed(name))
        .collect();
    if missing.is_empty() {
        report::note(&format!(
            "all {} system packages are installed: {}",
            PACKAGES.len(),
            PACKAGES
                .iter()
                .map(|&(name, _)| name)
                .collect::<Vec<_>>()
                .join(" ")
        ));
        return Ok(());
    }
    report::note("installing the missing system packages:");
    for &(name, why) in PACKAGES.iter().filter(|(name, _)| missing.contains(name)) {
        report::note(&format!("  {name:<20} {why}"));
    }
    let elevate = elevation()?;
    let mut update = apt(&elevate, &["update"]);
    step(&mut update, shutdown).context(
        "`apt-get update` failed: check the network and the apt sources, then rerun `cargo xtask setup`",
    )?;
    let mut install = apt(&elevate, &["install", "-y", "--no-install-recommends"]);
    install.args(&missing);
    step(&mut install, shutdown).with_context(|| {
        format!(
            "`apt-get install` failed; install by hand: apt-get install {}",
            missing.join(" ")
        )
    })?;
    let still_missing: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|name| !installed(name))
        .collect();
    if !still_missing.is_empty() {
        bail!(
            "apt-get finished but these packages are still not installed: {}",
            still_missing.join(" ")
        );
    }
    report::note(&format!("installed: {}", missing.join(" ")));
    if missing.contains(&"nasm") {
        forget_openh264_without_nasm(workspace, shutdown)?;
    }
    Ok(())
}

/// Whether dpkg reports `package` as installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| out.status.success() && out.stdout.ends_with(b" installed"))
        .unwrap_or(false)
}

/// No apt here: accept the machine if the tools are there, else say what to install.
fn not_debian() -> Result<()> {
    let absent: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| proc::which(tool).is_none())
        .map(|&(tool, _)| tool)
        .collect();
    if absent.is_empty() {
        report::note(
            "no dpkg here (not Debian?); the tools are on PATH, assuming the development libraries are installed too",
        );
        return Ok(());
    }
    bail!(
        "no dpkg-query here and {} not on PATH. Install the equivalents of these Debian packages with your package manager, then rerun: {}",
        absent.join(", "),
        PACKAGES
            .iter()
            .map(|&(name, _)| name)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Nothing when root, `sudo` otherwise.
fn elevation() -> Result<Option<&'static str>> {
    let uid = Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .context("could not run `id -u` to tell whether we are root")?;
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        return Ok(None);
    }
    if proc::which("sudo").is_some() {
        report::note("not root: using sudo for apt-get");
        return Ok(Some("sudo"));
    }
    bail!(
        "installing system packages needs root and there is no sudo: run `cargo xtask setup` as root, or install them yourself: apt-get install {}",
        PACKAGES
            .iter()
            .map(|&(name, _)| name)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// `apt-get <args>` without questions, through `sudo env …` when needed (sudo would drop
/// DEBIAN_FRONTEND otherwise).
fn apt(elevate: &Option<&str>, args: &[&str]) -> Command {
    let mut cmd = match elevate {
        Some(sudo) => {
            let mut cmd = Command::new(sudo);
            cmd.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            cmd
        }
        None => {
            let mut cmd = Command::new("apt-get");
            cmd.env("DEBIAN_FRONTEND", "noninteractive");
            cmd
        }
    };
    cmd.args(args);
    cmd
}

fn step(cmd: &mut Command, shutdown: &Shutdown) -> Result<()> {
    report::note(&format!("$ {}", describe(cmd)));
    let status = run_step(cmd, shutdown)?;
    if !status.success() {
        bail!("`{}` failed ({})", describe(cmd), describe_exit(status));
    }
    Ok(())
}

/// openh264-sys2 compiled before nasm existed uses slow C: make cargo build it again.
fn forget_openh264_without_nasm(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    let mut cleans: Vec<(String, Option<String>)> = openh264_builds(&workspace.target)
        .iter()
        .filter_map(|build| clean_scope(&workspace.target, build))
        .collect();
    cleans.sort();
    cleans.dedup();
    if cleans.is_empty() {
        return Ok(());
    }
    report::note(
        "nasm was missing when openh264 was built: cleaning it so it is rebuilt with assembly",
    );
    for (profile, triple) in cleans {
        let mut clean = workspace.cargo();
        clean.args(["clean", "-p", "openh264-sys2", "--profile", &profile]);
        if let Some(triple) = triple {
            clean.args(["--target", &triple]);
        }
        step(&mut clean, shutdown)?;
    }
    Ok(())
}

/// The `--profile` (and `--target`) that own `target/[<triple>/]<dir>/build/<name>`.
fn clean_scope(target: &Path, build: &Path) -> Option<(String, Option<String>)> {
    let parts: Vec<String> = build
        .strip_prefix(target)
        .ok()?
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let (triple, dir) = match parts.as_slice() {
        [dir, _build, _name] => (None, dir),
        [triple, dir, _build, _name] => (Some(triple.clone()), dir),
        _ => return None,
    };
    // The dev and test profiles build into `debug`, release and bench into `release`.
    let profile = if dir == "debug" { "dev" } else { dir.as_str() };
    Some((profile.to_owned(), triple))
}

/// `target/*/build/openh264-sys2-*` and `target/<triple>/*/build/openh264-sys2-*`.
fn openh264_builds(target: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut profile_dirs = subdirectories(target);
    for dir in profile_dirs.clone() {
        profile_dirs.extend(subdirectories(&dir));
    }
    for profile in profile_dirs {
        for build in subdirectories(&profile.join("build")) {
            let name = build.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.starts_with("openh264-sys2-")) {
                found.push(build);
            }
        }
    }
    found
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// rustfmt and clippy, through rustup when they are missing.
fn rust_components(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    let works = |tool: &str| {
        workspace
            .cargo()
            .args([tool, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false)
    };
    let missing: Vec<&str> = [("fmt", "rustfmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(tool, _)| !works(tool))
        .map(|(_, component)| component)
        .collect();
    if missing.is_empty() {
        report::note("cargo fmt and cargo clippy are available");
        return Ok(());
    }
    if proc::which("rustup").is_none() {
        bail!(
            "cargo {} missing and there is no rustup: install the {} component(s) of your Rust toolchain",
            if missing.len() == 2 {
                "fmt and cargo clippy are"
            } else {
                "fmt or cargo clippy is"
            },
            missing.join(" and ")
        );
    }
    let mut add = Command::new("rustup");
    add.current_dir(&workspace.root)
        .args(["component", "add"])
        .args(&missing);
    step(&mut add, shutdown).context("could not add the rustup components")?;
    report::note(&format!("added rustup components: {}", missing.join(" ")));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_openh264_build_dirs_in_every_profile() {
        let root = std::env::temp_dir().join(format!("xtask-setup-test-{}", std::process::id()));
        for dir in [
            "debug/build/openh264-sys2-0123/out",
            "release/build/openh264-sys2-4567",
            "x86_64-unknown-linux-gnu/debug/build/openh264-sys2-89ab",
            "debug/build/openh264-0123",
        ] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        let mut found = openh264_builds(&root);
        found.sort();
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            found,
            vec![
                root.join("debug/build/openh264-sys2-0123"),
                root.join("release/build/openh264-sys2-4567"),
                root.join("x86_64-unknown-linux-gnu/debug/build/openh264-sys2-89ab"),
            ]
        );
        let scopes: Vec<_> = found
            .iter()
            .filter_map(|build| clean_scope(&root, build))
            .collect();
        assert_eq!(
            scopes,
            vec![
                (String::from("dev"), None),
                (String::from("release"), None),
                (
                    String::from("dev"),
                    Some(String::from("x86_64-unknown-linux-gnu"))
                ),
            ]
        );
    }
}
