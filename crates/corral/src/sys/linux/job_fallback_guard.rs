//! Kill-on-close for the process-group fallback job ([`job_fallback`](super::job_fallback)):
//! a guard process that kills the job's members when the process that created the job
//! dies — `SIGKILL` included — or `exec`s, or when its last handle is dropped.
//!
//! The fallback job's membership lives in the creating process's memory, so the guard is
//! told it: it is forked as the cgroup guard is ([`job_guard`](super::job_guard): double
//! fork, `setsid`, signals reset, every descriptor closed but a pidfd of the owner and its
//! end of a socket pair, raw async-signal-safe system calls only, no allocation — every
//! buffer and table is made before the fork), and the owner sends it **membership
//! updates** over the socket whenever a scan, a spawn or an `assign` changes them: 16-byte
//! records adding or removing a known member (pid + start time) or a process group the
//! job follows (pgid + the leader's start time), sent in packets (`SOCK_SEQPACKET`) of
//! at most 256 records. The job's marker (`CORRAL_JOB` entry) and creation time are
//! given at the fork. Updates never block the owner (sent non-blocking; what the socket
//! cannot take now is kept, in order, for the next one). A child spawned into the job
//! announces itself ([`announce_self`]: its pid and start time, one packet on a copy of
//! the owner's socket end) in the spawn's pre-`exec` hook, first thing after `fork`:
//! until its `exec` it has no marker, and the owner may die before it learns the pid.
//!
//! When the owner's pidfd becomes readable (it exited, however), or the socket reaches
//! end of file (every copy of the owner's end closed: it exited or `exec`ed), or the owner
//! asks (its last handle's drop, after it terminated the job itself), the guard first
//! reads what is left on the socket, then kills in rounds, each starting with what came
//! on the socket meanwhile and a scan of
//! `/proc` (`getdents64`, then `/proc/PID/stat` of every process) in which a process is
//! a member when
//!
//! 1. it is a known member, or was signalled by an earlier round (same pid and start);
//! 2. its process group is a known one and it started no earlier than that group's
//!    leader (a member that leads a group adds that group);
//! 3. it started after the job was created and its `/proc/PID/environ` carries the
//!    job's marker (read only where the guard may: its creator's user, or any as root);
//! 4. its parent is a member and it started no earlier than that parent.
//!
//! The members of a round are first **stopped** (`SIGSTOP`, repeated with rescans until
//! every member found is stopped, at most ~1 s), so no member forks or loses its parent
//! link while the tree is being taken, then all `SIGKILL`ed. Every signal goes through a
//! pidfd opened first and kept only when `/proc/PID/stat` then still shows the expected
//! start time (by pid, after the same check, before Linux 5.3). Rounds repeat until
//! three scans 50 ms apart find no live member (one when the owner asked, as it has
//! already terminated the job), for at most 30 s; then the guard exits.
//!
//! What it cannot kill: what the owner's own scans would not find either (a process that
//! left its group, cleared its environment and lost its parent before any scan or
//! round), a process of another user whose environment the guard may not read (when it
//! is found by no other rule), and a child spawned into the job that the owner's death
//! caught in the few instructions between its `fork` and its announcement. The tables
//! hold at most 16 384 known members and 4 096
//! groups, and a scan at most 65 536 processes; past that, the extra ones are found only
//! by the marker and parent rules. If the guard itself is killed, the protection is lost.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::job_guard::{self as g, Forked};
use crate::Result;

/// The most known members the guard keeps.
const MAX_MEMBERS: usize = 16 * 1024;
/// The most process groups the guard keeps.
const MAX_GROUPS: usize = 4 * 1024;
/// The most processes one `/proc` scan reads.
const MAX_PROCS: usize = 64 * 1024;
/// The most processes the guard remembers having signalled.
const MAX_DOOMED: usize = 64 * 1024;
/// One update record.
const REC: usize = 16;
/// The most bytes of records the owner sends in one packet.
const PACKET: usize = 256 * REC;
/// The guard's receive buffer (larger than any packet).
const RX_LEN: usize = 1024 * REC;
const DENTS_LEN: usize = 32 * 1024;
const CHUNK: usize = 16 * 1024;
/// How long the guard tries to empty the job.
const KILL_DEADLINE_MS: i64 = 30_000;
/// Scans finding nobody, this far apart, before the guard is done (after the owner died).
const QUIET_SCANS: u32 = 3;
const QUIET_GAP_MS: i64 = 50;
/// How long the last handle's drop waits for the guard's last round (the job is already
/// terminated by then; a guard still busy after that exits on its own).
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// The start of the marker's environment entry.
const MARKER_KEY: &[u8] = b"CORRAL_JOB=";

const ADD_MEMBER: u8 = b'+';
const DEL_MEMBER: u8 = b'-';
const ADD_GROUP: u8 = b'g';
const DEL_GROUP: u8 = b'G';
const KILL: u8 = b'K';

fn record(kind: u8, id: u32, start: u64) -> [u8; REC] {
    let mut r = [0u8; REC];
    r[0] = kind;
    r[4..8].copy_from_slice(&id.to_ne_bytes());
    r[8..16].copy_from_slice(&start.to_ne_bytes());
    r
}

/// The owner's side of a fallback job's guard: what it has told the guard so far.
#[derive(Debug)]
pub(super) struct Link {
    forked: Forked,
    members: BTreeMap<u32, u64>,
    groups: BTreeMap<u32, u64>,
    /// Packets the socket could not take yet (in order).
    pending: VecDeque<Vec<u8>>,
}

impl Link {
    /// Forks the guard of the job tagged `tag` (its `CORRAL_JOB` entry), created at
    /// `since` (boot ticks), with the membership known now.
    pub(super) fn start(
        tag: &str,
        since: u64,
        members: &BTreeMap<u32, u64>,
        groups: &BTreeMap<u32, u64>,
    ) -> Result<Link> {
        let prepare =
            |owner: RawFd, sock: RawFd| Ok(Plan::new(owner, sock, tag, since, members, groups));
        let forked = g::fork_guard(prepare, fallback_guard)?;
        Ok(Link {
            forked,
            members: members.clone(),
            groups: groups.clone(),
            pending: VecDeque::new(),
        })
    }

    /// The guard's pid.
    pub(super) fn pid(&self) -> u32 {
        self.forked.pid
    }

    /// A close-on-exec copy of the socket, for a child spawned into the job to announce
    /// itself with ([`announce_self`]) between its `fork` and its `exec`.
    pub(super) fn socket(&self) -> Option<OwnedFd> {
        self.forked.sock.try_clone().ok()
    }

    /// Tells the guard what changed since the last update; never blocks.
    pub(super) fn sync(&mut self, members: &BTreeMap<u32, u64>, groups: &BTreeMap<u32, u64>) {
        let mut recs = Vec::new();
        diff(
            &mut recs,
            &mut self.members,
            members,
            ADD_MEMBER,
            DEL_MEMBER,
        );
        diff(&mut recs, &mut self.groups, groups, ADD_GROUP, DEL_GROUP);
        self.pending.extend(recs.chunks(PACKET).map(<[u8]>::to_vec));
        while let Some(pkt) = self.pending.front() {
            // SAFETY: send(2) from a live buffer of its length, without blocking or
            // SIGPIPE; a packet goes whole or not at all.
            let n = unsafe {
                libc::send(
                    self.forked.sock.as_raw_fd(),
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                self.pending.pop_front();
                continue;
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // Full: the rest goes with the next update.
                Some(libc::EAGAIN) => break,
                // The guard is gone: nothing will read it.
                _ => {
                    self.pending.clear();
                    break;
                }
            }
        }
    }

    /// Asks the guard to make a last kill round (the caller has terminated the job) and
    /// waits until it has exited.
    pub(super) fn finish(self) {
        let kill = record(KILL, 0, 0);
        let mut msgs: Vec<&[u8]> = self.pending.iter().map(Vec::as_slice).collect();
        msgs.push(&kill);
        self.forked.finish(&msgs, CLOSE_WAIT);
    }
}

/// In a child spawned into a kill-on-close job, between `fork` and `exec`: tells the guard
/// on `sock` "I (pid, start time) am a member" — the child has no marker yet and the
/// owner may die before it learns the pid. Async-signal-safe (raw system calls, a stack
/// buffer); best-effort (a full socket or a dead guard is ignored).
pub(super) fn announce_self(sock: RawFd) {
    let mut buf = [0u8; 1024];
    // SAFETY: getpid(2).
    let pid = unsafe { libc::getpid() };
    let Some((_, _, _, start)) = read_stat(&mut buf, pid) else {
        return;
    };
    let rec = record(ADD_MEMBER, pid as u32, start);
    // SAFETY: send(2) of a stack buffer, without blocking or SIGPIPE.
    unsafe {
        libc::send(
            sock,
            rec.as_ptr().cast(),
            rec.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
}

/// Appends the records that turn `sent` into `now`, and makes `sent` a copy of `now`.
fn diff(
    out: &mut Vec<u8>,
    sent: &mut BTreeMap<u32, u64>,
    now: &BTreeMap<u32, u64>,
    add: u8,
    del: u8,
) {
    if sent == now {
        return;
    }
    for (&id, &st) in now {
        if sent.get(&id) != Some(&st) {
            out.extend_from_slice(&record(add, id, st));
        }
    }
    for &id in sent.keys() {
        if !now.contains_key(&id) {
            out.extend_from_slice(&record(del, id, 0));
        }
    }
    sent.clone_from(now);
}

// ---------------------------------------------------------------------------------------
// The guard process: raw system calls on the plan's own memory only. Nothing below
// allocates, locks, formats or panics (slicing is bounded by lengths checked on the spot;
// sorting is in place).
// ---------------------------------------------------------------------------------------

/// What a scan reads of one process.
#[derive(Debug, Clone, Copy, Default)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    start: u64,
    state: u8,
    member: bool,
}

impl Proc {
    fn dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
    fn stopped(&self) -> bool {
        matches!(self.state, b'T' | b't')
    }
}

/// Everything the guard uses, made before the fork.
struct Plan {
    owner: RawFd,
    sock: RawFd,
    owner_pid: i32,
    tag: Vec<u8>,
    since: u64,
    /// Known members (pid, start), `n_members` used.
    members: Vec<(i32, u64)>,
    n_members: usize,
    /// Known groups (pgid, leader's start).
    groups: Vec<(i32, u64)>,
    n_groups: usize,
    /// Processes signalled by a round (pid, start).
    doomed: Vec<(i32, u64)>,
    n_doomed: usize,
    rx: Vec<u8>,
    procs: Vec<Proc>,
    n_procs: usize,
    dents: Vec<u8>,
    /// For `stat` and `environ` reads.
    buf: Vec<u8>,
}

impl Plan {
    fn new(
        owner: RawFd,
        sock: RawFd,
        tag: &str,
        since: u64,
        members: &BTreeMap<u32, u64>,
        groups: &BTreeMap<u32, u64>,
    ) -> Plan {
        let mut p = Plan {
            owner,
            sock,
            owner_pid: std::process::id() as i32,
            tag: tag.as_bytes().to_vec(),
            since,
            members: vec![(0, 0); MAX_MEMBERS],
            n_members: 0,
            groups: vec![(0, 0); MAX_GROUPS],
            n_groups: 0,
            doomed: vec![(0, 0); MAX_DOOMED],
            n_doomed: 0,
            rx: vec![0; RX_LEN],
            procs: vec![Proc::default(); MAX_PROCS],
            n_procs: 0,
            dents: vec![0; DENTS_LEN],
            buf: vec![0; CHUNK],
        };
        for (&pid, &st) in members {
            add(&mut p.members, &mut p.n_members, pid as i32, st);
        }
        for (&pgid, &st) in groups {
            add(&mut p.groups, &mut p.n_groups, pgid as i32, st);
        }
        p
    }

    /// Whether the last scan found `pid` a live member.
    #[cfg(test)]
    fn found(&self, pid: i32) -> bool {
        self.procs[..self.n_procs]
            .iter()
            .any(|q| q.pid == pid && q.member && !q.dead())
    }
}

/// Sets `id`'s start in a table (adds it if there is room).
fn add(tab: &mut [(i32, u64)], n: &mut usize, id: i32, start: u64) {
    if let Some(e) = tab[..*n].iter_mut().find(|e| e.0 == id) {
        e.1 = start;
    } else if *n < tab.len() {
        tab[*n] = (id, start);
        *n += 1;
    }
}

fn remove(tab: &mut [(i32, u64)], n: &mut usize, id: i32) {
    if let Some(i) = tab[..*n].iter().position(|e| e.0 == id) {
        tab[i] = tab[*n - 1];
        *n -= 1;
    }
}

/// The start of `id` in a table sorted by id.
fn lookup(tab: &[(i32, u64)], id: i32) -> Option<u64> {
    tab.binary_search_by_key(&id, |e| e.0)
        .ok()
        .map(|i| tab[i].1)
}

/// What the guard was asked.
enum Asked {
    Nothing,
    Kill,
    Eof,
}

/// Reads every packet waiting on the socket (without blocking) and applies its records.
fn drain(p: &mut Plan) -> Asked {
    let mut asked = Asked::Nothing;
    loop {
        // SAFETY: recv(2) of one packet into our own buffer.
        let n = unsafe { libc::recv(p.sock, p.rx.as_mut_ptr().cast(), RX_LEN, libc::MSG_DONTWAIT) };
        if n < 0 {
            if g::errno() == libc::EINTR {
                continue;
            }
            // EAGAIN: all read. Any other error: the socket is of no more use.
            if g::errno() != libc::EAGAIN && g::errno() != libc::EWOULDBLOCK {
                return Asked::Eof;
            }
            return asked;
        }
        if n == 0 {
            return Asked::Eof;
        }
        let whole = (n as usize).min(RX_LEN) / REC * REC;
        let mut at = 0;
        while at < whole {
            let r = &p.rx[at..at + REC];
            let id = i32::from_ne_bytes([r[4], r[5], r[6], r[7]]);
            let st = u64::from_ne_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]);
            match r[0] {
                ADD_MEMBER => add(&mut p.members, &mut p.n_members, id, st),
                DEL_MEMBER => remove(&mut p.members, &mut p.n_members, id),
                ADD_GROUP => add(&mut p.groups, &mut p.n_groups, id, st),
                DEL_GROUP => remove(&mut p.groups, &mut p.n_groups, id),
                KILL => asked = Asked::Kill,
                _ => {}
            }
            at += REC;
        }
    }
}

/// The fallback guard's life: apply updates until the owner goes (or asks), kill, exit.
///
/// # Safety
///
/// Only in the guard process (after its set-up).
unsafe fn fallback_guard(p: &mut Plan) -> ! {
    let quiet = loop {
        // SAFETY: poll on our own descriptors.
        let owner_gone = unsafe { g::wait_owner_or_sock(p.owner, p.sock) };
        match drain(p) {
            Asked::Kill => break 1,
            Asked::Eof => break QUIET_SCANS,
            Asked::Nothing if owner_gone => break QUIET_SCANS,
            Asked::Nothing => {}
        }
    };
    kill_all(p, quiet);
    // SAFETY: _exit(2).
    unsafe { libc::_exit(0) }
}

/// Writes `/proc/<pid>/<leaf>` and a NUL into `out`.
fn proc_path(out: &mut [u8; 64], pid: i32, leaf: &[u8]) {
    let mut at = 0;
    for &c in b"/proc/" {
        out[at] = c;
        at += 1;
    }
    let mut digits = [0u8; 12];
    let mut n = 0;
    let mut v = pid.max(0) as u32;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        out[at] = digits[n];
        at += 1;
    }
    out[at] = b'/';
    at += 1;
    for &c in leaf.iter().take(out.len() - at - 1) {
        out[at] = c;
        at += 1;
    }
    out[at] = 0;
}

fn open_proc(pid: i32, leaf: &[u8]) -> i32 {
    let mut path = [0u8; 64];
    proc_path(&mut path, pid, leaf);
    // SAFETY: open(2) of a NUL-terminated path on the stack.
    unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) }
}

/// Parses a `stat` line: (state, ppid, pgrp, start).
fn parse_stat(buf: &[u8]) -> Option<(u8, i32, i32, u64)> {
    let close = buf.iter().rposition(|&c| c == b')')?;
    let rest = buf.get(close + 2..)?;
    let (mut state, mut ppid, mut pgrp) = (0u8, 0i64, 0i64);
    let mut field = 0;
    let mut num: u64 = 0;
    let mut neg = false;
    for &c in rest.iter().chain(b" ".iter()) {
        if c == b' ' || c == b'\n' {
            match field {
                1 => {
                    ppid = if neg {
                        (num as i64).wrapping_neg()
                    } else {
                        num as i64
                    }
                }
                2 => {
                    pgrp = if neg {
                        (num as i64).wrapping_neg()
                    } else {
                        num as i64
                    }
                }
                19 => return Some((state, ppid as i32, pgrp as i32, num)),
                _ => {}
            }
            field += 1;
            num = 0;
            neg = false;
            continue;
        }
        if field == 0 {
            state = c;
        } else if c == b'-' {
            neg = true;
        } else if c.is_ascii_digit() {
            num = num.saturating_mul(10).saturating_add((c - b'0') as u64);
        }
    }
    None
}

/// Reads `/proc/<pid>/stat`: (state, ppid, pgrp, start).
fn read_stat(buf: &mut [u8], pid: i32) -> Option<(u8, i32, i32, u64)> {
    let fd = open_proc(pid, b"stat");
    if fd < 0 {
        return None;
    }
    let n = g::pread_all(fd, buf);
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    parse_stat(&buf[..n?])
}

/// Whether `/proc/<pid>/environ` has a `CORRAL_JOB` entry naming `tag` (read in chunks,
/// matched as it streams by).
fn environ_marked(buf: &mut [u8], tag: &[u8], pid: i32) -> bool {
    let fd = open_proc(pid, b"environ");
    if fd < 0 {
        return false;
    }
    const NO: usize = usize::MAX;
    // Bytes of the key matched (NO: not this entry), then of the tag in this token.
    let (mut key, mut tok, mut in_value) = (0usize, 0usize, false);
    let mut found = false;
    'read: loop {
        // SAFETY: read(2) into our own buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && g::errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        for &c in &buf[..n as usize] {
            if in_value {
                if c == b':' || c == 0 {
                    if tok == tag.len() {
                        found = true;
                        break 'read;
                    }
                    tok = 0;
                    if c == 0 {
                        in_value = false;
                        key = 0;
                    }
                } else if tok != NO {
                    tok = if tok < tag.len() && tag[tok] == c {
                        tok + 1
                    } else {
                        NO
                    };
                }
            } else if c == 0 {
                key = 0;
            } else if key != NO {
                if key < MARKER_KEY.len() && MARKER_KEY[key] == c {
                    key += 1;
                    if key == MARKER_KEY.len() {
                        in_value = true;
                        tok = 0;
                    }
                } else {
                    key = NO;
                }
            }
        }
    }
    if in_value && tok == tag.len() {
        found = true;
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    found
}

/// Reads every process's `stat` into `p.procs` (sorted by pid); false when `/proc`
/// cannot be listed.
fn snapshot(p: &mut Plan) -> bool {
    // SAFETY: open(2) of a static path.
    let dir = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return false;
    }
    // SAFETY: getpid(2).
    let me = unsafe { libc::getpid() };
    p.n_procs = 0;
    'list: loop {
        // SAFETY: getdents64 into our own buffer.
        let n =
            unsafe { libc::syscall(libc::SYS_getdents64, dir, p.dents.as_mut_ptr(), DENTS_LEN) };
        if n <= 0 {
            break;
        }
        let end = n as usize;
        let mut at = 0;
        while at + 19 < end {
            // struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name.
            let reclen = u16::from_ne_bytes([p.dents[at + 16], p.dents[at + 17]]) as usize;
            if reclen < 20 || at + reclen > end {
                break;
            }
            let mut pid: i64 = 0;
            let mut ok = true;
            let mut len = 0;
            for &c in &p.dents[at + 19..at + reclen] {
                if c == 0 {
                    break;
                }
                if !c.is_ascii_digit() || pid > i32::MAX as i64 / 10 {
                    ok = false;
                    break;
                }
                pid = pid * 10 + (c - b'0') as i64;
                len += 1;
            }
            at += reclen;
            let pid = pid as i32;
            if !ok || len == 0 || pid == me || pid == p.owner_pid {
                continue;
            }
            if p.n_procs == MAX_PROCS {
                break 'list;
            }
            if let Some((state, ppid, pgrp, start)) = read_stat(&mut p.buf, pid) {
                p.procs[p.n_procs] = Proc {
                    pid,
                    ppid,
                    pgrp,
                    start,
                    state,
                    member: false,
                };
                p.n_procs += 1;
            }
        }
    }
    // SAFETY: closing the directory opened above.
    unsafe { libc::close(dir) };
    p.procs[..p.n_procs].sort_unstable_by_key(|q| q.pid);
    true
}

/// Scans `/proc` and marks the members (see the module docs); every member found is
/// remembered as doomed. Returns (live members, live members not stopped).
fn scan(p: &mut Plan) -> (usize, usize) {
    if !snapshot(p) {
        return (0, 0);
    }
    p.members[..p.n_members].sort_unstable_by_key(|e| e.0);
    p.groups[..p.n_groups].sort_unstable_by_key(|e| e.0);
    p.doomed[..p.n_doomed].sort_unstable_by_key(|e| e.0);
    let n = p.n_procs;
    let mut round = 0;
    loop {
        for i in 0..n {
            let q = p.procs[i];
            if q.member || q.dead() {
                continue;
            }
            let known = lookup(&p.members[..p.n_members], q.pid) == Some(q.start)
                || lookup(&p.doomed[..p.n_doomed], q.pid) == Some(q.start);
            let grouped = lookup(&p.groups[..p.n_groups], q.pgrp).is_some_and(|ls| q.start >= ls);
            let marked = !known
                && !grouped
                && round == 0
                && q.start >= p.since
                && environ_marked(&mut p.buf, &p.tag, q.pid);
            if known || grouped || marked {
                p.procs[i].member = true;
            }
        }
        // Descendants of members (parents before children is not guaranteed by pid
        // order: repeat until nothing changes).
        loop {
            let mut changed = false;
            for i in 0..n {
                let q = p.procs[i];
                if q.member || q.dead() {
                    continue;
                }
                let parent = p.procs[..n]
                    .binary_search_by_key(&q.ppid, |x| x.pid)
                    .ok()
                    .map(|j| p.procs[j]);
                if parent.is_some_and(|pp| pp.member && q.start >= pp.start) {
                    p.procs[i].member = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Groups led by members.
        let before = p.n_groups;
        for i in 0..n {
            let q = p.procs[i];
            if q.member
                && !q.dead()
                && q.pgrp == q.pid
                && lookup(&p.groups[..p.n_groups], q.pid).is_none()
            {
                if p.n_groups < MAX_GROUPS {
                    p.groups[p.n_groups] = (q.pid, q.start);
                    p.n_groups += 1;
                }
                p.groups[..p.n_groups].sort_unstable_by_key(|e| e.0);
            }
        }
        round += 1;
        if p.n_groups == before || round >= 8 {
            break;
        }
    }
    let (mut live, mut running) = (0, 0);
    for i in 0..n {
        let q = p.procs[i];
        if !q.member || q.dead() {
            continue;
        }
        live += 1;
        if !q.stopped() {
            running += 1;
        }
        if lookup(&p.doomed[..p.n_doomed], q.pid) != Some(q.start) {
            add(&mut p.doomed, &mut p.n_doomed, q.pid, q.start);
            p.doomed[..p.n_doomed].sort_unstable_by_key(|e| e.0);
        }
    }
    (live, running)
}

/// Sends `sig` to `pid` if it is still the process that started at `start`: through a
/// pidfd opened before the check (so the pid cannot be reused in between), else (no
/// pidfds) by pid right after it.
fn signal(buf: &mut [u8], pid: i32, start: u64, sig: i32) {
    // SAFETY: pidfd_open(2) on integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) } as i32;
    if fd < 0 && g::errno() != libc::ENOSYS {
        return;
    }
    let same = matches!(read_stat(buf, pid), Some((st, _, _, s)) if s == start
        && !matches!(st, b'Z' | b'X' | b'x'));
    if same {
        // SAFETY: signalling through our pidfd, or by pid where pidfds do not exist.
        unsafe {
            if fd >= 0 {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd,
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                );
            } else {
                libc::kill(pid, sig);
            }
        }
    }
    if fd >= 0 {
        // SAFETY: closing the pidfd opened above.
        unsafe { libc::close(fd) };
    }
}

/// Signals every live member of the last scan (only the running ones for `SIGSTOP`).
fn signal_members(p: &mut Plan, sig: i32) {
    for i in 0..p.n_procs {
        let q = p.procs[i];
        if !q.member || q.dead() || (sig == libc::SIGSTOP && q.stopped()) {
            continue;
        }
        signal(&mut p.buf, q.pid, q.start, sig);
    }
}

/// Kills the job in rounds until `quiet` scans in a row find nobody (or the deadline).
fn kill_all(p: &mut Plan, quiet: u32) {
    let deadline = g::now_ms() + KILL_DEADLINE_MS;
    let mut empty = 0;
    loop {
        // Late news: a child spawned into the job announcing itself (or the owner's
        // last updates, when it is still alive and asked).
        drain(p);
        let (live, mut running) = scan(p);
        if live == 0 {
            empty += 1;
            if empty >= quiet || g::now_ms() >= deadline {
                return;
            }
            g::sleep_ms(QUIET_GAP_MS);
            continue;
        }
        empty = 0;
        // Hold the tree still: stop every member, rescan (children forked meanwhile
        // keep their stopped parent, so the link finds them), until all are stopped.
        let mut nap = 1;
        let mut tries = 0;
        while running > 0 && tries < 50 {
            signal_members(p, libc::SIGSTOP);
            g::sleep_ms(nap);
            nap = (nap * 2).min(20);
            running = scan(p).1;
            tries += 1;
        }
        signal_members(p, libc::SIGKILL);
        if g::now_ms() >= deadline {
            return;
        }
        g::sleep_ms(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let line = b"42 (a) b) c) S 7 42 42 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 12345 1000 \
                     10 18446744073709551615\n";
        assert_eq!(parse_stat(line), Some((b'S', 7, 42, 12345)));
        assert_eq!(parse_stat(b"1 (x) S 0 1"), None);
        let mut path = [0u8; 64];
        proc_path(&mut path, 4_194_304, b"environ");
        assert_eq!(&path[..22], b"/proc/4194304/environ\0");
    }

    #[test]
    fn environ_of_this_process() {
        // This test process has no marker; a child of it gets one.
        let mut buf = vec![0u8; 7]; // small chunks: entries straddle reads
        let me = std::process::id() as i32;
        assert!(!environ_marked(&mut buf, b"job@1.2.3", me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .env("CORRAL_JOB", "outer@9.9.9:job@1.2.3")
            .env("X", "CORRAL_JOB=other@1")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let ok = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            environ_marked(&mut buf, b"job@1.2.3", pid)
        });
        let outer = environ_marked(&mut buf, b"outer@9.9.9", pid);
        let partial = environ_marked(&mut buf, b"job@1.2", pid);
        let other = environ_marked(&mut buf, b"other@1", pid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(ok && outer);
        assert!(!partial && !other);
    }

    /// A `sh` in a process group of its own, with a cleared environment (no marker), and
    /// its child `sleep`; (sh pid, sleep pid), once the child runs.
    fn group_tree(r: &mut Vec<std::process::Child>) -> (i32, i32) {
        use std::os::unix::process::CommandExt;
        let sh = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .env_clear()
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = sh.id() as i32;
        r.push(sh);
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(r.last_mut().unwrap().stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        (pid, line.trim().parse().unwrap())
    }

    fn start_of(pid: i32) -> u64 {
        read_stat(&mut [0u8; 1024], pid).unwrap().3
    }

    /// The scan rules on real processes, without forking a guard: a known group takes
    /// in its members, a known member its children; neither: nobody; a signal whose start
    /// time does not match is not sent.
    #[test]
    fn scan_rules_on_real_processes() {
        let mut kids = Vec::new();
        let (sh, sleep) = group_tree(&mut kids);
        let (sh_st, sleep_st) = (start_of(sh), start_of(sleep));
        let none = BTreeMap::new();
        let tag = "t@1.2.3";
        // By the group (leader's start time): both.
        let mut p = Plan::new(-1, -1, tag, 0, &none, &BTreeMap::from([(sh as u32, sh_st)]));
        assert_eq!(scan(&mut p), (2, 2));
        assert!(p.found(sh) && p.found(sleep));
        // A group whose recorded leader started later (the id reused): nobody.
        let later = BTreeMap::from([(sh as u32, sleep_st + 1_000_000)]);
        let mut p = Plan::new(-1, -1, tag, 0, &none, &later);
        assert_eq!(scan(&mut p).0, 0);
        // By the known member: it, its group (it leads one), its child.
        let mut p = Plan::new(-1, -1, tag, 0, &BTreeMap::from([(sh as u32, sh_st)]), &none);
        assert_eq!(scan(&mut p).0, 2);
        assert!(p.found(sleep));
        // A known pid with another start time: not the same process.
        let wrong = BTreeMap::from([(sh as u32, sh_st + 1)]);
        let mut p = Plan::new(-1, -1, tag, 0, &wrong, &none);
        assert_eq!(scan(&mut p).0, 0);
        // Signals check the start time first.
        let mut buf = [0u8; 1024];
        signal(&mut buf, sleep, sleep_st + 1, libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            start_of(sleep),
            sleep_st,
            "signalled despite the wrong start time"
        );
        signal(&mut buf, sleep, sleep_st, libc::SIGKILL);
        signal(&mut buf, sh, sh_st, libc::SIGKILL);
        for mut k in kids {
            let st = k.wait().unwrap();
            assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
        }
    }

    /// A forked child announces itself; the guard side reads it as a known member.
    #[test]
    fn a_child_announces_itself_before_exec() {
        let mut sv = [-1; 2];
        // SAFETY: socketpair(2) into a two-element array.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0);
        // SAFETY: fork(2); the child only makes raw system calls and `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            announce_self(sv[1]);
            // SAFETY: _exit(2) in the child.
            unsafe { libc::_exit(0) };
        }
        assert!(pid > 0);
        let none = BTreeMap::new();
        let mut p = Plan::new(-1, sv[0], "t@1", 0, &none, &none);
        let mut pfd = libc::pollfd {
            fd: sv[0],
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one stack pollfd.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1);
        assert!(matches!(drain(&mut p), Asked::Nothing));
        // Still there to read (a zombie at least): the start time it sent is its own.
        let start = start_of(pid);
        let mut st = 0;
        // SAFETY: waitpid on our own child; closing our descriptors.
        unsafe {
            libc::waitpid(pid, &mut st, 0);
            libc::close(sv[0]);
            libc::close(sv[1]);
        }
        assert_eq!(&p.members[..p.n_members], &[(pid, start)]);
    }

    #[test]
    fn diffs() {
        let mut out = Vec::new();
        let mut sent = BTreeMap::from([(1, 10), (2, 20)]);
        let now = BTreeMap::from([(2, 21), (3, 30)]);
        diff(&mut out, &mut sent, &now, ADD_MEMBER, DEL_MEMBER);
        assert_eq!(sent, now);
        assert_eq!(out.len(), 3 * REC);
        assert_eq!(&out[..REC], &record(ADD_MEMBER, 2, 21));
        assert_eq!(&out[REC..2 * REC], &record(ADD_MEMBER, 3, 30));
        assert_eq!(&out[2 * REC..], &record(DEL_MEMBER, 1, 0));
    }
}
