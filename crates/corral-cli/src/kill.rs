//! `corral kill`: pkill / taskkill, race-free.

use std::io::{BufRead, Write};
use std::time::Duration;

use clap::Args;
use corral::control::{self, StopOutcome};
use corral::{ExitStatus, Signal};
use serde_json::{json, Value};

use crate::output::Out;
use crate::select::Selection;
use crate::targets::{resolve, Target};
use crate::{Failure, EXIT_NO_MATCH};

#[derive(Args, Debug)]
#[command(after_help = "\
Exit status: 0 one or more processes matched and were signalled; 1 nothing matched or
nothing could be signalled; 2 usage error; 3 fatal error.
Safety: pid 1, kernel threads, corral itself and its ancestors are never signalled
without --force; a selection is required (no selector is an error).")]
pub struct KillArgs {
    /// Pids or PID:INODE tokens to signal (PID:INODE pins one exact process).
    #[arg(value_name = "PID")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub select: Selection,
    /// The signal: a name (TERM, SIGKILL, hup) or a number.
    #[arg(short = 's', long, value_name = "SIGNAL", default_value = "TERM")]
    pub signal: String,
    /// Send the signal, wait this long, then SIGKILL what is left (5s, 1m).
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
    /// Also signal every descendant (the tree is stopped first so forks cannot escape).
    #[arg(long)]
    pub tree: bool,
    /// Print what would be signalled, and signal nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Print how many processes match, and signal nothing.
    #[arg(short = 'c', long)]
    pub count: bool,
    /// One JSON object per process, saying what happened to it.
    #[arg(long)]
    pub json: bool,
    /// Return only when the signalled processes are gone.
    #[arg(short = 'w', long)]
    pub wait: bool,
    /// Repeat the selection and signalling at this interval until interrupted.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Ask before signalling each process (reads answers from standard input).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allow pid 1, kernel threads, corral itself and its ancestors.
    #[arg(long)]
    pub force: bool,
}

struct Report {
    pid: u32,
    inode: Option<u64>,
    name: String,
    result: &'static str,
    status: Option<ExitStatus>,
    error: Option<String>,
}

pub fn status_json(s: &ExitStatus) -> Value {
    match s {
        ExitStatus::Exited(c) => json!({"code": c}),
        ExitStatus::Signaled {
            signal,
            core_dumped,
        } => {
            json!({"signal": signal.name(), "core_dumped": core_dumped})
        }
        _ => json!({"unknown": true}),
    }
}

fn ask(t: &Target, sig: Signal) -> bool {
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "signal {} ({}) with {}? [y/N] ",
        t.proc.pid(),
        t.name(),
        sig
    );
    let _ = err.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 => matches!(line.trim(), "y" | "Y" | "yes" | "Yes"),
        _ => false,
    }
}

pub fn run(a: KillArgs) -> Result<(), Failure> {
    let sig: Signal = a.signal.parse().map_err(|e: corral::Error| {
        Failure::usage(format!("--signal: {}", e.detail().unwrap_or("bad signal")))
    })?;
    let grace = a
        .grace
        .as_deref()
        .map(crate::duration::parse)
        .transpose()
        .map_err(|e| Failure::usage(format!("--grace: {e}")))?;
    let every = a
        .every
        .as_deref()
        .map(crate::duration::parse)
        .transpose()
        .map_err(|e| Failure::usage(format!("--every: {e}")))?;
    if every == Some(Duration::ZERO) {
        return Err(Failure::usage(
            "--every: the interval must be more than zero",
        ));
    }
    if every.is_some() && (a.dry_run || a.count || a.interactive) {
        return Err(Failure::usage(
            "--every cannot be combined with --dry-run, --count or --interactive",
        ));
    }
    let mut out = Out::new();
    loop {
        let code = once(&a, sig, grace, &mut out)?;
        match every {
            None => {
                return if code == 0 {
                    Ok(())
                } else {
                    Err(Failure::no_match(String::new()))
                }
            }
            Some(d) => std::thread::sleep(d),
        }
    }
}

/// One round of selection and signalling; returns the exit code for it.
fn once(a: &KillArgs, sig: Signal, grace: Option<Duration>, out: &mut Out) -> Result<u8, Failure> {
    let r = resolve(&a.targets, &a.select, false, a.force)?;
    for m in &r.missing {
        eprintln!("corral: no process with pid {m}");
    }
    for (pid, name, why) in &r.refused {
        eprintln!("corral: not signalling {pid} ({name}): it {why} (use --force)");
    }
    if a.count {
        let n = r.targets.len();
        out.line(&n.to_string())?;
        out.flush()?;
        return Ok(if n > 0 { 0 } else { EXIT_NO_MATCH });
    }
    let mut reports = Vec::new();
    let mut names = Vec::new();
    let mut procs = Vec::new();
    for t in r.targets {
        if t.is_zombie() && !a.dry_run {
            // Exited already, waiting for its parent to reap it: nothing to signal.
            reports.push(Report {
                pid: t.proc.pid().as_raw(),
                inode: t.proc.pidfs_inode(),
                name: t.name(),
                result: "zombie",
                status: None,
                error: None,
            });
            continue;
        }
        if a.interactive && !a.dry_run && !ask(&t, sig) {
            continue;
        }
        names.push(t.name());
        procs.push(t.proc);
    }
    let report = |p: &corral::Process, name: String, result: &'static str| Report {
        pid: p.pid().as_raw(),
        inode: p.pidfs_inode(),
        name,
        result,
        status: None,
        error: None,
    };
    if a.dry_run {
        for (p, n) in procs.iter().zip(&names) {
            reports.push(report(p, n.clone(), "would-signal"));
        }
    } else if a.tree {
        for (p, n) in procs.iter().zip(&names) {
            match control::kill_tree(p, sig) {
                Ok(mut tk) => {
                    let mut escalated = Vec::new();
                    if a.wait || grace.is_some() {
                        let left = control::wait_tree(&mut tk, grace)
                            .map_err(|e| Failure::fatal(e.to_string()))?;
                        if !left.is_empty() && sig != Signal::Kill {
                            // Still running after the grace period: kill what is left.
                            tk.resignal(Signal::Kill);
                            let _ = control::wait_tree(&mut tk, Some(Duration::from_secs(5)));
                            escalated = left;
                        }
                    }
                    for m in &tk.signalled {
                        let killed = escalated.contains(&m.pid());
                        reports.push(report(
                            m,
                            m.name().unwrap_or_else(|_| "?".into()),
                            if killed { "killed" } else { "signalled" },
                        ));
                    }
                    for (pid, e) in &tk.failed {
                        reports.push(Report {
                            pid: pid.as_raw(),
                            inode: None,
                            name: "?".into(),
                            result: "failed",
                            status: None,
                            error: Some(e.to_string()),
                        });
                    }
                }
                Err(e) => {
                    let gone = e.kind() == corral::ErrorKind::NoSuchProcess;
                    let mut r = report(p, n.clone(), if gone { "gone" } else { "failed" });
                    r.error = (!gone).then(|| e.to_string());
                    reports.push(r);
                }
            }
        }
    } else if let Some(g) = grace {
        for ((p, n), o) in procs.iter().zip(&names).zip(control::stop(&procs, sig, g)) {
            let mut r = report(p, n.clone(), "failed");
            match o {
                StopOutcome::Exited(s) => (r.result, r.status) = ("exited", Some(s)),
                StopOutcome::Killed(s) => (r.result, r.status) = ("killed", Some(s)),
                StopOutcome::AlreadyGone => r.result = "gone",
                StopOutcome::Denied(e) => (r.result, r.error) = ("denied", Some(e.to_string())),
                StopOutcome::Failed(e) => r.error = Some(e.to_string()),
                _ => {}
            }
            reports.push(r);
        }
    } else if whole_group(a).is_some_and(|leader| leader.signal_process_group(sig).is_ok()) {
        // The whole group at once, as killpg does: members that joined after the
        // selection get the signal too.
        for (p, n) in procs.iter().zip(&names) {
            reports.push(report(p, n.clone(), "signalled"));
        }
    } else {
        for (p, n) in procs.iter().zip(&names) {
            let mut r = report(p, n.clone(), "signalled");
            if let Err(e) = p.send_signal(sig) {
                r.result = match e.kind() {
                    corral::ErrorKind::NoSuchProcess => "gone",
                    corral::ErrorKind::AccessDenied => "denied",
                    _ => "failed",
                };
                if r.result != "gone" {
                    r.error = Some(e.to_string());
                }
            }
            reports.push(r);
        }
        if a.wait {
            control::wait_all(&procs, None, |i, p| {
                if reports[i].result == "signalled" {
                    reports[i].result = "exited";
                    reports[i].status = p.exit_status().ok();
                }
            })
            .map_err(|e| Failure::fatal(e.to_string()))?;
        }
    }
    let mut ok = 0;
    for r in &reports {
        if matches!(r.result, "signalled" | "exited" | "killed" | "would-signal") {
            ok += 1;
        }
        if a.json {
            let mut v = json!({
                "pid": r.pid,
                "inode": r.inode,
                "name": r.name,
                "signal": sig.name(),
                "result": r.result,
            });
            if let Some(s) = &r.status {
                v["exit"] = status_json(s);
            }
            if let Some(e) = &r.error {
                v["error"] = json!(e);
            }
            out.json(&v)?;
        } else {
            let mut line = match r.result {
                "would-signal" => format!("would send {} to {} ({})", sig, r.pid, r.name),
                "signalled" => format!("sent {} to {} ({})", sig, r.pid, r.name),
                "exited" => format!("{} ({}) exited after {}", r.pid, r.name, sig),
                "killed" => format!(
                    "{} ({}) outlived the grace period: killed with SIGKILL",
                    r.pid, r.name
                ),
                "gone" => format!("{} ({}) was already gone", r.pid, r.name),
                "zombie" => format!(
                    "{} ({}) has already exited (a zombie awaiting its parent)",
                    r.pid, r.name
                ),
                "denied" => format!("{} ({}): permission denied", r.pid, r.name),
                _ => format!("{} ({}): failed", r.pid, r.name),
            };
            if let Some(s) = &r.status {
                line.push_str(&format!(" ({s})"));
            }
            if let Some(e) = &r.error {
                line.push_str(&format!(": {e}"));
            }
            out.line(&line)?;
        }
    }
    out.flush()?;
    Ok(if ok > 0 { 0 } else { EXIT_NO_MATCH })
}

/// With `--pgid G` as the only selector, the group's leader (pid G, still leading G), to
/// signal the whole group through it at once.
fn whole_group(a: &KillArgs) -> Option<corral::Process> {
    let sel = &a.select;
    let g: corral::Pid = sel.pgid.as_deref()?.parse().ok()?;
    let only_pgid = a.targets.is_empty()
        && Selection {
            pgid: None,
            ..sel.clone()
        }
        .is_empty();
    if !only_pgid || a.interactive {
        return None;
    }
    let leader = corral::Process::open(g).ok()?;
    (leader.process_group().ok()?.pgid == g.as_raw()).then_some(leader)
}
