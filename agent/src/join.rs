//! Joining a support session: connect to the gateway, prove nothing but the PIN, register.
//!
//! Contract: fails closed — the connection is made only with `Trust::Pinned` or
//! `Trust::SystemRoots` verification, never unverified or in plaintext. The PIN travels only
//! inside the verified connection and is never logged (it is a redacting [`Pin`]). Every
//! error says what happened and what the end user can do.

use crate::notice::{Console, Notice, sanitize};
use sos_transport::endpoint::{self, EndpointError};
use sos_transport::framing::{self, WireError};
use sos_transport::wire::{
    AgentHello, DisplayInfo, Hello, MonitorInfo, Refusal, Resume, ResumeOffer, ToAgent,
};
use sos_transport::{Pin, Secret, Trust};
use std::time::Duration;

/// Longest wait for the gateway's answer to the registration.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Why joining failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The address does not resolve.
    #[error("Cannot find the gateway at {address} — check the address")]
    Resolve {
        /// Address as given.
        address: String,
    },
    /// Nothing answered, or the handshake failed for a network reason.
    #[error("Cannot reach the gateway at {address} — check the address or your network ({detail})")]
    Unreachable {
        /// Address as given.
        address: String,
        /// What the connection attempt reported.
        detail: String,
    },
    /// The gateway's certificate is not the expected one.
    #[error(
        "The gateway at {address} did not prove its identity, so this app did not connect — \
         check the link or ask your technician for a new one ({detail})"
    )]
    Untrusted {
        /// Address as given.
        address: String,
        /// What the verification reported.
        detail: String,
    },
    /// A secure connection could not even be prepared.
    #[error("Cannot prepare a secure connection: {0}")]
    Setup(String),
    /// The gateway refused the PIN (or rate-limited this network).
    #[error("{0}")]
    Refused(Refusal),
    /// The gateway sent something other than a registration answer.
    #[error(
        "The gateway answered something unexpected ({0}) — ask your technician whether this \
         app is up to date"
    )]
    Protocol(String),
    /// The connection dropped before the answer.
    #[error("The connection to the gateway dropped during registration ({0}) — try again")]
    Lost(String),
    /// No answer in time.
    #[error("The gateway did not answer the registration in time — try again in a moment")]
    NoAnswer,
}

/// What the end user's machine tells the gateway when registering.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// Gateway `host:port`.
    pub gateway: String,
    /// How to verify the gateway.
    pub trust: Trust,
    /// The session PIN.
    pub pin: Pin,
    /// Name shown to the technician.
    pub machine_name: String,
    /// Operating system description.
    pub os: String,
    /// Screens that can be shared.
    pub displays: Vec<DisplayInfo>,
    /// Monitors of the shared screen, left to right.
    pub monitors: Vec<MonitorInfo>,
    /// The session link's token, when the app knows it.
    pub link: Option<Secret<String>>,
    /// The ticket to come back with after a lost connection.
    pub resume: Option<Resume>,
}

/// A registered connection.
#[derive(Debug)]
pub struct Joined {
    /// The client endpoint (kept to let the close reach the gateway).
    pub endpoint: quinn::Endpoint,
    /// The verified connection.
    pub connection: quinn::Connection,
    /// Control stream, agent to gateway.
    pub send: quinn::SendStream,
    /// Control stream, gateway to agent.
    pub recv: quinn::RecvStream,
    /// Session id given by the gateway.
    pub session_id: String,
    /// Organisation running the gateway.
    pub organisation: String,
    /// The ticket to come back with if this connection is lost.
    pub resume: Option<ResumeOffer>,
    /// The comeback kept the end user's grant.
    pub resumed: bool,
}

/// Connects, verifies and registers, telling the end user what happens on `console`.
pub async fn join(
    registration: Registration,
    console: &mut dyn Console,
) -> Result<Joined, JoinError> {
    let address = registration.gateway.clone();
    console.show(&Notice::Connecting {
        address: address.clone(),
    });
    let (endpoint, connection) = endpoint::connect(&address, &registration.trust)
        .await
        .map_err(|e| connect_error(&address, e))?;
    console.show(&Notice::Verified);
    let lost = |e: quinn::ConnectionError| JoinError::Lost(e.to_string());
    let (mut send, mut recv) = connection.open_bi().await.map_err(lost)?;
    let hello = Hello::Agent(AgentHello {
        pin: registration.pin,
        machine_name: registration.machine_name,
        os: registration.os,
        version: env!("CARGO_PKG_VERSION").to_string(),
        displays: registration.displays,
        monitors: registration.monitors,
        link: registration.link,
        resume: registration.resume,
    });
    framing::write_message(&mut send, &hello)
        .await
        .map_err(|e| JoinError::Lost(e.to_string()))?;
    let answer = tokio::time::timeout(REGISTRATION_TIMEOUT, framing::read_message(&mut recv))
        .await
        .map_err(|_| JoinError::NoAnswer)?;
    match answer {
        Ok(Some(ToAgent::Registered {
            session_id,
            organisation,
            resume,
            resumed,
        })) => {
            let organisation = sanitize(&organisation);
            tracing::info!(%session_id, "registered");
            endpoint::discard_ack_carriers(&connection);
            console.show(&Notice::Registered {
                organisation: organisation.clone(),
            });
            Ok(Joined {
                endpoint,
                connection,
                send,
                recv,
                session_id,
                organisation,
                resume,
                resumed,
            })
        }
        Ok(Some(ToAgent::Refused(refusal))) => {
            connection.close(sos_transport::wire::close_code::NORMAL.into(), b"refused");
            // Let the close reach the gateway rather than leaving it to time out.
            let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
            Err(JoinError::Refused(refusal))
        }
        Ok(Some(other)) => {
            let name = format!("{other:?}");
            let name = name
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("?")
                .to_string();
            close_protocol(&connection);
            Err(JoinError::Protocol(format!("{name} before registration")))
        }
        Ok(None) => Err(JoinError::Lost(closed_reason(&connection))),
        Err(WireError::Io(e)) => Err(JoinError::Lost(e.to_string())),
        Err(WireError::Truncated) => Err(JoinError::Lost(closed_reason(&connection))),
        Err(e) => {
            close_protocol(&connection);
            Err(JoinError::Protocol(e.to_string()))
        }
    }
}

fn close_protocol(connection: &quinn::Connection) {
    connection.close(
        sos_transport::wire::close_code::PROTOCOL.into(),
        b"unexpected message",
    );
}

fn closed_reason(connection: &quinn::Connection) -> String {
    connection.close_reason().map_or_else(
        || "the stream ended".to_string(),
        |reason| reason.to_string(),
    )
}

fn connect_error(address: &str, error: EndpointError) -> JoinError {
    let address = address.to_string();
    match error {
        EndpointError::Resolve(_) => JoinError::Resolve { address },
        EndpointError::Connect { detail, .. } if detail.contains("certificate") => {
            JoinError::Untrusted { address, detail }
        }
        EndpointError::Connect { detail, .. } => JoinError::Unreachable { address, detail },
        EndpointError::Bind { source, .. } => JoinError::Unreachable {
            address,
            detail: source.to_string(),
        },
        other => JoinError::Setup(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(
            JoinError::Refused(Refusal::PinNotAccepted).to_string(),
            "PIN not accepted — check the 9 digits or ask your technician for a new link"
        );
        let unreachable = connect_error(
            "gw.example:4433",
            EndpointError::Connect {
                addr: "gw.example:4433".into(),
                detail: "no answer (is the gateway running and UDP open?)".into(),
            },
        );
        assert!(
            unreachable.to_string().starts_with(
                "Cannot reach the gateway at gw.example:4433 — check the address or your network"
            ),
            "{unreachable}"
        );
        let untrusted = connect_error(
            "gw:1",
            EndpointError::Connect {
                addr: "gw:1".into(),
                detail: "the gateway's certificate is not the expected one".into(),
            },
        );
        assert!(matches!(untrusted, JoinError::Untrusted { .. }));
    }
}
