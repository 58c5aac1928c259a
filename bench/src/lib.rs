//! Helpers shared by the benchmark binaries (`population`, `measure`).
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
