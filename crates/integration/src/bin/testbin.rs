//! `testbin`: the helper process every corral test spawns (never `sh` or `sleep`).
//!
//! It sets itself up as its flags ask, prints exactly one readiness line on stdout
//!
//! ```text
//! ready pid=<pid> ppid=<ppid> pgid=<pgid> sid=<sid> start=<ticks> key=value ...
//! ```
//!
//! and flushes it, then keeps going as its flags ask (by default: sleeps forever).
//! Values never contain spaces: lists are comma-separated and free text (paths, environment
//! values) is percent-escaped (`%20` for a space, `%25` for `%`, every byte outside
//! printable ASCII as `%XX`).
//!
//! Arguments after `--` are ignored (payload for command-line tests). Before anything
//! else, `--cat` copies stdin to stdout until end of file and `--spew-stderr N` writes N
//! bytes to stderr (for redirection tests). `--fork-sleepers N` forks N cheap sleeping
//! children (no exec; they die with this process) and reports `sleepers=`.
//!
//! Exit codes: 2 for a usage error (unknown flag, bad value), 90 when setting up failed
//! (the reason goes to stderr), otherwise what the flags ask (0 by default).
//!
//! # Order of setup
//!
//! 1. `--daemonize` (first, because threads do not survive `fork` and everything else must
//!    belong to the daemon): fork; the middle process forks the daemon and exits 0; the
//!    daemon calls `setsid` and carries on with everything below; the original waits for the
//!    middle, then for the daemon to print its ready line, and exits 0 (90 if the daemon
//!    failed before being ready). Reports `daemon=1`.
//! 2. `--die-with-parent`: `prctl(PR_SET_PDEATHSIG, SIGKILL)`, then exits at once if the
//!    parent already changed (it died before the prctl).
//! 3. `--comm NAME` (`prctl(PR_SET_NAME)`, the kernel keeps 15 bytes), `--cwd PATH`
//!    (reports `cwd=`), `--setsid`, `--setpgid` (`setpgid(0, 0)`), `--ignore-term`,
//!    `--escape-on-term LOG` (on SIGTERM: double-fork + `setsid`, the grandchild appends its
//!    pid to LOG and sleeps; the process itself exits), `--ignore-int`.
//! 4. `--threads N` (idle threads `worker-0`.., reports `tids=`), `--burn-thread` (a thread
//!    `burner` spinning forever, reports `burner_tid=`), `--alloc-mb N` (touches every page,
//!    reports `alloc_mb=`), `--map-file PATH` (maps the file private and read-only, reads
//!    every page, reports `mapped_kb=`).
//! 5. Files, in command-line order: `--open PATH` (read), `--seek N` (seeks the file opened
//!    just before), `--open-write PATH` (create, truncate, write the 5 bytes `hello`),
//!    `--open-append PATH` (create, append, write nothing). Reports `fds=`.
//! 6. Sockets: `--listen-tcp` (`tcp_port=`), `--listen-tcp6` (`tcp6_port=`), `--connect-tcp`
//!    (implies `--listen-tcp`; an ESTABLISHED pair to its own listener, `tcp_client_port=`
//!    is the connecting side's local port), `--udp` (`udp_port=`), `--udp6` (`udp6_port=`),
//!    `--listen-port P` (TCP on 127.0.0.1:P, `listen_port=`), `--unix PATH` (a listening unix
//!    stream socket, `unix=`).
//! 7. `--children N` copies of this program (`/proc/self/exe`) run with the flags between
//!    `--child-args` and `--end-child-args`; waits for each one's ready line; reports
//!    `children=` (direct children) and `descendants=` (all of them, depth first).
//!    `--depth D` makes a tree: each child is also given `--children N --depth D-1` while
//!    `D > 1`; the child arguments apply at every level. Children get SIGTERM/SIGINT back to
//!    their default disposition and stdin from `/dev/null`; their stderr is ours.
//! 8. `--zombie-child`: forks a child that exits with code 7 at once and is never reaped;
//!    waits until `/proc` shows it as `Z`; reports `zombie=`.
//! 9. `--print-env VAR` (repeatable): reports `env_VAR=<escaped value>`; when `VAR` is unset
//!    the key is left out.
//!
//! # After the ready line
//!
//! In this order: `--stop-self` raises SIGSTOP; `--exit CODE` exits with `CODE`;
//! `--spike-on-stdin MB` reads stdin line by line and for each line maps `MB` MiB, touches
//! every page and unmaps it at once, then prints `spiked us=<µs it took>` (exits 0 at end
//! of file); `--exit-on-stdin-eof` exits 0 once stdin reaches end of file (watched by a thread);
//! `--fork-bomb-ms N` forks for `N` ms (each new process forks too and then sleeps, with
//! `PR_SET_PDEATHSIG` so the tree dies with its root; it stops at EAGAIN or once
//! `--fork-bomb-max M` processes, 256 by default, were forked in all); `--sleep-ms N` exits 0
//! after `N` ms; `--burn` spins the main thread. Otherwise it sleeps forever.

use std::ffi::{CString, OsString};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Exit code for a usage error.
const EXIT_USAGE: i32 = 2;
/// Exit code for a failure while setting up.
const EXIT_SETUP: i32 = 90;

/// How a file flag opens its file.
#[derive(Debug, Clone, Copy)]
enum OpenMode {
    Read,
    Write,
    Append,
}

/// One file flag, in command-line order.
#[derive(Debug)]
struct FileOp {
    path: OsString,
    mode: OpenMode,
    seek: Option<u64>,
}

/// `--spike-on-stdin MB`: for each line on stdin, maps `MB` MiB, touches every page,
/// unmaps it at once and prints `spiked us=<µs from the map to the end of the unmap>`;
/// exits 0 at end of file.
fn spike_on_stdin(mb: usize) -> ! {
    let len = mb * 1024 * 1024;
    let page = rustix::param::page_size();
    let mut line = String::new();
    let mut stdin = BufReader::new(std::io::stdin().lock());
    loop {
        line.clear();
        match stdin.read_line(&mut line) {
            Ok(0) | Err(_) => std::process::exit(0),
            Ok(_) => {}
        }
        let t = Instant::now();
        // SAFETY: a fresh private anonymous mapping, only written through raw pointers
        // inside it, unmapped right after.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if addr == libc::MAP_FAILED {
                setup_error(&format!(
                    "mmap for --spike-on-stdin: {}",
                    std::io::Error::last_os_error()
                ));
            }
            // Huge pages where the kernel has them: a 2 MiB fault each, a short spike.
            libc::madvise(addr, len, libc::MADV_HUGEPAGE);
            for i in (0..len).step_by(page) {
                std::ptr::write_volatile(addr.cast::<u8>().add(i), 1);
            }
            libc::munmap(addr, len);
        }
        let us = t.elapsed().as_micros();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "spiked us={us}").and_then(|()| out.flush());
    }
}

/// Everything the command line asked for.
#[derive(Debug, Default)]
struct Config {
    comm: Option<OsString>,
    cwd: Option<OsString>,
    setsid: bool,
    setpgid: bool,
    ignore_term: bool,
    escape_on_term: Option<OsString>,
    ignore_int: bool,
    threads: usize,
    burn_thread: bool,
    alloc_mb: usize,
    map_file: Option<OsString>,
    files: Vec<FileOp>,
    listen_tcp: bool,
    listen_tcp6: bool,
    connect_tcp: bool,
    udp: bool,
    udp6: bool,
    listen_ports: Vec<u16>,
    unix: Vec<OsString>,
    children: usize,
    depth: Option<u32>,
    child_args: Vec<OsString>,
    zombie_child: bool,
    fork_sleepers: usize,
    daemonize: bool,
    stop_self: bool,
    exit: Option<i32>,
    sleep_ms: Option<u64>,
    exit_on_stdin_eof: bool,
    spike_on_stdin_mb: usize,
    cat: bool,
    spew_stderr: Option<usize>,
    burn: bool,
    print_env: Vec<OsString>,
    fork_bomb_ms: Option<u64>,
    fork_bomb_max: u32,
    die_with_parent: bool,
}

fn usage_error(msg: &str) -> ! {
    eprintln!("testbin: {msg}");
    std::process::exit(EXIT_USAGE);
}

fn setup_error(msg: &str) -> ! {
    eprintln!("testbin[{}]: setup failed: {msg}", std::process::id());
    std::process::exit(EXIT_SETUP);
}

/// Unwraps a setup step or exits 90 naming the step.
trait OrDie<T> {
    fn or_die(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> OrDie<T> for Result<T, E> {
    fn or_die(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => setup_error(&format!("{what}: {e}")),
        }
    }
}

fn parse_args(args: Vec<OsString>) -> Config {
    let mut cfg = Config {
        fork_bomb_max: 256,
        ..Config::default()
    };
    let mut it = args.into_iter();
    fn value(it: &mut impl Iterator<Item = OsString>, flag: &str) -> OsString {
        it.next()
            .unwrap_or_else(|| usage_error(&format!("{flag} needs a value")))
    }
    fn number<T: std::str::FromStr>(it: &mut impl Iterator<Item = OsString>, flag: &str) -> T {
        let v = value(it, flag);
        v.to_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage_error(&format!("{flag}: bad number {v:?}")))
    }
    while let Some(arg) = it.next() {
        if arg == "--" {
            // Everything after `--` is payload for tests of long or odd command lines.
            break;
        }
        let Some(flag) = arg.to_str() else {
            usage_error(&format!("unknown argument {arg:?}"));
        };
        match flag {
            "--comm" => cfg.comm = Some(value(&mut it, flag)),
            "--cwd" => cfg.cwd = Some(value(&mut it, flag)),
            "--setsid" => cfg.setsid = true,
            "--setpgid" => cfg.setpgid = true,
            "--ignore-term" => cfg.ignore_term = true,
            "--escape-on-term" => cfg.escape_on_term = Some(value(&mut it, flag)),
            "--ignore-int" => cfg.ignore_int = true,
            "--threads" => cfg.threads = number(&mut it, flag),
            "--burn-thread" => cfg.burn_thread = true,
            "--alloc-mb" => cfg.alloc_mb = number(&mut it, flag),
            "--map-file" => cfg.map_file = Some(value(&mut it, flag)),
            "--open" | "--open-write" | "--open-append" => {
                let mode = match flag {
                    "--open" => OpenMode::Read,
                    "--open-write" => OpenMode::Write,
                    _ => OpenMode::Append,
                };
                cfg.files.push(FileOp {
                    path: value(&mut it, flag),
                    mode,
                    seek: None,
                });
            }
            "--seek" => {
                let n = number(&mut it, flag);
                match cfg.files.last_mut() {
                    Some(op) => op.seek = Some(n),
                    None => usage_error("--seek must follow --open, --open-write or --open-append"),
                }
            }
            "--listen-tcp" => cfg.listen_tcp = true,
            "--listen-tcp6" => cfg.listen_tcp6 = true,
            "--connect-tcp" => cfg.connect_tcp = true,
            "--udp" => cfg.udp = true,
            "--udp6" => cfg.udp6 = true,
            "--listen-port" => cfg.listen_ports.push(number(&mut it, flag)),
            "--unix" => cfg.unix.push(value(&mut it, flag)),
            "--children" => cfg.children = number(&mut it, flag),
            "--depth" => cfg.depth = Some(number(&mut it, flag)),
            "--child-args" => {
                let mut found_end = false;
                for a in it.by_ref() {
                    if a == "--end-child-args" {
                        found_end = true;
                        break;
                    }
                    cfg.child_args.push(a);
                }
                if !found_end {
                    usage_error("--child-args without --end-child-args");
                }
            }
            "--zombie-child" => cfg.zombie_child = true,
            "--fork-sleepers" => cfg.fork_sleepers = number(&mut it, flag),
            "--daemonize" => cfg.daemonize = true,
            "--stop-self" => cfg.stop_self = true,
            "--exit" => cfg.exit = Some(number(&mut it, flag)),
            "--sleep-ms" => cfg.sleep_ms = Some(number(&mut it, flag)),
            "--exit-on-stdin-eof" => cfg.exit_on_stdin_eof = true,
            "--spike-on-stdin" => cfg.spike_on_stdin_mb = number(&mut it, flag),
            "--cat" => cfg.cat = true,
            "--spew-stderr" => cfg.spew_stderr = Some(number(&mut it, flag)),
            "--burn" => cfg.burn = true,
            "--print-env" => cfg.print_env.push(value(&mut it, flag)),
            "--fork-bomb-ms" => cfg.fork_bomb_ms = Some(number(&mut it, flag)),
            "--fork-bomb-max" => cfg.fork_bomb_max = number(&mut it, flag),
            "--die-with-parent" => cfg.die_with_parent = true,
            _ => usage_error(&format!("unknown flag {flag:?}")),
        }
    }
    if cfg.depth.is_some() && cfg.children == 0 {
        usage_error("--depth needs --children N");
    }
    if cfg.depth == Some(0) {
        usage_error("--depth must be at least 1");
    }
    if cfg.daemonize && cfg.die_with_parent {
        usage_error("--daemonize and --die-with-parent exclude each other");
    }
    cfg
}

/// Percent-escapes free text so it fits in one space-free value.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Field 22 (start time in clock ticks) of `/proc/<pid>/stat`.
fn start_time_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // After ")": field 3 (state) is the first; field 22 is the 20th.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// State letter (field 3) of `/proc/<pid>/stat`.
fn state_of(pid: i32) -> Option<u8> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).copied()
}

fn ignore_signal(sig: libc::c_int) {
    // SAFETY: installing SIG_IGN registers no handler code, so no Rust code can run in
    // signal context; `sig` is a valid catchable signal number.
    let old = unsafe { libc::signal(sig, libc::SIG_IGN) };
    if old == libc::SIG_ERR {
        setup_error(&format!(
            "signal({sig}, SIG_IGN): {}",
            std::io::Error::last_os_error()
        ));
    }
}

/// `fork()`; the child must only use async-signal-safe calls when threads exist.
fn fork() -> std::io::Result<libc::pid_t> {
    // SAFETY: every caller either runs single-threaded (daemonize, before any thread starts)
    // or has the child restrict itself to async-signal-safe calls (prctl, getpid, getppid,
    // clock_gettime, atomics, fork, pause, _exit) and never return into code that could
    // touch locks held by other threads.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process without running any user-space code; always sound.
    unsafe { libc::_exit(code) }
}

/// Sleeps until a signal ends the process (or forever).
fn sleep_forever() -> ! {
    loop {
        // SAFETY: `pause` only blocks the calling thread until a signal arrives.
        unsafe { libc::pause() };
    }
}

/// Sets `PR_SET_PDEATHSIG` to SIGKILL and exits if the parent is already gone.
fn die_with_parent(expected_ppid: Option<rustix::process::Pid>) {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .or_die("prctl(PR_SET_PDEATHSIG)");
    if rustix::process::getppid() != expected_ppid {
        // The parent died before the prctl took effect.
        exit_now(0);
    }
}

/// Double-forks; returns only in the daemon, with the write end of the "ready" pipe.
fn daemonize() -> OwnedFd {
    let (read_end, write_end) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).or_die("pipe");
    let middle = fork().or_die("fork (daemonize)");
    if middle > 0 {
        // The original: wait for the middle process, then for the daemon's ready byte.
        drop(write_end);
        let mut status = 0;
        // SAFETY: waiting for our own child; `status` is a valid out pointer.
        unsafe { libc::waitpid(middle, &mut status, 0) };
        let mut file = File::from(read_end);
        let mut byte = [0u8; 1];
        let code = match file.read(&mut byte) {
            Ok(1) => 0,
            _ => EXIT_SETUP,
        };
        std::process::exit(code);
    }
    // The middle process: fork the daemon and leave at once.
    drop(read_end);
    match fork() {
        Ok(0) => {}
        Ok(_) => exit_now(0),
        Err(e) => {
            eprintln!("testbin: fork (daemonize, second): {e}");
            exit_now(EXIT_SETUP);
        }
    }
    rustix::process::setsid().or_die("setsid (daemonize)");
    write_end
}

/// A spawned testbin child whose ready line was read.
struct ReadyChild {
    child: Child,
    /// Kept open so the child never meets a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pid: u32,
    descendants: Vec<u32>,
}

fn spawn_children(cfg: &Config) -> Vec<ReadyChild> {
    let mut args: Vec<OsString> = Vec::new();
    if let Some(depth) = cfg.depth {
        if depth > 1 {
            args.push("--children".into());
            args.push(cfg.children.to_string().into());
            args.push("--depth".into());
            args.push((depth - 1).to_string().into());
            if !cfg.child_args.is_empty() {
                args.push("--child-args".into());
                args.extend(cfg.child_args.iter().cloned());
                args.push("--end-child-args".into());
            }
        }
    }
    args.extend(cfg.child_args.iter().cloned());

    let mut ready: Vec<ReadyChild> = Vec::new();
    let fail = |ready: &mut Vec<ReadyChild>, msg: String| -> ! {
        for c in ready.iter_mut() {
            // Our own children, not reaped yet: their pids cannot have been reused.
            let _ = c.child.kill();
            let _ = c.child.wait();
        }
        setup_error(&msg);
    };
    for i in 0..cfg.children {
        let mut cmd = Command::new("/proc/self/exe");
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: the closure only calls `signal`, which is async-signal-safe, and
        // allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => fail(&mut ready, format!("spawning child {i}: {e}")),
        };
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let fields = parse_ready(&line);
        let pid = fields
            .as_ref()
            .and_then(|f| f.iter().find(|(k, _)| k == "pid"))
            .and_then(|(_, v)| v.parse().ok());
        let Some(pid) = pid else {
            let _ = child.kill();
            let status = child.wait();
            fail(
                &mut ready,
                format!("child {i} gave no ready line (read: {read:?}, line: {line:?}, status: {status:?})"),
            );
        };
        let descendants = fields
            .as_ref()
            .and_then(|f| f.iter().find(|(k, _)| k == "descendants"))
            .map(|(_, v)| v.split(',').filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default();
        ready.push(ReadyChild {
            child,
            _stdout: stdout,
            pid,
            descendants,
        });
    }
    ready
}

/// Splits `ready pid=1 k=v ...` into pairs; `None` when it is not a ready line.
fn parse_ready(line: &str) -> Option<Vec<(String, String)>> {
    let mut words = line.split_ascii_whitespace();
    if words.next()? != "ready" {
        return None;
    }
    Some(
        words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// `--fork-sleepers N`: N forked (not exec'd, so nearly free) children that sleep until
/// killed, and die with this process (`PR_SET_PDEATHSIG`). They are never reaped here.
fn fork_sleepers(n: usize) -> Vec<u32> {
    let me = std::process::id() as libc::pid_t;
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        // SAFETY: the child only calls async-signal-safe functions, then pauses forever.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: prctl/getppid/pause/_exit are async-signal-safe.
            unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                if libc::getppid() != me {
                    libc::_exit(0);
                }
                loop {
                    libc::pause();
                }
            }
        }
        if pid < 0 {
            setup_error(&format!(
                "fork of sleeper {} failed: {}",
                pids.len(),
                std::io::Error::last_os_error()
            ));
        }
        pids.push(pid as u32);
    }
    pids
}

fn spawn_zombie() -> libc::pid_t {
    let pid = fork().or_die("fork (zombie)");
    if pid == 0 {
        exit_now(7);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_micros(200);
    while state_of(pid) != Some(b'Z') {
        if Instant::now() > deadline {
            setup_error(&format!("zombie child {pid} never showed state Z"));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    pid
}

/// A counter shared by every process of the fork bomb (`MAP_SHARED`, survives `fork`).
fn shared_counter() -> &'static AtomicU32 {
    // SAFETY: a fresh anonymous shared mapping of one page; no existing memory is affected.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        setup_error(&format!("mmap: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the mapping is page-aligned, zero-filled, never unmapped and large enough for
    // an AtomicU32; zero is a valid AtomicU32.
    unsafe { &*ptr.cast::<AtomicU32>() }
}

/// Forks for `ms` milliseconds; new processes fork too, then sleep forever.
/// Returns only in the original process.
fn fork_bomb(ms: u64, max: u32) {
    let counter = shared_counter();
    let deadline = Instant::now() + Duration::from_millis(ms);
    let mut in_child = false;
    let mut me = rustix::process::getpid();
    while Instant::now() < deadline {
        if counter.fetch_add(1, Ordering::SeqCst) >= max {
            break;
        }
        match fork() {
            Ok(0) => {
                // Only async-signal-safe calls from here on (the parent may have threads).
                in_child = true;
                let parent = Some(me);
                if rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))
                .is_err()
                    || rustix::process::getppid() != parent
                {
                    exit_now(0);
                }
                me = rustix::process::getpid();
            }
            Ok(_) => {
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 1_000_000,
                };
                // SAFETY: `ts` is a valid timespec; the remainder pointer may be null.
                unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
            }
            // EAGAIN (or anything else): the OS refuses, stop forking.
            Err(_) => break,
        }
    }
    if in_child {
        sleep_forever();
    }
}

/// The log file of `--escape-on-term`, for the signal handler (set once, before the
/// handler is installed, and never freed).
static ESCAPE_LOG: std::sync::atomic::AtomicPtr<libc::c_char> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// `--escape-on-term LOG`: on SIGTERM, double-fork and `setsid` — the way a daemon slips
/// out of a process tree — then exit. The escaped grandchild appends its pid to LOG, puts
/// SIGTERM back to its default and sleeps, so a test can check it did not survive.
fn escape_on_term(log: &OsString) {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(log.as_bytes())
        .unwrap_or_else(|_| usage_error("--escape-on-term: NUL in path"));
    ESCAPE_LOG.store(c.into_raw(), std::sync::atomic::Ordering::SeqCst);
    extern "C" fn on_term(_: libc::c_int) {
        // Only async-signal-safe calls: fork, setsid, open, write, close, signal, pause, _exit.
        // SAFETY: see above; the log path is a leaked, NUL-terminated C string.
        unsafe {
            if libc::fork() == 0 {
                libc::setsid();
                if libc::fork() == 0 {
                    // A forked handler inherits SIGTERM blocked; a daemon resets that.
                    libc::signal(libc::SIGTERM, libc::SIG_DFL);
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGTERM);
                    libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                    let path = ESCAPE_LOG.load(std::sync::atomic::Ordering::SeqCst);
                    let fd =
                        libc::open(path, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT, 0o644);
                    if fd >= 0 {
                        let mut buf = [0u8; 12];
                        let mut n = libc::getpid() as u32;
                        let mut i = buf.len() - 1;
                        buf[i] = b'\n';
                        loop {
                            i -= 1;
                            buf[i] = b'0' + (n % 10) as u8;
                            n /= 10;
                            if n == 0 {
                                break;
                            }
                        }
                        libc::write(fd, buf[i..].as_ptr().cast(), buf.len() - i);
                        libc::close(fd);
                    }
                    loop {
                        libc::pause();
                    }
                }
                libc::_exit(0);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: installing a handler that only makes async-signal-safe calls.
    unsafe { libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t) };
}

fn main() {
    let start_ppid = rustix::process::getppid();
    let cfg = parse_args(std::env::args_os().skip(1).collect());
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_owned(), v));

    let daemon_pipe = if cfg.daemonize {
        Some(daemonize())
    } else {
        None
    };

    if cfg.die_with_parent {
        die_with_parent(start_ppid);
    }
    if let Some(comm) = &cfg.comm {
        let name = CString::new(comm.as_bytes()).or_die("--comm");
        rustix::thread::set_name(&name).or_die("prctl(PR_SET_NAME)");
    }
    if let Some(cwd) = &cfg.cwd {
        std::env::set_current_dir(cwd).or_die("chdir");
        let now = std::env::current_dir().or_die("getcwd");
        put("cwd", escape(now.as_os_str().as_bytes()));
    }
    if cfg.setsid {
        rustix::process::setsid().or_die("setsid");
    }
    if cfg.setpgid {
        rustix::process::setpgid(None, None).or_die("setpgid(0, 0)");
    }
    if cfg.ignore_term {
        ignore_signal(libc::SIGTERM);
    }
    if let Some(log) = &cfg.escape_on_term {
        escape_on_term(log);
    }
    if cfg.ignore_int {
        ignore_signal(libc::SIGINT);
    }

    // I/O tests: copy stdin to stdout, then write a block to stderr, before anything else.
    if cfg.cat {
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut std::io::stdin().lock(), &mut out).or_die("copy stdin to stdout");
        out.flush().or_die("flush stdout");
    }
    if let Some(n) = cfg.spew_stderr {
        let block = vec![b'e'; n];
        std::io::stderr().write_all(&block).or_die("write stderr");
    }

    // Threads.
    if cfg.threads > 0 {
        let (tx, rx) = mpsc::channel();
        for i in 0..cfg.threads {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let name = CString::new(format!("worker-{i}")).expect("no NUL");
                    let _ = rustix::thread::set_name(&name);
                    let _ = tx.send((i, rustix::thread::gettid().as_raw_nonzero().get()));
                    loop {
                        std::thread::park();
                    }
                })
                .or_die("spawning a worker thread");
        }
        drop(tx);
        let mut tids = vec![0; cfg.threads];
        for _ in 0..cfg.threads {
            let (i, tid) = rx.recv().or_die("worker thread start");
            tids[i] = tid;
        }
        put("tids", join(&tids));
    }
    if cfg.burn_thread {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("burner".into())
            .spawn(move || {
                let _ = rustix::thread::set_name(c"burner");
                let _ = tx.send(rustix::thread::gettid().as_raw_nonzero().get());
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
            .or_die("spawning the burner thread");
        put("burner_tid", rx.recv().or_die("burner start").to_string());
    }
    let mut keep_alive: Vec<Box<dyn std::any::Any>> = Vec::new();
    if cfg.alloc_mb > 0 {
        let len = cfg.alloc_mb * 1024 * 1024;
        let mut block = vec![0u8; len];
        let page = rustix::param::page_size();
        for i in (0..len).step_by(page) {
            block[i] = 1;
        }
        std::hint::black_box(&mut block);
        keep_alive.push(Box::new(block));
        put("alloc_mb", cfg.alloc_mb.to_string());
    }
    if let Some(path) = &cfg.map_file {
        let file = std::fs::File::open(path).or_die("opening --map-file");
        let len = file.metadata().or_die("stat of --map-file").len() as usize;
        if len > 0 {
            // SAFETY: a fresh private read-only mapping of a whole file we hold open; no
            // Rust reference to it is created, pages are only read through raw pointers.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    std::os::fd::AsRawFd::as_raw_fd(&file),
                    0,
                )
            };
            if addr == libc::MAP_FAILED {
                setup_error(&format!(
                    "mmap of --map-file: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let mut sum = 0u8;
            for i in (0..len).step_by(rustix::param::page_size()) {
                // SAFETY: `i < len`, inside the mapping, which stays mapped forever.
                sum =
                    sum.wrapping_add(unsafe { std::ptr::read_volatile(addr.cast::<u8>().add(i)) });
            }
            std::hint::black_box(sum);
        }
        put("mapped_kb", (len / 1024).to_string());
    }

    // Files.
    if !cfg.files.is_empty() {
        let mut fds = Vec::new();
        for op in &cfg.files {
            let mut opts = OpenOptions::new();
            match op.mode {
                OpenMode::Read => opts.read(true),
                OpenMode::Write => opts.write(true).create(true).truncate(true),
                OpenMode::Append => opts.append(true).create(true),
            };
            let mut file = opts.open(&op.path).or_die(&format!("open {:?}", op.path));
            if let OpenMode::Write = op.mode {
                file.write_all(b"hello")
                    .or_die(&format!("write {:?}", op.path));
            }
            if let Some(n) = op.seek {
                file.seek(SeekFrom::Start(n))
                    .or_die(&format!("seek {:?}", op.path));
            }
            fds.push(file.into_raw_fd());
        }
        put("fds", join(&fds));
    }

    // Sockets.
    if cfg.listen_tcp || cfg.connect_tcp {
        let listener = TcpListener::bind("127.0.0.1:0").or_die("bind tcp 127.0.0.1:0");
        let addr = listener.local_addr().or_die("tcp local_addr");
        put("tcp_port", addr.port().to_string());
        if cfg.connect_tcp {
            let client = TcpStream::connect(addr).or_die("connect to own listener");
            let (server, _) = listener.accept().or_die("accept own connection");
            let port = client.local_addr().or_die("client local_addr").port();
            put("tcp_client_port", port.to_string());
            keep_alive.push(Box::new((client, server)));
        }
        keep_alive.push(Box::new(listener));
    }
    if cfg.listen_tcp6 {
        let listener = TcpListener::bind("[::1]:0").or_die("bind tcp [::1]:0");
        let port = listener.local_addr().or_die("tcp6 local_addr").port();
        put("tcp6_port", port.to_string());
        keep_alive.push(Box::new(listener));
    }
    if cfg.udp {
        let sock = UdpSocket::bind("127.0.0.1:0").or_die("bind udp 127.0.0.1:0");
        put(
            "udp_port",
            sock.local_addr()
                .or_die("udp local_addr")
                .port()
                .to_string(),
        );
        keep_alive.push(Box::new(sock));
    }
    if cfg.udp6 {
        let sock = UdpSocket::bind("[::1]:0").or_die("bind udp [::1]:0");
        put(
            "udp6_port",
            sock.local_addr()
                .or_die("udp6 local_addr")
                .port()
                .to_string(),
        );
        keep_alive.push(Box::new(sock));
    }
    for &port in &cfg.listen_ports {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).or_die(&format!("bind tcp 127.0.0.1:{port}"));
        keep_alive.push(Box::new(listener));
    }
    if !cfg.listen_ports.is_empty() {
        put("listen_port", join(&cfg.listen_ports));
    }
    if !cfg.unix.is_empty() {
        let mut paths = Vec::new();
        for path in &cfg.unix {
            let listener = UnixListener::bind(path).or_die(&format!("bind unix {path:?}"));
            keep_alive.push(Box::new(listener));
            paths.push(escape(path.as_bytes()));
        }
        put("unix", paths.join(","));
    }

    // Children.
    if cfg.children > 0 {
        let children = spawn_children(&cfg);
        let pids: Vec<u32> = children.iter().map(|c| c.pid).collect();
        let mut all = Vec::new();
        for c in &children {
            all.push(c.pid);
            all.extend_from_slice(&c.descendants);
        }
        put("children", join(&pids));
        put("descendants", join(&all));
        keep_alive.push(Box::new(children));
    }
    if cfg.zombie_child {
        put("zombie", spawn_zombie().to_string());
    }
    if cfg.fork_sleepers > 0 {
        let pids = fork_sleepers(cfg.fork_sleepers);
        put("sleepers", join(&pids));
    }
    for var in &cfg.print_env {
        if let Some(value) = std::env::var_os(var) {
            put(
                &format!("env_{}", var.to_string_lossy()),
                escape(value.as_bytes()),
            );
        }
    }
    if cfg.daemonize {
        put("daemon", "1".into());
    }

    // The ready line. Not rustix's getpgrp/getsid: they panic on 0, which is what the
    // kernel answers when the group or session leader lives outside this pid namespace.
    // SAFETY: getpgrp and getsid take integers and touch no memory.
    let (pgid, sid) = unsafe { (libc::getpgrp(), libc::getsid(0).max(0)) };
    let pid = std::process::id();
    let mut line = format!(
        "ready pid={pid} ppid={} pgid={} sid={} start={}",
        rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get()),
        pgid,
        sid,
        start_time_of("self").unwrap_or(0),
    );
    for (k, v) in &out {
        let _ = write!(line, " {k}={v}");
    }
    line.push('\n');
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
            .or_die("writing the ready line");
    }
    if let Some(pipe) = daemon_pipe {
        let _ = rustix::io::write(&pipe, b"r");
        drop(pipe);
    }

    // After ready.
    if cfg.stop_self {
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP)
            .or_die("raise(SIGSTOP)");
    }
    if let Some(code) = cfg.exit {
        std::process::exit(code);
    }
    if cfg.spike_on_stdin_mb > 0 {
        spike_on_stdin(cfg.spike_on_stdin_mb);
    }
    if cfg.exit_on_stdin_eof {
        std::thread::Builder::new()
            .name("stdin-eof".into())
            .spawn(|| {
                let mut stdin = std::io::stdin().lock();
                let mut buf = [0u8; 4096];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => std::process::exit(0),
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => std::process::exit(0),
                    }
                }
            })
            .or_die("spawning the stdin thread");
    }
    if let Some(ms) = cfg.fork_bomb_ms {
        fork_bomb(ms, cfg.fork_bomb_max);
    }
    let deadline = cfg
        .sleep_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    if cfg.burn {
        let mut x = 0u64;
        loop {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                std::process::exit(0);
            }
        }
    }
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(left);
        std::process::exit(0);
    }
    // `keep_alive` lives on: sleep_forever never returns.
    let _keep = keep_alive;
    sleep_forever();
}
