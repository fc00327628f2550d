//! Types of the gateway's HTTPS API (`/api/v1`), shared by the gateway and `sos-desk`
//! so both sides agree on the JSON without the CLI depending on server code.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Status of a support session, as in the Service Desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Assigned technician's e-mail; None while in the queue.
    pub assignee: Option<String>,
    /// Invited technicians' e-mails (at most two).
    #[serde(default)]
    pub invited: Vec<String>,
    /// Whether the session is in its owner's private channel.
    #[serde(default)]
    pub private: bool,
    /// End user's machine name, once the app registered.
    pub machine_name: Option<String>,
    /// Whether the end user's app is connected now.
    pub agent_online: bool,
    /// The end user's app lost its connection and the session waits for it to come back
    /// with the end user's grant (the gateway's resume window); absent in older answers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconnecting: bool,
    /// Permission state.
    pub remote: RemoteState,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
    /// When the session expires unless a remote session is live, seconds since the epoch.
    pub expires_at: Option<i64>,
    /// What the caller may do with the session now, and why not (absent in older gateways'
    /// answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionState>,
}

/// An action a technician can take on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionActionKind {
    /// Ask the end user for access.
    Request,
    /// Start watching (after a grant).
    Start,
    /// Assign a technician (from the queue) or transfer to another assignee.
    Assign,
    /// Transfer to another channel.
    TransferChannel,
    /// Invite another technician.
    Invite,
    /// Copy the link.
    CopyLink,
    /// Show the PIN.
    ShowPin,
    /// Release to the channel's queue.
    Release,
    /// Close for good.
    Close,
    /// Delete.
    Delete,
}

/// Whether the caller may take an action now, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionState {
    /// The action.
    pub action: SessionActionKind,
    /// Whether the rules allow it now (the target of a transfer or an invitation is checked
    /// when it is named).
    pub allowed: bool,
    /// Why not, in words for the technician.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/v1/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/v1/login` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSessionRequest {
    /// Channel name; the default channel when absent.
    pub channel: Option<String>,
}

/// `POST /api/v1/sessions/{id}/request` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteRequest {
    /// Ask for control as well as viewing.
    pub control: bool,
}

/// The body of every refused request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What happened and what to do next.
    pub error: String,
}

/// One audit event of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Seconds since the Unix epoch.
    pub at: i64,
    /// Who acted (e-mail, `end user` or `gateway`).
    pub actor: String,
    /// From where: `https` or `quic` and the network part of the address, or `gateway`.
    #[serde(default)]
    pub origin: String,
    /// What happened.
    pub action: String,
    /// Details.
    pub detail: String,
}

/// `GET /api/v1/info` answer: what a client needs to reach the QUIC port.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinView {
    /// The nine digits.
    pub pin: String,
}

/// A channel as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelView {
    /// Name (`Private` for the caller's private channel).
    pub name: String,
    /// Session expiry in seconds.
    pub expiry_secs: i64,
    /// Members' e-mails (empty for a private channel).
    pub members: Vec<String>,
    /// Whether it is the caller's private channel.
    pub private: bool,
}

/// `POST /api/v1/channels` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewChannelRequest {
    /// Name.
    pub name: String,
    /// Session expiry in seconds (30 minutes to 7 days).
    pub expiry_secs: i64,
}

/// `PATCH /api/v1/channels/{name}` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelUpdate {
    /// New session expiry in seconds.
    #[serde(default)]
    pub expiry_secs: Option<i64>,
    /// E-mails to add as members.
    #[serde(default)]
    pub add_members: Vec<String>,
    /// E-mails to remove.
    #[serde(default)]
    pub remove_members: Vec<String>,
}

/// Body naming a user (assign, invite).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef {
    /// The user's e-mail.
    pub email: String,
}

/// `POST /api/v1/sessions/{id}/transfer` body: exactly one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferRequest {
    /// Another assignee's e-mail.
    #[serde(default)]
    pub to_user: Option<String>,
    /// Another channel's name.
    #[serde(default)]
    pub to_channel: Option<String>,
}

/// `GET /api/v1/sessions/{id}/link` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkView {
    /// The link the end user opens.
    pub link: String,
}

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    /// E-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// Permissions of the role.
    pub permissions: Vec<String>,
}

/// `POST /api/v1/users` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUserRequest {
    /// E-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// Initial password (at least 8 characters).
    pub password: String,
}

/// A role and its permissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleView {
    /// Name.
    pub name: String,
    /// Permission names.
    pub permissions: Vec<String>,
}

/// `GET /api/v1/licence` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenceView {
    /// `evaluation` or `licensed`.
    pub mode: String,
    /// Licensee (licensed mode).
    pub licensee: Option<String>,
    /// Enabled features.
    pub features: Vec<String>,
    /// Seats licensed.
    pub seats: u32,
    /// Seats in use (users whose role carries attended access).
    pub seats_used: u32,
    /// End of validity, seconds since the epoch.
    pub expires_at: i64,
    /// Why support sessions are refused now, if they are.
    pub problem: Option<String>,
}

/// `GET /api/v1/alerts` item: something an administrator should know now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertView {
    /// `link_only` (PIN guessing switched PIN registration off) or `licence`.
    pub kind: String,
    /// What happened and what it means, for people.
    pub message: String,
    /// When it ends by itself, seconds since the epoch (`None`: until someone acts).
    pub until: Option<i64>,
}

/// One change of a session, as the live event stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionEvent {
    /// Session id.
    pub id: String,
    /// What happened (`created`, `agent_registered`, `closed`, ...).
    pub action: String,
    /// Status after the change.
    pub status: SessionStatus,
}

/// A one-time ticket for the browser viewer and where to use it
/// (`POST /api/v1/sessions/{id}/viewer-ticket`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewerTicket {
    /// Sent first on the viewer connection; works once, for this user and session.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ticket: crate::Secret<String>,
    /// Seconds the ticket stays valid.
    pub expires_in: u32,
    /// Path of the WebSocket viewer on the HTTPS server (the fallback).
    pub websocket: String,
    /// The WebTransport viewer, when the gateway offers it.
    pub webtransport: Option<WebTransportOffer>,
}

/// The gateway's WebTransport (HTTP/3) endpoint for the browser viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebTransportOffer {
    /// UDP port, on the same host name as the console.
    pub port: u16,
    /// Path of the session's viewer.
    pub path: String,
    /// SHA-256 of the endpoint's short-lived certificate (hex), for the browser's
    /// `serverCertificateHashes`.
    pub cert_sha256: String,
}
