//! `corral find` and `corral kill`, run for real: each selector signals exactly the
//! processes the test spawned for it, and no decoy.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use integration::{is_dead, unique_comm, TestProc};
use serde_json::Value;

fn corral(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run corral")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dies(t: &TestProc) -> bool {
    integration::wait_until(Duration::from_secs(10), || is_dead(t.pid(), t.start_time()))
}

fn alive(t: &TestProc) -> bool {
    !is_dead(t.pid(), t.start_time())
}

/// Runs `corral kill ARGS` and checks it killed exactly `targets` and none of `decoys`.
fn kill_exactly(args: &[&str], targets: &[&TestProc], decoys: &[&TestProc]) {
    let mut full = vec!["kill", "--signal", "KILL"];
    full.extend_from_slice(args);
    let o = corral(&full);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}{}", out(&o), err(&o));
    for t in targets {
        assert!(dies(t), "{args:?}: target {} survived", t.pid());
    }
    for d in decoys {
        assert!(alive(d), "{args:?}: decoy {} was killed", d.pid());
    }
    assert_eq!(out(&o).lines().count(), targets.len(), "{}", out(&o));
}

#[test]
fn by_name_contains_regex_and_full() {
    let n = unique_comm("kn");
    let a = TestProc::spawn(&["--comm", &n]);
    let b = TestProc::spawn(&["--comm", &n]);
    let decoy = TestProc::spawn(&["--comm", &format!("{n}x")]);
    kill_exactly(&["--name", &n], &[&a, &b], &[&decoy]);

    let c = TestProc::spawn(&["--comm", &unique_comm("kc1")]);
    let d = TestProc::spawn(&["--comm", &unique_comm("kc2")]);
    let c_name = std::fs::read_to_string(format!("/proc/{}/comm", c.pid())).unwrap();
    let d_name = std::fs::read_to_string(format!("/proc/{}/comm", d.pid())).unwrap();
    let decoy2 = TestProc::spawn(&["--comm", &unique_comm("kc3")]);
    kill_exactly(
        &["--contains", c_name.trim(), "--contains", d_name.trim()],
        &[&c, &d],
        &[&decoy, &decoy2],
    );

    let r = unique_comm("kr");
    let e = TestProc::spawn(&["--comm", &r]);
    kill_exactly(&["--regex", &format!("^{r}$")], &[&e], &[&decoy, &decoy2]);

    let marker = unique_comm("full");
    let f = TestProc::spawn(&["--", "payload", &marker]);
    kill_exactly(
        &["--full", "--regex", &format!("payload {marker}$")],
        &[&f],
        &[&decoy, &decoy2],
    );
}

#[test]
fn by_user() {
    integration::require_root!();
    let (uid, gid) = integration::nobody_ids();
    let n = unique_comm("ku");
    let mine = TestProc::spawn(&["--comm", &n]);
    let theirs = TestProc::builder()
        .uid(uid)
        .gid(gid)
        .args(["--comm", &n])
        .spawn();
    kill_exactly(
        &["--name", &n, "--user", &uid.to_string()],
        &[&theirs],
        &[&mine],
    );
}

#[test]
fn by_age() {
    let n = unique_comm("ka");
    let old = TestProc::spawn(&["--comm", &n]);
    // 3 s apart, split at 1.5 s: the young one stays under it while corral starts even on
    // a loaded machine.
    std::thread::sleep(Duration::from_millis(3000));
    let young = TestProc::spawn(&["--comm", &n]);
    kill_exactly(
        &["--name", &n, "--older-than", "1500ms"],
        &[&old],
        &[&young],
    );
    drop(old); // reap it, or the next kill reports it as a zombie
    kill_exactly(&["--name", &n, "--younger-than", "1h"], &[&young], &[]);
}

#[test]
fn by_port_tcp_udp_ipv6() {
    let tcp = TestProc::spawn(&["--listen-tcp"]);
    let udp = TestProc::spawn(&["--udp"]);
    let tcp6 = TestProc::spawn(&["--listen-tcp6"]);
    let decoy = TestProc::spawn(&["--listen-tcp"]);
    let p = tcp.info("tcp_port").unwrap().to_string();
    let o = corral(&["find", "--port", &p]);
    assert_eq!(out(&o).trim(), tcp.pid().to_string(), "{}", err(&o));
    // The protocol must match: no UDP socket on that TCP port.
    let o = corral(&["find", "--port", &format!("{p}/udp")]);
    assert_eq!(o.status.code(), Some(1));
    kill_exactly(&["--port", &p], &[&tcp], &[&decoy, &udp]);
    let up = udp.info("udp_port").unwrap().to_string();
    kill_exactly(&["--port", &format!("{up}/udp")], &[&udp], &[&decoy]);
    let p6 = tcp6.info("tcp6_port").unwrap().to_string();
    kill_exactly(&["--port", &format!("{p6}/tcp")], &[&tcp6], &[&decoy]);
}

#[test]
fn by_parent_pgid_session_and_tree() {
    let fam = TestProc::spawn(&["--setsid", "--children", "2"]);
    let kids = fam.list("children");
    let decoy = TestProc::spawn(&["--children", "1"]);
    let o = corral(&["find", "--parent", &fam.pid().to_string()]);
    let mut found: Vec<u32> = out(&o).lines().map(|l| l.parse().unwrap()).collect();
    found.sort_unstable();
    let mut want = kids.clone();
    want.sort_unstable();
    assert_eq!(found, want);
    let o = corral(&["find", "--session", &fam.pid().to_string()]);
    assert_eq!(out(&o).lines().count(), 3, "{}", out(&o));
    let o = corral(&["find", "--pgid", &fam.pid().to_string(), "--count"]);
    assert_eq!(out(&o).trim(), "3");
    let o = corral(&[
        "kill",
        "--signal",
        "KILL",
        "--session",
        &fam.pid().to_string(),
        "--wait",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    for k in kids {
        assert!(integration::wait_until(
            Duration::from_secs(10),
            || is_dead(k, integration::start_time_of(k).unwrap_or(0))
        ));
    }
    assert!(dies(&fam));
    assert!(alive(&decoy));

    // --pgid alone signals the whole group at once, through its leader.
    let grp = TestProc::spawn(&["--setpgid", "--children", "2"]);
    let o = corral(&["kill", "--signal", "KILL", "--pgid", &grp.pid().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o).lines().count(), 3, "{}", out(&o));
    assert!(dies(&grp));
    for k in grp.list("children") {
        assert!(integration::wait_until(
            Duration::from_secs(10),
            || is_dead(k, integration::start_time_of(k).unwrap_or(0))
        ));
    }
    assert!(alive(&decoy));

    let tree = TestProc::spawn(&["--children", "2", "--depth", "2"]);
    let all = tree.list("descendants");
    let o = corral(&[
        "kill",
        "--tree",
        "--signal",
        "KILL",
        &tree.pid().to_string(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let lines: Vec<Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1 + all.len(), "{}", out(&o));
    assert!(dies(&tree));
    assert!(alive(&decoy));
}

#[test]
fn grace_dry_run_count_and_json() {
    let n = unique_comm("kg");
    let stubborn = TestProc::spawn(&["--comm", &n, "--ignore-term"]);
    let o = corral(&["kill", "--name", &n, "--dry-run"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("would send SIGTERM to"), "{}", out(&o));
    assert!(alive(&stubborn));
    let o = corral(&["kill", "--name", &n, "--count"]);
    assert_eq!(out(&o).trim(), "1");
    assert!(alive(&stubborn));
    let o = corral(&["kill", "--name", &n, "--grace", "300ms", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["pid"], stubborn.pid());
    assert_eq!(v["result"], "killed", "{v}");
    assert_eq!(v["exit"]["signal"], "KILL");
    assert!(dies(&stubborn));
}

#[test]
fn stale_pid_inode_signals_nothing() {
    let mut old = TestProc::builder()
        .stdin_piped()
        .arg("--exit-on-stdin-eof")
        .spawn();
    let o = corral(&["find", "--pid", &old.pid().to_string(), "--json"]);
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    let Some(r) = v["ref"]
        .as_str()
        .filter(|r| r.contains(':'))
        .map(str::to_string)
    else {
        eprintln!("SKIPPED (kernel without pidfs): stale_pid_inode_signals_nothing");
        return;
    };
    old.close_stdin();
    assert!(old.wait().success());
    let o = corral(&["kill", &r]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
}

#[test]
fn safety_and_bad_input() {
    for (args, code, needle) in [
        (vec!["kill"], 2, "no selector"),
        (
            vec!["kill", "--name", "x", "--signal", "BOGUS"],
            2,
            "unknown signal",
        ),
        (
            vec!["kill", "--name", "x", "--grace", "5parsecs"],
            2,
            "bad duration",
        ),
        (
            vec!["kill", "--name", "x", "--every", "0s"],
            2,
            "more than zero",
        ),
        (vec!["kill", "--port", "70000"], 2, "not a port number"),
        (vec!["kill", "--port", "80/sctp"], 2, "unknown protocol"),
        (vec!["kill", "--regex", "(("], 2, "bad regular expression"),
        (vec!["kill", "0"], 2, "0 is not a process"),
        (vec!["kill", "-1"], 2, ""),
        (vec!["kill", "--older-than", "-5m"], 2, ""),
        (vec!["kill", "1"], 1, "is pid 1"),
        (vec!["find", "--name", "no-such-process-corral"], 1, ""),
    ] {
        let o = corral(&args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}{}",
            out(&o),
            err(&o)
        );
        assert!(err(&o).contains(needle), "{args:?}: {}", err(&o));
        assert!(!err(&o).contains("panicked"), "{args:?}");
    }
    // A kernel thread, if this pid namespace shows any (a nested one does not).
    match visible_kernel_thread() {
        Some(k) => {
            let o = corral(&["kill", &k.to_string()]);
            assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
            assert!(err(&o).contains("kernel thread"), "{}", err(&o));
        }
        None => eprintln!("SKIPPED part (no kernel thread visible in this pid namespace): kill of a kernel thread"),
    }
    // corral never signals itself or its ancestors (here: the test process).
    let me = std::process::id().to_string();
    let o = corral(&["kill", "--dry-run", &me]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("ancestor of corral"), "{}", err(&o));
}

#[test]
fn interactive_asks_before_each() {
    use std::io::Write;
    let n = unique_comm("ki");
    let a = TestProc::spawn(&["--comm", &n]);
    let b = TestProc::spawn(&["--comm", &n]);
    let mut c = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["kill", "--signal", "KILL", "--interactive", "--name", &n])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Processes are asked about in pid order: yes to the first, no to the second.
    let (first, second) = if a.pid() < b.pid() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    c.stdin.take().unwrap().write_all(b"y\nn\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(err(&o).matches("? [y/N]").count(), 2, "{}", err(&o));
    assert!(dies(first));
    assert!(alive(second));
}

#[test]
fn every_repeats_the_selection() {
    let n = unique_comm("ke");
    let mut c = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["kill", "--signal", "KILL", "--every", "100ms", "--name", &n])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = corral::Process::open(corral::Pid::new(c.id()).unwrap()).unwrap();
    // Processes started after corral began are killed on a later round.
    for _ in 0..3 {
        let t = TestProc::spawn(&["--comm", &n]);
        assert!(dies(&t), "a later round did not kill {}", t.pid());
    }
    guard.kill().unwrap();
    c.wait().unwrap();
}

/// A kernel thread's pid, found independently of corral: `PF_KTHREAD` in `/proc/PID/stat`.
fn visible_kernel_thread() -> Option<u32> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')')? + 2..];
        // Fields after the comm: state(3) ppid pgrp session tty tpgid flags(9).
        let flags: u64 = after.split(' ').nth(6)?.parse().ok()?;
        if flags & PF_KTHREAD != 0 {
            return Some(pid);
        }
    }
    None
}
