//! Build script of the `sos` app: the place where branding is baked in.
//!
//! Branded builds are not available yet, so a build asked for one (`SOS_BRANDING` set)
//! stops with a clear message instead of producing a generic app under a brand's name.

fn main() {
    println!("cargo:rerun-if-env-changed=SOS_BRANDING");
    if let Some(path) = std::env::var_os("SOS_BRANDING") {
        println!(
            "cargo:warning=SOS_BRANDING={} was given, but branded builds are not supported by this version",
            std::path::Path::new(&path).display()
        );
        std::process::exit(1);
    }
}
