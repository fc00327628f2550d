//! Client of the gateway's HTTPS API (`/api/v1`).
//!
//! Contract: TLS is always verified — pinned fingerprint or system roots, never neither —
//! and the token travels only in the `Authorization` header, never in a URL, a log line or
//! an error message. A refusal shows the gateway's own `error` text.

use crate::address::GatewayUrl;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sos_transport::Trust;
use sos_transport::api::{
    ErrorBody, GatewayInfo, LoginRequest, LoginResponse, NewSessionRequest, PinView, RemoteRequest,
    SessionView,
};
use sos_transport::redact::Secret;
use sos_transport::tls::{TlsError, client_config};
use std::time::Duration;

/// How long to wait for the TCP and TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one API call may take in total.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest error body quoted back to the technician, in characters.
const MAX_ERROR_CHARS: usize = 500;

/// Failures talking to the HTTPS API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The TLS settings could not be built.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTPS client: {0}")]
    Client(String),
    /// The gateway's certificate is not the pinned one (or not trusted by the system).
    #[error(
        "the gateway at {url} presented a certificate that is not trusted, refusing to connect \
         — check --cert-sha256 (as printed by `sos-gateway serve`) and log in again"
    )]
    Untrusted {
        /// Base URL.
        url: String,
    },
    /// The gateway could not be reached.
    #[error(
        "cannot reach the gateway at {url}: {detail} — check the address and that the gateway is running"
    )]
    Unreachable {
        /// Base URL.
        url: String,
        /// Cause.
        detail: String,
    },
    /// The gateway refused the request and said why.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The gateway's `error` text.
        message: String,
    },
    /// The gateway answered something that is not the expected JSON.
    #[error(
        "unexpected answer from the gateway ({detail}) — are the gateway and sos-desk the same version?"
    )]
    BadAnswer {
        /// What is wrong.
        detail: String,
    },
}

/// A connection to one gateway's API, optionally signed in with a token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: GatewayUrl,
    token: Option<Secret<String>>,
}

impl ApiClient {
    /// A client for `base`, trusting its certificate as `trust` says.
    pub fn new(
        base: GatewayUrl,
        trust: &Trust,
        token: Option<Secret<String>>,
    ) -> Result<Self, ApiError> {
        let tls = client_config(trust, &[b"http/1.1"])?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("sos-desk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Client(chain(&e)))?;
        Ok(Self { http, base, token })
    }

    /// The gateway this client talks to.
    pub fn base(&self) -> &GatewayUrl {
        &self.base
    }

    /// `POST /api/v1/login`.
    pub async fn login(
        &self,
        email: &str,
        password: &Secret<String>,
    ) -> Result<LoginResponse, ApiError> {
        let body = LoginRequest {
            email: email.to_string(),
            password: password.expose().clone(),
        };
        self.send(self.http.post(self.base.endpoint(&["login"])).json(&body))
            .await
    }

    /// `GET /api/v1/info` (no token needed).
    pub async fn info(&self) -> Result<GatewayInfo, ApiError> {
        self.send(self.http.get(self.base.endpoint(&["info"])))
            .await
    }

    /// `POST /api/v1/sessions`.
    pub async fn create_session(&self, channel: Option<String>) -> Result<SessionView, ApiError> {
        self.post(&["sessions"], &NewSessionRequest { channel })
            .await
    }

    /// `GET /api/v1/sessions`.
    pub async fn sessions(&self) -> Result<Vec<SessionView>, ApiError> {
        self.get(&["sessions"]).await
    }

    /// `GET /api/v1/sessions/{id}`.
    pub async fn session(&self, id: &str) -> Result<SessionView, ApiError> {
        self.get(&["sessions", id]).await
    }

    /// `POST /api/v1/sessions/{id}/request`: ask the end user for access.
    pub async fn request_remote(&self, id: &str, control: bool) -> Result<SessionView, ApiError> {
        self.post(&["sessions", id, "request"], &RemoteRequest { control })
            .await
    }

    /// `POST /api/v1/sessions/{id}/close`.
    pub async fn close_session(&self, id: &str) -> Result<SessionView, ApiError> {
        self.post(&["sessions", id, "close"], &serde_json::json!({}))
            .await
    }

    /// `GET /api/v1/sessions/{id}/pin`.
    pub async fn pin(&self, id: &str) -> Result<PinView, ApiError> {
        self.get(&["sessions", id, "pin"]).await
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ApiError> {
        let request = self.http.get(self.base.endpoint(segments));
        self.send(self.authorised(request)).await
    }

    /// `GET` with query parameters.
    pub(crate) async fn get_query<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let request = self.http.get(self.base.endpoint(segments)).query(query);
        self.send(self.authorised(request)).await
    }

    /// `PATCH` with a JSON body.
    pub(crate) async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ApiError> {
        let request = self.http.patch(self.base.endpoint(segments)).json(body);
        self.send(self.authorised(request)).await
    }

    /// `DELETE`, expecting an empty answer.
    pub(crate) async fn delete(&self, segments: &[&str]) -> Result<(), ApiError> {
        let request = self.authorised(self.http.delete(self.base.endpoint(segments)));
        self.send_empty(request).await
    }

    /// `POST /api/v1/logout`: the token stops working.
    pub async fn logout(&self) -> Result<(), ApiError> {
        let request = self.authorised(self.http.post(self.base.endpoint(&["logout"])));
        self.send_empty(request).await
    }

    /// Sends a request answered without a body.
    async fn send_empty(&self, request: reqwest::RequestBuilder) -> Result<(), ApiError> {
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        Err(refusal(status.as_u16(), &bytes))
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ApiError> {
        let request = self.http.post(self.base.endpoint(segments)).json(body);
        self.send(self.authorised(request)).await
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            return Err(refusal(status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadAnswer {
            detail: e.to_string(),
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> ApiError {
        // reqwest's own line repeats the URL; the causes say what went wrong.
        let detail = match std::error::Error::source(error) {
            Some(cause) => chain(cause),
            None => chain(error),
        };
        let url = self.base.to_string();
        if detail.contains("certificate") || detail.contains("UnknownIssuer") {
            ApiError::Untrusted { url }
        } else {
            ApiError::Unreachable { url, detail }
        }
    }
}

/// The error of a non-2xx answer: the gateway's `error` text, else a generic line.
fn refusal(status: u16, body: &[u8]) -> ApiError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) if !body.error.trim().is_empty() => {
            body.error.chars().take(MAX_ERROR_CHARS).collect()
        }
        _ => match status {
            401 => "not signed in or the login expired — run `sos-desk login` again".to_string(),
            403 => "not allowed — ask your admin for access".to_string(),
            404 => "not found — check the session id".to_string(),
            _ => format!("the gateway answered HTTP {status} — see its log"),
        },
    };
    ApiError::Refused { status, message }
}

/// An error and its causes on one line (reqwest hides the interesting part in sources).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_shows_the_gateway_error_text() {
        let err = refusal(
            409,
            br#"{"error":"the session is closed - create a new one"}"#,
        );
        assert_eq!(err.to_string(), "the session is closed - create a new one");
        assert!(matches!(err, ApiError::Refused { status: 409, .. }));
    }

    #[test]
    fn refusal_without_json_says_what_to_do() {
        assert!(refusal(401, b"").to_string().contains("sos-desk login"));
        assert!(refusal(502, b"<html>").to_string().contains("502"));
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body = format!(r#"{{"error":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(
            refusal(400, body.as_bytes()).to_string().len(),
            MAX_ERROR_CHARS
        );
    }

    #[test]
    fn debug_of_a_client_hides_the_token() {
        let url = GatewayUrl::parse("https://127.0.0.1:1").unwrap();
        let fp = sos_transport::CertFingerprint::of(b"x");
        let client = ApiClient::new(
            url,
            &Trust::Pinned(vec![fp]),
            Some(Secret::new("tok-secret".into())),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("tok-secret"));
    }
}
