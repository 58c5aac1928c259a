//! Signals and exit statuses, in one vocabulary for every platform.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind};

/// A signal to send to a process.
///
/// # Platform-specific behavior
///
/// Linux: each variant is the POSIX signal of that name; [`Signal::Raw`] passes any
/// number through (real-time signals included). Windows maps `Term` and `Kill` to
/// `TerminateProcess`, `Int`/`Break` to console control events, `Stop`/`Cont` to
/// suspend/resume; other signals are [`ErrorKind::Unsupported`] there.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Hang-up (`SIGHUP`, 1).
    Hup,
    /// Interrupt, as from Ctrl-C (`SIGINT`, 2).
    Int,
    /// Quit with core (`SIGQUIT`, 3).
    Quit,
    /// Illegal instruction (`SIGILL`, 4).
    Ill,
    /// Trace trap (`SIGTRAP`, 5).
    Trap,
    /// Abort (`SIGABRT`, 6).
    Abrt,
    /// Bus error (`SIGBUS`, 7).
    Bus,
    /// Floating-point exception (`SIGFPE`, 8).
    Fpe,
    /// Kill, cannot be caught (`SIGKILL`, 9).
    Kill,
    /// User signal 1 (`SIGUSR1`, 10).
    Usr1,
    /// Segmentation fault (`SIGSEGV`, 11).
    Segv,
    /// User signal 2 (`SIGUSR2`, 12).
    Usr2,
    /// Broken pipe (`SIGPIPE`, 13).
    Pipe,
    /// Alarm (`SIGALRM`, 14).
    Alrm,
    /// Terminate politely (`SIGTERM`, 15).
    Term,
    /// Child status changed (`SIGCHLD`, 17).
    Chld,
    /// Continue a stopped process (`SIGCONT`, 18).
    Cont,
    /// Stop, cannot be caught (`SIGSTOP`, 19).
    Stop,
    /// Terminal stop, as from Ctrl-Z (`SIGTSTP`, 20).
    Tstp,
    /// Background read from terminal (`SIGTTIN`, 21).
    Ttin,
    /// Background write to terminal (`SIGTTOU`, 22).
    Ttou,
    /// Urgent socket data (`SIGURG`, 23).
    Urg,
    /// CPU time limit exceeded (`SIGXCPU`, 24).
    Xcpu,
    /// File size limit exceeded (`SIGXFSZ`, 25).
    Xfsz,
    /// Virtual alarm (`SIGVTALRM`, 26).
    Vtalrm,
    /// Profiling alarm (`SIGPROF`, 27).
    Prof,
    /// Window size changed (`SIGWINCH`, 28).
    Winch,
    /// I/O possible (`SIGIO`, 29).
    Io,
    /// Power failure (`SIGPWR`, 30).
    Pwr,
    /// Bad system call (`SIGSYS`, 31).
    Sys,
    /// A raw signal number (real-time signals, or numbers this list does not name).
    Raw(i32),
}

const NAMED: [(Signal, &str, i32); 30] = [
    (Signal::Hup, "HUP", 1),
    (Signal::Int, "INT", 2),
    (Signal::Quit, "QUIT", 3),
    (Signal::Ill, "ILL", 4),
    (Signal::Trap, "TRAP", 5),
    (Signal::Abrt, "ABRT", 6),
    (Signal::Bus, "BUS", 7),
    (Signal::Fpe, "FPE", 8),
    (Signal::Kill, "KILL", 9),
    (Signal::Usr1, "USR1", 10),
    (Signal::Segv, "SEGV", 11),
    (Signal::Usr2, "USR2", 12),
    (Signal::Pipe, "PIPE", 13),
    (Signal::Alrm, "ALRM", 14),
    (Signal::Term, "TERM", 15),
    (Signal::Chld, "CHLD", 17),
    (Signal::Cont, "CONT", 18),
    (Signal::Stop, "STOP", 19),
    (Signal::Tstp, "TSTP", 20),
    (Signal::Ttin, "TTIN", 21),
    (Signal::Ttou, "TTOU", 22),
    (Signal::Urg, "URG", 23),
    (Signal::Xcpu, "XCPU", 24),
    (Signal::Xfsz, "XFSZ", 25),
    (Signal::Vtalrm, "VTALRM", 26),
    (Signal::Prof, "PROF", 27),
    (Signal::Winch, "WINCH", 28),
    (Signal::Io, "IO", 29),
    (Signal::Pwr, "PWR", 30),
    (Signal::Sys, "SYS", 31),
];

impl Signal {
    /// The signal's number in the Linux (x86, ARM, RISC-V) numbering, which is also the
    /// number corral prints and accepts everywhere.
    pub fn number(self) -> i32 {
        match self {
            Signal::Raw(n) => n,
            s => NAMED
                .iter()
                .find(|(x, _, _)| *x == s)
                .map(|(_, _, n)| *n)
                .expect("every named signal is in the table"),
        }
    }

    /// The signal for a number; named where corral has a name for it.
    pub fn from_number(n: i32) -> Signal {
        NAMED
            .iter()
            .find(|(_, _, x)| *x == n)
            .map(|(s, _, _)| *s)
            .unwrap_or(Signal::Raw(n))
    }

    /// The short name without `SIG` (`"TERM"`), or the number as text for raw signals.
    pub fn name(self) -> String {
        match NAMED.iter().find(|(x, _, _)| *x == self) {
            Some((_, n, _)) => (*n).to_string(),
            None => match self.number() {
                n @ 34..=64 => format!("RTMIN+{}", n - 34),
                n => n.to_string(),
            },
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signal::Raw(_) => write!(f, "signal {}", self.number()),
            _ => write!(f, "SIG{}", self.name()),
        }
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3`, `SIGRTMIN+3` or `RTMAX-1`.
    fn from_str(s: &str) -> Result<Signal, Error> {
        let bad = || {
            Error::new(ErrorKind::InvalidInput, "parse signal").with_detail(format!(
                "unknown signal {s:?}; use a name such as TERM, KILL, HUP, INT, USR1 or a number 1-64"
            ))
        };
        let t = s.trim();
        if let Ok(n) = t.parse::<i32>() {
            return if (1..=64).contains(&n) {
                Ok(Signal::from_number(n))
            } else {
                Err(bad())
            };
        }
        let up = t.to_ascii_uppercase();
        let name = up.strip_prefix("SIG").unwrap_or(&up);
        if let Some((_, _, n)) = NAMED.iter().find(|(_, nm, _)| *nm == name) {
            return Ok(Signal::from_number(*n));
        }
        let alias = match name {
            "IOT" => Some(6),
            "POLL" => Some(29),
            "CLD" => Some(17),
            _ => None,
        };
        if let Some(n) = alias {
            return Ok(Signal::from_number(n));
        }
        // Real-time signals: RTMIN = 34, RTMAX = 64 on Linux with glibc.
        let rt = |base: &str, sign: i32, origin: i32| -> Option<i32> {
            let rest = name.strip_prefix(base)?;
            if rest.is_empty() {
                return Some(origin);
            }
            let off: i32 = rest
                .strip_prefix(if sign > 0 { '+' } else { '-' })?
                .parse()
                .ok()?;
            let n = origin + sign * off;
            (34..=64).contains(&n).then_some(n)
        };
        if let Some(n) = rt("RTMIN", 1, 34).or_else(|| rt("RTMAX", -1, 64)) {
            return Ok(Signal::Raw(n));
        }
        Err(bad())
    }
}

/// How a process ended.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The signal.
        signal: Signal,
        /// Whether it dumped core.
        core_dumped: bool,
    },
    /// It exited, but the OS does not tell this caller how (a process that is not our
    /// child, reaped by its parent, on a kernel without `PIDFD_INFO_EXIT`).
    Unknown,
}

impl ExitStatus {
    /// Decodes a `wait`-style status word (`WIFEXITED`/`WTERMSIG`/`WCOREDUMP`).
    pub fn from_wait_status(status: i32) -> ExitStatus {
        let sig = status & 0x7f;
        if sig == 0 {
            ExitStatus::Exited((status >> 8) & 0xff)
        } else {
            ExitStatus::Signaled {
                signal: Signal::from_number(sig),
                core_dumped: status & 0x80 != 0,
            }
        }
    }

    /// The exit code, if it exited normally.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            _ => None,
        }
    }

    /// The signal that killed it, if one did.
    pub fn signal(self) -> Option<Signal> {
        match self {
            ExitStatus::Signaled { signal, .. } => Some(signal),
            _ => None,
        }
    }

    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The conventional shell exit code: the code, or 128 + signal number.
    pub fn shell_code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            ExitStatus::Signaled { signal, .. } => Some(128 + signal.number()),
            ExitStatus::Unknown => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exited with code {c}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {signal}")?;
                if *core_dumped {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
            ExitStatus::Unknown => write!(f, "exited (status unknown)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_signals() {
        for (s, n) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigkill", 9),
            ("9", 9),
            (" hup ", 1),
            ("IOT", 6),
            ("RTMIN", 34),
            ("SIGRTMIN+3", 37),
            ("RTMAX-1", 63),
            ("64", 64),
        ] {
            assert_eq!(s.parse::<Signal>().unwrap().number(), n, "{s}");
        }
        for bad in [
            "", "0", "65", "-1", "FOO", "SIG", "RTMIN+40", "RTMAX+1", "TERM9",
        ] {
            let e = bad.parse::<Signal>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for n in 1..=64 {
            let s = Signal::from_number(n);
            assert_eq!(s.number(), n);
            if n != 16 && n != 32 && n != 33 {
                assert_eq!(s.name().parse::<Signal>().unwrap(), s, "{n}");
            }
        }
        assert_eq!(Signal::Term.to_string(), "SIGTERM");
        assert_eq!(Signal::Raw(37).name(), "RTMIN+3");
    }

    #[test]
    fn wait_status_decoding() {
        assert_eq!(ExitStatus::from_wait_status(3 << 8), ExitStatus::Exited(3));
        assert_eq!(
            ExitStatus::from_wait_status(9),
            ExitStatus::Signaled {
                signal: Signal::Kill,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_wait_status(11 | 0x80),
            ExitStatus::Signaled {
                signal: Signal::Segv,
                core_dumped: true
            }
        );
        assert_eq!(ExitStatus::from_wait_status(15).shell_code(), Some(143));
    }
}
