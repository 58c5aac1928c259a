//! Job events: real members, real exits, real limits written into the test's own job
//! cgroups, real OOM kills. Each test's job is kill-on-close, so nothing outlives it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use corral::{Command, ExitStatus, Job, JobEvent, JobEvents, Signal};
use integration::cgroups::{job_dirs, v1_job_dir, v2_job_dir};
use integration::testbin_path;

const WAIT: Duration = Duration::from_secs(20);

fn job() -> Job {
    Job::builder()
        .kill_on_close(true)
        .create()
        .expect("create job")
}

/// Reads events until `until` matches one (returned with all before it), or fails.
fn collect(ev: &mut JobEvents, mut until: impl FnMut(&JobEvent) -> bool) -> Vec<JobEvent> {
    let seen = collect_inner(ev, &mut until);
    eprintln!("events: {seen:?}");
    seen
}

fn collect_inner(ev: &mut JobEvents, until: &mut impl FnMut(&JobEvent) -> bool) -> Vec<JobEvent> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ev.next_timeout(Some(left)).expect("read events") {
            Some(e) => {
                let stop = until(&e);
                seen.push(e);
                if stop {
                    return seen;
                }
            }
            None => panic!("no matching event within {WAIT:?}; got {seen:?}"),
        }
    }
}

fn spawn_suspended(job: &Job, args: &[&str]) -> corral::Child {
    Command::new(testbin_path())
        .args(args)
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .suspended(true)
        .kill_on_drop(true)
        .job(job)
        .spawn()
        .expect("spawn suspended into job")
}

fn check_removed(job: Job) {
    let name = job.name().to_owned();
    drop(job);
    assert!(job_dirs(&name).is_empty(), "{:?}", job_dirs(&name));
}

/// A member that exits with a code: `ProcessExit` with that code, then `JobEmpty`. The
/// member is known before it runs (spawned suspended), so this holds on every system.
fn exit_code_then_empty(job: Job) {
    let child = spawn_suspended(&job, &["--exit", "7"]);
    let pid = child.pid();
    let mut ev = job.events().unwrap();
    child.resume().unwrap();
    let seen = collect(&mut ev, |e| *e == JobEvent::JobEmpty);
    let exit = seen
        .iter()
        .find(|e| e.pid() == Some(pid) && e.status().is_some())
        .unwrap_or_else(|| panic!("no exit event for {pid}: {seen:?}"));
    assert_eq!(
        *exit,
        JobEvent::ProcessExit {
            pid,
            status: ExitStatus::Exited(7)
        },
        "{seen:?}"
    );
    // JobEmpty comes after the exit.
    assert_eq!(seen.last(), Some(&JobEvent::JobEmpty));
    drop(child);
    check_removed(job);
}

#[test]
fn member_exit_code_then_job_empty() {
    integration::require_root!("creates cgroups");
    exit_code_then_empty(job());
}

#[test]
fn member_exit_code_then_job_empty_v1_only() {
    integration::require_root!("creates cgroups");
    let caps = Job::capabilities();
    if caps.v1_controllers.is_empty() {
        integration::print_skip("no writable v1 hierarchy here");
        return;
    }
    let job = Job::builder()
        .kill_on_close(true)
        .__testing(false, true)
        .create()
        .unwrap();
    exit_code_then_empty(job);
}

#[test]
fn new_process_then_abnormal_exit_then_empty() {
    integration::require_root!("creates cgroups");
    if !Job::capabilities().events {
        integration::print_skip("no cgroup v2 notifications here");
        return;
    }
    let job = job();
    let mut ev = job.events().unwrap();
    let child = Command::new(testbin_path())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .job(&job)
        .spawn()
        .unwrap();
    let pid = child.pid();
    let seen = collect(&mut ev, |e| matches!(e, JobEvent::NewProcess { .. }));
    assert_eq!(seen, vec![JobEvent::NewProcess { pid }]);
    child.process().send_signal(Signal::Kill).unwrap();
    let seen = collect(&mut ev, |e| *e == JobEvent::JobEmpty);
    assert_eq!(
        seen,
        vec![
            JobEvent::AbnormalExit {
                pid,
                status: ExitStatus::Signaled {
                    signal: Signal::Kill,
                    core_dumped: false
                }
            },
            JobEvent::JobEmpty
        ]
    );
    drop(child);
    check_removed(job);
}

#[test]
fn forks_of_members_are_new_processes_with_their_exit_codes() {
    integration::require_root!("creates cgroups");
    let job = job();
    let child = spawn_suspended(
        &job,
        &[
            "--children",
            "2",
            "--child-args",
            "--exit",
            "5",
            "--end-child-args",
        ],
    );
    let mut ev = job.events().unwrap();
    if !ev.new_process_exact() {
        integration::print_skip("no proc connector here (nested namespace or not root)");
        return;
    }
    child.resume().unwrap();
    let mut exits = 0;
    let seen = collect(&mut ev, |e| {
        if *e
            == (JobEvent::ProcessExit {
                pid: e.pid().unwrap_or(child.pid()),
                status: ExitStatus::Exited(5),
            })
        {
            exits += 1;
        }
        exits == 2
    });
    let new: Vec<_> = seen
        .iter()
        .filter(|e| matches!(e, JobEvent::NewProcess { .. }))
        .collect();
    assert_eq!(new.len(), 2, "{seen:?}");
    // Each child was announced before its exit.
    for n in new {
        let p = n.pid();
        let i = seen.iter().position(|e| e == n).unwrap();
        let j = seen
            .iter()
            .position(|e| e.pid() == p && e.status().is_some())
            .unwrap();
        assert!(i < j, "{seen:?}");
    }
    drop(child);
    check_removed(job);
}

#[test]
fn process_limit_hit_is_reported() {
    integration::require_root!("creates cgroups");
    let job = match Job::builder()
        .kill_on_close(true)
        .limits(corral::JobLimits::new().max_processes(3))
        .create()
    {
        Ok(j) => j,
        Err(e) if e.kind() == corral::ErrorKind::Unsupported => {
            integration::print_skip("no pids controller for jobs here");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // testbin + 2 children fit; the third fork fails and testbin exits (code 90).
    let child = spawn_suspended(&job, &["--children", "4"]);
    let mut ev = job.events().unwrap();
    child.resume().unwrap();
    let seen = collect(&mut ev, |e| matches!(e, JobEvent::ProcessLimit { .. }));
    assert!(
        matches!(seen.last(), Some(JobEvent::ProcessLimit { count }) if *count >= 1),
        "{seen:?}"
    );
    drop(ev);
    drop(child);
    check_removed(job);
}

#[test]
fn out_of_memory_kill_is_reported() {
    integration::require_root!("creates cgroups");
    let job = job();
    let limit = 32u64 << 20;
    let set = if let Some(f) = v2_job_dir(job.name())
        .map(|d| d.join("memory.max"))
        .filter(|p| p.exists())
    {
        std::fs::write(f, limit.to_string()).is_ok()
    } else if let Some(d) = v1_job_dir(job.name(), "memory") {
        std::fs::write(d.join("memory.limit_in_bytes"), limit.to_string()).is_ok()
    } else {
        false
    };
    if !set {
        integration::print_skip("no memory controller for jobs here");
        return;
    }
    let child = spawn_suspended(&job, &["--alloc-mb", "200"]);
    let pid = child.pid();
    let mut ev = job.events().unwrap();
    child.resume().unwrap();
    let seen = collect(&mut ev, |e| *e == JobEvent::JobEmpty);
    assert!(
        seen.iter()
            .any(|e| matches!(e, JobEvent::OomKill { count } if *count >= 1)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, JobEvent::MemoryLimit { .. })),
        "{seen:?}"
    );
    assert!(
        seen.contains(&JobEvent::AbnormalExit {
            pid,
            status: ExitStatus::Signaled {
                signal: Signal::Kill,
                core_dumped: false
            }
        }),
        "{seen:?}"
    );
    drop(child);
    check_removed(job);
}

#[test]
fn cpu_time_limit_is_reported_before_the_exit_and_empty() {
    integration::require_root!("creates cgroups");
    let job = Job::builder()
        .kill_on_close(true)
        .limits(corral::JobLimits::new().job_cpu_time(Duration::from_secs(1)))
        .create()
        .expect("create job with a CPU time limit");
    // A watcher from another handle of the same job: it cannot hear of the limit.
    let other = Job::open(job.name()).unwrap();
    let mut ev_other = other.events().unwrap();
    let child = spawn_suspended(&job, &["--burn-thread", "--burn"]);
    let pid = child.pid();
    let mut ev = job.events().unwrap();
    // A dropped watcher must not stop the others from hearing of it.
    drop(job.events().unwrap());
    child.resume().unwrap();
    let seen = collect(&mut ev, |e| *e == JobEvent::JobEmpty);
    let limit = seen.iter().position(|e| *e == JobEvent::CpuTimeLimit);
    let exit = seen.iter().position(|e| e.pid() == Some(pid));
    assert!(limit.is_some(), "{seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|e| **e == JobEvent::CpuTimeLimit)
            .count(),
        1,
        "{seen:?}"
    );
    assert!(exit.is_some_and(|x| limit < Some(x)), "{seen:?}");
    assert!(
        seen.contains(&JobEvent::AbnormalExit {
            pid,
            status: ExitStatus::Signaled {
                signal: Signal::Kill,
                core_dumped: false
            }
        }),
        "{seen:?}"
    );
    assert!(job.cpu_time_limit_hit());
    let seen_other = collect(&mut ev_other, |e| *e == JobEvent::JobEmpty);
    assert!(
        !seen_other.contains(&JobEvent::CpuTimeLimit),
        "{seen_other:?}"
    );
    drop((ev, ev_other, child));
    check_removed(job);
    // Dropped after the owner removed the job: finds nothing left to remove.
    drop(other);
}

#[test]
fn events_of_a_removed_job_fail_clearly() {
    integration::require_root!("creates cgroups");
    let name = integration::unique_name("ev");
    let job = Job::builder()
        .name(&name)
        .kill_on_close(true)
        .create()
        .unwrap();
    let opened = Job::open(&name).unwrap();
    drop(job); // kill-on-close removes it although `opened` is still held
    let e = opened.events().unwrap_err();
    assert!(!e.to_string().is_empty());
}

/// A watcher whose job is removed under it (a kill-on-close drop kills the members and
/// removes the cgroups before the watcher reads again): the members' exits and
/// `JobEmpty` still come — the kernel removes only an empty cgroup — then the stream ends.
#[test]
fn a_watcher_of_a_removed_job_gets_the_exits_and_job_empty() {
    integration::require_root!("creates cgroups");
    let job = job();
    let mut ev = job.events().unwrap();
    let a = spawn_suspended(&job, &["--sleep-ms", "60000"]);
    let b = spawn_suspended(&job, &["--sleep-ms", "60000"]);
    let pids = [a.pid(), b.pid()];
    // The watcher has seen both join (as `corral run --events` has before the end).
    let mut joined = 0;
    collect(&mut ev, |e| {
        joined += usize::from(matches!(e, JobEvent::NewProcess { .. }));
        joined == 2
    });
    let name = job.name().to_owned();
    drop(job); // the guard kills both and removes the cgroups before this returns
    assert!(job_dirs(&name).is_empty());
    let seen: Vec<JobEvent> = ev
        .by_ref()
        .map(|e| e.unwrap_or_else(|e| panic!("{e:?}")))
        .collect();
    eprintln!("events: {seen:?}");
    assert_eq!(seen.last(), Some(&JobEvent::JobEmpty), "{seen:?}");
    assert_eq!(seen.iter().filter(|e| **e == JobEvent::JobEmpty).count(), 1);
    for p in pids {
        assert!(
            seen.iter()
                .any(|e| e.pid() == Some(p) && e.status().is_some()),
            "no exit of {p}: {seen:?}"
        );
    }
    assert!(ev.next().is_none(), "the stream ended");
    drop((a, b));
}
