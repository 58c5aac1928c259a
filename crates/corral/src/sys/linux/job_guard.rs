//! Kill-on-close for jobs: a guard process outside the job that kills it and removes its
//! cgroups when the owning `Job` is dropped **or the owning process dies**, SIGKILL
//! included. Linux has no "close the last handle, kill the group" primitive, so one is
//! built from a process:
//!
//! - The owner opens a pidfd of itself and a `socketpair` (`SOCK_SEQPACKET`, both
//!   close-on-exec), then
//!   forks twice: the middle process calls `setsid` and forks the guard, then exits and is
//!   reaped by the owner at once. The guard is thus nobody's child but init's (or the
//!   nearest subreaper's), in a session of its own (no terminal signals), outside the
//!   job (it lives in the owner's cgroup, the job's parent).
//! - The guard runs **no Rust runtime code after the fork**: only raw, async-signal-safe
//!   system calls over paths, buffers and arrays prepared before the fork (no allocation,
//!   no locks — the owner may be multi-threaded). Exec'ing a helper binary was the other
//!   choice; a library has no binary of its own to exec, so the fork-only design wins.
//! - Set-up in the guard: signal mask cleared, every handler reset (terminal and pipe
//!   signals ignored), `chdir("/")`, name `corral-guard`, and **every descriptor closed**
//!   but the owner's pidfd and its socket end (`close_range`, else a `close` loop), so it
//!   keeps none of the owner's files, pipes or terminals open. It then reports ready (its
//!   pid) through the socket.
//! - It blocks in `poll` on the owner's pidfd (readable when the owner exits, however it
//!   exits) and on its socket end (a byte from `Drop`, or end-of-file once every copy of
//!   the owner's end is closed, e.g. at `exec`). On either it kills the job — v2
//!   `cgroup.kill`; otherwise freeze (v2 `cgroup.freeze` or v1 `freezer.state`), `SIGKILL`
//!   every listed member — listed from the job's cgroup and every cgroup below it, so a
//!   nested job's members too — through a pidfd (kept only if still listed after the pidfd is
//!   open), thaw, repeated until the job is empty — waits for `populated 0` (v2, `poll`
//!   for `POLLPRI`) or an empty `cgroup.procs`, removes the job's cgroups (child cgroups
//!   first, v1 before v2) and exits. It never outlives the job it guards by more than
//!   that.
//!
//! The forking machinery ([`fork_guard`]: pidfd, socket pair, double fork, set-up, ready
//! report) is shared with the process-group fallback's guard
//! ([`job_fallback_guard`](super::job_fallback_guard)), which runs a plan of its own.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cgroup::Job;
use super::Job as AnyJob;
use crate::{Error, ErrorKind, Pid, Result};

/// The most members one kill round handles (more are handled by further rounds).
const MAX_PIDS: usize = 16 * 1024;
/// The read buffer for `cgroup.procs` / `cgroup.events` / `freezer.state`.
const BUF_LEN: usize = 256 * 1024;
/// How long the guard tries to empty the job before removing what it can.
const KILL_DEADLINE_MS: i64 = 30_000;
/// How long `Drop` waits for the guard to finish before doing the work itself.
const CLOSE_WAIT: Duration = Duration::from_secs(30);
/// How long `start` waits for the guard's "ready".
const READY_WAIT: Duration = Duration::from_secs(10);
/// The deepest chain of child cgroups removed below a job.
const MAX_DEPTH: usize = 8;
const PATH_MAX: usize = 4096;
/// The directory-listing buffer of each level of child cgroups.
const DENTS_LEN: usize = 8 * 1024;

/// A forked guard process as its owner sees it: the owner's end of the socket pair and
/// the guard's pid. Shared by the cgroup guard (here) and the process-group fallback's
/// guard ([`job_fallback_guard`](super::job_fallback_guard)).
#[derive(Debug)]
pub(super) struct Forked {
    pub(super) sock: OwnedFd,
    pub(super) pid: u32,
}

/// The owner's side of a running guard.
#[derive(Debug)]
pub(crate) struct JobGuard(Kind);

#[derive(Debug)]
enum Kind {
    /// The guard of a cgroup job (created with the `Job` handle that owns it).
    Cgroup(Forked),
    /// A process-group fallback job's guard: kept by the job itself (it kills at the
    /// last handle's drop, see [`job_fallback`](super::job_fallback)); this is its pid.
    Fallback(u32),
}

/// Everything the cgroup guard needs, prepared before the fork.
struct Plan {
    owner: RawFd,
    sock: RawFd,
    kill: Option<CString>,
    events: Option<CString>,
    v2_freeze: Option<CString>,
    v1_freezer: Option<CString>,
    /// The primary cgroup's directory (members are listed from it and below).
    primary: CString,
    /// The job's directories in removal order (v1 first, v2 last).
    dirs: Vec<CString>,
    buf: Vec<u8>,
    pids: Vec<i32>,
    listed: Vec<i32>,
    fds: Vec<i32>,
    /// Scratch for paths of child cgroups: `PATH_MAX` bytes per level.
    path: Vec<u8>,
    dents: Vec<u8>,
}

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        Error::new(ErrorKind::InvalidInput, "start job guard")
            .with_detail(format!("{} contains a NUL byte", p.display()))
    })
}

impl Plan {
    fn new(job: &Job, owner: RawFd, sock: RawFd) -> Result<Plan> {
        let v2 = job.v2();
        let file = |name: &str| -> Result<Option<CString>> {
            match v2 {
                Some(d) if d.path.join(name).exists() => cpath(&d.path.join(name)).map(Some),
                _ => Ok(None),
            }
        };
        let kill = if job.uses_kill() {
            file("cgroup.kill")?
        } else {
            None
        };
        let v1_freezer = match job.v1_freezer() {
            Some(d) => Some(cpath(&d.path.join("freezer.state"))?),
            None => None,
        };
        let dirs = job
            .dirs()
            .iter()
            .rev()
            .map(|d| cpath(&d.path))
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan {
            owner,
            sock,
            kill,
            events: file("cgroup.events")?,
            v2_freeze: file("cgroup.freeze")?,
            v1_freezer,
            primary: cpath(&job.primary().path)?,
            dirs,
            buf: vec![0; BUF_LEN],
            pids: vec![0; MAX_PIDS],
            listed: vec![0; MAX_PIDS],
            fds: vec![-1; MAX_PIDS],
            path: vec![0; PATH_MAX * (MAX_DEPTH + 1)],
            dents: vec![0; DENTS_LEN * MAX_DEPTH],
        })
    }
}

/// Starts a guard process (see the module docs: double fork, `setsid`, signals reset,
/// `chdir("/")`, named `corral-guard`, every descriptor closed but the owner's pidfd and
/// its socket end) and returns once it reported ready. `prepare` gets the owner's pidfd
/// (-1 before Linux 5.3) and the guard's socket end and builds the plan — every path and
/// buffer the guard will use — before the fork; the guard then runs `run` on its copy.
pub(super) fn fork_guard<P>(
    prepare: impl FnOnce(RawFd, RawFd) -> Result<P>,
    run: unsafe fn(&mut P) -> !,
) -> Result<Forked> {
    let op = "start job guard";
    let os = |e: std::io::Error| Error::from_io(op, e);
    // The owner's pidfd: absent before Linux 5.3, where the socket alone tells.
    let owner = rustix::process::pidfd_open(
        rustix::process::getpid(),
        rustix::process::PidfdFlags::empty(),
    )
    .ok();
    // Close-on-exec, as std opens everything. Packets, not a stream: a message is never
    // split nor mixed with another writer's (the fallback's spawned children announce
    // themselves on it too).
    let mut sv = [-1; 2];
    // SAFETY: socketpair(2) into a two-element array.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(os(std::io::Error::last_os_error()).with_detail("socketpair failed"));
    }
    // SAFETY: two fresh descriptors that nothing else owns.
    let (mine, theirs) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
    let owner_fd = owner.as_ref().map_or(-1, |f| f.as_raw_fd());
    let sock_fd = theirs.as_raw_fd();
    let mut plan = prepare(owner_fd, sock_fd)?;
    // SAFETY: sysconf has no memory arguments.
    let max_fd = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(1024, 1 << 20) as i32;
    // SAFETY: fork(2). The child runs only `middle`, which uses raw system calls on
    // memory prepared above and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the freshly forked child; see `middle`.
        unsafe { middle(&mut plan, owner_fd, sock_fd, max_fd, run) }
    }
    if pid < 0 {
        return Err(os(std::io::Error::last_os_error()).with_detail("fork failed"));
    }
    drop(theirs);
    drop(owner);
    // The middle process exits at once: reap it (ECHILD if SIGCHLD is ignored or
    // someone else reaped it — fine either way).
    loop {
        let mut st = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    let mut msg = [0u8; 5];
    read_exact(&mine, &mut msg, READY_WAIT)
        .map_err(|e| os(e).with_detail("the guard process did not start"))?;
    if msg[0] != b'R' {
        return Err(Error::new(ErrorKind::Os, op).with_detail("the guard process failed"));
    }
    let pid = i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]) as u32;
    Ok(Forked { sock: mine, pid })
}

impl Forked {
    /// Sends each packet without blocking (and without `SIGPIPE` when the guard is
    /// gone); the error number of the first that did not go.
    pub(super) fn send_all(&self, msgs: &[&[u8]]) -> std::result::Result<(), i32> {
        for msg in msgs {
            loop {
                // SAFETY: send(2) from a live buffer of its length.
                let n = unsafe {
                    libc::send(
                        self.sock.as_raw_fd(),
                        msg.as_ptr().cast(),
                        msg.len(),
                        libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                    )
                };
                if n >= 0 {
                    break;
                }
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    e => return Err(e.unwrap_or(libc::EIO)),
                }
            }
        }
        Ok(())
    }

    /// Sends `msgs` and waits (at most `wait`) until the guard exits (end of file on the
    /// socket), then reaps it if this process adopted it. A guard whose socket is full
    /// (stopped, or hung) is not waited for: the socket closes as this drops, and the
    /// guard, at that end of file, makes its kill round and exits on its own.
    pub(super) fn finish(self, msgs: &[&[u8]], wait: Duration) {
        if self.send_all(msgs) == Err(libc::EAGAIN) {
            return;
        }
        let mut b = [0u8; 16];
        let deadline = Instant::now() + wait;
        // End-of-file: the guard exited (at once when it was already gone).
        while let Ok(n) = read_some(&self.sock, &mut b, deadline) {
            if n == 0 {
                break;
            }
        }
        self.reap_if_ours();
    }

    /// A caller that is a child subreaper adopts the guard: reap it (only when `/proc`
    /// shows a `corral-guard` whose parent is us, so no other child's status is taken;
    /// it has closed its socket, so it is exiting).
    fn reap_if_ours(&self) {
        let mut buf = Vec::new();
        let Some(pid) = Pid::new(self.pid) else {
            return;
        };
        let Ok(st) = super::process::read_stat(pid, &mut buf) else {
            return;
        };
        if st.ppid == std::process::id() && st.comm == b"corral-guard" {
            let mut status = 0;
            // SAFETY: waitpid on our own exiting child with a valid status pointer.
            unsafe { libc::waitpid(self.pid as i32, &mut status, 0) };
        }
    }
}

impl JobGuard {
    /// Starts the guard of `job`; returns once it is ready (all its set-up done).
    pub(crate) fn start(job: &AnyJob) -> Result<JobGuard> {
        let cg = match job {
            AnyJob::Cgroup(j) => j,
            AnyJob::Fallback(j) => return j.start_guard().map(|p| JobGuard(Kind::Fallback(p))),
        };
        fork_guard(|owner, sock| Plan::new(cg, owner, sock), cgroup_guard)
            .map(|f| JobGuard(Kind::Cgroup(f)))
    }

    /// The guard's pid (in the caller's pid namespace).
    pub(crate) fn pid(&self) -> u32 {
        match &self.0 {
            Kind::Cgroup(f) => f.pid,
            Kind::Fallback(pid) => *pid,
        }
    }

    /// Asks the guard to kill and remove the job and waits until it has; if it cannot
    /// (it was killed, or it timed out), does the same here. A fallback job's guard is
    /// closed by the job's last handle instead.
    pub(crate) fn close(self, job: &AnyJob) {
        let (Kind::Cgroup(f), Some(job)) = (self.0, job.cgroup()) else {
            return;
        };
        f.finish(&[&KILL_MSG], CLOSE_WAIT);
        if job.dirs().iter().any(|d| d.path.exists()) {
            let _ = job.terminate();
        }
    }
}

/// What the owner sends to make a guard kill now (the fallback guard reads 16-byte
/// records; the cgroup guard wakes at any byte).
pub(super) const KILL_MSG: [u8; 16] = [b'K', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// One `read` after waiting (poll) until `deadline`.
fn read_some(fd: &OwnedFd, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            continue;
        }
        // SAFETY: read(2) into a live buffer of its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        return Ok(n as usize);
    }
}

fn read_exact(fd: &OwnedFd, buf: &mut [u8], wait: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + wait;
    let mut at = 0;
    while at < buf.len() {
        let n = read_some(fd, &mut buf[at..], deadline)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        at += n;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// After the fork: raw system calls only. Nothing below allocates, locks, formats or
// panics (all slicing is bounded by lengths checked on the spot).
// ---------------------------------------------------------------------------------------

pub(super) fn errno() -> i32 {
    // SAFETY: the thread's errno location is always valid.
    unsafe { *libc::__errno_location() }
}

/// The middle process: new session, fork the guard, exit.
///
/// # Safety
///
/// Only in the child of a `fork`.
unsafe fn middle<P>(
    p: &mut P,
    owner: RawFd,
    sock: RawFd,
    max_fd: i32,
    run: unsafe fn(&mut P) -> !,
) -> ! {
    // SAFETY: raw system calls on integers.
    unsafe {
        libc::setsid();
        let pid = libc::fork();
        if pid != 0 {
            libc::_exit(if pid < 0 { 1 } else { 0 });
        }
        setup(owner, sock, max_fd);
        run(p)
    }
}

/// The guard's set-up: signals, directory, name, descriptors; then "ready" (its pid).
///
/// # Safety
///
/// Only in the grandchild of a `fork`.
unsafe fn setup(owner: RawFd, sock: RawFd, max_fd: i32) {
    // SAFETY: raw system calls on integers and on stack structures.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..=64 {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = match sig {
                libc::SIGHUP
                | libc::SIGINT
                | libc::SIGQUIT
                | libc::SIGPIPE
                | libc::SIGTSTP
                | libc::SIGTTIN
                | libc::SIGTTOU => libc::SIG_IGN,
                _ => libc::SIG_DFL,
            };
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        libc::chdir(c"/".as_ptr());
        libc::prctl(
            libc::PR_SET_NAME,
            c"corral-guard".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
        close_all_but(owner, sock, max_fd);
        let mut msg = [b'R', 0, 0, 0, 0];
        let me = libc::getpid().to_ne_bytes();
        msg[1..5].copy_from_slice(&me);
        if libc::write(sock, msg.as_ptr().cast(), msg.len()) != msg.len() as isize {
            libc::_exit(1);
        }
    }
}

/// Blocks until the owner exits (its pidfd is readable) or the socket is readable (a
/// message, or end of file); false when the socket woke it and the owner still runs.
///
/// # Safety
///
/// Only in a guard.
pub(super) unsafe fn wait_owner_or_sock(owner: RawFd, sock: RawFd) -> bool {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: owner,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sock,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll(2) on a stack array (a -1 descriptor is ignored by poll).
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r > 0 {
            return fds[0].revents != 0;
        }
        if r < 0 && errno() != libc::EINTR {
            return true;
        }
    }
}

/// The cgroup guard: waits for the owner's exit or a message, kills the job, exits.
///
/// # Safety
///
/// Only in the guard process (after `setup`).
unsafe fn cgroup_guard(p: &mut Plan) -> ! {
    // SAFETY: raw system calls; see the functions called.
    unsafe {
        wait_owner_or_sock(p.owner, p.sock);
        kill_job(p);
        libc::_exit(0)
    }
}

/// Closes every descriptor except `a` and `b` (either may be -1).
///
/// # Safety
///
/// Closes descriptors behind the back of whatever owns them: only in the guard.
unsafe fn close_all_but(a: RawFd, b: RawFd, max_fd: i32) {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let mut from: u32 = 0;
    for keep in [lo, hi] {
        if keep < 0 {
            continue;
        }
        let k = keep as u32;
        if k > from {
            // SAFETY: see the function's contract.
            unsafe { close_range(from, k - 1, max_fd) };
        }
        from = k + 1;
    }
    // SAFETY: as above.
    unsafe { close_range(from, u32::MAX, max_fd) };
}

/// # Safety
///
/// As [`close_all_but`].
unsafe fn close_range(from: u32, to: u32, max_fd: i32) {
    // SAFETY: close_range(2) on integers.
    let r = unsafe { libc::syscall(libc::SYS_close_range, from, to, 0u32) };
    if r < 0 {
        // Before Linux 5.9: one close per possible descriptor.
        let end = (to as i64).min(max_fd as i64);
        let mut fd = from as i64;
        while fd <= end {
            // SAFETY: close(2) on an integer.
            unsafe { libc::close(fd as i32) };
            fd += 1;
        }
    }
}

pub(super) fn now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a stack struct.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

pub(super) fn sleep_ms(ms: i64) {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    };
    // SAFETY: nanosleep with a stack struct.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

fn write_path(path: &CString, data: &[u8]) -> bool {
    // SAFETY: open/write/close with a NUL-terminated path and a live buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        n == data.len() as isize
    }
}

/// Reads `fd` from offset 0 into `buf`; the number of bytes read.
pub(super) fn pread_all(fd: i32, buf: &mut [u8]) -> Option<usize> {
    let mut n = 0usize;
    while n < buf.len() {
        let rest = &mut buf[n..];
        // SAFETY: pread(2) into the unfilled rest of a live buffer.
        let r = unsafe { libc::pread(fd, rest.as_mut_ptr().cast(), rest.len(), n as i64) };
        if r < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return None;
        }
        if r == 0 {
            break;
        }
        n += r as usize;
    }
    Some(n)
}

pub(super) fn read_path(path: &CStr, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: open/close of a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let n = pread_all(fd, buf);
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    n
}

/// Whether `e` says the cgroup file's directory was removed.
fn gone(e: i32) -> bool {
    e == libc::ENOENT || e == libc::ENODEV
}

fn has_line(buf: &[u8], line: &[u8]) -> bool {
    buf.split(|&c| c == b'\n').any(|l| l == line)
}

/// Parses complete lines of decimal pids into `out`; the count.
fn parse_pids(buf: &[u8], out: &mut [i32]) -> usize {
    let mut n = 0;
    let mut cur: i64 = 0;
    let mut digits = false;
    for &c in buf {
        if c.is_ascii_digit() {
            cur = (cur * 10 + (c - b'0') as i64).min(i32::MAX as i64);
            digits = true;
        } else {
            if c == b'\n' && digits && n < out.len() && cur > 0 {
                out[n] = cur as i32;
                n += 1;
            }
            cur = 0;
            digits = false;
        }
    }
    n
}

/// Lists the job's members — those of nested jobs (cgroups below the primary one)
/// included — into `p.pids` (or `p.listed`); the count (0 also when unreadable).
fn list(p: &mut Plan, into_listed: bool) -> usize {
    const PROCS: &[u8] = b"/cgroup.procs\0";
    let src = p.primary.as_bytes_with_nul();
    if src.len() > PATH_MAX {
        return 0;
    }
    p.path[..src.len()].copy_from_slice(src);
    let mut count = 0;
    walk_at(p, 0, src.len() - 1, &mut |p, base, len| {
        if len + PROCS.len() > PATH_MAX {
            return;
        }
        p.path[base + len..base + len + PROCS.len()].copy_from_slice(PROCS);
        let read = match CStr::from_bytes_until_nul(&p.path[base..base + PATH_MAX]) {
            Ok(path) => read_path(path, &mut p.buf),
            Err(_) => None,
        };
        p.path[base + len] = 0;
        let Some(n) = read else { return };
        let out = if into_listed {
            &mut p.listed
        } else {
            &mut p.pids
        };
        count += parse_pids(&p.buf[..n], &mut out[count..]);
    });
    count
}

/// Waits until `cgroup.events` shows `line`, at most `ms`; false without the file.
fn wait_events(p: &mut Plan, line: &[u8], ms: i64) -> bool {
    let Some(path) = &p.events else { return false };
    // SAFETY: open of a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        // Removed meanwhile (by another handle of the job): a removed cgroup is empty.
        return gone(errno()) && line == b"populated 0";
    }
    let end = now_ms() + ms;
    let mut ok = false;
    loop {
        let Some(n) = pread_all(fd, &mut p.buf) else {
            ok = gone(errno()) && line == b"populated 0";
            break;
        };
        if has_line(&p.buf[..n], line) {
            ok = true;
            break;
        }
        let left = end - now_ms();
        if left <= 0 {
            break;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: poll(2) on one stack pollfd.
        unsafe { libc::poll(&mut pfd, 1, left.min(i32::MAX as i64) as i32) };
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    ok
}

/// Freezes the job and waits (at most 5 s) until it is; false without a freezer.
fn freeze(p: &mut Plan) -> bool {
    if let Some(f) = &p.v2_freeze {
        if write_path(f, b"1") {
            wait_events(p, b"frozen 1", 5_000);
            return true;
        }
    }
    if let Some(f) = &p.v1_freezer {
        if write_path(f, b"FROZEN") {
            let end = now_ms() + 5_000;
            let mut nap = 1;
            while now_ms() < end {
                match read_path(f, &mut p.buf) {
                    Some(n) if p.buf[..n].starts_with(b"FROZEN") => break,
                    Some(_) => {}
                    None => break,
                }
                sleep_ms(nap);
                nap = (nap * 2).min(20);
            }
            return true;
        }
    }
    false
}

fn thaw(p: &mut Plan) {
    if let Some(f) = &p.v2_freeze {
        if write_path(f, b"0") {
            return;
        }
    }
    if let Some(f) = &p.v1_freezer {
        write_path(f, b"THAWED");
    }
}

/// One kill round: pidfd of each listed member, list again, `SIGKILL` those still
/// listed (the pidfd then names the member, not a process that reused its pid).
fn kill_listed(p: &mut Plan) -> usize {
    let n = list(p, false);
    for i in 0..n {
        // SAFETY: pidfd_open(2) on an integer.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, p.pids[i], 0u32) };
        p.fds[i] = if fd < 0 {
            if errno() == libc::ENOSYS {
                -2
            } else {
                -1
            }
        } else {
            fd as i32
        };
    }
    let m = list(p, true);
    p.listed[..m].sort_unstable();
    let mut killed = 0;
    for i in 0..n {
        let listed = p.listed[..m].binary_search(&p.pids[i]).is_ok();
        let fd = p.fds[i];
        if listed {
            // SAFETY: signalling through our pidfd, or by pid where pidfds do not exist.
            let r = unsafe {
                if fd >= 0 {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd,
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0u32,
                    )
                } else if fd == -2 {
                    libc::kill(p.pids[i], libc::SIGKILL) as libc::c_long
                } else {
                    -1
                }
            };
            if r == 0 {
                killed += 1;
            }
        }
        if fd >= 0 {
            // SAFETY: closing the pidfd opened above.
            unsafe { libc::close(fd) };
        }
    }
    killed
}

fn wait_empty(p: &mut Plan, ms: i64) -> bool {
    if p.events.is_some() {
        return wait_events(p, b"populated 0", ms);
    }
    let end = now_ms() + ms;
    let mut nap = 1;
    loop {
        if list(p, false) == 0 {
            return true;
        }
        if now_ms() >= end {
            return false;
        }
        sleep_ms(nap);
        nap = (nap * 2).min(20);
    }
}

fn kill_job(p: &mut Plan) {
    let deadline = now_ms() + KILL_DEADLINE_MS;
    let mut done = false;
    if let Some(k) = &p.kill {
        if write_path(k, b"1") {
            done = wait_empty(p, KILL_DEADLINE_MS);
        }
    }
    while !done && now_ms() < deadline {
        if list(p, false) == 0 && (p.events.is_none() || wait_empty(p, 0)) {
            break;
        }
        let frozen = freeze(p);
        kill_listed(p);
        if frozen {
            thaw(p);
        }
        done = wait_empty(p, 200);
    }
    for i in 0..p.dirs.len() {
        remove_tree(p, i);
    }
}

/// Removes the job directory `p.dirs[i]` and any child cgroups below it (depth first).
fn remove_tree(p: &mut Plan, i: usize) {
    let src = p.dirs[i].as_bytes_with_nul();
    if src.len() > PATH_MAX {
        return;
    }
    p.path[..src.len()].copy_from_slice(src);
    walk_at(p, 0, src.len() - 1, &mut |p, base, _| {
        for _ in 0..200 {
            // SAFETY: rmdir of the NUL-terminated path at `base`.
            let r = unsafe { libc::rmdir(p.path[base..].as_ptr().cast()) };
            if r == 0 || errno() != libc::EBUSY {
                break;
            }
            sleep_ms(5);
        }
    });
}

/// Calls `visit(p, base, len)` on the directory whose path is at level `depth` of
/// `p.path` (`len` bytes at `base`, NUL after) after doing so on each of its
/// subdirectories (depth first, at most `MAX_DEPTH` levels below). The visitor may
/// write past `len` at its level; the path is NUL-terminated again before each visit.
fn walk_at(p: &mut Plan, depth: usize, len: usize, visit: &mut dyn FnMut(&mut Plan, usize, usize)) {
    let base = depth * PATH_MAX;
    p.path[base + len] = 0;
    if depth < MAX_DEPTH {
        // SAFETY: open of the NUL-terminated path at `base`.
        let fd = unsafe {
            libc::open(
                p.path[base..].as_ptr().cast(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            let d0 = depth * DENTS_LEN;
            loop {
                // SAFETY: getdents64 into this level's part of our buffer.
                let n = unsafe {
                    libc::syscall(
                        libc::SYS_getdents64,
                        fd,
                        p.dents[d0..].as_mut_ptr(),
                        DENTS_LEN,
                    )
                };
                if n <= 0 {
                    break;
                }
                let end = d0 + n as usize;
                let mut at = d0;
                while at + 19 < end {
                    // struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name.
                    let reclen = u16::from_ne_bytes([p.dents[at + 16], p.dents[at + 17]]) as usize;
                    let dtype = p.dents[at + 18];
                    if reclen < 20 || at + reclen > end {
                        break;
                    }
                    let name_start = at + 19;
                    let name_end = p.dents[name_start..at + reclen]
                        .iter()
                        .position(|&c| c == 0)
                        .map_or(at + reclen, |z| name_start + z);
                    let nlen = name_end - name_start;
                    let is_dot = matches!(&p.dents[name_start..name_end], b"." | b"..");
                    let child = base + PATH_MAX;
                    if dtype == libc::DT_DIR && !is_dot && len + 2 + nlen < PATH_MAX {
                        p.path.copy_within(base..base + len, child);
                        p.path[child + len] = b'/';
                        let to = child + len + 1;
                        p.path[to..to + nlen].copy_from_slice(&p.dents[name_start..name_end]);
                        p.path[to + nlen] = 0;
                        walk_at(p, depth + 1, len + 1 + nlen, visit);
                    }
                    at += reclen;
                }
            }
            // SAFETY: closing the directory opened above.
            unsafe { libc::close(fd) };
        }
    }
    p.path[base + len] = 0;
    visit(p, base, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pid_lines() {
        let mut out = [0; 4];
        assert_eq!(parse_pids(b"12\n3\n\n45", &mut out), 2);
        assert_eq!(&out[..2], &[12, 3]);
        assert_eq!(parse_pids(b"1\n2\n3\n4\n5\n6\n", &mut out), 4);
        assert!(has_line(b"populated 0\nfrozen 0\n", b"populated 0"));
        assert!(!has_line(b"populated 1\n", b"populated 0"));
    }
}
