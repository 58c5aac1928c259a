//! Windows-only spawn tests (corral's own `CreateProcessW` path: handle list, environment
//! block, batch files, limits, redirected I/O), run under Wine in CI. Like `portable.rs`,
//! a `harness = false` test that is its own child program, and counts what Wine cannot
//! verify or lacks apart from passes and failures. On other platforms it does nothing.

#[cfg(not(windows))]
fn main() {
    println!("windows_spawn: Windows only; nothing to run here");
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
    use std::collections::BTreeSet;
    use std::ffi::OsString;
    use std::io::{Read, Write};
    use std::os::windows::io::{AsHandle, AsRawHandle, FromRawHandle};
    use std::sync::mpsc;
    use std::time::Duration;

    use corral::os::windows::{wine_version, CommandExt, Console};
    use corral::{Command, ErrorKind, ExitStatus, PriorityClass, Process, Stdio};
    use windows_sys::Win32::Foundation::{SetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT};
    use windows_sys::Win32::System::Console::{GetConsoleProcessList, GetConsoleWindow};
    use windows_sys::Win32::System::Pipes::CreatePipe;

    const CHILD_VAR: &str = "CORRAL_WINDOWS_SPAWN_CHILD";

    use crate::harness::{run, Outcome::*, Test, TestResult};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The child: `argv` prints its arguments (hex, one a line); `env` prints its whole
    /// environment (hex of `name=value`, one a line); `sleep:MS`; `cat:N` copies stdin to
    /// stdout and writes N bytes to stderr; `print:TEXT` prints TEXT.
    fn child_main(mode: &str) -> ! {
        let (what, arg) = mode.split_once(':').unwrap_or((mode, ""));
        let mut out = std::io::stdout().lock();
        match what {
            "argv" => {
                for a in std::env::args_os().skip(1) {
                    writeln!(out, "{}", hex(a.as_encoded_bytes())).unwrap();
                }
            }
            "env" => {
                for (k, v) in std::env::vars_os() {
                    let mut e = k;
                    e.push("=");
                    e.push(v);
                    writeln!(out, "{}", hex(e.as_encoded_bytes())).unwrap();
                }
            }
            "sleep" => std::thread::sleep(Duration::from_millis(arg.parse().unwrap())),
            "cat" => {
                let n: usize = arg.parse().unwrap();
                let err = std::thread::spawn(move || {
                    std::io::stderr().write_all(&vec![b'E'; n]).unwrap();
                });
                std::io::copy(&mut std::io::stdin().lock(), &mut out).unwrap();
                err.join().unwrap();
            }
            "print" => write!(out, "{arg}").unwrap(),
            "inherit-console" => {
                // Spawns two children with the console inherited (the default, and
                // asked for): how many share theirs, and whether this process does.
                for c in [None, Some(Console::Inherit)] {
                    let (_, count, shares) = child_console(c).unwrap();
                    writeln!(out, "{count} {}", u8::from(shares)).unwrap();
                }
            }
            "console" => {
                // Whether this process has a console window, how many processes share
                // its console (0: no console), and whether the pid in `arg` is one.
                let parent: u32 = arg.parse().unwrap();
                let (window, list) = console_now();
                write!(
                    out,
                    "window={} count={} parent={}",
                    u8::from(window),
                    list.len(),
                    u8::from(list.contains(&parent))
                )
                .unwrap();
            }
            _ => std::process::exit(99),
        }
        out.flush().unwrap();
        std::process::exit(0)
    }

    /// Whether this process's console has a window, and the processes attached to its
    /// console (empty: it has none).
    fn console_now() -> (bool, Vec<u32>) {
        // SAFETY: plain calls; the list buffer's length is passed.
        unsafe {
            let window = !GetConsoleWindow().is_null();
            let mut list = vec![0u32; 64];
            let n = GetConsoleProcessList(list.as_mut_ptr(), list.len() as u32) as usize;
            list.truncate(n.min(64));
            (window, list)
        }
    }

    fn child(mode: &str) -> Command {
        Command::new(std::env::current_exe().unwrap()).env(CHILD_VAR, mode)
    }

    /// The pids of this process's children now.
    fn my_children() -> Result<BTreeSet<u32>, String> {
        let me = Process::current().map_err(|e| e.to_string())?;
        Ok(me
            .children()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|p| p.pid().as_raw())
            .collect())
    }

    /// Arguments that break naive quoting.
    const HOSTILE: &[&str] = &[
        "",
        " ",
        "a b",
        "\"",
        "\"\"",
        "\\\"",
        "\\\\\"",
        "a\\\\",
        "a b\\\\",
        "C:\\Program Files\\x\\",
        "\ttab\t",
        "new\nline",
        "%PATH%",
        "^&|<>()!",
        "ünï cødé ✓ 𝄞",
        "x\"y\\\"z\\\\",
        "-flag=\"a b\"",
        "\"\\\"\\\\\"",
    ];

    fn argv_round_trip() -> TestResult {
        let mut args: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
        // A long one too (well under the limit).
        args.push("\\\"x y".repeat(2000));
        let out = t!(child("argv")
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output()));
        check!(out.status == ExitStatus::Exited(0), "{:?}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        let got: Vec<Vec<u8>> = text.lines().map(unhex).collect();
        check!(
            got.len() == args.len(),
            "{} args back, sent {}",
            got.len(),
            args.len()
        );
        for (g, w) in got.iter().zip(&args) {
            check!(
                g == w.as_bytes(),
                "sent {w:?}, got {:?}",
                String::from_utf8_lossy(g)
            );
        }
        Ok(Pass)
    }

    fn child_env(cmd: Command) -> Result<Vec<(String, String)>, String> {
        let out = cmd
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output())
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8(out.stdout).unwrap();
        Ok(text
            .lines()
            .map(|l| {
                let e = String::from_utf8(unhex(l)).unwrap();
                // `=C:=C:\dir`: the name may start with '='.
                let eq = e[1..].find('=').map_or(e.len(), |p| p + 1);
                (e[..eq].to_string(), e[eq + 1..].to_string())
            })
            .collect())
    }

    fn environment_block() -> TestResult {
        let big = "v".repeat(30_000);
        let env = t!(child_env(
            child("env")
                .env("CORRAL_Mixed_Case", "first")
                .env("corral_mixed_case", "second ü=✓")
                .env("CORRAL_BIG", &big)
                .env("CORRAL_GONE", "x")
                .env_remove("corral_gone")
        ));
        let get = |k: &str| {
            env.iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        check!(
            get("CORRAL_MIXED_CASE") == ["second ü=✓"],
            "{:?}",
            get("CORRAL_MIXED_CASE")
        );
        check!(get("CORRAL_BIG") == [big.clone()], "big variable");
        check!(get("CORRAL_GONE").is_empty(), "removed case-insensitively");
        // Inherited variables are there, and the hidden per-drive ones (`=C:`) when this
        // process has them.
        check!(!get("PATH").is_empty(), "PATH inherited");
        let drives: Vec<OsString> = std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| k.to_string_lossy().starts_with('='))
            .collect();
        for d in &drives {
            let d = d.to_string_lossy();
            check!(env.iter().any(|(n, _)| *n == d), "{d} kept");
        }
        // A cleared environment: only what was set (Windows may add nothing).
        let env = t!(child_env(
            Command::new(std::env::current_exe().unwrap())
                .env_clear()
                .env(CHILD_VAR, "env")
                .env("ONLY", "1")
        ));
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        check!(
            names.contains(&"ONLY") && names.contains(&CHILD_VAR),
            "{names:?}"
        );
        let extra: Vec<&&str> = names
            .iter()
            .filter(|n| **n != "ONLY" && **n != CHILD_VAR)
            .collect();
        let mut outcome = Pass;
        if !extra.is_empty() {
            if wine_version().is_none() {
                return Err(format!("a cleared environment has {extra:?}"));
            }
            outcome = NotVerifiableUnderWine(format!(
                "a cleared environment ({} =X: drive entries checked): Wine adds {extra:?}",
                drives.len()
            ));
        }
        // Too long a variable: a clear error, nothing started.
        let before = t!(my_children());
        let e = child("env")
            .env("CORRAL_TOO_BIG", "x".repeat(32_767))
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("32767"), "{e}");
        check!(t!(my_children()) == before, "a child was left");
        Ok(outcome)
    }

    /// An anonymous pipe (read end, write end) as files, not inheritable.
    fn pipe() -> Result<(std::fs::File, std::fs::File), String> {
        let (mut r, mut w): (HANDLE, HANDLE) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: two live out-pointers; no security attributes.
        if unsafe { CreatePipe(&mut r, &mut w, std::ptr::null(), 0) } == 0 {
            return Err(format!("CreatePipe: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: both are fresh handles we own.
        Ok(unsafe {
            (
                std::fs::File::from_raw_handle(r as _),
                std::fs::File::from_raw_handle(w as _),
            )
        })
    }

    /// A pipe whose write end is inheritable; the read end, and whether EOF came
    /// (within `wait`) while the child `c` still ran.
    fn eof_while_running(
        restrict: bool,
        keep: bool,
        wait: Duration,
    ) -> Result<Option<bool>, String> {
        let (mut r, w) = pipe()?;
        // SAFETY: `w` is a live handle of this process.
        let ok = unsafe {
            SetHandleInformation(
                w.as_raw_handle() as HANDLE,
                HANDLE_FLAG_INHERIT,
                HANDLE_FLAG_INHERIT,
            )
        };
        check!(ok != 0, "SetHandleInformation failed");
        let mut cmd = child("sleep:20000")
            .stdout(Stdio::null())
            .close_inherited(restrict);
        if keep {
            cmd = cmd.keep_handle(w.as_handle());
        }
        let mut c = cmd.spawn().map_err(|e| e.to_string())?;
        drop(w);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            let _ = tx.send(r.read(&mut b).ok());
        });
        let got = rx.recv_timeout(wait);
        let running = c.is_running();
        let _ = c.kill();
        let _ = c.wait();
        Ok(match got {
            Ok(_) => Some(running),
            Err(_) => None, // still open: the child holds the write end
        })
    }

    fn handle_list() -> TestResult {
        // Listed: only stdio passes, so the pipe's write end closes with ours.
        match t!(eof_while_running(true, false, Duration::from_secs(10))) {
            Some(true) => {}
            Some(false) => return Err("the child exited before the check".into()),
            None if wine_version().is_some() => {
                return Ok(MissingInWine(
                    "PROC_THREAD_ATTRIBUTE_HANDLE_LIST (an unlisted handle was inherited)".into(),
                ))
            }
            None => return Err("an unlisted inheritable handle was inherited".into()),
        }
        // Not restricted: inherited, as std does, so no EOF while the child runs.
        let r = t!(eof_while_running(false, false, Duration::from_secs(2)));
        check!(
            r.is_none(),
            "the inheritable handle was not inherited: {r:?}"
        );
        // Listed and kept: inherited.
        let r = t!(eof_while_running(true, true, Duration::from_secs(2)));
        check!(r.is_none(), "the kept handle was not inherited: {r:?}");
        // A kept handle must be inheritable: a clear error, no child.
        let (_r, w) = t!(pipe());
        let before = t!(my_children());
        let e = child("sleep:20000")
            .keep_handle(w.as_handle())
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("inheritable"), "{e}");
        check!(t!(my_children()) == before, "a child was left behind");
        Ok(Pass)
    }

    fn suspended_then_resumed() -> TestResult {
        let mut c = t!(child("print:ran")
            .suspended(true)
            .stdout(Stdio::piped())
            .spawn());
        let mut out = c.take_stdout().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        // Suspended: no output, not exited.
        check!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "a suspended child wrote"
        );
        check!(c.is_running(), "not running");
        t!(c.resume());
        let s = t!(rx.recv_timeout(Duration::from_secs(30)));
        check!(s == "ran", "{s:?}");
        check!(t!(c.wait()) == ExitStatus::Exited(0), "exit");
        Ok(Pass)
    }

    fn set_up_then_resumed() -> TestResult {
        // Affinity and a priority class are set while suspended, then the main thread
        // is resumed (ResumeThread) by spawn itself.
        let out = t!(child("print:ok")
            .cpu_affinity(&[0])
            .priority_class(PriorityClass::BelowNormal)
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output()));
        check!(out.status == ExitStatus::Exited(0), "{:?}", out.status);
        check!(out.stdout == b"ok", "{:?}", out.stdout);
        Ok(Pass)
    }

    fn redirected_io() -> TestResult {
        // Through pipes: more than a pipe buffer each way, stderr at the same time.
        let n = 1 << 20;
        let mut c = t!(child(&format!("cat:{n}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn());
        let mut input = c.take_stdin().unwrap();
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let send = data.clone();
        let feeder = std::thread::spawn(move || input.write_all(&send));
        let out = t!(c.wait_with_output());
        t!(feeder.join().unwrap());
        check!(out.status == ExitStatus::Exited(0), "{:?}", out.status);
        check!(
            out.stdout == data,
            "stdout: {} bytes back",
            out.stdout.len()
        );
        check!(
            out.stderr.len() == n && out.stderr.iter().all(|&b| b == b'E'),
            "stderr: {} bytes",
            out.stderr.len()
        );
        // From a file, to a file.
        let dir = std::env::temp_dir().join(format!("corral-wspawn-{}", std::process::id()));
        t!(std::fs::create_dir_all(&dir));
        let inp = dir.join("in");
        let outp = dir.join("out");
        t!(std::fs::write(&inp, &data[..300_000]));
        let st = t!(child("cat:0")
            .stdin(t!(std::fs::File::open(&inp)))
            .stdout(t!(std::fs::File::create(&outp)))
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut c| c.wait()));
        check!(st == ExitStatus::Exited(0), "{st:?}");
        let back = t!(std::fs::read(&outp));
        let _ = std::fs::remove_dir_all(&dir);
        check!(back == data[..300_000], "{} bytes in the file", back.len());
        // An opaque std::process::Stdio cannot be used here: a clear error.
        let e = child("print:x")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::Unsupported, "{e}");
        Ok(Pass)
    }

    fn bad_inputs() -> TestResult {
        let before = t!(my_children());
        let e = Command::new("corral-no-such-program-xyz")
            .spawn()
            .unwrap_err();
        check!(
            e.to_string().contains("corral-no-such-program-xyz") && e.to_string().contains("PATH"),
            "{e}"
        );
        let e = child("print:x")
            .current_dir("C:\\corral\\no\\such\\dir")
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("does not exist"), "{e}");
        let e = child("argv").arg("x".repeat(32_800)).spawn().unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("32766"), "{e}");
        let e = child("argv").arg("a\0b").spawn().unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        let e = child("argv").env("A=B", "x").spawn().unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        let e = Command::new("C:\\windows\\").spawn().unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(t!(my_children()) == before, "a child was left behind");
        Ok(Pass)
    }

    fn batch_files() -> TestResult {
        let dir = std::env::temp_dir().join(format!("corral-wbat-{}", std::process::id()));
        t!(std::fs::create_dir_all(&dir));
        let bat = dir.join("show.bat");
        t!(std::fs::write(
            &bat,
            "@echo off\r\necho [%1]\r\necho [%2]\r\n"
        ));
        let r = Command::new(&bat)
            .args(["a&echo INJECTED", "%PATH%"])
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output());
        let refused = Command::new(&bat).arg("a\nb").spawn();
        let _ = std::fs::remove_dir_all(&dir);
        let out = t!(r);
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        let lines: Vec<&str> = text.lines().collect();
        check!(
            matches!(&refused, Err(e) if e.kind() == ErrorKind::InvalidInput),
            "{refused:?}"
        );
        check!(
            !lines.contains(&"INJECTED"),
            "cmd.exe ran the injected command: {lines:?}"
        );
        // `%1` keeps the quotes corral added; a line of its own would be injection.
        if lines != ["[\"a&echo INJECTED\"]", "[\"%PATH%\"]"] {
            if wine_version().is_some() {
                return Ok(NotVerifiableUnderWine(format!(
                    "batch argument text (Wine's cmd.exe gave {lines:?}; nothing injected)"
                )));
            }
            return Err(format!("{lines:?}"));
        }
        Ok(Pass)
    }

    /// What a child spawned with `console` reports: (has a window, processes on its
    /// console, this process among them).
    fn child_console(console: Option<Console>) -> Result<(bool, usize, bool), String> {
        let mut cmd = child(&format!("console:{}", std::process::id())).stdout(Stdio::piped());
        if let Some(c) = console {
            cmd = cmd.console(c);
        }
        let out = cmd
            .spawn()
            .and_then(|c| c.wait_with_output())
            .map_err(|e| e.to_string())?;
        check!(out.status == ExitStatus::Exited(0), "{:?}", out.status);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |k: &str| -> Result<usize, String> {
            text.split(' ')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no {k} in {text:?}"))
        };
        Ok((
            field("window")? == 1,
            field("count")?,
            field("parent")? == 1,
        ))
    }

    fn console_modes() -> TestResult {
        let have_console = !console_now().1.is_empty();
        // Detached: no console at all.
        let (window, count, _) = t!(child_console(Some(Console::Detached)));
        check!(
            !window && count == 0,
            "detached child: window {window}, {count} on its console"
        );
        // A new console, with or without a window: not ours.
        for c in [Console::New, Console::NoWindow] {
            let (_, count, shares) = t!(child_console(Some(c)));
            check!(count >= 1, "{c:?}: the child has no console");
            check!(!shares, "{c:?}: the child shares this process's console");
        }
        let (window, _, _) = t!(child_console(Some(Console::NoWindow)));
        let mut outcome = Pass;
        if window {
            if wine_version().is_none() {
                return Err("CREATE_NO_WINDOW: the child's console has a window".into());
            }
            outcome = NotVerifiableUnderWine(
                "CREATE_NO_WINDOW (Wine gives the new console a window)".into(),
            );
        }
        // Inherited (the default, and said explicitly): the parent's console. Checked
        // from a child with a console of its own (a new one), as this process may have
        // none (under cargo test: Wine gives it none).
        let out = t!(child("inherit-console")
            .console(Console::New)
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output()));
        check!(out.status == ExitStatus::Exited(0), "{:?}", out.status);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let rows: Vec<&str> = text.lines().collect();
        check!(rows.len() == 2, "{text:?}");
        for r in rows {
            let (count, shares) = r.split_once(' ').unwrap_or_default();
            let count: usize = count.parse().unwrap_or(0);
            check!(
                shares == "1" && count >= 2,
                "inherited: {count} on the grandchild's console, shares its parent's: {shares}"
            );
        }
        if have_console {
            for c in [None, Some(Console::Inherit)] {
                let (_, count, shares) = t!(child_console(c));
                check!(
                    shares && count >= 2,
                    "{c:?}: {count} on its console, shares: {shares}"
                );
            }
        }
        // Two different modes: refused before anything runs; the same one twice is fine.
        let before = t!(my_children());
        let e = child("print:x")
            .console(Console::New)
            .console(Console::Detached)
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("console"), "{e}");
        check!(t!(my_children()) == before, "a child was left behind");
        let st = t!(child("print:x")
            .console(Console::Detached)
            .console(Console::Detached)
            .stdout(Stdio::null())
            .spawn()
            .and_then(|mut c| c.wait()));
        check!(st == ExitStatus::Exited(0), "{st:?}");
        Ok(outcome)
    }

    fn another_user() -> TestResult {
        // Refused before anything runs.
        let before = t!(my_children());
        let (_r, w) = t!(pipe());
        // SAFETY: `w` is a live handle of this process.
        let ok = unsafe {
            SetHandleInformation(
                w.as_raw_handle() as HANDLE,
                HANDLE_FLAG_INHERIT,
                HANDLE_FLAG_INHERIT,
            )
        };
        check!(ok != 0, "SetHandleInformation failed");
        let bad: [(&str, Command); 5] = [
            ("empty user", child("print:x").logon("", None, "pw")),
            ("NUL in password", child("print:x").logon("u", None, "p\0w")),
            (
                "NUL in domain",
                child("print:x").logon("u", Some("d\0"), "pw"),
            ),
            (
                "inherited console",
                child("print:x")
                    .logon("u", None, "pw")
                    .console(Console::Inherit),
            ),
            (
                "kept handle",
                child("print:x")
                    .logon("u", None, "pw")
                    .keep_handle(w.as_handle()),
            ),
        ];
        for (what, cmd) in bad {
            let e = cmd.spawn().unwrap_err();
            check!(e.kind() == ErrorKind::InvalidInput, "{what}: {e}");
        }
        check!(t!(my_children()) == before, "a child was left behind");
        // Bad credentials: the logon fails, nothing runs.
        let r = child("print:x")
            .logon("corral-no-such-user", Some("."), "not the password")
            .stdout(Stdio::null())
            .spawn();
        check!(t!(my_children()) == before, "a child was left behind");
        match r {
            Err(e) if e.kind() == ErrorKind::AccessDenied => Ok(Pass),
            Err(e) if e.kind() == ErrorKind::Unsupported && wine_version().is_some() => {
                Ok(MissingInWine(format!("CreateProcessWithLogonW ({e})")))
            }
            Err(e) => Err(format!("bad credentials: {e} ({:?})", e.kind())),
            Ok(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
                Err("a child ran with bad credentials".into())
            }
        }
    }

    /// A primary token duplicated from this process's own: `user_token` runs a child
    /// with it (same user, every other option kept: piped output, exit code); a handle
    /// that is not a token, and a token with a logon too, are refused.
    fn with_a_token() -> TestResult {
        use std::os::windows::io::OwnedHandle;
        use windows_sys::Win32::Security::{
            DuplicateTokenEx, SecurityImpersonation, TokenPrimary, TOKEN_ALL_ACCESS,
            TOKEN_DUPLICATE,
        };
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
        let mut own: HANDLE = std::ptr::null_mut();
        // SAFETY: our own pseudo-handle; `own` receives a token handle we then close.
        let ok = unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_DUPLICATE, &mut own) };
        check!(ok != 0, "OpenProcessToken failed");
        // SAFETY: a fresh handle we own.
        let own = unsafe { OwnedHandle::from_raw_handle(own as _) };
        let mut dup: HANDLE = std::ptr::null_mut();
        // SAFETY: `own` has TOKEN_DUPLICATE; `dup` receives a new token handle.
        let ok = unsafe {
            DuplicateTokenEx(
                own.as_raw_handle() as HANDLE,
                TOKEN_ALL_ACCESS,
                std::ptr::null(),
                SecurityImpersonation,
                TokenPrimary,
                &mut dup,
            )
        };
        check!(ok != 0, "DuplicateTokenEx failed");
        // SAFETY: a fresh handle we own.
        let token = unsafe { OwnedHandle::from_raw_handle(dup as _) };
        let cmd = child("print:as-token").user_token(token.as_handle());
        drop(token); // the command holds its own duplicate
        let out = t!(cmd
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output()));
        check!(out.status == ExitStatus::Exited(0), "{:?}", out.status);
        check!(
            out.stdout == b"as-token",
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Refused before anything runs.
        let before = t!(my_children());
        let e = child("print:x")
            .user_token(own.as_handle())
            .logon("u", None, "pw")
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("both a logon and a token"), "{e}");
        // A pipe handle is no token.
        let (r, _w) = t!(pipe());
        match child("print:x").user_token(r.as_handle()).spawn() {
            Err(e) if e.kind() == ErrorKind::InvalidInput => {}
            Err(e) => return Err(format!("a pipe as token: {e} ({:?})", e.kind())),
            Ok(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
                if wine_version().is_some() {
                    return Ok(NotVerifiableUnderWine(
                        "CreateProcessAsUserW ran a child with a pipe handle as its token".into(),
                    ));
                }
                return Err("a child ran with a pipe handle as its token".into());
            }
        }
        check!(t!(my_children()) == before, "a child was left behind");
        Ok(Pass)
    }

    /// `user_environment` starts the child from the user's default environment (the
    /// user's profile variables, none of this process's own), the command's
    /// changes applied to it; with a logon it is refused.
    fn user_environment() -> TestResult {
        let env = t!(child_env(
            child("env")
                .user_environment()
                .env("CORRAL_SET", "1")
                .env_remove("TEMP")
        ));
        let has = |k: &str| env.iter().any(|(n, _)| n.eq_ignore_ascii_case(k));
        // The user's profile variables (Wine adds SystemRoot to every environment).
        check!(
            has("USERPROFILE") && has("APPDATA"),
            "no profile variables in {env:?}"
        );
        check!(
            has("CORRAL_SET") && has(CHILD_VAR),
            "the command's variables"
        );
        check!(!has("TEMP"), "TEMP was removed");
        // This test runs under cargo, which gives it CARGO_* variables no user's
        // default environment has.
        let own: Vec<String> = std::env::vars_os()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .filter(|k| k.starts_with("CARGO_"))
            .collect();
        check!(
            !own.is_empty(),
            "no CARGO_ variables here: run this test with cargo"
        );
        for k in &own {
            check!(!has(k), "{k} came from this process's environment");
        }
        let e = child("env")
            .user_environment()
            .logon("u", None, "pw")
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        Ok(Pass)
    }

    pub(super) fn main() {
        if let Ok(mode) = std::env::var(CHILD_VAR) {
            child_main(&mode);
        }
        let tests: &[Test] = &[
            ("argv_round_trip", argv_round_trip),
            ("environment_block", environment_block),
            ("handle_list", handle_list),
            ("suspended_then_resumed", suspended_then_resumed),
            ("set_up_then_resumed", set_up_then_resumed),
            ("redirected_io", redirected_io),
            ("bad_inputs", bad_inputs),
            ("batch_files", batch_files),
            ("console_modes", console_modes),
            ("another_user", another_user),
            ("with_a_token", with_a_token),
            ("user_environment", user_environment),
        ];
        run("windows_spawn", tests);
    }
}
