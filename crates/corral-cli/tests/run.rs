//! `corral run`, `suspend`, `resume`, run for real.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

mod common;
use common::{corral_cmd as corral, run_testbin};

use integration::{read_stat, testbin_path, wait_until, TempDir};

#[test]
fn exit_codes_pass_through() {
    let st = corral()
        .args(["run", "--"])
        .arg(testbin_path())
        .args(["--exit", "7"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(7));
    let st = corral()
        .args(["run", "--shell", "kill -KILL $$"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(137));
    let o = corral()
        .args(["run", "--", "corral-no-such-program"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not found in PATH"));
}

#[test]
fn options_reach_the_child_and_termination_is_forwarded() {
    let dir = TempDir::new("corral-run");
    let (mut c, pid) = run_testbin(
        &[
            "--nice",
            "6",
            "--rlimit",
            "nofile=100:200",
            "--umask",
            "077",
            "--cwd",
            dir.path().to_str().unwrap(),
            "--env",
            "CORRAL_RUN=yes",
            "--new-group",
            "--affinity",
            "0",
            "--ionice",
            "best-effort:6",
        ],
        &["--print-env", "CORRAL_RUN"],
    );
    let p = corral::Process::open(corral::Pid::new(pid).unwrap()).unwrap();
    assert_eq!(p.nice().unwrap(), 6);
    assert_eq!(
        p.rlimit(corral::Resource::Nofile).unwrap(),
        corral::Rlimit {
            soft: Some(100),
            hard: Some(200)
        }
    );
    assert_eq!(p.cwd().unwrap(), dir.path());
    assert_eq!(p.cpu_affinity().unwrap(), vec![0]);
    assert_eq!(
        p.ionice().unwrap(),
        corral::IoPriority {
            class: corral::IoClass::BestEffort,
            level: 6
        }
    );
    assert_eq!(p.process_group().unwrap().pgid, pid);
    assert!(p
        .environ()
        .unwrap()
        .contains(&("CORRAL_RUN".into(), "yes".into())));
    // SIGTERM to corral reaches the program; corral exits as it did (128 + 15).
    let cp = corral::Process::open(corral::Pid::new(c.id()).unwrap()).unwrap();
    cp.terminate().unwrap();
    let st = c.wait().unwrap();
    assert_eq!(st.code(), Some(143));
    assert!(!p.is_running());
}

#[test]
fn suspended_then_resumed() {
    let dir = TempDir::new("corral-run-susp");
    let marker = dir.path().join("ran");
    let mut c = corral()
        .args(["run", "--suspended", "--"])
        .arg(testbin_path())
        .args(["--open-write", marker.to_str().unwrap(), "--exit", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("suspended"), "{line}");
    let pid: u32 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(wait_until(Duration::from_secs(5), || read_stat(pid)
        .is_some_and(|s| s.state == 'T')));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!marker.exists(), "ran while suspended");
    let token = line
        .split('(')
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_string();
    let o = corral().args(["resume", &token]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(c.wait().unwrap().success());
    assert!(marker.exists());
}

#[test]
fn suspend_and_resume_commands() {
    let t = integration::TestProc::spawn::<&str>(&[]);
    let pid = t.pid().to_string();
    assert!(corral().args(["suspend", &pid]).status().unwrap().success());
    assert!(wait_until(Duration::from_secs(5), || read_stat(t.pid())
        .is_some_and(|s| s.state == 'T')));
    assert!(corral().args(["resume", &pid]).status().unwrap().success());
    assert!(wait_until(Duration::from_secs(5), || read_stat(t.pid())
        .is_some_and(|s| s.state == 'S')));
    let o = corral().args(["resume", "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = corral().args(["resume", "4194303"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bad_input() {
    for (args, needle) in [
        (vec!["run"], "no program"),
        (
            vec!["run", "--nice", "40", "--", "true"],
            "outside -20..=19",
        ),
        (
            vec!["run", "--rlimit", "nofile=-5", "--", "true"],
            "bad value",
        ),
        (
            vec!["run", "--rlimit", "nofile=10:5", "--", "true"],
            "soft limit above hard",
        ),
        (
            vec!["run", "--rlimit", "bogus=1", "--", "true"],
            "unknown resource",
        ),
        (
            vec!["run", "--affinity", "3-1", "--", "true"],
            "bad CPU range",
        ),
        (vec!["run", "--affinity", "x", "--", "true"], "bad CPU list"),
        (
            vec!["run", "--ionice", "turbo", "--", "true"],
            "unknown class",
        ),
        (
            vec!["run", "--umask", "999", "--", "true"],
            "not an octal mask",
        ),
        (
            vec!["run", "--env", "=x", "--", "true"],
            "expected NAME=VALUE",
        ),
        (
            vec!["run", "--user", "corral-no-such-user", "--", "true"],
            "no user named",
        ),
        (
            vec!["run", "--group", "corral-no-such-group", "--", "true"],
            "no group named",
        ),
        (
            vec!["run", "--exec", "--suspended", "--", "true"],
            "cannot be combined",
        ),
        (vec!["run", "--shell", "true", "--", "true"], "not both"),
    ] {
        let o = corral().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let o = corral()
        .args(["run", "--cwd", "/no/such/dir", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("working directory /no/such/dir does not exist"));
}

#[test]
fn switching_user_without_privilege_is_a_clear_access_denied() {
    integration::require_root!("runs corral as nobody");
    use std::os::unix::process::CommandExt;
    let (uid, gid) = integration::nobody_ids();
    let o = corral()
        .args(["run", "--user", "root", "--", "true"])
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("access denied") && err.contains("could not set"),
        "{err}"
    );
}
