//! `corral top`, run for real: the full screen driven in a real terminal (tmux with
//! send-keys and capture-pane), and batch mode checked as data.
//!
//! Each test starts its own tmux server on a unique socket (`-L`) and kills only that
//! server. The only process signalled is the test's own `testbin` child.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use integration::{unique_comm, unique_name, wait_until, TestProc};
use serde_json::Value;

const CORRAL: &str = env!("CARGO_BIN_EXE_corral");

fn corral(args: &[&str]) -> Output {
    Command::new(CORRAL)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run corral")
}

/// A tmux server of our own (unique socket name), killed on drop.
struct Tmux {
    sock: String,
}

impl Tmux {
    /// Starts a server with one 100×30 pane running a plain shell with a known prompt;
    /// `None` (test skipped with a printed reason) when tmux is missing outside CI.
    fn start() -> Option<Tmux> {
        Tmux::start_sized(100, 30)
    }

    fn start_sized(cols: u16, rows: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "tmux is missing: .ci/run installs it"
            );
            eprintln!("SKIPPED: tmux is not installed");
            return None;
        }
        let t = Tmux {
            sock: unique_name("corraltop"),
        };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "top",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
                "env",
                "-i",
                &format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
                "TERM=xterm-256color",
                "PS1=corral-test-prompt$ ",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status
            .success();
        assert!(ok, "tmux new-session failed");
        assert!(
            t.wait_for(|s| s.contains("corral-test-prompt$"), 20),
            "the shell prompt never showed:\n{}",
            t.capture()
        );
        Some(t)
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .env_remove("TMUX")
            .arg("-L")
            .arg(&self.sock)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// Sends keys by tmux name (`Enter`, `Escape`, `F9`) or literal text with `-l`.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "send-keys {keys:?}");
    }

    fn text(&self, text: &str) {
        assert!(self
            .cmd(&["send-keys", "-t", "top", "-l", text])
            .status
            .success());
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    fn wait_for(&self, mut cond: impl FnMut(&str) -> bool, secs: u64) -> bool {
        wait_until(Duration::from_secs(secs), || cond(&self.capture()))
    }

    /// Waits for `what` on screen, failing with the screen's content.
    fn expect(&self, what: &str, secs: u64) {
        assert!(
            self.wait_for(|s| s.contains(what), secs),
            "{what:?} never showed; screen:\n{}",
            self.capture()
        );
    }

    fn alternate_on(&self) -> bool {
        String::from_utf8_lossy(
            &self
                .cmd(&["display-message", "-p", "-t", "top", "#{alternate_on}"])
                .stdout,
        )
        .trim()
            == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The table rows on screen: lines whose first word is a number (a pid).
fn table_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
        .collect()
}

/// A filter for exactly this name (a regex, which corral's own command line, holding
/// the pattern, does not match).
fn exact(name: &str) -> String {
    format!("~^{name}$")
}

fn start_top(t: &Tmux, extra: &str) {
    start_top_env(t, "", extra);
}

/// Every SGR parameter (`ESC [ p;p m`) in a styled capture.
fn sgr_params(s: &str) -> Vec<u32> {
    s.split("\x1b[")
        .skip(1)
        .filter_map(|seq| seq.split_once('m'))
        .filter(|(p, _)| p.chars().all(|c| c.is_ascii_digit() || c == ';'))
        .flat_map(|(p, _)| {
            p.split(';')
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn start_top_env(t: &Tmux, env: &str, extra: &str) {
    t.text(&format!("{env} {CORRAL} top -d 0.5 {extra}"));
    t.keys(&["Enter"]);
    t.expect("F10Quit", 30);
}

#[test]
fn full_screen_filter_sort_views_signal_and_quit() {
    let Some(t) = Tmux::start() else { return };
    let name = unique_comm("ctop");
    let mut child = TestProc::spawn(&["--comm", &name]);
    let pid = child.pid().to_string();
    start_top(&t, "");
    assert!(t.alternate_on(), "top runs in the alternate screen");

    // Filter as you type: only the child is left.
    t.keys(&["\\"]);
    t.text(&name);
    t.expect(&format!("Filter: {name}_"), 20);
    t.keys(&["Enter"]);
    assert!(
        t.wait_for(
            |s| {
                let rows = table_rows(s);
                rows.len() == 1 && rows[0].split_whitespace().next() == Some(pid.as_str())
            },
            10
        ),
        "the filter should leave only pid {pid}:\n{}",
        t.capture()
    );
    assert!(t.capture().contains(&format!("Filter: {name}")));

    // Sort: next column (%MEM, descending), then inverted.
    t.expect("Sort: %CPU▼", 20);
    t.keys(&[">"]);
    t.expect("Sort: %MEM▼", 20);
    t.keys(&["I"]);
    t.expect("Sort: %MEM▲", 20);

    // Views: tree, jobs (cgroups), threads, back to the list.
    t.keys(&["t"]);
    t.expect("View: tree", 20);
    t.keys(&["J"]);
    t.expect("View: jobs", 20);
    t.expect("CGROUP", 20);
    // Enter on the (only) job row lists its processes: the filter becomes cgroup:PATH
    // (the child's cgroup may hold many processes: the child need not be on screen).
    t.keys(&["Enter"]);
    t.expect("Filter: cgroup:/", 20);
    t.expect("View: processes", 20);
    assert!(
        t.wait_for(|s| !table_rows(s).is_empty(), 20),
        "{}",
        t.capture()
    );
    // Back to the child alone.
    t.keys(&["\\"]);
    t.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["\\"]);
    t.text(&name);
    t.keys(&["Enter"]);
    t.expect(&format!("Filter: {name}"), 20);
    t.keys(&["H"]);
    t.expect("View: threads", 20);
    t.keys(&["H"]);
    t.expect("View: processes", 20);
    assert!(
        t.wait_for(|s| table_rows(s).len() == 1, 20),
        "{}",
        t.capture()
    );

    // Help opens and closes.
    t.keys(&["?"]);
    t.expect("corral top — keys", 20);
    t.keys(&["Enter"]);
    assert!(t.wait_for(|s| !s.contains("corral top — keys"), 20));

    // Nice +1 (F8), suspend (s) and continue (c) through the UI.
    let p = corral::Process::open(corral::Pid::new(child.pid()).unwrap()).unwrap();
    let n0 = p.nice().unwrap();
    let n1 = (n0 + 1).min(19);
    t.keys(&["F8"]);
    t.expect(&format!("{pid} ({name}): nice {n0} -> {n1}"), 20);
    assert_eq!(p.nice().unwrap(), n1);
    let state = || integration::read_stat(child.pid()).map(|s| s.state);
    t.keys(&["s"]);
    t.expect(&format!("suspended {pid} ({name})"), 20);
    assert!(wait_until(Duration::from_secs(10), || state() == Some('T')));
    t.keys(&["c"]);
    t.expect(&format!("continued {pid} ({name})"), 20);
    assert!(wait_until(Duration::from_secs(10), || state() == Some('S')));

    // Signal menu: SIGUSR1 through the UI; the child dies of exactly that signal.
    t.keys(&["k"]);
    t.expect(&format!("Send signal to {pid} ({name})"), 20);
    t.text("USR1");
    t.keys(&["Enter"]);
    t.expect(&format!("sent SIGUSR1 to {pid} ({name})"), 20);
    let status = child.wait();
    assert_eq!(status.signal(), Some(10), "child status: {status:?}");

    // Quit: the shell is back and the alternate screen is left.
    t.keys(&["q"]);
    assert!(
        t.wait_for(
            |s| !s.contains("F10Quit") && s.contains("corral-test-prompt$"),
            10
        ),
        "the terminal was not restored:\n{}",
        t.capture()
    );
    assert!(!t.alternate_on(), "the alternate screen is still on");
}

#[test]
fn action_on_a_process_gone_since_it_was_drawn_is_refused() {
    let Some(t) = Tmux::start() else { return };
    let name = unique_comm("ctopgone");
    let mut child = TestProc::spawn(&["--comm", &name]);
    let pid = child.pid().to_string();
    // A regex on the name: corral's own command line does not match it.
    start_top(&t, &format!("--filter '~^{name}$'"));
    assert!(
        t.wait_for(|s| table_rows(s).len() == 1, 20),
        "{}",
        t.capture()
    );
    // The menu captures the identity drawn on screen; the process then exits.
    t.keys(&["k"]);
    t.expect(&format!("Send signal to {pid}"), 20);
    child.kill_all();
    t.keys(&["Enter"]);
    // Refused either way. In CI's fresh pid namespace the screen has also said "pid N is
    // another process now (reused since it was drawn)" here (seen under RUST_BACKTRACE=1,
    // cause not yet understood; the reuse case has its own test below): nothing was done.
    let exited = format!("{pid} ({name}) has exited: nothing done");
    let reused =
        format!("pid {pid} is another process now (reused since it was drawn): nothing done");
    assert!(
        t.wait_for(|s| s.contains(&exited) || s.contains(&reused), 20),
        "{exited:?} never showed; screen:\n{}",
        t.capture()
    );
    t.keys(&["F10"]);
    assert!(
        t.wait_for(
            |s| s.contains("corral-test-prompt$") && !s.contains("F10Quit"),
            10
        ),
        "{}",
        t.capture()
    );
}

#[test]
fn ancestors_need_a_confirmation() {
    let Some(t) = Tmux::start() else { return };
    // The pane's shell is corral's parent: protected like pid 1.
    let shell = String::from_utf8_lossy(
        &t.cmd(&["display-message", "-p", "-t", "top", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .to_string();
    start_top_env(&t, "NO_COLOR=1", &format!("--filter pid:{shell}"));
    assert!(
        t.wait_for(
            |s| {
                let rows = table_rows(s);
                rows.len() == 1 && rows[0].split_whitespace().next() == Some(shell.as_str())
            },
            10
        ),
        "{}",
        t.capture()
    );
    // NO_COLOR: bold and reverse video only, no colour (39/49 are "default colour").
    let styled = String::from_utf8_lossy(&t.cmd(&["capture-pane", "-p", "-e", "-t", "top"]).stdout)
        .into_owned();
    assert!(
        sgr_params(&styled).contains(&7),
        "the header is in reverse video"
    );
    let colours: Vec<u32> = sgr_params(&styled)
        .into_iter()
        .filter(|p| ((30..=49).contains(p) && *p != 39 && *p != 49) || (90..=107).contains(p))
        .collect();
    assert!(colours.is_empty(), "colours despite NO_COLOR: {colours:?}");
    t.keys(&["s"]);
    t.expect("is an ancestor of corral", 20);
    t.keys(&["n"]);
    t.expect("cancelled", 20);
    t.keys(&["q"]);
    assert!(
        t.wait_for(|s| !s.contains("F10Quit"), 20),
        "{}",
        t.capture()
    );
}

#[test]
fn batch_json_is_data() {
    let name = unique_comm("ctopb");
    let child = TestProc::spawn(&["--comm", &name]);
    let o = corral(&[
        "top",
        "--batch",
        "--iterations",
        "2",
        "--delay",
        "0.2",
        "--json",
        "--filter",
        &exact(&name),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    let objs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(objs.len(), 2, "{text}");
    for (n, v) in objs.iter().enumerate() {
        assert_eq!(v["iteration"], n as u64 + 1);
        assert!(v["memory"]["total"].as_u64().unwrap() > 0);
        assert!(v["tasks"]["total"].as_u64().unwrap() >= 1);
        assert!(v["uptime"].as_f64().unwrap() > 0.0);
        assert!(!v["cpu"]["per_cpu"].as_array().unwrap().is_empty());
        let procs = v["processes"].as_array().unwrap();
        assert_eq!(procs.len(), 1, "{v}");
        assert_eq!(procs[0]["pid"], child.pid());
        assert_eq!(procs[0]["name"], name.as_str());
        let cpu = procs[0]["cpu_percent"].as_f64().unwrap();
        assert!(
            (0.0..5.0).contains(&cpu),
            "a sleeping child uses no CPU: {cpu}"
        );
        assert!(procs[0]["rss"].as_u64().unwrap() > 0);
    }
}

#[test]
fn batch_text_sort_limit_and_views() {
    let name = unique_comm("ctopt");
    let child = TestProc::spawn(&["--comm", &name]);
    let o = corral(&[
        "top",
        "--batch",
        "-d",
        "0.1",
        "-o",
        "pid,name,rss",
        "--filter",
        &exact(&name),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("Tasks: "), "{text}");
    let row = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(child.pid().to_string().as_str()))
        .unwrap_or_else(|| panic!("no row for {}: {text}", child.pid()));
    assert!(row.contains(&name), "{row}");

    // --sort -rss -n 3: three rows, largest first.
    let o = corral(&[
        "top", "--batch", "-d", "0.1", "--json", "--sort", "-rss", "-n", "3",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rss: Vec<u64> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rss"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(rss.len(), 3);
    assert!(rss.windows(2).all(|w| w[0] >= w[1]), "{rss:?}");

    // Jobs view: the child's cgroup group counts it.
    let o = corral(&[
        "top",
        "--batch",
        "-d",
        "0.1",
        "--json",
        "--view",
        "jobs",
        "--filter",
        &exact(&name),
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{v}");
    assert_eq!(jobs[0]["processes"], 1);
    // cgroup:PATH lists that cgroup's processes, the child among them.
    let path = jobs[0]["cgroup"].as_str().unwrap();
    let o = corral(&[
        "top",
        "--batch",
        "-d",
        "0.1",
        "--json",
        "--filter",
        &format!("cgroup:{path}"),
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let pids: Vec<u64> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert!(pids.contains(&u64::from(child.pid())), "{pids:?}");
    let me = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid())).unwrap();
    assert!(me.lines().any(|l| l.ends_with(&format!(":{path}"))), "{me}");

    // Threads view: a two-thread child shows both threads.
    let name2 = unique_comm("ctopth");
    let threaded = TestProc::spawn(&["--comm", &name2, "--threads", "2"]);
    let o = corral(&[
        "top",
        "--batch",
        "-d",
        "0.1",
        "--json",
        "--view",
        "threads",
        "--filter",
        &exact(&name2),
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["processes"].as_array().unwrap();
    let tids: Vec<u64> = rows.iter().filter_map(|r| r["tid"].as_u64()).collect();
    assert_eq!(rows[0]["pid"], threaded.pid());
    assert!(tids.contains(&u64::from(threaded.pid())), "{v}");
    let task_count = std::fs::read_dir(format!("/proc/{}/task", threaded.pid()))
        .unwrap()
        .count();
    assert_eq!(tids.len(), task_count, "{v}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["top", "--batch", "--delay", "0"][..],
        &["top", "--batch", "--sort", "nosuch"],
        &["top", "--batch", "--view", "nosuch"],
        &["top", "--batch", "--filter", "~("],
        &["top", "--batch", "--iterations", "0"],
        &["top"], // no terminal
    ] {
        let o = corral(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stderr.is_empty());
    }
}

#[test]
fn sigterm_at_80x24_restores_the_terminal() {
    let Some(t) = Tmux::start_sized(80, 24) else {
        return;
    };
    start_top(&t, "");
    let screen = t.capture();
    assert_eq!(screen.lines().count(), 24, "{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");
    for what in ["PID", "%CPU", "COMMAND", "Mem[", "Tasks:", "Load:"] {
        assert!(screen.contains(what), "{what} missing at 80x24:\n{screen}");
    }
    // corral is the pane shell's child (started by this test's own tmux server).
    let shell: u32 = String::from_utf8_lossy(
        &t.cmd(&["display-message", "-p", "-t", "top", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .parse()
    .unwrap();
    let kids = integration::descendants_of(shell);
    assert_eq!(kids.len(), 1, "{kids:?}");
    let (pid, start) = kids[0];
    let p = corral::Process::open(corral::Pid::new(pid).unwrap()).unwrap();
    assert_eq!(
        p.start_time().unwrap().raw,
        start,
        "corral top is still that process"
    );
    p.send_signal(corral::Signal::Term).unwrap();
    assert!(
        t.wait_for(
            |s| s.contains("corral-test-prompt$") && !s.contains("F10Quit"),
            20
        ),
        "{}",
        t.capture()
    );
    assert!(!t.alternate_on(), "the alternate screen is still on");
}

#[test]
fn signal_menu_with_tab_signals_the_whole_tree() {
    let Some(t) = Tmux::start() else { return };
    let name = unique_comm("ctoptree");
    let mut parent = TestProc::spawn(&["--comm", &name, "--children", "2"]);
    let kids: Vec<(u32, u64)> = parent
        .list("descendants")
        .into_iter()
        .map(|p| (p, integration::start_time_of(p).expect("child running")))
        .collect();
    assert_eq!(kids.len(), 2, "{}", parent.ready_line());
    let pid = parent.pid().to_string();
    start_top(&t, &format!("--filter pid:{pid}"));
    assert!(
        t.wait_for(|s| table_rows(s).len() == 1, 20),
        "{}",
        t.capture()
    );
    t.keys(&["k"]);
    t.expect(&format!("Send signal to {pid} ({name})"), 20);
    t.keys(&["Tab"]);
    t.expect(&format!("Send signal to {pid} ({name}) + tree"), 20);
    t.keys(&["Enter"]);
    t.expect(
        &format!("sent SIGTERM to {pid} ({name}) and 2 descendants"),
        20,
    );
    assert_eq!(parent.wait().signal(), Some(15));
    for (p, st) in kids {
        assert!(
            wait_until(Duration::from_secs(10), || integration::is_dead(p, st)),
            "descendant {p} survived"
        );
    }
    t.keys(&["q"]);
    assert!(
        t.wait_for(|s| !s.contains("F10Quit"), 20),
        "{}",
        t.capture()
    );
}

#[test]
fn action_on_a_reused_pid_is_refused_and_the_newcomer_untouched() {
    integration::require_root!("steering a new process onto a pid writes ns_last_pid");
    let Some(t) = Tmux::start() else { return };
    let name = unique_comm("ctopreuse");
    let mut old = TestProc::spawn(&["--comm", &name]);
    let pid = old.pid();
    start_top(&t, &format!("--filter pid:{pid}"));
    assert!(
        t.wait_for(|s| table_rows(s).len() == 1, 20),
        "{}",
        t.capture()
    );
    // The menu holds the identity drawn; the process dies and its pid is handed out again.
    t.keys(&["k"]);
    t.expect(&format!("Send signal to {pid} ({name})"), 20);
    old.kill_all();
    let mut newcomer = None;
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1))
            .expect("write ns_last_pid");
        let n = TestProc::spawn(&["--comm", &unique_comm("ctopnew")]);
        if n.pid() == pid {
            newcomer = Some(n);
            break;
        }
    }
    let newcomer = newcomer.expect("could not steer a new process onto the old pid");
    t.keys(&["Enter"]);
    t.expect(
        &format!("pid {pid} is another process now (reused since it was drawn)"),
        20,
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !integration::is_dead(newcomer.pid(), newcomer.start_time()),
        "the process that reused the pid was signalled"
    );
    t.keys(&["q"]);
    assert!(
        t.wait_for(|s| !s.contains("F10Quit"), 20),
        "{}",
        t.capture()
    );
}

#[test]
fn batch_jobs_view_shows_a_corral_jobs_limits_and_usage() {
    integration::require_root!("creates cgroups");
    use std::io::{BufRead, BufReader};
    let name = unique_name("ctopj");
    let comm = unique_comm("ctopj");
    let mut run = Command::new(CORRAL)
        .args([
            "run",
            "--memory",
            "64M",
            "--max-procs",
            "20",
            "--job",
            &name,
            "--",
        ])
        .arg(integration::testbin_path())
        .args(["--comm", &comm, "--threads", "2", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run corral run");
    // testbin's first line: it is running in the job.
    let mut line = String::new();
    let mut out = BufReader::new(run.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    if line.is_empty() {
        let o = run.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        if err.contains("not supported") || err.contains("Unsupported") {
            integration::print_skip("no memory/pids limits for jobs here");
            return;
        }
        panic!("corral run failed: {err}");
    }
    let o = corral(&[
        "top",
        "--batch",
        "-d",
        "0.1",
        "--json",
        "--view",
        "jobs",
        "--filter",
        &exact(&comm),
    ]);
    // End the member (stdin EOF), then corral run removes the job.
    drop(run.stdin.take());
    let st = run.wait().unwrap();
    assert!(st.success(), "{st:?}");
    assert!(integration::cgroups::job_dirs(&name).is_empty());

    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{v}");
    let j = &jobs[0];
    assert_eq!(j["job"], name.as_str(), "{j}");
    assert_eq!(j["limits"]["memory"], 64u64 << 20, "{j}");
    assert_eq!(j["limits"]["pids"], 20, "{j}");
    // Main thread + 2 + the stdin watcher: the threads counted against the pids limit.
    assert_eq!(j["usage"]["pids"], 4, "{j}");
    assert_eq!(j["usage"]["pids"], j["threads"], "{j}");
    let mem = j["usage"]["memory"].as_u64().expect("memory in use");
    assert!(mem > 0 && mem < 64 << 20, "{j}");
    assert_eq!(j["usage"]["oom_kills"], 0, "{j}");
    assert_eq!(j["usage"]["process_limit_hits"], 0, "{j}");

    // The same in the text table; other cgroups show no limits.
    let o = corral(&["top", "--batch", "-d", "0.1", "--view", "jobs"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("MEM/MAX") && text.contains("PIDS/MAX"),
        "{text}"
    );
}
