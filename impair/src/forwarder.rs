//! The IO shell: sockets and threads around two [`Schedule`]s.
//!
//! Each direction has a receiving thread that asks its schedule what to do with each
//! datagram and a sending thread that waits until the due time; a clean direction sends
//! from the receiving thread at once.

use crate::schedule::{Impairment, Schedule};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the threads look at the stop flag, and how soon the upstream reader moves to
/// a socket opened by [`Forwarder::rebind`].
const POLL: Duration = Duration::from_millis(20);
/// Larger than any UDP datagram.
const DATAGRAM: usize = 65_536;

/// The impairments of both directions and the seed their decisions are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// From the client to the upstream.
    pub upward: Impairment,
    /// From the upstream back to the client.
    pub downward: Impairment,
    /// Seed of the decisions (each direction derives its own).
    pub seed: u64,
}

impl Link {
    /// The same impairment both ways.
    pub fn symmetric(impairment: Impairment, seed: u64) -> Self {
        Self {
            upward: impairment,
            downward: impairment,
            seed,
        }
    }
}

/// What a forwarder has done so far.
#[derive(Debug, Default)]
struct Counters {
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    dropped_up: AtomicU64,
    dropped_down: AtomicU64,
}

/// The socket the forwarder sends to the upstream from; replaced by a rebind.
type Current = Arc<Mutex<Arc<UdpSocket>>>;
/// Receives one datagram into the buffer: its length, or `None` after a poll timeout.
type In = Box<dyn FnMut(&mut [u8]) -> Option<usize> + Send>;
/// Sends one datagram on (a lost send is a lost datagram, as on a network).
type Out = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// A running forwarder; dropping it stops its threads.
pub struct Forwarder {
    address: SocketAddr,
    upstream: SocketAddr,
    back: Current,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Forwarder {
    /// Listens on a free loopback port and forwards to `upstream` untouched.
    pub fn start(upstream: SocketAddr) -> io::Result<Self> {
        Self::impaired(upstream, Link::default())
    }

    /// Listens on a free loopback port and forwards to `upstream` (a loopback address)
    /// through `link`.
    pub fn impaired(upstream: SocketAddr, link: Link) -> io::Result<Self> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the impairing forwarder works on loopback only, not {upstream}"),
            ));
        }
        let front = Arc::new(bind_loopback(upstream)?);
        front.set_read_timeout(Some(POLL))?;
        let address = front.local_addr()?;
        let from = bind_loopback(upstream)?.local_addr()?;
        let from = SocketAddr::new(from.ip(), 0);
        let back: Current = Arc::new(Mutex::new(Arc::new(connect_back(from, upstream)?)));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicBool::new(false));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();

        let mut threads = Vec::new();
        let up_out: Out = {
            let back = back.clone();
            Arc::new(move |datagram| {
                let socket = current(&back);
                let _lost = socket.send(datagram);
            })
        };
        let down_out: Out = {
            let (front, client) = (front.clone(), client.clone());
            Arc::new(move |datagram| {
                let to = *client.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(to) = to {
                    let _lost = front.send_to(datagram, to);
                }
            })
        };
        let up_in: In = {
            let (front, client) = (front.clone(), client.clone());
            Box::new(move |buffer| {
                let (length, from) = front.recv_from(buffer).ok()?;
                *client.lock().unwrap_or_else(PoisonError::into_inner) = Some(from);
                Some(length)
            })
        };
        let down_in: In = {
            let back = back.clone();
            Box::new(move |buffer| current(&back).recv(buffer).ok())
        };
        let directions = [
            ("impair-up", link.upward, link.seed, up_in, up_out, true),
            (
                "impair-down",
                link.downward,
                // A different stream of decisions from the other direction's.
                link.seed ^ 0x9e37_79b9_7f4a_7c15,
                down_in,
                down_out,
                false,
            ),
        ];
        for (name, impairment, seed, receive, send, upward) in directions {
            let direction = Direction {
                schedule: Schedule::new(impairment, seed),
                clean: impairment.is_clean(),
                counters: counters.clone(),
                upward,
                stop: stop.clone(),
                cut: cut.clone(),
            };
            threads.extend(direction.spawn(name, receive, send)?);
        }
        Ok(Self {
            address,
            upstream,
            back,
            counters,
            stop,
            cut,
            threads,
        })
    }

    /// Cuts the link (`true`): from now on every datagram either way is dropped, as in a
    /// network outage, until it is restored (`false`).
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::Relaxed);
    }

    /// Where clients send to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// From now on datagrams reach the upstream from a new source port, as after a NAT
    /// rebinding; answers sent to the old port are lost. Returns the new source address.
    pub fn rebind(&self) -> io::Result<SocketAddr> {
        let ip = current(&self.back).local_addr()?.ip();
        self.rebind_from(ip)
    }

    /// From now on datagrams reach the upstream from `ip` (another loopback address such as
    /// 127.0.0.2), as after a move to another network. Returns the new source address.
    pub fn rebind_from(&self, ip: IpAddr) -> io::Result<SocketAddr> {
        if !ip.is_loopback() || ip.is_ipv6() != self.upstream.is_ipv6() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot send to {} from {ip}: loopback of the same family only",
                    self.upstream
                ),
            ));
        }
        let socket = Arc::new(connect_back(SocketAddr::new(ip, 0), self.upstream)?);
        let address = socket.local_addr()?;
        *self.back.lock().unwrap_or_else(PoisonError::into_inner) = socket;
        Ok(address)
    }

    /// Bytes forwarded from the client to the upstream so far.
    pub fn to_upstream(&self) -> u64 {
        self.counters.bytes_up.load(Ordering::Relaxed)
    }

    /// Bytes forwarded from the upstream to the client so far.
    pub fn to_client(&self) -> u64 {
        self.counters.bytes_down.load(Ordering::Relaxed)
    }

    /// Datagrams dropped so far: (client to upstream, upstream to client).
    pub fn dropped(&self) -> (u64, u64) {
        (
            self.counters.dropped_up.load(Ordering::Relaxed),
            self.counters.dropped_down.load(Ordering::Relaxed),
        )
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

/// One direction's state, moved into its threads.
struct Direction {
    schedule: Schedule,
    clean: bool,
    counters: Arc<Counters>,
    upward: bool,
    stop: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
}

impl Direction {
    fn spawn(mut self, name: &str, mut receive: In, send: Out) -> io::Result<Vec<JoinHandle<()>>> {
        let (queue, queued) = channel::<(Instant, Vec<u8>)>();
        let mut threads = Vec::new();
        if !self.clean {
            let (send, stop) = (send.clone(), self.stop.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("{name}-send"))
                    .spawn(move || deliver(&queued, &*send, &stop))?,
            );
        }
        threads.push(
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    let mut buffer = vec![0_u8; DATAGRAM];
                    while !self.stop.load(Ordering::Relaxed) {
                        let Some(length) = receive(&mut buffer) else {
                            continue;
                        };
                        let datagram = &buffer[..length];
                        if self.cut.load(Ordering::Relaxed) {
                            self.count_drop();
                            continue;
                        }
                        let Some(due) = self.schedule.admit(Instant::now(), length) else {
                            self.count_drop();
                            continue;
                        };
                        // Counted before it leaves, so a reader that got it sees the count.
                        self.count_bytes(length);
                        if self.clean {
                            send(datagram);
                        } else if queue.send((due, datagram.to_vec())).is_err() {
                            break;
                        }
                    }
                })?,
        );
        Ok(threads)
    }

    fn count_drop(&self) {
        let counter = if self.upward {
            &self.counters.dropped_up
        } else {
            &self.counters.dropped_down
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn count_bytes(&self, length: usize) {
        let counter = if self.upward {
            &self.counters.bytes_up
        } else {
            &self.counters.bytes_down
        };
        counter.fetch_add(length as u64, Ordering::Relaxed);
    }
}

/// Sends queued datagrams when they are due, in order.
fn deliver(queued: &Receiver<(Instant, Vec<u8>)>, send: &dyn Fn(&[u8]), stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let (due, datagram) = match queued.recv_timeout(POLL) {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let wait = due.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        send(&datagram);
    }
}

fn current(back: &Current) -> Arc<UdpSocket> {
    back.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// A socket on a free loopback port of `peer`'s family.
fn bind_loopback(peer: SocketAddr) -> io::Result<UdpSocket> {
    if peer.is_ipv6() {
        UdpSocket::bind((Ipv6Addr::LOCALHOST, 0))
    } else {
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
    }
}

fn connect_back(from: SocketAddr, upstream: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(from)?;
    socket.connect(upstream)?;
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn server() -> UdpSocket {
        let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        server
    }

    fn client() -> UdpSocket {
        server()
    }

    #[test]
    fn datagrams_go_both_ways_and_are_counted() {
        let server = server();
        let forwarder = Forwarder::start(server.local_addr().unwrap()).unwrap();
        let client = client();
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
    fn a_cut_link_drops_everything_until_restored() {
        let server = server();
        let forwarder = Forwarder::start(server.local_addr().unwrap()).unwrap();
        let client = client();
        let mut buffer = [0_u8; 64];
        client.send_to(b"before", forwarder.address()).unwrap();
        let (_, from) = server.recv_from(&mut buffer).unwrap();
        forwarder.set_cut(true);
        client.send_to(b"during", forwarder.address()).unwrap();
        server.send_to(b"during", from).unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(server.recv_from(&mut buffer).is_err(), "nothing gets up");
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(client.recv(&mut buffer).is_err(), "nothing gets down");
        assert_eq!(forwarder.dropped(), (1, 1));
        forwarder.set_cut(false);
        client.send_to(b"after", forwarder.address()).unwrap();
        let (length, _) = server.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"after");
    }

    #[test]
    fn a_rebind_changes_the_source_port_the_upstream_sees() {
        let server = server();
        let forwarder = Forwarder::start(server.local_addr().unwrap()).unwrap();
        let client = client();
        let mut buffer = [0_u8; 64];
        client.send_to(b"one", forwarder.address()).unwrap();
        let (_, before) = server.recv_from(&mut buffer).unwrap();
        let announced = forwarder.rebind().unwrap();
        client.send_to(b"two", forwarder.address()).unwrap();
        let (length, after) = server.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"two");
        assert_ne!(before.port(), after.port());
        assert_eq!(after, announced);
        server.send_to(b"back", after).unwrap();
        let length = client.recv(&mut buffer).unwrap();
        assert_eq!(
            &buffer[..length],
            b"back",
            "answers to the new port come through"
        );
    }

    #[test]
    fn a_rebind_from_another_loopback_address_moves_the_source() {
        let server = server();
        let forwarder = Forwarder::start(server.local_addr().unwrap()).unwrap();
        let client = client();
        let moved = forwarder
            .rebind_from(Ipv4Addr::new(127, 0, 0, 2).into())
            .unwrap();
        client.send_to(b"moved", forwarder.address()).unwrap();
        let mut buffer = [0_u8; 64];
        let (_, from) = server.recv_from(&mut buffer).unwrap();
        assert_eq!(from, moved);
        assert_eq!(from.ip(), Ipv4Addr::new(127, 0, 0, 2));
        assert!(
            forwarder
                .rebind_from(Ipv4Addr::new(192, 0, 2, 1).into())
                .is_err()
        );
    }

    #[test]
    fn a_lossy_delayed_link_drops_some_and_delays_the_rest() {
        let server = server();
        let link = Link::symmetric(
            Impairment::loss(50).delayed(Duration::from_millis(30), Duration::ZERO),
            11,
        );
        let forwarder = Forwarder::impaired(server.local_addr().unwrap(), link).unwrap();
        let client = client();
        let sent_at = Instant::now();
        for index in 0..200_u8 {
            client.send_to(&[index], forwarder.address()).unwrap();
        }
        let mut buffer = [0_u8; 8];
        let mut received = Vec::new();
        server
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        while let Ok((length, _)) = server.recv_from(&mut buffer) {
            assert_eq!(length, 1);
            if received.is_empty() {
                assert!(sent_at.elapsed() >= Duration::from_millis(30), "delayed");
            }
            received.push(buffer[0]);
        }
        let (dropped, _) = forwarder.dropped();
        assert_eq!(received.len() as u64 + dropped, 200);
        assert!((60..=140).contains(&received.len()), "{}", received.len());
        assert!(
            received.windows(2).all(|pair| pair[0] < pair[1]),
            "in order"
        );
    }

    #[test]
    fn a_rate_limited_link_spaces_a_burst_out_and_drops_what_overflows_its_queue() {
        let server = server();
        // 1 Mbit/s: a 1250-byte datagram takes 10 ms; the queue holds 200 ms, about 20.
        let link = Link::symmetric(
            Impairment::rate_limited(1_000_000, Duration::from_millis(200)),
            13,
        );
        let forwarder = Forwarder::impaired(server.local_addr().unwrap(), link).unwrap();
        let client = client();
        let sent_at = Instant::now();
        for index in 0..60_u8 {
            client.send_to(&[index; 1250], forwarder.address()).unwrap();
        }
        let mut buffer = [0_u8; 2048];
        let mut received = Vec::new();
        server
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        while let Ok((length, _)) = server.recv_from(&mut buffer) {
            assert_eq!(length, 1250);
            received.push((buffer[0], sent_at.elapsed()));
        }
        let (dropped, _) = forwarder.dropped();
        // The kernel may drop a few of the burst itself, before the forwarder sees them.
        assert!(received.len() as u64 + dropped <= 60);
        assert!(dropped >= 10, "{dropped} dropped");
        // A slow test machine may hand the burst over in pieces, letting a few more in.
        assert!((15..=40).contains(&received.len()), "{}", received.len());
        let (_, last) = received.last().unwrap();
        let spread = *last - received[0].1;
        let expected = Duration::from_millis(10) * (received.len() as u32 - 1);
        assert!(
            spread >= expected * 9 / 10,
            "{spread:?} for {}",
            received.len()
        );
        assert!(
            received.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "in order"
        );
    }

    #[test]
    fn only_loopback_upstreams_are_accepted() {
        let far: SocketAddr = "192.0.2.1:4433".parse().unwrap();
        assert!(Forwarder::start(far).is_err());
    }
}
