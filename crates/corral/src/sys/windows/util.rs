//! Small helpers shared by the Windows backend: error mapping, FILETIME conversion,
//! UTF-16 strings, and entry points looked up at run time (ntdll's undocumented or
//! Wine-only exports).

use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::time::{Duration, SystemTime};

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, FILETIME,
};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};

use crate::{Error, ErrorKind, Pid};

/// FILETIME ticks (100 ns) between 1601-01-01 and the Unix epoch.
const EPOCH_DIFF_100NS: u64 = 116_444_736_000_000_000;

/// A FILETIME as one 64-bit count of 100 ns ticks.
pub(crate) fn ft_u64(ft: &FILETIME) -> u64 {
    (u64::from(ft.dwHighDateTime) << 32) | u64::from(ft.dwLowDateTime)
}

/// A FILETIME duration (user or kernel time) as a `Duration`.
pub(crate) fn ft_duration(ft: &FILETIME) -> Duration {
    ticks_duration(ft_u64(ft))
}

/// 100 ns ticks as a `Duration`.
pub(crate) fn ticks_duration(t: u64) -> Duration {
    Duration::new(t / 10_000_000, ((t % 10_000_000) * 100) as u32)
}

/// A FILETIME instant (100 ns ticks since 1601) as wall-clock time.
pub(crate) fn ticks_to_system_time(t: u64) -> SystemTime {
    if t >= EPOCH_DIFF_100NS {
        SystemTime::UNIX_EPOCH + ticks_duration(t - EPOCH_DIFF_100NS)
    } else {
        SystemTime::UNIX_EPOCH - ticks_duration(EPOCH_DIFF_100NS - t)
    }
}

/// The calling thread's last Win32 error as an `Error` of the right kind.
pub(crate) fn last_error(op: &'static str, pid: Option<Pid>) -> Error {
    win_error(op, pid, io::Error::last_os_error())
}

/// Maps a Win32 error to corral's kinds: `ERROR_ACCESS_DENIED` → `AccessDenied`,
/// `ERROR_INVALID_PARAMETER` from a call taking a pid → `NoSuchProcess` (what
/// `OpenProcess` says for a pid nobody has), anything else `Os`.
pub(crate) fn win_error(op: &'static str, pid: Option<Pid>, e: io::Error) -> Error {
    let code = e.raw_os_error().map(|c| c as u32);
    let kind = match code {
        Some(ERROR_ACCESS_DENIED) => ErrorKind::AccessDenied,
        Some(ERROR_INVALID_PARAMETER) if pid.is_some() => ErrorKind::NoSuchProcess,
        Some(ERROR_INVALID_HANDLE) => ErrorKind::InvalidInput,
        _ => ErrorKind::Os,
    };
    let mut err = Error::from_io(op, e).with_kind(kind);
    if let Some(p) = pid {
        err = err.with_pid(p);
    }
    err
}

/// The kind of a Win32 error code that `std::io::ErrorKind` does not already classify.
pub(crate) fn error_kind_of(code: i32) -> Option<ErrorKind> {
    match code as u32 {
        // ERROR_NOT_SUPPORTED, ERROR_CALL_NOT_IMPLEMENTED
        50 | 120 => Some(ErrorKind::Unsupported),
        _ => None,
    }
}

/// A NUL-terminated UTF-16 copy of `s`.
pub(crate) fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// UTF-16 up to the first NUL (or the end) as an `OsString`.
pub(crate) fn from_wide_nul(w: &[u16]) -> OsString {
    let end = w.iter().position(|&c| c == 0).unwrap_or(w.len());
    OsString::from_wide(&w[..end])
}

/// The address of `name` (NUL-terminated ASCII) in the already loaded module `module`
/// (NUL-terminated UTF-16), if both exist.
pub(crate) fn proc_address(module: &str, name: &[u8]) -> Option<usize> {
    debug_assert_eq!(name.last(), Some(&0));
    let m = wide(module);
    // SAFETY: `m` is a NUL-terminated UTF-16 string that outlives the call.
    let h = unsafe { GetModuleHandleW(m.as_ptr()) };
    if h.is_null() {
        return None;
    }
    // SAFETY: `h` is a loaded module's handle and `name` is NUL-terminated ASCII.
    let f = unsafe { GetProcAddress(h, name.as_ptr()) };
    f.map(|f| f as usize)
}

/// The Wine version when running under Wine (ntdll exports `wine_get_version`), else
/// `None`. Looked up once.
pub(crate) fn wine_version() -> Option<String> {
    static V: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let f = proc_address("ntdll.dll", b"wine_get_version\0")?;
        // SAFETY: Wine documents `const char *wine_get_version(void)`; the address came
        // from ntdll's export of that name.
        let f: unsafe extern "C" fn() -> *const std::ffi::c_char =
            unsafe { std::mem::transmute(f) };
        // SAFETY: calling the export with its documented signature (no arguments).
        let p = unsafe { f() };
        if p.is_null() {
            return Some(String::new());
        }
        // SAFETY: Wine returns a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        Some(s.to_string_lossy().into_owned())
    })
    .clone()
}

/// Enables `SeDebugPrivilege` in the process token, once, if the token holds it
/// (administrators' tokens do, disabled): opening other users' and services' processes
/// then succeeds as it does for Task Manager. Whether it is enabled afterwards.
pub(crate) fn debug_privilege() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(enable_debug_privilege)
}

fn enable_debug_privilege() -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, GetLastError, ERROR_SUCCESS, HANDLE, LUID};
    use windows_sys::Win32::Security::{
        AdjustTokenPrivileges, LookupPrivilegeValueW, LUID_AND_ATTRIBUTES, SE_PRIVILEGE_ENABLED,
        TOKEN_ADJUST_PRIVILEGES, TOKEN_PRIVILEGES, TOKEN_QUERY,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let name = wide("SeDebugPrivilege");
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of this process; `token` is a live out-pointer.
    if unsafe {
        OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
            &mut token,
        )
    } == 0
    {
        return false;
    }
    let mut luid = LUID::default();
    // SAFETY: a NUL-terminated UTF-16 name and a live LUID.
    let found = unsafe { LookupPrivilegeValueW(std::ptr::null(), name.as_ptr(), &mut luid) } != 0;
    let mut ok = false;
    if found {
        let tp = TOKEN_PRIVILEGES {
            PrivilegeCount: 1,
            Privileges: [LUID_AND_ATTRIBUTES {
                Luid: luid,
                Attributes: SE_PRIVILEGE_ENABLED,
            }],
        };
        // SAFETY: `token` is open with TOKEN_ADJUST_PRIVILEGES; `tp` is a complete
        // TOKEN_PRIVILEGES; no previous state is asked for.
        let r = unsafe {
            AdjustTokenPrivileges(token, 0, &tp, 0, std::ptr::null_mut(), std::ptr::null_mut())
        };
        // Success without the privilege in the token says ERROR_NOT_ALL_ASSIGNED.
        // SAFETY: plain call, right after the one whose error it reads.
        ok = r != 0 && unsafe { GetLastError() } == ERROR_SUCCESS;
    }
    // SAFETY: closing the token opened above.
    unsafe { CloseHandle(token) };
    ok
}

#[cfg(test)]
mod tests {
    use crate::{Error, ErrorKind};
    use std::io;

    /// What the token says of SeDebugPrivilege matches what `debug_privilege` reports,
    /// read back independently with `GetTokenInformation(TokenPrivileges)`.
    #[test]
    fn debug_privilege_is_what_the_token_says() {
        use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LUID};
        use windows_sys::Win32::Security::{
            GetTokenInformation, LookupPrivilegeValueW, TokenPrivileges, LUID_AND_ATTRIBUTES,
            SE_PRIVILEGE_ENABLED, TOKEN_QUERY,
        };
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
        let enabled = super::debug_privilege();
        let name = super::wide("SeDebugPrivilege");
        let mut luid = LUID::default();
        let mut token: HANDLE = std::ptr::null_mut();
        let mut buf = vec![0u64; 1024];
        let mut len = 0u32;
        // SAFETY: live out-pointers; the buffer is 8 KiB and its size is passed.
        let listed = unsafe {
            assert_ne!(
                LookupPrivilegeValueW(std::ptr::null(), name.as_ptr(), &mut luid),
                0
            );
            assert_ne!(
                OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token),
                0
            );
            let ok = GetTokenInformation(
                token,
                TokenPrivileges,
                buf.as_mut_ptr().cast(),
                8192,
                &mut len,
            );
            CloseHandle(token);
            assert_ne!(ok, 0);
            let count = *(buf.as_ptr().cast::<u32>()) as usize;
            let first = buf
                .as_ptr()
                .cast::<u8>()
                .add(4)
                .cast::<LUID_AND_ATTRIBUTES>();
            (0..count)
                .map(|i| std::ptr::read_unaligned(first.add(i)))
                .find(|p| p.Luid.LowPart == luid.LowPart && p.Luid.HighPart == luid.HighPart)
                .map(|p| p.Attributes)
        };
        match listed {
            Some(attrs) => assert_eq!(attrs & SE_PRIVILEGE_ENABLED != 0, enabled, "{attrs:#x}"),
            None => assert!(!enabled, "reported enabled but the token does not hold it"),
        }
    }

    #[test]
    fn win32_error_classification() {
        let k = |n| Error::from_io("open", io::Error::from_raw_os_error(n)).kind();
        assert_eq!(k(5), ErrorKind::AccessDenied); // ERROR_ACCESS_DENIED
        assert_eq!(k(50), ErrorKind::Unsupported); // ERROR_NOT_SUPPORTED
        assert_eq!(k(120), ErrorKind::Unsupported); // ERROR_CALL_NOT_IMPLEMENTED
        assert_eq!(k(87), ErrorKind::InvalidInput); // ERROR_INVALID_PARAMETER
        assert_eq!(k(2), ErrorKind::Os); // ERROR_FILE_NOT_FOUND
        assert_eq!(k(3), ErrorKind::Os); // ERROR_PATH_NOT_FOUND (ESRCH on Linux)
    }

    #[test]
    fn filetime_conversions() {
        use std::time::{Duration, SystemTime};
        assert_eq!(
            super::ticks_to_system_time(super::EPOCH_DIFF_100NS),
            SystemTime::UNIX_EPOCH
        );
        assert_eq!(
            super::ticks_to_system_time(super::EPOCH_DIFF_100NS + 15_000_000),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1500)
        );
        assert_eq!(
            super::ticks_duration(12_345_678),
            Duration::new(1, 234_567_800)
        );
    }
}
