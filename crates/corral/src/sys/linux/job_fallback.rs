//! The job backend for callers that may not create cgroups (an unprivileged user without
//! a delegated subtree): a **process-group + subreaper job**. Weaker than a cgroup — the
//! kernel does not keep the membership, corral reconstructs it — and reported as such by
//! `Job::capabilities()` / `Job::backend()`.
//!
//! # Membership
//!
//! A process is a member when any of these holds at a scan of `/proc` (every `stat`):
//!
//! 1. it is a **known member** — spawned into the job (`Command::job`), assigned to it,
//!    or found by an earlier scan — with the same pid *and* start time;
//! 2. its **process group** is one the job follows: led by a member (a child spawned
//!    into the job with `Command::new_process_group` or a new session, or any member
//!    that became a group leader), and a process of that group started no earlier than
//!    the group's leader is a member (a group is forgotten once a scan finds nobody in
//!    it, since the kernel may then reuse its id); children spawned without either stay
//!    in the caller's group, which is never followed;
//! 3. its **environment** carries the job's marker: children spawned into the job get
//!    `CORRAL_JOB=<name>@<unique id>` (appended with `:` to a marker inherited from an
//!    outer fallback job), and `/proc/PID/environ` of processes started after the job was
//!    created is checked for it (only processes of the caller's user, or any as root);
//! 4. its **parent** is a member and it started no earlier than that parent (so a parent
//!    pid reused by a newer process never adopts an older one), followed transitively.
//!
//! The calling process becomes a **child subreaper** (`PR_SET_CHILD_SUBREAPER`) when it
//! creates its first fallback job, so members orphaned by a dying parent (double forks,
//! daemons) are reparented to it rather than to init. This affects the **whole calling
//! process**: orphans of *any* of its children now come to it. corral reaps the orphans
//! that are members of its fallback jobs (at each scan, through `wait4` on the zombie,
//! whose pid cannot be reused before it is reaped, which also yields their CPU time);
//! other orphans stay zombies until the caller reaps them or exits.
//!
//! What escapes: a process that leaves the group (`setsid`/`setpgid`), clears or rewrites
//! its environment before `exec` (the marker lives in the environment block the kernel
//! shows in `/proc/PID/environ`), **and** loses the parent link (its parent exits) before
//! any scan saw it; a process of another user (a set-uid program) whose environment the
//! caller may not read and whose parent link is lost the same way; anything once the
//! creating process is gone (the membership lives in its memory), unless the job is
//! kill-on-close (below). A process can also
//! *join* by copying the marker into its environment — it must run as the same user.
//!
//! # Operations
//!
//! Every member is addressed through a pidfd opened and checked against the start time
//! the scan saw, never by bare pid. `terminate` sends `SIGKILL` to every member, waits on
//! their pidfds, and rescans until a scan finds nobody (children forked meanwhile show up
//! in the next round through the links above). `freeze` sends `SIGSTOP` in rounds until
//! every member is stopped, `thaw` sends `SIGCONT`: unlike the cgroup freezer a member
//! can see it (`SIGCHLD` to its parent, `waitpid` `WUNTRACED`) and anyone allowed to
//! signal it can undo it. `wait_empty` waits on the members' pidfds and rescans after
//! each exit. Limits are per process (rlimits: `RLIMIT_AS` for process memory,
//! `RLIMIT_CPU` for process CPU time, priority class, affinity) plus the job CPU time
//! watcher, which sums the members' times; the cgroup-only limits are `Unsupported`.
//! Accounting sums live members' `utime`/`stime` and their reaped children's
//! `cutime`/`cstime`, plus exited members corral saw exit: orphans it reaped (their
//! `rusage`) and its own spawned children seen as zombies before they were reaped; a
//! spawned child reaped before any scan saw it dead is not counted.
//!
//! The job exists only in the creating process: `Job::open` and `Job::list` find it there
//! (a registry of live fallback jobs), not from other processes. Events are best-effort
//! ([`Watch`]: a rescan after each member exit and at least every 100 ms while waiting;
//! exits carry the status the zombie or pidfd gives; `CpuTimeLimit` from the handle's
//! watcher; no other limit events).
//!
//! # Kill-on-close
//!
//! The `Job` handles of a job are counted (`create` and `open`, all in this process):
//! with kill-on-close, the last one's drop terminates the job. For the creator's death a
//! guard process ([`job_fallback_guard`](super::job_fallback_guard)) is started, which
//! every scan, spawn and `assign` keeps told of `members` and `groups`, and which kills
//! what the rules above find when this process dies or `exec`s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::job_fallback_guard::Link;
use super::parse::stat;
use super::proc::{read_path, ticks_per_second};
use super::Handle;
use crate::job_limits::{Enforcement, JobAccounting, JobLimits, Limit, LimitSupport};
use crate::{Error, ErrorKind, Pid, Result, Signal};

/// The environment variable that marks members of fallback jobs.
pub(crate) const MARKER_VAR: &str = "CORRAL_JOB";

/// How long `terminate` and `freeze` try before giving up.
const DEADLINE: Duration = Duration::from_secs(30);

/// The longest wait between two rescans while members are still running.
const RESCAN: Duration = Duration::from_millis(100);

/// What a scan reads of one process.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: u32,
    ppid: u32,
    pgrp: u32,
    start: u64,
    state: u8,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl Proc {
    fn dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

#[derive(Debug, Default)]
struct State {
    /// Known members: pid → start ticks.
    members: BTreeMap<u32, u64>,
    /// Process groups the job created: pgid → the leader's start ticks.
    groups: BTreeMap<u32, u64>,
    /// Members spawned or assigned by the caller (reaped by whoever holds their `Child`).
    direct: BTreeSet<(u32, u64)>,
    /// The times (user, system ticks, children's included) each direct member had at the
    /// last scan: counted when it is gone without a scan having seen it exit.
    last: BTreeMap<(u32, u64), (u64, u64)>,
    /// Exited members whose time was already added.
    counted: BTreeSet<(u32, u64)>,
    /// CPU time of exited members (user, system).
    exited: (Duration, Duration),
    /// Processes that were ever members.
    ever: u64,
    /// Wait statuses of the orphans this job reaped (the newest few thousand), for the
    /// event watchers.
    reaped: VecDeque<((u32, u64), i32)>,
    /// Spawns into the job under way: their children may already exit, unregistered, so
    /// no zombie is reaped meanwhile (it could be one of them, not an orphan).
    spawning: usize,
    frozen: bool,
    /// Kill-on-close: the guard process, told every change of `members` and `groups`.
    guard: Option<Link>,
}

impl State {
    /// Tells the guard (if any) what changed in the membership.
    fn sync_guard(&mut self) {
        let State {
            guard,
            members,
            groups,
            ..
        } = self;
        if let Some(g) = guard {
            g.sync(members, groups);
        }
    }
}

/// One fallback job, shared by its handles, the spawn targets and the CPU-time watcher.
#[derive(Debug)]
pub(crate) struct Shared {
    name: String,
    /// This job's entry in `CORRAL_JOB` (`<name>@<id>`).
    tag: String,
    /// Processes that started earlier (boot ticks) cannot carry the marker.
    since: u64,
    state: Mutex<State>,
    /// The `Job` handles of this job (not its views or spawn targets): kill-on-close acts
    /// when the last one is dropped.
    handles: AtomicUsize,
}

/// A fallback job handle.
#[derive(Debug)]
pub(crate) struct Job {
    shared: Arc<Shared>,
}

/// The live fallback jobs of this process (for `open` and `list`); an entry goes when a
/// handle is dropped while the job is empty.
static REGISTRY: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<Arc<Shared>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn boot_ticks_now() -> u64 {
    // SAFETY: an all-zero timespec is a valid value.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut t) };
    let tps = ticks_per_second();
    (t.tv_sec.max(0) as u64) * tps + (t.tv_nsec.max(0) as u64) * tps / 1_000_000_000
}

fn unique_id() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}.{n}.{nanos:x}", std::process::id())
}

/// Reads `stat` of every process.
fn all_procs() -> Result<Vec<Proc>> {
    let rd = std::fs::read_dir("/proc")
        .map_err(|e| Error::from_io("scan job members", e).with_detail("could not list /proc"))?;
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(256);
    for e in rd.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if read_path(&format!("/proc/{pid}/stat"), &mut buf).is_err() {
            continue;
        }
        let Some(s) = stat::parse(&buf) else { continue };
        out.push(Proc {
            pid,
            ppid: s.ppid,
            pgrp: s.pgrp,
            start: s.starttime,
            state: s.state,
            utime: s.utime,
            stime: s.stime,
            cutime: s.cutime,
            cstime: s.cstime,
        });
    }
    Ok(out)
}

/// Whether the `CORRAL_JOB` entry of an environment block names `tag`.
fn environ_has(environ: &[u8], tag: &str) -> bool {
    let key = format!("{MARKER_VAR}=");
    environ
        .split(|&b| b == 0)
        .filter_map(|e| e.strip_prefix(key.as_bytes()))
        .any(|v| v.split(|&b| b == b':').any(|t| t == tag.as_bytes()))
}

/// The job names in a `CORRAL_JOB` value (`name@id:name@id`).
fn names_in(value: &[u8]) -> Vec<String> {
    value
        .split(|&b| b == b':')
        .filter_map(|t| {
            let at = t.iter().position(|&b| b == b'@')?;
            std::str::from_utf8(&t[..at]).ok().map(str::to_owned)
        })
        .filter(|n| crate::job::validate_name(n).is_ok())
        .collect()
}

fn ticks(t: u64) -> Duration {
    super::proc::ticks(t)
}

fn tv(t: libc::timeval) -> Duration {
    Duration::new(
        t.tv_sec.max(0) as u64,
        (t.tv_usec.clamp(0, 999_999) as u32) * 1000,
    )
}

/// Becomes a child subreaper (once per process; the kernel keeps it across threads).
fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
    }
}

impl Shared {
    /// CPU times (members now, exited orphans, spawned children's last scan) and counts.
    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        let live = self.scan()?;
        let (u, s) = self.times(&live);
        let ever = self.lock().ever;
        Ok(JobAccounting {
            active_processes: live.len(),
            total_processes: Some(ever),
            user_time: Some(u),
            kernel_time: Some(s),
            ..JobAccounting::default()
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value a child spawned into the job gets for `CORRAL_JOB`.
    pub(crate) fn env_value(&self) -> String {
        match std::env::var(MARKER_VAR) {
            Ok(outer) if !outer.is_empty() => format!("{outer}:{}", self.tag),
            _ => self.tag.clone(),
        }
    }

    /// Kill-on-close: a copy of the guard's socket for a child spawned into the job to
    /// announce itself on before its `exec` (see
    /// [`announce_self`](super::job_fallback_guard::announce_self)).
    pub(crate) fn guard_socket(&self) -> Option<std::os::fd::OwnedFd> {
        self.lock().guard.as_ref().and_then(Link::socket)
    }

    /// Announces a spawn into the job; [`Shared::spawned`] must follow.
    pub(crate) fn spawning(&self) {
        self.lock().spawning += 1;
    }

    /// Records the outcome of a spawn announced by [`Shared::spawning`]: the child (not
    /// reaped yet), if it started.
    pub(crate) fn spawned(&self, pid: Option<u32>) {
        let mut buf = Vec::with_capacity(512);
        let child = pid.and_then(Pid::new).and_then(|p| {
            let st = super::process::read_stat(p, &mut buf).ok()?;
            Some((p.as_raw(), st.starttime, st.pgrp))
        });
        let mut st = self.lock();
        st.spawning = st.spawning.saturating_sub(1);
        // Not reaped yet (the caller holds it), so the pid is still this child's.
        let Some((pid, start, pgrp)) = child else {
            return;
        };
        if st.members.insert(pid, start) != Some(start) {
            st.ever += 1;
        }
        st.direct.insert((pid, start));
        if pgrp == pid {
            st.groups.insert(pid, start);
        }
        st.sync_guard();
    }

    /// Scans `/proc`, updates the membership, reaps member orphans; returns the members
    /// that have not exited.
    fn scan(&self) -> Result<Vec<Proc>> {
        // Locked for the whole scan, so a member registered meanwhile is not dropped by a
        // listing taken before it.
        let mut st = self.lock();
        let procs = all_procs()?;
        let me = std::process::id();
        let by_pid: HashMap<u32, &Proc> = procs.iter().map(|p| (p.pid, p)).collect();
        let mut member: HashSet<u32> = HashSet::new();
        let mut env_buf = Vec::new();
        let mut children: HashMap<u32, Vec<&Proc>> = HashMap::new();
        for p in &procs {
            children.entry(p.ppid).or_default().push(p);
        }
        // Groups led by members count, and members lead new groups: iterate until stable
        // (a couple of rounds at most in practice).
        let mut groups = st.groups.clone();
        for round in 0..8 {
            let mut queue: VecDeque<u32> = VecDeque::new();
            for p in &procs {
                if member.contains(&p.pid) || p.pid == me {
                    continue;
                }
                let known = st.members.get(&p.pid) == Some(&p.start);
                let grouped = groups.get(&p.pgrp).is_some_and(|&ls| p.start >= ls);
                let marked = round == 0
                    && !known
                    && !grouped
                    && p.start >= self.since
                    && read_path(&format!("/proc/{}/environ", p.pid), &mut env_buf).is_ok()
                    && environ_has(&env_buf, &self.tag)
                    && {
                        // The same process still (not a newer one with the pid)?
                        let mut b = Vec::with_capacity(512);
                        Pid::new(p.pid)
                            .and_then(|pid| super::process::read_stat(pid, &mut b).ok())
                            .is_some_and(|s| s.starttime == p.start)
                    };
                if known || grouped || marked {
                    member.insert(p.pid);
                    queue.push_back(p.pid);
                }
            }
            // Descendants of members.
            while let Some(pid) = queue.pop_front() {
                let Some(parent) = by_pid.get(&pid) else {
                    continue;
                };
                for c in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
                    if c.pid != me && c.start >= parent.start && member.insert(c.pid) {
                        queue.push_back(c.pid);
                    }
                }
            }
            // Groups whose leader is a member.
            let before = groups.len();
            for &pid in &member {
                let p = by_pid[&pid];
                if p.pgrp == p.pid && !p.dead() {
                    groups.entry(pid).or_insert(p.start);
                }
            }
            if groups.len() == before {
                break;
            }
        }
        st.groups = groups;
        // Update the state.
        let mut members = BTreeMap::new();
        let mut live = Vec::new();
        let mut exited = st.exited;
        for &pid in &member {
            let p = by_pid[&pid];
            members.insert(pid, p.start);
            if !st.members.contains_key(&pid) || st.members.get(&pid) != Some(&p.start) {
                st.ever += 1;
            }
            if !p.dead() {
                if st.direct.contains(&(pid, p.start)) {
                    st.last
                        .insert((pid, p.start), (p.utime + p.cutime, p.stime + p.cstime));
                }
                live.push(*p);
                continue;
            }
            let key = (pid, p.start);
            if p.ppid != me || st.counted.contains(&key) || st.spawning > 0 {
                // A member's child: its times go to the member's cutime/cstime when the
                // member reaps it.
                continue;
            }
            if st.direct.contains(&key) {
                // Ours to leave for the `Child` holder; count its final times once.
                exited.0 += ticks(p.utime + p.cutime);
                exited.1 += ticks(p.stime + p.cstime);
                st.counted.insert(key);
                st.last.remove(&key);
                continue;
            }
            // An orphan reparented to this subreaper: reap it (a zombie's pid cannot be
            // reused before it is reaped, and it is ours).
            let mut status = 0;
            // SAFETY: an all-zero rusage is a valid value.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 with valid pointers to a local status and rusage.
            let r = unsafe { libc::wait4(pid as i32, &mut status, libc::WNOHANG, &mut ru) };
            if r == pid as i32 {
                exited.0 += tv(ru.ru_utime);
                exited.1 += tv(ru.ru_stime);
                st.counted.insert(key);
                if st.reaped.len() >= 4096 {
                    st.reaped.pop_front();
                }
                st.reaped.push_back((key, status));
            }
        }
        // Direct members reaped by their owner since the last scan: what that scan saw.
        let gone: Vec<((u32, u64), (u64, u64))> = st
            .last
            .iter()
            .filter(|(k, _)| members.get(&k.0) != Some(&k.1))
            .map(|(k, v)| (*k, *v))
            .collect();
        for (k, (u, s)) in gone {
            st.last.remove(&k);
            if !st.counted.contains(&k) {
                exited.0 += ticks(u);
                exited.1 += ticks(s);
            }
        }
        st.exited = exited;
        // Forget groups nobody is in any more (the kernel may reuse their ids).
        let present: HashSet<u32> = procs.iter().map(|p| p.pgrp).collect();
        st.groups.retain(|g, _| present.contains(g));
        st.counted.retain(|k| members.get(&k.0) == Some(&k.1));
        st.direct.retain(|k| members.get(&k.0) == Some(&k.1));
        st.members = members;
        st.sync_guard();
        Ok(live)
    }

    fn handles(live: &[Proc]) -> Vec<Handle> {
        live.iter()
            .filter_map(|p| Handle::open_with_start(Pid::new(p.pid)?, p.start).ok())
            .collect()
    }

    /// Kills every member in rounds until a scan finds none.
    pub(crate) fn terminate(&self) -> Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let live = self.scan()?;
            if live.is_empty() {
                self.lock().frozen = false;
                return Ok(());
            }
            let hs = Self::handles(&live);
            for h in &hs {
                match h.send_signal(Signal::Kill) {
                    Ok(()) => {}
                    Err(e) if matches!(e.kind(), ErrorKind::NoSuchProcess | ErrorKind::Zombie) => {}
                    Err(e) => return Err(e),
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(
                    Error::new(ErrorKind::Timeout, "terminate job").with_detail(format!(
                        "{} members still running after {DEADLINE:?}",
                        live.len()
                    )),
                );
            }
            let refs: Vec<&Handle> = hs.iter().collect();
            super::wait_many(&refs, Some(RESCAN.min(deadline - now)), |_| true)?;
        }
    }

    fn freeze(&self) -> Result<()> {
        let deadline = Instant::now() + DEADLINE;
        let mut nap = Duration::from_millis(1);
        loop {
            let live = self.scan()?;
            let running: Vec<Proc> = live
                .into_iter()
                .filter(|p| !matches!(p.state, b'T' | b't'))
                .collect();
            if running.is_empty() {
                self.lock().frozen = true;
                return Ok(());
            }
            for h in Self::handles(&running) {
                match h.send_signal(Signal::Stop) {
                    Ok(()) => {}
                    Err(e) if matches!(e.kind(), ErrorKind::NoSuchProcess | ErrorKind::Zombie) => {}
                    Err(e) => return Err(e),
                }
            }
            if Instant::now() >= deadline {
                return Err(
                    Error::new(ErrorKind::Timeout, "freeze job").with_detail(format!(
                        "{} members did not stop within {DEADLINE:?}",
                        running.len()
                    )),
                );
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(20));
        }
    }

    fn thaw(&self) -> Result<()> {
        let live = self.scan()?;
        for h in Self::handles(&live) {
            match h.send_signal(Signal::Cont) {
                Ok(()) => {}
                Err(e) if matches!(e.kind(), ErrorKind::NoSuchProcess | ErrorKind::Zombie) => {}
                Err(e) => return Err(e),
            }
        }
        self.lock().frozen = false;
        Ok(())
    }

    fn wait_empty(&self, timeout: Option<Duration>) -> Result<()> {
        let op = "wait for job to empty";
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let live = self.scan()?;
            if live.is_empty() {
                return Ok(());
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(Error::new(ErrorKind::Timeout, op)
                    .with_detail(format!("{} members still running", live.len())));
            }
            let hs = Self::handles(&live);
            let refs: Vec<&Handle> = hs.iter().collect();
            // Wakes at the first exit, then rescans (it may have left children behind).
            super::wait_many(&refs, left, |_| false)?;
        }
    }

    /// CPU time of all members seen, exited ones included (user, system).
    fn times(&self, live: &[Proc]) -> (Duration, Duration) {
        let (mut u, mut s) = self.lock().exited;
        for p in live {
            u += ticks(p.utime + p.cutime);
            s += ticks(p.stime + p.cstime);
        }
        (u, s)
    }

    pub(crate) fn cpu_usage(&self) -> Result<Duration> {
        let live = self.scan()?;
        let (u, s) = self.times(&live);
        Ok(u + s)
    }
}

/// Events of a fallback job, best-effort: a rescan of `/proc` after each member exit
/// (pidfds in one epoll) and at least every [`RESCAN`] while waiting.
#[derive(Debug)]
pub(crate) struct Watch {
    shared: Arc<Shared>,
    /// The members known to this watcher, with their pidfds.
    known: HashMap<(u32, u64), Handle>,
    queue: VecDeque<crate::job_events::JobEvent>,
    /// The job had members since the last `JobEmpty`.
    populated: bool,
    /// Set by the CPU-time watcher of the handle this came from before it kills the job.
    /// Events the handle's watchers raised (`CpuTimeLimit`, `NotificationLimit`).
    raised: Arc<Mutex<Vec<crate::job_events::JobEvent>>>,
}

impl Watch {
    pub(crate) fn new(job: &Job) -> Result<Watch> {
        let mut w = Watch {
            shared: job.shared(),
            known: HashMap::new(),
            queue: VecDeque::new(),
            populated: false,
            raised: Arc::default(),
        };
        // Members present now are known, not announced.
        w.rescan(false)?;
        Ok(w)
    }

    /// How an exited member ended: from the job's own reaping, else the zombie/pidfd.
    fn status(&self, k: (u32, u64), h: &Handle) -> crate::ExitStatus {
        let st = self.shared.lock();
        match st.reaped.iter().rev().find(|(key, _)| *key == k) {
            Some((_, w)) => crate::ExitStatus::from_wait_status(*w),
            None => {
                drop(st);
                h.exit_status()
            }
        }
    }

    fn rescan(&mut self, report: bool) -> Result<()> {
        use crate::job_events::JobEvent;
        // Statuses first: the scan reaps member orphans, after which a status may be
        // lost (kernels without PIDFD_GET_INFO).
        let mut exited: Vec<((u32, u64), crate::ExitStatus)> = Vec::new();
        for (k, h) in &self.known {
            if h.has_exited() {
                exited.push((*k, self.status(*k, h)));
            }
        }
        let live = self.shared.scan()?;
        let now: HashSet<(u32, u64)> = live.iter().map(|p| (p.pid, p.start)).collect();
        for (k, st) in exited {
            self.known.remove(&k);
            if let Some(pid) = Pid::new(k.0) {
                self.queue.push_back(JobEvent::exit(pid, st));
            }
        }
        // Gone without the pidfd telling (no pidfd on this kernel): status unknown.
        let vanished: Vec<(u32, u64)> = self
            .known
            .keys()
            .filter(|k| !now.contains(k))
            .copied()
            .collect();
        for k in vanished {
            let h = self.known.remove(&k).expect("listed");
            let st = self.status(k, &h);
            if let Some(pid) = Pid::new(k.0) {
                self.queue.push_back(JobEvent::exit(pid, st));
            }
        }
        for p in &live {
            let k = (p.pid, p.start);
            if self.known.contains_key(&k) {
                continue;
            }
            let Some(pid) = Pid::new(p.pid) else { continue };
            let Ok(h) = Handle::open_with_start(pid, p.start) else {
                continue;
            };
            self.known.insert(k, h);
            if report {
                self.queue.push_back(JobEvent::NewProcess { pid });
            }
        }
        if !live.is_empty() {
            self.populated = true;
        } else if self.populated {
            self.populated = false;
            if report {
                self.queue.push_back(JobEvent::JobEmpty);
            }
        }
        Ok(())
    }

    /// What the handle's watchers call to report an event (the CPU-time watcher before
    /// it terminates the job; the notification limits).
    pub(crate) fn cpu_limit_raiser(&self) -> crate::job_limits::Raiser {
        let q = Arc::downgrade(&self.raised);
        Box::new(move |ev| match q.upgrade() {
            Some(q) => {
                if let Ok(mut q) = q.lock() {
                    q.push(ev);
                }
                true
            }
            None => false,
        })
    }

    /// The raised events, oldest first.
    fn take_raised(&self) -> Vec<crate::job_events::JobEvent> {
        self.raised
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }

    pub(crate) fn next(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<crate::job_events::JobEvent>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            // Raised before the kill: ahead of the exits it causes.
            for ev in self.take_raised().into_iter().rev() {
                self.queue.push_front(ev);
            }
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(None);
            }
            let slice = left.map_or(RESCAN, |l| l.min(RESCAN));
            let refs: Vec<&Handle> = self.known.values().collect();
            if refs.is_empty() {
                std::thread::sleep(slice);
            } else {
                super::wait_many(&refs, Some(slice), |_| false)?;
            }
            for ev in self.take_raised() {
                self.queue.push_back(ev);
            }
            self.rescan(true)?;
        }
    }
}

/// Why a cgroup-only limit is unsupported here.
const NO_CGROUP: &str =
    "it needs a cgroup, and this job is a process-group fallback (no writable cgroup)";

/// How each limit is enforced by a fallback job.
pub(crate) fn limit_support() -> Vec<LimitSupport> {
    Limit::ALL
        .iter()
        .map(|&limit| LimitSupport {
            limit,
            how: match limit {
                Limit::ProcessMemory
                | Limit::ProcessTime
                | Limit::PriorityClass
                | Limit::Affinity => Enforcement::PerProcess,
                Limit::JobTime => Enforcement::Watcher,
                _ => Enforcement::Unsupported(NO_CGROUP.into()),
            },
        })
        .collect()
}

/// The names of the fallback jobs of this process.
pub(crate) fn list_jobs() -> Vec<String> {
    registry().iter().map(|s| s.name.clone()).collect()
}

/// The fallback jobs a process belongs to, by the marker in its environment.
pub(crate) fn job_names_of(h: &Handle) -> Vec<String> {
    let mut buf = Vec::new();
    if h.read("environ", "find job of process", true, &mut buf)
        .is_err()
    {
        return Vec::new();
    }
    let key = format!("{MARKER_VAR}=");
    buf.split(|&b| b == 0)
        .filter_map(|e| e.strip_prefix(key.as_bytes()))
        .flat_map(names_in)
        .collect()
}

impl Job {
    /// Creates a fallback job (no cgroup is touched).
    pub(crate) fn create(name: Option<&str>) -> Result<Job> {
        let mut reg = registry();
        let name = match name {
            Some(n) => {
                if reg.iter().any(|s| s.name == n) {
                    return Err(Error::new(ErrorKind::InvalidInput, "create job")
                        .with_detail(format!("a job named {n} exists in this process")));
                }
                n.to_owned()
            }
            None => unique_id(),
        };
        become_subreaper();
        let shared = Arc::new(Shared {
            tag: format!("{name}@{}", unique_id()),
            name,
            // A tick of slack: start times are rounded down to ticks.
            since: boot_ticks_now().saturating_sub(1),
            state: Mutex::new(State::default()),
            handles: AtomicUsize::new(1),
        });
        reg.push(shared.clone());
        Ok(Job { shared })
    }

    /// Finds a fallback job of this process by name.
    pub(crate) fn open(name: &str) -> Option<Job> {
        registry().iter().find(|s| s.name == name).map(|s| {
            s.handles.fetch_add(1, Ordering::AcqRel);
            Job { shared: s.clone() }
        })
    }

    /// Kill-on-close: starts the job's guard process (once; see
    /// [`job_fallback_guard`](super::job_fallback_guard)); its pid. From then on the last
    /// handle's drop terminates the job, and the guard does when this process dies.
    pub(crate) fn start_guard(&self) -> Result<u32> {
        let mut st = self.shared.lock();
        if let Some(g) = &st.guard {
            return Ok(g.pid());
        }
        let link = Link::start(&self.shared.tag, self.shared.since, &st.members, &st.groups)?;
        let pid = link.pid();
        st.guard = Some(link);
        Ok(pid)
    }

    pub(crate) fn name(&self) -> &str {
        &self.shared.name
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    pub(crate) fn pids(&self) -> Result<Vec<u32>> {
        Ok(self.shared.scan()?.iter().map(|p| p.pid).collect())
    }

    /// Adds a running process (and, through the scans, its descendants).
    pub(crate) fn assign(&self, h: &Handle) -> Result<()> {
        let op = "assign to job";
        h.verify(op, false).map_err(|e| {
            if e.kind() == ErrorKind::Zombie {
                e.with_kind(ErrorKind::NoSuchProcess)
                    .with_detail("the process has exited")
            } else {
                e
            }
        })?;
        let pid = h.pid.as_raw();
        let mut st = self.shared.lock();
        if st.members.insert(pid, h.start_ticks) != Some(h.start_ticks) {
            st.ever += 1;
        }
        st.direct.insert((pid, h.start_ticks));
        st.sync_guard();
        Ok(())
    }

    pub(crate) fn contains(&self, h: &Handle) -> Result<bool> {
        h.verify("check job membership", true)?;
        let known = |st: &State| st.members.get(&h.pid.as_raw()) == Some(&h.start_ticks);
        if known(&self.shared.lock()) {
            return Ok(true);
        }
        self.shared.scan()?;
        Ok(known(&self.shared.lock()))
    }

    pub(crate) fn terminate(&self) -> Result<()> {
        self.shared.terminate()
    }

    pub(crate) fn freeze(&self) -> Result<()> {
        self.shared.freeze()
    }

    pub(crate) fn thaw(&self) -> Result<()> {
        self.shared.thaw()
    }

    pub(crate) fn is_frozen(&self) -> Result<bool> {
        Ok(self.shared.lock().frozen)
    }

    pub(crate) fn wait_empty(&self, timeout: Option<Duration>) -> Result<()> {
        self.shared.wait_empty(timeout)
    }

    /// Checks that `l` has only limits a fallback job can enforce (the per-process ones
    /// and the job CPU time are applied by the caller).
    pub(crate) fn set_limits(&mut self, l: &JobLimits) -> Result<()> {
        let mut bad = Vec::new();
        if l.job_memory.is_some() {
            bad.push(Limit::JobMemory);
        }
        if l.max_processes.is_some() {
            bad.push(Limit::ActiveProcesses);
        }
        if l.cpu_rate.is_some() || l.cpus.is_some() {
            bad.push(Limit::CpuRate);
        }
        if l.cpu_weight.is_some() {
            bad.push(Limit::CpuWeight);
        }
        if l.working_set_min.is_some() {
            bad.push(Limit::WorkingSetMin);
        }
        if l.working_set_max.is_some() {
            bad.push(Limit::WorkingSetMax);
        }
        if !l.io_rates.is_empty() {
            bad.push(Limit::IoRate);
        }
        if bad.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = bad.iter().map(|l| l.name()).collect();
        Err(
            Error::new(ErrorKind::Unsupported, "set job limits").with_detail(format!(
                "{} cannot be enforced here: {NO_CGROUP}",
                names.join(", ")
            )),
        )
    }

    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        self.shared.accounting()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // Kill-on-close: the last handle terminates the job, then lets its guard make a
        // last round and exit (the guard stays on meanwhile, should this process die).
        let last = self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1;
        if last && self.shared.lock().guard.is_some() {
            let _ = self.shared.terminate();
            let guard = self.shared.lock().guard.take();
            if let Some(g) = guard {
                g.finish();
            }
        }
        // Only an empty job leaves the registry (and a scan reaps its orphans).
        if matches!(self.shared.scan(), Ok(l) if l.is_empty()) {
            registry().retain(|s| !Arc::ptr_eq(s, &self.shared));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        let env = b"A=1\0CORRAL_JOB=outer@1.2.3:inner@4.5.6\0B=2\0";
        assert!(environ_has(env, "inner@4.5.6"));
        assert!(environ_has(env, "outer@1.2.3"));
        assert!(!environ_has(env, "inner@4.5"));
        assert!(!environ_has(b"XCORRAL_JOB=inner@4.5.6\0", "inner@4.5.6"));
        assert_eq!(
            names_in(b"outer@1.2.3:inner@4.5.6:bad/name@1:x"),
            vec!["outer".to_owned(), "inner".to_owned()]
        );
    }
}
