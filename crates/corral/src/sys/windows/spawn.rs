//! Spawning on Windows: std's `Command` calls `CreateProcessW` (with
//! `CREATE_UNICODE_ENVIRONMENT` and an environment block sorted case-insensitively, as
//! Windows requires, and std's pipes and handle inheritance); corral adds the creation
//! flags (`CREATE_SUSPENDED`, the priority class, `CREATE_NEW_PROCESS_GROUP`) and quotes
//! the arguments itself ([`super::argv`]) so the child's C runtime splits them back
//! exactly. Options Windows has no equivalent for are refused with `Unsupported`, naming
//! the option, before anything is started.

use std::ffi::OsStr;
use std::os::windows::process::CommandExt;

use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED};

use super::argv;
use super::process::{class_to_win, Handle};
use super::util::win_error;
use crate::command::Options;
use crate::{Error, ErrorKind, Pid, Result, Signal};

/// Extra state of a spawned child.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pty_master: Option<std::fs::File>,
}

/// Adds one argument: quoted by corral for programs, by std for batch files (whose
/// arguments cmd.exe parses; std's escaping is hardened for that).
pub(crate) fn push_arg(cmd: &mut std::process::Command, arg: &OsStr) {
    if argv::is_batch(cmd.get_program()) {
        cmd.arg(arg);
    } else {
        cmd.raw_arg(argv::quote(arg));
    }
}

fn refuse(what: &str) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "spawn")
        .with_detail(format!("{what} is not available on Windows")))
}

/// Rejects the options this backend cannot honour.
fn check(opts: &Options) -> Result<()> {
    if opts.nice.is_some() {
        refuse("a nice value (use a priority class)")?;
    }
    if opts.ioprio.is_some() {
        refuse("an I/O priority")?;
    }
    if opts.new_session {
        refuse("a new session")?;
    }
    if opts.uid.is_some() || opts.gid.is_some() || opts.groups.is_some() {
        refuse("running as another user id or group")?;
    }
    if !opts.rlimits.is_empty() {
        refuse("resource limits (use a job)")?;
    }
    if opts.umask.is_some() {
        refuse("a umask")?;
    }
    if opts.parent_death_signal.is_some() {
        refuse("a parent-death signal (use a job with kill-on-close)")?;
    }
    if opts.keep_fds.is_some() {
        refuse("closing inherited descriptors")?;
    }
    if opts.pty {
        refuse("a pseudo-terminal")?;
    }
    if opts.forward_signals {
        refuse("signal forwarding")?;
    }
    Ok(())
}

/// Spawns the child with the creation flags the options ask for.
pub(crate) fn spawn(
    cmd: &mut std::process::Command,
    opts: &Options,
    _: Option<&BlockGuard>,
) -> Result<(std::process::Child, Spawned)> {
    check(opts)?;
    let mut flags = 0u32;
    // The job, affinity (and the priority class, which Wine ignores as a creation flag)
    // are set between creation and the first instruction: start suspended, set, resume.
    // The job comes first, so no instruction of the program runs outside it.
    let post_setup = opts.job.is_some() || opts.affinity.is_some() || opts.priority_class.is_some();
    if opts.suspended || post_setup {
        flags |= CREATE_SUSPENDED;
    }
    if let Some(c) = opts.priority_class {
        flags |= class_to_win(c);
    }
    if opts.new_process_group {
        flags |= CREATE_NEW_PROCESS_GROUP;
    }
    if let Some(cpus) = &opts.affinity {
        super::process::affinity_mask(cpus, "spawn")?;
    }
    cmd.creation_flags(flags);
    let mut child = cmd.spawn().map_err(|e| win_error("spawn", None, e))?;
    if post_setup {
        let pid = Pid::new(child.id()).expect("a child has a positive pid");
        let r = Handle::open(pid).and_then(|h| {
            if let Some(job) = &opts.job {
                job.assign(&h)?;
            }
            if let Some(cpus) = &opts.affinity {
                h.set_affinity(cpus)?;
            }
            if let Some(c) = opts.priority_class {
                h.set_priority_class(c)?;
            }
            if !opts.suspended {
                h.send_signal(Signal::Cont)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    }
    Ok((child, Spawned { pty_master: None }))
}

/// Windows cannot replace a running process's image.
pub(crate) fn exec(_: &mut std::process::Command, _: &Options) -> Error {
    Error::new(ErrorKind::Unsupported, "exec")
        .with_detail("Windows cannot replace the running program; spawn and wait instead")
}

/// Signal forwarding (never constructed on Windows).
#[derive(Debug)]
pub(crate) struct ForwardGuard;

/// Nothing to block on Windows.
#[derive(Debug)]
pub(crate) struct BlockGuard;

// The portable code drops the guard to end the blocked window; nothing to undo here.
impl Drop for BlockGuard {
    fn drop(&mut self) {}
}

pub(crate) fn block_forwarded() -> BlockGuard {
    BlockGuard
}

pub(crate) fn forward_signals(_: &crate::Process) -> Result<ForwardGuard> {
    Err(Error::new(ErrorKind::Unsupported, "forward signals")
        .with_detail("Windows has no signals to forward"))
}

/// An exit code from std (Windows always has one).
pub(crate) fn std_exit_status(s: std::process::ExitStatus) -> crate::ExitStatus {
    match s.code() {
        Some(c) => crate::ExitStatus::Exited(c),
        None => crate::ExitStatus::Unknown,
    }
}
