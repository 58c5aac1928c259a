//! Plain data returned by process getters and snapshots.
//!
//! Everything here is a value: reading it again needs a new call. Sizes are in bytes,
//! times are [`Duration`]s, and counters are the raw cumulative values the OS keeps
//! (turn two samples into rates with [`CpuSample`](crate::CpuSample)).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::Pid;

#[cfg(feature = "serde")]
use serde::Serialize;

#[cfg(feature = "serde")]
pub(crate) mod ser {
    //! Serialization helpers: durations as fractional seconds, times as Unix seconds.
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn unix<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let v = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        s.serialize_f64(v)
    }
}

/// The scheduler state of a process or thread (the `State` letter of `ps`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
pub enum Status {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep, waiting for an event.
    Sleeping,
    /// `D`: uninterruptible sleep, usually I/O.
    DiskSleep,
    /// `T`: stopped by a job-control signal.
    Stopped,
    /// `t`: stopped by a debugger.
    TracingStop,
    /// `Z`: exited, not yet reaped by its parent.
    Zombie,
    /// `X`: dead, being removed.
    Dead,
    /// `I`: an idle kernel thread.
    Idle,
    /// `P`: parked kernel thread.
    Parked,
    /// `W`: waking (older kernels) or paging.
    Waking,
    /// `K`: wake-kill (older kernels).
    WakeKill,
    /// A state letter this version does not know.
    Other(char),
}

impl Status {
    /// The status for a `/proc/PID/stat` state letter.
    pub fn from_letter(c: u8) -> Status {
        match c {
            b'R' => Status::Running,
            b'S' => Status::Sleeping,
            b'D' => Status::DiskSleep,
            b'T' => Status::Stopped,
            b't' => Status::TracingStop,
            b'Z' => Status::Zombie,
            b'X' | b'x' => Status::Dead,
            b'I' => Status::Idle,
            b'P' => Status::Parked,
            b'W' => Status::Waking,
            b'K' => Status::WakeKill,
            other => Status::Other(other as char),
        }
    }

    /// The one-letter code `ps` shows.
    pub fn letter(self) -> char {
        match self {
            Status::Running => 'R',
            Status::Sleeping => 'S',
            Status::DiskSleep => 'D',
            Status::Stopped => 'T',
            Status::TracingStop => 't',
            Status::Zombie => 'Z',
            Status::Dead => 'X',
            Status::Idle => 'I',
            Status::Parked => 'P',
            Status::Waking => 'W',
            Status::WakeKill => 'K',
            Status::Other(c) => c,
        }
    }

    /// A lower-case word for the status, as psutil names them (`"running"`, `"disk-sleep"` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Sleeping => "sleeping",
            Status::DiskSleep => "disk-sleep",
            Status::Stopped => "stopped",
            Status::TracingStop => "tracing-stop",
            Status::Zombie => "zombie",
            Status::Dead => "dead",
            Status::Idle => "idle",
            Status::Parked => "parked",
            Status::Waking => "waking",
            Status::WakeKill => "wake-kill",
            Status::Other(_) => "unknown",
        }
    }
}

/// CPU time a process has used, cumulative since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CpuTimes {
    /// Time in user mode.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub user: Duration,
    /// Time in kernel mode.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub system: Duration,
    /// User time of waited-for children.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub children_user: Duration,
    /// Kernel time of waited-for children.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub children_system: Duration,
    /// Time spent waiting for block I/O (Linux delay accounting; zero when the kernel's
    /// `delayacct` is off).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::secs"))]
    pub iowait: Duration,
}

impl CpuTimes {
    /// User plus system time of the process itself (children excluded).
    pub fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// Memory use of a process, from one cheap read (`/proc/PID/statm` on Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct MemoryInfo {
    /// Resident set size: memory in RAM now.
    pub rss: u64,
    /// Virtual memory size: everything mapped.
    pub vms: u64,
    /// Resident memory backed by files or shared (may be shared with other processes).
    pub shared: u64,
    /// Resident size of the executable's code (Linux `text`).
    pub text: u64,
    /// Library pages; always 0 on Linux since 2.6 (the kernel reports 0).
    pub lib: u64,
    /// Data plus stack size (virtual).
    pub data: u64,
    /// Dirty pages; always 0 on Linux since 2.6 (the kernel reports 0).
    pub dirty: u64,
}

/// Memory use including the costly figures that need the full map walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct MemoryFullInfo {
    /// The basic figures.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub basic: MemoryInfo,
    /// Unique set size: memory that would be freed if the process exited now.
    pub uss: u64,
    /// Proportional set size: shared pages divided among their sharers.
    pub pss: u64,
    /// Memory swapped out.
    pub swap: u64,
}

/// Peak and swap figures from `/proc/PID/status` (Windows: peak working set, pagefile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct MemoryPeaks {
    /// Highest resident set size seen (`VmHWM`).
    pub peak_rss: u64,
    /// Highest virtual size seen (`VmPeak`).
    pub peak_vms: u64,
    /// Swapped-out memory now (`VmSwap`).
    pub swap: u64,
}

/// Real, effective, saved and filesystem ids (uids or gids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Ids {
    /// Real id.
    pub real: u32,
    /// Effective id: the one permission checks use.
    pub effective: u32,
    /// Saved set-id.
    pub saved: u32,
    /// Filesystem id (Linux).
    pub filesystem: u32,
}

/// I/O a process has done, cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct IoCounters {
    /// Read system calls.
    pub read_count: u64,
    /// Write system calls.
    pub write_count: u64,
    /// Bytes fetched from storage.
    pub read_bytes: u64,
    /// Bytes sent to storage.
    pub write_bytes: u64,
    /// Bytes passed to read-like calls (any source, cache included).
    pub read_chars: u64,
    /// Bytes passed to write-like calls.
    pub write_chars: u64,
    /// Bytes whose write-out was cancelled (truncated dirty page cache).
    pub cancelled_write_bytes: u64,
}

/// Context switches, cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CtxSwitches {
    /// The task gave up the CPU (waited for something).
    pub voluntary: u64,
    /// The scheduler took the CPU away.
    pub involuntary: u64,
}

/// Page faults, cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct PageFaults {
    /// Faults served without I/O.
    pub minor: u64,
    /// Faults that needed I/O.
    pub major: u64,
    /// Minor faults of waited-for children.
    pub children_minor: u64,
    /// Major faults of waited-for children.
    pub children_major: u64,
}

/// The session, process-group and tracer of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct ProcessGroupInfo {
    /// Session id.
    pub session: u32,
    /// Process-group id.
    pub pgid: u32,
    /// Pid of the process tracing this one (a debugger), if any.
    pub tracer: Option<Pid>,
}

/// What [`Process::set_background`](crate::Process::set_background) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct BackgroundReport {
    /// How many threads were changed.
    pub threads: usize,
    /// Whether the CPU utilisation clamp was set too (Linux: the kernel has
    /// `CONFIG_UCLAMP_TASK`); without it only the CPU and I/O priorities change.
    pub util_clamp: bool,
}

/// What [`Process::trim_memory`](crate::Process::trim_memory) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct TrimReport {
    /// Resident set size before, in bytes.
    pub rss_before: u64,
    /// Resident set size after, in bytes.
    pub rss_after: u64,
    /// Bytes of address space the kernel was asked to page out.
    pub advised: u64,
}

impl TrimReport {
    /// Bytes no longer resident: `rss_before - rss_after` (0 if the process grew).
    pub fn paged_out(&self) -> u64 {
        self.rss_before.saturating_sub(self.rss_after)
    }
}

/// What [`Job::trim_memory`](crate::Job::trim_memory) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct JobTrimReport {
    /// The job's memory before, in bytes: the cgroup's charge (`memory.current`) when
    /// [`reclaimed`](Self::reclaimed), else the sum of the trimmed members' resident sets.
    pub before: u64,
    /// The same figure after.
    pub after: u64,
    /// `true`: the kernel reclaimed the job as a whole (cgroup v2 `memory.reclaim`);
    /// `false`: each member was trimmed as [`Process::trim_memory`](crate::Process::trim_memory) does.
    pub reclaimed: bool,
    /// How many members were trimmed one by one (0 when [`reclaimed`](Self::reclaimed)).
    pub members: usize,
}

impl JobTrimReport {
    /// Bytes no longer held: `before - after` (0 if the job grew).
    pub fn paged_out(&self) -> u64 {
        self.before.saturating_sub(self.after)
    }
}

/// A regular file a process has open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct OpenFile {
    /// The file's path as the kernel shows it (may end in ` (deleted)`).
    pub path: PathBuf,
    /// The descriptor number (Windows: the handle value).
    pub fd: i32,
    /// The file offset.
    pub position: u64,
    /// `"r"`, `"w"`, `"a"`, `"r+"` or `"a+"`, as `fopen` would name the open flags.
    pub mode: &'static str,
    /// The raw open flags (`O_*`; Windows: the handle's granted access mask).
    pub flags: u32,
}

/// Address family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "lowercase"))]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
    /// Unix domain.
    Unix,
}

/// Socket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "lowercase"))]
pub enum SocketType {
    /// Stream (TCP, or a unix stream socket).
    Stream,
    /// Datagram (UDP, or a unix datagram socket).
    Datagram,
    /// Sequenced packets (unix).
    SeqPacket,
    /// Raw.
    Raw,
}

/// TCP connection state (`None` for connectionless sockets).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize),
    serde(rename_all = "SCREAMING_SNAKE_CASE")
)]
pub enum TcpState {
    /// Connected.
    Established,
    /// Connecting.
    SynSent,
    /// Received a connection request.
    SynRecv,
    /// Closing, local side first.
    FinWait1,
    /// Closing, waiting for the peer.
    FinWait2,
    /// Closed, waiting out stray packets.
    TimeWait,
    /// Closed.
    Close,
    /// The peer closed.
    CloseWait,
    /// Closing after the peer closed.
    LastAck,
    /// Waiting for connections.
    Listen,
    /// Both sides closing at once.
    Closing,
    /// Connection request pending.
    NewSynRecv,
    /// Connectionless socket: no state.
    None,
}

/// One end of a socket: an IP address and port, or a unix path (empty when unbound).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(untagged))]
pub enum Endpoint {
    /// IP address and port.
    Inet(SocketAddr),
    /// Unix socket path; empty for unnamed sockets, `@name` for abstract ones.
    Unix(String),
}

/// A socket a process has open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Connection {
    /// Descriptor number in the process.
    pub fd: i32,
    /// Address family.
    pub family: Family,
    /// Socket type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: SocketType,
    /// Local end.
    pub local: Option<Endpoint>,
    /// Remote end, if connected.
    pub remote: Option<Endpoint>,
    /// TCP state; [`TcpState::None`] for other sockets.
    pub status: TcpState,
    /// Socket inode number.
    pub inode: u64,
}

/// Which sockets [`Process::connections`](crate::Process::connections) lists (psutil's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    /// IPv4 and IPv6, TCP and UDP.
    Inet,
    /// IPv4 TCP and UDP.
    Inet4,
    /// IPv6 TCP and UDP.
    Inet6,
    /// TCP over IPv4 and IPv6.
    Tcp,
    /// TCP over IPv4.
    Tcp4,
    /// TCP over IPv6.
    Tcp6,
    /// UDP over IPv4 and IPv6.
    Udp,
    /// UDP over IPv4.
    Udp4,
    /// UDP over IPv6.
    Udp6,
    /// Unix domain sockets.
    Unix,
    /// All of the above.
    All,
}

impl ConnectionKind {
    /// Parses psutil's names: `inet`, `inet4`, `inet6`, `tcp`, `tcp4`, `tcp6`, `udp`,
    /// `udp4`, `udp6`, `unix`, `all`.
    pub fn from_name(s: &str) -> Option<ConnectionKind> {
        Some(match s {
            "inet" => ConnectionKind::Inet,
            "inet4" => ConnectionKind::Inet4,
            "inet6" => ConnectionKind::Inet6,
            "tcp" => ConnectionKind::Tcp,
            "tcp4" => ConnectionKind::Tcp4,
            "tcp6" => ConnectionKind::Tcp6,
            "udp" => ConnectionKind::Udp,
            "udp4" => ConnectionKind::Udp4,
            "udp6" => ConnectionKind::Udp6,
            "unix" => ConnectionKind::Unix,
            "all" => ConnectionKind::All,
            _ => return None,
        })
    }

    /// Whether sockets of `family` and `kind` are selected.
    pub fn selects(self, family: Family, kind: SocketType) -> bool {
        let tcp = kind == SocketType::Stream;
        let udp = kind == SocketType::Datagram;
        match self {
            ConnectionKind::All => true,
            ConnectionKind::Unix => family == Family::Unix,
            ConnectionKind::Inet => family != Family::Unix && (tcp || udp),
            ConnectionKind::Inet4 => family == Family::Inet && (tcp || udp),
            ConnectionKind::Inet6 => family == Family::Inet6 && (tcp || udp),
            ConnectionKind::Tcp => family != Family::Unix && tcp,
            ConnectionKind::Tcp4 => family == Family::Inet && tcp,
            ConnectionKind::Tcp6 => family == Family::Inet6 && tcp,
            ConnectionKind::Udp => family != Family::Unix && udp,
            ConnectionKind::Udp4 => family == Family::Inet && udp,
            ConnectionKind::Udp6 => family == Family::Inet6 && udp,
        }
    }
}

/// One memory mapping of a process, or (grouped) all mappings of one path summed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct MemoryMap {
    /// Mapped file, or a pseudo-name such as `[heap]`, `[stack]`, `[anon]` (anonymous).
    pub path: String,
    /// Address range `start-end` (not grouped only).
    pub addr: Option<(u64, u64)>,
    /// Permissions such as `r-xp` (not grouped only).
    pub perms: Option<String>,
    /// Mapping size.
    pub size: u64,
    /// Resident.
    pub rss: u64,
    /// Proportional set size.
    pub pss: u64,
    /// Shared, unmodified.
    pub shared_clean: u64,
    /// Shared, modified.
    pub shared_dirty: u64,
    /// Private, unmodified.
    pub private_clean: u64,
    /// Private, modified.
    pub private_dirty: u64,
    /// Recently referenced.
    pub referenced: u64,
    /// Anonymous.
    pub anonymous: u64,
    /// Swapped out.
    pub swap: u64,
}

/// A resource limited by rlimits ([`Process::rlimit`](crate::Process::rlimit)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "lowercase"))]
pub enum Resource {
    /// Address space size (`RLIMIT_AS`).
    As,
    /// Core file size.
    Core,
    /// CPU seconds.
    Cpu,
    /// Data segment size.
    Data,
    /// File size.
    Fsize,
    /// File locks.
    Locks,
    /// Locked memory.
    Memlock,
    /// POSIX message queue bytes.
    Msgqueue,
    /// Nice ceiling.
    Nice,
    /// Open files.
    Nofile,
    /// Processes (threads) of the real uid.
    Nproc,
    /// Resident set (ignored by Linux).
    Rss,
    /// Real-time priority ceiling.
    Rtprio,
    /// Real-time CPU microseconds before a blocking call.
    Rttime,
    /// Pending signals.
    Sigpending,
    /// Stack size.
    Stack,
}

impl Resource {
    /// Every resource, in a fixed order.
    pub const ALL: [Resource; 16] = [
        Resource::As,
        Resource::Core,
        Resource::Cpu,
        Resource::Data,
        Resource::Fsize,
        Resource::Locks,
        Resource::Memlock,
        Resource::Msgqueue,
        Resource::Nice,
        Resource::Nofile,
        Resource::Nproc,
        Resource::Rss,
        Resource::Rtprio,
        Resource::Rttime,
        Resource::Sigpending,
        Resource::Stack,
    ];

    /// The lower-case name, as `prlimit` spells it (`nofile`, `as` …).
    pub fn name(self) -> &'static str {
        match self {
            Resource::As => "as",
            Resource::Core => "core",
            Resource::Cpu => "cpu",
            Resource::Data => "data",
            Resource::Fsize => "fsize",
            Resource::Locks => "locks",
            Resource::Memlock => "memlock",
            Resource::Msgqueue => "msgqueue",
            Resource::Nice => "nice",
            Resource::Nofile => "nofile",
            Resource::Nproc => "nproc",
            Resource::Rss => "rss",
            Resource::Rtprio => "rtprio",
            Resource::Rttime => "rttime",
            Resource::Sigpending => "sigpending",
            Resource::Stack => "stack",
        }
    }

    /// The resource for a name as [`Resource::name`] gives it (case-insensitive, an
    /// optional `RLIMIT_` prefix allowed).
    pub fn from_name(s: &str) -> Option<Resource> {
        let lower = s.to_ascii_lowercase();
        let n = lower.strip_prefix("rlimit_").unwrap_or(&lower);
        Resource::ALL.into_iter().find(|r| r.name() == n)
    }
}

/// A soft and hard limit; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Rlimit {
    /// The limit in force.
    pub soft: Option<u64>,
    /// The ceiling an unprivileged process may raise the soft limit to.
    pub hard: Option<u64>,
}

/// I/O scheduling class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "kebab-case"))]
pub enum IoClass {
    /// No class set: the kernel derives best-effort from the nice value.
    None,
    /// Real-time: served first (needs privilege).
    Realtime,
    /// Best-effort: the default.
    BestEffort,
    /// Idle: served only when nobody else wants the disk.
    Idle,
}

/// I/O priority: a class and a level 0 (highest) to 7 (lowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct IoPriority {
    /// The class.
    pub class: IoClass,
    /// The level within the class, 0–7 (meaningless for `None` and `Idle`).
    pub level: u8,
}

/// One cgroup a process belongs to (a line of `/proc/PID/cgroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct CgroupMembership {
    /// Hierarchy id (0 for the cgroup v2 unified hierarchy).
    pub hierarchy: u32,
    /// Controllers bound to the hierarchy (empty for v2; may hold `name=systemd`).
    pub controllers: Vec<String>,
    /// Path of the cgroup relative to the hierarchy's root, starting with `/`.
    pub path: String,
}

/// A point in time at which a process started, with the raw form the identity uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct StartTime {
    /// Wall-clock start time (boot time plus the start offset).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser::unix"))]
    pub wall: SystemTime,
    /// The OS's raw start stamp: clock ticks since boot on Linux, FILETIME on Windows.
    pub raw: u64,
}
