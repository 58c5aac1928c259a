//! Kill-on-close: a job created with `kill_on_close(true)` dies with its `Job` handle and
//! with the process that created it, however that process dies. Checked from outside:
//! `/proc/PID/stat` of every member, the cgroup directories, the guard process.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use corral::{Command, Job};
use integration::cgroups::job_dirs;
use integration::{is_dead, kill_if_same, start_time_of, testbin_path, wait_for_exit};

/// One `job_owner` run: its process, and what it reported.
struct Owner {
    child: Child,
    out: BufReader<ChildStdout>,
    job: String,
    guard: u32,
    members: Vec<(u32, u64)>,
}

impl Owner {
    fn spawn(args: &[&str]) -> Owner {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_job_owner"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn job_owner");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("ready "), "job_owner said {line:?}");
        let get = |k: &str| integration::ready_word(&line, k);
        let members = integration::ready_pid_starts(&line, "members");
        Owner {
            job: get("job"),
            guard: get("guard").parse().unwrap(),
            members,
            child,
            out,
        }
    }
}

/// Kills whatever a failed trial left: members (by pid and start time) and the job.
impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            for &(p, s) in &self.members {
                kill_if_same(p, s);
            }
            if let Ok(j) = Job::open(&self.job) {
                let _ = j.terminate();
            }
        }
    }
}

/// Whether the guard `pid` has exited: gone, or a zombie waiting for its reaper (in a
/// nested pid namespace whose init does not reap, it stays one).
fn guard_exited(pid: u32) -> bool {
    match integration::read_stat(pid) {
        None => true,
        Some(s) => s.state == 'Z' || s.comm != "corral-guard",
    }
}

/// What the guard `pid` is doing, for a failure message: exited, or its state, kernel
/// wait channel and kernel stack.
fn guard_state(pid: u32) -> String {
    if guard_exited(pid) {
        return "guard exited".into();
    }
    let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
    let state = integration::read_stat(pid).map_or('?', |s| s.state);
    format!(
        "guard {pid} alive: state {state}, wchan {:?}, stack {:?}",
        read("wchan"),
        read("stack")
    )
}

#[test]
fn owner_sigkill_kills_every_member_and_removes_the_job_100_trials() {
    integration::require_root!("creates cgroups");
    let caps = Job::capabilities();
    let v1_freezer = caps.v1_controllers.iter().any(|c| c == "freezer");
    let mut survivors = Vec::new();
    let mut left = Vec::new();
    let t0 = Instant::now();
    for trial in 0..100 {
        // Mostly the normal path; every third trial a fallback (no cgroup.kill, or v1
        // only) where this machine has it; every tenth adds a daemon.
        let mut args = vec!["--members", "2", "--children", "1"];
        match trial % 3 {
            1 if caps.v2 => args.push("--no-cgroup-kill"),
            2 if v1_freezer => args.push("--v1-only"),
            _ => {}
        }
        if trial % 10 == 0 {
            args.push("--daemon");
        }
        let mut o = Owner::spawn(&args);
        assert!(
            o.members.len() >= 4,
            "trial {trial}: members {:?}",
            o.members
        );
        assert!(!job_dirs(&o.job).is_empty());
        assert!(!guard_exited(o.guard), "trial {trial}: no guard");
        o.child.kill().unwrap(); // SIGKILL: no destructor runs in the owner
        o.child.wait().unwrap();
        for &(p, s) in &o.members {
            if !wait_for_exit(p, s, Duration::from_secs(10)) {
                survivors.push((trial, p));
            }
        }
        let gone = integration::wait_until(Duration::from_secs(10), || {
            job_dirs(&o.job).is_empty() && guard_exited(o.guard)
        });
        if !gone {
            left.push((trial, job_dirs(&o.job), guard_state(o.guard)));
        }
    }
    assert!(survivors.is_empty(), "survivors: {survivors:?}");
    assert!(left.is_empty(), "left behind: {left:?}");
    eprintln!("100 kill-on-close trials in {:?}", t0.elapsed());
}

#[test]
fn owner_dropping_the_job_kills_it_before_drop_returns() {
    integration::require_root!("creates cgroups");
    let mut o = Owner::spawn(&["--members", "3", "--children", "2", "--daemon"]);
    drop(o.child.stdin.take()); // end of file: the owner drops the job
    let mut line = String::new();
    o.out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "dropped");
    for &(p, s) in &o.members {
        assert!(is_dead(p, s), "{p} survived the drop");
    }
    assert!(job_dirs(&o.job).is_empty(), "{:?}", job_dirs(&o.job));
    assert!(o.child.wait().unwrap().success());
}

#[test]
fn drop_kills_members_removes_the_job_and_ends_the_guard() {
    integration::require_root!("creates cgroups");
    let job = Job::builder().kill_on_close(true).create().unwrap();
    assert!(job.kills_on_close());
    let name = job.name().to_owned();
    let guard = job.__guard_pid().unwrap();
    // The guard: not our child, in a session of its own, no descriptor of ours (just the
    // pidfd of its owner and its socket end), working directory `/`.
    let st = integration::read_stat(guard).unwrap();
    assert_eq!(st.comm, "corral-guard");
    assert_ne!(st.ppid, std::process::id());
    assert_ne!(
        st.session,
        integration::read_stat(std::process::id()).unwrap().session
    );
    let fds: Vec<_> = std::fs::read_dir(format!("/proc/{guard}/fd"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_link(e.path()).unwrap())
        .collect();
    assert_eq!(fds.len(), 2, "{fds:?}");
    assert!(
        fds.iter().any(|l| l.to_string_lossy().contains("pidfd")),
        "{fds:?}"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{guard}/cwd")).unwrap(),
        std::path::Path::new("/")
    );
    // The guard is outside the job.
    let p = corral::Process::open(corral::Pid::new(guard).unwrap()).unwrap();
    assert!(!job.contains(&p).unwrap());
    let mut child = Command::new(testbin_path())
        .args(["--children", "3", "--depth", "2"])
        .stdout(Stdio::piped())
        .job(&job)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut all = vec![(
        child.pid().as_raw(),
        start_time_of(child.pid().as_raw()).unwrap(),
    )];
    for d in line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("descendants="))
        .unwrap()
        .split(',')
    {
        let d: u32 = d.parse().unwrap();
        all.push((d, start_time_of(d).unwrap()));
    }
    assert_eq!(all.len(), 13);
    drop(job);
    for &(p, s) in &all {
        assert!(is_dead(p, s), "{p} survived the drop");
    }
    assert!(job_dirs(&name).is_empty(), "{:?}", job_dirs(&name));
    assert!(integration::wait_until(Duration::from_secs(5), || {
        guard_exited(guard)
    }));
    drop(child);
}

#[test]
fn a_job_without_kill_on_close_keeps_its_members_on_drop() {
    integration::require_root!("creates cgroups");
    let job = Job::builder().create().unwrap();
    assert!(!job.kills_on_close());
    assert_eq!(job.__guard_pid(), None);
    let name = job.name().to_owned();
    let t = integration::TestProc::spawn::<&str>(&[]);
    job.assign(&corral::Process::open(corral::Pid::new(t.pid()).unwrap()).unwrap())
        .unwrap();
    drop(job);
    assert!(!is_dead(t.pid(), t.start_time()));
    assert!(!job_dirs(&name).is_empty());
    let again = Job::open(&name).unwrap();
    again.terminate().unwrap();
    drop(again);
    assert!(job_dirs(&name).is_empty());
}

#[test]
fn bad_builder_name_creates_nothing() {
    let e = Job::builder()
        .name("a/b")
        .kill_on_close(true)
        .create()
        .unwrap_err();
    assert_eq!(e.kind(), corral::ErrorKind::InvalidInput);
}

#[test]
fn dropping_the_owner_of_a_job_already_removed_ends_the_guard_at_once() {
    integration::require_root!("creates cgroups");
    let job = Job::builder().kill_on_close(true).create().unwrap();
    let guard = job.__guard_pid().unwrap();
    let name = job.name().to_owned();
    // Another handle's drop does not remove it (the owner's handle is open) …
    drop(Job::open(&name).unwrap());
    assert!(!job_dirs(&name).is_empty());
    // … but someone may remove the empty cgroups by hand (we made them: allowed here).
    for d in job_dirs(&name).iter().rev() {
        std::fs::remove_dir(d).unwrap();
    }
    // The guard then finds its cgroups gone: an empty job, nothing to wait for. (It
    // used to retry until its 30 s kill deadline, and the drop waited as long.)
    let t = Instant::now();
    drop(job);
    let took = t.elapsed();
    // (Its socket closes on the way out: the exit itself may take a moment more.)
    assert!(
        integration::wait_until(Duration::from_secs(10), || guard_exited(guard)),
        "the guard {guard} outlived its job"
    );
    assert!(
        took < Duration::from_secs(10),
        "dropping the owner hung for {took:?} on a job already removed"
    );
}
