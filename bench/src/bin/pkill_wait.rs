//! `pkill_wait NAME PKILL [--wait]`: kills every process named NAME with procps `pkill`
//! (`PKILL -KILL -x NAME`) and, with `--wait`, then waits until all of them have exited.
//!
//! `pkill` does not wait, so the benchmark's `pkill` column is this wrapper with `--wait`:
//! `pkill`, then the cheapest correct wait a script could add, the same one procps'
//! `pidwait -x NAME` performs: read `/proc` once more, `pidfd_open` every process still
//! named NAME and wait on one epoll instance until every pidfd has been readable (a pidfd
//! is readable from the moment its process exits, zombie or reaped). The wrapper's own
//! start-up (no shell) and that wait are part of the column.
//!
//! Why not procps' `pidwait` itself: on recent kernels a pidfd reports twice, at exit and
//! again (`EPOLLHUP`) when the parent reaps the process, and procps-ng 4.0.2's `pidwait`
//! appears to count events rather than processes: when the parent reaps promptly, as the
//! benchmark's population does, it returned while some processes were still running.
//!
//! Without `--wait` it only runs `pkill` (the `pkill-nowait` column, for reference).
//! Exits 0 if `pkill` signalled at least one process.
//!
//! Safety: NAME must be a benchmark sleeper name (`cb` + 10 lowercase letters or digits);
//! pid 1 and this process are never waited on (and never signalled by this wrapper).

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;

use corral_bench::{
    check_sleeper_name, die_with_parent, fork_exec, raise_nofile_limit, wait_child, Argv,
    ChildSetup,
};
use rustix::event::epoll;
use rustix::fs::{open, openat, Mode, OFlags, RawDir, CWD};
use rustix::io::{read, Errno};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pkill_wait: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `argv` to completion; returns its exit code (or an error if it was killed).
fn run_one(argv: &[&str], setup: &ChildSetup) -> Result<i32, String> {
    let argv = Argv::new(argv.iter().copied()).map_err(|e| e.to_string())?;
    let pid = fork_exec(&argv, setup).map_err(|e| format!("fork: {e}"))?;
    let (status, _) = wait_child(pid).map_err(|e| format!("wait4: {e}"))?;
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(format!(
            "{} killed by signal {}",
            argv.program().to_string_lossy(),
            libc::WTERMSIG(status)
        ))
    }
}

/// pidfds of every process whose `comm` is `name` (read once from `/proc`).
fn open_by_name(name: &str) -> Result<Vec<OwnedFd>, String> {
    let mut want = name.as_bytes().to_vec();
    want.push(b'\n');
    let me = std::process::id();
    let proc_dir = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("/proc: {e}"))?;
    let mut dents = vec![std::mem::MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut buf = [0u8; 64];
    let mut path = [0u8; 32];
    let mut fds = Vec::new();
    let mut dir = RawDir::new(&proc_dir, &mut dents);
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(|e| format!("getdents64 /proc: {e}"))?;
        let digits = entry.file_name().to_bytes();
        if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
            continue;
        }
        let Ok(pid) = std::str::from_utf8(digits).unwrap_or("").parse::<u32>() else {
            continue;
        };
        if pid == 1 || pid == me {
            continue;
        }
        let end = digits.len() + 6;
        path[..digits.len()].copy_from_slice(digits);
        path[digits.len()..end].copy_from_slice(b"/comm\0");
        let cpath = std::ffi::CStr::from_bytes_with_nul(&path[..end]).expect("path");
        let Ok(fd) = openat(
            &proc_dir,
            cpath,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let n = loop {
            match read(&fd, &mut buf) {
                Err(Errno::INTR) => {}
                r => break r,
            }
        };
        if n.ok().is_none_or(|n| buf[..n] != want[..]) {
            continue;
        }
        let Some(raw) = Pid::from_raw(pid as i32) else {
            continue;
        };
        match pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => fds.push(fd),
            Err(Errno::SRCH) => {} // reaped already
            Err(e) => return Err(format!("pidfd_open({pid}): {e}")),
        }
    }
    Ok(fds)
}

/// Waits until every pidfd in `fds` has been readable once (one-shot epoll events, so
/// each process is counted once however many times its pidfd wakes).
fn wait_readable(fds: &[OwnedFd]) -> Result<(), String> {
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| format!("epoll: {e}"))?;
    for (i, fd) in fds.iter().enumerate() {
        epoll::add(
            &ep,
            fd,
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN | epoll::EventFlags::ONESHOT,
        )
        .map_err(|e| format!("epoll_ctl: {e}"))?;
    }
    let mut pending = fds.len();
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    while pending > 0 {
        events.clear();
        match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None) {
            Ok(_) => pending -= events.len(),
            Err(Errno::INTR) => {}
            Err(e) => return Err(format!("epoll_wait: {e}")),
        }
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let usage = "usage: pkill_wait NAME PKILL [--wait]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, pkill, wait) = match args.as_slice() {
        [n, k] => (n, k, false),
        [n, k, w] if w == "--wait" => (n, k, true),
        _ => return Err(usage.into()),
    };
    check_sleeper_name(name)?;
    if !die_with_parent(libc::SIGKILL, None).map_err(|e| format!("prctl: {e}"))? {
        return Err("parent already gone".into());
    }
    let devnull = open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("/dev/null: {e}"))?;
    let setup = ChildSetup {
        death_signal: libc::SIGKILL,
        stdin: devnull.as_raw_fd(),
        stdout: 1,
        stderr: 2,
        keep_fd: None,
    };
    match run_one(&[pkill, "-KILL", "-x", name], &setup)? {
        0 => {}
        1 => return Err(format!("pkill matched no process named {name}")),
        c => return Err(format!("pkill exited with status {c}")),
    }
    if wait {
        raise_nofile_limit().map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
        let fds = open_by_name(name)?;
        wait_readable(&fds)?;
    }
    Ok(())
}
