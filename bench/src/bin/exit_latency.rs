//! `exit_latency [--delay-ms MIN-MAX] [--timeout SECS] [--tag TAG] -- WAITER ARGS…`:
//! measures once how long WAITER takes to notice that a process which is not its child
//! has exited.
//!
//! Every `{pid}` in ARGS is replaced by the victim's pid. `--tag` is not used: it only
//! puts TAG into this process's command line (and so the victim's, a fork of it), for the
//! runner's survivor check (it passes the same TAG to the waiter). One measurement:
//!
//! 1. fork the *victim*: a child of this coordinator (not of the waiter), which blocks
//!    reading a pipe;
//! 2. start WAITER (also our child, so a sibling of the victim), which opens the victim,
//!    prints `ready` on its stdout and blocks waiting for the victim to exit;
//! 3. wait a random 20–60 ms (`--delay-ms`), then until the waiter is asleep (state `S`
//!    in `/proc/PID/stat`), so it is surely blocked in its wait and the exit does not
//!    line up with any polling period it might have;
//! 4. tell the victim to go: it reads `CLOCK_MONOTONIC`, writes the value to a pipe and
//!    calls `_exit(0)` at once;
//! 5. reap the victim immediately (blocking `wait4`), as a parent that waits for its child
//!    does: a waiter that can only see a process disappear (psutil confirms with
//!    `pid_exists`) sees it then;
//! 6. read the waiter's second line: the `CLOCK_MONOTONIC` value it read when its wait
//!    returned.
//!
//! Prints `exit_ns=<n> seen_ns=<n> latency_ns=<n>` (latency = seen − exit) and exits 0,
//! or exits 2 with the reason on stderr. The latency therefore includes the victim's
//! `_exit` (the kernel tearing the process down before it is reported exited) and the
//! waiter's wake-up: the same for every waiter.
//!
//! Safety: the victim and the waiter are this process's own children, started with
//! `PR_SET_PDEATHSIG(SIGKILL)`; on any failure both are SIGKILLed (they are unreaped, so
//! their pids cannot have been recycled) and reaped. This process itself dies with its
//! parent (`PR_SET_PDEATHSIG(SIGKILL)`), and its children with it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use corral_bench::{
    die_with_parent, find_program, fork_exec, monotonic_ns, wait_child, Argv, ChildSetup,
};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{open, Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::{pipe_with, PipeFlags};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("exit_latency: {e}");
            ExitCode::from(2)
        }
    }
}

/// Our unreaped children; dropping it SIGKILLs and reaps those still here.
struct Children(Vec<libc::pid_t>);

impl Children {
    /// Reaps `pid` (blocking) and forgets it; returns its raw wait status.
    fn reap(&mut self, pid: libc::pid_t) -> Result<libc::c_int, String> {
        let r = wait_child(pid).map_err(|e| format!("wait4({pid}): {e}"));
        self.0.retain(|&p| p != pid);
        r.map(|(status, _)| status)
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: pid is our own child, not reaped yet (reaped pids leave the list),
            // so it cannot have been recycled for another process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for pid in self.0.drain(..) {
            let _ = wait_child(pid);
        }
    }
}

/// Forks the victim: it blocks until a byte (or end-of-file) arrives on `go`, then reads
/// `CLOCK_MONOTONIC`, writes it (8 bytes, native endian) to `stamp` and exits at once.
fn fork_victim(go: &OwnedFd, stamp: &OwnedFd) -> Result<libc::pid_t, String> {
    let go = go.as_raw_fd();
    let stamp = stamp.as_raw_fd();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: this program is single-threaded, so the child may run Rust code; it only
    // makes async-signal-safe calls (prctl, getppid, read, clock_gettime, write, _exit)
    // on descriptors that stay open in it.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid > 0 {
        return Ok(pid);
    }
    // Child (the victim).
    // SAFETY: as above: async-signal-safe calls with valid arguments only, then _exit.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
            || libc::getppid() != parent
        {
            libc::_exit(1);
        }
        let mut b = 0u8;
        loop {
            let r = libc::read(go, (&mut b as *mut u8).cast(), 1);
            if r == 1 {
                break;
            }
            if r == 0 || *libc::__errno_location() != libc::EINTR {
                libc::_exit(1); // the coordinator gave up
            }
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        let ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        let bytes = ns.to_ne_bytes();
        libc::write(stamp, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(0);
    }
}

/// Reads from `fd` into `acc` until it holds a whole line; returns that line (without the
/// newline) and keeps the rest in `acc`.
fn read_line(fd: &OwnedFd, acc: &mut Vec<u8>, deadline: Instant) -> Result<String, String> {
    loop {
        if let Some(i) = acc.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = acc.drain(..=i).collect();
            return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out waiting for the waiter".into());
        }
        let ts = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        if fds[0].revents().is_empty() {
            continue;
        }
        let mut buf = [0u8; 256];
        match rustix::io::read(fd, &mut buf[..]) {
            Ok(0) => return Err("the waiter closed its output early".into()),
            Ok(n) => acc.extend_from_slice(&buf[..n]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(format!("reading the waiter's output: {e}")),
        }
    }
}

/// The state letter of `pid` from `/proc/PID/stat`.
fn state_of(pid: libc::pid_t) -> Option<u8> {
    let s = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = s.iter().rposition(|&b| b == b')')?;
    s.get(close + 2).copied()
}

fn parse_range(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

fn run() -> Result<(), String> {
    let usage =
        "usage: exit_latency [--delay-ms MIN-MAX] [--timeout SECS] [--tag TAG] -- WAITER ARGS...";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut delay = (20u64, 60u64);
    let mut timeout = Duration::from_secs(60);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--delay-ms" => {
                delay = args
                    .get(i + 1)
                    .and_then(|s| parse_range(s))
                    .ok_or("bad --delay-ms")?;
                i += 2;
            }
            "--timeout" => {
                let s: u64 = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .ok_or("bad --timeout")?;
                timeout = Duration::from_secs(s);
                i += 2;
            }
            "--tag" => i += 2,
            "--" => {
                i += 1;
                break;
            }
            _ => return Err(usage.into()),
        }
    }
    let waiter = &args[i..];
    if waiter.is_empty() {
        return Err(usage.into());
    }
    if !die_with_parent(libc::SIGKILL, None).map_err(|e| format!("prctl: {e}"))? {
        return Err("parent already gone".into());
    }
    let deadline = Instant::now() + timeout;

    let (go_r, go_w) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (stamp_r, stamp_w) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let mut children = Children(Vec::with_capacity(2));
    let victim = fork_victim(&go_r, &stamp_w)?;
    children.0.push(victim);
    drop(go_r);
    drop(stamp_w);

    let victim_s = victim.to_string();
    let program = find_program(&waiter[0])?;
    let argv = Argv::new(
        std::iter::once(program.as_os_str().as_bytes().to_vec()).chain(
            waiter[1..]
                .iter()
                .map(|a| a.replace("{pid}", &victim_s).into_bytes()),
        ),
    )
    .map_err(|e| e.to_string())?;
    let devnull = open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("/dev/null: {e}"))?;
    let (out_r, out_w) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let setup = ChildSetup {
        death_signal: libc::SIGKILL,
        stdin: devnull.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        stderr: 2,
        keep_fd: None,
    };
    let waiter_pid = fork_exec(&argv, &setup).map_err(|e| format!("fork: {e}"))?;
    children.0.push(waiter_pid);
    drop(out_w);

    let mut acc = Vec::new();
    let ready = read_line(&out_r, &mut acc, deadline)?;
    if ready != "ready" {
        return Err(format!("the waiter said {ready:?} instead of ready"));
    }
    let span = delay.1 - delay.0 + 1;
    std::thread::sleep(Duration::from_millis(delay.0 + monotonic_ns() % span));
    // Make sure the waiter is blocked (asleep), not still on its way to its wait.
    let asleep_by = Instant::now() + Duration::from_secs(5);
    while state_of(waiter_pid) != Some(b'S') {
        if Instant::now() > asleep_by {
            return Err("the waiter never went to sleep".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }

    rustix::io::write(&go_w, b"g").map_err(|e| format!("waking the victim: {e}"))?;
    let status = children.reap(victim)?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("the victim failed (wait status {status:#x})"));
    }
    let mut stamp = [0u8; 8];
    let n = rustix::io::read(&stamp_r, &mut stamp[..]).map_err(|e| format!("stamp: {e}"))?;
    if n != 8 {
        return Err("the victim wrote no timestamp".into());
    }
    let exit_ns = u64::from_ne_bytes(stamp);

    let seen = read_line(&out_r, &mut acc, deadline)?;
    let seen_ns: u64 = seen
        .trim()
        .parse()
        .map_err(|_| format!("the waiter printed {seen:?}, not a timestamp"))?;
    let status = children.reap(waiter_pid)?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("the waiter failed (wait status {status:#x})"));
    }
    if seen_ns < exit_ns {
        return Err(format!(
            "the waiter saw the exit {} ns before it happened",
            exit_ns - seen_ns
        ));
    }
    println!(
        "exit_ns={exit_ns} seen_ns={seen_ns} latency_ns={}",
        seen_ns - exit_ns
    );
    Ok(())
}
