//! Job limits and accounting: [`JobLimits`], [`JobAccounting`], [`LimitSupport`].
//!
//! Each limit carries the name of its Windows Job Object counterpart. On Linux most are
//! cgroup control files; the rest are enforced by corral itself, and each says how in
//! [`LimitSupport`] (from [`Job::capabilities`](crate::Job::capabilities)):
//!
//! | limit | Windows | Linux (v2 / v1) | precision |
//! |---|---|---|---|
//! | [`job_memory`](JobLimits::job_memory) | `JOB_OBJECT_LIMIT_JOB_MEMORY` | `memory.max` + `memory.swap.max = 0` / `memory.limit_in_bytes` + `memory.memsw.limit_in_bytes` | exact: the kernel reclaims, then the OOM killer kills a member |
//! | [`process_memory`](JobLimits::process_memory) | `JOB_OBJECT_LIMIT_PROCESS_MEMORY` | `RLIMIT_AS` on each process spawned into or assigned to the job (children inherit it) | address space, not committed memory: allocations beyond it fail |
//! | [`max_processes`](JobLimits::max_processes) | `JOB_OBJECT_LIMIT_ACTIVE_PROCESS` | `pids.max` | counts **tasks (threads too)**, Windows counts processes; `fork`/`clone` fail with `EAGAIN` beyond it |
//! | [`job_cpu_time`](JobLimits::job_cpu_time) | `JOB_OBJECT_LIMIT_JOB_TIME` | a watcher thread of the owning process reads `cpu.stat` / `cpuacct.usage` and terminates the job when the time used since the limit was set reaches it | overshoot ≤ (wake-up latency + kill time) × CPUs the job can use, typically a few ms of CPU per core |
//! | [`process_cpu_time`](JobLimits::process_cpu_time) | `JOB_OBJECT_LIMIT_PROCESS_TIME` | `RLIMIT_CPU` (soft = hard, so `SIGKILL`) on each process spawned into or assigned to the job | whole seconds, rounded up |
//! | [`cpu_rate`](JobLimits::cpu_rate) | `JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP` | `cpu.max` / `cpu.cfs_quota_us` = rate × CPUs × period | CFS bandwidth: exact per 100 ms period |
//! | [`cpus`](JobLimits::cpus) | (as `docker --cpus`) | `cpu.max` / `cpu.cfs_quota_us` = cores × period | as `cpu_rate` |
//! | [`cpu_weight`](JobLimits::cpu_weight) | `JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED` | `cpu.weight` / `cpu.shares` (= weight × 1024 / 100) | relative, only under contention |
//! | [`working_set`](JobLimits::working_set) | `JOB_OBJECT_LIMIT_WORKINGSET` | `memory.low` / `memory.high`; v1: ceiling → `memory.soft_limit_in_bytes`, floor unsupported | best effort, as on Windows |
//! | [`io_rate`](JobLimits::io_rate) | `SetIoRateControlInformationJobObject` | `io.max` / `blkio.throttle.*_device` | per device, block I/O only (not the page cache) |
//! | [`priority_class`](JobLimits::priority_class) | `JOB_OBJECT_LIMIT_PRIORITY_CLASS` | set on each process spawned into or assigned to the job | members may change it later (Windows forbids it) |
//! | [`affinity`](JobLimits::affinity) | `JOB_OBJECT_LIMIT_AFFINITY` | `cpuset.cpus` (enforced) and `sched_setaffinity` on each process spawned into or assigned to the job | exact |
//! | [`breakaway_ok`](JobLimits::breakaway_ok) | `JOB_OBJECT_LIMIT_BREAKAWAY_OK` | the extended attribute `user.corral.breakaway_ok` on the job's cgroup directories, read by [`Command::breakaway_from_job`](crate::Command::breakaway_from_job) in the member that spawns | corral's convention, **not enforced by the kernel**: any process allowed to write to the parent cgroup's `cgroup.procs` can leave the job regardless |
//!
//! Limits set through a handle that the kernel does not keep (per-process limits, the
//! priority class, the job CPU time) live in that handle: [`Job::limits`](crate::Job::limits)
//! of another handle (from [`Job::open`](crate::Job::open)) does not see them, and the job
//! CPU time is enforced only while the handle that set it is alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::info::{Resource, Rlimit};
use crate::sys::imp;
use crate::{Error, ErrorKind, PriorityClass, Result};

/// Limits of a [`Job`](crate::Job): every one is optional (`None`: no limit).
///
/// Build with the setters (`JobLimits::new().job_memory(512 << 20).max_processes(64)`),
/// then pass to [`Job::create_with_limits`](crate::Job::create_with_limits) or
/// [`Job::set_limits`](crate::Job::set_limits). The module docs list how each is enforced.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobLimits {
    /// Memory of all members together, bytes (RAM + swap) (Windows: `JOB_OBJECT_LIMIT_JOB_MEMORY`).
    pub job_memory: Option<u64>,
    /// Address space of each member, bytes (Windows: `JOB_OBJECT_LIMIT_PROCESS_MEMORY`).
    pub process_memory: Option<u64>,
    /// Active tasks at once (Windows: `JOB_OBJECT_LIMIT_ACTIVE_PROCESS`); Linux counts threads.
    pub max_processes: Option<u64>,
    /// CPU time of all members together, counted from the moment the limit is set —
    /// the start of the accounting period, [`JobAccounting::this_period_user`] +
    /// [`JobAccounting::this_period_kernel`] (Windows: `JOB_OBJECT_LIMIT_JOB_TIME`, which
    /// likewise adds the time already used to the limit).
    pub job_cpu_time: Option<Duration>,
    /// CPU time of each member (Windows: `JOB_OBJECT_LIMIT_PROCESS_TIME`).
    pub process_cpu_time: Option<Duration>,
    /// Share of the whole machine, `0 < rate <= 1` (Windows: `CPU_RATE_CONTROL_HARD_CAP`).
    pub cpu_rate: Option<f64>,
    /// CPU cores' worth of time, as `docker run --cpus` (`1.5`).
    pub cpus: Option<f64>,
    /// Relative CPU weight, 1–10000, 100 is the default (Windows: `CPU_RATE_CONTROL_WEIGHT_BASED`).
    pub cpu_weight: Option<u32>,
    /// Memory the job keeps under pressure, bytes (Windows: `JOB_OBJECT_LIMIT_WORKINGSET`) minimum.
    pub working_set_min: Option<u64>,
    /// Memory above which the job is reclaimed, bytes (Windows: `JOB_OBJECT_LIMIT_WORKINGSET`) maximum.
    pub working_set_max: Option<u64>,
    /// Per-device block I/O rates (Windows: `SetIoRateControlInformationJobObject`).
    pub io_rates: Vec<IoRate>,
    /// Priority class of every member (Windows: `JOB_OBJECT_LIMIT_PRIORITY_CLASS`).
    pub priority_class: Option<PriorityClass>,
    /// CPUs members may run on (Windows: `JOB_OBJECT_LIMIT_AFFINITY`).
    pub affinity: Option<Vec<usize>>,
    /// Members may spawn children outside the job with
    /// [`Command::breakaway_from_job`](crate::Command::breakaway_from_job) (Windows:
    /// `JOB_OBJECT_LIMIT_BREAKAWAY_OK`). Unlike the `Option` limits, `false` is a value:
    /// [`Job::set_limits`](crate::Job::set_limits) always sets it, as Windows'
    /// `LimitFlags` do.
    pub breakaway_ok: bool,
}

/// A block device's I/O rate caps for a job (`None`: not capped).
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoRate {
    /// The device's major number.
    pub major: u32,
    /// The device's minor number.
    pub minor: u32,
    /// Bytes read per second.
    pub read_bps: Option<u64>,
    /// Bytes written per second.
    pub write_bps: Option<u64>,
    /// Read operations per second.
    pub read_iops: Option<u64>,
    /// Write operations per second.
    pub write_iops: Option<u64>,
}

impl IoRate {
    /// Caps for the device `major:minor` (as in `/proc/partitions`); set the rates with
    /// the fields or setters.
    pub fn new(major: u32, minor: u32) -> IoRate {
        IoRate {
            major,
            minor,
            ..IoRate::default()
        }
    }
    /// Bytes read per second.
    pub fn read_bps(mut self, n: u64) -> IoRate {
        self.read_bps = Some(n);
        self
    }
    /// Bytes written per second.
    pub fn write_bps(mut self, n: u64) -> IoRate {
        self.write_bps = Some(n);
        self
    }
    /// Read operations per second.
    pub fn read_iops(mut self, n: u64) -> IoRate {
        self.read_iops = Some(n);
        self
    }
    /// Write operations per second.
    pub fn write_iops(mut self, n: u64) -> IoRate {
        self.write_iops = Some(n);
        self
    }
}

impl JobLimits {
    /// No limits.
    pub fn new() -> JobLimits {
        JobLimits::default()
    }
    /// Memory of all members together, in bytes.
    pub fn job_memory(mut self, bytes: u64) -> JobLimits {
        self.job_memory = Some(bytes);
        self
    }
    /// Address space of each member, in bytes.
    pub fn process_memory(mut self, bytes: u64) -> JobLimits {
        self.process_memory = Some(bytes);
        self
    }
    /// Active tasks at once (Linux counts threads; Windows counts processes).
    pub fn max_processes(mut self, n: u64) -> JobLimits {
        self.max_processes = Some(n);
        self
    }
    /// CPU time of all members together from now on (the time already used does not
    /// count); the job is terminated when it is used up.
    pub fn job_cpu_time(mut self, t: Duration) -> JobLimits {
        self.job_cpu_time = Some(t);
        self
    }
    /// CPU time of each member; a member is killed when it has used it.
    pub fn process_cpu_time(mut self, t: Duration) -> JobLimits {
        self.process_cpu_time = Some(t);
        self
    }
    /// Share of the whole machine's CPU time, `0 < rate <= 1` (`0.5`: half of all CPUs).
    pub fn cpu_rate(mut self, rate: f64) -> JobLimits {
        self.cpu_rate = Some(rate);
        self
    }
    /// CPU cores' worth of time (`1.5`: one and a half cores), as `docker run --cpus`.
    pub fn cpus(mut self, cores: f64) -> JobLimits {
        self.cpus = Some(cores);
        self
    }
    /// Relative CPU weight, 1–10000 (default 100).
    pub fn cpu_weight(mut self, w: u32) -> JobLimits {
        self.cpu_weight = Some(w);
        self
    }
    /// Working-set floor and ceiling, in bytes (either may be `None`).
    pub fn working_set(mut self, min: Option<u64>, max: Option<u64>) -> JobLimits {
        self.working_set_min = min;
        self.working_set_max = max;
        self
    }
    /// Adds a device's I/O rate caps.
    pub fn io_rate(mut self, rate: IoRate) -> JobLimits {
        self.io_rates.push(rate);
        self
    }
    /// Priority class of every member.
    pub fn priority_class(mut self, class: PriorityClass) -> JobLimits {
        self.priority_class = Some(class);
        self
    }
    /// CPUs members may run on.
    ///
    /// Windows: `JOBOBJECT_BASIC_LIMIT_INFORMATION.Affinity` is one processor group's
    /// mask, so on a machine with several groups the CPUs must lie in one group (else
    /// `InvalidInput` saying so), and that group is given to the job first
    /// (`JobObjectGroupInformation`; compiles, the group mapping is unit-tested).
    pub fn affinity(mut self, cpus: &[usize]) -> JobLimits {
        self.affinity = Some(cpus.to_vec());
        self
    }

    /// Whether members may spawn children outside the job
    /// ([`Command::breakaway_from_job`](crate::Command::breakaway_from_job)).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: kept as the extended attribute `user.corral.breakaway_ok` on the job's
    /// cgroup directories (cgroupfs supports `user.*` attributes since Linux 5.7), so any
    /// member can read it. It is corral's convention, not a kernel rule: a process with
    /// write access to the parent cgroup can move itself out whatever it says.
    pub fn breakaway_ok(mut self, yes: bool) -> JobLimits {
        self.breakaway_ok = yes;
        self
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == JobLimits::default()
    }

    /// Checks the values (not whether this machine can enforce them).
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |name: &str, why: String| {
            Err(Error::new(ErrorKind::InvalidInput, "set job limits")
                .with_detail(format!("{name}: {why}")))
        };
        for (name, v) in [
            ("job memory", self.job_memory),
            ("process memory", self.process_memory),
            ("max processes", self.max_processes),
            ("working set minimum", self.working_set_min),
            ("working set maximum", self.working_set_max),
        ] {
            if v == Some(0) {
                return bad(name, "must be greater than 0".into());
            }
        }
        for (name, v) in [
            ("job CPU time", self.job_cpu_time),
            ("process CPU time", self.process_cpu_time),
        ] {
            if v == Some(Duration::ZERO) {
                return bad(name, "must be greater than 0".into());
            }
        }
        if let Some(r) = self.cpu_rate {
            if !(r > 0.0 && r <= 1.0) {
                return bad("CPU rate", format!("{r} is not in (0, 1]"));
            }
        }
        if let Some(c) = self.cpus {
            if !(c > 0.0 && c.is_finite()) {
                return bad("CPUs", format!("{c} is not a positive number"));
            }
        }
        if self.cpu_rate.is_some() && self.cpus.is_some() {
            return bad(
                "CPU rate",
                "give either a CPU rate or a number of CPUs, not both".into(),
            );
        }
        if let Some(w) = self.cpu_weight {
            if !(1..=10000).contains(&w) {
                return bad("CPU weight", format!("{w} is not in 1..=10000"));
            }
        }
        if let (Some(a), Some(b)) = (self.working_set_min, self.working_set_max) {
            if a > b {
                return bad(
                    "working set",
                    format!("the minimum {a} is above the maximum {b}"),
                );
            }
        }
        if let Some(a) = &self.affinity {
            if a.is_empty() {
                return bad("affinity", "the CPU list is empty".into());
            }
        }
        for r in &self.io_rates {
            if [r.read_bps, r.write_bps, r.read_iops, r.write_iops].contains(&Some(0)) {
                return bad(
                    "I/O rate",
                    format!("a rate of {}:{} is 0", r.major, r.minor),
                );
            }
        }
        Ok(())
    }

    /// What a process spawned into or assigned to the job gets: rlimits, class, CPUs.
    pub(crate) fn member_rlimits(&self) -> Vec<(Resource, Rlimit)> {
        let mut v = Vec::new();
        if let Some(b) = self.process_memory {
            v.push((
                Resource::As,
                Rlimit {
                    soft: Some(b),
                    hard: Some(b),
                },
            ));
        }
        if let Some(t) = self.process_cpu_time {
            // RLIMIT_CPU counts whole seconds: round up. soft == hard means SIGKILL.
            let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
            v.push((
                Resource::Cpu,
                Rlimit {
                    soft: Some(secs),
                    hard: Some(secs),
                },
            ));
        }
        v
    }

    /// Copies the limits kept by a handle (not by the OS) from `other`.
    pub(crate) fn merge_handle_kept(&mut self, other: &JobLimits) {
        self.process_memory = self.process_memory.or(other.process_memory);
        self.process_cpu_time = self.process_cpu_time.or(other.process_cpu_time);
        self.job_cpu_time = self.job_cpu_time.or(other.job_cpu_time);
        self.priority_class = self.priority_class.or(other.priority_class);
        if self.affinity.is_none() {
            self.affinity.clone_from(&other.affinity);
        }
        if self.cpus.is_some() && other.cpu_rate.is_some() {
            // The OS keeps one quota; show it the way it was asked for.
            self.cpu_rate = other.cpu_rate;
            self.cpus = None;
        }
    }
}

/// Notification-only limits of a [`Job`](crate::Job) (Windows:
/// `JobObjectNotificationLimitInformation`): when the job crosses one, watchers from
/// [`Job::events`](crate::Job::events) on the handle that set it get
/// [`JobEvent::NotificationLimit`](crate::JobEvent::NotificationLimit) — once per limit
/// per [`Job::set_notification_limits`](crate::Job::set_notification_limits) call —
/// and nothing is killed.
///
/// # Platform-specific behavior
///
/// A thread of the process holding the handle watches, while the handle lives. It sleeps
/// in `poll` and wakes for the kernel's notification where there is one (a cgroup v1
/// memory threshold), else to sample:
///
/// | limit | read from | precision |
/// |---|---|---|
/// | [`job_memory`](Self::job_memory), cgroup v1 | a memory threshold on `memory.usage_in_bytes` (page cache included) registered through `cgroup.event_control`: the kernel signals an eventfd at each crossing | exact: the kernel compares the usage with the threshold every 128 pages charged or uncharged on a CPU, so a spike that goes more than 512 KiB (plus the per-CPU charge batch, 256 KiB) over the limit is never missed; the thread wakes at once |
/// | [`job_memory`](Self::job_memory), cgroup v2 | `memory.current` (page cache included) | best-effort: v2 has no threshold notification (`memory.events` reports only the `memory.high`/`memory.max` boundaries), so it is sampled every 5 ms, backing off to 50 ms while nothing changes; a spike shorter than that can be missed |
/// | [`job_cpu_time`](Self::job_cpu_time) | v2 `cpu.stat usage_usec` / v1 `cpuacct.usage`, counted from the call | as [`JobLimits::job_cpu_time`]: the thread sleeps until the earliest moment the time could be used up |
/// | [`io_read_bytes`](Self::io_read_bytes) / [`io_write_bytes`](Self::io_write_bytes) | v2 `io.stat` / v1 `blkio.throttle.io_service_bytes_recursive` (block I/O, counted since the job was created) | best-effort: no kernel notification exists, sampled as v2 memory |
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobNotificationLimits {
    /// Memory of all members together, bytes (Windows: `JobMemoryLimit`).
    pub job_memory: Option<u64>,
    /// CPU time of all members together from the moment the limits are set (Windows:
    /// `PerJobUserTimeLimit`).
    pub job_cpu_time: Option<Duration>,
    /// Bytes read from block devices (Windows: `IoReadBytesLimit`).
    pub io_read_bytes: Option<u64>,
    /// Bytes written to block devices (Windows: `IoWriteBytesLimit`).
    pub io_write_bytes: Option<u64>,
}

impl JobNotificationLimits {
    /// No notification limits.
    pub fn new() -> JobNotificationLimits {
        JobNotificationLimits::default()
    }
    /// Memory of all members together, in bytes.
    pub fn job_memory(mut self, bytes: u64) -> JobNotificationLimits {
        self.job_memory = Some(bytes);
        self
    }
    /// CPU time of all members together, from now on.
    pub fn job_cpu_time(mut self, t: Duration) -> JobNotificationLimits {
        self.job_cpu_time = Some(t);
        self
    }
    /// Bytes read from block devices.
    pub fn io_read_bytes(mut self, bytes: u64) -> JobNotificationLimits {
        self.io_read_bytes = Some(bytes);
        self
    }
    /// Bytes written to block devices.
    pub fn io_write_bytes(mut self, bytes: u64) -> JobNotificationLimits {
        self.io_write_bytes = Some(bytes);
        self
    }
    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        *self == JobNotificationLimits::default()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |name: &str| {
            Err(
                Error::new(ErrorKind::InvalidInput, "set job notification limits")
                    .with_detail(format!("{name}: must be greater than 0")),
            )
        };
        for (l, v) in [
            (NotificationLimit::JobMemory, self.job_memory),
            (NotificationLimit::IoReadBytes, self.io_read_bytes),
            (NotificationLimit::IoWriteBytes, self.io_write_bytes),
        ] {
            if v == Some(0) {
                return bad(l.name());
            }
        }
        if self.job_cpu_time == Some(Duration::ZERO) {
            return bad(NotificationLimit::JobCpuTime.name());
        }
        Ok(())
    }
}

/// Which notification limit a job crossed, in
/// [`JobEvent::NotificationLimit`](crate::JobEvent::NotificationLimit).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationLimit {
    /// [`JobNotificationLimits::job_memory`].
    JobMemory,
    /// [`JobNotificationLimits::job_cpu_time`].
    JobCpuTime,
    /// [`JobNotificationLimits::io_read_bytes`].
    IoReadBytes,
    /// [`JobNotificationLimits::io_write_bytes`].
    IoWriteBytes,
}

impl NotificationLimit {
    /// A short name (`job memory`).
    pub fn name(self) -> &'static str {
        match self {
            NotificationLimit::JobMemory => "job memory",
            NotificationLimit::JobCpuTime => "job CPU time",
            NotificationLimit::IoReadBytes => "I/O read bytes",
            NotificationLimit::IoWriteBytes => "I/O write bytes",
        }
    }
}

/// Why the notification thread's sleep ([`imp::NotifyWait::wait`]) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotifyWake {
    /// The [`Notifier`] is dropped, or the job is gone: the thread ends.
    Stop,
    /// The timeout passed (or a signal interrupted the sleep).
    Timeout,
    /// The kernel says the job's memory usage crossed the job memory notification limit.
    /// Only backends with kernel memory thresholds (Linux, cgroup v1) produce it.
    #[allow(dead_code)]
    Memory,
}

/// The notification-limit watcher: a thread that reports (never kills) when the job
/// crosses a [`JobNotificationLimits`] value. Stops when dropped.
#[derive(Debug)]
pub(crate) struct Notifier {
    stop: imp::NotifyStop,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The shortest and longest sampling intervals for memory and I/O.
const SAMPLE_MIN: Duration = Duration::from_millis(5);
const SAMPLE_MAX: Duration = Duration::from_millis(50);

impl Notifier {
    pub(crate) fn start(
        view: imp::JobView,
        limits: &JobNotificationLimits,
        signal: Arc<CpuLimitSignal>,
    ) -> Result<Notifier> {
        let op = "set job notification limits";
        let unsupported = |l: NotificationLimit, why: &str| {
            Error::new(ErrorKind::Unsupported, op)
                .with_detail(format!("{} cannot be watched here: {why}", l.name()))
        };
        // Fail now, not in the thread, for what cannot be read.
        let base = match limits.job_cpu_time {
            Some(_) => view
                .cpu_usage()
                .map_err(|_| unsupported(NotificationLimit::JobCpuTime, "no CPU usage counter"))?,
            None => Duration::ZERO,
        };
        let read = limits.job_memory.is_some()
            || limits.io_read_bytes.is_some()
            || limits.io_write_bytes.is_some();
        if read {
            let a = view.accounting()?;
            if limits.job_memory.is_some() && a.memory.is_none() {
                return Err(unsupported(
                    NotificationLimit::JobMemory,
                    "the job has no memory controller",
                ));
            }
            if limits.io_read_bytes.is_some() && a.read_bytes.is_none() {
                return Err(unsupported(
                    NotificationLimit::IoReadBytes,
                    "the job has no io/blkio controller",
                ));
            }
            if limits.io_write_bytes.is_some() && a.write_bytes.is_none() {
                return Err(unsupported(
                    NotificationLimit::IoWriteBytes,
                    "the job has no io/blkio controller",
                ));
            }
        }
        // Registered before the first look at the usage: no crossing in between is lost.
        let mut wait = imp::NotifyWait::new(&view, limits.job_memory)?;
        let stop = wait.stopper();
        let memory_exact = wait.memory_exact();
        let limits = limits.clone();
        let thread = std::thread::Builder::new()
            .name("corral-job-notify".into())
            .spawn(move || {
                let mut pending: Vec<NotificationLimit> = [
                    (NotificationLimit::JobMemory, limits.job_memory.is_some()),
                    (NotificationLimit::JobCpuTime, limits.job_cpu_time.is_some()),
                    (
                        NotificationLimit::IoReadBytes,
                        limits.io_read_bytes.is_some(),
                    ),
                    (
                        NotificationLimit::IoWriteBytes,
                        limits.io_write_bytes.is_some(),
                    ),
                ]
                .into_iter()
                .filter_map(|(l, on)| on.then_some(l))
                .collect();
                let mut sample = SAMPLE_MIN;
                let mut last = None;
                // The first look reads everything (the job may be over a limit already);
                // later ones only what the kernel does not report.
                let mut first = true;
                let mut memory_crossed = false;
                loop {
                    let sampled = |l: &NotificationLimit| match l {
                        NotificationLimit::JobCpuTime => false,
                        NotificationLimit::JobMemory => !memory_exact,
                        _ => true,
                    };
                    let sampling = pending.iter().any(sampled);
                    let acc = if sampling || first {
                        match view.accounting() {
                            Ok(a) => Some(a),
                            Err(_) => return,
                        }
                    } else {
                        None
                    };
                    first = false;
                    let used = if pending.contains(&NotificationLimit::JobCpuTime) {
                        match view.cpu_usage() {
                            Ok(u) => Some(u.saturating_sub(base)),
                            Err(_) => return,
                        }
                    } else {
                        None
                    };
                    let over = |l: NotificationLimit| -> bool {
                        let a = acc.as_ref();
                        match l {
                            NotificationLimit::JobMemory => {
                                memory_crossed || a.and_then(|a| a.memory) >= limits.job_memory
                            }
                            NotificationLimit::IoReadBytes => {
                                a.and_then(|a| a.read_bytes) >= limits.io_read_bytes
                            }
                            NotificationLimit::IoWriteBytes => {
                                a.and_then(|a| a.write_bytes) >= limits.io_write_bytes
                            }
                            NotificationLimit::JobCpuTime => used >= limits.job_cpu_time,
                        }
                    };
                    pending.retain(|&l| {
                        if over(l) {
                            signal.raise(crate::JobEvent::NotificationLimit { limit: l });
                            false
                        } else {
                            true
                        }
                    });
                    if pending.is_empty() {
                        return;
                    }
                    // Sampled values: 5 ms, doubling to 50 ms while nothing moves.
                    let now = acc.map(|a| (a.memory, a.read_bytes, a.write_bytes));
                    sample = if now.is_some() && now == last {
                        (sample * 2).min(SAMPLE_MAX)
                    } else {
                        SAMPLE_MIN
                    };
                    last = now;
                    let mut nap = pending.iter().any(sampled).then_some(sample);
                    if let (Some(u), Some(t)) = (used, limits.job_cpu_time) {
                        let cores = view.cpu_capacity().max(0.001);
                        let cpu = t.saturating_sub(u).div_f64(cores).max(MIN_NAP);
                        nap = Some(nap.map_or(cpu, |n| n.min(cpu)));
                    }
                    match wait.wait(nap) {
                        NotifyWake::Timeout => {}
                        NotifyWake::Memory => memory_crossed = true,
                        NotifyWake::Stop => return,
                    }
                }
            })
            .map_err(|e| Error::from_io("start job notification watcher", e))?;
        Ok(Notifier {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A limit, by its Windows name, for [`LimitSupport`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`JobLimits::job_memory`].
    JobMemory,
    /// [`JobLimits::process_memory`].
    ProcessMemory,
    /// [`JobLimits::max_processes`].
    ActiveProcesses,
    /// [`JobLimits::job_cpu_time`].
    JobTime,
    /// [`JobLimits::process_cpu_time`].
    ProcessTime,
    /// [`JobLimits::cpu_rate`] and [`JobLimits::cpus`].
    CpuRate,
    /// [`JobLimits::cpu_weight`].
    CpuWeight,
    /// [`JobLimits::working_set_min`].
    WorkingSetMin,
    /// [`JobLimits::working_set_max`].
    WorkingSetMax,
    /// [`JobLimits::io_rates`].
    IoRate,
    /// [`JobLimits::priority_class`].
    PriorityClass,
    /// [`JobLimits::affinity`].
    Affinity,
    /// [`JobLimits::breakaway_ok`].
    BreakawayOk,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 13] = [
        Limit::JobMemory,
        Limit::ProcessMemory,
        Limit::ActiveProcesses,
        Limit::JobTime,
        Limit::ProcessTime,
        Limit::CpuRate,
        Limit::CpuWeight,
        Limit::WorkingSetMin,
        Limit::WorkingSetMax,
        Limit::IoRate,
        Limit::PriorityClass,
        Limit::Affinity,
        Limit::BreakawayOk,
    ];

    /// A short name, as in error messages (`job memory`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::JobMemory => "job memory",
            Limit::ProcessMemory => "process memory",
            Limit::ActiveProcesses => "active processes",
            Limit::JobTime => "job CPU time",
            Limit::ProcessTime => "process CPU time",
            Limit::CpuRate => "CPU rate",
            Limit::CpuWeight => "CPU weight",
            Limit::WorkingSetMin => "working set minimum",
            Limit::WorkingSetMax => "working set maximum",
            Limit::IoRate => "I/O rate",
            Limit::PriorityClass => "priority class",
            Limit::Affinity => "affinity",
            Limit::BreakawayOk => "breakaway",
        }
    }
}

/// How a limit is enforced on this machine.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// By the kernel, through this control file (Linux: a cgroup file name).
    Kernel(String),
    /// By a watcher thread in the process holding the [`Job`](crate::Job) that set it.
    Watcher,
    /// Per process, when it is spawned into or assigned to the job (an rlimit, the
    /// scheduling class or the CPU affinity); inherited by the children it forks.
    PerProcess,
    /// Recorded where every member can read it and honoured by corral, but not enforced
    /// by the kernel; the details (Linux: [`JobLimits::breakaway_ok`], an extended
    /// attribute on the job's cgroups).
    Convention(String),
    /// Not at all here; the reason.
    Unsupported(String),
}

/// Whether and how one limit is enforced here (in [`Capabilities::limits`](crate::Capabilities::limits)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSupport {
    /// The limit.
    pub limit: Limit,
    /// How it is enforced.
    pub how: Enforcement,
}

/// What a job has used (Windows: `JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION`), including
/// members that already exited. A field is `None` when this machine does not keep it.
///
/// # Platform-specific behavior
///
/// Linux, from the job's cgroups (which count every process that was ever in them):
/// CPU times from v2 `cpu.stat` (always present, no controller needed) or v1
/// `cpuacct.usage_user`/`usage_sys`; faults from `memory.stat` (`pgfault`, `pgmajfault`;
/// v1 `total_*`); I/O from v2 `io.stat` (needs the `io` controller) or v1
/// `blkio.throttle.io_serviced_recursive`/`io_service_bytes_recursive` — block I/O only,
/// reads served from the page cache are not counted; peak memory from `memory.peak`
/// (Linux 5.19+) or v1 `memory.max_usage_in_bytes`; OOM kills from `memory.events`
/// `oom_kill` or v1 `memory.oom_control` `oom_kill` (4.13+); refused forks from
/// `pids.events`; throttling from v2 `cpu.stat` (with the `cpu` controller) or v1
/// `cpu.stat`. Linux keeps no count of
/// processes ever started in a cgroup nor a per-process peak: those are `None`.
///
/// Windows: `JobObjectBasicAndIoAccountingInformation` (times, page faults, process
/// counts, I/O operations and bytes of every kind, not only block I/O) and the peaks of
/// `JobObjectExtendedLimitInformation`; `memory` is the sum of the members' committed
/// private memory (what the job memory limit counts). Processes ended by a limit are
/// counted in `os::windows::JobExt::process_counts`. No major faults, OOM kills,
/// refused-process counts or throttling: those are `None`. Wine 8 lacks the I/O
/// accounting (`None`) and reports 0 for times, faults and peaks.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobAccounting {
    /// User-mode CPU time of all members, past and present.
    pub user_time: Option<Duration>,
    /// Kernel-mode CPU time of all members, past and present.
    pub kernel_time: Option<Duration>,
    /// User-mode CPU time of all members since the current accounting period began
    /// (Windows: `ThisPeriodTotalUserTime`): since this handle last set a
    /// [`job_cpu_time`](JobLimits::job_cpu_time) limit, else since the job was created.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the kernel keeps no periods; the handle that sets the job CPU time limit
    /// records the job's user and kernel time at that moment and subtracts it. Another
    /// handle (from [`Job::open`](crate::Job::open)) knows no such moment and reports the
    /// whole time since creation, as for a job whose limit was never set.
    pub this_period_user: Option<Duration>,
    /// Kernel-mode CPU time of all members since the current accounting period began
    /// (Windows: `ThisPeriodTotalKernelTime`); as [`this_period_user`](Self::this_period_user).
    pub this_period_kernel: Option<Duration>,
    /// Processes in the job now.
    pub active_processes: usize,
    /// Processes ever in the job (`None` on Linux: no such counter).
    pub total_processes: Option<u64>,
    /// Page faults, minor and major.
    pub page_faults: Option<u64>,
    /// Major page faults (needing I/O).
    pub major_page_faults: Option<u64>,
    /// Block read operations.
    pub read_ops: Option<u64>,
    /// Block write operations.
    pub write_ops: Option<u64>,
    /// Bytes read from block devices.
    pub read_bytes: Option<u64>,
    /// Bytes written to block devices.
    pub write_bytes: Option<u64>,
    /// Memory the job uses now, bytes.
    pub memory: Option<u64>,
    /// The most memory the job used at once, bytes.
    pub peak_memory: Option<u64>,
    /// The most memory one member used (`None` on Linux: not kept).
    pub peak_process_memory: Option<u64>,
    /// Members killed by the OOM killer because of the job's memory limit.
    pub oom_kills: Option<u64>,
    /// Forks or thread creations refused because the job was at its
    /// [`JobLimits::max_processes`] (Linux: `pids.events` `max`).
    pub process_limit_hits: Option<u64>,
    /// Whether this handle's watcher terminated the job at its CPU time limit.
    pub cpu_time_limit_hit: bool,
    /// Scheduling periods in which the job's CPU quota ([`JobLimits::cpus`] /
    /// [`JobLimits::cpu_rate`]) held it back (Linux: `cpu.stat` `nr_throttled`; `None`
    /// where the job has no CPU controller).
    pub throttled_periods: Option<u64>,
    /// How long the CPU quota held members back in total (Linux: `cpu.stat`
    /// `throttled_usec`, v1 `throttled_time`).
    pub throttled_time: Option<Duration>,
}

impl JobAccounting {
    /// User plus kernel time, when both are known.
    pub fn total_time(&self) -> Option<Duration> {
        Some(self.user_time? + self.kernel_time?)
    }

    /// User plus kernel time of the current accounting period, when both are known.
    pub fn this_period_time(&self) -> Option<Duration> {
        Some(self.this_period_user? + self.this_period_kernel?)
    }
}

/// Wakes one event watcher ([`crate::JobEvents`]) to report an event its handle's
/// watchers saw ([`crate::JobEvent::CpuTimeLimit`], [`crate::JobEvent::NotificationLimit`]);
/// returns false once that watcher is gone (then it is dropped from the list).
pub(crate) type Raiser = Box<dyn Fn(crate::JobEvent) -> bool + Send + Sync>;

/// The event watchers of one [`crate::Job`] handle that want to hear when its CPU-time
/// watcher terminates the job. Kept by the handle across watcher restarts.
#[derive(Default)]
pub(crate) struct CpuLimitSignal {
    raisers: Mutex<Vec<Raiser>>,
}

impl std::fmt::Debug for CpuLimitSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.raisers.lock().map_or(0, |r| r.len());
        f.debug_struct("CpuLimitSignal")
            .field("raisers", &n)
            .finish()
    }
}

impl CpuLimitSignal {
    /// Adds an event watcher (dropping those that are gone).
    #[cfg_attr(feature = "force-unsupported", allow(dead_code))]
    pub(crate) fn add(&self, r: Raiser) {
        if let Ok(mut v) = self.raisers.lock() {
            v.push(r);
        }
    }

    /// Tells every live event watcher; forgets the dead ones.
    fn raise(&self, ev: crate::JobEvent) {
        if let Ok(mut v) = self.raisers.lock() {
            v.retain(|r| r(ev));
        }
    }
}

/// The job-CPU-time watcher: a thread that sleeps until the earliest moment the budget
/// could be used up, given how many CPUs the job can use at most, then checks; it
/// terminates the job when the budget is gone. Stops when dropped.
#[derive(Debug)]
pub(crate) struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    hit: Arc<AtomicBool>,
}

/// The shortest sleep between two checks.
const MIN_NAP: Duration = Duration::from_millis(1);

/// The longest the floor under the sleep grows to while the job stays idle.
const MAX_FLOOR: Duration = Duration::from_millis(50);

impl Watcher {
    pub(crate) fn start(
        view: imp::JobView,
        budget: Duration,
        signal: Arc<CpuLimitSignal>,
    ) -> Result<Watcher> {
        // Fail now, not in the thread, if usage cannot be read. The budget counts from
        // here: the start of the accounting period.
        let base = view.cpu_usage()?;
        let (tx, rx) = mpsc::channel::<()>();
        let hit = Arc::new(AtomicBool::new(false));
        let hit2 = hit.clone();
        let thread = std::thread::Builder::new()
            .name("corral-job-time".into())
            .spawn(move || {
                // The floor under the computed sleep: 1 ms, doubled (up to MAX_FLOOR) while
                // the job uses nothing, so an idle job just short of its budget is not
                // checked every millisecond forever.
                let mut floor = MIN_NAP;
                let mut last = None;
                loop {
                    let Ok(total) = view.cpu_usage() else { return };
                    let used = total.saturating_sub(base);
                    if used >= budget {
                        hit2.store(true, Ordering::SeqCst);
                        // Event watchers hear of it before the exits the kill causes.
                        signal.raise(crate::JobEvent::CpuTimeLimit);
                        let _ = view.terminate();
                        return;
                    }
                    floor = if last == Some(used) {
                        (floor * 2).min(MAX_FLOOR)
                    } else {
                        MIN_NAP
                    };
                    last = Some(used);
                    let cores = view.cpu_capacity().max(0.001);
                    let nap = (budget - used).div_f64(cores).max(floor);
                    match rx.recv_timeout(nap) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| Error::from_io("start job CPU time watcher", e))?;
        Ok(Watcher {
            stop: Some(tx),
            thread: Some(thread),
            hit,
        })
    }

    pub(crate) fn hit(&self) -> bool {
        self.hit.load(Ordering::SeqCst)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(JobLimits::new().validate().is_ok());
        assert!(JobLimits::new().is_empty());
        let ok = JobLimits::new()
            .job_memory(1 << 20)
            .cpus(1.5)
            .cpu_weight(100)
            .working_set(Some(1), Some(2));
        assert!(ok.validate().is_ok());
        for bad in [
            JobLimits::new().job_memory(0),
            JobLimits::new().max_processes(0),
            JobLimits::new().job_cpu_time(Duration::ZERO),
            JobLimits::new().cpu_rate(0.0),
            JobLimits::new().cpu_rate(1.5),
            JobLimits::new().cpu_rate(f64::NAN),
            JobLimits::new().cpus(-1.0),
            JobLimits::new().cpus(f64::INFINITY),
            JobLimits::new().cpus(1.0).cpu_rate(0.5),
            JobLimits::new().cpu_weight(0),
            JobLimits::new().cpu_weight(10001),
            JobLimits::new().working_set(Some(2), Some(1)),
            JobLimits::new().affinity(&[]),
            JobLimits::new().io_rate(IoRate::new(8, 0).read_bps(0)),
        ] {
            let e = bad.validate().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn member_rlimits_round_cpu_up() {
        let l = JobLimits::new()
            .process_cpu_time(Duration::from_millis(1500))
            .process_memory(100);
        let v = l.member_rlimits();
        assert_eq!(
            v[0],
            (
                Resource::As,
                Rlimit {
                    soft: Some(100),
                    hard: Some(100)
                }
            )
        );
        assert_eq!(
            v[1],
            (
                Resource::Cpu,
                Rlimit {
                    soft: Some(2),
                    hard: Some(2)
                }
            )
        );
    }
}
