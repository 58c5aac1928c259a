//! The process-group + subreaper job that stands in where no cgroup is writable.
//!
//! Root (as here and in CI) can write cgroups, so most tests force the fallback through
//! the testing hook `Job::__create_fallback_for_testing`; one test really runs unprivileged
//! (`fallback_job` as `nobody`). Every process is checked by pid + start time, and each
//! test kills what it started even when it fails.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use corral::{Command, Enforcement, ErrorKind, Job, JobBackend, JobLimits, Limit, Pid, Process};
use integration::{is_dead, start_time_of, testbin_path, unique_name, Reaper};

fn fallback_job() -> Job {
    let job = Job::__create_fallback_for_testing(Some(&unique_name("fb"))).expect("create");
    assert_eq!(job.backend(), JobBackend::ProcessGroup);
    job
}

fn spawn_in(job: &Job, args: &[&str], r: &mut Reaper) -> (corral::Child, String) {
    let (child, line) = integration::spawn_testbin_in(job, args);
    r.add(child.pid().as_raw());
    assert!(line.starts_with("ready "), "{line:?}");
    r.add_reported(&line);
    (child, line)
}

/// Every `corral-<name>` directory below this process's cgroups (there must be none).
fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    integration::cgroups::own_dirs()
        .into_iter()
        .map(|(_, _, d)| d.join(format!("corral-{name}")))
        .filter(|d| d.exists())
        .collect()
}

#[test]
fn tree_is_followed_and_terminate_kills_all_without_any_cgroup() {
    let mut r = Reaper::default();
    let job = fallback_job();
    let (child, line) = spawn_in(&job, &["--children", "3", "--depth", "2"], &mut r);
    let desc = integration::ready_field(&line, "descendants");
    assert_eq!(desc.len(), 12, "{line}");
    let mut want: Vec<u32> = desc.clone();
    want.push(child.pid().as_raw());
    want.sort();
    assert_eq!(integration::job_member_pids(&job), want);
    for &p in &want {
        let proc_ = Process::open(Pid::new(p).unwrap()).unwrap();
        assert!(job.contains(&proc_).unwrap(), "{p}");
    }
    assert!(!job.contains(&Process::current().unwrap()).unwrap());
    assert!(cgroup_dirs_named(job.name()).is_empty());
    // The spawned child stays in the caller's process group (it may call setsid, and
    // keeps the terminal's foreground).
    let pgid = integration::ready_field(&line, "pgid")[0];
    assert_eq!(
        pgid,
        integration::read_stat(std::process::id()).unwrap().pgrp
    );
    assert_eq!(job.accounting().unwrap().active_processes, 13);
    job.terminate().unwrap();
    for &(pid, st) in &r.0 {
        assert!(is_dead(pid, st), "{pid} survived terminate");
    }
    assert!(job.is_empty().unwrap());
    job.wait_empty(Some(Duration::from_secs(1))).unwrap();
    drop(child);
}

#[test]
fn daemons_and_new_sessions_stay_in_the_job() {
    let mut r = Reaper::default();
    let job = fallback_job();
    // The launcher exits once its daemon (double fork + setsid) is ready: the daemon has
    // left the group and lost its parent; the environment marker still finds it.
    let (mut c1, l1) = spawn_in(&job, &["--daemonize"], &mut r);
    let daemon = integration::ready_field(&l1, "pid")[0];
    let dst = start_time_of(daemon).unwrap();
    assert_ne!(daemon, c1.pid().as_raw());
    c1.wait().unwrap();
    assert_eq!(integration::ready_field(&l1, "sid"), vec![daemon]);
    let (c2, l2) = spawn_in(&job, &["--setsid"], &mut r);
    assert_eq!(
        integration::ready_field(&l2, "sid"),
        vec![c2.pid().as_raw()]
    );
    let members = integration::job_member_pids(&job);
    assert!(members.contains(&daemon), "{members:?}");
    assert!(members.contains(&c2.pid().as_raw()), "{members:?}");
    let d = Process::open(Pid::new(daemon).unwrap()).unwrap();
    assert!(job.contains(&d).unwrap());
    // The daemon's parent is gone: it was reparented to this process (a subreaper now).
    let ppid = integration::read_stat(daemon).unwrap().ppid;
    assert_eq!(ppid, std::process::id());
    // Job::of finds it through its environment (no cgroups).
    let of = Job::of(&d).unwrap().expect("the daemon's job");
    assert_eq!(of.name, job.name());
    assert!(of.cgroups.is_empty());
    job.terminate().unwrap();
    assert!(is_dead(daemon, dst));
    let c2_start = r.0.iter().find(|e| e.0 == c2.pid().as_raw()).unwrap().1;
    assert!(is_dead(c2.pid().as_raw(), c2_start));
    // The daemon was our orphan: terminate's scan reaped it (no zombie left).
    assert!(
        start_time_of(daemon) != Some(dst),
        "the daemon is left as a zombie"
    );
    drop(c2);
}

#[test]
fn assigned_processes_and_their_later_children_are_members() {
    let mut r = Reaper::default();
    let job = fallback_job();
    // Started outside the job: a plain child with one child of its own.
    let mut outside = std::process::Command::new(testbin_path())
        .args(["--children", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    r.add(outside.id());
    let mut line = String::new();
    BufReader::new(outside.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let kid = integration::ready_field(&line, "children")[0];
    r.add(kid);
    let p = Process::open(Pid::new(outside.id()).unwrap()).unwrap();
    assert!(!job.contains(&p).unwrap());
    job.assign(&p).unwrap();
    assert!(job.contains(&p).unwrap());
    assert_eq!(integration::job_member_pids(&job), {
        let mut v = vec![outside.id(), kid];
        v.sort();
        v
    });
    job.terminate().unwrap();
    for &(pid, st) in &r.0 {
        assert!(is_dead(pid, st), "{pid}");
    }
    // The assigned process is our own child: it is left for its owner to reap.
    let st = outside.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    // A process that exited cannot be assigned.
    let e = job.assign(&p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchProcess, "{e}");
}

#[test]
fn cgroup_only_limits_are_unsupported_by_name_and_per_process_ones_apply() {
    let mut r = Reaper::default();
    let mut job = fallback_job();
    let bad = JobLimits::new()
        .job_memory(64 << 20)
        .max_processes(10)
        .cpus(0.5)
        .process_memory(512 << 20);
    let e = job.set_limits(&bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    let msg = e.to_string();
    for name in ["job memory", "active processes", "CPU rate"] {
        assert!(msg.contains(name), "{msg}");
    }
    assert!(!msg.contains("process memory"), "{msg}");
    assert_eq!(job.limits().unwrap(), JobLimits::new(), "nothing was set");
    // Per-process limits work: RLIMIT_AS on every member spawned from now on.
    job.set_limits(&JobLimits::new().process_memory(512 << 20))
        .unwrap();
    let (child, _) = spawn_in(&job, &[], &mut r);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .unwrap();
    assert!(line.contains(&(512u64 << 20).to_string()), "{line}");
    job.terminate().unwrap();
    drop(child);
}

#[test]
fn job_cpu_time_is_watched_and_the_job_killed_at_the_limit() {
    let mut r = Reaper::default();
    let mut job = fallback_job();
    job.set_limits(&JobLimits::new().job_cpu_time(Duration::from_millis(500)))
        .unwrap();
    let (mut child, _) = spawn_in(&job, &["--burn"], &mut r);
    let st = child.wait().unwrap();
    assert_eq!(st.signal(), Some(corral::Signal::Kill));
    assert!(job.cpu_time_limit_hit());
    let used = job.accounting().unwrap().total_time().unwrap();
    assert!(used >= Duration::from_millis(400), "{used:?}");
}

#[test]
fn freeze_stops_members_and_thaw_resumes_them() {
    let mut r = Reaper::default();
    let job = fallback_job();
    let (child, line) = spawn_in(&job, &["--burn", "--children", "1"], &mut r);
    let pid = child.pid().as_raw();
    let kid = integration::ready_field(&line, "children")[0];
    job.freeze().unwrap();
    assert!(job.is_frozen().unwrap());
    for p in [pid, kid] {
        assert_eq!(integration::read_stat(p).unwrap().state, 'T', "{p}");
    }
    let before = integration::cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        integration::cpu_ticks(pid),
        before,
        "a frozen member used CPU"
    );
    job.thaw().unwrap();
    assert!(!job.is_frozen().unwrap());
    let grew = integration::wait_until(Duration::from_secs(5), || {
        integration::cpu_ticks(pid) > before
    });
    assert!(grew, "the member did not run after thaw");
    job.freeze().unwrap();
    job.terminate().unwrap();
    assert!(is_dead(pid, r.0[0].1));
    drop(child);
}

#[test]
fn wait_empty_follows_children_left_behind_and_times_out_on_the_living() {
    let mut r = Reaper::default();
    let job = fallback_job();
    // The parent exits at once; its child (which ends 300 ms later) is left behind.
    let (child, _) = spawn_in(&job, &["--sleep-ms", "600"], &mut r);
    let e = job.wait_empty(Some(Duration::from_millis(50))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    job.wait_empty(Some(Duration::from_secs(10))).unwrap();
    assert!(job.is_empty().unwrap());
    drop(child);
}

#[test]
fn exited_orphans_count_in_the_accounting() {
    let mut r = Reaper::default();
    let job = fallback_job();
    // A daemon that burns 300 ms of CPU and exits: an orphan this process reaps.
    let (mut c, l) = spawn_in(
        &job,
        &["--daemonize", "--burn", "--sleep-ms", "300"],
        &mut r,
    );
    c.wait().unwrap();
    let daemon = integration::ready_field(&l, "pid")[0];
    job.wait_empty(Some(Duration::from_secs(10))).unwrap();
    assert!(start_time_of(daemon).is_none(), "the orphan was not reaped");
    // Its CPU time comes only from the rusage of reaping it (no member is left to read):
    // some of the 300 ms it burned (less under contention: it burns wall-clock time).
    let a = job.accounting().unwrap();
    assert!(
        a.total_time().unwrap() >= Duration::from_millis(20),
        "{a:?}"
    );
    assert_eq!(a.active_processes, 0);
    assert!(a.total_processes.unwrap() >= 2, "{a:?}");
}

#[test]
fn open_and_list_find_it_in_this_process() {
    let name = unique_name("fbo");
    let job = Job::__create_fallback_for_testing(Some(&name)).unwrap();
    let e = Job::__create_fallback_for_testing(Some(&name)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(Job::list().unwrap().contains(&name));
    let again = Job::open(&name).unwrap();
    assert_eq!(again.backend(), JobBackend::ProcessGroup);
    drop(again);
    drop(job);
    // Dropped while empty: gone.
    assert_eq!(
        Job::open(&name).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(!Job::list().unwrap_or_default().contains(&name));
}

#[test]
fn fallback_limit_support_is_reported() {
    // What a fallback job enforces (the same list `capabilities()` gives where it is the
    // backend); checked against set_limits above.
    let caps = Job::capabilities();
    if caps.backend == JobBackend::ProcessGroup {
        let how = |l: Limit| {
            caps.limits
                .iter()
                .find(|s| s.limit == l)
                .unwrap()
                .how
                .clone()
        };
        assert_eq!(how(Limit::ProcessMemory), Enforcement::PerProcess);
        assert_eq!(how(Limit::JobTime), Enforcement::Watcher);
        assert!(matches!(how(Limit::JobMemory), Enforcement::Unsupported(_)));
    } else {
        assert_eq!(caps.backend, JobBackend::Cgroup);
    }
}

/// `capabilities()` asks the way `create` does: with only the effective ids switched to
/// `nobody` (the real ones stay root, so `access(2)`, which checks the real ids, would
/// say the cgroups are writable while `mkdir` is refused), both say process group.
#[test]
fn capabilities_and_create_agree_under_effective_ids() {
    integration::require_root!("switches its effective ids to nobody");
    let (uid, gid) = integration::nobody_ids();
    let out = std::process::Command::new(testbin_path().with_file_name("fallback_job"))
        .args(["--effective", &uid.to_string(), &gid.to_string()])
        .current_dir("/")
        .output()
        .expect("run fallback_job --effective");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim(), "backend ProcessGroup caps=ProcessGroup");
    // And as root, both say cgroups (root can write them here and in CI).
    let caps = Job::capabilities();
    let job = Job::create(None).expect("create");
    assert_eq!(job.backend(), caps.backend);
}

/// The real thing: `fallback_job` as `nobody`, who may write no cgroup.
#[test]
fn unprivileged_user_gets_a_working_fallback_job() {
    integration::require_root!("runs fallback_job as nobody");
    let (uid, gid) = integration::nobody_ids();
    let bin = testbin_path().with_file_name("fallback_job");
    let mut r = Reaper::default();
    let mut owner = Command::new(&bin)
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fallback_job as nobody");
    r.add(owner.pid().as_raw());
    let mut out = BufReader::new(owner.take_stdout().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            panic!("fallback_job ended early: {lines:?}");
        }
        let done = l.trim() == "ready";
        lines.push(l.trim().to_owned());
        if done {
            break;
        }
    }
    let get = |k: &str| -> String {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{k} ")[..]))
            .unwrap_or_else(|| panic!("no {k} line in {lines:?}"))
            .to_owned()
    };
    let pairs = |s: String| -> Vec<(u32, u64)> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| {
                let (p, t) = x.split_once(':').unwrap();
                (p.parse().unwrap(), t.parse().unwrap())
            })
            .collect()
    };
    let spawned = pairs(get("spawned"));
    r.0.extend(spawned.iter().copied());
    let members = pairs(get("members"));
    assert_eq!(
        get("backend"),
        "ProcessGroup caps=ProcessGroup kill_on_close=true",
        "{lines:?}"
    );
    let limits = get("limits");
    assert!(limits.starts_with("Unsupported"), "{limits}");
    for n in ["job memory", "active processes", "I/O rate"] {
        assert!(limits.contains(n), "{limits}");
    }
    // 1 + 2 + 4 (tree), the setsid one, the daemon.
    assert_eq!(spawned.len(), 9, "{lines:?}");
    for s in &spawned {
        assert!(members.contains(s), "{s:?} missing from {members:?}");
    }
    assert_eq!(members.len(), spawned.len(), "{lines:?}");
    for &(pid, _) in &spawned {
        let uid_line = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(
            uid_line
                .lines()
                .any(|l| l.starts_with("Uid:") && l.contains(&uid.to_string())),
            "{pid} is not nobody's"
        );
    }
    // No cgroup was made for the job (named after it, or after the owner's pid).
    let owner_pid = owner.pid().as_raw().to_string();
    assert_eq!(
        integration::cgroups::leftovers(&owner_pid),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        integration::cgroups::job_dirs(&get("name")),
        Vec::<PathBuf>::new()
    );
    let mut stdin = owner.take_stdin().unwrap();
    writeln!(stdin, "terminate").unwrap();
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    assert_eq!(l.trim(), "terminated Ok(()) members=0");
    l.clear();
    out.read_line(&mut l).unwrap();
    assert_eq!(l.trim(), "wait-empty Ok(())");
    for &(pid, st) in &spawned {
        assert!(
            integration::wait_until(Duration::from_secs(5), || is_dead(pid, st)),
            "{pid} survived"
        );
    }
    drop(stdin);
    let st = owner.wait().unwrap();
    assert_eq!(st.code(), Some(0));
}

#[test]
fn events_report_new_members_their_exits_the_cpu_limit_and_the_empty_job() {
    use corral::JobEvent;
    let mut r = Reaper::default();
    let mut job = fallback_job();
    job.set_limits(&JobLimits::new().job_cpu_time(Duration::from_millis(300)))
        .unwrap();
    let mut events = job.events().unwrap();
    let (child, line) = spawn_in(&job, &["--children", "1"], &mut r);
    let mut want: Vec<u32> = vec![
        child.pid().as_raw(),
        integration::ready_field(&line, "children")[0],
    ];
    want.sort();
    // Best-effort: new members are seen at the next rescan (at most ~100 ms later).
    let mut new = Vec::new();
    while new.len() < 2 {
        match events.next_timeout(Some(Duration::from_secs(5))).unwrap() {
            Some(JobEvent::NewProcess { pid }) => new.push(pid.as_raw()),
            other => panic!("unexpected {other:?}"),
        }
    }
    new.sort();
    assert_eq!(new, want);
    // A burner joins; the CPU-time watcher kills the job at 300 ms.
    let (burner, _) = spawn_in(&job, &["--burn"], &mut r);
    let mut seen = Vec::new();
    loop {
        match events.next_timeout(Some(Duration::from_secs(10))).unwrap() {
            Some(JobEvent::JobEmpty) => break,
            Some(e) => seen.push(e),
            None => panic!("no JobEmpty; saw {seen:?}"),
        }
    }
    let cpu = seen
        .iter()
        .position(|e| *e == JobEvent::CpuTimeLimit)
        .unwrap_or_else(|| panic!("no CpuTimeLimit in {seen:?}"));
    let killed: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            JobEvent::AbnormalExit { pid, status } => {
                assert_eq!(status.signal(), Some(corral::Signal::Kill), "{e:?}");
                Some(pid.as_raw())
            }
            _ => None,
        })
        .collect();
    for p in want.iter().chain([&burner.pid().as_raw()]) {
        assert!(killed.contains(p), "{p} not reported killed: {seen:?}");
    }
    // The limit is reported before the exits it caused.
    let first_exit = seen
        .iter()
        .position(|e| matches!(e, JobEvent::AbnormalExit { .. }))
        .unwrap();
    assert!(cpu < first_exit, "{seen:?}");
    drop((child, burner));
}
