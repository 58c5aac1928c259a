//! `corral tree [PID]`: the process tree, like pstree.

use clap::Args;
use corral::{Field, Pid, ProcessInfo, Snapshot};
use serde_json::{json, Value};

use crate::output::{self, Out};
use crate::ps::forest;
use crate::Failure;

#[derive(Args, Debug)]
pub struct TreeArgs {
    /// Show only this process and its descendants.
    #[arg(value_name = "PID")]
    pub pid: Option<String>,
    /// Nested JSON: each process with a `children` array.
    #[arg(long)]
    pub json: bool,
    /// Show command lines instead of names.
    #[arg(short = 'a', long)]
    pub args: bool,
    /// Do not truncate lines to the terminal width.
    #[arg(short = 'w', long)]
    pub wide: bool,
}

fn label(r: &ProcessInfo, args: bool) -> String {
    let name = match &r.name {
        Some(Ok(n)) => n.clone(),
        _ => "?".into(),
    };
    if args {
        if let Some(Ok(a)) = &r.cmdline {
            if !a.is_empty() {
                let cmd: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
                return format!("{} ({})", cmd.join(" "), r.pid);
            }
        }
    }
    format!("{name} ({})", r.pid)
}

pub fn run(a: TreeArgs) -> Result<(), Failure> {
    let root: Option<Pid> = match &a.pid {
        Some(s) => Some(s.parse().map_err(|e: corral::Error| {
            Failure::usage(e.detail().unwrap_or("bad pid").to_string())
        })?),
        None => None,
    };
    let rows = Snapshot::new()
        .fields(&[Field::Ppid, Field::Name, Field::Cmdline])
        .collect()
        .map_err(|e| Failure::fatal(e.to_string()))?;
    let order: Vec<usize> = (0..rows.len()).collect();
    let mut arranged = forest(&rows, &order);
    if let Some(root) = root {
        let Some(start) = arranged.iter().position(|(i, _)| rows[*i].pid == root) else {
            return Err(Failure::no_match(format!("no process with pid {root}")));
        };
        // The subtree: following rows drawn deeper than the root.
        let depth = |art: &str| art.chars().count();
        let root_depth = depth(&arranged[start].1);
        let mut end = start + 1;
        while end < arranged.len() && depth(&arranged[end].1) > root_depth {
            end += 1;
        }
        arranged = arranged[start..end]
            .iter()
            .map(|(i, art)| (*i, art.chars().skip(root_depth).collect()))
            .collect();
    }
    let mut out = Out::new();
    if a.json {
        // Rebuild nesting from drawing depth.
        let mut stack: Vec<(usize, Value)> = Vec::new();
        let mut roots: Vec<Value> = Vec::new();
        for (i, art) in &arranged {
            let d = art.chars().count() / 3;
            let r = &rows[*i];
            let node = json!({
                "pid": r.pid,
                "name": r.name.as_ref().and_then(|n| n.as_ref().ok()),
                "children": [],
            });
            while let Some((sd, _)) = stack.last() {
                if *sd >= d {
                    let (_, done) = stack.pop().expect("non-empty");
                    attach(&mut stack, &mut roots, done);
                } else {
                    break;
                }
            }
            stack.push((d, node));
        }
        while let Some((_, done)) = stack.pop() {
            attach(&mut stack, &mut roots, done);
        }
        for r in roots {
            out.json(&r)?;
        }
    } else {
        let width = if a.wide { None } else { output::width(out.tty) };
        for (i, art) in &arranged {
            let line = format!("{art}{}", label(&rows[*i], a.args));
            let line = match width {
                Some(w) if output::text_width(&line) > w => {
                    let mut t: String = line.chars().take(w.saturating_sub(1)).collect();
                    t.push('…');
                    t
                }
                _ => line,
            };
            out.line(&line)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn attach(stack: &mut [(usize, Value)], roots: &mut Vec<Value>, node: Value) {
    match stack.last_mut() {
        Some((_, parent)) => {
            if let Some(Value::Array(ch)) = parent.get_mut("children") {
                ch.push(node);
            }
        }
        None => roots.push(node),
    }
}
