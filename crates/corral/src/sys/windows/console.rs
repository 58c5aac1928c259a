//! Console control events to a process group (`os::windows::ProcessExt::send_ctrl_break`).
//!
//! `GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group)` reaches every process on the
//! caller's console whose process group is `group`. Its failure modes are the danger:
//! group 0 means *every* process on the caller's console, the caller included, and a pid
//! that is no group's root is not refused by Windows but can be taken like 0, reaching
//! the caller's own group too. So corral sends it only to a
//! process it knows is a group root on the caller's console: one it spawned with
//! `new_process_group(true)` and the console inherited, while the caller had a console.
//! Those are recorded here at spawn by (pid, creation time), so a `Process` opened again
//! by pid is recognised and a reused pid is not.

use std::sync::Mutex;

use windows_sys::Win32::System::Console::{
    GenerateConsoleCtrlEvent, GetConsoleProcessList, CTRL_BREAK_EVENT,
};

use super::process::Handle;
use super::util::last_error;
use crate::{Error, ErrorKind, Result};

/// How a group root spawned by corral stands to the caller's console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootConsole {
    /// It shares the caller's console: events reach it.
    Shared,
    /// It got a console of its own, or none (`Console::New`/`NoWindow`/`Detached`, or
    /// the caller had no console to share).
    Other,
}

/// Group roots corral spawned: (pid, creation ticks, console).
static ROOTS: Mutex<Vec<(u32, u64, RootConsole)>> = Mutex::new(Vec::new());

/// Past this many records, those of exited processes are dropped.
const PRUNE_AT: usize = 256;

/// Whether this process is attached to a console now.
pub(crate) fn caller_has_console() -> bool {
    let mut one = [0u32; 1];
    // SAFETY: a one-element buffer and its length; the count of attached processes
    // comes back (0 without a console).
    unsafe { GetConsoleProcessList(one.as_mut_ptr(), 1) > 0 }
}

/// Records a group root just spawned.
pub(crate) fn record_root(pid: u32, ticks: u64, console: RootConsole) {
    let mut roots = ROOTS.lock().unwrap_or_else(|p| p.into_inner());
    if roots.len() >= PRUNE_AT {
        roots.retain(|&(p, t, _)| {
            crate::Pid::new(p)
                .and_then(|p| Handle::open_with_start(p, t).ok())
                .is_some_and(|h| !h.has_exited())
        });
    }
    roots.push((pid, ticks, console));
}

fn root_console(pid: u32, ticks: u64) -> Option<RootConsole> {
    let roots = ROOTS.lock().unwrap_or_else(|p| p.into_inner());
    roots
        .iter()
        .find(|&&(p, t, _)| p == pid && t == ticks)
        .map(|&(_, _, c)| c)
}

impl Handle {
    /// `GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid)` for a group root corral
    /// spawned on the caller's console; anything else refused (see the module docs).
    pub(crate) fn send_ctrl_break(&self) -> Result<()> {
        let op = "send Ctrl-Break";
        let pid = self.pid;
        match root_console(pid.as_raw(), self.start_ticks) {
            None => {
                return Err(Error::new(ErrorKind::InvalidInput, op)
                    .with_pid(pid)
                    .with_detail(format!(
                        "pid {pid} was not spawned by corral with new_process_group(true), so it \
                         is not known to be a process group's root; GenerateConsoleCtrlEvent \
                         given any other id can reach the caller's own console group"
                    )))
            }
            Some(RootConsole::Other) => {
                return Err(Error::new(ErrorKind::InvalidInput, op)
                    .with_pid(pid)
                    .with_detail(
                        "the process group is not on this process's console (spawned with its \
                         own console, detached, or while this process had none): console \
                         events reach only processes sharing the sender's console",
                    ))
            }
            Some(RootConsole::Shared) => {}
        }
        if !caller_has_console() {
            return Err(Error::new(ErrorKind::InvalidInput, op)
                .with_pid(pid)
                .with_detail("this process has left its console (FreeConsole) since the spawn"));
        }
        // The group may outlive its root; the handle keeps the root's pid (the group id)
        // from being reused, so the id still names that group.
        // SAFETY: plain call with a group id that is a group root on our console.
        if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid.as_raw()) } == 0 {
            let e = last_error(op, Some(pid));
            // The pid is a group id here, and ERROR_INVALID_HANDLE speaks of the
            // console: neither "no such process" nor bad input from the caller.
            return Err(match e.kind() {
                ErrorKind::NoSuchProcess | ErrorKind::InvalidInput => e.with_kind(ErrorKind::Os),
                _ => e,
            });
        }
        Ok(())
    }
}
