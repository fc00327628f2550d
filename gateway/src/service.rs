//! The Service Desk as the shells use it: each method checks who may act, loads the
//! session, applies the rules at `now`, saves it and writes the audit event.
//!
//! Both the HTTPS API and the QUIC relay go through here, so the rules are applied in one
//! place. The clock is read only through [`Clock`], so tests can drive time.

use crate::domain::secrets::{Keys, SecretError, new_pin, new_token, random_bytes};
use crate::domain::{ActionError, Session, SessionAction};
use crate::relay::live::Live;
use crate::store::{NewSessionRow, SessionRow, Store, StoreError, User};
use sos_transport::api::{SessionStatus, SessionView};
use sos_transport::wire::{ConsentDecision, EndReason, ToAgent};
use std::sync::Arc;

/// Source of the current time (seconds since the Unix epoch).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Why a Service Desk request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    /// Not logged in or bad token.
    #[error("not signed in — log in again")]
    Unauthorized,
    /// Logged in but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The rules refuse the action in the session's current state.
    #[error(transparent)]
    Conflict(#[from] ActionError),
    /// The request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// A local failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        DeskError::Internal(e.to_string())
    }
}

impl From<SecretError> for DeskError {
    fn from(e: SecretError) -> Self {
        DeskError::Internal(e.to_string())
    }
}

/// Shared state of the running gateway.
pub struct Desk {
    /// The database.
    pub store: Store,
    /// Secret keys.
    pub keys: Keys,
    /// Live connections.
    pub live: Live,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Base URL of links (`https://host:port`).
    pub public_url: String,
    /// Organisation name shown to end users.
    pub organisation: String,
    /// UDP port of the QUIC endpoint.
    pub quic_port: u16,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// Loads the master key from `<data>/gateway.key`, creating it (mode 0600) on first start.
pub fn load_master_key(dir: &std::path::Path) -> Result<[u8; 32], DeskError> {
    let path = dir.join("gateway.key");
    match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            DeskError::Internal(format!("{} is damaged (expected 32 bytes)", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<32>()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            options
                .open(&path)
                .and_then(|mut f| f.write_all(&key))
                .map_err(|e| {
                    DeskError::Internal(format!("cannot write {}: {e}", path.display()))
                })?;
            Ok(key)
        }
        Err(e) => Err(DeskError::Internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

impl Desk {
    /// The user an API token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<User, DeskError> {
        self.store
            .user_by_token(token)?
            .ok_or(DeskError::Unauthorized)
    }

    /// Password login; issues an API token.
    pub fn login(&self, email: &str, password: &str) -> Result<(User, String), DeskError> {
        let user = self
            .store
            .check_login(email, password)?
            .ok_or(DeskError::Unauthorized)?;
        let token = self.store.issue_token(user.id, self.clock.now())?;
        Ok((user, token))
    }

    fn view(&self, row: &SessionRow, pin: Option<String>) -> Result<SessionView, DeskError> {
        let s = &row.session;
        let assignee = match s.assignee {
            Some(id) => self.store.user_by_id(id)?.map(|u| u.email),
            None => None,
        };
        Ok(SessionView {
            id: s.id.clone(),
            status: s.status,
            link: format!("{}/s/{}", self.public_url, row.link_token),
            pin,
            channel: row.channel.clone(),
            assignee,
            machine_name: row.machine_name.clone(),
            agent_online: self.live.agent_online(&s.id),
            remote: s.remote,
            created_at: s.created_at,
            expires_at: (!s.status.is_final()).then_some(s.expires_at),
        })
    }

    /// Loads a session, applying expiry at `now` and marking liveness from the registry.
    fn load(&self, id: &str) -> Result<SessionRow, DeskError> {
        let mut row = self
            .store
            .session(id)?
            .ok_or_else(|| DeskError::NotFound(format!("no session {id}")))?;
        row.session.agent_online = self.live.agent_online(id);
        if row.session.tick(self.clock.now()) {
            self.store.save_session(&row.session, None)?;
            self.store.audit(
                id,
                self.clock.now(),
                "gateway",
                "expired",
                "channel expiry passed",
            )?;
        }
        Ok(row)
    }

    fn may_use(&self, user: &User, s: &Session) -> Result<(), DeskError> {
        if !user.role.attended_access() {
            return Err(DeskError::Forbidden(
                "your role lacks the attended_access permission".into(),
            ));
        }
        if user.role.sees_everything() || s.assignee == Some(user.id) {
            Ok(())
        } else {
            Err(DeskError::Forbidden(
                "this session is assigned to another technician".into(),
            ))
        }
    }

    /// A session the user may use.
    pub fn session_for(&self, user: &User, id: &str) -> Result<SessionRow, DeskError> {
        let row = self.load(id)?;
        self.may_use(user, &row.session)?;
        Ok(row)
    }

    /// Creates a Pending session with a fresh PIN and link.
    pub fn new_session(
        &self,
        user: &User,
        channel: Option<&str>,
    ) -> Result<SessionView, DeskError> {
        if !user.role.attended_access() {
            return Err(DeskError::Forbidden(
                "your role lacks the attended_access permission".into(),
            ));
        }
        let (channel_id, _, expiry) = match channel {
            Some(name) => self
                .store
                .channel_by_name(name)?
                .ok_or_else(|| DeskError::NotFound(format!("no channel named {name}")))?,
            None => self.store.default_channel()?,
        };
        let (pin, pin_hash) = loop {
            let pin = new_pin()?;
            let hash = self.keys.pin_hash(&pin);
            if !self.store.pin_in_use(&hash)? {
                break (pin, hash);
            }
        };
        let now = self.clock.now();
        let id = hex::encode(random_bytes::<8>()?);
        let session = Session::new(id.clone(), user.id, expiry, now);
        self.store.insert_session(&NewSessionRow {
            session,
            channel_id,
            pin_sealed: self.keys.seal_pin(&pin)?,
            pin_hash,
            link_token: new_token::<18>()?,
            created_by: user.id,
        })?;
        self.store
            .audit(&id, now, &user.email, "created", "new session")?;
        let row = self.load(&id)?;
        self.view(&row, Some(pin))
    }

    /// Sessions the user may see.
    pub fn list(&self, user: &User) -> Result<Vec<SessionView>, DeskError> {
        let rows = self
            .store
            .sessions_for(user.id, user.role.sees_everything())?;
        rows.iter()
            .map(|r| self.load(&r.session.id).and_then(|r| self.view(&r, None)))
            .collect()
    }

    /// One session.
    pub fn show(&self, user: &User, id: &str) -> Result<SessionView, DeskError> {
        let row = self.session_for(user, id)?;
        self.view(&row, None)
    }

    /// The PIN of a session ("Show PIN").
    pub fn pin(&self, user: &User, id: &str) -> Result<String, DeskError> {
        let row = self.session_for(user, id)?;
        if row.session.status.is_final() {
            return Err(DeskError::Conflict(ActionError::Final(row.session.status)));
        }
        self.store
            .audit(id, self.clock.now(), &user.email, "show_pin", "")?;
        Ok(self.keys.open_pin(&row.pin_sealed)?)
    }

    /// Asks the end user for access.
    pub fn request_remote(
        &self,
        user: &User,
        id: &str,
        control: bool,
    ) -> Result<SessionView, DeskError> {
        let mut row = self.session_for(user, id)?;
        let now = self.clock.now();
        row.session
            .apply(SessionAction::RequestRemote { control }, now)?;
        self.store.save_session(&row.session, None)?;
        let what = if control { "view and control" } else { "view" };
        self.store
            .audit(id, now, &user.email, "request_remote", what)?;
        self.live.to_agent(
            id,
            ToAgent::ConsentRequest {
                request_id: row.session.request_seq,
                technician: user.name.clone(),
                organisation: self.organisation.clone(),
                control,
            },
        );
        self.view(&row, None)
    }

    /// Closes a session for good.
    pub fn close(&self, user: &User, id: &str) -> Result<SessionView, DeskError> {
        let mut row = self.session_for(user, id)?;
        let now = self.clock.now();
        row.session.apply(SessionAction::Close, now)?;
        self.store.save_session(&row.session, None)?;
        self.store.audit(id, now, &user.email, "closed", "")?;
        self.live.end(id, EndReason::ClosedByTechnician);
        self.view(&row, None)
    }

    /// The session a PIN registers, if it may register now.
    pub fn agent_registering(&self, pin: &str) -> Result<Option<SessionRow>, DeskError> {
        let hash = self.keys.pin_hash(pin);
        let Some(id) = self.store.live_session_by_pin(&hash)? else {
            return Ok(None);
        };
        let row = self.load(&id)?;
        Ok((!row.session.status.is_final()).then_some(row))
    }

    /// Records an event from the agent side (registration, loss, answer, stop).
    pub fn agent_event(
        &self,
        id: &str,
        action: SessionAction,
        machine_name: Option<&str>,
    ) -> Result<Session, DeskError> {
        let mut row = self.load(id)?;
        let now = self.clock.now();
        // Registration happens before the live registry knows the agent.
        if action == SessionAction::AgentRegistered {
            row.session.agent_online = false;
        }
        row.session.apply(action.clone(), now)?;
        self.store.save_session(&row.session, machine_name)?;
        let (what, detail) = match &action {
            SessionAction::AgentRegistered => {
                ("agent_registered", machine_name.unwrap_or("").to_string())
            }
            SessionAction::AgentLost => ("agent_lost", String::new()),
            SessionAction::ConsentAnswered { decision, .. } => (
                "consent",
                match decision {
                    ConsentDecision::Grant { control: true } => "granted view and control".into(),
                    ConsentDecision::Grant { control: false } => "granted view only".into(),
                    ConsentDecision::Deny => "denied".into(),
                    ConsentDecision::TimedOut => "no answer, denied".into(),
                },
            ),
            SessionAction::StoppedByUser => ("stopped_by_user", String::new()),
            other => ("event", format!("{other:?}")),
        };
        self.store.audit(id, now, "end user", what, &detail)?;
        Ok(row.session)
    }

    /// Whether a session is in a state where remote viewing is allowed.
    pub fn status_of(&self, id: &str) -> Result<SessionStatus, DeskError> {
        Ok(self.load(id)?.session.status)
    }
}
