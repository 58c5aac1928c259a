//! `corral run`: spawn a program with priorities, affinity, limits, another user, a new
//! session or a pty, suspended or replacing corral — then pass its exit code on.

use std::io::{Read, Write};

use clap::Args;
use corral::{Command, IoClass, IoPriority, Resource, Rlimit, Signal};

use crate::Failure;

#[derive(Args, Debug)]
#[command(after_help = "\
Jobs: any of --memory, --process-memory, --max-procs, --cpu-time, --cpu-rate, --cpus,
--timeout, --job, --allow-breakaway or --stats runs the program in a job (Linux: a cgroup below corral's
own) that it and everything it starts cannot leave. When the program ends, whatever it
left running in the job is killed and the job removed. A limit this machine cannot
enforce is an error (exit 3), never silently ignored. --max-procs counts tasks: Linux
counts every thread, where Windows counts processes.

Exit status: the program's exit code; 128+N when a signal N killed it; 2 for a usage
error; 3 when corral could not start the program (the message says why: not found in
PATH, not executable, a missing working directory, a refused limit or user);
122 when the job memory limit (--memory) killed it (the OOM killer); 123 when the job
used up --cpu-time; 124 when --timeout ended it. The limit is named on stderr.")]
pub struct RunArgs {
    /// Nice value, -20 (most favoured) to 19.
    #[arg(long, allow_hyphen_values = true, value_name = "N")]
    pub nice: Option<i32>,
    /// Priority class: idle, below-normal, normal, above-normal, high, realtime.
    #[arg(long, value_name = "CLASS")]
    pub priority_class: Option<String>,
    /// CPUs to run on: a list such as 0,2-3.
    #[arg(long, value_name = "CPUS", conflicts_with = "node")]
    pub affinity: Option<String>,
    /// Run on the CPUs of this NUMA node.
    #[arg(long, value_name = "NODE")]
    pub node: Option<u32>,
    /// I/O priority: idle, best-effort[:LEVEL], realtime[:LEVEL] (LEVEL 0-7, 0 highest).
    #[arg(long, value_name = "CLASS[:LEVEL]")]
    pub ionice: Option<String>,
    /// Run as this user (name or uid): its uid, primary group and groups.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Run with this group (name or gid).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// A resource limit, repeatable: nofile=128, core=0, as=512M:1G, cpu=unlimited.
    #[arg(long = "rlimit", value_name = "RES=SOFT[:HARD]")]
    pub rlimits: Vec<String>,
    /// File-creation mask, in octal (027).
    #[arg(long, value_name = "MASK")]
    pub umask: Option<String>,
    /// Working directory.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set an environment variable, repeatable.
    #[arg(long = "env", value_name = "K=V")]
    pub envs: Vec<String>,
    /// Start from an empty environment.
    #[arg(long)]
    pub clear_env: bool,
    /// Run in a new session, detached from this terminal.
    #[arg(long)]
    pub new_session: bool,
    /// Run in a new process group.
    #[arg(long)]
    pub new_group: bool,
    /// Give the program a new pseudo-terminal (relayed to this one).
    #[arg(long)]
    pub pty: bool,
    /// Close every inherited descriptor but stdin, stdout and stderr.
    #[arg(long)]
    pub close_fds: bool,
    /// Start suspended: print the pid and wait; `corral resume PID` lets it run.
    #[arg(long)]
    pub suspended: bool,
    /// Replace corral with the program after applying the options (as nice/taskset do).
    #[arg(long)]
    pub exec: bool,
    /// Run this command line through `sh -c` (Windows: `%COMSPEC% /d /c`, cmd.exe) instead
    /// of PROGRAM ARGS.
    #[arg(long, value_name = "CMD")]
    pub shell: Option<String>,
    #[command(flatten)]
    pub job_events: crate::job_events::RunEventArgs,
    /// Job memory limit, all processes together (RAM + swap): 512M, 2G.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Address-space limit of each process (RLIMIT_AS; allocations beyond it fail): 100M.
    #[arg(long, value_name = "SIZE")]
    pub process_memory: Option<String>,
    /// Most tasks at once in the job (Linux counts threads, not just processes): 64.
    #[arg(long, value_name = "N")]
    pub max_procs: Option<String>,
    /// CPU time (user + kernel) of the whole job, exited processes included; then the job is
    /// killed: 30s.
    #[arg(long, value_name = "TIME")]
    pub cpu_time: Option<String>,
    /// CPU cap as a share of the whole machine: 50%.
    #[arg(long, value_name = "PERCENT")]
    pub cpu_rate: Option<String>,
    /// CPU cap in cores, as docker run --cpus: 1.5.
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,
    /// Wall-clock limit: then the whole job is killed: 1m.
    #[arg(long, value_name = "TIME")]
    pub timeout: Option<String>,
    /// Name the job (visible to `corral job list/show/kill`); must not exist yet.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// Report (with --events) when the job's memory reaches SIZE; nothing is killed
    /// (Windows: notification limits). Exact on cgroup v1 (a kernel memory threshold),
    /// else sampled every 5-50 ms.
    #[arg(long, value_name = "SIZE", requires = "events")]
    pub notify_memory: Option<String>,
    /// Report (with --events) when the job has used TIME of CPU; nothing is killed.
    #[arg(long, value_name = "TIME", requires = "events")]
    pub notify_cpu_time: Option<String>,
    /// Report (with --events) when the job has read SIZE from block devices.
    #[arg(long, value_name = "SIZE", requires = "events")]
    pub notify_read: Option<String>,
    /// Report (with --events) when the job has written SIZE to block devices.
    #[arg(long, value_name = "SIZE", requires = "events")]
    pub notify_write: Option<String>,
    /// Let the job's processes start children outside it with `corral run --breakaway`
    /// (Windows: JOB_OBJECT_LIMIT_BREAKAWAY_OK). Linux: corral's convention, kept on the
    /// job's cgroup, not enforced by the kernel.
    #[arg(long)]
    pub allow_breakaway: bool,
    /// Start the program outside the job corral runs in, if that job allows it (Windows:
    /// CREATE_BREAKAWAY_FROM_JOB); no effect when corral is in no job. Not with job options.
    #[arg(long)]
    pub breakaway: bool,
    /// Print the job's accounting (CPU time, memory, faults, I/O, OOM kills) to stderr at
    /// the end.
    #[arg(long)]
    pub stats: bool,
    /// With --stats: print the accounting as one JSON object (the last line of stderr);
    /// with --events: the events as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// The program and its arguments (after `--`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM"
    )]
    pub argv: Vec<String>,
}

fn usage(m: impl Into<String>) -> Failure {
    Failure::usage(m)
}

/// Parses a CPU list such as `0,2-3` (`opt` names the option in errors).
pub fn parse_cpus(s: &str, opt: &str) -> Result<Vec<usize>, Failure> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a
            .parse()
            .map_err(|_| usage(format!("{opt}: bad CPU list {s:?}")))?;
        let b: usize = b
            .parse()
            .map_err(|_| usage(format!("{opt}: bad CPU list {s:?}")))?;
        if a > b || b >= 1 << 16 {
            return Err(usage(format!("{opt}: bad CPU range {part:?}")));
        }
        v.extend(a..=b);
    }
    if v.is_empty() {
        return Err(usage(format!("{opt}: empty CPU list")));
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

fn parse_amount(s: &str, what: &str, opt: &str) -> Result<Option<u64>, Failure> {
    let t = s.trim().to_ascii_lowercase();
    if t == "unlimited" || t == "infinity" || t == "inf" {
        return Ok(None);
    }
    let (num, mult) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 1u64 << 10),
        Some(b'm') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g') => (&t[..t.len() - 1], 1 << 30),
        Some(b't') => (&t[..t.len() - 1], 1 << 40),
        _ => (&t[..], 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .map(Some)
        .ok_or_else(|| {
            usage(format!(
                "{opt}: bad value {s:?} for {what} (a number, with K/M/G, or unlimited)"
            ))
        })
}

/// Parses `RES=SOFT[:HARD]` (one value sets both).
pub fn parse_rlimit(s: &str, opt: &str) -> Result<(Resource, Rlimit), Failure> {
    let (name, val) = s
        .split_once('=')
        .ok_or_else(|| usage(format!("{opt}: expected RES=SOFT[:HARD], got {s:?}")))?;
    let res = Resource::from_name(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
        usage(format!(
            "{opt}: unknown resource {name:?}; known: {}",
            names.join(", ")
        ))
    })?;
    let (soft, hard) = match val.split_once(':') {
        Some((a, b)) => (parse_amount(a, name, opt)?, parse_amount(b, name, opt)?),
        None => {
            let v = parse_amount(val, name, opt)?;
            (v, v)
        }
    };
    if let (Some(a), Some(b)) = (soft, hard) {
        if a > b {
            return Err(usage(format!(
                "{opt}: soft limit above hard limit in {s:?}"
            )));
        }
    }
    if soft.is_none() && hard.is_some() {
        return Err(usage(format!(
            "{opt}: an unlimited soft limit cannot exceed a finite hard limit in {s:?}"
        )));
    }
    Ok((res, Rlimit { soft, hard }))
}

/// Parses `CLASS[:LEVEL]` (`opt` names the option in errors).
pub fn parse_ionice(s: &str, opt: &str) -> Result<IoPriority, Failure> {
    let (c, l) = match s.split_once(':') {
        Some((c, l)) => (c, Some(l)),
        None => (s, None),
    };
    let class = match c.trim().to_ascii_lowercase().as_str() {
        "idle" | "3" => IoClass::Idle,
        "best-effort" | "besteffort" | "be" | "2" => IoClass::BestEffort,
        "realtime" | "real-time" | "rt" | "1" => IoClass::Realtime,
        "none" | "0" => IoClass::None,
        other => {
            return Err(usage(format!(
                "{opt}: unknown class {other:?} (idle, best-effort, realtime, none)"
            )))
        }
    };
    let level = match l {
        None => 4,
        Some(l) => l
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 7)
            .ok_or_else(|| usage(format!("{opt}: level {l:?} is not 0-7")))?,
    };
    Ok(IoPriority { class, level })
}

fn build(a: &RunArgs) -> Result<Command, Failure> {
    let (program, args): (String, Vec<String>) = match (&a.shell, a.argv.split_first()) {
        (Some(_), Some(_)) => {
            return Err(usage("give either --shell CMD or PROGRAM ARGS, not both"))
        }
        // Windows: the command interpreter named by COMSPEC (cmd.exe), which takes the
        // rest of its command line after /c as is.
        (Some(cmd), None) if cfg!(windows) => (
            std::env::var("COMSPEC").unwrap_or_else(|_| "cmd.exe".into()),
            vec!["/d".into(), "/c".into(), cmd.clone()],
        ),
        (Some(cmd), None) => ("sh".into(), vec!["-c".into(), cmd.clone()]),
        (None, Some((p, rest))) => (p.clone(), rest.to_vec()),
        (None, None) => return Err(usage("no program: corral run [OPTIONS] -- PROGRAM [ARGS…]")),
    };
    let mut c = Command::new(&program).args(&args);
    if let Some(n) = a.nice {
        if !(-20..=19).contains(&n) {
            return Err(usage(format!("--nice: {n} is outside -20..=19")));
        }
        c = c.nice(n);
    }
    if let Some(p) = &a.priority_class {
        let class: corral::PriorityClass = p.parse().map_err(|e: corral::Error| {
            usage(format!(
                "--priority-class: {}",
                e.detail().unwrap_or("bad class")
            ))
        })?;
        c = c.priority_class(class);
    }
    if let Some(s) = &a.affinity {
        c = c.cpu_affinity(&parse_cpus(s, "--affinity")?);
    }
    if let Some(n) = a.node {
        let cpus = corral::system::numa_node_cpus(n)
            .map_err(|e| usage(format!("--node: {}", e.detail().unwrap_or("bad node"))))?;
        c = c.cpu_affinity(&cpus);
    }
    if let Some(s) = &a.ionice {
        c = c.io_priority(parse_ionice(s, "--ionice")?);
    }
    for r in &a.rlimits {
        let (res, lim) = parse_rlimit(r, "--rlimit")?;
        c = c.rlimit(res, lim);
    }
    if let Some(m) = &a.umask {
        let v = u32::from_str_radix(m.trim(), 8)
            .ok()
            .filter(|&v| v <= 0o777)
            .ok_or_else(|| usage(format!("--umask: {m:?} is not an octal mask like 027")))?;
        c = c.umask(v);
    }
    if let Some(d) = &a.cwd {
        c = c.current_dir(d);
    }
    if a.clear_env {
        c = c.env_clear();
    }
    for kv in &a.envs {
        let (k, v) = kv
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| usage(format!("--env: expected NAME=VALUE, got {kv:?}")))?;
        c = c.env(k, v);
    }
    let fatal = |e: corral::Error| Failure::fatal(e.to_string());
    let mut gid_set = false;
    if let Some(g) = &a.group {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => corral::system::group_id(g)
                .map_err(fatal)?
                .ok_or_else(|| usage(format!("--group: no group named {g:?}")))?,
        };
        c = c.gid(gid);
        gid_set = true;
    }
    if let Some(u) = &a.user {
        let name = match u.parse::<u32>() {
            Ok(uid) => corral::system::user_name(uid),
            Err(_) => Some(u.clone()),
        };
        let account = match &name {
            Some(n) => corral::system::account(n).map_err(fatal)?,
            None => None,
        };
        match (account, u.parse::<u32>()) {
            (Some(acc), _) => {
                c = c.uid(acc.uid).groups(&acc.groups);
                if !gid_set {
                    c = c.gid(acc.gid);
                }
            }
            (None, Ok(uid)) if gid_set => c = c.uid(uid).groups(&[]),
            (None, Ok(uid)) => {
                return Err(usage(format!(
                    "--user: uid {uid} has no account; give --group too"
                )))
            }
            (None, Err(_)) => return Err(usage(format!("--user: no user named {u:?}"))),
        }
    }
    Ok(c.new_session(a.new_session)
        .new_process_group(a.new_group)
        .pty(a.pty)
        .close_inherited(a.close_fds)
        // Windows has no signals to forward: Ctrl-C and Ctrl-Break reach every process
        // of the console, the child included.
        .forward_signals(!cfg!(windows))
        .suspended(a.suspended))
}

/// The exit code for how the child ended.
pub fn code_of(st: corral::ExitStatus) -> u8 {
    match st.shell_code() {
        Some(c) => c.clamp(0, 255) as u8,
        None => 1,
    }
}

pub fn run(a: RunArgs) -> Result<(), Failure> {
    if a.exec && (a.suspended || a.pty || a.job_events.events) {
        return Err(usage(
            "--exec cannot be combined with --suspended, --pty or --events",
        ));
    }
    let mut cmd = build(&a)?.breakaway_from_job(a.breakaway);
    let plan = crate::job::RunJob::from_args(&a)?;
    if a.breakaway && (plan.is_some() || a.job_events.events) {
        return Err(usage(
            "--breakaway starts the program outside corral's job; it cannot be combined with \
             job options or --events, which put it in a new job",
        ));
    }
    if a.exec {
        if plan.is_some() {
            return Err(usage(
                "--exec cannot be combined with job options (the job needs corral to stay)",
            ));
        }
        let e = cmd.exec();
        return Err(Failure::fatal(e.to_string()));
    }
    let job = match &plan {
        Some(p) => {
            let job = p.create()?;
            cmd = cmd.job(&job);
            Some(job)
        }
        None => None,
    };
    let events = crate::job_events::start_for_run(&a.job_events, a.json, job.as_ref())?;
    if let Some((Some(own), _)) = &events {
        cmd = cmd.job(own);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            if let Some(j) = &job {
                let _ = j.terminate();
            }
            return Err(Failure::fatal(e.to_string()));
        }
    };
    if let (Some(p), Some(j)) = (&plan, &job) {
        let r = p.supervise(j, &mut child, a.pty);
        if let Some((_, printer)) = events {
            printer.finish(child.pid(), None);
        }
        return r;
    }
    if a.suspended {
        eprintln!(
            "corral: started {} suspended ({}); run `corral resume {}` to let it run",
            child.pid(),
            child.process_ref(),
            child.process_ref()
        );
    }
    if a.pty {
        relay_pty(&mut child);
    }
    if let Some((own, printer)) = events {
        // Exited, not reaped yet: let the printer report it, then kill whatever is left
        // of the job (it is kill-on-close) and report that.
        let _ = child.process().wait(None);
        printer.finish(child.pid(), own);
    }
    let st = child.wait().map_err(|e| Failure::fatal(e.to_string()))?;
    let code = code_of(st);
    if code == 0 {
        Ok(())
    } else {
        Err(Failure {
            code,
            msg: String::new(),
        })
    }
}

/// Copies this terminal's input to the child's pty and its output back, until the child
/// closes the pty.
pub fn relay_pty(child: &mut corral::Child) {
    let Some(master) = child.pty() else { return };
    let Ok(mut to_child) = master.try_clone() else {
        return;
    };
    let mut from_child = match master.try_clone() {
        Ok(f) => f,
        Err(_) => return,
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || to_child.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut out = std::io::stdout();
    let mut buf = [0u8; 4096];
    // EIO once the child side is closed: the end of its output.
    while let Ok(n) = from_child.read(&mut buf) {
        if n == 0 || out.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = out.flush();
    }
}

/// `corral suspend|resume PID…`.
#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// Processes: PID or PID:INODE.
    #[arg(required = true, value_name = "PID")]
    pub targets: Vec<String>,
}

pub fn signal_each(a: ResumeArgs, sig: Signal) -> Result<(), Failure> {
    let mut failed = None;
    for t in &a.targets {
        let r: corral::ProcessRef = t
            .parse()
            .map_err(|e: corral::Error| usage(e.detail().unwrap_or("bad pid").to_string()))?;
        match corral::Process::open_ref(r).and_then(|p| p.send_signal(sig)) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("corral: {e}");
                failed = Some(Failure::from_error(&e));
            }
        }
    }
    match failed {
        Some(f) => Err(Failure {
            code: f.code,
            msg: String::new(),
        }),
        None => Ok(()),
    }
}
