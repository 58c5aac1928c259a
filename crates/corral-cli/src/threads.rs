//! `corral threads PID` and `corral ps --threads`: one row per thread.

use clap::Args;
use corral::{Process, ProcessRef, ThreadInfo};
use serde_json::Value;

use crate::columns::{clock, Align};
use crate::output::{self, Out};
use crate::Failure;

#[derive(Args, Debug)]
#[command(after_help = "\
Columns: TID, NAME (the thread's comm), S (state letter), POLICY (normal, batch, idle, fifo,
rr), PRIO (priority level relative to the process's class: idle … time-critical), NI (nice),
RT (real-time priority), CPU (last CPU), AFFINITY (allowed CPUs), VCSW/NVCSW (voluntary and
involuntary context switches), TIME (user + system CPU time).
With --tid and a setter (--priority, --policy, --nice, --cpus, --ioclass), changes that one
thread and shows it (--json then adds its I/O priority as `ionice`). Exit status: 0 listed (or changed); 1 no such process or thread, or the change was
refused; 2 usage error; 3 fatal error.")]
pub struct ThreadsArgs {
    /// The process: PID or PID:INODE.
    #[arg(value_name = "PID")]
    pub target: String,
    /// One JSON object per thread.
    #[arg(long)]
    pub json: bool,
    /// Leave out the header line.
    #[arg(long)]
    pub no_header: bool,
    /// Do not truncate lines to the terminal width.
    #[arg(short = 'w', long)]
    pub wide: bool,
    /// Only this thread (needed by the setters below).
    #[arg(long, value_name = "TID")]
    pub tid: Option<String>,
    /// Set the thread's priority level relative to the process's class: idle, lowest,
    /// below-normal, normal, above-normal, highest, time-critical.
    #[arg(long, value_name = "LEVEL", requires = "tid", conflicts_with_all = ["policy", "nice"])]
    pub priority: Option<String>,
    /// Set the thread's scheduling policy: normal, batch, idle, fifo:PRIO, rr:PRIO
    /// (PRIO 1-99).
    #[arg(long, value_name = "POLICY[:PRIO]", requires = "tid")]
    pub policy: Option<String>,
    /// Set the thread's nice value, -20 to 19.
    #[arg(long, allow_hyphen_values = true, value_name = "N", requires = "tid")]
    pub nice: Option<i32>,
    /// Restrict the thread to these CPUs (0,2-3).
    #[arg(long, value_name = "CPUS", requires = "tid")]
    pub cpus: Option<String>,
    /// Set the thread's I/O priority: idle, best-effort[:LEVEL], realtime[:LEVEL], none
    /// (LEVEL 0-7, 0 highest; default 4).
    #[arg(long, value_name = "CLASS[:LEVEL]", requires = "tid")]
    pub ioclass: Option<String>,
}

/// A thread-level failure: bad input is a usage error, anything else "not changed".
fn thread_failure(e: &corral::Error) -> Failure {
    match e.kind() {
        corral::ErrorKind::InvalidInput => Failure::usage(e.to_string()),
        _ => Failure::no_match(e.to_string()),
    }
}

/// Applies the setters of `a` to one thread.
fn apply(a: &ThreadsArgs, th: &corral::Thread) -> Result<(), Failure> {
    if let Some(n) = a.nice {
        if !(-20..=19).contains(&n) {
            return Err(Failure::usage(format!("--nice: {n} is outside -20..=19")));
        }
    }
    let level: Option<corral::ThreadPriority> = match &a.priority {
        Some(l) => Some(
            l.parse()
                .map_err(|e| crate::act::usage_of("--priority", e))?,
        ),
        None => None,
    };
    let policy = match &a.policy {
        None => None,
        Some(s) => {
            let (name, prio) = match s.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (s.as_str(), None),
            };
            let pol: corral::SchedPolicy = name
                .parse()
                .map_err(|e| crate::act::usage_of("--policy", e))?;
            let prio = match prio {
                None if pol.is_realtime() => {
                    return Err(Failure::usage(format!(
                        "--policy: {pol} needs :PRIO (1-99)"
                    )))
                }
                None => 0,
                Some(p) => p.trim().parse::<u32>().map_err(|_| {
                    Failure::usage(format!("--policy: priority {p:?} is not a number"))
                })?,
            };
            Some((pol, prio))
        }
    };
    let cpus = match &a.cpus {
        Some(c) => Some(crate::run::parse_cpus(c, "--cpus")?),
        None => None,
    };
    let io = match &a.ioclass {
        Some(c) => Some(crate::run::parse_ionice(c, "--ioclass")?),
        None => None,
    };
    let r = (|| {
        if let Some(p) = io {
            th.set_io_priority(p)?;
        }
        if let Some(l) = level {
            th.set_priority(l)?;
        }
        if let Some((p, n)) = policy {
            th.set_scheduler(p, n)?;
        }
        if let Some(n) = a.nice {
            th.set_nice(n)?;
        }
        if let Some(c) = &cpus {
            th.set_cpu_affinity(c)?;
        }
        Ok::<(), corral::Error>(())
    })();
    r.map_err(|e| thread_failure(&e))
}

pub const HEADERS: [&str; 12] = [
    "TID", "NAME", "S", "POLICY", "PRIO", "NI", "RT", "CPU", "AFFINITY", "VCSW", "NVCSW", "TIME",
];
pub const ALIGNS: [Align; 12] = [
    Align::Right,
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Right,
    Align::Right,
    Align::Right,
    Align::Left,
    Align::Right,
    Align::Right,
    Align::Right,
];

/// The table cells of one thread.
pub fn cells(t: &ThreadInfo) -> Vec<String> {
    vec![
        t.tid.to_string(),
        t.name.clone(),
        t.status.letter().to_string(),
        t.policy.to_string(),
        t.priority.name().to_string(),
        t.nice.to_string(),
        t.rt_priority.to_string(),
        t.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        crate::topology::compact(&t.affinity),
        t.ctx_switches.voluntary.to_string(),
        t.ctx_switches.involuntary.to_string(),
        clock((t.user + t.system).as_secs()),
    ]
}

pub fn json(t: &ThreadInfo) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

pub fn run(a: ThreadsArgs) -> Result<(), Failure> {
    let r: ProcessRef = a
        .target
        .parse()
        .map_err(|e: corral::Error| Failure::usage(e.detail().unwrap_or("bad pid").to_string()))?;
    let p = Process::open_ref(r).map_err(|e| Failure::from_error(&e))?;
    let mut threads = p.threads().map_err(|e| Failure::from_error(&e))?;
    let mut io = None;
    if let Some(t) = &a.tid {
        let tid = t
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(corral::Tid::new)
            .ok_or_else(|| Failure::usage(format!("--tid: {t:?} is not a thread id")))?;
        let th = p.thread(tid).map_err(|e| thread_failure(&e))?;
        apply(&a, &th)?;
        threads = vec![th.info().map_err(|e| thread_failure(&e))?];
        io = Some(th.io_priority().map_err(|e| thread_failure(&e))?);
    }
    let mut out = Out::new();
    if a.json {
        for t in &threads {
            let mut v = json(t);
            v["pid"] = Value::from(p.pid().as_raw());
            if let Some(io) = io {
                v["ionice"] = serde_json::to_value(io).unwrap_or(Value::Null);
            }
            out.json(&v)?;
        }
    } else {
        let rows: Vec<Vec<String>> = threads.iter().map(cells).collect();
        let width = if a.wide { None } else { output::width(out.tty) };
        output::table(&mut out, &HEADERS, &ALIGNS, &rows, !a.no_header, width)?;
    }
    out.flush()?;
    Ok(())
}

/// `corral ps --threads`: the selected processes' threads, each row led by the pid and
/// process name.
pub fn ps_rows(
    rows: &[corral::ProcessInfo],
    json_out: bool,
    header: bool,
    wide: bool,
) -> Result<(), Failure> {
    let mut out = Out::new();
    let mut table = Vec::new();
    for row in rows {
        // Processes that exit meanwhile, or whose threads cannot be read, are left out.
        let Ok(p) = row.open() else { continue };
        let Ok(threads) = p.threads() else { continue };
        let pname = match &row.name {
            Some(Ok(n)) => n.clone(),
            _ => "?".into(),
        };
        for t in &threads {
            if json_out {
                let mut v = json(t);
                v["pid"] = Value::from(row.pid.as_raw());
                v["process"] = Value::from(pname.clone());
                out.json(&v)?;
            } else {
                let mut c = vec![row.pid.to_string(), pname.clone()];
                c.extend(cells(t));
                table.push(c);
            }
        }
    }
    if !json_out {
        let mut headers = vec!["PID", "PROCESS"];
        headers.extend(HEADERS);
        let mut aligns = vec![Align::Right, Align::Left];
        aligns.extend(ALIGNS);
        let width = if wide { None } else { output::width(out.tty) };
        output::table(&mut out, &headers, &aligns, &table, header, width)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists_are_short() {
        assert_eq!(
            crate::topology::compact::<usize>(&[0, 1, 2, 3, 6, 8, 9]),
            "0-3,6,8-9"
        );
        assert_eq!(crate::topology::compact::<usize>(&[5]), "5");
        assert_eq!(crate::topology::compact::<usize>(&[]), "");
    }
}
