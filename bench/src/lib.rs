//! Helpers shared by the benchmark binaries (`population`, `measure`, and the process
//! control tools).
//!
//! The benchmark spawns thousands of processes on a shared machine, so spawning here is
//! deliberately explicit: a plain `fork` + `execv`, with the child asking the kernel to
//! kill it when its parent dies (`PR_SET_PDEATHSIG`) and re-checking its parent right
//! after, so that no child can outlive the process that spawned it.
//!
//! Linux only.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;

/// What a child gets between `fork` and `execv`.
#[derive(Debug, Clone, Copy)]
pub struct ChildSetup {
    /// Signal the kernel sends the child when the spawning thread exits.
    pub death_signal: libc::c_int,
    /// Descriptor to install as the child's standard input.
    pub stdin: RawFd,
    /// Descriptor to install as the child's standard output.
    pub stdout: RawFd,
    /// Descriptor to install as the child's standard error.
    pub stderr: RawFd,
    /// A descriptor to keep open across `execv` (its close-on-exec flag is cleared in the
    /// child only).
    pub keep_fd: Option<RawFd>,
}

/// A NUL-terminated `argv` built before forking, so the child allocates nothing.
#[derive(Debug)]
pub struct Argv {
    strings: Vec<CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl Argv {
    /// Builds an `argv` from strings; fails if one contains a NUL byte.
    pub fn new<I, S>(args: I) -> io::Result<Argv>
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        let strings = args
            .into_iter()
            .map(|a| CString::new(a).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e)))
            .collect::<io::Result<Vec<_>>>()?;
        if strings.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty argv"));
        }
        let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Ok(Argv { strings, ptrs })
    }

    /// The program's path (`argv[0]`).
    pub fn program(&self) -> &CStr {
        &self.strings[0]
    }
}

/// Forks and executes `argv` (its first element must be a path; `PATH` is not searched).
///
/// In the child, before `execv`: sets the parent-death signal, exits at once if the parent
/// is already gone, restores `SIGPIPE` to its default action and an empty signal mask,
/// installs the three standard descriptors and clears close-on-exec on `keep_fd`. The child
/// exits with status 127 if any of that, or `execv`, fails.
///
/// The caller must be single-threaded (the child only makes async-signal-safe calls, but
/// a multi-threaded parent may hold allocator locks; the benchmark binaries never start
/// threads). Returns the child's pid; the caller owns it and must reap it.
///
/// # Errors
///
/// The `fork` error, e.g. `EAGAIN` when `RLIMIT_NPROC`, `pids.max` or `threads-max` is hit.
pub fn fork_exec(argv: &Argv, setup: &ChildSetup) -> io::Result<libc::pid_t> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork has no memory-safety preconditions; the caller is single-threaded (see
    // above), so the child may run the code below, which only makes async-signal-safe
    // calls on data prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    // Child.
    // SAFETY: only async-signal-safe libc calls on valid arguments; `argv.ptrs` is a
    // NUL-terminated array of pointers into `argv.strings`, alive until execv or _exit.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            setup.death_signal as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            libc::_exit(127);
        }
        // The parent may have died before prctl: then nobody will ever signal us.
        if libc::getppid() != parent {
            libc::_exit(127);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for (from, to) in [(setup.stdin, 0), (setup.stdout, 1), (setup.stderr, 2)] {
            if from != to && libc::dup2(from, to) < 0 {
                libc::_exit(127);
            }
        }
        if let Some(fd) = setup.keep_fd {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                libc::_exit(127);
            }
        }
        libc::execv(argv.ptrs[0], argv.ptrs.as_ptr());
        libc::_exit(127);
    }
}

/// Asks the kernel to send `signal` to this process when its parent (the thread that
/// forked it) exits, then checks that the parent is still `expected_parent` (if given).
///
/// Returns `Ok(false)` if the parent is already gone.
///
/// # Errors
///
/// The `prctl(PR_SET_PDEATHSIG)` error.
pub fn die_with_parent(
    signal: libc::c_int,
    expected_parent: Option<libc::pid_t>,
) -> io::Result<bool> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and no pointers.
    let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    Ok(match expected_parent {
        Some(p) => ppid == p,
        None => ppid != 1,
    })
}

/// Waits for `pid` (a child of this process), retrying on `EINTR`; returns the raw status
/// and resource usage.
///
/// # Errors
///
/// The `wait4` error, e.g. `ECHILD` if `pid` is not an unreaped child.
pub fn wait_child(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and usage are valid, writable, properly aligned locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock every timestamp of the exit-latency
/// benchmark is taken on (Python's `time.clock_gettime_ns(time.CLOCK_MONOTONIC)` reads
/// the same clock).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Length of the names the control benchmark gives its sleepers: `cb` and 10 random
/// lowercase letters or digits, within the 15 bytes `comm` holds.
pub const SLEEPER_NAME_LEN: usize = 12;

/// Checks that `name` has the shape of a name the control benchmark gives its sleepers
/// (`cb` followed by 10 lowercase ASCII letters or digits).
///
/// Every tool of that benchmark that selects processes by name refuses any other name:
/// the runner draws a fresh random name for each population and checks that only that
/// population's sleepers hold it, and this guard keeps a slip from ever turning a tool
/// on an ordinary process name.
///
/// # Errors
///
/// A message saying why the name is refused.
pub fn check_sleeper_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok = b.len() == SLEEPER_NAME_LEN
        && b.starts_with(b"cb")
        && b[2..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing process name {name:?}: the benchmark only acts on names of the form \
             cb + 10 lowercase letters or digits"
        ))
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a tool holding one pidfd per
/// process needs more than the usual 1024 for large populations).
///
/// # Errors
///
/// The `getrlimit`/`setrlimit` error.
pub fn raise_nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur != lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: lim is a valid rlimit; raising the soft limit to the hard one is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// The path of program `name`: `name` itself if it contains a `/`, else the first regular
/// file of that name in a `PATH` directory.
///
/// # Errors
///
/// A message if `name` is not found in `PATH`.
pub fn find_program(name: &str) -> Result<std::path::PathBuf, String> {
    if name.contains('/') {
        return Ok(std::path::PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name}: not found in PATH"))
}
