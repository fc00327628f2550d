//! The HTML of the link pages: plain documents with inline style, no script, every
//! dynamic text escaped with [`escape`].

use super::branding::page_branding;
use super::downloads::{Build, Os, Visitor};
use crate::service::Desk;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sos_branding::{GENERIC_PRODUCT_NAME, LinkToken};
use sos_transport::CertFingerprint;
use std::fmt::Write as _;

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Names, colours and logo of the pages: the branding last signed by this gateway, or the
/// gateway's organisation with the generic look.
#[derive(Debug, Clone)]
pub struct Look {
    organisation: String,
    product: String,
    colours: [String; 3],
    logo: Option<String>,
    support_url: Option<String>,
}

impl Look {
    /// The look of `desk`'s pages.
    pub fn of(desk: &Desk) -> Self {
        match desk.store.folder().and_then(|data| page_branding(&data)) {
            Some((b, logo)) => Self {
                organisation: b.organisation,
                product: b.product_name,
                colours: [b.colours.primary, b.colours.background, b.colours.text]
                    .map(|c| c.to_string()),
                logo: Some(format!("data:image/png;base64,{}", STANDARD.encode(logo))),
                support_url: Some(b.support_url),
            },
            None => Self {
                organisation: desk.organisation.clone(),
                product: GENERIC_PRODUCT_NAME.to_string(),
                colours: ["#0b5fff", "#ffffff", "#1f2328"].map(str::to_string),
                logo: None,
                support_url: None,
            },
        }
    }
}

/// What the live page shows beyond the look.
#[derive(Debug)]
pub struct Details<'a> {
    /// The link token (used in the download URLs and file names).
    pub token: &'a LinkToken,
    /// The session PIN.
    pub pin: &'a str,
    /// Who opened the link.
    pub visitor: Visitor,
    /// Builds on offer.
    pub builds: &'a [Build],
    /// The options the generic app needs to reach this gateway.
    pub generic_command: Option<String>,
    /// Whether the app is already connected.
    pub agent_connected: bool,
}

/// `--gateway <host>:<quic port> --cert-sha256 <hex>` for this gateway, if known.
pub fn generic_command(desk: &Desk) -> Option<String> {
    let authority = desk
        .public_url
        .strip_prefix("https://")?
        .split('/')
        .next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let cert = CertificateDer::from_pem_file(desk.store.folder()?.join("gateway-cert.pem")).ok()?;
    Some(format!(
        "--gateway {host}:{} --cert-sha256 {}",
        desk.quic_port,
        CertFingerprint::of(&cert)
    ))
}

fn layout(look: &Look, title: &str, body: &str) -> String {
    let [primary, background, text] = &look.colours;
    let logo = look.logo.as_ref().map_or_else(String::new, |uri| {
        format!(
            "<img class=\"logo\" src=\"{}\" alt=\"{}\">",
            escape(uri),
            escape(&look.organisation)
        )
    });
    let help = look.support_url.as_ref().map_or_else(String::new, |url| {
        format!(
            "<p class=\"small\">Need help? <a href=\"{0}\">{0}</a></p>",
            escape(url)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title><style>\
body{{margin:0;background:{background};color:{text};font:16px/1.5 system-ui,sans-serif}}\
main{{max-width:40rem;margin:2rem auto;padding:0 1rem}}\
h1,h2{{color:{primary}}} .logo{{max-height:4rem;max-width:12rem}}\
.button{{display:inline-block;background:{primary};color:#fff;padding:.75rem 1.5rem;\
border-radius:.4rem;text-decoration:none;font-weight:600}}\
.pin{{font:700 2rem/1.2 ui-monospace,monospace;letter-spacing:.1em}}\
code{{background:rgba(127,127,127,.15);padding:.1rem .3rem;border-radius:.2rem;word-break:break-all}}\
.small{{font-size:.875rem;opacity:.85}}</style></head>\n<body><main>{logo}\n{body}\n{help}</main></body></html>\n",
        title = escape(title),
    )
}

/// The page of a live session.
pub fn live(look: &Look, details: &Details<'_>) -> String {
    let org = escape(&look.organisation);
    let product = escape(&look.product);
    let token = escape(details.token.expose());
    let chosen = match details.visitor {
        Visitor::Desktop(os) => details.builds.iter().find(|b| b.os == os),
        Visitor::Unknown => details.builds.first(),
        Visitor::Mobile => None,
    };
    let mut body = format!(
        "<h1>Remote support from {org}</h1>\n\
<p>{org} invited you to a remote support session: a technician will help you on this \
computer, seeing your screen only if you allow it.</p>\n<h2>What will happen</h2>\n<ol>\
<li>Download {product} below and start it.</li>\
<li>It connects to {org} and checks that it really is {org}.</li>\
<li>When your technician asks to see or control this computer, {product} asks you first. \
Nothing is shared until you allow it.</li>\
<li>You can stop at any moment: type <code>stop</code> and Enter, or press Ctrl-C.</li></ol>\n"
    );
    if details.agent_connected {
        body.push_str("<p><strong>The app is already connected for this session.</strong></p>\n");
    }
    match chosen {
        Some(build) => {
            let file = escape(&build.file_name(details.token));
            let _ = write!(
                body,
                "<p><a class=\"button\" href=\"/s/{token}/download/{}\" download=\"{file}\">\
Download {product} for {}</a> <span class=\"small\">{:.1} MB</span></p>\n<p>{}</p>\n",
                build.os.slug(),
                build.os.name(),
                build.size as f64 / 1_000_000.0,
                how_to_start(build, &file, details.generic_command.as_deref()),
            );
        }
        None if details.visitor == Visitor::Mobile => body.push_str(
            "<p>Open this link on the computer that needs help: the app does not run on \
phones or tablets.</p>\n",
        ),
        None => body.push_str(
            "<p>There is no download for this system here. Ask your technician how to \
start the app.</p>\n",
        ),
    }
    let others: Vec<String> = details
        .builds
        .iter()
        .filter(|b| Some(*b) != chosen)
        .map(|b| {
            format!(
                "<a href=\"/s/{token}/download/{}\">{}</a>",
                b.os.slug(),
                b.os.name()
            )
        })
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            body,
            "<p class=\"small\">For another system: {}</p>",
            others.join(" · ")
        );
    }
    let pin = details.pin;
    let spaced = if pin.len() == 9 && pin.is_ascii() {
        format!("{} {} {}", &pin[..3], &pin[3..6], &pin[6..])
    } else {
        pin.to_string()
    };
    let _ = write!(
        body,
        "<h2>Your PIN</h2>\n<p class=\"pin\">{}</p>\n<p>{product} finds your session by itself. \
If it asks for a PIN, type this one. Give it to nobody but your technician from {org}.</p>",
        escape(&spaced)
    );
    layout(
        look,
        &format!("Remote support from {}", look.organisation),
        &body,
    )
}

fn how_to_start(build: &Build, file: &str, generic: Option<&str>) -> String {
    let options = match (build.preset, generic) {
        (true, _) => String::new(),
        (false, Some(command)) => format!(" {}", escape(command)),
        (false, None) => " --gateway &lt;address from your technician&gt;".to_string(),
    };
    let then_pin = if build.preset {
        ""
    } else {
        " It asks for the PIN below."
    };
    match build.os {
        Os::Windows if options.is_empty() => {
            "Open the downloaded file. If Windows asks, allow it to run.".to_string()
        }
        Os::Windows => format!(
            "Open a command prompt in the folder you saved it to and run \
<code>{file}{options}</code>.{then_pin}"
        ),
        Os::Linux | Os::MacOs => format!(
            "Then open a terminal in the folder you saved it to and run \
<code>chmod +x {file} &amp;&amp; ./{file}{options}</code>.{then_pin}"
        ),
    }
}

/// The page of every link that does not lead to a live session.
pub fn not_valid(look: &Look) -> String {
    layout(
        look,
        "Link not valid",
        &format!(
            "<h1>This link is not valid</h1>\n<p>{}</p>",
            escape(super::NOT_VALID)
        ),
    )
}

/// The page when the gateway cannot answer.
pub fn unavailable(look: &Look) -> String {
    layout(
        look,
        "Try again",
        "<h1>Please try again</h1>\n<p>The support service cannot answer right now. \
Try again in a minute, or ask your technician.</p>",
    )
}

/// The page when no build exists for the system asked for.
pub fn no_build(look: &Look, token: &LinkToken) -> String {
    layout(
        look,
        "No download",
        &format!(
            "<h1>No download for this system</h1>\n<p>There is no build of {} for that \
system here. <a href=\"/s/{}\">Back to the link page</a>.</p>",
            escape(&look.product),
            escape(token.expose())
        ),
    )
}
