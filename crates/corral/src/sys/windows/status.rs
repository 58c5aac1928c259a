//! Process scheduler state on Windows, from the thread states of
//! `NtQuerySystemInformation(SystemProcessInformation)` (one call for the whole machine).
//!
//! A process has no state of its own on Windows; corral derives one from its threads:
//! any thread running, ready or just created → [`Status::Running`] (Wine 8 reports every
//! thread as just created, so there every process is running, as psutil says by default); every thread waiting because it is
//! suspended (`NtSuspendProcess`, `SuspendThread`, a suspended start) →
//! [`Status::Stopped`]; otherwise (all threads waiting for something) →
//! [`Status::Sleeping`]. A process with no thread left has exited ([`Status::Zombie`]
//! while handles keep it).
//!
//! The same read gives each thread's state ([`thread_status`]: running/ready →
//! `Running`, suspended → `Stopped`, waiting for a page-in → `DiskSleep`, other waits →
//! `Sleeping`, terminated → `Dead`) and its context switches (Windows counts them all
//! as one number, reported as voluntary, as psutil does; a process's are its live
//! threads' sum).

use std::collections::HashMap;

use windows_sys::Wdk::System::SystemInformation::{
    NtQuerySystemInformation, SystemProcessInformation,
};
use windows_sys::Win32::System::WindowsProgramming::{
    SYSTEM_PROCESS_INFORMATION, SYSTEM_THREAD_INFORMATION,
};

use crate::info::Status;
use crate::{Error, ErrorKind, Result};

/// `KTHREAD_STATE` values.
const INITIALIZED: u32 = 0;
const READY: u32 = 1;
const RUNNING: u32 = 2;
const STANDBY: u32 = 3;
const WAITING: u32 = 5;
const DEFERRED_READY: u32 = 7;
/// `KWAIT_REASON`: Suspended, and WrSuspended.
const SUSPENDED: u32 = 5;
const WR_SUSPENDED: u32 = 12;
/// `KWAIT_REASON`: PageIn, WrPageIn.
const PAGE_IN: u32 = 2;
const WR_PAGE_IN: u32 = 9;
/// `KTHREAD_STATE` Terminated.
const TERMINATED: u32 = 4;
/// STATUS_INFO_LENGTH_MISMATCH.
const LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;

/// One thread as `SystemProcessInformation` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ThreadRow {
    pub(crate) tid: u32,
    /// `KTHREAD_STATE`.
    pub(crate) state: u32,
    /// `KWAIT_REASON` (meaningful when waiting).
    pub(crate) wait_reason: u32,
    pub(crate) context_switches: u32,
}

/// The state of every process, by pid.
pub(crate) fn states() -> Result<HashMap<u32, Status>> {
    Ok(threads()?
        .into_iter()
        .map(|(pid, rows)| (pid, process_status(&rows)))
        .collect())
}

/// A process's state from its threads' rows.
pub(crate) fn process_status(rows: &[ThreadRow]) -> Status {
    let pairs: Vec<(u32, u32)> = rows.iter().map(|t| (t.state, t.wait_reason)).collect();
    of_threads(&pairs)
}

/// A process's context switches: its threads' sum (all counted as voluntary).
pub(crate) fn process_ctx_switches(rows: &[ThreadRow]) -> crate::info::CtxSwitches {
    crate::info::CtxSwitches {
        voluntary: rows.iter().map(|t| u64::from(t.context_switches)).sum(),
        involuntary: 0,
    }
}

/// Whether the thread is runnable: running, ready (waiting for a CPU), standing by to
/// run next, or deferred ready — what Linux counts in `procs_running`.
pub(crate) fn runnable(t: &ThreadRow) -> bool {
    matches!(t.state, READY | RUNNING | STANDBY | DEFERRED_READY)
}

/// A thread's status from its state and wait reason.
pub(crate) fn thread_status(t: &ThreadRow) -> Status {
    match (t.state, t.wait_reason) {
        (WAITING, SUSPENDED | WR_SUSPENDED) => Status::Stopped,
        (WAITING, PAGE_IN | WR_PAGE_IN) => Status::DiskSleep,
        (WAITING, _) => Status::Sleeping,
        (TERMINATED, _) => Status::Dead,
        // Initialized, ready, running, standby, transition (ready, stack paged out),
        // deferred ready, gate wait (a short kernel wait).
        _ => Status::Running,
    }
}

/// Every process's threads, by pid (one `NtQuerySystemInformation` call).
pub(crate) fn threads() -> Result<HashMap<u32, Vec<ThreadRow>>> {
    let op = "read thread states";
    let mut buf: Vec<u64> = vec![0; 64 * 1024];
    for _ in 0..8 {
        let mut need = 0u32;
        let bytes = (buf.len() * 8).min(u32::MAX as usize) as u32;
        // SAFETY: `buf` is a live buffer of `bytes` bytes, 8-aligned.
        let st = unsafe {
            NtQuerySystemInformation(
                SystemProcessInformation,
                buf.as_mut_ptr().cast(),
                bytes,
                &mut need,
            )
        };
        if st == LENGTH_MISMATCH {
            // The list grows between calls: ask for a margin more.
            let want = (need as usize).max(bytes as usize * 2) + 64 * 1024;
            buf = vec![0; want.div_ceil(8)];
            continue;
        }
        if st < 0 {
            return Err(Error::new(ErrorKind::Os, op).with_detail(format!(
                "NtQuerySystemInformation(SystemProcessInformation): NTSTATUS {:#x}",
                st as u32
            )));
        }
        return Ok(parse(&buf));
    }
    Err(Error::new(ErrorKind::Os, op).with_detail("the process list kept growing"))
}

/// Walks the `NextEntryOffset` chain; each process entry is followed by its threads.
fn parse(buf: &[u64]) -> HashMap<u32, Vec<ThreadRow>> {
    let len = buf.len() * 8;
    let base = buf.as_ptr().cast::<u8>();
    let psize = std::mem::size_of::<SYSTEM_PROCESS_INFORMATION>();
    let tsize = std::mem::size_of::<SYSTEM_THREAD_INFORMATION>();
    let mut out = HashMap::new();
    let mut at = 0usize;
    while at + psize <= len {
        // SAFETY: `at + psize` is inside the buffer; read unaligned (entries are 8-aligned
        // by Windows, but nothing here needs to rely on it).
        let p: SYSTEM_PROCESS_INFORMATION =
            unsafe { std::ptr::read_unaligned(base.add(at).cast()) };
        let n = p.NumberOfThreads as usize;
        let mut states = Vec::with_capacity(n);
        for i in 0..n {
            let t_at = at + psize + i * tsize;
            if t_at + tsize > len {
                break;
            }
            // SAFETY: checked to be inside the buffer just above.
            let t: SYSTEM_THREAD_INFORMATION =
                unsafe { std::ptr::read_unaligned(base.add(t_at).cast()) };
            states.push(ThreadRow {
                tid: t.ClientId.UniqueThread as usize as u32,
                state: t.ThreadState,
                wait_reason: t.WaitReason,
                // `Reserved3` is `ContextSwitches` (winternl.h hides the name).
                context_switches: t.Reserved3,
            });
        }
        out.insert(p.UniqueProcessId as usize as u32, states);
        if p.NextEntryOffset == 0 {
            break;
        }
        at += p.NextEntryOffset as usize;
    }
    out
}

/// A process's state from its threads' (state, wait reason) pairs.
fn of_threads(threads: &[(u32, u32)]) -> Status {
    if threads.is_empty() {
        return Status::Zombie;
    }
    if threads
        .iter()
        .any(|&(s, _)| matches!(s, INITIALIZED | READY | RUNNING | STANDBY | DEFERRED_READY))
    {
        return Status::Running;
    }
    if threads
        .iter()
        .all(|&(s, w)| s == WAITING && matches!(w, SUSPENDED | WR_SUSPENDED))
    {
        return Status::Stopped;
    }
    Status::Sleeping
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_threads() {
        assert_eq!(of_threads(&[]), Status::Zombie);
        assert_eq!(of_threads(&[(WAITING, 6), (RUNNING, 0)]), Status::Running);
        assert_eq!(
            of_threads(&[(WAITING, SUSPENDED), (WAITING, SUSPENDED)]),
            Status::Stopped
        );
        assert_eq!(
            of_threads(&[(WAITING, SUSPENDED), (WAITING, 6)]),
            Status::Sleeping
        );
        assert_eq!(of_threads(&[(WAITING, 6)]), Status::Sleeping);
        // The live machine: this process is running (this thread is).
        let me = std::process::id();
        assert_eq!(states().unwrap().get(&me), Some(&Status::Running));
        assert_eq!(of_threads(&[(INITIALIZED, 0)]), Status::Running);
    }

    #[test]
    fn thread_states() {
        let row = |state, wait_reason| ThreadRow {
            tid: 1,
            state,
            wait_reason,
            context_switches: 0,
        };
        assert_eq!(thread_status(&row(WAITING, SUSPENDED)), Status::Stopped);
        assert_eq!(thread_status(&row(WAITING, WR_SUSPENDED)), Status::Stopped);
        assert_eq!(thread_status(&row(WAITING, WR_PAGE_IN)), Status::DiskSleep);
        assert_eq!(thread_status(&row(WAITING, 6)), Status::Sleeping);
        assert_eq!(thread_status(&row(RUNNING, 0)), Status::Running);
        assert_eq!(thread_status(&row(READY, 0)), Status::Running);
        assert_eq!(thread_status(&row(TERMINATED, 0)), Status::Dead);
        // This thread is listed under this process.
        // SAFETY: plain call.
        let tid = unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() };
        let all = threads().unwrap();
        let mine = &all[&std::process::id()];
        assert!(mine.iter().any(|t| t.tid == tid), "{mine:?}");
    }
}
