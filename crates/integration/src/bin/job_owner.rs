//! `job_owner`: creates a kill-on-close job, spawns `testbin` members into it, prints one
//! line and then waits to be killed (the kill-on-close tests SIGKILL it).
//!
//! ```text
//! job_owner [--v1-only] [--no-cgroup-kill] [--fallback] [--no-kill-on-close]
//!           [--members N] [--children C]
//!           [--daemon] [--assign A] [--churn K]
//! ```
//!
//! Each of the N members is `testbin --children C`; with `--daemon` one more member
//! daemonizes (double fork + `setsid`); with `--assign A`, A more `testbin --setpgid
//! --children C` are started outside the job (no marker in their environment) and then
//! assigned to it. `--fallback` makes the job a process-group fallback job (as where no
//! cgroup is writable). `--churn K`: once ready, a thread keeps spawning plain `testbin`
//! members into the job (up to K, not waiting for them), so a kill can catch spawns
//! half-way. `--no-kill-on-close`: a plain job (no guard; `guard=0`). Once every member
//! is ready it prints
//!
//! ```text
//! ready job=NAME guard=PID members=PID:START,PID:START,...
//! ```
//!
//! (every process of the job, with its start time in clock ticks) and sleeps until killed
//! or until stdin reaches end of file, then drops the job and prints `dropped`; a line
//! `exec` on stdin makes it exec `testbin --exit-on-stdin-eof` instead.
//! Exit codes: 0 after a drop, 2 for bad arguments, 90 when setting up failed.
//!
//! `job_owner --open NAME` only opens the existing job NAME (another handle of it),
//! prints `opened`, and holds the handle until stdin ends (then drops it, prints
//! `dropped`) or it is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

use corral::{Command, Job};
use integration::{start_time_of, testbin_path};

fn fail(msg: String) -> ! {
    eprintln!("job_owner: {msg}");
    std::process::exit(90);
}

fn main() {
    let mut members = 1usize;
    let mut children = 0usize;
    let mut daemon = false;
    let mut fallback = false;
    let mut assign = 0usize;
    let mut churn = 0usize;
    let (mut use_v2, mut use_kill) = (true, true);
    let mut kill_on_close = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> usize {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("job_owner: {what} needs a number");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--members" => members = num("--members"),
            "--children" => children = num("--children"),
            "--daemon" => daemon = true,
            "--fallback" => fallback = true,
            "--assign" => assign = num("--assign"),
            "--churn" => churn = num("--churn"),
            "--v1-only" => use_v2 = false,
            "--no-kill-on-close" => kill_on_close = false,
            "--no-cgroup-kill" => use_kill = false,
            "--open" => {
                let name = args.next().unwrap_or_else(|| {
                    eprintln!("job_owner: --open needs a job name");
                    std::process::exit(2)
                });
                let job = Job::open(&name).unwrap_or_else(|e| fail(format!("open job: {e}")));
                println!("opened");
                let _ = std::io::stdout().flush();
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                drop(job);
                println!("dropped");
                return;
            }
            other => {
                eprintln!("job_owner: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    let mut builder = Job::builder()
        .kill_on_close(kill_on_close)
        .__testing(use_v2, use_kill);
    if fallback {
        builder = builder.__testing_fallback();
    }
    let job = builder
        .create()
        .unwrap_or_else(|e| fail(format!("create job: {e}")));
    let mut all: Vec<u32> = Vec::new();
    let mut kept = Vec::new();
    let spawn_in = |args: &[String], in_job: bool| {
        let mut cmd = Command::new(testbin_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if in_job {
            cmd = cmd.job(&job);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| fail(format!("spawn: {e}")));
        let mut line = String::new();
        BufReader::new(child.take_stdout().expect("piped"))
            .read_line(&mut line)
            .unwrap_or_else(|e| fail(format!("read ready line: {e}")));
        (child, line)
    };
    let spawn = |args: &[String]| spawn_in(args, true);
    let field = |line: &str, key: &str| -> Vec<u32> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")[..]))
            .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
            .unwrap_or_default()
    };
    for _ in 0..members {
        let (child, line) = spawn(&["--children".into(), children.to_string()]);
        all.push(child.pid().as_raw());
        all.extend(field(&line, "descendants"));
        kept.push(child);
    }
    if daemon {
        let (mut child, line) = spawn(&["--daemonize".into()]);
        all.extend(field(&line, "pid"));
        let _ = child.wait();
    }
    for _ in 0..assign {
        let args = [
            "--setpgid".into(),
            "--children".into(),
            children.to_string(),
        ];
        let (child, line) = spawn_in(&args, false);
        let p = corral::Process::open(child.pid()).unwrap_or_else(|e| fail(format!("open: {e}")));
        job.assign(&p)
            .unwrap_or_else(|e| fail(format!("assign: {e}")));
        all.push(child.pid().as_raw());
        all.extend(field(&line, "descendants"));
        kept.push(child);
    }
    let list: Vec<String> = all
        .iter()
        .map(|&p| format!("{p}:{}", start_time_of(p).unwrap_or(0)))
        .collect();
    println!(
        "ready job={} guard={} members={}",
        job.name(),
        job.__guard_pid().unwrap_or(0),
        list.join(",")
    );
    let _ = std::io::stdout().flush();
    // Until killed, or stdin closes: then a plain drop. A line `exec` makes it exec
    // `testbin --exit-on-stdin-eof` (same pid, no destructor run, descriptors closed).
    std::thread::scope(|s| {
        if churn > 0 {
            s.spawn(|| {
                let mut churned = Vec::new();
                for _ in 0..churn {
                    match Command::new(testbin_path())
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .job(&job)
                        .spawn()
                    {
                        Ok(c) => churned.push(c),
                        Err(e) => fail(format!("churn spawn: {e}")),
                    }
                }
                churned
            });
        }
        let stdin = std::io::stdin();
        let mut cmd = String::new();
        while matches!(stdin.read_line(&mut cmd), Ok(n) if n > 0) {
            if cmd.trim() == "exec" {
                use std::os::unix::process::CommandExt;
                let e = std::process::Command::new(testbin_path())
                    .arg("--exit-on-stdin-eof")
                    .exec();
                fail(format!("exec: {e}"));
            }
            cmd.clear();
        }
    });
    drop(job);
    drop(kept);
    println!("dropped");
}
