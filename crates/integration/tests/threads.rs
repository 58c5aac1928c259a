//! Threads, thread priority levels, background mode, trimming, NUMA and group/user
//! priorities — each checked against /proc (or a syscall) read independently.

use std::time::Duration;

use corral::{
    ErrorKind, IoClass, Pid, PriorityClass, Process, SchedPolicy, Thread, ThreadPriority, Tid,
};
use integration::{wait_until, TestProc};

fn open(t: &TestProc) -> Process {
    Process::open(Pid::new(t.pid()).unwrap()).unwrap()
}

fn tid(n: u32) -> Tid {
    Tid::new(n).unwrap()
}

/// (policy, nice, rt_priority) of one thread from /proc/PID/task/TID/stat.
fn task_sched(pid: u32, tid: u32) -> (u32, i32, u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // f[0] is field 3: nice is field 19, rt_priority 40, policy 41.
    (
        f[38].parse().unwrap(),
        f[16].parse().unwrap(),
        f[37].parse().unwrap(),
    )
}

/// CPU time (utime + stime ticks) of one thread.
fn task_ticks(pid: u32, tid: u32) -> u64 {
    integration::read_task_stat(pid, tid)
        .expect("thread alive")
        .cpu_ticks
}

/// `Cpus_allowed_list` of one thread, expanded.
fn task_cpus(pid: u32, tid: u32) -> Vec<usize> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    let line = s
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap();
    cpu_list(line.trim())
}

fn cpu_list(s: &str) -> Vec<usize> {
    let mut v = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => v.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => v.push(part.parse().unwrap()),
        }
    }
    v
}

fn task_ids(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_str().unwrap().parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, tid)`: (class, level).
fn ioprio(tid: u32) -> (u32, u32) {
    // SAFETY: ioprio_get takes two integers.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, 1 as libc::c_long, tid as libc::c_long) };
    assert!(r >= 0, "ioprio_get: {}", std::io::Error::last_os_error());
    ((r as u32) >> 13, (r as u32) & 7)
}

#[test]
fn threads_have_names_counts_and_growing_cpu_time() {
    let t = TestProc::spawn(&["--threads", "3", "--burn-thread"]);
    let p = open(&t);
    let burner: u32 = t.info("burner_tid").unwrap().parse().unwrap();
    let th = p.threads().unwrap();
    assert_eq!(th.len(), 5);
    let tids: Vec<u32> = th.iter().map(|x| x.tid.as_raw()).collect();
    assert_eq!(tids, task_ids(t.pid()));
    let mut names: Vec<&str> = th.iter().map(|x| x.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["burner", "testbin", "worker-0", "worker-1", "worker-2"]
    );
    let proc_start = p.start_time().unwrap().raw;
    for x in &th {
        assert!(x.start.raw >= proc_start);
        assert_eq!(x.policy, SchedPolicy::Normal);
        assert_eq!(x.priority, ThreadPriority::Normal);
        assert_eq!(x.affinity, task_cpus(t.pid(), x.tid.as_raw()));
        assert!(x.cpu.is_some());
    }
    for w in t.list("tids") {
        let x = th.iter().find(|x| x.tid.as_raw() == w).unwrap();
        assert!(x.name.starts_with("worker-"));
    }
    // The burner's own CPU time grows; an idle worker's does not move with it.
    let first = th
        .iter()
        .find(|x| x.tid.as_raw() == burner)
        .unwrap()
        .clone();
    let thr = p.thread(tid(burner)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        let now = thr.info().unwrap();
        now.user + now.system >= first.user + first.system + Duration::from_millis(200)
    }));
    let info = thr.info().unwrap();
    let ticks = task_ticks(t.pid(), burner);
    let hz = 100; // USER_HZ on Linux
    assert!((info.user + info.system).as_millis() as u64 <= (ticks + 5) * 1000 / hz);
    assert!(info.ctx_switches.involuntary + info.ctx_switches.voluntary > 0);
    // Thread::open finds the owner of a tid.
    let o = Thread::open(tid(burner)).unwrap();
    assert_eq!(o.pid().as_raw(), t.pid());
    assert_eq!(o.name().unwrap(), "burner");
    assert_eq!(o.process().unwrap().pid(), p.pid());
}

#[test]
fn one_threads_affinity_changes_alone() {
    let t = TestProc::spawn(&["--threads", "2"]);
    let p = open(&t);
    let w = t.list("tids")[1];
    let before: Vec<Vec<usize>> = task_ids(t.pid())
        .iter()
        .map(|&x| task_cpus(t.pid(), x))
        .collect();
    let th = p.thread(tid(w)).unwrap();
    let last = *before[0].last().unwrap();
    th.set_cpu_affinity(&[last]).unwrap();
    assert_eq!(task_cpus(t.pid(), w), vec![last]);
    assert_eq!(th.cpu_affinity().unwrap(), vec![last]);
    for (i, &x) in task_ids(t.pid()).iter().enumerate() {
        if x != w {
            assert_eq!(task_cpus(t.pid(), x), before[i], "thread {x} changed too");
        }
    }
    // The process-wide call reaches every thread.
    p.set_cpu_affinity(&[0]).unwrap();
    for x in task_ids(t.pid()) {
        assert_eq!(task_cpus(t.pid(), x), vec![0], "thread {x}");
    }
}

#[test]
fn every_level_round_trips_on_one_thread() {
    integration::require_root!("levels above Normal need CAP_SYS_NICE");
    let t = TestProc::spawn(&["--threads", "2"]);
    let p = open(&t);
    for class in [
        PriorityClass::Normal,
        PriorityClass::BelowNormal,
        PriorityClass::Realtime,
    ] {
        p.set_priority_class(class).unwrap();
        let w = t.list("tids")[0];
        let th = p.thread(tid(w)).unwrap();
        for level in ThreadPriority::ALL {
            th.set_priority(level).unwrap();
            let want = level.linux(class);
            let (policy, nice, rt) = task_sched(t.pid(), w);
            assert_eq!(policy, want.policy.linux_number(), "{class} {level}");
            assert_eq!(rt, want.rt_priority, "{class} {level}");
            if !want.policy.is_realtime() {
                assert_eq!(nice, want.nice, "{class} {level}");
            }
            assert_eq!(th.priority().unwrap(), level, "{class} {level}");
            // The other worker and the main thread keep the class.
            let other = t.list("tids")[1];
            let cl = class.linux();
            assert_eq!(task_sched(t.pid(), other).0, cl.policy.linux_number());
            assert_eq!(p.priority_class().unwrap(), class);
        }
    }
    p.set_priority_class(PriorityClass::Normal).unwrap();
}

#[test]
fn scheduling_policy_of_one_thread() {
    integration::require_root!("real-time policies need CAP_SYS_NICE");
    let t = TestProc::spawn(&["--threads", "1"]);
    let p = open(&t);
    let w = t.list("tids")[0];
    let th = p.thread(tid(w)).unwrap();
    th.set_nice(7).unwrap();
    th.set_scheduler(SchedPolicy::Batch, 0).unwrap();
    assert_eq!(task_sched(t.pid(), w), (3, 7, 0));
    th.set_scheduler(SchedPolicy::Fifo, 42).unwrap();
    assert_eq!(task_sched(t.pid(), w).0, 1);
    assert_eq!(task_sched(t.pid(), w).2, 42);
    let s = th.scheduler().unwrap();
    assert_eq!((s.policy, s.rt_priority), (SchedPolicy::Fifo, 42));
    assert_eq!(
        task_sched(t.pid(), t.pid()),
        (0, 0, 0),
        "main thread untouched"
    );
    for (policy, prio) in [
        (SchedPolicy::Fifo, 0),
        (SchedPolicy::RoundRobin, 100),
        (SchedPolicy::Normal, 5),
        (SchedPolicy::Deadline, 0),
    ] {
        let e = th.set_scheduler(policy, prio).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{policy} {prio}: {e}");
    }
    assert_eq!(th.set_nice(20).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn bad_input_gives_clear_errors() {
    let t = TestProc::spawn(&["--threads", "1"]);
    let other = TestProc::spawn(&[] as &[&str]);
    let p = open(&t);
    // A tid of another process is not a thread of this one.
    let e = p.thread(tid(other.pid())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchProcess);
    assert!(
        e.to_string()
            .contains(&format!("no thread {} in process {}", other.pid(), t.pid())),
        "{e}"
    );
    let w = p.thread(tid(t.list("tids")[0])).unwrap();
    for (cpus, what) in [(vec![], "empty"), (vec![4096], "does not exist")] {
        for e in [
            w.set_cpu_affinity(&cpus).unwrap_err(),
            p.set_cpu_affinity(&cpus).unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains(what), "{e}");
        }
    }
    let e = "ultra".parse::<ThreadPriority>().unwrap_err();
    assert!(e.to_string().contains("unknown thread priority"), "{e}");
    let e = "turbo".parse::<PriorityClass>().unwrap_err();
    assert!(e.to_string().contains("unknown priority class"), "{e}");
    let e = p.set_numa_node(9999).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("no NUMA node 9999"), "{e}");
    // Suspending one thread is refused, and the process keeps running.
    let e = w.suspend().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("ptrace"), "{e}");
    assert_ne!(
        integration::read_stat(t.pid()).unwrap().state,
        'T',
        "not stopped"
    );
    // After the process is gone, the thread handle says so.
    let pid = t.pid();
    drop(t);
    assert!(wait_until(Duration::from_secs(5), || !w.is_running()));
    assert_eq!(w.set_nice(5).unwrap_err().kind(), ErrorKind::NoSuchProcess);
    assert!(Process::open(Pid::new(pid).unwrap()).is_err() || !w.is_running());
}

#[test]
fn realtime_without_privilege_is_access_denied() {
    integration::require_root!("switches to an unprivileged uid");
    if std::env::var_os("CORRAL_TEST_AS_NOBODY").is_some() {
        return; // the child run is below
    }
    use std::os::unix::process::CommandExt;
    let (uid, gid) = integration::nobody_ids();
    let t = TestProc::builder()
        .args(["--threads", "1"])
        .uid(uid)
        .gid(gid)
        .spawn();
    let o = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "as_nobody_raise_priorities",
            "--nocapture",
            "--include-ignored",
        ])
        .env("CORRAL_TEST_PID", t.pid().to_string())
        .env("CORRAL_TEST_TID", t.list("tids")[0].to_string())
        .env("CORRAL_TEST_AS_NOBODY", "1")
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("1 passed"), "{out}");
    // Nothing was changed by the refused calls.
    assert_eq!(task_sched(t.pid(), t.pid()), (0, 0, 0));
    assert_eq!(task_sched(t.pid(), t.list("tids")[0]).0, 0);
}

/// Run by `realtime_without_privilege_is_access_denied` as an unprivileged user.
#[test]
#[ignore = "run as another uid by realtime_without_privilege_is_access_denied"]
fn as_nobody_raise_priorities() {
    let pid: u32 = std::env::var("CORRAL_TEST_PID").unwrap().parse().unwrap();
    let w: u32 = std::env::var("CORRAL_TEST_TID").unwrap().parse().unwrap();
    assert_ne!(
        rustix::process::geteuid().as_raw(),
        0,
        "must not run as root"
    );
    let p = Process::open(Pid::new(pid).unwrap()).unwrap();
    for c in [PriorityClass::Realtime, PriorityClass::High] {
        let e = p.set_priority_class(c).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{c}: {e}");
    }
    let th = p.thread(tid(w)).unwrap();
    for l in [ThreadPriority::TimeCritical, ThreadPriority::Highest] {
        let e = th.set_priority(l).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{l}: {e}");
    }
    let e = th.set_scheduler(SchedPolicy::Fifo, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    // Lowering is allowed.
    th.set_priority(ThreadPriority::Lowest).unwrap();
    assert_eq!(th.priority().unwrap(), ThreadPriority::Lowest);
}

#[test]
fn background_mode_on_and_off() {
    let t = TestProc::spawn(&["--threads", "2"]);
    let p = open(&t);
    let r = p.set_background(true).unwrap();
    assert_eq!(r.threads, 3);
    for x in task_ids(t.pid()) {
        assert_eq!(task_sched(t.pid(), x), (5, 19, 0), "thread {x}");
        assert_eq!(ioprio(x).0, 3, "thread {x}: idle I/O class");
    }
    assert!(p.is_background().unwrap());
    assert_eq!(p.priority_class().unwrap(), PriorityClass::Idle);
    assert_eq!(p.ionice().unwrap().class, IoClass::Idle);
    if !integration::is_root() {
        // Ending it lowers the nice value back to 0, which needs privilege.
        return;
    }
    let r2 = p.set_background(false).unwrap();
    assert_eq!(r2.util_clamp, r.util_clamp);
    for x in task_ids(t.pid()) {
        assert_eq!(task_sched(t.pid(), x), (0, 0, 0), "thread {x}");
        assert_eq!(ioprio(x).0, 0, "thread {x}: default I/O class");
    }
    assert!(!p.is_background().unwrap());
    eprintln!("background: utilisation clamp available: {}", r.util_clamp);
}

#[test]
fn trim_pages_out_a_mapped_file() {
    integration::require_root!("process_madvise on another process needs CAP_SYS_NICE");
    let dir = integration::TempDir::new("trim");
    let path = dir.path().join("blob");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 7 + 3) as u8).collect();
        for _ in 0..16 {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap(); // clean pages can be dropped at once
    }
    let t = TestProc::spawn(&[
        "--map-file".as_ref(),
        path.as_os_str(),
        "--alloc-mb".as_ref(),
        "8".as_ref(),
    ]);
    let p = open(&t);
    let rss = |pid: u32| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
        s.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
    };
    let before = rss(t.pid());
    assert!(
        before >= 24 << 20,
        "16 MiB mapped + 8 MiB allocated: {before}"
    );
    let r = p.trim_memory().unwrap();
    assert!(r.advised >= 24 << 20, "{r:?}");
    assert!(
        r.paged_out() >= 12 << 20,
        "most of the file's 16 MiB: {r:?}"
    );
    assert!(rss(t.pid()) <= r.rss_after + (1 << 20));
    let swap = std::fs::read_to_string("/proc/swaps").unwrap();
    if swap.lines().count() > 1 {
        assert!(
            r.paged_out() >= 20 << 20,
            "with swap the 8 MiB heap goes too: {r:?}"
        );
    } else {
        eprintln!("trim: no swap here, so only file pages could go: {r:?}");
    }
}

#[test]
fn numa_node_binds_every_thread() {
    let node0 = std::fs::read_to_string("/sys/devices/system/node/node0/cpulist");
    let Ok(node0) = node0 else {
        eprintln!("no NUMA information on this machine: only the error is checked");
        return;
    };
    let t = TestProc::spawn(&["--threads", "2"]);
    let p = open(&t);
    p.set_numa_node(0).unwrap();
    let want = cpu_list(&node0);
    for x in task_ids(t.pid()) {
        assert_eq!(task_cpus(t.pid(), x), want);
    }
    assert_eq!(corral::system::numa_node_cpus(0).unwrap(), want);
}

#[test]
fn group_and_user_priorities() {
    integration::require_root!("runs processes as a private uid");
    use corral::sched;
    let t = TestProc::spawn(&["--setpgid", "--children", "2"]);
    let pgid = integration::read_stat(t.pid()).unwrap().pgrp;
    assert_eq!(pgid, t.pid());
    let members = [t.pid(), t.list("children")[0], t.list("children")[1]];
    sched::set_group_nice(pgid, 6).unwrap();
    for m in members {
        assert_eq!(task_sched(m, m).1, 6, "member {m}");
    }
    assert_eq!(sched::group_nice(pgid).unwrap(), 6);
    let idle = corral::IoPriority {
        class: IoClass::Idle,
        level: 0,
    };
    sched::set_group_io_priority(pgid, idle).unwrap();
    for m in members {
        assert_eq!(ioprio(m).0, 3, "member {m}");
    }
    assert_eq!(sched::group_io_priority(pgid).unwrap().class, IoClass::Idle);
    // Group 0 would be the caller's own group: refused.
    assert_eq!(
        sched::set_group_nice(0, 5).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // A user of our own, so no one else's processes are touched: a uid far above any
    // allocated range (system, regular and systemd dynamic users) that no process has.
    let uid = 2_000_000_000 + std::process::id();
    let taken = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .is_some_and(|u| u.split_whitespace().any(|x| x == uid.to_string()))
        })
    });
    assert!(
        !taken,
        "uid {uid} is in use; cannot run the per-user part safely"
    );
    let u = TestProc::builder().uid(uid).gid(uid).spawn();
    sched::set_user_nice(uid, 11).unwrap();
    assert_eq!(task_sched(u.pid(), u.pid()).1, 11);
    assert_eq!(sched::user_nice(uid).unwrap(), 11);
    let be = corral::IoPriority {
        class: IoClass::BestEffort,
        level: 6,
    };
    sched::set_user_io_priority(uid, be).unwrap();
    assert_eq!(ioprio(u.pid()), (2, 6));
    assert_eq!(sched::user_io_priority(uid).unwrap(), be);
    drop(u);
    // uid with no process left.
    assert!(wait_until(Duration::from_secs(5), || sched::user_nice(uid).is_err()));
    let e = sched::user_nice(uid).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchProcess);
    assert!(e.to_string().contains("has no process"), "{e}");
}

#[test]
fn one_threads_io_priority_changes_alone() {
    let t = TestProc::spawn(&["--threads", "2"]);
    let p = open(&t);
    let w = t.list("tids")[1];
    let before: Vec<(u32, (u32, u32))> =
        task_ids(t.pid()).iter().map(|&x| (x, ioprio(x))).collect();
    let th = p.thread(tid(w)).unwrap();
    let be5 = corral::IoPriority {
        class: IoClass::BestEffort,
        level: 5,
    };
    th.set_io_priority(be5).unwrap();
    assert_eq!(ioprio(w), (2, 5), "read back by our own ioprio_get");
    assert_eq!(th.io_priority().unwrap(), be5);
    let idle = corral::IoPriority {
        class: IoClass::Idle,
        level: 0,
    };
    th.set_io_priority(idle).unwrap();
    assert_eq!(ioprio(w).0, 3);
    assert_eq!(th.io_priority().unwrap().class, IoClass::Idle);
    for (x, was) in &before {
        if *x != w {
            assert_eq!(ioprio(*x), *was, "thread {x} changed too");
        }
    }
    let e = th
        .set_io_priority(corral::IoPriority {
            class: IoClass::BestEffort,
            level: 8,
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(ioprio(w).0, 3, "unchanged by the refused call");
    // The thread is gone: no read or write reaches a reused tid.
    drop(t);
    assert!(wait_until(Duration::from_secs(5), || th
        .io_priority()
        .is_err()));
    assert_eq!(
        th.io_priority().unwrap_err().kind(),
        ErrorKind::NoSuchProcess
    );
    assert_eq!(
        th.set_io_priority(be5).unwrap_err().kind(),
        ErrorKind::NoSuchProcess
    );
}
