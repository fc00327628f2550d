//! Limits on PIN guessing, without IO: fed with the source address and `now`.
//!
//! Per source address: `per_ip_failures` wrong PINs within `window` block the address for
//! `block`, doubling with each repeat (capped at `max_block`). Per network (/24 for IPv4,
//! /56 for IPv6): `per_net_failures` within `window` block the network the same way. Over
//! the whole gateway: `global_failures` within `window` switch PIN registration off
//! (link-only) until the window passes. Memory is bounded: at most `max_tracked` entries are
//! kept, the stalest dropped first.

use std::collections::HashMap;
use std::net::IpAddr;

/// Seconds since the Unix epoch.
pub type UnixSeconds = i64;

/// The limits (all configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Counting window, seconds.
    pub window: i64,
    /// Wrong PINs per address within the window before a block.
    pub per_ip_failures: u32,
    /// Wrong PINs per network within the window before a block.
    pub per_net_failures: u32,
    /// Wrong PINs gateway-wide within the window before link-only mode.
    pub global_failures: u32,
    /// First block, seconds.
    pub block: i64,
    /// Longest block, seconds.
    pub max_block: i64,
    /// Most addresses and networks remembered.
    pub max_tracked: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            window: 600,
            per_ip_failures: 5,
            per_net_failures: 50,
            global_failures: 2_000,
            block: 900,
            max_block: 86_400,
            max_tracked: 100_000,
        }
    }
}

/// Why a registration attempt is not even looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// This address or network guessed too often; blocked until the given time.
    Until(UnixSeconds),
    /// Too many wrong PINs overall: only links work for now.
    LinkOnly,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    window_start: UnixSeconds,
    blocked_until: UnixSeconds,
    blocks: u32,
    last_seen: UnixSeconds,
}

impl Entry {
    fn fail(&mut self, now: UnixSeconds, threshold: u32, limits: &Limits) -> bool {
        if now - self.window_start >= limits.window {
            self.window_start = now;
            self.failures = 0;
        }
        self.failures += 1;
        self.last_seen = now;
        if self.failures >= threshold {
            let factor = 1i64 << self.blocks.min(20);
            self.blocked_until = now + (limits.block.saturating_mul(factor)).min(limits.max_block);
            self.blocks += 1;
            self.failures = 0;
            self.window_start = now;
            return true;
        }
        false
    }
}

/// What the limiter remembers.
#[derive(Debug, Default)]
pub struct PinLimiter {
    limits: Limits,
    addresses: HashMap<IpAddr, Entry>,
    networks: HashMap<IpAddr, Entry>,
    global: Entry,
    link_only_until: UnixSeconds,
}

/// The network an address belongs to for budgeting: its /24 or /56.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[7..].iter_mut().for_each(|b| *b = 0);
            IpAddr::from(o)
        }
    }
}

impl PinLimiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Whether an attempt from `ip` may be looked at now.
    pub fn check(&self, ip: IpAddr, now: UnixSeconds) -> Result<(), Blocked> {
        let until = [
            self.addresses.get(&ip).map_or(0, |e| e.blocked_until),
            self.networks
                .get(&network_of(ip))
                .map_or(0, |e| e.blocked_until),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if now < until {
            return Err(Blocked::Until(until));
        }
        if now < self.link_only_until {
            return Err(Blocked::LinkOnly);
        }
        Ok(())
    }

    /// Until when PIN registration is off gateway-wide (links still work), if it is at `now`.
    pub fn link_only_until(&self, now: UnixSeconds) -> Option<UnixSeconds> {
        (now < self.link_only_until).then_some(self.link_only_until)
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Records a wrong PIN from `ip`; returns true when this switched the gateway to
    /// link-only registration (admins are warned).
    pub fn failure(&mut self, ip: IpAddr, now: UnixSeconds) -> bool {
        let limits = self.limits;
        self.addresses
            .entry(ip)
            .or_default()
            .fail(now, limits.per_ip_failures, &limits);
        self.networks.entry(network_of(ip)).or_default().fail(
            now,
            limits.per_net_failures,
            &limits,
        );
        let mut switched = false;
        if self.global.fail(now, limits.global_failures, &limits) {
            self.link_only_until = now + limits.window;
            switched = true;
        }
        self.evict(now);
        switched
    }

    fn evict(&mut self, now: UnixSeconds) {
        let max = self.limits.max_tracked;
        for map in [&mut self.addresses, &mut self.networks] {
            if map.len() > max {
                map.retain(|_, e| e.blocked_until > now || now - e.last_seen < 600);
            }
            while map.len() > max {
                let Some(stalest) = map.iter().min_by_key(|(_, e)| e.last_seen).map(|(k, _)| *k)
                else {
                    break;
                };
                map.remove(&stalest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn five_wrong_pins_block_an_address_for_fifteen_minutes_then_doubling() {
        let mut l = PinLimiter::new(Limits::default());
        let a = ip("192.0.2.7");
        for i in 0..4 {
            l.failure(a, i);
            assert_eq!(l.check(a, i), Ok(()));
        }
        l.failure(a, 4);
        assert_eq!(l.check(a, 5), Err(Blocked::Until(4 + 900)));
        assert_eq!(
            l.check(ip("192.0.2.8"), 5),
            Ok(()),
            "a neighbour is not blocked"
        );
        assert_eq!(l.check(a, 904), Ok(()));
        for i in 0..5 {
            l.failure(a, 1000 + i);
        }
        assert_eq!(
            l.check(a, 1005),
            Err(Blocked::Until(1004 + 1800)),
            "doubled"
        );
    }

    #[test]
    fn blocks_are_capped_at_a_day() {
        let mut l = PinLimiter::new(Limits::default());
        let a = ip("2001:db8::1");
        let mut now = 0;
        for _ in 0..12 {
            for _ in 0..5 {
                l.failure(a, now);
            }
            let Err(Blocked::Until(until)) = l.check(a, now) else {
                panic!("blocked");
            };
            assert!(until - now <= 86_400);
            now = until;
        }
    }

    #[test]
    fn a_network_has_its_own_budget() {
        let mut l = PinLimiter::new(Limits {
            per_net_failures: 10,
            ..Limits::default()
        });
        for host in 1..=10 {
            l.failure(ip(&format!("198.51.100.{host}")), 0);
        }
        assert!(matches!(
            l.check(ip("198.51.100.200"), 1),
            Err(Blocked::Until(_))
        ));
        assert_eq!(l.check(ip("198.51.101.1"), 1), Ok(()));
        assert_eq!(network_of(ip("2001:db8:1:2:3::9")), ip("2001:db8:1::"));
    }

    #[test]
    fn too_many_wrong_pins_overall_switch_to_link_only() {
        let mut l = PinLimiter::new(Limits {
            global_failures: 100,
            ..Limits::default()
        });
        let mut switched = false;
        for n in 0..100u32 {
            let addr = IpAddr::from([198, 18, (n >> 8) as u8, n as u8]);
            switched |= l.failure(addr, 0);
        }
        assert!(switched);
        assert_eq!(l.check(ip("203.0.113.9"), 1), Err(Blocked::LinkOnly));
        assert_eq!(l.link_only_until(1), Some(600));
        assert_eq!(l.link_only_until(600), None);
        assert_eq!(l.check(ip("203.0.113.9"), 601), Ok(()));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut l = PinLimiter::new(Limits {
            max_tracked: 50,
            ..Limits::default()
        });
        for n in 0..1000u32 {
            l.failure(IpAddr::from(n.to_be_bytes()), i64::from(n) * 1000);
        }
        assert!(l.addresses.len() <= 50 && l.networks.len() <= 50);
    }
}
