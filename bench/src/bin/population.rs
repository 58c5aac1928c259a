//! `population N`: keeps N sleeping processes alive for the benchmark to enumerate.
//!
//! Each sleeper is this binary re-executed (`fork` + `execv`) in `--sleeper` mode, so it
//! has a real, distinct command line (`population --sleeper --pool bench --worker 17 …`),
//! its own `comm`, and a small private footprint. Every sleeper is started with
//! `PR_SET_PDEATHSIG(SIGKILL)` and re-checks its parent, so none can outlive this process,
//! however it ends.
//!
//! Protocol: prints `ready <N>` on stdout once all N sleepers have executed and reported
//! in (through a pipe), then stays until its stdin reaches end-of-file or it gets SIGTERM,
//! SIGINT or SIGHUP; then it SIGKILLs and reaps every sleeper (all are its own unreaped
//! children, so no pid can have been recycled), checks it has no child left, and exits 0.
//! Exit status 2 means the sleepers could not all be started (the reason is on stderr);
//! everything that was started has been killed and reaped by then.
//!
//! Usage: `population N [--tag TAG] [--parent PID] [--ready-timeout SECS] [--comm NAME]
//! [--reap]`
//! `--tag` is copied into every sleeper's command line so the runner can verify that none
//! survive; `--parent` makes population exit at once if its parent is not PID.
//!
//! For the process-control benchmark (`bench/control.py`): `--comm NAME` makes every
//! sleeper set its `comm` (the name `pkill -x`, psutil's `name()` and corral's name rule
//! see) to NAME with `prctl(PR_SET_NAME)` before it reports in; NAME must look like
//! `cb` + 10 lowercase letters or digits. `--reap` makes population, once ready, reap
//! each sleeper as soon as it exits (on `SIGCHLD`), so that the benchmark's tools kill
//! its sleepers while it watches; when every sleeper has been reaped it prints
//! `gone <N>` and exits 0. Stdin closing or a signal still stops it as above.

use std::collections::HashSet;
use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use corral_bench::{check_sleeper_name, die_with_parent, fork_exec, wait_child, Argv, ChildSetup};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{open, Mode, OFlags};
use rustix::pipe::{pipe_with, PipeFlags};

static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static CHLD_FD: AtomicI32 = AtomicI32::new(-1);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--sleeper") {
        sleeper(&args[2..]);
    }
    match run(&args[1..]) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("population: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--sleeper --pool P --worker I --parent PID --ready-fd FD --tag T [--comm NAME]`: set
/// the name if asked, report in, then sleep until killed.
fn sleeper(args: &[String]) -> ! {
    let value = |name: &str| -> Option<&str> {
        let i = args.iter().position(|a| a == name)?;
        args.get(i + 1).map(String::as_str)
    };
    let parent = value("--parent").and_then(|p| p.parse::<libc::pid_t>().ok());
    let ready_fd = value("--ready-fd").and_then(|p| p.parse::<RawFd>().ok());
    // Inherited across execv already; set again so a sleeper started by hand is safe too.
    match die_with_parent(libc::SIGKILL, parent) {
        Ok(true) => {}
        _ => std::process::exit(0),
    }
    if let Some(name) = value("--comm") {
        // Checked by the spawning population already; a failure here means no report,
        // which the population notices.
        let ok = check_sleeper_name(name).is_ok()
            && CString::new(name).is_ok_and(|c| rustix::thread::set_name(&c).is_ok());
        if !ok {
            std::process::exit(1);
        }
    }
    if let Some(fd) = ready_fd {
        // SAFETY: fd was handed to us by the parent for this single byte; closing it
        // after is what lets the parent see end-of-file once all sleepers reported in.
        unsafe {
            libc::write(fd, b"+".as_ptr().cast(), 1);
            libc::close(fd);
        }
    }
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; fd is the non-blocking write end of our
        // self-pipe, which lives for the whole program.
        unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
    }
}

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = CHLD_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; fd is the non-blocking write end of the
        // SIGCHLD self-pipe, which lives for the whole program. A full pipe is fine: one
        // unread byte is enough to wake the reaper.
        unsafe { libc::write(fd, b"c".as_ptr().cast(), 1) };
    }
}

/// Writes a byte to `chld_write` on every `SIGCHLD` from now on.
fn install_sigchld_handler(chld_write: RawFd) -> io::Result<()> {
    CHLD_FD.store(chld_write, Ordering::SeqCst);
    // SAFETY: sigaction is plain old data; all-zero is a valid starting value.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigchld as *const () as libc::sighandler_t;
    sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
    // SAFETY: sa is a valid sigaction whose handler only calls write(2), which is
    // async-signal-safe, and preserves nothing else.
    if unsafe { libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn install_signal_handlers(wake_write: RawFd) -> io::Result<()> {
    WAKE_FD.store(wake_write, Ordering::SeqCst);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: sigaction is plain old data; all-zero is a valid starting value.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: sa is a valid sigaction whose handler only touches atomics and calls
        // write(2), both async-signal-safe.
        if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Every sleeper this process started and has not reaped yet; dropping it SIGKILLs and
/// reaps them all. A pid leaves the set the moment it is reaped, so no pid in it can have
/// been recycled for another process.
struct Sleepers {
    pids: HashSet<libc::pid_t>,
}

impl Sleepers {
    /// Kills and reaps every sleeper; returns how many were reaped.
    fn stop(&mut self) -> usize {
        for &pid in &self.pids {
            // SAFETY: pid is our own child and has not been reaped (a reaped pid leaves
            // the set at once), so it cannot have been recycled for another process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut reaped = 0;
        for pid in self.pids.drain() {
            match wait_child(pid) {
                Ok(_) => reaped += 1,
                Err(e) => eprintln!("population: waiting for sleeper {pid}: {e}"),
            }
        }
        reaped
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Options {
    n: usize,
    tag: String,
    parent: Option<libc::pid_t>,
    ready_timeout: Duration,
    comm: Option<String>,
    reap: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let usage = "usage: population N [--tag TAG] [--parent PID] [--ready-timeout SECS] \
                 [--comm NAME] [--reap]";
    let mut n = None;
    let mut tag = String::from("corral-bench");
    let mut parent = None;
    let mut ready_timeout = Duration::from_secs(300);
    let mut comm = None;
    let mut reap = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut next = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{usage}"))
        };
        match a.as_str() {
            "--tag" => tag = next()?.clone(),
            "--parent" => parent = Some(next()?.parse().map_err(|_| "bad --parent")?),
            "--ready-timeout" => {
                let s: u64 = next()?.parse().map_err(|_| "bad --ready-timeout")?;
                ready_timeout = Duration::from_secs(s);
            }
            "--comm" => {
                let name = next()?;
                check_sleeper_name(name)?;
                comm = Some(name.clone());
            }
            "--reap" => reap = true,
            "-h" | "--help" => return Err(usage.into()),
            s if n.is_none() && !s.starts_with('-') => {
                n = Some(
                    s.parse::<usize>()
                        .map_err(|_| format!("bad N: {s}\n{usage}"))?,
                )
            }
            s => return Err(format!("unexpected argument {s}\n{usage}")),
        }
    }
    let n = n.ok_or(usage)?;
    if n > 100_000 {
        return Err(format!(
            "N = {n} is more than this benchmark ever needs (100000)"
        ));
    }
    if tag.is_empty() || tag.contains('\0') {
        return Err("bad --tag".into());
    }
    Ok(Options {
        n,
        tag,
        parent,
        ready_timeout,
        comm,
        reap,
    })
}

fn read_limit(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The soft `RLIMIT_NPROC`, for error messages.
fn nproc_limit() -> String {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) } != 0 {
        return "unknown".into();
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        lim.rlim_cur.to_string()
    }
}

/// Raises the soft `RLIMIT_NPROC` to the hard one if `need` more processes would not fit.
fn raise_nproc(need: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) } != 0 {
        return;
    }
    if lim.rlim_cur != libc::RLIM_INFINITY && (lim.rlim_cur as usize) < need + 1024 {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: lim is a valid rlimit; raising the soft limit to the hard one is allowed.
        unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &lim) };
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let opts = parse_options(args)?;
    // If whoever started us dies, stop gracefully (and the sleepers die with us anyway).
    if !die_with_parent(libc::SIGTERM, opts.parent).map_err(|e| format!("prctl: {e}"))? {
        return Err("parent already gone".into());
    }

    let (wake_r, wake_w) =
        pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).map_err(|e| format!("pipe: {e}"))?;
    install_signal_handlers(wake_w.as_raw_fd()).map_err(|e| format!("sigaction: {e}"))?;
    raise_nproc(opts.n);
    // Sleepers hold no descriptor of ours once they reported in, so RLIMIT_NOFILE is not
    // a concern however large N is.

    let devnull = open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("/dev/null: {e}"))?;
    let (ready_r, ready_w) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;

    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let exe = exe
        .to_str()
        .ok_or("executable path is not UTF-8")?
        .to_string();
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() }.to_string();
    let ready_fd = ready_w.as_raw_fd().to_string();
    let setup = ChildSetup {
        death_signal: libc::SIGKILL,
        stdin: devnull.as_raw_fd(),
        stdout: devnull.as_raw_fd(),
        stderr: devnull.as_raw_fd(),
        keep_fd: Some(ready_w.as_raw_fd()),
    };

    let mut sleepers = Sleepers {
        pids: HashSet::with_capacity(opts.n),
    };
    let start = Instant::now();
    for i in 0..opts.n {
        if STOP.load(Ordering::SeqCst) {
            let reaped = sleepers.stop();
            eprintln!(
                "population: interrupted while spawning; {reaped} sleepers killed and reaped"
            );
            return Ok(ExitCode::from(2));
        }
        let worker = i.to_string();
        let mut args = vec![
            exe.as_str(),
            "--sleeper",
            "--pool",
            "bench",
            "--worker",
            &worker,
            "--parent",
            &me,
            "--ready-fd",
            &ready_fd,
            "--tag",
            &opts.tag,
        ];
        if let Some(name) = &opts.comm {
            args.extend(["--comm", name.as_str()]);
        }
        let argv = Argv::new(args).map_err(|e| e.to_string())?;
        match fork_exec(&argv, &setup) {
            Ok(pid) => {
                sleepers.pids.insert(pid);
            }
            Err(e) => {
                let hint = if e.raw_os_error() == Some(libc::EAGAIN) {
                    format!(
                        " (a process limit was hit: RLIMIT_NPROC ({}), pids.max of this \
                         cgroup ({}), kernel.threads-max ({}) or kernel.pid_max ({}))",
                        nproc_limit(),
                        read_limit("/sys/fs/cgroup/pids.max"),
                        read_limit("/proc/sys/kernel/threads-max"),
                        read_limit("/proc/sys/kernel/pid_max"),
                    )
                } else {
                    String::new()
                };
                let started = sleepers.pids.len();
                let reaped = sleepers.stop();
                return Err(format!(
                    "fork failed after {started} of {} sleepers: {e}{hint}; \
                     {reaped} sleepers killed and reaped",
                    opts.n
                ));
            }
        }
    }
    // Only the sleepers hold the write end now: end-of-file means all reported in or died.
    drop(ready_w);
    let reported = match wait_ready(&ready_r, &wake_r, opts.n, opts.ready_timeout) {
        Ok(r) => r,
        Err(e) => {
            let reaped = sleepers.stop();
            return Err(format!("{e}; {reaped} sleepers killed and reaped"));
        }
    };
    if reported != opts.n {
        let reaped = sleepers.stop();
        return Err(format!(
            "only {reported} of {} sleepers reported in; {reaped} sleepers killed and reaped",
            opts.n
        ));
    }
    eprintln!(
        "population: {} sleepers running after {:.2}s",
        opts.n,
        start.elapsed().as_secs_f64()
    );
    let mut out = io::stdout().lock();
    let announced = writeln!(out, "ready {}", opts.n).and_then(|()| out.flush());
    drop(out);
    if let Err(e) = announced {
        let reaped = sleepers.stop();
        return Err(format!(
            "writing ready line: {e}; {reaped} sleepers killed and reaped"
        ));
    }

    if opts.reap {
        let (chld_r, chld_w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
            .map_err(|e| format!("pipe: {e}"))?;
        install_sigchld_handler(chld_w.as_raw_fd()).map_err(|e| format!("sigaction: {e}"))?;
        if reap_until_gone(&mut sleepers, &chld_r, &wake_r) {
            // SAFETY: waitpid with a null status pointer and WNOHANG only queries.
            let left = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
            let no_child =
                left < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD);
            if !no_child {
                eprintln!("population: a child is still present after reaping all sleepers");
                return Ok(ExitCode::from(1));
            }
            let mut out = io::stdout().lock();
            // The runner may be gone already; nothing is left to clean up either way.
            let _ = writeln!(out, "gone {}", opts.n).and_then(|()| out.flush());
            return Ok(ExitCode::SUCCESS);
        }
        // Stopped before every sleeper died: fall through to killing the rest.
    } else {
        wait_for_stop(&wake_r);
    }
    let why = match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => "stdin closed".to_string(),
        s => format!("signal {s}"),
    };
    let reaped = sleepers.stop();
    // Every sleeper was our child: none may be left.
    // SAFETY: waitpid with a null status pointer and WNOHANG only queries.
    let left = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    let no_child = left < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD);
    eprintln!("population: {why}: {reaped} sleepers killed and reaped");
    if !no_child {
        eprintln!("population: a child is still present after reaping all sleepers");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one byte per sleeper from the ready pipe until end-of-file, a signal, or the
/// timeout; returns how many sleepers reported in.
fn wait_ready(
    ready: &OwnedFd,
    wake: &OwnedFd,
    n: usize,
    timeout: Duration,
) -> Result<usize, String> {
    let deadline = Instant::now() + timeout;
    let mut count = 0usize;
    let mut buf = [0u8; 4096];
    loop {
        if STOP.load(Ordering::SeqCst) {
            return Err("interrupted while waiting for sleepers".into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "only {count} of {n} sleepers reported in within {}s",
                timeout.as_secs()
            ));
        }
        let ts = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [
            PollFd::new(ready, PollFlags::IN),
            PollFd::new(wake, PollFlags::IN),
        ];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        if fds[0].revents().is_empty() {
            continue;
        }
        match rustix::io::read(ready, &mut buf[..]) {
            Ok(0) => return Ok(count),
            Ok(k) => count += k,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("reading ready pipe: {e}")),
        }
    }
}

/// Reaps sleepers as they exit, until none is left (returns `true`) or stdin reaches
/// end-of-file or a stop signal arrives (returns `false`; the rest are still unreaped).
fn reap_until_gone(sleepers: &mut Sleepers, chld: &OwnedFd, wake: &OwnedFd) -> bool {
    let stdin = rustix::stdio::stdin();
    let mut buf = [0u8; 4096];
    loop {
        // Reap everything that has exited. The SIGCHLD handler is installed before the
        // first pass, so an exit after this pass always leaves a byte in the pipe.
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: status is a valid, writable int.
            let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if r > 0 {
                sleepers.pids.remove(&r);
                continue;
            }
            if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break; // 0: no exited child right now; ECHILD: none left at all
        }
        if sleepers.pids.is_empty() {
            return true;
        }
        if STOP.load(Ordering::SeqCst) {
            return false;
        }
        let mut fds = [
            PollFd::new(&stdin, PollFlags::IN),
            PollFd::new(wake, PollFlags::IN),
            PollFd::new(chld, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
        let r = fds[0].revents();
        if r.intersects(PollFlags::NVAL | PollFlags::ERR) {
            return false;
        }
        if r.intersects(PollFlags::IN | PollFlags::HUP) {
            match rustix::io::read(stdin, &mut buf[..]) {
                Ok(0) => return false,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return false,
            }
        }
        if !fds[2].revents().is_empty() {
            // Drain the SIGCHLD pipe (non-blocking); the reaping pass above follows.
            while let Ok(n) = rustix::io::read(chld, &mut buf[..]) {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

/// Blocks until stdin reaches end-of-file (or errors) or a stop signal arrives.
fn wait_for_stop(wake: &OwnedFd) {
    let stdin = rustix::stdio::stdin();
    let mut buf = [0u8; 4096];
    while !STOP.load(Ordering::SeqCst) {
        let mut fds = [
            PollFd::new(&stdin, PollFlags::IN),
            PollFd::new(wake, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        let r = fds[0].revents();
        if r.intersects(PollFlags::NVAL | PollFlags::ERR) {
            return;
        }
        if r.intersects(PollFlags::IN | PollFlags::HUP) {
            match rustix::io::read(stdin, &mut buf[..]) {
                Ok(0) => return,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }
}
