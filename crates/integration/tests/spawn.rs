//! `corral::Command`: every option observed from outside on a real child.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::Duration;

use corral::os::linux::CommandExt as _;
use corral::{
    Command, ErrorKind, ExitStatus, IoClass, IoPriority, Resource, Rlimit, Signal, Status,
};
use integration::{testbin_path, TempDir};

fn testbin() -> Command {
    Command::new(testbin_path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
}

/// Reads the ready line of a child spawned with piped stdout.
fn ready(child: &mut corral::Child) -> String {
    let out = child.take_stdout().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    line
}

/// Children of this test process that are copies of it: what a spawn that failed before
/// `exec` would leave (other tests' children run testbin and are not counted).
fn unexec_children() -> Vec<u32> {
    let me = std::process::id();
    let exe = std::env::current_exe().unwrap();
    let mut v = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{me}/task"))
        .unwrap()
        .flatten()
    {
        let c = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        v.extend(
            c.split_whitespace()
                .filter_map(|s| s.parse::<u32>().ok())
                .filter(|pid| {
                    let st = integration::read_stat(*pid);
                    let same_exe =
                        std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&exe);
                    same_exe
                        || st.is_some_and(|s| {
                            s.state == 'Z'
                                && s.comm
                                    == exe.file_name().unwrap().to_string_lossy()
                                        [..s.comm.len().min(15)]
                        })
                }),
        );
    }
    v
}

#[test]
fn suspended_child_runs_nothing_until_resumed() {
    let dir = TempDir::new("corral-susp");
    let marker = dir.path().join("side-effect");
    let mut child = testbin()
        .args(["--open-write", marker.to_str().unwrap()])
        .suspended(true)
        .spawn()
        .unwrap();
    // It exists, has exec'd the program, and is stopped before the program's first
    // instruction: its side effect (creating a file) has not happened.
    assert_eq!(child.exe().unwrap().unwrap(), testbin_path());
    // Stopped as soon as spawn returns.
    assert_eq!(child.status().unwrap(), Status::Stopped);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!marker.exists(), "the suspended child ran");
    let t = child.cpu_times().unwrap();
    assert_eq!(
        t.user,
        Duration::ZERO,
        "no user-mode instruction ran: {t:?}"
    );
    // It can be prepared while suspended, then resumed.
    child.set_nice(3).unwrap();
    child.resume().unwrap();
    ready(&mut child);
    assert!(marker.exists());
    assert_eq!(child.nice().unwrap(), 3);
}

#[test]
fn scheduling_limits_and_umask_apply_before_the_program_runs() {
    let cpus = corral::Process::current().unwrap().cpu_affinity().unwrap();
    let mut child = testbin()
        .nice(7)
        .cpu_affinity(&cpus[..1])
        .io_priority(IoPriority {
            class: IoClass::BestEffort,
            level: 5,
        })
        .rlimit(
            Resource::Nofile,
            Rlimit {
                soft: Some(64),
                hard: Some(128),
            },
        )
        .rlimit(
            Resource::Core,
            Rlimit {
                soft: Some(0),
                hard: Some(0),
            },
        )
        .umask(0o027)
        .spawn()
        .unwrap();
    ready(&mut child);
    assert_eq!(child.nice().unwrap(), 7);
    assert_eq!(child.cpu_affinity().unwrap(), cpus[..1].to_vec());
    assert_eq!(
        child.ionice().unwrap(),
        IoPriority {
            class: IoClass::BestEffort,
            level: 5
        }
    );
    assert_eq!(
        child.rlimit(Resource::Nofile).unwrap(),
        Rlimit {
            soft: Some(64),
            hard: Some(128)
        }
    );
    assert_eq!(
        child.rlimit(Resource::Core).unwrap(),
        Rlimit {
            soft: Some(0),
            hard: Some(0)
        }
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid())).unwrap();
    assert!(status.lines().any(|l| l == "Umask:\t0027"), "{status}");
}

#[test]
fn session_group_cwd_and_env() {
    let dir = TempDir::new("corral-cwd");
    let mut child = testbin()
        .new_session(true)
        .current_dir(dir.path())
        .env_clear()
        .env("CORRAL_X", "1 2")
        .spawn()
        .unwrap();
    ready(&mut child);
    let g = child.process_group().unwrap();
    assert_eq!(
        (g.session, g.pgid),
        (child.pid().as_raw(), child.pid().as_raw())
    );
    assert_eq!(child.cwd().unwrap(), dir.path());
    assert_eq!(
        child.environ().unwrap(),
        vec![("CORRAL_X".into(), "1 2".into())]
    );
    let mut pg = testbin().new_process_group(true).spawn().unwrap();
    ready(&mut pg);
    let g = pg.process_group().unwrap();
    assert_eq!(g.pgid, pg.pid().as_raw());
    assert_ne!(g.session, pg.pid().as_raw());
}

#[test]
fn user_group_and_supplementary_groups() {
    integration::require_root!();
    let (uid, gid) = integration::nobody_ids();
    let mut child = testbin()
        .uid(uid)
        .gid(gid)
        .groups(&[gid, 4242])
        .spawn()
        .unwrap();
    ready(&mut child);
    let u = child.uids().unwrap();
    assert_eq!((u.real, u.effective, u.saved), (uid, uid, uid));
    assert_eq!(child.gids().unwrap().real, gid);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid())).unwrap();
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    let mut got: Vec<u32> = groups
        .split_whitespace()
        .skip(1)
        .map(|g| g.parse().unwrap())
        .collect();
    got.sort_unstable();
    let mut want = vec![gid, 4242];
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn privileged_settings_apply_before_privileges_are_dropped() {
    // A negative nice value needs root; it is set before the child becomes nobody.
    integration::require_root!();
    let (uid, gid) = integration::nobody_ids();
    let mut c = testbin()
        .uid(uid)
        .gid(gid)
        .groups(&[])
        .nice(-5)
        .spawn()
        .unwrap();
    ready(&mut c);
    assert_eq!(c.nice().unwrap(), -5);
    assert_eq!(c.uids().unwrap().effective, uid);
}

#[test]
fn closed_and_kept_descriptors() {
    let dir = TempDir::new("corral-fds");
    let f = std::fs::File::create(dir.path().join("inherit")).unwrap();
    let k = std::fs::File::create(dir.path().join("keep")).unwrap();
    // Make both inheritable, as a careless caller's descriptors would be.
    for file in [&f, &k] {
        rustix::io::fcntl_setfd(file, rustix::io::FdFlags::empty()).unwrap();
    }
    let fd_of =
        |c: &corral::Child, n: i32| std::fs::read_link(format!("/proc/{}/fd/{n}", c.pid())).ok();
    let mut open = testbin().spawn().unwrap();
    ready(&mut open);
    assert!(
        fd_of(&open, f.as_raw_fd()).is_some(),
        "inherited by default"
    );
    let mut closed = testbin()
        .close_inherited(true)
        .keep_fd(std::os::fd::AsFd::as_fd(&k))
        .spawn()
        .unwrap();
    ready(&mut closed);
    assert!(fd_of(&closed, f.as_raw_fd()).is_none(), "closed");
    assert_eq!(
        fd_of(&closed, k.as_raw_fd()).unwrap(),
        dir.path().join("keep")
    );
}

#[test]
fn parent_death_signal_fires_when_the_spawning_thread_ends() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut c = testbin()
            .kill_on_drop(false)
            .parent_death_signal(Signal::Kill)
            .spawn()
            .unwrap();
        ready(&mut c);
        let p = corral::Process::open(c.pid()).unwrap();
        tx.send(p).unwrap();
        std::mem::forget(c); // the thread ends; the child must die with it
    })
    .join()
    .unwrap();
    let p = rx.recv().unwrap();
    let st = p.wait(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(st.signal(), Some(Signal::Kill));
}

#[test]
fn redirected_io_beyond_a_pipe_buffer() {
    let dir = TempDir::new("corral-io");
    let input = dir.path().join("in");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let out = Command::new(testbin_path())
        .args(["--cat", "--spew-stderr", "200000", "--exit", "3"])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status, ExitStatus::Exited(3));
    assert_eq!(&out.stdout[..data.len()], &data[..]);
    assert!(out.stdout[data.len()..].starts_with(b"ready "));
    assert_eq!(out.stderr, vec![b'e'; 200_000]);
}

#[test]
fn pty_is_the_controlling_terminal() {
    let mut child = Command::new(testbin_path())
        .pty(true)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let master = child.pty().unwrap();
    while master.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    assert!(
        String::from_utf8_lossy(&line).starts_with("ready "),
        "{line:?}"
    );
    let tty = child.terminal().unwrap().expect("a controlling terminal");
    assert!(tty.starts_with("/dev/pts/"), "{tty}");
    let g = child.process_group().unwrap();
    assert_eq!(g.session, child.pid().as_raw());
}

#[test]
fn bad_input_names_the_problem_and_leaves_no_child() {
    let before = unexec_children().len();
    let e = Command::new("corral-no-such-program")
        .env("PATH", "/nonexistent:/also-not")
        .spawn()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("not found in PATH (/nonexistent:/also-not)"),
        "{e}"
    );
    let e = Command::new("/etc").spawn().unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
    let e = Command::new(testbin_path())
        .current_dir("/no/such/dir")
        .spawn()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("working directory /no/such/dir does not exist"),
        "{e}"
    );
    let e = Command::new(testbin_path()).nice(99).spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = Command::new(testbin_path())
        .rlimit(
            Resource::Nofile,
            Rlimit {
                soft: Some(10),
                hard: Some(5),
            },
        )
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = Command::new(testbin_path())
        .cpu_affinity(&[])
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = Command::new("").spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // A limit the kernel refuses (raising a hard limit without privilege) names the step.
    if !integration::is_root() {
        let e = Command::new(testbin_path())
            .rlimit(
                Resource::Nofile,
                Rlimit {
                    soft: None,
                    hard: None,
                },
            )
            .spawn()
            .unwrap_err();
        assert!(e.to_string().contains("resource limit"), "{e}");
    }
    // Other tests of this binary fork too, and their children are copies of it until they
    // exec: wait for the transient ones to pass. A leaked child stays and fails this.
    let mut now = 0;
    assert!(
        integration::wait_until(Duration::from_secs(5), || {
            now = unexec_children().len();
            now <= before
        }),
        "a failed spawn left a child behind: {now} copies of the test, {before} before"
    );
}

#[test]
fn stop_continue_and_exit_events_of_a_child() {
    use corral::ChildEvent;
    let mut child = testbin()
        .args(["--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    ready(&mut child);
    assert_eq!(child.try_wait_event().unwrap(), None);
    child.suspend().unwrap();
    assert_eq!(
        child.wait_event().unwrap(),
        ChildEvent::Stopped(Signal::Stop)
    );
    child.resume().unwrap();
    assert_eq!(child.wait_event().unwrap(), ChildEvent::Continued);
    drop(child.take_stdin());
    assert_eq!(
        child.wait_event().unwrap(),
        ChildEvent::Exited(ExitStatus::Exited(0))
    );
    // The exit was not consumed: wait() still reaps it with the same status.
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
}

#[test]
fn forwarding_spawn_leaves_the_child_signal_mask_clean() {
    // Regression: the signals blocked around the spawn (so none is lost before the
    // forwarding handlers exist) must not stay blocked in the child.
    let mut child = testbin().forward_signals(true).spawn().unwrap();
    ready(&mut child);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid())).unwrap();
    let blk = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    assert_eq!(
        blk.split_whitespace().nth(1),
        Some("0000000000000000"),
        "{blk}"
    );
    child.terminate().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::Term));
}
