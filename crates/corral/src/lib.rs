//! corral: see, control, spawn and confine processes and threads.
//!
//! # A process is a pid *and* a start time
//!
//! Pids are reused. A [`Process`] pairs the pid with the process's start time and, on
//! Linux, holds a pidfd, so that every getter either returns data of *that* process or
//! fails with [`ErrorKind::NoSuchProcess`] — never data of a newer process that took the
//! pid. Open one with [`Process::open`], [`Process::open_ref`] (`PID:inode`, pinned by the
//! pidfs inode) or from a snapshot row with [`ProcessInfo::open`].
//!
//! ```
//! use corral::{Pid, Process};
//! let me = Process::current()?;
//! let again = Process::open(me.pid())?;
//! assert_eq!(again.start_time()?.raw, me.start_time()?.raw);
//! println!("{} {:?} {}", me.name()?, me.cpu_times()?, me.memory_info()?.rss);
//! # Ok::<(), corral::Error>(())
//! ```
//!
//! # Snapshots
//!
//! [`Snapshot`] enumerates processes with a declared set of [`Field`]s, reading only the
//! OS data those fields need, with filters, and with errors per field inside each
//! [`ProcessInfo`] row.
//!
//! # Errors
//!
//! Every fallible call returns [`Error`], whose [`ErrorKind`] says what happened
//! (`NoSuchProcess`, `AccessDenied`, `Zombie`, `Timeout`, `Unsupported`, `InvalidInput`,
//! `Parse`, `Os`) and which carries the pid and the operation. corral never reports "could
//! not read" as a zero or an empty value.
//!
//! # Names
//!
//! A process's name follows one rule everywhere (library, `corral ps`, matching): the
//! kernel's `comm`, which Linux cuts at 15 bytes; when it is exactly 15 bytes long, it is
//! completed from the basename of argv\[0\], or else of the executable, if that basename
//! starts with it. Name matching is exact on that completed name.
//!
//! # Threads and scheduling
//!
//! [`Process::threads`] lists every thread ([`ThreadInfo`]); [`Thread`] is a reuse-safe
//! handle on one (tid + start time, a thread pidfd on Linux 6.9+). Priorities use the
//! Win32 vocabulary with a documented Linux mapping ([`sched`]): a [`PriorityClass`] per
//! process, applied to every thread, and [`ThreadPriority`] levels relative to it;
//! process-group and per-user priorities are in [`sched`] too. A process can be put in
//! background mode ([`Process::set_background`]), trimmed ([`Process::trim_memory`]) and
//! kept on a NUMA node ([`Process::set_numa_node`]).
//!
//! # Counters and rates
//!
//! Cumulative counters (CPU times, I/O, faults) are returned as the OS keeps them. For
//! percentages take two samples yourself ([`Process::cpu_sample`],
//! [`CpuSample::percent_since`]); there is no hidden refresh state.
//!
//! # Platform-specific behavior
//!
//! Linux is fully supported. Windows has a backend in progress (identity, snapshot,
//! control, waiting, spawning, jobs, system figures; see the README's platform table),
//! with what is missing returning [`ErrorKind::Unsupported`]. Other platforms compile
//! against a backend that returns `Unsupported` for everything. Platform-only
//! extensions live in `os::linux` and `os::windows`.
#![warn(missing_docs)]

mod command;
pub mod control;
mod error;
pub mod info;
mod job;
mod job_builder;
pub mod job_events;
mod job_limits;
pub mod os;
mod pid;
mod process;
pub mod sched;
mod signal;
mod snapshot;
mod sys;
pub mod system;
mod thread;

pub use command::{Child, ChildEvent, Command, Output, SignalForwarding, Stdio};
pub use error::{Error, ErrorKind, Result};
pub use info::*;
pub use job::{Capabilities, Job, JobBackend, JobRef, MAX_JOB_NAME};
pub use job_builder::JobBuilder;
pub use job_events::{JobEvent, JobEvents};
pub use job_limits::{
    Enforcement, IoRate, JobAccounting, JobLimits, JobNotificationLimits, Limit, LimitSupport,
    NotificationLimit,
};
pub use pid::{Pid, ProcessRef, Tid};
pub use process::{CpuSample, Process};
pub use sched::{LinuxSched, PriorityClass, SchedPolicy, ThreadPriority};
pub use signal::{ExitStatus, Signal};
pub use snapshot::{
    Field, FieldSet, FieldValue, Filter, NameMatch, PortMatch, ProcessInfo, Snapshot,
};
pub use thread::{Thread, ThreadInfo};
