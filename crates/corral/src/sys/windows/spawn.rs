//! Spawning on Windows: corral calls `CreateProcessW` itself.
//!
//! - **Program search** (as std does on Windows): a name with no `\`, `/` or `:` is looked
//!   up in, in order, the child's `PATH` (only when the command changes the
//!   environment), the directory of the running program, the system directory
//!   (`GetSystemDirectoryW`), the Windows directory, then this process's `PATH`; `.exe`
//!   is appended when the name has no extension. The working directory is never
//!   searched. A path is used as given (relative to the *caller's* working directory,
//!   as `CreateProcessW` reads it), with `.exe` appended if that file exists.
//! - **Command line**: argv\[0\] is the program as given, quoted; each argument is
//!   quoted by [`super::argv`] so the child's C runtime splits it back exactly. A
//!   `.bat`/`.cmd` program runs as `cmd.exe /e:ON /v:OFF /d /c "…"` with its arguments
//!   escaped for cmd.exe ([`super::argv::bat_command_line`]); arguments that cannot be
//!   passed safely to a batch file (CR, LF, NUL) are refused with `InvalidInput`. Lines
//!   longer than 32 766 characters are refused with `InvalidInput` before anything runs.
//! - **Environment**: when the command changes it, a `CREATE_UNICODE_ENVIRONMENT` block:
//!   the caller's variables (read with `GetEnvironmentStringsW`, so the hidden `=C:`
//!   per-drive directories are kept) with the changes applied by case-insensitive name,
//!   sorted case-insensitively (`CompareStringOrdinal`), each `name=value` NUL-ended, and
//!   a final NUL. A variable longer than 32 767 characters is refused.
//! - **Handles**: the child's stdin, stdout and stderr are inheritable duplicates made
//!   for this spawn and closed right after it. With [`Command::close_inherited`] only
//!   those three (and the handles kept with `os::windows::CommandExt::keep_handle`,
//!   which must be inheritable) are inherited (`PROC_THREAD_ATTRIBUTE_HANDLE_LIST`); without it, every
//!   inheritable handle of the caller is, as std does (spawns through corral are
//!   serialized while they hold their duplicates, so one spawn's stdio never leaks into
//!   another's child; a std spawn at the same moment is not covered).
//! - **Jobs**: the child is created suspended inside the job
//!   (`PROC_THREAD_ATTRIBUTE_JOB_LIST`); where that attribute is refused or not honoured
//!   (checked with `IsProcessInJob`, e.g. under Wine) it is assigned with
//!   `AssignProcessToJobObject` while still suspended. Either way no instruction of the
//!   program runs outside the job.
//! - **Console**: the caller's by default; `os::windows::CommandExt::console` picks a new
//!   one (`CREATE_NEW_CONSOLE`), a new one without a window (`CREATE_NO_WINDOW`) or none
//!   (`DETACHED_PROCESS`); two different modes on one command are refused.
//! - **Another user** (`os::windows::CommandExt::logon`): `CreateProcessWithLogonW`
//!   with `LOGON_WITH_PROFILE`, the standard handles only, no attribute list (a job is
//!   joined by assignment while suspended); the password is zeroed when the options drop.
//!   With a token (`os::windows::CommandExt::user_token`): `CreateProcessAsUserW`, the
//!   same call as `CreateProcessW` otherwise (attribute list, handles, job).
//! - The priority class is a creation flag and is set again while suspended (Wine ignores
//!   the flag); the affinity is set while suspended (`Handle::set_affinity`). On a
//!   machine with several processor groups and CPUs in one group, the first thread is
//!   also created in that group (`PROC_THREAD_ATTRIBUTE_GROUP_AFFINITY`), which makes it
//!   the process's group, so the process mask set next is that group's. The child's main thread is then
//!   resumed unless [`Command::suspended`] asked otherwise.
//!
//! Options Windows has no equivalent for are refused with `Unsupported`, naming the
//! option, before anything is started.
//!
//! [`Command::close_inherited`]: crate::Command::close_inherited
//! [`Command::suspended`]: crate::Command::suspended

use std::ffi::{c_void, OsStr, OsString};
use std::io::{self, Read};
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::sync::{Arc, Mutex};

use windows_sys::Win32::Foundation::{
    DuplicateHandle, GetHandleInformation, SetLastError, DUPLICATE_SAME_ACCESS,
    ERROR_BAD_TOKEN_TYPE, ERROR_CALL_NOT_IMPLEMENTED, ERROR_DIRECTORY, ERROR_FILE_NOT_FOUND,
    ERROR_INVALID_HANDLE, ERROR_LOGON_FAILURE, ERROR_PATH_NOT_FOUND, ERROR_PRIVILEGE_NOT_HELD,
    FALSE, HANDLE, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, TRUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::Globalization::{CompareStringOrdinal, CSTR_EQUAL, CSTR_LESS_THAN};
use windows_sys::Win32::Security::{TOKEN_DUPLICATE, TOKEN_IMPERSONATE, TOKEN_QUERY};
use windows_sys::Win32::System::Console::{
    GetStdHandle, STD_ERROR_HANDLE, STD_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::System::Environment::{
    CreateEnvironmentBlock, DestroyEnvironmentBlock, FreeEnvironmentStringsW,
    GetEnvironmentStringsW,
};
use windows_sys::Win32::System::JobObjects::IsProcessInJob;
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::SystemInformation::{
    GetSystemDirectoryW, GetWindowsDirectoryW, GROUP_AFFINITY,
};
use windows_sys::Win32::System::Threading::{
    CreateProcessAsUserW, CreateProcessW, CreateProcessWithLogonW, DeleteProcThreadAttributeList,
    GetCurrentProcess, GetExitCodeProcess, InitializeProcThreadAttributeList, OpenProcessToken,
    ResumeThread, TerminateProcess, UpdateProcThreadAttribute, WaitForSingleObject,
    CREATE_BREAKAWAY_FROM_JOB, CREATE_NEW_CONSOLE, CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW,
    CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, DETACHED_PROCESS, EXTENDED_STARTUPINFO_PRESENT,
    INFINITE, LOGON_WITH_PROFILE, PROCESS_CREATION_FLAGS, PROCESS_INFORMATION,
    PROC_THREAD_ATTRIBUTE_GROUP_AFFINITY, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
    PROC_THREAD_ATTRIBUTE_JOB_LIST, STARTF_USESTDHANDLES, STARTUPINFOEXW, STARTUPINFOW,
};

use super::argv;
use super::console;
use super::groups::GroupTable;
use super::process::{class_to_win, Handle};
use crate::command::{Options, Spec, StdioKind};
use crate::os::windows::Console;
use crate::{Error, ErrorKind, Pid, Result};

/// The longest command line `CreateProcessW` takes, in UTF-16 units, with its NUL.
const MAX_COMMAND_LINE: usize = 32_767;
/// The longest environment variable (`name=value`), in UTF-16 units.
const MAX_ENV_VAR: usize = 32_767;

/// `STILL_ACTIVE`.
const STILL_ACTIVE: u32 = 259;

/// The Windows-only options (`os::windows::CommandExt`).
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnExtra {
    /// The console mode asked for.
    console: Option<Console>,
    /// Two different console modes asked for on one command (refused at spawn).
    console_conflict: Option<(Console, Console)>,
    /// Run as this user (`CreateProcessWithLogonW`).
    logon: Option<Logon>,
    /// Run with this primary token (`CreateProcessAsUserW`): a duplicate of the
    /// caller's handle, or why it could not be duplicated.
    token: Option<Result<Arc<OwnedHandle>, String>>,
    /// Start from the user's default environment (`CreateEnvironmentBlock`).
    user_env: bool,
}

/// A user to run as: NUL-terminated UTF-16 strings, checked at spawn.
#[derive(Debug, Clone)]
struct Logon {
    user: Vec<u16>,
    domain: Option<Vec<u16>>,
    password: Secret,
}

/// UTF-16 text zeroed when dropped (a password).
#[derive(Clone)]
struct Secret(Vec<u16>);

impl Secret {
    /// Overwrites every unit with 0, in a way the compiler does not drop as dead.
    fn wipe(&mut self) {
        for u in self.0.iter_mut() {
            // SAFETY: a valid, aligned &mut u16 of the vector.
            unsafe { std::ptr::write_volatile(u, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// `s` as NUL-terminated UTF-16 (a NUL inside is checked at spawn).
fn wide_nul(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// The text before the terminating NUL.
fn body(w: &[u16]) -> &[u16] {
    &w[..w.len().saturating_sub(1)]
}

impl SpawnExtra {
    /// Records the user to run as.
    pub(crate) fn set_logon(&mut self, user: &str, domain: Option<&str>, password: &str) {
        let mut pw = Vec::with_capacity(password.len() + 1);
        pw.extend(password.encode_utf16());
        pw.push(0);
        self.logon = Some(Logon {
            user: wide_nul(user),
            domain: domain.map(wide_nul),
            password: Secret(pw),
        });
    }

    /// Records the token to run with (a duplicate: the caller may close its own).
    pub(crate) fn set_token(&mut self, token: std::os::windows::io::BorrowedHandle<'_>) {
        self.token = Some(
            token
                .try_clone_to_owned()
                .map(Arc::new)
                .map_err(|e| format!("the token handle cannot be duplicated: {e}")),
        );
    }

    /// Starts the child's environment from its user's default one.
    pub(crate) fn set_user_env(&mut self) {
        self.user_env = true;
    }

    /// Records the console mode; a second, different one is a conflict.
    pub(crate) fn set_console(&mut self, c: Console) {
        match self.console {
            Some(old) if old != c => {
                self.console_conflict.get_or_insert((old, c));
            }
            _ => self.console = Some(c),
        }
    }

    /// The console mode (the caller's by default).
    pub(crate) fn console(&self) -> Console {
        self.console.unwrap_or_default()
    }
}

/// Extra state of a spawned child.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pty_master: Option<std::fs::File>,
}

/// Arguments are kept by the portable [`Spec`]; std's command is unused here.
pub(crate) fn push_arg(cmd: &mut std::process::Command, arg: &OsStr) {
    cmd.arg(arg);
}

fn refuse(what: &str) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "spawn")
        .with_detail(format!("{what} is not available on Windows")))
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, "spawn").with_detail(detail.into())
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
    if opts.pty {
        refuse("a pseudo-terminal")?;
    }
    if opts.forward_signals {
        refuse("signal forwarding")?;
    }
    if let Some((a, b)) = opts.platform.console_conflict {
        return Err(invalid(format!(
            "two console modes for one child ({a:?} and {b:?}); pick one"
        )));
    }
    match &opts.platform.token {
        Some(Err(why)) => return Err(invalid(why.clone())),
        Some(Ok(_)) if opts.platform.logon.is_some() => {
            return Err(invalid(
                "both a logon and a token to run as; give one (the token already names \
                 the user)",
            ))
        }
        _ => {}
    }
    if opts.platform.user_env && opts.platform.logon.is_some() {
        return Err(invalid(
            "user_environment with a logon: CreateProcessWithLogonW starts the child from \
             the user's profile environment itself when the command changes no variable",
        ));
    }
    if let Some(l) = &opts.platform.logon {
        if body(&l.user).is_empty() {
            return Err(invalid("an empty user name to run as"));
        }
        let nul = |w: &[u16]| body(w).contains(&0);
        if nul(&l.user) || l.domain.as_deref().is_some_and(nul) || nul(&l.password.0) {
            return Err(invalid("a NUL in the user name, domain or password"));
        }
        if opts.platform.console == Some(Console::Inherit) {
            return Err(invalid(
                "a child run as another user cannot share this process's console \
                 (CreateProcessWithLogonW gives it its own)",
            ));
        }
        if opts.keep_fds.as_ref().is_some_and(|k| !k.is_empty()) {
            return Err(invalid(
                "handles cannot be kept for a child run as another user \
                 (CreateProcessWithLogonW passes only the standard ones)",
            ));
        }
    }
    Ok(())
}

/// The creation flags for `opts`: the one place they are computed. `suspend` adds
/// `CREATE_SUSPENDED` (asked for, or needed to set things up before the program runs).
fn creation_flags(opts: &Options, suspend: bool) -> PROCESS_CREATION_FLAGS {
    let mut flags = CREATE_UNICODE_ENVIRONMENT;
    if suspend {
        flags |= CREATE_SUSPENDED;
    }
    if let Some(c) = opts.priority_class {
        flags |= class_to_win(c);
    }
    if opts.new_process_group {
        flags |= CREATE_NEW_PROCESS_GROUP;
    }
    // Windows checks the job's JOB_OBJECT_LIMIT_BREAKAWAY_OK (access denied when not
    // allowed) and ignores the flag outside a job.
    if opts.breakaway {
        flags |= CREATE_BREAKAWAY_FROM_JOB;
    }
    flags |= match opts.platform.console() {
        Console::Inherit => 0,
        Console::New => CREATE_NEW_CONSOLE,
        Console::NoWindow => CREATE_NO_WINDOW,
        Console::Detached => DETACHED_PROCESS,
    };
    flags
}

// ---- the child as this backend holds it ------------------------------------------------

/// A spawned child: its process handle and the caller's ends of its pipes (std's pipe
/// types, built from the handles). Offers what `Command`/`Child` use of std's `Child`.
#[derive(Debug)]
pub(crate) struct SpawnedChild {
    pid: u32,
    process: OwnedHandle,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) stderr: Option<ChildStderr>,
}

impl SpawnedChild {
    /// The child's pid.
    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    fn raw(&self) -> HANDLE {
        self.process.as_raw_handle() as HANDLE
    }

    /// `TerminateProcess` with exit code 1 (success if it had already exited).
    pub(crate) fn kill(&mut self) -> io::Result<()> {
        // SAFETY: our process handle has PROCESS_ALL_ACCESS from CreateProcessW.
        if unsafe { TerminateProcess(self.raw(), 1) } == 0 {
            let e = io::Error::last_os_error();
            if self.try_wait()?.is_none() {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Waits for the exit (stdin is closed first, as std does).
    pub(crate) fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        drop(self.stdin.take());
        // SAFETY: waiting on our own process handle.
        if unsafe { WaitForSingleObject(self.raw(), INFINITE) } != WAIT_OBJECT_0 {
            return Err(io::Error::last_os_error());
        }
        self.exit_code()
            .map(|c| std::process::ExitStatus::from_raw(c.unwrap_or(STILL_ACTIVE)))
    }

    fn exit_code(&self) -> io::Result<Option<u32>> {
        let mut code = 0u32;
        // SAFETY: our process handle; `code` is a live u32.
        if unsafe { GetExitCodeProcess(self.raw(), &mut code) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(code))
    }

    /// The exit status if it has exited.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        // SAFETY: a zero-timeout wait on our own process handle.
        match unsafe { WaitForSingleObject(self.raw(), 0) } {
            WAIT_OBJECT_0 => Ok(self.exit_code()?.map(std::process::ExitStatus::from_raw)),
            _ => Ok(None),
        }
    }

    /// Closes stdin, reads stdout and stderr to their ends (stderr on a helper thread,
    /// so neither pipe can fill and block the child), then waits.
    pub(crate) fn wait_with_output(mut self) -> io::Result<std::process::Output> {
        drop(self.stdin.take());
        let read_all = |r: Option<&mut dyn Read>| -> io::Result<Vec<u8>> {
            let mut v = Vec::new();
            if let Some(r) = r {
                r.read_to_end(&mut v)?;
            }
            Ok(v)
        };
        let (stdout, stderr) = match (self.stdout.take(), self.stderr.take()) {
            (Some(mut o), Some(mut e)) => {
                let t = std::thread::spawn(move || {
                    let mut v = Vec::new();
                    e.read_to_end(&mut v).map(|_| v)
                });
                let out = read_all(Some(&mut o));
                let err = t
                    .join()
                    .map_err(|_| io::Error::other("the stderr reader panicked"))?;
                (out?, err?)
            }
            (mut o, mut e) => (
                read_all(o.as_mut().map(|o| o as &mut dyn Read))?,
                read_all(e.as_mut().map(|e| e as &mut dyn Read))?,
            ),
        };
        let status = self.wait()?;
        Ok(std::process::Output {
            status,
            stdout,
            stderr,
        })
    }
}

// ---- handles ---------------------------------------------------------------------------

/// An inheritable duplicate of `h` (which stays the caller's).
fn inheritable(h: HANDLE) -> io::Result<OwnedHandle> {
    let mut out: HANDLE = std::ptr::null_mut();
    // SAFETY: duplicating a valid handle of this process into this process; `out`
    // receives a new handle we own.
    let ok = unsafe {
        DuplicateHandle(
            GetCurrentProcess(),
            h,
            GetCurrentProcess(),
            &mut out,
            0,
            TRUE,
            DUPLICATE_SAME_ACCESS,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(out as _) })
}

/// An anonymous pipe (read end, write end), neither end inheritable.
fn pipe() -> io::Result<(OwnedHandle, OwnedHandle)> {
    let (mut r, mut w): (HANDLE, HANDLE) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: two out-pointers to live HANDLEs; no security attributes (not inheritable).
    if unsafe { CreatePipe(&mut r, &mut w, std::ptr::null(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh handles we own.
    Ok(unsafe {
        (
            OwnedHandle::from_raw_handle(r as _),
            OwnedHandle::from_raw_handle(w as _),
        )
    })
}

/// The caller's end of a piped standard stream.
enum Ours {
    In(ChildStdin),
    Out(ChildStdout),
    Err(ChildStderr),
}

/// The child's end of one standard stream (an inheritable handle, or none), and the
/// caller's end when it is a pipe.
fn child_stdio(
    s: Option<crate::Stdio>,
    which: STD_HANDLE,
) -> Result<(Option<OwnedHandle>, Option<Ours>)> {
    let name = match which {
        STD_INPUT_HANDLE => "stdin",
        STD_OUTPUT_HANDLE => "stdout",
        _ => "stderr",
    };
    let io_err = |e: io::Error| {
        Error::from_io("spawn", e).with_detail(format!("could not set up the child's {name}"))
    };
    let kind = s.map_or(StdioKind::Inherit, |s| s.0);
    match kind {
        StdioKind::Inherit => {
            // SAFETY: plain call; the result is borrowed from the process's std handles.
            let h = unsafe { GetStdHandle(which) };
            if h.is_null() || h == INVALID_HANDLE_VALUE {
                return Ok((None, None));
            }
            Ok((Some(inheritable(h).map_err(io_err)?), None))
        }
        StdioKind::Null => {
            let f = std::fs::OpenOptions::new()
                .read(which == STD_INPUT_HANDLE)
                .write(which != STD_INPUT_HANDLE)
                .open("NUL")
                .map_err(io_err)?;
            Ok((
                Some(inheritable(f.as_raw_handle() as HANDLE).map_err(io_err)?),
                None,
            ))
        }
        StdioKind::File(f) => Ok((
            Some(inheritable(f.as_raw_handle() as HANDLE).map_err(io_err)?),
            None,
        )),
        StdioKind::Piped => {
            let (r, w) = pipe().map_err(io_err)?;
            let (theirs, ours) = match which {
                STD_INPUT_HANDLE => (r, Ours::In(ChildStdin::from(w))),
                STD_OUTPUT_HANDLE => (w, Ours::Out(ChildStdout::from(r))),
                _ => (w, Ours::Err(ChildStderr::from(r))),
            };
            let theirs = inheritable(theirs.as_raw_handle() as HANDLE).map_err(io_err)?;
            Ok((Some(theirs), Some(ours)))
        }
        StdioKind::Std(_) => Err(
            Error::new(ErrorKind::Unsupported, "spawn").with_detail(format!(
                "the child's {name} is a std::process::Stdio, which cannot be inspected; \
                 use corral::Stdio::inherit(), null(), piped() or a File"
            )),
        ),
    }
}

// ---- environment -----------------------------------------------------------------------

/// Case-insensitive ordinal comparison, as Windows orders environment blocks.
fn cmp_ci(a: &[u16], b: &[u16]) -> std::cmp::Ordering {
    // SAFETY: both slices are live for the call; lengths fit i32 (variables are capped).
    let r = unsafe {
        CompareStringOrdinal(a.as_ptr(), a.len() as i32, b.as_ptr(), b.len() as i32, TRUE)
    };
    match r {
        CSTR_LESS_THAN => std::cmp::Ordering::Less,
        CSTR_EQUAL => std::cmp::Ordering::Equal,
        0 => a.cmp(b),
        _ => std::cmp::Ordering::Greater,
    }
}

/// This process's environment as (name, value), `=C:`-style entries included.
fn current_env() -> Vec<(Vec<u16>, Vec<u16>)> {
    // SAFETY: plain call; the block is freed below.
    let p = unsafe { GetEnvironmentStringsW() };
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: GetEnvironmentStringsW returns such a block.
    let out = unsafe { parse_block(p) };
    // SAFETY: `p` came from GetEnvironmentStringsW.
    unsafe { FreeEnvironmentStringsW(p) };
    out
}

/// The default environment of the user `token` names (`CreateEnvironmentBlock`, nothing
/// inherited from this process): what the user's own logon would start with.
fn user_env(token: HANDLE) -> Result<Vec<(Vec<u16>, Vec<u16>)>> {
    let mut p: *mut core::ffi::c_void = std::ptr::null_mut();
    // SAFETY: `token` is a live token handle; `p` receives a block freed below.
    if unsafe { CreateEnvironmentBlock(&mut p, token, FALSE) } == 0 || p.is_null() {
        return Err(Error::from_io("spawn", io::Error::last_os_error())
            .with_detail("the user's environment (CreateEnvironmentBlock) could not be built"));
    }
    // SAFETY: CreateEnvironmentBlock returns a Unicode environment block.
    let out = unsafe { parse_block(p.cast()) };
    // SAFETY: `p` came from CreateEnvironmentBlock.
    unsafe { DestroyEnvironmentBlock(p) };
    Ok(out)
}

/// This process's token, for `CreateEnvironmentBlock`.
fn own_token() -> Result<OwnedHandle> {
    let mut h: HANDLE = std::ptr::null_mut();
    // SAFETY: our own pseudo-handle; `h` receives a token handle we then own.
    let ok = unsafe {
        OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_QUERY | TOKEN_DUPLICATE | TOKEN_IMPERSONATE,
            &mut h,
        )
    };
    if ok == 0 {
        return Err(Error::from_io("spawn", io::Error::last_os_error())
            .with_detail("this process's token could not be opened"));
    }
    // SAFETY: a fresh handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as _) })
}

/// The (name, value) pairs of an environment block.
///
/// # Safety
///
/// `p` points to NUL-ended UTF-16 strings ended by an empty one.
unsafe fn parse_block(p: *const u16) -> Vec<(Vec<u16>, Vec<u16>)> {
    let mut out = Vec::new();
    let mut i = 0usize;
    loop {
        let start = i;
        // SAFETY: the block is a sequence of NUL-ended strings ended by an empty one
        // (the caller's promise); we read up to and including that final NUL.
        while unsafe { *p.add(i) } != 0 {
            i += 1;
        }
        if i == start {
            break;
        }
        // SAFETY: `start..i` lies inside the block read above.
        let e = unsafe { std::slice::from_raw_parts(p.add(start), i - start) };
        out.push(split_var(e));
        i += 1;
    }
    out
}

/// `name=value` split at the first `=` after the first character (names such as `=C:`
/// start with one).
fn split_var(e: &[u16]) -> (Vec<u16>, Vec<u16>) {
    let eq = e
        .iter()
        .skip(1)
        .position(|&c| c == u16::from(b'='))
        .map_or(e.len(), |p| p + 1);
    let value = if eq < e.len() { &e[eq + 1..] } else { &[][..] };
    (e[..eq].to_vec(), value.to_vec())
}

/// The environment block for the child (`None`: inherit the caller's as is), and the
/// child's `PATH` when the block changes it (for the program search). `base`, if given,
/// is what the command's changes apply to instead of the caller's environment.
fn env_block(
    spec: &Spec,
    base: Option<Vec<(Vec<u16>, Vec<u16>)>>,
) -> Result<(Option<Vec<u16>>, Option<OsString>)> {
    if base.is_none() && !spec.env_clear && spec.env.is_empty() {
        return Ok((None, None));
    }
    let mut vars = if spec.env_clear {
        Vec::new()
    } else {
        base.unwrap_or_else(current_env)
    };
    for (k, v) in &spec.env {
        let kw: Vec<u16> = k.encode_wide().collect();
        if kw.is_empty() || kw.contains(&0) || kw.contains(&u16::from(b'=')) {
            return Err(invalid(format!(
                "environment variable name {k:?} is empty or has a NUL or '='"
            )));
        }
        vars.retain(|(n, _)| cmp_ci(n, &kw) != std::cmp::Ordering::Equal);
        if let Some(v) = v {
            let vw: Vec<u16> = v.encode_wide().collect();
            if vw.contains(&0) {
                return Err(invalid(format!(
                    "the value of environment variable {k:?} has a NUL"
                )));
            }
            if kw.len() + 1 + vw.len() > MAX_ENV_VAR {
                return Err(invalid(format!(
                    "environment variable {k:?} is {} characters long; Windows allows at \
                     most {MAX_ENV_VAR} for name=value",
                    kw.len() + 1 + vw.len()
                )));
            }
            vars.push((kw, vw));
        }
    }
    vars.sort_by(|a, b| cmp_ci(&a.0, &b.0));
    let path: Vec<u16> = "PATH".encode_utf16().collect();
    let child_path = vars
        .iter()
        .find(|(n, _)| cmp_ci(n, &path) == std::cmp::Ordering::Equal)
        .map(|(_, v)| OsString::from_wide(v));
    let mut blk = Vec::new();
    for (k, v) in &vars {
        blk.extend_from_slice(k);
        blk.push(u16::from(b'='));
        blk.extend_from_slice(v);
        blk.push(0);
    }
    if vars.is_empty() {
        blk.push(0);
    }
    blk.push(0);
    Ok((Some(blk), child_path))
}

// ---- program search and command line ---------------------------------------------------

/// A directory from a `GetSystemDirectoryW`-style call.
fn system_dir(f: unsafe extern "system" fn(*mut u16, u32) -> u32) -> Option<PathBuf> {
    let mut buf = vec![0u16; 512];
    // SAFETY: `buf` has room for 512 units, the size passed.
    let n = unsafe { f(buf.as_mut_ptr(), buf.len() as u32) } as usize;
    if n == 0 || n >= buf.len() {
        return None;
    }
    Some(PathBuf::from(OsString::from_wide(&buf[..n])))
}

fn has_ext_exe(p: &OsStr) -> bool {
    let w: Vec<u16> = p.encode_wide().collect();
    w.len() >= 4 && String::from_utf16_lossy(&w[w.len() - 4..]).eq_ignore_ascii_case(".exe")
}

/// Finds the program as documented in the module docs.
fn resolve(program: &OsStr, child_path: Option<&OsStr>) -> Result<PathBuf> {
    let w: Vec<u16> = program.encode_wide().collect();
    if w.contains(&0) {
        return Err(invalid(format!("program name {program:?} has a NUL")));
    }
    let is_name = !w
        .iter()
        .any(|&c| c == u16::from(b'\\') || c == u16::from(b'/') || c == u16::from(b':'));
    if !is_name {
        if w.last() == Some(&u16::from(b'\\')) || w.last() == Some(&u16::from(b'/')) {
            return Err(invalid(format!(
                "program path {program:?} has no file name"
            )));
        }
        if !has_ext_exe(program) {
            let mut with = program.to_owned();
            with.push(".exe");
            if std::fs::metadata(&with).is_ok() {
                return Ok(PathBuf::from(with));
            }
        }
        return Ok(PathBuf::from(program));
    }
    let has_ext = w.contains(&u16::from(b'.'));
    let candidate = |dir: &Path| -> Option<PathBuf> {
        let mut p = dir.join(program).into_os_string();
        if !has_ext {
            p.push(".exe");
        }
        let p = PathBuf::from(p);
        std::fs::metadata(&p)
            .is_ok_and(|m| m.is_file())
            .then_some(p)
    };
    let search = |paths: Option<&OsStr>| -> Option<PathBuf> {
        std::env::split_paths(paths?)
            .filter(|d| !d.as_os_str().is_empty())
            .find_map(|d| candidate(&d))
    };
    let found = search(child_path)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            candidate(exe.parent()?)
        })
        .or_else(|| candidate(&system_dir(GetSystemDirectoryW)?))
        .or_else(|| candidate(&system_dir(GetWindowsDirectoryW)?))
        .or_else(|| search(std::env::var_os("PATH").as_deref()));
    found.ok_or_else(|| {
        let mut places = Vec::new();
        if let Some(p) = child_path {
            places.push(format!("the child's PATH ({})", p.to_string_lossy()));
        }
        places.push("the directory of this program".into());
        places.push("the system and Windows directories".into());
        places.push(format!(
            "PATH ({})",
            std::env::var_os("PATH")
                .unwrap_or_default()
                .to_string_lossy()
        ));
        Error::from_io(
            "spawn",
            io::Error::from_raw_os_error(ERROR_FILE_NOT_FOUND as i32),
        )
        .with_detail(format!(
            "program {program:?} not found in {}",
            places.join(", ")
        ))
    })
}

/// The application name and the command line (both NUL-terminated).
fn command_line(app: &Path, spec: &Spec) -> Result<(Vec<u16>, Vec<u16>)> {
    let args: Vec<&OsStr> = spec.args.iter().map(|a| a.as_os_str()).collect();
    if let Some(a) = args.iter().find(|a| a.encode_wide().any(|c| c == 0)) {
        return Err(invalid(format!("argument {a:?} has a NUL")));
    }
    let (app_name, mut line) = if argv::is_batch(app.as_os_str()) {
        let cmd = system_dir(GetSystemDirectoryW)
            .map(|d| d.join("cmd.exe"))
            .ok_or_else(|| invalid("the system directory is unknown (needed for cmd.exe)"))?;
        let script: Vec<u16> = app.as_os_str().encode_wide().collect();
        let line = argv::bat_command_line(&script, &args).map_err(|why| {
            invalid(format!(
                "batch file {}: {why} (cmd.exe would misparse it)",
                app.display()
            ))
        })?;
        (cmd.into_os_string(), line)
    } else {
        if spec.program.encode_wide().any(|c| c == u16::from(b'"')) {
            return Err(invalid(format!(
                "program name {:?} has a '\"', which Windows file names cannot have",
                spec.program
            )));
        }
        (
            app.as_os_str().to_owned(),
            argv::command_line(&spec.program, &args),
        )
    };
    if line.len() + 1 > MAX_COMMAND_LINE {
        return Err(invalid(format!(
            "the command line is {} characters long; Windows allows at most {}",
            line.len(),
            MAX_COMMAND_LINE - 1
        )));
    }
    line.push(0);
    let app_name: Vec<u16> = app_name.encode_wide().chain([0]).collect();
    Ok((app_name, line))
}

// ---- CreateProcessW --------------------------------------------------------------------

/// A `PROC_THREAD_ATTRIBUTE_LIST`, deleted on drop.
struct AttrList {
    buf: Vec<usize>,
}

impl AttrList {
    fn new(count: u32) -> io::Result<AttrList> {
        let mut size = 0usize;
        // SAFETY: the sizing call: a null list and a live `size`; it fails with
        // ERROR_INSUFFICIENT_BUFFER and sets `size`.
        unsafe { InitializeProcThreadAttributeList(std::ptr::null_mut(), count, 0, &mut size) };
        if size == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0usize; size.div_ceil(std::mem::size_of::<usize>())];
        // SAFETY: `buf` has `size` bytes, aligned for pointers.
        let ok = unsafe {
            InitializeProcThreadAttributeList(buf.as_mut_ptr().cast(), count, 0, &mut size)
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(AttrList { buf })
    }

    fn ptr(&mut self) -> *mut c_void {
        self.buf.as_mut_ptr().cast()
    }

    /// Sets `attr` to the array `value`, which must outlive the list's use.
    fn set(&mut self, attr: u32, value: &[HANDLE]) -> io::Result<()> {
        self.set_bytes(attr, value.as_ptr().cast(), std::mem::size_of_val(value))
    }

    /// Sets `attr` to the structure `value`, which must outlive the list's use.
    fn set_value<T>(&mut self, attr: u32, value: &T) -> io::Result<()> {
        self.set_bytes(attr, (value as *const T).cast(), std::mem::size_of::<T>())
    }

    /// Sets `attr` to the `size` bytes at `value`, which must outlive the list's use.
    fn set_bytes(&mut self, attr: u32, value: *const c_void, size: usize) -> io::Result<()> {
        // SAFETY: an initialized list; `value` stays alive until CreateProcessW returns
        // (the caller keeps it); `size` is its size in bytes.
        let ok = unsafe {
            UpdateProcThreadAttribute(
                self.ptr(),
                0,
                attr as usize,
                value,
                size,
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for AttrList {
    fn drop(&mut self) {
        // SAFETY: the list was initialized in `new`.
        unsafe { DeleteProcThreadAttributeList(self.ptr()) };
    }
}

/// Everything one `CreateProcessW` call needs.
struct Launch<'a> {
    app: &'a [u16],
    line: Vec<u16>,
    env: Option<&'a [u16]>,
    cwd: Option<&'a [u16]>,
    flags: PROCESS_CREATION_FLAGS,
    stdio: [HANDLE; 3],
    /// `Some`: inherit only these (`PROC_THREAD_ATTRIBUTE_HANDLE_LIST`).
    only: Option<&'a [HANDLE]>,
    job: Option<&'a [HANDLE]>,
    /// Start the first thread in this processor group (`PROC_THREAD_ATTRIBUTE_GROUP_AFFINITY`).
    group: Option<&'a GROUP_AFFINITY>,
    /// Run as this user (`CreateProcessWithLogonW`).
    logon: Option<&'a Logon>,
    /// Run with this primary token (`CreateProcessAsUserW`).
    token: Option<HANDLE>,
}

/// Created process and thread handles, pid.
struct Created {
    process: OwnedHandle,
    thread: OwnedHandle,
    pid: u32,
}

fn create(l: &mut Launch) -> io::Result<Created> {
    if let Some(logon) = l.logon {
        return create_with_logon(l, logon);
    }
    let only = l.only.filter(|h| !h.is_empty());
    let count =
        u32::from(only.is_some()) + u32::from(l.job.is_some()) + u32::from(l.group.is_some());
    let mut attrs = if count > 0 {
        Some(AttrList::new(count)?)
    } else {
        None
    };
    if let (Some(a), Some(h)) = (attrs.as_mut(), only) {
        a.set(PROC_THREAD_ATTRIBUTE_HANDLE_LIST, h)?;
    }
    if let (Some(a), Some(j)) = (attrs.as_mut(), l.job) {
        a.set(PROC_THREAD_ATTRIBUTE_JOB_LIST, j)?;
    }
    if let (Some(a), Some(g)) = (attrs.as_mut(), l.group) {
        a.set_value(PROC_THREAD_ATTRIBUTE_GROUP_AFFINITY, g)?;
    }
    // SAFETY: all-zero is a valid STARTUPINFOEXW (null pointers, no flags).
    let mut si: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
    si.StartupInfo.cb = std::mem::size_of::<STARTUPINFOEXW>() as u32;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = l.stdio[0];
    si.StartupInfo.hStdOutput = l.stdio[1];
    si.StartupInfo.hStdError = l.stdio[2];
    let mut flags = l.flags;
    if let Some(a) = attrs.as_mut() {
        si.lpAttributeList = a.ptr();
        flags |= EXTENDED_STARTUPINFO_PRESENT;
    }
    // Restricted to an empty list: nothing to inherit.
    let inherit = if l.only.is_some_and(|h| h.is_empty()) {
        FALSE
    } else {
        TRUE
    };
    // SAFETY: all-zero is a valid PROCESS_INFORMATION to be filled in.
    let mut pi: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    // With a token: the same call, made for the token's user.
    // SAFETY: `app` and `line` are NUL-terminated (`line` mutable, as required); `env`
    // is a double-NUL-ended UTF-16 block; `cwd` NUL-terminated; `si` is a
    // STARTUPINFOEXW whose attribute list and handle arrays outlive the call; `token`
    // is a live token handle the command keeps open.
    let ok = unsafe {
        match l.token {
            Some(token) => CreateProcessAsUserW(
                token,
                l.app.as_ptr(),
                l.line.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                inherit,
                flags,
                l.env.map_or(std::ptr::null(), |e| e.as_ptr().cast()),
                l.cwd.map_or(std::ptr::null(), |c| c.as_ptr()),
                &si.StartupInfo,
                &mut pi,
            ),
            None => CreateProcessW(
                l.app.as_ptr(),
                l.line.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                inherit,
                flags,
                l.env.map_or(std::ptr::null(), |e| e.as_ptr().cast()),
                l.cwd.map_or(std::ptr::null(), |c| c.as_ptr()),
                &si.StartupInfo,
                &mut pi,
            ),
        }
    };
    drop(attrs);
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both handles are fresh and ours.
    Ok(unsafe {
        Created {
            process: OwnedHandle::from_raw_handle(pi.hProcess as _),
            thread: OwnedHandle::from_raw_handle(pi.hThread as _),
            pid: pi.dwProcessId,
        }
    })
}

/// `CreateProcessWithLogonW`: the standard handles only, no attribute list (a job is
/// joined by the assignment after creation).
fn create_with_logon(l: &mut Launch, logon: &Logon) -> io::Result<Created> {
    // SAFETY: all-zero is a valid STARTUPINFOW (null pointers, no flags).
    let mut si: STARTUPINFOW = unsafe { std::mem::zeroed() };
    si.cb = std::mem::size_of::<STARTUPINFOW>() as u32;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = l.stdio[0];
    si.hStdOutput = l.stdio[1];
    si.hStdError = l.stdio[2];
    // SAFETY: all-zero is a valid PROCESS_INFORMATION to be filled in.
    let mut pi: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    // Stubs may fail without setting an error: start from none.
    // SAFETY: plain call.
    unsafe { SetLastError(0) };
    // SAFETY: every string is NUL-terminated UTF-16 (`line` mutable, as required);
    // `env` is a double-NUL-ended block; `si` and `pi` are live.
    let ok = unsafe {
        CreateProcessWithLogonW(
            logon.user.as_ptr(),
            logon
                .domain
                .as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr()),
            logon.password.0.as_ptr(),
            LOGON_WITH_PROFILE,
            l.app.as_ptr(),
            l.line.as_mut_ptr(),
            l.flags,
            l.env.map_or(std::ptr::null(), |e| e.as_ptr().cast()),
            l.cwd.map_or(std::ptr::null(), |c| c.as_ptr()),
            &si,
            &mut pi,
        )
    };
    if ok == 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            // No error set: a stub (Wine's).
            Some(0) => io::Error::from_raw_os_error(ERROR_CALL_NOT_IMPLEMENTED as i32),
            _ => e,
        });
    }
    // SAFETY: both handles are fresh and ours.
    Ok(unsafe {
        Created {
            process: OwnedHandle::from_raw_handle(pi.hProcess as _),
            thread: OwnedHandle::from_raw_handle(pi.hThread as _),
            pid: pi.dwProcessId,
        }
    })
}

/// Process handles of children just spawned, until `Handle::open_child` takes them.
static SPAWNED: Mutex<Vec<(u32, OwnedHandle)>> = Mutex::new(Vec::new());

/// Keeps a (least-rights) handle of a child just spawned for `Handle::open_child`.
fn keep_spawned(pid: u32, process: HANDLE) {
    if let Ok(h) = Handle::base_duplicate(process) {
        SPAWNED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((pid, h));
    }
}

/// The handle kept for child `pid`, if any (taken out).
pub(crate) fn take_spawned(pid: u32) -> Option<OwnedHandle> {
    let mut v = SPAWNED.lock().unwrap_or_else(|p| p.into_inner());
    let i = v.iter().position(|(p, _)| *p == pid)?;
    Some(v.swap_remove(i).1)
}

/// Serializes corral's spawns while they hold inheritable stdio duplicates, so one spawn's
/// duplicates cannot end up in another's child (std's own spawns take std's lock, not
/// this one: a std spawn on another thread at the same moment may still inherit them).
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// Spawns the child with the creation flags the options ask for.
pub(crate) fn spawn(
    _: &mut std::process::Command,
    spec: &mut Spec,
    opts: &Options,
    _: Option<&BlockGuard>,
) -> Result<(SpawnedChild, Spawned)> {
    let op = "spawn";
    check(opts)?;
    // Bad CPU lists are refused before anything starts.
    let group_affinity = match &opts.affinity {
        Some(cpus) => {
            let table = GroupTable::machine();
            match table.masks(cpus, op)?[..] {
                [m] if !table.is_single() => Some(m.to_win()),
                _ => None,
            }
        }
        None => None,
    };
    let base = if opts.platform.user_env {
        Some(match &opts.platform.token {
            Some(Ok(t)) => user_env(t.as_raw_handle() as HANDLE)?,
            _ => user_env(own_token()?.as_raw_handle() as HANDLE)?,
        })
    } else {
        None
    };
    let (env, child_path) = env_block(spec, base)?;
    let app = resolve(&spec.program, child_path.as_deref())?;
    let (app_w, line) = command_line(&app, spec)?;
    let cwd_w: Option<Vec<u16>> = match &spec.cwd {
        Some(d) => {
            let w: Vec<u16> = d.as_os_str().encode_wide().collect();
            if w.contains(&0) {
                return Err(invalid(format!("working directory {d:?} has a NUL")));
            }
            Some(w.into_iter().chain([0]).collect())
        }
        None => None,
    };
    // From the first inheritable duplicate until they are closed again: no other corral
    // spawn (which may inherit every inheritable handle) can run CreateProcessW.
    let lock = SPAWN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (in_h, in_ours) = child_stdio(spec.stdin.take(), STD_INPUT_HANDLE)?;
    let (out_h, out_ours) = child_stdio(spec.stdout.take(), STD_OUTPUT_HANDLE)?;
    let (err_h, err_ours) = child_stdio(spec.stderr.take(), STD_ERROR_HANDLE)?;
    let theirs = [in_h, out_h, err_h];
    let raw = |h: &Option<OwnedHandle>| {
        h.as_ref()
            .map_or(std::ptr::null_mut(), |h| h.as_raw_handle() as HANDLE)
    };
    let stdio = [raw(&theirs[0]), raw(&theirs[1]), raw(&theirs[2])];
    let mut list: Vec<HANDLE> = stdio.iter().copied().filter(|h| !h.is_null()).collect();
    for &k in opts.keep_fds.iter().flatten() {
        list.push(kept_handle(k)?);
    }
    list.sort_unstable();
    list.dedup();
    let restrict = opts.keep_fds.is_some();
    let job_raw = opts.job.as_ref().map(|j| [j.raw()]);
    let post_setup = opts.job.is_some() || opts.affinity.is_some() || opts.priority_class.is_some();
    let mut launch = Launch {
        app: &app_w,
        line,
        env: env.as_deref(),
        cwd: cwd_w.as_deref(),
        flags: creation_flags(opts, opts.suspended || post_setup),
        stdio,
        only: restrict.then_some(&list[..]),
        job: job_raw.as_ref().map(|j| &j[..]),
        group: group_affinity.as_ref(),
        logon: opts.platform.logon.as_ref(),
        token: match &opts.platform.token {
            Some(Ok(t)) => Some(t.as_raw_handle() as HANDLE),
            _ => None,
        },
    };
    let created = {
        match create(&mut launch) {
            // The job attribute refused (older Windows, Wine): create it suspended
            // without, and assign it below.
            Err(_) if launch.job.is_some() && launch.logon.is_none() => {
                launch.job = None;
                create(&mut launch)
            }
            r => r,
        }
    };
    drop(theirs);
    drop(lock);
    let with_token = launch.token.is_some();
    let created = created.map_err(|e| create_error(e, spec, with_token))?;
    let pid = Pid::new(created.pid).expect("a child has a positive pid");
    keep_spawned(created.pid, created.process.as_raw_handle() as HANDLE);
    if opts.new_process_group {
        // A group root: recorded so that Ctrl-Break may be sent to its group (see
        // `console.rs`), with whether it shares this process's console.
        let shared = opts.platform.console() == Console::Inherit && console::caller_has_console();
        let raw = created.process.as_raw_handle() as HANDLE;
        if let Ok(ticks) = super::process::creation_ticks(raw, pid, op) {
            let c = if shared {
                console::RootConsole::Shared
            } else {
                console::RootConsole::Other
            };
            console::record_root(created.pid, ticks, c);
        }
    }
    let mut child = SpawnedChild {
        pid: created.pid,
        process: created.process,
        stdin: None,
        stdout: None,
        stderr: None,
    };
    for o in [in_ours, out_ours, err_ours].into_iter().flatten() {
        match o {
            Ours::In(p) => child.stdin = Some(p),
            Ours::Out(p) => child.stdout = Some(p),
            Ours::Err(p) => child.stderr = Some(p),
        }
    }
    if post_setup {
        let r = Handle::base_duplicate(child.raw())
            .map_err(|e| super::util::win_error("spawn", Some(pid), e))
            .and_then(|h| Handle::open_child_with(pid, h))
            .and_then(|h| {
                if let (Some(job), Some(j)) = (&opts.job, job_raw) {
                    let mut inside = FALSE;
                    // SAFETY: our process handle and the job's handle; `inside` is live.
                    let ok = unsafe { IsProcessInJob(child.raw(), j[0], &mut inside) };
                    if ok == 0 || inside == FALSE {
                        job.assign(&h)?;
                    }
                }
                if let Some(cpus) = &opts.affinity {
                    h.set_affinity(cpus)?;
                }
                if let Some(c) = opts.priority_class {
                    h.set_priority_class(c)?;
                }
                if !opts.suspended {
                    // SAFETY: the primary thread handle CreateProcessW gave us.
                    let n = unsafe { ResumeThread(created.thread.as_raw_handle() as HANDLE) };
                    if n == u32::MAX {
                        return Err(super::util::last_error("resume", Some(pid)));
                    }
                }
                Ok(())
            });
        if let Err(e) = r {
            let _ = child.kill();
            let _ = child.wait();
            drop(take_spawned(created.pid));
            return Err(e);
        }
    }
    Ok((child, Spawned { pty_master: None }))
}

/// A handle kept with `os::windows::CommandExt::keep_handle` (stored as its low 32
/// bits), checked to be open and inheritable.
fn kept_handle(k: i32) -> Result<HANDLE> {
    let h = k as isize as HANDLE;
    let mut flags = 0u32;
    // SAFETY: GetHandleInformation only reads the handle table entry; `flags` is live.
    if unsafe { GetHandleInformation(h, &mut flags) } == 0 {
        return Err(invalid(format!("kept handle {h:?} is not an open handle")));
    }
    if flags & HANDLE_FLAG_INHERIT == 0 {
        return Err(invalid(format!(
            "kept handle {h:?} is not inheritable (mark it with SetHandleInformation)"
        )));
    }
    Ok(h)
}

/// A `CreateProcessW` failure with what it means.
fn create_error(e: io::Error, spec: &Spec, with_token: bool) -> Error {
    let code = e.raw_os_error().map(|c| c as u32);
    let err = super::util::win_error("spawn", None, e);
    match code {
        Some(ERROR_PRIVILEGE_NOT_HELD) if with_token => {
            return err.with_kind(ErrorKind::AccessDenied).with_detail(
                "CreateProcessAsUserW needs SeIncreaseQuotaPrivilege, and \
                 SeAssignPrimaryTokenPrivilege for a token not derived from this process's own",
            )
        }
        Some(ERROR_INVALID_HANDLE | ERROR_BAD_TOKEN_TYPE) if with_token => {
            return err
                .with_kind(ErrorKind::InvalidInput)
                .with_detail("the token is not a primary access token")
        }
        Some(ERROR_LOGON_FAILURE) => {
            return err
                .with_kind(ErrorKind::AccessDenied)
                .with_detail("the logon failed: unknown user name or bad password")
        }
        Some(ERROR_CALL_NOT_IMPLEMENTED) => {
            return err
                .with_kind(ErrorKind::Unsupported)
                .with_detail("CreateProcessWithLogonW is not implemented here")
        }
        _ => {}
    }
    match (code, &spec.cwd) {
        (Some(ERROR_DIRECTORY | ERROR_PATH_NOT_FOUND), Some(d)) if !d.is_dir() => err
            .with_kind(ErrorKind::InvalidInput)
            .with_detail(format!("working directory {} does not exist", d.display())),
        (Some(ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND), _) => {
            err.with_detail(format!("program {:?} does not exist", spec.program))
        }
        _ => err,
    }
}

/// Windows cannot replace a running process's image.
pub(crate) fn exec(_: &mut std::process::Command, _: &mut Spec, _: &Options) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_block_applies_the_changes_to_a_given_base() {
        let w = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let spec = Spec {
            env: vec![
                ("PATH".into(), Some("C:\\bin".into())),
                ("temp".into(), None),
            ],
            ..Spec::default()
        };
        let base = vec![
            (w("TEMP"), w("C:\\t")),
            (w("Path"), w("C:\\old")),
            (w("USERPROFILE"), w("C:\\u")),
        ];
        let (blk, path) = env_block(&spec, Some(base)).unwrap();
        assert_eq!(path, Some("C:\\bin".into()));
        let text = String::from_utf16(&blk.unwrap()).unwrap();
        assert_eq!(text, "PATH=C:\\bin\0USERPROFILE=C:\\u\0\0");
        // A base alone is a block of its own, even with no change.
        let (blk, _) = env_block(&Spec::default(), Some(vec![(w("A"), w("1"))])).unwrap();
        assert_eq!(blk.unwrap(), w("A=1\0\0"));
    }

    #[test]
    fn env_block_is_sorted_case_insensitively_and_double_nul_ended() {
        let spec = Spec {
            env_clear: true,
            env: vec![
                ("b".into(), Some("2".into())),
                ("A".into(), Some("1".into())),
                ("Path".into(), Some("C:\\x".into())),
                ("a".into(), Some("one".into())),
                ("gone".into(), Some("x".into())),
                ("GONE".into(), None),
            ],
            ..Spec::default()
        };
        let (blk, path) = env_block(&spec, None).unwrap();
        let blk = String::from_utf16(&blk.unwrap()).unwrap();
        assert_eq!(blk, "a=one\0b=2\0Path=C:\\x\0\0");
        assert_eq!(path.unwrap(), "C:\\x");
        let empty = Spec {
            env_clear: true,
            ..Spec::default()
        };
        assert_eq!(env_block(&empty, None).unwrap().0.unwrap(), vec![0, 0]);
    }

    #[test]
    fn bad_environment_is_refused() {
        for (k, v) in [("", "x"), ("a=b", "x"), ("a\0", "x"), ("a", "x\0y")] {
            let spec = Spec {
                env: vec![(k.into(), Some(v.into()))],
                ..Spec::default()
            };
            let e = env_block(&spec, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{k:?}={v:?}: {e}");
        }
        let spec = Spec {
            env: vec![("big".into(), Some("x".repeat(MAX_ENV_VAR).into()))],
            ..Spec::default()
        };
        let e = env_block(&spec, None).unwrap_err();
        assert!(e.to_string().contains("32767"), "{e}");
    }

    #[test]
    fn secrets_are_wiped() {
        let mut extra = SpawnExtra::default();
        extra.set_logon("u", Some("d"), "pässwörd");
        let logon = extra.logon.as_mut().unwrap();
        assert_eq!(
            String::from_utf16(body(&logon.password.0)).unwrap(),
            "pässwörd"
        );
        assert_eq!(body(&logon.user), "u".encode_utf16().collect::<Vec<_>>());
        logon.password.wipe();
        assert!(logon.password.0.iter().all(|&u| u == 0));
        assert_eq!(logon.password.0.len(), "pässwörd".len() - 2 + 1);
        assert_eq!(format!("{:?}", logon.password), "Secret(..)");
    }

    #[test]
    fn drive_directories_are_kept() {
        assert_eq!(
            split_var(&"=C:=C:\\dir".encode_utf16().collect::<Vec<_>>()),
            (
                "=C:".encode_utf16().collect(),
                "C:\\dir".encode_utf16().collect()
            )
        );
    }
}
