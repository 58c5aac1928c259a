//! Acting on many processes: waiting for them, stopping them gracefully, killing trees.

use std::collections::HashSet;
use std::time::Duration;

use crate::signal::{ExitStatus, Signal};
use crate::sys::imp;
use crate::{Error, ErrorKind, Field, Pid, Process, Result, Snapshot};

/// Waits for every process in `procs` with one poller, calling `on_exit(i, process)` as
/// each exits (in the order they exit; ask [`Process::exit_status`] for how, which costs
/// a read only if you do), until all have exited or `timeout` passes. Returns the
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
    mut on_exit: impl FnMut(usize, &Process),
) -> Result<Vec<usize>> {
    let handles: Vec<&imp::Handle> = procs.iter().map(|p| p.handle()).collect();
    let mut done = vec![false; procs.len()];
    imp::wait_many(&handles, timeout, |i| {
        done[i] = true;
        on_exit(i, &procs[i]);
        true
    })?;
    Ok(done
        .iter()
        .enumerate()
        .filter(|(_, d)| !**d)
        .map(|(i, _)| i)
        .collect())
}

/// Waits for processes named by identity (pid and start time, as snapshot rows give
/// them) with a bounded number of open descriptors: at most `budget` pidfds are open at
/// once (by default the open-file limit, raised to its hard maximum, less what is already
/// open and a reserve); as processes exit, their descriptors are closed and the next ones
/// opened. `on_exit(i, status)` is called once per target as it exits; a target found
/// already gone when its turn to be opened comes reports [`ExitStatus::Unknown`] unless
/// it is still a zombie. Returns the indices still running at the deadline.
///
/// This is how 10 000 processes are waited for on a machine whose descriptor limit is
/// lower than that.
///
/// # Errors
///
/// Only if the poller fails.
pub fn wait_for(
    targets: &[(Pid, crate::StartTime)],
    timeout: Option<Duration>,
    budget: Option<usize>,
    mut on_exit: impl FnMut(usize, ExitStatus),
) -> Result<Vec<usize>> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let budget = match budget {
        Some(b) => b.max(1),
        None => default_budget(),
    };
    let mut queue: std::collections::VecDeque<usize> = (0..targets.len()).collect();
    let mut open: Vec<(usize, Process)> = Vec::new();
    loop {
        // Refill up to the budget.
        while open.len() < budget {
            let Some(i) = queue.pop_front() else { break };
            let (pid, start) = &targets[i];
            match Process::open_with_start(*pid, start) {
                Ok(p) if p.is_running() => open.push((i, p)),
                Ok(p) => on_exit(i, p.handle().exit_status()),
                Err(e) if e.kind() == ErrorKind::NoSuchProcess => on_exit(i, ExitStatus::Unknown),
                Err(e) => return Err(e),
            }
        }
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        if left == Some(Duration::ZERO) {
            let mut still: Vec<usize> = open.iter().map(|(i, _)| *i).collect();
            still.extend(queue);
            still.sort_unstable();
            return Ok(still);
        }
        // Wait until a quarter of the open ones (at least one) exited, then refill.
        let handles: Vec<&imp::Handle> = open.iter().map(|(_, p)| p.handle()).collect();
        let want = if queue.is_empty() {
            open.len()
        } else {
            (open.len() / 4).max(1)
        };
        let mut done = vec![false; open.len()];
        let mut n = 0;
        imp::wait_many(&handles, left, |k| {
            done[k] = true;
            n += 1;
            n < want
        })?;
        let mut k = 0;
        open.retain(|(i, p)| {
            let exited = done[k];
            k += 1;
            if exited {
                on_exit(*i, p.handle().exit_status());
            }
            !exited
        });
    }
}

fn default_budget() -> usize {
    let limit = crate::system::raise_fd_limit().unwrap_or(1024);
    let in_use = imp::open_fd_count().unwrap_or(64);
    (limit.min(1 << 20) as usize)
        .saturating_sub(in_use + 64)
        .max(16)
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
///
/// Windows: for `TERM`, a process with top-level windows is asked to close them
/// (`WM_CLOSE` posted to each, as `taskkill` without `/F` does) and given the grace
/// period; a console program that roots a process group corral spawned on this
/// process's console ([`Command::new_process_group`](crate::Command::new_process_group))
/// gets Ctrl-Break (as
/// `os::windows::ProcessExt::send_ctrl_break`:
/// every process of its group does) and the grace period; any other console program is
/// terminated at once with exit code 15, as
/// [`Process::send_signal`](crate::Process::send_signal) maps `TERM`. Waits use
/// `WaitForMultipleObjects`.
pub fn stop(procs: &[Process], signal: Signal, grace: Duration) -> Vec<StopOutcome> {
    let mut out: Vec<Option<StopOutcome>> = vec![None; procs.len()];
    let mut live = Vec::new();
    for (i, p) in procs.iter().enumerate() {
        match imp::request_stop(p.handle(), signal) {
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

/// A process tree being killed by [`kill_tree`]: every process signalled so far, and
/// (where the OS allows) a live view of the forks its members make, so that
/// [`wait_tree`] can signal offspring created while the tree was dying.
#[derive(Debug)]
pub struct TreeKill {
    /// The processes signalled, opened (so their exits can be awaited), root first.
    pub signalled: Vec<Process>,
    /// Processes of the tree that could not be signalled, with why.
    pub failed: Vec<(Pid, Error)>,
    signal: Signal,
    members: HashSet<u32>,
    /// Start stamps of the members opened so far, by pid.
    starts: std::collections::HashMap<u32, u64>,
    seen: HashSet<(Pid, u64)>,
    watch: Option<imp::ForkWatch>,
}

impl TreeKill {
    /// Whether every fork in the tree was observed from the start of the kill (the
    /// kernel's fork events were available and none was lost), so that no descendant can
    /// have escaped by double-forking. `false` means the `/proc` scans alone were used.
    pub fn saw_every_fork(&self) -> bool {
        self.watch.as_ref().is_some_and(|w| !w.lost_events())
    }

    /// Sends `sig` to every member still running, and to offspring found from now on
    /// (to escalate from `SIGTERM` to `SIGKILL` after a grace period).
    pub fn resignal(&mut self, sig: Signal) {
        self.signal = sig;
        for p in &self.signalled {
            if p.is_running()
                && p.send_signal(sig).is_ok()
                && sig != Signal::Kill
                && sig != Signal::Stop
            {
                let _ = p.send_signal(Signal::Cont);
            }
        }
    }

    /// Opens `pid`, a new child of a member, stops it and adds it; `true` if added.
    fn adopt(&mut self, pid: Pid, stop: bool) -> bool {
        let Ok(p) = Process::open(pid) else {
            return false; // already gone
        };
        let start = p.handle().start_ticks;
        if !self.seen.insert((pid, start)) {
            return false;
        }
        // A member still running under this pid is this very process: a pid is not
        // reused while its process lives (nor, on Windows, while a handle is open), even
        // if the start stamp read now differs (Wine re-dates a process shortly after it
        // starts, so one process could otherwise be adopted twice).
        if self.members.contains(&pid.as_raw())
            && self
                .signalled
                .iter()
                .any(|m| m.pid() == pid && m.is_running())
        {
            return false;
        }
        let sig = if stop { Signal::Stop } else { self.signal };
        match p.send_signal(sig) {
            Ok(()) => {
                if !stop && sig != Signal::Kill {
                    let _ = p.send_signal(Signal::Cont);
                }
                self.members.insert(pid.as_raw());
                self.starts.insert(pid.as_raw(), start);
                self.signalled.push(p);
                true
            }
            Err(e) if e.kind() == ErrorKind::NoSuchProcess => false,
            Err(e) => {
                self.failed.push((pid, e));
                false
            }
        }
    }

    /// Adopts the children of members that the fork events reported, in order (so a
    /// grandchild is found even after its parent exited).
    fn follow_forks(&mut self, stop: bool) -> bool {
        let Some(w) = self.watch.as_mut() else {
            return false;
        };
        let mut forks = Vec::new();
        w.drain(&mut forks);
        let mut added = false;
        for (parent, child) in forks {
            if self.members.contains(&parent) {
                // Even if the child is gone, its pid is a member for its own forks.
                self.members.insert(child);
                if let Some(pid) = Pid::new(child) {
                    added |= self.adopt(pid, stop);
                }
            }
        }
        added
    }
}

/// Signals a process and all its descendants, robustly against descendants that fork,
/// double-fork or `setsid` meanwhile.
///
/// The tree is first frozen top-down with `SIGSTOP`: the root, then repeatedly every
/// descendant of a stopped process found in a fresh process list, until a pass finds
/// nothing new (a stopped process cannot fork, so the set converges). Then every member
/// gets `signal` and, unless the signal is `SIGKILL` or `SIGSTOP`, `SIGCONT` so it can
/// act on it. [`wait_tree`] then waits for them, signalling any offspring they create
/// while dying (a daemon's double fork in its `SIGTERM` handler, say).
///
/// # Platform-specific behavior
///
/// Linux, as root: the kernel's process-events connector reports every fork from before
/// the root is stopped, so a member that forks and exits between two `/proc` scans
/// cannot hand its child to init unseen ([`TreeKill::saw_every_fork`] is `true`).
/// Without that privilege, that one window remains: a process that forks and exits
/// between being listed and being stopped can leave an orphan outside the tree. Only a
/// cgroup (a corral `Job`) closes it for unprivileged callers.
///
/// # Errors
///
/// [`ErrorKind::NoSuchProcess`] if the root is gone, [`ErrorKind::AccessDenied`] if it
/// cannot be signalled.
pub fn kill_tree(root: &Process, signal: Signal) -> Result<TreeKill> {
    // Subscribe before anything is stopped, so no fork can fall between the two.
    let watch = imp::ForkWatch::new();
    root.send_signal(Signal::Stop)?;
    let first = Process::open_ref(root.process_ref())?;
    let mut tk = TreeKill {
        signalled: Vec::new(),
        failed: Vec::new(),
        signal,
        members: HashSet::from([root.pid().as_raw()]),
        starts: std::collections::HashMap::from([(root.pid().as_raw(), root.handle().start_ticks)]),
        seen: HashSet::from([(root.pid(), root.handle().start_ticks)]),
        watch,
    };
    tk.signalled.push(first);
    loop {
        let mut added = tk.follow_forks(true);
        let rows = Snapshot::new().field(Field::Ppid).collect()?;
        for row in &rows {
            let parent = match &row.ppid {
                Some(Ok(Some(p))) => *p,
                _ => continue,
            };
            if !tk.members.contains(&parent.as_raw()) || tk.seen.contains(&(row.pid, row.start.raw))
            {
                continue;
            }
            // A child starts after its parent. Windows keeps the creator's pid as the
            // parent even after the creator exits, so an older process can name a pid
            // that a member took over later: it is not in the tree.
            if tk
                .starts
                .get(&parent.as_raw())
                .is_some_and(|&ps| row.start.raw < ps)
            {
                continue;
            }
            // A descendant found by the scan (possibly one whose fork event came first).
            added |= tk.adopt(row.pid, true);
        }
        added |= tk.follow_forks(true);
        if !added {
            break;
        }
    }
    let stopped = std::mem::take(&mut tk.signalled);
    for p in stopped {
        match p.send_signal(signal) {
            Ok(()) => {
                if signal != Signal::Kill && signal != Signal::Stop {
                    let _ = p.send_signal(Signal::Cont);
                }
                tk.signalled.push(p);
            }
            Err(e) if e.kind() == ErrorKind::NoSuchProcess => tk.signalled.push(p),
            Err(e) => tk.failed.push((p.pid(), e)),
        }
    }
    Ok(tk)
}

/// Waits until every process of a [`TreeKill`] has exited, up to `timeout`, giving the
/// same signal to offspring its members create meanwhile (seen through fork events where
/// available); returns those still running at the deadline.
///
/// # Errors
///
/// As [`wait_all`].
pub fn wait_tree(tree: &mut TreeKill, timeout: Option<Duration>) -> Result<Vec<Pid>> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    // Wake at least this often to take in fork events (exits wake the wait at once).
    let slice = Duration::from_millis(20);
    loop {
        tree.follow_forks(false);
        let now = std::time::Instant::now();
        let step = match deadline {
            Some(d) if d <= now => None,
            Some(d) => Some((d - now).min(slice)),
            None => Some(slice),
        };
        let left = match step {
            Some(s) if tree.watch.is_some() => wait_all(&tree.signalled, Some(s), |_, _| {})?,
            Some(_) => {
                let rest = deadline.map(|d| d.saturating_duration_since(now));
                wait_all(&tree.signalled, rest, |_, _| {})?
            }
            None => wait_all(&tree.signalled, Some(Duration::ZERO), |_, _| {})?,
        };
        let added = tree.follow_forks(false);
        if left.is_empty() && !added {
            return Ok(Vec::new());
        }
        if step.is_none() || (tree.watch.is_none() && !left.is_empty()) {
            return Ok(left.into_iter().map(|i| tree.signalled[i].pid()).collect());
        }
    }
}
