//! Where the workspace and its build outputs are, and how to call cargo on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

/// The sosdesk workspace xtask belongs to.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// The directory holding the root Cargo.toml.
    pub root: PathBuf,
    /// Cargo's target directory (honours CARGO_TARGET_DIR and cargo config).
    pub target: PathBuf,
}

impl Workspace {
    /// Finds the workspace from xtask's own manifest directory.
    pub fn locate() -> Result<Self> {
        // `cargo run` sets it at run time; the compile-time value covers running the
        // binary directly.
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
        let Some(root) = manifest.parent().map(Path::to_path_buf) else {
            bail!(
                "cannot find the workspace above {}; run xtask as `cargo xtask` from the sosdesk checkout",
                manifest.display()
            );
        };
        if !root.join("Cargo.toml").is_file() {
            bail!(
                "{} has no Cargo.toml; run xtask as `cargo xtask` from the sosdesk checkout",
                root.display()
            );
        }
        let target = target_directory(&root).unwrap_or_else(|| root.join("target"));
        Ok(Self { root, target })
    }

    /// `cargo` (the one running us, when known) in the workspace root, stdin closed.
    ///
    /// Without the variables `cargo run` set for xtask itself: build scripts that watch
    /// one of them (ring's watches `CARGO_MANIFEST_DIR`) would otherwise see it change
    /// between a build from xtask and a build from the shell, and rebuild everything above
    /// them each time.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(set_by_cargo_run) {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// A binary built by `cargo build --release`.
    pub fn release_bin(&self, name: &str) -> PathBuf {
        self.target.join("release").join(name)
    }
}

/// Whether `cargo run` sets `name` for the program it runs (about that program's own
/// package), as opposed to the user's settings such as `CARGO_HOME` or `CARGO_TARGET_DIR`.
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        )
}

/// Asks cargo, which knows about CARGO_TARGET_DIR and `build.target-dir`.
fn target_directory(root: &Path) -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    metadata
        .get("target_directory")?
        .as_str()
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_cargo_run_sets_is_left_out() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_VERSION",
            "CARGO_CRATE_NAME",
        ] {
            assert!(set_by_cargo_run(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!set_by_cargo_run(name), "{name}");
        }
    }
}
