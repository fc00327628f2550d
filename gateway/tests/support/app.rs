//! A stand-in for the end user's app over real QUIC, against the gateway's relay in
//! process.

use super::Gw;
use sos_transport::endpoint;
use sos_transport::framing::{read_message, write_message};
use sos_transport::tls::ServerIdentity;
use sos_transport::wire::{AgentHello, DisplayInfo, Hello, Resume, ToAgent};
use sos_transport::{Pin, Secret, Trust};
use std::time::Duration;

/// The gateway's QUIC relay on a loopback port, serving `gw`'s desk.
pub struct Relay {
    pub address: String,
    pub trust: Trust,
    _identity: tempfile::TempDir,
}

impl Relay {
    pub fn start(gw: &Gw) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let identity = ServerIdentity::load_or_generate(dir.path(), &["localhost".into()]).unwrap();
        let trust = Trust::Pinned(vec![identity.fingerprint()]);
        let server = endpoint::server("127.0.0.1:0".parse().unwrap(), &identity).unwrap();
        let address = server.local_addr().unwrap().to_string();
        tokio::spawn(sos_gateway::relay::run(gw.desk.clone(), server));
        Self {
            address,
            trust,
            _identity: dir,
        }
    }
}

/// A stand-in for the end user's app on one QUIC connection.
pub struct App {
    _endpoint: quinn::Endpoint,
    pub connection: quinn::Connection,
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
}

impl App {
    pub async fn connect(address: &str, trust: &Trust, pin: &str, resume: Option<Resume>) -> Self {
        let (endpoint, connection) = endpoint::connect(address, trust).await.unwrap();
        let (mut send, recv) = connection.open_bi().await.unwrap();
        let hello = Hello::Agent(AgentHello {
            pin: Pin::parse(pin).unwrap(),
            machine_name: "pc-01".into(),
            os: "Linux".into(),
            version: "test".into(),
            displays: vec![DisplayInfo {
                index: 0,
                width: 1280,
                height: 720,
                primary: true,
            }],
            monitors: Vec::new(),
            link: None,
            resume,
        });
        write_message(&mut send, &hello).await.unwrap();
        Self {
            _endpoint: endpoint,
            connection,
            send,
            recv,
        }
    }

    pub async fn next(&mut self) -> ToAgent {
        tokio::time::timeout(Duration::from_secs(10), read_message(&mut self.recv))
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("a message")
    }

    /// Reads the registration: the ticket to come back with, and whether the grant stood.
    pub async fn registered(&mut self) -> (Secret<String>, bool) {
        match self.next().await {
            ToAgent::Registered {
                resume: Some(offer),
                resumed,
                ..
            } => {
                assert_eq!(offer.window_secs, 60, "the default window");
                assert_eq!(offer.ticket.expose().len(), 64, "256 bits, hex");
                (offer.ticket, resumed)
            }
            other => panic!("expected the registration first, got {other:?}"),
        }
    }
}
