//! [`Process`]: one process, identified by pid *and* start time.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::info::*;
use crate::signal::{ExitStatus, Signal};
use crate::sys::imp;
use crate::{ErrorKind, Pid, ProcessRef, Result};

/// One process, held so that nothing done through it can reach another process.
///
/// A `Process` is a pid plus the start time the process had when it was opened. On
/// Linux it also holds a pidfd (where the kernel has `pidfd_open`, 5.3+), through which
/// every read is checked after the fact: if the process exited meanwhile, getters fail
/// with [`ErrorKind::NoSuchProcess`] (or [`ErrorKind::Zombie`]) instead of returning
/// data of a newer process that reused the pid. On Windows it holds a process handle.
///
/// Holding a `Process` keeps one file descriptor open; dropping it closes it.
///
/// # Examples
///
/// ```
/// let me = corral::Process::current()?;
/// assert_eq!(me.pid().as_raw(), std::process::id());
/// assert!(me.is_running());
/// println!("{} uses {} bytes", me.name()?, me.memory_info()?.rss);
/// # Ok::<(), corral::Error>(())
/// ```
#[derive(Debug)]
pub struct Process {
    h: imp::Handle,
}

/// A sample of a process's CPU time with the instant it was taken, for computing CPU
/// percentages from two samples (see [`CpuSample::percent_since`]).
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// When the sample was taken.
    pub at: Instant,
    /// The process's CPU times then.
    pub times: CpuTimes,
}

impl CpuSample {
    /// CPU use between `earlier` and this sample, in percent of one CPU (so a process
    /// busy on two CPUs shows 200, as `top` and psutil show it). Zero if no time passed.
    pub fn percent_since(&self, earlier: &CpuSample) -> f64 {
        let wall = self.at.saturating_duration_since(earlier.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        let cpu = self
            .times
            .total()
            .saturating_sub(earlier.times.total())
            .as_secs_f64();
        cpu / wall * 100.0
    }
}

impl Process {
    /// Opens the process that has `pid` now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if there is none.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: reads `/proc/PID/stat` and calls `pidfd_open` (without it, quietly falls back
    /// to start-time checks). Windows: `OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION |
    /// SYNCHRONIZE)` and `GetProcessTimes`; [`ErrorKind::AccessDenied`] for processes
    /// Windows will not open (System, pid 4).
    pub fn open(pid: Pid) -> Result<Process> {
        imp::Handle::open(pid).map(|h| Process { h })
    }

    /// Opens the process named by a [`ProcessRef`]: with an inode, only that exact
    /// process.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone or the pid now belongs to
    /// another process; [`ErrorKind::Unsupported`] for an inode on a kernel without
    /// pidfs (before Linux 6.9).
    pub fn open_ref(r: ProcessRef) -> Result<Process> {
        match r.inode {
            Some(inode) => imp::Handle::open_pinned(r.pid, inode).map(|h| Process { h }),
            None => Process::open(r.pid),
        }
    }

    /// Opens `pid` only if it is still the process that started at `start` (a start time
    /// read earlier, as from a snapshot row).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone or the pid was reused.
    pub fn open_with_start(pid: Pid, start: &StartTime) -> Result<Process> {
        imp::Handle::open_with_start(pid, start.raw).map(|h| Process { h })
    }

    /// Opens a child the caller spawned and has not reaped (cheaper than
    /// [`Process::open`]: the pid cannot change hands).
    pub(crate) fn open_own_child(pid: Pid) -> Result<Process> {
        imp::Handle::open_child(pid).map(|h| Process { h })
    }

    /// The calling process.
    ///
    /// # Errors
    ///
    /// Only if `/proc` is not mounted (Linux).
    pub fn current() -> Result<Process> {
        let pid = Pid::new(std::process::id()).expect("own pid is positive");
        Process::open(pid)
    }

    /// The pid.
    pub fn pid(&self) -> Pid {
        self.h.pid
    }

    /// When the process started: its wall-clock time and the raw OS stamp that, with the
    /// pid, identifies it.
    ///
    /// # Errors
    ///
    /// Only if the boot time cannot be read (Linux: `/proc/stat`).
    pub fn start_time(&self) -> Result<StartTime> {
        imp::start_time_of(&self.h)
    }

    /// The wall-clock time the process started (psutil's `create_time`).
    ///
    /// # Errors
    ///
    /// As [`Process::start_time`].
    pub fn create_time(&self) -> Result<SystemTime> {
        Ok(self.start_time()?.wall)
    }

    /// The pidfs inode number of the process: with the pid, a name no other process will
    /// ever have on this boot (`PID:inode`, as util-linux `kill` accepts).
    ///
    /// # Platform-specific behavior
    ///
    /// `None` on Linux before 6.9 (no pidfs) and on other platforms.
    pub fn pidfs_inode(&self) -> Option<u64> {
        self.h.inode()
    }

    /// A [`ProcessRef`] naming exactly this process (pinned by inode where there is one).
    pub fn process_ref(&self) -> ProcessRef {
        ProcessRef {
            pid: self.pid(),
            inode: self.pidfs_inode(),
        }
    }

    /// Whether this process has not exited yet. A zombie (exited, not yet reaped) is not
    /// running; a newer process that reused the pid is not this one.
    pub fn is_running(&self) -> bool {
        !self.h.has_exited()
    }

    /// The process name: the kernel's `comm`, completed to the full executable name when
    /// the kernel cut it at 15 bytes (see the crate docs, "Names").
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn name(&self) -> Result<String> {
        self.h.name()
    }

    /// The executable's path; `None` for kernel threads, which have none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege;
    /// [`ErrorKind::Zombie`] once the process exited.
    pub fn exe(&self) -> Result<Option<PathBuf>> {
        self.h.exe()
    }

    /// The command line, argument by argument (empty for kernel threads).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Zombie`] once the process exited.
    pub fn cmdline(&self) -> Result<Vec<OsString>> {
        self.h.cmdline()
    }

    /// The current working directory.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    pub fn cwd(&self) -> Result<PathBuf> {
        self.h.cwd()
    }

    /// The environment the process started with, as `(name, value)` pairs in order.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    pub fn environ(&self) -> Result<Vec<(OsString, OsString)>> {
        self.h.environ()
    }

    /// The scheduler state.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows has no process state; it is derived from the threads' states
    /// (`NtQuerySystemInformation(SystemProcessInformation)`, one read of the whole
    /// machine): a thread running, ready or just created → `Running`; every thread
    /// suspended → `Stopped`; all waiting otherwise → `Sleeping`; exited but still held
    /// open → `Zombie`.
    pub fn status(&self) -> Result<Status> {
        self.h.status()
    }

    /// The name of the user who owns the process (its real uid); the uid as a number
    /// when the user database has no name for it, as `ps` shows it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn username(&self) -> Result<String> {
        self.h.username()
    }

    /// Real, effective, saved and filesystem user ids.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn uids(&self) -> Result<Ids> {
        self.h.uids()
    }

    /// Real, effective, saved and filesystem group ids.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn gids(&self) -> Result<Ids> {
        self.h.gids()
    }

    /// The controlling terminal's device path (`/dev/pts/3`), or `None` when the process
    /// has none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn terminal(&self) -> Result<Option<String>> {
        self.h.terminal()
    }

    /// The parent's pid; `None` for processes without one (pid 1, kernel threads'
    /// root `kthreadd`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn ppid(&self) -> Result<Option<Pid>> {
        self.h.ppid()
    }

    /// The parent process, opened, or `None` if it has none or it is gone (the parent
    /// pid of a reparented process names the new parent; a parent that started after
    /// this process cannot be its parent and is not returned).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if this process is gone.
    pub fn parent(&self) -> Result<Option<Process>> {
        let Some(ppid) = self.ppid()? else {
            return Ok(None);
        };
        match Process::open(ppid) {
            Ok(p) if p.h.start_ticks <= self.h.start_ticks => Ok(Some(p)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NoSuchProcess => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The direct children, opened (those that exit meanwhile are left out).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if this process is gone.
    pub fn children(&self) -> Result<Vec<Process>> {
        self.children_impl(false)
    }

    /// All descendants (children, their children …), opened, parents before children.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if this process is gone.
    pub fn descendants(&self) -> Result<Vec<Process>> {
        self.children_impl(true)
    }

    fn children_impl(&self, recursive: bool) -> Result<Vec<Process>> {
        let rows = crate::Snapshot::new().field(crate::Field::Ppid).collect()?;
        self.h.verify("list children", true)?;
        let mut out = Vec::new();
        let mut frontier = vec![(self.pid(), self.h.start_ticks)];
        while let Some((parent, pstart)) = frontier.pop() {
            for row in &rows {
                let is_child = matches!(row.ppid, Some(Ok(Some(p))) if p == parent);
                // A child starts after its parent; anything older is a pid-reuse artefact.
                if is_child && row.start.raw >= pstart {
                    if let Ok(p) = Process::open_with_start(row.pid, &row.start) {
                        if recursive {
                            frontier.push((p.pid(), p.h.start_ticks));
                        }
                        out.push(p);
                    }
                }
            }
        }
        Ok(out)
    }

    /// CPU times used so far.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn cpu_times(&self) -> Result<CpuTimes> {
        self.h.cpu_times()
    }

    /// A CPU-time sample for [`CpuSample::percent_since`]: take one now, one later, and
    /// the difference is the CPU percentage over that interval. No state is kept here.
    ///
    /// # Errors
    ///
    /// As [`Process::cpu_times`].
    pub fn cpu_sample(&self) -> Result<CpuSample> {
        let times = self.cpu_times()?;
        Ok(CpuSample {
            at: Instant::now(),
            times,
        })
    }

    /// CPU percentage over `interval`: two samples `interval` apart (this call sleeps).
    ///
    /// # Errors
    ///
    /// As [`Process::cpu_times`].
    pub fn cpu_percent(&self, interval: Duration) -> Result<f64> {
        let a = self.cpu_sample()?;
        std::thread::sleep(interval);
        let b = self.cpu_sample()?;
        Ok(b.percent_since(&a))
    }

    /// The CPU the process last ran on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn cpu_num(&self) -> Result<u32> {
        self.h.cpu_num()
    }

    /// The CPUs the process may run on, ascending.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_getaffinity` of the main thread, checked against pid reuse.
    ///
    /// Windows: CPU numbers run 0..N over the whole machine, across processor groups
    /// (as [`system::topology`](crate::system::topology) numbers them). On one group
    /// (up to 64 CPUs): the process affinity mask (`GetProcessAffinityMask`). On several
    /// groups: the process's default CPU sets when it has some
    /// (`GetProcessDefaultCpuSetMasks`, Windows 11 / Server 2022; what
    /// [`Process::set_cpu_affinity`] sets across groups), else the groups its threads
    /// run in (`GetProcessGroupAffinity`): in one group, the process mask there; in
    /// several, the union of those groups' CPUs (Windows keeps no per-group process mask
    /// then). Several groups: compiles; the group mapping is unit-tested (no machine
    /// with several groups here).
    pub fn cpu_affinity(&self) -> Result<Vec<usize>> {
        self.h.affinity()
    }

    /// Restricts every thread of the process to `cpus`, as `SetProcessAffinityMask`
    /// does.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for an empty list, CPUs beyond the machine, or no
    /// online CPU in the list; [`ErrorKind::AccessDenied`] for another user's process
    /// without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_setaffinity` on each thread in `/proc/PID/task` (threads started
    /// later inherit from their creator), checked against pid reuse before and after.
    ///
    /// Windows: a CPU beyond the machine (numbered 0..N across processor groups) is
    /// `InvalidInput` naming the range. On one group: `SetProcessAffinityMask`. On
    /// several groups, `SetProcessAffinityMask` sets a mask within the group the
    /// process's threads run in (before Windows 11 each new process gets one primary
    /// group, round-robin; a thread's group is its own): CPUs all in that group are set
    /// so (clearing any default CPU sets, so the mask is what applies); CPUs in other or
    /// several groups become the process's default CPU sets
    /// (`SetProcessDefaultCpuSetMasks`, looked up at run time: Windows 11 / Server 2022),
    /// which the threads without CPU sets of their own follow; without that call,
    /// `Unsupported` naming it. Several groups: compiles; the group mapping is
    /// unit-tested (no machine with several groups here).
    pub fn set_cpu_affinity(&self, cpus: &[usize]) -> Result<()> {
        self.h.set_affinity(cpus)
    }

    /// Keeps the process on one NUMA node: restricts every thread to the node's CPUs.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a node that does not exist or has no CPUs (a
    /// memory-only node); otherwise as [`Process::set_cpu_affinity`].
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the node's CPUs from `/sys/devices/system/node`. Only the CPUs are bound:
    /// Linux has no call to change another process's memory policy (`set_mempolicy` and
    /// `mbind` act on the caller), so memory is placed by the default local-first
    /// policy, which follows the CPUs for new allocations. To bind memory too, start the
    /// process on the node (`Command` with the node's CPUs, then `numactl --membind`
    /// semantics inside the program) or use a cpuset cgroup.
    pub fn set_numa_node(&self, node: u32) -> Result<()> {
        let cpus = crate::system::numa_node_cpus(node)?;
        self.set_cpu_affinity(&cpus)
    }

    /// Puts the process into (or takes it out of) background mode, as Windows'
    /// `PROCESS_MODE_BACKGROUND_BEGIN`/`END` and EcoQoS do: lowest CPU and I/O priority
    /// together, on every thread.
    ///
    /// On: `SCHED_IDLE` with nice 19, the idle I/O class, and a utilisation clamp of 0
    /// (the CPU frequency governor then runs the threads at the lowest speed) where the
    /// kernel has one. Off: `SCHED_OTHER` with nice 0, the default I/O class (best-effort
    /// at the level the nice value implies), and the utilisation clamp reset. Off does
    /// not restore a class set before background mode began: the process is left at
    /// `Normal`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege, and
    /// when turning background mode off without privilege to lower the nice value back
    /// to 0 (Linux: `RLIMIT_NICE` or `CAP_SYS_NICE`).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: per thread, `sched_setscheduler`, `setpriority`, `ioprio_set` and
    /// `sched_setattr(SCHED_FLAG_UTIL_CLAMP_MAX)` (the last only with
    /// `CONFIG_UCLAMP_TASK`; [`BackgroundReport::util_clamp`] says whether it was set).
    ///
    /// Windows: `PROCESS_MODE_BACKGROUND_BEGIN` works only on the calling process, so
    /// for any process corral sets what it and efficiency mode change, process-wide
    /// (every thread, present and future): the I/O priority hint very low
    /// (`NtSetInformationProcess(ProcessIoPriority)`), the memory priority very low
    /// (`SetProcessInformation(ProcessMemoryPriority)`), `IDLE_PRIORITY_CLASS`, and EcoQoS
    /// (`ProcessPowerThrottling` execution-speed throttling;
    /// [`BackgroundReport::util_clamp`] says whether Windows accepted it). Off: normal
    /// hint, memory priority and class, EcoQoS left to Windows. A system that cannot set
    /// a process's I/O priority (Wine) gets [`ErrorKind::Unsupported`] with nothing
    /// changed. [`BackgroundReport::threads`] is the process's thread count.
    pub fn set_background(&self, on: bool) -> Result<BackgroundReport> {
        self.h.set_background(on)
    }

    /// Whether the process is in background mode: every thread `SCHED_IDLE` with the
    /// idle I/O class (Windows: `IDLE_PRIORITY_CLASS` with the very-low I/O hint).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn is_background(&self) -> Result<bool> {
        self.h.is_background()
    }

    /// Pages out what the process has resident, as `SetProcessWorkingSetSize(-1, -1)`
    /// ("empty the working set") does, and reports the resident size before and after.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] where the kernel lacks `process_madvise` (Linux
    /// before 5.10) or pidfds; [`ErrorKind::AccessDenied`] without privilege (Linux:
    /// ptrace access to the process and `CAP_SYS_NICE`).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `process_madvise(MADV_PAGEOUT)` through the pidfd over every private
    /// mapping in `/proc/PID/maps`. Clean file-backed pages are dropped (read back from
    /// the file on next use); anonymous pages go to swap, so without swap they stay
    /// resident. Pages shared with other processes, locked or huge-TLB mappings are left
    /// alone by the kernel.
    ///
    /// Windows: `SetProcessWorkingSetSizeEx(-1, -1)` with `PROCESS_SET_QUOTA`; the pages
    /// leave the working set for the standby or modified list and fault back on use
    /// (no page file needed). [`TrimReport::advised`] is the working set before.
    pub fn trim_memory(&self) -> Result<TrimReport> {
        self.h.trim_memory()
    }

    /// The nice value, -20 (most favoured) to 19.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn nice(&self) -> Result<i32> {
        self.h.nice()
    }

    /// Sets the nice value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] outside -20..=19; [`ErrorKind::AccessDenied`] when
    /// lowering it without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `setpriority(PRIO_PROCESS)`, which changes the main thread only; checked
    /// against pid reuse before and after.
    pub fn set_nice(&self, nice: i32) -> Result<()> {
        self.h.set_nice(nice)
    }

    /// The priority class: the nearest class for the main thread's scheduling policy and
    /// nice value (see [`PriorityClass`](crate::PriorityClass) for the mapping).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn priority_class(&self) -> Result<crate::PriorityClass> {
        self.h.priority_class()
    }

    /// Sets the priority class of every thread of the process, as `SetPriorityClass`
    /// does.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for `AboveNormal`, `High` and `Realtime` without
    /// privilege (Linux: `CAP_SYS_NICE`), or for another user's process.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `sched_setscheduler` and `setpriority` on each thread in
    /// `/proc/PID/task` (threads started later inherit from their creator), checked
    /// against pid reuse before and after.
    pub fn set_priority_class(&self, class: crate::PriorityClass) -> Result<()> {
        self.h.set_priority_class(class)
    }

    /// The I/O scheduling class and level.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `ioprio_get(IOPRIO_WHO_PROCESS)`.
    ///
    /// Windows: the process's I/O priority hint (`ProcessIoPriority`): very low →
    /// `Idle`, low → best-effort 7, normal → best-effort 4, high → `Realtime` 0.
    pub fn ionice(&self) -> Result<IoPriority> {
        self.h.ionice()
    }

    /// Sets the I/O scheduling class and level.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a level above 7; [`ErrorKind::AccessDenied`] for
    /// the real-time class without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `ioprio_set(IOPRIO_WHO_PROCESS)`, checked against pid reuse.
    ///
    /// Windows: sets the I/O priority hint: `Idle` → very low, best-effort 5–7 → low,
    /// best-effort 0–4 or no class → normal, `Realtime` → high (needs
    /// `SeIncreaseBasePriorityPrivilege`).
    pub fn set_ionice(&self, prio: IoPriority) -> Result<()> {
        self.h.set_ionice(prio)
    }

    /// A resource limit.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `prlimit`, checked against pid reuse.
    pub fn rlimit(&self, resource: Resource) -> Result<Rlimit> {
        self.h.rlimit(resource)
    }

    /// Sets a resource limit.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] when soft exceeds hard; [`ErrorKind::AccessDenied`]
    /// when raising the hard limit without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `prlimit`, checked against pid reuse before and after.
    pub fn set_rlimit(&self, resource: Resource, limit: Rlimit) -> Result<()> {
        self.h.set_rlimit(resource, limit)
    }

    /// Voluntary and involuntary context switches.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: the sum of the live threads' context switches
    /// (`SystemProcessInformation`), all counted as `voluntary` (Windows keeps one
    /// count), as psutil does.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn num_ctx_switches(&self) -> Result<CtxSwitches> {
        self.h.ctx_switches()
    }

    /// The number of threads.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn num_threads(&self) -> Result<u64> {
        self.h.num_threads()
    }

    /// Every thread with its name, state, CPU times, scheduling, affinity, last CPU,
    /// context switches and start time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `/proc/PID/task/TID/stat` and `status` of each thread; threads that end
    /// while being listed are left out. Windows: Toolhelp32 (`TH32CS_SNAPTHREAD`), then
    /// each thread opened for its times, level, affinity and name; a thread Windows will
    /// not open is listed with its id and Toolhelp's base priority only.
    pub fn threads(&self) -> Result<Vec<crate::ThreadInfo>> {
        self.h.threads()
    }

    /// Opens one thread of this process.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone or has no thread `tid` (the
    /// message says so).
    pub fn thread(&self, tid: crate::Tid) -> Result<crate::Thread> {
        self.h.thread(tid).map(crate::Thread::from_handle)
    }

    /// The number of open file descriptors.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the entries of `/proc/PID/fd`. Windows: the number of open handles of every
    /// kind (`GetProcessHandleCount`: files, pipes, events, keys, threads…), so many
    /// more than [`Process::open_files`] lists.
    pub fn num_fds(&self) -> Result<usize> {
        self.h.num_fds()
    }

    /// Regular files the process has open, with offset and mode.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the entries of `/proc/PID/fd` that are regular files, with the offset and
    /// flags of `/proc/PID/fdinfo`.
    ///
    /// Windows: the process's handles from the system handle table
    /// (`NtQuerySystemInformation(SystemExtendedHandleInformation)`) whose object is a
    /// `File`, each duplicated into the caller (`PROCESS_DUP_HANDLE`, so
    /// [`ErrorKind::AccessDenied`] where Windows refuses that right) and kept when
    /// `GetFileType` says it is a disk file and it is not a directory. Pipes, consoles and
    /// other devices are never asked for a name (such a query on a synchronous pipe can
    /// block forever, psutil's known hang); a disk file whose queries do not answer
    /// within 2 seconds (a synchronous handle held by a blocked lock or directory watch)
    /// is left out. `path` is the drive-letter path (`GetFinalPathNameByHandleW`, without
    /// the `\\?\` prefix; a UNC path as `\\server\share\…`); `fd` is the handle
    /// value; `position` the file object's current offset (shared by every handle to it);
    /// `flags` the handle's granted access mask; `mode` from that mask: write data →
    /// `"w"` (`"r+"` with read data), append data only → `"a"` (`"a+"` with read data),
    /// anything else `"r"`.
    pub fn open_files(&self) -> Result<Vec<OpenFile>> {
        self.h.open_files()
    }

    /// Sockets the process has open, of the given kind, with addresses and TCP state.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: matches the inodes of `/proc/PID/fd` against the tables of the process's
    /// own network namespace (`/proc/PID/net/…`).
    ///
    /// Windows: TCP and UDP (IPv4 and IPv6) from the IP Helper's owner-pid tables
    /// (`GetExtendedTcpTable`/`GetExtendedUdpTable`); `fd` is -1 and `inode` 0, as Windows
    /// has neither for them; [`ConnectionKind::Unix`] is [`ErrorKind::Unsupported`] (no
    /// table lists unix-domain sockets), and [`ConnectionKind::All`] lists TCP and UDP.
    pub fn connections(&self, kind: ConnectionKind) -> Result<Vec<Connection>> {
        self.h.connections(kind)
    }

    /// I/O counters.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    pub fn io_counters(&self) -> Result<IoCounters> {
        self.h.io_counters()
    }

    /// Memory use (cheap).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn memory_info(&self) -> Result<MemoryInfo> {
        self.h.memory_info()
    }

    /// Memory use including USS, PSS and swap (walks the page tables; costly).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: from the working set (`QueryWorkingSet`, else `QueryWorkingSetEx` over
    /// the committed pages). A page counts toward `uss` when it is not shareable or no
    /// other working set holds it (as psutil counts it); `pss` adds each shared page
    /// divided by its share count, which Windows caps at 7, so a page held by more than 7
    /// processes counts as 1/7 (PSS is then slightly high). `swap` is 0: Windows keeps no
    /// per-process figure of memory written to the page file. Needs
    /// `PROCESS_QUERY_INFORMATION | PROCESS_VM_READ`; [`ErrorKind::Unsupported`] where
    /// neither working-set call is implemented for the process (Wine 8 answers only for
    /// the calling process).
    pub fn memory_full_info(&self) -> Result<MemoryFullInfo> {
        self.h.memory_full_info()
    }

    /// Peak resident and virtual size, and swap.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: `peak_rss` is the peak working set, `peak_vms` the peak commit charge
    /// (`PeakPagefileUsage`, private bytes), and `swap` is 0: Windows keeps no per-process
    /// figure of memory written to the page file.
    pub fn memory_peaks(&self) -> Result<MemoryPeaks> {
        self.h.memory_peaks()
    }

    /// Resident memory as a percentage of physical memory.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn memory_percent(&self) -> Result<f64> {
        let rss = self.memory_info()?.rss;
        let total = imp::total_memory()?;
        Ok(if total == 0 {
            0.0
        } else {
            rss as f64 * 100.0 / total as f64
        })
    }

    /// Memory mappings; `grouped` sums all mappings of each path.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] for another user's process without privilege.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: one map per committed region (`VirtualQueryEx`; reserved address space
    /// is not listed), in address order. `path` is the mapped file for images and views
    /// (`GetMappedFileNameW`, its `\Device\…` form turned into a drive path where a
    /// drive letter names that device, else kept) and `[anon]` for private memory and
    /// views of no file. `perms` is `rwxp`-style from the protection (guard and caching
    /// flags dropped); `s` marks a view of a section that is not copy-on-write. `rss`,
    /// `pss` and the private/shared split come from the working set, as in
    /// [`memory_full_info`](Self::memory_full_info). Windows does not say which resident
    /// pages were modified, so private pages are all counted in `private_dirty` (they are
    /// backed by the page file, as Linux's dirty anonymous pages are) and shared pages in
    /// `shared_clean`; `referenced` is the resident size, `anonymous` the resident part
    /// of private memory, `swap` 0.
    pub fn memory_maps(&self, grouped: bool) -> Result<Vec<MemoryMap>> {
        self.h.memory_maps(grouped)
    }

    /// Minor and major page faults.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: `minor` holds every fault (`PageFaultCount`, soft and hard together:
    /// Windows does not count hard faults per process); the other counts are 0.
    pub fn page_faults(&self) -> Result<PageFaults> {
        self.h.page_faults()
    }

    /// Session id, process-group id and tracer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    pub fn process_group(&self) -> Result<ProcessGroupInfo> {
        self.h.group_info()
    }

    /// The cgroups the process belongs to, one per hierarchy.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux only; elsewhere [`ErrorKind::Unsupported`].
    pub fn cgroups(&self) -> Result<Vec<CgroupMembership>> {
        self.h.cgroups()
    }

    /// Sends a signal to this process (and to no other: a reused pid is not reached).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if it is gone; [`ErrorKind::AccessDenied`] for
    /// another user's process without privilege; [`ErrorKind::InvalidInput`] for a
    /// signal number the OS rejects.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `pidfd_send_signal`. Without a pidfd (kernels before 5.3) the identity is
    /// checked immediately before `kill(2)`. A zombie accepts signals and ignores them.
    /// Windows: `KILL` and `TERM` are `TerminateProcess` (exit code 9 and 15), `STOP` and
    /// `CONT` suspend and resume every thread; other signals give
    /// [`ErrorKind::Unsupported`] (the table is in `os::windows`).
    pub fn send_signal(&self, sig: Signal) -> Result<()> {
        self.h.send_signal(sig)
    }

    /// Sends a signal to every member of this process's process group at once, as
    /// `killpg` does, addressed through this process so a reused group id is never hit.
    ///
    /// # Errors
    ///
    /// As [`Process::send_signal`].
    ///
    /// # Platform-specific behavior
    ///
    /// Linux 6.9+: `pidfd_send_signal` with `PIDFD_SIGNAL_PROCESS_GROUP`; older kernels:
    /// `killpg` after checking this process is still alive (a group id cannot be reused
    /// while a member exists). Windows: [`ErrorKind::Unsupported`]; a console process
    /// group gets Ctrl-Break with `os::windows::ProcessExt::send_ctrl_break`.
    pub fn signal_process_group(&self, sig: Signal) -> Result<()> {
        self.h.signal_group(sig)
    }

    /// Asks the process to end: `SIGTERM`.
    ///
    /// # Errors
    ///
    /// As [`Process::send_signal`].
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(Signal::Term)
    }

    /// Ends the process at once: `SIGKILL`.
    ///
    /// # Errors
    ///
    /// As [`Process::send_signal`].
    pub fn kill(&self) -> Result<()> {
        self.send_signal(Signal::Kill)
    }

    /// Stops the process: `SIGSTOP` (Windows: `NtSuspendProcess`).
    ///
    /// # Errors
    ///
    /// As [`Process::send_signal`].
    pub fn suspend(&self) -> Result<()> {
        self.send_signal(Signal::Stop)
    }

    /// Continues a stopped process: `SIGCONT` (Windows: `NtResumeProcess`).
    ///
    /// # Errors
    ///
    /// As [`Process::send_signal`].
    pub fn resume(&self) -> Result<()> {
        self.send_signal(Signal::Cont)
    }

    /// Waits until the process exits, at most `timeout` (`None`: no limit), and says how
    /// it ended.
    ///
    /// Event-driven: nothing sleeps and polls. The process is not reaped: if it is your
    /// child, you (or `std::process::Child`) still reap it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] if it is still running at the deadline.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `poll` on the pidfd. The status comes from `waitid(P_PIDFD, WNOWAIT)` for
    /// your own children, from `/proc/PID/stat` while a non-child is a zombie, and from
    /// `PIDFD_GET_INFO` (Linux 6.15+) once its parent reaped it; a non-child reaped on an
    /// older kernel, or another user's zombie, gives [`ExitStatus::Unknown`]. Kernels
    /// without `pidfd_open` (before 5.3) fall back to checking with a backoff from 1 ms
    /// to 100 ms. Windows: `WaitForSingleObject` on the handle, then `GetExitCodeProcess`.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<ExitStatus> {
        self.h.wait_exit(timeout)?;
        Ok(self.h.exit_status())
    }

    /// How the process ended, once it has exited (see [`Process::wait`] for where the
    /// status comes from).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] while it is still running.
    pub fn exit_status(&self) -> Result<ExitStatus> {
        if self.is_running() {
            return Err(
                crate::Error::new(ErrorKind::InvalidInput, "read exit status")
                    .with_pid(self.pid())
                    .with_detail("the process is still running"),
            );
        }
        Ok(self.h.exit_status())
    }

    #[cfg_attr(feature = "force-unsupported", allow(dead_code))]
    pub(crate) fn handle(&self) -> &imp::Handle {
        &self.h
    }
}
