//! Scheduling vocabulary shared by every platform: Win32-style priority classes, thread
//! priority levels, scheduling policies, and priorities of whole process groups and users.
//!
//! # Priority classes
//!
//! | class | Linux policy | Linux nice | Windows class (base priority) |
//! |---|---|---|---|
//! | `Idle` | `SCHED_IDLE` | 19 | `IDLE_PRIORITY_CLASS` (4) |
//! | `BelowNormal` | `SCHED_OTHER` | 10 | `BELOW_NORMAL_PRIORITY_CLASS` (6) |
//! | `Normal` | `SCHED_OTHER` | 0 | `NORMAL_PRIORITY_CLASS` (8) |
//! | `AboveNormal` | `SCHED_OTHER` | -5 | `ABOVE_NORMAL_PRIORITY_CLASS` (10) |
//! | `High` | `SCHED_OTHER` | -10 | `HIGH_PRIORITY_CLASS` (13) |
//! | `Realtime` | `SCHED_RR`, priority 9 | 0 | `REALTIME_PRIORITY_CLASS` (24) |
//!
//! Reading a Linux process back gives the nearest class: `SCHED_IDLE` → `Idle`,
//! `SCHED_FIFO`/`SCHED_RR` → `Realtime`, otherwise (`SCHED_OTHER`, `SCHED_BATCH`) by nice
//! value: 5..=19 → `BelowNormal` (only `SCHED_IDLE` is truly idle), -2..=4 → `Normal`,
//! -7..=-3 → `AboveNormal`, ≤ -8 → `High`. Linux has no per-process class: a process's
//! class is read from its main thread.
//!
//! # Thread priority levels
//!
//! A [`ThreadPriority`] is relative to the class of the thread's process, as on Windows
//! (where the thread's base priority is the class's plus the level's offset). On Linux,
//! with `C` the class's nice value (table above):
//!
//! | level | Windows offset | Linux, classes `Idle`…`High` | Linux, class `Realtime` |
//! |---|---|---|---|
//! | `Idle` | base 1 (16 in realtime) | `SCHED_IDLE`, nice 19 | `SCHED_RR` 1 |
//! | `Lowest` | -2 | class policy, nice `C`+4 | `SCHED_RR` 7 |
//! | `BelowNormal` | -1 | class policy, nice `C`+2 | `SCHED_RR` 8 |
//! | `Normal` | 0 | class policy, nice `C` | `SCHED_RR` 9 |
//! | `AboveNormal` | +1 | class policy, nice `C`-2 | `SCHED_RR` 10 |
//! | `Highest` | +2 | class policy, nice `C`-4 | `SCHED_RR` 11 |
//! | `TimeCritical` | base 15 (31 in realtime) | `SCHED_OTHER`, nice -20 | `SCHED_RR` 16 |
//!
//! ("class policy" is `SCHED_IDLE` for the `Idle` class, `SCHED_OTHER` otherwise; nice
//! values are clamped to -20..=19, so in the `Idle` class the levels below `Normal` fall
//! together with it.) The `SCHED_RR` priorities are the Windows base priorities minus 15.
//!
//! Reading back gives the nearest level: a real-time thread in a non-real-time process is
//! `TimeCritical`; a `SCHED_IDLE` thread in a process of another class is `Idle`; a
//! normal thread in a real-time process is `Idle`; otherwise the level whose nice value
//! (or `SCHED_RR` priority) is closest, ties going to the level nearer `Normal`.
//!
//! Because the class is read from the main thread, give levels other than `Normal` to
//! worker threads: a level on the main thread shifts what the whole process reads as.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind};

/// A process priority class, as Windows names them, with a fixed Linux mapping (see the
/// module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriorityClass {
    /// Runs only when nothing else wants the CPU.
    Idle,
    /// Below normal.
    BelowNormal,
    /// The default.
    Normal,
    /// Above normal (needs privilege on Linux: a negative nice).
    AboveNormal,
    /// High (needs privilege on Linux).
    High,
    /// Real-time round-robin (needs privilege: `CAP_SYS_NICE` on Linux).
    Realtime,
}

impl PriorityClass {
    /// Every class, lowest first.
    pub const ALL: [PriorityClass; 6] = [
        PriorityClass::Idle,
        PriorityClass::BelowNormal,
        PriorityClass::Normal,
        PriorityClass::AboveNormal,
        PriorityClass::High,
        PriorityClass::Realtime,
    ];

    /// The kebab-case name (`below-normal`).
    pub fn name(self) -> &'static str {
        match self {
            PriorityClass::Idle => "idle",
            PriorityClass::BelowNormal => "below-normal",
            PriorityClass::Normal => "normal",
            PriorityClass::AboveNormal => "above-normal",
            PriorityClass::High => "high",
            PriorityClass::Realtime => "realtime",
        }
    }

    /// The Linux nice value the class sets.
    pub fn nice(self) -> i32 {
        match self {
            PriorityClass::Idle => 19,
            PriorityClass::BelowNormal => 10,
            PriorityClass::Normal | PriorityClass::Realtime => 0,
            PriorityClass::AboveNormal => -5,
            PriorityClass::High => -10,
        }
    }

    /// The Linux policy, nice value and real-time priority the class sets (module table).
    pub fn linux(self) -> LinuxSched {
        let policy = match self {
            PriorityClass::Idle => SchedPolicy::Idle,
            PriorityClass::Realtime => SchedPolicy::RoundRobin,
            _ => SchedPolicy::Normal,
        };
        LinuxSched {
            policy,
            nice: self.nice(),
            rt_priority: if self == PriorityClass::Realtime {
                REALTIME_CLASS_RR
            } else {
                0
            },
        }
    }

    /// The nearest class for a Linux scheduling policy (`SCHED_*` number) and nice value.
    pub fn from_linux(policy: u32, nice: i32) -> PriorityClass {
        const SCHED_FIFO: u32 = 1;
        const SCHED_RR: u32 = 2;
        const SCHED_IDLE: u32 = 5;
        match policy {
            SCHED_IDLE => PriorityClass::Idle,
            SCHED_FIFO | SCHED_RR => PriorityClass::Realtime,
            _ => match nice {
                5.. => PriorityClass::BelowNormal,
                -2..=4 => PriorityClass::Normal,
                -7..=-3 => PriorityClass::AboveNormal,
                _ => PriorityClass::High,
            },
        }
    }
}

impl fmt::Display for PriorityClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PriorityClass {
    type Err = Error;

    /// Parses `idle`, `below-normal`, `normal`, `above-normal`, `high`, `realtime`
    /// (case-insensitive; `_` or no separator accepted).
    fn from_str(s: &str) -> Result<PriorityClass, Error> {
        let n = normalize(s);
        PriorityClass::ALL
            .into_iter()
            .find(|c| c.name().replace('-', "") == n || (n == "realtime" && *c == PriorityClass::Realtime))
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, "parse priority class").with_detail(format!(
                    "unknown priority class {s:?}; use idle, below-normal, normal, above-normal, high or realtime"
                ))
            })
    }
}

/// The `SCHED_RR` priority of the `Realtime` class (Windows base priority 24 minus 15).
const REALTIME_CLASS_RR: u32 = 9;

fn normalize(s: &str) -> String {
    s.trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect()
}

/// A Linux scheduling policy (`sched(7)`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum SchedPolicy {
    /// `SCHED_OTHER` (`SCHED_NORMAL`): the default time-sharing policy, weighted by nice.
    Normal,
    /// `SCHED_BATCH`: time-sharing for CPU-bound work, woken with a small penalty.
    Batch,
    /// `SCHED_IDLE`: runs only when nothing else wants the CPU.
    Idle,
    /// `SCHED_FIFO`: real-time, first in first out (priority 1–99).
    Fifo,
    /// `SCHED_RR`: real-time round-robin (priority 1–99).
    RoundRobin,
    /// `SCHED_DEADLINE`: earliest-deadline-first (read only here).
    Deadline,
    /// A policy number this version does not know.
    Other(u32),
}

impl SchedPolicy {
    /// Every policy corral can set, in `sched(7)` order.
    pub const SETTABLE: [SchedPolicy; 5] = [
        SchedPolicy::Normal,
        SchedPolicy::Batch,
        SchedPolicy::Idle,
        SchedPolicy::Fifo,
        SchedPolicy::RoundRobin,
    ];

    /// The policy for a Linux `SCHED_*` number.
    pub fn from_linux(n: u32) -> SchedPolicy {
        match n {
            0 => SchedPolicy::Normal,
            1 => SchedPolicy::Fifo,
            2 => SchedPolicy::RoundRobin,
            3 => SchedPolicy::Batch,
            5 => SchedPolicy::Idle,
            6 => SchedPolicy::Deadline,
            n => SchedPolicy::Other(n),
        }
    }

    /// The Linux `SCHED_*` number.
    pub fn linux_number(self) -> u32 {
        match self {
            SchedPolicy::Normal => 0,
            SchedPolicy::Fifo => 1,
            SchedPolicy::RoundRobin => 2,
            SchedPolicy::Batch => 3,
            SchedPolicy::Idle => 5,
            SchedPolicy::Deadline => 6,
            SchedPolicy::Other(n) => n,
        }
    }

    /// Whether this is a real-time policy (`SCHED_FIFO`, `SCHED_RR`), which takes a
    /// priority 1–99.
    pub fn is_realtime(self) -> bool {
        matches!(self, SchedPolicy::Fifo | SchedPolicy::RoundRobin)
    }

    /// The name: `normal`, `batch`, `idle`, `fifo`, `rr`, `deadline` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            SchedPolicy::Normal => "normal",
            SchedPolicy::Batch => "batch",
            SchedPolicy::Idle => "idle",
            SchedPolicy::Fifo => "fifo",
            SchedPolicy::RoundRobin => "rr",
            SchedPolicy::Deadline => "deadline",
            SchedPolicy::Other(_) => "other",
        }
    }
}

impl fmt::Display for SchedPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedPolicy::Other(n) => write!(f, "other({n})"),
            p => f.write_str(p.name()),
        }
    }
}

impl FromStr for SchedPolicy {
    type Err = Error;

    /// Parses `normal` (or `other`), `batch`, `idle`, `fifo`, `rr` (or `round-robin`),
    /// with or without a `sched_` prefix, case-insensitive.
    fn from_str(s: &str) -> Result<SchedPolicy, Error> {
        let n = normalize(s);
        let n = n.strip_prefix("sched").unwrap_or(&n);
        Ok(match n {
            "normal" | "other" => SchedPolicy::Normal,
            "batch" => SchedPolicy::Batch,
            "idle" => SchedPolicy::Idle,
            "fifo" => SchedPolicy::Fifo,
            "rr" | "roundrobin" => SchedPolicy::RoundRobin,
            _ => {
                return Err(
                    Error::new(ErrorKind::InvalidInput, "parse scheduling policy").with_detail(
                        format!(
                            "unknown scheduling policy {s:?}; use normal, batch, idle, fifo or rr"
                        ),
                    ),
                )
            }
        })
    }
}

/// A Linux scheduling setting of one thread: policy, nice value and real-time priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinuxSched {
    /// The policy.
    pub policy: SchedPolicy,
    /// The nice value, -20..=19 (meaningful for `Normal` and `Batch`).
    pub nice: i32,
    /// The real-time priority, 1..=99 for `Fifo` and `RoundRobin`, else 0.
    pub rt_priority: u32,
}

/// A thread priority level relative to its process's [`PriorityClass`], as Windows
/// names them (`THREAD_PRIORITY_*`); see the module docs for the Linux mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum ThreadPriority {
    /// `THREAD_PRIORITY_IDLE`: runs only when nothing else wants the CPU.
    Idle,
    /// `THREAD_PRIORITY_LOWEST`: two steps below the class.
    Lowest,
    /// `THREAD_PRIORITY_BELOW_NORMAL`: one step below the class.
    BelowNormal,
    /// `THREAD_PRIORITY_NORMAL`: the class's own priority.
    Normal,
    /// `THREAD_PRIORITY_ABOVE_NORMAL`: one step above the class (needs privilege on
    /// Linux when it means a lower nice value than the thread has).
    AboveNormal,
    /// `THREAD_PRIORITY_HIGHEST`: two steps above the class (likewise).
    Highest,
    /// `THREAD_PRIORITY_TIME_CRITICAL`: the top of the class's range (needs privilege).
    TimeCritical,
}

impl ThreadPriority {
    /// Every level, lowest first.
    pub const ALL: [ThreadPriority; 7] = [
        ThreadPriority::Idle,
        ThreadPriority::Lowest,
        ThreadPriority::BelowNormal,
        ThreadPriority::Normal,
        ThreadPriority::AboveNormal,
        ThreadPriority::Highest,
        ThreadPriority::TimeCritical,
    ];

    /// The kebab-case name (`time-critical`).
    pub fn name(self) -> &'static str {
        match self {
            ThreadPriority::Idle => "idle",
            ThreadPriority::Lowest => "lowest",
            ThreadPriority::BelowNormal => "below-normal",
            ThreadPriority::Normal => "normal",
            ThreadPriority::AboveNormal => "above-normal",
            ThreadPriority::Highest => "highest",
            ThreadPriority::TimeCritical => "time-critical",
        }
    }

    /// The Windows offset from the class's base priority (`THREAD_PRIORITY_*` value;
    /// `Idle` and `TimeCritical` are -15 and 15, which Windows treats as absolute).
    pub fn windows_offset(self) -> i32 {
        match self {
            ThreadPriority::Idle => -15,
            ThreadPriority::Lowest => -2,
            ThreadPriority::BelowNormal => -1,
            ThreadPriority::Normal => 0,
            ThreadPriority::AboveNormal => 1,
            ThreadPriority::Highest => 2,
            ThreadPriority::TimeCritical => 15,
        }
    }

    /// The Linux setting of this level in a process of `class` (module table).
    pub fn linux(self, class: PriorityClass) -> LinuxSched {
        if class == PriorityClass::Realtime {
            let rt = match self {
                ThreadPriority::Idle => 1,
                ThreadPriority::TimeCritical => 16,
                l => (REALTIME_CLASS_RR as i32 + l.windows_offset()) as u32,
            };
            return LinuxSched {
                policy: SchedPolicy::RoundRobin,
                nice: 0,
                rt_priority: rt,
            };
        }
        let base = class.linux();
        match self {
            ThreadPriority::Idle => LinuxSched {
                policy: SchedPolicy::Idle,
                nice: 19,
                rt_priority: 0,
            },
            ThreadPriority::TimeCritical => LinuxSched {
                policy: SchedPolicy::Normal,
                nice: -20,
                rt_priority: 0,
            },
            l => LinuxSched {
                policy: base.policy,
                nice: (base.nice - 2 * l.windows_offset()).clamp(-20, 19),
                rt_priority: 0,
            },
        }
    }

    /// The nearest level for a thread's Linux setting in a process of `class` (module
    /// docs, "Reading back").
    pub fn from_linux(class: PriorityClass, s: &LinuxSched) -> ThreadPriority {
        // Candidates nearest Normal first, so ties go towards Normal.
        const ORDER: [ThreadPriority; 7] = [
            ThreadPriority::Normal,
            ThreadPriority::BelowNormal,
            ThreadPriority::AboveNormal,
            ThreadPriority::Lowest,
            ThreadPriority::Highest,
            ThreadPriority::Idle,
            ThreadPriority::TimeCritical,
        ];
        let nearest = |key: &dyn Fn(ThreadPriority) -> Option<i64>, v: i64| {
            ORDER
                .into_iter()
                .filter_map(|l| key(l).map(|k| (l, (k - v).abs())))
                .min_by_key(|&(_, d)| d)
                .map(|(l, _)| l)
                .unwrap_or(ThreadPriority::Normal)
        };
        let rt = s.policy.is_realtime();
        if class == PriorityClass::Realtime {
            if !rt {
                return ThreadPriority::Idle;
            }
            return nearest(
                &|l| Some(l.linux(class).rt_priority as i64),
                s.rt_priority as i64,
            );
        }
        if rt {
            return ThreadPriority::TimeCritical;
        }
        let idle_policy = s.policy == SchedPolicy::Idle;
        if idle_policy && class != PriorityClass::Idle {
            return ThreadPriority::Idle;
        }
        // Levels whose policy matches the thread's (Idle class: the SCHED_IDLE levels).
        nearest(
            &|l| {
                let ls = l.linux(class);
                ((ls.policy == SchedPolicy::Idle) == idle_policy).then_some(ls.nice as i64)
            },
            s.nice as i64,
        )
    }
}

impl fmt::Display for ThreadPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ThreadPriority {
    type Err = Error;

    /// Parses `idle`, `lowest`, `below-normal`, `normal`, `above-normal`, `highest`,
    /// `time-critical` (case-insensitive; `_` or no separator accepted).
    fn from_str(s: &str) -> Result<ThreadPriority, Error> {
        let n = normalize(s);
        ThreadPriority::ALL
            .into_iter()
            .find(|l| l.name().replace('-', "") == n)
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, "parse thread priority").with_detail(format!(
                    "unknown thread priority {s:?}; use idle, lowest, below-normal, normal, above-normal, highest or time-critical"
                ))
            })
    }
}

fn no_zero(op: &'static str, what: &str, id: u32) -> Result<(), Error> {
    if id == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
            "{what} 0 would mean the caller's own {what} to the kernel; name it explicitly"
        )));
    }
    Ok(())
}

/// Whose priority a group-wide call changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// A process group.
    Group(u32),
    /// Every process of a user (by real uid).
    User(u32),
}

impl Who {
    fn check(self, op: &'static str) -> Result<Who, Error> {
        match self {
            Who::Group(g) => no_zero(op, "process group", g)?,
            // uid 0 is "the caller's real uid" to the kernel: only ask for root when the
            // caller is root.
            Who::User(0) if crate::sys::imp::real_uid() != 0 => no_zero(op, "user id", 0)?,
            Who::User(_) => {}
        }
        Ok(self)
    }
}

/// The nice value of a process group: the lowest (most favoured) among its members.
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`] for group 0 (which the kernel reads as "the caller's own
/// group"); [`ErrorKind::NoSuchProcess`] when no process is in the group.
///
/// # Platform-specific behavior
///
/// Linux: `getpriority(PRIO_PGRP)`.
pub fn group_nice(pgid: u32) -> crate::Result<i32> {
    let op = "read group nice";
    crate::sys::imp::who_nice(Who::Group(pgid).check(op)?, op)
}

/// Sets the nice value of every process in a process group.
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`] for group 0 or a nice value outside -20..=19;
/// [`ErrorKind::NoSuchProcess`] when no process is in the group;
/// [`ErrorKind::AccessDenied`] when lowering it without privilege or for other users'
/// processes.
///
/// # Platform-specific behavior
///
/// Linux: `setpriority(PRIO_PGRP)`, which changes the thread of each member the kernel
/// addresses by pid (its main thread), as `renice -g` does.
pub fn set_group_nice(pgid: u32, nice: i32) -> crate::Result<()> {
    let op = "set group nice";
    crate::sys::imp::set_who_nice(Who::Group(pgid).check(op)?, nice, op)
}

/// The nice value of a user's processes: the lowest among them.
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`] for uid 0 unless the caller is root (the kernel reads 0
/// as "the caller's own uid"); [`ErrorKind::NoSuchProcess`] when the user has no
/// process.
///
/// # Platform-specific behavior
///
/// Linux: `getpriority(PRIO_USER)`.
pub fn user_nice(uid: u32) -> crate::Result<i32> {
    let op = "read user nice";
    crate::sys::imp::who_nice(Who::User(uid).check(op)?, op)
}

/// Sets the nice value of every process of a user (by real uid).
///
/// # Errors
///
/// As [`set_group_nice`], with uid 0 refused unless the caller is root.
///
/// # Platform-specific behavior
///
/// Linux: `setpriority(PRIO_USER)`, as `renice -u` does.
pub fn set_user_nice(uid: u32, nice: i32) -> crate::Result<()> {
    let op = "set user nice";
    crate::sys::imp::set_who_nice(Who::User(uid).check(op)?, nice, op)
}

/// The I/O priority of a process group: the highest among its members.
///
/// # Errors
///
/// As [`group_nice`].
///
/// # Platform-specific behavior
///
/// Linux: `ioprio_get(IOPRIO_WHO_PGRP)`.
pub fn group_io_priority(pgid: u32) -> crate::Result<crate::IoPriority> {
    let op = "read group ionice";
    crate::sys::imp::who_ionice(Who::Group(pgid).check(op)?, op)
}

/// Sets the I/O priority of every process in a process group.
///
/// # Errors
///
/// As [`set_group_nice`]; [`ErrorKind::InvalidInput`] for a level above 7.
///
/// # Platform-specific behavior
///
/// Linux: `ioprio_set(IOPRIO_WHO_PGRP)`.
pub fn set_group_io_priority(pgid: u32, prio: crate::IoPriority) -> crate::Result<()> {
    let op = "set group ionice";
    crate::sys::imp::set_who_ionice(Who::Group(pgid).check(op)?, prio, op)
}

/// The I/O priority of a user's processes: the highest among them.
///
/// # Errors
///
/// As [`user_nice`].
///
/// # Platform-specific behavior
///
/// Linux: `ioprio_get(IOPRIO_WHO_USER)`.
pub fn user_io_priority(uid: u32) -> crate::Result<crate::IoPriority> {
    let op = "read user ionice";
    crate::sys::imp::who_ionice(Who::User(uid).check(op)?, op)
}

/// Sets the I/O priority of every process of a user.
///
/// # Errors
///
/// As [`set_user_nice`]; [`ErrorKind::InvalidInput`] for a level above 7.
///
/// # Platform-specific behavior
///
/// Linux: `ioprio_set(IOPRIO_WHO_USER)`.
pub fn set_user_io_priority(uid: u32, prio: crate::IoPriority) -> crate::Result<()> {
    let op = "set user ionice";
    crate::sys::imp::set_who_ionice(Who::User(uid).check(op)?, prio, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in PriorityClass::ALL {
            assert_eq!(c.name().parse::<PriorityClass>().unwrap(), c);
        }
        assert_eq!(
            "BelowNormal".parse::<PriorityClass>().unwrap(),
            PriorityClass::BelowNormal
        );
        assert_eq!(
            "above_normal".parse::<PriorityClass>().unwrap(),
            PriorityClass::AboveNormal
        );
        assert!("turbo".parse::<PriorityClass>().is_err());
    }

    #[test]
    fn linux_mapping_reads_back() {
        for c in PriorityClass::ALL {
            let policy = match c {
                PriorityClass::Idle => 5,
                PriorityClass::Realtime => 2,
                _ => 0,
            };
            assert_eq!(PriorityClass::from_linux(policy, c.nice()), c, "{c}");
        }
        assert_eq!(PriorityClass::from_linux(0, 19), PriorityClass::BelowNormal);
        assert_eq!(PriorityClass::from_linux(3, 0), PriorityClass::Normal);
        assert_eq!(PriorityClass::from_linux(1, 0), PriorityClass::Realtime);
        assert_eq!(PriorityClass::from_linux(0, -20), PriorityClass::High);
    }

    #[test]
    fn every_level_round_trips_where_the_mapping_keeps_it_apart() {
        for class in PriorityClass::ALL {
            let mut seen = std::collections::HashMap::new();
            for level in ThreadPriority::ALL {
                let s = level.linux(class);
                assert!((-20..=19).contains(&s.nice), "{class} {level}");
                let back = ThreadPriority::from_linux(class, &s);
                // Levels that clamp onto the same setting read back as the one nearest
                // Normal; every other level reads back as itself.
                if let Some(prev) = seen.insert(s, level) {
                    assert_eq!(back, ThreadPriority::from_linux(class, &prev.linux(class)));
                } else if class != PriorityClass::Idle || level >= ThreadPriority::Normal {
                    assert_eq!(back, level, "{class} {level} {s:?}");
                }
            }
        }
        // The Normal class keeps all seven apart.
        let n: std::collections::HashSet<_> = ThreadPriority::ALL
            .iter()
            .map(|l| l.linux(PriorityClass::Normal))
            .collect();
        assert_eq!(n.len(), 7);
        assert_eq!(ThreadPriority::Highest.linux(PriorityClass::High).nice, -14);
        assert_eq!(
            ThreadPriority::Normal
                .linux(PriorityClass::Realtime)
                .rt_priority,
            PriorityClass::Realtime.linux().rt_priority
        );
    }

    #[test]
    fn odd_settings_read_back_as_the_nearest_level() {
        let s = |policy, nice, rt_priority| LinuxSched {
            policy,
            nice,
            rt_priority,
        };
        let n = PriorityClass::Normal;
        assert_eq!(
            ThreadPriority::from_linux(n, &s(SchedPolicy::Fifo, 0, 50)),
            ThreadPriority::TimeCritical
        );
        assert_eq!(
            ThreadPriority::from_linux(n, &s(SchedPolicy::Batch, 1, 0)),
            ThreadPriority::Normal
        );
        assert_eq!(
            ThreadPriority::from_linux(n, &s(SchedPolicy::Normal, 19, 0)),
            ThreadPriority::Lowest
        );
        assert_eq!(
            ThreadPriority::from_linux(n, &s(SchedPolicy::Normal, -15, 0)),
            ThreadPriority::TimeCritical
        );
        let rt = PriorityClass::Realtime;
        assert_eq!(
            ThreadPriority::from_linux(rt, &s(SchedPolicy::Normal, 0, 0)),
            ThreadPriority::Idle
        );
        assert_eq!(
            ThreadPriority::from_linux(rt, &s(SchedPolicy::Fifo, 0, 99)),
            ThreadPriority::TimeCritical
        );
    }

    #[test]
    fn level_and_policy_names() {
        for l in ThreadPriority::ALL {
            assert_eq!(l.name().parse::<ThreadPriority>().unwrap(), l);
        }
        assert_eq!(
            "TimeCritical".parse::<ThreadPriority>().unwrap(),
            ThreadPriority::TimeCritical
        );
        let e = "ultra".parse::<ThreadPriority>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("ultra"));
        for p in SchedPolicy::SETTABLE {
            assert_eq!(p.name().parse::<SchedPolicy>().unwrap(), p);
            assert_eq!(SchedPolicy::from_linux(p.linux_number()), p);
        }
        assert_eq!(
            "SCHED_RR".parse::<SchedPolicy>().unwrap(),
            SchedPolicy::RoundRobin
        );
        assert!("deadline".parse::<SchedPolicy>().is_err());
        assert_eq!(SchedPolicy::from_linux(7), SchedPolicy::Other(7));
    }

    #[test]
    fn zero_group_is_refused_before_any_syscall() {
        let e = set_group_nice(0, 5).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("own"), "{e}");
        assert_eq!(
            group_io_priority(0).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}
