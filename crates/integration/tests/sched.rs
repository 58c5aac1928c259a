//! Priority classes: every thread, at spawn, and refused without privilege.

use corral::{Command, ErrorKind, Pid, PriorityClass, Process};
use integration::{testbin_path, TestProc};

/// (policy, nice) of every thread, read from /proc independently.
fn threads_sched(pid: u32) -> Vec<(u32, i32)> {
    let mut v = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap();
        let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .collect();
        // Fields after the name: f[0] is field 3; nice is field 19, policy field 41.
        v.push((f[38].parse().unwrap(), f[16].parse().unwrap()));
    }
    v
}

#[test]
fn class_applies_to_every_thread_and_reads_back() {
    integration::require_root!("High and Realtime need CAP_SYS_NICE");
    let t = TestProc::spawn(&["--threads", "3"]);
    let p = Process::open(Pid::new(t.pid()).unwrap()).unwrap();
    for c in PriorityClass::ALL {
        p.set_priority_class(c).unwrap();
        assert_eq!(p.priority_class().unwrap(), c);
        let want = match c {
            PriorityClass::Idle => (5, 19),
            PriorityClass::Realtime => (2, 0),
            _ => (0, c.nice()),
        };
        for (policy, nice) in threads_sched(t.pid()) {
            assert_eq!(policy, want.0, "{c}");
            if c != PriorityClass::Realtime {
                assert_eq!(nice, want.1, "{c}");
            }
        }
    }
    p.set_priority_class(PriorityClass::Normal).unwrap();
    assert_eq!(threads_sched(t.pid()).len(), 4);
}

#[test]
fn spawn_in_a_class() {
    for (c, policy, nice) in [
        (PriorityClass::BelowNormal, 0, 10),
        (PriorityClass::Idle, 5, 19),
    ] {
        let mut child = Command::new(testbin_path())
            .priority_class(c)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let st = threads_sched(child.pid().as_raw());
        assert_eq!(st, vec![(policy, nice)], "{c}");
        assert_eq!(child.priority_class().unwrap(), c);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn raising_priority_without_privilege_is_access_denied() {
    integration::require_root!("runs corral as nobody");
    use std::os::unix::process::CommandExt;
    let (uid, gid) = integration::nobody_ids();
    let t = TestProc::builder().uid(uid).gid(gid).spawn();
    for class in ["realtime", "high"] {
        let o = std::process::Command::new(testbin_path().parent().unwrap().join("corral"))
            .args(["nice", "--class", class, &t.pid().to_string()])
            .uid(uid)
            .gid(gid)
            .current_dir("/")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{class}: {err}");
        assert!(err.contains("access denied"), "{class}: {err}");
    }
    // Lowering it is allowed, and what was refused changed nothing.
    let p = Process::open(Pid::new(t.pid()).unwrap()).unwrap();
    assert_eq!(p.priority_class().unwrap(), PriorityClass::Normal);
    p.set_priority_class(PriorityClass::BelowNormal).unwrap();
    let e = "turbo".parse::<PriorityClass>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn corral_nice_by_name_changes_every_thread() {
    let name = integration::unique_comm("cn");
    let t = TestProc::spawn(&["--comm", &name, "--threads", "2"]);
    let corral = testbin_path().parent().unwrap().join("corral");
    let o = std::process::Command::new(&corral)
        .args(["nice", "--name", &name, "--class", "below-normal"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(threads_sched(t.pid())
        .iter()
        .all(|&(p, n)| p == 0 && n == 10));
    let o = std::process::Command::new(&corral)
        .args(["nice", "--nice", "15", &t.pid().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        Process::open(Pid::new(t.pid()).unwrap())
            .unwrap()
            .nice()
            .unwrap(),
        15
    );
    for (args, code) in [
        (vec!["nice", "--name", &name], 2),
        (vec!["nice", "--class", "turbo", "--name", &name], 2),
        (vec!["nice", "--nice", "40", "--name", &name], 2),
        (vec!["nice", "--nice", "5"], 2),
    ] {
        let o = std::process::Command::new(&corral)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}");
    }
}
