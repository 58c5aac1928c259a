//! Spawning into a job whose only cgroup is a v2 one (what a pure cgroup v2 machine
//! gives): the child is born in the job by `clone3(CLONE_INTO_CGROUP)` instead of
//! joining it from std's `fork` + hook. Each test checks the public outcome, and where
//! it makes sense that the std path (`__through_std_for_testing`) gives the same one.

use std::io::Write;
use std::time::Duration;

use corral::{Command, ErrorKind, Job, Resource, Rlimit, Stdio};
use integration::cgroups::{job_dirs, JobGuard};
use integration::{is_dead, read_stat, start_time_of, testbin_path, unique_name};

/// A kill-on-close job with only a v2 cgroup, or `None` (reason printed) when this
/// machine cannot make one.
fn v2_job() -> Option<JobGuard> {
    if !integration::is_root() {
        integration::print_skip("creates cgroups");
        return None;
    }
    if !Job::capabilities().v2 {
        eprintln!("SKIPPED: no writable cgroup v2 hierarchy here");
        return None;
    }
    let job = Job::builder()
        .name(&unique_name("b"))
        .kill_on_close(true)
        .__testing_v2_only()
        .create()
        .expect("create a v2-only job");
    assert_eq!(job_dirs(job.name()).len(), 1, "one cgroup, the v2 one");
    Some(JobGuard::new(job))
}

/// The job's cgroup as `/proc/PID/cgroup` names it on the v2 line.
fn v2_line(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn a_tree_spawned_into_the_job_is_born_in_it_and_dies_with_it() {
    let Some(job) = v2_job() else { return };
    let (child, line) = integration::spawn_testbin_in(&job, &["--children", "2", "--depth", "2"]);
    let desc = integration::ready_field(&line, "descendants");
    assert_eq!(desc.len(), 6, "{line}");
    let root = child.pid().as_raw();
    let mut all = vec![(root, start_time_of(root).unwrap())];
    all.extend(desc.iter().map(|&p| (p, start_time_of(p).unwrap())));
    let tag = format!("/corral-{}", job.name());
    for &(pid, _) in &all {
        assert!(v2_line(pid).ends_with(&tag), "{pid}: {}", v2_line(pid));
    }
    let mut want: Vec<u32> = all.iter().map(|a| a.0).collect();
    want.sort();
    assert_eq!(integration::job_member_pids(&job), want);
    assert!(job.contains(&child).unwrap());
    job.terminate().unwrap();
    for &(pid, st) in &all {
        assert!(is_dead(pid, st), "{pid} survived terminate");
    }
    job.wait_empty(Some(Duration::from_secs(5))).unwrap();
    drop(child);
}

/// Environment, working directory, stdin/stdout/stderr pipes and the exit code, the same
/// born in the job as through std.
#[test]
fn streams_environment_directory_and_exit_code_match_the_std_path() {
    let Some(job) = v2_job() else { return };
    let script = "read line; echo \"$line|$FOO|$(pwd)|${HOME-unset}\"; echo oops >&2; exit 7";
    let run = |through_std: bool| {
        let mut cmd = Command::new("sh")
            .args(["-c", script])
            .env_clear()
            .env("PATH", "/nonexistent:/usr/bin:/bin")
            .env("FOO", "a b=c")
            .current_dir("/tmp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .job(&job);
        if through_std {
            cmd = cmd.__through_std_for_testing();
        }
        let mut child = cmd.spawn().expect("spawn");
        assert_eq!(v2_line(child.pid().as_raw()), {
            let l = v2_line(std::process::id());
            format!("{}/corral-{}", l.trim_end_matches('/'), job.name())
        });
        child.take_stdin().unwrap().write_all(b"hello\n").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let born = run(false);
    assert_eq!(
        born,
        (Some(7), "hello|a b=c|/tmp|unset\n".into(), "oops\n".into())
    );
    assert_eq!(run(true), born);
}

/// The hook's options still apply: nice, umask, a new session, a user id, a resource
/// limit; a suspended start holds the child before its first instruction.
#[test]
fn hook_options_and_suspended_start_apply_when_born_in_the_job() {
    let Some(job) = v2_job() else { return };
    let out = Command::new("sh")
        .args([
            "-c",
            "umask; id -u; ulimit -n; cut -d' ' -f19 /proc/self/stat",
        ])
        .nice(7)
        .umask(0o027)
        .new_session(true)
        .uid(65534)
        .rlimit(
            Resource::Nofile,
            Rlimit {
                soft: Some(99),
                hard: Some(99),
            },
        )
        .stdout(Stdio::piped())
        .job(&job)
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "0027\n65534\n99\n7\n"
    );

    let mut child = Command::new(testbin_path())
        .args(["--exit", "5"])
        .suspended(true)
        .job(&job)
        .spawn()
        .unwrap();
    let pid = child.pid().as_raw();
    assert_eq!(read_stat(pid).unwrap().state, 'T');
    assert!(job.contains(&child).unwrap());
    child.resume().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(5));
}

/// Failures say what failed, as through std, and leave no child and no member.
#[test]
fn failures_are_explained_and_leave_nothing() {
    let Some(job) = v2_job() else { return };
    let missing = unique_name("no-such-program");
    for through_std in [false, true] {
        let with = |c: Command| {
            let c = c.job(&job);
            if through_std {
                c.__through_std_for_testing()
            } else {
                c
            }
        };
        let e = with(Command::new(&missing)).spawn().unwrap_err();
        assert!(e.to_string().contains("not found in PATH"), "{e}");
        let e = with(Command::new("true").current_dir("/nonexistent-corral"))
            .spawn()
            .unwrap_err();
        assert!(e.to_string().contains("working directory"), "{e}");
        let e = with(Command::new("/tmp")).spawn().unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
        // A hook step the kernel refuses, even to root: a limit above fs.nr_open.
        let e = with(Command::new("true").rlimit(
            Resource::Nofile,
            Rlimit {
                soft: Some(u64::MAX - 1),
                hard: Some(u64::MAX - 1),
            },
        ))
        .spawn()
        .unwrap_err();
        assert!(e.to_string().contains("resource limit"), "{e}");
        let e = with(Command::new("true").arg("a\0b")).spawn().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert!(job.is_empty().unwrap());
    assert!(integration::job_member_pids(&job).is_empty());
}

/// A job removed meanwhile: nothing to be born in, and the spawn fails naming the job.
#[test]
fn a_removed_job_fails_the_spawn() {
    let Some(job) = v2_job() else { return };
    let opened = Job::open(job.name()).unwrap();
    drop(job); // kill-on-close: removed whoever else holds a handle
    let e = Command::new(testbin_path())
        .job(&opened)
        .spawn()
        .unwrap_err();
    assert!(e.to_string().contains("job"), "{e}");
}
