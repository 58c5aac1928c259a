//! `kill_floor [--verify] NAME`: the least work needed to kill every process named NAME
//! through pidfds and wait until all have exited. The floor of the process-control
//! benchmark.
//!
//! Raises the soft `RLIMIT_NOFILE` to the hard limit (one pidfd per process), reads
//! `/proc` with `getdents64` into one buffer and, for each numeric entry, opens, reads
//! (once: `comm` is at most 16 bytes) and closes `/proc/PID/comm`, relative to one `/proc`
//! descriptor. For each process whose name is NAME: `pidfd_open`, then
//! `pidfd_send_signal(SIGKILL)`. Then one epoll instance over all those pidfds (one-shot
//! events, so none needs removing), until every one has been readable (a pidfd is readable once its process has exited, zombie
//! or reaped). Prints how many processes it killed.
//!
//! What it leaves out, and corral does not: it does not check, after `pidfd_open`, that
//! the pid still belongs to the process whose name it read (corral compares start times
//! before and after, so a pid recycled in between is never signalled); it reads no
//! start time and builds no per-process record; it reports no exit status.
//!
//! `--verify` adds the least work that closes that window: it reads `/proc/PID/stat`
//! instead of `comm` (name and start time in one read) and, after `pidfd_open`, reads it
//! once more and signals only if the start time is unchanged (the pidfd then refers to the
//! process whose name was read). That is the race-free floor.
//!
//! Safety: NAME must be a benchmark sleeper name (`cb` + 10 lowercase letters or
//! digits), pid 1 and this process are never signalled.

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use corral_bench::{check_sleeper_name, raise_nofile_limit};
use rustix::event::epoll;
use rustix::fs::{openat, Mode, OFlags, RawDir, CWD};
use rustix::io::{read, Errno};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kill_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_pid(s: &[u8]) -> Option<i32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i32, |n, &b| {
        n.checked_mul(10)?.checked_add(i32::from(b - b'0'))
    })
}

/// Opens `dir/path`, reads it once into `buf` and closes it; `None` if it is gone.
fn read_once(dir: &OwnedFd, path: &CStr, buf: &mut [u8]) -> Option<usize> {
    let fd = openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    loop {
        match read(&fd, &mut *buf) {
            Err(Errno::INTR) => {}
            r => return r.ok(),
        }
    }
}

/// The name and start time (clock ticks since boot) in a `/proc/PID/stat` line.
fn name_and_start(stat: &[u8]) -> Option<(&[u8], &[u8])> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    // After ") ": state(0) … starttime(19).
    let start = stat.get(close + 2..)?.split(|&b| b == b' ').nth(19)?;
    Some((stat.get(open + 1..close)?, start))
}

fn run() -> Result<usize, String> {
    let usage = "usage: kill_floor [--verify] NAME";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (verify, name) = match args.as_slice() {
        [n] => (false, n.clone()),
        [v, n] if v == "--verify" => (true, n.clone()),
        _ => return Err(usage.into()),
    };
    check_sleeper_name(&name)?;
    raise_nofile_limit().map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    let mut want = name.into_bytes();
    if !verify {
        want.push(b'\n'); // comm ends with a newline
    }
    let me = std::process::id() as i32;

    let proc_dir = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("/proc: {e}"))?;
    let mut dents = vec![std::mem::MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut buf = [0u8; 1024];
    let mut again = [0u8; 1024];
    let mut path = [0u8; 32];
    let mut pidfds: Vec<OwnedFd> = Vec::with_capacity(1024);

    let mut dir = RawDir::new(&proc_dir, &mut dents);
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(|e| format!("getdents64 /proc: {e}"))?;
        let digits = entry.file_name().to_bytes();
        let Some(pid) = parse_pid(digits) else {
            continue;
        };
        // "PID/comm\0" or "PID/stat\0", relative to the /proc descriptor.
        let file: &[u8] = if verify { b"/stat\0" } else { b"/comm\0" };
        let end = digits.len() + file.len();
        path[..digits.len()].copy_from_slice(digits);
        path[digits.len()..end].copy_from_slice(file);
        let cpath = CStr::from_bytes_with_nul(&path[..end]).expect("path");
        let Some(n) = read_once(&proc_dir, cpath, &mut buf) else {
            continue; // gone
        };
        let start = if verify {
            match name_and_start(&buf[..n]) {
                Some((name, start)) if name == &want[..] => Some(start),
                _ => continue,
            }
        } else if buf[..n] == want[..] {
            None
        } else {
            continue;
        };
        if pid == 1 || pid == me {
            continue;
        }
        let Some(raw) = Pid::from_raw(pid) else {
            continue;
        };
        let pidfd = match pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(Errno::SRCH) => continue, // exited and reaped since the read
            Err(e) => return Err(format!("pidfd_open({pid}): {e}")),
        };
        if let Some(start) = start {
            // Still the same process (same start time) after pidfd_open: then the pidfd
            // refers to it. Otherwise the pid changed hands: leave it alone.
            match read_once(&proc_dir, cpath, &mut again) {
                Some(m) if name_and_start(&again[..m]).is_some_and(|(_, s)| s == start) => {}
                _ => continue,
            }
        }
        match pidfd_send_signal(&pidfd, Signal::KILL) {
            Ok(()) => pidfds.push(pidfd),
            Err(Errno::SRCH) => {}
            Err(e) => return Err(format!("pidfd_send_signal: {e}")),
        }
    }

    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| format!("epoll: {e}"))?;
    for (i, fd) in pidfds.iter().enumerate() {
        epoll::add(
            &ep,
            fd,
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN | epoll::EventFlags::ONESHOT,
        )
        .map_err(|e| format!("epoll_ctl: {e}"))?;
    }
    let mut pending = pidfds.len();
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    while pending > 0 {
        events.clear();
        match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(format!("epoll_wait: {e}")),
        }
        // One-shot: each exited process is reported once, with no epoll_ctl to remove it.
        pending -= events.len();
    }
    Ok(pidfds.len())
}
