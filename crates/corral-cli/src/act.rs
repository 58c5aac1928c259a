//! The shared shape of the commands that act on selected processes (`nice`, `ionice`,
//! `limit`, `trim`, `background`, `affinity`): the same selectors and safety rules as
//! `corral kill`, one line (or JSON object) per process, one exit-code rule.

use clap::Args;
use serde_json::{json, Map, Value};

use crate::output::Out;
use crate::select::Selection;
use crate::targets::{resolve, Target};
use crate::{Failure, EXIT_NO_MATCH, EXIT_USAGE};

/// Targets and output options every acting command takes.
#[derive(Args, Debug)]
pub struct Common {
    /// Pids or PID:INODE tokens.
    #[arg(value_name = "PID")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub select: Selection,
    /// One JSON object per process.
    #[arg(long)]
    pub json: bool,
    /// Allow pid 1, kernel threads, corral itself and its ancestors.
    #[arg(long)]
    pub force: bool,
}

/// What an action did to one process: a human line (after `PID (name): `) and JSON
/// fields.
pub struct Done {
    pub human: String,
    pub json: Map<String, Value>,
}

impl Done {
    pub fn new(human: impl Into<String>) -> Done {
        Done {
            human: human.into(),
            json: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, v: impl serde::Serialize) -> Done {
        self.json
            .insert(key.into(), serde_json::to_value(v).unwrap_or(Value::Null));
        self
    }
}

/// Resolves the targets and runs `f` on each. `changes` says whether `f` changes
/// anything (reads are not refused by the safety rules). Exit status: 0 when `f`
/// succeeded for at least one process; 2 when every failure was bad input; 1 otherwise.
pub fn each(
    c: &Common,
    changes: bool,
    mut f: impl FnMut(&Target) -> Result<Done, corral::Error>,
) -> Result<(), Failure> {
    let r = resolve(&c.targets, &c.select, false, c.force || !changes)?;
    for (pid, name, why) in &r.refused {
        eprintln!("corral: not changing {pid} ({name}): it {why} (use --force)");
    }
    let mut out = Out::new();
    let mut ok = 0;
    let mut bad_input = false;
    for t in &r.targets {
        let res = f(t);
        let pid = t.proc.pid();
        match &res {
            Ok(d) => {
                ok += 1;
                if !c.json {
                    out.line(&format!("{pid} ({}): {}", t.name(), d.human))?;
                }
            }
            Err(e) => {
                bad_input |= e.kind() == corral::ErrorKind::InvalidInput;
                eprintln!("corral: {pid} ({}): {e}", t.name());
            }
        }
        if c.json {
            let mut v = json!({"pid": pid, "name": t.name()});
            match res {
                Ok(d) => {
                    v["result"] = json!(if changes { "changed" } else { "ok" });
                    for (k, x) in d.json {
                        v[k] = x;
                    }
                }
                Err(e) => {
                    v["result"] = json!("failed");
                    v["error"] = json!(e.to_string());
                }
            }
            out.json(&v)?;
        }
    }
    out.flush()?;
    if ok == 0 {
        return Err(Failure {
            // Input the OS refused for every process (a CPU beyond the machine, say) is
            // a usage error, not "nothing matched".
            code: if bad_input { EXIT_USAGE } else { EXIT_NO_MATCH },
            msg: String::new(),
        });
    }
    Ok(())
}

/// A library parse error as a usage failure naming the option.
pub fn usage_of(opt: &str, e: corral::Error) -> Failure {
    Failure::usage(format!("{opt}: {}", e.detail().unwrap_or("bad value")))
}
