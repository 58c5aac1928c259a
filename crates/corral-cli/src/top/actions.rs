//! Actions of `corral top` on the process drawn on screen: always addressed by the
//! identity (pid + start time) captured with the row, with `corral kill`'s safety rules.

use std::collections::HashSet;
use std::sync::mpsc::Sender;
use std::time::Duration;

use corral::control::{self, StopOutcome};
use corral::{ErrorKind, Pid, PriorityClass, Process, ProcessInfo, Signal, StartTime};

/// The process an action is for, as it was drawn.
#[derive(Debug, Clone)]
pub struct Target {
    pub pid: Pid,
    pub start: StartTime,
    pub name: String,
    pub kernel_thread: bool,
}

impl Target {
    pub fn of(r: &ProcessInfo) -> Target {
        Target {
            pid: r.pid,
            start: r.start,
            name: match &r.name {
                Some(Ok(n)) => n.clone(),
                _ => "?".into(),
            },
            kernel_thread: r.kernel_thread,
        }
    }

    fn label(&self) -> String {
        format!("{} ({})", self.pid, self.name)
    }
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send a signal (to the whole tree with `tree`).
    Signal {
        sig: Signal,
        tree: bool,
    },
    /// SIGTERM, then SIGKILL after 5 s (whole tree with `tree`).
    Stop {
        tree: bool,
    },
    Suspend,
    Resume,
    /// Change the nice value by this much.
    NiceBy(i32),
    Class(PriorityClass),
    Affinity(Vec<usize>),
}

/// The grace period of a graceful stop.
pub const GRACE: Duration = Duration::from_secs(5);

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Action::Signal { sig, tree } => {
                format!(
                    "send {sig}{}",
                    if *tree { " to the whole tree" } else { "" }
                )
            }
            Action::Stop { tree } => format!(
                "stop gracefully (TERM, KILL after {} s){}",
                GRACE.as_secs(),
                if *tree { ", whole tree" } else { "" }
            ),
            Action::Suspend => "suspend (SIGSTOP)".into(),
            Action::Resume => "continue (SIGCONT)".into(),
            Action::NiceBy(d) => format!("change nice by {d:+}"),
            Action::Class(c) => format!("set priority class {c}"),
            Action::Affinity(cpus) => format!("set CPU affinity to {cpus:?}"),
        }
    }
}

/// pid 1, corral itself and its ancestors.
pub fn protected() -> HashSet<Pid> {
    crate::targets::protected()
}

/// Why acting on `t` needs a confirmation, if it does.
pub fn guard(t: &Target, protected: &HashSet<Pid>) -> Option<&'static str> {
    if t.kernel_thread {
        Some("is a kernel thread")
    } else if t.pid.as_raw() == 1 {
        Some("is pid 1")
    } else if t.pid.as_raw() == std::process::id() {
        Some("is corral itself")
    } else if protected.contains(&t.pid) {
        Some("is an ancestor of corral")
    } else {
        None
    }
}

/// Opens the target by its identity; a message if it is gone or its pid was reused.
pub fn open(t: &Target) -> Result<Process, String> {
    match Process::open_with_start(t.pid, &t.start) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == ErrorKind::NoSuchProcess => {
            let reused = Process::open(t.pid)
                .ok()
                .and_then(|p| p.start_time().ok())
                .is_some_and(|s| s.raw != t.start.raw);
            Err(if reused {
                format!(
                    "pid {} is another process now (reused since it was drawn): nothing done",
                    t.pid
                )
            } else {
                format!("{} has exited: nothing done", t.label())
            })
        }
        Err(e) => Err(format!("{}: {e}", t.label())),
    }
}

/// Performs `a` on `t` (safety confirmed by the caller). Quick actions return their
/// outcome; long ones (graceful stops, tree kills) run on a thread that reports through
/// `done`, and return at once saying so.
pub fn perform(t: &Target, a: &Action, done: &Sender<String>) -> String {
    let p = match open(t) {
        Ok(p) => p,
        Err(m) => return m,
    };
    let who = t.label();
    let res = match a {
        Action::Signal { sig, tree: false } => {
            p.send_signal(*sig).map(|()| format!("sent {sig} to {who}"))
        }
        Action::Signal { sig, tree: true } => {
            let (sig, tx) = (*sig, done.clone());
            std::thread::spawn(move || {
                let msg = match control::kill_tree(&p, sig) {
                    Ok(tk) => format!(
                        "sent {sig} to {who} and {} descendants{}",
                        tk.signalled.len().saturating_sub(1),
                        if tk.failed.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} failed)", tk.failed.len())
                        }
                    ),
                    Err(e) => format!("{who}: {e}"),
                };
                let _ = tx.send(msg);
            });
            Ok(format!("sending {sig} to the tree of {}…", t.label()))
        }
        Action::Stop { tree } => {
            let (tree, tx) = (*tree, done.clone());
            std::thread::spawn(move || {
                let _ = tx.send(graceful(p, tree, &who));
            });
            Ok(format!("stopping {} gracefully…", t.label()))
        }
        Action::Suspend => p.suspend().map(|()| format!("suspended {who}")),
        Action::Resume => p.resume().map(|()| format!("continued {who}")),
        Action::NiceBy(d) => p.nice().and_then(|n| {
            let new = (n + d).clamp(-20, 19);
            p.set_nice(new)
                .map(|()| format!("{who}: nice {n} -> {new}"))
        }),
        Action::Class(c) => p
            .set_priority_class(*c)
            .map(|()| format!("{who}: priority class {c}")),
        Action::Affinity(cpus) => p
            .set_cpu_affinity(cpus)
            .map(|()| format!("{who}: CPU affinity {cpus:?}")),
    };
    res.unwrap_or_else(|e| format!("{}: {e}", t.label()))
}

fn graceful(p: Process, tree: bool, who: &str) -> String {
    if tree {
        return match control::kill_tree(&p, Signal::Term) {
            Ok(mut tk) => match control::wait_tree(&mut tk, Some(GRACE)) {
                Ok(left) if left.is_empty() => format!("{who} and its tree exited after SIGTERM"),
                Ok(left) => {
                    tk.resignal(Signal::Kill);
                    let _ = control::wait_tree(&mut tk, Some(GRACE));
                    format!(
                        "{} processes of {who}'s tree outlived the grace period: killed",
                        left.len()
                    )
                }
                Err(e) => format!("{who}: {e}"),
            },
            Err(e) => format!("{who}: {e}"),
        };
    }
    match control::stop(std::slice::from_ref(&p), Signal::Term, GRACE).pop() {
        Some(StopOutcome::Exited(s)) => format!("{who} exited after SIGTERM ({s})"),
        Some(StopOutcome::Killed(s)) => format!("{who} outlived the grace period: killed ({s})"),
        Some(StopOutcome::AlreadyGone) => format!("{who} was already gone"),
        Some(StopOutcome::Denied(e)) | Some(StopOutcome::Failed(e)) => format!("{who}: {e}"),
        _ => format!("{who}: stopped"),
    }
}
