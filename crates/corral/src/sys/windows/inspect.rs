//! Windows-only process details behind `os::windows::ProcessExt`: loaded modules
//! (`EnumProcessModulesEx`), the token's integrity level, and whether the process runs
//! under WOW64.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::PathBuf;

use windows_sys::Win32::Foundation::{ERROR_PARTIAL_COPY, HANDLE, HMODULE};
use windows_sys::Win32::Security::{
    GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, TokenIntegrityLevel,
    TOKEN_MANDATORY_LABEL, TOKEN_QUERY,
};
use windows_sys::Win32::System::ProcessStatus::{
    K32EnumProcessModulesEx, K32GetModuleBaseNameW, K32GetModuleFileNameExW,
    K32GetModuleInformation, LIST_MODULES_ALL, MODULEINFO,
};
use windows_sys::Win32::System::Threading::{
    OpenProcessToken, PROCESS_QUERY_INFORMATION, PROCESS_VM_READ,
};

use super::process::Handle;
use super::util::{from_wide_nul, last_error, proc_address};
use crate::os::windows::{IntegrityLevel, Module};
use crate::{Error, ErrorKind, Result};

/// How often a module list that changed while it was read is read again.
const MODULE_TRIES: usize = 8;

impl Handle {
    /// The loaded modules, the program first (`EnumProcessModulesEx(LIST_MODULES_ALL)`,
    /// then for each its path, base name and extent).
    pub(crate) fn modules(&self) -> Result<Vec<Module>> {
        let op = "read modules";
        let h = self.with_rights(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, op)?;
        let raw = h.as_raw_handle() as HANDLE;
        let list = self.module_handles(raw, op)?;
        let mut out = Vec::with_capacity(list.len());
        for m in list {
            let mut path = vec![0u16; 32_768];
            // SAFETY: `raw` has PROCESS_QUERY_INFORMATION | PROCESS_VM_READ; `path` holds
            // the stated number of units.
            let n =
                unsafe { K32GetModuleFileNameExW(raw, m, path.as_mut_ptr(), path.len() as u32) };
            if n == 0 {
                // Unloaded since the list was read: leave it out.
                continue;
            }
            let mut name = vec![0u16; 1024];
            // SAFETY: as above.
            let k = unsafe { K32GetModuleBaseNameW(raw, m, name.as_mut_ptr(), name.len() as u32) };
            let mut info = MODULEINFO {
                lpBaseOfDll: std::ptr::null_mut(),
                SizeOfImage: 0,
                EntryPoint: std::ptr::null_mut(),
            };
            // SAFETY: as above; `info` is a live MODULEINFO of the stated size.
            let ok = unsafe {
                K32GetModuleInformation(raw, m, &mut info, std::mem::size_of::<MODULEINFO>() as u32)
            };
            if ok == 0 {
                continue;
            }
            let path = PathBuf::from(from_wide_nul(&path[..n as usize]));
            let name = if k == 0 {
                path.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                from_wide_nul(&name[..k as usize])
                    .to_string_lossy()
                    .into_owned()
            };
            out.push(Module {
                name,
                path,
                base: info.lpBaseOfDll as usize,
                size: info.SizeOfImage as usize,
            });
        }
        self.verify(op, false)?;
        Ok(out)
    }

    /// The module handles (base addresses), read again while the list grows or the
    /// loader changes it under the read (`ERROR_PARTIAL_COPY`).
    fn module_handles(&self, raw: HANDLE, op: &'static str) -> Result<Vec<HMODULE>> {
        let mut list: Vec<HMODULE> = vec![std::ptr::null_mut(); 256];
        let mut last = None;
        for _ in 0..MODULE_TRIES {
            let mut need = 0u32;
            let bytes = std::mem::size_of_val(&list[..]) as u32;
            // SAFETY: `list` holds `bytes` bytes of HMODULE slots; `need` is live.
            let ok = unsafe {
                K32EnumProcessModulesEx(raw, list.as_mut_ptr(), bytes, &mut need, LIST_MODULES_ALL)
            };
            if ok != 0 {
                let n = need as usize / std::mem::size_of::<HMODULE>();
                if n <= list.len() {
                    list.truncate(n);
                    return Ok(list);
                }
                list = vec![std::ptr::null_mut(); n + 64];
                continue;
            }
            let e = last_error(op, Some(self.pid));
            self.verify(op, false)?;
            if e.raw_os_error() != Some(ERROR_PARTIAL_COPY as i32) {
                return Err(e);
            }
            // A process still starting (its loader has not listed anything yet), or the
            // list changing under the read.
            last = Some(e);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err(last
            .expect("every try failed")
            .with_detail("the module list could not be read (a process still starting?)"))
    }

    /// The integrity level of the process's token (`TokenIntegrityLevel`: the last
    /// sub-authority of the mandatory label's SID).
    pub(crate) fn integrity_level(&self) -> Result<IntegrityLevel> {
        let op = "read integrity level";
        let mut tok: HANDLE = std::ptr::null_mut();
        // SAFETY: our process handle (PROCESS_QUERY_LIMITED_INFORMATION, which
        // OpenProcessToken takes); `tok` receives a token handle we then own.
        if unsafe { OpenProcessToken(self.raw_handle() as HANDLE, TOKEN_QUERY, &mut tok) } == 0 {
            self.verify(op, false)?;
            return Err(last_error(op, Some(self.pid)));
        }
        // SAFETY: a fresh handle we own.
        let tok = unsafe { OwnedHandle::from_raw_handle(tok as _) };
        let mut buf: Vec<u64> = vec![0; 32];
        let mut len = 0u32;
        // SAFETY: `buf` is a live, aligned buffer of the stated size.
        let ok = unsafe {
            GetTokenInformation(
                tok.as_raw_handle() as HANDLE,
                TokenIntegrityLevel,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                &mut len,
            )
        };
        if ok == 0 {
            return Err(last_error(op, Some(self.pid)));
        }
        // SAFETY: on success the buffer starts with a TOKEN_MANDATORY_LABEL whose SID
        // points into the same buffer; GetSidSubAuthorityCount/GetSidSubAuthority read
        // that valid SID.
        let rid = unsafe {
            let label = &*buf.as_ptr().cast::<TOKEN_MANDATORY_LABEL>();
            let sid = label.Label.Sid;
            if sid.is_null() {
                return Err(Error::new(ErrorKind::Parse, op)
                    .with_pid(self.pid)
                    .with_detail("the token has no integrity label"));
            }
            let count = *GetSidSubAuthorityCount(sid);
            if count == 0 {
                return Err(Error::new(ErrorKind::Parse, op)
                    .with_pid(self.pid)
                    .with_detail("the integrity label's SID has no sub-authority"));
            }
            *GetSidSubAuthority(sid, u32::from(count) - 1)
        };
        self.verify(op, false)?;
        Ok(IntegrityLevel::from_rid(rid))
    }

    /// Whether the process is a 32-bit one running on a 64-bit Windows (WOW64):
    /// `IsWow64Process2` where Windows has it (10 1511+), else `IsWow64Process`.
    pub(crate) fn is_wow64(&self) -> Result<bool> {
        let op = "read WOW64";
        let raw = self.raw_handle() as HANDLE;
        let found = proc_address("kernel32.dll", b"IsWow64Process2\0")
            .or_else(|| proc_address("kernelbase.dll", b"IsWow64Process2\0"));
        let r = if let Some(f) = found {
            // SAFETY: IsWow64Process2(HANDLE, USHORT*, USHORT*) -> BOOL; the address
            // came from the export of that name.
            let f: unsafe extern "system" fn(HANDLE, *mut u16, *mut u16) -> i32 =
                unsafe { std::mem::transmute(f) };
            let (mut process, mut native) = (0u16, 0u16);
            // SAFETY: our process handle (PROCESS_QUERY_LIMITED_INFORMATION); live outs.
            if unsafe { f(raw, &mut process, &mut native) } == 0 {
                Err(last_error(op, Some(self.pid)))
            } else {
                // IMAGE_FILE_MACHINE_UNKNOWN: not a WOW64 process.
                Ok(process != 0)
            }
        } else {
            let mut w = 0i32;
            // SAFETY: our process handle; `w` is a live BOOL.
            if unsafe { windows_sys::Win32::System::Threading::IsWow64Process(raw, &mut w) } == 0 {
                Err(last_error(op, Some(self.pid)))
            } else {
                Ok(w != 0)
            }
        };
        self.verify(op, true)?;
        r
    }
}
