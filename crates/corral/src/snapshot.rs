//! Enumeration: every process (or those matching filters) with a declared set of fields.
//!
//! A [`Snapshot`] reads only the files the requested fields need, once per process,
//! keeps no descriptor open between calls (at most two during a snapshot), skips
//! processes that vanish mid-read, and reports errors per field: an
//! [`ErrorKind::AccessDenied`](crate::ErrorKind) on `environ` leaves the rest of the row
//! intact.
//!
//! # Examples
//!
//! ```
//! use corral::{Field, NameMatch, Snapshot};
//! let rows = Snapshot::new()
//!     .fields(&[Field::Name, Field::Memory, Field::Cmdline])
//!     .collect()?;
//! for row in &rows {
//!     if let (Some(Ok(name)), Some(Ok(mem))) = (&row.name, &row.memory) {
//!         println!("{} {} {}", row.pid, name, mem.rss);
//!     }
//! }
//! let me = Snapshot::new().pids(&[corral::Process::current()?.pid()]).collect()?;
//! assert_eq!(me.len(), 1);
//! # Ok::<(), corral::Error>(())
//! ```

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::info::*;
use crate::sys::imp;
use crate::{Pid, Process, Result};

/// A field a [`Snapshot`] can read. Pid and start time are always read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Parent pid ([`ProcessInfo::ppid`]).
    Ppid,
    /// Name, by the documented name rule ([`ProcessInfo::name`]).
    Name,
    /// Executable path.
    Exe,
    /// Command line.
    Cmdline,
    /// Scheduler state.
    Status,
    /// CPU times.
    CpuTimes,
    /// Memory (rss, vms, shared …): one extra file read per process.
    Memory,
    /// Resident set size alone, from the same read as pid and start time (cheapest).
    Rss,
    /// Virtual size alone, from the same read as pid and start time (cheapest).
    Vms,
    /// User ids.
    Uids,
    /// Group ids.
    Gids,
    /// User name (of the real uid).
    Username,
    /// Thread count.
    NumThreads,
    /// Controlling terminal.
    Terminal,
    /// Nice value.
    Nice,
    /// Page faults.
    PageFaults,
    /// Session, process group, tracer.
    ProcessGroup,
    /// Last CPU.
    CpuNum,
    /// Working directory.
    Cwd,
    /// Environment.
    Environ,
    /// Open descriptor count.
    NumFds,
    /// I/O counters.
    Io,
    /// Peak memory and swap.
    MemoryPeaks,
    /// Context switches.
    CtxSwitches,
    /// cgroup memberships.
    Cgroups,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 25] = [
        Field::Ppid,
        Field::Name,
        Field::Exe,
        Field::Cmdline,
        Field::Status,
        Field::CpuTimes,
        Field::Memory,
        Field::Rss,
        Field::Vms,
        Field::Uids,
        Field::Gids,
        Field::Username,
        Field::NumThreads,
        Field::Terminal,
        Field::Nice,
        Field::PageFaults,
        Field::ProcessGroup,
        Field::CpuNum,
        Field::Cwd,
        Field::Environ,
        Field::NumFds,
        Field::Io,
        Field::MemoryPeaks,
        Field::CtxSwitches,
        Field::Cgroups,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of [`Field`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldSet(u32);

impl FieldSet {
    /// The empty set.
    pub const fn empty() -> FieldSet {
        FieldSet(0)
    }

    /// Adds a field.
    pub fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }

    /// Whether the set holds `f`.
    pub fn contains(self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }

    /// Both sets together.
    pub fn union(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 | other.0)
    }

    /// Whether the set holds any of `fs`.
    pub fn any(self, fs: &[Field]) -> bool {
        fs.iter().any(|&f| self.contains(f))
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> FieldSet {
        let mut s = FieldSet::empty();
        for f in iter {
            s.insert(f);
        }
        s
    }
}

/// How to match a process name (by the documented name rule).
#[derive(Debug, Clone)]
pub enum NameMatch {
    /// The whole name, exactly.
    Exact(String),
    /// The name contains any of these substrings.
    Contains(Vec<String>),
    /// The name matches a regular expression (unanchored; anchor with `^…$`).
    Regex(regex::Regex),
}

impl NameMatch {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::Exact(s) => name == s,
            NameMatch::Contains(v) => v.iter().any(|s| name.contains(s.as_str())),
            NameMatch::Regex(r) => r.is_match(name),
        }
    }
}

/// Filters of a snapshot; a process must pass all that are set.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these pids.
    pub pids: Option<Vec<Pid>>,
    /// Name match.
    pub name: Option<NameMatch>,
    /// Match against the command line joined with spaces.
    pub cmdline: Option<NameMatch>,
    /// Real uid.
    pub uid: Option<u32>,
    /// User name (see [`Snapshot::user_name`]).
    pub user_name: Option<String>,
    /// Parent pid.
    pub parent: Option<Pid>,
    /// Session id.
    pub session: Option<u32>,
    /// Process-group id.
    pub pgid: Option<u32>,
    /// Leave out kernel threads.
    pub exclude_kernel_threads: bool,
    /// Only processes that started at least this long ago.
    pub older_than: Option<Duration>,
    /// Only processes that started less than this long ago.
    pub younger_than: Option<Duration>,
    /// Only processes holding a socket on this port (see [`PortMatch`]).
    pub port: Option<PortMatch>,
}

/// Whether the user name `got` (as a process reports it) is `want`: equal, or, for a
/// `DOMAIN\user` name, equal to it or to its account part ignoring ASCII case (Windows
/// account names are case-insensitive; a name without a domain compares exactly).
#[cfg_attr(feature = "force-unsupported", allow(dead_code))]
fn user_matches(got: &str, want: &str) -> bool {
    if got == want {
        return true;
    }
    match got.rsplit_once('\\') {
        Some((_, account)) => got.eq_ignore_ascii_case(want) || account.eq_ignore_ascii_case(want),
        None => false,
    }
}

/// Which sockets select a process for [`Filter::port`]: a local or remote port, TCP or
/// UDP (or both), listening or connected, IPv4 and IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMatch {
    /// The port number.
    pub port: u16,
    /// Only TCP (`Some(Stream)`), only UDP (`Some(Datagram)`), or both (`None`).
    pub kind: Option<SocketType>,
}

// The unsupported backend reads no rows, so it uses none of the row plumbing.
#[cfg_attr(feature = "force-unsupported", allow(dead_code))]
impl Filter {
    /// Fields the filter needs to decide.
    pub(crate) fn needs(&self) -> FieldSet {
        let mut s = FieldSet::empty();
        if self.name.is_some() {
            s.insert(Field::Name);
        }
        if self.cmdline.is_some() {
            s.insert(Field::Cmdline);
        }
        if self.uid.is_some() {
            s.insert(Field::Uids);
        }
        if self.user_name.is_some() {
            s.insert(Field::Username);
        }
        if self.parent.is_some() {
            s.insert(Field::Ppid);
        }
        if self.session.is_some() || self.pgid.is_some() {
            s.insert(Field::ProcessGroup);
        }
        s
    }

    /// Decides on a row once the fields it needs are filled: `Some(false)` rejects, `None`
    /// means a field it needs is not read yet. A field that could not be read fails the
    /// filter (a process whose name cannot be read does not match a name).
    pub(crate) fn check(&self, row: &ProcessInfo) -> Option<bool> {
        fn get<T>(f: &Option<Result<T>>) -> Option<Option<&T>> {
            f.as_ref().map(|r| r.as_ref().ok())
        }
        if self.exclude_kernel_threads && row.kernel_thread {
            return Some(false);
        }
        if self.older_than.is_some() || self.younger_than.is_some() {
            let age = SystemTime::now()
                .duration_since(row.start.wall)
                .unwrap_or(Duration::ZERO);
            if self.older_than.is_some_and(|d| age < d)
                || self.younger_than.is_some_and(|d| age >= d)
            {
                return Some(false);
            }
        }
        if let Some(m) = &self.name {
            match get(&row.name)? {
                Some(n) if m.matches(n) => {}
                _ => return Some(false),
            }
        }
        if let Some(p) = self.parent {
            if get(&row.ppid)?.copied().flatten() != Some(p) {
                return Some(false);
            }
        }
        if self.session.is_some() || self.pgid.is_some() {
            let g = get(&row.group)?;
            if self.session.is_some() && g.map(|g| g.session) != self.session {
                return Some(false);
            }
            if self.pgid.is_some() && g.map(|g| g.pgid) != self.pgid {
                return Some(false);
            }
        }
        if let Some(uid) = self.uid {
            if get(&row.uids)?.map(|i| i.real) != Some(uid) {
                return Some(false);
            }
        }
        if let Some(want) = &self.user_name {
            if !get(&row.username)?.is_some_and(|u| user_matches(u, want)) {
                return Some(false);
            }
        }
        if let Some(m) = &self.cmdline {
            match get(&row.cmdline)? {
                Some(args) => {
                    let joined = args
                        .iter()
                        .map(|a| a.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(" ");
                    if !m.matches(&joined) {
                        return Some(false);
                    }
                }
                None => return Some(false),
            }
        }
        Some(true)
    }
}

/// A field value in a row: `None` when the field was not requested, else the value or
/// the error reading it.
pub type FieldValue<T> = Option<Result<T>>;

/// One process in a snapshot: pid and start time (always), and each requested field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Pid.
    pub pid: Pid,
    /// Start time: with the pid, the identity of the process.
    pub start: StartTime,
    /// Whether this is a kernel thread (no user space, no executable).
    pub kernel_thread: bool,
    /// Parent pid (`None` inside for pid 1 and `kthreadd`).
    pub ppid: FieldValue<Option<Pid>>,
    /// Name by the documented name rule.
    pub name: FieldValue<String>,
    /// Executable path (`None` inside for kernel threads).
    pub exe: FieldValue<Option<PathBuf>>,
    /// Command line.
    pub cmdline: FieldValue<Vec<OsString>>,
    /// Scheduler state.
    pub status: FieldValue<Status>,
    /// CPU times.
    pub cpu_times: FieldValue<CpuTimes>,
    /// Memory.
    pub memory: FieldValue<MemoryInfo>,
    /// Resident set size in bytes.
    pub rss: FieldValue<u64>,
    /// Virtual size in bytes.
    pub vms: FieldValue<u64>,
    /// User ids.
    pub uids: FieldValue<Ids>,
    /// Group ids.
    pub gids: FieldValue<Ids>,
    /// User name.
    pub username: FieldValue<String>,
    /// Thread count.
    pub num_threads: FieldValue<u64>,
    /// Controlling terminal.
    pub terminal: FieldValue<Option<String>>,
    /// Nice value.
    pub nice: FieldValue<i32>,
    /// Page faults.
    pub page_faults: FieldValue<PageFaults>,
    /// Session, process group, tracer.
    pub group: FieldValue<ProcessGroupInfo>,
    /// Last CPU.
    pub cpu_num: FieldValue<u32>,
    /// Working directory.
    pub cwd: FieldValue<PathBuf>,
    /// Environment.
    pub environ: FieldValue<Vec<(OsString, OsString)>>,
    /// Open descriptor count.
    pub num_fds: FieldValue<usize>,
    /// I/O counters.
    pub io: FieldValue<IoCounters>,
    /// Peak memory and swap.
    pub memory_peaks: FieldValue<MemoryPeaks>,
    /// Context switches.
    pub ctx_switches: FieldValue<CtxSwitches>,
    /// cgroup memberships.
    pub cgroups: FieldValue<Vec<CgroupMembership>>,
}

impl ProcessInfo {
    #[cfg_attr(feature = "force-unsupported", allow(dead_code))]
    pub(crate) fn new(pid: Pid, start: StartTime, kernel_thread: bool) -> ProcessInfo {
        ProcessInfo {
            pid,
            start,
            kernel_thread,
            ppid: None,
            name: None,
            exe: None,
            cmdline: None,
            status: None,
            cpu_times: None,
            memory: None,
            rss: None,
            vms: None,
            uids: None,
            gids: None,
            username: None,
            num_threads: None,
            terminal: None,
            nice: None,
            page_faults: None,
            group: None,
            cpu_num: None,
            cwd: None,
            environ: None,
            num_fds: None,
            io: None,
            memory_peaks: None,
            ctx_switches: None,
            cgroups: None,
        }
    }

    /// Opens the process this row describes, only if its pid still belongs to it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`](crate::ErrorKind::NoSuchProcess) if it is gone or the
    /// pid was reused since the snapshot.
    pub fn open(&self) -> Result<Process> {
        Process::open_with_start(self.pid, &self.start)
    }
}

/// A snapshot request: fields to read and filters to apply.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    fields: FieldSet,
    filter: Filter,
}

impl Snapshot {
    /// A request for pid and start time only, of every process.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// Adds fields to read.
    pub fn fields(mut self, fields: &[Field]) -> Snapshot {
        for &f in fields {
            self.fields.insert(f);
        }
        self
    }

    /// Adds a set of fields to read.
    pub fn field_set(mut self, fields: FieldSet) -> Snapshot {
        self.fields = self.fields.union(fields);
        self
    }

    /// Adds one field to read.
    pub fn field(mut self, f: Field) -> Snapshot {
        self.fields.insert(f);
        self
    }

    /// Replaces the filter.
    pub fn filter(mut self, filter: Filter) -> Snapshot {
        self.filter = filter;
        self
    }

    /// Only these pids.
    pub fn pids(mut self, pids: &[Pid]) -> Snapshot {
        let mut v = pids.to_vec();
        v.sort_unstable();
        v.dedup();
        self.filter.pids = Some(v);
        self
    }

    /// Only processes whose name matches.
    pub fn name(mut self, m: NameMatch) -> Snapshot {
        self.filter.name = Some(m);
        self
    }

    /// Only processes whose command line (joined with spaces) matches.
    pub fn cmdline(mut self, m: NameMatch) -> Snapshot {
        self.filter.cmdline = Some(m);
        self
    }

    /// Only processes of this real uid.
    pub fn uid(mut self, uid: u32) -> Snapshot {
        self.filter.uid = Some(uid);
        self
    }

    /// Only processes of the user named `name`, as [`Process::username`] names it; a
    /// `DOMAIN\user` name (Windows) also matches by its account name alone, and
    /// Windows' names match case-insensitively, as Windows compares them.
    ///
    /// [`Process::username`]: crate::Process::username
    pub fn user_name(mut self, name: &str) -> Snapshot {
        self.filter.user_name = Some(name.to_owned());
        self
    }

    /// Only children of `parent`.
    pub fn parent(mut self, parent: Pid) -> Snapshot {
        self.filter.parent = Some(parent);
        self
    }

    /// Only processes of session `sid`.
    pub fn session(mut self, sid: u32) -> Snapshot {
        self.filter.session = Some(sid);
        self
    }

    /// Only processes of process group `pgid`.
    pub fn pgid(mut self, pgid: u32) -> Snapshot {
        self.filter.pgid = Some(pgid);
        self
    }

    /// Only processes that started at least `age` ago.
    pub fn older_than(mut self, age: Duration) -> Snapshot {
        self.filter.older_than = Some(age);
        self
    }

    /// Only processes that started less than `age` ago.
    pub fn younger_than(mut self, age: Duration) -> Snapshot {
        self.filter.younger_than = Some(age);
        self
    }

    /// Only processes with a socket on `port` (local or remote; TCP, UDP or both;
    /// IPv4 and IPv6), as `lsof -i :PORT` finds them.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: reads the socket tables of this network namespace once, then the
    /// descriptor links of each process; sockets of processes you may not inspect are
    /// not seen (run as root to see all).
    ///
    /// Windows: one read of the IP Helper's TCP and UDP owner-pid tables; every
    /// process's sockets are seen.
    pub fn port(mut self, port: PortMatch) -> Snapshot {
        self.filter.port = Some(port);
        self
    }

    /// Leave out kernel threads.
    pub fn exclude_kernel_threads(mut self) -> Snapshot {
        self.filter.exclude_kernel_threads = true;
        self
    }

    /// The requested fields.
    pub fn requested(&self) -> FieldSet {
        self.fields
    }

    /// Reads the snapshot, calling `each` for every matching process in pid order.
    ///
    /// # Errors
    ///
    /// Only when the process list itself cannot be read (Linux: `/proc` missing).
    /// Per-process trouble is per field inside the rows.
    pub fn for_each(&self, each: impl FnMut(ProcessInfo)) -> Result<()> {
        imp::snapshot(self.fields, &self.filter, each)
    }

    /// Reads the snapshot into a vector, in pid order.
    ///
    /// # Errors
    ///
    /// As [`Snapshot::for_each`].
    pub fn collect(&self) -> Result<Vec<ProcessInfo>> {
        let mut v = Vec::new();
        self.for_each(|r| v.push(r))?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_names_match_as_the_platform_compares_them() {
        use super::user_matches;
        assert!(user_matches("alice", "alice"));
        assert!(!user_matches("alice", "Alice"));
        assert!(!user_matches("alice", "ali"));
        assert!(user_matches("HOST\\Alice", "alice"));
        assert!(user_matches("HOST\\Alice", "host\\ALICE"));
        assert!(!user_matches("HOST\\Alice", "OTHER\\Alice"));
        assert!(!user_matches("HOST\\Alice", "HOST"));
    }

    use super::*;

    #[test]
    fn rows_stay_small() {
        // Every field is an Option<Result<T, Error>> with a one-pointer error; keep a
        // snapshot of thousands of processes cheap to hold.
        assert!(
            std::mem::size_of::<ProcessInfo>() <= 800,
            "{}",
            std::mem::size_of::<ProcessInfo>()
        );
    }
}
