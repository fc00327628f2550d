//! The whole agent against a scripted gateway over real QUIC on 127.0.0.1, with a fake screen
//! and a fake keyboard and mouse.

use crate::console::Command;
use crate::input::Action;
use crate::notice::{Console, Notice};
use crate::pipeline::PipelineConfig;
use crate::platform::fake::FakePlatform;
use crate::session::{Finish, SessionConfig};
use crate::{AgentConfig, JoinError, Report};
use sos_transport::framing::{read_frame, read_message, write_message};
use sos_transport::tls::ServerIdentity;
use sos_transport::wire::*;
use sos_transport::{CertFingerprint, Pin, Trust, endpoint};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

struct ChannelConsole(mpsc::UnboundedSender<Notice>);

impl Console for ChannelConsole {
    fn show(&mut self, notice: &Notice) {
        let _ = self.0.send(notice.clone());
    }
}

struct Gateway {
    endpoint: quinn::Endpoint,
    fingerprint: CertFingerprint,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let identity = ServerIdentity::load_or_generate(dir.path(), &["localhost".into()]).unwrap();
        let endpoint = endpoint::server("127.0.0.1:0".parse().unwrap(), &identity).unwrap();
        Self {
            endpoint,
            fingerprint: identity.fingerprint(),
            _dir: dir,
        }
    }

    fn address(&self) -> String {
        self.endpoint.local_addr().unwrap().to_string()
    }

    /// Accepts the agent and reads its hello.
    async fn accept(
        &self,
    ) -> (
        quinn::Connection,
        quinn::SendStream,
        quinn::RecvStream,
        AgentHello,
    ) {
        let connection = self.endpoint.accept().await.unwrap().await.unwrap();
        let (send, mut recv) = connection.accept_bi().await.unwrap();
        let Some(Hello::Agent(hello)) = read_message(&mut recv).await.unwrap() else {
            panic!("expected an agent hello");
        };
        (connection, send, recv, hello)
    }
}

struct Agent {
    notices: mpsc::UnboundedReceiver<Notice>,
    commands: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<Result<Report, JoinError>>,
}

impl Agent {
    fn start(gateway: &Gateway, pin: CertFingerprint, platform: &FakePlatform) -> Self {
        let (notices_tx, notices) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::channel(4);
        let config = AgentConfig {
            gateway: gateway.address(),
            trust: Trust::Pinned(vec![pin]),
            pin: Pin::parse("123-456-789").unwrap(),
            link: None,
            machine_name: "pc-01".into(),
            os: "Test OS".into(),
            session: SessionConfig {
                consent_timeout: Duration::from_secs(30),
            },
            pipeline: PipelineConfig {
                max_fps: 60.0,
                target_bitrate_bps: None,
                monitor: None,
                encoder_threads: None,
            },
            rate_control: crate::rate::RateControl::default(),
            held_key_limit: crate::injector::HELD_LIMIT,
            shield: crate::shield::Shield::default(),
            reconnect_for: Duration::ZERO,
        };
        let platform = Arc::new(platform.clone());
        let task = tokio::spawn(async move {
            let mut console = ChannelConsole(notices_tx);
            let mut commands_rx = commands_rx;
            crate::run(config, platform, &mut console, &mut commands_rx).await
        });
        Self {
            notices,
            commands,
            task,
        }
    }

    async fn wait_for(&mut self, wanted: impl Fn(&Notice) -> bool) -> Notice {
        loop {
            let notice = timeout(WAIT, self.notices.recv()).await.unwrap().unwrap();
            if wanted(&notice) {
                return notice;
            }
        }
    }

    async fn type_line(&self, line: &str) {
        self.commands
            .send(Command::Line(line.into()))
            .await
            .unwrap();
    }

    async fn report(self) -> Result<Report, JoinError> {
        timeout(WAIT, self.task).await.unwrap().unwrap()
    }
}

async fn next<T: serde::de::DeserializeOwned>(recv: &mut quinn::RecvStream) -> T {
    timeout(WAIT, read_message(recv))
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

fn request(control: bool) -> ToAgent {
    ToAgent::ConsentRequest {
        request_id: 1,
        technician: "Ann".into(),
        organisation: "Acme".into(),
        control,
    }
}

/// Registers the agent in `session` and has the end user allow control.
async fn grant_control(
    agent: &mut Agent,
    send: &mut quinn::SendStream,
    recv: &mut quinn::RecvStream,
    session: &str,
) {
    let registered = ToAgent::Registered {
        session_id: session.into(),
        organisation: "Acme".into(),
        resume: None,
        resumed: false,
    };
    write_message(send, &registered).await.unwrap();
    write_message(send, &request(true)).await.unwrap();
    agent
        .wait_for(|n| matches!(n, Notice::ConsentPrompt { .. }))
        .await;
    agent.type_line("y").await;
    let _grant: FromAgent = next(recv).await;
}

fn input(seq: u64, event: InputEvent) -> ToAgent {
    ToAgent::Input {
        viewer: 4,
        seq,
        event,
    }
}

#[tokio::test]
async fn consent_then_frames_and_input_then_the_technician_ends_it() {
    let gateway = Gateway::start();
    let platform = FakePlatform::new(64, 48);
    let mut agent = Agent::start(&gateway, gateway.fingerprint, &platform);
    let (connection, mut send, mut recv, hello) = gateway.accept().await;
    assert_eq!(hello.pin.expose(), "123456789");
    assert_eq!(hello.machine_name, "pc-01");
    assert_eq!(
        (hello.displays[0].width, hello.displays[0].height),
        (64, 48)
    );
    agent.wait_for(|n| *n == Notice::Verified).await;
    write_message(
        &mut send,
        &ToAgent::Registered {
            session_id: "s1".into(),
            organisation: "Acme".into(),
            resume: None,
            resumed: false,
        },
    )
    .await
    .unwrap();
    agent.wait_for(|n| *n == Notice::Waiting).await;

    // Asking for the stream and for input before consent gets nothing.
    write_message(&mut send, &ToAgent::StartStream)
        .await
        .unwrap();
    write_message(&mut send, &input(1, InputEvent::MouseMove { x: 1, y: 1 }))
        .await
        .unwrap();
    let refused: FromAgent = next(&mut recv).await;
    assert_eq!(
        refused,
        FromAgent::InputResult {
            viewer: 4,
            seq: 1,
            outcome: InputOutcome::NoControl
        }
    );
    write_message(&mut send, &request(true)).await.unwrap();
    agent
        .wait_for(|n| matches!(n, Notice::ConsentPrompt { .. }))
        .await;
    let early = timeout(Duration::from_millis(200), connection.accept_uni()).await;
    assert!(early.is_err(), "no frame stream before the answer");

    agent.type_line("y").await;
    let reply: FromAgent = next(&mut recv).await;
    assert_eq!(
        reply,
        FromAgent::ConsentReply {
            request_id: 1,
            decision: ConsentDecision::Grant { control: true }
        }
    );
    let mut frame_stream = timeout(WAIT, connection.accept_uni())
        .await
        .unwrap()
        .unwrap();
    let (header, payload) = read_frame(&mut frame_stream).await.unwrap();
    assert!(header.keyframe);
    assert_eq!((header.width, header.height), (64, 48));
    assert!(
        sos_codec::Decoder::new()
            .unwrap()
            .decode(&payload)
            .unwrap()
            .is_some()
    );

    write_message(&mut send, &input(2, InputEvent::MouseMove { x: 10, y: 20 }))
        .await
        .unwrap();
    write_message(
        &mut send,
        &input(
            3,
            InputEvent::Key {
                name: "NoSuchKey".into(),
                press: Press::Click,
            },
        ),
    )
    .await
    .unwrap();
    let mut outcomes = vec![next::<FromAgent>(&mut recv).await, next(&mut recv).await];
    outcomes.sort_by_key(|m| match m {
        FromAgent::InputResult { seq, .. } => *seq,
        _ => 0,
    });
    assert_eq!(
        outcomes,
        vec![
            FromAgent::InputResult {
                viewer: 4,
                seq: 2,
                outcome: InputOutcome::Applied
            },
            FromAgent::InputResult {
                viewer: 4,
                seq: 3,
                outcome: InputOutcome::Invalid
            },
        ]
    );
    assert_eq!(platform.actions(), vec![Action::MoveTo { x: 10, y: 20 }]);

    write_message(&mut send, &ToAgent::End(EndReason::ClosedByTechnician))
        .await
        .unwrap();
    agent
        .wait_for(|n| *n == Notice::Ended(EndReason::ClosedByTechnician))
        .await;
    let report = agent.report().await.unwrap();
    assert_eq!(report.finish, Finish::Ended(EndReason::ClosedByTechnician));
    assert!(report.stats.frames_sent() >= 1);
}

#[tokio::test]
async fn the_end_user_stops_and_the_gateway_hears_it() {
    let gateway = Gateway::start();
    let platform = FakePlatform::new(32, 32);
    let mut agent = Agent::start(&gateway, gateway.fingerprint, &platform);
    let (connection, mut send, mut recv, _) = gateway.accept().await;
    write_message(
        &mut send,
        &ToAgent::Registered {
            session_id: "s2".into(),
            organisation: "Acme".into(),
            resume: None,
            resumed: false,
        },
    )
    .await
    .unwrap();
    write_message(&mut send, &request(false)).await.unwrap();
    agent
        .wait_for(|n| matches!(n, Notice::ConsentPrompt { .. }))
        .await;
    agent.commands.send(Command::Stop).await.unwrap();
    let reply: FromAgent = next(&mut recv).await;
    assert_eq!(
        reply,
        FromAgent::ConsentReply {
            request_id: 1,
            decision: ConsentDecision::Deny
        }
    );
    assert_eq!(next::<FromAgent>(&mut recv).await, FromAgent::Stopped);
    agent.wait_for(|n| *n == Notice::StoppedByUser).await;
    let report = agent.report().await.unwrap();
    assert_eq!(report.finish, Finish::Stopped);
    let closed = timeout(WAIT, connection.closed()).await.unwrap();
    assert!(
        matches!(closed, quinn::ConnectionError::ApplicationClosed(ref c) if c.error_code == close_code::NORMAL.into()),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_refused_pin_is_reported() {
    let gateway = Gateway::start();
    let agent = Agent::start(&gateway, gateway.fingerprint, &FakePlatform::new(32, 32));
    let (_connection, mut send, _recv, _) = gateway.accept().await;
    write_message(&mut send, &ToAgent::Refused(Refusal::PinNotAccepted))
        .await
        .unwrap();
    assert_eq!(
        agent.report().await.unwrap_err(),
        JoinError::Refused(Refusal::PinNotAccepted)
    );
}

#[tokio::test]
async fn a_gateway_with_another_certificate_is_never_talked_to() {
    let gateway = Gateway::start();
    let wrong = CertFingerprint::of(b"some other certificate");
    let agent = Agent::start(&gateway, wrong, &FakePlatform::new(32, 32));
    let accepted = tokio::spawn(async move {
        let incoming = gateway.endpoint.accept().await.unwrap();
        incoming.await.is_ok()
    });
    let error = agent.report().await.unwrap_err();
    assert!(matches!(error, JoinError::Untrusted { .. }), "{error:?}");
    assert!(!timeout(WAIT, accepted).await.unwrap().unwrap());
}

#[tokio::test]
async fn a_viewer_leaving_releases_its_keys_and_its_late_input_is_refused() {
    let gateway = Gateway::start();
    let platform = FakePlatform::new(32, 32);
    let mut agent = Agent::start(&gateway, gateway.fingerprint, &platform);
    let (_connection, mut send, mut recv, _) = gateway.accept().await;
    grant_control(&mut agent, &mut send, &mut recv, "s3").await;
    let hold = InputEvent::KeyStroke {
        code: "ControlLeft".into(),
        text: String::new(),
        press: Press::Down,
    };
    write_message(&mut send, &input(1, hold)).await.unwrap();
    let applied: FromAgent = next(&mut recv).await;
    assert!(matches!(
        applied,
        FromAgent::InputResult {
            outcome: InputOutcome::Applied,
            ..
        }
    ));
    write_message(&mut send, &ToAgent::ViewerLeft { viewer: 4 })
        .await
        .unwrap();
    write_message(&mut send, &input(2, InputEvent::MouseMove { x: 1, y: 1 }))
        .await
        .unwrap();
    let refused: FromAgent = next(&mut recv).await;
    assert_eq!(
        refused,
        FromAgent::InputResult {
            viewer: 4,
            seq: 2,
            outcome: InputOutcome::NoControl
        }
    );
    let released = Action::Key {
        key: enigo::Key::Control,
        direction: enigo::Direction::Release,
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !platform.actions().contains(&released) {
        assert!(std::time::Instant::now() < deadline, "Ctrl never released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!platform.actions().contains(&Action::MoveTo { x: 1, y: 1 }));
}

#[tokio::test]
async fn sharing_another_monitor_moves_the_pointer_mapping_with_it() {
    let gateway = Gateway::start();
    let mut platform = FakePlatform::new(32, 32);
    let monitor = |index: u32, x: i32| MonitorInfo {
        index,
        x,
        y: 0,
        width: 16,
        height: 32,
        primary: index == 0,
    };
    platform.monitors = crate::platform::Monitors {
        list: vec![monitor(0, 0), monitor(1, 16)],
        shared: Some(0),
        system_order: vec![0, 1],
    };
    let mut agent = Agent::start(&gateway, gateway.fingerprint, &platform);
    let (_connection, mut send, mut recv, hello) = gateway.accept().await;
    assert_eq!(hello.monitors.len(), 2, "the agent lists its monitors");
    grant_control(&mut agent, &mut send, &mut recv, "s4").await;

    write_message(&mut send, &ToAgent::ShareMonitor { monitor: 1 })
        .await
        .unwrap();
    let second = DisplayInfo {
        index: 1,
        width: 16,
        height: 32,
        primary: false,
    };
    let sharing: FromAgent = next(&mut recv).await;
    assert_eq!(sharing, FromAgent::Sharing { display: second });
    write_message(&mut send, &ToAgent::ShareMonitor { monitor: 7 })
        .await
        .unwrap();
    let unchanged: FromAgent = next(&mut recv).await;
    assert_eq!(
        unchanged,
        FromAgent::Sharing { display: second },
        "an unknown monitor leaves the sharing as it was"
    );

    // Positions in the picture now land on the second monitor.
    write_message(&mut send, &input(1, InputEvent::MouseMove { x: 2, y: 3 }))
        .await
        .unwrap();
    let applied: FromAgent = next(&mut recv).await;
    assert!(matches!(
        applied,
        FromAgent::InputResult {
            outcome: InputOutcome::Applied,
            ..
        }
    ));
    assert!(
        platform.actions().contains(&Action::MoveTo { x: 18, y: 3 }),
        "{:?}",
        platform.actions()
    );
}
