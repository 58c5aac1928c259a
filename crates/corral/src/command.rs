//! [`Command`]: spawning with everything `std::process::Command` offers, and what
//! Win32's `CreateProcess` adds that the OS can do.
//!
//! # How the program is found
//!
//! As `std` finds it: a program name without a `/` is searched in the `PATH` of the
//! child's environment (the one set on the command, else the caller's), never in the
//! working directory; a name with a `/` is used as a path, relative to the child's
//! working directory.
//!
//! On Windows corral calls `CreateProcessW` itself and searches as std does there: a name
//! with no `\`, `/` or `:` is looked up in the child's `PATH` (when the command changes
//! the environment), the directory of the running program, the system directory, the
//! Windows directory, then the caller's `PATH`, with `.exe` appended when the name has no
//! extension; never the working directory. A path is relative to the *caller's* working
//! directory. `.bat`/`.cmd` files run through `cmd.exe` with their arguments escaped for
//! it; an argument that cannot be passed safely (CR, LF, NUL) is refused with
//! [`ErrorKind::InvalidInput`]. Standard streams must then be given as [`Stdio`] values
//! or files (a `std::process::Stdio` cannot be inspected, and is refused).
//!
//! # What a child inherits
//!
//! Unless set otherwise here, a child inherits from the caller: every descriptor not
//! marked close-on-exec (std opens its own with close-on-exec; [`Command::close_inherited`]
//! closes the rest), the environment, the working directory, the controlling terminal
//! and session, the process group, the CPU affinity, the cgroups, the nice value and
//! scheduling policy, the I/O priority, every resource limit, the umask, and the signal
//! dispositions that are "ignore" (std resets the signal mask). It does not inherit
//! pending signals, timers, or the parent-death signal.
//!
//! # Examples
//!
//! ```
//! use corral::{Command, PriorityClass};
//! # // `true` on Linux; on Windows (which sets COMSPEC) `cmd /c rem` does nothing as well.
//! # let (program, args): (&str, &[&str]) = match std::env::var_os("COMSPEC") {
//! #     Some(_) => ("cmd", &["/c", "rem"]),
//! #     None => ("true", &[]),
//! # };
//! let mut child = Command::new(program)
//!     .args(args)
//!     .suspended(true)
//!     .priority_class(PriorityClass::BelowNormal)
//!     .spawn()?;
//! assert_eq!(child.priority_class()?, PriorityClass::BelowNormal); // a Child is a Process
//! child.resume()?;
//! assert!(child.wait()?.success());
//! # Ok::<(), corral::Error>(())
//! ```

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::info::{IoPriority, Resource, Rlimit};
use crate::signal::{ExitStatus, Signal};
use crate::sys::imp;
use crate::{Error, ErrorKind, Pid, Process, Result};

/// The options `std` does not have, applied by the backend.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    pub(crate) suspended: bool,
    pub(crate) nice: Option<i32>,
    pub(crate) priority_class: Option<crate::PriorityClass>,
    pub(crate) affinity: Option<Vec<usize>>,
    pub(crate) ioprio: Option<IoPriority>,
    pub(crate) new_process_group: bool,
    pub(crate) new_session: bool,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) rlimits: Vec<(Resource, Rlimit)>,
    pub(crate) umask: Option<u32>,
    pub(crate) parent_death_signal: Option<Signal>,
    /// `Some(keep)`: close every inherited descriptor above 2 except `keep`.
    pub(crate) keep_fds: Option<Vec<i32>>,
    pub(crate) kill_on_drop: bool,
    pub(crate) forward_signals: bool,
    pub(crate) pty: bool,
    /// The job the child joins before it runs anything of the program.
    pub(crate) job: Option<imp::JobSpawn>,
    /// Spawn outside the caller's job ([`Command::breakaway_from_job`]).
    pub(crate) breakaway: bool,
    /// Where a breakaway child goes, resolved at spawn time (`None`: the caller is in no
    /// job, nothing to leave).
    pub(crate) breakaway_to: Option<imp::JobSpawn>,
    /// Spawn through std even where the backend has its own way (benchmarks).
    pub(crate) through_std: bool,
    pub(crate) stdin_set: bool,
    pub(crate) stdout_set: bool,
    pub(crate) stderr_set: bool,
    /// What only this platform's extension trait sets (Windows: the console mode, the
    /// user to run as); empty elsewhere.
    pub(crate) platform: imp::SpawnExtra,
}

/// Where a child's stdin, stdout or stderr goes ([`Command::stdin`] and friends).
///
/// Built with [`Stdio::inherit`], [`Stdio::null`], [`Stdio::piped`], from a
/// [`File`], or from a [`std::process::Stdio`]. Backends that create the process
/// themselves (Windows: `CreateProcessW`) need to know which of these it is; a
/// `std::process::Stdio` is opaque, so there it is refused with
/// [`ErrorKind::Unsupported`] (use this type's constructors instead).
#[derive(Debug)]
pub struct Stdio(pub(crate) StdioKind);

/// What a [`Stdio`] is.
#[derive(Debug)]
pub(crate) enum StdioKind {
    Inherit,
    Null,
    Piped,
    File(File),
    /// From std: opaque, usable only by backends that spawn through std.
    Std(std::process::Stdio),
}

impl Stdio {
    /// The child uses the caller's stream (the default).
    pub fn inherit() -> Stdio {
        Stdio(StdioKind::Inherit)
    }

    /// The child's stream is the null device.
    pub fn null() -> Stdio {
        Stdio(StdioKind::Null)
    }

    /// A new pipe; the caller's end is on the [`Child`] ([`Child::take_stdout`], …).
    pub fn piped() -> Stdio {
        Stdio(StdioKind::Piped)
    }

    /// The same as a `std::process::Stdio` (for backends that spawn through std).
    pub(crate) fn into_std(self) -> std::process::Stdio {
        match self.0 {
            StdioKind::Inherit => std::process::Stdio::inherit(),
            StdioKind::Null => std::process::Stdio::null(),
            StdioKind::Piped => std::process::Stdio::piped(),
            StdioKind::File(f) => std::process::Stdio::from(f),
            StdioKind::Std(s) => s,
        }
    }
}

impl From<std::process::Stdio> for Stdio {
    fn from(s: std::process::Stdio) -> Stdio {
        Stdio(StdioKind::Std(s))
    }
}

impl From<File> for Stdio {
    fn from(f: File) -> Stdio {
        Stdio(StdioKind::File(f))
    }
}

/// The portable description of the command, for backends that create the process
/// themselves (Windows); the Linux backend spawns `std::process::Command`, which is
/// built alongside.
#[derive(Debug, Default)]
pub(crate) struct Spec {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    /// Changes to the environment in order: `None` removes the variable.
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) env_clear: bool,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Stdio>,
    pub(crate) stdout: Option<Stdio>,
    pub(crate) stderr: Option<Stdio>,
}

// Only the backends that spawn through std call it.
#[allow(dead_code)]
impl Spec {
    /// Moves the stdio choices into std's command.
    pub(crate) fn apply_stdio(&mut self, cmd: &mut std::process::Command) {
        if let Some(s) = self.stdin.take() {
            cmd.stdin(s.into_std());
        }
        if let Some(s) = self.stdout.take() {
            cmd.stdout(s.into_std());
        }
        if let Some(s) = self.stderr.take() {
            cmd.stderr(s.into_std());
        }
    }
}

/// A process to spawn: a builder over [`std::process::Command`].
#[derive(Debug)]
pub struct Command {
    cmd: std::process::Command,
    spec: Spec,
    path_env: Option<OsString>,
    opts: Options,
}

impl Command {
    /// A command for `program` (searched in `PATH` when it has no `/`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            cmd: std::process::Command::new(program.as_ref()),
            spec: Spec {
                program: program.as_ref().to_owned(),
                ..Spec::default()
            },
            path_env: None,
            opts: Options::default(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Command {
        imp::push_arg(&mut self.cmd, a.as_ref());
        self.spec.args.push(a.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            imp::push_arg(&mut self.cmd, a.as_ref());
            self.spec.args.push(a.as_ref().to_owned());
        }
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Command {
        if k.as_ref() == "PATH" {
            self.path_env = Some(v.as_ref().to_owned());
        }
        self.spec
            .env
            .push((k.as_ref().to_owned(), Some(v.as_ref().to_owned())));
        self.cmd.env(k, v);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Command {
        self.spec.env.push((k.as_ref().to_owned(), None));
        self.cmd.env_remove(k);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(mut self) -> Command {
        self.cmd.env_clear();
        self.spec.env.clear();
        self.spec.env_clear = true;
        self.path_env = Some(OsString::new());
        self
    }

    /// Sets the working directory.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Command {
        self.spec.cwd = Some(dir.as_ref().to_owned());
        self.cmd.current_dir(dir);
        self
    }

    /// Sets standard input.
    pub fn stdin(mut self, s: impl Into<Stdio>) -> Command {
        self.opts.stdin_set = true;
        self.spec.stdin = Some(s.into());
        self
    }

    /// Sets standard output.
    pub fn stdout(mut self, s: impl Into<Stdio>) -> Command {
        self.opts.stdout_set = true;
        self.spec.stdout = Some(s.into());
        self
    }

    /// Sets standard error.
    pub fn stderr(mut self, s: impl Into<Stdio>) -> Command {
        self.opts.stderr_set = true;
        self.spec.stderr = Some(s.into());
        self
    }

    /// Starts the child suspended: it exists (its pid is known; it can be inspected, put
    /// in a job, given limits) but runs none of the program until [`Child::resume`].
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the child calls `ptrace(PTRACE_TRACEME)` before `execve`, so the kernel
    /// stops it right after the exec, before the program's first instruction; the parent
    /// then detaches with `SIGSTOP` pending, leaving a plain stopped, untraced process.
    /// Where ptrace is forbidden (seccomp, Yama level 3), spawning fails and says so.
    /// Windows: `CREATE_SUSPENDED`.
    pub fn suspended(mut self, yes: bool) -> Command {
        self.opts.suspended = yes;
        self
    }

    /// Sets the child's nice value (-20..=19) before it runs.
    pub fn nice(mut self, nice: i32) -> Command {
        self.opts.nice = Some(nice);
        self
    }

    /// Starts the child in a priority class (Win32's `*_PRIORITY_CLASS` creation flags):
    /// its scheduling policy and nice value, before it runs. An explicit
    /// [`Command::nice`] overrides the class's nice value.
    pub fn priority_class(mut self, class: crate::PriorityClass) -> Command {
        self.opts.priority_class = Some(class);
        self
    }

    /// Restricts the child to these CPUs.
    ///
    /// A bad list (empty, a CPU beyond the machine) makes `spawn` fail with
    /// `InvalidInput` before anything starts. Windows: the affinity is set while the child
    /// is suspended, as [`Process::set_cpu_affinity`](crate::Process::set_cpu_affinity)
    /// does; on a machine with several processor groups and CPUs of one group, the
    /// child's first thread is created in that group
    /// (`PROC_THREAD_ATTRIBUTE_GROUP_AFFINITY`), which makes it the process's group
    /// (compiles; the group mapping is unit-tested).
    pub fn cpu_affinity(mut self, cpus: &[usize]) -> Command {
        self.opts.affinity = Some(cpus.to_vec());
        self
    }

    /// Sets the child's I/O priority.
    pub fn io_priority(mut self, p: IoPriority) -> Command {
        self.opts.ioprio = Some(p);
        self
    }

    /// Puts the child in a new process group of its own.
    pub fn new_process_group(mut self, yes: bool) -> Command {
        self.opts.new_process_group = yes;
        self
    }

    /// Puts the child in a new session, detached from the caller's terminal.
    pub fn new_session(mut self, yes: bool) -> Command {
        self.opts.new_session = yes;
        self
    }

    /// Runs the child as this user id (the `CreateProcessAsUser` case).
    pub fn uid(mut self, uid: u32) -> Command {
        self.opts.uid = Some(uid);
        self
    }

    /// Runs the child with this group id.
    pub fn gid(mut self, gid: u32) -> Command {
        self.opts.gid = Some(gid);
        self
    }

    /// Sets the child's supplementary groups (an empty list drops them all).
    pub fn groups(mut self, groups: &[u32]) -> Command {
        self.opts.groups = Some(groups.to_vec());
        self
    }

    /// Sets a resource limit of the child.
    pub fn rlimit(mut self, resource: Resource, limit: Rlimit) -> Command {
        self.opts.rlimits.push((resource, limit));
        self
    }

    /// Sets the child's umask.
    pub fn umask(mut self, mask: u32) -> Command {
        self.opts.umask = Some(mask);
        self
    }

    /// Has the OS send `sig` to the child when the thread that spawned it exits.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `PR_SET_PDEATHSIG`, which fires when the spawning *thread* exits.
    pub fn parent_death_signal(mut self, sig: Signal) -> Command {
        self.opts.parent_death_signal = Some(sig);
        self
    }

    /// Closes every inherited descriptor except stdin, stdout, stderr (and those kept
    /// with `os::linux::CommandExt::keep_fd` or `os::windows::CommandExt::keep_handle`):
    /// handle inheritance as an explicit list.
    ///
    /// # Platform-specific behavior
    ///
    /// Windows: `PROC_THREAD_ATTRIBUTE_HANDLE_LIST` with only the three standard handles
    /// and the kept ones; without this option every inheritable handle is inherited, as with std.
    pub fn close_inherited(mut self, yes: bool) -> Command {
        if yes {
            self.opts.keep_fds.get_or_insert_with(Vec::new);
        } else {
            self.opts.keep_fds = None;
        }
        self
    }

    // Only the OS extensions (`os::linux::CommandExt::keep_fd`,
    // `os::windows::CommandExt::keep_handle`) call it. Windows handles are kept as their
    // low 32 bits, which is all of a kernel handle's value (sign-extended back).
    #[allow(dead_code)]
    pub(crate) fn keep_raw_fd(&mut self, fd: i32) {
        self.opts.keep_fds.get_or_insert_with(Vec::new).push(fd);
    }

    // Only the OS extensions (`os::windows::CommandExt`) call it.
    #[allow(dead_code)]
    pub(crate) fn platform_mut(&mut self) -> &mut imp::SpawnExtra {
        &mut self.opts.platform
    }

    /// Kills the child when the [`Child`] is dropped (and reaps it).
    pub fn kill_on_drop(mut self, yes: bool) -> Command {
        self.opts.kill_on_drop = yes;
        self
    }

    /// Forwards the termination signals this process receives to the child for as long
    /// as the [`Child`] lives, with no window at start-up: the signals are blocked before
    /// the child is spawned and the handlers installed before they are unblocked (see
    /// [`Child::forward_signals`] for which signals).
    pub fn forward_signals(mut self, yes: bool) -> Command {
        self.opts.forward_signals = yes;
        self
    }

    /// Starts the child inside `job`: it joins the job before the program runs, so no
    /// instruction of the program (and none of its children) ever runs outside it.
    ///
    /// # Errors
    ///
    /// [`Command::spawn`] fails (and leaves no child) if the child cannot join the job;
    /// the error says so.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the job's `cgroup.procs` files (v2 and v1) are opened in the parent; the
    /// child writes `0` ("myself") to each between `fork` and `execve`, first of all its
    /// set-up steps. This forces `fork` instead of std's `posix_spawn` path.
    /// Windows: `CREATE_SUSPENDED`, `AssignProcessToJobObject`, then `NtResumeProcess`.
    ///
    /// The job's per-process limits set through `job` ([`JobLimits`](crate::JobLimits)
    /// process memory and CPU time, priority class, affinity) are added to this command
    /// as rlimits, priority class and CPU affinity; a priority class or affinity already
    /// given to the command is kept, and an rlimit given after this call replaces the
    /// job's for that resource.
    pub fn job(mut self, job: &crate::Job) -> Command {
        self.opts.job = Some(job.spawn_target());
        let (rlimits, class, cpus) = job.member_settings();
        self.opts.rlimits.extend(rlimits);
        if self.opts.priority_class.is_none() {
            self.opts.priority_class = class;
        }
        if self.opts.affinity.is_none() {
            self.opts.affinity = cpus;
        }
        self
    }

    /// Testing and benchmarks only: spawns through `std::process::Command` even where
    /// the backend has a way of its own (Linux: a child joins its job by writing to
    /// `cgroup.procs` instead of being born in the job's v2 cgroup). Not part of the
    /// stable API.
    #[doc(hidden)]
    pub fn __through_std_for_testing(mut self) -> Command {
        self.opts.through_std = true;
        self
    }

    /// Starts the child outside the job the caller is in (Windows:
    /// `CREATE_BREAKAWAY_FROM_JOB`), if that job allows it
    /// ([`JobLimits::breakaway_ok`](crate::JobLimits::breakaway_ok)). When the caller is
    /// in no job this does nothing, as on Windows.
    ///
    /// # Errors
    ///
    /// [`Command::spawn`] fails with [`ErrorKind::AccessDenied`] naming the job when the
    /// job does not allow breakaway (no child is created), and with
    /// [`ErrorKind::InvalidInput`] when [`Command::job`] is given too.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the job is the `corral-*` cgroup the caller is in (the innermost one, for
    /// nested jobs: the child stays in the outer jobs, whose limits still bind). corral
    /// reads the job's mark (the extended attribute `user.corral.breakaway_ok` on its
    /// cgroups), then the child writes itself into the `cgroup.procs` of the cgroup the
    /// job was created below, in each hierarchy, between `fork` and `execve` — the same
    /// mechanism as [`Command::job`], so the program never runs inside the job. This is
    /// corral's convention, not kernel enforcement: a process that may write to the
    /// parent cgroup can leave the job whatever the mark says, and one that may not
    /// cannot break away even when the job allows it (the spawn then fails with
    /// [`ErrorKind::AccessDenied`]). Windows: not implemented yet
    /// ([`ErrorKind::Unsupported`]).
    pub fn breakaway_from_job(mut self, yes: bool) -> Command {
        self.opts.breakaway = yes;
        self
    }

    /// Gives the child a new pseudo-terminal as its controlling terminal and as its
    /// stdin, stdout and stderr (those not redirected otherwise); the other end is
    /// [`Child::pty`]. Implies a new session. (The `CREATE_NEW_CONSOLE` case.)
    pub fn pty(mut self, yes: bool) -> Command {
        self.opts.pty = yes;
        self
    }

    /// Spawns the child.
    ///
    /// # Errors
    ///
    /// The error names what failed: the program not found (with the search path), not
    /// executable, a directory, a missing working directory, or the step the kernel
    /// refused (setting the uid, a resource limit, …) — [`ErrorKind::AccessDenied`] when
    /// the caller lacks the privilege, [`ErrorKind::InvalidInput`] for bad values. No
    /// child is left behind on failure.
    pub fn spawn(mut self) -> Result<Child> {
        self.validate()?;
        self.resolve_breakaway()?;
        let blocked = self.opts.forward_signals.then(imp::block_forwarded);
        let spawned = imp::spawn(&mut self.cmd, &mut self.spec, &self.opts, blocked.as_ref());
        let (std, extra) = match spawned {
            Ok(v) => v,
            Err(e) => return Err(self.explain(e)),
        };
        let pid = Pid::new(std.id()).expect("a child has a positive pid");
        // Our own unreaped child: its pid cannot be reused, so this open is exact.
        let process = match Process::open_own_child(pid) {
            Ok(p) => p,
            Err(e) => {
                let mut std = std;
                let _ = std.kill();
                let _ = std.wait();
                return Err(e);
            }
        };
        let mut child = Child {
            std: Some(std),
            process,
            kill_on_drop: self.opts.kill_on_drop,
            pty: extra.pty_master,
            forwarding: None,
        };
        if blocked.is_some() {
            child.forwarding = Some(child.forward_signals()?);
        }
        // Unblocking now delivers anything that arrived meanwhile to the handlers.
        drop(blocked);
        Ok(child)
    }

    /// Replaces the calling process with the program, after applying every option
    /// (`nice`, `taskset`, `prlimit` style); returns only on failure.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`]; [`ErrorKind::InvalidInput`] for `suspended`, `pty` and
    /// `kill_on_drop`, which need a parent.
    pub fn exec(mut self) -> Error {
        if let Err(e) = self.validate().and_then(|()| self.resolve_breakaway()) {
            return e;
        }
        let e = imp::exec(&mut self.cmd, &mut self.spec, &self.opts);
        self.explain(e)
    }

    /// Finds where a breakaway child goes (at spawn time: the caller's job now).
    fn resolve_breakaway(&mut self) -> Result<()> {
        if self.opts.breakaway {
            self.opts.breakaway_to = imp::breakaway_target()?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        let bad = |d: String| Err(Error::new(ErrorKind::InvalidInput, "spawn").with_detail(d));
        if self.opts.breakaway && self.opts.job.is_some() {
            return bad(
                "breakaway_from_job and job together: a child cannot both leave the \
                 caller's job and join a job"
                    .into(),
            );
        }
        if let Some(n) = self.opts.nice {
            if !(-20..=19).contains(&n) {
                return bad(format!("nice {n} is outside -20..=19"));
            }
        }
        if let Some(a) = &self.opts.affinity {
            if a.is_empty() {
                return bad("the CPU list is empty".into());
            }
        }
        if let Some(p) = &self.opts.ioprio {
            if p.level > 7 {
                return bad(format!("I/O priority level {} is outside 0..=7", p.level));
            }
        }
        for (r, l) in &self.opts.rlimits {
            if let (Some(s), Some(h)) = (l.soft, l.hard) {
                if s > h {
                    return bad(format!(
                        "the soft limit of {} ({s}) is above its hard limit ({h})",
                        r.name()
                    ));
                }
            }
        }
        if let Some(m) = self.opts.umask {
            if m > 0o777 {
                return bad(format!("umask {m:o} has bits beyond 0777"));
            }
        }
        if self.spec.program.is_empty() {
            return bad("the program name is empty".into());
        }
        Ok(())
    }

    /// Turns a spawn error into one that says what was wrong.
    fn explain(&self, e: Error) -> Error {
        if e.detail().is_some() {
            return e;
        }
        let prog = Path::new(&self.spec.program);
        let shown = prog.display();
        match e.raw_os_error() {
            Some(2) => {
                if let Some(cwd) = &self.spec.cwd {
                    if !cwd.is_dir() {
                        return e.with_detail(format!(
                            "working directory {} does not exist",
                            cwd.display()
                        ));
                    }
                }
                if self.spec.program.as_encoded_bytes().contains(&b'/') {
                    e.with_detail(format!("program {shown} does not exist"))
                } else {
                    let path = self
                        .path_env
                        .clone()
                        .or_else(|| std::env::var_os("PATH"))
                        .unwrap_or_default();
                    e.with_detail(format!(
                        "program {shown:?} not found in PATH ({})",
                        path.to_string_lossy()
                    ))
                }
            }
            Some(13) => {
                let full = match &self.spec.cwd {
                    Some(c)
                        if prog.is_relative()
                            && self.spec.program.as_encoded_bytes().contains(&b'/') =>
                    {
                        c.join(prog)
                    }
                    _ => prog.to_owned(),
                };
                if full.is_dir() {
                    e.with_detail(format!("{shown} is a directory, not a program"))
                } else {
                    e.with_detail(format!("permission denied executing {shown}"))
                }
            }
            Some(20) => e.with_detail(format!(
                "a component of {shown} (or of the working directory) is not a directory"
            )),
            Some(8) => e.with_detail(format!(
                "{shown} is not an executable format the kernel knows"
            )),
            _ => e.with_detail(format!("could not run {shown}")),
        }
    }
}

/// A spawned child: a [`Process`] (every getter and control, through `Deref`) that also
/// owns std's child handle for its pipes and for reaping it.
#[derive(Debug)]
pub struct Child {
    // Always `Some` but inside `wait_with_output`, which consumes the `Child`.
    std: Option<imp::SpawnedChild>,
    process: Process,
    kill_on_drop: bool,
    pty: Option<File>,
    forwarding: Option<SignalForwarding>,
}

impl Child {
    /// The child as a [`Process`].
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Lets a suspended child run (`SIGCONT`; Windows: `NtResumeProcess`).
    ///
    /// # Errors
    ///
    /// As [`Process::send_signal`].
    pub fn resume(&self) -> Result<()> {
        self.process.resume()
    }

    /// Forwards the termination signals this process receives to the child until the
    /// returned guard is dropped, as a supervisor or `timeout(1)` does.
    ///
    /// # Errors
    ///
    /// Only if the signal handlers cannot be installed.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `SIGTERM` and `SIGHUP` are forwarded; `SIGINT` and `SIGQUIT` too when the
    /// child is in another process group — otherwise the terminal sends them to both,
    /// and this process ignores them while the guard lives, as `system(3)` does.
    pub fn forward_signals(&self) -> Result<SignalForwarding> {
        imp::forward_signals(&self.process).map(|g| SignalForwarding { _guard: g })
    }

    /// The parent side of the child's pseudo-terminal ([`Command::pty`]).
    pub fn pty(&mut self) -> Option<&mut File> {
        self.pty.as_mut()
    }

    /// Takes the child's stdin pipe.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.std_mut().stdin.take()
    }

    fn std_mut(&mut self) -> &mut imp::SpawnedChild {
        self.std
            .as_mut()
            .expect("the std child is present until wait_with_output")
    }

    /// Takes the child's stdout pipe.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.std_mut().stdout.take()
    }

    /// Takes the child's stderr pipe.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.std_mut().stderr.take()
    }

    /// Waits for the child to exit and reaps it.
    ///
    /// # Errors
    ///
    /// Only if the OS wait fails.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let pid = self.process.pid();
        self.std_mut()
            .wait()
            .map(imp::std_exit_status)
            .map_err(|e| Error::from_io("wait", e).with_pid(pid))
    }

    /// Waits for the child's next change of state — stopped, continued or exited — as
    /// `waitpid(WUNTRACED | WCONTINUED)` reports them; an exit is not reaped.
    ///
    /// # Errors
    ///
    /// Only if the OS wait fails.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `waitid(P_PIDFD, WSTOPPED | WCONTINUED | WEXITED)`; blocks with no timeout,
    /// as the kernel gives no pollable event for stops. Windows reports only exits.
    pub fn wait_event(&mut self) -> Result<ChildEvent> {
        self.process
            .handle()
            .child_event(true)
            .map(|e| e.expect("a blocking wait returns an event"))
    }

    /// The child's pending change of state, if any, without waiting.
    ///
    /// # Errors
    ///
    /// Only if the OS wait fails.
    pub fn try_wait_event(&mut self) -> Result<Option<ChildEvent>> {
        self.process.handle().child_event(false)
    }

    /// Reaps the child if it has exited, without waiting.
    ///
    /// # Errors
    ///
    /// Only if the OS wait fails.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        let pid = self.process.pid();
        self.std_mut()
            .try_wait()
            .map(|o| o.map(imp::std_exit_status))
            .map_err(|e| Error::from_io("wait", e).with_pid(pid))
    }

    /// Reads stdout and stderr to their ends (both at once, so neither pipe can fill and
    /// block the child), then waits for it.
    ///
    /// # Errors
    ///
    /// Only if reading or waiting fails.
    pub fn wait_with_output(mut self) -> Result<Output> {
        let pid = self.process.pid();
        let std = self
            .std
            .take()
            .expect("the std child is present until wait_with_output");
        let out = std
            .wait_with_output()
            .map_err(|e| Error::from_io("wait", e).with_pid(pid))?;
        Ok(Output {
            status: imp::std_exit_status(out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// A change of state of a child ([`Child::wait_event`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEvent {
    /// A signal stopped it (`SIGSTOP`, `SIGTSTP`, …).
    Stopped(Signal),
    /// `SIGCONT` continued it.
    Continued,
    /// It exited (not reaped yet: [`Child::wait`] reaps it).
    Exited(ExitStatus),
}

/// Signal forwarding to a child; stops when dropped ([`Child::forward_signals`]).
#[derive(Debug)]
pub struct SignalForwarding {
    _guard: imp::ForwardGuard,
}

/// What [`Child::wait_with_output`] collected.
#[derive(Debug, Clone)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout (when piped).
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr (when piped).
    pub stderr: Vec<u8>,
}

impl Deref for Child {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for Child {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let (true, Some(std)) = (self.kill_on_drop, self.std.as_mut()) {
            let _ = self.process.kill();
            let _ = std.wait();
        }
    }
}
