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
Exit status: 0 listed; 1 no such process; 2 usage error; 3 fatal error.")]
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

/// A CPU list in its short form: `0-3,6`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

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
        cpu_list(&t.affinity),
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
    let threads = p.threads().map_err(|e| Failure::from_error(&e))?;
    let mut out = Out::new();
    if a.json {
        for t in &threads {
            let mut v = json(t);
            v["pid"] = Value::from(p.pid().as_raw());
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
        assert_eq!(super::cpu_list(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(super::cpu_list(&[5]), "5");
        assert_eq!(super::cpu_list(&[]), "");
    }
}
