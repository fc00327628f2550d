//! The Service Desk as the shells use it: each method finds who acts, loads the session,
//! applies the rules at `now`, saves it, writes the audit event and announces the change.
//!
//! Both the HTTPS API and the QUIC relay go through here, so the rules are applied in one
//! place. The clock is read only through [`Clock`], so tests can drive time.

pub mod admin;
mod sessions;

use crate::domain::access::{Actor, Denied};
use crate::domain::licence::{self, Entitlement, LicenceError};
use crate::domain::secrets::{Keys, SecretError, random_bytes};
use crate::domain::{ActionError, Session, SessionAction};
use crate::relay::live::Live;
use crate::store::{SessionRow, Store, StoreError, User};
use sos_transport::api::{SessionEvent, SessionView};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

pub use sessions::Scope;

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

/// A clock the caller sets (tests, simulations).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: i64) -> Self {
        Self(AtomicU64::new(now as u64))
    }
    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst) as i64
    }
}

/// Limits on password guessing: 10 failed logins per address (100 per network) within 10
/// minutes block it for 15 minutes, doubling on repeat up to a day.
pub const LOGIN_LIMITS: crate::domain::ratelimit::Limits = crate::domain::ratelimit::Limits {
    window: 600,
    per_ip_failures: 10,
    per_net_failures: 100,
    global_failures: u32::MAX,
    block: 900,
    max_block: 86_400,
    max_tracked: 100_000,
};

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
    Conflict(ActionError),
    /// The licence does not allow it.
    #[error("licence: {0}")]
    Licence(#[from] LicenceError),
    /// The request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// Too many attempts: wait before trying again.
    #[error("{0}")]
    TooManyRequests(String),
    /// A local failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ActionError> for DeskError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Denied(d) => DeskError::Forbidden(d.to_string()),
            ActionError::Deleted => DeskError::NotFound("the session was deleted".into()),
            other => DeskError::Conflict(other),
        }
    }
}

impl From<Denied> for DeskError {
    fn from(d: Denied) -> Self {
        DeskError::Forbidden(d.to_string())
    }
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(what) => DeskError::BadRequest(format!("{what} already exists")),
            other => DeskError::Internal(other.to_string()),
        }
    }
}

impl From<SecretError> for DeskError {
    fn from(e: SecretError) -> Self {
        DeskError::Internal(e.to_string())
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Video bytes relayed to viewers.
    pub relayed_bytes: AtomicU64,
    /// Actions refused (403/409).
    pub refused_actions: AtomicU64,
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
    /// Public keys (base64) of the licence authority.
    pub licence_keys: Vec<String>,
    /// Live session changes for the console.
    pub events: broadcast::Sender<SessionEvent>,
    /// Metrics counters.
    pub counters: Counters,
    /// PIN guessing limits.
    pub pin_limiter: std::sync::Mutex<crate::domain::ratelimit::PinLimiter>,
    /// Failed password logins per address and network.
    pub login_limiter: std::sync::Mutex<crate::domain::ratelimit::PinLimiter>,
    /// Tickets and endpoints of the in-browser viewer.
    pub browser: crate::browser::BrowserViewers,
    /// How long a lost end-user app may come back with its ticket and keep the grant.
    pub resume_window: std::time::Duration,
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
    /// A Service Desk over `store`.
    pub fn new(
        store: Store,
        keys: Keys,
        clock: Arc<dyn Clock>,
        public_url: String,
        organisation: String,
        quic_port: u16,
        licence_keys: Vec<String>,
    ) -> Result<Self, DeskError> {
        if store.meta("first_start")?.is_none() {
            store.set_meta("first_start", &clock.now().to_string())?;
        }
        Ok(Self {
            store,
            keys,
            live: Live::default(),
            clock,
            public_url: public_url.trim_end_matches('/').to_string(),
            organisation,
            quic_port,
            licence_keys,
            events: broadcast::channel(1024).0,
            counters: Counters::default(),
            pin_limiter: std::sync::Mutex::new(crate::domain::ratelimit::PinLimiter::new(
                crate::domain::ratelimit::Limits::default(),
            )),
            login_limiter: std::sync::Mutex::new(crate::domain::ratelimit::PinLimiter::new(
                LOGIN_LIMITS,
            )),
            browser: crate::browser::BrowserViewers::default(),
            resume_window: std::time::Duration::from_secs(u64::from(
                crate::config::DEFAULT_RESUME_WINDOW_SECONDS,
            )),
        })
    }

    /// Counts video bytes sent to a viewer, for `/metrics`.
    pub fn count_relayed(&self, bytes: usize) {
        self.counters
            .relayed_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The user an API token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<User, DeskError> {
        self.store
            .user_by_token(token)?
            .ok_or(DeskError::Unauthorized)
    }

    /// Password login from `from` (when known); issues an API token. Too many failures
    /// from one address or network block it for a while ([`LOGIN_LIMITS`]), before the
    /// password is even checked.
    pub fn login(
        &self,
        email: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<(User, String), DeskError> {
        let now = self.clock.now();
        let limiter = || self.login_limiter.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ip) = from
            && let Err(blocked) = limiter().check(ip, now)
        {
            let wait = match blocked {
                crate::domain::ratelimit::Blocked::Until(until) => (until - now).max(1),
                crate::domain::ratelimit::Blocked::LinkOnly => LOGIN_LIMITS.window,
            };
            return Err(DeskError::TooManyRequests(format!(
                "too many failed logins from this network — try again in {} minutes",
                (wait + 59) / 60
            )));
        }
        let Some(user) = self.store.check_login(email, password)? else {
            if let Some(ip) = from {
                limiter().failure(ip, now);
            }
            return Err(DeskError::Unauthorized);
        };
        let token = self.store.issue_token(user.id, now)?;
        Ok((user, token))
    }

    /// Revokes an API token (logout): it never works again.
    pub fn logout(&self, token: &str) -> Result<(), DeskError> {
        if self.store.revoke_token(token)? {
            Ok(())
        } else {
            Err(DeskError::Unauthorized)
        }
    }

    /// The rules' view of a user.
    pub fn actor(&self, user: &User) -> Result<Actor, DeskError> {
        Ok(Actor {
            id: user.id,
            permissions: self.store.permissions_of(&user.role)?,
            channels: self.store.memberships(user.id)?.into_iter().collect(),
        })
    }

    /// What the installed licence (or the evaluation) allows.
    pub fn entitlement(&self) -> Result<Entitlement, DeskError> {
        if let Some(text) = self.store.meta("licence")? {
            return Ok(Entitlement::Licensed(licence::verify(
                &text,
                &self.licence_keys,
            )?));
        }
        let first = self
            .store
            .meta("first_start")?
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| self.clock.now());
        Ok(Entitlement::evaluation(first))
    }

    /// Refuses when support sessions may not be created or served now.
    pub fn check_licence(&self) -> Result<(), DeskError> {
        let seats = self.store.seats_used()?;
        Ok(self.entitlement()?.check_sos(self.clock.now(), seats)?)
    }

    /// Tells the consoles that the session's app went away or came back (no audit event:
    /// the window's outcome is recorded).
    pub fn announce_live(&self, id: &str, action: &str) {
        if let Ok(row) = self.load(id) {
            self.announce(&row.session, action);
        }
    }

    fn announce(&self, s: &Session, action: &str) {
        let _ = self.events.send(SessionEvent {
            id: s.id.clone(),
            action: action.to_string(),
            status: s.status,
        });
    }

    /// Loads a session, applying expiry at `now` and marking liveness from the registry.
    fn load(&self, id: &str) -> Result<SessionRow, DeskError> {
        let mut row = self
            .store
            .session(id)?
            .filter(|r| !r.session.deleted)
            .ok_or_else(|| DeskError::NotFound(format!("no session {id}")))?;
        row.session.agent_online = self.live.agent_online(id);
        row.session.derive_status();
        let now = self.clock.now();
        if row.session.tick(now) {
            self.store.save_session(&row.session, None)?;
            self.store.audit(
                id,
                now,
                ("gateway", "gateway"),
                "expired",
                "channel expiry passed",
            )?;
            self.live.end(id, sos_transport::wire::EndReason::Expired);
            self.announce(&row.session, "expired");
        }
        Ok(row)
    }

    /// Applies an action by a technician: rules, save, audit, announce.
    fn act(
        &self,
        user: &User,
        id: &str,
        action: SessionAction,
        audit: &str,
        detail: &str,
    ) -> Result<SessionRow, DeskError> {
        let actor = self.actor(user)?;
        let mut row = self.load(id)?;
        if !row.session.visible_to(&actor) {
            return Err(DeskError::NotFound(format!("no session {id}")));
        }
        let now = self.clock.now();
        row.session.apply(Some(&actor), action, now)?;
        self.store.save_session(&row.session, None)?;
        self.store
            .audit(id, now, (&user.email, &user.origin), audit, detail)?;
        self.announce(&row.session, audit);
        Ok(row)
    }

    fn email_of(&self, id: i64) -> Result<String, DeskError> {
        Ok(self
            .store
            .user_by_id(id)?
            .map(|u| u.email)
            .unwrap_or_else(|| format!("user {id}")))
    }

    /// The session as `user` sees it, with the actions they may take now.
    fn view(
        &self,
        row: &SessionRow,
        pin: Option<String>,
        user: &User,
    ) -> Result<SessionView, DeskError> {
        self.view_as(row, pin, &self.actor(user)?)
    }

    fn view_as(
        &self,
        row: &SessionRow,
        pin: Option<String>,
        actor: &Actor,
    ) -> Result<SessionView, DeskError> {
        let s = &row.session;
        Ok(SessionView {
            id: s.id.clone(),
            status: s.status,
            link: format!("{}/s/{}", self.public_url, row.link_token),
            pin,
            channel: if s.channel.private_owner.is_some() {
                "Private".into()
            } else {
                // The row may predate a transfer: name the channel the session is in now.
                self.store
                    .channel_by_id(s.channel.id)?
                    .map_or_else(|| row.channel_name.clone(), |c| c.name)
            },
            assignee: s.assignee.map(|id| self.email_of(id)).transpose()?,
            invited: s
                .invited
                .iter()
                .map(|id| self.email_of(*id))
                .collect::<Result<_, _>>()?,
            private: s.channel.private_owner.is_some(),
            machine_name: row.machine_name.clone(),
            agent_online: s.agent_online,
            reconnecting: self.live.is_away(&s.id),
            remote: s.remote,
            created_at: s.created_at,
            expires_at: (!s.status.is_final()).then_some(s.expires_at),
            actions: s.offers(actor, self.clock.now()),
        })
    }
}
