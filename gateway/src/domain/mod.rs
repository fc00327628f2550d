//! The Service Desk rules, without IO.
//!
//! Everything here is a plain value fed with `now` and inputs: no socket, no database, no
//! clock reads. The shells (`store`, `api`, `relay`) load a value, apply an action and
//! persist what it returns.

pub mod access;
pub mod licence;
pub mod offers;
pub mod ratelimit;
pub mod secrets;
pub mod session;

pub use session::{ActionError, Session, SessionAction};
