//! Jobs: cgroup-backed process groups, checked from outside (`/proc/PID/cgroup`, the
//! cgroup directories, `/proc/PID/stat`). Everything needing root skips (loudly) without.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use corral::{Command, ErrorKind, Job, Pid, Process};
use integration::cgroups::{job_dirs as dirs_of, own_dirs, JobGuard as Guard};
use integration::{is_dead, start_time_of, testbin_path, unique_name, TestProc};

fn v2_dir(name: &str) -> Option<PathBuf> {
    own_dirs()
        .into_iter()
        .find(|(v2, _, _)| *v2)
        .map(|(_, _, d)| d.join(format!("corral-{name}")))
}

/// A guarded new job with a unique name.
fn new_guard() -> Guard {
    Guard::new(Job::create(Some(&unique_name("t"))).expect("create job"))
}

fn open(pid: u32) -> Process {
    Process::open(Pid::new(pid).unwrap()).unwrap()
}

fn cgroup_file(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default()
}

/// Spawns testbin into `job` with `args`, returns the child and its ready line.
fn spawn_in(job: &Job, args: &[&str]) -> (corral::Child, String) {
    let (child, line) = integration::spawn_testbin_in(job, args);
    assert!(line.starts_with("ready "), "{line:?}");
    (child, line)
}

#[test]
fn bad_names_are_refused_and_create_nothing() {
    // Validation comes first: no root needed.
    let long = "n".repeat(65);
    for bad in ["a/b", "..", ".", "", "a\0b", "a b", long.as_str()] {
        let e = Job::create(Some(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
        assert!(e.detail().is_some(), "{bad:?}");
        let e = Job::open(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
    }
    for (_, _, d) in own_dirs() {
        assert!(!d.join("corral-a").exists() && !d.join("corral-").exists());
    }
    let caps = Job::capabilities();
    assert_eq!(caps.membership, caps.v2 || !caps.v1_controllers.is_empty());
}

#[test]
fn create_open_and_drop() {
    integration::require_root!("creates cgroups");
    let name = unique_name("c");
    let job = Job::create(Some(&name)).unwrap();
    assert_eq!(job.name(), name);
    let dirs = dirs_of(&name);
    let caps = Job::capabilities();
    assert!(caps.membership, "{caps:?}");
    assert_eq!(
        dirs.len(),
        usize::from(caps.v2) + caps.v1_controllers.len(),
        "{dirs:?} {caps:?}"
    );
    if caps.v2 {
        assert!(v2_dir(&name).unwrap().is_dir());
    }
    // The same name again is refused; open finds it.
    let e = Job::create(Some(&name)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("exists"), "{e}");
    assert_eq!(dirs_of(&name).len(), dirs.len());
    let again = Job::open(&name).unwrap();
    assert_eq!(again.name(), name);
    assert!(again.is_empty().unwrap());
    assert_eq!(
        Job::open(&unique_name("none")).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // The job goes with its last handle, not with the first one dropped.
    drop(job);
    assert_eq!(
        dirs_of(&name).len(),
        dirs.len(),
        "removed while a handle was open"
    );
    drop(again);
    assert!(dirs_of(&name).is_empty());
    // A generated name is valid and unique.
    let a = Job::create(None).unwrap();
    let b = Job::create(None).unwrap();
    assert_ne!(a.name(), b.name());
    assert!(!dirs_of(a.name()).is_empty());
    let an = a.name().to_owned();
    drop(a);
    assert!(dirs_of(&an).is_empty());
}

#[test]
fn assign_moves_a_process_in_every_hierarchy() {
    integration::require_root!("creates cgroups");
    let job = new_guard();
    let t = TestProc::spawn::<&str>(&[]);
    let p = open(t.pid());
    assert!(!job.contains(&p).unwrap());
    job.assign(&p).unwrap();
    assert!(job.contains(&p).unwrap());
    assert_eq!(integration::job_member_pids(&job), vec![t.pid()]);
    let cg = cgroup_file(t.pid());
    let name = format!("corral-{}", job.name());
    let caps = Job::capabilities();
    let lines_in = cg
        .lines()
        .filter(|l| l.ends_with(&format!("/{name}")))
        .count();
    assert_eq!(
        lines_in,
        usize::from(caps.v2) + caps.v1_controllers.len(),
        "{cg}"
    );
    let r = Job::of(&p).unwrap().unwrap();
    assert_eq!(r.name, job.name());
    assert_eq!(Job::current().unwrap(), None);
    // Dropping a job with members leaves it; terminate empties it.
    job.terminate().unwrap();
    assert!(is_dead(t.pid(), t.start_time()));
    assert!(job.processes().unwrap().is_empty());
}

#[test]
fn assign_of_an_exited_process_is_no_such_process() {
    integration::require_root!("creates cgroups");
    let job = new_guard();
    let mut t = TestProc::spawn::<&str>(&[]);
    let p = open(t.pid());
    t.kill_all();
    let e = job.assign(&p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchProcess, "{e}");
    assert!(job.is_empty().unwrap());
}

#[test]
fn tree_spawned_into_the_job_is_all_in_it_and_terminate_kills_all() {
    integration::require_root!("creates cgroups");
    let job = new_guard();
    let (child, line) = spawn_in(&job, &["--children", "3", "--depth", "2"]);
    let desc = integration::ready_field(&line, "descendants");
    assert_eq!(desc.len(), 12, "{line}");
    let mut all: Vec<(u32, u64)> = vec![(
        child.pid().as_raw(),
        start_time_of(child.pid().as_raw()).unwrap(),
    )];
    all.extend(desc.iter().map(|&p| (p, start_time_of(p).unwrap())));
    let mut want: Vec<u32> = all.iter().map(|a| a.0).collect();
    want.sort();
    assert_eq!(integration::job_member_pids(&job), want);
    let tag = format!("/corral-{}", job.name());
    for &(pid, _) in &all {
        assert!(cgroup_file(pid).contains(&tag), "{pid}");
    }
    let t0 = Instant::now();
    job.terminate().unwrap();
    for &(pid, st) in &all {
        assert!(is_dead(pid, st), "{pid} survived terminate");
    }
    assert!(t0.elapsed() < Duration::from_secs(10));
    job.wait_empty(Some(Duration::from_secs(1))).unwrap();
    assert!(job.is_empty().unwrap());
    drop(child);
}

#[test]
fn daemons_and_new_sessions_stay_in_the_job() {
    integration::require_root!("creates cgroups");
    let job = new_guard();
    let (mut c1, l1) = spawn_in(&job, &["--daemonize"]);
    let daemon = integration::ready_field(&l1, "pid")[0];
    let dst = start_time_of(daemon).unwrap();
    assert_ne!(daemon, c1.pid().as_raw());
    // The launcher exits once the daemon is ready.
    c1.wait().unwrap();
    let (c2, l2) = spawn_in(&job, &["--setsid"]);
    assert_eq!(
        integration::ready_field(&l2, "sid"),
        vec![c2.pid().as_raw()]
    );
    let members = integration::job_member_pids(&job);
    assert!(members.contains(&daemon), "{members:?}");
    assert!(members.contains(&c2.pid().as_raw()), "{members:?}");
    assert!(job.contains(&open(daemon)).unwrap());
    job.terminate().unwrap();
    assert!(is_dead(daemon, dst));
    drop(c2);
}

#[test]
fn freeze_stops_members_and_thaw_resumes_them() {
    integration::require_root!("creates cgroups");
    let caps = Job::capabilities();
    if !caps.freeze {
        integration::print_skip("no cgroup freezer on this machine");
        return;
    }
    let job = new_guard();
    let (child, _) = spawn_in(&job, &["--burn"]);
    let pid = child.pid().as_raw();
    assert!(!job.is_frozen().unwrap());
    job.freeze().unwrap();
    assert!(job.is_frozen().unwrap());
    if let Some(d) = v2_dir(job.name()).filter(|d| d.join("cgroup.freeze").exists()) {
        let ev = std::fs::read_to_string(d.join("cgroup.events")).unwrap();
        assert!(ev.contains("frozen 1"), "{ev}");
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
    // Terminate works on a frozen job too.
    job.freeze().unwrap();
    job.terminate().unwrap();
    assert!(job.is_empty().unwrap());
    drop(child);
}

#[test]
fn wait_empty_times_out_then_returns_when_members_exit() {
    integration::require_root!("creates cgroups");
    let job = new_guard();
    let (child, _) = spawn_in(&job, &["--sleep-ms", "300"]);
    let e = job.wait_empty(Some(Duration::from_millis(20))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    job.wait_empty(Some(Duration::from_secs(10))).unwrap();
    assert!(job.is_empty().unwrap());
    drop(child);
}

#[test]
fn spawn_into_a_removed_job_fails_and_leaves_no_child() {
    integration::require_root!("creates cgroups");
    let name = unique_name("r");
    let job = Job::builder()
        .name(&name)
        .kill_on_close(true)
        .create()
        .unwrap();
    let opened = Job::open(&name).unwrap();
    drop(job); // kill-on-close: removed, whoever else holds a handle
    assert!(dirs_of(&name).is_empty());
    let e = Command::new(testbin_path())
        .job(&opened)
        .spawn()
        .unwrap_err();
    assert!(e.to_string().contains("job"), "{e}");
}

/// The fallbacks: a job on the v1 hierarchies only (freezer.state, v1 cgroup.procs,
/// pidfd waits), and a v2 job acting as if cgroup.kill were missing (freeze, kill, thaw).
#[test]
fn fallbacks_v1_only_and_without_cgroup_kill() {
    integration::require_root!("creates cgroups");
    let caps = Job::capabilities();
    let mut modes = Vec::new();
    if caps.v1_controllers.iter().any(|c| c == "freezer") {
        modes.push((false, true));
    }
    if caps.v2 {
        modes.push((true, false));
    }
    if modes.is_empty() {
        integration::print_skip("neither a v1 freezer nor cgroup v2 here");
        return;
    }
    for (use_v2, use_kill) in modes {
        let name = unique_name("f");
        let job = Guard::new(Job::__create_for_testing(Some(&name), use_v2, use_kill).unwrap());
        let (child, line) = spawn_in(&job, &["--children", "2", "--depth", "2", "--burn"]);
        let mut all: Vec<(u32, u64)> = vec![(
            child.pid().as_raw(),
            start_time_of(child.pid().as_raw()).unwrap(),
        )];
        all.extend(
            integration::ready_field(&line, "descendants")
                .iter()
                .map(|&p| (p, start_time_of(p).unwrap())),
        );
        assert_eq!(all.len(), 7, "{line}");
        assert_eq!(integration::job_member_pids(&job).len(), 7, "v2={use_v2}");
        job.freeze().unwrap();
        assert!(job.is_frozen().unwrap());
        let before = integration::cpu_ticks(child.pid().as_raw());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            integration::cpu_ticks(child.pid().as_raw()),
            before,
            "v2={use_v2}"
        );
        job.thaw().unwrap();
        assert!(!job.is_frozen().unwrap());
        let e = job.wait_empty(Some(Duration::from_millis(20))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        job.terminate().unwrap();
        for &(pid, st) in &all {
            assert!(is_dead(pid, st), "{pid} survived (v2={use_v2})");
        }
        job.wait_empty(Some(Duration::from_secs(1))).unwrap();
        drop(child);
        drop(job);
        assert!(dirs_of(&name).is_empty());
    }
}

#[test]
fn trim_memory_pages_out_a_members_mapped_file() {
    integration::require_root!("jobs and trimming another process need root");
    let dir = integration::TempDir::new("jobtrim");
    let path = dir.path().join("blob");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 5 + 1) as u8).collect();
        for _ in 0..16 {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap(); // clean pages can be dropped at once
    }
    let name;
    {
        let job = new_guard();
        name = job.name().to_owned();
        let (child, _) = spawn_in(&job, &["--map-file", path.to_str().unwrap()]);
        let pid = child.pid().as_raw();
        let rss = || -> u64 {
            let s = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
            s.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
        };
        assert!(rss() >= 16 << 20, "the 16 MiB file is resident: {}", rss());
        let r = job.trim_memory().unwrap();
        eprintln!("job trim: {r:?}");
        assert!(r.paged_out() > 0, "{r:?}");
        assert!(
            r.paged_out() >= 12 << 20,
            "most of the file's 16 MiB: {r:?}"
        );
        if !r.reclaimed {
            // Trimmed member by member: the one member, its resident set measured.
            assert_eq!(r.members, 1, "{r:?}");
            assert!(rss() <= r.after + (1 << 20), "{r:?} vs {}", rss());
        }
        assert!(rss() < 8 << 20, "the file went: {}", rss());
    }
    assert!(
        dirs_of(&name).is_empty(),
        "cgroups left: {:?}",
        dirs_of(&name)
    );
}

#[test]
fn trim_memory_of_an_empty_job_reports_nothing() {
    integration::require_root!("jobs need root");
    let job = new_guard();
    let r = job.trim_memory().unwrap();
    assert_eq!(r.paged_out(), 0, "{r:?}");
    assert_eq!(r.members, 0, "{r:?}");
}

/// A handle in another process keeps an empty job; the job goes with the last handle,
/// also when that process dies by SIGKILL (the kernel drops its lock).
#[test]
fn a_handle_in_another_process_keeps_the_empty_job_until_it_goes() {
    integration::require_root!("creates cgroups");
    use std::io::{BufRead, BufReader};
    let owner_bin = env!("CARGO_BIN_EXE_job_owner");
    for kill in [false, true] {
        let name = unique_name("h");
        let job = Job::create(Some(&name)).unwrap();
        let n = dirs_of(&name).len();
        let mut other = std::process::Command::new(owner_bin)
            .args(["--open", &name])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(other.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "opened");
        drop(job);
        assert_eq!(
            dirs_of(&name).len(),
            n,
            "removed while another process held it"
        );
        // That other process's handle is now the last one: it removes the job.
        if kill {
            other.kill().unwrap(); // SIGKILL: no drop runs; the job stays, empty
            other.wait().unwrap();
            assert_eq!(dirs_of(&name).len(), n);
            // Any later handle is then the last one and removes it.
            drop(Job::open(&name).unwrap());
        } else {
            drop(other.stdin.take()); // end of file: it drops its handle
            line.clear();
            out.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "dropped");
            assert!(other.wait().unwrap().success());
        }
        assert!(dirs_of(&name).is_empty(), "{:?}", dirs_of(&name));
    }
}

/// Another process watching for a job by name (`corral job show NAME` in a loop, say)
/// opens and drops it while its creator is still making it: the opener's drop must not
/// remove the new, empty job under its creator. Here a thread opens and drops the name
/// as fast as it can while the main thread creates the job, spawns into it, and drops
/// it, many times over.
#[test]
fn opening_a_job_while_it_is_created_never_removes_it() {
    integration::require_root!("creates cgroups");
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let name = unique_name("race");
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let opener = {
        let (name, stop, opened) = (name.clone(), Arc::clone(&stop), Arc::clone(&opened));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(j) = Job::open(&name) {
                    opened.fetch_add(1, Ordering::Relaxed);
                    drop(j);
                }
            }
        })
    };
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop = Stop(Arc::clone(&stop));
    for trial in 0..150 {
        let job = Guard::new(Job::create(Some(&name)).unwrap());
        let mut c = Command::new(testbin_path())
            .args(["--exit", "0"])
            .job(&job)
            .spawn()
            .unwrap_or_else(|e| panic!("trial {trial}: spawn into the new job: {e}"));
        c.wait().unwrap();
        drop(job);
        // Removed by this drop, or by the opener's if it held a handle just then.
        assert!(
            integration::wait_until(Duration::from_secs(5), || dirs_of(&name).is_empty()),
            "trial {trial}: left {:?}",
            dirs_of(&name)
        );
    }
    stop.store(true, Ordering::Relaxed);
    opener.join().unwrap();
    // The opener did race the creations (else this checked nothing).
    assert!(opened.load(Ordering::Relaxed) > 0);
}
