//! The browser viewer over WebTransport (HTTP/3 on its own UDP port).
//!
//! Browsers accept the endpoint without any certificate authority through
//! `serverCertificateHashes`, which Chromium allows only for an ECDSA P-256 certificate
//! valid for at most 14 days. So the endpoint makes its own: valid
//! [`CERT_VALIDITY_DAYS`] days from an hour ago (clock skew), replaced after
//! [`CERT_ROTATE_AFTER_DAYS`] days without disturbing the connections on it; the ticket
//! answer always carries the current certificate's SHA-256.
//!
//! A page opens `https://<console host>:<port>/viewer/<session id>`, then one
//! bidirectional stream for control messages; frames come on unidirectional streams, one
//! per frame, in order (see [`super::protocol`]).

use super::protocol::{FRAME_HEADER_LEN, MAX_BROWSER_MESSAGE};
use super::session::{Inbound, Outbound, serve};
use crate::relay::HELLO_TIMEOUT;
use crate::service::Desk;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wtransport::endpoint::IncomingSession;
use wtransport::endpoint::endpoint_side::Server;
use wtransport::tls::{Certificate, CertificateChain, PrivateKey};
use wtransport::{Endpoint, Identity, ServerConfig};

/// Days a certificate is valid (Chromium's limit for certificate hashes is 14).
pub const CERT_VALIDITY_DAYS: i64 = 13;
/// Days after which a certificate is replaced, well before it expires.
pub const CERT_ROTATE_AFTER_DAYS: u64 = 6;
/// Path prefix of a session's viewer.
pub const PATH_PREFIX: &str = "/viewer/";

/// A certificate made for the endpoint.
pub struct ShortLivedCert {
    identity: Identity,
    /// SHA-256 of its DER.
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for ShortLivedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortLivedCert")
            .field("sha256", &hex::encode(self.sha256))
            .finish_non_exhaustive()
    }
}

/// Makes an ECDSA P-256 certificate for `names`, valid from an hour before `now` for
/// [`CERT_VALIDITY_DAYS`] days.
pub fn short_lived_cert(names: &[String], now: SystemTime) -> anyhow::Result<ShortLivedCert> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    let now = now.duration_since(UNIX_EPOCH)?.as_secs() as i64;
    params.not_before = time::OffsetDateTime::from_unix_timestamp(now - 3600)?;
    params.not_after = params.not_before + time::Duration::days(CERT_VALIDITY_DAYS);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sosdesk browser viewer");
    let cert = params.self_signed(&key)?;
    let sha256: [u8; 32] = Sha256::digest(cert.der()).into();
    let identity = Identity::new(
        CertificateChain::single(Certificate::from_der(cert.der().to_vec())?),
        PrivateKey::from_der_pkcs8(key.serialize_der()),
    );
    Ok(ShortLivedCert { identity, sha256 })
}

fn config(addr: SocketAddr, cert: &ShortLivedCert) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig::builder()
        .with_bind_address(addr)
        .with_identity(cert.identity.clone_identity())
        .keep_alive_interval(Some(Duration::from_secs(5)))
        .max_idle_timeout(Some(Duration::from_secs(30)))?
        .build())
}

/// The bound endpoint and how to renew its certificate.
pub struct WebTransport {
    endpoint: Endpoint<Server>,
    addr: SocketAddr,
    names: Vec<String>,
}

impl WebTransport {
    /// Binds `addr` with a fresh certificate for `names` and offers it through `desk`.
    pub fn bind(desk: &Desk, addr: SocketAddr, names: Vec<String>) -> anyhow::Result<Self> {
        let cert = short_lived_cert(&names, SystemTime::now())?;
        let endpoint = Endpoint::server(config(addr, &cert)?).map_err(|e| {
            anyhow::anyhow!("cannot listen for WebTransport on {addr} (is the port in use?): {e}")
        })?;
        let addr = endpoint.local_addr()?;
        desk.browser.offer_webtransport(addr.port(), cert.sha256);
        Ok(Self {
            endpoint,
            addr,
            names,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts sessions (and renews the certificate) until the task is aborted. Abort it
    /// before [`WebTransport::close`]: accepting on a closed endpoint is not possible.
    pub async fn run(self: Arc<Self>, desk: Arc<Desk>) {
        let renew = tokio::spawn(self.clone().renew(desk.clone()));
        let _renewing = AbortOnDrop(renew);
        loop {
            let incoming = self.endpoint.accept().await;
            tokio::spawn(handle(desk.clone(), incoming));
        }
    }

    async fn renew(self: Arc<Self>, desk: Arc<Desk>) {
        loop {
            tokio::time::sleep(Duration::from_secs(CERT_ROTATE_AFTER_DAYS * 86_400)).await;
            let renewed = short_lived_cert(&self.names, SystemTime::now()).and_then(|cert| {
                self.endpoint
                    .reload_config(config(self.addr, &cert)?, false)?;
                Ok(cert)
            });
            match renewed {
                Ok(cert) => {
                    desk.browser
                        .offer_webtransport(self.addr.port(), cert.sha256);
                    tracing::info!("WebTransport certificate renewed");
                }
                // The old one stays valid for days: try again in an hour.
                Err(e) => {
                    tracing::error!("cannot renew the WebTransport certificate: {e}");
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
        }
    }

    /// Closes every connection.
    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"gateway shutting down");
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A session id as the gateway makes them (hex), nothing else.
fn session_of_path(path: &str) -> Option<&str> {
    path.strip_prefix(PATH_PREFIX)
        .filter(|id| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn handle(desk: Arc<Desk>, incoming: IncomingSession) {
    let Ok(Ok(request)) = tokio::time::timeout(HELLO_TIMEOUT, incoming).await else {
        return;
    };
    let Some(session) = session_of_path(request.path()).map(str::to_string) else {
        request.not_found().await;
        return;
    };
    let Ok(connection) = request.accept().await else {
        return;
    };
    let Ok(Ok((send, recv))) = tokio::time::timeout(HELLO_TIMEOUT, connection.accept_bi()).await
    else {
        connection.close(2u32.into(), b"no control stream");
        return;
    };
    let outbound = WtOutbound { connection, send };
    serve(desk, session, None, WtInbound { recv }, outbound).await;
}

struct WtInbound {
    recv: wtransport::RecvStream,
}

impl Inbound for WtInbound {
    async fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        let mut prefix = [0u8; 4];
        // The tokio traits' versions: their errors are `io::Error`.
        match AsyncReadExt::read_exact(&mut self.recv, &mut prefix).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(Err(e)),
        }
        let len = u32::from_be_bytes(prefix) as usize;
        if len > MAX_BROWSER_MESSAGE {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("message of {len} bytes exceeds {MAX_BROWSER_MESSAGE}"),
            )));
        }
        let mut body = vec![0u8; len];
        Some(
            AsyncReadExt::read_exact(&mut self.recv, &mut body)
                .await
                .map(|_| body),
        )
    }
}

struct WtOutbound {
    connection: wtransport::Connection,
    send: wtransport::SendStream,
}

fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e.to_string())
}

impl Outbound for WtOutbound {
    async fn control(&mut self, json: String) -> io::Result<()> {
        let len = u32::try_from(json.len()).map_err(io_error)?;
        let mut message = Vec::with_capacity(4 + json.len());
        message.extend_from_slice(&len.to_be_bytes());
        message.extend_from_slice(json.as_bytes());
        AsyncWriteExt::write_all(&mut self.send, &message).await
    }

    async fn frame(&mut self, header: [u8; FRAME_HEADER_LEN], payload: Bytes) -> io::Result<()> {
        let opening = self.connection.open_uni().await.map_err(io_error)?;
        let mut stream = opening.await.map_err(io_error)?;
        stream.write_all(&header).await.map_err(io_error)?;
        stream.write_all(&payload).await.map_err(io_error)?;
        stream.finish().await.map_err(io_error)
    }

    async fn close(mut self) {
        let _ = self.send.finish().await;
        // Give the page a moment to read the last message before the session goes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.connection.close(0u32.into(), b"session ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_is_fresh_and_offered_by_its_hash() {
        // The browser's rules (ECDSA P-256, at most 14 days, valid now) are checked by a
        // real WebTransport client in the gateway's browser viewer tests.
        let now = SystemTime::now();
        let cert = short_lived_cert(&["localhost".into()], now).unwrap();
        let der = cert.identity.certificate_chain().as_slice()[0]
            .der()
            .to_vec();
        assert_eq!(cert.sha256, <[u8; 32]>::from(Sha256::digest(&der)));
        let other = short_lived_cert(&["localhost".into()], now).unwrap();
        assert_ne!(cert.sha256, other.sha256, "a fresh key each time");
        assert!(
            !format!("{cert:?}").contains("PRIVATE"),
            "the key is not printed"
        );
    }

    #[test]
    fn only_session_paths_are_served() {
        assert_eq!(session_of_path("/viewer/0a1b2c"), Some("0a1b2c"));
        for path in ["/viewer/", "/viewer/../x", "/other/0a", "/viewer/0a?x=1"] {
            assert_eq!(session_of_path(path), None, "{path}");
        }
    }
}
