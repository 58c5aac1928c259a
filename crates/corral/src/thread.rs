//! [`Thread`]: one thread, identified by thread id *and* start time, and
//! [`ThreadInfo`], what [`Process::threads`](crate::Process::threads) lists.

use std::time::Duration;

#[cfg(feature = "serde")]
use serde::Serialize;

use crate::info::{CtxSwitches, StartTime, Status};
use crate::sched::{LinuxSched, SchedPolicy, ThreadPriority};
use crate::sys::imp;
use crate::{Error, ErrorKind, Pid, Process, Result, Tid};

/// One thread of a process as listed by [`Process::threads`](crate::Process::threads).
///
/// On Windows, `nice` is 0, `policy` `Normal` and `rt_priority` 0 (Windows threads have
/// priority levels only: `priority` is native there), `cpu` is `None`; `status` and
/// `ctx_switches` come from `SystemProcessInformation`: the thread state and wait reason
/// (running or ready → `Running`, suspended → `Stopped`, waiting for a page-in →
/// `DiskSleep`, any other wait → `Sleeping`, `Dead` once exited) and its one context
/// switch count, reported as `voluntary` (`involuntary` 0), as psutil does.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct ThreadInfo {
    /// Thread id.
    pub tid: Tid,
    /// The thread's name (Linux: its `comm`, at most 15 bytes).
    pub name: String,
    /// Scheduler state.
    pub status: Status,
    /// User-mode CPU time.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::info::ser::secs"))]
    pub user: Duration,
    /// Kernel-mode CPU time.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::info::ser::secs"))]
    pub system: Duration,
    /// Nice value, -20..=19.
    pub nice: i32,
    /// Scheduling policy.
    pub policy: SchedPolicy,
    /// Real-time priority (1..=99 under `Fifo`/`RoundRobin`, else 0).
    pub rt_priority: u32,
    /// The nearest priority level relative to the process's class (see
    /// [`ThreadPriority`]).
    pub priority: ThreadPriority,
    /// The CPUs the thread may run on, ascending.
    pub affinity: Vec<usize>,
    /// The CPU it last ran on.
    pub cpu: Option<u32>,
    /// Voluntary and involuntary context switches.
    pub ctx_switches: CtxSwitches,
    /// When the thread started.
    pub start: StartTime,
}

/// One thread, held so that nothing done through it can reach another thread that
/// reused its id, like a Win32 thread handle from `OpenThread`.
///
/// A `Thread` is a thread id plus the start time the thread had when it was opened,
/// with the process it belongs to. On Linux 6.9+ it holds a thread pidfd
/// (`pidfd_open(PIDFD_THREAD)`) that says without races when the thread has exited;
/// on older kernels every call re-reads the thread's start time instead. Calls the
/// kernel offers only by thread id are checked against reuse before and after.
///
/// # Examples
///
/// ```ignore-windows
/// let me = corral::Process::current()?;
/// for t in me.threads()? {
///     println!("{} {} {:?} {}", t.tid, t.name, t.policy, t.priority);
/// }
/// let main = me.thread(corral::Tid::new(me.pid().as_raw()).unwrap())?;
/// assert_eq!(main.pid(), me.pid());
/// # Ok::<(), corral::Error>(())
/// ```
#[derive(Debug)]
pub struct Thread {
    h: imp::ThreadHandle,
}

impl Thread {
    /// Opens the thread that has `tid` now, in whichever process it belongs to.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if there is no such thread.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: reads the owner from `/proc/TID/status` and the start time from
    /// `/proc/PID/task/TID/stat`, and calls `pidfd_open(PIDFD_THREAD)` (6.9+; without it,
    /// quietly falls back to start-time checks).
    pub fn open(tid: Tid) -> Result<Thread> {
        imp::ThreadHandle::open(tid).map(|h| Thread { h })
    }

    pub(crate) fn from_handle(h: imp::ThreadHandle) -> Thread {
        Thread { h }
    }

    /// The thread id.
    pub fn tid(&self) -> Tid {
        self.h.tid
    }

    /// The pid of the process the thread belongs to.
    pub fn pid(&self) -> Pid {
        self.h.pid
    }

    /// The process the thread belongs to, opened (only if it is still the same process).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn process(&self) -> Result<Process> {
        Process::open_with_start(self.pid(), &imp::start_time_at_ticks(self.h.proc_start)?)
    }

    /// When the thread started.
    ///
    /// # Errors
    ///
    /// Only if the boot time cannot be read.
    pub fn start_time(&self) -> Result<StartTime> {
        imp::start_time_at_ticks(self.h.start_ticks)
    }

    /// Whether this thread has not exited yet.
    pub fn is_running(&self) -> bool {
        !self.h.has_exited()
    }

    /// Everything [`Process::threads`](crate::Process::threads) lists, for this thread.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    pub fn info(&self) -> Result<ThreadInfo> {
        self.h.info()
    }

    /// The thread's name.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    pub fn name(&self) -> Result<String> {
        Ok(self.info()?.name)
    }

    /// The nearest priority level relative to the process's class.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    pub fn priority(&self) -> Result<ThreadPriority> {
        Ok(self.info()?.priority)
    }

    /// Sets the thread's priority level relative to the process's class, as
    /// `SetThreadPriority` does (the class is read from the process now; see
    /// [`ThreadPriority`] for the mapping).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for levels that raise the priority without privilege
    /// (Linux: a lower nice value than allowed by `RLIMIT_NICE`, or any real-time
    /// level without `CAP_SYS_NICE`); [`ErrorKind::NoSuchProcess`] if the thread is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_setscheduler` and `setpriority` on the thread id. Windows:
    /// `SetThreadPriority` with the level's `THREAD_PRIORITY_*` value.
    pub fn set_priority(&self, level: ThreadPriority) -> Result<()> {
        self.h.set_priority(level)
    }

    /// The thread's policy, nice value and real-time priority.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    pub fn scheduler(&self) -> Result<LinuxSched> {
        let i = self.info()?;
        Ok(LinuxSched {
            policy: i.policy,
            nice: i.nice,
            rt_priority: i.rt_priority,
        })
    }

    /// Sets the thread's scheduling policy; `rt_priority` is 1..=99 for `Fifo` and
    /// `RoundRobin` and must be 0 otherwise. The nice value is left as it is.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a priority outside the policy's range or for
    /// `Deadline`/`Other` (which need parameters corral does not take);
    /// [`ErrorKind::AccessDenied`] for a real-time policy without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_setscheduler` on the thread id. Elsewhere only the `Normal` policy
    /// exists.
    pub fn set_scheduler(&self, policy: SchedPolicy, rt_priority: u32) -> Result<()> {
        let op = "set scheduling policy";
        let bad = |d: String| {
            Err(Error::new(ErrorKind::InvalidInput, op)
                .with_pid(self.pid())
                .with_detail(d))
        };
        match policy {
            SchedPolicy::Deadline | SchedPolicy::Other(_) => {
                return bad(format!(
                    "cannot set the {policy} policy (only normal, batch, idle, fifo, rr)"
                ))
            }
            p if p.is_realtime() && !(1..=99).contains(&rt_priority) => {
                return bad(format!("{p} needs a priority 1..=99, not {rt_priority}"))
            }
            p if !p.is_realtime() && rt_priority != 0 => {
                return bad(format!("{p} takes priority 0, not {rt_priority}"))
            }
            _ => {}
        }
        let nice = self.info()?.nice;
        self.h.set_sched(
            &LinuxSched {
                policy,
                nice,
                rt_priority,
            },
            op,
        )
    }

    /// The nice value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    pub fn nice(&self) -> Result<i32> {
        Ok(self.info()?.nice)
    }

    /// Sets the nice value of this thread only.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] outside -20..=19; [`ErrorKind::AccessDenied`] when
    /// lowering it without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `setpriority(PRIO_PROCESS, tid)`.
    pub fn set_nice(&self, nice: i32) -> Result<()> {
        self.h.set_nice(nice)
    }

    /// The CPUs the thread may run on, ascending.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_getaffinity(tid)`.
    ///
    /// Windows: CPU numbers run 0..N across processor groups. One group: the mask of
    /// `NtQueryInformationThread(ThreadBasicInformation)`; several: `GetThreadGroupAffinity`
    /// (the thread's group and its mask there; compiles, the group mapping is
    /// unit-tested: no machine with several groups here).
    pub fn cpu_affinity(&self) -> Result<Vec<usize>> {
        self.h.affinity()
    }

    /// Restricts this thread (only) to `cpus`, as `SetThreadAffinityMask` does.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for an empty list or CPUs that do not exist; on
    /// Windows also for CPUs in two processor groups.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_setaffinity(tid)`.
    ///
    /// Windows: `SetThreadGroupAffinity` (CPU numbers run 0..N across processor groups).
    /// A Windows thread runs in one processor group, so CPUs of two groups are
    /// `InvalidInput` saying so; CPUs of another group than the thread's move it there
    /// (that group becomes its primary group). One group (Wine): verified; several:
    /// compiles, the group mapping is unit-tested.
    pub fn set_cpu_affinity(&self, cpus: &[usize]) -> Result<()> {
        self.h.set_affinity(cpus)
    }

    /// The I/O priority of this thread (class and level).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the thread is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `ioprio_get(IOPRIO_WHO_PROCESS, tid)`, checked against tid reuse before
    /// and after. Windows has no per-thread I/O priority of this kind: `Unsupported`.
    pub fn io_priority(&self) -> Result<crate::IoPriority> {
        self.h.io_priority()
    }

    /// Sets the I/O priority of this thread only (other threads of the process keep
    /// theirs).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a level above 7; [`ErrorKind::AccessDenied`] for
    /// the realtime class without privilege; [`ErrorKind::NoSuchProcess`] if the thread
    /// is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `ioprio_set(IOPRIO_WHO_PROCESS, tid)`, checked against tid reuse before
    /// and after.
    pub fn set_io_priority(&self, prio: crate::IoPriority) -> Result<()> {
        self.h.set_io_priority(prio)
    }

    /// Suspends this one thread, as `SuspendThread` does — where the OS allows it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] on Linux, always. Windows: [`ErrorKind::AccessDenied`]
    /// without `THREAD_SUSPEND_RESUME` on the thread; [`ErrorKind::NoSuchProcess`] if it
    /// has exited.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: `SuspendThread` (the thread's suspend count goes up by one; it runs
    /// again when [`Thread::resume`] brings the count back to zero).
    ///
    /// Linux has no way to stop a single thread of another process without tracing it:
    /// `SIGSTOP` (even sent with `tgkill` to one thread) stops the whole thread group.
    /// The only exact way is `ptrace(PTRACE_SEIZE)` then `PTRACE_INTERRUPT` on that one
    /// thread, which makes corral the process's tracer for as long as the thread stays
    /// stopped (a debugger can then no longer attach, the process sees itself traced in
    /// `/proc/PID/status`, and if corral exits the thread resumes). Rather than doing that
    /// behind the caller's back, or stopping the whole process by surprise, this returns
    /// `Unsupported`; use [`Process::suspend`](crate::Process::suspend) for the whole
    /// process, or a [`Job`](crate::Job) freeze.
    pub fn suspend(&self) -> Result<()> {
        self.h.suspend()
    }

    /// Resumes a thread suspended with [`Thread::suspend`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] on Linux, always (see [`Thread::suspend`]).
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: `ResumeThread`.
    pub fn resume(&self) -> Result<()> {
        self.h.resume()
    }
}
