//! The real `sos-desk` binary against a fake gateway (HTTPS + QUIC on loopback, pinned
//! self-signed certificate): what a technician types and what they see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use support::{FakeGateway, PASSWORD, PIN, TOKEN};
use tokio::io::AsyncWriteExt;

struct Desk {
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            config: dir.path().join("conf").join("desk.json"),
            _dir: dir,
        }
    }

    fn dir(&self) -> &Path {
        self._dir.path()
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sos-desk"));
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("SOS_DESK_CONFIG")
            // No window system: `view` without --headless must say so.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("sos-desk finished in time")
            .unwrap()
    }

    async fn login(&self, gateway: &FakeGateway) {
        let out = self
            .run(
                &[
                    "login",
                    "--gateway",
                    &gateway.url,
                    "--email",
                    "ann@example.org",
                    "--password-stdin",
                    "--cert-sha256",
                    &gateway.fingerprint,
                ],
                Some(&format!("{PASSWORD}\n")),
            )
            .await;
        assert_success(&out);
        assert_eq!(stdout(&out), "Logged in as Ann Tech ann@example.org\n");
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

fn assert_no_secret(out: &Output) {
    for text in [stdout(out), stderr(out)] {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains(PASSWORD), "password leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keeps_a_private_config_and_refuses_a_wrong_certificate() {
    let gateway = FakeGateway::start().await;
    let desk = Desk::new();

    // A pin that does not match: refused before any password is sent.
    let wrong = "00".repeat(32);
    let out = desk
        .run(
            &[
                "login",
                "--gateway",
                &gateway.url,
                "--email",
                "a@b",
                "--password-stdin",
                "--cert-sha256",
                &wrong,
            ],
            Some("x\n"),
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
    assert!(!desk.config.exists());
    assert!(gateway.state.lock().unwrap().seen.is_empty());

    // Wrong password: the gateway's error text, exit 1.
    let out = desk
        .run(
            &[
                "login",
                "--gateway",
                &gateway.url,
                "--email",
                "a@b",
                "--password-stdin",
                "--cert-sha256",
                &gateway.fingerprint,
            ],
            Some("nope\n"),
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("wrong e-mail or password"),
        "{}",
        stderr(&out)
    );

    desk.login(&gateway).await;
    let text = std::fs::read_to_string(&desk.config).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["token"], TOKEN);
    assert_eq!(saved["gateway"], gateway.url.as_str());
    assert_eq!(saved["cert_sha256"], gateway.fingerprint.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&desk.config)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Logout: the gateway is told (it revokes the token) and the login file is gone.
    let out = desk.run(&["logout"], None).await;
    assert_success(&out);
    assert!(stdout(&out).contains("Logged out"), "{}", stdout(&out));
    assert!(!desk.config.exists());
    assert!(
        gateway
            .state
            .lock()
            .unwrap()
            .seen
            .iter()
            .any(|line| line.starts_with("POST /api/v1/logout")),
        "the gateway heard the logout"
    );

    // Not logged in: a clear message.
    let other = Desk::new();
    let out = other.run(&["session", "list"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("sos-desk login"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_created_listed_requested_and_closed() {
    let gateway = FakeGateway::start().await;
    let desk = Desk::new();
    desk.login(&gateway).await;

    let out = desk.run(&["session", "new", "--json"], None).await;
    assert_success(&out);
    let created: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(created["id"], "s1");
    assert_eq!(created["pin"], PIN);
    assert_eq!(created["status"], "pending");
    assert!(created["link"].as_str().unwrap().starts_with("https://"));

    let out = desk
        .run(&["session", "new", "--channel", "Support"], None)
        .await;
    assert_success(&out);
    assert!(
        stdout(&out).contains("PIN:     123 456 789"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("Session: s2"));

    let out = desk.run(&["session", "list"], None).await;
    assert_success(&out);
    let table = stdout(&out);
    assert!(
        table.starts_with("ID  STATUS   MACHINE  ASSIGNEE"),
        "{table}"
    );
    assert!(
        table.contains("s1  Pending  pc-01    ann@example.org  2023-11-14 22:13"),
        "{table}"
    );
    assert!(!table.contains("123"), "no PIN in the list");

    let out = desk.run(&["session", "show", "s1"], None).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains("Remote:  not requested"),
        "{}",
        stdout(&out)
    );

    let out = desk.run(&["session", "pin", "s1"], None).await;
    assert_eq!(stdout(&out), "123 456 789\n");
    let out = desk.run(&["session", "link", "s1"], None).await;
    assert_eq!(stdout(&out), "https://gw.example/j/s1\n");

    // Granted after a few polls.
    let out = desk
        .run(&["session", "request", "s1", "--wait", "10"], None)
        .await;
    assert_success(&out);
    assert_eq!(stdout(&out), "Granted (view and control)\n");

    // Denied: exit 1.
    {
        let mut state = gateway.state.lock().unwrap();
        state.answer = sos_transport::api::RemoteState::Denied;
        state.polls_before_answer = 1;
    }
    let out = desk
        .run(
            &["session", "request", "s2", "--view-only", "--wait", "10"],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "Denied by the end user\n");

    // No answer in time: exit 1 with a message saying what to do.
    gateway.state.lock().unwrap().polls_before_answer = 1_000;
    let out = desk
        .run(&["session", "request", "s2", "--wait", "1"], None)
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no answer from the end user"),
        "{}",
        stderr(&out)
    );

    // --wait 0 returns right after asking.
    let out = desk
        .run(&["session", "request", "s2", "--wait", "0"], None)
        .await;
    assert_success(&out);

    let out = desk.run(&["session", "close", "s1"], None).await;
    assert_success(&out);
    assert_eq!(stdout(&out), "Closed session s1\n");

    // Errors from the gateway are shown as they are.
    let out = desk.run(&["session", "show", "nope"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such session"), "{}", stderr(&out));

    // The token only ever travelled in the Authorization header.
    for line in &gateway.state.lock().unwrap().seen {
        let (request_line, _) = line.split_once(" | ").unwrap();
        assert!(!request_line.contains(TOKEN), "{line}");
    }
    assert_no_secret(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_view_records_a_playable_stream() {
    let gateway = FakeGateway::start().await;
    let desk = Desk::new();
    desk.login(&gateway).await;
    let record = desk.dir().join("out.h264");
    let stats = desk.dir().join("stats.json");
    let snapshot = desk.dir().join("last.ppm");
    let out = desk
        .run(
            &[
                "view",
                "s1",
                "--headless",
                "--frames",
                "10",
                "--record",
                record.to_str().unwrap(),
                "--stats",
                stats.to_str().unwrap(),
                "--snapshot",
                snapshot.to_str().unwrap(),
            ],
            None,
        )
        .await;
    assert_success(&out);
    assert_no_secret(&out);
    assert_eq!(
        stdout(&out),
        format!("Recorded 10 frames (320x240) to {}\n", record.display())
    );

    // The recording starts at the IDR (SPS NAL first), skipping the P-frames before it.
    let bytes = std::fs::read(&record).unwrap();
    assert_eq!(&bytes[..5], &[0, 0, 0, 1, 0x67], "starts with an SPS");
    let mut decoder = sos_codec::Decoder::new().unwrap();
    assert!(decoder.decode(&bytes).is_ok());

    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["frames"], 10);
    assert_eq!(stats["dropped"], 2);
    assert_eq!(stats["width"], 320);
    assert!(stats["bytes"].as_u64().unwrap() > 0);
    assert!(stats["first_frame_ms"].as_f64().unwrap() > 0.0);
    assert!(stats["latency_p95_ms"].as_f64().unwrap() >= stats["latency_p50_ms"].as_f64().unwrap());
    assert!(stats["fps"].as_f64().unwrap() > 0.0);
    assert!(
        stats["max_gap_ms"].as_f64().is_some(),
        "the longest freeze is reported"
    );

    let ppm = std::fs::read(&snapshot).unwrap();
    let header = b"P6\n320 240\n255\n";
    assert_eq!(&ppm[..header.len()], header);
    assert_eq!(ppm.len(), header.len() + 320 * 240 * 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_refusals_and_the_windowed_viewer() {
    let gateway = FakeGateway::start().await;
    let desk = Desk::new();
    desk.login(&gateway).await;

    let out = desk
        .run(&["view", "gone", "--headless", "--frames", "1"], None)
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no such live session"),
        "{}",
        stderr(&out)
    );

    // The window needs a display; without one the technician learns what to do instead.
    let out = desk.run(&["view", "s1"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("cannot open the viewer window"), "{text}");
    assert!(text.contains("--headless"), "{text}");
    let out = desk.run(&["view", "s1", "--frames", "3"], None).await;
    assert_eq!(out.status.code(), Some(2), "--frames needs --headless");

    let out = desk
        .run(
            &[
                "view",
                "s1",
                "--headless",
                "--frames",
                "1",
                "--snapshot",
                "x.png",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_reports_each_outcome() {
    let gateway = FakeGateway::start().await;
    let desk = Desk::new();
    desk.login(&gateway).await;

    let out = desk
        .run(
            &[
                "input", "s1", "--move", "10,20", "--click", "left", "--text", "hello", "--key",
                "Return",
            ],
            None,
        )
        .await;
    assert_success(&out);
    assert_eq!(
        stdout(&out),
        "move 10,20: applied\nclick left: applied\ntext (5 characters): applied\nkey Return: applied\n"
    );

    let out = desk.run(&["input", "viewonly", "--key", "a"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("Input dropped: the end user has not granted control"),
        "{}",
        stdout(&out)
    );

    let out = desk.run(&["input", "s1", "--move", "10;20"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("such as 10,20"), "{}", stderr(&out));
}
