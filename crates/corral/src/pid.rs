//! Process and thread ids.
//!
//! A [`Pid`] is only a number, and the OS hands the same number to a new process once
//! the old one is gone. A pid alone therefore never identifies a process: corral's
//! [`Process`](crate::Process) pairs the pid with the process's start time and, on
//! Linux, holds a pidfd on it, so that nothing done through a `Process` can reach a
//! newer process that happens to reuse the pid. Use `Pid` to *name* a process you are
//! about to open, and `Process` to *act* on it.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind};

/// The largest pid any supported OS hands out (Linux caps `pid_max` at 2^22; Windows
/// pids are multiples of 4 below 2^32). Larger numbers are rejected as input.
const PID_LIMIT: u32 = u32::MAX;

/// A process id: a positive number naming a process for as long as it exists.
///
/// Pid 0 is not a process (on Linux it names the idle task, on Windows the System
/// Idle Process, and neither can be opened), so a `Pid` is never zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(u32);

/// A thread id. On Linux a thread id lives in the same number space as pids (the main
/// thread's tid equals its process's pid); on Windows thread and process ids share one
/// space too but never coincide.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid(u32);

impl Pid {
    /// A pid from a raw number; `None` for 0.
    pub const fn new(raw: u32) -> Option<Pid> {
        if raw == 0 {
            None
        } else {
            Some(Pid(raw))
        }
    }

    /// The raw number.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

impl Tid {
    /// A thread id from a raw number; `None` for 0.
    pub const fn new(raw: u32) -> Option<Tid> {
        if raw == 0 {
            None
        } else {
            Some(Tid(raw))
        }
    }

    /// The raw number.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

macro_rules! id_fmt {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}
id_fmt!(Pid);
id_fmt!(Tid);

#[cfg(feature = "serde")]
impl serde::Serialize for Pid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Tid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

fn parse_id(s: &str, what: &'static str) -> Result<u32, Error> {
    let op = "parse pid";
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!("empty {what}")));
    }
    if t.starts_with('-') {
        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
            "{what} {t:?} is negative; a {what} is a positive number"
        )));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(ErrorKind::InvalidInput, op)
            .with_detail(format!("{what} {t:?} is not a number")));
    }
    let n: u64 = t.parse().map_err(|_| {
        Error::new(ErrorKind::InvalidInput, op).with_detail(format!("{what} {t:?} is too large"))
    })?;
    if n == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, op)
            .with_detail(format!("{what} 0 is not a process")));
    }
    if n > PID_LIMIT as u64 {
        return Err(
            Error::new(ErrorKind::InvalidInput, op).with_detail(format!("{what} {t} is too large"))
        );
    }
    Ok(n as u32)
}

impl FromStr for Pid {
    type Err = Error;

    /// Parses a decimal pid, rejecting 0, negative, non-numeric and oversized input with
    /// an [`ErrorKind::InvalidInput`] error that says which.
    fn from_str(s: &str) -> Result<Pid, Error> {
        parse_id(s, "pid").map(Pid)
    }
}

impl FromStr for Tid {
    type Err = Error;

    /// Parses a decimal thread id, with the same rules as [`Pid`].
    fn from_str(s: &str) -> Result<Tid, Error> {
        parse_id(s, "tid").map(Tid)
    }
}

/// A reference to one process as text: a pid, optionally pinned to one process by its
/// pidfs inode, as in `1234:5678` (the `PID:inode` form util-linux `kill` accepts).
///
/// A bare pid means "whatever process has this pid when it is opened"; with an inode it
/// means exactly one process, and opening it fails with
/// [`ErrorKind::NoSuchProcess`] once that process is gone, even if the pid was reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ProcessRef {
    /// The pid.
    pub pid: Pid,
    /// The pidfs inode number, if the reference is pinned to one process.
    pub inode: Option<u64>,
}

impl FromStr for ProcessRef {
    type Err = Error;

    /// Parses `PID` or `PID:INODE`.
    fn from_str(s: &str) -> Result<ProcessRef, Error> {
        match s.trim().split_once(':') {
            None => Ok(ProcessRef {
                pid: s.parse()?,
                inode: None,
            }),
            Some((p, i)) => {
                let pid = p.parse()?;
                let i = i.trim();
                let inode = if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) {
                    i.parse::<u64>().ok()
                } else {
                    None
                };
                match inode {
                    Some(inode) if inode != 0 => Ok(ProcessRef {
                        pid,
                        inode: Some(inode),
                    }),
                    _ => Err(
                        Error::new(ErrorKind::InvalidInput, "parse pid").with_detail(format!(
                            "{s:?}: expected PID or PID:INODE with a positive inode number"
                        )),
                    ),
                }
            }
        }
    }
}

impl fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inode {
            Some(inode) => write!(f, "{}:{}", self.pid, inode),
            None => write!(f, "{}", self.pid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_good_pids() {
        assert_eq!("1".parse::<Pid>().unwrap().as_raw(), 1);
        assert_eq!(" 4194304 ".parse::<Pid>().unwrap().as_raw(), 4194304);
        assert_eq!("4294967295".parse::<Pid>().unwrap().as_raw(), u32::MAX);
    }

    #[test]
    fn parse_bad_pids() {
        for (input, needle) in [
            ("0", "0 is not a process"),
            ("-1", "negative"),
            ("-0", "negative"),
            ("abc", "not a number"),
            ("12a", "not a number"),
            ("", "empty"),
            ("4294967296", "too large"),
            ("99999999999999999999999", "too large"),
            ("+5", "not a number"),
        ] {
            let err = input.parse::<Pid>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{input}");
            assert!(err.to_string().contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn parse_process_ref() {
        let r: ProcessRef = "12:345".parse().unwrap();
        assert_eq!(r.pid.as_raw(), 12);
        assert_eq!(r.inode, Some(345));
        assert_eq!(r.to_string(), "12:345");
        let r: ProcessRef = "12".parse().unwrap();
        assert_eq!(r.inode, None);
        for bad in ["12:", "12:x", ":5", "0:5", "12:0", "12:-3", "1:2:3"] {
            assert_eq!(
                bad.parse::<ProcessRef>().unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }
}
