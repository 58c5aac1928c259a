//! Self-tests of `testbin` and the test support library: every flag is checked against what
//! `/proc` shows, and the drop guard is checked to really kill what it spawned.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration::{
    descendants_of, is_dead, kill_if_same, nobody_ids, percent_decode, read_stat, read_task_stat,
    require_root, start_time_of, testbin_path, unique_comm, unique_name, wait_for_exit, wait_until,
    TempDir, TestProc,
};

const SHORT: Duration = Duration::from_secs(5);

fn status_field(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("{key} missing in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

fn fdinfo(pid: u32, fd: u32, key: &str) -> String {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("fdinfo");
    info.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("{key} missing in fdinfo {fd}"))
        .trim()
        .to_owned()
}

/// Inodes of the sockets `pid` holds open.
fn socket_inodes(pid: u32) -> HashSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_str().and_then(|s| {
                s.strip_prefix("socket:[")?
                    .strip_suffix(']')
                    .map(str::to_owned)
            })
        })
        .collect()
}

/// Rows of `/proc/net/<table>` as (local, remote, state, inode).
fn net_rows(table: &str) -> Vec<(String, String, String, String)> {
    std::fs::read_to_string(format!("/proc/net/{table}"))
        .expect("net table")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            Some((
                f.get(1)?.to_string(),
                f.get(2)?.to_string(),
                f.get(3)?.to_string(),
                f.get(9)?.to_string(),
            ))
        })
        .collect()
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {status:?}"))
}

#[test]
fn ready_line_reports_identity() {
    let p = TestProc::spawn::<&str>(&[]);
    assert_eq!(p.pid(), p.child_pid());
    assert!(p
        .ready_line()
        .starts_with(&format!("ready pid={} ", p.pid())));
    let stat = read_stat(p.pid()).expect("stat");
    assert_eq!(stat.ppid, std::process::id());
    assert_eq!(stat.comm, "testbin");
    assert_eq!(Some(p.start_time()), start_time_of(p.pid()));
    assert_eq!(p.info("start"), Some(p.start_time().to_string().as_str()));
    assert_eq!(
        p.info("ppid"),
        Some(std::process::id().to_string().as_str())
    );
    // Default behaviour: sleeps.
    assert!(wait_until(SHORT, || read_stat(p.pid()).is_some_and(|s| s.state == 'S')));
    assert_eq!(p.tracked(), &[(p.pid(), p.start_time())]);
}

#[test]
fn comm_is_set_and_truncated_to_15_bytes() {
    let p = TestProc::spawn(&["--comm", "a) b (c d e f g h i"]);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", p.pid())).unwrap();
    assert_eq!(comm, "a) b (c d e f g\n");
    assert_eq!(read_stat(p.pid()).unwrap().comm, "a) b (c d e f g");
}

#[test]
fn hostile_program_names_via_copy_and_symlink() {
    let dir = TempDir::new("tb-hostile");
    let copy = dir.path().join("my proc) x");
    std::fs::copy(testbin_path(), &copy).expect("copy testbin");
    let link = dir.path().join("(link) y z");
    std::os::unix::fs::symlink(testbin_path(), &link).expect("symlink testbin");
    for (path, comm) in [(&copy, "my proc) x"), (&link, "(link) y z")] {
        let p = TestProc::builder()
            .program(path)
            .arg("--children")
            .arg("1")
            .spawn();
        assert_eq!(read_stat(p.pid()).unwrap().comm, comm);
        let exe = std::fs::read_link(format!("/proc/{}/exe", p.pid())).unwrap();
        if path == &copy {
            assert_eq!(exe, copy);
        } else {
            assert_eq!(exe, testbin_path().canonicalize().unwrap());
        }
        // Children re-exec /proc/self/exe and get the real file name as comm.
        let child = p.list("children")[0];
        assert_eq!(read_stat(child).unwrap().ppid, p.pid());
    }
}

#[test]
fn threads_are_named_and_burner_spins() {
    let p = TestProc::spawn(&["--threads", "3", "--burn-thread"]);
    let tids = p.list("tids");
    assert_eq!(tids.len(), 3);
    for (i, tid) in tids.iter().enumerate() {
        let comm = std::fs::read_to_string(format!("/proc/{}/task/{tid}/comm", p.pid())).unwrap();
        assert_eq!(comm.trim_end(), format!("worker-{i}"));
    }
    let burner: u32 = p.info("burner_tid").unwrap().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{}/task/{burner}/comm", p.pid())).unwrap();
    assert_eq!(comm, "burner\n");
    assert_eq!(read_stat(p.pid()).unwrap().num_threads, 5);
    let tasks = std::fs::read_dir(format!("/proc/{}/task", p.pid()))
        .unwrap()
        .count();
    assert_eq!(tasks, 5);
    assert_eq!(read_task_stat(p.pid(), burner).unwrap().state, 'R');
    // The main thread keeps its name.
    assert_eq!(read_stat(p.pid()).unwrap().comm, "testbin");
}

#[test]
fn cwd_setsid_setpgid() {
    let dir = TempDir::new("tb cwd %");
    let p = TestProc::spawn(&[
        "--cwd".as_ref(),
        dir.path().as_os_str(),
        "--setsid".as_ref(),
    ]);
    let link = std::fs::read_link(format!("/proc/{}/cwd", p.pid())).unwrap();
    assert_eq!(link, dir.path().canonicalize().unwrap());
    let reported = percent_decode(p.info("cwd").unwrap());
    assert_eq!(Path::new(std::str::from_utf8(&reported).unwrap()), link);
    let stat = read_stat(p.pid()).unwrap();
    assert_eq!((stat.session, stat.pgrp), (p.pid(), p.pid()));

    let q = TestProc::spawn(&["--setpgid"]);
    let stat = read_stat(q.pid()).unwrap();
    let own = read_stat(std::process::id()).unwrap();
    assert_eq!(stat.pgrp, q.pid());
    assert_eq!(stat.session, own.session);
}

#[test]
fn ignored_signals_are_not_inherited_by_children() {
    let p = TestProc::spawn(&["--ignore-term", "--ignore-int", "--children", "1"]);
    let ign = u64::from_str_radix(&status_field(p.pid(), "SigIgn"), 16).unwrap();
    let term = 1u64 << (libc::SIGTERM - 1);
    let int = 1u64 << (libc::SIGINT - 1);
    assert_eq!(ign & (term | int), term | int);
    let child = p.list("children")[0];
    let ign = u64::from_str_radix(&status_field(child, "SigIgn"), 16).unwrap();
    assert_eq!(ign & (term | int), 0);
}

#[test]
fn children_and_depth_build_a_tree() {
    let p = TestProc::spawn(&[
        "--children",
        "2",
        "--depth",
        "2",
        "--child-args",
        "--comm",
        "tb kid",
        "--end-child-args",
    ]);
    let children = p.list("children");
    let descendants = p.list("descendants");
    assert_eq!(children.len(), 2);
    assert_eq!(descendants.len(), 6);
    for c in &children {
        assert_eq!(read_stat(*c).unwrap().ppid, p.pid());
        assert!(descendants.contains(c));
    }
    let mut grandchildren = 0;
    for d in &descendants {
        let s = read_stat(*d).unwrap();
        assert_eq!(s.comm, "tb kid");
        if !children.contains(d) {
            assert!(children.contains(&s.ppid), "{d} has ppid {}", s.ppid);
            grandchildren += 1;
        }
    }
    assert_eq!(grandchildren, 4);
    let found: HashSet<u32> = descendants_of(p.pid()).iter().map(|&(d, _)| d).collect();
    assert_eq!(found, descendants.iter().copied().collect());
    assert_eq!(p.tracked().len(), 7);
}

#[test]
fn zombie_child_is_a_zombie_with_code_7() {
    let p = TestProc::spawn(&["--zombie-child"]);
    let z: u32 = p.info("zombie").unwrap().parse().unwrap();
    let stat = read_stat(z).unwrap();
    assert_eq!(stat.state, 'Z');
    assert_eq!(stat.ppid, p.pid());
    // Field 52: exit code in waitpid() form.
    let raw = std::fs::read_to_string(format!("/proc/{z}/stat")).unwrap();
    let after = &raw[raw.rfind(')').unwrap() + 1..];
    let code: i32 = after
        .split_ascii_whitespace()
        .nth(49)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(code, 7 << 8);
}

#[test]
fn stop_self_shows_state_t() {
    let p = TestProc::spawn(&["--stop-self"]);
    assert!(wait_until(SHORT, || read_stat(p.pid()).is_some_and(|s| s.state == 'T')));
}

#[test]
fn sockets_show_in_proc_net() {
    let p = TestProc::spawn(&[
        "--listen-tcp",
        "--connect-tcp",
        "--listen-tcp6",
        "--udp",
        "--udp6",
    ]);
    let inodes = socket_inodes(p.pid());
    let port = |k: &str| format!("{:04X}", p.info(k).unwrap().parse::<u16>().unwrap());
    let (tcp, client) = (port("tcp_port"), port("tcp_client_port"));
    let v4 = "0100007F";
    let v6 = "00000000000000000000000001000000";
    let tcp_rows = net_rows("tcp");
    let has = |rows: &[(String, String, String, String)], local: &str, remote: &str, st: &str| {
        rows.iter()
            .any(|r| r.0 == local && r.1 == remote && r.2 == st && inodes.contains(&r.3))
    };
    let any_remote = |rows: &[(String, String, String, String)], local: &str, st: &str| {
        rows.iter()
            .any(|r| r.0 == local && r.2 == st && inodes.contains(&r.3))
    };
    // Listening (0A) and the ESTABLISHED (01) pair, both ends owned by testbin.
    assert!(has(
        &tcp_rows,
        &format!("{v4}:{tcp}"),
        "00000000:0000",
        "0A"
    ));
    assert!(has(
        &tcp_rows,
        &format!("{v4}:{client}"),
        &format!("{v4}:{tcp}"),
        "01"
    ));
    assert!(has(
        &tcp_rows,
        &format!("{v4}:{tcp}"),
        &format!("{v4}:{client}"),
        "01"
    ));
    assert!(any_remote(
        &net_rows("tcp6"),
        &format!("{v6}:{}", port("tcp6_port")),
        "0A"
    ));
    assert!(any_remote(
        &net_rows("udp"),
        &format!("{v4}:{}", port("udp_port")),
        "07"
    ));
    assert!(any_remote(
        &net_rows("udp6"),
        &format!("{v6}:{}", port("udp6_port")),
        "07"
    ));
    assert_eq!(inodes.len(), 6);
}

#[test]
fn listen_port_and_unix_socket() {
    // A port the kernel just handed out and we released: free unless someone races us.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("tb-unix");
    let sock = dir.path().join("s ock");
    let p = TestProc::spawn(&[
        "--listen-port".as_ref(),
        port.to_string().as_ref(),
        "--unix".as_ref(),
        sock.as_os_str(),
    ]);
    assert_eq!(p.info("listen_port"), Some(port.to_string().as_str()));
    let inodes = socket_inodes(p.pid());
    let local = format!("0100007F:{port:04X}");
    assert!(net_rows("tcp")
        .iter()
        .any(|r| r.0 == local && r.2 == "0A" && inodes.contains(&r.3)));
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap();
    let path = sock.to_str().unwrap();
    assert!(unix.lines().any(|l| {
        let f: Vec<&str> = l.split_ascii_whitespace().collect();
        f.len() >= 8 && l.ends_with(path) && inodes.contains(f[6])
    }));
    assert_eq!(percent_decode(p.info("unix").unwrap()), path.as_bytes());
}

#[test]
fn files_are_open_at_the_right_offsets() {
    let dir = TempDir::new("tb-files");
    let r = dir.path().join("read me");
    std::fs::write(&r, b"0123456789").unwrap();
    let w = dir.path().join("written");
    let a = dir.path().join("appended");
    let p = TestProc::spawn(&[
        "--open".as_ref(),
        r.as_os_str(),
        "--seek".as_ref(),
        "3".as_ref(),
        "--open-write".as_ref(),
        w.as_os_str(),
        "--open-append".as_ref(),
        a.as_os_str(),
    ]);
    let fds = p.list("fds");
    assert_eq!(fds.len(), 3);
    let paths: Vec<PathBuf> = fds
        .iter()
        .map(|fd| std::fs::read_link(format!("/proc/{}/fd/{fd}", p.pid())).unwrap())
        .collect();
    assert_eq!(paths, vec![r.clone(), w.clone(), a.clone()]);
    assert_eq!(fdinfo(p.pid(), fds[0], "pos"), "3");
    assert_eq!(fdinfo(p.pid(), fds[1], "pos"), "5");
    assert_eq!(fdinfo(p.pid(), fds[2], "pos"), "0");
    let flags = |fd| u32::from_str_radix(&fdinfo(p.pid(), fd, "flags"), 8).unwrap();
    let accmode = libc::O_ACCMODE as u32;
    assert_eq!(flags(fds[0]) & accmode, libc::O_RDONLY as u32);
    assert_eq!(flags(fds[1]) & accmode, libc::O_WRONLY as u32);
    assert_ne!(flags(fds[2]) & libc::O_APPEND as u32, 0);
    assert_eq!(std::fs::read(&w).unwrap(), b"hello");
}

#[test]
fn alloc_mb_is_resident() {
    let p = TestProc::spawn(&["--alloc-mb", "16"]);
    let rss_kb: u64 = status_field(p.pid(), "VmRSS")
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    assert!(rss_kb >= 16 * 1024, "VmRSS {rss_kb} kB");
}

#[test]
fn print_env_escapes_and_omits_unset() {
    let var = unique_name("TB_VAR_");
    let p = TestProc::builder()
        .env(&var, "a b%c,d")
        .args(["--print-env", &var, "--print-env", "TB_SURELY_UNSET_VAR"])
        .env_remove("TB_SURELY_UNSET_VAR")
        .spawn();
    let key = format!("env_{var}");
    assert_eq!(p.info(&key), Some("a%20b%25c,d"));
    assert_eq!(percent_decode(p.info(&key).unwrap()), b"a b%c,d");
    assert_eq!(p.info("env_TB_SURELY_UNSET_VAR"), None);
}

#[test]
fn exit_codes() {
    let mut p = TestProc::spawn(&["--exit", "3"]);
    assert_eq!(exit_code(p.wait()), 3);
    let mut p = TestProc::spawn(&["--sleep-ms", "50", "--burn"]);
    assert_eq!(exit_code(p.wait()), 0);

    let mut p = TestProc::builder()
        .stdin_piped()
        .arg("--exit-on-stdin-eof")
        .spawn();
    assert!(p.wait_timeout(Duration::from_millis(100)).is_none());
    p.close_stdin();
    assert_eq!(exit_code(p.wait()), 0);

    let out = Command::new(testbin_path())
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    assert!(out.stdout.is_empty());

    let err = TestProc::builder()
        .arg("--no-such-flag")
        .try_spawn()
        .unwrap_err();
    assert!(err.contains("exit status: 2"), "{err}");
    assert!(err.contains("unknown flag \"--no-such-flag\""), "{err}");

    let err = TestProc::builder()
        .args(["--cwd", "/nonexistent/tb"])
        .try_spawn()
        .unwrap_err();
    assert!(err.contains("exit status: 90"), "{err}");
    assert!(err.contains("chdir"), "{err}");
}

#[test]
fn ready_timeout_kills_the_child() {
    let err = TestProc::builder()
        .ready_timeout(Duration::ZERO)
        .try_spawn()
        .unwrap_err();
    assert!(err.contains("no ready line within the timeout"), "{err}");
    assert!(err.contains("killed"), "{err}");
}

#[test]
fn daemonize_detaches_and_drop_kills_the_daemon() {
    let mut p = TestProc::spawn(&["--daemonize", "--children", "1"]);
    assert_eq!(p.info("daemon"), Some("1"));
    let daemon = p.pid();
    assert_ne!(daemon, p.child_pid());
    // The original exits 0 once the daemon is ready.
    assert_eq!(exit_code(p.wait()), 0);
    let stat = read_stat(daemon).unwrap();
    assert_ne!(stat.ppid, p.child_pid());
    assert_eq!(stat.session, daemon);
    assert_eq!(stat.pgrp, daemon);
    let child = p.list("children")[0];
    assert_eq!(read_stat(child).unwrap().ppid, daemon);
    let tracked = p.tracked().to_vec();
    assert!(tracked.contains(&(daemon, p.start_time())));
    assert_eq!(tracked.len(), 3);
    drop(p);
    for (pid, st) in tracked {
        assert!(is_dead(pid, st), "{pid} survived the drop guard");
    }
}

#[test]
fn drop_kills_children_descendants_and_stopped() {
    let p = TestProc::spawn(&[
        "--children",
        "2",
        "--depth",
        "2",
        "--zombie-child",
        "--ignore-term",
        "--stop-self",
    ]);
    let tracked = p.tracked().to_vec();
    assert_eq!(tracked.len(), 1 + 6 + 1);
    assert!(wait_until(SHORT, || read_stat(p.pid()).is_some_and(|s| s.state == 'T')));
    drop(p);
    for (pid, st) in tracked {
        assert!(is_dead(pid, st), "{pid} survived the drop guard");
    }
}

#[test]
fn die_with_parent_follows_its_parent() {
    let mut p = TestProc::spawn(&[
        "--children",
        "1",
        "--child-args",
        "--die-with-parent",
        "--end-child-args",
    ]);
    let child = p.list("children")[0];
    let child_start = start_time_of(child).unwrap();
    assert!(kill_if_same(p.pid(), p.start_time()));
    assert!(p.wait().code().is_none());
    assert!(wait_for_exit(child, child_start, SHORT));
    assert!(is_dead(child, child_start));
}

#[test]
fn burn_uses_cpu() {
    let p = TestProc::spawn(&["--burn"]);
    let ticks = || {
        let raw = std::fs::read_to_string(format!("/proc/{}/stat", p.pid())).unwrap();
        let f: Vec<u64> = raw[raw.rfind(')').unwrap() + 2..]
            .split_ascii_whitespace()
            .skip(11)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        f[0] + f[1]
    };
    assert!(wait_until(SHORT, || ticks() > 0));
}

#[test]
fn fork_bomb_is_bounded_and_dies_with_its_root() {
    let mut p = TestProc::spawn(&["--fork-bomb-ms", "300", "--fork-bomb-max", "12"]);
    let root = p.pid();
    // The bomb stops after 300 ms or 12 forks; watch the tree until it stops growing.
    let mut last = Vec::new();
    let mut steady = 0;
    wait_until(SHORT, || {
        let now = descendants_of(root);
        steady = if now.len() == last.len() {
            steady + 1
        } else {
            0
        };
        last = now;
        steady >= 5 && last.len() == 12
    });
    for &(pid, _) in &last {
        p.track(pid);
    }
    assert!(!last.is_empty());
    assert!(last.len() <= 12, "{} processes", last.len());
    // Killing only the root takes the whole tree down (PR_SET_PDEATHSIG chain).
    assert!(kill_if_same(root, p.start_time()));
    assert!(p.wait().code().is_none());
    for (pid, st) in last {
        assert!(
            wait_for_exit(pid, st, SHORT),
            "{pid} outlived the bomb's root"
        );
    }
}

#[test]
fn runs_as_nobody() {
    require_root!("switches the child to uid/gid nobody");
    let (uid, gid) = nobody_ids();
    let p = TestProc::builder().uid(uid).gid(gid).spawn();
    let uids: Vec<u32> = status_field(p.pid(), "Uid")
        .split_ascii_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(uids, vec![uid; 4]);
    let gids: Vec<u32> = status_field(p.pid(), "Gid")
        .split_ascii_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(gids, vec![gid; 4]);
    assert_eq!(status_field(p.pid(), "Groups"), "");
}

#[test]
fn unique_names_and_helpers() {
    let a = unique_comm("kill-by-name-test");
    let b = unique_comm("kill-by-name-test");
    assert_ne!(a, b);
    assert!(a.len() <= 15 && b.len() <= 15, "{a} {b}");
    assert!(a.starts_with("kill-by"));
    let c = unique_name("tb-");
    assert!(c.starts_with("tb-") && c != unique_name("tb-"));
    assert_eq!(nobody_ids(), (65534, 65534));
    assert_eq!(percent_decode("%41%2"), b"A%2");
    // A comm from unique_comm survives the kernel untouched.
    let p = TestProc::spawn(&["--comm", &a]);
    assert_eq!(read_stat(p.pid()).unwrap().comm, a);
}
