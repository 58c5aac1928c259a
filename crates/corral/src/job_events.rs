//! Job notifications [the Win32 job completion-port messages]: [`Job::events`] and
//! [`JobEvent`].
//!
//! # Which events are exact
//!
//! Linux (cgroups) — "exact" means every occurrence is reported, in order, without
//! polling on a timer; "best-effort" means it is noticed when the watcher wakes for
//! another reason (the cgroup offers no notification for it).
//!
//! | event | cgroup v2 | hybrid/v1 |
//! |---|---|---|
//! | [`JobEvent::JobEmpty`] | exact: `cgroup.events` `populated 0` (`POLLPRI`) | exact for members the watcher holds pidfds for: the last exit, then an empty `cgroup.procs` |
//! | [`JobEvent::ProcessExit`] / [`AbnormalExit`](JobEvent::AbnormalExit) | exact for every member the watcher knows, with the status (proc connector exit events; else a pidfd per member and its status, see [`crate::Process::exit_status`]) | same |
//! | [`JobEvent::NewProcess`] | exact for forks of members when the proc connector is available (root, initial namespaces); else best-effort, from rescans of `cgroup.procs` at each other event; processes moved in from outside are always best-effort | same |
//! | [`JobEvent::ProcessLimit`] | exact: `pids.events` `max` (`POLLPRI`) | best-effort: v1 `pids.events` is not notified |
//! | [`JobEvent::MemoryLimit`] / [`OomKill`](JobEvent::OomKill) | exact: `memory.events` (`POLLPRI`); `MemoryLimit` counts hits of this job's own limit (`max` + `oom` of `memory.events.local`, Linux 5.2+, so a nested job's hits are that job's; older kernels: `memory.events`, the whole subtree), `OomKill` every member killed (`oom_kill` of `memory.events`, nested jobs included) | OOMs exact: eventfd on `memory.oom_control` (`cgroup.event_control`). `MemoryLimit` counts hits of this job's own limits: the rise of `memory.failcnt` + `memory.memsw.failcnt` (kept by the cgroup whose limit was hit), read at that eventfd and at every other wake-up (at least once a second while a watcher waits), and at least one per OOM signal once the job's usage watermark reached its own limit (the kernel signals an OOM to the whole subtree: an enclosing job's OOM is not a nested job's limit hit, unless that one once reached its own limit too). Linux 6.18 moved neither `failcnt` with both the memory and the memory + swap limit set (as [`JobLimits::job_memory`](crate::JobLimits::job_memory) sets them), not even through an OOM: there a limit hit that reclaim resolves is not reported. `OomKill` from `oom_kill` there |
//! | [`JobEvent::NotificationLimit`] | for watchers from [`Job::events`] on the handle that set the limits; when the handle's notification thread notices the crossing — CPU time as precise as the CPU time limit; memory best-effort (sampled every 5–50 ms; see [`JobNotificationLimits`](crate::JobNotificationLimits)); I/O best-effort (sampled) | memory exact (a v1 memory threshold: the kernel wakes the thread); CPU time and I/O as on v2 |
//! | [`JobEvent::CpuTimeLimit`] | exact for watchers from [`Job::events`] on the handle whose [`JobLimits::job_cpu_time`](crate::JobLimits::job_cpu_time) watcher terminated the job (it wakes them before the kill, so the event comes before the exits and `JobEmpty` that follow); never seen by other handles or processes (`corral job events NAME`): the limit lives in the process that set it, not in the cgroup | same |
//!
//! Windows: every event comes from the job's completion port and is exact; the exit
//! code comes from a handle the watcher opens when the process joins (members that
//! exit before it could be opened report [`ExitStatus::Unknown`]).
//! [`JobEvent::AbnormalExit`] carries the exception code as [`ExitStatus::Exited`];
//! [`JobEvent::MemoryLimit`] stands for both `JOB_MEMORY_LIMIT` and
//! `PROCESS_MEMORY_LIMIT`, and [`JobEvent::CpuTimeLimit`] for both `END_OF_JOB_TIME` and
//! `END_OF_PROCESS_TIME` (the member's exit follows). A Job Object takes one completion
//! port at a time: all [`Job::events`] streams of one `Job` handle share it (each sees
//! every event), and `events()` through another handle or process fails with
//! [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) while it is held. The port
//! is given back when that `Job` handle and its streams are all dropped (Windows 8 and
//! later; a watcher killed first, or Wine 8, leaves it associated until the job is
//! gone). Wine 8 posts new-process, exit and empty messages only.
//!
//! Linux without a writable cgroup (the process-group fallback, see [`Job`]):
//! everything is best-effort. The watcher waits on the pidfds of the members it knows and
//! rescans `/proc` after each exit and at least every 100 ms: [`JobEvent::NewProcess`]
//! comes at the rescan that first finds a member (one that lives and dies between two
//! rescans is never reported); exits carry the status from corral's own reaping of
//! orphaned members, else from the zombie or the pidfd ([`ExitStatus::Unknown`] when
//! neither tells); [`JobEvent::JobEmpty`] when a rescan finds no member after some were
//! seen; [`JobEvent::CpuTimeLimit`] as above; no process-limit or memory events (those
//! limits need a cgroup).

use std::time::Duration;

use crate::sys::imp;
use crate::{ExitStatus, Job, Pid, Result};

/// Something that happened in a job.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvent {
    /// A process joined the job (a member forked, or one was assigned)
    /// (Windows: `JOB_OBJECT_MSG_NEW_PROCESS`).
    NewProcess {
        /// The new member.
        pid: Pid,
    },
    /// A member exited normally (or with a status the OS does not tell)
    /// (Windows: `JOB_OBJECT_MSG_EXIT_PROCESS`).
    ProcessExit {
        /// The member.
        pid: Pid,
        /// How it ended: [`ExitStatus::Exited`] or [`ExitStatus::Unknown`].
        status: ExitStatus,
    },
    /// A member was killed by a signal (Windows: `JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS`,
    /// an unhandled exception).
    AbnormalExit {
        /// The member.
        pid: Pid,
        /// How it ended: [`ExitStatus::Signaled`] (Windows: the exception code as
        /// [`ExitStatus::Exited`]).
        status: ExitStatus,
    },
    /// A fork failed because the job is at its process limit
    /// (Windows: `JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT`).
    ProcessLimit {
        /// How many times the limit was hit since the previous report.
        count: u64,
    },
    /// The job's memory reached its limit (Windows: `JOB_OBJECT_MSG_JOB_MEMORY_LIMIT`).
    MemoryLimit {
        /// How many times since the previous report.
        count: u64,
    },
    /// The OS killed members because the job ran out of memory.
    OomKill {
        /// How many processes were killed since the previous report.
        count: u64,
    },
    /// The job used up its CPU-time limit (Windows: `JOB_OBJECT_MSG_END_OF_JOB_TIME`).
    CpuTimeLimit,
    /// The job crossed a notification-only limit of this handle
    /// ([`Job::set_notification_limits`]); nothing was killed (Windows:
    /// `JOB_OBJECT_MSG_NOTIFICATION_LIMIT`).
    NotificationLimit {
        /// Which one.
        limit: crate::NotificationLimit,
    },
    /// The job has no members any more (Windows: `JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO`). It may
    /// gain members again (then a later `JobEmpty` follows).
    JobEmpty,
}

impl JobEvent {
    /// A short name: `new-process`, `exit`, `abnormal-exit`, `process-limit`,
    /// `memory-limit`, `oom-kill`, `cpu-time-limit`, `notification-limit`, `empty`.
    pub fn kind(&self) -> &'static str {
        match self {
            JobEvent::NewProcess { .. } => "new-process",
            JobEvent::ProcessExit { .. } => "exit",
            JobEvent::AbnormalExit { .. } => "abnormal-exit",
            JobEvent::ProcessLimit { .. } => "process-limit",
            JobEvent::MemoryLimit { .. } => "memory-limit",
            JobEvent::OomKill { .. } => "oom-kill",
            JobEvent::CpuTimeLimit => "cpu-time-limit",
            JobEvent::NotificationLimit { .. } => "notification-limit",
            JobEvent::JobEmpty => "empty",
        }
    }

    /// The process the event is about, if any.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            JobEvent::NewProcess { pid }
            | JobEvent::ProcessExit { pid, .. }
            | JobEvent::AbnormalExit { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// The exit status, for exit events.
    pub fn status(&self) -> Option<ExitStatus> {
        match self {
            JobEvent::ProcessExit { status, .. } | JobEvent::AbnormalExit { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// An exit event for `pid` ended as `status`: abnormal when a signal killed it.
    // Only backends that report exits use it (Linux, so far).
    #[allow(dead_code)]
    pub(crate) fn exit(pid: Pid, status: ExitStatus) -> JobEvent {
        match status {
            ExitStatus::Signaled { .. } => JobEvent::AbnormalExit { pid, status },
            _ => JobEvent::ProcessExit { pid, status },
        }
    }
}

impl std::fmt::Display for JobEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobEvent::NewProcess { pid } => write!(f, "new process {pid}"),
            JobEvent::ProcessExit { pid, status } | JobEvent::AbnormalExit { pid, status } => {
                write!(f, "process {pid} {status}")
            }
            JobEvent::ProcessLimit { count } => write!(f, "process limit hit ({count}×)"),
            JobEvent::MemoryLimit { count } => write!(f, "memory limit hit ({count}×)"),
            JobEvent::OomKill { count } => write!(f, "out of memory: {count} killed"),
            JobEvent::CpuTimeLimit => write!(f, "CPU time limit hit"),
            JobEvent::NotificationLimit { limit } => {
                write!(f, "notification limit crossed: {}", limit.name())
            }
            JobEvent::JobEmpty => write!(f, "job empty"),
        }
    }
}

/// A stream of a job's events, from [`Job::events`]: an iterator that blocks for the
/// next one, or [`JobEvents::next_timeout`].
#[derive(Debug)]
pub struct JobEvents {
    inner: imp::JobWatch,
}

impl JobEvents {
    /// Waits at most `timeout` (`None`: no limit) for the next event; `Ok(None)` when
    /// none came in time.
    ///
    /// # Errors
    ///
    /// Once the job has been removed (Linux: its cgroup is gone; the kernel removes
    /// only an empty cgroup): the exits still owed and [`JobEvent::JobEmpty`] come
    /// first, if members were seen; then the iterator ends, and `next_timeout` fails.
    pub fn next_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<JobEvent>> {
        self.inner.next(timeout)
    }

    /// Whether [`JobEvent::NewProcess`] reports every fork of a member (else only those
    /// seen by rescans; see the module docs of the table).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: true when the proc connector could be subscribed to (root, in the initial
    /// pid and user namespaces).
    pub fn new_process_exact(&self) -> bool {
        self.inner.new_process_exact()
    }
}

impl Iterator for JobEvents {
    type Item = Result<JobEvent>;

    /// Blocks until the next event; `Some(Err(_))` when the job can no longer be watched
    /// (after which the iterator ends).
    fn next(&mut self) -> Option<Result<JobEvent>> {
        if self.inner.ended() {
            return None;
        }
        self.inner.next(None).transpose()
    }
}

impl Job {
    /// Starts watching the job's events: processes joining and exiting (with exit
    /// status), limits hit, out-of-memory kills, the job becoming empty.
    ///
    /// Events are those that happen after this call; members present now are known (their
    /// exits are reported) but not announced. See the module documentation for which
    /// events are exact on which system.
    ///
    /// # Errors
    ///
    /// When the job's control files cannot be opened (the job was removed, say).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use corral::{Command, Job, JobEvent};
    /// let job = Job::create(None)?;
    /// let mut events = job.events()?;
    /// Command::new("make").job(&job).spawn()?;
    /// for ev in &mut events {
    ///     match ev? {
    ///         JobEvent::JobEmpty => break,
    ///         other => eprintln!("{other}"),
    ///     }
    /// }
    /// # Ok::<(), corral::Error>(())
    /// ```
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: one epoll instance over `cgroup.events`, `memory.events` and `pids.events`
    /// (v2, `POLLPRI`), an eventfd registered on v1 `memory.oom_control`, the proc
    /// connector socket (fork and exit events, when available) and a pidfd per member
    /// (otherwise), and an eventfd this handle's CPU-time watcher writes to before it
    /// terminates the job ([`JobEvent::CpuTimeLimit`]). No timer-driven polling.
    /// Windows: the job's I/O completion port, read by one thread per `Job` handle and
    /// shared by all its streams; a job takes one port at a time, so `events()` through
    /// a second handle (or process) fails with
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) until the handle
    /// holding it and all its streams are dropped (then the port is given back: Windows
    /// 8 and later; not under Wine 8, nor when the holder is killed).
    pub fn events(&self) -> Result<JobEvents> {
        let inner = imp::JobWatch::new(self.inner_job())?;
        if let Some(r) = inner.cpu_limit_raiser() {
            self.cpu_limit_signal().add(r);
        }
        Ok(JobEvents { inner })
    }
}
