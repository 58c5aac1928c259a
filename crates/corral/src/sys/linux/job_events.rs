//! Job events on Linux: one epoll instance over the job's notifying cgroup files, a v1
//! OOM eventfd, the proc connector (forks and exits, where available) or one pidfd per
//! member. Nothing is polled on a timer: every wake-up is a kernel notification, and the
//! files that cannot notify (v1 `pids.events`, `cgroup.procs`) are re-read at those
//! wake-ups.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::epoll;
use rustix::fs::{Mode, OFlags};

use super::cgroup::{event_value, read_text};
use super::connector::{ForkWatch, ProcEvent};
use super::proc::read_all;
use super::Handle;
use crate::job_events::JobEvent;
use crate::{Error, ErrorKind, ExitStatus, Pid, Result};

const T_EVENTS: u64 = 1;
const T_MEMORY: u64 = 2;
const T_PIDS: u64 = 3;
const T_OOM: u64 = 4;
const T_CONNECTOR: u64 = 5;
/// The eventfd the job handle's CPU-time watcher writes to when it terminates the job.
const T_CPU_LIMIT: u64 = 6;
/// Tokens of member pidfds: this bit plus the pid.
const T_MEMBER: u64 = 1 << 32;
/// Tokens of pidfds of exited leaders whose other threads still hold the job: this bit
/// plus the pid.
const T_LINGER: u64 = 1 << 33;
/// The most members followed through pidfds at once (one descriptor each).
const MAX_PIDFDS: usize = 8192;

const OP: &str = "watch job events";

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::from_io(OP, e).with_detail(path.display().to_string())
}

/// A notifying file (`cgroup.events`, `memory.events`, `pids.events`), kept open.
#[derive(Debug)]
struct Notifier {
    fd: OwnedFd,
    path: PathBuf,
}

/// The longest single wait for events (see `next`).
const MAX_EVENT_WAIT: Duration = Duration::from_secs(1);

impl Notifier {
    fn open(path: PathBuf) -> Option<Notifier> {
        let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
        Some(Notifier { fd, path })
    }

    fn read(&self, buf: &mut Vec<u8>) -> Result<()> {
        rustix::fs::seek(&self.fd, rustix::fs::SeekFrom::Start(0))
            .map_err(|e| io_err(&self.path, e.into()))?;
        read_all(self.fd.as_fd(), buf).map_err(|e| io_err(&self.path, e))
    }
}

fn counter(buf: &[u8], key: &[u8]) -> u64 {
    event_value(buf, key)
        .and_then(super::parse::parse_u64)
        .unwrap_or(0)
}

/// A member the watcher knows: its pidfd handle where it follows it that way.
#[derive(Debug)]
struct Member {
    handle: Option<Handle>,
}

/// The watcher behind `JobEvents`.
#[derive(Debug)]
pub(crate) struct JobWatch {
    epoll: OwnedFd,
    procs: PathBuf,
    /// The job's primary cgroup as `/proc/PID/cgroup` names it.
    cg: String,
    events: Option<Notifier>,
    populated: bool,
    frozen: bool,
    memory: Option<Notifier>,
    /// v2 `memory.events.local` (Linux 5.2+; not polled: each of its changes changes
    /// `memory.events` too): the hits of this job's own limit, not of nested jobs'.
    memory_local: Option<Notifier>,
    /// v1 `memory.failcnt` and `memory.memsw.failcnt`: hits of this job's own limits
    /// (not notified; re-read at each wake-up).
    failcnt: Vec<Notifier>,
    mem_fail: u64,
    /// v1: the memory cgroup, and whether its OOM eventfd fired since the last read.
    v1_memory: Option<PathBuf>,
    oom_fired: bool,
    mem_max: u64,
    mem_oom: u64,
    mem_oom_kill: u64,
    /// `pids.events`, and whether it notifies (v2) or is re-read at each wake-up (v1).
    pids: Option<(Notifier, bool)>,
    pids_max: u64,
    /// v1: eventfd registered on `memory.oom_control`, and that file.
    oom: Option<(OwnedFd, Notifier)>,
    forks: Option<ForkWatch>,
    /// Written by the CPU-time watcher of the `Job` handle this watcher came from.
    cpu_limit: std::sync::Arc<OwnedFd>,
    /// The events raised through `cpu_limit` (CPU time limit, notification limits).
    raised: std::sync::Arc<std::sync::Mutex<Vec<JobEvent>>>,
    members: HashMap<u32, Member>,
    /// Members whose exit (of the leader thread) the connector reported; while other
    /// threads live on, `cgroup.procs` still lists them: they are not members again.
    exited: std::collections::HashSet<u32>,
    /// Pidfds of those, readable once the last thread is gone (then: rescan).
    lingering: HashMap<u32, OwnedFd>,
    pidfds: usize,
    /// Members were seen since the last `JobEmpty`.
    had_members: bool,
    queue: VecDeque<JobEvent>,
    buf: Vec<u8>,
    scratch: Vec<ProcEvent>,
    ended: bool,
    /// When the job was last listed: a process that joins from outside (spawned or
    /// assigned into the job by a non-member) is seen only by a listing.
    last_scan: Instant,
}

impl JobWatch {
    pub(crate) fn new(job: &super::cgroup::Job) -> Result<JobWatch> {
        let ep =
            epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| Error::from_io(OP, e.into()))?;
        let add = |fd: std::os::fd::BorrowedFd<'_>, tok: u64, flags: epoll::EventFlags| {
            epoll::add(&ep, fd, epoll::EventData::new_u64(tok), flags)
                .map_err(|e| Error::from_io(OP, e.into()))
        };
        // The connector first: no fork between the first listing and the subscription
        // can be missed.
        let forks = ForkWatch::new();
        if let Some(f) = &forks {
            add(f.as_fd(), T_CONNECTOR, epoll::EventFlags::IN)?;
        }
        let v2 = job.v2().map(|d| d.path.clone());
        let events = match &v2 {
            Some(d) => {
                let n = Notifier::open(d.join("cgroup.events")).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidInput, OP)
                        .with_detail(format!("{} is gone", d.display()))
                })?;
                add(n.fd.as_fd(), T_EVENTS, epoll::EventFlags::PRI)?;
                Some(n)
            }
            None => None,
        };
        let memory = v2
            .as_ref()
            .and_then(|d| Notifier::open(d.join("memory.events")));
        if let Some(n) = &memory {
            add(n.fd.as_fd(), T_MEMORY, epoll::EventFlags::PRI)?;
        }
        let memory_local = memory
            .as_ref()
            .and(v2.as_ref())
            .and_then(|d| Notifier::open(d.join("memory.events.local")));
        let v1 = |ctl: &str| {
            job.dirs()
                .iter()
                .find(|d| !d.v2 && d.controllers.iter().any(|c| c == ctl))
                .map(|d| d.path.clone())
        };
        let pids = match v2
            .as_ref()
            .and_then(|d| Notifier::open(d.join("pids.events")))
        {
            Some(n) => {
                add(n.fd.as_fd(), T_PIDS, epoll::EventFlags::PRI)?;
                Some((n, true))
            }
            None => v1("pids")
                .and_then(|d| Notifier::open(d.join("pids.events")))
                .map(|n| (n, false)),
        };
        let oom = match (&memory, v1("memory")) {
            (None, Some(d)) => register_oom(&d)?,
            _ => None,
        };
        if let Some((efd, _)) = &oom {
            add(efd.as_fd(), T_OOM, epoll::EventFlags::IN)?;
        }
        let v1_memory = match (&memory, v1("memory")) {
            (None, Some(d)) => Some(d),
            _ => None,
        };
        let failcnt: Vec<Notifier> = match (&memory, v1("memory")) {
            (None, Some(d)) => ["memory.failcnt", "memory.memsw.failcnt"]
                .iter()
                .filter_map(|f| Notifier::open(d.join(f)))
                .collect(),
            _ => Vec::new(),
        };
        let cpu_limit = std::sync::Arc::new(super::job_notify::eventfd(OP)?);
        add(cpu_limit.as_fd(), T_CPU_LIMIT, epoll::EventFlags::IN)?;
        let mut w = JobWatch {
            epoll: ep,
            procs: job.primary().path.join("cgroup.procs"),
            cg: job.primary().cg.clone(),
            events,
            populated: false,
            frozen: false,
            memory,
            memory_local,
            failcnt,
            mem_fail: 0,
            v1_memory,
            oom_fired: false,
            mem_max: 0,
            mem_oom: 0,
            mem_oom_kill: 0,
            pids,
            pids_max: 0,
            oom,
            forks,
            cpu_limit,
            raised: Default::default(),
            members: HashMap::new(),
            exited: Default::default(),
            lingering: HashMap::new(),
            pidfds: 0,
            had_members: false,
            queue: VecDeque::new(),
            buf: Vec::with_capacity(4096),
            scratch: Vec::new(),
            ended: false,
            last_scan: Instant::now(),
        };
        if w.forks.is_none() {
            let _ = super::raise_fd_limit();
        }
        // The starting point: counters as they are, members as they are (not announced).
        w.read_counters(false)?;
        w.rescan(false)?;
        w.had_members = !w.members.is_empty() || w.populated;
        Ok(w)
    }

    /// What the job handle's watchers call to have an event reported (`CpuTimeLimit`,
    /// `NotificationLimit`): queued, then a write to this watcher's eventfd (false once
    /// this watcher is dropped).
    pub(crate) fn cpu_limit_raiser(&self) -> Option<crate::job_limits::Raiser> {
        let fd = std::sync::Arc::downgrade(&self.cpu_limit);
        let raised = std::sync::Arc::downgrade(&self.raised);
        Some(Box::new(move |ev| match (fd.upgrade(), raised.upgrade()) {
            (Some(fd), Some(q)) => {
                if let Ok(mut q) = q.lock() {
                    q.push(ev);
                }
                let _ = rustix::io::write(&*fd, &1u64.to_ne_bytes());
                true
            }
            _ => false,
        }))
    }

    pub(crate) fn new_process_exact(&self) -> bool {
        self.forks.is_some()
    }

    pub(crate) fn ended(&self) -> bool {
        self.ended && self.queue.is_empty()
    }

    pub(crate) fn next(&mut self, timeout: Option<Duration>) -> Result<Option<JobEvent>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
            if self.ended {
                return Err(Error::new(ErrorKind::NoSuchProcess, OP)
                    .with_detail("the job is gone".to_owned()));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            // At most a second per wait: the kernel may drop a cgroup.events notification
            // when another process removes the cgroup right after a change (the
            // rate-limit timer is cancelled), and epoll does not wake on removal. After
            // such a slice the state is reread like after a notification.
            let slice = left.map_or(MAX_EVENT_WAIT, |l| l.min(MAX_EVENT_WAIT));
            let ts = Some(rustix::event::Timespec {
                tv_sec: slice.as_secs() as _,
                tv_nsec: slice.subsec_nanos() as _,
            });
            events.clear();
            match epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                ts.as_ref(),
            ) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::from_io(OP, e.into())),
            }
            let mut rescan = false;
            let mut counters = false;
            if events.is_empty() {
                if left.is_some_and(|l| l <= MAX_EVENT_WAIT) {
                    return Ok(None);
                }
                counters = true;
            }
            // The CPU-time watcher wrote before it killed: report that before the exits
            // of the same wake-up.
            if events.iter().any(|e| e.data.u64() == T_CPU_LIMIT) {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(&*self.cpu_limit, &mut b);
                if let Ok(mut q) = self.raised.lock() {
                    self.queue.extend(q.drain(..));
                }
            }
            for ev in &events {
                let tok = ev.data.u64();
                match tok {
                    T_CONNECTOR => rescan |= self.connector(),
                    T_EVENTS | T_MEMORY | T_PIDS => counters = true,
                    T_OOM => {
                        if let Some((efd, _)) = &self.oom {
                            let mut b = [0u8; 8];
                            let _ = rustix::io::read(efd, &mut b);
                        }
                        self.oom_fired = true;
                        counters = true;
                    }
                    t if t & T_LINGER != 0 => {
                        self.lingering.remove(&((t & 0xffff_ffff) as u32));
                        rescan = true;
                    }
                    t if t & T_MEMBER != 0 => {
                        self.member_exited((t & 0xffff_ffff) as u32);
                        rescan = true;
                    }
                    _ => {}
                }
            }
            // A busy machine's proc connector can wake this loop every few milliseconds
            // without a member's fork or exit: list the job at least every slice anyway.
            if self.last_scan.elapsed() >= MAX_EVENT_WAIT {
                counters = true;
            }
            if counters || rescan {
                // Any notification may come with members that joined unseen.
                if let Err(e) = self.read_counters(true).and_then(|()| self.rescan(true)) {
                    if e.raw_os_error() == Some(libc::ENODEV)
                        || e.raw_os_error() == Some(libc::ENOENT)
                    {
                        self.job_removed();
                        continue;
                    }
                    return Err(e);
                }
            } else if let Some((n, false)) = &self.pids {
                // v1 pids.events does not notify: look at each wake-up.
                let _ = n.read(&mut self.buf);
                let max = counter(&self.buf, b"max");
                self.bump_pids(max);
            }
        }
    }

    fn bump_pids(&mut self, max: u64) {
        if max > self.pids_max {
            self.queue.push_back(JobEvent::ProcessLimit {
                count: max - self.pids_max,
            });
        }
        self.pids_max = self.pids_max.max(max);
    }

    /// Re-reads the counters; `report`: queue events for what changed.
    fn read_counters(&mut self, report: bool) -> Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.read_counters_with(&mut buf, report);
        self.buf = buf;
        r
    }

    fn read_counters_with(&mut self, buf: &mut Vec<u8>, report: bool) -> Result<()> {
        if let Some(n) = &self.pids {
            n.0.read(buf)?;
            let max = counter(buf, b"max");
            if report {
                self.bump_pids(max);
            }
            self.pids_max = self.pids_max.max(max);
        }
        if let Some(n) = &self.memory {
            n.read(buf)?;
            let mut local = Vec::new();
            if let Some(l) = &self.memory_local {
                l.read(&mut local)?;
            }
            let (max, oom, kill) =
                v2_memory_counters(buf, self.memory_local.as_ref().map(|_| &local[..]));
            if report {
                let hits = max.saturating_sub(self.mem_max) + oom.saturating_sub(self.mem_oom);
                if hits > 0 {
                    self.queue.push_back(JobEvent::MemoryLimit { count: hits });
                }
                if kill > self.mem_oom_kill {
                    self.queue.push_back(JobEvent::OomKill {
                        count: kill - self.mem_oom_kill,
                    });
                }
            }
            (self.mem_max, self.mem_oom, self.mem_oom_kill) = (max, oom, kill);
        }
        if self.v1_memory.is_some() {
            // v1: the limit hits of this very cgroup (see the events table in
            // `crate::job_events`).
            let mut fails = 0u64;
            for n in &self.failcnt {
                n.read(buf)?;
                fails += super::parse::parse_u64(super::parse::text::trim(buf)).unwrap_or(0);
            }
            let own_oom = std::mem::take(&mut self.oom_fired)
                && self.v1_memory.as_deref().is_some_and(v1_limit_reached);
            if report && (fails > self.mem_fail || own_oom) {
                self.queue.push_back(JobEvent::MemoryLimit {
                    count: (fails - self.mem_fail.min(fails)).max(1),
                });
            }
            self.mem_fail = fails;
        }
        if let Some((_, n)) = &self.oom {
            n.read(buf)?;
            // The eventfd fired (an OOM of this cgroup or of an ancestor, which notifies
            // its whole subtree) or this is another wake-up: the limit hits are counted
            // above, the kills here.
            let kill = counter(buf, b"oom_kill");
            if report && kill > self.mem_oom_kill {
                self.queue.push_back(JobEvent::OomKill {
                    count: kill - self.mem_oom_kill,
                });
            }
            self.mem_oom_kill = kill;
        }
        if let Some(n) = &self.events {
            n.read(buf)?;
            let populated = event_value(buf, b"populated") == Some(b"1");
            let frozen = event_value(buf, b"frozen") == Some(b"1");
            // A wake-up with `frozen` unchanged was a change of `populated` — maybe
            // 0 → 1 → 0 between two reads.
            if report && populated {
                self.had_members = true;
            }
            if report && !populated && (self.populated || frozen == self.frozen) {
                self.had_members = true;
            }
            self.populated = populated;
            self.frozen = frozen;
        }
        Ok(())
    }

    /// Lists the job; members not known yet are added (and announced when `report`).
    /// Queues `JobEmpty` when the job became empty.
    fn rescan(&mut self, report: bool) -> Result<()> {
        self.last_scan = Instant::now();
        // Nested jobs' members are this job's too.
        let dir = self.procs.parent().unwrap_or(&self.procs);
        let pids = super::cgroup::pids_below(dir).map_err(|e| io_err(&self.procs, e))?;
        if !self.exited.is_empty() {
            // Leaders that exited: gone from the listing (forget them), or listed while
            // their other threads exit (wake up when the last one has).
            let listed: std::collections::HashSet<u32> = pids.iter().copied().collect();
            self.exited.retain(|p| listed.contains(p));
            self.lingering.retain(|p, _| listed.contains(p));
            for &p in &self.exited {
                if self.lingering.contains_key(&p) {
                    continue;
                }
                let Some(rp) = rustix::process::Pid::from_raw(p as i32) else {
                    continue;
                };
                let Ok(fd) = rustix::process::pidfd_open(rp, rustix::process::PidfdFlags::empty())
                else {
                    continue;
                };
                let tok = epoll::EventData::new_u64(T_LINGER | u64::from(p));
                if epoll::add(&self.epoll, &fd, tok, epoll::EventFlags::IN).is_ok() {
                    self.lingering.insert(p, fd);
                }
            }
        }
        for &pid in &pids {
            if self.exited.contains(&pid) {
                continue;
            }
            if !self.members.contains_key(&pid) && self.add_member(pid) && report {
                if let Some(p) = Pid::new(pid) {
                    self.queue.push_back(JobEvent::NewProcess { pid: p });
                }
            }
        }
        // Members no longer listed: exiting (their exit event is on its way: the cgroup
        // lets go of a task before its pidfd or the connector report the exit) or moved
        // out of the job. Only the latter are forgotten here.
        if pids.len() < self.members.len() {
            let listed: std::collections::HashSet<u32> = pids.iter().copied().collect();
            let moved: Vec<u32> = self
                .members
                .keys()
                .filter(|p| !listed.contains(p) && self.moved_out(**p))
                .copied()
                .collect();
            for p in moved {
                self.forget(p);
            }
        }
        if !pids.is_empty() {
            self.had_members = true;
        }
        let empty = match &self.events {
            Some(_) => !self.populated,
            None => pids.is_empty(),
        };
        let lost = self.forks.as_ref().is_some_and(|f| f.lost_events());
        if report && empty && self.had_members && (self.members.is_empty() || lost) {
            self.had_members = false;
            self.members.clear();
            self.exited.clear();
            self.lingering.clear();
            self.queue.push_back(JobEvent::JobEmpty);
        }
        Ok(())
    }

    /// Whether `pid` is alive in a cgroup other than the job's (it was moved out), as
    /// `/proc/PID/cgroup` says; a process that is gone or still shows the job is exiting.
    fn moved_out(&self, pid: u32) -> bool {
        self.shows_job(pid) == Some(false)
    }

    /// Whether `/proc/PID/cgroup` names the job (`None`: unreadable, the process is gone).
    /// A zombie still shows the cgroup it died in.
    fn shows_job(&self, pid: u32) -> Option<bool> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        Some(text.lines().any(|l| {
            l.splitn(3, ':')
                .nth(2)
                .is_some_and(|p| p == self.cg || super::cgroup::is_below(p, &self.cg))
        }))
    }

    /// Starts following `pid`; false if it is already gone.
    fn add_member(&mut self, pid: u32) -> bool {
        let Some(p) = Pid::new(pid) else { return false };
        let handle = if self.forks.is_some() || self.pidfds >= MAX_PIDFDS {
            None
        } else {
            match Handle::open(p) {
                Ok(h) => {
                    if let Some(fd) = h.pidfd() {
                        if epoll::add(
                            &self.epoll,
                            fd,
                            epoll::EventData::new_u64(T_MEMBER | u64::from(pid)),
                            epoll::EventFlags::IN,
                        )
                        .is_ok()
                        {
                            self.pidfds += 1;
                        }
                    }
                    Some(h)
                }
                Err(_) => return false,
            }
        };
        self.members.insert(pid, Member { handle });
        self.had_members = true;
        true
    }

    fn forget(&mut self, pid: u32) -> Option<Member> {
        let m = self.members.remove(&pid)?;
        if let Some(fd) = m.handle.as_ref().and_then(|h| h.pidfd()) {
            if epoll::delete(&self.epoll, fd).is_ok() {
                self.pidfds -= 1;
            }
        }
        Some(m)
    }

    /// A member's pidfd became readable: report its exit with the status the kernel
    /// still has (see `Handle::exit_status`).
    /// The job's cgroup is gone (a kill-on-close guard or the last handle removed it),
    /// which the kernel allows only once it is empty: every member has exited. Reports
    /// the exits still owed and the emptiness (unless already reported), then ends.
    fn job_removed(&mut self) {
        let left: Vec<u32> = self.members.keys().copied().collect();
        for &p in &left {
            self.member_exited(p);
        }
        if self.had_members || !left.is_empty() {
            self.had_members = false;
            self.exited.clear();
            self.lingering.clear();
            self.queue.push_back(JobEvent::JobEmpty);
        }
        self.ended = true;
    }

    fn member_exited(&mut self, pid: u32) {
        let Some(m) = self.forget(pid) else { return };
        let status = m
            .handle
            .as_ref()
            .map_or(ExitStatus::Unknown, |h| h.exit_status());
        if let Some(p) = Pid::new(pid) {
            self.queue.push_back(JobEvent::exit(p, status));
        }
    }

    /// Drains the proc connector: forks of members add members, exits of members are
    /// reported with the status from the event. True if a member exited.
    fn connector(&mut self) -> bool {
        let Some(f) = &mut self.forks else {
            return false;
        };
        let mut exited = false;
        let mut evs = std::mem::take(&mut self.scratch);
        evs.clear();
        f.drain_all(&mut evs);
        for ev in &evs {
            match *ev {
                ProcEvent::Fork { parent, child } => {
                    if self.members.contains_key(&parent) && !self.members.contains_key(&child) {
                        // A reused pid: not the exited leader any more.
                        self.exited.remove(&child);
                        self.lingering.remove(&child);
                        self.add_member(child);
                        if let Some(p) = Pid::new(child) {
                            self.queue.push_back(JobEvent::NewProcess { pid: p });
                        }
                    }
                }
                ProcEvent::Exit { pid, status } => {
                    let known = self.forget(pid).is_some();
                    // A process that joined from outside (spawned into the job) and
                    // exited before any rescan saw it: its zombie still names the job.
                    let unseen = !known && self.shows_job(pid) == Some(true);
                    if unseen {
                        self.had_members = true;
                        if let Some(p) = Pid::new(pid) {
                            self.queue.push_back(JobEvent::NewProcess { pid: p });
                        }
                    }
                    if known || unseen {
                        exited = true;
                        self.exited.insert(pid);
                        if let Some(p) = Pid::new(pid) {
                            self.queue
                                .push_back(JobEvent::exit(p, ExitStatus::from_wait_status(status)));
                        }
                    }
                }
            }
        }
        self.scratch = evs;
        exited
    }
}

/// The v2 memory counters of a job: (`max`, `oom`, `oom_kill`). The limit hits (`max`,
/// `oom`) come from `memory.events.local` where the kernel has it (5.2+): `memory.events`
/// counts them for the whole subtree, so a nested job hitting its own limit would read
/// as this job hitting its limit. The kills come from `memory.events`: every member
/// killed, also inside a nested job (the local file counts only the victims that were in
/// this very cgroup).
fn v2_memory_counters(events: &[u8], local: Option<&[u8]>) -> (u64, u64, u64) {
    let own = local.unwrap_or(events);
    (
        counter(own, b"max"),
        counter(own, b"oom"),
        counter(events, b"oom_kill"),
    )
}

/// v1: whether the memory cgroup `dir` ever reached its own limit (the usage watermark,
/// `max_usage_in_bytes`, at the limit, of memory or of memory + swap). An OOM eventfd
/// signal is this cgroup's own OOM then, not only an enclosing cgroup's (the kernel
/// signals an OOM to the whole subtree).
fn v1_limit_reached(dir: &Path) -> bool {
    let num = |f: &str| {
        read_text(&dir.join(f))
            .ok()
            .and_then(|b| super::parse::parse_u64(super::parse::text::trim(&b)))
    };
    [
        ("memory.max_usage_in_bytes", "memory.limit_in_bytes"),
        (
            "memory.memsw.max_usage_in_bytes",
            "memory.memsw.limit_in_bytes",
        ),
    ]
    .iter()
    .any(|(peak, limit)| match (num(peak), num(limit)) {
        // A limit near PAGE_COUNTER_MAX is no limit.
        (Some(p), Some(l)) => l < 1 << 62 && p >= l,
        _ => false,
    })
}

/// v1: an eventfd the kernel signals when the memory cgroup `dir` runs out of memory
/// (`cgroup.event_control` with `memory.oom_control`).
fn register_oom(dir: &Path) -> Result<Option<(OwnedFd, Notifier)>> {
    let Some(ctl) = Notifier::open(dir.join("memory.oom_control")) else {
        return Ok(None);
    };
    let efd = super::job_notify::eventfd(OP)?;
    let line = format!("{} {}", efd.as_raw_fd(), ctl.fd.as_raw_fd());
    let p = dir.join("cgroup.event_control");
    match std::fs::write(&p, line) {
        Ok(()) => Ok(Some((efd, ctl))),
        // No event_control (cgroup v1 on a kernel built without it): no OOM events.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_limit_hits_are_the_jobs_own() {
        // A nested job hit its limit 4 times and one of its members was OOM-killed; this
        // job hit its own limit once.
        let events = b"low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n";
        let local = b"low 0\nhigh 0\nmax 1\noom 0\noom_kill 0\noom_group_kill 0\n";
        assert_eq!(v2_memory_counters(events, Some(local)), (1, 0, 1));
        // Kernels before 5.2: memory.events only.
        assert_eq!(v2_memory_counters(events, None), (5, 1, 1));
    }
}
