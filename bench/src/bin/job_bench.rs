//! Jobs, side by side (root: cgroups). In one process, interleaved rounds:
//!
//! 1. `terminate`: a tree of N processes (a root that forked N−1 children, all in a fresh
//!    job) is killed and waited for until every one has exited, by
//!    - `Job::terminate` (cgroup.kill, then `populated 0`),
//!    - `Job::terminate` without cgroup.kill (freeze, kill each, thaw),
//!    - `Job::terminate` of a process-group fallback job the root was assigned to (kill
//!      rounds over `/proc` scans; the unprivileged case),
//!    - `corral::control::kill_tree` + `wait_tree` on the root (process by process),
//!    - a plain loop: `kill(pid, SIGKILL)` over the pid list, then one epoll over
//!      pidfds opened before the clock started, until all are readable.
//!      Every tree is built the same way, untimed; the processes are this program's
//!      descendants (it is their child subreaper) and are reaped, untimed, after each run.
//! 2. `spawn`: spawn-and-wait of a trivial program with `corral::Command` plainly, into a
//!    job with all of this machine's cgroups (each joined by a write from the child:
//!    std's `fork` + hook), into a job that has only a v2 cgroup (what a pure cgroup v2
//!    machine gives) born in it by `clone3(CLONE_INTO_CGROUP)` and, for comparison,
//!    joining it by a write, and with `umask` (another option that needs the pre-exec
//!    hook) — ratios to the plain spawn. Twice: back to back, and after 50 ms of quiet
//!    before each spawn (untimed), where a cgroup migration costs an RCU grace period.
//! 3. `empty`: the latency from a member's `_exit` (it reads `CLOCK_MONOTONIC` first) to
//!    the return of `Job::wait_empty`, of `JobEvents` delivering `JobEmpty`, and of a
//!    `poll` on the member's pidfd — the same process, one waiter at a time,
//!    interleaved.
//!
//! Usage: `job_bench [--procs N] [--rounds R] [--spawns S] [--reps K] [--only WHAT]
//! [--json PATH] [--program PATH]` (defaults 1000, 5, 200, 100, all, none, /bin/true).
//!
//! Safety: every process made here is a descendant of this one, dies with its parent
//! (`PR_SET_PDEATHSIG(SIGKILL)`), and lives in a kill-on-close job (so even a SIGKILL of
//! this program kills them and removes the cgroups). This process is their subreaper
//! and reaps them all after each run.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use corral::{Command, Job, JobEvent, Pid, Process, Signal};
use rustix::event::epoll;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
        .unwrap_or(default)
}

fn sarg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a stack struct.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn kill_on_close_job(use_kill: bool) -> Job {
    Job::builder()
        .kill_on_close(true)
        .__testing(true, use_kill)
        .create()
        .expect("create job (root needed)")
}

/// Opens `cgroup.procs` of each of the job's cgroups for writing, to join the job from
/// a forked child with one `write` each.
fn procs_fds(job: &Job) -> Vec<OwnedFd> {
    procs_paths(job)
        .iter()
        .map(|f| {
            rustix::fs::open(
                f,
                rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .expect("open cgroup.procs")
        })
        .collect()
}

/// `cgroup.procs` of each of the job's cgroups (v2 first where mounted).
fn procs_paths(job: &Job) -> Vec<std::path::PathBuf> {
    let name = format!("corral-{}", job.name());
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out = Vec::new();
    for line in mi.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let fstype = post.split(' ').next().unwrap_or("");
        if fstype != "cgroup2" && fstype != "cgroup" {
            continue;
        }
        let opts = post.split(' ').nth(2).unwrap_or("");
        for l in cg.lines() {
            let mut it = l.splitn(3, ':');
            let (_, ctl, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
            let matches = if fstype == "cgroup2" {
                ctl.is_empty()
            } else {
                !ctl.is_empty() && ctl.split(',').all(|c| opts.split(',').any(|o| o == c))
            };
            if !matches {
                continue;
            }
            let rest = path
                .strip_prefix(pre[3].trim_end_matches('/'))
                .unwrap_or(path);
            let f = std::path::Path::new(&format!("{}{rest}", pre[4]))
                .join(&name)
                .join("cgroup.procs");
            if f.exists() {
                out.push(f);
            }
        }
    }
    out
}

/// Forks a child that joins the job (writes `0` to each `cgroup.procs`), then runs
/// `then`, then exits; returns its pid.
///
/// # Safety
///
/// `then` runs in a forked child of a possibly multi-threaded process: raw,
/// async-signal-safe calls only.
unsafe fn fork_into(fds: &[i32], then: impl FnOnce()) -> libc::pid_t {
    // SAFETY: getpid/fork; the child only makes raw calls (see the function contract).
    unsafe {
        let parent = libc::getpid();
        let pid = libc::fork();
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid > 0 {
            return pid;
        }
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        for &fd in fds {
            libc::write(fd, b"0".as_ptr().cast(), 1);
        }
        then();
        libc::_exit(0)
    }
}

fn pause_forever() -> ! {
    loop {
        // SAFETY: pause(2).
        unsafe { libc::pause() };
    }
}

/// Reaps every child (and adopted orphan) that has exited, until none is left.
fn reap_all() {
    loop {
        let mut st = 0;
        // SAFETY: waitpid(-1) with a valid status pointer.
        let r = unsafe { libc::waitpid(-1, &mut st, 0) };
        if r < 0 {
            return; // ECHILD: nothing left
        }
    }
}

/// Builds a tree of `n` processes in `job`: a root that forks `n − 1` pausing children
/// and then pauses. Returns the root and every pid, once all are in the job.
fn build_tree(job: &Job, n: usize) -> (libc::pid_t, Vec<libc::pid_t>) {
    let fds = procs_fds(job);
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let kids = n - 1;
    // SAFETY: the child forks and pauses: raw calls only.
    let root = unsafe {
        fork_into(&raw, move || {
            for _ in 0..kids {
                // The children inherit the root's cgroups.
                let p = libc::fork();
                if p == 0 {
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    );
                    pause_forever();
                }
            }
            pause_forever();
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let procs = procs_paths(job).remove(0);
    loop {
        let pids: Vec<libc::pid_t> = std::fs::read_to_string(&procs)
            .expect("read cgroup.procs")
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        if pids.len() == n {
            return (root, pids);
        }
        assert!(Instant::now() < deadline, "tree of {n} not complete");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn terminate_round(n: usize, method: &str) -> Duration {
    let use_kill = method != "job terminate (freeze-kill-thaw)";
    let job = kill_on_close_job(use_kill);
    let (root, pids) = build_tree(&job, n);
    let took = match method {
        "job terminate (cgroup.kill)" | "job terminate (freeze-kill-thaw)" => {
            let t = Instant::now();
            job.terminate().expect("terminate");
            t.elapsed()
        }
        "job terminate (process-group fallback)" => {
            // The same tree, also held by a fallback job (as an unprivileged caller gets),
            // to which its root is assigned: the fallback finds the rest by scanning /proc.
            let fb = Job::__create_fallback_for_testing(None).expect("fallback job");
            let p = Process::open(Pid::new(root as u32).unwrap()).unwrap();
            fb.assign(&p).expect("assign root");
            assert_eq!(
                fb.processes().expect("members").len(),
                n,
                "fallback membership"
            );
            let t = Instant::now();
            fb.terminate().expect("terminate");
            t.elapsed()
        }
        "corral kill_tree + wait_tree" => {
            let p = Process::open(Pid::new(root as u32).unwrap()).unwrap();
            let t = Instant::now();
            let mut tree = corral::control::kill_tree(&p, Signal::Kill).expect("kill_tree");
            corral::control::wait_tree(&mut tree, Some(Duration::from_secs(60)))
                .expect("wait_tree");
            t.elapsed()
        }
        "plain kill(2) loop + pidfd waits" => {
            let fds: Vec<OwnedFd> = pids
                .iter()
                .map(|&p| {
                    rustix::process::pidfd_open(
                        rustix::process::Pid::from_raw(p).unwrap(),
                        rustix::process::PidfdFlags::empty(),
                    )
                    .expect("pidfd_open")
                })
                .collect();
            let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
            for (i, fd) in fds.iter().enumerate() {
                epoll::add(
                    &ep,
                    fd.as_fd(),
                    epoll::EventData::new_u64(i as u64),
                    epoll::EventFlags::IN | epoll::EventFlags::ONESHOT,
                )
                .unwrap();
            }
            let mut evs: Vec<epoll::Event> = Vec::with_capacity(1024);
            let t = Instant::now();
            for &p in &pids {
                // SAFETY: kill(2) of our own descendant (we are its subreaper and have
                // not reaped it: the pid cannot have been reused).
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            let mut left = pids.len();
            while left > 0 {
                evs.clear();
                epoll::wait(&ep, rustix::buffer::spare_capacity(&mut evs), None).unwrap();
                left -= evs.len();
            }
            t.elapsed()
        }
        other => panic!("unknown method {other}"),
    };
    job.wait_empty(Some(Duration::from_secs(60)))
        .expect("job empty");
    // The guard (our child too: we are a subreaper) is reaped by the drop.
    drop(job);
    reap_all();
    took
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2])
}

struct Table {
    title: String,
    unit: &'static str,
    rows: Vec<(String, f64, f64)>,
}

impl Table {
    fn print(&self, base: usize) {
        println!("\n### {}\n", self.title);
        println!(
            "| variant | min {u} | median {u} | ÷ {b} (min) | ÷ {b} (median) |",
            u = self.unit,
            b = self.rows[base].0
        );
        println!("|---|---:|---:|---:|---:|");
        let (bmin, bmed) = (self.rows[base].1, self.rows[base].2);
        for (name, min, med) in &self.rows {
            println!(
                "| {name} | {min:.2} | {med:.2} | {:.2} | {:.2} |",
                min / bmin,
                med / bmed
            );
        }
    }

    fn json(&self) -> serde_like::Value {
        serde_like::obj(
            &self.title,
            self.rows.iter().map(|(n, a, b)| (n.as_str(), *a, *b)),
        )
    }
}

/// A tiny JSON writer (the bench crate has no serde).
mod serde_like {
    pub struct Value(pub String);

    pub fn obj<'a>(title: &str, rows: impl Iterator<Item = (&'a str, f64, f64)>) -> Value {
        let rows: Vec<String> = rows
            .map(|(n, a, b)| format!("{{\"variant\":{n:?},\"min\":{a},\"median\":{b}}}"))
            .collect();
        Value(format!(
            "{{\"title\":{title:?},\"rows\":[{}]}}",
            rows.join(",")
        ))
    }
}

fn bench_terminate(n: usize, rounds: usize) -> Table {
    let methods = [
        "job terminate (cgroup.kill)",
        "job terminate (freeze-kill-thaw)",
        "job terminate (process-group fallback)",
        "corral kill_tree + wait_tree",
        "plain kill(2) loop + pidfd waits",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); methods.len()];
    // One unmeasured warm-up of each.
    for m in methods {
        terminate_round(n.min(100), m);
    }
    for r in 0..rounds {
        for k in 0..methods.len() {
            let i = (k + r) % methods.len();
            let d = terminate_round(n, methods[i]);
            samples[i].push(d.as_secs_f64() * 1e3);
            eprintln!(
                "[job_bench] terminate {n}: {} {:.2} ms",
                methods[i],
                d.as_secs_f64() * 1e3
            );
        }
    }
    Table {
        title: format!("Kill a {n}-process tree and wait until all exited ({rounds} rounds)"),
        unit: "ms",
        rows: methods
            .iter()
            .zip(samples.iter_mut())
            .map(|(m, s)| {
                let (a, b) = stats(s);
                (m.to_string(), a, b)
            })
            .collect(),
    }
}

fn bench_spawn(prog: &str, spawns: usize, rounds: usize, pause: Duration) -> Table {
    let job = kill_on_close_job(true);
    // As on a pure cgroup v2 machine: the job has only its v2 cgroup.
    let v2_job = Job::builder()
        .kill_on_close(true)
        .__testing_v2_only()
        .create()
        .expect("create a v2-only job");
    let time = |f: &dyn Fn(Command) -> Command| {
        // Untimed: a quiet moment before the spawn, as between a tool's spawns.
        std::thread::sleep(pause);
        let t = Instant::now();
        let mut c = f(Command::new(prog)).spawn().expect("spawn");
        assert!(c.wait().expect("wait").success());
        t.elapsed()
    };
    type V<'a> = (&'a str, Box<dyn Fn(Command) -> Command + 'a>);
    let variants: Vec<V> = vec![
        ("corral spawn", Box::new(|c| c)),
        (
            "into a job (every cgroup joined by a write: std fork + hook)",
            Box::new(|c| c.job(&job)),
        ),
        (
            "into a v2-only job: born in it (clone3)",
            Box::new(|c| c.job(&v2_job)),
        ),
        (
            "into a v2-only job: joins by a write (std fork + hook)",
            Box::new(|c| c.job(&v2_job).__through_std_for_testing()),
        ),
        (
            "corral spawn + umask (hook, no job)",
            Box::new(|c| c.umask(0o022)),
        ),
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for r in 0..rounds {
        for k in 0..variants.len() {
            let i = (k + r) % variants.len();
            let mut total = Duration::ZERO;
            for _ in 0..spawns {
                total += time(&*variants[i].1);
            }
            samples[i].push(total.as_secs_f64() * 1e6 / spawns as f64);
        }
    }
    Table {
        title: if pause.is_zero() {
            format!("Spawn and wait for {prog}, back to back ({spawns} spawns × {rounds} rounds, per spawn)")
        } else {
            format!(
                "Spawn and wait for {prog} after {} ms of quiet each ({spawns} spawns × {rounds} rounds, per spawn)",
                pause.as_millis()
            )
        },
        unit: "µs",
        rows: variants
            .iter()
            .zip(samples.iter_mut())
            .map(|(v, s)| {
                let (a, b) = stats(s);
                (v.0.to_string(), a, b)
            })
            .collect(),
    }
}

/// Whether thread `tid` of this process is asleep (blocked in its wait).
fn asleep(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('S')))
        .unwrap_or(false)
}

fn latency_once(waiter: &str) -> f64 {
    let job = kill_on_close_job(true);
    let fds = procs_fds(&job);
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let (go_r, go_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (st_r, st_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (gr, sw) = (go_r.as_raw_fd(), st_w.as_raw_fd());
    // SAFETY: the victim reads a byte, reads the clock, writes it, exits: raw calls.
    let victim = unsafe {
        fork_into(&raw, move || {
            let mut b = 0u8;
            if libc::read(gr, (&mut b as *mut u8).cast(), 1) != 1 {
                libc::_exit(1);
            }
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
            let ns = (ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64).to_ne_bytes();
            libc::write(sw, ns.as_ptr().cast(), 8);
        })
    };
    drop(st_w);
    while job.is_empty().unwrap() {
        std::thread::yield_now();
    }
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(victim).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    let mut events = (waiter == "JobEvents JobEmpty").then(|| job.events().unwrap());
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let seen = std::thread::scope(|s| {
        let h = s.spawn(|| {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            match waiter {
                "Job::wait_empty" => job.wait_empty(None).unwrap(),
                "JobEvents JobEmpty" => {
                    let ev = events.as_mut().unwrap();
                    loop {
                        if ev.next_timeout(None).unwrap() == Some(JobEvent::JobEmpty) {
                            break;
                        }
                    }
                }
                _ => {
                    let mut p = [rustix::event::PollFd::new(
                        &pidfd,
                        rustix::event::PollFlags::IN,
                    )];
                    while rustix::event::poll(&mut p, None).unwrap() == 0 {}
                }
            }
            monotonic_ns()
        });
        let tid = tid_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20 + (monotonic_ns() % 40)));
        while !asleep(tid) {
            std::thread::sleep(Duration::from_millis(1));
        }
        rustix::io::write(&go_w, b"g").unwrap();
        let mut st = 0;
        // SAFETY: reaping our own child at once, as a waiting parent does.
        unsafe { libc::waitpid(victim, &mut st, 0) };
        h.join().unwrap()
    });
    let mut b = [0u8; 8];
    rustix::io::read(&st_r, &mut b).unwrap();
    drop(events);
    drop(job);
    (seen - u64::from_ne_bytes(b)) as f64 / 1e3
}

fn bench_latency(reps: usize) -> Table {
    let waiters = [
        "poll(pidfd) of the last member",
        "Job::wait_empty",
        "JobEvents JobEmpty",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); waiters.len()];
    for r in 0..reps {
        for k in 0..waiters.len() {
            let i = (k + r) % waiters.len();
            samples[i].push(latency_once(waiters[i]));
        }
    }
    Table {
        title: format!("Job-empty latency after the last member's exit ({reps} reps per waiter)"),
        unit: "µs",
        rows: waiters
            .iter()
            .zip(samples.iter_mut())
            .map(|(w, s)| {
                let (a, b) = stats(s);
                (w.to_string(), a, b)
            })
            .collect(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if !rustix::process::geteuid().is_root() {
        eprintln!("job_bench: needs root (creates cgroups)");
        return ExitCode::from(2);
    }
    let procs = arg(&args, "--procs", 1000).max(2);
    let rounds = arg(&args, "--rounds", 5).max(1);
    let spawns = arg(&args, "--spawns", 200).max(1);
    let reps = arg(&args, "--reps", 100).max(1);
    let only = sarg(&args, "--only");
    let prog = sarg(&args, "--program").unwrap_or_else(|| "/bin/true".into());
    // Orphans of the trees come back to us, to be reaped.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let _ = corral::system::raise_fd_limit();
    let want = |w: &str| only.as_deref().is_none_or(|o| o == w);
    let mut tables = Vec::new();
    if want("terminate") {
        let t = bench_terminate(procs, rounds);
        t.print(0);
        tables.push(t);
    }
    if want("spawn") {
        let t = bench_spawn(&prog, spawns, rounds, Duration::ZERO);
        t.print(0);
        tables.push(t);
        // The cgroup migration's price after a pause (an RCU grace period), as a tool
        // spawning now and then pays it.
        let t = bench_spawn(
            &prog,
            (spawns / 10).max(1),
            rounds,
            Duration::from_millis(50),
        );
        t.print(0);
        tables.push(t);
    }
    if want("empty") {
        let t = bench_latency(reps);
        t.print(0);
        tables.push(t);
    }
    if let Some(p) = sarg(&args, "--json") {
        let body: Vec<String> = tables.iter().map(|t| t.json().0).collect();
        std::fs::write(p, format!("[{}]\n", body.join(","))).expect("write json");
    }
    ExitCode::SUCCESS
}
