//! What the branding baked into this build (by `build.rs`, from `SOS_BRANDING`) changes:
//! the signature check at start, the one gateway a branded app may reach and how it is
//! verified, the session found from the app's own file name, and the organisation's words
//! added to every permission question.
//!
//! Contract: a branded app never takes a gateway or a certificate from its command line or
//! its environment, and trusts only the baked key pins (never the system roots); a baked
//! configuration whose signature does not match stops the app before anything else.

use sos_agent::preset::{PresetError, pin_for_token};
use sos_agent::{CertFingerprint, Console, KeyFingerprint, Notice, Pin, StdoutConsole, Trust};
use sos_branding::download::token_in_file_name;
use sos_branding::{Branding, LinkToken, TamperError};
use std::path::Path;

mod baked {
    include!(concat!(env!("OUT_DIR"), "/branding.rs"));
}

/// The baked branding, checked: `None` for the generic app.
pub fn open() -> Result<Option<Branding>, TamperError> {
    baked::BAKED
        .as_ref()
        .map(sos_branding::Baked::open)
        .transpose()
}

/// The baked logo (a PNG, checked by [`open`]), for the windows' titles.
pub fn logo_png() -> Option<&'static [u8]> {
    baked::BAKED.as_ref().map(|baked| baked.logo)
}

/// Where the app connects and how it checks the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// QUIC `host:port`.
    pub gateway: String,
    /// How the gateway is verified.
    pub trust: Trust,
    /// HTTPS address for the link-token lookup (branded builds only).
    pub web: Option<String>,
}

/// The gateway from the branding, or from the command line in the generic app.
pub fn target(
    branding: Option<&Branding>,
    gateway: Option<&str>,
    cert_sha256: &[CertFingerprint],
) -> Result<Target, String> {
    match branding {
        Some(b) if gateway.is_some() || !cert_sha256.is_empty() => Err(format!(
            "This app connects only to {}'s own gateway: it does not accept --gateway, \
             SOS_GATEWAY or --cert-sha256. Start it without them.",
            b.organisation
        )),
        Some(b) => Ok(Target {
            gateway: b.gateway.quic.clone(),
            trust: Trust::PinnedKeys(
                b.gateway
                    .key_pins
                    .iter()
                    .map(|pin| KeyFingerprint::from_bytes(pin.0))
                    .collect(),
            ),
            web: Some(b.gateway.url.clone()),
        }),
        None => {
            let Some(gateway) = gateway else {
                return Err(
                    "No gateway given — pass --gateway with the address from your \
                            technician (host:port)."
                        .to_string(),
                );
            };
            Ok(Target {
                gateway: gateway.to_string(),
                trust: generic_trust(cert_sha256),
                web: None,
            })
        }
    }
}

/// How the generic app checks a gateway: the certificates given, else the system roots.
pub fn generic_trust(cert_sha256: &[CertFingerprint]) -> Trust {
    if cert_sha256.is_empty() {
        Trust::SystemRoots
    } else {
        Trust::Pinned(cert_sha256.to_vec())
    }
}

/// The link token in the name this program was started as (or in its file's name).
pub fn own_token() -> Option<LinkToken> {
    let named = |path: &Path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .and_then(token_in_file_name)
    };
    let invoked = std::env::args_os().next();
    invoked
        .as_deref()
        .map(Path::new)
        .and_then(named)
        .or_else(|| std::env::current_exe().ok().as_deref().and_then(named))
}

/// For a branded app started without `--pin`: the PIN of the session named in its file
/// name, asked from the preset gateway. `None` when there is no token to look up.
pub async fn pin_from_file_name(target: &Target) -> Option<Result<Pin, PresetError>> {
    let web = target.web.as_deref()?;
    let token = own_token()?;
    Some(pin_for_token(web, &target.trust, token.expose()).await)
}

/// Shows notices on standard output, with the organisation's text before every
/// permission question.
#[derive(Debug)]
pub struct BrandedConsole {
    inner: StdoutConsole,
    organisation: String,
    consent_text: String,
}

impl BrandedConsole {
    /// A console for `branding` (plain for the generic app).
    pub fn new(branding: Option<&Branding>) -> Self {
        Self {
            inner: StdoutConsole,
            organisation: branding.map(|b| b.organisation.clone()).unwrap_or_default(),
            consent_text: branding.map(|b| b.consent_text.clone()).unwrap_or_default(),
        }
    }
}

impl Console for BrandedConsole {
    fn show(&mut self, notice: &Notice) {
        if matches!(notice, Notice::ConsentPrompt { .. }) && !self.consent_text.is_empty() {
            println!("A message from {}:", self.organisation);
            for line in self.consent_text.lines() {
                println!("  {line}");
            }
        }
        self.inner.show(notice);
    }
}

/// The first lines a branded app prints.
pub fn banner(branding: &Branding) -> String {
    format!(
        "{} — remote support from {}\nHelp: {}",
        branding.product_name, branding.organisation, branding.support_url
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sos_branding::{Colour, Colours, KeyPin, PresetGateway};

    fn branding() -> Branding {
        Branding {
            product_name: "Acme Support".into(),
            organisation: "Acme Corp IT".into(),
            support_url: "https://help.acme.example".into(),
            colours: Colours {
                primary: Colour([0, 0, 255]),
                background: Colour([255, 255, 255]),
                text: Colour([0, 0, 0]),
            },
            consent_text: "Acme never asks for passwords.".into(),
            gateway: PresetGateway {
                url: "https://gw.acme.example:8443".into(),
                quic: "gw.acme.example:8444".into(),
                key_pins: [KeyPin([1; 32]), KeyPin([2; 32])],
            },
            logo_sha256: String::new(),
        }
    }

    #[test]
    fn a_branded_app_goes_only_to_its_gateway_with_its_pins() {
        let b = branding();
        let target = target(Some(&b), None, &[]).unwrap();
        assert_eq!(target.gateway, "gw.acme.example:8444");
        assert_eq!(
            target.trust,
            Trust::PinnedKeys(vec![
                KeyFingerprint::from_bytes([1; 32]),
                KeyFingerprint::from_bytes([2; 32])
            ])
        );
        assert_eq!(target.web.as_deref(), Some("https://gw.acme.example:8443"));
        let refused = super::target(Some(&b), Some("evil.example:8444"), &[]).unwrap_err();
        assert!(refused.contains("does not accept --gateway"), "{refused}");
        let fp = CertFingerprint::of(b"x");
        assert!(super::target(Some(&b), None, &[fp]).is_err());
    }

    #[test]
    fn the_generic_app_needs_a_gateway() {
        assert!(target(None, None, &[]).unwrap_err().contains("--gateway"));
        let t = target(None, Some("gw:1"), &[]).unwrap();
        assert_eq!((t.trust, t.web), (Trust::SystemRoots, None));
        let fp = CertFingerprint::of(b"x");
        assert_eq!(
            target(None, Some("gw:1"), &[fp]).unwrap().trust,
            Trust::Pinned(vec![fp])
        );
    }

    #[test]
    fn this_build_opens() {
        // The generic build has nothing baked; a branded one must verify.
        let opened = open();
        assert!(opened.is_ok(), "{opened:?}");
    }
}
