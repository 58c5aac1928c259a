//! Kill-on-close of the process-group fallback job (forced through the testing hooks, as
//! root can write cgroups): the last handle's drop kills every member, and the guard
//! process kills them when the creating process is `SIGKILL`ed. Checked from outside by
//! pid + start time in `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use corral::{Command, Job, JobBackend};
use integration::{
    is_dead, kill_if_same, start_time_of, testbin_path, unique_name, wait_for_exit, Reaper,
};

/// Whether the guard `pid` has exited (gone, a zombie, or the pid reused).
fn guard_exited(pid: u32) -> bool {
    match integration::read_stat(pid) {
        None => true,
        Some(s) => s.state == 'Z' || s.comm != "corral-guard",
    }
}

/// Spawns testbin into `job`; every process it reports (pid, descendants) goes to `r`.
fn spawn_in(job: &Job, args: &[&str], r: &mut Reaper) -> corral::Child {
    let mut child = Command::new(testbin_path())
        .args(args)
        .stdout(Stdio::piped())
        .job(job)
        .spawn()
        .expect("spawn into job");
    r.add(child.pid().as_raw());
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    r.add_reported(&line);
    child
}

#[test]
fn last_handle_drop_kills_every_member_daemons_included() {
    let mut r = Reaper::default();
    let name = unique_name("fbk");
    let job = Job::builder()
        .name(&name)
        .__testing_fallback()
        .kill_on_close(true)
        .create()
        .expect("create");
    assert_eq!(job.backend(), JobBackend::ProcessGroup);
    assert!(job.kills_on_close());
    let guard = job.__guard_pid().expect("a guard");
    assert!(!guard_exited(guard), "no guard process");
    let mut kids = Vec::new();
    for args in [
        &["--children", "2", "--depth", "2"][..],
        &["--setsid", "--children", "1"][..],
        &["--daemonize"][..],
    ] {
        let mut c = spawn_in(&job, args, &mut r);
        if args == ["--daemonize"] {
            // The launcher exits once its daemon is ready.
            let _ = c.wait();
        } else {
            kids.push(c);
        }
    }
    let members: Vec<(u32, u64)> =
        r.0.iter()
            .copied()
            .filter(|&(p, s)| !is_dead(p, s))
            .collect();
    // 1 + 2 + 4, 1 + 1, the daemon.
    assert_eq!(members.len(), 10, "{members:?}");
    // Another handle of the job: dropping the first one is not the last close.
    let again = Job::open(&name).expect("open");
    drop(job);
    for &(p, s) in &members {
        assert!(!is_dead(p, s), "{p} died with a handle still open");
    }
    assert!(
        !guard_exited(guard),
        "the guard left with a handle still open"
    );
    drop(again);
    for &(p, s) in &members {
        assert!(is_dead(p, s), "{p} survived the last handle's drop");
    }
    assert!(
        integration::wait_until(Duration::from_secs(5), || guard_exited(guard)),
        "the guard did not exit"
    );
    for mut c in kids {
        let _ = c.wait();
    }
}

#[test]
fn capabilities_report_kill_on_close() {
    let caps = Job::capabilities();
    assert!(caps.kill_on_close, "{caps:?}");
    if caps.backend == JobBackend::ProcessGroup {
        assert!(
            caps.notes.iter().any(|n| n.contains("kill-on-close")),
            "{caps:?}"
        );
    }
}

/// One `job_owner --fallback` run: its process and what it reported.
struct Owner {
    child: Child,
    out: BufReader<ChildStdout>,
    job: String,
    guard: u32,
    members: Vec<(u32, u64)>,
}

impl Owner {
    /// `job_owner --fallback ARGS` (the fallback forced, as root).
    fn spawn(args: &[&str]) -> Owner {
        let mut all = vec!["--fallback"];
        all.extend_from_slice(args);
        Owner::start(&all, None)
    }

    /// `job_owner ARGS`, as `user` (uid, gid) if given.
    fn start(args: &[&str], user: Option<(u32, u32)>) -> Owner {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_job_owner"));
        cmd.args(args)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some((uid, gid)) = user {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().expect("spawn job_owner");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let get = |k: &str| integration::ready_word(&line, k);
        let members = integration::ready_pid_starts(&line, "members");
        let o = Owner {
            job: get("job"),
            guard: get("guard").parse().unwrap_or(0),
            members,
            child,
            out,
        };
        assert!(line.starts_with("ready "), "job_owner said {line:?}");
        o
    }
}

/// Every live process whose environment carries the marker of the fallback job `name`
/// (`CORRAL_JOB=...name@id...`), found independently of what the owner reported.
fn marked_alive(name: &str) -> Vec<u32> {
    let needle = format!("{name}@");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let marked = env.split(|&b| b == 0).any(|v| {
            v.strip_prefix(b"CORRAL_JOB=").is_some_and(|v| {
                v.split(|&b| b == b':')
                    .any(|t| t.starts_with(needle.as_bytes()))
            })
        });
        if marked && start_time_of(pid).is_some_and(|s| !is_dead(pid, s)) {
            out.push(pid);
        }
    }
    out
}

/// Kills whatever a trial left: members (by pid and start time) and the owner.
impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &(p, s) in &self.members {
            kill_if_same(p, s);
        }
    }
}

#[test]
fn owner_sigkill_kills_every_member_20_trials() {
    let mut survivors = Vec::new();
    let mut guards_left = Vec::new();
    let t0 = Instant::now();
    for trial in 0..20 {
        // Spawned members with children (the marker, the parent links), every other
        // trial assigned ones in groups of their own (known members, their groups, their
        // children by parent link only), every third a daemon (the marker only).
        let mut args = vec!["--members", "2", "--children", "2"];
        if trial % 2 == 0 {
            args.extend(["--assign", "1"]);
        }
        if trial % 3 == 0 {
            args.push("--daemon");
        }
        let mut o = Owner::spawn(&args);
        let expect = 2 * 3 + if trial % 2 == 0 { 3 } else { 0 } + usize::from(trial % 3 == 0);
        assert_eq!(o.members.len(), expect, "trial {trial}: {:?}", o.members);
        assert!(
            o.guard != 0 && !guard_exited(o.guard),
            "trial {trial}: no guard"
        );
        // The marker check below sees the spawned members (not the assigned ones).
        let marked = marked_alive(&o.job).len();
        assert!(
            marked >= 6,
            "trial {trial}: {marked} marked of {:?}",
            o.members
        );
        o.child.kill().unwrap(); // SIGKILL: no destructor runs in the owner
        o.child.wait().unwrap();
        for &(p, s) in &o.members {
            if !wait_for_exit(p, s, Duration::from_secs(10)) {
                survivors.push((trial, p));
            }
        }
        if !integration::wait_until(Duration::from_secs(10), || guard_exited(o.guard)) {
            guards_left.push((trial, o.guard));
        }
        // Nothing carrying the job's marker lives on either (reported or not).
        for p in marked_alive(&o.job) {
            survivors.push((trial, p));
        }
    }
    assert!(survivors.is_empty(), "survivors: {survivors:?}");
    assert!(guards_left.is_empty(), "guards left: {guards_left:?}");
    eprintln!("20 fallback kill-on-close trials in {:?}", t0.elapsed());
}

#[test]
fn owner_dropping_the_job_kills_it_before_drop_returns() {
    let mut o = Owner::spawn(&[
        "--members",
        "2",
        "--children",
        "2",
        "--daemon",
        "--assign",
        "1",
    ]);
    drop(o.child.stdin.take()); // end of file: the owner drops the job
    let mut line = String::new();
    o.out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "dropped");
    for &(p, s) in &o.members {
        assert!(is_dead(p, s), "{p} survived the drop");
    }
    assert!(
        integration::wait_until(Duration::from_secs(5), || guard_exited(o.guard)),
        "the guard did not exit"
    );
    assert_eq!(o.child.wait().unwrap().code(), Some(0));
}

#[test]
fn owner_exec_kills_every_member() {
    use std::io::Write;
    let mut o = Owner::spawn(&["--members", "2", "--children", "1", "--assign", "1"]);
    let owner = o.child.id();
    let owner_start = start_time_of(owner).unwrap();
    writeln!(o.child.stdin.as_mut().unwrap(), "exec").unwrap();
    // The exec'd program says it is ready: the owner's socket end was closed by then.
    let mut line = String::new();
    o.out.read_line(&mut line).unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    for &(p, s) in &o.members {
        assert!(
            wait_for_exit(p, s, Duration::from_secs(10)),
            "{p} survived the exec"
        );
    }
    assert!(
        integration::wait_until(Duration::from_secs(5), || guard_exited(o.guard)),
        "the guard did not exit"
    );
    // The owner itself (now testbin, same process) is not a member: it lives on.
    assert!(!is_dead(owner, owner_start));
    drop(o.child.stdin.take());
    assert_eq!(o.child.wait().unwrap().code(), Some(0));
}

/// The owner is killed while a thread of it keeps spawning into the job (some spawns
/// caught between `fork` and `exec`): afterwards nothing carrying the job's marker lives.
#[test]
fn owner_sigkill_during_spawns_leaves_no_marked_process_10_trials() {
    let mut survivors = Vec::new();
    for trial in 0..10u64 {
        let mut o = Owner::spawn(&["--members", "1", "--churn", "40"]);
        // Somewhere inside the burst of spawns.
        std::thread::sleep(Duration::from_millis(2 + 7 * trial));
        o.child.kill().unwrap();
        o.child.wait().unwrap();
        assert!(
            integration::wait_until(Duration::from_secs(10), || guard_exited(o.guard)),
            "trial {trial}: the guard did not exit"
        );
        // Give a spawn that was half-way time to reach its exec, then look.
        std::thread::sleep(Duration::from_millis(100));
        let left = marked_alive(&o.job);
        for p in &left {
            if let Some(s) = start_time_of(*p) {
                kill_if_same(*p, s);
            }
        }
        survivors.extend(left.into_iter().map(|p| (trial, p)));
        for &(p, s) in &o.members {
            if !is_dead(p, s) {
                survivors.push((trial, p));
            }
        }
    }
    assert!(survivors.is_empty(), "survivors: {survivors:?}");
}

/// As `nobody`, who may write no cgroup: the job falls back by itself, its guard runs as
/// `nobody` too, and a `SIGKILL`ed owner still takes every member with it.
#[test]
fn unprivileged_owner_sigkill_kills_every_member() {
    integration::require_root!("runs job_owner as nobody");
    let nobody = integration::nobody_ids();
    let mut survivors = Vec::new();
    for trial in 0..5 {
        let args = [
            "--members",
            "2",
            "--children",
            "1",
            "--daemon",
            "--assign",
            "1",
        ];
        let mut o = Owner::start(&args, Some(nobody));
        assert_eq!(o.members.len(), 2 * 2 + 1 + 2, "{:?}", o.members);
        assert!(!marked_alive(&o.job).is_empty());
        // No cgroup was made for it: it is the process-group fallback.
        assert!(integration::cgroups::job_dirs(&o.job).is_empty());
        let uid = std::fs::read_to_string(format!("/proc/{}/status", o.guard)).unwrap();
        assert!(
            uid.lines()
                .any(|l| l.starts_with("Uid:") && l.contains(&nobody.0.to_string())),
            "the guard is not nobody's"
        );
        o.child.kill().unwrap();
        o.child.wait().unwrap();
        for &(p, s) in &o.members {
            if !wait_for_exit(p, s, Duration::from_secs(10)) {
                survivors.push((trial, p));
            }
        }
        assert!(
            integration::wait_until(Duration::from_secs(10), || guard_exited(o.guard)),
            "trial {trial}: the guard did not exit"
        );
        survivors.extend(marked_alive(&o.job).into_iter().map(|p| (trial, p)));
    }
    assert!(survivors.is_empty(), "survivors: {survivors:?}");
}

/// With its guard gone (killed here), the last handle's drop still kills every member,
/// in-process, and returns at once.
#[test]
fn drop_without_its_guard_still_kills_in_process() {
    let mut r = Reaper::default();
    let job = Job::builder()
        .__testing_fallback()
        .kill_on_close(true)
        .create()
        .expect("create");
    let guard = job.__guard_pid().expect("a guard");
    let mut kid = spawn_in(&job, &["--children", "2"], &mut r);
    let members: Vec<(u32, u64)> = r.0.clone();
    assert_eq!(members.len(), 3, "{members:?}");
    kill_if_same(guard, start_time_of(guard).unwrap());
    assert!(integration::wait_until(Duration::from_secs(5), || {
        guard_exited(guard)
    }));
    let t0 = Instant::now();
    drop(job);
    let took = t0.elapsed();
    for &(p, s) in &members {
        assert!(is_dead(p, s), "{p} survived the drop");
    }
    // Not the guard's close wait (10 s): a missing guard is seen at once.
    assert!(took < Duration::from_secs(5), "the drop took {took:?}");
    let _ = kid.wait();
}
