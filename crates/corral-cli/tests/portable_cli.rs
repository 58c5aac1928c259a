//! The `corral` command, run for real: the same source on Linux and on Windows (run under
//! Wine in CI: `.ci/cargo-win test -p corral-cli --test portable_cli`).
//!
//! A `harness = false` test, like `crates/corral/tests/portable.rs`, whose runner and
//! outcomes it shares: the binary is also the child program the tests spawn (with
//! `CORRAL_CLI_CHILD` set, `main` plays the child), so no Linux-only helper program is
//! needed. Where a test must find a child by name, it runs a hard link to (Linux) or a
//! copy of (Windows) this binary under a name of its own (on Windows a process's name is
//! its program's file name).
//!
//! Every test ends passed, failed, *not verifiable under Wine*, *missing in Wine* (the API
//! named) or skipped without jobs, all counted in the summary line; a failure makes the
//! run exit 1. Under Wine 8.0 two count as missing in Wine (it cannot set, or read for
//! another process, the I/O priority that `ionice` and `background` use) and two as not
//! verifiable (a second `job events` of one job: Wine cannot take a job's completion port
//! back; `--port`: Wine names no socket's owner); the rest pass.

#[path = "../../corral/tests/harness/mod.rs"]
#[macro_use]
mod harness;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use corral::{Command, ExitStatus, Job, Process, Signal};
use harness::{run, Outcome::*, Test, TestResult};
use serde_json::Value;

const CHILD_VAR: &str = "CORRAL_CLI_CHILD";

/// How long any one `corral` command may take before the test fails (and kills it).
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

// ---- the child ------------------------------------------------------------------------

/// What the child does, by `CORRAL_CLI_CHILD`: `exit:N` exits with N; `sleep:MS` sleeps,
/// then exits 0; `tick:PATH` appends a byte to PATH every 5 ms; `touch:N` writes N MiB
/// and sleeps; `tree:N` starts N sleeping children of its own and sleeps; `stdin:N` reads
/// its stdin to the end, then exits with N; `touchfile:PATH` creates PATH and exits 0;
/// `listen:PATH` listens on a free loopback TCP port, writes it to PATH and sleeps.
fn child_main(mode: &str) -> ! {
    let (what, arg) = mode.split_once(':').unwrap_or((mode, ""));
    let n: u64 = arg.parse().unwrap_or(0);
    match what {
        "exit" => std::process::exit(n as i32),
        "sleep" => {
            std::thread::sleep(Duration::from_millis(n));
            std::process::exit(0)
        }
        "tick" => harness::tick(arg),
        "touch" => {
            // Writes N MiB, then sleeps with them (killed by the test).
            let mut block = vec![0u8; (n as usize) << 20];
            for i in (0..block.len()).step_by(4096) {
                block[i] = 1;
            }
            std::thread::sleep(Duration::from_secs(60));
            std::hint::black_box(&block);
            std::process::exit(0)
        }
        "tree" => harness::tree(n, CHILD_VAR),
        "listen" => {
            // A TCP listener on a free loopback port, the port written to PATH.
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = l.local_addr().expect("local_addr").port();
            let tmp = format!("{arg}.tmp");
            std::fs::write(&tmp, port.to_string()).expect("write port");
            std::fs::rename(&tmp, arg).expect("rename port file");
            std::thread::sleep(Duration::from_secs(60));
            std::hint::black_box(&l);
            std::process::exit(0)
        }
        "touchfile" => {
            let _ = std::fs::write(arg, b"ran");
            std::process::exit(0)
        }
        "stdin" => {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(n as i32)
        }
        _ => std::process::exit(99),
    }
}

// ---- helpers --------------------------------------------------------------------------

/// The Wine version, if these tests run under Wine.
#[cfg(windows)]
fn wine() -> Option<String> {
    corral::os::windows::wine_version()
}

#[cfg(not(windows))]
fn wine() -> Option<String> {
    None
}

fn me() -> PathBuf {
    std::env::current_exe().expect("current_exe")
}

/// The `corral` binary. Cargo's layout puts it beside this test's `deps/` directory;
/// that path is the one a program under Wine can run (`CARGO_BIN_EXE_corral` is the
/// build machine's path).
fn corral_exe() -> PathBuf {
    let exe = format!("corral{}", std::env::consts::EXE_SUFFIX);
    match me().parent().and_then(Path::parent).map(|d| d.join(&exe)) {
        Some(p) if p.is_file() => p,
        _ => PathBuf::from(env!("CARGO_BIN_EXE_corral")),
    }
}

/// The directory this run's copies of the test binary go to: beside it, so that a hard
/// link can stand for a copy.
fn scratch() -> PathBuf {
    let dir = me()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("portable_cli-scratch-{}", std::process::id()))
}

/// This binary linked or copied under a name no other process has: `cc<pid><tag>` (at most 15
/// bytes, Linux's comm length, for tags of up to 4 characters) plus the platform's
/// executable suffix. The name is what `corral` shows for a process started from it.
struct NamedExe {
    path: PathBuf,
    name: String,
}

impl Drop for NamedExe {
    /// Removes the copy (its children are gone by then: declared after it, dropped
    /// before it). Windows may hold an image a moment after its process exits.
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_file(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn named_exe(tag: &str) -> Result<NamedExe, String> {
    let name = format!(
        "cc{}{tag}{}",
        std::process::id(),
        std::env::consts::EXE_SUFFIX
    );
    let dir = scratch();
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {dir:?}: {e}"))?;
    let path = dir.join(&name);
    // A hard link on Linux (a debug test binary is tens of MB); a copy on Windows, where
    // Wine names a process after the first name of its program's file.
    if cfg!(windows) || std::fs::hard_link(me(), &path).is_err() {
        std::fs::copy(me(), &path).map_err(|e| format!("copy the test binary to {path:?}: {e}"))?;
    }
    Ok(NamedExe { path, name })
}

/// Kills and reaps a child on drop, so a failing test leaves nothing behind.
struct Reap(corral::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reap {
    type Target = corral::Child;
    fn deref(&self) -> &corral::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reap {
    fn deref_mut(&mut self) -> &mut corral::Child {
        &mut self.0
    }
}

/// Starts `program` (this binary or a copy) as a child doing `mode`, with `args`.
fn spawn(program: &Path, mode: &str, args: &[&str]) -> Result<Reap, String> {
    Command::new(program)
        .args(args)
        .env(CHILD_VAR, mode)
        .spawn()
        .map(Reap)
        .map_err(|e| format!("spawn {program:?}: {e}"))
}

/// What a finished `corral` command left: its pid, exit code, stdout and stderr.
struct Ran {
    pid: u32,
    code: Option<i32>,
    out: String,
    err: String,
}

impl Ran {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(self.out.trim()).map_err(|e| format!("bad JSON ({e}): {:?}", self.out))
    }

    /// For failure messages.
    fn show(&self) -> String {
        format!(
            "exit {:?}\nstdout: {}\nstderr: {}",
            self.code, self.out, self.err
        )
    }
}

/// Starts `corral ARGS` with no terminal width and no stdin, pipes for its output.
fn corral_cmd(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(corral_exe());
    c.args(args)
        .env_remove("COLUMNS")
        .env_remove(CHILD_VAR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Reads a pipe to its end on a thread of its own.
fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = r {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            s = String::from_utf8_lossy(&b).into_owned();
        }
        s
    })
}

/// Waits for a started `corral` (killed after [`COMMAND_LIMIT`]) and collects its output.
fn finish(mut c: std::process::Child) -> Result<Ran, String> {
    let pid = c.id();
    let (out, err) = (drain(c.stdout.take()), drain(c.stderr.take()));
    let end = Instant::now() + COMMAND_LIMIT;
    let st = loop {
        match c.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = c.kill();
                let _ = c.wait();
                return Err(format!("corral did not end within {COMMAND_LIMIT:?}"));
            }
            Err(e) => return Err(format!("wait for corral: {e}")),
        }
    };
    Ok(Ran {
        pid,
        code: st.code(),
        out: out.join().unwrap_or_default(),
        err: err.join().unwrap_or_default(),
    })
}

/// Runs `corral ARGS` to its end.
fn corral(args: &[&str]) -> Result<Ran, String> {
    let c = corral_cmd(args)
        .spawn()
        .map_err(|e| format!("start {:?}: {e}", corral_exe()))?;
    finish(c)
}

/// Runs `corral ARGS`, which must exit with `code`.
fn corral_code(args: &[&str], code: i32) -> Result<Ran, String> {
    let r = corral(args)?;
    if r.code != Some(code) {
        return Err(format!(
            "corral {args:?}: expected exit {code}\n{}",
            r.show()
        ));
    }
    if r.err.contains("panicked") {
        return Err(format!("corral {args:?} panicked\n{}", r.show()));
    }
    Ok(r)
}

/// `corral ARGS` printing one JSON value per line.
fn json_lines(r: &Ran) -> Result<Vec<Value>, String> {
    r.out
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn my_pid() -> u32 {
    std::process::id()
}

/// The child's command line as `corral` reads it back: the program path as given, then
/// the arguments.
fn argv(program: &Path, args: &[&str]) -> Vec<String> {
    std::iter::once(program.to_string_lossy().into_owned())
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

/// The status of a child ended by `sig` through `corral kill`: killed by the signal on
/// Linux; on Windows `TerminateProcess` with the signal's number as exit code (the
/// documented mapping).
fn ended_by(sig: Signal) -> ExitStatus {
    if cfg!(windows) {
        ExitStatus::Exited(sig.number())
    } else {
        ExitStatus::Signaled {
            signal: sig,
            core_dumped: false,
        }
    }
}

/// A pid that no process has now (Windows pids are multiples of 4; Linux caps them at
/// 2^22).
fn missing_pid() -> Result<u32, String> {
    (0..64)
        .map(|i| 4_194_300 - 4 * i)
        .find(|&p| Process::open(corral::Pid::new(p).unwrap()).is_err())
        .ok_or_else(|| "no free pid found".to_string())
}

// ---- the tests ------------------------------------------------------------------------

fn ps_json_lists_child() -> TestResult {
    let exe = named_exe("ps")?;
    let args = ["alpha", "b c"];
    let c = spawn(&exe.path, "sleep:60000", &args)?;
    let r = corral_code(
        &[
            "ps",
            "--name",
            &exe.name,
            "-o",
            "pid,ppid,name,cmd",
            "--json",
        ],
        0,
    )?;
    let rows = json_lines(&r)?;
    check!(rows.len() == 1, "one row expected: {rows:?}");
    let row = &rows[0];
    check!(row["pid"] == c.pid().as_raw(), "{row}");
    check!(row["ppid"] == my_pid(), "{row}");
    check!(row["name"] == exe.name.as_str(), "{row}");
    check!(
        row["cmd"] == argv(&exe.path, &args).join(" ").as_str(),
        "{row}"
    );
    // The table, default columns: the header and the child's row.
    let r = corral_code(&["ps", "-w", "--name", &exe.name], 0)?;
    let lines: Vec<&str> = r.out.lines().collect();
    check!(lines.len() == 2, "{}", r.show());
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    check!(
        header == ["PID", "PPID", "USER", "S", "%CPU", "RSS", "START", "TIME", "COMMAND"],
        "{}",
        r.show()
    );
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    check!(
        cells.len() >= 9
            && cells[0] == c.pid().to_string()
            && cells[1] == my_pid().to_string()
            && lines[1].ends_with(&argv(&exe.path, &args).join(" ")),
        "{}",
        r.show()
    );
    // Every process, default columns: the child is there once, corral itself too.
    let r = corral_code(&["ps", "--json"], 0)?;
    let rows = json_lines(&r)?;
    let pids: Vec<u64> = rows.iter().filter_map(|v| v["pid"].as_u64()).collect();
    check!(
        pids.iter()
            .filter(|&&p| p == c.pid().as_raw() as u64)
            .count()
            == 1,
        "child {} in {pids:?}",
        c.pid()
    );
    check!(
        pids.contains(&(r.pid as u64)),
        "corral {} not in {pids:?}",
        r.pid
    );
    // By parent: our children are exactly the sleeper and this corral.
    let me = my_pid().to_string();
    let r = corral_code(&["ps", "--parent", &me, "-o", "pid,ppid", "--json"], 0)?;
    let mut got: Vec<u64> = json_lines(&r)?
        .iter()
        .filter_map(|v| v["pid"].as_u64())
        .collect();
    got.sort_unstable();
    let mut want = vec![c.pid().as_raw() as u64, r.pid as u64];
    want.sort_unstable();
    check!(got == want, "children of {me}: {got:?}, expected {want:?}");
    Ok(Pass)
}

fn find_by_name() -> TestResult {
    let exe = named_exe("fd")?;
    let c = spawn(&exe.path, "sleep:60000", &[])?;
    let decoy = spawn(&me(), "sleep:60000", &[])?;
    let r = corral_code(&["find", "--name", &exe.name], 0)?;
    check!(
        r.out == format!("{}\n", c.pid()),
        "expected only {}\n{}",
        c.pid(),
        r.show()
    );
    let r = corral_code(&["find", "-l", "--name", &exe.name], 0)?;
    check!(
        r.out == format!("{} {}\n", c.pid(), exe.name),
        "{}",
        r.show()
    );
    let r = corral_code(&["find", "--count", "--name", &exe.name], 0)?;
    check!(r.out == "1\n", "{}", r.show());
    // By the command line: the decoy has the same arguments but another program.
    let r = corral_code(&["find", "--json", "--full", "--contains", &exe.name], 0)?;
    let rows = json_lines(&r)?;
    check!(rows.len() == 1, "{rows:?}");
    check!(rows[0]["pid"] == c.pid().as_raw(), "{rows:?}");
    check!(rows[0]["name"] == exe.name.as_str(), "{rows:?}");
    check!(rows[0]["cmdline"] == serde_json::json!(argv(&exe.path, &[])));
    // Nothing matches: exit 1, nothing printed.
    let nothing = format!("{}nope", exe.name);
    let r = corral_code(&["find", "--name", &nothing], 1)?;
    check!(r.out.is_empty() && r.err.is_empty(), "{}", r.show());
    // By user: this process's user (on Windows its account name without the domain,
    // matched by name as Windows has no numeric ids) with the name finds the child.
    let user = t!(t!(Process::current()).username());
    let account = user.rsplit('\\').next().unwrap_or(&user).to_owned();
    let r = corral_code(&["find", "--user", &account, "--name", &exe.name], 0)?;
    check!(r.out == format!("{}\n", c.pid()), "{}", r.show());
    let other = format!("{account}-not");
    let r = corral(&["find", "--user", &other, "--name", &exe.name])?;
    // Linux looks the name up (no such user: a usage error); Windows matches names.
    check!(r.out.is_empty(), "{}", r.show());
    check!(
        r.code == Some(if cfg!(windows) { 1 } else { 2 }),
        "{}",
        r.show()
    );
    check!(decoy.is_running());
    Ok(Pass)
}

fn kill_by_name() -> TestResult {
    let exe = named_exe("kl")?;
    let mut c = spawn(&exe.path, "sleep:60000", &[])?;
    let decoy = spawn(&me(), "sleep:60000", &[])?;
    let r = corral_code(&["kill", "--name", &exe.name], 0)?;
    check!(
        r.out == format!("sent SIGTERM to {} ({})\n", c.pid(), exe.name),
        "{}",
        r.show()
    );
    let st = t!(c.process().wait(Some(Duration::from_secs(30))));
    check!(st == ended_by(Signal::Term), "{st:?}");
    t!(c.wait()); // reaped: no zombie left to match below
    check!(decoy.is_running(), "the decoy was hit");
    // Now nothing has the name: exit 1 (nothing matched), nothing signalled.
    let r = corral_code(&["kill", "--name", &exe.name], 1)?;
    check!(r.out.is_empty(), "{}", r.show());
    // KILL, reported as JSON, and waited for.
    let mut c = spawn(&exe.path, "sleep:60000", &[])?;
    let r = corral_code(
        &[
            "kill", "-s", "KILL", "--wait", "--json", "--name", &exe.name,
        ],
        0,
    )?;
    let v = r.json()?;
    check!(v["pid"] == c.pid().as_raw(), "{v}");
    check!(v["name"] == exe.name.as_str(), "{v}");
    check!(v["signal"] == "KILL", "{v}");
    check!(v["result"] == "exited", "{v}");
    let st = t!(c.wait());
    check!(st == ended_by(Signal::Kill), "{st:?}");
    check!(decoy.is_running(), "the decoy was hit");
    Ok(Pass)
}

/// Starts a `listen:` child and returns it with its port.
fn listener(tag: &str) -> Result<(Reap, u16), String> {
    let file = scratch().join(format!("port-{tag}-{}", my_pid()));
    let _ = std::fs::remove_file(&file);
    let c = spawn(&me(), &format!("listen:{}", file.display()), &[])?;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = std::fs::read_to_string(&file) {
            let _ = std::fs::remove_file(&file);
            return Ok((c, t!(s.parse())));
        }
        if Instant::now() > end {
            return Err(format!("the listener never wrote {file:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `find --port` selects exactly the process listening there (never pid 0, which owns
/// Windows' `TIME_WAIT` rows), `kill --port` kills it and not a listener on another
/// port; a bad port is a usage error.
fn kill_by_port() -> TestResult {
    let (mut c, port) = listener("a")?;
    let (decoy, decoy_port) = listener("b")?;
    check!(port != decoy_port);
    let p = port.to_string();
    let r = corral(&["find", "--json", "--port", &p])?;
    let rows = json_lines(&r)?;
    check!(rows.iter().all(|r| r["pid"] != 0), "{}", r.show());
    if wine().is_some() && r.code == Some(1) {
        // Wine 8 names pid 0 as every socket's owner.
        return Ok(NotVerifiableUnderWine(
            "owner pids of GetExtendedTcpTable (Wine reports 0)".into(),
        ));
    }
    check!(r.code == Some(0), "{}", r.show());
    check!(
        rows.len() == 1 && rows[0]["pid"] == c.pid().as_raw(),
        "{}",
        r.show()
    );
    let r = corral_code(&["kill", "-s", "KILL", "--wait", "--json", "--port", &p], 0)?;
    let v = r.json()?;
    check!(v["pid"] == c.pid().as_raw(), "{v}");
    check!(v["result"] == "exited", "{v}");
    let st = t!(c.wait());
    check!(st == ended_by(Signal::Kill), "{st:?}");
    check!(decoy.is_running(), "the decoy was hit");
    for bad in ["0", "70000", "http"] {
        corral_code(&["kill", "--port", bad], 2)?;
    }
    Ok(Pass)
}

fn kill_bad_input() -> TestResult {
    let missing = missing_pid()?.to_string();
    let me = my_pid().to_string();
    for (args, code, needle) in [
        (vec!["kill", "0"], 2, "0 is not a process"),
        (vec!["kill", "abc"], 2, "not a number"),
        (vec!["kill", "-s", "NOSUCHSIG", &me], 2, "--signal"),
        (vec!["kill"], 2, "no selector"),
        (vec!["kill", &missing], 1, "no process with pid"),
        (vec!["find", &missing], 1, ""),
        (vec!["info", "0"], 2, "0 is not a process"),
        (vec!["info", &missing], 1, "no such process"),
        (vec!["tree", &missing], 1, "no process"),
        // Windows has no process groups: a usage error, not "nothing matched".
        (
            vec!["find", "--pgid", &missing],
            if cfg!(windows) { 2 } else { 1 },
            if cfg!(windows) {
                "no process groups"
            } else {
                ""
            },
        ),
        (vec!["ps", "-o", "pid,bogus"], 2, "unknown column \"bogus\""),
        (vec!["ps", "--regex", "("], 2, "bad regular expression"),
        // corral never signals its ancestors, this test among them.
        (vec!["kill", "--dry-run", &me], 1, "ancestor of corral"),
    ] {
        let r = corral_code(&args, code)?;
        check!(r.err.contains(needle), "{args:?}: {}", r.show());
    }
    Ok(Pass)
}

fn info_json_fields() -> TestResult {
    let exe = named_exe("in")?;
    let args = ["x y", "z"];
    let c = spawn(&exe.path, "sleep:60000", &args)?;
    let pid = c.pid().to_string();
    let r = corral_code(&["info", &pid, "--json"], 0)?;
    let v = r.json()?;
    check!(v["pid"] == c.pid().as_raw(), "{v}");
    check!(v["ppid"] == my_pid(), "ppid {}", v["ppid"]);
    check!(v["name"] == exe.name.as_str(), "name {}", v["name"]);
    check!(
        v["cmdline"] == serde_json::json!(argv(&exe.path, &args)),
        "cmdline {}",
        v["cmdline"]
    );
    let got = PathBuf::from(v["exe"].as_str().unwrap_or_default());
    check!(
        got.canonicalize().ok() == exe.path.canonicalize().ok() && got.is_file(),
        "exe {} for {:?}",
        v["exe"],
        exe.path
    );
    let cwd = PathBuf::from(v["cwd"].as_str().unwrap_or_default());
    let my_cwd = t!(std::env::current_dir());
    check!(
        t!(cwd.canonicalize()) == t!(my_cwd.canonicalize()),
        "cwd {}",
        v["cwd"]
    );
    check!(v["num_threads"].as_u64() >= Some(1), "{}", v["num_threads"]);
    check!(
        v["memory_info"]["rss"].as_u64() > Some(0),
        "{}",
        v["memory_info"]
    );
    let env = v["environ"].as_array().cloned().unwrap_or_default();
    check!(
        env.iter()
            .any(|kv| kv[0] == CHILD_VAR && kv[1] == "sleep:60000"),
        "{CHILD_VAR} not in the environment {}",
        v["environ"]
    );
    let start = t!(c.start_time());
    check!(v["start_time"]["raw"] == start.raw, "{}", v["start_time"]);
    // The human form names the same process.
    let r = corral_code(&["info", &pid], 0)?;
    check!(
        r.out
            .lines()
            .any(|l| l.starts_with("name ") && l.trim_end().ends_with(&exe.name)),
        "{}",
        r.show()
    );
    Ok(Pass)
}

fn tree_shows_child() -> TestResult {
    let exe = named_exe("tr")?;
    let c = spawn(&exe.path, "sleep:60000", &[])?;
    let pid = my_pid().to_string();
    let r = corral_code(&["tree", &pid, "--json"], 0)?;
    let roots = json_lines(&r)?;
    check!(roots.len() == 1, "{roots:?}");
    check!(roots[0]["pid"] == my_pid(), "{}", roots[0]);
    let kids = roots[0]["children"].as_array().cloned().unwrap_or_default();
    let mut pids: Vec<u64> = kids.iter().filter_map(|k| k["pid"].as_u64()).collect();
    pids.sort_unstable();
    let mut want = vec![c.pid().as_raw() as u64, r.pid as u64];
    want.sort_unstable();
    check!(pids == want, "children {pids:?}, expected {want:?}");
    let child = kids.iter().find(|k| k["pid"] == c.pid().as_raw()).unwrap();
    check!(child["name"] == exe.name.as_str(), "{child}");
    check!(child["children"] == serde_json::json!([]), "{child}");
    // The drawing: this process first, the child one level below it.
    let r = corral_code(&["tree", "-w", &pid], 0)?;
    let lines: Vec<&str> = r.out.lines().collect();
    let mine = me().file_name().unwrap().to_string_lossy().into_owned();
    check!(
        lines.first() == Some(&format!("{mine} ({pid})").as_str()),
        "{}",
        r.show()
    );
    let want_line = format!("{} ({})", exe.name, c.pid());
    let child_line = lines.iter().find(|l| l.ends_with(&want_line));
    check!(
        child_line.is_some_and(|l| l.chars().count() == want_line.chars().count() + 3),
        "{}",
        r.show()
    );
    check!(lines.len() == 3, "{}", r.show());
    Ok(Pass)
}

fn run_passes_exit_code() -> TestResult {
    let r = finish(t!(corral_cmd(&["run", "--", &me().to_string_lossy()])
        .env(CHILD_VAR, "exit:7")
        .spawn()))?;
    check!(r.code == Some(7), "{}", r.show());
    let missing = scratch().join("no-such-program");
    let r = corral_code(&["run", "--", &missing.to_string_lossy()], 3)?;
    check!(!r.err.is_empty(), "{}", r.show());
    Ok(Pass)
}

/// `run --timeout` ends the program with the documented code and says why; `run
/// --events` prints the job's new process, its exit with the code, and the emptiness.
fn run_timeout_and_events() -> TestResult {
    require_jobs!();
    let prog = me().to_string_lossy().into_owned();
    let r = finish(t!(corral_cmd(&["run", "--timeout", "1s", "--", &prog])
        .env(CHILD_VAR, "sleep:60000")
        .spawn()))?;
    check!(r.code == Some(124), "{}", r.show());
    check!(r.err.contains("--timeout"), "{}", r.show());
    let r = finish(t!(corral_cmd(&["run", "--events", "--", &prog])
        .env(CHILD_VAR, "exit:5")
        .spawn()))?;
    check!(r.code == Some(5), "{}", r.show());
    let events: Vec<&str> = r.err.lines().filter(|l| l.contains("job:")).collect();
    let at = |what: &str| events.iter().position(|l| l.contains(what));
    let (new, exit, empty) = (at("new-process"), at("exited with code 5"), at("empty"));
    check!(
        matches!((new, exit, empty), (Some(a), Some(b), Some(c)) if a < b && b < c),
        "events in order: {events:?}"
    );
    Ok(Pass)
}

/// `corral job events NAME` follows a job another process made: once it says it watches
/// (on stderr), the member's exit with its code, then the emptiness, and it ends with 0.
/// On Windows the watcher holds the job's one completion port: this process's own watch
/// is then refused, saying why.
fn job_events_follows_a_named_job() -> TestResult {
    require_jobs!();
    let name = format!("pcli-ev-{}", my_pid());
    let job = t!(Job::builder().name(&name).kill_on_close(true).create());
    let mut member = Reap(t!(Command::new(me())
        .env(CHILD_VAR, "stdin:3")
        .stdin(corral::Stdio::piped())
        .job(&job)
        .spawn()));
    let member_pid = member.pid().as_raw();
    let mut cli = t!(corral_cmd(&["job", "events", &name, "--json"]).spawn());
    // Lines of its stderr as they come.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = cli.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    let ready = format!("corral: watching job {name}: 1 member(s)");
    if first.as_deref() != Ok(ready.as_str()) {
        let _ = cli.kill();
        let _ = cli.wait();
        return Err(format!("expected {ready:?} on stderr, got {first:?}"));
    }
    if cfg!(windows) {
        let e = job.events().err();
        check!(
            e.as_ref()
                .is_some_and(|e| e.to_string().contains("completion port")),
            "a second watch of the job: {e:?}"
        );
    }
    drop(member.take_stdin()); // the member exits 3
    let r = finish(cli)?;
    check!(r.code == Some(0), "{}", r.show());
    let rest: Vec<String> = rx.try_iter().collect();
    check!(!rest.iter().any(|l| l.contains("panicked")), "{rest:?}");
    let evs = json_lines(&r)?;
    check!(evs.len() == 2, "{}", r.show());
    check!(evs[0]["event"] == "exit", "{}", r.show());
    check!(evs[0]["pid"] == member_pid, "{}", r.show());
    check!(evs[0]["status"]["code"] == 3, "{}", r.show());
    check!(evs[1]["event"] == "empty", "{}", r.show());
    // A job that does not exist: exit 1, named.
    let r = corral_code(&["job", "events", &format!("{name}-none")], 1)?;
    check!(r.err.contains(&format!("{name}-none")), "{}", r.show());
    // Watched again, now empty: says so at once. On Windows the first watcher gave the
    // job's completion port back as it ended (Windows 8+); Wine 8 cannot take it back.
    let r = corral(&["job", "events", &name])?;
    if wine().is_some() && r.code == Some(3) && r.err.contains("completion port") {
        return Ok(NotVerifiableUnderWine(
            "a second watcher of a job: Wine 8 cannot take a job's completion port back".into(),
        ));
    }
    check!(r.code == Some(0), "{}", r.show());
    check!(r.out.contains("empty"), "{}", r.show());
    Ok(Pass)
}

/// `run` with job limits runs the program under them and passes its exit code on;
/// `--stats --json` ends stderr with the job's accounting (the exit code, none left);
/// bad limits are usage errors, and nothing runs.
fn run_with_limits_and_stats() -> TestResult {
    require_jobs!();
    let prog = me().to_string_lossy().into_owned();
    let r = finish(t!(corral_cmd(&[
        "run",
        "--memory",
        "256M",
        "--max-procs",
        "8",
        "--stats",
        "--json",
        "--",
        &prog
    ])
    .env(CHILD_VAR, "exit:4")
    .spawn()))?;
    check!(r.code == Some(4), "{}", r.show());
    let last = r.err.lines().last().unwrap_or_default();
    let v: Value = t!(serde_json::from_str(last));
    check!(v["exit_code"] == 4, "{v}");
    check!(v["active_processes"] == 0, "{v}");
    // Counted where the system keeps the count (Windows; Linux with the proc connector).
    check!(
        v["total_processes"].is_null() || v["total_processes"] == 1,
        "{v}"
    );
    for bad in [
        ["--memory", "12XB"],
        ["--max-procs", "0"],
        ["--memory", "-5"],
    ] {
        let marker = scratch().join(format!("ran-{}", my_pid()));
        let _ = std::fs::remove_file(&marker);
        let r = finish(t!(corral_cmd(&["run", bad[0], bad[1], "--", &prog])
            .env(CHILD_VAR, format!("touchfile:{}", marker.display()))
            .spawn()))?;
        check!(r.code == Some(2), "{bad:?}: {}", r.show());
        check!(r.err.contains(bad[0]), "{bad:?}: {}", r.show());
        check!(!marker.exists(), "{bad:?} ran the program");
    }
    Ok(Pass)
}

/// `affinity` shows a process's CPUs, sets them (read back through the library), and
/// refuses a CPU the machine lacks or a bad list as usage errors.
fn affinity_show_and_set() -> TestResult {
    let c = spawn(&me(), "sleep:60000", &[])?;
    let pid = c.pid().to_string();
    let all = t!(c.process().cpu_affinity());
    let v = corral_code(&["affinity", "--json", &pid], 0)?.json()?;
    check!(
        v["result"] == "ok" && v["cpus"] == serde_json::json!(all),
        "{v} vs {all:?}"
    );
    let v = corral_code(&["affinity", "--cpus", "0", "--json", &pid], 0)?.json()?;
    check!(
        v["result"] == "changed" && v["cpus"] == serde_json::json!([0]),
        "{v}"
    );
    let now = t!(c.process().cpu_affinity());
    check!(now == [0], "{now:?}");
    corral_code(&["affinity", "--cpus", "999", &pid], 2)?;
    corral_code(&["affinity", "--cpus", "x", &pid], 2)?;
    Ok(Pass)
}

/// `trim` reports the resident size before and after for a child holding 64 MiB;
/// `background` puts it into background mode and back (read through the library), or,
/// where the system cannot set a process's I/O priority (Wine), fails saying so.
fn trim_and_background() -> TestResult {
    const MIB: u64 = 1 << 20;
    let c = spawn(&me(), "touch:64", &[])?;
    let pid = c.pid().to_string();
    let end = Instant::now() + Duration::from_secs(20);
    while t!(c.process().memory_info()).rss < 64 * MIB {
        check!(Instant::now() < end, "the child never held 64 MiB");
        std::thread::sleep(Duration::from_millis(20));
    }
    let v = corral_code(&["trim", "--json", &pid], 0)?.json()?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    check!(v["result"] == "changed", "{v}");
    check!(n("rss_before") >= 64 * MIB, "{v}");
    check!(
        n("paged_out") == n("rss_before").saturating_sub(n("rss_after")),
        "{v}"
    );
    let r = corral(&["background", "--json", &pid])?;
    if r.code == Some(1) && wine().is_some() {
        let v = r.json()?;
        check!(v["result"] == "failed", "{v}");
        check!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.contains("I/O priority")),
            "{v}"
        );
        check!(!t!(c.process().is_background()), "changed though refused");
        return Ok(MissingInWine(
            "NtSetInformationProcess(ProcessIoPriority)".into(),
        ));
    }
    check!(r.code == Some(0), "{}", r.show());
    let v = r.json()?;
    check!(v["result"] == "changed" && v["background"] == true, "{v}");
    check!(t!(c.process().is_background()), "not in background mode");
    let v = corral_code(&["background", "--off", "--json", &pid], 0)?.json()?;
    check!(v["background"] == false, "{v}");
    check!(!t!(c.process().is_background()), "still in background mode");
    Ok(Pass)
}

/// `ionice` shows the I/O priority and sets the idle class (read back through the
/// library), where the system can set it.
fn ionice_show_and_set() -> TestResult {
    let c = spawn(&me(), "sleep:60000", &[])?;
    let pid = c.pid().to_string();
    let r = corral(&["ionice", "--json", &pid])?;
    if r.code == Some(1) && wine().is_some() {
        // Wine 8 answers STATUS_INVALID_INFO_CLASS for another process.
        check!(r.json()?["result"] == "failed", "{}", r.show());
        return Ok(MissingInWine(
            "NtQueryInformationProcess(ProcessIoPriority) of another process".into(),
        ));
    }
    check!(r.code == Some(0), "{}", r.show());
    let v = r.json()?;
    let now = t!(c.process().ionice());
    check!(v["result"] == "ok", "{v}");
    check!(v["ionice"]["level"] == now.level, "{v} vs {now:?}");
    let r = corral(&["ionice", "--class", "idle", "--json", &pid])?;
    if r.code == Some(1) && wine().is_some() {
        check!(r.json()?["result"] == "failed", "{}", r.show());
        return Ok(MissingInWine(
            "NtSetInformationProcess(ProcessIoPriority)".into(),
        ));
    }
    check!(r.code == Some(0), "{}", r.show());
    check!(r.json()?["result"] == "changed", "{}", r.show());
    let got = t!(c.process().ionice());
    check!(got.class == corral::IoClass::Idle, "{got:?}");
    corral_code(&["ionice", "--class", "no-such-class", &pid], 2)?;
    Ok(Pass)
}

/// `limit PID nofile=N` sets a resource limit (read back through the library) on Linux;
/// Windows has no resource limits of this kind: refused per process, saying what it has.
/// A malformed limit is a usage error either way.
fn limit_set_or_refused() -> TestResult {
    let c = spawn(&me(), "sleep:60000", &[])?;
    let pid = c.pid().to_string();
    corral_code(&["limit", &pid, "nofile=lots"], 2)?;
    let r = corral(&["limit", "--json", &pid, "nofile=128"])?;
    if cfg!(windows) {
        check!(r.code == Some(1), "{}", r.show());
        let v = r.json()?;
        check!(v["result"] == "failed", "{v}");
        check!(
            v["error"]
                .to_string()
                .contains("Windows has no per-process resource limits"),
            "{v}"
        );
        return Ok(Pass);
    }
    check!(r.code == Some(0), "{}", r.show());
    check!(r.json()?["result"] == "changed", "{}", r.show());
    let got = t!(c.process().rlimit(corral::Resource::Nofile));
    check!(got.soft == Some(128) && got.hard == Some(128), "{got:?}");
    Ok(Pass)
}

fn job_run_list_show_freeze_kill() -> TestResult {
    require_jobs!();
    let exe = named_exe("jb")?;
    let name = format!("cli-portable-{}", my_pid());
    let ticks = scratch().join("jb-ticks");
    let run = t!(
        corral_cmd(&["run", "--job", &name, "--", &exe.path.to_string_lossy()])
            .env(CHILD_VAR, format!("tick:{}", ticks.display()))
            .spawn()
    );
    let run_pid = run.id();
    // Kill `corral run` (and so its job) if the test fails half-way.
    struct KillRun(Option<std::process::Child>);
    impl Drop for KillRun {
        fn drop(&mut self) {
            if let Some(c) = self.0.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut run = KillRun(Some(run));
    // Wait until the job has its member, named (Wine names a process only once it has
    // started up: until then its image name reads empty).
    let end = Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let r = corral(&["job", "show", &name, "--json"])?;
        if r.code == Some(0) {
            let v = r.json()?;
            if v["members"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["name"] != ""))
            {
                break v;
            }
        }
        // `corral run` ended early (it could not start the job or the program): why.
        let ended = run.0.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if ended.is_some() || Instant::now() > end {
            let _ = run.0.as_mut().map(std::process::Child::kill);
            let ran = finish(run.0.take().expect("corral run"))?;
            return Err(format!(
                "job {name} never showed its member\n{}\ncorral run: {}",
                r.show(),
                ran.show()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    check!(shown["name"] == name.as_str(), "{shown}");
    check!(shown["frozen"] == false, "{shown}");
    let members = shown["members"].as_array().unwrap();
    check!(members.len() == 1, "{shown}");
    check!(members[0]["name"] == exe.name.as_str(), "{shown}");
    let member = members[0]["pid"].as_u64().unwrap_or(0) as u32;
    let p = t!(Process::open(t!(member.to_string().parse())));
    let ppid = t!(p.ppid()).map(|p| p.as_raw());
    check!(ppid == Some(run_pid), "ppid {ppid:?}, corral run {run_pid}");
    // Freeze: the member stops writing; thaw: it writes again. `frozen` as `job show`
    // (a process of its own) reports it: Linux reads the cgroup; Windows sees every
    // member's threads suspended.
    // Listed with its one member.
    let v = corral_code(&["job", "list", "--json"], 0)?.json()?;
    let listed: Vec<&Value> = v
        .as_array()
        .map(|a| a.iter().filter(|j| j["name"] == name.as_str()).collect())
        .unwrap_or_default();
    check!(
        listed.len() == 1 && listed[0]["members"] == 1,
        "{name} in {v}"
    );
    // `--all` says where the job lives: its cgroup (Linux), the named-object directory of
    // its session (Windows).
    let v = corral_code(&["job", "list", "--all", "--json"], 0)?.json()?;
    let all: Vec<&Value> = v
        .as_array()
        .map(|a| a.iter().filter(|j| j["name"] == name.as_str()).collect())
        .unwrap_or_default();
    check!(all.len() == 1, "{name} in {v}");
    if cfg!(windows) {
        let dir = all[0]["directory"].as_str().unwrap_or_default();
        check!(dir.ends_with("\\BaseNamedObjects"), "{v}");
    } else {
        let cg = all[0]["cgroup"].as_str().unwrap_or_default();
        check!(cg.ends_with(&format!("/corral-{name}")), "{v}");
    }
    let r = corral_code(&["job", "list", "--all"], 0)?;
    let header = if cfg!(windows) { "DIRECTORY" } else { "CGROUP" };
    check!(
        r.out.lines().next().is_some_and(|h| h.ends_with(header)),
        "{}",
        r.show()
    );
    check!(grows(&ticks, 0), "the member never wrote to {ticks:?}");
    corral_code(&["job", "freeze", &name], 0)?;
    let v = corral_code(&["job", "show", &name, "--json"], 0)?.json()?;
    // Under Wine no thread reads as suspended; the library's
    // `windows_jobs::frozen_seen_by_another_handle` counts that as not verifiable.
    if wine().is_none() {
        check!(v["frozen"] == true, "{v}");
    }
    holds(&ticks)?;
    corral_code(&["job", "thaw", &name], 0)?;
    check!(
        grows(&ticks, size_of(&ticks)),
        "the thawed member does not write"
    );
    let v = corral_code(&["job", "show", &name, "--json"], 0)?.json()?;
    check!(v["frozen"] == false, "{v}");
    // Kill the job: the member dies by KILL, `corral run` passes that on.
    let r = corral_code(&["job", "kill", &name], 0)?;
    check!(
        r.err.contains(&format!("job {name}: killed 1 processes")),
        "{}",
        r.show()
    );
    let ran = finish(run.0.take().unwrap())?;
    let want = if cfg!(windows) { 9 } else { 128 + 9 };
    check!(ran.code == Some(want), "corral run: {}", ran.show());
    check!(
        p.wait(Some(Duration::from_secs(10))).is_ok(),
        "the member outlived its job"
    );
    // A process object keeps its Job Object alive on Windows, an exited one too.
    drop(p);
    // The job is gone with its `corral run` (Wine removes the name a moment later).
    let t0 = Instant::now();
    let r = loop {
        let r = corral(&["job", "show", &name])?;
        if r.code != Some(0) || t0.elapsed() > Duration::from_secs(10) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    check!(r.code == Some(2), "{}", r.show());
    check!(r.err.contains(&name), "{}", r.show());
    Ok(Pass)
}

fn top_batch_json() -> TestResult {
    let exe = named_exe("tp")?;
    let c = spawn(&exe.path, "sleep:60000", &[])?;
    let filter = format!("pid:{}", c.pid());
    let r = corral_code(
        &[
            "top",
            "--batch",
            "--json",
            "-i",
            "2",
            "-d",
            "0.1",
            "--filter",
            &filter,
            "-o",
            "pid,ppid,name",
        ],
        0,
    )?;
    let its = json_lines(&r)?;
    check!(its.len() == 2, "{}", r.show());
    for (n, v) in its.iter().enumerate() {
        check!(v["iteration"] == n as u64 + 1, "{v}");
        let procs = v["processes"].as_array().cloned().unwrap_or_default();
        check!(procs.len() == 1, "{v}");
        check!(procs[0]["pid"] == c.pid().as_raw(), "{v}");
        check!(procs[0]["ppid"] == my_pid(), "{v}");
        check!(procs[0]["name"] == exe.name.as_str(), "{v}");
        check!(
            procs[0]["cpu_percent"].as_f64().is_some_and(|x| x >= 0.0),
            "{v}"
        );
        check!(v["tasks"]["total"].as_u64() > Some(2), "{v}");
        check!(v["memory"]["total"].as_u64() > Some(0), "{v}");
    }
    // Text: the header figures, then the child's row.
    let r = corral_code(
        &[
            "top", "--batch", "-d", "0.1", "--filter", &filter, "-o", "pid,name",
        ],
        0,
    )?;
    let row = format!("{} {}", c.pid(), exe.name);
    check!(
        r.out
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == row),
        "no row {row:?}\n{}",
        r.show()
    );
    corral_code(&["top", "--batch", "-i", "0"], 2)?;
    Ok(Pass)
}

fn system_json() -> TestResult {
    let r = corral_code(&["system", "--json", "--interval", "100ms"], 0)?;
    let v = r.json()?;
    let cpus = t!(corral::system::cpu_times_sample()).per_cpu.len();
    check!(
        v["cpu_count"] == cpus,
        "cpu_count {} vs {cpus}",
        v["cpu_count"]
    );
    check!(v["interval"] == 0.1, "{}", v["interval"]);
    let mem = t!(corral::system::virtual_memory());
    check!(
        v["virtual_memory"]["total"] == mem.total,
        "{}",
        v["virtual_memory"]
    );
    let boot = t!(corral::system::boot_time())
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs_f64();
    let got = v["boot_time"].as_f64().unwrap_or(0.0);
    let close = (got - boot).abs() < 2.0;
    check!(close, "boot_time {got} vs {boot}");
    check!(
        v["uptime"].as_f64().is_some_and(|x| x > 0.0),
        "{}",
        v["uptime"]
    );
    check!(v["pid_count"].as_u64() > Some(2), "{}", v["pid_count"]);
    // The load average where the OS has one, else the library's error, by kind.
    match corral::system::load_average() {
        Ok(_) => check!(
            v["load_average"]["one"].is_number(),
            "{}",
            v["load_average"]
        ),
        Err(e) => check!(
            v["load_average"]["error"] == e.kind().as_str(),
            "{} vs {e}",
            v["load_average"]
        ),
    }
    let r = corral_code(&["system"], 0)?;
    for label in ["Memory", "Uptime", "Processes"] {
        check!(
            r.out.lines().any(|l| l.starts_with(label)),
            "no {label} line\n{}",
            r.show()
        );
    }
    Ok(Pass)
}

fn topology_json() -> TestResult {
    let v = corral_code(&["topology", "--json"], 0)?.json()?;
    let t = t!(corral::system::topology());
    check!(
        v["logical_cpus"] == t.logical_cpus(),
        "{}",
        v["logical_cpus"]
    );
    check!(
        v["physical_cores"] == t.physical_cores(),
        "{}",
        v["physical_cores"]
    );
    check!(t.logical_cpus() >= 1);
    let caches = v["caches"].as_array().map_or(0, Vec::len);
    check!(
        caches == t.caches.len(),
        "{caches} caches vs {}",
        t.caches.len()
    );
    Ok(Pass)
}

/// The size of `path`, 0 while it does not exist.
fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Whether `path` grows beyond `from` within 10 s.
fn grows(path: &Path, from: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while size_of(path) <= from && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    size_of(path) > from
}

/// Whether `path` stays at its size for 300 ms (after 100 ms for a write under way).
fn holds(path: &Path) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(100));
    let held = size_of(path);
    std::thread::sleep(Duration::from_millis(300));
    match size_of(path) {
        n if n == held => Ok(()),
        n => Err(format!("{path:?} grew from {held} to {n}")),
    }
}

fn kill_tree() -> TestResult {
    let exe = named_exe("kt")?;
    let mut c = spawn(&exe.path, "tree:2", &[])?;
    let t0 = Instant::now();
    let kids = loop {
        let kids = t!(c.process().children());
        if kids.len() >= 2 {
            break kids;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            return Err(format!("{} of 2 grandchildren after 20 s", kids.len()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever happens below, no grandchild outlives the test.
    struct KillAll(Vec<Process>);
    impl Drop for KillAll {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = p.kill();
            }
        }
    }
    let kids = KillAll(kids);
    let pid = c.pid().to_string();
    let r = corral_code(&["kill", "--tree", "--wait", "--json", &pid], 0)?;
    let mut got: Vec<(u64, String)> = json_lines(&r)?
        .iter()
        .map(|v| {
            (
                v["pid"].as_u64().unwrap_or(0),
                v["result"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort_unstable();
    let mut want: Vec<(u64, String)> = kids
        .0
        .iter()
        .map(|k| k.pid())
        .chain([c.pid()])
        .map(|p| (p.as_raw() as u64, "signalled".to_string()))
        .collect();
    want.sort_unstable();
    check!(got == want, "{got:?}, expected {want:?}\n{}", r.show());
    for k in &kids.0 {
        check!(!k.is_running(), "grandchild {} still runs", k.pid());
    }
    let st = t!(c.wait());
    check!(st == ended_by(Signal::Term), "{st:?}");
    Ok(Pass)
}

fn suspend_resume() -> TestResult {
    let ticks = scratch().join("sr-ticks");
    let c = spawn(&me(), &format!("tick:{}", ticks.display()), &[])?;
    check!(grows(&ticks, 0), "the child never wrote to {ticks:?}");
    let pid = c.pid().to_string();
    let r = corral_code(&["suspend", &pid], 0)?;
    check!(r.out.is_empty() && r.err.is_empty(), "{}", r.show());
    holds(&ticks)?;
    corral_code(&["resume", &pid], 0)?;
    check!(
        grows(&ticks, size_of(&ticks)),
        "the resumed child does not write"
    );
    let missing = missing_pid()?.to_string();
    let r = corral_code(&["suspend", &missing], 1)?;
    check!(r.err.contains("no such process"), "{}", r.show());
    corral_code(&["resume", "0"], 2)?;
    drop(c);
    let _ = std::fs::remove_file(&ticks);
    Ok(Pass)
}

fn nice_priority_class() -> TestResult {
    let c = spawn(&me(), "sleep:60000", &[])?;
    let pid = c.pid().to_string();
    let r = corral_code(&["nice", "--class", "below-normal", "--json", &pid], 0)?;
    let v = r.json()?;
    check!(v["pid"] == c.pid().as_raw(), "{v}");
    check!(v["class"] == "below-normal", "{}", r.show());
    let class = t!(c.process().priority_class());
    check!(class == corral::PriorityClass::BelowNormal, "{class:?}");
    corral_code(&["nice", "--class", "no-such-class", &pid], 2)?;
    Ok(Pass)
}

fn threads_json() -> TestResult {
    let c = spawn(&me(), "sleep:60000", &[])?;
    let pid = c.pid().to_string();
    let r = corral_code(&["threads", &pid, "--json"], 0)?;
    let mut got: Vec<u64> = json_lines(&r)?
        .iter()
        .filter_map(|v| v["tid"].as_u64())
        .collect();
    got.sort_unstable();
    let mut want: Vec<u64> = t!(c.process().threads())
        .iter()
        .map(|t| t.tid.as_raw() as u64)
        .collect();
    want.sort_unstable();
    check!(!got.is_empty() && got == want, "{got:?} vs {want:?}");
    Ok(Pass)
}

fn main() {
    if let Some(mode) = std::env::var_os(CHILD_VAR) {
        child_main(&mode.to_string_lossy());
    }
    if let Some(v) = wine() {
        println!("running under Wine {v}");
    }
    let tests: &[Test] = &[
        ("ps_json_lists_child", ps_json_lists_child),
        ("run_timeout_and_events", run_timeout_and_events),
        (
            "job_events_follows_a_named_job",
            job_events_follows_a_named_job,
        ),
        ("affinity_show_and_set", affinity_show_and_set),
        ("trim_and_background", trim_and_background),
        ("ionice_show_and_set", ionice_show_and_set),
        ("find_by_name", find_by_name),
        ("kill_by_name", kill_by_name),
        ("kill_bad_input", kill_bad_input),
        ("kill_by_port", kill_by_port),
        ("info_json_fields", info_json_fields),
        ("tree_shows_child", tree_shows_child),
        ("kill_tree", kill_tree),
        ("suspend_resume", suspend_resume),
        ("nice_priority_class", nice_priority_class),
        ("threads_json", threads_json),
        ("run_passes_exit_code", run_passes_exit_code),
        ("run_with_limits_and_stats", run_with_limits_and_stats),
        ("limit_set_or_refused", limit_set_or_refused),
        (
            "job_run_list_show_freeze_kill",
            job_run_list_show_freeze_kill,
        ),
        ("top_batch_json", top_batch_json),
        ("system_json", system_json),
        ("topology_json", topology_json),
    ];
    // Each copy of this binary is removed at the end of its test, the directory when the
    // runner returns (it exits at once after a failure: what a failed run left, under
    // Wine's reused pids, goes at the start of the next).
    let _ = std::fs::remove_dir_all(scratch());
    run("portable_cli", tests);
    let _ = std::fs::remove_dir_all(scratch());
}
