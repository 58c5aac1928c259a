//! Resolving selectors to the exact processes to act on, with the safety rules of
//! `find` and `kill`.

use std::collections::HashSet;

use corral::{Field, Pid, Process, ProcessInfo, ProcessRef, Snapshot};

use crate::select::Selection;
use crate::Failure;

/// One selected process: the snapshot row it was seen in, and the process opened by
/// (pid, start time) so that nothing later can reach a newer process on the same pid.
#[derive(Debug)]
pub struct Target {
    pub row: ProcessInfo,
    pub proc: Process,
}

impl Target {
    /// Whether the process had already exited (a zombie awaiting its parent) when seen.
    pub fn is_zombie(&self) -> bool {
        matches!(self.row.status, Some(Ok(corral::Status::Zombie)))
    }

    pub fn name(&self) -> String {
        row_name(&self.row)
    }
}

/// A row's name, or `?` when it could not be read.
fn row_name(row: &ProcessInfo) -> String {
    match &row.name {
        Some(Ok(n)) => n.clone(),
        _ => "?".into(),
    }
}

/// What selection found: the targets, and the processes left out by safety rules.
#[derive(Debug, Default)]
pub struct Resolved {
    pub targets: Vec<Target>,
    pub refused: Vec<(Pid, String, &'static str)>,
    pub matched: usize,
    /// Pids given without other selectors that name no process (any more).
    pub missing: Vec<ProcessRef>,
}

pub(crate) fn protected() -> HashSet<Pid> {
    // pid 1, corral itself and its ancestors.
    let mut set = HashSet::new();
    if let Some(one) = Pid::new(1) {
        set.insert(one);
    }
    let mut cur = Process::current().ok();
    while let Some(p) = cur {
        set.insert(p.pid());
        cur = p.parent().ok().flatten();
    }
    set
}

/// Resolves positional `PID`/`PID:INODE` tokens and selectors.
pub fn resolve(
    tokens: &[String],
    sel: &Selection,
    tree: bool,
    force: bool,
) -> Result<Resolved, Failure> {
    let refs: Vec<ProcessRef> = tokens
        .iter()
        .map(|t| {
            t.parse::<ProcessRef>()
                .map_err(|e| Failure::usage(e.detail().unwrap_or("bad pid").to_string()))
        })
        .collect::<Result<_, _>>()?;
    if refs.is_empty() && !sel.any() {
        return Err(Failure::usage(
            "no selector: give pids or at least one of --name, --contains, --regex, --user, --port, --parent, --pgid, --session, --older-than, --younger-than",
        ));
    }
    let mut snap = Snapshot::new().fields(&[Field::Name, Field::Cmdline, Field::Status]);
    if !refs.is_empty() {
        let pids: Vec<Pid> = refs.iter().map(|r| r.pid).collect();
        snap = snap.pids(&pids);
    }
    snap = sel.apply(snap)?;
    let rows = snap.collect().map_err(|e| Failure::fatal(e.to_string()))?;
    let mut missing = Vec::new();
    if !sel.any() {
        out_missing(&refs, &rows, &mut missing);
    }
    let guard = if force { HashSet::new() } else { protected() };
    let mut out = Resolved {
        matched: rows.len(),
        missing,
        ..Resolved::default()
    };
    let mut seen: HashSet<(Pid, u64)> = HashSet::new();
    for row in rows {
        if let Some(r) = refs.iter().find(|r| r.pid == row.pid && r.inode.is_some()) {
            // A pinned token: only that exact process.
            match Process::open_ref(*r) {
                Ok(p) if p.start_time().map(|s| s.raw).ok() == Some(row.start.raw) => {}
                _ => {
                    out.matched -= 1;
                    out.missing.push(*r);
                    continue;
                }
            }
        }
        let name = row_name(&row);
        if row.kernel_thread && !force {
            out.refused.push((row.pid, name, "is a kernel thread"));
            continue;
        }
        if guard.contains(&row.pid) {
            let why = if row.pid.as_raw() == 1 {
                "is pid 1"
            } else if row.pid.as_raw() == std::process::id() {
                "is corral itself"
            } else {
                "is an ancestor of corral"
            };
            out.refused.push((row.pid, name, why));
            continue;
        }
        let Ok(proc) = row.open() else {
            out.matched -= 1; // gone since the snapshot
            continue;
        };
        seen.insert((row.pid, row.start.raw));
        let descendants = if tree {
            proc.descendants().unwrap_or_default()
        } else {
            Vec::new()
        };
        out.targets.push(Target { row, proc });
        for d in descendants {
            let Ok(start) = d.start_time() else { continue };
            if !seen.insert((d.pid(), start.raw)) || guard.contains(&d.pid()) {
                continue;
            }
            let rows = Snapshot::new()
                .fields(&[Field::Name, Field::Cmdline])
                .pids(&[d.pid()])
                .collect()
                .unwrap_or_default();
            if let Some(r) = rows.into_iter().find(|r| r.start.raw == start.raw) {
                out.targets.push(Target { row: r, proc: d });
            }
        }
    }
    Ok(out)
}

/// The tokens whose pid is in no row (the rows of a selection by these pids alone).
fn out_missing(refs: &[ProcessRef], rows: &[ProcessInfo], missing: &mut Vec<ProcessRef>) {
    for r in refs {
        if !rows.iter().any(|row| row.pid == r.pid) && !missing.contains(r) {
            missing.push(*r);
        }
    }
}
