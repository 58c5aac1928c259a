//! Nested jobs: a `job_owner` spawned into an outer job creates its own (inner) job,
//! which lands below the outer job's cgroups. As on Windows, a process in the inner job
//! is in the outer one too: listed by `processes()`, `contains()` says so, the outer
//! watcher reports its exit, and the outer `terminate` kills it — with `cgroup.kill` and
//! on the v1-only path (freeze, kill each listed member, thaw).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use corral::{Command, Job, JobEvent, Pid, Process};
use integration::cgroups::{job_dirs, own_dirs};
use integration::{is_dead, start_time_of};

/// `job_owner` run inside `outer` with `extra` arguments: the inner job's name and
/// members (pid, start).
fn owner_in(outer: &Job, extra: &[&str]) -> (corral::Child, String, Vec<(u32, u64)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_job_owner"))
        .args(["--members", "2", "--children", "1"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .job(outer)
        .spawn()
        .expect("spawn job_owner into the outer job");
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready "), "job_owner said {line:?}");
    let members = integration::ready_pid_starts(&line, "members");
    (child, integration::ready_word(&line, "job"), members)
}

/// Every `corral-NAME` cgroup directory below this process's cgroups, at any depth.
fn dirs_anywhere(name: &str) -> Vec<PathBuf> {
    fn walk(d: &Path, want: &str, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name() == want {
                out.push(e.path());
            } else if depth < 4 {
                walk(&e.path(), want, depth + 1, out);
            }
        }
    }
    let want = format!("corral-{name}");
    let mut out = Vec::new();
    for (_, _, d) in own_dirs() {
        walk(&d, &want, 0, &mut out);
    }
    out
}

/// When a check fails half-way: terminates the outer job, so that its last handle can
/// remove its cgroups (its members would keep them otherwise), and removes the inner
/// job's cgroups left beside it (the v1-only layout's v2 one) once empty.
struct CleanUpOnUnwind<'a> {
    outer: &'a Job,
    inner: std::cell::RefCell<Option<String>>,
}

impl Drop for CleanUpOnUnwind<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let _ = self.outer.terminate();
        if let Some(inner) = self.inner.borrow().as_deref() {
            for d in dirs_anywhere(inner) {
                // Its members were killed with the outer job; the kernel may take a
                // moment to let the cgroup go.
                for _ in 0..100 {
                    if std::fs::remove_dir(&d).is_ok() || !d.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn check(outer: Job) {
    let cleanup = CleanUpOnUnwind {
        outer: &outer,
        inner: Default::default(),
    };
    let mut events = outer.events().unwrap();
    let (owner, inner, members) = owner_in(&outer, &[]);
    *cleanup.inner.borrow_mut() = Some(inner.clone());
    assert_eq!(members.len(), 4, "{members:?}");
    // In each hierarchy of the outer job, the inner job's cgroup is below it.
    let outer_dirs = job_dirs(outer.name());
    let inner_dirs = dirs_anywhere(&inner);
    for o in &outer_dirs {
        assert!(
            inner_dirs.iter().any(|d| d.starts_with(o)),
            "no inner cgroup below {o:?}: {inner_dirs:?}"
        );
    }
    let listed: Vec<u32> = outer
        .processes()
        .unwrap()
        .iter()
        .map(|p| p.pid().as_raw())
        .collect();
    for &(p, _) in &members {
        assert!(listed.contains(&p), "{p} not among {listed:?}");
        let pr = Process::open(Pid::new(p).unwrap()).unwrap();
        assert!(outer.contains(&pr).unwrap(), "{p}");
    }
    assert!(listed.contains(&owner.pid().as_raw()));
    // As on Windows, where job names are one namespace: the inner job is listed and
    // opened by name from outside the outer job, with exactly its own members.
    let names = Job::list().unwrap();
    assert!(names.contains(&inner), "{inner} not among {names:?}");
    let opened = Job::open(&inner).unwrap();
    let mut got: Vec<u32> = opened
        .processes()
        .unwrap()
        .iter()
        .map(|p| p.pid().as_raw())
        .collect();
    got.sort_unstable();
    let mut want: Vec<u32> = members.iter().map(|&(p, _)| p).collect();
    want.sort_unstable();
    assert_eq!(got, want, "the inner job opened from outside");
    drop(opened);
    // And its name is taken: creating another job of that name is refused.
    // (Where the outer job has no v2 cgroup, the inner one's sits beside it.)
    let e = Job::create(Some(&inner)).unwrap_err();
    assert_eq!(e.kind(), corral::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("exists"), "{e}");
    // The outer watcher announces the inner members (a rescan finds them below).
    let mut announced = Vec::new();
    while !members
        .iter()
        .all(|&(p, _)| announced.contains(&Pid::new(p).unwrap()))
    {
        match events.next_timeout(Some(Duration::from_secs(20))).unwrap() {
            Some(JobEvent::NewProcess { pid }) => announced.push(pid),
            Some(_) => {}
            None => panic!("inner members not announced: {announced:?} of {members:?}"),
        }
    }
    assert_eq!(outer.accounting().unwrap().active_processes, listed.len());
    outer.terminate().unwrap();
    for &(p, s) in &members {
        assert!(
            is_dead(p, s),
            "inner member {p} survived the outer terminate"
        );
    }
    assert!(is_dead(
        owner.pid().as_raw(),
        start_time_of(owner.pid().as_raw()).unwrap_or(0)
    ));
    // The outer watcher reports the inner members' exits, then the emptiness.
    let mut exited = Vec::new();
    loop {
        match events.next_timeout(Some(Duration::from_secs(20))).unwrap() {
            Some(JobEvent::JobEmpty) => break,
            Some(e) if e.status().is_some() => exited.extend(e.pid()),
            Some(_) => {}
            None => panic!("no JobEmpty; exits so far {exited:?}"),
        }
    }
    for &(p, _) in &members {
        assert!(
            exited.contains(&Pid::new(p).unwrap()),
            "no exit of inner member {p} in {exited:?}"
        );
    }
    drop(owner);
    // The outer job's last handle removes it, and the inner job's empty cgroups too
    // (their owner and its guard died in the terminate).
    let name = outer.name().to_owned();
    drop(events);
    drop(cleanup);
    drop(outer);
    for d in dirs_anywhere(&inner) {
        // Only where the outer job has no cgroup (the v1-only test layout leaves the
        // inner job's v2 cgroup beside it, and the terminate killed its guard with the
        // owner): not ours to have removed, so the test removes it (it is empty).
        assert!(
            !outer_dirs.iter().any(|o| d.starts_with(o)),
            "{d:?} left below the outer job"
        );
        std::fs::remove_dir(&d).unwrap_or_else(|e| panic!("{d:?}: {e}"));
    }
    assert!(job_dirs(&name).is_empty(), "{:?}", job_dirs(&name));
}

#[test]
fn an_inner_jobs_members_are_the_outer_jobs() {
    integration::require_root!("creates cgroups");
    check(Job::create(None).unwrap());
}

#[test]
fn the_v1_only_outer_terminate_kills_the_inner_members() {
    integration::require_root!("creates cgroups");
    let caps = Job::capabilities();
    if !caps.v1_controllers.iter().any(|c| c == "freezer") {
        eprintln!("SKIPPED: no v1 freezer hierarchy here");
        return;
    }
    check(Job::__create_for_testing(None, false, true).unwrap());
}

/// Kill-on-close of a v1-only outer job (no `cgroup.kill`: the guard freezes, kills each
/// listed member, thaws): its guard lists the nested job's members too (a plain inner
/// job, with no guard of its own to kill them), and removes the nested cgroups it
/// empties.
#[test]
fn a_v1_only_kill_on_close_outer_kills_the_inner_members_when_dropped() {
    integration::require_root!("creates cgroups");
    let caps = Job::capabilities();
    if !caps.v1_controllers.iter().any(|c| c == "freezer") {
        eprintln!("SKIPPED: no v1 freezer hierarchy here");
        return;
    }
    let outer = Job::builder()
        .kill_on_close(true)
        .__testing(false, true)
        .create()
        .unwrap();
    // A daemon among them: it does not die with its parent (the others do, by their
    // parent-death signal), so only a kill that reaches the inner job ends it.
    let (owner, inner, members) = owner_in(&outer, &["--no-kill-on-close", "--daemon"]);
    assert_eq!(members.len(), 5, "{members:?}");
    let outer_dirs = job_dirs(outer.name());
    drop(outer); // the guard kills everything below and removes the cgroups
    for &(p, s) in &members {
        assert!(
            is_dead(p, s),
            "inner member {p} survived the outer's kill-on-close"
        );
    }
    for d in dirs_anywhere(&inner) {
        assert!(
            !outer_dirs.iter().any(|o| d.starts_with(o)),
            "{d:?} left below the outer job"
        );
        // The inner job's v2 cgroup, beside the v1-only outer (see above).
        std::fs::remove_dir(&d).unwrap_or_else(|e| panic!("{d:?}: {e}"));
    }
    for o in &outer_dirs {
        assert!(!o.exists(), "{o:?} left");
    }
    drop(owner);
}
