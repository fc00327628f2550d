//! The technicians of a load run, through the gateway's HTTPS API with the `sos-desk`
//! client: accounts added before the gateway starts, logins, sessions created, other
//! technicians invited and access requested.
//!
//! Contract: passwords, tokens and PINs stay in memory, in redacting types where they
//! travel; nothing here prints them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sos_desk::address::GatewayUrl;
use sos_desk::api::ApiClient;
use sos_desk::cli::SessionCommand;
use sos_transport::{Pin, Secret, Trust};
use tokio::sync::Semaphore;

use crate::gateway;
use crate::proc::Output;
use crate::signals::Shutdown;

/// Requests to the API at once while creating sessions.
const API_CONCURRENCY: usize = 8;

/// A technician's account, before login.
pub struct Account {
    /// Login e-mail.
    pub email: String,
    password: Secret<String>,
}

/// Adds `count` technicians to the data directory (the gateway is not running yet).
pub fn add_accounts(
    binary: &Path,
    data: &Path,
    count: usize,
    logs: &Path,
    shutdown: &Shutdown,
) -> Result<Vec<Account>> {
    (1..=count)
        .map(|number| {
            let email = format!("load-technician-{number}@example.com");
            let name = format!("Load Technician {number}");
            let password = gateway::generate_password()?;
            gateway::add_technician(
                binary,
                data,
                (&email, &name),
                &password,
                Output::Log(logs.join(format!("user-add-{number}.log"))),
                shutdown,
            )
            .with_context(|| format!("could not add the technician {email}"))?;
            Ok(Account {
                email,
                password: Secret::new(password),
            })
        })
        .collect()
}

/// A technician signed in.
pub struct Technician {
    /// Login e-mail.
    pub email: String,
    /// API client with the technician's token.
    pub api: ApiClient,
    /// The token, for the viewers' greeting.
    pub token: Secret<String>,
}

/// Signs every account in.
pub async fn login(console: &str, trust: &Trust, accounts: &[Account]) -> Result<Vec<Technician>> {
    let url = GatewayUrl::parse(console)
        .with_context(|| format!("the gateway announced an unusable address {console}"))?;
    let mut technicians = Vec::new();
    for account in accounts {
        let anonymous = ApiClient::new(url.clone(), trust, None)?;
        let answer = anonymous
            .login(&account.email, &account.password)
            .await
            .with_context(|| format!("{} could not log in", account.email))?;
        let token = Secret::new(answer.token);
        technicians.push(Technician {
            email: account.email.clone(),
            api: ApiClient::new(url.clone(), trust, Some(token.clone()))?,
            token,
        });
    }
    Ok(technicians)
}

/// A session as the load uses it.
pub struct NewSession {
    /// Its id.
    pub id: String,
    /// Its PIN (redacted in any output).
    pub pin: Pin,
}

/// Creates `count` sessions as `technician` (their assignee), calling `progress(done)` as
/// they come.
pub async fn create_sessions(
    technician: &Technician,
    count: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<NewSession>> {
    let limit = Arc::new(Semaphore::new(API_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let api = technician.api.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let view = api.create_session(None).await?;
            let Some(pin) = view.pin else {
                bail!("the gateway created session {} without a PIN", view.id);
            };
            let pin = Pin::parse(&pin)
                .map_err(|e| anyhow::anyhow!("session {} has an unusable PIN: {e}", view.id))?;
            Ok((index, NewSession { id: view.id, pin }))
        });
    }
    let mut sessions: Vec<Option<NewSession>> = (0..count).map(|_| None).collect();
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (index, session) = joined.context("a session-creating task failed")??;
        sessions[index] = Some(session);
        done += 1;
        progress(done);
    }
    Ok(sessions.into_iter().flatten().collect())
}

/// Invites the other technicians to the session of `assignee` and asks the end user for
/// view-only access.
pub async fn open_for_viewing(
    assignee: &Technician,
    others: &[Technician],
    session: &str,
) -> Result<()> {
    for other in others {
        let invite = SessionCommand::Invite {
            id: session.to_owned(),
            email: other.email.clone(),
            json: true,
        };
        sos_desk::manage::session(&assignee.api, &invite, &mut std::io::sink())
            .await
            .with_context(|| format!("could not invite {} to session {session}", other.email))?;
    }
    assignee
        .api
        .request_remote(session, false)
        .await
        .with_context(|| format!("could not request access to session {session}"))?;
    Ok(())
}

/// Prints "label done/total (rate/s)" at most every two seconds and at the end.
pub struct Progress {
    label: &'static str,
    total: usize,
    started: Instant,
    shown: Instant,
}

impl Progress {
    /// Progress of `total` steps.
    pub fn new(label: &'static str, total: usize) -> Self {
        let now = Instant::now();
        Self {
            label,
            total,
            started: now,
            shown: now,
        }
    }

    /// `done` steps are done.
    pub fn update(&mut self, done: usize) {
        if done < self.total && self.shown.elapsed() < Duration::from_secs(2) {
            return;
        }
        self.shown = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(1e-3);
        crate::report::note(&format!(
            "{} {done}/{} ({:.1} s, {rate:.0}/s)",
            self.label, self.total, elapsed
        ));
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
