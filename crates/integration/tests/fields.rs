//! Every per-process field, checked against testbin children whose properties the test
//! set, read back through `corral::Process`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use corral::{
    ConnectionKind, ErrorKind, Family, IoClass, IoPriority, Pid, Process, Resource, Rlimit,
    SocketType, Status, TcpState,
};
use integration::{testbin_path, unique_name, TestProc};

fn open(t: &TestProc) -> Process {
    Process::open(Pid::new(t.pid()).unwrap()).expect("open testbin")
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corral-test-{}-{}", tag, unique_name("d")));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A copy of testbin under `name` (copied, not linked, so /proc/PID/exe names it).
fn testbin_named(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(testbin_path(), &p).unwrap();
    p
}

#[test]
fn name_with_spaces_and_parenthesis() {
    let d = scratch("name");
    let exe = testbin_named(&d, "my proc) x");
    let t = TestProc::builder().program(&exe).spawn();
    let p = open(&t);
    assert_eq!(p.name().unwrap(), "my proc) x");
    assert_eq!(p.exe().unwrap().unwrap(), exe);
    drop(t);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn hostile_comm() {
    let t = TestProc::spawn(&["--comm", "a) b (c"]);
    let p = open(&t);
    assert_eq!(p.name().unwrap(), "a) b (c");
    // Just after its ready line it may still be on its way to sleep.
    assert!(integration::wait_until(Duration::from_secs(10), || p
        .status()
        .ok()
        == Some(Status::Sleeping)));
}

#[test]
fn long_name_is_completed_from_argv0() {
    let d = scratch("long");
    let exe = testbin_named(&d, "corral-a-very-long-process-name");
    let t = TestProc::builder().program(&exe).spawn();
    let p = open(&t);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", t.pid())).unwrap();
    assert_eq!(comm.trim_end(), "corral-a-very-l");
    assert_eq!(p.name().unwrap(), "corral-a-very-long-process-name");
    // The snapshot uses the same rule.
    let rows = corral::Snapshot::new()
        .field(corral::Field::Name)
        .pids(&[p.pid()])
        .collect()
        .unwrap();
    assert_eq!(
        rows[0].name.as_ref().unwrap().as_ref().unwrap(),
        "corral-a-very-long-process-name"
    );
    drop(t);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn long_argv_env_and_cwd() {
    let d = scratch("cwd");
    let long: Vec<String> = (0..300).map(|i| format!("arg {i} with spaces")).collect();
    let mut args: Vec<&str> = vec!["--cwd", d.to_str().unwrap(), "--"];
    args.extend(long.iter().map(String::as_str));
    let t = TestProc::builder()
        .args(&args)
        .env("CORRAL_TEST_VAR", "value with = and spaces")
        .spawn();
    let p = open(&t);
    let cmd = p.cmdline().unwrap();
    assert_eq!(cmd.len(), 1 + args.len());
    assert_eq!(
        cmd[1..],
        args.iter().map(OsString::from).collect::<Vec<_>>()[..]
    );
    let env = p.environ().unwrap();
    assert!(
        env.contains(&("CORRAL_TEST_VAR".into(), "value with = and spaces".into())),
        "{env:?}"
    );
    assert_eq!(p.cwd().unwrap(), d);
    drop(t);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn threads_and_counters() {
    let t = TestProc::spawn(&["--threads", "3"]);
    let p = open(&t);
    assert_eq!(p.num_threads().unwrap(), 4);
    let th = p.threads().unwrap();
    assert_eq!(th.len(), 4);
    assert_eq!(th[0].tid.as_raw(), t.pid(), "main thread first");
    let tids: Vec<u32> = th.iter().map(|x| x.tid.as_raw()).collect();
    for tid in t.list("tids") {
        assert!(tids.contains(&tid), "{tid} not in {tids:?}");
    }
    let cs = p.num_ctx_switches().unwrap();
    assert!(cs.voluntary + cs.involuntary > 0);
    assert!(p.page_faults().unwrap().minor > 0);
    let io = p.io_counters().unwrap();
    assert!(io.write_chars > 0, "the ready line was written: {io:?}");
    assert!(p.num_fds().unwrap() >= 3);
}

#[test]
fn open_files_with_position_and_mode() {
    let d = scratch("files");
    let r = d.join("read me.txt");
    std::fs::write(&r, b"0123456789").unwrap();
    let w = d.join("written");
    let t = TestProc::spawn(&[
        "--open",
        r.to_str().unwrap(),
        "--seek",
        "3",
        "--open-write",
        w.to_str().unwrap(),
    ]);
    let p = open(&t);
    let files = p.open_files().unwrap();
    let fr = files
        .iter()
        .find(|f| f.path == r)
        .unwrap_or_else(|| panic!("{files:?}"));
    assert_eq!(fr.position, 3);
    assert_eq!(fr.mode, "r");
    let fw = files
        .iter()
        .find(|f| f.path == w)
        .unwrap_or_else(|| panic!("{files:?}"));
    assert_eq!(fw.position, 5);
    assert_eq!(fw.mode, "w");
    let fds = t.list("fds");
    assert_eq!(fr.fd as u32, fds[0]);
    drop(t);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn sockets_tcp_udp_ipv4_ipv6() {
    let t = TestProc::spawn(&[
        "--listen-tcp",
        "--connect-tcp",
        "--udp",
        "--listen-tcp6",
        "--udp6",
    ]);
    let p = open(&t);
    let port: u16 = t.info("tcp_port").unwrap().parse().unwrap();
    let uport: u16 = t.info("udp_port").unwrap().parse().unwrap();
    let port6: u16 = t.info("tcp6_port").unwrap().parse().unwrap();
    let uport6: u16 = t.info("udp6_port").unwrap().parse().unwrap();
    let all = p.connections(ConnectionKind::All).unwrap();
    let local_port = |c: &corral::Connection| match &c.local {
        Some(corral::Endpoint::Inet(a)) => a.port(),
        _ => 0,
    };
    let listen = all
        .iter()
        .find(|c| c.status == TcpState::Listen && local_port(c) == port && c.family == Family::Inet)
        .unwrap_or_else(|| panic!("no listener on {port}: {all:?}"));
    assert_eq!(listen.kind, SocketType::Stream);
    assert_eq!(listen.remote, None);
    assert!(
        all.iter().any(|c| c.status == TcpState::Established),
        "{all:?}"
    );
    let udp = all
        .iter()
        .find(|c| c.kind == SocketType::Datagram && local_port(c) == uport)
        .unwrap();
    assert_eq!(udp.status, TcpState::None);
    assert_eq!(udp.family, Family::Inet);
    assert!(all.iter().any(|c| c.family == Family::Inet6
        && local_port(c) == port6
        && c.status == TcpState::Listen));
    assert!(all.iter().any(|c| c.family == Family::Inet6
        && local_port(c) == uport6
        && c.kind == SocketType::Datagram));
    // Kinds select as psutil's do.
    let tcp4 = p.connections(ConnectionKind::Tcp4).unwrap();
    assert!(tcp4
        .iter()
        .all(|c| c.family == Family::Inet && c.kind == SocketType::Stream));
    assert!(!tcp4.is_empty());
    let udp6 = p.connections(ConnectionKind::Udp6).unwrap();
    assert_eq!(udp6.len(), 1);
    assert!(p
        .connections(ConnectionKind::Unix)
        .unwrap()
        .iter()
        .all(|c| c.family == Family::Unix));
}

#[test]
fn unix_socket() {
    let d = scratch("unix");
    let path = d.join("sock");
    let t = TestProc::spawn(&["--unix", path.to_str().unwrap()]);
    let p = open(&t);
    let u = p.connections(ConnectionKind::Unix).unwrap();
    assert!(
        u.iter().any(|c| c.local
            == Some(corral::Endpoint::Unix(path.to_string_lossy().into_owned()))
            && c.status == TcpState::Listen),
        "{u:?}"
    );
    drop(t);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn stopped_process() {
    let t = TestProc::spawn(&["--stop-self"]);
    let p = open(&t);
    assert!(integration::wait_until(Duration::from_secs(10), || p
        .status()
        .ok()
        == Some(Status::Stopped)));
}

#[test]
fn zombie() {
    let t = TestProc::spawn(&["--zombie-child"]);
    let z = Pid::new(t.list("zombie")[0]).unwrap();
    let p = Process::open(z).unwrap();
    assert_eq!(p.status().unwrap(), Status::Zombie);
    assert!(!p.is_running());
    assert_eq!(p.ppid().unwrap(), Some(Pid::new(t.pid()).unwrap()));
    assert_eq!(p.cmdline().unwrap_err().kind(), ErrorKind::Zombie);
    assert_eq!(p.cwd().unwrap_err().kind(), ErrorKind::Zombie);
    // Data the kernel keeps for zombies is still there.
    p.cpu_times().unwrap();
    assert!(p.name().is_ok());
}

#[test]
fn unprivileged_child_ids_and_username() {
    integration::require_root!();
    let (uid, gid) = integration::nobody_ids();
    let t = TestProc::builder().uid(uid).gid(gid).spawn();
    let p = open(&t);
    let u = p.uids().unwrap();
    assert_eq!((u.real, u.effective, u.saved), (uid, uid, uid));
    let g = p.gids().unwrap();
    assert_eq!((g.real, g.effective), (gid, gid));
    assert_eq!(
        p.username().unwrap(),
        corral::system::user_name(uid).unwrap_or(uid.to_string())
    );
}

#[test]
fn gone_process_is_no_such_process() {
    let mut t = TestProc::builder()
        .stdin_piped()
        .arg("--exit-on-stdin-eof")
        .spawn();
    let p = open(&t);
    assert!(p.is_running());
    t.close_stdin();
    assert!(t.wait().success());
    assert!(!p.is_running());
    assert_eq!(p.name().unwrap_err().kind(), ErrorKind::NoSuchProcess);
    assert_eq!(
        p.memory_info().unwrap_err().kind(),
        ErrorKind::NoSuchProcess
    );
    assert_eq!(p.set_nice(5).unwrap_err().kind(), ErrorKind::NoSuchProcess);
    assert_eq!(
        Process::open_ref(p.process_ref()).unwrap_err().kind(),
        ErrorKind::NoSuchProcess
    );
}

#[test]
fn setters_round_trip() {
    let t = TestProc::spawn::<&str>(&[]);
    let p = open(&t);
    p.set_nice(7).unwrap();
    assert_eq!(p.nice().unwrap(), 7);
    p.set_rlimit(
        Resource::Nofile,
        Rlimit {
            soft: Some(100),
            hard: Some(200),
        },
    )
    .unwrap();
    assert_eq!(
        p.rlimit(Resource::Nofile).unwrap(),
        Rlimit {
            soft: Some(100),
            hard: Some(200)
        }
    );
    assert_eq!(
        p.set_rlimit(
            Resource::Nofile,
            Rlimit {
                soft: Some(300),
                hard: Some(200)
            }
        )
        .unwrap_err()
        .kind(),
        ErrorKind::InvalidInput
    );
    p.set_ionice(IoPriority {
        class: IoClass::Idle,
        level: 0,
    })
    .unwrap();
    assert_eq!(p.ionice().unwrap().class, IoClass::Idle);
    p.set_ionice(IoPriority {
        class: IoClass::BestEffort,
        level: 6,
    })
    .unwrap();
    assert_eq!(
        p.ionice().unwrap(),
        IoPriority {
            class: IoClass::BestEffort,
            level: 6
        }
    );
    let cpus = p.cpu_affinity().unwrap();
    p.set_cpu_affinity(&cpus[..1]).unwrap();
    assert_eq!(p.cpu_affinity().unwrap(), cpus[..1].to_vec());
    assert_eq!(
        p.set_cpu_affinity(&[]).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(p.set_nice(40).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn memory_figures() {
    let t = TestProc::spawn(&["--alloc-mb", "64"]);
    let p = open(&t);
    let m = p.memory_info().unwrap();
    assert!(m.rss >= 64 << 20, "{m:?}");
    assert!(m.vms >= m.rss);
    let full = p.memory_full_info().unwrap();
    assert!(full.uss >= 64 << 20, "{full:?}");
    assert!(full.pss >= full.uss);
    let peaks = p.memory_peaks().unwrap();
    assert!(peaks.peak_rss >= m.rss);
    let pct = p.memory_percent().unwrap();
    assert!(pct > 0.0 && pct < 100.0);
    let maps = p.memory_maps(true).unwrap();
    let exe = std::fs::read_link(format!("/proc/{}/exe", t.pid())).unwrap();
    assert!(maps.iter().any(|m| Path::new(&m.path) == exe), "{maps:?}");
    let ungrouped = p.memory_maps(false).unwrap();
    assert!(ungrouped.len() >= maps.len());
    assert!(ungrouped
        .iter()
        .all(|m| m.addr.is_some() && m.perms.is_some()));
}

#[test]
fn family_and_sessions() {
    let t = TestProc::spawn(&["--setsid", "--children", "2", "--depth", "2"]);
    let p = open(&t);
    let g = p.process_group().unwrap();
    assert_eq!(g.session, t.pid());
    assert_eq!(g.pgid, t.pid());
    assert_eq!(g.tracer, None);
    assert_eq!(p.terminal().unwrap(), None);
    let me = Process::current().unwrap();
    assert_eq!(p.ppid().unwrap(), Some(me.pid()));
    assert_eq!(p.parent().unwrap().unwrap().pid(), me.pid());
    let kids: Vec<u32> = p
        .children()
        .unwrap()
        .iter()
        .map(|c| c.pid().as_raw())
        .collect();
    let mut expect = t.list("children");
    expect.sort_unstable();
    let mut got = kids.clone();
    got.sort_unstable();
    assert_eq!(got, expect);
    let mut all: Vec<u32> = p
        .descendants()
        .unwrap()
        .iter()
        .map(|c| c.pid().as_raw())
        .collect();
    all.sort_unstable();
    let mut want = t.list("descendants");
    want.sort_unstable();
    assert_eq!(all, want);
    assert_eq!(all.len(), 2 + 4);
}

#[test]
fn times_and_identity() {
    let t = TestProc::spawn::<&str>(&[]);
    let p = open(&t);
    let ct = p.create_time().unwrap();
    let age = SystemTime::now()
        .duration_since(ct)
        .unwrap_or(Duration::ZERO);
    assert!(age < Duration::from_secs(60), "{age:?}");
    assert_eq!(p.start_time().unwrap().raw, t.start_time());
    let c = p.cgroups().unwrap();
    assert!(!c.is_empty());
    let mine = std::fs::read_to_string(format!("/proc/{}/cgroup", t.pid())).unwrap();
    assert_eq!(c.len(), mine.lines().count());
    // PID:inode pins exactly this process (pidfs, Linux 6.9+).
    if let Some(inode) = p.pidfs_inode() {
        let r: corral::ProcessRef = format!("{}:{}", t.pid(), inode).parse().unwrap();
        assert_eq!(Process::open_ref(r).unwrap().pid(), p.pid());
        let wrong: corral::ProcessRef = format!("{}:{}", t.pid(), inode + 1).parse().unwrap();
        assert_eq!(
            Process::open_ref(wrong).unwrap_err().kind(),
            ErrorKind::NoSuchProcess
        );
    } else {
        eprintln!("SKIPPED (kernel without pidfs): PID:inode part of times_and_identity");
    }
}

#[test]
fn cpu_sampler_sees_a_burner() {
    let t = TestProc::spawn(&["--burn"]);
    let p = open(&t);
    // Independent reading: utime + stime (fields 14, 15) in clock ticks around the sample.
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", t.pid())).unwrap();
        let f: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .skip(11)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        f[0] + f[1]
    };
    let before = ticks();
    let pct = p.cpu_percent(Duration::from_millis(500)).unwrap();
    let busy = (ticks() - before) as f64 / 100.0; // USER_HZ is 100 on Linux
                                                  // How much CPU it gets depends on the machine's load; what it got, the sample must show.
    assert!(pct > 1.0, "a spinning process uses CPU: {pct}");
    assert!(
        pct / 100.0 * 0.5 <= busy + 0.03,
        "{pct}% of 0.5 s is more than the {busy} s the process used"
    );
    assert!(p.cpu_times().unwrap().user > Duration::ZERO);
}
