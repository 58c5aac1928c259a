//! `corral job list|show|kill|freeze|thaw` and the job side of `corral run` (limits,
//! `--timeout`, `--stats`, the exit code when a limit ended the program).

use std::time::Duration;

use clap::{Args, Subcommand};
use corral::{Job, JobAccounting, JobBackend, JobLimits};
use serde_json::{json, Value};

use crate::output::Out;
use crate::Failure;

/// Exit code of `corral run` when the job memory limit (`--memory`) killed the program.
pub const EXIT_MEMORY: u8 = 122;
/// Exit code of `corral run` when the job used up its `--cpu-time`.
pub const EXIT_CPU_TIME: u8 = 123;
/// Exit code of `corral run` when `--timeout` (wall clock) ended the job.
pub const EXIT_TIMEOUT: u8 = 124;

/// `corral job …`.
#[derive(Args, Debug)]
#[command(after_help = "\
A job is a group of processes confined together (Linux: a cgroup named corral-NAME
below this process's own cgroup in each hierarchy; Windows: a Job Object named
corral-NAME in the session's named objects). `corral run --job NAME` makes one.
Exit status: 0 success; 2 bad name or no such job; 3 the cgroups could not be read or
written.")]
pub struct JobArgs {
    #[command(subcommand)]
    pub cmd: JobCmd,
}

#[derive(Subcommand, Debug)]
pub enum JobCmd {
    /// List the jobs below this process's cgroups: members, memory, CPU time.
    List(ListArgs),
    /// Show one job: members, limits, accounting.
    Show(NameArgs),
    /// Kill every member of a job at once, then remove the empty job.
    Kill(NameArgs),
    /// Freeze a job: no member runs until `corral job thaw`.
    Freeze(NameArgs),
    /// Let a frozen job run again.
    Thaw(NameArgs),
    /// Follow a job's events (processes joining and exiting, limits hit, out-of-memory
    /// kills) until it is empty, or Ctrl-C.
    Events(crate::job_events::EventsArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Every corral job on the machine (name and cgroup; Windows: name and named-object
    /// directory), not only those below this process's cgroups; read-only.
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NameArgs {
    /// The job's name (without the corral- prefix).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Opens a job for reading or control. Dropping the handle removes the job only if it
/// is empty and nobody else holds a handle of it (its creator, `corral run --job`…).
fn with_job<T>(name: &str, f: impl FnOnce(&Job) -> corral::Result<T>) -> Result<T, Failure> {
    let job = Job::open(name).map_err(|e| Failure::from_error(&e))?;
    f(&job).map_err(|e| Failure::from_error(&e))
}

pub fn run(a: JobArgs) -> Result<(), Failure> {
    match a.cmd {
        JobCmd::List(l) => list(l),
        JobCmd::Show(n) => show(n),
        JobCmd::Events(e) => crate::job_events::events(e),
        JobCmd::Kill(n) => {
            // Dropped normally: the job, empty now, is removed.
            let job = Job::open(&n.name).map_err(|e| Failure::from_error(&e))?;
            let count = job.processes().map(|p| p.len()).unwrap_or(0);
            if let Err(e) = job.terminate() {
                // Its owner (say `corral run`) may have removed it as soon as it emptied.
                let gone = Job::list().is_ok_and(|l| !l.contains(&n.name));
                if !gone {
                    return Err(Failure::from_error(&e));
                }
            }
            eprintln!("corral: job {}: killed {count} processes", n.name);
            Ok(())
        }
        JobCmd::Freeze(n) => with_job(&n.name, Job::freeze),
        JobCmd::Thaw(n) => with_job(&n.name, Job::thaw),
    }
}

fn list(a: ListArgs) -> Result<(), Failure> {
    if a.all {
        let jobs = Job::list_all().map_err(|e| Failure::from_error(&e))?;
        // Where a job lives: its cgroup on Linux, the named-object directory of its
        // session (e.g. `\Sessions\1\BaseNamedObjects`) for a Windows Job Object.
        let (header, key) = if Job::capabilities().backend == JobBackend::JobObject {
            ("DIRECTORY", "directory")
        } else {
            ("CGROUP", "cgroup")
        };
        let mut out = Out::new();
        if a.json {
            let v: Vec<Value> = jobs
                .iter()
                .map(|j| json!({"name": j.name, key: j.cgroups.first().map(|c| &c.path)}))
                .collect();
            out.json(&Value::Array(v))?;
        } else {
            out.line(&format!("{:<24} {header}", "NAME"))?;
            for j in &jobs {
                let at = j.cgroups.first().map_or("", |c| c.path.as_str());
                out.line(&format!("{:<24} {at}", j.name))?;
            }
        }
        out.flush()?;
        return Ok(());
    }
    let names = Job::list().map_err(|e| Failure::from_error(&e))?;
    let mut rows = Vec::new();
    for name in names {
        // A job may vanish between the listing and the open.
        let Ok(r) = with_job(&name, |j| {
            Ok((j.processes()?.len(), j.is_frozen()?, j.accounting()?))
        }) else {
            continue;
        };
        rows.push((name, r));
    }
    let mut out = Out::new();
    if a.json {
        let v: Vec<Value> = rows
            .iter()
            .map(|(n, (m, f, acc))| {
                json!({"name": n, "members": m, "frozen": f, "accounting": accounting_json(acc)})
            })
            .collect();
        out.json(&Value::Array(v))?;
    } else {
        out.line(&format!(
            "{:<24} {:>7} {:>6} {:>10} {:>10}",
            "NAME", "MEMBERS", "FROZEN", "MEMORY", "CPU"
        ))?;
        for (n, (m, f, acc)) in &rows {
            out.line(&format!(
                "{:<24} {:>7} {:>6} {:>10} {:>10}",
                n,
                m,
                if *f { "yes" } else { "no" },
                acc.memory.map_or("-".into(), bytes),
                acc.total_time().map_or("-".into(), secs)
            ))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn show(a: NameArgs) -> Result<(), Failure> {
    let (members, limits, acc, frozen) = with_job(&a.name, |j| {
        let members: Vec<(u32, String)> = j
            .processes()?
            .iter()
            .map(|p| (p.pid().as_raw(), p.name().unwrap_or_default()))
            .collect();
        Ok((members, j.limits()?, j.accounting()?, j.is_frozen()?))
    })?;
    let mut out = Out::new();
    if a.json {
        let m: Vec<Value> = members
            .iter()
            .map(|(p, n)| json!({"pid": p, "name": n}))
            .collect();
        out.json(&json!({
            "name": a.name,
            "frozen": frozen,
            "members": m,
            "limits": limits_json(&limits),
            "accounting": accounting_json(&acc),
        }))?;
    } else {
        out.line(&format!(
            "job {}{}",
            a.name,
            if frozen { " (frozen)" } else { "" }
        ))?;
        out.line(&format!("members: {}", members.len()))?;
        for (p, n) in &members {
            out.line(&format!("  {p:>7} {n}"))?;
        }
        out.line("limits:")?;
        let lines = limit_lines(&limits);
        if lines.is_empty() {
            out.line("  none")?;
        }
        for l in lines {
            out.line(&format!("  {l}"))?;
        }
        out.line("accounting:")?;
        for l in accounting_lines(&acc) {
            out.line(&format!("  {l}"))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `1.5K`-style sizes (powers of 1024).
pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", U[i])
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

fn limit_lines(l: &JobLimits) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(n) = l.job_memory {
        v.push(format!("memory:          {}", bytes(n)));
    }
    if let Some(n) = l.process_memory {
        v.push(format!("process memory:  {}", bytes(n)));
    }
    if let Some(n) = l.max_processes {
        v.push(format!("max tasks:       {n}"));
    }
    if let Some(t) = l.job_cpu_time {
        v.push(format!("job CPU time:    {}", secs(t)));
    }
    if let Some(t) = l.process_cpu_time {
        v.push(format!("process CPU time: {}", secs(t)));
    }
    if let Some(r) = l.cpu_rate {
        v.push(format!("CPU rate:        {:.1}% of the machine", r * 100.0));
    }
    if let Some(c) = l.cpus {
        v.push(format!("CPUs:            {c}"));
    }
    if let Some(w) = l.cpu_weight {
        v.push(format!("CPU weight:      {w}"));
    }
    if let Some(n) = l.working_set_min {
        v.push(format!("working set min: {}", bytes(n)));
    }
    if let Some(n) = l.working_set_max {
        v.push(format!("working set max: {}", bytes(n)));
    }
    if let Some(c) = &l.affinity {
        let s: Vec<String> = c.iter().map(usize::to_string).collect();
        v.push(format!("affinity:        {}", s.join(",")));
    }
    if l.breakaway_ok {
        v.push("breakaway:       allowed".into());
    }
    for r in &l.io_rates {
        v.push(format!(
            "I/O {}:{}:        rbps={:?} wbps={:?} riops={:?} wiops={:?}",
            r.major, r.minor, r.read_bps, r.write_bps, r.read_iops, r.write_iops
        ));
    }
    v
}

fn limits_json(l: &JobLimits) -> Value {
    json!({
        "memory": l.job_memory,
        "process_memory": l.process_memory,
        "max_processes": l.max_processes,
        "job_cpu_time": l.job_cpu_time.map(|d| d.as_secs_f64()),
        "process_cpu_time": l.process_cpu_time.map(|d| d.as_secs_f64()),
        "cpu_rate": l.cpu_rate,
        "cpus": l.cpus,
        "cpu_weight": l.cpu_weight,
        "working_set_min": l.working_set_min,
        "working_set_max": l.working_set_max,
        "affinity": l.affinity,
        "breakaway_ok": l.breakaway_ok,
        "io_rates": l.io_rates.iter().map(|r| json!({
            "device": format!("{}:{}", r.major, r.minor),
            "read_bps": r.read_bps, "write_bps": r.write_bps,
            "read_iops": r.read_iops, "write_iops": r.write_iops,
        })).collect::<Vec<_>>(),
    })
}

pub fn accounting_json(a: &JobAccounting) -> Value {
    json!({
        "user_time": a.user_time.map(|d| d.as_secs_f64()),
        "kernel_time": a.kernel_time.map(|d| d.as_secs_f64()),
        "cpu_time": a.total_time().map(|d| d.as_secs_f64()),
        "this_period_user_time": a.this_period_user.map(|d| d.as_secs_f64()),
        "this_period_kernel_time": a.this_period_kernel.map(|d| d.as_secs_f64()),
        "active_processes": a.active_processes,
        "total_processes": a.total_processes,
        "page_faults": a.page_faults,
        "major_page_faults": a.major_page_faults,
        "read_ops": a.read_ops,
        "write_ops": a.write_ops,
        "read_bytes": a.read_bytes,
        "write_bytes": a.write_bytes,
        "memory": a.memory,
        "peak_memory": a.peak_memory,
        "peak_process_memory": a.peak_process_memory,
        "oom_kills": a.oom_kills,
        "process_limit_hits": a.process_limit_hits,
        "cpu_time_limit_hit": a.cpu_time_limit_hit,
    })
}

pub fn accounting_lines(a: &JobAccounting) -> Vec<String> {
    let n = |v: Option<u64>| v.map_or("-".into(), |n| n.to_string());
    let b = |v: Option<u64>| v.map_or("-".into(), bytes);
    let t = |v: Option<Duration>| v.map_or("-".into(), secs);
    vec![
        format!(
            "cpu time:        {} (user {}, kernel {})",
            t(a.total_time()),
            t(a.user_time),
            t(a.kernel_time)
        ),
        format!(
            "this period:     {} (user {}, kernel {})",
            t(a.this_period_time()),
            t(a.this_period_user),
            t(a.this_period_kernel)
        ),
        format!("active processes: {}", a.active_processes),
        format!(
            "memory:          {} now, {} peak",
            b(a.memory),
            b(a.peak_memory)
        ),
        format!(
            "page faults:     {} (major {})",
            n(a.page_faults),
            n(a.major_page_faults)
        ),
        format!(
            "block I/O:       {} reads ({}), {} writes ({})",
            n(a.read_ops),
            b(a.read_bytes),
            n(a.write_ops),
            b(a.write_bytes)
        ),
        format!("OOM kills:       {}", n(a.oom_kills)),
        format!("refused forks:   {}", n(a.process_limit_hits)),
    ]
}

/// Parses a size: `512M`, `1.5G`, `64k`, `100MB`, `100MiB`, or bytes. Refuses 0.
pub fn parse_size(s: &str, flag: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::usage(format!(
            "{flag}: bad size {s:?} (a positive number with an optional K, M, G or T suffix, \
             as in 512M)"
        ))
    };
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let body = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (num, mult) = match body.as_bytes().last() {
        Some(b'K') => (&body[..body.len() - 1], 1u64 << 10),
        Some(b'M') => (&body[..body.len() - 1], 1 << 20),
        Some(b'G') => (&body[..body.len() - 1], 1 << 30),
        Some(b'T') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(bad());
    }
    let v: f64 = num.parse().map_err(|_| bad())?;
    let n = (v * mult as f64).round();
    if !(1.0..1.8e19).contains(&n) {
        return Err(Failure::usage(format!(
            "{flag}: {s:?} must be at least one byte"
        )));
    }
    Ok(n as u64)
}

/// Parses a positive whole number.
pub fn parse_count(s: &str, flag: &str) -> Result<u64, Failure> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err(Failure::usage(format!("{flag}: must be at least 1"))),
        Ok(n) => Ok(n),
        Err(_) => Err(Failure::usage(format!(
            "{flag}: {s:?} is not a positive whole number"
        ))),
    }
}

/// Parses a positive duration (`30s`, `1m`, `500ms`, bare seconds).
pub fn parse_time(s: &str, flag: &str) -> Result<Duration, Failure> {
    if s.trim().starts_with('-') {
        return Err(Failure::usage(format!("{flag}: {s:?} is negative")));
    }
    let d = crate::duration::parse(s).map_err(|e| Failure::usage(format!("{flag}: {e}")))?;
    if d.is_zero() {
        return Err(Failure::usage(format!("{flag}: must be more than 0")));
    }
    Ok(d)
}

/// Parses `50%` (or `50`) into a share of the machine, 0 < share <= 1.
pub fn parse_rate(s: &str, flag: &str) -> Result<f64, Failure> {
    let t = s.trim();
    let num = t.strip_suffix('%').unwrap_or(t).trim();
    match num.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p / 100.0),
        _ => Err(Failure::usage(format!(
            "{flag}: {s:?} is not a percentage in (0, 100], as in 50%"
        ))),
    }
}

/// Parses a positive number of CPUs (`1.5`).
pub fn parse_cores(s: &str, flag: &str) -> Result<f64, Failure> {
    match s.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c.is_finite() => Ok(c),
        _ => Err(Failure::usage(format!(
            "{flag}: {s:?} is not a positive number of CPUs, as in 1.5"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M", "x").unwrap(), 512 << 20);
        assert_eq!(parse_size("512mb", "x").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5G", "x").unwrap(), 3 << 29);
        assert_eq!(parse_size("100MiB", "x").unwrap(), 100 << 20);
        assert_eq!(parse_size("4096", "x").unwrap(), 4096);
        for bad in ["12XB", "-5", "0", "", "M", "1..2M", "0K", "1e3", "abc"] {
            assert!(parse_size(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn others() {
        assert_eq!(parse_count("64", "x").unwrap(), 64);
        assert!(parse_count("0", "x").is_err());
        assert!(parse_count("-5", "x").is_err());
        assert_eq!(parse_rate("50%", "x").unwrap(), 0.5);
        assert!(parse_rate("0%", "x").is_err());
        assert!(parse_rate("150%", "x").is_err());
        assert_eq!(parse_cores("1.5", "x").unwrap(), 1.5);
        assert!(parse_cores("0", "x").is_err());
        assert!(parse_cores("-1", "x").is_err());
        assert_eq!(parse_time("1m", "x").unwrap(), Duration::from_secs(60));
        assert!(parse_time("0", "x").is_err());
        assert!(parse_time("-5", "x").is_err());
    }
}

/// What `corral run` says once when its job is the process-group fallback.
pub const FALLBACK_NOTE: &str = "note: no writable cgroup, so the job is a process group \
(weaker: members are found by scanning /proc and one that leaves its group, clears its \
environment and loses its parent escapes; only per-process limits and --cpu-time hold; \
events are best-effort)";

/// The job side of `corral run`: limits to create the job with, and what to do while
/// the program runs and after it ends.
#[derive(Debug)]
pub struct RunJob {
    name: Option<String>,
    limits: JobLimits,
    notify: corral::JobNotificationLimits,
    timeout: Option<Duration>,
    stats: bool,
    json: bool,
    /// The flags as given, for messages.
    memory_arg: Option<String>,
    cpu_time_arg: Option<String>,
    timeout_arg: Option<String>,
}

impl RunJob {
    /// The job options of `corral run`, checked; `None` when none was given.
    pub fn from_args(a: &crate::run::RunArgs) -> Result<Option<RunJob>, Failure> {
        let any = a.memory.is_some()
            || a.process_memory.is_some()
            || a.max_procs.is_some()
            || a.cpu_time.is_some()
            || a.cpu_rate.is_some()
            || a.cpus.is_some()
            || a.timeout.is_some()
            || a.job.is_some()
            || a.allow_breakaway
            || a.notify_memory.is_some()
            || a.notify_cpu_time.is_some()
            || a.notify_read.is_some()
            || a.notify_write.is_some()
            || a.stats;
        if a.json && !a.stats && !a.job_events.events {
            return Err(Failure::usage("--json goes with --stats or --events"));
        }
        if !any {
            return Ok(None);
        }
        let mut l = JobLimits::new().breakaway_ok(a.allow_breakaway);
        if let Some(s) = &a.memory {
            l = l.job_memory(parse_size(s, "--memory")?);
        }
        if let Some(s) = &a.process_memory {
            l = l.process_memory(parse_size(s, "--process-memory")?);
        }
        if let Some(s) = &a.max_procs {
            l = l.max_processes(parse_count(s, "--max-procs")?);
        }
        if let Some(s) = &a.cpu_time {
            l = l.job_cpu_time(parse_time(s, "--cpu-time")?);
        }
        match (&a.cpu_rate, &a.cpus) {
            (Some(_), Some(_)) => {
                return Err(Failure::usage("give --cpu-rate or --cpus, not both"))
            }
            (Some(s), None) => l = l.cpu_rate(parse_rate(s, "--cpu-rate")?),
            (None, Some(s)) => {
                let c = parse_cores(s, "--cpus")?;
                let n = std::thread::available_parallelism().map_or(1, |n| n.get());
                let online = corral::system::topology()
                    .map(|t| t.logical_cpus())
                    .unwrap_or(n);
                if c > online as f64 {
                    return Err(Failure::usage(format!(
                        "--cpus: {c} is more than the {online} CPUs of this machine"
                    )));
                }
                l = l.cpus(c);
            }
            (None, None) => {}
        }
        let mut notify = corral::JobNotificationLimits::new();
        if let Some(s) = &a.notify_memory {
            notify = notify.job_memory(parse_size(s, "--notify-memory")?);
        }
        if let Some(s) = &a.notify_cpu_time {
            notify = notify.job_cpu_time(parse_time(s, "--notify-cpu-time")?);
        }
        if let Some(s) = &a.notify_read {
            notify = notify.io_read_bytes(parse_size(s, "--notify-read")?);
        }
        if let Some(s) = &a.notify_write {
            notify = notify.io_write_bytes(parse_size(s, "--notify-write")?);
        }
        let timeout = a
            .timeout
            .as_deref()
            .map(|s| parse_time(s, "--timeout"))
            .transpose()?;
        if let Some(n) = &a.job {
            // The same checks as the library, before anything is created.
            if n.is_empty()
                || n.len() > corral::MAX_JOB_NAME
                || n == "."
                || n == ".."
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err(Failure::usage(format!(
                    "--job: {n:?} is not a valid job name (1-{} of A-Z a-z 0-9 . _ -, not . or ..)",
                    corral::MAX_JOB_NAME
                )));
            }
        }
        Ok(Some(RunJob {
            name: a.job.clone(),
            limits: l,
            notify,
            timeout,
            stats: a.stats,
            json: a.json,
            memory_arg: a.memory.clone(),
            cpu_time_arg: a.cpu_time.clone(),
            timeout_arg: a.timeout.clone(),
        }))
    }

    /// Creates the job with its limits (all or nothing).
    ///
    /// Where no cgroup is writable the library falls back to a process-group job: say
    /// once, on stderr, what is weaker then.
    pub fn create(&self) -> Result<Job, Failure> {
        let fail = |e: corral::Error| {
            let mut f = Failure::from_error(&e);
            if e.kind() == corral::ErrorKind::Unsupported {
                f.msg = format!("{}; see `corral job` --help", f.msg);
            }
            f
        };
        let mut job = Job::create_with_limits(self.name.as_deref(), &self.limits).map_err(fail)?;
        // On error the job, empty, is removed as it drops.
        job.set_notification_limits(&self.notify).map_err(fail)?;
        if job.backend() == corral::JobBackend::ProcessGroup {
            eprintln!("corral: {FALLBACK_NOTE}");
        }
        Ok(job)
    }

    /// Waits for the program (killing the job at `--timeout`), kills what it left in the
    /// job, prints the accounting if asked, and picks the exit code.
    pub fn supervise(
        &self,
        job: &Job,
        child: &mut corral::Child,
        pty: bool,
    ) -> Result<(), Failure> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::mpsc;
        let timed_out = AtomicBool::new(false);
        let st = std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel::<()>();
            if let Some(t) = self.timeout {
                let flag = &timed_out;
                s.spawn(move || {
                    if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(t) {
                        flag.store(true, Ordering::SeqCst);
                        let _ = job.terminate();
                    }
                });
            }
            if pty {
                crate::run::relay_pty(child);
            }
            let st = child.wait();
            drop(tx);
            st
        });
        let st = st.map_err(|e| Failure::fatal(e.to_string()))?;
        let left = job.processes().map(|p| p.len()).unwrap_or(0);
        if left > 0 {
            let _ = job.terminate();
        }
        let acc = job.accounting().ok();
        let oom = acc.as_ref().and_then(|a| a.oom_kills).unwrap_or(0);
        let killed = st.signal() == Some(corral::Signal::Kill);
        let (code, why) = if timed_out.load(Ordering::SeqCst) {
            (
                EXIT_TIMEOUT,
                Some(format!(
                    "--timeout {}: time is up; the job was killed",
                    self.timeout_arg.as_deref().unwrap_or("")
                )),
            )
        } else if job.cpu_time_limit_hit() {
            (
                EXIT_CPU_TIME,
                Some(format!(
                    "--cpu-time {}: the job used up its CPU time and was killed",
                    self.cpu_time_arg.as_deref().unwrap_or("")
                )),
            )
        } else if killed && oom > 0 {
            (
                EXIT_MEMORY,
                Some(format!(
                    "--memory {}: the job reached its memory limit and the OOM killer killed \
                     the program",
                    self.memory_arg.as_deref().unwrap_or("")
                )),
            )
        } else {
            (crate::run::code_of(st), None)
        };
        if let Some(w) = &why {
            eprintln!("corral: {w}");
        } else if oom > 0 {
            eprintln!(
                "corral: note: the OOM killer killed {oom} process(es) of the job (--memory)"
            );
        }
        if let Some(n) = acc.as_ref().and_then(|a| a.process_limit_hits) {
            if n > 0 && self.limits.max_processes.is_some() {
                eprintln!(
                    "corral: note: {n} fork(s) or thread(s) were refused at --max-procs {}",
                    self.limits.max_processes.unwrap_or(0)
                );
            }
        }
        if left > 0 && why.is_none() {
            eprintln!("corral: killed {left} process(es) the program left in the job");
        }
        if self.stats {
            match &acc {
                Some(a) if self.json => {
                    let mut v = accounting_json(a);
                    v["job"] = json!(job.name());
                    v["exit_code"] = json!(code);
                    v["limit"] = json!(why);
                    eprintln!("{v}");
                }
                Some(a) => {
                    eprintln!("corral: job {} accounting:", job.name());
                    for l in accounting_lines(a) {
                        eprintln!("  {l}");
                    }
                }
                None => eprintln!("corral: the job's accounting could not be read"),
            }
        }
        if code == 0 {
            Ok(())
        } else {
            Err(Failure {
                code,
                msg: String::new(),
            })
        }
    }
}
