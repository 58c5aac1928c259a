//! `/proc/stat`: the `cpu` time lines and the system-wide counters (`ctxt`, `intr`,
//! `softirq`, `processes`, `procs_running`, `procs_blocked`).
//!
//! Times are in clock ticks (`USER_HZ`, see `sysconf(_SC_CLK_TCK)`); converting them is
//! the caller's business. The aggregate `cpu` line comes first, then one `cpuN` line per
//! *online* CPU, so numbers may skip offline CPUs.

use super::parse_u64;
use super::text::{fields, lines};

/// The ten CPU times of one `cpu` line, in clock ticks.
///
/// `guest` is already included in `user`, and `guest_nice` in `nice`, as the kernel
/// counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTicks {
    /// Normal processes in user mode.
    pub user: u64,
    /// Niced processes in user mode.
    pub nice: u64,
    /// Kernel mode.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Idle while I/O was outstanding.
    pub iowait: u64,
    /// Servicing hardware interrupts.
    pub irq: u64,
    /// Servicing soft interrupts.
    pub softirq: u64,
    /// Stolen by the hypervisor for other guests.
    pub steal: u64,
    /// Running a guest's virtual CPU.
    pub guest: u64,
    /// Running a niced guest's virtual CPU.
    pub guest_nice: u64,
}

/// The aggregate line and the per-CPU lines of `/proc/stat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuLines {
    /// The `cpu` line: all CPUs together.
    pub total: CpuTicks,
    /// `cpuN` lines as (N, times), in file order (ascending N).
    pub per_cpu: Vec<(u32, CpuTicks)>,
}

/// Parses the ten numbers after a `cpu`/`cpuN` label; more (a future kernel's) are
/// ignored, fewer (kernels before 2.6.33) give `None`.
fn parse_ticks<'a>(mut it: impl Iterator<Item = &'a [u8]>) -> Option<CpuTicks> {
    let mut v = [0u64; 10];
    for slot in &mut v {
        *slot = parse_u64(it.next()?)?;
    }
    let [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice] = v;
    Some(CpuTicks {
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    })
}

/// Parses the `cpu` lines of `/proc/stat`.
///
/// Returns `None` when the aggregate `cpu` line is missing, when any `cpu…` line is
/// malformed (fewer than ten numbers, a non-number, a label like `cpux`), or when a CPU
/// number repeats. Other lines are ignored.
pub fn parse_cpu_lines(buf: &[u8]) -> Option<CpuLines> {
    let mut total = None;
    let mut per_cpu: Vec<(u32, CpuTicks)> = Vec::new();
    for line in lines(buf) {
        let mut it = fields(line);
        let Some(label) = it.next() else {
            continue;
        };
        let Some(num) = label.strip_prefix(b"cpu") else {
            continue;
        };
        let ticks = parse_ticks(it)?;
        if num.is_empty() {
            if total.replace(ticks).is_some() {
                return None;
            }
        } else {
            let n = u32::try_from(parse_u64(num)?).ok()?;
            if per_cpu.iter().any(|&(m, _)| m == n) {
                return None;
            }
            per_cpu.push((n, ticks));
        }
    }
    Some(CpuLines {
        total: total?,
        per_cpu,
    })
}

/// The system-wide counters of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatCounters {
    /// `ctxt`: context switches since boot.
    pub ctxt: u64,
    /// The first number of `intr`: interrupts serviced since boot.
    pub intr: u64,
    /// The first number of `softirq`: soft interrupts serviced since boot.
    pub softirq: u64,
    /// `processes`: forks (processes and threads created) since boot.
    pub processes: u64,
    /// `procs_running`: tasks runnable now.
    pub procs_running: u64,
    /// `procs_blocked`: tasks blocked on I/O now.
    pub procs_blocked: u64,
}

/// Parses the counter lines of `/proc/stat`; `None` if any of the six is missing or its
/// first number is malformed.
pub fn parse_counters(buf: &[u8]) -> Option<StatCounters> {
    let mut found = [None::<u64>; 6];
    for line in lines(buf) {
        let mut it = fields(line);
        let slot = match it.next() {
            Some(b"ctxt") => 0,
            Some(b"intr") => 1,
            Some(b"softirq") => 2,
            Some(b"processes") => 3,
            Some(b"procs_running") => 4,
            Some(b"procs_blocked") => 5,
            _ => continue,
        };
        found[slot] = Some(parse_u64(it.next()?)?);
    }
    let [ctxt, intr, softirq, processes, procs_running, procs_blocked] = found;
    Some(StatCounters {
        ctxt: ctxt?,
        intr: intr?,
        softirq: softirq?,
        processes: processes?,
        procs_running: procs_running?,
        procs_blocked: procs_blocked?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAT: &[u8] = include_bytes!("../../../../testdata/proc_stat");

    #[test]
    fn fixture_cpu_lines() {
        let c = parse_cpu_lines(STAT).unwrap();
        assert_eq!(
            c.total,
            CpuTicks {
                user: 9676,
                nice: 0,
                system: 3017,
                idle: 394595,
                iowait: 299,
                irq: 0,
                softirq: 66,
                steal: 71,
                guest: 0,
                guest_nice: 0,
            }
        );
        assert_eq!(c.per_cpu.len(), 2);
        assert_eq!(c.per_cpu[0].0, 0);
        assert_eq!(c.per_cpu[0].1.user, 4236);
        assert_eq!(c.per_cpu[0].1.idle, 198211);
        assert_eq!(c.per_cpu[1].0, 1);
        assert_eq!(c.per_cpu[1].1.iowait, 267);
        assert_eq!(c.per_cpu[1].1.steal, 34);
    }

    #[test]
    fn fixture_counters() {
        assert_eq!(
            parse_counters(STAT),
            Some(StatCounters {
                ctxt: 247087,
                intr: 187982,
                softirq: 117050,
                processes: 6915,
                procs_running: 2,
                procs_blocked: 0,
            })
        );
    }

    #[test]
    fn cpu_line_edge_cases() {
        let ten = "1 2 3 4 5 6 7 8 9 10";
        let ok =
            parse_cpu_lines(format!("cpu {ten}\ncpu3 {ten}\ncpu7 {ten} 11\n").as_bytes()).unwrap();
        assert_eq!(ok.total.guest_nice, 10);
        assert_eq!(ok.per_cpu.iter().map(|c| c.0).collect::<Vec<_>>(), [3, 7]);
        assert_eq!(parse_cpu_lines(b""), None);
        assert_eq!(parse_cpu_lines(format!("cpu0 {ten}\n").as_bytes()), None);
        assert_eq!(parse_cpu_lines(b"cpu 1 2 3 4 5 6 7 8 9\n"), None);
        assert_eq!(
            parse_cpu_lines(format!("cpu {ten}\ncpux {ten}\n").as_bytes()),
            None
        );
        assert_eq!(
            parse_cpu_lines(format!("cpu {ten}\ncpu1 {ten}\ncpu1 {ten}\n").as_bytes()),
            None
        );
        assert_eq!(
            parse_cpu_lines(format!("cpu {ten}\ncpu {ten}\n").as_bytes()),
            None
        );
        assert_eq!(parse_cpu_lines(b"cpu 1 2 3 -4 5 6 7 8 9 10\n"), None);
        assert_eq!(
            parse_cpu_lines(format!("cpu {ten}\ncpu4294967296 {ten}\n").as_bytes()),
            None
        );
        // Other lines, blank lines and a missing final newline are fine.
        let c = parse_cpu_lines(format!("\nintr 1 2\ncpu {ten}").as_bytes()).unwrap();
        assert_eq!(c.total.user, 1);
        assert!(c.per_cpu.is_empty());
    }

    #[test]
    fn counter_edge_cases() {
        let all =
            "ctxt 1\nintr 2 0 0\nsoftirq 3 1\nprocesses 4\nprocs_running 5\nprocs_blocked 6\n";
        assert_eq!(
            parse_counters(all.as_bytes()),
            Some(StatCounters {
                ctxt: 1,
                intr: 2,
                softirq: 3,
                processes: 4,
                procs_running: 5,
                procs_blocked: 6
            })
        );
        for key in [
            "ctxt",
            "intr",
            "softirq",
            "processes",
            "procs_running",
            "procs_blocked",
        ] {
            let without: String = all
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} ")))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(parse_counters(without.as_bytes()), None, "without {key}");
        }
        assert_eq!(
            parse_counters(all.replace("ctxt 1", "ctxt").as_bytes()),
            None
        );
        assert_eq!(
            parse_counters(all.replace("ctxt 1", "ctxt x").as_bytes()),
            None
        );
        assert_eq!(parse_counters(b""), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_cpu_lines(&bytes);
            let _ = parse_counters(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_fixture(
            cut in 0..STAT.len(),
            at in 0..STAT.len(),
            byte in any::<u8>(),
        ) {
            let mut b = STAT[..cut].to_vec();
            if at < b.len() {
                b[at] = byte;
            }
            let _ = parse_cpu_lines(&b);
            let _ = parse_counters(&b);
        }
    }
}
