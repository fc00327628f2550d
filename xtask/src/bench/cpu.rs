//! CPU time of processes and threads, from `/proc/<pid>/stat` (user + system time).

use std::path::Path;
use std::process::Command;

/// Clock ticks per second of the `/proc` times (`getconf CLK_TCK`, 100 almost everywhere).
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// User plus system CPU seconds of the process `pid`; `None` once it is gone.
pub fn process_seconds(pid: u32, ticks: f64) -> Option<f64> {
    stat_seconds(
        &Path::new("/proc").join(pid.to_string()).join("stat"),
        ticks,
    )
}

/// User plus system CPU seconds of the calling thread.
pub fn this_thread_seconds(ticks: f64) -> Option<f64> {
    stat_seconds(Path::new("/proc/thread-self/stat"), ticks)
}

/// User plus system CPU seconds of this whole process.
pub fn this_process_seconds(ticks: f64) -> Option<f64> {
    stat_seconds(Path::new("/proc/self/stat"), ticks)
}

fn stat_seconds(path: &Path, ticks: f64) -> Option<f64> {
    parse_stat(&std::fs::read_to_string(path).ok()?).map(|total| total as f64 / ticks)
}

/// utime + stime (fields 14 and 15) of a stat line; the command name may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 170 30 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(200));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_times_are_readable() {
        let ticks = ticks_per_second();
        assert!(this_process_seconds(ticks).is_some());
        assert!(this_thread_seconds(ticks).is_some());
        assert!(process_seconds(std::process::id(), ticks).is_some());
    }
}
