//! Windows and the processes that own them: `EnumWindows` + `GetWindowThreadProcessId`.
//! A graceful stop asks a GUI program to close by posting `WM_CLOSE` to its top-level
//! windows, as `taskkill` without `/F` does.

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{HWND, LPARAM};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    EnumWindows, GetWindowThreadProcessId, IsWindow, PostMessageW, WM_CLOSE,
};

use super::Handle;
use crate::{Error, ErrorKind, Result, Signal};

/// The top-level windows of process `pid`, as `HWND` values.
pub(crate) fn windows_of(pid: u32) -> Vec<isize> {
    unsafe extern "system" fn each(hwnd: HWND, lparam: LPARAM) -> BOOL {
        // SAFETY: `lparam` is the `&mut (u32, Vec<isize>)` passed to EnumWindows below,
        // alive for the whole enumeration, which calls back on this thread only.
        let want = unsafe { &mut *(lparam as *mut (u32, Vec<isize>)) };
        let mut owner = 0u32;
        // SAFETY: `hwnd` comes from the enumeration; `owner` is a live out-pointer.
        unsafe { GetWindowThreadProcessId(hwnd, &mut owner) };
        if owner == want.0 {
            want.1.push(hwnd as isize);
        }
        1
    }
    let mut found: (u32, Vec<isize>) = (pid, Vec::new());
    // SAFETY: the callback only reads through `lparam` as documented above.
    unsafe { EnumWindows(Some(each), &mut found as *mut (u32, Vec<isize>) as LPARAM) };
    found.1
}

/// The pid of the process that owns window `hwnd`.
pub(crate) fn window_owner(hwnd: isize) -> Result<u32> {
    let op = "find the window's process";
    let h = hwnd as HWND;
    // SAFETY: IsWindow accepts any value and says whether it names a window.
    if hwnd == 0 || unsafe { IsWindow(h) } == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, op)
            .with_detail(format!("{hwnd:#x} is not a window")));
    }
    let mut pid = 0u32;
    // SAFETY: `h` is a window (checked just above); `pid` is a live out-pointer.
    unsafe { GetWindowThreadProcessId(h, &mut pid) };
    if pid == 0 {
        return Err(Error::new(ErrorKind::NoSuchProcess, op)
            .with_detail(format!("window {hwnd:#x} has gone")));
    }
    Ok(pid)
}

/// The first step of a graceful stop: for `TERM`, `WM_CLOSE` to every top-level window
/// the process has (when it has one), else Ctrl-Break when it is a console process group
/// root corral spawned on this console (`send_ctrl_break`; the whole group gets it);
/// otherwise — and where neither can be sent — the signal as [`Handle::send_signal`]
/// maps it (`TerminateProcess` for `TERM`).
pub(crate) fn request_stop(h: &Handle, sig: Signal) -> Result<()> {
    if sig == Signal::Term {
        h.verify("stop", false)?;
        let mut posted = 0;
        for w in windows_of(h.pid.as_raw()) {
            // SAFETY: posting a message to a window handle; a window gone meanwhile
            // only makes the call fail.
            if unsafe { PostMessageW(w as HWND, WM_CLOSE, 0, 0) } != 0 {
                posted += 1;
            }
        }
        if posted > 0 {
            return Ok(());
        }
        // Refused for any process not known to root a group on our console, and failing
        // where the console cannot send it (Wine 8): then terminated as before.
        if h.send_ctrl_break().is_ok() {
            return Ok(());
        }
    }
    h.send_signal(sig)
}
