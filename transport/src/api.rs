//! Types of the gateway's HTTPS API (`/api/v1`), shared by the gateway and `sos-desk`
//! so both sides agree on the JSON without the CLI depending on server code.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Status of a support session, as in the Service Desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created, waiting for the end user to launch the app.
    Pending,
    /// App running on the end user's machine and a technician assigned.
    Active,
    /// Released, waiting for a technician to take it.
    InQueue,
    /// Passed the channel's session expiry.
    Expired,
    /// Closed by a technician; final.
    Closed,
}

impl SessionStatus {
    /// The snake_case name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Pending => "pending",
            SessionStatus::Active => "active",
            SessionStatus::InQueue => "in_queue",
            SessionStatus::Expired => "expired",
            SessionStatus::Closed => "closed",
        }
    }
    /// Parses the snake_case name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => SessionStatus::Pending,
            "active" => SessionStatus::Active,
            "in_queue" => SessionStatus::InQueue,
            "expired" => SessionStatus::Expired,
            "closed" => SessionStatus::Closed,
            _ => return None,
        })
    }
    /// Closed and Expired never change again.
    pub fn is_final(self) -> bool {
        matches!(self, SessionStatus::Closed | SessionStatus::Expired)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionStatus::Pending => "Pending",
            SessionStatus::Active => "Active",
            SessionStatus::InQueue => "In queue",
            SessionStatus::Expired => "Expired",
            SessionStatus::Closed => "Closed",
        })
    }
}

/// Where the permission request of a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RemoteState {
    /// Nobody asked yet.
    NotRequested,
    /// Asked; waiting for the end user.
    Requested,
    /// The end user granted access.
    Granted {
        /// Whether control was granted (false: view only).
        control: bool,
    },
    /// The end user denied (or did not answer in time).
    Denied,
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Status.
    pub status: SessionStatus,
    /// Link the end user opens.
    pub link: String,
    /// The PIN, only in the answer to "new session" and "show PIN".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Channel name.
    pub channel: String,
    /// Assigned technician's e-mail.
    pub assignee: Option<String>,
    /// End user's machine name, once the app registered.
    pub machine_name: Option<String>,
    /// Whether the end user's app is connected now.
    pub agent_online: bool,
    /// Permission state.
    pub remote: RemoteState,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
    /// When the session expires unless a remote session is live, seconds since the epoch.
    pub expires_at: Option<i64>,
}

/// `POST /api/v1/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/v1/login` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    /// API token for `Authorization: Bearer`.
    pub token: String,
    /// Display name.
    pub name: String,
    /// E-mail.
    pub email: String,
}

/// `POST /api/v1/sessions` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewSessionRequest {
    /// Channel name; the default channel when absent.
    pub channel: Option<String>,
}

/// `POST /api/v1/sessions/{id}/request` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteRequest {
    /// Ask for control as well as viewing.
    pub control: bool,
}

/// The body of every refused request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What happened and what to do next.
    pub error: String,
}

/// One audit event of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Seconds since the Unix epoch.
    pub at: i64,
    /// Who acted (e-mail, `agent` or `gateway`).
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Details.
    pub detail: String,
}

/// `GET /api/v1/info` answer: what a client needs to reach the QUIC port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// UDP port of the gateway's QUIC endpoint (same host as the HTTPS API).
    pub quic_port: u16,
    /// Organisation running the gateway.
    pub organisation: String,
    /// Gateway version.
    pub version: String,
}

/// `GET /api/v1/sessions/{id}/pin` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PinView {
    /// The nine digits.
    pub pin: String,
}
