//! The link page, the downloads and the PIN lookup through the whole API router, over a
//! real SQLite store in a temporary data folder and a clock the test moves.

use super::*;
use crate::domain::secrets::{Keys, new_token};
use crate::service::ManualClock;
use crate::service::admin::create_user;
use crate::store::{Store, User};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use sos_branding::download::{TOKEN_CHARS, token_in_file_name};
use tower::ServiceExt;

const T0: i64 = 1_800_000_000;
const LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";
const WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";

struct Gw {
    _data: tempfile::TempDir,
    data: std::path::PathBuf,
    desk: Arc<Desk>,
    clock: Arc<ManualClock>,
    user: User,
}

impl Gw {
    fn new(organisation: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_path_buf();
        let clock = Arc::new(ManualClock::new(T0));
        let desk = Arc::new(
            Desk::new(
                Store::open(&data).unwrap(),
                Keys::from_master(&[5; 32]),
                clock.clone(),
                "https://gw.example:8443".into(),
                organisation.into(),
                8444,
                Vec::new(),
            )
            .unwrap(),
        );
        let user =
            create_user(&desk, "tina@example.com", "Tina", "technician", "pw-123456").unwrap();
        Self {
            _data: dir,
            data,
            desk,
            clock,
            user,
        }
    }

    /// A new session: (id, token, PIN).
    fn session(&self) -> (String, String, String) {
        let view = self.desk.new_session(&self.user, None).unwrap();
        let token = view.link.rsplit('/').next().unwrap().to_string();
        (view.id, token, view.pin.unwrap())
    }

    fn put_build(&self, os: &str, name: &str, bytes: &[u8]) {
        let folder = self.data.join("downloads").join(os);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), bytes).unwrap();
    }

    async fn get(&self, path: &str, agent: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let request = Request::get(path)
            .header("user-agent", agent)
            .body(Body::empty())
            .unwrap();
        let response = crate::api::router(self.desk.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    async fn page(&self, path: &str, agent: &str) -> (StatusCode, String) {
        let (status, headers, body) = self.get(path, agent).await;
        if status != StatusCode::OK || path.ends_with(".json") {
            return (status, String::from_utf8(body).unwrap());
        }
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        (status, String::from_utf8(body).unwrap())
    }
}

#[tokio::test]
async fn the_link_page_shows_who_what_the_pin_and_the_right_download() {
    let gw = Gw::new("Example <Support>");
    gw.put_build("linux", "acme-support", b"linux build");
    gw.put_build("windows", "acme-support.exe", b"windows build");
    let (_, token, pin) = gw.session();
    let (status, page) = gw.page(&format!("/s/{token}"), LINUX).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Example &lt;Support&gt;"), "escaped: {page}");
    assert!(!page.contains("<Support>"));
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(page.contains("What will happen"));
    assert!(page.contains(&format!("{} {} {}", &pin[..3], &pin[3..6], &pin[6..])));
    assert!(page.contains(&format!("href=\"/s/{token}/download/linux\"")));
    assert!(page.contains("Download sosdesk for Linux"));
    assert!(page.contains(&format!("./acme-support_{token}")));
    assert!(page.contains(&format!("/s/{token}/download/windows\">Windows</a>")));

    let (_, windows) = gw.page(&format!("/s/{token}"), WINDOWS).await;
    assert!(windows.contains("Download sosdesk for Windows"));
    assert!(windows.contains("Open the downloaded file"));
    let (_, phone) = gw.page(&format!("/s/{token}"), PHONE).await;
    assert!(phone.contains("Open this link on the computer that needs help"));
    assert!(phone.contains(&format!("{} {}", &pin[..3], &pin[3..6])));
}

#[tokio::test]
async fn the_download_carries_the_token_in_its_name() {
    let gw = Gw::new("Example Support");
    gw.put_build("linux", "acme-support", b"linux build bytes");
    let (_, token, _) = gw.session();
    let (status, headers, body) = gw.get(&format!("/s/{token}/download/linux"), LINUX).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"linux build bytes");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"acme-support_{token}\"")
    );
    let name = disposition.split('"').nth(1).unwrap();
    assert_eq!(token_in_file_name(name).unwrap().expose(), token);
    assert_eq!(headers[header::CONTENT_LENGTH], "17");
    let (status, page) = gw.page(&format!("/s/{token}/download/macos"), LINUX).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("No download for this system"));
}

#[tokio::test]
async fn the_pin_is_found_from_the_token() {
    let gw = Gw::new("Example Support");
    let (_, token, pin) = gw.session();
    let (status, body) = gw.page(&format!("/s/{token}/pin.json"), "sos").await;
    assert_eq!(status, StatusCode::OK);
    let view: PinView = serde_json::from_str(&body).unwrap();
    assert_eq!(view.pin, pin);
}

#[tokio::test]
async fn unknown_closed_expired_and_deleted_links_look_the_same() {
    let gw = Gw::new("Example Support");
    let (closed_id, closed, _) = gw.session();
    gw.desk.close(&gw.user, &closed_id).unwrap();
    let (deleted_id, deleted, _) = gw.session();
    gw.desk.delete(&gw.user, &deleted_id).unwrap();
    let (_, expired, _) = gw.session();
    gw.clock.advance(86_400 + 1);
    let (_, live, _) = gw.session();
    let unknown = new_token::<18>().unwrap();
    let malformed = "not-a-token".to_string();

    let mut answers = Vec::new();
    for token in [&unknown, &malformed, &closed, &deleted, &expired] {
        let started = std::time::Instant::now();
        let page = gw.page(&format!("/s/{token}"), LINUX).await;
        assert!(started.elapsed() >= NOT_VALID_FLOOR, "{token}");
        let json = gw.page(&format!("/s/{token}/pin.json"), "sos").await;
        let download = gw.page(&format!("/s/{token}/download/linux"), LINUX).await;
        answers.push((page, json, download));
    }
    assert_eq!(answers[0].0.0, StatusCode::NOT_FOUND);
    assert!(answers[0].0.1.contains("not valid any more"));
    assert!(answers[0].1.1.contains("not valid any more"));
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    // Reading the links changed nothing: the live one still works.
    assert_eq!(
        gw.page(&format!("/s/{live}"), LINUX).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_generic_build_page_tells_the_gateway_options() {
    let gw = Gw::new("Example Support");
    let identity =
        sos_transport::tls::ServerIdentity::load_or_generate(&gw.data, &["localhost".to_string()])
            .unwrap();
    let (_, token, _) = gw.session();
    let build = Build {
        os: Os::Linux,
        path: gw.data.join("sos"),
        stem: "sos".into(),
        preset: false,
        size: 1_000_000,
    };
    let details = page::Details {
        token: &LinkToken::parse(&token).unwrap(),
        pin: "123456789",
        visitor: Visitor::Desktop(Os::Linux),
        builds: &[build],
        generic_command: page::generic_command(&gw.desk),
        agent_connected: false,
    };
    let html = page::live(&page::Look::of(&gw.desk), &details);
    let expected = format!(
        "./sos_{token} --gateway gw.example:8444 --cert-sha256 {}",
        identity.fingerprint()
    );
    assert!(html.contains(&expected), "{html}");
    assert!(html.contains("It asks for the PIN below."));
}

#[test]
fn tokens_of_new_sessions_fit_the_file_name_format() {
    for _ in 0..100 {
        let token = new_token::<18>().unwrap();
        assert_eq!(token.len(), TOKEN_CHARS);
        assert!(LinkToken::parse(&token).is_some());
        assert!(token_in_file_name(&format!("sos_{token} (1)")).is_some());
    }
}

#[test]
fn visitors_are_told_apart() {
    assert_eq!(Visitor::of_user_agent(LINUX), Visitor::Desktop(Os::Linux));
    assert_eq!(
        Visitor::of_user_agent(WINDOWS),
        Visitor::Desktop(Os::Windows)
    );
    assert_eq!(Visitor::of_user_agent(PHONE), Visitor::Mobile);
    assert_eq!(
        Visitor::of_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)"),
        Visitor::Desktop(Os::MacOs)
    );
    assert_eq!(Visitor::of_user_agent("curl/8"), Visitor::Unknown);
    assert_eq!(
        page::escape("<a href='x'>&\""),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
    );
}

#[tokio::test]
async fn signing_keeps_a_key_and_dresses_the_link_page() {
    let gw = Gw::new("Example Support");
    let folder = tempfile::tempdir().unwrap();
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x40\x00\x00\x00\x40\x08\x06\x00\x00\x00\x00\x00\x00\x00";
    std::fs::write(folder.path().join("logo.png"), png).unwrap();
    let toml = folder.path().join("acme.toml");
    let pin = branding::key_pin(&gw.data).unwrap();
    std::fs::write(
        &toml,
        format!(
            "product_name = \"Acme Support\"\norganisation = \"Acme Corp IT\"\n\
             support_url = \"https://help.acme.example\"\nlogo = \"logo.png\"\n\
             [colours]\nprimary = \"#aa0000\"\n[gateway]\nurl = \"https://gw.example:8443\"\n\
             quic = \"gw.example:8444\"\nkey_pins = {{ primary = \"{pin}\", backup = \"{}\" }}\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let first = branding::sign(&gw.data, &toml).unwrap();
    assert!(first.key_created);
    assert_eq!(first.gateway_pin, Some(pin));
    let second = branding::sign(&gw.data, &toml).unwrap();
    assert!(!second.key_created);
    assert_eq!(first.public_key, second.public_key, "the key is kept");
    let loaded = sos_branding::load(&toml).unwrap();
    assert!(sos_branding::SignatureFile::check(&toml, &loaded.payload).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(gw.data.join(branding::KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (_, token, _) = gw.session();
    let (_, page) = gw.page(&format!("/s/{token}"), LINUX).await;
    assert!(page.contains("Remote support from Acme Corp IT"), "{page}");
    assert!(page.contains("color:#aa0000"));
    assert!(page.contains("src=\"data:image/png;base64,"));
    assert!(page.contains("https://help.acme.example"));
}
