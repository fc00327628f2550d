//! Facts about the end user's machine shown to the technician: its name and system.
//!
//! Contract: reads only public, non-identifying-beyond-the-hostname facts; never fails (falls
//! back to neutral text).

/// Host name of this machine, or a neutral fallback.
pub fn machine_name() -> String {
    let candidates = [
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
        std::fs::read_to_string("/etc/hostname").ok(),
        std::env::var("HOSTNAME").ok(),
        std::env::var("COMPUTERNAME").ok(),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unnamed computer".to_string())
}

/// A one-line description of the operating system, e.g. `Debian GNU/Linux 13 (x86_64)`.
pub fn os_description() -> String {
    let name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| pretty_name(&text))
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    format!("{name} ({})", std::env::consts::ARCH)
}

/// The `PRETTY_NAME` of an os-release file.
fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.trim().strip_prefix("PRETTY_NAME=")?;
        let value = value.trim().trim_matches('"').trim_matches('\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_name_is_read_from_os_release() {
        let text =
            "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n";
        assert_eq!(
            pretty_name(text).as_deref(),
            Some("Debian GNU/Linux 13 (trixie)")
        );
        assert_eq!(pretty_name("ID=x\nPRETTY_NAME=\"\"\n"), None);
        assert!(!machine_name().is_empty());
        assert!(os_description().ends_with(')'));
    }
}
