//! Process identity on Windows: a process handle plus the creation time.
//!
//! A handle keeps the process object, and with it its pid, from being reused for as
//! long as it is open, so everything done through a [`Handle`] reaches that process or
//! fails; the creation time (`GetProcessTimes`, 100 ns ticks since 1601) is what a
//! snapshot row or a saved reference checks against. The handle is opened with the
//! least rights (`PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE`, which Windows grants
//! even for protected processes); operations that need more (terminate, suspend, set
//! information, read memory) duplicate it with those rights (`DuplicateHandle` on the
//! same object, so no pid lookup and no reuse race) and close the duplicate afterwards.

use std::ffi::OsString;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::PathBuf;
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    DuplicateHandle, FALSE, FILETIME, HANDLE, WAIT_FAILED, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, LookupAccountSidW, TokenUser, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::ProcessStatus::{
    K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS, PROCESS_MEMORY_COUNTERS_EX,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetExitCodeProcess, GetPriorityClass, GetProcessAffinityMask,
    GetProcessTimes, OpenProcess, QueryFullProcessImageNameW, SetPriorityClass,
    SetProcessAffinityMask, TerminateProcess, WaitForSingleObject, ABOVE_NORMAL_PRIORITY_CLASS,
    BELOW_NORMAL_PRIORITY_CLASS, HIGH_PRIORITY_CLASS, IDLE_PRIORITY_CLASS, INFINITE,
    NORMAL_PRIORITY_CLASS, PROCESS_ACCESS_RIGHTS, PROCESS_NAME_WIN32, PROCESS_QUERY_INFORMATION,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SET_INFORMATION, PROCESS_SET_LIMITED_INFORMATION,
    PROCESS_SUSPEND_RESUME, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, PROCESS_VM_READ,
    REALTIME_PRIORITY_CLASS,
};
use windows_sys::Win32::System::Threading::{
    GetProcessHandleCount, GetProcessIoCounters, OpenProcessToken, IO_COUNTERS,
};

use windows_sys::Wdk::System::Threading::{
    NtQueryInformationProcess, ProcessBasicInformation, ProcessCommandLineInformation,
    ProcessIoPriority, ProcessWow64Information,
};
use windows_sys::Win32::Foundation::UNICODE_STRING;
use windows_sys::Win32::System::Diagnostics::Debug::ReadProcessMemory;

/// Another process's memory through a handle with `PROCESS_VM_READ`; a failed read of
/// a process that exited meanwhile says so.
struct Remote<'a> {
    h: &'a Handle,
    raw: HANDLE,
    op: &'static str,
}

impl Memory for Remote<'_> {
    fn read(&mut self, addr: usize, buf: &mut [u8]) -> Result<()> {
        let mut got = 0usize;
        // SAFETY: `buf` is a live buffer of the length passed; ReadProcessMemory writes
        // at most that many bytes and reports how many.
        let ok = unsafe {
            ReadProcessMemory(
                self.raw,
                addr as *const _,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut got,
            )
        };
        if ok == 0 || got != buf.len() {
            self.h.verify(self.op, false)?;
            return Err(last_error(self.op, Some(self.h.pid)));
        }
        Ok(())
    }
}

/// The error kind of a failed `NtQueryInformationProcess`/`NtSetInformationProcess`.
fn nt_kind(status: i32) -> ErrorKind {
    match status as u32 {
        0xC000_0022 => ErrorKind::AccessDenied, // STATUS_ACCESS_DENIED
        // STATUS_NOT_IMPLEMENTED, STATUS_INVALID_INFO_CLASS: this system lacks it.
        0xC000_0002 | 0xC000_0003 => ErrorKind::Unsupported,
        _ => ErrorKind::Os,
    }
}

/// `PROCESS_BASIC_INFORMATION` (winternl.h), declared here to avoid a feature for it.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BasicInformation {
    exit_status: i32,
    peb_base_address: usize,
    affinity_mask: usize,
    base_priority: i32,
    unique_process_id: usize,
    inherited_from_unique_process_id: usize,
}

use super::groups::{self, GroupMask, GroupTable};
use super::peb::{self, Layout, Memory};
use super::util::{ft_duration, ft_u64, last_error, proc_address, win_error};
use crate::info::*;
use crate::{Error, ErrorKind, ExitStatus, Pid, PriorityClass, Result, Signal};

/// The rights every [`Handle`] holds.
const BASE_RIGHTS: PROCESS_ACCESS_RIGHTS = PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE;

/// `STILL_ACTIVE`: what `GetExitCodeProcess` says for a running process.
const STILL_ACTIVE: u32 = 259;

/// An open process: pid, creation time (FILETIME ticks) and a process handle.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) pid: Pid,
    pub(crate) start_ticks: u64,
    h: OwnedHandle,
}

fn gone(op: &'static str, pid: Pid) -> Error {
    Error::new(ErrorKind::NoSuchProcess, op).with_pid(pid)
}

/// Opens `pid` with `rights`, mapping "no such pid" and "protected" to clear errors.
fn open_raw(pid: Pid, rights: PROCESS_ACCESS_RIGHTS, op: &'static str) -> Result<OwnedHandle> {
    super::util::debug_privilege();
    // SAFETY: plain call; a null result means failure, reported by GetLastError.
    let h = unsafe { OpenProcess(rights, FALSE, pid.as_raw()) };
    if h.is_null() {
        let e = last_error(op, Some(pid));
        return Err(match e.kind() {
            ErrorKind::AccessDenied => e.with_detail(format!(
                "Windows does not let this process open pid {pid} (a protected or system process)"
            )),
            ErrorKind::NoSuchProcess => e.with_detail(format!("no process has pid {pid}")),
            _ => e,
        });
    }
    // SAFETY: `h` is a fresh handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as _) })
}

/// The creation time of the process behind `h` in FILETIME ticks.
pub(crate) fn creation_ticks(h: HANDLE, pid: Pid, op: &'static str) -> Result<u64> {
    let mut t = [FILETIME::default(); 4];
    let [c, e, k, u] = &mut t;
    // SAFETY: `h` is a valid process handle with query rights; the four out-pointers are
    // distinct, live FILETIMEs.
    let ok = unsafe { GetProcessTimes(h, c, e, k, u) };
    if ok == 0 {
        return Err(last_error(op, Some(pid)));
    }
    Ok(ft_u64(&t[0]))
}

impl Handle {
    fn raw(&self) -> HANDLE {
        self.h.as_raw_handle() as HANDLE
    }

    /// The raw process handle (owned by this `Handle`).
    pub(crate) fn raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.h.as_raw_handle()
    }

    /// Opens the process that has `pid` now.
    pub(crate) fn open(pid: Pid) -> Result<Handle> {
        let h = open_raw(pid, BASE_RIGHTS, "open")?;
        let start_ticks = creation_ticks(h.as_raw_handle() as HANDLE, pid, "open")?;
        Ok(Handle {
            pid,
            start_ticks,
            h,
        })
    }

    /// Opens a child this process just spawned: from the process handle the spawn kept
    /// (so a child running as another user, which this process may not be allowed to
    /// open by pid, is reached too), else by pid (pinned by the spawn's handle).
    pub(crate) fn open_child(pid: Pid) -> Result<Handle> {
        match super::spawn::take_spawned(pid.as_raw()) {
            Some(h) => Handle::open_child_with(pid, h),
            None => Handle::open(pid),
        }
    }

    /// A `Handle` for child `pid` from a least-rights handle of it.
    pub(crate) fn open_child_with(pid: Pid, h: OwnedHandle) -> Result<Handle> {
        let start_ticks = creation_ticks(h.as_raw_handle() as HANDLE, pid, "open")?;
        Ok(Handle {
            pid,
            start_ticks,
            h,
        })
    }

    /// A duplicate of a process handle with the rights every `Handle` holds (the
    /// spawn's own handle has all rights; this one only the least).
    pub(crate) fn base_duplicate(process: HANDLE) -> std::io::Result<OwnedHandle> {
        let mut out: HANDLE = std::ptr::null_mut();
        // SAFETY: duplicating a valid process handle of ours within this process, with
        // no more rights than it has; `out` receives a new handle we then own.
        let ok = unsafe {
            DuplicateHandle(
                GetCurrentProcess(),
                process,
                GetCurrentProcess(),
                &mut out,
                BASE_RIGHTS,
                FALSE,
                0,
            )
        };
        if ok == 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh handle we own.
        Ok(unsafe { OwnedHandle::from_raw_handle(out as _) })
    }

    /// Windows has no pidfs inodes.
    pub(crate) fn open_pinned(pid: Pid, _: u64) -> Result<Handle> {
        Err(Error::new(ErrorKind::Unsupported, "open")
            .with_pid(pid)
            .with_detail("PID:inode references are Linux pidfs inodes; Windows has none"))
    }

    /// Opens `pid` only if its creation time is `start_ticks`.
    pub(crate) fn open_with_start(pid: Pid, start_ticks: u64) -> Result<Handle> {
        let h = Handle::open(pid)?;
        if h.start_ticks != start_ticks {
            return Err(gone("open", pid).with_detail("the pid now belongs to a newer process"));
        }
        Ok(h)
    }

    /// No pidfs on Windows.
    pub(crate) fn inode(&self) -> Option<u64> {
        None
    }

    /// Whether the process has exited (its handle is signaled).
    pub(crate) fn has_exited(&self) -> bool {
        // SAFETY: waiting with a zero timeout on a handle we own with SYNCHRONIZE.
        let r = unsafe { WaitForSingleObject(self.raw(), 0) };
        r == WAIT_OBJECT_0
    }

    /// `Ok` while the process runs; once it exited, `Zombie` (the handle keeps the exited
    /// process object, as a zombie is kept on Linux) unless `zombie_ok`.
    pub(crate) fn verify(&self, op: &'static str, zombie_ok: bool) -> Result<()> {
        if zombie_ok || !self.has_exited() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Zombie, op)
                .with_pid(self.pid)
                .with_detail("the process has exited"))
        }
    }

    /// A duplicate of the handle with `rights` (plus the base rights), closed on drop.
    pub(crate) fn with_rights(
        &self,
        rights: PROCESS_ACCESS_RIGHTS,
        op: &'static str,
    ) -> Result<OwnedHandle> {
        let mut out: HANDLE = std::ptr::null_mut();
        // SAFETY: duplicating our own valid handle within this process; `out` receives a
        // new handle we then own.
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
            let e = last_error(op, Some(self.pid));
            return Err(match e.kind() {
                ErrorKind::AccessDenied => e.with_detail(
                    "this process may query but not change it (another user's or a protected process)",
                ),
                _ => e,
            });
        }
        // SAFETY: `out` is a fresh handle we own.
        Ok(unsafe { OwnedHandle::from_raw_handle(out as _) })
    }

    /// Ends the process with `code` as its exit code (`TerminateProcess`).
    pub(crate) fn terminate_with(&self, code: u32) -> Result<()> {
        let op = "terminate";
        let h = self.with_rights(PROCESS_TERMINATE, op)?;
        // SAFETY: `h` has PROCESS_TERMINATE on this process object.
        let ok = unsafe { TerminateProcess(h.as_raw_handle() as HANDLE, code) };
        if ok == 0 {
            let e = std::io::Error::last_os_error();
            // Terminating a process that already exited fails with ACCESS_DENIED.
            if self.has_exited() {
                return Ok(());
            }
            return Err(win_error(op, Some(self.pid), e));
        }
        Ok(())
    }

    /// Sends a portable signal, mapped as the table in `os::windows` documents.
    pub(crate) fn send_signal(&self, sig: Signal) -> Result<()> {
        match sig {
            Signal::Kill | Signal::Term => self.terminate_with(sig.number() as u32),
            Signal::Stop => self.nt_suspend_resume(b"NtSuspendProcess\0", "suspend"),
            Signal::Cont => self.nt_suspend_resume(b"NtResumeProcess\0", "resume"),
            _ => Err(Error::new(ErrorKind::Unsupported, "send signal")
                .with_pid(self.pid)
                .with_detail(format!(
                    "Windows has no {sig}; only KILL and TERM (TerminateProcess), STOP and \
                     CONT (suspend/resume) are mapped"
                ))),
        }
    }

    fn nt_suspend_resume(&self, name: &[u8], op: &'static str) -> Result<()> {
        let h = self.with_rights(PROCESS_SUSPEND_RESUME, op)?;
        let Some(f) = proc_address("ntdll.dll", name) else {
            return Err(Error::new(ErrorKind::Unsupported, op)
                .with_pid(self.pid)
                .with_detail("ntdll has no NtSuspendProcess/NtResumeProcess"));
        };
        // SAFETY: NtSuspendProcess and NtResumeProcess take one process handle and
        // return an NTSTATUS; the address came from ntdll's export of that name.
        let f: unsafe extern "system" fn(HANDLE) -> i32 = unsafe { std::mem::transmute(f) };
        // SAFETY: `h` is a process handle with PROCESS_SUSPEND_RESUME.
        let status = unsafe { f(h.as_raw_handle() as HANDLE) };
        if status < 0 {
            if self.has_exited() {
                return Err(gone(op, self.pid));
            }
            return Err(Error::new(ErrorKind::Os, op)
                .with_pid(self.pid)
                .with_detail(format!("NTSTATUS {:#x}", status as u32)));
        }
        Ok(())
    }

    /// Windows has no process-group signals; a console group gets Ctrl-Break through
    /// `os::windows::ProcessExt::send_ctrl_break`.
    pub(crate) fn signal_group(&self, _: Signal) -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported, "signal process group")
            .with_pid(self.pid)
            .with_detail(
                "Windows has no process-group signals; for Ctrl-Break to a console process \
                 group spawned with new_process_group, use os::windows::ProcessExt::send_ctrl_break",
            ))
    }

    /// Windows reports only exits: waits for one (or looks once).
    pub(crate) fn child_event(&self, block: bool) -> Result<Option<crate::ChildEvent>> {
        let timeout = if block { None } else { Some(Duration::ZERO) };
        match self.wait_exit(timeout) {
            Ok(()) => Ok(Some(crate::ChildEvent::Exited(self.exit_status()))),
            Err(e) if e.kind() == ErrorKind::Timeout => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the process exits, at most `timeout`.
    pub(crate) fn wait_exit(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let ms = match deadline {
                None => INFINITE,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    // Round up so a sub-millisecond remainder still waits; stay below
                    // INFINITE, and loop for longer waits.
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    ms.min(u128::from(INFINITE - 1)) as u32
                }
            };
            // SAFETY: waiting on a handle we own with SYNCHRONIZE.
            let r = unsafe { WaitForSingleObject(self.raw(), ms) };
            match r {
                WAIT_OBJECT_0 => return Ok(()),
                WAIT_TIMEOUT => {
                    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                        return Err(Error::new(ErrorKind::Timeout, "wait")
                            .with_pid(self.pid)
                            .with_detail("the process is still running"));
                    }
                }
                WAIT_FAILED => return Err(last_error("wait", Some(self.pid))),
                other => {
                    return Err(Error::new(ErrorKind::Os, "wait")
                        .with_pid(self.pid)
                        .with_detail(format!("WaitForSingleObject returned {other:#x}")))
                }
            }
        }
    }

    /// The exit code once the process has exited (`GetExitCodeProcess`).
    pub(crate) fn exit_status(&self) -> ExitStatus {
        let mut code = 0u32;
        // SAFETY: valid handle with query rights; `code` is a live u32.
        let ok = unsafe { GetExitCodeProcess(self.raw(), &mut code) };
        if ok == 0 || (code == STILL_ACTIVE && !self.has_exited()) {
            return ExitStatus::Unknown;
        }
        ExitStatus::Exited(code as i32)
    }

    /// The full path of the executable (`QueryFullProcessImageNameW`).
    pub(crate) fn exe(&self) -> Result<Option<PathBuf>> {
        let op = "read exe";
        let mut buf = vec![0u16; 1024];
        loop {
            let mut len = buf.len() as u32;
            // SAFETY: `buf` has room for `len` UTF-16 units; valid handle with
            // PROCESS_QUERY_LIMITED_INFORMATION.
            let ok = unsafe {
                QueryFullProcessImageNameW(
                    self.raw(),
                    PROCESS_NAME_WIN32,
                    buf.as_mut_ptr(),
                    &mut len,
                )
            };
            if ok != 0 {
                self.verify(op, true)?;
                return Ok(Some(PathBuf::from(OsString::from_wide(
                    &buf[..len as usize],
                ))));
            }
            let e = std::io::Error::last_os_error();
            // ERROR_INSUFFICIENT_BUFFER (122): grow up to the 32 767-unit path limit.
            if e.raw_os_error() == Some(122) && buf.len() < 32_768 {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            self.verify(op, false)?;
            return Err(win_error(op, Some(self.pid), e));
        }
    }

    /// The executable's file name (`cmd.exe`), as Task Manager and psutil name a
    /// process; for processes whose image cannot be queried, the snapshot's name.
    pub(crate) fn name(&self) -> Result<String> {
        match self.exe() {
            Ok(Some(p)) => {
                if let Some(n) = p.file_name() {
                    return Ok(n.to_string_lossy().into_owned());
                }
            }
            Ok(None) => {}
            Err(e) if e.kind() == ErrorKind::Zombie => return Err(e),
            Err(_) => {}
        }
        let entry = super::snapshot::find_entry(self.pid)?;
        self.verify("read name", false)?;
        Ok(entry.name)
    }

    /// The command line, split as the C runtime splits it:
    /// `NtQueryInformationProcess(ProcessCommandLineInformation)` (Windows 8.1+), else
    /// read from the process's PEB.
    pub(crate) fn cmdline(&self) -> Result<Vec<OsString>> {
        let op = "read cmdline";
        let text = match self.query_command_line(op)? {
            Some(t) => t,
            None => self.read_params_string(|l| l.cmdline, op)?,
        };
        let args = super::argv::split(&text);
        self.verify(op, false)?;
        Ok(args)
    }

    /// The working directory, from the process parameters in its PEB.
    pub(crate) fn cwd(&self) -> Result<PathBuf> {
        let op = "read cwd";
        let mut text = self.read_params_string(|l| l.cwd, op)?;
        self.verify(op, false)?;
        // Windows keeps the trailing backslash ("C:\dir\"); drop it but for a root.
        if text.len() > 3 && text.last() == Some(&(b'\\' as u16)) {
            text.pop();
        }
        Ok(PathBuf::from(OsString::from_wide(&text)))
    }

    /// The environment block (PEB → ProcessParameters → Environment), read page by page
    /// up to its double NUL, as `(name, value)` pairs in order. Entries whose name starts
    /// with `=` (the per-drive directories, `=C:=C:\\dir`) are kept.
    pub(crate) fn environ(&self) -> Result<Vec<(OsString, OsString)>> {
        let op = "read environ";
        let h = self.with_rights(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, op)?;
        let raw = h.as_raw_handle() as HANDLE;
        let (layout, params) = self.process_parameters(raw, op)?;
        let env = layout.environment(&mut Remote { h: self, raw, op }, params)?;
        if env == 0 {
            return Ok(Vec::new());
        }
        const PAGE: usize = 4096;
        const LIMIT: usize = 1 << 20; // units; far above Windows' 32 767-character values
        let mut block: Vec<u16> = Vec::new();
        let mut addr = env;
        loop {
            // Up to the next page boundary, so an unmapped page after the block is never
            // part of a read.
            let bytes = (PAGE - addr % PAGE).max(2) & !1;
            let mut chunk = vec![0u16; bytes / 2];
            self.read_remote_into(raw, addr, &mut chunk, op)?;
            block.extend_from_slice(&chunk);
            addr += bytes;
            if let Some(end) = block.windows(2).position(|w| w == [0, 0]) {
                block.truncate(end + 1);
                break;
            }
            if block.len() > LIMIT {
                return Err(Error::new(ErrorKind::Parse, op)
                    .with_pid(self.pid)
                    .with_detail("the environment block has no end"));
            }
        }
        self.verify(op, false)?;
        Ok(split_env_block(&block))
    }

    /// The layout of the process's parameters and their address: through the 32-bit
    /// PEB for a WOW64 process (see `peb.rs`), else the native one.
    fn process_parameters(&self, raw: HANDLE, op: &'static str) -> Result<(Layout, usize)> {
        let mut mem = Remote { h: self, raw, op };
        if cfg!(target_pointer_width = "64") {
            let mut peb32 = 0usize;
            let mut ret = 0u32;
            // SAFETY: a live usize of the size passed.
            let status = unsafe {
                NtQueryInformationProcess(
                    raw,
                    ProcessWow64Information,
                    (&mut peb32 as *mut usize).cast(),
                    std::mem::size_of::<usize>() as u32,
                    &mut ret,
                )
            };
            if status >= 0 && peb32 != 0 {
                let params = peb::LAYOUT_32.params(&mut mem, peb32)?;
                return Ok((peb::LAYOUT_32, params));
            }
        }
        let mut pbi = BasicInformation::default();
        let mut ret = 0u32;
        // SAFETY: `pbi` is live and of the size passed.
        let status = unsafe {
            NtQueryInformationProcess(
                raw,
                ProcessBasicInformation,
                (&mut pbi as *mut BasicInformation).cast(),
                std::mem::size_of::<BasicInformation>() as u32,
                &mut ret,
            )
        };
        if status < 0 {
            self.verify(op, false)?;
            return Err(self.nt_error(op, status));
        }
        let params = peb::NATIVE.params(&mut mem, pbi.peb_base_address)?;
        Ok((peb::NATIVE, params))
    }

    /// `ProcessCommandLineInformation`; `Ok(None)` where the OS lacks that class (Wine,
    /// Windows before 8.1).
    fn query_command_line(&self, op: &'static str) -> Result<Option<Vec<u16>>> {
        // A UNICODE_STRING header followed by the text; grow until it fits.
        let mut buf: Vec<u64> = vec![0; 512];
        loop {
            let mut ret = 0u32;
            // SAFETY: `buf` is a live, 8-byte aligned buffer of the stated size in bytes.
            let status = unsafe {
                NtQueryInformationProcess(
                    self.raw(),
                    ProcessCommandLineInformation,
                    buf.as_mut_ptr().cast(),
                    (buf.len() * 8) as u32,
                    &mut ret,
                )
            };
            // STATUS_INFO_LENGTH_MISMATCH / BUFFER_OVERFLOW / BUFFER_TOO_SMALL: grow.
            if matches!(status as u32, 0xC000_0004 | 0x8000_0005 | 0xC000_0023)
                && buf.len() < 1 << 16
            {
                buf.resize((ret as usize).div_ceil(8).max(buf.len() * 2), 0);
                continue;
            }
            // STATUS_INVALID_INFO_CLASS / STATUS_NOT_IMPLEMENTED: not here.
            if matches!(status as u32, 0xC000_0003 | 0xC000_0002) {
                return Ok(None);
            }
            if status < 0 {
                self.verify(op, false)?;
                return Err(self.nt_error(op, status));
            }
            // SAFETY: on success Windows wrote a UNICODE_STRING at the start of `buf`
            // whose Buffer points into `buf` and holds Length bytes.
            let text = unsafe {
                let us = &*(buf.as_ptr() as *const UNICODE_STRING);
                if us.Buffer.is_null() || us.Length == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(us.Buffer, us.Length as usize / 2).to_vec()
                }
            };
            return Ok(Some(text));
        }
    }

    fn nt_error(&self, op: &'static str, status: i32) -> Error {
        Error::new(nt_kind(status), op)
            .with_pid(self.pid)
            .with_detail(format!(
                "NtQueryInformationProcess: NTSTATUS {:#x}",
                status as u32
            ))
    }

    /// Reads a UNICODE_STRING of `RTL_USER_PROCESS_PARAMETERS` (the field `field` picks
    /// from the layout) out of the process's memory: PEB → ProcessParameters → the string.
    fn read_params_string(
        &self,
        field: fn(&Layout) -> usize,
        op: &'static str,
    ) -> Result<Vec<u16>> {
        let h = self.with_rights(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, op)?;
        let raw = h.as_raw_handle() as HANDLE;
        let (layout, params) = self.process_parameters(raw, op)?;
        layout.string(&mut Remote { h: self, raw, op }, params, field(&layout))
    }

    fn read_remote_into(
        &self,
        h: HANDLE,
        addr: usize,
        out: &mut [u16],
        op: &'static str,
    ) -> Result<()> {
        let mut got = 0usize;
        let len = std::mem::size_of_val(out);
        // SAFETY: `out` is a live buffer of `len` bytes.
        let ok = unsafe {
            ReadProcessMemory(h, addr as *const _, out.as_mut_ptr().cast(), len, &mut got)
        };
        if ok == 0 || got != len {
            self.verify(op, false)?;
            return Err(last_error(op, Some(self.pid)));
        }
        Ok(())
    }

    /// The parent pid from the Toolhelp snapshot (`th32ParentProcessID`). Windows keeps
    /// the creator's pid even after the creator exits, so it may name a newer process;
    /// `Process::parent` checks the start times.
    pub(crate) fn ppid(&self) -> Result<Option<Pid>> {
        let e = super::snapshot::find_entry(self.pid)?;
        self.verify("read ppid", true)?;
        Ok(Pid::new(e.ppid))
    }

    /// The thread count from the Toolhelp snapshot.
    pub(crate) fn num_threads(&self) -> Result<u64> {
        let e = super::snapshot::find_entry(self.pid)?;
        self.verify("read num_threads", false)?;
        Ok(u64::from(e.threads))
    }

    /// User and kernel time (`GetProcessTimes`).
    pub(crate) fn cpu_times(&self) -> Result<CpuTimes> {
        let mut t = [FILETIME::default(); 4];
        let [c, e, k, u] = &mut t;
        // SAFETY: valid handle; four distinct live FILETIMEs.
        let ok = unsafe { GetProcessTimes(self.raw(), c, e, k, u) };
        if ok == 0 {
            return Err(last_error("read cpu_times", Some(self.pid)));
        }
        Ok(CpuTimes {
            user: ft_duration(&t[3]),
            system: ft_duration(&t[2]),
            ..CpuTimes::default()
        })
    }

    pub(super) fn memory_counters(&self, op: &'static str) -> Result<PROCESS_MEMORY_COUNTERS_EX> {
        // SAFETY: an all-zero PROCESS_MEMORY_COUNTERS_EX is valid (plain integers).
        let mut m: PROCESS_MEMORY_COUNTERS_EX = unsafe { std::mem::zeroed() };
        m.cb = std::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32;
        let call = |h: HANDLE, m: &mut PROCESS_MEMORY_COUNTERS_EX| {
            // SAFETY: `m` is a live PROCESS_MEMORY_COUNTERS_EX whose `cb` says its size
            // (the EX struct starts with the plain one).
            unsafe {
                K32GetProcessMemoryInfo(
                    h,
                    (m as *mut PROCESS_MEMORY_COUNTERS_EX).cast::<PROCESS_MEMORY_COUNTERS>(),
                    m.cb,
                )
            }
        };
        if call(self.raw(), &mut m) == 0 {
            // Before Windows 8.1 this needs PROCESS_QUERY_INFORMATION | PROCESS_VM_READ.
            let h = self.with_rights(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, op)?;
            if call(h.as_raw_handle() as HANDLE, &mut m) == 0 {
                self.verify(op, false)?;
                return Err(last_error(op, Some(self.pid)));
            }
        }
        self.verify(op, false)?;
        Ok(m)
    }

    /// The number of open handles (`GetProcessHandleCount`): Windows' counterpart of open
    /// descriptors.
    pub(crate) fn num_fds(&self) -> Result<usize> {
        let op = "read num_fds";
        let mut n = 0u32;
        // SAFETY: valid handle with PROCESS_QUERY_LIMITED_INFORMATION; `n` is live.
        if unsafe { GetProcessHandleCount(self.raw(), &mut n) } == 0 {
            self.verify(op, false)?;
            return Err(last_error(op, Some(self.pid)));
        }
        self.verify(op, false)?;
        Ok(n as usize)
    }

    /// I/O counters (`GetProcessIoCounters`): Windows counts the bytes passed to I/O
    /// calls (cache included), given as both `*_bytes` and `*_chars`; there is no
    /// cancelled-write figure (0).
    pub(crate) fn io_counters(&self) -> Result<IoCounters> {
        let op = "read io_counters";
        // SAFETY: an all-zero IO_COUNTERS is valid (integers).
        let mut c: IO_COUNTERS = unsafe { std::mem::zeroed() };
        // SAFETY: valid handle; `c` is live.
        if unsafe { GetProcessIoCounters(self.raw(), &mut c) } == 0 {
            self.verify(op, false)?;
            return Err(last_error(op, Some(self.pid)));
        }
        self.verify(op, false)?;
        Ok(IoCounters {
            read_count: c.ReadOperationCount,
            write_count: c.WriteOperationCount,
            read_bytes: c.ReadTransferCount,
            write_bytes: c.WriteTransferCount,
            read_chars: c.ReadTransferCount,
            write_chars: c.WriteTransferCount,
            cancelled_write_bytes: 0,
        })
    }

    /// The account of the process's token, as `DOMAIN\\user`.
    pub(crate) fn username(&self) -> Result<String> {
        let op = "read username";
        let mut tok: HANDLE = std::ptr::null_mut();
        // SAFETY: valid process handle; `tok` receives a token handle we then own.
        if unsafe { OpenProcessToken(self.raw(), TOKEN_QUERY, &mut tok) } == 0 {
            self.verify(op, false)?;
            return Err(last_error(op, Some(self.pid)));
        }
        // SAFETY: a fresh handle we own.
        let tok = unsafe { OwnedHandle::from_raw_handle(tok as _) };
        let mut buf: Vec<u64> = vec![0; 64];
        let mut len = 0u32;
        // SAFETY: `buf` is a live, aligned buffer of the stated size.
        let ok = unsafe {
            GetTokenInformation(
                tok.as_raw_handle() as HANDLE,
                TokenUser,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                &mut len,
            )
        };
        if ok == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points into it.
        let sid = unsafe { (*(buf.as_ptr() as *const TOKEN_USER)).User.Sid };
        let mut name = vec![0u16; 256];
        let mut domain = vec![0u16; 256];
        let (mut nl, mut dl) = (name.len() as u32, domain.len() as u32);
        let mut used = 0;
        // SAFETY: `sid` is valid while `buf` lives; the name buffers have the lengths
        // passed.
        let ok = unsafe {
            LookupAccountSidW(
                std::ptr::null(),
                sid,
                name.as_mut_ptr(),
                &mut nl,
                domain.as_mut_ptr(),
                &mut dl,
                &mut used,
            )
        };
        if ok == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        self.verify(op, true)?;
        let name = String::from_utf16_lossy(&name[..nl as usize]);
        let domain = String::from_utf16_lossy(&domain[..dl as usize]);
        Ok(if domain.is_empty() {
            name
        } else {
            format!("{domain}\\{name}")
        })
    }

    /// Working set as rss, private bytes (the pagefile commit) as vms.
    pub(crate) fn memory_info(&self) -> Result<MemoryInfo> {
        let m = self.memory_counters("read memory")?;
        Ok(MemoryInfo {
            rss: m.WorkingSetSize as u64,
            // Commit charge: `PagefileUsage` equals `PrivateUsage` on Windows, and Wine 8
            // fills only the former for other processes.
            vms: m.PagefileUsage as u64,
            ..MemoryInfo::default()
        })
    }

    /// The I/O priority hint (`NtQueryInformationProcess(ProcessIoPriority)`) as a
    /// portable [`IoPriority`]: very low → `Idle`, low → best-effort 7, normal →
    /// best-effort 4, high → `Realtime` 0.
    pub(crate) fn ionice(&self) -> Result<IoPriority> {
        let op = "read ionice";
        let mut hint = 0u32;
        let mut ret = 0u32;
        // SAFETY: a live u32 of the size passed; valid handle with query rights.
        let status = unsafe {
            NtQueryInformationProcess(
                self.raw(),
                ProcessIoPriority,
                (&mut hint as *mut u32).cast(),
                4,
                &mut ret,
            )
        };
        if status < 0 {
            self.verify(op, false)?;
            return Err(self.nt_error(op, status));
        }
        Ok(hint_to_ioprio(hint))
    }

    /// Sets the I/O priority hint (`NtSetInformationProcess(ProcessIoPriority)`); see
    /// [`ioprio_to_hint`] for the mapping. High (`Realtime`) needs
    /// `SeIncreaseBasePriorityPrivilege`.
    pub(crate) fn set_ionice(&self, prio: IoPriority) -> Result<()> {
        let op = "set ionice";
        if prio.level > 7 {
            return Err(Error::new(ErrorKind::InvalidInput, op)
                .with_pid(self.pid)
                .with_detail(format!("level {} is not in 0..=7", prio.level)));
        }
        self.verify(op, false)?;
        let Some(f) = super::util::proc_address("ntdll.dll", b"NtSetInformationProcess\0") else {
            return Err(Error::new(ErrorKind::Unsupported, op)
                .with_pid(self.pid)
                .with_detail("ntdll has no NtSetInformationProcess"));
        };
        // SAFETY: the documented signature of ntdll's NtSetInformationProcess.
        let f: unsafe extern "system" fn(HANDLE, i32, *const core::ffi::c_void, u32) -> i32 =
            unsafe { std::mem::transmute(f) };
        let h = self.with_rights(PROCESS_SET_INFORMATION, op)?;
        let hint = ioprio_to_hint(prio);
        // SAFETY: `h` has PROCESS_SET_INFORMATION; a live u32 of the size passed.
        let status = unsafe {
            f(
                h.as_raw_handle() as HANDLE,
                ProcessIoPriority,
                (&hint as *const u32).cast(),
                4,
            )
        };
        if status < 0 {
            // STATUS_PRIVILEGE_NOT_HELD too: the high priority's privilege.
            let kind = if status as u32 == 0xC000_0061 {
                ErrorKind::AccessDenied
            } else {
                nt_kind(status)
            };
            let denied = kind == ErrorKind::AccessDenied;
            return Err(Error::new(kind, op).with_pid(self.pid).with_detail(format!(
                "NtSetInformationProcess(ProcessIoPriority): NTSTATUS {:#x}{}",
                status as u32,
                if denied && prio.class == IoClass::Realtime {
                    " (the high I/O priority needs SeIncreaseBasePriorityPrivilege)"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    /// The state derived from the process's threads (see `status.rs`).
    pub(crate) fn status(&self) -> Result<Status> {
        let op = "read status";
        if self.has_exited() {
            return Ok(Status::Zombie);
        }
        match super::status::states()?.get(&self.pid.as_raw()) {
            Some(&s) => Ok(s),
            None => Err(gone(op, self.pid)),
        }
    }

    /// Peak working set and peak commit (`PeakWorkingSetSize`, `PeakPagefileUsage`).
    pub(crate) fn memory_peaks(&self) -> Result<MemoryPeaks> {
        let m = self.memory_counters("read memory peaks")?;
        Ok(MemoryPeaks {
            peak_rss: m.PeakWorkingSetSize as u64,
            peak_vms: m.PeakPagefileUsage as u64,
            swap: 0,
        })
    }

    /// Every page fault (`PageFaultCount`) as `minor`: Windows does not split them.
    pub(crate) fn page_faults(&self) -> Result<PageFaults> {
        let m = self.memory_counters("read page faults")?;
        Ok(PageFaults {
            minor: u64::from(m.PageFaultCount),
            ..PageFaults::default()
        })
    }

    /// The process's TCP/UDP sockets, from the machine's socket tables.
    pub(crate) fn connections(&self, kind: ConnectionKind) -> Result<Vec<Connection>> {
        if kind == ConnectionKind::Unix {
            return Err(Error::new(ErrorKind::Unsupported, "read connections")
                .with_pid(self.pid)
                .with_detail("Windows lists no table of unix-domain sockets"));
        }
        self.verify("read connections", false)?;
        Ok(super::net::sockets(kind)?
            .into_iter()
            .filter(|s| s.pid == self.pid.as_raw())
            .map(|s| s.conn)
            .collect())
    }

    /// The priority class (`GetPriorityClass`).
    pub(crate) fn priority_class(&self) -> Result<PriorityClass> {
        let op = "read priority class";
        // SAFETY: valid handle with PROCESS_QUERY_LIMITED_INFORMATION.
        let c = unsafe { GetPriorityClass(self.raw()) };
        if c == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        self.verify(op, false)?;
        class_from_win(c).ok_or_else(|| {
            Error::new(ErrorKind::Parse, op)
                .with_pid(self.pid)
                .with_detail(format!("unknown priority class {c:#x}"))
        })
    }

    /// Sets the priority class (`SetPriorityClass`).
    pub(crate) fn set_priority_class(&self, class: PriorityClass) -> Result<()> {
        let op = "set priority class";
        self.verify(op, false)?;
        let h = self.with_rights(PROCESS_SET_INFORMATION, op)?;
        // SAFETY: `h` has PROCESS_SET_INFORMATION.
        let ok = unsafe { SetPriorityClass(h.as_raw_handle() as HANDLE, class_to_win(class)) };
        if ok == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        Ok(())
    }

    /// The CPUs the process may run on. One processor group (every machine up to 64
    /// CPUs): the process affinity mask (`GetProcessAffinityMask`). Several groups: the
    /// process's default CPU sets where it has some (`GetProcessDefaultCpuSetMasks`,
    /// Windows 11 / Server 2022: what [`Handle::set_affinity`] sets across groups), else
    /// the groups its threads are in (`GetProcessGroupAffinity`): one group, that group's
    /// process mask; several, the union of those groups' CPUs (Windows keeps no process
    /// mask then: `GetProcessAffinityMask` answers zero).
    pub(crate) fn affinity(&self) -> Result<Vec<usize>> {
        let op = "read cpu_affinity";
        let (mut p, mut s) = (0usize, 0usize);
        // SAFETY: valid handle; two live usizes.
        let ok = unsafe { GetProcessAffinityMask(self.raw(), &mut p, &mut s) };
        if ok == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        let table = GroupTable::machine();
        let cpus = match table.groups() {
            [only] => table.cpus_in(only.number, p as u64),
            _ => self.affinity_across_groups(table, p as u64, op)?,
        };
        self.verify(op, false)?;
        Ok(cpus)
    }

    /// [`Handle::affinity`] on a machine with several processor groups; `mask` is what
    /// `GetProcessAffinityMask` answered.
    fn affinity_across_groups(
        &self,
        table: &GroupTable,
        mask: u64,
        op: &'static str,
    ) -> Result<Vec<usize>> {
        let err = |e| win_error(op, Some(self.pid), e);
        if let Some(sets) = groups::default_cpu_set_masks(self.raw()) {
            let sets = sets.map_err(err)?;
            if !sets.is_empty() {
                return Ok(groups::union(table, &sets));
            }
        }
        let in_groups = groups::process_groups(self.raw()).map_err(err)?;
        Ok(match in_groups[..] {
            [g] if mask != 0 => table.cpus_in(g, mask),
            _ => {
                let masks: Vec<GroupMask> = in_groups
                    .iter()
                    .filter_map(|&g| table.groups().iter().find(|t| t.number == g))
                    .map(|g| GroupMask {
                        group: g.number,
                        mask: g.active,
                    })
                    .collect();
                groups::union(table, &masks)
            }
        })
    }

    /// Sets the CPUs the process may run on. One processor group: the process affinity
    /// mask (`SetProcessAffinityMask`). Several groups: CPUs all in the one group the
    /// process's threads are in, its affinity mask the same way (and any default CPU
    /// sets cleared, so the mask is what applies); anything else, the process's default
    /// CPU sets (`SetProcessDefaultCpuSetMasks`, Windows 11 / Server 2022), else
    /// `Unsupported` naming that call.
    pub(crate) fn set_affinity(&self, cpus: &[usize]) -> Result<()> {
        let op = "set cpu_affinity";
        let table = GroupTable::machine();
        let masks = table.masks(cpus, op)?;
        self.verify(op, false)?;
        if table.is_single() {
            return self.set_mask(masks[0].mask, cpus, op);
        }
        let err = |e| win_error(op, Some(self.pid), e);
        let in_groups = groups::process_groups(self.raw()).map_err(err)?;
        if let [m] = masks[..] {
            if in_groups == [m.group] {
                self.set_mask(m.mask, cpus, op)?;
                if let Some(Ok(sets)) = groups::default_cpu_set_masks(self.raw()) {
                    if !sets.is_empty() {
                        let h = self.with_rights(PROCESS_SET_LIMITED_INFORMATION, op)?;
                        if let Some(r) =
                            groups::set_default_cpu_set_masks(h.as_raw_handle() as HANDLE, &[])
                        {
                            r.map_err(err)?;
                        }
                    }
                }
                return Ok(());
            }
        }
        let h = self.with_rights(PROCESS_SET_LIMITED_INFORMATION, op)?;
        match groups::set_default_cpu_set_masks(h.as_raw_handle() as HANDLE, &masks) {
            Some(r) => r.map_err(err),
            None => {
                let list = |g: &mut dyn Iterator<Item = u16>| {
                    g.map(|g| g.to_string()).collect::<Vec<_>>().join(", ")
                };
                let why = if let [m] = masks[..] {
                    format!(
                        "CPUs {cpus:?} are in processor group {}, but the process's threads \
                         run in group(s) {}: SetProcessAffinityMask sets a mask within the \
                         process's own group",
                        m.group,
                        list(&mut in_groups.iter().copied())
                    )
                } else {
                    format!(
                        "CPUs {cpus:?} span processor groups {}: SetProcessAffinityMask takes \
                         one group's mask",
                        list(&mut masks.iter().map(|m| m.group))
                    )
                };
                Err(Error::new(ErrorKind::Unsupported, op)
                    .with_pid(self.pid)
                    .with_detail(format!(
                        "{why}, and CPUs of another group take the process's default CPU \
                         sets, set with SetProcessDefaultCpuSetMasks (Windows 11 / Server \
                         2022), which this Windows lacks; this machine's groups: {}",
                        table.describe()
                    )))
            }
        }
    }

    /// `SetProcessAffinityMask` with `mask` (of the process's group).
    fn set_mask(&self, mask: u64, cpus: &[usize], op: &'static str) -> Result<()> {
        let h = self.with_rights(PROCESS_SET_INFORMATION, op)?;
        // SAFETY: `h` has PROCESS_SET_INFORMATION.
        let ok = unsafe { SetProcessAffinityMask(h.as_raw_handle() as HANDLE, mask as usize) };
        if ok == 0 {
            let e = last_error(op, Some(self.pid));
            return Err(if e.kind() == ErrorKind::NoSuchProcess {
                e.with_kind(ErrorKind::InvalidInput)
                    .with_detail(format!("CPUs {cpus:?} are not all in this machine's set"))
            } else {
                e
            });
        }
        Ok(())
    }
}

/// Splits an environment block (without its final NUL) into `(name, value)` pairs; the
/// name ends at the first `=` after its first character.
pub(crate) fn split_env_block(block: &[u16]) -> Vec<(OsString, OsString)> {
    block
        .split(|&c| c == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let eq = e
                .iter()
                .skip(1)
                .position(|&c| c == u16::from(b'='))
                .map_or(e.len(), |p| p + 1);
            let value = if eq < e.len() { &e[eq + 1..] } else { &[][..] };
            (OsString::from_wide(&e[..eq]), OsString::from_wide(value))
        })
        .collect()
}

/// The creation flag / `SetPriorityClass` value of a class.
pub(crate) fn class_to_win(c: PriorityClass) -> u32 {
    match c {
        PriorityClass::Idle => IDLE_PRIORITY_CLASS,
        PriorityClass::BelowNormal => BELOW_NORMAL_PRIORITY_CLASS,
        PriorityClass::Normal => NORMAL_PRIORITY_CLASS,
        PriorityClass::AboveNormal => ABOVE_NORMAL_PRIORITY_CLASS,
        PriorityClass::High => HIGH_PRIORITY_CLASS,
        PriorityClass::Realtime => REALTIME_PRIORITY_CLASS,
    }
}

fn class_from_win(c: u32) -> Option<PriorityClass> {
    PriorityClass::ALL
        .into_iter()
        .find(|&k| class_to_win(k) == c)
}

/// Windows I/O priority hint (`IO_PRIORITY_HINT`: 0 very low … 3 high) → [`IoPriority`].
pub(crate) fn hint_to_ioprio(hint: u32) -> IoPriority {
    match hint {
        0 => IoPriority {
            class: IoClass::Idle,
            level: 0,
        },
        1 => IoPriority {
            class: IoClass::BestEffort,
            level: 7,
        },
        2 => IoPriority {
            class: IoClass::BestEffort,
            level: 4,
        },
        _ => IoPriority {
            class: IoClass::Realtime,
            level: 0,
        },
    }
}

/// [`IoPriority`] → Windows hint: `Idle` → very low; best-effort 5–7 → low; best-effort
/// 0–4 and no class → normal; `Realtime` → high.
pub(crate) fn ioprio_to_hint(p: IoPriority) -> u32 {
    match p.class {
        IoClass::Idle => 0,
        IoClass::BestEffort if p.level >= 5 => 1,
        IoClass::BestEffort | IoClass::None => 2,
        IoClass::Realtime => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_blocks_split() {
        let block: Vec<u16> = "=C:=C:\\dir\0PATH=a;b\0EMPTY=\0X=y=z\0"
            .encode_utf16()
            .collect();
        let env = split_env_block(&block);
        let pairs: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("=C:".to_string(), "C:\\dir".to_string()),
                ("PATH".into(), "a;b".into()),
                ("EMPTY".into(), "".into()),
                ("X".into(), "y=z".into()),
            ]
        );
    }

    #[test]
    fn io_priority_hints_round_trip() {
        for hint in 0..4 {
            assert_eq!(ioprio_to_hint(hint_to_ioprio(hint)), hint);
        }
        let be = |level| IoPriority {
            class: IoClass::BestEffort,
            level,
        };
        assert_eq!(ioprio_to_hint(be(0)), 2);
        assert_eq!(ioprio_to_hint(be(5)), 1);
        assert_eq!(
            ioprio_to_hint(IoPriority {
                class: IoClass::None,
                level: 0
            }),
            2
        );
    }
}
