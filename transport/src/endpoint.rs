//! QUIC endpoints for the gateway and its clients.
//!
//! The one place that sets transport parameters (idle timeout, keep-alive, windows sized
//! for video frames) so both ends agree.

use crate::ALPN;
use crate::tls::{ServerIdentity, TlsError, Trust, client_config};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Failures opening endpoints or connecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// TLS configuration failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// rustls settings not usable for QUIC.
    #[error("TLS settings not usable for QUIC: {0}")]
    Quic(String),
    /// Binding the UDP socket failed.
    #[error("cannot open UDP socket on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The gateway address could not be resolved.
    #[error("cannot find the gateway at {0} — check the address")]
    Resolve(String),
    /// Connecting failed before the handshake.
    #[error("cannot reach the gateway at {addr}: {detail}")]
    Connect {
        /// Address.
        addr: String,
        /// Cause.
        detail: String,
    },
}

fn transport() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_secs(4)));
    if let Ok(idle) = quinn::IdleTimeout::try_from(Duration::from_secs(20)) {
        t.max_idle_timeout(Some(idle));
    }
    t.max_concurrent_uni_streams(64u32.into());
    t.max_concurrent_bidi_streams(8u32.into());
    t.stream_receive_window((8u32 * 1024 * 1024).into());
    t.receive_window((32u32 * 1024 * 1024).into());
    t.send_window(32 * 1024 * 1024);
    t
}

/// Opens the gateway's QUIC endpoint on `addr`.
pub fn server(
    addr: SocketAddr,
    identity: &ServerIdentity,
) -> Result<quinn::Endpoint, EndpointError> {
    let crypto = identity.server_config(&[ALPN])?;
    let crypto = QuicServerConfig::try_from(Arc::new(crypto))
        .map_err(|e| EndpointError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport()));
    quinn::Endpoint::server(config, addr).map_err(|source| EndpointError::Bind { addr, source })
}

/// Opens the gateway's QUIC endpoint with a stateless-reset key that survives restarts.
///
/// After a crash or restart the new process answers packets of connections it no longer
/// knows with a valid stateless reset, so clients learn at once that they must reconnect
/// instead of waiting for the idle timeout.
pub fn server_with_reset_key(
    addr: SocketAddr,
    identity: &ServerIdentity,
    reset_key: &[u8; 32],
) -> Result<quinn::Endpoint, EndpointError> {
    let crypto = identity.server_config(&[ALPN])?;
    let crypto = QuicServerConfig::try_from(Arc::new(crypto))
        .map_err(|e| EndpointError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, reset_key);
    let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(key));
    // Connection ids carry a check keyed like the resets, so a restarted gateway still
    // recognises the ids it issued before and answers them with a reset.
    let mut cid_key = [0u8; 8];
    cid_key.copy_from_slice(&reset_key[24..]);
    let cid_key = u64::from_le_bytes(cid_key);
    endpoint_config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
    });
    let socket = bind_udp(addr).map_err(|source| EndpointError::Bind { addr, source })?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| EndpointError::Quic("no async runtime for QUIC".into()))?;
    quinn::Endpoint::new(endpoint_config, Some(config), socket, runtime)
        .map_err(|source| EndpointError::Bind { addr, source })
}

/// Socket buffer the gateway asks the kernel for, each way. Every app and viewer shares
/// the gateway's one UDP socket: with the kernel's default (about 200 KiB) a few
/// milliseconds of scheduling delay under load overflow it, and each dropped datagram
/// costs its frame a retransmission. The kernel caps the request at `net.core.rmem_max` /
/// `wmem_max`; raising those lets the gateway have it all.
pub const GATEWAY_SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// Binds the gateway's UDP socket on `addr` with [`GATEWAY_SOCKET_BUFFER`] asked for (what
/// the kernel grants is logged; less is not an error).
fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for (what, result) in [
        (
            "receive",
            socket.set_recv_buffer_size(GATEWAY_SOCKET_BUFFER),
        ),
        ("send", socket.set_send_buffer_size(GATEWAY_SOCKET_BUFFER)),
    ] {
        if let Err(error) = result {
            tracing::warn!(%error, "cannot size the QUIC socket's {what} buffer");
        }
    }
    socket.bind(&addr.into())?;
    let (receive, send) = (socket.recv_buffer_size()?, socket.send_buffer_size()?);
    tracing::debug!(receive, send, "QUIC socket buffers");
    if receive < GATEWAY_SOCKET_BUFFER {
        tracing::info!(
            granted = receive,
            wanted = GATEWAY_SOCKET_BUFFER,
            "the kernel gave the QUIC socket a smaller receive buffer than asked (raise net.core.rmem_max for heavy load)"
        );
    }
    Ok(socket.into())
}

/// A client endpoint on an ephemeral port of the right address family, configured to
/// trust the gateway as `trust` says.
pub fn client(remote: SocketAddr, trust: &Trust) -> Result<quinn::Endpoint, EndpointError> {
    let bind: SocketAddr = if remote.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let crypto = client_config(trust, &[ALPN])?;
    let crypto = QuicClientConfig::try_from(Arc::new(crypto))
        .map_err(|e| EndpointError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport()));
    let mut endpoint = quinn::Endpoint::client(bind)
        .map_err(|source| EndpointError::Bind { addr: bind, source })?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

/// Resolves `host:port` (IP literal or name) to one socket address.
pub async fn resolve(address: &str) -> Result<(SocketAddr, String), EndpointError> {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .ok_or_else(|| EndpointError::Resolve(address.to_string()))?
        .to_string();
    let mut addrs = tokio::net::lookup_host(address)
        .await
        .map_err(|_| EndpointError::Resolve(address.to_string()))?;
    let addr = addrs
        .next()
        .ok_or_else(|| EndpointError::Resolve(address.to_string()))?;
    Ok((addr, host))
}

/// Connects to the gateway at `address` (`host:port`), verifying it as `trust` says.
pub async fn connect(
    address: &str,
    trust: &Trust,
) -> Result<(quinn::Endpoint, quinn::Connection), EndpointError> {
    let (addr, host) = resolve(address).await?;
    let endpoint = client(addr, trust)?;
    let server_name = if host.is_empty() {
        "localhost"
    } else {
        host.as_str()
    };
    let connecting = endpoint
        .connect(addr, server_name)
        .map_err(|e| EndpointError::Connect {
            addr: address.to_string(),
            detail: e.to_string(),
        })?;
    let connection = connecting.await.map_err(|e| EndpointError::Connect {
        addr: address.to_string(),
        detail: describe(&e),
    })?;
    Ok((endpoint, connection))
}

/// Reads and drops, until `connection` ends, the datagrams the gateway sends an app that
/// streams: their content is nothing, their packets carry QUIC's acknowledgements of the
/// app's frames, repeated (see the gateway's relay). Needs a Tokio runtime.
pub fn discard_ack_carriers(connection: &quinn::Connection) {
    let connection = connection.clone();
    tokio::spawn(async move { while connection.read_datagram().await.is_ok() {} });
}

fn describe(error: &quinn::ConnectionError) -> String {
    match error {
        quinn::ConnectionError::TimedOut => {
            "no answer (is the gateway running and UDP open?)".into()
        }
        quinn::ConnectionError::TransportError(e) if e.to_string().contains("certificate") => {
            format!("the gateway's certificate is not the expected one, refusing to connect ({e})")
        }
        other => other.to_string(),
    }
}
