//! The monitors of the X screen, from RandR 1.5 (`GetMonitors`).
//!
//! Contract: read-only queries on a connection of its own; monitors are numbered left to
//! right (then top to bottom), which is the order a technician sees them in the picture.
//! The shared one is the one scrap captures: the primary monitor, else the first the server
//! lists.

use super::Monitors;
use sos_transport::wire::MonitorInfo;
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;

/// Why the monitors could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// No X server, or it said no.
    #[error("cannot ask the X server for its monitors: {0}")]
    X(String),
    /// The server's RandR is older than 1.5.
    #[error("the X server's RandR {0}.{1} cannot list monitors (1.5 needed)")]
    OldRandr(u32, u32),
}

/// The active monitors of the default screen of `$DISPLAY`, left to right.
pub fn read() -> Result<Monitors, MonitorError> {
    let x = |e: &dyn std::fmt::Display| MonitorError::X(e.to_string());
    let (conn, screen) = x11rb::connect(None).map_err(|e| x(&e))?;
    let root = conn
        .setup()
        .roots
        .get(screen)
        .ok_or_else(|| MonitorError::X("no default screen".into()))?
        .root;
    let version = conn
        .randr_query_version(1, 5)
        .map_err(|e| x(&e))?
        .reply()
        .map_err(|e| x(&e))?;
    if (version.major_version, version.minor_version) < (1, 5) {
        return Err(MonitorError::OldRandr(
            version.major_version,
            version.minor_version,
        ));
    }
    let reply = conn
        .randr_get_monitors(root, true)
        .map_err(|e| x(&e))?
        .reply()
        .map_err(|e| x(&e))?;
    let found = reply.monitors.iter().map(|m| Found {
        x: i32::from(m.x),
        y: i32::from(m.y),
        width: u32::from(m.width),
        height: u32::from(m.height),
        primary: m.primary,
    });
    Ok(ordered(found))
}

/// A monitor as the server reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    x: i32,
    y: i32,
    width: u32,
    height: u32,
    primary: bool,
}

/// Drops empty monitors, numbers the rest left to right, then top to bottom, and finds the
/// shared one. `found` is in the server's order.
fn ordered(found: impl Iterator<Item = Found>) -> Monitors {
    let found: Vec<(usize, Found)> = found
        .enumerate()
        .filter(|(_, m)| m.width > 0 && m.height > 0)
        .collect();
    let shared = found
        .iter()
        .map(|(_, m)| *m)
        .find(|m| m.primary)
        .or(found.first().map(|(_, m)| *m));
    let mut sorted = found;
    sorted.sort_by_key(|(_, m)| (m.x, m.y));
    let system_order = sorted.iter().map(|(position, _)| *position).collect();
    let list: Vec<MonitorInfo> = sorted
        .into_iter()
        .zip(0u32..)
        .map(|((_, m), index)| MonitorInfo {
            index,
            x: m.x,
            y: m.y,
            width: m.width,
            height: m.height,
            primary: m.primary,
        })
        .collect();
    let shared = shared.and_then(|s| {
        list.iter()
            .find(|m| (m.x, m.y, m.width, m.height) == (s.x, s.y, s.width, s.height))
            .map(|m| m.index)
    });
    Monitors {
        list,
        shared,
        system_order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitors_are_numbered_left_to_right() {
        let found = |x, y, width, primary| Found {
            x,
            y,
            width,
            height: 1080,
            primary,
        };
        let monitors = ordered(
            [
                found(1920, 0, 1280, false),
                found(0, 0, 1920, true),
                found(0, 1080, 0, false),
                found(-1280, 200, 1280, false),
            ]
            .into_iter(),
        );
        assert_eq!(monitors.shared, Some(1));
        let summary: Vec<_> = monitors
            .list
            .iter()
            .map(|m| (m.index, m.x, m.y, m.width, m.primary))
            .collect();
        assert_eq!(
            summary,
            [
                (0, -1280, 200, 1280, false),
                (1, 0, 0, 1920, true),
                (2, 1920, 0, 1280, false)
            ]
        );
        assert_eq!(
            monitors.system_order,
            [3, 1, 0],
            "where each sits in the server's list"
        );
    }

    #[test]
    fn without_a_primary_the_first_listed_is_shared() {
        let found = |x| Found {
            x,
            y: 0,
            width: 100,
            height: 100,
            primary: false,
        };
        let monitors = ordered([found(100), found(0)].into_iter());
        assert_eq!(monitors.shared, Some(1));
        assert_eq!(ordered(std::iter::empty()), Monitors::default());
    }
}
