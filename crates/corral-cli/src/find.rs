//! `corral find`: pgrep.

use clap::Args;
use serde_json::json;

use crate::output::Out;
use crate::select::Selection;
use crate::targets::resolve;
use crate::Failure;

#[derive(Args, Debug)]
pub struct FindArgs {
    /// Pids or PID:INODE tokens to consider (all processes when none).
    #[arg(value_name = "PID")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub select: Selection,
    /// Include the descendants of every match.
    #[arg(long)]
    pub tree: bool,
    /// Print the name (or with --full the command line) after each pid.
    #[arg(short = 'l', long)]
    pub long: bool,
    /// Print only how many processes match.
    #[arg(short = 'c', long)]
    pub count: bool,
    /// One JSON object per match (pid, inode, name, cmdline).
    #[arg(long)]
    pub json: bool,
    /// Also match pid 1, kernel threads, corral and its ancestors.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: FindArgs) -> Result<(), Failure> {
    let r = resolve(&a.targets, &a.select, a.tree, a.force)?;
    let mut out = Out::new();
    if a.count {
        out.line(&r.targets.len().to_string())?;
    } else {
        for t in &r.targets {
            let cmd = match &t.row.cmdline {
                Some(Ok(c)) => c
                    .iter()
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            if a.json {
                out.json(&json!({
                    "pid": t.proc.pid(),
                    "inode": t.proc.pidfs_inode(),
                    "ref": t.proc.process_ref().to_string(),
                    "name": t.name(),
                    "cmdline": cmd,
                }))?;
            } else if a.long {
                let what = if a.select.full && !cmd.is_empty() {
                    cmd.join(" ")
                } else {
                    t.name()
                };
                out.line(&format!("{} {}", t.proc.pid(), what))?;
            } else {
                out.line(&t.proc.pid().to_string())?;
            }
        }
    }
    out.flush()?;
    if r.targets.is_empty() {
        return Err(Failure::no_match(String::new()));
    }
    Ok(())
}
