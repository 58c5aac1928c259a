//! `corral run --events` and `corral job events NAME`, run for real (root: cgroups).
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

mod common;
use common::corral_cmd as corral;

use integration::cgroups::{job_dirs, leftovers};
use integration::{is_dead, start_time_of, testbin_path, unique_name, wait_until};
use serde_json::Value;

#[test]
fn run_events_reports_members_exit_codes_and_kills_leftovers() {
    integration::require_root!("creates cgroups");
    let c = corral()
        .args(["run", "--events", "--json", "--"])
        .arg(testbin_path())
        .args(["--children", "2", "--exit", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The temporary job's generated name starts with corral's pid.
    let tag = format!("corral-{}-", c.id());
    let o = c.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let out = String::from_utf8_lossy(&o.stdout);
    let main = integration::ready_field(&out, "pid")[0];
    let kids = integration::ready_field(&out, "children");
    assert_eq!(kids.len(), 2, "{out}");
    let evs: Vec<Value> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let of = |kind: &str, pid: u32| {
        evs.iter()
            .find(|e| e["event"] == kind && e["pid"] == pid)
            .unwrap_or_else(|| panic!("no {kind} for {pid}: {evs:?}"))
    };
    for p in std::iter::once(main).chain(kids.iter().copied()) {
        of("new-process", p);
    }
    assert_eq!(of("exit", main)["status"]["code"], 3);
    // The children were left running: killed with the job when corral ended.
    for &k in &kids {
        assert_eq!(of("abnormal-exit", k)["status"]["signal"], "KILL");
        assert!(start_time_of(k).is_none() || is_dead(k, start_time_of(k).unwrap()));
    }
    assert_eq!(evs.last().unwrap()["event"], "empty", "{evs:?}");
    // Every event has a time, in order.
    let times: Vec<f64> = evs.iter().map(|e| e["time"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(leftovers(&tag).is_empty(), "cgroups left behind");
}

#[test]
fn run_events_text_goes_to_stderr() {
    integration::require_root!("creates cgroups");
    let o = corral()
        .args(["run", "--events", "--"])
        .arg(testbin_path())
        .args(["--exit", "0"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with("corral: job: ")),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.contains("exited with code 0")),
        "{err}"
    );
    assert!(lines.last().unwrap().contains("empty"), "{err}");
}

#[test]
fn run_json_needs_events_and_exec_excludes_events() {
    let o = corral()
        .args(["run", "--json", "--"])
        .arg(testbin_path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = corral()
        .args(["run", "--exec", "--events", "--"])
        .arg(testbin_path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--events"));
}

/// Whether `pid` is blocked in `epoll_wait` (its watcher is set up).
fn in_epoll_wait(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("epoll"))
}

#[test]
fn job_events_follows_a_named_job_until_empty() {
    integration::require_root!("creates cgroups");
    let name = unique_name("je");
    let job = corral::Job::builder()
        .name(&name)
        .kill_on_close(true)
        .create()
        .unwrap();
    let mut member = corral::Command::new(testbin_path())
        .args(["--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .job(&job)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(member.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut cli = corral()
        .args(["job", "events", &name, "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let cli_pid = cli.id();
    assert!(wait_until(Duration::from_secs(10), || in_epoll_wait(
        cli_pid
    )));
    drop(member.take_stdin()); // the member exits 0
    let st = cli.wait().unwrap();
    assert!(st.success());
    let mut out = String::new();
    std::io::Read::read_to_string(cli.stdout.as_mut().unwrap(), &mut out).unwrap();
    let evs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(evs.len(), 2, "{out}");
    assert_eq!(evs[0]["event"], "exit");
    assert_eq!(evs[0]["pid"], member.pid().as_raw());
    assert_eq!(evs[0]["status"]["code"], 0);
    assert_eq!(evs[1]["event"], "empty");
    // The watcher did not remove the job it watched.
    assert!(!job_dirs(&name).is_empty());
    // Already empty: says so at once.
    let o = corral().args(["job", "events", &name]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("empty"));
    drop(member);
    drop(job);
    assert!(job_dirs(&name).is_empty());
}

#[test]
fn job_events_of_a_missing_job_or_bad_name() {
    let o = corral()
        .args(["job", "events", &unique_name("none")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no job named"));
    let o = corral().args(["job", "events", "a/b"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn run_events_with_a_memory_limit_reports_the_oom_kill() {
    integration::require_root!("creates cgroups");
    let o = corral()
        .args(["run", "--events", "--json", "--memory", "32M", "--"])
        .arg(testbin_path())
        .args(["--alloc-mb", "200"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("Unsupported") || err.contains("not supported") {
        integration::print_skip("no memory limit for jobs here");
        return;
    }
    assert_ne!(o.status.code(), Some(0), "{err}");
    let evs: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v.get("event").is_some())
        .collect();
    assert!(evs.iter().any(|e| e["event"] == "oom-kill"), "{err}");
    assert!(
        evs.iter()
            .any(|e| e["event"] == "abnormal-exit" && e["status"]["signal"] == "KILL"),
        "{err}"
    );
}

#[test]
fn run_events_with_a_cpu_time_limit_reports_it_before_the_kill() {
    integration::require_root!("creates cgroups");
    let o = corral()
        .args(["run", "--events", "--json", "--cpu-time", "1s", "--"])
        .arg(testbin_path())
        .args(["--burn-thread", "--burn"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    let main = integration::ready_field(&out, "pid")[0];
    let evs: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v.get("event").is_some())
        .collect();
    let at = |f: &dyn Fn(&Value) -> bool| evs.iter().position(f);
    let limit = at(&|e| e["event"] == "cpu-time-limit").unwrap_or_else(|| panic!("{err}"));
    let exit = at(&|e| e["event"] == "abnormal-exit" && e["pid"] == main)
        .unwrap_or_else(|| panic!("{err}"));
    assert!(limit < exit, "{err}");
    assert_eq!(evs.last().unwrap()["event"], "empty", "{err}");
    assert_eq!(o.status.code(), Some(123), "{err}");
}

/// `corral run --events` as `nobody` (no writable cgroup): its own job is a kill-on-close
/// process-group job, said once on stderr; the program's children are killed with it.
#[test]
fn run_events_without_a_cgroup_uses_a_kill_on_close_fallback_job() {
    integration::require_root!("runs corral as nobody");
    use std::os::unix::process::CommandExt;
    let (uid, gid) = integration::nobody_ids();
    let o = corral()
        .args(["run", "--events", "--"])
        .arg(testbin_path())
        .args(["--children", "2", "--exit", "4"])
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert_eq!(err.matches("no writable cgroup").count(), 1, "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    let kids = integration::ready_field(&out, "children");
    assert_eq!(kids.len(), 2, "{out}");
    for k in kids {
        assert!(
            wait_until(Duration::from_secs(5), || start_time_of(k)
                .is_none_or(|s| is_dead(k, s))),
            "{k} survived: {err}"
        );
    }
}

/// Nested jobs: an outer job with a 64 MiB limit (watched here) runs `corral run
/// --events` (an inner job below it, no limit of its own), whose member allocates
/// 200 MiB. The outer job's limit is hit and the inner job's member is OOM-killed: the
/// outer job reports `MemoryLimit`; the inner one reports the `oom-kill` of its member
/// but no `memory-limit` — its own limit was never hit (v1: the kernel signals an OOM to
/// the whole subtree and marks it `under_oom`; v2: `memory.events` counts the subtree).
#[test]
fn nested_job_reports_only_its_own_limit_hits() {
    integration::require_root!("creates cgroups");
    use corral::{Job, JobEvent, JobLimits};
    let limits = JobLimits::new().job_memory(64 << 20);
    let outer = match Job::create_with_limits(Some(&unique_name("outer")), &limits) {
        Ok(j) => integration::cgroups::JobGuard::new(j),
        Err(e) if e.kind() == corral::ErrorKind::Unsupported => {
            integration::print_skip(&format!("no job memory limit here: {e}"));
            return;
        }
        Err(e) => panic!("create the outer job: {e}"),
    };
    let mut events = outer.events().expect("watch the outer job");
    let mut inner = corral::Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["run", "--events", "--json", "--"])
        .arg(testbin_path())
        .args(["--alloc-mb", "200"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .job(&outer)
        .spawn()
        .expect("spawn corral into the outer job");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut inner.take_stderr().unwrap(), &mut err).unwrap();
    let st = inner.wait().unwrap();
    assert_ne!(st.code(), Some(0), "{err}");
    let inner_evs: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v.get("event").is_some())
        .collect();
    assert!(
        inner_evs.iter().any(|e| e["event"] == "oom-kill"),
        "inner: {err}"
    );
    assert!(
        !inner_evs.iter().any(|e| e["event"] == "memory-limit"),
        "inner: {err}"
    );
    let mut outer_evs = Vec::new();
    while let Some(e) = events
        .next_timeout(Some(Duration::from_secs(5)))
        .expect("outer events")
    {
        let done = e == JobEvent::JobEmpty;
        outer_evs.push(e);
        if done {
            break;
        }
    }
    assert!(
        outer_evs
            .iter()
            .any(|e| matches!(e, JobEvent::MemoryLimit { count } if *count >= 1)),
        "outer: {outer_evs:?}; inner: {err}"
    );
}
