//! `fallback_job`: run unprivileged (as `nobody`, without a writable cgroup), creates a
//! [`corral::Job`] — which must fall back to a process-group job — and reports what it
//! sees, for `tests/job_fallback.rs`.
//!
//! ```text
//! fallback_job [--force-fallback]
//! fallback_job --effective UID GID
//! ```
//!
//! `--effective` only switches its *effective* user and group to UID/GID (the real ones
//! stay, as in a set-uid program or a daemon that dropped privileges with `seteuid`),
//! creates a job, prints `backend <Job::backend()> caps=<Capabilities::backend>` and
//! exits 0: what `Job::capabilities` predicts must be what `Job::create` makes.
//!
//! It prints, one per line:
//!
//! ```text
//! name <the job's name>
//! backend <Debug of Job::backend()> caps=<Debug of Capabilities::backend> kill_on_close=<bool>
//! limits <error of set_limits(job memory + active processes + I/O rate), or ok>
//! spawned PID:START,...        (every process it started, descendants and daemons too)
//! members PID:START,...        (Job::processes())
//! ready
//! ```
//!
//! then waits for a line on stdin: `terminate` terminates the job and prints
//! `terminated members=N` (members left after), then `wait-empty ok|<error>`; end of file
//! just exits (the test kills what is left). Exit codes: 0, 90 when setting up failed.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use corral::{Command, Job, JobLimits};
use integration::{start_time_of, testbin_path};

fn fail(msg: String) -> ! {
    eprintln!("fallback_job: {msg}");
    std::process::exit(90);
}

/// Fails after killing what the job holds.
fn fail_in(job: &Job, msg: String) -> ! {
    let _ = job.terminate();
    fail(msg)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--effective") {
        let id = |i: usize| -> u32 {
            args.get(i)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| fail("--effective needs UID GID".into()))
        };
        let (uid, gid) = (id(2), id(3));
        // SAFETY: setresgid/setresuid with integers; -1 keeps the real and saved ids.
        let ok = unsafe {
            libc::setresgid(u32::MAX, gid, u32::MAX) == 0
                && libc::setresuid(u32::MAX, uid, u32::MAX) == 0
        };
        if !ok {
            fail(format!("setresuid: {}", std::io::Error::last_os_error()));
        }
        let caps = Job::capabilities().backend;
        let job = Job::create(None).unwrap_or_else(|e| fail(format!("create job: {e}")));
        println!("backend {:?} caps={caps:?}", job.backend());
        return;
    }
    let force = args.iter().any(|a| a == "--force-fallback");
    let mut job = if force {
        Job::__create_fallback_for_testing(None)
    } else {
        Job::create(None)
    }
    .unwrap_or_else(|e| fail(format!("create job: {e}")));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "name {}", job.name());
    let _ = writeln!(
        out,
        "backend {:?} caps={:?} kill_on_close={}",
        job.backend(),
        Job::capabilities().backend,
        Job::capabilities().kill_on_close
    );
    let bad = JobLimits::new()
        .job_memory(64 << 20)
        .max_processes(10)
        .io_rate(corral::IoRate::new(8, 0).read_bps(1 << 20));
    match job.set_limits(&bad) {
        Ok(()) => {
            let _ = writeln!(out, "limits ok");
        }
        Err(e) => {
            let _ = writeln!(out, "limits {:?}: {e}", e.kind());
        }
    }
    let mut spawned: Vec<u32> = Vec::new();
    let mut children = Vec::new();
    for args in [
        &["--children", "2", "--depth", "2"][..],
        &["--setsid"][..],
        &["--daemonize"][..],
    ] {
        let mut child = Command::new(testbin_path())
            .args(args)
            .stdout(Stdio::piped())
            .job(&job)
            .spawn()
            .unwrap_or_else(|e| fail_in(&job, format!("spawn {args:?}: {e}")));
        let mut line = String::new();
        BufReader::new(child.take_stdout().unwrap())
            .read_line(&mut line)
            .unwrap_or_else(|e| fail_in(&job, format!("read ready line: {e}")));
        if !line.starts_with("ready ") {
            fail_in(&job, format!("testbin {args:?} said {line:?}"));
        }
        let pid = integration::ready_field(&line, "pid")[0];
        spawned.push(pid);
        spawned.extend(integration::ready_field(&line, "descendants"));
        if args == ["--daemonize"] {
            // The launcher exits once its daemon is ready; reap it. The daemon's parent
            // is gone, and it has a session of its own: only the marker finds it.
            let _ = child.wait();
        } else {
            spawned.push(child.pid().as_raw());
            children.push(child);
        }
    }
    spawned.sort();
    spawned.dedup();
    let list = |pids: &[u32]| -> String {
        pids.iter()
            .map(|&p| format!("{p}:{}", start_time_of(p).unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let _ = writeln!(out, "spawned {}", list(&spawned));
    let mut members: Vec<u32> = job
        .processes()
        .unwrap_or_else(|e| fail_in(&job, format!("processes: {e}")))
        .iter()
        .map(|p| p.pid().as_raw())
        .collect();
    members.sort();
    let _ = writeln!(out, "members {}", list(&members));
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    let mut cmd = String::new();
    let _ = std::io::stdin().lock().read_line(&mut cmd);
    if cmd.trim() == "terminate" {
        let r = job.terminate();
        let left = job.processes().map(|p| p.len()).unwrap_or(usize::MAX);
        let _ = writeln!(out, "terminated {r:?} members={left}");
        let w = job.wait_empty(Some(std::time::Duration::from_secs(5)));
        let _ = writeln!(out, "wait-empty {w:?}");
        let _ = out.flush();
    }
    // Reap the direct children (killed above, or by the test).
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
