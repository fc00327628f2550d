//! A TCP relay on loopback that counts the bytes it carries, between the two ffmpegs of the
//! x264 peer (MPEG-TS), so its bytes on the wire are counted as payload above IP and TCP
//! headers like sosdesk's (counted by the clean [`sos_impair::Forwarder`], which the
//! lossy-link tests share).
//!
//! Contract: forwards every byte as is, in order, adding no delay beyond a thread wake-up.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

/// Bytes read at a time.
const CHUNK: usize = 65_536;

/// A one-way TCP relay for one connection: whatever connects to [`TcpRelay::address`] is
/// copied to `upstream`, counted.
pub struct TcpRelay {
    address: SocketAddr,
    carried: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl TcpRelay {
    /// Listens on a free loopback port; the first connection is relayed to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("the bench's TCP relay could not bind a loopback port")?;
        let address = listener.local_addr()?;
        let carried = Arc::new(AtomicU64::new(0));
        let thread = {
            let carried = carried.clone();
            std::thread::Builder::new()
                .name("bench-relay".into())
                .spawn(move || {
                    let Ok((mut from, _)) = listener.accept() else {
                        return;
                    };
                    let Ok(mut to) = TcpStream::connect(upstream) else {
                        return;
                    };
                    let _ = from.set_nodelay(true);
                    let _ = to.set_nodelay(true);
                    let mut buffer = vec![0_u8; CHUNK];
                    // Ends when either side closes.
                    while let Ok(length) = from.read(&mut buffer) {
                        if length == 0 {
                            break;
                        }
                        carried.fetch_add(length as u64, Ordering::Relaxed);
                        if to.write_all(&buffer[..length]).is_err() {
                            break;
                        }
                    }
                })?
        };
        Ok(Self {
            address,
            carried,
            thread: Some(thread),
        })
    }

    /// Where the sender connects to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Bytes relayed so far.
    pub fn carried(&self) -> u64 {
        self.carried.load(Ordering::Relaxed)
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        // The thread ends once the sender (stopped before this) and the receiver close; a
        // relay that never got a connection is unblocked by connecting to it once.
        if let Some(thread) = self.thread.take() {
            if !thread.is_finished() {
                let _ = TcpStream::connect(self.address);
            }
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_bytes_are_relayed_and_counted() {
        let server = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let relay = TcpRelay::start(server.local_addr().unwrap()).unwrap();
        let mut client = TcpStream::connect(relay.address()).unwrap();
        client.write_all(b"mpeg-ts bytes").unwrap();
        drop(client);
        let (mut accepted, _) = server.accept().unwrap();
        let mut received = Vec::new();
        accepted.read_to_end(&mut received).unwrap();
        assert_eq!(received, b"mpeg-ts bytes");
        assert_eq!(relay.carried(), 13);
    }
}
