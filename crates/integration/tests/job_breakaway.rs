//! Breakaway (`JobLimits::breakaway_ok` + `Command::breakaway_from_job`): a member of a job
//! spawns a child outside it, checked from outside through `/proc/PID/cgroup`, the job's
//! member list and the job's cgroup directories.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use corral::{Command, ErrorKind, Job, JobLimits, Pid, Process};
use integration::cgroups::{job_dirs, JobGuard};
use integration::{descendants_of, kill_if_same, testbin_path, unique_name, wait_for_exit};

/// `/proc/PID/cgroup` as (hierarchy id, controllers, path) lines.
fn cgroups(pid: &str) -> Vec<(String, String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            Some((
                it.next()?.to_owned(),
                it.next()?.to_owned(),
                it.next()?.to_owned(),
            ))
        })
        .collect()
}

/// Runs `breakaway_spawner` inside `job`; returns the process and its report line.
fn run_spawner(job: &Job) -> (corral::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_breakaway_spawner"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .job(job)
        .spawn()
        .expect("spawn breakaway_spawner into the job");
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Ends the spawner (closing its stdin makes it kill and reap its testbin) and checks both
/// are gone.
fn finish(mut spawner: corral::Child, grandchild: Option<(u32, u64)>) {
    drop(spawner.take_stdin());
    let st = spawner.wait().expect("wait for spawner");
    assert_eq!(st.code(), Some(0), "spawner ended with {st:?}");
    if let Some((pid, start)) = grandchild {
        if !wait_for_exit(pid, start, Duration::from_secs(5)) {
            kill_if_same(pid, start);
            panic!("the breakaway child {pid} outlived its parent's clean-up");
        }
    }
}

fn xattr(dir: &std::path::Path) -> Option<Vec<u8>> {
    let mut buf = [0u8; 16];
    rustix::fs::getxattr(dir, "user.corral.breakaway_ok", &mut buf[..])
        .ok()
        .map(|n| buf[..n].to_vec())
}

#[test]
fn breakaway_child_starts_outside_the_job() {
    integration::require_root!("creates cgroups");
    let name = unique_name("brk");
    let job = match Job::create_with_limits(Some(&name), &JobLimits::new().breakaway_ok(true)) {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            integration::print_skip(&format!("breakaway unsupported here: {e}"));
            return;
        }
        r => JobGuard::new(r.expect("create job allowing breakaway")),
    };
    // Kept by the OS (the cgroups' extended attribute): every handle and every member sees it.
    assert!(job.limits().unwrap().breakaway_ok);
    let dirs = job_dirs(&name);
    assert!(!dirs.is_empty());
    for d in &dirs {
        assert_eq!(xattr(d).as_deref(), Some(&b"1"[..]), "{}", d.display());
    }

    let (spawner, line) = run_spawner(&job);
    assert!(line.starts_with("spawned "), "spawner said {line:?}");
    let pid: u32 = field(&line, "pid").unwrap().parse().unwrap();
    let start: u64 = field(&line, "start").unwrap().parse().unwrap();
    let spid = spawner.pid().as_raw().to_string();
    // (Opened only now: dropping a handle of an empty job removes the job.)
    assert!(Job::open(&name).unwrap().limits().unwrap().breakaway_ok);

    // The spawner is in the job; its child is where the job was created: in the test
    // process's own cgroup, in every hierarchy where the spawner is in the job.
    let ours = cgroups("self");
    let spawner_cg = cgroups(&spid);
    let child_cg = cgroups(&pid.to_string());
    let job_dir = format!("corral-{name}");
    let mut checked = 0;
    for (id, ctl, path) in &spawner_cg {
        if path.rsplit('/').next() != Some(job_dir.as_str()) {
            continue;
        }
        checked += 1;
        let mine = ours.iter().find(|(i, c, _)| i == id && c == ctl).unwrap();
        let theirs = child_cg.iter().find(|(i, c, _)| i == id && c == ctl);
        assert_eq!(
            theirs.map(|t| &t.2),
            Some(&mine.2),
            "hierarchy {id}:{ctl}: the child is not in the job's parent cgroup {:?}",
            mine.2
        );
    }
    assert_eq!(checked, dirs.len(), "spawner cgroups {spawner_cg:?}");
    assert!(
        !child_cg.iter().any(|(_, _, p)| p.contains(&job_dir)),
        "child cgroups {child_cg:?}"
    );
    // The job sees the spawner, not the child.
    let members: Vec<u32> = job
        .processes()
        .unwrap()
        .iter()
        .map(|p| p.pid().as_raw())
        .collect();
    assert!(members.contains(&spawner.pid().as_raw()), "{members:?}");
    assert!(
        !members.contains(&pid),
        "{members:?} includes the breakaway child"
    );
    let child = Process::open(Pid::new(pid).unwrap()).unwrap();
    assert!(!job.contains(&child).unwrap());
    assert_eq!(Job::of(&child).unwrap(), None);

    finish(spawner, Some((pid, start)));
}

#[test]
fn breakaway_is_refused_when_the_job_does_not_allow_it() {
    integration::require_root!("creates cgroups");
    let name = unique_name("brk");
    let mut job = JobGuard::new(Job::create(Some(&name)).expect("create job"));
    assert!(!job.limits().unwrap().breakaway_ok);
    let (spawner, line) = run_spawner(&job);
    assert!(line.starts_with("failed "), "spawner said {line:?}");
    assert_eq!(field(&line, "kind"), Some("AccessDenied"), "{line}");
    assert!(line.contains(&name), "the error names the job: {line}");
    assert_eq!(field(&line, "children"), Some("0"), "{line}");
    let spid = spawner.pid().as_raw();
    assert!(descendants_of(spid).is_empty());
    finish(spawner, None);

    // Allowed, then forbidden again: set_limits always sets the flag (Windows LimitFlags).
    match job.set_limits(&JobLimits::new().breakaway_ok(true)) {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            integration::print_skip(&format!("breakaway unsupported here: {e}"));
            return;
        }
        r => r.expect("allow breakaway"),
    }
    assert!(job.limits().unwrap().breakaway_ok);
    job.set_limits(&JobLimits::new().max_processes(100))
        .expect("set another limit");
    assert!(!job.limits().unwrap().breakaway_ok);
    for d in job_dirs(&name) {
        assert_eq!(xattr(&d), None, "{}", d.display());
    }
    let (spawner, line) = run_spawner(&job);
    assert_eq!(field(&line, "kind"), Some("AccessDenied"), "{line}");
    finish(spawner, None);
}

#[test]
fn breakaway_and_job_together_are_refused() {
    integration::require_root!("creates cgroups");
    let job = JobGuard::new(Job::create(Some(&unique_name("brk"))).expect("create job"));
    let e = Command::new(testbin_path())
        .job(&job)
        .breakaway_from_job(true)
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(job.is_empty().unwrap());
}

#[test]
fn breakaway_outside_any_job_does_nothing() {
    let me = Process::current().unwrap();
    if Job::of(&me).unwrap().is_some() {
        integration::print_skip("this test process runs inside a corral job");
        return;
    }
    let mut child = Command::new(testbin_path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .breakaway_from_job(true)
        .spawn()
        .expect("breakaway outside a job is a plain spawn");
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    assert_eq!(
        cgroups(&child.pid().as_raw().to_string()),
        cgroups("self"),
        "the child stays in the caller's cgroups"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::io::stdout().flush();
}
