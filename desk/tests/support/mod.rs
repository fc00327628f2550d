//! A fake gateway for driving the real `sos-desk` binary: HTTPS API on a blocking rustls
//! server (one thread per connection, `Connection: close`) and the QUIC port on the real
//! `sos_transport::endpoint::server`, both with a generated self-signed identity that the
//! CLI pins. It implements just enough of the API contract for the CLI's flows.

#![allow(dead_code)]

use sos_codec::{BgraFrame, Encoder, EncoderConfig, I420Picture, bgra_to_i420, synthetic};
use sos_transport::api::{
    GatewayInfo, LoginRequest, LoginResponse, PinView, RemoteRequest, RemoteState, SessionStatus,
    SessionView,
};
use sos_transport::framing::{read_message, write_frame, write_message};
use sos_transport::tls::ServerIdentity;
use sos_transport::wire::{
    DisplayInfo, FrameHeader, FromViewer, Hello, InputOutcome, Refusal, ToViewer, ViewerPurpose,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const TOKEN: &str = "tok-fake-1234567890";
pub const PASSWORD: &str = "correct horse";
pub const PIN: &str = "123456789";
pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 240;

/// What the fake API remembers.
#[derive(Debug)]
pub struct State {
    pub sessions: Vec<SessionView>,
    /// Polls of `GET /sessions/{id}` before a request is answered.
    pub polls_before_answer: u32,
    /// The answer the "end user" gives.
    pub answer: RemoteState,
    pub quic_port: u16,
    /// Every request line and authorization header seen, to check no secret leaks in URLs.
    pub seen: Vec<String>,
}

pub struct FakeGateway {
    pub url: String,
    pub fingerprint: String,
    pub state: Arc<Mutex<State>>,
    _dir: tempfile::TempDir,
    _quic: quinn::Endpoint,
}

impl FakeGateway {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let identity =
            ServerIdentity::load_or_generate(dir.path(), &["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let quic =
            sos_transport::endpoint::server("127.0.0.1:0".parse().unwrap(), &identity).unwrap();
        let quic_port = quic.local_addr().unwrap().port();
        tokio::spawn(serve_quic(quic.clone()));
        let state = Arc::new(Mutex::new(State {
            sessions: Vec::new(),
            polls_before_answer: 2,
            answer: RemoteState::Granted { control: true },
            quic_port,
            seen: Vec::new(),
        }));
        let addr = serve_https(&identity, state.clone());
        Self {
            url: format!("https://{addr}"),
            fingerprint: identity.fingerprint().to_string(),
            state,
            _dir: dir,
            _quic: quic,
        }
    }
}

// ---------------------------------------------------------------- HTTPS

fn serve_https(identity: &ServerIdentity, state: Arc<Mutex<State>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Arc::new(identity.server_config(&[b"http/1.1"]).unwrap());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let config = config.clone();
            let state = state.clone();
            std::thread::spawn(move || {
                let _ = handle_connection(tcp, config, &state);
            });
        }
    });
    addr
}

fn handle_connection(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut authorization = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (status, json) = {
        let mut state = state.lock().unwrap();
        state
            .seen
            .push(format!("{request_line} | {authorization:?}"));
        route(&mut state, &method, &path, authorization.as_deref(), &body)
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Other",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    tls.write_all(response.as_bytes())?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

fn error(status: u16, message: &str) -> (u16, String) {
    (status, serde_json::json!({ "error": message }).to_string())
}

fn ok<T: serde::Serialize>(status: u16, value: &T) -> (u16, String) {
    (status, serde_json::to_string(value).unwrap())
}

fn route(
    state: &mut State,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let segments: Vec<&str> = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (method, segments.as_slice()) {
        ("POST", ["login"]) => {
            let request: LoginRequest = serde_json::from_slice(body).unwrap();
            if request.password == PASSWORD {
                ok(
                    200,
                    &LoginResponse {
                        token: TOKEN.into(),
                        name: "Ann Tech".into(),
                        email: request.email,
                    },
                )
            } else {
                error(
                    401,
                    "wrong e-mail or password — check them or ask your admin",
                )
            }
        }
        ("GET", ["info"]) => ok(
            200,
            &GatewayInfo {
                quic_port: state.quic_port,
                organisation: "Fake Org".into(),
                version: "0.0.0".into(),
            },
        ),
        _ if authorization != Some(&format!("Bearer {TOKEN}")) => {
            error(401, "not signed in — run `sos-desk login` again")
        }
        ("POST", ["logout"]) => (204, String::new()),
        ("POST", ["sessions"]) => {
            let id = format!("s{}", state.sessions.len() + 1);
            let session = SessionView {
                id: id.clone(),
                status: SessionStatus::Pending,
                link: format!("https://gw.example/j/{id}"),
                pin: None,
                channel: "Support".into(),
                assignee: Some("ann@example.org".into()),
                invited: Vec::new(),
                private: false,
                machine_name: Some("pc-01".into()),
                agent_online: true,
                reconnecting: false,
                remote: RemoteState::NotRequested,
                created_at: 1_700_000_000,
                expires_at: None,
                actions: Vec::new(),
            };
            state.sessions.push(session.clone());
            let mut shown = session;
            shown.pin = Some(PIN.into());
            ok(201, &shown)
        }
        ("GET", ["sessions"] | ["sessions", ""]) => ok(200, &state.sessions),
        (_, ["sessions", id, rest @ ..]) => {
            let polls = &mut state.polls_before_answer;
            let answer = state.answer;
            let Some(session) = state.sessions.iter_mut().find(|s| s.id == *id) else {
                return error(
                    404,
                    "no such session — check the id with `sos-desk session list`",
                );
            };
            match (method, rest) {
                ("GET", []) => {
                    if session.remote == RemoteState::Requested {
                        if *polls == 0 {
                            session.remote = answer;
                        } else {
                            *polls -= 1;
                        }
                    }
                    ok(200, session)
                }
                ("POST", ["request"]) => {
                    let request: RemoteRequest = serde_json::from_slice(body).unwrap();
                    assert!(request.control || answer != RemoteState::Granted { control: true });
                    session.remote = RemoteState::Requested;
                    ok(200, session)
                }
                ("POST", ["close"]) => {
                    session.status = SessionStatus::Closed;
                    ok(200, session)
                }
                ("GET", ["pin"]) => ok(200, &PinView { pin: PIN.into() }),
                ("GET", ["link"]) => ok(
                    200,
                    &sos_transport::api::LinkView {
                        link: session.link.clone(),
                    },
                ),
                _ => error(404, "no such endpoint"),
            }
        }
        _ => error(404, "no such endpoint"),
    }
}

// ---------------------------------------------------------------- QUIC

async fn serve_quic(endpoint: quinn::Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            let Ok(connection) = incoming.await else {
                return;
            };
            let _ = serve_viewer(connection).await;
        });
    }
}

async fn serve_viewer(connection: quinn::Connection) -> Result<(), Box<dyn std::error::Error>> {
    let (mut send, mut recv) = connection.accept_bi().await?;
    let Some(Hello::Viewer(hello)) = read_message::<_, Hello>(&mut recv).await? else {
        return Ok(());
    };
    let refusal = if hello.token.expose() != TOKEN {
        Some(Refusal::Unauthorized)
    } else if hello.session_id == "gone" {
        Some(Refusal::SessionNotFound)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        write_message(&mut send, &ToViewer::Refused(refusal)).await?;
        let _ = send.finish();
        tokio::time::sleep(Duration::from_millis(200)).await;
        return Ok(());
    }
    let control = hello.session_id != "viewonly";
    write_message(
        &mut send,
        &ToViewer::Accepted {
            display: DisplayInfo {
                index: 0,
                width: WIDTH,
                height: HEIGHT,
                primary: true,
            },
            control,
        },
    )
    .await?;
    match hello.purpose {
        ViewerPurpose::Watch => stream_video(&connection).await,
        ViewerPurpose::Input => answer_input(&mut send, &mut recv, control).await,
    }
}

async fn stream_video(connection: &quinn::Connection) -> Result<(), Box<dyn std::error::Error>> {
    // As if the viewer joined a running stream: two P-frames, then the IDR the gateway
    // asked for when it attached the viewer.
    let frames = tokio::task::spawn_blocking(|| encode(40, &[3])).await?;
    for (mut header, data) in frames.into_iter().skip(1) {
        header.capture_micros = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros() as u64;
        let mut stream = connection.open_uni().await?;
        write_frame(&mut stream, &header, &data).await?;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    connection.closed().await;
    Ok(())
}

async fn answer_input(
    send: &mut quinn::SendStream,
    recv: &mut quinn::RecvStream,
    control: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    while let Some(FromViewer::Input { seq, .. }) = read_message::<_, FromViewer>(recv).await? {
        let outcome = if control {
            InputOutcome::Applied
        } else {
            InputOutcome::NoControl
        };
        write_message(send, &ToViewer::InputResult { seq, outcome }).await?;
    }
    Ok(())
}

/// Encodes `count` synthetic desktops (frames in `keyframes` forced to IDR).
pub fn encode(count: u64, keyframes: &[u64]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
    let mut i420 = I420Picture::new(WIDTH, HEIGHT);
    (0..count)
        .map(|seq| {
            let picture = synthetic::desktop(WIDTH, HEIGHT, seq as u32);
            let frame = BgraFrame {
                width: WIDTH,
                height: HEIGHT,
                stride: WIDTH as usize * 4,
                data: &picture,
            };
            bgra_to_i420(&frame, &mut i420).unwrap();
            let encoded = encoder.encode(&i420, keyframes.contains(&seq)).unwrap();
            let capture_micros = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_micros() as u64;
            let header = FrameHeader {
                seq,
                keyframe: encoded.keyframe,
                width: WIDTH,
                height: HEIGHT,
                capture_micros,
            };
            (header, encoded.data)
        })
        .collect()
}
