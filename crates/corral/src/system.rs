//! Machine-wide facts: CPU times and counters, load, memory and swap, logged-in users,
//! boot time, and the CPU topology (packages, cores, NUMA nodes, caches).
//!
//! Every function reads the OS afresh and returns plain values. Cumulative counters
//! ([`cpu_times`], [`cpu_stats`], [`SwapMemory::sin`]) are returned as the OS keeps
//! them; for percentages take two samples yourself ([`cpu_times_sample`],
//! [`CpuTimesSample::percent_since`]) — nothing here keeps hidden state between calls.
//!
//! ```
//! use corral::system;
//! let before = system::cpu_times_sample()?;
//! std::thread::sleep(std::time::Duration::from_millis(50));
//! let busy = system::cpu_times_sample()?.percent_since(&before);
//! println!("busy {:.1}%", busy.total.busy);
//! if let Ok(load) = system::load_average() {
//!     println!("load {load:?}"); // Windows keeps no load average
//! }
//! let mem = system::virtual_memory()?;
//! println!("{} of {} bytes available", mem.available, mem.total);
//! # Ok::<(), corral::Error>(())
//! ```
//!
//! # Platform-specific behavior
//!
//! Linux reads `/proc/stat`, `/proc/loadavg`, `/proc/meminfo`, `/proc/vmstat`,
//! `/var/run/utmp` and `/sys/devices/system/{cpu,node}`. Windows: `GlobalMemoryStatusEx`
//! (total and available memory; buffers, cached, shared, active, inactive and slab do
//! not exist there and are 0; swap is the page file beyond RAM, as psutil reports it),
//! `GetSystemTimes` and `SystemProcessorPerformanceInformation` (interrupt time as `irq`,
//! DPC time as `softirq`), `GetTickCount64` for uptime and boot time, a Toolhelp32 pass
//! for `pid_count`; the rest returns [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)
//! for now. Other platforms return `Unsupported` for everything.

use std::time::{Duration, Instant, SystemTime};

use crate::sys::imp;
use crate::{Pid, Result};

#[cfg(feature = "serde")]
use crate::info::ser;
#[cfg(feature = "serde")]
use serde::Serialize;

/// Total physical memory in bytes.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/meminfo` unreadable).
pub fn total_memory() -> Result<u64> {
    imp::total_memory()
}

/// When the machine booted.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/stat` unreadable).
pub fn boot_time() -> Result<SystemTime> {
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(imp::boot_time_secs()?))
}

/// How long the machine has been up (time since boot, suspend excluded on Linux).
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/uptime` unreadable).
pub fn uptime() -> Result<Duration> {
    imp::uptime()
}

/// The uid of the user called `name`, from the system's user database (NSS on Linux);
/// `Ok(None)` if there is no such user.
///
/// # Errors
///
/// Only if the user database itself fails.
pub fn user_id(name: &str) -> Result<Option<u32>> {
    imp::user_id(name)
}

/// A user account: ids and supplementary groups, as a login would get them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Every group the user is in (primary included), as `initgroups(3)` would set them.
    pub groups: Vec<u32>,
}

/// Looks up a user account by name; `Ok(None)` if there is none.
///
/// # Errors
///
/// Only if the user database itself fails.
pub fn account(name: &str) -> Result<Option<Account>> {
    imp::account(name)
}

/// The gid of the group called `name`; `Ok(None)` if there is none.
///
/// # Errors
///
/// Only if the group database itself fails.
pub fn group_id(name: &str) -> Result<Option<u32>> {
    imp::group_id(name)
}

/// The name of the user with `uid`, or `None` if the user database has none.
pub fn user_name(uid: u32) -> Option<String> {
    imp::user_name(uid)
}

/// Raises this process's soft limit on open files to its hard limit (what `ulimit -n`
/// shows to what `ulimit -Hn` allows), and returns the new soft limit. Each open
/// [`Process`](crate::Process) holds one descriptor, so waiting on thousands at once
/// needs this.
///
/// # Errors
///
/// Only if the OS refuses.
///
/// # Platform-specific behavior
///
/// Linux: `setrlimit(RLIMIT_NOFILE)`. Windows has no such limit and returns
/// `u64::MAX`.
pub fn raise_fd_limit() -> Result<u64> {
    imp::raise_fd_limit()
}

// ---- CPU times ----------------------------------------------------------------------

/// Time the machine's CPUs spent in each mode, cumulative since boot.
///
/// As the kernel counts them, `guest` is part of `user` and `guest_nice` part of `nice`,
/// so [`SystemCpuTimes::total`] leaves those two out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct SystemCpuTimes {
    /// Running normal processes in user mode.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub user: Duration,
    /// Running niced processes in user mode.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub nice: Duration,
    /// Running in kernel mode.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub system: Duration,
    /// Idle.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub idle: Duration,
    /// Idle while block I/O was outstanding.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub iowait: Duration,
    /// Servicing hardware interrupts.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub irq: Duration,
    /// Servicing soft interrupts.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub softirq: Duration,
    /// Stolen by the hypervisor to run other virtual machines.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub steal: Duration,
    /// Running a guest's virtual CPU (included in `user`).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub guest: Duration,
    /// Running a niced guest's virtual CPU (included in `nice`).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub guest_nice: Duration,
}

impl SystemCpuTimes {
    /// All CPU time counted once: every mode except `guest` and `guest_nice`, which are
    /// already inside `user` and `nice`.
    pub fn total(&self) -> Duration {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }

    /// Time not idle: [`total`](SystemCpuTimes::total) minus `idle` and `iowait` (the
    /// definition `top` and psutil use).
    pub fn busy(&self) -> Duration {
        self.total().saturating_sub(self.idle + self.iowait)
    }
}

/// The CPU times of one logical CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct PerCpuTimes {
    /// The logical CPU's number (as in `/sys/devices/system/cpu/cpuN`).
    pub cpu: u32,
    /// Its times since boot.
    pub times: SystemCpuTimes,
}

/// Time all CPUs together spent in each mode since boot.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/stat` unreadable or malformed).
///
/// # Platform-specific behavior
///
/// Linux: the `cpu` line of `/proc/stat` (needs Linux 2.6.33+ for all ten fields),
/// in clock ticks (usually 10 ms).
pub fn cpu_times() -> Result<SystemCpuTimes> {
    Ok(imp::cpu_times_all()?.0)
}

/// Time each online logical CPU spent in each mode since boot, by CPU number.
///
/// # Errors
///
/// As [`cpu_times`].
///
/// # Platform-specific behavior
///
/// Linux: the `cpuN` lines of `/proc/stat`; offline CPUs are not listed.
pub fn cpu_times_per_cpu() -> Result<Vec<PerCpuTimes>> {
    Ok(imp::cpu_times_all()?.1)
}

/// A sample of the machine's CPU times (total and per CPU) with the instant it was
/// taken, for computing percentages from two samples (see
/// [`CpuTimesSample::percent_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuTimesSample {
    /// When the sample was taken.
    pub at: Instant,
    /// All CPUs together.
    pub total: SystemCpuTimes,
    /// Each online CPU.
    pub per_cpu: Vec<PerCpuTimes>,
}

/// Takes a [`CpuTimesSample`] now, from one read of the OS.
///
/// # Errors
///
/// As [`cpu_times`].
pub fn cpu_times_sample() -> Result<CpuTimesSample> {
    let (total, per_cpu) = imp::cpu_times_all()?;
    Ok(CpuTimesSample {
        at: Instant::now(),
        total,
        per_cpu,
    })
}

impl CpuTimesSample {
    /// CPU use between `earlier` and this sample: busy and per-mode percentages, in
    /// total (0–100 for the whole machine, not per CPU) and for each CPU present in both
    /// samples. All zeros where no CPU time passed. No state is kept.
    pub fn percent_since(&self, earlier: &CpuTimesSample) -> CpuPercent {
        let per_cpu = self
            .per_cpu
            .iter()
            .filter_map(|now| {
                let before = earlier.per_cpu.iter().find(|b| b.cpu == now.cpu)?;
                Some(PerCpuPercent {
                    cpu: now.cpu,
                    percent: CpuTimesPercent::between(&before.times, &now.times),
                })
            })
            .collect();
        CpuPercent {
            total: CpuTimesPercent::between(&earlier.total, &self.total),
            per_cpu,
        }
    }
}

/// Percentages of CPU time between two [`SystemCpuTimes`], each mode's share of the
/// time that passed (so `busy + idle + iowait` is 100, and `guest` is part of `user`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CpuTimesPercent {
    /// Not idle: 100 minus `idle` and `iowait`.
    pub busy: f64,
    /// User mode.
    pub user: f64,
    /// Niced user mode.
    pub nice: f64,
    /// Kernel mode.
    pub system: f64,
    /// Idle.
    pub idle: f64,
    /// Idle waiting for I/O.
    pub iowait: f64,
    /// Hardware interrupts.
    pub irq: f64,
    /// Soft interrupts.
    pub softirq: f64,
    /// Stolen by the hypervisor.
    pub steal: f64,
    /// Guest CPUs (part of `user`).
    pub guest: f64,
    /// Niced guest CPUs (part of `nice`).
    pub guest_nice: f64,
}

impl CpuTimesPercent {
    /// The percentages between `earlier` and `later`, as psutil's `cpu_times_percent`
    /// computes them. A counter that went backwards (the kernel's `iowait` may) counts
    /// as zero; all zeros when no time passed.
    pub fn between(earlier: &SystemCpuTimes, later: &SystemCpuTimes) -> CpuTimesPercent {
        let d = |a: Duration, b: Duration| b.saturating_sub(a).as_secs_f64();
        let all = d(earlier.total(), later.total());
        if all <= 0.0 {
            return CpuTimesPercent::default();
        }
        let pct = |a: Duration, b: Duration| (d(a, b) / all * 100.0).clamp(0.0, 100.0);
        CpuTimesPercent {
            busy: pct(earlier.busy(), later.busy()),
            user: pct(earlier.user, later.user),
            nice: pct(earlier.nice, later.nice),
            system: pct(earlier.system, later.system),
            idle: pct(earlier.idle, later.idle),
            iowait: pct(earlier.iowait, later.iowait),
            irq: pct(earlier.irq, later.irq),
            softirq: pct(earlier.softirq, later.softirq),
            steal: pct(earlier.steal, later.steal),
            guest: pct(earlier.guest, later.guest),
            guest_nice: pct(earlier.guest_nice, later.guest_nice),
        }
    }
}

/// The percentages of one logical CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct PerCpuPercent {
    /// The logical CPU's number.
    pub cpu: u32,
    /// Its percentages.
    pub percent: CpuTimesPercent,
}

/// CPU use between two [`CpuTimesSample`]s.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CpuPercent {
    /// All CPUs together (100 = every CPU busy).
    pub total: CpuTimesPercent,
    /// Each CPU present in both samples, by number.
    pub per_cpu: Vec<PerCpuPercent>,
}

// ---- CPU counters and frequency -----------------------------------------------------

/// Machine-wide scheduler counters: cumulative counts since boot and two gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CpuStats {
    /// Context switches since boot.
    pub ctx_switches: u64,
    /// Hardware interrupts serviced since boot.
    pub interrupts: u64,
    /// Soft interrupts serviced since boot.
    pub soft_interrupts: u64,
    /// Processes and threads created (forks and clones) since boot.
    pub processes_forked: u64,
    /// Tasks runnable now.
    pub procs_running: u64,
    /// Tasks blocked waiting for I/O now.
    pub procs_blocked: u64,
}

/// Machine-wide scheduler counters: context switches, interrupts, forks, runnable and
/// blocked tasks.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/stat` unreadable or malformed).
///
/// # Platform-specific behavior
///
/// Linux: the `ctxt`, `intr`, `softirq`, `processes`, `procs_running` and
/// `procs_blocked` lines of `/proc/stat`.
///
/// Windows: context switches and DPCs (deferred procedure calls, the counterpart of soft
/// interrupts) summed over the processors' `SystemInterruptInformation`, interrupts over
/// `SystemProcessorPerformanceInformation`; `procs_running` counts the running, ready
/// and standby threads and `procs_blocked` those waiting for a page-in, from one
/// `SystemProcessInformation` read; `processes_forked` is 0 (Windows keeps no count).
pub fn cpu_stats() -> Result<CpuStats> {
    imp::cpu_stats()
}

/// The clock frequency of one logical CPU, in MHz.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CpuFreq {
    /// The logical CPU's number.
    pub cpu: u32,
    /// The current frequency.
    pub current_mhz: f64,
    /// The lowest frequency the frequency governor may choose.
    pub min_mhz: f64,
    /// The highest frequency the frequency governor may choose.
    pub max_mhz: f64,
}

/// The current, minimum and maximum clock frequency of each online logical CPU.
///
/// # Errors
///
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported), naming the missing
/// directory or file, when the OS does not report frequencies — common in virtual
/// machines, which have no frequency-scaling driver.
///
/// # Platform-specific behavior
///
/// Linux: `/sys/devices/system/cpu/cpuN/cpufreq/{scaling_cur_freq (or
/// cpuinfo_cur_freq), scaling_min_freq, scaling_max_freq}`.
///
/// Windows: `CallNtPowerInformation(ProcessorInformation)` — `CurrentMhz` and `MaxMhz`;
/// `min_mhz` is 0, as Windows does not report a floor.
pub fn cpu_freq() -> Result<Vec<CpuFreq>> {
    imp::cpu_freq()
}

// ---- load, processes ----------------------------------------------------------------

/// The run-queue load averaged over 1, 5 and 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct LoadAverage {
    /// Over the last minute.
    pub one: f64,
    /// Over the last 5 minutes.
    pub five: f64,
    /// Over the last 15 minutes.
    pub fifteen: f64,
}

/// The load average over 1, 5 and 15 minutes (runnable plus, on Linux, uninterruptibly
/// sleeping tasks).
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/loadavg` unreadable or malformed).
pub fn load_average() -> Result<LoadAverage> {
    imp::load_average()
}

/// The number of processes that exist now (threads not counted separately).
///
/// # Errors
///
/// Only if the process table cannot be listed.
///
/// # Platform-specific behavior
///
/// Linux: the numeric entries of `/proc` (of this pid namespace).
pub fn pid_count() -> Result<usize> {
    imp::pid_count()
}

// ---- memory -------------------------------------------------------------------------

/// Physical memory figures in bytes, with psutil's Linux definitions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct VirtualMemory {
    /// Total usable RAM.
    pub total: u64,
    /// Memory that can be given to processes without swapping (Linux `MemAvailable`),
    /// the figure to watch.
    pub available: u64,
    /// `total - free - buffers - cached`, or `total - free` if that would be negative
    /// (as `free` and psutil compute it).
    pub used: u64,
    /// Memory not used for anything.
    pub free: u64,
    /// Block-device buffers.
    pub buffers: u64,
    /// Page cache plus reclaimable slab (`Cached + SReclaimable`, as `free` shows it).
    pub cached: u64,
    /// Shared memory, mostly tmpfs (`Shmem`).
    pub shared: u64,
    /// Memory used recently, not normally reclaimed.
    pub active: u64,
    /// Memory not used recently, the first to be reclaimed.
    pub inactive: u64,
    /// Kernel data structures (`Slab`).
    pub slab: u64,
    /// `(total - available) / total`, in percent.
    pub percent: f64,
}

/// Physical memory: total, available, used, free, buffers, cached, shared, active,
/// inactive, slab, percent.
///
/// # Errors
///
/// [`ErrorKind::Parse`](crate::ErrorKind::Parse) naming the line when a figure the kernel
/// always reports is missing; [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)
/// before Linux 3.14 (no `MemAvailable`).
///
/// # Platform-specific behavior
///
/// Linux: `/proc/meminfo`. When `MemAvailable` exceeds `MemTotal` (seen in some
/// containers), `available` is `free`, as psutil does.
pub fn virtual_memory() -> Result<VirtualMemory> {
    imp::virtual_memory()
}

/// Swap figures in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct SwapMemory {
    /// Total swap space.
    pub total: u64,
    /// `total - free`.
    pub used: u64,
    /// Unused swap space.
    pub free: u64,
    /// `used / total` in percent; 0 without swap.
    pub percent: f64,
    /// Bytes swapped in from disk since boot; `None` if the OS does not count them.
    pub sin: Option<u64>,
    /// Bytes swapped out to disk since boot; `None` if the OS does not count them.
    pub sout: Option<u64>,
}

/// Swap space: total, used, free, percent, and bytes swapped in and out since boot.
///
/// # Errors
///
/// [`ErrorKind::Parse`](crate::ErrorKind::Parse) when `/proc/meminfo` lacks the swap
/// lines.
///
/// # Platform-specific behavior
///
/// Linux: `SwapTotal`/`SwapFree` of `/proc/meminfo`, and `pswpin`/`pswpout` of
/// `/proc/vmstat` (pages, multiplied by the page size).
pub fn swap_memory() -> Result<SwapMemory> {
    imp::swap_memory()
}

// ---- users --------------------------------------------------------------------------

/// A user logged in on a terminal or remotely.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct User {
    /// The login name.
    pub name: String,
    /// The terminal (`pts/0`, `tty1`, `:0`), if any.
    pub terminal: Option<String>,
    /// The remote host or X display, if any.
    pub host: Option<String>,
    /// When the session started.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::unix"))]
    pub started: SystemTime,
    /// The session's login process, if known.
    pub pid: Option<Pid>,
}

/// The users logged in now, one entry per session, in the order the OS lists them.
///
/// # Errors
///
/// Only if the login records exist but cannot be read.
///
/// # Platform-specific behavior
///
/// Linux: the `USER_PROCESS` records of `/var/run/utmp`; empty when the file does not
/// exist (systems that track sessions only in systemd-logind have none). The record
/// layout is glibc's for x86 and x86_64; other architectures return
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
///
/// Windows: the sessions of `WTSEnumerateSessionsW` with a user logged on, as
/// `DOMAIN\user`; the terminal is the window station (`Console`, `RDP-Tcp#0`), the host
/// the remote client's name, the start the logon time; `pid` is `None`.
pub fn users() -> Result<Vec<User>> {
    imp::users()
}

// ---- topology -----------------------------------------------------------------------

/// How the machine's logical CPUs are grouped: packages (sockets), physical cores,
/// NUMA nodes and caches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Topology {
    /// Logical CPUs that are online, ascending.
    pub online: Vec<u32>,
    /// Logical CPUs present but offline, ascending.
    pub offline: Vec<u32>,
    /// Logical CPUs that could ever be brought online (hot-pluggable included).
    pub possible: Vec<u32>,
    /// Each online logical CPU with its package, core and node.
    pub cpus: Vec<LogicalCpu>,
    /// Packages (sockets), ascending by id, each with its cores.
    pub packages: Vec<Package>,
    /// NUMA nodes, ascending by id; empty when the OS has no NUMA support.
    pub numa_nodes: Vec<NumaNode>,
    /// Distinct CPU caches (one entry per cache, not per CPU sharing it), by level, then
    /// type, then first CPU; empty when the OS does not describe caches.
    pub caches: Vec<Cache>,
}

impl Topology {
    /// The number of online logical CPUs (hardware threads).
    pub fn logical_cpus(&self) -> usize {
        self.online.len()
    }

    /// The number of physical cores with at least one online logical CPU.
    pub fn physical_cores(&self) -> usize {
        self.packages.iter().map(|p| p.cores.len()).sum()
    }
}

/// One online logical CPU and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct LogicalCpu {
    /// The logical CPU's number.
    pub cpu: u32,
    /// Its package's id, if the firmware says.
    pub package: Option<u32>,
    /// Its core's id (unique within the package), if the firmware says.
    pub core: Option<u32>,
    /// Its NUMA node, if the OS has NUMA support.
    pub node: Option<u32>,
}

/// A physical package (socket).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Package {
    /// The package id, if the firmware says.
    pub id: Option<u32>,
    /// Its physical cores with an online logical CPU, by first CPU.
    pub cores: Vec<Core>,
}

/// A physical core: one or more logical CPUs (hardware threads) sharing it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Core {
    /// The core id (unique within its package), if the firmware says.
    pub id: Option<u32>,
    /// Its online logical CPUs, ascending.
    pub cpus: Vec<u32>,
}

/// A NUMA node: CPUs and memory close to each other.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct NumaNode {
    /// The node id.
    pub id: u32,
    /// Its online logical CPUs, ascending (empty for a memory-only node).
    pub cpus: Vec<u32>,
    /// Its memory in bytes, if the OS says.
    pub memory_total: Option<u64>,
    /// Its free memory in bytes, if the OS says.
    pub memory_free: Option<u64>,
}

/// What a CPU cache holds.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
pub enum CacheKind {
    /// Data only.
    Data,
    /// Instructions only.
    Instruction,
    /// Both.
    Unified,
    /// A kind this version does not know.
    Other,
}

/// One CPU cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Cache {
    /// 1 for L1, 2 for L2 …
    pub level: u32,
    /// What it holds.
    pub kind: CacheKind,
    /// Size in bytes, if the OS says.
    pub size: Option<u64>,
    /// Line size in bytes, if the OS says.
    pub line_size: Option<u64>,
    /// Associativity (ways), if the OS says.
    pub ways: Option<u64>,
    /// The logical CPUs sharing it, ascending, as the OS lists them.
    pub shared_cpus: Vec<u32>,
}

/// The machine's CPU topology: online/offline/possible CPUs, packages with their cores
/// and logical CPUs, NUMA nodes with their CPUs and memory, and caches.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/sys/devices/system/cpu` unreadable, or an
/// online CPU without its `topology` directory, which is
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)).
///
/// # Platform-specific behavior
///
/// Linux: `/sys/devices/system/cpu/{online,offline,possible}`,
/// `cpuN/topology/{physical_package_id,core_id,core_cpus_list or thread_siblings_list}`,
/// `cpuN/cache/indexM/{level,type,size,coherency_line_size,ways_of_associativity,
/// shared_cpu_list}` and `/sys/devices/system/node/nodeN/{cpulist,meminfo}`. A CPU that
/// goes offline while this runs can make it fail; call it again.
///
/// Windows: one `GetLogicalProcessorInformationEx(RelationAll)`. CPU numbers are
/// corral's portable ones, the same the affinity calls take: the active logical CPUs
/// numbered 0..N across processor groups (group 0's first, then group 1's, each in bit
/// order), so on a machine with more than 64 CPUs group 1's first CPU follows group 0's
/// last (on one group, the number is the bit). Windows names neither packages nor cores: package ids are
/// their order in that answer and core ids count within their package. `offline` is
/// empty; `possible` counts up to `GetMaximumProcessorCount`; NUMA nodes carry free
/// memory (`GetNumaAvailableMemoryNodeEx`) but no total.
pub fn topology() -> Result<Topology> {
    imp::topology()
}

/// The online CPUs of NUMA node `node`, ascending.
///
/// # Errors
///
/// [`crate::ErrorKind::InvalidInput`] if the node does not exist or has no CPUs (a memory-only
/// node); as [`topology`] otherwise.
pub fn numa_node_cpus(node: u32) -> Result<Vec<usize>> {
    let op = "find NUMA node";
    let topo = topology()?;
    let known: Vec<String> = topo.numa_nodes.iter().map(|n| n.id.to_string()).collect();
    let n = topo
        .numa_nodes
        .iter()
        .find(|n| n.id == node)
        .ok_or_else(|| {
            crate::Error::new(crate::ErrorKind::InvalidInput, op).with_detail(format!(
                "no NUMA node {node} on this machine (nodes: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
    if n.cpus.is_empty() {
        return Err(crate::Error::new(crate::ErrorKind::InvalidInput, op)
            .with_detail(format!("NUMA node {node} has no online CPUs (memory only)")));
    }
    Ok(n.cpus.iter().map(|&c| c as usize).collect())
}
