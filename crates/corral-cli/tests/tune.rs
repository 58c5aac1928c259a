//! `corral threads`, `ps --threads`, `ionice`, `limit`, `trim`, `background`, `affinity`
//! and `run --node`, run for real against testbin children and checked against /proc.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::process::{Command, Output, Stdio};

mod common;
use common::{corral_output as corral, stderr, stdout};

use integration::{unique_comm, TestProc};
use serde_json::Value;

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
        .collect()
}

fn tasks(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_str().unwrap().parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// A line of /proc/PID/task/TID/status, after its label.
fn task_status(pid: u32, tid: u32, label: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap()
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/task/TID/stat.
fn task_stat(pid: u32, tid: u32, n: usize) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
    s[s.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(n - 3)
        .unwrap()
        .to_string()
}

#[test]
fn threads_table_json_and_ps_rows() {
    let name = unique_comm("th");
    let t = TestProc::spawn(&["--comm", &name, "--threads", "2"]);
    let pid = t.pid().to_string();
    let o = corral(&["threads", &pid]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.trim_start().starts_with("TID NAME"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("worker-1"));
    let v = json_lines(&corral(&["threads", &pid, "--json"]));
    let tids: Vec<u32> = v
        .iter()
        .map(|x| x["tid"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(tids, tasks(t.pid()));
    assert!(v
        .iter()
        .all(|x| x["pid"] == t.pid() && x["policy"] == "normal"));
    assert_eq!(v[0]["name"], name.as_str());
    let v = json_lines(&corral(&["ps", "--threads", "--name", &name, "--json"]));
    assert_eq!(v.len(), 3);
    assert!(v
        .iter()
        .all(|x| x["process"] == name.as_str() && x["pid"] == t.pid()));
    let o = corral(&["ps", "--threads", "--name", &name]);
    assert_eq!(stdout(&o).lines().count(), 4);
    assert!(stdout(&o).trim_start().starts_with("PID PROCESS"));
    assert_eq!(
        corral(&["ps", "--threads", "--tree"]).status.code(),
        Some(2)
    );
    assert_eq!(corral(&["threads", "4194304"]).status.code(), Some(1));
    assert_eq!(corral(&["threads", "abc"]).status.code(), Some(2));
}

#[test]
fn ionice_and_limit_by_name() {
    let name = unique_comm("io");
    let t = TestProc::spawn(&["--comm", &name, "--threads", "1"]);
    let o = corral(&[
        "ionice",
        "--name",
        &name,
        "--class",
        "best-effort:6",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_lines(&o);
    assert_eq!(v[0]["ionice"]["class"], "best-effort");
    assert_eq!(v[0]["ionice"]["level"], 6);
    // Independently: ioprio_get(IOPRIO_WHO_PROCESS, pid) is (2 << 13) | 6.
    let o = corral(&["ionice", &t.pid().to_string()]);
    assert_eq!(
        stdout(&o).trim(),
        format!("{} ({name}): I/O priority best-effort:6", t.pid())
    );
    for (args, code) in [
        (vec!["ionice", "--name", &name, "--class", "turbo"], 2),
        (
            vec!["ionice", "--name", &name, "--class", "idle", "--level", "9"],
            2,
        ),
        (vec!["ionice", "--name", &name, "--level", "3"], 2),
    ] {
        assert_eq!(corral(&args).status.code(), Some(code), "{args:?}");
    }

    let o = corral(&["limit", &t.pid().to_string(), "nofile=128:256", "core=0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", t.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&f[3..5], ["128", "256"], "{line}");
    let v = json_lines(&corral(&["limit", "--name", &name, "--json"]));
    assert_eq!(v[0]["limits"].as_object().unwrap().len(), 16);
    assert_eq!(v[0]["limits"]["nofile"]["soft"], 128);
    assert_eq!(v[0]["limits"]["core"]["hard"], 0);
    let o = corral(&["limit", &t.pid().to_string(), "bogus=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown resource \"bogus\""),
        "{}",
        stderr(&o)
    );
    let o = corral(&["limit", &t.pid().to_string(), "nofile=10:5"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn affinity_by_cpus_and_node_and_bad_cpus() {
    let name = unique_comm("af");
    let t = TestProc::spawn(&["--comm", &name, "--threads", "2"]);
    let pid = t.pid().to_string();
    let o = corral(&["affinity", "--name", &name, "--cpus", "0", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["cpus"], serde_json::json!([0]));
    for tid in tasks(t.pid()) {
        assert_eq!(task_status(t.pid(), tid, "Cpus_allowed_list:"), "0");
    }
    if let Ok(node0) = std::fs::read_to_string("/sys/devices/system/node/node0/cpulist") {
        let o = corral(&["affinity", &pid, "--node", "0"]);
        assert!(o.status.success(), "{}", stderr(&o));
        for tid in tasks(t.pid()) {
            assert_eq!(
                task_status(t.pid(), tid, "Cpus_allowed_list:"),
                node0.trim()
            );
        }
    }
    for (args, msg) in [
        (vec!["affinity", &pid, "--cpus", "4096"], "does not exist"),
        (vec!["affinity", &pid, "--cpus", ""], "bad CPU list"),
        (vec!["affinity", &pid, "--cpus", "3-1"], "bad CPU range"),
        (
            vec!["affinity", &pid, "--node", "4242"],
            "no NUMA node 4242",
        ),
        (
            vec!["affinity", &pid, "--cpus", "0", "--node", "0"],
            "cannot be used",
        ),
    ] {
        let o = corral(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
    // Reading works without a change.
    let o = corral(&["affinity", &pid]);
    assert!(stdout(&o).contains("CPUs "), "{}", stdout(&o));
}

#[test]
fn background_on_and_off() {
    integration::require_root!("ending background mode lowers nice back to 0");
    let name = unique_comm("bg");
    let t = TestProc::spawn(&["--comm", &name, "--threads", "2"]);
    let o = corral(&["background", "--name", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("background mode on (3 threads"),
        "{}",
        stdout(&o)
    );
    for tid in tasks(t.pid()) {
        assert_eq!(task_stat(t.pid(), tid, 41), "5", "SCHED_IDLE");
        assert_eq!(task_stat(t.pid(), tid, 19), "19");
    }
    let o = corral(&["ionice", &t.pid().to_string()]);
    assert!(stdout(&o).contains("I/O priority idle"), "{}", stdout(&o));
    let o = corral(&["background", "--off", &t.pid().to_string(), "--json"]);
    assert_eq!(json_lines(&o)[0]["background"], false);
    for tid in tasks(t.pid()) {
        assert_eq!(task_stat(t.pid(), tid, 41), "0");
        assert_eq!(task_stat(t.pid(), tid, 19), "0");
    }
}

#[test]
fn trim_reports_what_went() {
    integration::require_root!("process_madvise on another process needs CAP_SYS_NICE");
    let dir = integration::TempDir::new("ctrim");
    let path = dir.path().join("blob");
    {
        let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
        std::fs::write(&path, data).unwrap();
        std::fs::File::open(&path).unwrap().sync_all().unwrap();
    }
    let t = TestProc::spawn(&["--map-file".as_ref(), path.as_os_str()]);
    let o = corral(&["trim", &t.pid().to_string(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    let out = v["paged_out"].as_u64().unwrap();
    assert!(out >= 6 << 20, "most of the 8 MiB file: {v}");
    assert_eq!(
        v["rss_before"].as_u64().unwrap() - v["rss_after"].as_u64().unwrap(),
        out
    );
}

#[test]
fn run_on_a_numa_node() {
    use std::io::{BufRead, BufReader};
    let o = corral(&["run", "--node", "77", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no NUMA node 77"), "{}", stderr(&o));
    let Ok(node0) = std::fs::read_to_string("/sys/devices/system/node/node0/cpulist") else {
        eprintln!("no NUMA information on this machine: only the error was checked");
        return;
    };
    let mut c = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["run", "--node", "0", "--"])
        .arg(integration::testbin_path())
        .args(["--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("pid="))
        .unwrap_or_else(|| panic!("no ready line: {line:?}"))
        .parse()
        .unwrap();
    let cpus = task_status(pid, pid, "Cpus_allowed_list:");
    drop(c.stdin.take()); // testbin exits on EOF
    assert!(c.wait().unwrap().success());
    assert_eq!(cpus, node0.trim());
}

#[test]
fn one_thread_set_from_the_command_line() {
    let t = TestProc::spawn(&["--threads", "2"]);
    let other = TestProc::spawn(&[] as &[&str]);
    let pid = t.pid().to_string();
    let w = t.list("tids")[1];
    let tid = w.to_string();
    let o = corral(&[
        "threads",
        &pid,
        "--tid",
        &tid,
        "--priority",
        "lowest",
        "--cpus",
        "0",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_lines(&o);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["priority"], "lowest");
    assert_eq!(
        task_stat(t.pid(), w, 19),
        "4",
        "Lowest in the Normal class is nice 4"
    );
    assert_eq!(task_status(t.pid(), w, "Cpus_allowed_list:"), "0");
    assert_eq!(
        task_stat(t.pid(), t.list("tids")[0], 19),
        "0",
        "other worker untouched"
    );
    let o = corral(&["threads", &pid, "--tid", &tid, "--policy", "batch"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(task_stat(t.pid(), w, 41), "3");
    let main_io = ioprio(t.pid());
    let o = corral(&[
        "threads",
        &pid,
        "--tid",
        &tid,
        "--ioclass",
        "best-effort:7",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_lines(&o);
    assert_eq!(v[0]["ionice"]["class"], "best-effort", "{}", v[0]);
    assert_eq!(v[0]["ionice"]["level"], 7, "{}", v[0]);
    assert_eq!(ioprio(w), (2, 7));
    assert_eq!(ioprio(t.pid()), main_io, "main thread untouched");
    let not_ours = other.pid().to_string();
    for (args, code, msg) in [
        (
            vec!["threads", &pid, "--tid", &not_ours, "--nice", "3"],
            1,
            "no thread",
        ),
        (
            vec!["threads", &pid, "--tid", &tid, "--priority", "ultra"],
            2,
            "unknown thread priority",
        ),
        (
            vec!["threads", &pid, "--tid", &tid, "--policy", "fifo"],
            2,
            "needs :PRIO",
        ),
        (
            vec!["threads", &pid, "--tid", &tid, "--policy", "rr:0"],
            2,
            "1..=99",
        ),
        (
            vec!["threads", &pid, "--tid", &tid, "--cpus", "4096"],
            2,
            "does not exist",
        ),
        (vec!["threads", &pid, "--priority", "idle"], 2, "--tid"),
        (
            vec!["threads", &pid, "--tid", &tid, "--ioclass", "turbo"],
            2,
            "unknown class",
        ),
        (vec!["threads", &pid, "--ioclass", "idle"], 2, "--tid"),
    ] {
        let o = corral(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn time_critical_as_nobody_is_access_denied() {
    integration::require_root!("runs corral as an unprivileged uid");
    use std::os::unix::process::CommandExt;
    let (uid, gid) = integration::nobody_ids();
    let t = TestProc::builder()
        .args(["--threads", "1"])
        .uid(uid)
        .gid(gid)
        .spawn();
    let w = t.list("tids")[0];
    for (flag, value) in [("--priority", "time-critical"), ("--policy", "fifo:1")] {
        let o = Command::new(env!("CARGO_BIN_EXE_corral"))
            .args([
                "threads",
                &t.pid().to_string(),
                "--tid",
                &w.to_string(),
                flag,
                value,
            ])
            .uid(uid)
            .gid(gid)
            .current_dir("/")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{flag}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("access denied"),
            "{flag}: {}",
            stderr(&o)
        );
    }
    assert_eq!(task_stat(t.pid(), w, 41), "0", "unchanged");
    assert_eq!(task_stat(t.pid(), w, 19), "0", "unchanged");
}

#[test]
fn trim_a_whole_job() {
    use std::io::{BufRead, BufReader};
    integration::require_root!("jobs and trimming another process need root");
    let dir = integration::TempDir::new("cjobtrim");
    let path = dir.path().join("blob");
    {
        let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 241) as u8).collect();
        std::fs::write(&path, data).unwrap();
        std::fs::File::open(&path).unwrap().sync_all().unwrap();
    }
    let name = integration::unique_name("trim");
    let mut c = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["run", "--job", &name, "--"])
        .arg(integration::testbin_path())
        .args(["--exit-on-stdin-eof", "--map-file"])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    let o = corral(&["trim", "--job", &name, "--json"]);
    let bad = corral(&["trim", "--job", &name, "1"]);
    drop(c.stdin.take());
    let st = c.wait().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["job"], name.as_str(), "{v}");
    assert!(
        v["paged_out"].as_u64().unwrap() >= 6 << 20,
        "most of 8 MiB: {v}"
    );
    if v["reclaimed"] == false {
        assert_eq!(v["members"], 1, "{v}");
    }
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--job"), "{}", stderr(&bad));
    assert!(st.success(), "{st:?}");
    let none = corral(&["trim", "--job", &integration::unique_name("nojob")]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(stderr(&none).contains("no job named"), "{}", stderr(&none));
}

/// The I/O priority class and level of a task, by an `ioprio_get` of our own.
fn ioprio(tid: u32) -> (u32, u32) {
    // SAFETY: ioprio_get takes two integers.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, 1 as libc::c_long, tid as libc::c_long) };
    assert!(r >= 0, "ioprio_get: {}", std::io::Error::last_os_error());
    ((r as u32) >> 13, (r as u32) & 7)
}

#[test]
fn nice_and_ionice_a_whole_group() {
    // Its own process group (setpgid), with two children in it: only ours are touched.
    let t = TestProc::spawn(&["--setpgid", "--children", "2"]);
    let pgid = integration::read_stat(t.pid()).unwrap().pgrp;
    assert_eq!(pgid, t.pid());
    let members = [t.pid(), t.list("children")[0], t.list("children")[1]];
    let g = pgid.to_string();
    let o = corral(&["nice", "--whole-group", &g, "--nice", "7", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["pgid"], pgid, "{v}");
    assert_eq!(v["nice"], 7, "{v}");
    for m in members {
        assert_eq!(task_stat(m, m, 19), "7", "member {m}");
    }
    let o = corral(&["nice", "--whole-group", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), format!("group {pgid}: nice 7"));
    let o = corral(&["ionice", "--whole-group", &g, "--class", "best-effort:6"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!("group {pgid}: I/O priority best-effort:6")
    );
    for m in members {
        assert_eq!(ioprio(m), (2, 6), "member {m}");
    }
    // Bad input: group 0 (the caller's own to the kernel), --class with a whole group,
    // pids beside it, both at once.
    for (args, want) in [
        (vec!["nice", "--whole-group", "0", "--nice", "5"], "group"),
        (
            vec!["ionice", "--whole-group", "0", "--class", "idle"],
            "group",
        ),
        (
            vec!["nice", "--whole-group", &g, "--class", "idle"],
            "--class",
        ),
        (
            vec!["nice", "--whole-group", &g, "--nice", "5", &g],
            "no pids",
        ),
        (
            vec![
                "nice",
                "--whole-group",
                &g,
                "--whole-user",
                "1",
                "--nice",
                "5",
            ],
            "--whole",
        ),
        (
            vec!["nice", "--whole-user", "no-such-user-xq", "--nice", "5"],
            "no user",
        ),
    ] {
        let o = corral(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    for m in members {
        assert_eq!(
            task_stat(m, m, 19),
            "7",
            "unchanged by the refused calls: {m}"
        );
    }
}

#[test]
fn nice_and_ionice_a_whole_user() {
    integration::require_root!("runs a process as a private uid");
    // A user of our own, so no one else's processes are touched: a uid far above any
    // allocated range that no process has.
    let uid = 2_000_000_000 + std::process::id() + 7;
    let taken = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .is_some_and(|u| u.split_whitespace().any(|x| x == uid.to_string()))
        })
    });
    assert!(!taken, "uid {uid} is in use; cannot run this test safely");
    let u = TestProc::builder().uid(uid).gid(uid).spawn();
    let s = uid.to_string();
    let o = corral(&["nice", "--whole-user", &s, "--nice", "12", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["uid"], uid, "{v}");
    assert_eq!(v["nice"], 12, "{v}");
    assert_eq!(task_stat(u.pid(), u.pid(), 19), "12");
    let o = corral(&["ionice", "--whole-user", &s, "--class", "idle", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["ionice"]["class"], "idle", "{v}");
    assert_eq!(ioprio(u.pid()).0, 3);
    drop(u);
    // No process of that user left: nothing matched (exit 1).
    assert!(integration::wait_until(
        std::time::Duration::from_secs(5),
        || corral(&["nice", "--whole-user", &s]).status.code() == Some(1)
    ));
}
