//! Race-freedom: a `Process` whose pid was reused never reaches the new process.

use std::time::Duration;

use corral::{ErrorKind, Pid, Process};

fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}
use integration::TestProc;

/// Spawns testbin processes until one gets `pid` (steering the kernel's next pid through
/// `/proc/sys/kernel/ns_last_pid`, which needs root). Returns `None` if other processes
/// on the machine kept taking the pid.
fn spawn_onto_pid(pid: u32) -> Option<TestProc> {
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1))
            .expect("write ns_last_pid");
        let t = TestProc::spawn::<&str>(&[]);
        if t.pid() == pid {
            return Some(t);
        }
    }
    None
}

#[test]
fn reused_pid_is_not_the_same_process() {
    integration::require_root!();
    let mut old = TestProc::builder()
        .stdin_piped()
        .arg("--exit-on-stdin-eof")
        .spawn();
    let pid = old.pid();
    let handle = Process::open(Pid::new(pid).unwrap()).unwrap();
    let old_inode = handle.pidfs_inode();
    old.close_stdin();
    assert!(old.wait().success()); // exited and reaped: the pid is free
    let new = spawn_onto_pid(pid).expect("could not steer a new process onto the old pid");
    assert_eq!(new.pid(), pid);
    let fresh = Process::open(Pid::new(pid).unwrap()).unwrap();
    let (nice0, lim0, aff0) = (
        fresh.nice().unwrap(),
        fresh.rlimit(corral::Resource::Nofile).unwrap(),
        fresh.cpu_affinity().unwrap(),
    );

    // The old handle sees no process, and its setters touch nothing.
    assert!(!handle.is_running());
    for e in [
        handle.name().unwrap_err(),
        handle.cmdline().unwrap_err(),
        handle.memory_info().unwrap_err(),
        handle.set_nice(10).unwrap_err(),
        handle.set_cpu_affinity(&[0]).unwrap_err(),
        handle
            .set_rlimit(
                corral::Resource::Nofile,
                corral::Rlimit {
                    soft: Some(10),
                    hard: Some(10),
                },
            )
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NoSuchProcess, "{e}");
    }
    assert_eq!(
        fresh.nice().unwrap(),
        nice0,
        "the new process was not reniced"
    );
    assert_eq!(fresh.rlimit(corral::Resource::Nofile).unwrap(), lim0);
    assert_eq!(fresh.cpu_affinity().unwrap(), aff0);
    // (The two may even share a start-time tick: the pidfd, not the start time, is what
    // made every call above refuse.)
    // A stale PID:INODE reference is refused even though the pid exists.
    if let Some(inode) = old_inode {
        let r: corral::ProcessRef = format!("{pid}:{inode}").parse().unwrap();
        assert_eq!(
            Process::open_ref(r).unwrap_err().kind(),
            ErrorKind::NoSuchProcess
        );
        assert_ne!(fresh.pidfs_inode(), Some(inode));
    }
}

#[test]
fn snapshot_row_open_refuses_a_reused_pid() {
    integration::require_root!();
    let mut old = TestProc::builder()
        .stdin_piped()
        .arg("--exit-on-stdin-eof")
        .spawn();
    let pid = Pid::new(old.pid()).unwrap();
    let row = corral::Snapshot::new()
        .pids(&[pid])
        .collect()
        .unwrap()
        .remove(0);
    old.close_stdin();
    assert!(old.wait().success());
    // A snapshot row identifies a process by pid and start time in clock ticks; real pid
    // reuse takes a whole wrap of the pid space, far longer than a tick, so model that.
    std::thread::sleep(Duration::from_secs_f64(2.0 / ticks_per_second()));
    let _new =
        spawn_onto_pid(pid.as_raw()).expect("could not steer a new process onto the old pid");
    assert_eq!(row.open().unwrap_err().kind(), ErrorKind::NoSuchProcess);
}
