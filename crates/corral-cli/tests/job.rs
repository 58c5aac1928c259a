//! `corral run` with job limits and `corral job …`, run for real (root: cgroups).
//! Every test checks that its job's cgroups are gone afterwards.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::process::{Child, Output, Stdio};
use std::time::Duration;

mod common;
use common::{corral_cmd as corral, run_testbin, stderr};

use integration::cgroups::job_dirs as dirs_of;
use integration::{testbin_path, unique_name, wait_until};
use serde_json::Value;

fn assert_gone(name: &str) {
    // `corral run` has exited: its job must be gone already.
    let left = dirs_of(name);
    assert!(left.is_empty(), "job {name} left cgroups: {left:?}");
}

/// `corral run --job NAME ARGS -- testbin TESTBIN_ARGS`, to the end; its job is gone.
fn run_job(name: &str, args: &[&str], testbin_args: &[&str]) -> Output {
    let o = run_job_keep(name, args, testbin_args);
    assert_gone(name);
    o
}

/// As [`run_job`], without checking the job's cgroups afterwards.
fn run_job_keep(name: &str, args: &[&str], testbin_args: &[&str]) -> Output {
    corral()
        .args(["run", "--job", name])
        .args(args)
        .arg("--")
        .arg(testbin_path())
        .args(testbin_args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Whether `pid` is a live testbin (not gone, not a zombie waiting for its new parent,
/// not a reused pid).
fn alive(pid: u32) -> bool {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = st.rfind(')') else {
        return false;
    };
    let comm = &st[st.find('(').unwrap_or(0) + 1..close];
    let state = st[close + 2..].chars().next();
    (comm == "testbin" || comm == "exe") && state != Some('Z') && state != Some('X')
}

/// The `--stats --json` object: the last line of stderr.
fn stats(o: &Output) -> Value {
    let s = stderr(o);
    let line = s.lines().last().unwrap_or_else(|| panic!("no stats: {s}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn bad_input_exits_2_and_creates_nothing() {
    let name = unique_name("bad");
    for args in [
        vec!["--memory", "12XB"],
        vec!["--memory", "-5"],
        vec!["--memory", "0"],
        vec!["--process-memory", "0"],
        vec!["--max-procs", "0"],
        vec!["--max-procs", "-5"],
        vec!["--cpu-time", "0"],
        vec!["--cpu-time", "-5"],
        vec!["--cpu-time", "soon"],
        vec!["--cpu-rate", "0%"],
        vec!["--cpu-rate", "150%"],
        vec!["--cpus", "0"],
        vec!["--cpus", "-5"],
        vec!["--cpus", "100000"],
        vec!["--timeout", "0"],
        vec!["--cpus", "1", "--cpu-rate", "50%"],
    ] {
        let o = run_job(&name, &args, &["--exit", "0"]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(args[0]), "{args:?}: {}", stderr(&o));
    }
    for bad in ["a/b", "..", ".", "", "x y"] {
        let o = corral()
            .args(["run", "--job", bad, "--"])
            .arg(testbin_path())
            .args(["--exit", "0"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--job"), "{}", stderr(&o));
    }
    for sub in ["show", "kill", "freeze", "thaw"] {
        for n in [name.as_str(), "../x", "a/b"] {
            let o = corral().args(["job", sub, n]).output().unwrap();
            assert_eq!(o.status.code(), Some(2), "job {sub} {n}: {}", stderr(&o));
            assert!(!stderr(&o).is_empty());
        }
    }
    assert_gone(&name);
}

#[test]
fn memory_hog_exits_122_and_reports_the_oom_kill() {
    integration::require_root!("creates cgroups");
    let name = unique_name("mem");
    let o = run_job(
        &name,
        &["--memory", "64M", "--stats", "--json"],
        &["--alloc-mb", "256"],
    );
    assert_eq!(o.status.code(), Some(122), "{}", stderr(&o));
    assert!(stderr(&o).contains("--memory 64M"), "{}", stderr(&o));
    let s = stats(&o);
    assert!(s["oom_kills"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["exit_code"], 122);
    assert_eq!(s["job"], name.as_str());
}

#[test]
fn cpu_time_ends_a_burner_near_two_seconds() {
    integration::require_root!("creates cgroups");
    let name = unique_name("cpu");
    let o = run_job(
        &name,
        &["--cpu-time", "2s", "--stats", "--json"],
        &["--burn-thread", "--burn"],
    );
    assert_eq!(o.status.code(), Some(123), "{}", stderr(&o));
    assert!(stderr(&o).contains("--cpu-time 2s"), "{}", stderr(&o));
    let s = stats(&o);
    let cpu = s["cpu_time"].as_f64().unwrap();
    assert!(
        (1.5..=4.0).contains(&cpu),
        "{cpu} s of CPU under --cpu-time 2s"
    );
    assert_eq!(s["cpu_time_limit_hit"], true);
    // The job got its limit when it was created, empty: the period is its whole life.
    assert_eq!(s["this_period_user_time"], s["user_time"]);
    assert_eq!(s["this_period_kernel_time"], s["kernel_time"]);
}

#[test]
fn timeout_kills_the_whole_job_daemons_included() {
    integration::require_root!("creates cgroups");
    let name = unique_name("to");
    // The program's child sleeps on; a daemon escapes its session; all die at 1 s.
    let o = run_job(
        &name,
        &["--timeout", "1s"],
        &[
            "--children",
            "1",
            "--child-args",
            "--setsid",
            "--end-child-args",
        ],
    );
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));
    assert!(stderr(&o).contains("--timeout 1s"), "{}", stderr(&o));
    let pids: Vec<u32> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .filter_map(|kv| kv.strip_prefix("descendants="))
        .flat_map(|v| {
            v.split(',')
                .map(|p| p.parse().unwrap())
                .collect::<Vec<u32>>()
        })
        .collect();
    assert_eq!(pids.len(), 1, "{}", String::from_utf8_lossy(&o.stdout));
    for p in pids {
        assert!(!alive(p), "{p} survived the timeout");
    }
}

#[test]
fn daemon_left_behind_is_killed_when_the_program_ends() {
    integration::require_root!("creates cgroups");
    let name = unique_name("dmn");
    let o = run_job(&name, &[], &["--daemonize"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("killed 1 process"), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let pid: u32 = out
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("pid="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(!alive(pid), "daemon {pid} survived");
}

#[test]
fn fork_bomb_is_contained_under_max_procs_50() {
    integration::require_root!("creates cgroups");
    let name = unique_name("fb");
    let o = run_job(
        &name,
        &["--max-procs", "50", "--stats", "--json"],
        &[
            "--fork-bomb-ms",
            "1000",
            "--fork-bomb-max",
            "5000",
            "--sleep-ms",
            "300",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("refused at --max-procs 50"),
        "{}",
        stderr(&o)
    );
    let s = stats(&o);
    assert!(s["process_limit_hits"].as_u64().unwrap() >= 1, "{s}");
}

/// CPU seconds per wall second of a burner running 2 s under `args`.
fn cores(args: &[&str], burners: usize) -> f64 {
    let name = unique_name("rate");
    let mut a = args.to_vec();
    a.extend(["--stats", "--json"]);
    let mut tb = vec!["--burn", "--sleep-ms", "2000"];
    let n = (burners - 1).to_string();
    if burners > 1 {
        tb.extend([
            "--children",
            &n,
            "--child-args",
            "--burn",
            "--sleep-ms",
            "2000",
            "--end-child-args",
        ]);
    }
    let o = run_job(&name, &a, &tb);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stats(&o)["cpu_time"].as_f64().unwrap() / 2.0
}

#[test]
fn cpus_quarter_holds_a_burner_near_a_quarter_core() {
    integration::require_root!("creates cgroups");
    let c = cores(&["--cpus", "0.25"], 1);
    assert!((0.12..=0.35).contains(&c), "{c} cores under --cpus 0.25");
}

#[test]
fn cpu_rate_quarter_holds_burners_near_a_quarter_of_the_machine() {
    integration::require_root!("creates cgroups");
    let n = std::thread::available_parallelism().unwrap().get();
    let share = cores(&["--cpu-rate", "25%"], n) / n as f64;
    assert!(
        (0.12..=0.35).contains(&share),
        "{share} of the machine under 25%"
    );
}

/// Starts `corral run --job NAME -- testbin ARGS` in the background; waits for ready.
fn background(name: &str, testbin_args: &[&str]) -> (Child, u32) {
    run_testbin(&["--job", name, "--memory", "100M"], testbin_args)
}

fn json_of(args: &[&str]) -> Value {
    let o = corral().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn state(pid: u32) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s[s.rfind(')').unwrap() + 2..].chars().next().unwrap()
}

#[test]
fn job_list_show_freeze_thaw_kill() {
    integration::require_root!("creates cgroups");
    let name = unique_name("cli");
    let (mut run, pid) = background(&name, &["--children", "1"]);
    let list = json_of(&["job", "list", "--json"]);
    let me = list
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} not in {list}"));
    assert_eq!(me["members"], 2);
    let human = corral().args(["job", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&human.stdout).contains(&name));
    let all = json_of(&["job", "list", "--all", "--json"]);
    let cg = all
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} not in {all}"))["cgroup"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cg.ends_with(&format!("/corral-{name}")), "{cg}");

    let show = json_of(&["job", "show", &name, "--json"]);
    assert_eq!(show["limits"]["memory"], 100u64 << 20, "{show}");
    let members: Vec<u64> = show["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pid"].as_u64().unwrap())
        .collect();
    assert!(members.contains(&u64::from(pid)), "{show}");
    assert_eq!(show["frozen"], false);
    let human = corral().args(["job", "show", &name]).output().unwrap();
    let h = String::from_utf8_lossy(&human.stdout);
    assert!(h.contains("memory:") && h.contains("100.0M"), "{h}");

    assert!(corral()
        .args(["job", "freeze", &name])
        .status()
        .unwrap()
        .success());
    assert_eq!(json_of(&["job", "show", &name, "--json"])["frozen"], true);
    assert!(corral()
        .args(["job", "thaw", &name])
        .status()
        .unwrap()
        .success());
    assert_eq!(json_of(&["job", "show", &name, "--json"])["frozen"], false);
    assert_ne!(state(pid), 'D');

    let o = corral().args(["job", "kill", &name]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let st = run.wait().unwrap();
    // SIGKILL: 128 + 9.
    assert_eq!(st.code(), Some(137));
    assert!(wait_until(Duration::from_secs(5), || dirs_of(&name).is_empty()));
    let o = corral().args(["job", "show", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn process_memory_makes_a_big_allocation_fail() {
    integration::require_root!("creates cgroups");
    let name = unique_name("pm");
    // Within the limit: runs.
    let o = run_job(&name, &["--process-memory", "100M"], &["--exit", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Beyond it: the allocation fails (Rust aborts: SIGABRT, 128 + 6), nothing is killed.
    let o = run_job(&name, &["--process-memory", "100M"], &["--alloc-mb", "200"]);
    assert_eq!(o.status.code(), Some(134), "{}", stderr(&o));
    assert!(stderr(&o).contains("memory allocation"), "{}", stderr(&o));
}

#[test]
fn failed_spawn_and_taken_name_leave_nothing() {
    integration::require_root!("creates cgroups");
    let name = unique_name("nf");
    let o = corral()
        .args([
            "run",
            "--job",
            &name,
            "--memory",
            "64M",
            "--",
            "corral-no-such-program",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_gone(&name);
    // A name in use is refused (exit 2) and the holder's job is untouched.
    let (mut holder, pid) = background(&name, &[]);
    let o = run_job_keep(&name, &[], &["--exit", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    assert!(alive(pid));
    assert!(!dirs_of(&name).is_empty());
    assert!(corral()
        .args(["job", "kill", &name])
        .status()
        .unwrap()
        .success());
    holder.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || dirs_of(&name).is_empty()));
}

#[test]
fn breakaway_daemon_survives_the_end_of_the_job() {
    integration::require_root!("creates cgroups");
    let name = unique_name("brk");
    let corral_bin = env!("CARGO_BIN_EXE_corral");
    // Inside the job: `corral run --breakaway -- testbin --daemonize`; the daemon starts
    // outside the job, so the outer run's end-of-job kill does not reach it.
    let o = run_job_keep(
        &name,
        &["--allow-breakaway"],
        &["--exit", "0", "--children", "0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_gone(&name);
    // The surviving daemon keeps its stdout and stderr open: files, not pipes to wait on.
    let tmp = integration::TempDir::new("brk");
    let (out_path, err_path) = (tmp.path().join("out"), tmp.path().join("err"));
    let st = corral()
        .args(["run", "--job", &name, "--allow-breakaway", "--", corral_bin])
        .args(["run", "--breakaway", "--"])
        .arg(testbin_path())
        .arg("--daemonize")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let daemon = out
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("pid="))
        .and_then(|v| v.parse::<u32>().ok());
    let daemon_start = daemon.and_then(integration::start_time_of);
    let daemon_cg = daemon
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/cgroup")).ok())
        .unwrap_or_default();
    let survived = match (daemon, daemon_start) {
        (Some(p), Some(s)) => integration::kill_if_same(p, s),
        _ => false,
    };
    assert!(st.success(), "{err}");
    assert_gone(&name);
    let pid = daemon.unwrap_or_else(|| panic!("no pid in {out:?}"));
    assert!(
        survived,
        "the breakaway daemon {pid} did not survive the job"
    );
    assert!(!daemon_cg.contains("corral-"), "{daemon_cg}");

    // Without --allow-breakaway the inner run is refused (exit 3, the job named).
    let o = corral()
        .args(["run", "--job", &name, "--", corral_bin])
        .args(["run", "--breakaway", "--"])
        .arg(testbin_path())
        .args(["--exit", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("does not allow breakaway") && e.contains(&name),
        "{e}"
    );
    assert_gone(&name);
}

#[test]
fn notify_memory_is_reported_as_an_event_and_kills_nothing() {
    integration::require_root!("creates cgroups");
    let name = unique_name("ntf");
    let o = run_job(
        &name,
        &["--events", "--json", "--notify-memory", "16M"],
        &["--alloc-mb", "32", "--sleep-ms", "300"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    let notes: Vec<Value> = e
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim_start_matches("corral: job: ")).ok())
        .filter(|v| v["event"] == "notification-limit")
        .collect();
    assert_eq!(notes.len(), 1, "{e}");
    assert_eq!(notes[0]["limit"], "job memory", "{e}");
    // Without --events there is nobody to tell: a usage error.
    let o = run_job(&name, &["--notify-memory", "16M"], &["--exit", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `corral run` as `nobody`, who may write no cgroup: the job is the process-group
/// fallback, said once on stderr; --cpu-time still holds and the job dies whole;
/// cgroup-only limits are refused by name.
#[test]
fn unprivileged_run_falls_back_to_a_process_group_job() {
    integration::require_root!("runs corral as nobody");
    use std::os::unix::process::CommandExt;
    let (uid, gid) = integration::nobody_ids();
    let name = unique_name("fbrun");
    let o = corral()
        .args([
            "run",
            "--job",
            &name,
            "--cpu-time",
            "1s",
            "--stats",
            "--json",
            "--",
        ])
        .arg(testbin_path())
        .args(["--burn", "--children", "1"])
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(123), "{err}");
    assert_eq!(err.matches("no writable cgroup").count(), 1, "{err}");
    assert!(err.contains("--cpu-time 1s"), "{err}");
    let v = stats(&o);
    assert_eq!(v["job"], name.as_str());
    // The program's own CPU time counts although it was reaped before the accounting.
    let used = v["cpu_time"].as_f64().unwrap();
    assert!((0.9..3.0).contains(&used), "{v}");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let field = |k: &str| -> Vec<u32> {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")[..]))
            .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
            .unwrap_or_default()
    };
    let mut pids = field("pid");
    pids.extend(field("children"));
    assert_eq!(pids.len(), 2, "{out}");
    for p in pids {
        assert!(
            wait_until(Duration::from_secs(5), || !alive(p)),
            "{p} survived"
        );
    }
    assert_gone(&name);

    let o = corral()
        .args(["run", "--memory", "64M", "--max-procs", "5", "--"])
        .arg(testbin_path())
        .args(["--exit", "0"])
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("job memory") && err.contains("active processes") && err.contains("cgroup"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "the program ran: {:?}", o.stdout);

    // --events alone: a plain fallback job (no kill-on-close there), whose leftover is
    // killed when the program ends, and reported.
    let o = corral()
        .args(["run", "--events", "--"])
        .arg(testbin_path())
        .args(["--children", "1", "--sleep-ms", "300"])
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let kid: u32 = out
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("children="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(err.matches("no writable cgroup").count(), 1, "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("abnormal-exit") && l.contains(&kid.to_string())),
        "{err}"
    );
    assert!(err.lines().any(|l| l.contains(" empty ")), "{err}");
    assert!(
        wait_until(Duration::from_secs(5), || !alive(kid)),
        "{kid} survived"
    );
}

/// A process inside a job opens it by name: `corral job show NAME` run by the program that
/// `corral run --job NAME` started lists itself among the members.
#[test]
fn job_show_from_inside_the_job() {
    integration::require_root!("creates cgroups");
    let name = unique_name("in");
    let o = corral()
        .args(["run", "--job", &name, "--", env!("CARGO_BIN_EXE_corral")])
        .args(["job", "show", &name, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], name.as_str(), "{v}");
    let members = v["members"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert!(!members.is_empty(), "{v}");
    assert_gone(&name);
}
