//! A bad network on loopback, in user space: a UDP forwarder between a client (the
//! end-user app, a viewer) and an upstream (the gateway) that drops datagrams each way
//! with a given probability, delays them with jitter, squeezes them through a bottleneck of
//! a given bit rate with a bounded queue (drop-tail), and can switch the source port it
//! sends from, as a NAT rebinding or a network change would. The kernel's `netem` is not
//! needed.
//!
//! Contract: the decisions (drop or not, when to deliver) are made by [`Schedule`], a
//! pure core fed with the time and a seeded generator, so a run with the same seed and
//! the same arrival times (and sizes) drops the same datagrams. The forwarder only does the IO.
//! Within one direction datagrams are delivered in the order they arrived (jitter
//! spreads them, it never reorders). Answers go back to the last client address seen.
//! It binds loopback only.

#![forbid(unsafe_code)]

mod forwarder;
mod schedule;

pub use forwarder::{Forwarder, Link};
pub use schedule::{Impairment, RateLimit, Schedule};
