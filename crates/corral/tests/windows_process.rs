//! Windows-only process tests (`os::windows::ProcessExt`: loaded modules, integrity
//! level, WOW64, Ctrl-Break to a process group), run under Wine in CI. Like
//! `portable.rs`, a `harness = false` test that is its own child program, and counts what
//! Wine cannot verify or lacks apart from passes and failures. On other platforms it does
//! nothing.

#[cfg(not(windows))]
fn main() {
    println!("windows_process: Windows only; nothing to run here");
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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use corral::os::windows::{wine_version, CommandExt, Console, IntegrityLevel, ProcessExt};
    use corral::{Child, Command, ErrorKind, ExitStatus, Process, Stdio};
    use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_BREAK_EVENT};
    use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;

    const CHILD_VAR: &str = "CORRAL_WINDOWS_PROCESS_CHILD";

    use crate::harness::{run, Outcome::*, Test, TestResult};

    /// The child: `sleep:MS` prints `ready` and sleeps; `exit:N` exits with N.
    fn child_main(mode: &str) -> ! {
        let (what, arg) = mode.split_once(':').unwrap_or((mode, ""));
        match what {
            "sleep" => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "ready").unwrap();
                out.flush().unwrap();
                drop(out);
                std::thread::sleep(Duration::from_millis(arg.parse().unwrap()));
            }
            "exit" => std::process::exit(arg.parse().unwrap()),
            "touch" => {
                // Allocate and write ARG MiB, say `ready`, keep them until killed.
                let mut block = vec![0u8; arg.parse::<usize>().unwrap() << 20];
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                println!("ready");
                std::io::stdout().flush().unwrap();
                std::thread::sleep(Duration::from_secs(60));
                std::hint::black_box(&block);
            }
            "break-target" => break_target(),
            "break-sender" => break_sender(),
            _ => std::process::exit(99),
        }
        std::process::exit(0)
    }

    static BROKEN: AtomicBool = AtomicBool::new(false);

    unsafe extern "system" fn on_ctrl(event: u32) -> i32 {
        if event == CTRL_BREAK_EVENT {
            BROKEN.store(true, Ordering::SeqCst);
            return 1;
        }
        0
    }

    /// Handles Ctrl-Break, says `ready`, and exits 0 once it came (3 after 15 s).
    fn break_target() -> ! {
        // SAFETY: installing a handler function that lives as long as the program.
        if unsafe { SetConsoleCtrlHandler(Some(on_ctrl), 1) } == 0 {
            std::process::exit(4);
        }
        println!("ready");
        std::io::stdout().flush().unwrap();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if BROKEN.load(Ordering::SeqCst) {
                std::process::exit(0);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::process::exit(3)
    }

    /// Run with a console of its own: checks the refusals that need a console, then
    /// sends Ctrl-Break to a new group it spawned and reports (`refused-new KIND`,
    /// `sent ok` or `sent ERROR`, `target STATUS`), then stops another such root
    /// gracefully (`stop OUTCOME`).
    fn break_sender() -> ! {
        let mut out = std::io::stdout().lock();
        // A group root with its own console: not on ours, refused.
        let other = ready_child(
            child("break-target")
                .new_process_group(true)
                .console(Console::New),
        )
        .unwrap();
        let r = other.send_ctrl_break();
        writeln!(out, "refused-new {:?}", r.map_err(|e| e.kind())).unwrap();
        let mut other = other;
        let _ = other.kill();
        let _ = other.wait();
        // The real one.
        let mut target = ready_child(child("break-target").new_process_group(true)).unwrap();
        match target.send_ctrl_break() {
            Ok(()) => writeln!(out, "sent ok").unwrap(),
            Err(e) => writeln!(out, "sent {:?} {e}", e.kind()).unwrap(),
        }
        let st = target.process().wait(Some(Duration::from_secs(20)));
        writeln!(out, "target {st:?}").unwrap();
        let _ = target.kill();
        let _ = target.wait();
        // A graceful stop of such a root: Ctrl-Break first (its handler exits 0), where
        // the console can send it; else terminated (exit 15).
        let mut target = ready_child(child("break-target").new_process_group(true)).unwrap();
        let stopped = corral::control::stop(
            &[Process::open(target.pid()).unwrap()],
            corral::Signal::Term,
            Duration::from_secs(20),
        );
        writeln!(out, "stop {:?}", stopped[0]).unwrap();
        let _ = target.kill();
        let _ = target.wait();
        out.flush().unwrap();
        std::process::exit(0)
    }

    fn child(mode: &str) -> Command {
        Command::new(std::env::current_exe().unwrap()).env(CHILD_VAR, mode)
    }

    /// A sleeping child, once it printed `ready` (its loader has finished).
    fn ready_child(cmd: Command) -> Result<Child, String> {
        let mut c = cmd
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = c.take_stdout().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let _ = c.kill();
            let _ = c.wait();
            return Err(format!("the child said {line:?}"));
        }
        Ok(c)
    }

    fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
        a.to_string_lossy()
            .eq_ignore_ascii_case(&b.to_string_lossy())
    }

    fn modules_of_self() -> TestResult {
        let me = t!(Process::current());
        let mods = t!(me.modules());
        let exe = t!(std::env::current_exe());
        check!(!mods.is_empty(), "no modules");
        check!(
            same_file(&mods[0].path, &exe),
            "first module {:?}, the program is {exe:?}",
            mods[0].path
        );
        // SAFETY: a null name asks for this program's own module handle.
        let own_base = unsafe { GetModuleHandleW(std::ptr::null()) } as usize;
        check!(
            mods[0].base == own_base,
            "first module at {:#x}, GetModuleHandle(NULL) says {own_base:#x}",
            mods[0].base
        );
        for want in ["ntdll.dll", "kernel32.dll"] {
            let m = mods.iter().find(|m| m.name.eq_ignore_ascii_case(want));
            let Some(m) = m else {
                return Err(format!(
                    "{want} missing from {:?}",
                    mods.iter().map(|m| &m.name).collect::<Vec<_>>()
                ));
            };
            let w: Vec<u16> = want.encode_utf16().chain([0]).collect();
            // SAFETY: a NUL-terminated UTF-16 name of a module this process has loaded.
            let base = unsafe { GetModuleHandleW(w.as_ptr()) } as usize;
            check!(
                m.base == base,
                "{want} at {:#x}, loaded at {base:#x}",
                m.base
            );
            check!(m.size > 0, "{want} has size 0");
            check!(
                m.path
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy().eq_ignore_ascii_case(want)),
                "{want}'s path {:?}",
                m.path
            );
        }
        // No two modules overlap.
        let mut spans: Vec<(usize, usize)> = mods.iter().map(|m| (m.base, m.size)).collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            check!(w[0].0 + w[0].1 <= w[1].0, "modules overlap: {w:?}");
        }
        Ok(Pass)
    }

    fn modules_of_child() -> TestResult {
        let mut c = t!(ready_child(child("sleep:20000")));
        let r = c.modules();
        let _ = c.kill();
        let _ = c.wait();
        let mods = t!(r);
        let exe = t!(std::env::current_exe());
        check!(!mods.is_empty(), "no modules");
        check!(
            same_file(&mods[0].path, &exe),
            "the child's first module {:?}, its program is {exe:?}",
            mods[0].path
        );
        check!(
            mods.iter()
                .any(|m| m.name.eq_ignore_ascii_case("ntdll.dll")),
            "no ntdll.dll in the child"
        );
        // Exited: a clear error, not a stale list.
        let e = c.modules().unwrap_err();
        check!(
            matches!(e.kind(), ErrorKind::Zombie | ErrorKind::NoSuchProcess),
            "{e}"
        );
        Ok(Pass)
    }

    /// Every loaded module of this process is a map of its path at its base (the NT
    /// device path of `GetMappedFileNameW` turned into the drive path the module list
    /// gives), executable somewhere, and the maps of that path are its image.
    fn maps_name_the_modules() -> TestResult {
        let me = t!(Process::current());
        let mods = t!(me.modules());
        let maps = t!(me.memory_maps(false));
        let grouped = t!(me.memory_maps(true));
        for g in &grouped {
            check!(
                !g.path.is_empty() && !g.path.chars().any(char::is_control),
                "a path with a control character: {:?}",
                g.path
            );
        }
        for m in &mods {
            let base = m.base as u64;
            let at = maps
                .iter()
                .find(|x| x.addr.is_some_and(|(s, e)| s <= base && base < e))
                .ok_or(format!("no map at {}'s base {base:#x}", m.name))?;
            check!(
                same_file(std::path::Path::new(&at.path), &m.path),
                "{} at {base:#x}: the map says {:?}",
                m.path.display(),
                at.path
            );
            check!(
                at.addr.is_some_and(|(s, _)| s == base),
                "an image starts a map: {at:?}"
            );
            let parts: Vec<_> = maps.iter().filter(|x| x.path == at.path).collect();
            check!(
                parts
                    .iter()
                    .any(|x| x.perms.as_deref().is_some_and(|p| p.contains('x'))),
                "no executable map of {}: {parts:?}",
                m.name
            );
            // The image's maps lie within it.
            let end = base + m.size as u64;
            let inside: u64 = parts
                .iter()
                .filter_map(|x| x.addr)
                .filter(|&(s, e)| s >= base && e <= end.next_multiple_of(4096))
                .map(|(s, e)| e - s)
                .sum();
            check!(
                inside > 0 && inside <= end.next_multiple_of(4096) - base,
                "{}: {inside} bytes mapped in an image of {}",
                m.name,
                m.size
            );
            let g = grouped
                .iter()
                .find(|g| g.path == at.path)
                .ok_or(format!("{} not grouped", at.path))?;
            check!(g.size >= inside, "{g:?}");
        }
        Ok(Pass)
    }

    /// This process's private working set, counted here from `QueryWorkingSet` as psutil
    /// counts it (not shareable, or held only here), before and after corral's figure:
    /// corral's USS lies between the two (give or take 1 MiB of this test's own pages).
    fn uss_matches_query_working_set() -> TestResult {
        use windows_sys::Win32::System::ProcessStatus::K32QueryWorkingSet;
        use windows_sys::Win32::System::Threading::GetCurrentProcess;
        fn private_ws() -> Result<u64, std::io::Error> {
            let mut cap = 1usize << 16;
            loop {
                let mut buf = vec![0usize; cap + 1];
                let bytes = (buf.len() * std::mem::size_of::<usize>()) as u32;
                // SAFETY: a live, aligned buffer of `bytes` bytes for
                // PSAPI_WORKING_SET_INFORMATION; the pseudo-handle of this process.
                let ok = unsafe {
                    K32QueryWorkingSet(GetCurrentProcess(), buf.as_mut_ptr().cast(), bytes)
                };
                if ok == 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() == Some(24) {
                        cap = buf[0].max(cap) * 2;
                        continue;
                    }
                    return Err(e);
                }
                let n = buf[0].min(cap);
                let private = buf[1..=n]
                    .iter()
                    .filter(|&&f| (f >> 8) & 1 == 0 || (f >> 5) & 7 <= 1)
                    .count();
                return Ok(private as u64 * 4096);
            }
        }
        let before = match private_ws() {
            Ok(b) => b,
            Err(e) if wine_version().is_some() => {
                // Corral still answered, from QueryWorkingSetEx.
                let fi = t!(t!(Process::current()).memory_full_info());
                check!(fi.uss > 0, "{fi:?}");
                return Ok(MissingInWine(format!(
                    "QueryWorkingSet (MemoryWorkingSetList): {e}"
                )));
            }
            Err(e) => return Err(format!("QueryWorkingSet: {e}")),
        };
        let fi = t!(t!(Process::current()).memory_full_info());
        let after = t!(private_ws());
        check!(
            fi.uss + MIB >= before.min(after) && fi.uss <= before.max(after) + MIB,
            "corral's uss {} vs QueryWorkingSet's {before} / {after}",
            fi.uss
        );
        Ok(Pass)
    }

    fn integrity_and_wow64() -> TestResult {
        let me = t!(Process::current());
        let mine = t!(me.integrity_level());
        let mut c = t!(ready_child(child("sleep:20000")));
        let theirs = c.integrity_level();
        let wow = c.is_wow64();
        let _ = c.kill();
        let _ = c.wait();
        // A child gets a copy of its parent's token.
        check!(t!(theirs) == mine, "child {theirs:?}, parent {mine:?}");
        // A test run is neither sandboxed nor a service on Windows.
        if !matches!(mine, IntegrityLevel::Medium | IntegrityLevel::High) {
            if wine_version().is_none() {
                return Err(format!("this process runs at {mine:?}"));
            }
            return Ok(NotVerifiableUnderWine(format!(
                "the integrity level (Wine's token says {mine:?})"
            )));
        }
        // This test program is built for the machine's own architecture.
        check!(!t!(me.is_wow64()), "this process reported as WOW64");
        check!(!t!(wow), "the child reported as WOW64");
        // An exited process is still answered.
        check!(!t!(c.is_wow64()), "exited child reported as WOW64");
        let e = c.integrity_level().unwrap_err();
        check!(e.kind() == ErrorKind::Zombie, "{e}");
        check!(
            IntegrityLevel::from_rid(0x2100) == IntegrityLevel::Medium
                && IntegrityLevel::from_rid(0x5000) == IntegrityLevel::System
                && IntegrityLevel::from_rid(0) == IntegrityLevel::Untrusted,
            "RID ranges"
        );
        Ok(Pass)
    }

    fn ctrl_break() -> TestResult {
        // Refused: this process, a child in the caller's group, a reopened pid of it.
        let me = t!(Process::current());
        let e = me.send_ctrl_break().unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains("new_process_group"), "{e}");
        let mut plain = t!(ready_child(child("break-target")));
        let e = plain.send_ctrl_break().unwrap_err();
        let again = Process::open(plain.pid()).map(|p| p.send_ctrl_break());
        let _ = plain.kill();
        let _ = plain.wait();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(
            matches!(&again, Ok(Err(e)) if e.kind() == ErrorKind::InvalidInput),
            "{again:?}"
        );
        // The rest from a child with a console of its own (this process may have none:
        // under cargo test, Wine gives it none).
        let out = t!(child("break-sender")
            .console(Console::New)
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output()));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Had the event reached the sender's own group, it would have died of it.
        check!(
            out.status == ExitStatus::Exited(0),
            "the sender ended {:?}: {text:?}",
            out.status
        );
        let line = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::trim)
                .unwrap_or("")
                .to_string()
        };
        check!(
            line("refused-new ") == "Err(InvalidInput)",
            "a root on another console: {text:?}"
        );
        let sent = line("sent ");
        let target = line("target ");
        let stop = line("stop ");
        if sent == "ok" && target == "Ok(Exited(0))" {
            // The graceful stop went by Ctrl-Break too: the handler's exit, not 15.
            check!(
                stop == "Exited(Exited(0))",
                "stop of a group root: {text:?}"
            );
            return Ok(Pass);
        }
        // Where the event cannot be sent, the stop still ends it (terminated).
        check!(
            stop == "Exited(Exited(15))",
            "stop of a group root: {text:?}"
        );
        if wine_version().is_some() {
            return Ok(MissingInWine(format!(
                "GenerateConsoleCtrlEvent (sent: {sent}; the group's root: {target})"
            )));
        }
        Err(format!("sent: {sent}; the group's root: {target}"))
    }

    const MIB: u64 = 1 << 20;

    /// Trimming a child that wrote 64 MiB empties its working set of them.
    fn trim_memory_empties_the_working_set() -> TestResult {
        let mut c = t!(ready_child(child("touch:64")));
        let r = c.trim_memory();
        let _ = c.kill();
        let _ = c.wait();
        // An exited process is refused, not trimmed.
        let e = c.trim_memory().unwrap_err();
        check!(e.kind() == ErrorKind::Zombie, "{e}");
        let r = t!(r);
        check!(r.rss_before >= 64 * MIB, "{r:?}");
        check!(r.advised == r.rss_before, "{r:?}");
        if r.paged_out() < 48 * MIB {
            if wine_version().is_some() {
                return Ok(NotVerifiableUnderWine(format!(
                    "SetProcessWorkingSetSizeEx(-1, -1) accepted, working set kept: {r:?}"
                )));
            }
            return Err(format!("the working set kept its pages: {r:?}"));
        }
        Ok(Pass)
    }

    /// Background mode on and off; where the system cannot set the I/O priority
    /// (Wine 8), refused with nothing changed.
    fn background_mode() -> TestResult {
        use corral::{IoClass, PriorityClass};
        let mut c = t!(ready_child(child("sleep:20000")));
        let result = (|| -> TestResult {
            check!(!t!(c.is_background()), "a fresh child in background mode");
            match c.set_background(true) {
                Ok(r) => {
                    check!(r.threads >= 1, "{r:?}");
                    check!(t!(c.is_background()), "not in background mode after set");
                    check!(t!(c.priority_class()) == PriorityClass::Idle);
                    check!(t!(c.ionice()).class == IoClass::Idle);
                    t!(c.set_background(false));
                    check!(!t!(c.is_background()), "still in background mode");
                    check!(t!(c.priority_class()) == PriorityClass::Normal);
                    Ok(Pass)
                }
                Err(e) if e.kind() == ErrorKind::Unsupported && wine_version().is_some() => {
                    check!(e.to_string().contains("I/O priority"), "{e}");
                    check!(
                        t!(c.priority_class()) == PriorityClass::Normal,
                        "a refused background mode changed the priority class"
                    );
                    Ok(MissingInWine(
                        "NtSetInformationProcess(ProcessIoPriority)".into(),
                    ))
                }
                Err(e) => Err(format!("set_background(true): {e}")),
            }
        })();
        let _ = c.kill();
        let _ = c.wait();
        let outcome = result?;
        let e = c.set_background(true).unwrap_err();
        check!(e.kind() == ErrorKind::Zombie, "{e}");
        Ok(outcome)
    }

    /// What Windows does not have is refused as `Unsupported`, saying what it has.
    fn absent_fields_say_what_windows_has() -> TestResult {
        use corral::{Resource, Rlimit};
        let me = t!(Process::current());
        let errors = [
            ("nice", me.nice().err(), "priority class"),
            ("set_nice", me.set_nice(5).err(), "priority class"),
            ("uids", me.uids().err(), "SID"),
            ("terminal", me.terminal().err(), "console"),
            ("cgroups", me.cgroups().err(), "Job Objects"),
            (
                "rlimit",
                me.rlimit(Resource::Nofile).err(),
                "per-process resource limits",
            ),
            (
                "set_rlimit",
                me.set_rlimit(
                    Resource::Nofile,
                    Rlimit {
                        soft: None,
                        hard: None,
                    },
                )
                .err(),
                "per-process resource limits",
            ),
        ];
        for (what, e, says) in errors {
            let Some(e) = e else {
                return Err(format!("{what} answered on Windows"));
            };
            check!(e.kind() == ErrorKind::Unsupported, "{what}: {e}");
            check!(e.to_string().contains(says), "{what}: {e}");
        }
        Ok(Pass)
    }

    pub(super) fn main() {
        if let Ok(mode) = std::env::var(CHILD_VAR) {
            child_main(&mode);
        }
        let tests: &[Test] = &[
            ("modules_of_self", modules_of_self),
            ("modules_of_child", modules_of_child),
            ("integrity_and_wow64", integrity_and_wow64),
            ("maps_name_the_modules", maps_name_the_modules),
            (
                "uss_matches_query_working_set",
                uss_matches_query_working_set,
            ),
            ("ctrl_break", ctrl_break),
            (
                "trim_memory_empties_the_working_set",
                trim_memory_empties_the_working_set,
            ),
            ("background_mode", background_mode),
            (
                "absent_fields_say_what_windows_has",
                absent_fields_say_what_windows_has,
            ),
        ];
        run("windows_process", tests);
    }
}
