//! Windows-only: windows and their processes, and the graceful stop of a GUI program
//! (`WM_CLOSE`, as `taskkill` without `/F`) against a console one (terminated). Like the
//! other `windows_*.rs` tests, a `harness = false` test that is its own child program;
//! on other platforms it does nothing.

#[cfg(not(windows))]
fn main() {
    println!("windows_gui: Windows only; nothing to run here");
}

#[cfg(windows)]
fn main() {
    imp::main()
}

#[cfg(windows)]
#[macro_use]
mod harness;

#[cfg(windows)]
mod imp {
    use std::io::{BufRead, BufReader, Write};
    use std::time::Duration;

    use corral::control::{self, StopOutcome};
    use corral::os::windows::{window_process, ProcessExt};
    use corral::{Command, ErrorKind, ExitStatus, Process, Signal, Stdio};
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        CreateWindowExW, DispatchMessageW, GetMessageW, IsWindow, CW_USEDEFAULT, MSG,
        WS_OVERLAPPEDWINDOW,
    };

    use crate::harness::{run, Outcome::*, Test, TestResult};

    const CHILD_VAR: &str = "CORRAL_WINDOWS_GUI_CHILD";

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(std::iter::once(0)).collect()
    }

    /// `window`: makes a top-level window, prints `ready` (or `nowindow`), and exits 42
    /// once the window is destroyed (a `WM_CLOSE` does that). `sleep`: sleeps 30 s.
    fn child_main(mode: &str) -> ! {
        if mode == "window" {
            let class = wide("STATIC");
            let title = wide("corral test window");
            // SAFETY: a predefined window class, NUL-terminated strings, no parent.
            let hwnd = unsafe {
                CreateWindowExW(
                    0,
                    class.as_ptr(),
                    title.as_ptr(),
                    WS_OVERLAPPEDWINDOW,
                    CW_USEDEFAULT,
                    CW_USEDEFAULT,
                    200,
                    100,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                )
            };
            let mut out = std::io::stdout();
            if hwnd.is_null() {
                let _ = writeln!(out, "nowindow {}", std::io::Error::last_os_error());
                std::process::exit(3);
            }
            let _ = writeln!(out, "ready");
            let _ = out.flush();
            // SAFETY: a zeroed MSG is valid; the loop only reads what GetMessageW wrote.
            let mut msg: MSG = unsafe { std::mem::zeroed() };
            // SAFETY: as above; `hwnd` was created by this thread.
            while unsafe { GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) } > 0 {
                // SAFETY: dispatching the message just received.
                unsafe { DispatchMessageW(&msg) };
                // SAFETY: IsWindow takes any value.
                if unsafe { IsWindow(hwnd) } == 0 {
                    std::process::exit(42);
                }
            }
            std::process::exit(4);
        }
        std::thread::sleep(Duration::from_secs(30));
        std::process::exit(0)
    }

    fn spawn(mode: &str) -> Result<(corral::Child, String), String> {
        let mut c = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_VAR, mode)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {mode}: {e}"))?;
        let mut line = String::new();
        if mode == "window" {
            BufReader::new(c.take_stdout().unwrap())
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
        }
        Ok((c, line.trim().to_owned()))
    }

    fn gui_program_is_asked_to_close() -> TestResult {
        let (c, line) = spawn("window")?;
        if line.starts_with("nowindow") {
            return Ok(MissingInWine(format!(
                "a window station to create windows in ({line})"
            )));
        }
        check!(line == "ready", "{line:?}");
        let p = t!(Process::open(c.pid()));
        let wins = p.windows();
        check!(
            !wins.is_empty(),
            "no top-level window found for {}",
            c.pid()
        );
        let owner = t!(window_process(wins[0]));
        check!(
            owner.pid() == c.pid(),
            "{} owns it, not {}",
            owner.pid(),
            c.pid()
        );
        let out = control::stop(&[p], Signal::Term, Duration::from_secs(20));
        match &out[0] {
            StopOutcome::Exited(st) => {
                check!(
                    *st == ExitStatus::Exited(42),
                    "it closed with {st:?}, not 42"
                )
            }
            o => return Err(format!("{o:?}: the window's WM_CLOSE did not end it")),
        }
        Ok(Pass)
    }

    fn console_program_is_terminated() -> TestResult {
        let (c, _) = spawn("sleep")?;
        let p = t!(Process::open(c.pid()));
        check!(p.windows().is_empty(), "a console program with windows?");
        let out = control::stop(&[p], Signal::Term, Duration::from_secs(20));
        match &out[0] {
            StopOutcome::Exited(st) => check!(*st == ExitStatus::Exited(15), "{st:?}"),
            o => return Err(format!("{o:?}")),
        }
        Ok(Pass)
    }

    fn not_a_window() -> TestResult {
        let e = window_process(0x7fff_0000).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        let e = window_process(0).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        Ok(Pass)
    }

    pub(super) fn main() {
        if let Ok(mode) = std::env::var(CHILD_VAR) {
            child_main(&mode);
        }
        let tests: &[Test] = &[
            (
                "gui_program_is_asked_to_close",
                gui_program_is_asked_to_close,
            ),
            (
                "console_program_is_terminated",
                console_program_is_terminated,
            ),
            ("not_a_window", not_a_window),
        ];
        run("windows_gui", tests);
    }
}
