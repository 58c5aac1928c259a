//! The spawned child as the Linux backend holds it, and corral's own spawn path.
//!
//! # Two ways to spawn
//!
//! Most spawns go through `std::process::Command` (its vfork-style `posix_spawn` when no
//! option needs a hook between `fork` and `exec`, else `fork` with corral's hook; see
//! `spawn.rs`). A spawn **into a job whose only cgroup is a v2 one** — what a pure
//! cgroup v2 machine gives — goes through [`clone_spawn`] instead: a `clone3` with
//! `CLONE_INTO_CGROUP`, so the child is *born* in the job. Joining by writing to
//! `cgroup.procs` is a cgroup migration, which takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing — an RCU grace period (about 5 ms here)
//! whenever no migration happened just before — while being born in a cgroup takes it
//! only for reading. `job_bench` measures it (BENCHMARKS.md, "Jobs"): after a quiet
//! moment a spawn into a v2-only job costs 1.2–1.4× a plain spawn born in, 4–7× joined
//! by a write. A job that also has v1 cgroups (a hybrid machine) still needs a write per
//! v1 hierarchy, which pays that price anyway (there is no `CLONE_INTO_CGROUP` for v1),
//! and measured no faster through `clone3`, so it keeps std's path.
//!
//! `clone3` here has `fork` semantics (no `CLONE_VM`): the child runs on its own copy of
//! the caller's memory and makes only async-signal-safe system calls until `execve` —
//! the same rules as std's `pre_exec` hooks, with everything (argv, environment, the
//! candidate paths of the program search, descriptors) prepared before the clone. When
//! the kernel refuses `clone3` before creating a child (too old, a seccomp filter that
//! answers `ENOSYS`/`EPERM`, a cgroup it will not put the child in), the spawn falls back
//! to std's path, whose hook writes the child into every `cgroup.procs` and reports a
//! precise error if that fails too.
//!
//! What the child does, in order (as std's `fork` path does): the standard streams
//! (`dup2`), the working directory, `SIGPIPE` back to its default and an empty signal
//! mask, corral's hook (`spawn::child`: the v1 cgroups first), then `execve` of each
//! candidate path as `execvp` would (`EACCES` remembered, `ENOENT`/`ENOTDIR` skipped).
//! A failure is reported through the close-on-exec pipe as the step and its `errno`;
//! the parent reaps the child and returns the error. Unlike glibc's `execvp`, a file
//! without a `#!` line that the kernel cannot execute (`ENOEXEC`) is not retried through
//! `/bin/sh`: the spawn fails with "not an executable format".

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::command::{Spec, StdioKind};

/// A spawned child: its pid (not reaped before [`SpawnedChild::wait`] or
/// [`SpawnedChild::try_wait`] says it exited, so the pid stays its own) and the caller's
/// ends of its pipes. Offers what `Command`/`Child` use of std's `Child`.
#[derive(Debug)]
pub(crate) struct SpawnedChild {
    pid: u32,
    status: Option<ExitStatus>,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) stderr: Option<ChildStderr>,
}

impl SpawnedChild {
    /// Takes std's child apart: its pid and pipes (std's `Child` neither waits nor kills
    /// when dropped).
    pub(crate) fn from_std(mut c: std::process::Child) -> SpawnedChild {
        SpawnedChild {
            pid: c.id(),
            status: None,
            stdin: c.stdin.take(),
            stdout: c.stdout.take(),
            stderr: c.stderr.take(),
        }
    }

    /// The child's pid.
    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// `SIGKILL` (success if it was already reaped).
    pub(crate) fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill(2) of our own unreaped child: its pid cannot have been reused.
        if unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn waitpid(&mut self, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let mut st = 0;
        loop {
            // SAFETY: waiting for our own child; `st` is a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid as libc::pid_t, &mut st, flags) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e);
            }
            if r == 0 {
                return Ok(None);
            }
            let s = ExitStatus::from_raw(st);
            self.status = Some(s);
            return Ok(Some(s));
        }
    }

    /// Waits for the exit and reaps the child (stdin is closed first, as std does).
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        self.waitpid(0)
            .map(|s| s.expect("a blocking waitpid returns a status"))
    }

    /// Reaps the child if it has exited.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.waitpid(libc::WNOHANG)
    }

    /// Closes stdin, reads stdout and stderr to their ends (both at once, so neither
    /// pipe can fill and block the child), then waits.
    pub(crate) fn wait_with_output(mut self) -> io::Result<std::process::Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read_both(self.stdout.take(), self.stderr.take())?;
        let status = self.wait()?;
        Ok(std::process::Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Reads two pipes to their ends together (`poll`), or the one that is there.
fn read_both(out: Option<ChildStdout>, err: Option<ChildStderr>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    use rustix::event::{poll, PollFd, PollFlags};
    let (mut ob, mut eb) = (Vec::new(), Vec::new());
    match (out, err) {
        (None, None) => {}
        (Some(mut o), None) => {
            o.read_to_end(&mut ob)?;
        }
        (None, Some(mut e)) => {
            e.read_to_end(&mut eb)?;
        }
        (Some(mut o), Some(mut e)) => {
            let (mut o_open, mut e_open) = (true, true);
            let mut buf = vec![0u8; 64 * 1024];
            while o_open || e_open {
                let (o_ready, e_ready) = {
                    let mut fds = Vec::with_capacity(2);
                    if o_open {
                        fds.push(PollFd::new(&o, PollFlags::IN));
                    }
                    if e_open {
                        fds.push(PollFd::new(&e, PollFlags::IN));
                    }
                    match poll(&mut fds, None) {
                        Ok(_) => {}
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(err) => return Err(err.into()),
                    }
                    let ready = |f: &PollFd<'_>| !f.revents().is_empty();
                    let o_ready = o_open && ready(&fds[0]);
                    let e_ready = e_open && ready(&fds[usize::from(o_open)]);
                    (o_ready, e_ready)
                };
                if o_ready {
                    match o.read(&mut buf) {
                        Ok(0) => o_open = false,
                        Ok(n) => ob.extend_from_slice(&buf[..n]),
                        Err(x) if x.kind() == io::ErrorKind::Interrupted => {}
                        Err(x) => return Err(x),
                    }
                }
                if e_ready {
                    match e.read(&mut buf) {
                        Ok(0) => e_open = false,
                        Ok(n) => eb.extend_from_slice(&buf[..n]),
                        Err(x) if x.kind() == io::ErrorKind::Interrupted => {}
                        Err(x) => return Err(x),
                    }
                }
            }
        }
    }
    Ok((ob, eb))
}

// ---- corral's own spawn: clone3 into the job's v2 cgroup ------------------------------

/// `struct clone_args` of `clone3(2)` (the version with `cgroup`, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Cleared once the kernel answers `clone3` with `ENOSYS` (older than 5.3, or a seccomp
/// filter that hides it): later spawns go straight to std's path.
static CLONE3: AtomicBool = AtomicBool::new(true);

/// The step numbers [`clone_spawn`]'s child reports besides the hook's.
pub(crate) const STEP_STDIO: u8 = 18;
pub(crate) const STEP_CWD: u8 = 19;
pub(crate) const STEP_EXEC: u8 = 20;

/// One standard stream of the child: the descriptor to `dup2` onto 0, 1 or 2, and the
/// caller's end of a pipe.
#[derive(Default)]
struct Stream {
    /// The child's descriptor (above 2, close-on-exec in the caller), `None` to inherit.
    child: Option<OwnedFd>,
    parent: Option<OwnedFd>,
}

/// Everything the child needs besides the hook's plan, prepared before the clone.
struct Exec {
    streams: [Stream; 3],
    cwd: Option<CString>,
    /// The paths to try, in order (the `PATH` search done ahead).
    candidates: Vec<CString>,
    /// The strings `argv_ptrs` points into (kept alive here).
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    /// The strings `envp_ptrs` points into.
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
}

fn cstring(s: &OsStr, what: &str) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte: {s:?}"),
        )
    })
}

/// A descriptor the child will `dup2` onto a standard stream: a close-on-exec copy above
/// 2, so no `dup2` can overwrite the source of a later one.
fn high_dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor the caller owns; the result is new.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `r` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

impl Exec {
    /// Returns `None` when a stream is a `std::process::Stdio` (opaque: std's path only).
    fn prepare(spec: &Spec) -> io::Result<Option<Exec>> {
        let mut streams: [Stream; 3] = Default::default();
        for (i, s) in [&spec.stdin, &spec.stdout, &spec.stderr]
            .into_iter()
            .enumerate()
        {
            let Some(s) = s else { continue };
            streams[i] = match &s.0 {
                StdioKind::Inherit => Stream::default(),
                StdioKind::Std(_) => return Ok(None),
                StdioKind::Null => {
                    let f = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null")?;
                    Stream {
                        child: Some(high_dup(f.as_raw_fd())?),
                        parent: None,
                    }
                }
                StdioKind::File(f) => Stream {
                    child: Some(high_dup(f.as_raw_fd())?),
                    parent: None,
                },
                StdioKind::Piped => {
                    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
                    let (c, p) = if i == 0 { (r, w) } else { (w, r) };
                    Stream {
                        child: Some(high_dup(c.as_raw_fd())?),
                        parent: Some(p),
                    }
                }
            };
        }
        let cwd = match &spec.cwd {
            Some(c) => Some(cstring(c.as_os_str(), "the working directory")?),
            None => None,
        };
        // The environment: the caller's unless cleared, then the changes in order.
        let mut env: Vec<(OsString, OsString)> = if spec.env_clear {
            Vec::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &spec.env {
            env.retain(|(key, _)| key != k);
            if let Some(v) = v {
                env.push((k.clone(), v.clone()));
            }
        }
        let mut envp = Vec::with_capacity(env.len());
        for (k, v) in &env {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("environment variable name {k:?} is empty or contains '='"),
                ));
            }
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            envp.push(cstring(&kv, "an environment variable")?);
        }
        let program = spec.program.as_os_str();
        let mut argv = vec![cstring(program, "the program name")?];
        for a in &spec.args {
            argv.push(cstring(a, "an argument")?);
        }
        // The program search, as execvp does it, over the child's PATH.
        let candidates = if program.as_bytes().contains(&b'/') {
            vec![argv[0].clone()]
        } else {
            let path = env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
            path.as_bytes()
                .split(|&b| b == b':')
                .map(|dir| {
                    let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
                    let full = Path::new(OsStr::from_bytes(dir)).join(program);
                    cstring(full.as_os_str(), "a path of the program search")
                })
                .collect::<io::Result<Vec<_>>>()?
        };
        let ptrs = |v: &[CString]| -> Vec<*const libc::c_char> {
            v.iter()
                .map(|c| c.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        Ok(Some(Exec {
            streams,
            cwd,
            candidates,
            argv_ptrs: ptrs(&argv),
            _argv: argv,
            envp_ptrs: ptrs(&envp),
            _envp: envp,
        }))
    }
}

/// Reports a failed step and its errno through the report pipe, then ends the child.
///
/// # Safety
///
/// In the cloned child only.
unsafe fn die(report: RawFd, step: u8, errno: i32) -> ! {
    let mut msg = [0u8; 5];
    msg[0] = step;
    msg[1..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: write(2) of a stack buffer, then _exit(2): async-signal-safe.
    unsafe {
        libc::write(report, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The cloned child: streams, working directory, signals, the hook, `execve`.
///
/// # Safety
///
/// In the cloned child only; makes async-signal-safe system calls on memory prepared
/// before the clone, and never returns.
unsafe fn run_child(plan: &super::spawn::Plan, x: &Exec, report: RawFd) -> ! {
    // SAFETY: raw system calls on descriptors and buffers owned by `x` and `plan` (the
    // child's copy of the caller's memory); see the function's contract.
    unsafe {
        for (target, s) in x.streams.iter().enumerate() {
            if let Some(fd) = &s.child {
                if libc::dup2(fd.as_raw_fd(), target as RawFd) < 0 {
                    die(report, STEP_STDIO, errno());
                }
            }
        }
        if let Some(cwd) = &x.cwd {
            if libc::chdir(cwd.as_ptr()) < 0 {
                die(report, STEP_CWD, errno());
            }
        }
        // As std's children: SIGPIPE at its default (std ignores it in the caller), an
        // empty signal mask (the hook restores a caller's mask it was asked to keep).
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        if super::spawn::child(plan).is_err() {
            // The hook has reported the step.
            libc::_exit(127);
        }
        let mut err = libc::ENOENT;
        let mut denied = false;
        for path in &x.candidates {
            libc::execve(path.as_ptr(), x.argv_ptrs.as_ptr(), x.envp_ptrs.as_ptr());
            match errno() {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                e => {
                    err = e;
                    break;
                }
            }
        }
        if denied && err == libc::ENOENT {
            err = libc::EACCES;
        }
        die(report, STEP_EXEC, err)
    }
}

/// What [`clone_spawn`] gives when the kernel would not clone (no child exists): the
/// caller spawns through std instead.
pub(crate) enum CloneSpawn {
    Spawned(SpawnedChild),
    /// The child failed at `step` (a number of `spawn::STEPS` or this module's) with
    /// `errno`; it has been reaped.
    Failed(u8, io::Error),
    /// No child was created: use std's path.
    Unavailable,
}

/// Spawns `spec` born in the cgroup v2 directory `cgroup`, applying `plan` in the child
/// (whose `job_fds` must not include that cgroup's `cgroup.procs`). `report` is the read
/// end of the plan's report pipe, whose write end is `plan.report` (closed here in the
/// caller once the child has gone past `execve`).
pub(crate) fn clone_spawn(
    spec: &mut Spec,
    plan: &super::spawn::Plan,
    report_w: OwnedFd,
    report_r: &OwnedFd,
    cgroup: &Path,
) -> io::Result<CloneSpawn> {
    if !CLONE3.load(Ordering::Relaxed) {
        return Ok(CloneSpawn::Unavailable);
    }
    let Some(mut x) = Exec::prepare(spec)? else {
        return Ok(CloneSpawn::Unavailable);
    };
    let dir = match rustix::fs::open(
        cgroup,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(d) => d,
        Err(_) => return Ok(CloneSpawn::Unavailable),
    };
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let report = report_w.as_raw_fd();
    // SAFETY: clone3 with fork semantics (no CLONE_VM, no new stack): the child returns
    // here with 0 on its own copy of this thread's stack and memory, and `run_child`
    // never returns; the parent gets the child's pid.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r == 0 {
        // SAFETY: this is the cloned child.
        unsafe { run_child(plan, &x, report) }
    }
    if r < 0 {
        if errno() == libc::ENOSYS {
            CLONE3.store(false, Ordering::Relaxed);
        }
        return Ok(CloneSpawn::Unavailable);
    }
    let pid = r as u32;
    drop(report_w);
    drop(dir);
    // The child's ends go away in the caller; the caller keeps its pipe ends.
    for s in &mut x.streams {
        drop(s.child.take());
    }
    let mut msg = [0u8; 5];
    let mut got = 0;
    while got < msg.len() {
        match rustix::io::read(report_r, &mut msg[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    let mut child = SpawnedChild {
        pid,
        status: None,
        stdin: x.streams[0].parent.take().map(ChildStdin::from),
        stdout: x.streams[1].parent.take().map(ChildStdout::from),
        stderr: x.streams[2].parent.take().map(ChildStderr::from),
    };
    if got == 0 {
        // The report pipe closed at `execve`: the program runs.
        spec.stdin = None;
        spec.stdout = None;
        spec.stderr = None;
        return Ok(CloneSpawn::Spawned(child));
    }
    let _ = child.wait();
    let errno = if got == msg.len() {
        i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]])
    } else {
        libc::EIO
    };
    Ok(CloneSpawn::Failed(
        msg[0],
        io::Error::from_raw_os_error(errno),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Options, Stdio};

    /// A job to be born in, or `None` (with the reason printed) where this test cannot
    /// create one with a cgroup v2 directory.
    fn v2_job() -> Option<(crate::Job, std::path::PathBuf)> {
        if !rustix::process::geteuid().is_root() {
            println!("skipped: creating cgroups needs root");
            return None;
        }
        let job = crate::Job::create(None).expect("create a job");
        match job.spawn_target().v2_dir {
            Some(d) => Some((job, d)),
            None => {
                println!("skipped: this job has no cgroup v2 directory here");
                None
            }
        }
    }

    fn spawn_in(dir: &Path, spec: &mut Spec) -> CloneSpawn {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let plan =
            super::super::spawn::plan_for(&Options::default(), w.as_raw_fd(), Some(dir)).unwrap();
        clone_spawn(spec, &plan, w, &r, dir).expect("clone_spawn")
    }

    fn spec(program: &str, args: &[&str]) -> Spec {
        Spec {
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
            ..Spec::default()
        }
    }

    #[test]
    fn born_in_the_job_with_its_streams_environment_and_directory() {
        let Some((job, dir)) = v2_job() else { return };
        let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let mut s = spec(
            "sh",
            &[
                "-c",
                "echo \"$FOO\"; pwd; grep '^0::' /proc/self/cgroup; echo e >&2",
            ],
        );
        s.env_clear = true;
        s.env = vec![
            ("FOO".into(), Some("bar baz".into())),
            ("PATH".into(), Some("/nonexistent:/usr/bin:/bin".into())),
        ];
        s.cwd = Some("/tmp".into());
        s.stdout = Some(Stdio::piped());
        s.stderr = Some(Stdio::piped());
        let child = match spawn_in(&dir, &mut s) {
            CloneSpawn::Spawned(c) => c,
            CloneSpawn::Failed(step, e) => panic!("step {step} failed: {e}"),
            CloneSpawn::Unavailable => panic!("clone3 into {} refused", dir.display()),
        };
        assert!(
            s.stdout.is_none() && s.stderr.is_none(),
            "the streams were used"
        );
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let v2 = cg.lines().find(|l| l.starts_with("0::")).unwrap();
        let job_cg = format!("{}/corral-{}", v2.trim_end_matches('/'), job.name());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("bar baz\n/tmp\n{job_cg}\n")
        );
        assert_eq!(out.stderr, b"e\n");
        drop(job);
    }

    #[test]
    fn failures_name_the_step_and_leave_no_child() {
        let Some((_job, dir)) = v2_job() else { return };
        let cases: [(Spec, u8, i32); 3] = [
            (spec("corral-no-such-program", &[]), STEP_EXEC, libc::ENOENT),
            (spec("/tmp", &[]), STEP_EXEC, libc::EACCES),
            (
                Spec {
                    cwd: Some("/nonexistent-corral-dir".into()),
                    ..spec("true", &[])
                },
                STEP_CWD,
                libc::ENOENT,
            ),
        ];
        for (mut s, want_step, want_errno) in cases {
            match spawn_in(&dir, &mut s) {
                CloneSpawn::Failed(step, e) => {
                    assert_eq!((step, e.raw_os_error()), (want_step, Some(want_errno)));
                }
                CloneSpawn::Spawned(mut c) => {
                    let _ = c.wait();
                    panic!("{:?} spawned", s.program);
                }
                CloneSpawn::Unavailable => panic!("clone3 refused"),
            }
        }
    }

    #[test]
    fn an_opaque_std_stream_goes_to_std() {
        let Some((_job, dir)) = v2_job() else { return };
        let mut s = spec("true", &[]);
        s.stdout = Some(Stdio::from(std::process::Stdio::null()));
        assert!(matches!(spawn_in(&dir, &mut s), CloneSpawn::Unavailable));
        assert!(s.stdout.is_some(), "the stream is left for std");
    }

    #[test]
    fn bad_strings_are_refused_before_any_clone() {
        let Some((_job, dir)) = v2_job() else { return };
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let plan =
            super::super::spawn::plan_for(&Options::default(), w.as_raw_fd(), Some(&dir)).unwrap();
        let mut s = spec("true", &["a\0b"]);
        let e = clone_spawn(&mut s, &plan, w, &r, &dir)
            .err()
            .expect("refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
