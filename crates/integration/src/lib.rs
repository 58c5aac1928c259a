//! Test support for corral integration tests.
//!
//! Every integration test of corral spawns [`testbin`](testbin_path) (never `sh` or
//! `sleep`) through [`TestProc`], waits for its readiness line instead of sleeping, and
//! relies on the drop guard of [`TestProc`] to kill everything it spawned, even when the test
//! fails. A process is only ever signalled when its pid *and* start time (field 22 of
//! `/proc/PID/stat`) still match what was recorded, through a pidfd.
//!
//! Integration tests inside this crate may also locate the helper with
//! `env!("CARGO_BIN_EXE_testbin")`; [`testbin_path`] works for every test executable built
//! into the same target directory.
//!
//! # Examples
//!
//! ```no_run
//! use integration::TestProc;
//!
//! let p = TestProc::spawn(&["--children", "2", "--comm", "example"]);
//! assert_eq!(p.list("children").len(), 2);
//! // Dropping `p` kills testbin and both children, after checking their start times.
//! ```

pub mod cgroups;

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal};

/// How long [`TestProc`] waits for the ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the drop guard waits for the processes it killed to exit.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// Path of the built `testbin` helper, found next to the running test executable.
///
/// Test executables live in `target/<profile>/deps/`, `testbin` in `target/<profile>/`.
/// Integration tests of this crate may use `env!("CARGO_BIN_EXE_testbin")` instead.
///
/// # Panics
///
/// Panics with a hint when `testbin` was not built.
pub fn testbin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe() failed");
    let mut candidates = Vec::new();
    if let Some(dir) = exe.parent() {
        if dir.file_name() == Some(OsStr::new("deps")) {
            if let Some(profile_dir) = dir.parent() {
                candidates.push(profile_dir.join("testbin"));
            }
        }
        candidates.push(dir.join("testbin"));
    }
    for c in &candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    panic!(
        "testbin not found (looked at {candidates:?}, next to {exe:?}); build it with \
         `cargo build -p integration --bin testbin` into the same target directory"
    );
}

/// Field 22 of `/proc/<pid>/stat`: the start time in clock ticks after boot.
///
/// Returns `None` when the process is gone or the file cannot be parsed.
pub fn start_time_of(pid: u32) -> Option<u64> {
    read_stat(pid).map(|s| s.start_time)
}

/// The fields of `/proc/<pid>/stat` tests look at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Field 2, without the parentheses (may hold spaces and `)`).
    pub comm: String,
    /// Field 3: `R`, `S`, `D`, `T`, `t`, `Z`, `X`, `I`...
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 5.
    pub pgrp: u32,
    /// Field 6.
    pub session: u32,
    /// Fields 14 + 15: user + system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Field 20.
    pub num_threads: u64,
    /// Field 22, in clock ticks after boot.
    pub start_time: u64,
    /// Field 9, the kernel's `PF_*` task flags.
    pub flags: u64,
}

/// Reads and parses `/proc/<pid>/stat`; `None` when the process is gone.
pub fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// Reads and parses `/proc/<pid>/task/<tid>/stat`; `None` when the thread is gone.
pub fn read_task_stat(pid: u32, tid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read(format!("/proc/{pid}/task/{tid}/stat")).ok()?)
}

fn parse_stat(raw: &[u8]) -> Option<Stat> {
    let open = raw.iter().position(|&b| b == b'(')?;
    let close = raw.iter().rposition(|&b| b == b')')?;
    let comm = String::from_utf8_lossy(raw.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(raw.get(close + 1..)?).ok()?;
    // rest[0] is field 3.
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| f.get(n - 3).copied();
    Some(Stat {
        comm,
        state: field(3)?.chars().next()?,
        ppid: field(4)?.parse().ok()?,
        pgrp: field(5)?.parse().ok()?,
        session: field(6)?.parse().ok()?,
        cpu_ticks: field(14)?.parse::<u64>().ok()? + field(15)?.parse::<u64>().ok()?,
        num_threads: field(20)?.parse().ok()?,
        start_time: field(22)?.parse().ok()?,
        flags: field(9)?.parse().ok()?,
    })
}

/// User + system CPU time of `pid` in clock ticks (`/proc/PID/stat`); panics when it is
/// gone (tests call it on processes they hold).
pub fn cpu_ticks(pid: u32) -> u64 {
    read_stat(pid).expect("process alive").cpu_ticks
}

/// `PF_EXITING`: the task is in the kernel's exit path and never runs its own code again.
const PF_EXITING: u64 = 0x4;

/// True when `pid` is gone, a zombie, a different process (start time changed), or in
/// the kernel's exit path (`PF_EXITING`: a killed process leaves its cgroup, so a job's
/// "empty", before it turns zombie).
pub fn is_dead(pid: u32, start_time: u64) -> bool {
    match read_stat(pid) {
        None => true,
        Some(s) => {
            s.start_time != start_time
                || s.state == 'Z'
                || s.state == 'X'
                || s.flags & PF_EXITING != 0
        }
    }
}

/// Every live descendant of `pid` as `(pid, start time)`, found by scanning the parent pid
/// of every process in `/proc` (children of `pid` first, then theirs, breadth first).
pub fn descendants_of(pid: u32) -> Vec<(u32, u64)> {
    let mut all: Vec<(u32, u32, u64)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(s) = read_stat(p) {
                all.push((p, s.ppid, s.start_time));
            }
        }
    }
    let mut out: Vec<(u32, u64)> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, ppid, st) in &all {
            if ppid == parent && !out.iter().any(|&(q, _)| q == p) {
                out.push((p, st));
                frontier.push(p);
            }
        }
    }
    out
}

/// Polls `cond` with a small backoff until it returns true or `timeout` passes.
///
/// Meant for *observing* state in `/proc` (a process showing state `T`, a port appearing).
/// To wait for a process to exit use [`wait_for_exit`], which sleeps on a pidfd.
/// Returns whether `cond` became true.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Opens a pidfd for `pid` only if it is still the process that started at `start_time`.
///
/// The start time is checked *after* `pidfd_open`, so the returned pidfd can only refer to
/// that process (a pid reused in between would show another start time).
pub fn pidfd_if_same(pid: u32, start_time: u64) -> Option<rustix::fd::OwnedFd> {
    let raw = i32::try_from(pid).ok()?;
    let fd = rustix::process::pidfd_open(Pid::from_raw(raw)?, PidfdFlags::empty()).ok()?;
    (start_time_of(pid) == Some(start_time)).then_some(fd)
}

/// A verified handle on `(pid, start time)`.
enum Handle {
    /// A pidfd that refers to exactly that process.
    Pidfd(rustix::fd::OwnedFd),
    /// The kernel has no `pidfd_open` (before 5.3), but the start time matched just now.
    NoPidfd,
    /// Gone, or the pid now belongs to another process.
    Gone,
}

fn open_same(pid: u32, start_time: u64) -> Handle {
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return Handle::Gone;
    };
    match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
        Ok(fd) if start_time_of(pid) == Some(start_time) => Handle::Pidfd(fd),
        Err(rustix::io::Errno::NOSYS) if start_time_of(pid) == Some(start_time) => Handle::NoPidfd,
        _ => Handle::Gone,
    }
}

/// Sends SIGKILL to the signalled handle; `false` when nothing was sent.
fn kill_handle(pid: u32, handle: &Handle) -> bool {
    match handle {
        Handle::Pidfd(fd) => rustix::process::pidfd_send_signal(fd, Signal::KILL).is_ok(),
        Handle::NoPidfd => i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .is_some_and(|p| rustix::process::kill_process(p, Signal::KILL).is_ok()),
        Handle::Gone => false,
    }
}

/// Waits for the process behind `handle` to exit, until `deadline`.
fn wait_handle(pid: u32, start_time: u64, handle: &Handle, deadline: Instant) -> bool {
    match handle {
        Handle::Pidfd(fd) => wait_pidfd(fd, deadline),
        Handle::NoPidfd => wait_until(deadline.saturating_duration_since(Instant::now()), || {
            is_dead(pid, start_time)
        }),
        Handle::Gone => true,
    }
}

/// Sends SIGKILL to `pid` only if its start time still equals `start_time`, via a pidfd.
///
/// On kernels without `pidfd_open` it falls back to `kill(2)` right after checking the
/// start time. Returns whether the signal was sent.
pub fn kill_if_same(pid: u32, start_time: u64) -> bool {
    kill_handle(pid, &open_same(pid, start_time))
}

/// Waits (sleeping on a pidfd, no polling) until the process `(pid, start_time)` has exited.
///
/// Returns true when it exited (or was already gone) within `timeout`. The process does not
/// need to be a child of the caller; a zombie counts as exited. Without `pidfd_open` it
/// polls `/proc` instead.
pub fn wait_for_exit(pid: u32, start_time: u64, timeout: Duration) -> bool {
    wait_handle(
        pid,
        start_time,
        &open_same(pid, start_time),
        Instant::now() + timeout,
    )
}

/// Waits until the pidfd is readable (its process exited) or `deadline` passes.
fn wait_pidfd(fd: &impl AsFd, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = rustix::event::Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Whether the test runs with effective uid 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Prints `SKIPPED (needs root): <test>: <reason>` straight to stderr (not captured by the
/// test harness, so a skip is never silent). Used by [`require_root!`].
#[doc(hidden)]
pub fn print_skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    let _ = writeln!(std::io::stderr(), "SKIPPED (needs root): {test}: {reason}");
}

/// Returns from the current test, printing `SKIPPED (needs root): ...`, when not root.
///
/// ```no_run
/// # fn t() {
/// integration::require_root!("switches to uid 65534");
/// // ... root-only test body ...
/// # }
/// ```
#[macro_export]
macro_rules! require_root {
    () => {
        $crate::require_root!("this test needs root")
    };
    ($reason:expr) => {
        if !$crate::is_root() {
            $crate::print_skip(&$reason);
            return;
        }
    };
}

static NAME_COUNTER: AtomicU32 = AtomicU32::new(0);

fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 || out.len() < width {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// The numbers of `KEY=1,2,3` in a ready line of `testbin` or a helper binary (empty when
/// the key is absent).
pub fn ready_field(line: &str, key: &str) -> Vec<u32> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")[..]))
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The `PID:START` pairs of `KEY=PID:START,PID:START,…` in a ready line (`job_owner`'s
/// `members=`): each process with its start time in clock ticks (empty when absent).
pub fn ready_pid_starts(line: &str, key: &str) -> Vec<(u32, u64)> {
    ready_word(line, key)
        .split(',')
        .filter_map(|m| {
            let (p, s) = m.split_once(':')?;
            Some((p.parse().ok()?, s.parse().ok()?))
        })
        .collect()
}

/// The word after `KEY=` in a ready line (empty when the key is absent).
pub fn ready_word(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")[..]))
        .unwrap_or("")
        .to_owned()
}

/// Spawns `testbin ARGS` into `job` (stdout piped, killed when the child is dropped) and
/// reads its first line (the ready line); returns the child and that line.
pub fn spawn_testbin_in(job: &corral::Job, args: &[&str]) -> (corral::Child, String) {
    let mut child = corral::Command::new(testbin_path())
        .args(args)
        .stdout(corral::Stdio::piped())
        .kill_on_drop(true)
        .job(job)
        .spawn()
        .expect("spawn into job");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.take_stdout().expect("piped")),
        &mut line,
    )
    .expect("read the ready line");
    (child, line)
}

/// Kills every process it was told about (pid + start time) when dropped, so a failing
/// test leaves none of its processes behind.
#[derive(Debug, Default)]
pub struct Reaper(
    /// The processes remembered so far: pid and start time.
    pub Vec<(u32, u64)>,
);

impl Reaper {
    /// Remembers the live processes a ready line reports (`descendants=`, `pid=`) that it
    /// does not know yet.
    pub fn add_reported(&mut self, line: &str) {
        for p in ready_field(line, "descendants")
            .into_iter()
            .chain(ready_field(line, "pid"))
        {
            if start_time_of(p).is_some() && !self.0.iter().any(|&(q, _)| q == p) {
                self.add(p);
            }
        }
    }

    /// Remembers `pid` with its start time now; returns both.
    pub fn add(&mut self, pid: u32) -> (u32, u64) {
        let st = start_time_of(pid).expect("start time of a live process");
        self.0.push((pid, st));
        (pid, st)
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for &(pid, st) in &self.0 {
            kill_if_same(pid, st);
        }
    }
}

/// The pids `job.processes()` lists, ascending.
pub fn job_member_pids(job: &corral::Job) -> Vec<u32> {
    let mut v: Vec<u32> = job
        .processes()
        .expect("list job members")
        .iter()
        .map(|p| p.pid().as_raw())
        .collect();
    v.sort_unstable();
    v
}

/// A name unique to this test process and call: `<prefix><pid><counter>` (pid and counter in
/// base 36). For file names and other places without a length limit; see [`unique_comm`]
/// for names that must survive the kernel's 15-byte `comm` limit.
pub fn unique_name(prefix: &str) -> String {
    let n = NAME_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}{}{}",
        base36(u64::from(std::process::id()), 5),
        base36(u64::from(n), 1)
    )
}

/// Like [`unique_name`] but at most 15 bytes, so it survives as a process `comm`
/// (the prefix is shortened when needed; the unique suffix is kept whole).
pub fn unique_comm(prefix: &str) -> String {
    let n = NAME_COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!(
        "{}{}",
        base36(u64::from(std::process::id()), 5),
        base36(u64::from(n), 1)
    );
    let mut keep = 15usize.saturating_sub(suffix.len()).min(prefix.len());
    while !prefix.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &prefix[..keep])
}

/// Uid and gid of an unprivileged user (`nobody` from `/etc/passwd`, else 65534/65534),
/// to run children without privileges.
pub fn nobody_ids() -> (u32, u32) {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let f: Vec<&str> = line.split(':').collect();
                if f.first() == Some(&"nobody") && f.len() > 3 {
                    Some((f[2].parse().ok()?, f[3].parse().ok()?))
                } else {
                    None
                }
            })
        })
        .unwrap_or((65534, 65534))
}

/// Decodes the percent-escapes testbin uses for free-text values (paths, environment).
pub fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A scratch directory under the system temp dir, removed (recursively) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/<unique_name(prefix)>`.
    ///
    /// # Panics
    ///
    /// Panics when the directory cannot be created.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {path:?}: {e}"));
        TempDir { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Configures a [`TestProc`] before spawning it; made by [`TestProc::builder`].
#[derive(Debug)]
pub struct TestProcBuilder {
    program: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    uid: Option<u32>,
    gid: Option<u32>,
    stdin_piped: bool,
    timeout: Duration,
}

impl TestProcBuilder {
    /// Runs `path` instead of [`testbin_path`] (e.g. a copy or symlink of testbin with a
    /// hostile file name such as `my proc) x`).
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// Adds one testbin flag or value.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds testbin flags and values.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable for the child.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Self::env) adds).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets the child's working directory (see also testbin's own `--cwd`).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Runs the child as this uid (`CommandExt::uid`; needs root).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Runs the child as this gid (`CommandExt::gid`; needs root).
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Gives the child a pipe as stdin (see [`TestProc::close_stdin`]); by default its stdin
    /// is `/dev/null`.
    pub fn stdin_piped(mut self) -> Self {
        self.stdin_piped = true;
        self
    }

    /// How long to wait for the ready line ([`READY_TIMEOUT`] by default).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Spawns testbin and waits for its ready line.
    ///
    /// # Panics
    ///
    /// Panics (after killing and reaping the child) when it cannot be spawned, exits before
    /// being ready, or is not ready within the timeout; the message holds its stderr.
    pub fn spawn(self) -> TestProc {
        match self.try_spawn() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`spawn`](Self::spawn), but returns the failure (with the child's exit status
    /// and stderr) instead of panicking.
    pub fn try_spawn(self) -> Result<TestProc, String> {
        let program = self.program.clone().unwrap_or_else(testbin_path);
        let mut cmd = Command::new(&program);
        cmd.args(&self.args)
            .stdin(if self.stdin_piped {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if let Some(gid) = self.gid {
            cmd.gid(gid);
        }
        if let Some(uid) = self.uid {
            cmd.uid(uid);
        }
        let what = format!("{program:?} {:?}", self.args);
        // A freshly written copy of testbin can fail with ETXTBSY while another test thread
        // is between fork and exec holding the copy's (close-on-exec) write fd: retry.
        let retry_until = Instant::now() + Duration::from_secs(5);
        let mut child = loop {
            match cmd.spawn() {
                Ok(child) => break child,
                Err(e)
                    if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < retry_until =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("spawning {what}: {e}")),
            }
        };
        // Our own unreaped child: its pid cannot be reused, so this start time is its own.
        let child_start = start_time_of(child.id());
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take();
        let deadline = Instant::now() + self.timeout;
        let line = match read_line(&mut stdout, deadline) {
            Ok(line) if line.starts_with("ready pid=") => line,
            outcome => {
                // Give a child that is exiting on its own the chance to report its status;
                // it is our unreaped child, so killing it by pid is safe.
                let grace = if outcome.is_ok() || Instant::now() < deadline {
                    Duration::from_secs(2)
                } else {
                    Duration::ZERO
                };
                let status = match wait_child(&mut child, grace) {
                    Some(status) => status.to_string(),
                    None => {
                        let _ = child.kill();
                        match child.wait() {
                            Ok(status) => format!("not exited, killed ({status})"),
                            Err(e) => format!("not exited, wait failed: {e}"),
                        }
                    }
                };
                let err = stderr
                    .as_mut()
                    .map(|s| read_available(s, Duration::from_secs(2)))
                    .unwrap_or_default();
                let got = match outcome {
                    Ok(line) => format!("a line that is not a ready line: {line:?}"),
                    Err(e) => e,
                };
                return Err(format!(
                    "testbin {what} not ready: {got}; {status}; stderr:\n{err}"
                ));
            }
        };
        let mut proc = TestProc {
            child,
            stdout: Some(stdout),
            stderr,
            ready: line.trim_end().to_owned(),
            fields: HashMap::new(),
            pid: 0,
            start_time: 0,
            tracked: Vec::new(),
        };
        if let Some(st) = child_start {
            proc.tracked.push((proc.child.id(), st));
        }
        for word in proc.ready.split_ascii_whitespace().skip(1) {
            if let Some((k, v)) = word.split_once('=') {
                proc.fields.insert(k.to_owned(), v.to_owned());
            }
        }
        proc.pid = proc
            .fields
            .get("pid")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| proc.child.id());
        let reported_start = proc.fields.get("start").and_then(|v| v.parse().ok());
        proc.start_time = reported_start
            .or_else(|| start_time_of(proc.pid))
            .unwrap_or(0);
        if proc.pid != proc.child.id() {
            proc.tracked.push((proc.pid, proc.start_time));
        }
        for key in ["children", "descendants", "zombie"] {
            for pid in proc.list(key) {
                proc.track(pid);
            }
        }
        Ok(proc)
    }
}

/// Waits up to `timeout` for our own child to exit (sleeping on a pidfd) and reaps it.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let raw = i32::try_from(child.id()).ok()?;
    // An unreaped child: its pid cannot have been reused.
    if let Ok(fd) = rustix::process::pidfd_open(Pid::from_raw(raw)?, PidfdFlags::empty()) {
        if !wait_pidfd(&fd, Instant::now() + timeout) {
            return None;
        }
    }
    child.wait().ok()
}

/// Reads one line from `r` until `deadline`.
fn read_line(r: &mut ChildStdout, deadline: Instant) -> Result<String, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no ready line within the timeout (got {:?} so far)",
                String::from_utf8_lossy(&buf)
            ));
        }
        if !poll_readable(r, left) {
            continue;
        }
        // Byte by byte: nothing after the newline may be swallowed.
        match r.read(&mut chunk) {
            Ok(0) => {
                return Err(format!(
                    "stdout closed before the ready line (got {:?})",
                    String::from_utf8_lossy(&buf)
                ))
            }
            Ok(_) => {
                if chunk[0] == b'\n' {
                    return Ok(String::from_utf8_lossy(&buf).into_owned());
                }
                buf.push(chunk[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading stdout: {e}")),
        }
    }
}

/// Whether `fd` becomes readable (or hung up) within `timeout`.
fn poll_readable(fd: &impl AsFd, timeout: Duration) -> bool {
    let ts = rustix::event::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// Reads whatever `r` yields until EOF or `timeout` (descendants may hold the pipe open).
fn read_available(r: &mut ChildStderr, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !poll_readable(r, left) {
            break;
        }
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A running `testbin` that printed its ready line; kills everything it knows on drop.
///
/// It records `(pid, start time)` of the process it spawned, of the pid the ready line
/// reports (the daemon with `--daemonize`), and of every pid reported under `children`,
/// `descendants` and `zombie`. Dropping it sends SIGKILL to each recorded process whose
/// start time still matches (through a pidfd), waits up to 5 s for them to exit, and reaps
/// its own child. It never panics in drop.
#[derive(Debug)]
pub struct TestProc {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    ready: String,
    fields: HashMap<String, String>,
    pid: u32,
    start_time: u64,
    tracked: Vec<(u32, u64)>,
}

impl TestProc {
    /// Spawns [`testbin_path`] with `args` and waits for its ready line.
    ///
    /// # Panics
    ///
    /// See [`TestProcBuilder::spawn`].
    pub fn spawn<S: AsRef<OsStr>>(args: &[S]) -> TestProc {
        TestProc::builder().args(args).spawn()
    }

    /// A builder for program path, args, environment, cwd, uid/gid and stdin.
    pub fn builder() -> TestProcBuilder {
        TestProcBuilder {
            program: None,
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            uid: None,
            gid: None,
            stdin_piped: false,
            timeout: READY_TIMEOUT,
        }
    }

    /// The pid the ready line reports: the spawned process, or with `--daemonize` the daemon.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Start time (clock ticks, field 22 of `/proc/PID/stat`) of [`pid`](Self::pid).
    pub fn start_time(&self) -> u64 {
        self.start_time
    }

    /// The pid of the process this guard spawned (differs from [`pid`](Self::pid) only with
    /// `--daemonize`).
    pub fn child_pid(&self) -> u32 {
        self.child.id()
    }

    /// The whole ready line, without its newline.
    pub fn ready_line(&self) -> &str {
        &self.ready
    }

    /// The raw value of `key=` in the ready line.
    pub fn info(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The comma-separated numbers of `key=` in the ready line (empty when absent).
    ///
    /// # Panics
    ///
    /// Panics when an element is not a number.
    pub fn list(&self, key: &str) -> Vec<u32> {
        match self.info(key) {
            None | Some("") => Vec::new(),
            Some(v) => v
                .split(',')
                .map(|p| {
                    p.parse()
                        .unwrap_or_else(|_| panic!("{key}={v}: {p:?} is not a number"))
                })
                .collect(),
        }
    }

    /// The std `Child` this guard spawned.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// The std `Child`, mutably (for `wait`, `try_wait`).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The child's stdin, when built with [`TestProcBuilder::stdin_piped`].
    pub fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.child.stdin.as_mut()
    }

    /// Closes the child's stdin (so `--exit-on-stdin-eof` sees end of file).
    pub fn close_stdin(&mut self) {
        self.child.stdin = None;
    }

    /// Takes the child's stdout, positioned after the ready line.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// Takes the child's stderr.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }

    /// The `(pid, start time)` pairs the drop guard will kill.
    pub fn tracked(&self) -> &[(u32, u64)] {
        &self.tracked
    }

    /// Adds `pid` (with its current start time) to what the drop guard kills; for processes
    /// a test discovers itself, e.g. fork-bomb offspring. Does nothing if `pid` is gone.
    pub fn track(&mut self, pid: u32) {
        if self.tracked.iter().any(|&(p, _)| p == pid) {
            return;
        }
        if let Some(st) = start_time_of(pid) {
            self.tracked.push((pid, st));
        }
    }

    /// Waits up to `timeout` for the spawned process to exit, sleeping on a pidfd, and
    /// reaps it. `None` on timeout.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, timeout)
    }

    /// Waits for the spawned process to exit and reaps it (panics after 20 s).
    ///
    /// # Panics
    ///
    /// Panics when it has not exited within 20 s.
    pub fn wait(&mut self) -> ExitStatus {
        self.wait_timeout(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("testbin {} did not exit within 20 s", self.child.id()))
    }

    /// What the drop guard does: SIGKILL every tracked process whose start time still
    /// matches, wait up to 5 s for them to exit, and reap the spawned process.
    pub fn kill_all(&mut self) {
        let mut killed = Vec::new();
        for &(pid, st) in &self.tracked {
            let handle = open_same(pid, st);
            if kill_handle(pid, &handle) {
                killed.push((pid, st, handle));
            }
        }
        let deadline = Instant::now() + REAP_TIMEOUT;
        for (pid, st, handle) in &killed {
            wait_handle(*pid, *st, handle, deadline);
        }
        // The spawned process is our own child: while `try_wait` says it is unreaped its
        // pid cannot have been reused, so killing it directly is safe too (covers a start
        // time that could not be read at spawn).
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.wait_timeout(REAP_TIMEOUT);
    }
}

impl Drop for TestProc {
    fn drop(&mut self) {
        // `kill_all` does not panic by itself; keep a panic (e.g. poisoned state) from
        // aborting a test that is already unwinding.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.kill_all()));
    }
}

/// Whether this process is in the initial pid namespace (the kernel gives it the fixed
/// inode `PROC_PID_INIT_INO`); CI may run the tests in a nested one.
pub fn in_initial_pid_namespace() -> bool {
    std::fs::read_link("/proc/self/ns/pid").is_ok_and(|t| t.as_os_str() == "pid:[4026531836]")
}
