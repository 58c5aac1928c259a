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

#[cfg(test)]
mod tests {
    use crate::{Error, ErrorKind};
    use std::io;

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
