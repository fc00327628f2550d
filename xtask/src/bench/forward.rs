//! Forwarders on loopback that count the bytes they carry: a UDP one between the viewer and
//! the gateway (QUIC), a TCP one between the two ffmpegs of the x264 peer (MPEG-TS), so
//! both pipelines' bytes on the wire are counted as payload above IP and UDP/TCP headers.
//!
//! Contract: forwards every datagram (or byte) as is, in order per direction, adding no
//! delay beyond a thread wake-up; UDP answers go back to the last client address seen.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// How often the threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Larger than any UDP datagram.
const DATAGRAM: usize = 65_536;

/// Bytes carried so far.
#[derive(Debug, Default)]
struct Counters {
    to_upstream: AtomicU64,
    to_client: AtomicU64,
}

/// A running forwarder; dropping it stops its threads.
pub struct Forwarder {
    address: SocketAddr,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Forwarder {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<Self> {
        let front = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .context("the bench's UDP forwarder could not bind a loopback port")?;
        let back = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .context("the bench's UDP forwarder could not bind a loopback port")?;
        back.connect(upstream)
            .with_context(|| format!("the bench's UDP forwarder cannot reach {upstream}"))?;
        for socket in [&front, &back] {
            socket.set_read_timeout(Some(POLL))?;
        }
        let address = front.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let (front, back) = (Arc::new(front), Arc::new(back));
        let upward = {
            let (front, back, client, counters, stop) = (
                front.clone(),
                back.clone(),
                client.clone(),
                counters.clone(),
                stop.clone(),
            );
            std::thread::Builder::new()
                .name("bench-forward-up".into())
                .spawn(move || {
                    let mut buffer = vec![0_u8; DATAGRAM];
                    while !stop.load(Ordering::Relaxed) {
                        let Ok((length, from)) = front.recv_from(&mut buffer) else {
                            continue;
                        };
                        *client.lock().unwrap_or_else(PoisonError::into_inner) = Some(from);
                        // Counted before it leaves, so a reader that got it sees the count.
                        counters
                            .to_upstream
                            .fetch_add(length as u64, Ordering::Relaxed);
                        let _lost = back.send(&buffer[..length]);
                    }
                })?
        };
        let downward = {
            let counters = counters.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("bench-forward-down".into())
                .spawn(move || {
                    let mut buffer = vec![0_u8; DATAGRAM];
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(length) = back.recv(&mut buffer) else {
                            continue;
                        };
                        let to = *client.lock().unwrap_or_else(PoisonError::into_inner);
                        if let Some(to) = to {
                            counters
                                .to_client
                                .fetch_add(length as u64, Ordering::Relaxed);
                            let _lost = front.send_to(&buffer[..length], to);
                        }
                    }
                })?
        };
        Ok(Self {
            address,
            counters,
            stop,
            threads: vec![upward, downward],
        })
    }

    /// Where clients send to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Bytes forwarded from the client to the upstream so far.
    #[cfg(test)]
    pub fn to_upstream(&self) -> u64 {
        self.counters.to_upstream.load(Ordering::Relaxed)
    }

    /// Bytes forwarded from the upstream to the client so far.
    pub fn to_client(&self) -> u64 {
        self.counters.to_client.load(Ordering::Relaxed)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

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
                    let mut buffer = vec![0_u8; DATAGRAM];
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
    fn datagrams_go_both_ways_and_are_counted() {
        let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let forwarder = Forwarder::start(server.local_addr().unwrap()).unwrap();
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.send_to(b"hello", forwarder.address()).unwrap();
        let mut buffer = [0_u8; 64];
        let (length, from) = server.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"hello");
        server.send_to(b"answer!", from).unwrap();
        let length = client.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"answer!");
        assert_eq!(forwarder.to_upstream(), 5);
        assert_eq!(forwarder.to_client(), 7);
    }

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
