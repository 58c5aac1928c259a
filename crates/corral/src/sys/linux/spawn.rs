//! Spawning on Linux: everything `std::process::Command` does, plus what it cannot,
//! applied in the child between `fork` and `exec` by one async-signal-safe hook.
//!
//! Order in the child (after std's own set-up of stdio, cwd and signal mask):
//! new session / process group → controlling pty → parent-death signal → umask → nice →
//! I/O priority → CPU affinity → rlimits → close inherited descriptors → groups, gid,
//! uid (last, so the steps before may use the caller's privileges) → `PTRACE_TRACEME`
//! for a suspended start. A failing step writes its number to a close-on-exec pipe
//! before failing the spawn, so the error says which step the kernel refused.
//!
//! **Suspended start.** The child asks to be traced; the kernel then stops it right
//! after a successful `execve`, before the program's first instruction. The parent
//! consumes that stop and detaches with `SIGSTOP` pending, so the child stays stopped
//! (a plain job-control stop, not traced) until `SIGCONT`. `std`'s spawn still returns
//! only after `exec` succeeded, so a missing program is reported as usual.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

use super::child::{clone_spawn, CloneSpawn, SpawnedChild};

use crate::command::Options;
use crate::info::{IoClass, Rlimit};
use crate::{Error, ErrorKind, Result};

/// The steps of the child hook, for error messages.
const STEPS: [&str; 21] = [
    "",
    "create a new session (setsid)",
    "create a new process group (setpgid)",
    "make the pseudo-terminal the controlling terminal",
    "set the parent-death signal",
    "set the umask",
    "set the nice value",
    "set the I/O priority",
    "set the CPU affinity",
    "set a resource limit",
    "close inherited descriptors",
    "set the supplementary groups",
    "set the group id",
    "set the user id",
    "",
    "join the job (write to its cgroup.procs)",
    "set the scheduling policy of the priority class",
    "leave the job (write to cgroup.procs of the cgroup above it)",
    // child::STEP_STDIO, STEP_CWD and STEP_EXEC: the last two are explained from the
    // errno by `Command`.
    "set up the standard streams (dup2)",
    "",
    "",
];
const STEP_TRACE: u8 = 14;
const STEP_JOB: u8 = 15;
const STEP_POLICY: u8 = 16;
const STEP_BREAKAWAY: u8 = 17;

/// Everything the child hook needs, computed before `fork` (no allocation after).
pub(crate) struct Plan {
    setsid: bool,
    setpgid: bool,
    pty_slave: Option<RawFd>,
    pdeathsig: Option<i32>,
    umask: Option<u32>,
    nice: Option<i32>,
    policy: Option<(libc::c_int, libc::c_int)>,
    ioprio: Option<libc::c_long>,
    affinity: Option<libc::cpu_set_t>,
    rlimits: Vec<(i32, libc::rlimit64)>,
    close_fds: bool,
    keep: Vec<RawFd>,
    groups: Option<Vec<libc::gid_t>>,
    gid: Option<u32>,
    uid: Option<u32>,
    trace: bool,
    /// The signal mask to restore in the child (the caller blocked signals around spawn).
    sigmask: Option<libc::sigset_t>,
    /// `cgroup.procs` of each of the job's cgroups, opened close-on-exec in the parent.
    job_fds: Vec<OwnedFd>,
    /// The `job_fds` lead out of the caller's job (breakaway), not into one.
    breakaway: bool,
    /// A kill-on-close process-group job's guard socket: the child tells the guard its
    /// pid and start time before `exec` (it has no job marker until then).
    fallback_guard: Option<OwnedFd>,
    report: RawFd,
}

impl Plan {
    /// Whether any step needs the hook; without one, std keeps its fast `posix_spawn`
    /// (vfork-style) path instead of `fork`.
    fn needs_hook(&self) -> bool {
        self.setsid
            || !self.job_fds.is_empty()
            || self.fallback_guard.is_some()
            || self.setpgid
            || self.pty_slave.is_some()
            || self.pdeathsig.is_some()
            || self.umask.is_some()
            || self.nice.is_some()
            || self.policy.is_some()
            || self.ioprio.is_some()
            || self.affinity.is_some()
            || !self.rlimits.is_empty()
            || self.close_fds
            || self.groups.is_some()
            || self.gid.is_some()
            || self.uid.is_some()
            || self.trace
            || self.sigmask.is_some()
    }
}

/// Reports a failed step: its number and the errno, five bytes in one `write`.
fn fail(report: RawFd, step: u8) -> io::Error {
    let e = io::Error::last_os_error();
    let mut msg = [0u8; 5];
    msg[0] = step;
    msg[1..].copy_from_slice(&e.raw_os_error().unwrap_or(0).to_ne_bytes());
    // SAFETY: write(2) of a stack buffer; async-signal-safe.
    unsafe { libc::write(report, msg.as_ptr().cast(), msg.len()) };
    e
}

fn check(r: libc::c_int, report: RawFd, step: u8) -> io::Result<()> {
    if r < 0 {
        Err(fail(report, step))
    } else {
        Ok(())
    }
}

/// The child side. Only async-signal-safe calls: no allocation, no locks, and raw
/// system calls where glibc's wrapper would coordinate with other threads (`setuid` and
/// friends signal every thread of a multi-threaded process; the child of a raw `clone3`
/// inherits glibc's idea that there are several).
pub(crate) fn child(p: &Plan) -> io::Result<()> {
    let r = p.report;
    // SAFETY: raw syscalls on integers and on memory owned by `p` (the whole block),
    // which the forked child has its own copy of.
    unsafe {
        // First of all: join the job, so nothing below (nor the program) runs outside it.
        // `0` written to cgroup.procs means "the writing process" (v1 and v2).
        for fd in &p.job_fds {
            let rc = libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1);
            let step = if p.breakaway {
                STEP_BREAKAWAY
            } else {
                STEP_JOB
            };
            check(if rc == 1 { 0 } else { -1 }, r, step)?;
        }
        if let Some(sock) = &p.fallback_guard {
            // Best-effort, like the fallback job itself: never fails the spawn.
            super::job_fallback_guard::announce_self(sock.as_raw_fd());
        }
        if let Some(mask) = &p.sigmask {
            // std leaves the mask as the caller had it; restore the one before blocking.
            libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
        }
        if p.setsid {
            check(libc::setsid(), r, 1)?;
        } else if p.setpgid {
            check(libc::setpgid(0, 0), r, 2)?;
        }
        if let Some(slave) = p.pty_slave {
            check(libc::ioctl(slave, libc::TIOCSCTTY, 0), r, 3)?;
        }
        if let Some(sig) = p.pdeathsig {
            check(
                libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0),
                r,
                4,
            )?;
        }
        if let Some(mask) = p.umask {
            libc::umask(mask as libc::mode_t);
        }
        if let Some((policy, prio)) = p.policy {
            let param = libc::sched_param {
                sched_priority: prio,
            };
            check(libc::sched_setscheduler(0, policy, &param), r, STEP_POLICY)?;
        }
        if let Some(n) = p.nice {
            check(libc::setpriority(libc::PRIO_PROCESS, 0, n), r, 6)?;
        }
        if let Some(v) = p.ioprio {
            let rc = libc::syscall(
                libc::SYS_ioprio_set,
                1 as libc::c_long,
                0 as libc::c_long,
                v,
            );
            check(rc as libc::c_int, r, 7)?;
        }
        if let Some(set) = &p.affinity {
            check(
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set),
                r,
                8,
            )?;
        }
        for (res, lim) in &p.rlimits {
            check(
                libc::prlimit64(0, *res as _, lim, std::ptr::null_mut()),
                r,
                9,
            )?;
        }
        if p.close_fds {
            // Mark every descriptor from 3 up close-on-exec (closing std's own error pipe
            // would hide exec failures), then clear the flag on the ones to keep.
            let rc = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if rc < 0 {
                // Kernels before 5.11: walk the descriptor table's size.
                let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(0, 1 << 20) as RawFd;
                for fd in 3..max {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            for &fd in &p.keep {
                check(libc::fcntl(fd, libc::F_SETFD, 0), r, 10)?;
            }
        }
        if let Some(groups) = &p.groups {
            let rc = libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr());
            check(rc as libc::c_int, r, 11)?;
        }
        if let Some(g) = p.gid {
            check(libc::syscall(libc::SYS_setgid, g) as libc::c_int, r, 12)?;
        }
        if let Some(u) = p.uid {
            check(libc::syscall(libc::SYS_setuid, u) as libc::c_int, r, 13)?;
        }
        if p.trace {
            let rc = libc::ptrace(
                libc::PTRACE_TRACEME,
                0,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            );
            check(rc as libc::c_int, r, STEP_TRACE)?;
        }
    }
    Ok(())
}

/// Options only a platform's extension trait sets (none on Linux: `os::linux`'s
/// `CommandExt` works on the portable options).
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnExtra;

/// A spawned child's extra state from the Linux side.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pty_master: Option<std::fs::File>,
}

/// Opens a pseudo-terminal pair: (master, slave).
fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    Ok((master, slave))
}

fn rlimit_value(l: Rlimit) -> libc::rlimit64 {
    libc::rlimit64 {
        rlim_cur: l.soft.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: l.hard.unwrap_or(libc::RLIM_INFINITY),
    }
}

/// Computes the child hook's plan (everything allocated before `fork`); `born_in` is a
/// cgroup the child is created in (its `cgroup.procs` is not written).
pub(crate) fn plan_for(opts: &Options, report: RawFd, born_in: Option<&Path>) -> Result<Plan> {
    let op = "spawn";
    let affinity = match &opts.affinity {
        None => None,
        Some(cpus) => {
            // SAFETY: an all-zero cpu_set_t is the empty set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
            for &c in cpus {
                if c >= max {
                    return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
                        "CPU {c} is beyond the largest CPU number supported ({})",
                        max - 1
                    )));
                }
                // SAFETY: `c` is below the set's capacity, checked just above.
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            Some(set)
        }
    };
    let ioprio = opts.ioprio.map(|p| {
        let class: libc::c_long = match p.class {
            IoClass::None => 0,
            IoClass::Realtime => 1,
            IoClass::BestEffort => 2,
            IoClass::Idle => 3,
        };
        (class << 13) | (p.level as libc::c_long & 7)
    });
    let rlimits = opts
        .rlimits
        .iter()
        .map(|(r, l)| (crate::sys::imp::fields_resource(*r), rlimit_value(*l)))
        .collect();
    let mut job_fds = Vec::new();
    let target = opts.job.as_ref().or(opts.breakaway_to.as_ref());
    if let Some(job) = target {
        let why = if opts.job.is_some() {
            "to join the job"
        } else {
            "to leave the job (breakaway)"
        };
        for path in &job.procs {
            if born_in.is_some() && path.parent() == born_in {
                continue;
            }
            let fd = rustix::fs::open(
                path,
                rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| {
                Error::from_io(op, e.into())
                    .with_detail(format!("could not open {} {why}", path.display()))
            })?;
            job_fds.push(fd);
        }
    }
    let plan = Plan {
        setsid: opts.new_session || opts.pty,
        setpgid: opts.new_process_group,
        pty_slave: None,
        pdeathsig: opts.parent_death_signal.map(|s| s.number()),
        umask: opts.umask,
        nice: opts.nice.or(opts
            .priority_class
            .filter(|c| *c != crate::PriorityClass::Realtime)
            .map(|c| c.nice())),
        policy: opts
            .priority_class
            .map(crate::sys::imp::linux_policy)
            .filter(|(p, _)| *p != libc::SCHED_OTHER),
        ioprio,
        affinity,
        rlimits,
        close_fds: opts.keep_fds.is_some(),
        keep: opts.keep_fds.clone().unwrap_or_default(),
        groups: opts.groups.clone(),
        gid: opts.gid,
        uid: opts.uid,
        trace: opts.suspended,
        sigmask: None,
        job_fds,
        breakaway: opts.job.is_none() && opts.breakaway_to.is_some(),
        fallback_guard: None,
        report,
    };
    Ok(plan)
}

/// The error of a failed spawn: the step the child reported, if any, names what failed.
/// The error of `op` ("spawn" or "exec") when the child's hook reported `failed_step`.
fn step_error(op: &'static str, e: io::Error, failed_step: Option<usize>) -> Error {
    let what = failed_step
        .and_then(|s| STEPS.get(s))
        .copied()
        .filter(|s| !s.is_empty());
    let step_name = if failed_step == Some(STEP_TRACE as usize) {
        Some("start suspended (ptrace is not permitted here)")
    } else {
        what
    };
    match step_name {
        Some(s) => Error::from_io(op, e).with_detail(format!("could not {s}")),
        None => Error::from_io(op, e),
    }
}

/// Applies `opts` to `cmd` and spawns it; `mask`, if given, holds the signal mask the
/// child gets (the caller's mask before it blocked signals around the spawn). A spawn
/// into a job with a cgroup v2 directory is born there (`child::clone_spawn`); any other,
/// or one the kernel will not clone that way, goes through std.
pub(crate) fn spawn(
    cmd: &mut std::process::Command,
    spec: &mut crate::command::Spec,
    opts: &Options,
    mask: Option<&BlockGuard>,
) -> Result<(SpawnedChild, Spawned)> {
    let op = "spawn";
    let mut pty_master = None;
    let mut pty_slave_keep = None;
    if opts.pty {
        let (master, slave) = open_pty()
            .map_err(|e| Error::from_io(op, e).with_detail("could not open a pseudo-terminal"))?;
        let s = slave.as_raw_fd();
        // The slave becomes stdin/stdout/stderr unless the caller redirected them.
        let dup = |fd: &OwnedFd| -> Result<crate::Stdio> {
            let f = fd.try_clone().map_err(|e| Error::from_io(op, e))?;
            Ok(crate::Stdio::from(std::fs::File::from(f)))
        };
        if !opts.stdin_set {
            spec.stdin = Some(dup(&slave)?);
        }
        if !opts.stdout_set {
            spec.stdout = Some(dup(&slave)?);
        }
        if !opts.stderr_set {
            spec.stderr = Some(dup(&slave)?);
        }
        pty_master = Some(master);
        pty_slave_keep = Some((slave, s));
    }
    let spawned = |child| {
        Ok((
            child,
            Spawned {
                pty_master: pty_master.map(std::fs::File::from),
            },
        ))
    };
    let make_plan = |report_fd, born_in: Option<&Path>| {
        let mut plan = plan_for(opts, report_fd, born_in)?;
        plan.pty_slave = pty_slave_keep.as_ref().map(|(_, s)| *s);
        plan.sigmask = mask.map(|g| g.old);
        Ok::<_, Error>(plan)
    };
    // Born in the job's v2 cgroup when that is the job's only cgroup (pure cgroup v2):
    // then no migration is left. With v1 cgroups to join by writes anyway, each write
    // pays the migration lock as before and the std path measured no slower.
    let born_in = opts
        .job
        .as_ref()
        .or(opts.breakaway_to.as_ref())
        .filter(|_| !opts.through_std)
        .and_then(|j| {
            let dir = j.v2_dir.as_deref()?;
            let only_v2 = j.procs.iter().all(|p| p.parent() == Some(dir));
            only_v2.then(|| dir.to_owned())
        });
    if let Some(dir) = &born_in {
        let (report_r, report_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| Error::from_io(op, e.into()))?;
        let plan = make_plan(report_w.as_raw_fd(), Some(dir))?;
        match clone_spawn(spec, &plan, report_w, &report_r, dir) {
            Ok(CloneSpawn::Spawned(mut child)) => {
                drop(pty_slave_keep);
                finish_suspended(opts, &mut child)?;
                return spawned(child);
            }
            Ok(CloneSpawn::Failed(step, e)) => {
                return Err(step_error(op, e, Some(step as usize)));
            }
            Ok(CloneSpawn::Unavailable) => {}
            Err(e) => return Err(Error::from_io(op, e)),
        }
    }
    spec.apply_stdio(cmd);
    // The step-report pipe: the child writes the number of a failed step.
    let (report_r, report_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::from_io(op, e.into()))?;
    // Built again, not reused: born-in-the-cgroup plans skip the joining writes.
    let mut plan = make_plan(report_w.as_raw_fd(), None)?;
    let fallback = opts.job.as_ref().and_then(|j| j.fallback.clone());
    if let Some(f) = &fallback {
        // A process-group job: the child carries the job's marker. It stays in the
        // caller's process group unless asked otherwise (a group leader could not call
        // `setsid`, and a new group would lose the terminal's foreground).
        cmd.env(super::job_fallback::MARKER_VAR, f.env_value());
        plan.fallback_guard = f.guard_socket();
        f.spawning();
    }
    if plan.setpgid && !plan.setsid {
        // std does this itself, on its posix_spawn path too.
        cmd.process_group(0);
        plan.setpgid = false;
    }
    if plan.needs_hook() {
        // SAFETY: the hook only makes async-signal-safe calls (see `child`).
        unsafe { cmd.pre_exec(move || child(&plan)) };
    }
    let result = cmd.spawn();
    if let Some(f) = &fallback {
        f.spawned(result.as_ref().ok().map(|c| c.id()));
    }
    drop(report_w);
    drop(pty_slave_keep);
    let mut step = [0u8; 5];
    let failed_step = match rustix::io::read(&report_r, &mut step) {
        Ok(n) if n >= 1 => Some(step[0] as usize),
        _ => None,
    };
    let mut child = match result {
        Ok(c) => SpawnedChild::from_std(c),
        Err(e) => return Err(step_error(op, e, failed_step)),
    };
    finish_suspended(opts, &mut child)?;
    spawned(child)
}

/// For a suspended start, holds the child stopped after `exec`; on failure ends (and
/// reaps) it and says why.
fn finish_suspended(opts: &Options, child: &mut SpawnedChild) -> Result<()> {
    if opts.suspended {
        if let Err(e) = stop_after_exec(child.id()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::from_io("spawn", e)
                .with_detail("could not hold the child suspended after exec"));
        }
    }
    Ok(())
}

/// The parent side of a suspended start: wait for the post-exec trap, then detach with
/// `SIGSTOP` so the child stays stopped, untraced, before its first instruction.
fn stop_after_exec(pid: u32) -> io::Result<()> {
    let pid = pid as libc::pid_t;
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child's ptrace stop; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        break;
    }
    if !libc::WIFSTOPPED(status) {
        return Err(io::Error::other("the child did not stop after exec"));
    }
    // SAFETY: detaching our own tracee, delivering SIGSTOP.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_DETACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            libc::SIGSTOP as usize as *mut libc::c_void,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // Return only once the job-control stop has happened, so the caller sees a stopped
    // process (consuming the stop report is harmless: std waits only for the exit).
    loop {
        // SAFETY: waiting for our own child's stop; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        return if libc::WIFSTOPPED(status) {
            Ok(())
        } else {
            Err(io::Error::other("the child ended instead of stopping"))
        };
    }
}

/// corral's exit status from std's.
pub(crate) fn exit_status(st: std::process::ExitStatus) -> crate::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    crate::ExitStatus::from_wait_status(st.into_raw())
}

/// Adds one argument (std passes argv as is on Linux).
pub(crate) fn push_arg(cmd: &mut std::process::Command, arg: &std::ffi::OsStr) {
    cmd.arg(arg);
}

/// Replaces the calling process with the command, after applying the options.
pub(crate) fn exec(
    cmd: &mut std::process::Command,
    spec: &mut crate::command::Spec,
    opts: &Options,
) -> Error {
    spec.apply_stdio(cmd);
    if opts.suspended || opts.pty || opts.kill_on_drop {
        return Error::new(ErrorKind::InvalidInput, "exec")
            .with_detail("suspended, pty and kill_on_drop need a parent: use spawn");
    }
    let (report_r, report_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => return Error::from_io("exec", e.into()),
    };
    let plan = plan_for(opts, report_w.as_raw_fd(), None);
    let plan = match plan {
        Ok(p) => p,
        Err(e) => return e,
    };
    // SAFETY: the hook only makes async-signal-safe calls (see `child`).
    unsafe { cmd.pre_exec(move || child(&plan)) };
    let e = cmd.exec();
    drop(report_w);
    let mut step = [0u8; 1];
    let failed_step = match rustix::io::read(&report_r, &mut step) {
        Ok(1) => Some(usize::from(step[0])),
        _ => None,
    };
    step_error("exec", e, failed_step)
}

/// Forwards termination signals received by this process to `child` until the returned
/// guard is dropped: `SIGTERM`, `SIGHUP` always; `SIGINT` and `SIGQUIT` too when the child
/// is in another process group (else the terminal already sent them to it, and this
/// process ignores them meanwhile, as `system(3)` does).
pub(crate) fn forward_signals(child: &crate::Process) -> Result<ForwardGuard> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let op = "forward signals";
    // From /proc, not getpgrp(2): both read 0 when the leader is outside this pid namespace,
    // and the child's group comes from /proc too.
    let me = crate::Process::current()
        .and_then(|p| p.process_group())
        .map(|g| g.pgid);
    let same_group = match (me, child.process_group()) {
        (Ok(me), Ok(child)) => child.pgid == me,
        _ => true,
    };
    let mut sigs = vec![SIGTERM, SIGHUP];
    if !same_group {
        sigs.extend([SIGINT, SIGQUIT]);
    }
    let mut signals =
        signal_hook::iterator::Signals::new(&sigs).map_err(|e| Error::from_io(op, e))?;
    let handle = signals.handle();
    // Register (and so ignore) INT/QUIT meanwhile when the child shares our group.
    let ignored = if same_group {
        Some(
            signal_hook::iterator::Signals::new([SIGINT, SIGQUIT])
                .map_err(|e| Error::from_io(op, e))?,
        )
    } else {
        None
    };
    let target = crate::Process::open_ref(child.process_ref())?;
    let thread = std::thread::Builder::new()
        .name("corral-forward".into())
        .spawn(move || {
            for sig in signals.forever() {
                let _ = target.send_signal(crate::Signal::from_number(sig));
            }
        })
        .map_err(|e| Error::from_io(op, e))?;
    Ok(ForwardGuard {
        handle,
        ignored: ignored.map(|s| s.handle()),
        thread: Some(thread),
    })
}

/// The signals [`forward_signals`] may handle, blocked in the calling thread until the
/// guard drops: block them before spawning, so one that arrives before the handlers are
/// installed waits instead of killing this process (std resets the child's mask).
pub(crate) struct BlockGuard {
    old: libc::sigset_t,
}

pub(crate) fn block_forwarded() -> BlockGuard {
    // SAFETY: sigset manipulation on local values; pthread_sigmask on this thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
            libc::sigaddset(&mut set, s);
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        BlockGuard { old }
    }
}

impl Drop for BlockGuard {
    fn drop(&mut self) {
        // SAFETY: restoring this thread's previous mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

impl std::fmt::Debug for BlockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockGuard")
    }
}

/// Stops forwarding signals when dropped.
#[derive(Debug)]
pub(crate) struct ForwardGuard {
    handle: signal_hook::iterator::Handle,
    ignored: Option<signal_hook::iterator::Handle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(h) = &self.ignored {
            h.close();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
