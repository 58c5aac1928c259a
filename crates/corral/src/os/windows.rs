//! Windows-only extensions of portable types.
//!
//! # Signals on Windows
//!
//! Windows has no signals. [`Process::send_signal`] maps the portable ones as follows;
//! every other signal fails with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
//!
//! | signal | Windows call | exit code the process gets |
//! |---|---|---|
//! | `KILL` | `TerminateProcess` | 9 |
//! | `TERM` | `TerminateProcess` | 15 |
//! | `STOP` | `NtSuspendProcess` (every thread) | — |
//! | `CONT` | `NtResumeProcess` (also starts a child spawned suspended) | — |
//!
//! Windows has no process-group signals
//! ([`Process::signal_process_group`] is `Unsupported`); a console
//! process group spawned with
//! [`Command::new_process_group`](crate::Command::new_process_group) gets Ctrl-Break
//! with [`ProcessExt::send_ctrl_break`].
//!
//! The exit codes follow Python's `os.kill` on Windows (the signal number), so a
//! supervisor can tell a kill from an ordinary exit code 1;
//! [`ProcessExt::terminate_with_code`] picks any other code.
//!
//! A graceful stop ([`control::stop`](crate::control::stop) with `TERM`) first asks a
//! program with top-level windows to close them (`WM_CLOSE`, as `taskkill` without
//! `/F`); a console program, which has none, is terminated as `TERM` maps above.
//!
//! # Privilege
//!
//! The first time corral opens a process it enables `SeDebugPrivilege` in the calling
//! process's token when the token holds it (an elevated administrator's does, disabled),
//! as Task Manager and Process Explorer do: other users' and services' processes can then
//! be opened and queried. Protected processes stay closed (per-field `AccessDenied`).
//! A token without the privilege is left as it is.

use std::os::windows::io::{AsRawHandle, BorrowedHandle, RawHandle};
use std::path::PathBuf;

use crate::{Process, Result};

/// Windows-only methods of [`Command`](crate::Command).
pub trait CommandExt {
    /// Passes `handle` to the child (at the same value) and no inheritable handle but
    /// it and the standard ones, as [`Command::close_inherited`](crate::Command::close_inherited)
    /// does: `PROC_THREAD_ATTRIBUTE_HANDLE_LIST`. The handle must be inheritable (created
    /// so, or marked with `SetHandleInformation(HANDLE_FLAG_INHERIT)`) and stay open until
    /// the child is spawned; tell the child its value (an argument, a variable).
    ///
    /// [`Command::spawn`](crate::Command::spawn) fails with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if it is closed or
    /// not inheritable.
    fn keep_handle(self, handle: BorrowedHandle<'_>) -> Self;

    /// Which console the child gets (a creation flag; see [`Console`]). The flags
    /// `CREATE_NEW_CONSOLE`, `CREATE_NO_WINDOW` and `DETACHED_PROCESS` exclude each
    /// other, so one `Console` value picks one of them.
    ///
    /// [`Command::spawn`](crate::Command::spawn) fails with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput), before anything
    /// runs, when one command is given two different console modes (say `New`, then
    /// `Detached`: the flags `CreateProcessW` would get make no sense together, and
    /// silently keeping the last would hide the mistake). Giving the same one twice is
    /// fine.
    fn console(self, console: Console) -> Self;

    /// Runs the child as another user: `CreateProcessWithLogonW` with
    /// `LOGON_WITH_PROFILE` (the user's profile is loaded), `user` in `domain` (`None`:
    /// the local account database, or `user` given as `user@domain`). The password is
    /// copied into memory corral zeroes once the command is dropped, spawned or not;
    /// the caller's own copy stays the caller's to wipe.
    ///
    /// Windows gives such a child a console of its own unless
    /// [`Console::NoWindow`] or [`Console::Detached`] is asked for, and lets it inherit
    /// no handle but the standard ones; it joins a job by being assigned while
    /// suspended. Its environment is the user's profile environment when the command
    /// changes no variable; a command that sets, removes or clears variables passes a
    /// block built from this process's environment instead.
    ///
    /// [`Command::spawn`](crate::Command::spawn) fails with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an empty user
    /// name, a NUL in any of the three, [`Console::Inherit`] asked for explicitly, or
    /// handles kept with [`CommandExt::keep_handle`];
    /// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) when the logon fails
    /// (wrong user name or password, or a right the account lacks), and
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) where the call is not
    /// implemented (Wine).
    fn logon(self, user: &str, domain: Option<&str>, password: &str) -> Self;

    /// Runs the child with `token`, a primary access token (`CreateProcessAsUserW`): what
    /// a service does with a token from `LogonUserW`, `WTSQueryUserToken` or
    /// `DuplicateTokenEx`. The handle is duplicated here; the caller may close its own.
    /// The child keeps every other option — inherited handles, a job, suspended start —
    /// and gets the caller's environment unless the command sets one (a user's own
    /// environment comes from `CreateEnvironmentBlock`).
    ///
    /// Windows asks for `SeIncreaseQuotaPrivilege`, and `SeAssignPrimaryTokenPrivilege`
    /// unless the token is a restricted or duplicated version of the caller's own.
    ///
    /// [`Command::spawn`](crate::Command::spawn) fails with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the handle could
    /// not be duplicated or [`CommandExt::logon`] is given too, and with
    /// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) when Windows refuses
    /// the token or a privilege is missing.
    fn user_token(self, token: BorrowedHandle<'_>) -> Self;

    /// Starts the child's environment from the default one of the user it runs as —
    /// the [`user_token`](CommandExt::user_token)'s user, else this process's — as that
    /// user's own logon would (`CreateEnvironmentBlock`: the system's variables and the
    /// user's, `USERPROFILE`, `APPDATA` and so on), instead of from this process's
    /// environment. The command's `env`, `env_remove` and `env_clear` then apply to it.
    /// What a service starting a program for a user wants: otherwise the child inherits
    /// the service's environment.
    ///
    /// [`Command::spawn`](crate::Command::spawn) fails with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) together with
    /// [`CommandExt::logon`] (`CreateProcessWithLogonW` builds the user's environment
    /// itself when the command changes no variable; with changes, they apply to this
    /// process's environment).
    fn user_environment(self) -> Self;
}

/// The console a spawned child gets ([`CommandExt::console`]). It matters for console
/// programs only; a GUI program gets no console in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Console {
    /// The caller's console, if it has one (no flag): the default. The child shares the
    /// caller's console window and its Ctrl-C/Ctrl-Break events.
    #[default]
    Inherit,
    /// A new console with its own window (`CREATE_NEW_CONSOLE`).
    New,
    /// A new console without a window (`CREATE_NO_WINDOW`): what a service or a
    /// background tool wants, so that no window flashes up; the child's console calls
    /// still work.
    NoWindow,
    /// No console at all (`DETACHED_PROCESS`): console calls fail in the child until it
    /// calls `AllocConsole` or `AttachConsole`; its standard streams are what the
    /// command redirects them to.
    Detached,
}

impl CommandExt for crate::Command {
    fn keep_handle(mut self, handle: BorrowedHandle<'_>) -> Self {
        // Kernel handles have 32 significant bits (sign-extended when widened).
        self.keep_raw_fd(handle.as_raw_handle() as isize as i32);
        self
    }

    fn console(mut self, console: Console) -> Self {
        self.platform_mut().set_console(console);
        self
    }

    fn logon(mut self, user: &str, domain: Option<&str>, password: &str) -> Self {
        self.platform_mut().set_logon(user, domain, password);
        self
    }

    fn user_token(mut self, token: BorrowedHandle<'_>) -> Self {
        self.platform_mut().set_token(token);
        self
    }

    fn user_environment(mut self) -> Self {
        self.platform_mut().set_user_env();
        self
    }
}

/// Windows-only methods of [`Process`].
pub trait ProcessExt {
    /// The process handle this `Process` holds (`PROCESS_QUERY_LIMITED_INFORMATION |
    /// SYNCHRONIZE`). It stays owned by the `Process`; duplicate it to keep it longer.
    fn raw_handle(&self) -> RawHandle;

    /// The creation time as a FILETIME (100 ns ticks since 1601-01-01 UTC): with the
    /// pid, what identifies the process.
    fn creation_filetime(&self) -> u64;

    /// Ends the process with `code` as its exit code (`TerminateProcess`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) when the caller may
    /// not terminate it. Terminating a process that already exited succeeds.
    fn terminate_with_code(&self, code: u32) -> Result<()>;

    /// The top-level windows the process owns, as `HWND` values (`EnumWindows` +
    /// `GetWindowThreadProcessId`); empty for a console program or a service.
    fn windows(&self) -> Vec<isize>;

    /// The modules (the program and its DLLs) loaded in the process, the program first
    /// (`EnumProcessModulesEx(LIST_MODULES_ALL)`, `GetModuleFileNameExW`,
    /// `GetModuleBaseNameW`, `GetModuleInformation`). A module unloaded while the list
    /// is read is left out. A 64-bit caller sees a WOW64 process's 32-bit and 64-bit
    /// modules; a 32-bit caller cannot list a 64-bit process's.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) when the process may
    /// not be read (`PROCESS_QUERY_INFORMATION | PROCESS_VM_READ`: another user's or a
    /// protected process); [`ErrorKind::Zombie`](crate::ErrorKind::Zombie) once it
    /// exited; [`ErrorKind::Os`](crate::ErrorKind::Os) (`ERROR_PARTIAL_COPY`) for a
    /// process whose loader has not started yet, as one spawned suspended.
    fn modules(&self) -> Result<Vec<Module>>;

    /// The integrity level of the process's token (`GetTokenInformation` with
    /// `TokenIntegrityLevel`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) when its token may
    /// not be opened; [`ErrorKind::Zombie`](crate::ErrorKind::Zombie) once it exited.
    fn integrity_level(&self) -> Result<IntegrityLevel>;

    /// Whether the process is a 32-bit program running on 64-bit Windows (WOW64):
    /// `IsWow64Process2` (Windows 10 1511+), else `IsWow64Process`. `false` for a native
    /// process, and for every process on 32-bit Windows.
    ///
    /// # Errors
    ///
    /// OS errors from the call; an exited process is still answered.
    fn is_wow64(&self) -> Result<bool>;

    /// Sends Ctrl-Break to the console process group this process is the root of
    /// (`GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid)`): every process of the group
    /// on the caller's console gets it (its handler runs; without one it exits with
    /// `STATUS_CONTROL_C_EXIT`). A group root's children are in its group unless they
    /// were started in a new one.
    ///
    /// Only for a group root corral knows: a process spawned by corral (in this
    /// process) with [`Command::new_process_group`](crate::Command::new_process_group)
    /// and the console inherited ([`Console::Inherit`]), recognised by pid and creation
    /// time also when opened again by pid. Windows sends the event by group id:
    /// group 0 means every process on the caller's console, the caller included, and
    /// the pid of a process that roots no group can be taken the same way, so any other
    /// process is refused rather than risk stopping the caller.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a process that is
    /// not such a root (not spawned by corral with `new_process_group`, spawned with a
    /// console of its own or detached, or spawned while this process had no console);
    /// OS errors from the call
    /// ([`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) where it is not
    /// implemented).
    fn send_ctrl_break(&self) -> Result<()>;
}

/// A module loaded in a process ([`ProcessExt::modules`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The file name, as `kernel32.dll` (`GetModuleBaseNameW`).
    pub name: String,
    /// The full path of the file it was loaded from (`GetModuleFileNameExW`).
    pub path: PathBuf,
    /// Where it is mapped in the process (its `HMODULE`).
    pub base: usize,
    /// The size of its image in memory, in bytes.
    pub size: usize,
}

/// The mandatory integrity level of a process's token ([`ProcessExt::integrity_level`]):
/// the last sub-authority (RID) of its label SID `S-1-16-RID`, by range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntegrityLevel {
    /// Below 0x1000 (`SECURITY_MANDATORY_UNTRUSTED_RID`, 0).
    Untrusted,
    /// 0x1000..0x2000: sandboxed programs (a browser's renderers, AppContainers).
    Low,
    /// 0x2000..0x3000: a standard user's programs, an administrator's unelevated ones
    /// (0x2100, medium-plus, included).
    Medium,
    /// 0x3000..0x4000: elevated programs ("Run as administrator").
    High,
    /// 0x4000 and above: services and the system (0x5000, protected processes,
    /// included).
    System,
}

impl IntegrityLevel {
    /// The level of an integrity RID, by the ranges above.
    pub fn from_rid(rid: u32) -> IntegrityLevel {
        match rid {
            0..0x1000 => IntegrityLevel::Untrusted,
            0x1000..0x2000 => IntegrityLevel::Low,
            0x2000..0x3000 => IntegrityLevel::Medium,
            0x3000..0x4000 => IntegrityLevel::High,
            _ => IntegrityLevel::System,
        }
    }
}

impl ProcessExt for Process {
    fn raw_handle(&self) -> RawHandle {
        self.handle().raw_handle()
    }

    fn creation_filetime(&self) -> u64 {
        self.handle().start_ticks
    }

    fn terminate_with_code(&self, code: u32) -> Result<()> {
        self.handle().terminate_with(code)
    }

    fn windows(&self) -> Vec<isize> {
        crate::sys::imp::windows_of(self.pid().as_raw())
    }

    fn modules(&self) -> Result<Vec<Module>> {
        self.handle().modules()
    }

    fn integrity_level(&self) -> Result<IntegrityLevel> {
        self.handle().integrity_level()
    }

    fn is_wow64(&self) -> Result<bool> {
        self.handle().is_wow64()
    }

    fn send_ctrl_break(&self) -> Result<()> {
        self.handle().send_ctrl_break()
    }
}

/// The process that owns window `hwnd` (an `HWND` value), opened by pid and checked
/// against the window's owner again after opening (a pid reused meanwhile is refused).
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `hwnd` is not a
/// window; as [`Process::open`] otherwise.
pub fn window_process(hwnd: isize) -> Result<Process> {
    let op = "find the window's process";
    let pid = crate::sys::imp::window_owner(hwnd)?;
    let p = Process::open(crate::Pid::new(pid).ok_or_else(|| {
        crate::Error::new(crate::ErrorKind::NoSuchProcess, op).with_detail("pid 0 owns it")
    })?)?;
    // The window still belongs to the process just opened (else its owner exited and
    // the pid went to another process between the two calls).
    if crate::sys::imp::window_owner(hwnd)? != pid || !p.is_running() {
        return Err(crate::Error::new(crate::ErrorKind::NoSuchProcess, op)
            .with_detail(format!("the owner of window {hwnd:#x} exited")));
    }
    Ok(p)
}

/// Windows-only methods of [`Job`](crate::Job): Job Object limits and accounting.
pub trait JobExt {
    /// Kill-on-close (`JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`): when the last handle of the
    /// job closes (every `Job` value for it dropped, in every process), every member is
    /// killed.
    ///
    /// # Errors
    ///
    /// OS errors from `SetInformationJobObject`.
    fn set_kill_on_close(&self, yes: bool) -> Result<()>;

    /// At most `limit` live processes in the job (`JOB_OBJECT_LIMIT_ACTIVE_PROCESS`):
    /// creating or assigning one more fails (`ERROR_NOT_ENOUGH_QUOTA`). `None` lifts it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for 0; OS errors.
    fn set_active_process_limit(&self, limit: Option<u32>) -> Result<()>;

    /// `(total, active, terminated)` process counts over the job's life
    /// (`JobObjectBasicAccountingInformation`; `terminated` counts processes ended by
    /// a limit).
    ///
    /// # Errors
    ///
    /// OS errors from `QueryInformationJobObject`.
    fn process_counts(&self) -> Result<(u32, u32, u32)>;
}

impl JobExt for crate::Job {
    fn set_kill_on_close(&self, yes: bool) -> Result<()> {
        self.inner_job().set_kill_on_close(yes)
    }

    fn set_active_process_limit(&self, limit: Option<u32>) -> Result<()> {
        self.inner_job().set_active_process_limit(limit)
    }

    fn process_counts(&self) -> Result<(u32, u32, u32)> {
        let a = self.inner_job().process_counts()?;
        Ok((
            a.total_processes,
            a.active_processes,
            a.terminated_processes,
        ))
    }
}

/// The Wine version (ntdll's `wine_get_version`) when this program runs under Wine,
/// else `None`. Tests use it to report what Wine cannot verify.
pub fn wine_version() -> Option<String> {
    crate::sys::imp::wine_version()
}
