//! Threads on Windows: Toolhelp32 (`TH32CS_SNAPTHREAD`) lists a process's threads; a
//! [`ThreadHandle`] is an `OpenThread` handle (which pins the thread id until closed)
//! plus the thread's creation time, so a reused id never matches. Each operation
//! duplicates the handle with the rights it needs.
//!
//! Per thread: the name (`GetThreadDescription`, looked up at run time: Windows 10
//! 1607+), CPU times and creation time from `GetThreadTimes`, the priority level from
//! `GetThreadPriority` (Windows' own levels: [`ThreadPriority`] maps one to one), the
//! affinity mask from `NtQueryInformationThread(ThreadBasicInformation)` on a machine with
//! one processor group, else `GetThreadGroupAffinity` (the thread's group and mask in
//! it); the affinity is set with `SetThreadGroupAffinity` (one group per thread, as
//! Windows runs a thread in one group). Windows has no
//! per-thread nice value, scheduling policy or I/O priority of the Linux kind (those are
//! `Unsupported`); the last CPU and context switches are not read yet (`None`, zero).

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows_sys::Wdk::System::Threading::{NtQueryInformationThread, ThreadBasicInformation};
use windows_sys::Win32::Foundation::{
    DuplicateHandle, LocalFree, FALSE, FILETIME, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::SystemInformation::GROUP_AFFINITY;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetProcessIdOfThread, GetThreadGroupAffinity, GetThreadPriority,
    GetThreadTimes, OpenThread, ResumeThread, SetThreadGroupAffinity, SetThreadPriority,
    SuspendThread, WaitForSingleObject, THREAD_ACCESS_RIGHTS, THREAD_QUERY_INFORMATION,
    THREAD_QUERY_LIMITED_INFORMATION, THREAD_SET_INFORMATION, THREAD_SET_LIMITED_INFORMATION,
    THREAD_SUSPEND_RESUME, THREAD_SYNCHRONIZE,
};

use super::groups::{GroupMask, GroupTable};
use super::process::Handle;
use super::status::{thread_status, ThreadRow};
use super::util::{ft_duration, ft_u64, last_error, proc_address, ticks_to_system_time};
use crate::info::{CtxSwitches, StartTime, Status};
use crate::sched::{SchedPolicy, ThreadPriority};
use crate::{Error, ErrorKind, Pid, PriorityClass, Result, ThreadInfo, Tid};

/// `THREAD_PRIORITY_ERROR_RETURN` (`MAXLONG`; in WindowsProgramming in windows-sys).
const THREAD_PRIORITY_ERROR_RETURN: i32 = i32::MAX;

/// The rights every thread handle has.
const BASE_RIGHTS: THREAD_ACCESS_RIGHTS = THREAD_QUERY_LIMITED_INFORMATION | THREAD_SYNCHRONIZE;

/// `THREAD_BASIC_INFORMATION` (not in windows-sys).
#[repr(C)]
struct BasicInformation {
    exit_status: i32,
    teb: *mut std::ffi::c_void,
    client_id: [usize; 2],
    affinity_mask: usize,
    priority: i32,
    base_priority: i32,
}

/// An open thread: ids, creation times (FILETIME ticks) and a thread handle.
#[derive(Debug)]
pub(crate) struct ThreadHandle {
    pub(crate) pid: Pid,
    pub(crate) tid: Tid,
    pub(crate) start_ticks: u64,
    pub(crate) proc_start: u64,
    h: OwnedHandle,
}

fn gone(op: &'static str, pid: Option<Pid>, tid: Tid) -> Error {
    let e = Error::new(ErrorKind::NoSuchProcess, op).with_detail(format!("no thread {tid}"));
    match pid {
        Some(p) => e.with_pid(p),
        None => e,
    }
}

/// Opens thread `tid` with the base rights.
fn open_raw(tid: Tid, op: &'static str) -> Result<OwnedHandle> {
    // SAFETY: plain call; null means failure.
    let h = unsafe { OpenThread(BASE_RIGHTS, FALSE, tid.as_raw()) };
    if h.is_null() {
        let e = last_error(op, None);
        return Err(match e.kind() {
            // ERROR_INVALID_PARAMETER: no thread has this id.
            ErrorKind::Os | ErrorKind::InvalidInput if e.raw_os_error() == Some(87) => {
                gone(op, None, tid)
            }
            ErrorKind::AccessDenied => e.with_detail(format!(
                "Windows does not let this process open thread {tid} (a protected process)"
            )),
            _ => e,
        });
    }
    // SAFETY: a fresh handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as _) })
}

/// (creation, user, kernel) of a thread handle.
fn times(h: HANDLE, op: &'static str) -> Result<(u64, FILETIME, FILETIME)> {
    let mut t = [FILETIME::default(); 4];
    let [c, e, k, u] = &mut t;
    // SAFETY: a thread handle with query rights; four distinct live FILETIMEs.
    if unsafe { GetThreadTimes(h, c, e, k, u) } == 0 {
        return Err(last_error(op, None));
    }
    Ok((ft_u64(&t[0]), t[3], t[2]))
}

/// The nearest level for a `GetThreadPriority` value.
fn level_of(p: i32) -> ThreadPriority {
    match p {
        i32::MIN..=-3 => ThreadPriority::Idle,
        -2 => ThreadPriority::Lowest,
        -1 => ThreadPriority::BelowNormal,
        0 => ThreadPriority::Normal,
        1 => ThreadPriority::AboveNormal,
        2 => ThreadPriority::Highest,
        _ => ThreadPriority::TimeCritical,
    }
}

/// The nearest level for a Toolhelp base priority (absolute 1..=31) in `class`.
fn level_of_base(base: i32, class: Option<PriorityClass>) -> ThreadPriority {
    let class_base = match class {
        Some(PriorityClass::Idle) => 4,
        Some(PriorityClass::BelowNormal) => 6,
        Some(PriorityClass::AboveNormal) => 10,
        Some(PriorityClass::High) => 13,
        Some(PriorityClass::Realtime) => 24,
        _ => 8,
    };
    match base {
        1 | 16 => ThreadPriority::Idle,
        15 | 31 => ThreadPriority::TimeCritical,
        b => level_of(b - class_base),
    }
}

impl ThreadHandle {
    fn raw(&self) -> HANDLE {
        self.h.as_raw_handle() as HANDLE
    }

    /// Opens thread `tid` of whatever process it belongs to.
    pub(crate) fn open(tid: Tid) -> Result<ThreadHandle> {
        let op = "open thread";
        let h = open_raw(tid, op)?;
        // SAFETY: a thread handle with query rights.
        let pid = unsafe { GetProcessIdOfThread(h.as_raw_handle() as HANDLE) };
        let pid = Pid::new(pid).ok_or_else(|| last_error(op, None))?;
        let proc_start = Handle::open(pid)?.start_ticks;
        ThreadHandle::from_parts(h, pid, proc_start, tid, op)
    }

    fn from_parts(
        h: OwnedHandle,
        pid: Pid,
        proc_start: u64,
        tid: Tid,
        op: &'static str,
    ) -> Result<ThreadHandle> {
        let (start_ticks, _, _) =
            times(h.as_raw_handle() as HANDLE, op).map_err(|e| e.with_pid(pid))?;
        Ok(ThreadHandle {
            pid,
            tid,
            start_ticks,
            proc_start,
            h,
        })
    }

    /// Opens thread `tid` only if it belongs to the process `p`.
    pub(crate) fn open_in(p: &Handle, tid: Tid) -> Result<ThreadHandle> {
        let op = "open thread";
        let h = open_raw(tid, op).map_err(|e| {
            if e.kind() == ErrorKind::NoSuchProcess {
                gone(op, Some(p.pid), tid).with_detail(format!("process has no thread {tid}"))
            } else {
                e.with_pid(p.pid)
            }
        })?;
        // SAFETY: a thread handle with query rights.
        let owner = unsafe { GetProcessIdOfThread(h.as_raw_handle() as HANDLE) };
        if owner != p.pid.as_raw() {
            return Err(gone(op, Some(p.pid), tid)
                .with_detail(format!("process {} has no thread {tid}", p.pid)));
        }
        ThreadHandle::from_parts(h, p.pid, p.start_ticks, tid, op)
    }

    /// Whether the thread has exited (its handle is signaled).
    pub(crate) fn has_exited(&self) -> bool {
        // SAFETY: a zero-timeout wait on our handle (SYNCHRONIZE).
        unsafe { WaitForSingleObject(self.raw(), 0) == WAIT_OBJECT_0 }
    }

    fn verify(&self, op: &'static str) -> Result<()> {
        if self.has_exited() {
            return Err(gone(op, Some(self.pid), self.tid).with_detail("the thread has exited"));
        }
        Ok(())
    }

    /// A duplicate of the handle with `rights` added, closed on drop.
    fn with_rights(&self, rights: THREAD_ACCESS_RIGHTS, op: &'static str) -> Result<OwnedHandle> {
        self.verify(op)?;
        let mut out: HANDLE = std::ptr::null_mut();
        // SAFETY: duplicating our own valid handle within this process.
        let ok = unsafe {
            DuplicateHandle(
                GetCurrentProcess(),
                self.raw(),
                GetCurrentProcess(),
                &mut out,
                rights | BASE_RIGHTS,
                FALSE,
                0,
            )
        };
        if ok == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        // SAFETY: a fresh handle we own.
        Ok(unsafe { OwnedHandle::from_raw_handle(out as _) })
    }

    fn basic(&self, op: &'static str) -> Result<BasicInformation> {
        let h = self.with_rights(THREAD_QUERY_INFORMATION, op)?;
        // SAFETY: all-zero is a valid BasicInformation to be filled in.
        let mut bi: BasicInformation = unsafe { std::mem::zeroed() };
        // SAFETY: `h` has THREAD_QUERY_INFORMATION; `bi` has the size passed.
        let status = unsafe {
            NtQueryInformationThread(
                h.as_raw_handle() as HANDLE,
                ThreadBasicInformation,
                (&mut bi as *mut BasicInformation).cast(),
                std::mem::size_of::<BasicInformation>() as u32,
                std::ptr::null_mut(),
            )
        };
        if status < 0 {
            return Err(Error::new(ErrorKind::Os, op)
                .with_pid(self.pid)
                .with_detail(format!(
                    "NtQueryInformationThread: NTSTATUS {:#x}",
                    status as u32
                )));
        }
        Ok(bi)
    }

    fn priority_level(&self, op: &'static str) -> Result<ThreadPriority> {
        // SAFETY: our handle has THREAD_QUERY_LIMITED_INFORMATION.
        let p = unsafe { GetThreadPriority(self.raw()) };
        if p == THREAD_PRIORITY_ERROR_RETURN {
            return Err(last_error(op, Some(self.pid)));
        }
        Ok(level_of(p))
    }

    /// The thread's description (`GetThreadDescription`), empty where Windows has none.
    fn name(&self) -> String {
        let Some(f) = proc_address("kernel32.dll", b"GetThreadDescription\0")
            .or_else(|| proc_address("kernelbase.dll", b"GetThreadDescription\0"))
        else {
            return String::new();
        };
        // SAFETY: GetThreadDescription is `HRESULT (HANDLE, PWSTR *)`; the address came
        // from the export of that name.
        let f: unsafe extern "system" fn(HANDLE, *mut *mut u16) -> i32 =
            unsafe { std::mem::transmute(f) };
        let mut p: *mut u16 = std::ptr::null_mut();
        // SAFETY: our handle has THREAD_QUERY_LIMITED_INFORMATION; `p` receives a
        // LocalAlloc'd NUL-terminated string.
        let hr = unsafe { f(self.raw(), &mut p) };
        if hr < 0 || p.is_null() {
            return String::new();
        }
        let mut n = 0usize;
        // SAFETY: `p` is NUL-terminated.
        while unsafe { *p.add(n) } != 0 {
            n += 1;
        }
        // SAFETY: `p..p+n` was just read.
        let name = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, n) });
        // SAFETY: the string was allocated with LocalAlloc by GetThreadDescription.
        unsafe { LocalFree(p.cast()) };
        name
    }

    /// What `Process::threads` lists for this thread.
    pub(crate) fn info(&self) -> Result<ThreadInfo> {
        let all = super::status::threads().map_err(|e| e.with_pid(self.pid))?;
        let rows = all.get(&self.pid.as_raw()).map_or(&[][..], |r| &r[..]);
        self.info_from(rows)
    }

    /// The info, with state and context switches from `rows` (the process's threads as
    /// `SystemProcessInformation` listed them).
    fn info_from(&self, rows: &[ThreadRow]) -> Result<ThreadInfo> {
        let op = "read thread";
        self.verify(op)?;
        let row = rows.iter().find(|r| r.tid == self.tid.as_raw());
        let (start, user, system) = times(self.raw(), op).map_err(|e| e.with_pid(self.pid))?;
        let priority = self.priority_level(op)?;
        let affinity = self.affinity_in(op)?;
        Ok(ThreadInfo {
            tid: self.tid,
            name: self.name(),
            status: if self.has_exited() {
                Status::Dead
            } else {
                // Not listed: started after the list was read.
                row.map_or(Status::Running, thread_status)
            },
            user: ft_duration(&user),
            system: ft_duration(&system),
            nice: 0,
            policy: SchedPolicy::Normal,
            rt_priority: 0,
            priority,
            affinity,
            cpu: None,
            ctx_switches: CtxSwitches {
                voluntary: row.map_or(0, |r| u64::from(r.context_switches)),
                involuntary: 0,
            },
            start: StartTime {
                wall: ticks_to_system_time(start),
                raw: start,
            },
        })
    }

    /// `SetThreadPriority` with the level's Windows value.
    pub(crate) fn set_priority(&self, level: ThreadPriority) -> Result<()> {
        let op = "set thread priority";
        // Windows needs THREAD_SET_LIMITED_INFORMATION; Wine wants THREAD_SET_INFORMATION:
        // try the least first.
        let mut last = None;
        for rights in [THREAD_SET_LIMITED_INFORMATION, THREAD_SET_INFORMATION] {
            let h = self.with_rights(rights, op)?;
            // SAFETY: `h` has `rights`, which SetThreadPriority takes.
            if unsafe { SetThreadPriority(h.as_raw_handle() as HANDLE, level.windows_offset()) }
                != 0
            {
                return Ok(());
            }
            let e = last_error(op, Some(self.pid));
            if e.kind() != ErrorKind::AccessDenied {
                return Err(e);
            }
            last = Some(e);
        }
        Err(last.expect("one attempt was made"))
    }

    pub(crate) fn set_sched(&self, _: &crate::LinuxSched, op: &'static str) -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported, op)
            .with_pid(self.pid)
            .with_detail("Windows threads have priority levels, not scheduling policies"))
    }

    pub(crate) fn set_nice(&self, _: i32) -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported, "set thread nice")
            .with_pid(self.pid)
            .with_detail("Windows threads have priority levels, not nice values"))
    }

    /// The thread's affinity mask as CPUs.
    pub(crate) fn affinity(&self) -> Result<Vec<usize>> {
        self.affinity_in("read thread affinity")
    }

    /// One processor group: the mask of `ThreadBasicInformation` (group 0's). Several:
    /// `GetThreadGroupAffinity`, the thread's (primary) group and its mask there.
    fn affinity_in(&self, op: &'static str) -> Result<Vec<usize>> {
        let table = GroupTable::machine();
        if let [only] = table.groups() {
            return self
                .basic(op)
                .map(|b| table.cpus_in(only.number, b.affinity_mask as u64));
        }
        let mut g = GROUP_AFFINITY::default();
        // SAFETY: our handle has THREAD_QUERY_LIMITED_INFORMATION; `g` is live.
        if unsafe { GetThreadGroupAffinity(self.raw(), &mut g) } == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        let m = GroupMask::from_win(&g);
        Ok(table.cpus_in(m.group, m.mask))
    }

    /// `SetThreadGroupAffinity`: the CPUs must lie in one processor group (a Windows
    /// thread runs in one group), which becomes the thread's group.
    pub(crate) fn set_affinity(&self, cpus: &[usize]) -> Result<()> {
        let op = "set thread affinity";
        let m = GroupTable::machine().one_group(
            cpus,
            op,
            "a Windows thread runs in one processor group",
        )?;
        let h = self.with_rights(THREAD_SET_INFORMATION | THREAD_QUERY_INFORMATION, op)?;
        let g = m.to_win();
        // SAFETY: `h` has THREAD_SET_INFORMATION; `g` is a live GROUP_AFFINITY with its
        // reserved words zero; no previous affinity is asked for.
        if unsafe { SetThreadGroupAffinity(h.as_raw_handle() as HANDLE, &g, std::ptr::null_mut()) }
            == 0
        {
            let e = last_error(op, Some(self.pid));
            return Err(if e.raw_os_error() == Some(87) {
                e.with_kind(ErrorKind::InvalidInput).with_detail(format!(
                    "CPUs {cpus:?} are not all in the process's affinity mask"
                ))
            } else {
                e
            });
        }
        Ok(())
    }

    pub(crate) fn io_priority(&self) -> Result<crate::IoPriority> {
        Err(no_io_priority("read thread I/O priority", self.pid))
    }

    pub(crate) fn set_io_priority(&self, _: crate::IoPriority) -> Result<()> {
        Err(no_io_priority("set thread I/O priority", self.pid))
    }

    /// `SuspendThread`: the thread's suspend count goes up by one.
    pub(crate) fn suspend(&self) -> Result<()> {
        let op = "suspend thread";
        let h = self.with_rights(THREAD_SUSPEND_RESUME, op)?;
        // SAFETY: `h` has THREAD_SUSPEND_RESUME.
        if unsafe { SuspendThread(h.as_raw_handle() as HANDLE) } == u32::MAX {
            return Err(last_error(op, Some(self.pid)));
        }
        Ok(())
    }

    /// `ResumeThread`: the thread's suspend count goes down by one (it runs at zero).
    pub(crate) fn resume(&self) -> Result<()> {
        let op = "resume thread";
        let h = self.with_rights(THREAD_SUSPEND_RESUME, op)?;
        // SAFETY: `h` has THREAD_SUSPEND_RESUME.
        if unsafe { ResumeThread(h.as_raw_handle() as HANDLE) } == u32::MAX {
            return Err(last_error(op, Some(self.pid)));
        }
        Ok(())
    }
}

fn no_io_priority(op: &'static str, pid: Pid) -> Error {
    Error::new(ErrorKind::Unsupported, op)
        .with_pid(pid)
        .with_detail("Windows has no per-thread I/O priority of this kind")
}

/// The thread ids and base priorities Toolhelp lists for `pid`.
fn thread_entries(pid: Pid, op: &'static str) -> Result<Vec<(u32, i32)>> {
    // SAFETY: plain call; INVALID_HANDLE_VALUE means failure.
    let snap = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if snap == INVALID_HANDLE_VALUE {
        return Err(last_error(op, Some(pid)));
    }
    // SAFETY: a fresh snapshot handle we own.
    let snap = unsafe { OwnedHandle::from_raw_handle(snap as _) };
    // SAFETY: all-zero is a valid THREADENTRY32; dwSize is set below.
    let mut te: THREADENTRY32 = unsafe { std::mem::zeroed() };
    te.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
    let mut out = Vec::new();
    // SAFETY: a snapshot handle and a THREADENTRY32 with dwSize set.
    let mut ok = unsafe { Thread32First(snap.as_raw_handle() as HANDLE, &mut te) };
    while ok != 0 {
        if te.th32OwnerProcessID == pid.as_raw() {
            out.push((te.th32ThreadID, te.tpBasePri));
        }
        // SAFETY: as above.
        ok = unsafe { Thread32Next(snap.as_raw_handle() as HANDLE, &mut te) };
    }
    Ok(out)
}

impl Handle {
    /// Every thread of the process (Toolhelp), each opened for its details; threads that
    /// end while listed are left out, threads that cannot be opened are listed with what
    /// Toolhelp knows (id and base priority).
    pub(crate) fn threads(&self) -> Result<Vec<ThreadInfo>> {
        let op = "read threads";
        self.verify(op, false)?;
        let entries = thread_entries(self.pid, op)?;
        let all = super::status::threads().map_err(|e| e.with_pid(self.pid))?;
        let rows = all.get(&self.pid.as_raw()).map_or(&[][..], |r| &r[..]);
        let row_of = |tid: Tid| rows.iter().find(|r| r.tid == tid.as_raw());
        let class = self.priority_class().ok();
        let mut out = Vec::with_capacity(entries.len());
        for (tid, base) in entries {
            let Some(tid) = Tid::new(tid) else { continue };
            match ThreadHandle::open_in(self, tid).and_then(|t| t.info_from(rows)) {
                Ok(i) => out.push(i),
                Err(e) if e.kind() == ErrorKind::NoSuchProcess => {}
                Err(e) if e.kind() == ErrorKind::AccessDenied => out.push(ThreadInfo {
                    tid,
                    name: String::new(),
                    status: row_of(tid).map_or(Status::Running, thread_status),
                    user: Default::default(),
                    system: Default::default(),
                    nice: 0,
                    policy: SchedPolicy::Normal,
                    rt_priority: 0,
                    priority: level_of_base(base, class),
                    affinity: Vec::new(),
                    cpu: None,
                    ctx_switches: CtxSwitches {
                        voluntary: row_of(tid).map_or(0, |r| u64::from(r.context_switches)),
                        involuntary: 0,
                    },
                    start: StartTime {
                        wall: ticks_to_system_time(0),
                        raw: 0,
                    },
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Opens thread `tid` of this process.
    pub(crate) fn thread(&self, tid: Tid) -> Result<ThreadHandle> {
        self.verify("open thread", false)?;
        ThreadHandle::open_in(self, tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_both_ways() {
        for l in ThreadPriority::ALL {
            assert_eq!(level_of(l.windows_offset()), l, "{l:?}");
        }
        assert_eq!(
            level_of_base(8, Some(PriorityClass::Normal)),
            ThreadPriority::Normal
        );
        assert_eq!(
            level_of_base(15, Some(PriorityClass::Normal)),
            ThreadPriority::TimeCritical
        );
        assert_eq!(
            level_of_base(5, Some(PriorityClass::Idle)),
            ThreadPriority::AboveNormal
        );
        assert_eq!(level_of_base(1, None), ThreadPriority::Idle);
    }
}
