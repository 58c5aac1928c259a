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

/// `--whole-group PGID` / `--whole-user USER` of `nice` and `ionice`: change a whole
/// process group or every process of a user in one kernel call (`setpriority` /
/// `ioprio_set` by group or user) instead of process by process.
#[derive(Args, Debug)]
pub struct Whole {
    /// Change every process of this process group in one kernel call (not 0).
    #[arg(long, value_name = "PGID", conflicts_with = "whole_user")]
    pub whole_group: Option<u32>,
    /// Change every process of this user (name or uid; by real uid) in one kernel call.
    #[arg(long, value_name = "USER")]
    pub whole_user: Option<String>,
}

/// What `--whole-group` / `--whole-user` named.
#[derive(Debug, Clone, Copy)]
pub enum WholeTarget {
    Group(u32),
    User(u32),
}

impl WholeTarget {
    /// `group 42` / `user 1000`, the start of the output line.
    pub fn label(self) -> String {
        match self {
            WholeTarget::Group(g) => format!("group {g}"),
            WholeTarget::User(u) => format!("user {u}"),
        }
    }

    /// The JSON object the output starts from.
    pub fn json(self) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            WholeTarget::Group(g) => m.insert("pgid".into(), json!(g)),
            WholeTarget::User(u) => m.insert("uid".into(), json!(u)),
        };
        m
    }
}

impl Whole {
    /// The group or user given, if any; refuses pids and selectors beside it.
    pub fn target(&self, c: &Common) -> Result<Option<WholeTarget>, Failure> {
        let t = match (self.whole_group, &self.whole_user) {
            (None, None) => return Ok(None),
            (Some(g), _) => WholeTarget::Group(g),
            (None, Some(u)) => WholeTarget::User(match u.parse::<u32>() {
                Ok(n) => n,
                Err(_) => corral::system::user_id(u)
                    .map_err(|e| Failure::fatal(e.to_string()))?
                    .ok_or_else(|| Failure::usage(format!("--whole-user: no user named {u:?}")))?,
            }),
        };
        if !c.targets.is_empty() || c.select.any() {
            return Err(Failure::usage(
                "--whole-group/--whole-user change a whole group or user: give no pids or selectors with them",
            ));
        }
        Ok(Some(t))
    }
}

/// Prints the result of a whole-group or whole-user change: `label: human` or one JSON
/// object.
pub fn print_whole(
    t: WholeTarget,
    json_out: bool,
    human: &str,
    fields: Map<String, Value>,
) -> Result<(), Failure> {
    let mut out = Out::new();
    if json_out {
        let mut m = t.json();
        m.extend(fields);
        out.json(&Value::Object(m))?;
    } else {
        out.line(&format!("{}: {human}", t.label()))?;
    }
    out.flush()?;
    Ok(())
}
