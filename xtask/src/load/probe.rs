//! Readings from `/proc`: a process's memory (VmRSS, VmHWM), CPU time of the gateway, of
//! this process and of the whole machine, and the kernel's count of UDP datagrams dropped
//! because a socket's receive buffer was full.
//!
//! CPU shares are in percent of one core: 200 % is both cores of a two-core machine.

use std::time::Instant;

use crate::bench::cpu;

/// A process's memory, in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now.
    pub rss_kib: u64,
    /// Highest resident set size so far.
    pub hwm_kib: u64,
}

/// The memory of process `pid`; `None` once it is gone.
pub fn memory(pid: u32) -> Option<Memory> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Ticks of all cores together, from the `cpu` line of /proc/stat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MachineTicks {
    /// Not idle, interrupts included.
    busy: u64,
    /// Of which interrupts and softirqs: on loopback, most of the network stack's work,
    /// which the kernel charges to no process.
    interrupts: u64,
}

fn machine_ticks() -> Option<MachineTicks> {
    parse_machine(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn parse_machine(stat: &str) -> Option<MachineTicks> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    let interrupts = get(5) + get(6);
    Some(MachineTicks {
        busy: get(0) + get(1) + get(2) + interrupts + get(7),
        interrupts,
    })
}

/// UDP datagrams the kernel dropped for full receive buffers (`RcvbufErrors` of
/// /proc/net/snmp), machine-wide since boot.
pub fn udp_receive_buffer_drops() -> Option<u64> {
    parse_snmp(&std::fs::read_to_string("/proc/net/snmp").ok()?)
}

fn parse_snmp(snmp: &str) -> Option<u64> {
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp: "));
    let names = udp.next()?.split_whitespace();
    let values = udp.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
}

/// Datagrams dropped by the UDP sockets bound to local `port` (the `drops` column of
/// /proc/net/udp and udp6), since they were opened.
pub fn udp_socket_drops(port: u16) -> Option<u64> {
    let tables: Vec<String> = ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    (!tables.is_empty()).then(|| {
        tables
            .iter()
            .map(|table| parse_udp_table(table, port))
            .sum()
    })
}

fn parse_udp_table(table: &str, port: u16) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            (local_port == port).then(|| fields.last()?.parse::<u64>().ok())?
        })
        .sum()
}

/// CPU shares over a stretch of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct CpuShares {
    /// The gateway process.
    pub gateway_pct: f64,
    /// The load generator (this process).
    pub generator_pct: f64,
    /// Interrupts and softirqs (the loopback network path, charged to no process).
    pub kernel_pct: f64,
    /// Every other process on the machine.
    pub others_pct: f64,
}

/// Measures [`CpuShares`] from its start to [`CpuMeter::finish`].
pub struct CpuMeter {
    gateway: u32,
    ticks: f64,
    started: Instant,
    gateway_seconds: f64,
    generator_seconds: f64,
    machine: Option<MachineTicks>,
}

impl CpuMeter {
    /// Starts measuring, the gateway being process `gateway`.
    pub fn start(gateway: u32) -> Self {
        let ticks = cpu::ticks_per_second();
        Self {
            gateway,
            ticks,
            started: Instant::now(),
            gateway_seconds: cpu::process_seconds(gateway, ticks).unwrap_or(0.0),
            generator_seconds: cpu::this_process_seconds(ticks).unwrap_or(0.0),
            machine: machine_ticks(),
        }
    }

    /// The shares since the start.
    pub fn finish(&self) -> CpuShares {
        let wall = self.started.elapsed().as_secs_f64().max(1e-3);
        let share = |seconds: f64| (seconds / wall * 100.0).max(0.0);
        let gateway = cpu::process_seconds(self.gateway, self.ticks).unwrap_or(0.0);
        let generator = cpu::this_process_seconds(self.ticks).unwrap_or(0.0);
        let gateway_pct = share(gateway - self.gateway_seconds);
        let generator_pct = share(generator - self.generator_seconds);
        let (machine_pct, kernel_pct) = match (self.machine, machine_ticks()) {
            (Some(before), Some(now)) => (
                share(now.busy.saturating_sub(before.busy) as f64 / self.ticks),
                share(now.interrupts.saturating_sub(before.interrupts) as f64 / self.ticks),
            ),
            _ => (gateway_pct + generator_pct, 0.0),
        };
        CpuShares {
            gateway_pct,
            generator_pct,
            kernel_pct,
            others_pct: (machine_pct - gateway_pct - generator_pct - kernel_pct).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lines_are_read_in_kib() {
        let status =
            "Name:\tsos-gateway\nVmPeak:\t  900 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss_kib: 70_000,
                hwm_kib: 81_234
            })
        );
        assert_eq!(parse_status("Name: x\n"), None);
        assert!(memory(std::process::id()).is_some());
    }

    #[test]
    fn machine_ticks_count_iowait_as_idle() {
        let stat = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(
            parse_machine(stat),
            Some(MachineTicks {
                busy: 160,
                interrupts: 5
            })
        );
        assert_eq!(parse_machine("intr 1 2\n"), None);
    }

    #[test]
    fn udp_buffer_drops_are_found_by_name() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
                    Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                    Udp: 10 0 3 12 7 0\n\
                    UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                    UdpLite: 0 0 0 0 0 0\n";
        assert_eq!(parse_snmp(snmp), Some(7));
        assert_eq!(parse_snmp("Ip: a\nIp: 1\n"), None);
    }

    #[test]
    fn socket_drops_are_summed_for_the_port() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1: 0100007F:A07B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 12\n\
            2: 00000000:A07B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 3\n\
            3: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1236 2 0000000000000000 99\n";
        assert_eq!(parse_udp_table(table, 0xA07B), 15);
        assert_eq!(parse_udp_table(table, 1), 0);
    }

    #[test]
    fn our_own_shares_are_measured() {
        let meter = CpuMeter::start(std::process::id());
        let shares = meter.finish();
        assert!(shares.gateway_pct >= 0.0 && shares.others_pct >= 0.0);
    }
}
