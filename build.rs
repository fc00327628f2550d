//! Build script of the `sos` app: bakes the branding named by `SOS_BRANDING` into it.
//!
//! Without `SOS_BRANDING` (or with it empty) the app is the generic one, which asks for the
//! gateway's address. With it, the branding.toml is validated (every problem is listed with
//! its field), its signature file `<branding.toml>.sig` must have been made for exactly
//! these contents, and the signed bytes, the signature, the public key and the logo are
//! written to OUT_DIR for `src/branded.rs` to include. The app checks the signature again
//! at every start. Any problem stops the build with the reason and what to do.
//! A relative `SOS_BRANDING` is taken from the workspace root.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOS_BRANDING");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("OUT_DIR is not set: run the build through cargo");
    };
    let code = match std::env::var_os("SOS_BRANDING").filter(|v| !v.is_empty()) {
        None => "/// The generic app: nothing baked, the gateway is asked for.\n\
                 pub static BAKED: Option<sos_branding::Baked> = None;\n"
            .to_string(),
        Some(path) => bake(Path::new(&path), &out).unwrap_or_else(|message| fail(&message)),
    };
    if let Err(message) = write_if_changed(&out.join("branding.rs"), code.as_bytes()) {
        fail(&message);
    }
}

/// Validates, checks the signature file, writes the baked files; returns the Rust code.
fn bake(path: &Path, out: &Path) -> Result<String, String> {
    let loaded = sos_branding::load(path).map_err(|e| e.to_string())?;
    for file in &loaded.files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        sos_branding::SignatureFile::path_for(path).display()
    );
    let (public_key, signature) =
        sos_branding::SignatureFile::check(path, &loaded.payload).map_err(|e| e.to_string())?;
    let files: [(&str, &[u8]); 4] = [
        ("branding.json", &loaded.payload),
        ("branding.sig", &signature),
        ("branding.pub", &public_key),
        ("branding-logo.png", &loaded.logo),
    ];
    for (name, bytes) in files {
        write_if_changed(&out.join(name), bytes)?;
    }
    println!(
        "cargo:warning=branded build: {} for {} (gateway {})",
        loaded.branding.product_name, loaded.branding.organisation, loaded.branding.gateway.url
    );
    let include = |name: &str| format!("include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\"))");
    Ok(format!(
        "/// The branding baked by build.rs from {path}, checked at start.\n\
         pub static BAKED: Option<sos_branding::Baked> = Some(sos_branding::Baked {{\n    \
         payload: {},\n    signature: {},\n    public_key: {},\n    logo: {},\n}});\n",
        include("branding.json"),
        include("branding.sig"),
        include("branding.pub"),
        include("branding-logo.png"),
        path = path.display().to_string().replace(['\n', '\r'], " "),
    ))
}

/// Rewriting identical files would make cargo rebuild the app for nothing.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn fail(message: &str) -> ! {
    for line in message.lines() {
        println!("cargo::error={line}");
    }
    std::process::exit(1);
}
