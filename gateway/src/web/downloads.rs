//! The app builds the link page offers, and serving one named after the session.
//!
//! Builds are found in `<data>/downloads/<os>/` (`linux`, `windows`, `macos`: the first
//! file by name in each), where an admin puts the branded builds made with
//! `cargo xtask brand`. When there is none for the gateway's own system, the generic `sos`
//! next to the gateway's executable (the one built with the workspace) is offered.
//! A download of `acme-support` for the session `<token>` is named `acme-support_<token>`
//! (`.exe` kept on Windows), which the app reads back to join without typing.

use crate::service::Desk;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sos_branding::LinkToken;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

/// Bytes read from disk per chunk of a download.
const CHUNK: usize = 64 * 1024;

/// A desktop system the app is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux (X11).
    Linux,
    /// Windows.
    Windows,
    /// macOS.
    MacOs,
}

impl Os {
    /// Every system, in the order the page lists them.
    pub const ALL: [Os; 3] = [Os::Windows, Os::MacOs, Os::Linux];

    /// The name in URLs and in `<data>/downloads/`.
    pub fn slug(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
            Os::MacOs => "macos",
        }
    }

    /// The name people know.
    pub fn name(self) -> &'static str {
        match self {
            Os::Linux => "Linux",
            Os::Windows => "Windows",
            Os::MacOs => "macOS",
        }
    }

    /// Parses a [`Os::slug`].
    pub fn parse(slug: &str) -> Option<Self> {
        Os::ALL.into_iter().find(|os| os.slug() == slug)
    }

    /// Extension of executables.
    pub fn extension(self) -> &'static str {
        match self {
            Os::Windows => ".exe",
            Os::Linux | Os::MacOs => "",
        }
    }

    /// The system this gateway runs on.
    pub fn current() -> Self {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// Who opened the link, as far as the User-Agent tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visitor {
    /// A desktop system the app may exist for.
    Desktop(Os),
    /// A phone or tablet: the app does not run there.
    Mobile,
    /// Cannot tell.
    Unknown,
}

impl Visitor {
    /// Reads the User-Agent header.
    pub fn of_user_agent(agent: &str) -> Self {
        let has = |needle: &str| agent.contains(needle);
        if has("Android") || has("iPhone") || has("iPad") || has("Mobile") {
            Visitor::Mobile
        } else if has("Windows") {
            Visitor::Desktop(Os::Windows)
        } else if has("Macintosh") || has("Mac OS X") {
            Visitor::Desktop(Os::MacOs)
        } else if (has("Linux") || has("X11")) && !has("CrOS") {
            Visitor::Desktop(Os::Linux)
        } else {
            Visitor::Unknown
        }
    }
}

/// One build the page offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The system it runs on.
    pub os: Os,
    /// The file.
    pub path: PathBuf,
    /// Its name without extension, cleaned for a header.
    pub stem: String,
    /// Whether it came from `<data>/downloads/` (a build for this gateway) rather than
    /// being the generic app, which needs the gateway's address on its command line.
    pub preset: bool,
    /// Size in bytes.
    pub size: u64,
}

impl Build {
    fn new(os: Os, path: PathBuf, preset: bool) -> Option<Self> {
        let size = std::fs::metadata(&path).ok().filter(|m| m.is_file())?.len();
        let name = path.file_name()?.to_string_lossy().to_string();
        let name = name
            .strip_suffix(os.extension())
            .filter(|s| !os.extension().is_empty() && !s.is_empty())
            .unwrap_or(&name);
        let stem: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        Some(Self {
            os,
            path,
            stem,
            preset,
            size,
        })
    }

    /// The name the download gets for the session `token`.
    pub fn file_name(&self, token: &LinkToken) -> String {
        sos_branding::download::file_name(&self.stem, token, self.os.extension())
    }
}

/// The first regular file in `folder`, by name.
fn first_file(folder: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files.into_iter().next()
}

/// The generic `sos` built with the gateway, next to its executable.
fn default_build() -> Option<Build> {
    let exe = std::env::current_exe().ok()?;
    let path = exe
        .parent()?
        .join(format!("sos{}", std::env::consts::EXE_SUFFIX));
    Build::new(Os::current(), path, false)
}

/// Every build on offer, one per system at most.
pub fn available(desk: &Desk) -> Vec<Build> {
    let mut builds: Vec<Build> = match desk.store.folder() {
        Some(data) => Os::ALL
            .into_iter()
            .filter_map(|os| {
                let path = first_file(&data.join("downloads").join(os.slug()))?;
                Build::new(os, path, true)
            })
            .collect(),
        None => Vec::new(),
    };
    if !builds.iter().any(|b| b.os == Os::current()) {
        builds.extend(default_build());
    }
    builds
}

/// Streams `build` as an attachment named for the session.
pub async fn serve(build: &Build, token: &LinkToken) -> std::io::Result<Response> {
    let file = tokio::fs::File::open(&build.path).await?;
    let length = file.metadata().await?.len();
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buffer = vec![0; CHUNK];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buffer.truncate(read);
        Ok(Some((Bytes::from(buffer), file)))
    });
    let mut response = (StatusCode::OK, Body::from_stream(chunks)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // The name holds only [A-Za-z0-9._-] (stem cleaned, token URL-safe), so it needs no quoting rules.
    let disposition = format!("attachment; filename=\"{}\"", build.file_name(token));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
