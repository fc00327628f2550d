//! Attaching to a session over the gateway's QUIC port.
//!
//! Contract: the QUIC address is the HTTPS host with the port the gateway announces in
//! `/api/v1/info`, trusted exactly like the HTTPS API (pinned or system roots, never
//! unverified). The token goes only inside the TLS-protected [`ViewerHello`].

use crate::api::{ApiClient, ApiError};
use sos_transport::endpoint::{EndpointError, connect};
use sos_transport::framing::{read_message, write_message};
use sos_transport::redact::Secret;
use sos_transport::wire::{
    DisplayInfo, Hello, Refusal, ToViewer, ViewerHello, ViewerPurpose, close_code,
};
use sos_transport::{Trust, WireError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// How long to wait for the connection to close cleanly when leaving.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Failures attaching to a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// Asking the gateway for its QUIC port failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The QUIC connection could not be made.
    #[error(transparent)]
    Connect(#[from] EndpointError),
    /// The connection broke during the greeting.
    #[error("the gateway closed the connection: {0}")]
    Connection(String),
    /// The gateway refused to attach this viewer.
    #[error("{0}")]
    Refused(Refusal),
    /// A message could not be sent or read.
    #[error("the gateway's answer could not be read: {0}")]
    Wire(#[from] WireError),
    /// The gateway said something other than accept or refuse.
    #[error(
        "the gateway answered the greeting with an unexpected message — are the gateway and sos-desk the same version?"
    )]
    Unexpected,
    /// The gateway closed the control stream without answering.
    #[error("the gateway closed the connection without answering — see its log")]
    Closed,
}

/// What the gateway said when it accepted a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acceptance {
    /// The shared screen.
    pub display: DisplayInfo,
    /// Whether the end user allowed control.
    pub control: bool,
}

/// Sends the viewer greeting on a control stream and reads the gateway's answer.
pub async fn greet<W, R>(
    send: &mut W,
    recv: &mut R,
    token: &Secret<String>,
    session_id: &str,
    purpose: ViewerPurpose,
) -> Result<Acceptance, AttachError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let hello = Hello::Viewer(ViewerHello {
        token: token.clone(),
        session_id: session_id.to_string(),
        purpose,
    });
    write_message(send, &hello).await?;
    match read_message::<_, ToViewer>(recv).await? {
        Some(ToViewer::Accepted { display, control }) => Ok(Acceptance { display, control }),
        Some(ToViewer::Refused(refusal)) => Err(AttachError::Refused(refusal)),
        Some(_) => Err(AttachError::Unexpected),
        None => Err(AttachError::Closed),
    }
}

/// A live, accepted viewer connection.
#[derive(Debug)]
pub struct Attached {
    /// The QUIC endpoint (kept so the connection can close cleanly).
    pub endpoint: quinn::Endpoint,
    /// The connection; video arrives on its unidirectional streams.
    pub connection: quinn::Connection,
    /// Control stream, sending half.
    pub send: quinn::SendStream,
    /// Control stream, receiving half.
    pub recv: quinn::RecvStream,
    /// What the gateway accepted.
    pub acceptance: Acceptance,
    /// When the QUIC handshake completed.
    pub connected_at: Instant,
}

/// Connects to the gateway's QUIC port and attaches to `session_id` for `purpose`.
pub async fn attach(
    api: &ApiClient,
    trust: &Trust,
    token: &Secret<String>,
    session_id: &str,
    purpose: ViewerPurpose,
) -> Result<Attached, AttachError> {
    let info = api.info().await?;
    let address = api.base().quic_address(info.quic_port);
    tracing::debug!(%address, "connecting over QUIC");
    let (endpoint, connection) = connect(&address, trust).await?;
    let connected_at = Instant::now();
    let (mut send, mut recv) = connection
        .open_bi()
        .await
        .map_err(|e| AttachError::Connection(e.to_string()))?;
    let acceptance = greet(&mut send, &mut recv, token, session_id, purpose).await;
    let acceptance = match acceptance {
        Ok(acceptance) => acceptance,
        Err(e) => {
            connection.close(close_code::NORMAL.into(), b"refused");
            return Err(e);
        }
    };
    Ok(Attached {
        endpoint,
        connection,
        send,
        recv,
        acceptance,
        connected_at,
    })
}

/// Closes a connection on purpose and waits briefly for the gateway to see it.
pub async fn close(endpoint: &quinn::Endpoint, connection: &quinn::Connection) {
    connection.close(close_code::NORMAL.into(), b"done");
    let _ = tokio::time::timeout(CLOSE_GRACE, endpoint.wait_idle()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use sos_transport::wire::FromViewer;

    #[tokio::test]
    async fn greeting_carries_the_token_and_reads_the_answer() {
        let (mut ours, mut theirs) = tokio::io::duplex(4096);
        let gateway = tokio::spawn(async move {
            let hello: Hello = read_message(&mut theirs).await.unwrap().unwrap();
            write_message(
                &mut theirs,
                &ToViewer::Accepted {
                    display: DisplayInfo {
                        index: 0,
                        width: 640,
                        height: 480,
                        primary: true,
                    },
                    control: false,
                },
            )
            .await
            .unwrap();
            hello
        });
        let (mut recv, mut send) = tokio::io::split(&mut ours);
        let token = Secret::new("tok".to_string());
        let accepted = greet(&mut send, &mut recv, &token, "s1", ViewerPurpose::Input)
            .await
            .unwrap();
        assert!(!accepted.control);
        assert_eq!(accepted.display.width, 640);
        let Hello::Viewer(hello) = gateway.await.unwrap() else {
            panic!("not a viewer hello")
        };
        assert_eq!(hello.token.expose(), "tok");
        assert_eq!(hello.session_id, "s1");
        assert_eq!(hello.purpose, ViewerPurpose::Input);
    }

    #[tokio::test]
    async fn refusal_and_silence_are_errors() {
        for answer in [Some(ToViewer::Refused(Refusal::ConsentNotGranted)), None] {
            let (mut ours, mut theirs) = tokio::io::duplex(4096);
            tokio::spawn(async move {
                let _: Option<Hello> = read_message(&mut theirs).await.unwrap();
                if let Some(answer) = answer {
                    write_message(&mut theirs, &answer).await.unwrap();
                }
                // Dropping `theirs` ends the stream.
            });
            let (mut recv, mut send) = tokio::io::split(&mut ours);
            let token = Secret::new("t".to_string());
            let err = greet(&mut send, &mut recv, &token, "s", ViewerPurpose::Watch)
                .await
                .unwrap_err();
            match err {
                AttachError::Refused(r) => {
                    assert_eq!(r, Refusal::ConsentNotGranted);
                    assert!(err.to_string().contains("session request"));
                }
                AttachError::Closed => {}
                other => panic!("unexpected {other}"),
            }
        }
        // An unexpected first message is a protocol problem.
        let (mut ours, mut theirs) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let _: Option<Hello> = read_message(&mut theirs).await.unwrap();
            write_message(&mut theirs, &FromViewer::KeyframeRequest)
                .await
                .unwrap();
        });
        let (mut recv, mut send) = tokio::io::split(&mut ours);
        let token = Secret::new("t".to_string());
        let err = greet(&mut send, &mut recv, &token, "s", ViewerPurpose::Watch).await;
        assert!(err.is_err());
    }
}
