//! `corral nice`: set the priority class or nice value of selected processes.

use clap::Args;
use serde_json::json;

use crate::output::Out;
use crate::select::Selection;
use crate::targets::resolve;
use crate::{Failure, EXIT_NO_MATCH};

#[derive(Args, Debug)]
#[command(after_help = "\
Selects processes like `corral kill` (pids, PID:INODE, --name, --user, --pgid …) with the
same safety rules. Exit status: 0 one or more processes changed; 1 none matched or none
could be changed; 2 usage error; 3 fatal error.")]
pub struct NiceArgs {
    /// Pids or PID:INODE tokens.
    #[arg(value_name = "PID")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub select: Selection,
    /// Priority class for every thread: idle, below-normal, normal, above-normal, high,
    /// realtime.
    #[arg(long, value_name = "CLASS", conflicts_with = "nice")]
    pub class: Option<String>,
    /// Nice value, -20 (most favoured) to 19.
    #[arg(long, allow_hyphen_values = true, value_name = "N")]
    pub nice: Option<i32>,
    /// One JSON object per process.
    #[arg(long)]
    pub json: bool,
    /// Allow pid 1, kernel threads, corral itself and its ancestors.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: NiceArgs) -> Result<(), Failure> {
    let class: Option<corral::PriorityClass> = match &a.class {
        Some(c) => Some(c.parse().map_err(|e: corral::Error| {
            Failure::usage(format!("--class: {}", e.detail().unwrap_or("bad class")))
        })?),
        None => None,
    };
    if class.is_none() && a.nice.is_none() {
        return Err(Failure::usage("give --class CLASS or --nice N"));
    }
    if let Some(n) = a.nice {
        if !(-20..=19).contains(&n) {
            return Err(Failure::usage(format!("--nice: {n} is outside -20..=19")));
        }
    }
    let r = resolve(&a.targets, &a.select, false, a.force)?;
    for (pid, name, why) in &r.refused {
        eprintln!("corral: not changing {pid} ({name}): it {why} (use --force)");
    }
    let mut out = Out::new();
    let mut ok = 0;
    for t in &r.targets {
        let res = match (class, a.nice) {
            (Some(c), _) => t.proc.set_priority_class(c),
            (None, Some(n)) => t.proc.set_nice(n),
            (None, None) => unreachable!("checked above"),
        };
        let what = match (class, a.nice) {
            (Some(c), _) => format!("priority class {c}"),
            (_, Some(n)) => format!("nice {n}"),
            _ => String::new(),
        };
        match &res {
            Ok(()) => ok += 1,
            Err(e) => eprintln!("corral: {} ({}): {e}", t.proc.pid(), t.name()),
        }
        if a.json {
            let mut v = json!({"pid": t.proc.pid(), "name": t.name(), "result": if res.is_ok() { "changed" } else { "failed" }});
            if let Some(c) = class {
                v["class"] = json!(c.name());
            }
            if let Some(n) = a.nice {
                v["nice"] = json!(n);
            }
            if let Err(e) = &res {
                v["error"] = json!(e.to_string());
            }
            out.json(&v)?;
        } else if res.is_ok() {
            out.line(&format!("{} ({}): {what}", t.proc.pid(), t.name()))?;
        }
    }
    out.flush()?;
    if ok == 0 {
        return Err(Failure {
            code: EXIT_NO_MATCH,
            msg: String::new(),
        });
    }
    Ok(())
}
