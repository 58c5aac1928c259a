//! Acting on many processes: waiting for them, stopping them gracefully, killing trees.

use std::collections::HashSet;
use std::time::Duration;

use crate::signal::{ExitStatus, Signal};
use crate::sys::imp;
use crate::{Error, ErrorKind, Field, Pid, Process, Result, Snapshot};

/// Waits for every process in `procs` with one poller, calling `on_exit` as each exits
/// (in the order they exit), until all have exited or `timeout` passes. Returns the
/// indices of those still running at the deadline (empty when all exited).
///
/// This is psutil's `wait_procs` without polling. The descriptors are the ones the
/// `Process`es already hold (one each); the poller adds one. To hold 10 000 processes,
/// the open-file limit must allow it: [`crate::system::raise_fd_limit`] raises the soft
/// limit to the hard one.
///
/// # Errors
///
/// Only if the poller cannot be created or fails.
///
/// # Platform-specific behavior
///
/// Linux: one epoll instance over the pidfds.
pub fn wait_all(
    procs: &[Process],
    timeout: Option<Duration>,
    mut on_exit: impl FnMut(usize, &Process, ExitStatus),
) -> Result<Vec<usize>> {
    let handles: Vec<&imp::Handle> = procs.iter().map(|p| p.handle()).collect();
    let mut done = vec![false; procs.len()];
    imp::wait_many(&handles, timeout, |i| {
        done[i] = true;
        on_exit(i, &procs[i], procs[i].handle().exit_status());
        true
    })?;
    Ok(done
        .iter()
        .enumerate()
        .filter(|(_, d)| !**d)
        .map(|(i, _)| i)
        .collect())
}

/// Waits until any one of `procs` exits; returns its index and how it ended.
///
/// # Errors
///
/// [`ErrorKind::Timeout`] if none exits in time; [`ErrorKind::InvalidInput`] for an
/// empty list.
pub fn wait_any(procs: &[Process], timeout: Option<Duration>) -> Result<(usize, ExitStatus)> {
    if procs.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "wait for any process")
            .with_detail("no processes given"));
    }
    let handles: Vec<&imp::Handle> = procs.iter().map(|p| p.handle()).collect();
    let mut first = None;
    imp::wait_many(&handles, timeout, |i| {
        first = Some(i);
        false
    })?;
    match first {
        Some(i) => Ok((i, procs[i].handle().exit_status())),
        None => Err(Error::new(ErrorKind::Timeout, "wait for any process")),
    }
}

/// What happened to one process in [`stop`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum StopOutcome {
    /// It exited within the grace period after the first signal.
    Exited(ExitStatus),
    /// It outlived the grace period and was killed with `SIGKILL`.
    Killed(ExitStatus),
    /// It was already gone when the first signal was due.
    AlreadyGone,
    /// The OS refused to signal it.
    Denied(Error),
    /// It could not be stopped for another reason (still running after `SIGKILL`, say,
    /// as a process stuck in uninterruptible sleep can be).
    Failed(Error),
}

/// Stops processes gracefully: sends `signal` to all, waits up to `grace` for them to
/// exit, then `SIGKILL`s the rest and waits for those too (up to 5 s more). Returns
/// one outcome per process, in the order given.
///
/// # Platform-specific behavior
///
/// Linux: signals through pidfds, waits on one epoll instance.
pub fn stop(procs: &[Process], signal: Signal, grace: Duration) -> Vec<StopOutcome> {
    let mut out: Vec<Option<StopOutcome>> = vec![None; procs.len()];
    let mut live = Vec::new();
    for (i, p) in procs.iter().enumerate() {
        match p.send_signal(signal) {
            Ok(()) => live.push(i),
            Err(e) => {
                out[i] = Some(match e.kind() {
                    ErrorKind::NoSuchProcess => StopOutcome::AlreadyGone,
                    ErrorKind::AccessDenied => StopOutcome::Denied(e),
                    _ => StopOutcome::Failed(e),
                })
            }
        }
    }
    let handles: Vec<&imp::Handle> = live.iter().map(|&i| procs[i].handle()).collect();
    let mut exited = vec![false; live.len()];
    if let Err(e) = imp::wait_many(&handles, Some(grace), |k| {
        exited[k] = true;
        true
    }) {
        for &i in &live {
            out[i].get_or_insert_with(|| StopOutcome::Failed(e.clone()));
        }
        return out
            .into_iter()
            .map(|o| o.expect("every outcome set"))
            .collect();
    }
    let mut stubborn = Vec::new();
    for (k, &i) in live.iter().enumerate() {
        if exited[k] {
            out[i] = Some(StopOutcome::Exited(procs[i].handle().exit_status()));
        } else {
            match procs[i].kill() {
                Ok(()) => stubborn.push(i),
                Err(e) if e.kind() == ErrorKind::NoSuchProcess => {
                    out[i] = Some(StopOutcome::Exited(procs[i].handle().exit_status()))
                }
                Err(e) => out[i] = Some(StopOutcome::Failed(e)),
            }
        }
    }
    let handles: Vec<&imp::Handle> = stubborn.iter().map(|&i| procs[i].handle()).collect();
    let mut killed = vec![false; stubborn.len()];
    let waited = imp::wait_many(&handles, Some(Duration::from_secs(5)), |k| {
        killed[k] = true;
        true
    });
    for (k, &i) in stubborn.iter().enumerate() {
        out[i] = Some(if killed[k] {
            StopOutcome::Killed(procs[i].handle().exit_status())
        } else {
            StopOutcome::Failed(match &waited {
                Err(e) => e.clone(),
                Ok(()) => Error::new(ErrorKind::Timeout, "stop")
                    .with_pid(procs[i].pid())
                    .with_detail("still running 5 s after SIGKILL"),
            })
        });
    }
    out.into_iter()
        .map(|o| o.expect("every outcome set"))
        .collect()
}

/// The result of [`kill_tree`]: every process that was signalled, root first.
#[derive(Debug)]
pub struct TreeKill {
    /// The processes signalled, opened (so their exits can be awaited).
    pub signalled: Vec<Process>,
    /// Processes of the tree that could not be signalled, with why.
    pub failed: Vec<(Pid, Error)>,
}

/// Signals a process and all its descendants, robustly against descendants that fork,
/// double-fork or `setsid` meanwhile.
///
/// The tree is first frozen top-down with `SIGSTOP`: the root, then repeatedly every
/// descendant of a stopped process found in a fresh process list, until a pass finds
/// nothing new (a stopped process cannot fork, so the set converges). Then every member
/// gets `signal` and, unless the signal is `SIGKILL` or `SIGSTOP`, `SIGCONT` so it can
/// act on it.
///
/// # Platform-specific behavior
///
/// What remains open: a process that forks and exits between being seen and being
/// stopped hands its child to the nearest subreaper (usually init) before the next pass
/// can see it as a descendant. Only a cgroup (a corral `Job`) closes that window; the
/// Jobs API uses the cgroup's kill instead of this function.
///
/// # Errors
///
/// [`ErrorKind::NoSuchProcess`] if the root is gone, [`ErrorKind::AccessDenied`] if it
/// cannot be signalled.
pub fn kill_tree(root: &Process, signal: Signal) -> Result<TreeKill> {
    root.send_signal(Signal::Stop)?;
    let root_again = root.process_ref();
    let mut members: Vec<Process> = vec![Process::open_ref(root_again)?];
    let mut seen: HashSet<(Pid, u64)> = HashSet::new();
    seen.insert((root.pid(), root.handle().start_ticks));
    let mut failed = Vec::new();
    loop {
        let rows = Snapshot::new().field(Field::Ppid).collect()?;
        let mut added = false;
        // Descendants of any member, found by walking ppid links from each row.
        let member_ids: HashSet<Pid> = members.iter().map(|p| p.pid()).collect();
        for row in &rows {
            if seen.contains(&(row.pid, row.start.raw)) {
                continue;
            }
            let parent = match &row.ppid {
                Some(Ok(Some(p))) => *p,
                _ => continue,
            };
            if !member_ids.contains(&parent) {
                continue;
            }
            seen.insert((row.pid, row.start.raw));
            match row.open() {
                Ok(p) => match p.send_signal(Signal::Stop) {
                    Ok(()) => {
                        members.push(p);
                        added = true;
                    }
                    Err(e) if e.kind() == ErrorKind::NoSuchProcess => {}
                    Err(e) => failed.push((row.pid, e)),
                },
                Err(e) if e.kind() == ErrorKind::NoSuchProcess => {}
                Err(e) => failed.push((row.pid, e)),
            }
        }
        if !added {
            break;
        }
    }
    let mut signalled = Vec::with_capacity(members.len());
    for p in members {
        match p.send_signal(signal) {
            Ok(()) => {
                if signal != Signal::Kill && signal != Signal::Stop {
                    let _ = p.send_signal(Signal::Cont);
                }
                signalled.push(p);
            }
            Err(e) if e.kind() == ErrorKind::NoSuchProcess => signalled.push(p),
            Err(e) => failed.push((p.pid(), e)),
        }
    }
    Ok(TreeKill { signalled, failed })
}

/// Waits until every process of a [`TreeKill`] has exited, up to `timeout`; returns
/// those still running.
///
/// # Errors
///
/// As [`wait_all`].
pub fn wait_tree(tree: &TreeKill, timeout: Option<Duration>) -> Result<Vec<Pid>> {
    let left = wait_all(&tree.signalled, timeout, |_, _, _| {})?;
    Ok(left.into_iter().map(|i| tree.signalled[i].pid()).collect())
}
