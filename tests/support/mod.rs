//! Shared pieces of the system tests: an Xvfb display with known content, the built
//! binaries, child processes that are killed when the test ends, line readers, and a
//! headless Chromium for the web console.
//!
//! Nothing here skips: a missing Xvfb or binary fails the test with what to do.

#![allow(dead_code)]

pub mod browser;
pub mod keymap;
pub mod procs;
pub mod screens;
pub mod shots;
pub mod stack;
pub mod xclient;
pub mod xvfb;
pub mod xwindow;

use std::path::PathBuf;

/// Folder of the built binaries (`target/<profile>`), next to this test executable.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .to_path_buf()
}

/// Path of a workspace binary; fails with a hint when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`, \
         which `cargo xtask test` does)",
        path.display()
    );
    path
}
