//! The `corral` binary, run for real against testbin children.
//!
//! testbin is built by the `integration` package: run these with `cargo test --workspace`.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::process::{Command, Output, Stdio};

mod common;
use common::{corral_output as corral, stderr, stdout};

use integration::{unique_comm, TestProc};
use serde_json::Value;

/// Waits until the child is asleep (just after its ready line it may still be running).
fn asleep(pid: u32) {
    assert!(integration::wait_until(
        std::time::Duration::from_secs(10),
        || integration::read_stat(pid).is_some_and(|s| s.state == 'S')
    ));
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
        .collect()
}

#[test]
fn ps_lists_a_child_by_exact_name_with_json() {
    let name = unique_comm("cps");
    let t = TestProc::spawn(&["--comm", &name, "--threads", "2"]);
    asleep(t.pid());
    let o = corral(&[
        "ps",
        "--name",
        &name,
        "-o",
        "pid,ppid,name,threads,state,rss,cmd",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["pid"], t.pid());
    assert_eq!(r["ppid"], std::process::id());
    assert_eq!(r["name"], name.as_str());
    assert_eq!(r["threads"], 3);
    assert_eq!(r["state"], "S");
    assert!(r["rss"].as_u64().unwrap() > 0);
    assert!(r["cmd"].as_str().unwrap().contains("testbin"));
}

#[test]
fn ps_table_has_header_and_fits_width() {
    let name = unique_comm("cpw");
    let long_arg = "x".repeat(500);
    let _t = TestProc::spawn(&["--comm", &name, "--", &long_arg]);
    let o = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["ps", "--name", &name])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("    PID") || lines[0].trim_start().starts_with("PID"),
        "{out}"
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{out}");
    let o = corral(&["ps", "--name", &name, "--no-header", "-w"]);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1);
    assert!(out.contains(&long_arg), "-w does not truncate");
}

#[test]
fn ps_sort_descending_and_filters() {
    let name = unique_comm("cso");
    let small = TestProc::spawn(&["--comm", &name]);
    let big = TestProc::spawn(&["--comm", &name, "--alloc-mb", "32"]);
    let o = corral(&[
        "ps", "--name", &name, "-o", "pid,rss", "--sort", "-rss", "--json",
    ]);
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["pid"], big.pid());
    assert_eq!(rows[1]["pid"], small.pid());
    // Substring, regex and parent selectors.
    let o = corral(&["ps", "--contains", &name[2..], "-o", "pid", "--json"]);
    assert_eq!(json_lines(&o).len(), 2);
    let o = corral(&["ps", "--regex", &format!("^{name}$"), "-o", "pid", "--json"]);
    assert_eq!(json_lines(&o).len(), 2);
    let me = std::process::id().to_string();
    let o = corral(&[
        "ps", "--parent", &me, "--name", &name, "-o", "pid", "--json",
    ]);
    assert_eq!(json_lines(&o).len(), 2);
    let o = corral(&[
        "ps",
        "--pid",
        &format!("{},{}", small.pid(), big.pid()),
        "-o",
        "pid",
        "--json",
    ]);
    assert_eq!(json_lines(&o).len(), 2);
}

#[test]
fn ps_tree_shows_children_under_parent() {
    let name = unique_comm("ctr");
    let t = TestProc::spawn(&["--comm", &name, "--children", "2"]);
    let o = corral(&["ps", "--tree", "-o", "pid,name", "--json"]);
    let rows = json_lines(&o);
    let at = rows.iter().position(|r| r["pid"] == t.pid()).unwrap();
    let d = rows[at]["depth"].as_u64().unwrap();
    for (k, kid) in t.list("children").iter().enumerate() {
        assert_eq!(
            rows[at + 1 + k]["pid"],
            *kid,
            "children follow their parent"
        );
        assert_eq!(rows[at + 1 + k]["depth"], d + 1);
    }
    let o = corral(&["tree", &t.pid().to_string()]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!("{name} ({})", t.pid())),
        "{out}"
    );
    assert!(
        lines[1].starts_with("├─ ") && lines[2].starts_with("└─ "),
        "{out}"
    );
    let o = corral(&["tree", &t.pid().to_string(), "--json"]);
    let v = json_lines(&o);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["children"].as_array().unwrap().len(), 2);
}

#[test]
fn info_human_and_json() {
    let t = TestProc::spawn(&["--listen-tcp"]);
    asleep(t.pid());
    let pid = t.pid().to_string();
    let o = corral(&["info", &pid, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["pid"], t.pid());
    assert_eq!(v["ppid"], std::process::id());
    assert_eq!(v["status"], "sleeping");
    assert!(v["cmdline"][0].as_str().unwrap().ends_with("testbin"));
    let port: u64 = t.info("tcp_port").unwrap().parse().unwrap();
    let conns = v["connections"].as_array().unwrap();
    assert!(
        conns.iter().any(|c| c["status"] == "LISTEN"
            && c["local"].as_str().unwrap().ends_with(&format!(":{port}"))),
        "{conns:?}"
    );
    assert!(v["rlimits"]["nofile"]["soft"].is_u64());
    let o = corral(&["info", &pid]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("name ") && l.contains("testbin")),
        "{out}"
    );
    // PID:INODE works when the kernel has pidfs.
    if let Some(inode) = v["pidfs_inode"].as_u64() {
        let o = corral(&["info", &format!("{pid}:{inode}"), "--json"]);
        assert!(o.status.success());
        let o = corral(&["info", &format!("{pid}:{}", inode + 1)]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
}

#[test]
fn bad_input_has_clear_errors_and_exit_codes() {
    for (args, code, needle) in [
        (vec!["info", "0"], 2, "0 is not a process"),
        (vec!["info", "-1"], 2, ""),
        (vec!["info", "abc"], 2, "not a number"),
        (vec!["info", "99999999999"], 2, "too large"),
        (vec!["info", "4194303"], 1, "no such process"),
        (vec!["ps", "-o", "pid,bogus"], 2, "unknown column \"bogus\""),
        (vec!["ps", "--sort", "nope"], 2, "unknown column"),
        (vec!["ps", "--regex", "("], 2, "bad regular expression"),
        (
            vec!["ps", "--pattern", "[z-a]"],
            2,
            "bad regular expression",
        ),
        (vec!["ps", "--pid", "0"], 2, "0 is not a process"),
        (
            vec!["ps", "--user", "no-such-user-corral"],
            2,
            "no user named",
        ),
        (vec!["ps", "--name", "no-such-process-corral-xyz"], 1, ""),
        (vec!["tree", "4194303"], 1, "no process"),
        (vec!["frobnicate"], 2, ""),
    ] {
        let o = corral(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
}

#[test]
fn broken_pipe_is_success() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["ps", "-o", "pid,cmd", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once: every write fails with EPIPE.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn json_reports_field_errors_per_field() {
    // As an unprivileged user, another user's environ is denied but the row stays.
    integration::require_root!();
    let (uid, gid) = integration::nobody_ids();
    let o = {
        use std::os::unix::process::CommandExt;
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["ps", "--pid", "1", "-o", "pid,name,cwd", "--json"])
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap()
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["pid"], 1);
    assert!(rows[0]["name"].is_string());
    assert_eq!(rows[0]["cwd"]["error"], "access_denied", "{:?}", rows[0]);
}
