//! Scheduling vocabulary shared by every platform: Win32-style priority classes.
//!
//! | class | Linux policy | Linux nice | Windows class (base priority) |
//! |---|---|---|---|
//! | `Idle` | `SCHED_IDLE` | 19 | `IDLE_PRIORITY_CLASS` (4) |
//! | `BelowNormal` | `SCHED_OTHER` | 10 | `BELOW_NORMAL_PRIORITY_CLASS` (6) |
//! | `Normal` | `SCHED_OTHER` | 0 | `NORMAL_PRIORITY_CLASS` (8) |
//! | `AboveNormal` | `SCHED_OTHER` | -5 | `ABOVE_NORMAL_PRIORITY_CLASS` (10) |
//! | `High` | `SCHED_OTHER` | -10 | `HIGH_PRIORITY_CLASS` (13) |
//! | `Realtime` | `SCHED_RR`, priority 1 | 0 | `REALTIME_PRIORITY_CLASS` (24) |
//!
//! Reading a Linux process back gives the nearest class: `SCHED_IDLE` → `Idle`,
//! `SCHED_FIFO`/`SCHED_RR` → `Realtime`, otherwise (`SCHED_OTHER`, `SCHED_BATCH`) by nice
//! value: 5..=19 → `BelowNormal` (only `SCHED_IDLE` is truly idle), -2..=4 → `Normal`,
//! -7..=-3 → `AboveNormal`, ≤ -8 → `High`.

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
        let n: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect();
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
}
