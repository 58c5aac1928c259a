//! Jobs on Linux: one cgroup per hierarchy, `corral-<name>` below the caller's own.
//!
//! Discovery reads `/proc/self/mountinfo` (where each hierarchy is mounted, and which of
//! its cgroups is mounted there) and `/proc/self/cgroup` (the caller's cgroup in each), so
//! nothing assumes `/sys/fs/cgroup`. A job uses the v2 hierarchy when one is mounted and
//! the caller may create cgroups in it, and every writable v1 hierarchy that carries one
//! of [`V1_USED`]. Everything created is a direct child of the caller's own cgroup.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};

use super::parse::cgroup as cgroup_parse;
use super::parse::mountinfo::{self, CgroupMount};
use super::proc::{read_all, read_path};
use super::Handle;
use crate::info::CgroupMembership;
use crate::job::{Capabilities, JOB_PREFIX};
use crate::{Error, ErrorKind, Pid, Result};

#[path = "cgroup_limits.rs"]
mod limits;
pub(crate) use limits::{limit_support, list_all_jobs, list_jobs, JobView};

/// The v1 controllers every job joins (freezing, limits, accounting); `cpu` and `cpuset`
/// are joined only when a limit needs them (`limits::V1_ON_DEMAND`).
pub(crate) const V1_USED: &[&str] = &["freezer", "pids", "memory", "cpuacct", "blkio"];

/// How long `freeze` waits for the kernel to report the job frozen.
const FREEZE_WAIT: Duration = Duration::from_secs(30);

/// One mounted hierarchy and the caller's cgroup in it.
#[derive(Debug, Clone)]
struct Hierarchy {
    v2: bool,
    controllers: Vec<String>,
    /// The caller's cgroup as `/proc/self/cgroup` names it.
    own_cg: String,
    /// The caller's cgroup's directory.
    own_dir: PathBuf,
    read_only: bool,
}

/// How well a hierarchy answers "who is in the job" (lowest first): v2, then the v1
/// freezer, then v1 pids, then any other.
fn primary_rank(v2: bool, controllers: &[String]) -> u8 {
    let has = |c: &str| controllers.iter().any(|x| x == c);
    if v2 {
        0
    } else if has("freezer") {
        1
    } else if has("pids") {
        2
    } else {
        3
    }
}

/// The primary of a job's cgroups: the lowest [`primary_rank`], the first of equals.
fn primary_of(dirs: &[Dir]) -> Option<&Dir> {
    dirs.iter()
        .min_by_key(|d| primary_rank(d.v2, &d.controllers))
}

/// One cgroup of a job.
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    pub(crate) v2: bool,
    pub(crate) controllers: Vec<String>,
    /// The job's cgroup as `/proc/PID/cgroup` names it.
    pub(crate) cg: String,
    pub(crate) path: PathBuf,
}

/// A job: its cgroups, v2 first.
#[derive(Debug)]
pub(crate) struct Job {
    name: String,
    dirs: Vec<Dir>,
    /// Testing: behave as on a kernel without `cgroup.kill`.
    no_kill: bool,
    /// The primary cgroup directory, open and shared-locked (`flock(LOCK_SH)`) for as
    /// long as this handle lives: the job's handle count, across processes. A drop
    /// removes the (empty) job only when it can then take the lock exclusively — no
    /// other handle is open — as Windows deletes a job with its last handle. `None` for
    /// views and when the directory could not be opened.
    lock: Option<OwnedFd>,
}

/// What `Command::job` needs: the `cgroup.procs` files the child writes itself into, or
/// the process-group job it is recorded in.
#[derive(Debug, Clone)]
pub(crate) struct JobSpawn {
    pub(crate) procs: Vec<PathBuf>,
    /// The cgroup v2 directory among them: a child can be born there (`CLONE_INTO_CGROUP`)
    /// instead of writing itself into its `cgroup.procs`.
    pub(crate) v2_dir: Option<PathBuf>,
    pub(crate) fallback: Option<std::sync::Arc<super::job_fallback::Shared>>,
}

fn io_err(op: &'static str, path: &Path, e: io::Error) -> Error {
    let d = format!("{}", path.display());
    Error::from_io(op, e).with_detail(d)
}

fn discover() -> Result<Vec<Hierarchy>> {
    let op = "discover cgroups";
    let mut buf = Vec::new();
    read_path("/proc/self/mountinfo", &mut buf)
        .map_err(|e| Error::from_io(op, e).with_detail("/proc/self/mountinfo"))?;
    let mounts = mountinfo::parse_cgroup_mounts(&buf).ok_or_else(|| {
        Error::new(ErrorKind::Parse, op).with_detail("malformed /proc/self/mountinfo")
    })?;
    read_path("/proc/self/cgroup", &mut buf)
        .map_err(|e| Error::from_io(op, e).with_detail("/proc/self/cgroup"))?;
    let own = cgroup_parse::parse(&buf).ok_or_else(|| {
        Error::new(ErrorKind::Parse, op).with_detail("malformed /proc/self/cgroup")
    })?;
    Ok(match_hierarchies(&mounts, &own))
}

/// Pairs each mount with the caller's cgroup in its hierarchy; mounts of another part of
/// the hierarchy (a root that is not a prefix of the caller's cgroup) are left out, and
/// only the first usable mount of each hierarchy is kept.
fn match_hierarchies(mounts: &[CgroupMount], own: &[CgroupMembership]) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for m in mounts {
        let line = own.iter().find(|l| {
            if m.v2 {
                l.hierarchy == 0 && l.controllers.is_empty()
            } else {
                let mut a = l.controllers.clone();
                let mut b = m.controllers.clone();
                a.sort();
                b.sort();
                !a.is_empty() && a == b
            }
        });
        let Some(line) = line else { continue };
        let root = m.root.trim_end_matches('/');
        let Some(rest) = line.path.strip_prefix(root) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            continue;
        }
        let own_dir = PathBuf::from(format!("{}{}", m.mount_point.trim_end_matches('/'), rest));
        if out
            .iter()
            .any(|h| h.v2 == m.v2 && h.controllers == m.controllers)
        {
            continue;
        }
        out.push(Hierarchy {
            v2: m.v2,
            controllers: m.controllers.clone(),
            own_cg: line.path.clone(),
            own_dir,
            read_only: m.read_only,
        });
    }
    // v2 first: it is the one that answers membership, kill, freeze and events.
    out.sort_by_key(|h| !h.v2);
    out
}

fn used(h: &Hierarchy) -> bool {
    h.v2 || h.controllers.iter().any(|c| V1_USED.contains(&c.as_str()))
}

fn child_cg(own: &str, dir_name: &str) -> String {
    if own.ends_with('/') {
        format!("{own}{dir_name}")
    } else {
        format!("{own}/{dir_name}")
    }
}

fn dir_of(h: &Hierarchy, dir_name: &str) -> Dir {
    Dir {
        v2: h.v2,
        controllers: h.controllers.clone(),
        cg: child_cg(&h.own_cg, dir_name),
        path: h.own_dir.join(dir_name),
    }
}

/// The cgroup named `dir_name` that the caller's own cgroup in `h` is in (itself or its
/// innermost such ancestor), if any.
fn enclosing(h: &Hierarchy, dir_name: &str) -> Option<Dir> {
    let comps: Vec<&str> = h.own_cg.split('/').collect();
    let pos = comps.iter().rposition(|c| *c == dir_name)?;
    let mut path = h.own_dir.clone();
    for _ in 0..comps.len() - 1 - pos {
        path.pop();
    }
    Some(Dir {
        v2: h.v2,
        controllers: h.controllers.clone(),
        cg: comps[..=pos].join("/"),
        path,
    })
}

/// The jobs nested inside the jobs below `own_dir`: paths relative to it
/// (`corral-outer/corral-inner`), each made of `corral-*` components only, two or more,
/// at most `MAX_NESTING` deep. A job's own sub-cgroups are only nested jobs, so the walk
/// follows `corral-*` directories alone.
pub(crate) fn nested_jobs(own_dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
        if rel.components().count() == MAX_NESTING {
            return;
        }
        let Ok(rd) = std::fs::read_dir(base.join(rel)) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let is_job = name
                .to_str()
                .is_some_and(|n| n.len() > JOB_PREFIX.len() && n.starts_with(JOB_PREFIX));
            if is_job && e.file_type().is_ok_and(|t| t.is_dir()) {
                let r = rel.join(&name);
                if !rel.as_os_str().is_empty() {
                    out.push(r.clone());
                }
                walk(base, &r, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(own_dir, Path::new(""), &mut out);
    out
}

/// The job `dir_name` nested inside a job below the caller's cgroup in `h`: `Ok(None)`
/// when there is none, an error naming them when several jobs hold one of that name.
fn nested_dir(h: &Hierarchy, dir_name: &str) -> Result<Option<Dir>> {
    let found: Vec<PathBuf> = nested_jobs(&h.own_dir)
        .into_iter()
        .filter(|r| r.file_name().is_some_and(|n| n == dir_name))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [rel] => Ok(Some(Dir {
            v2: h.v2,
            controllers: h.controllers.clone(),
            cg: child_cg(&h.own_cg, &rel.to_string_lossy()),
            path: h.own_dir.join(rel),
        })),
        many => Err(
            Error::new(ErrorKind::InvalidInput, "open job").with_detail(format!(
                "{} jobs hold a job named {}: {}",
                many.len(),
                &dir_name[JOB_PREFIX.len()..],
                many.iter()
                    .map(|r| h.own_dir.join(r).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ),
    }
}

fn is_permission(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
    )
}

fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(data)
}

pub(crate) fn read_text(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    read_all(fd.as_fd(), &mut buf)?;
    Ok(buf)
}

/// v1 cpuset: a new cgroup has empty `cpus`/`mems` and admits no process until they are
/// set; copy the parent's.
fn init_cpuset(parent: &Path, child: &Path) -> io::Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let v = read_text(&parent.join(f))?;
        write_file(&child.join(f), &v)?;
    }
    Ok(())
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{n}-{nanos:x}", std::process::id())
}

/// The deepest cgroup below a job whose members count as the job's.
const MAX_NESTING: usize = 32;

/// The pids in the cgroup `dir` and in every cgroup below it: the members of nested jobs
/// are the outer job's too (Windows: a process in a nested job is in every job of the
/// chain). Sorted. A cgroup below `dir` removed during the walk is skipped; `dir`'s own
/// `cgroup.procs` must be readable.
pub(crate) fn pids_below(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = parse_pids(&read_text(&dir.join("cgroup.procs"))?);
    for d in cgroups_below(dir) {
        if let Ok(b) = read_text(&d.join("cgroup.procs")) {
            out.extend(parse_pids(&b));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The cgroup directories below `dir` (not `dir` itself), each listed after the ones
/// below it, at most `MAX_NESTING` levels down. A directory that cannot be listed (removed
/// meanwhile) contributes nothing below it.
fn cgroups_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if depth == MAX_NESTING {
            return;
        }
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let p = e.path();
                walk(&p, depth + 1, out);
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out
}

pub(crate) fn parse_pids(buf: &[u8]) -> Vec<u32> {
    super::parse::text::lines(buf)
        .filter_map(super::parse::parse_u64)
        .filter_map(|n| u32::try_from(n).ok())
        .collect()
}

/// Finds `key value` in a `cgroup.events` file.
pub(crate) fn event_value<'a>(buf: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    super::parse::text::lines(buf).find_map(|l| {
        let mut it = l.splitn(2, |&c| c == b' ');
        (it.next()? == key).then(|| it.next()).flatten()
    })
}

pub(crate) fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// The longest single poll on `cgroup.events` (see [`wait_event`]).
const MAX_EVENT_WAIT: Duration = Duration::from_secs(1);

/// Waits until `cgroup.events` of `dir` says `key want`: reads, then `poll`s for
/// `POLLPRI` (kernfs signals every change of the file that way), rereads.
fn wait_event(
    dir: &Path,
    key: &[u8],
    want: &[u8],
    timeout: Option<Duration>,
    op: &'static str,
) -> Result<()> {
    let path = dir.join("cgroup.events");
    let fd: OwnedFd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| io_err(op, &path, e.into()))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut buf = Vec::with_capacity(256);
    loop {
        let read = rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0))
            .map_err(io::Error::from)
            .and_then(|_| read_all(fd.as_fd(), &mut buf));
        match read {
            Ok(()) if event_value(&buf, key) == Some(want) => return Ok(()),
            Ok(()) => {}
            // Removed meanwhile (by another handle's drop or a guard): only an empty
            // cgroup can be removed.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) && key == b"populated" => {
                return if want == b"0" {
                    Ok(())
                } else {
                    Err(io_err(op, &path, e))
                };
            }
            Err(e) => return Err(io_err(op, &path, e)),
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(Error::new(ErrorKind::Timeout, op).with_detail(format!(
                "{} never said {} {}",
                path.display(),
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(want)
            )));
        }
        // The kernel rate-limits these notifications through a timer that removing the
        // cgroup cancels: a change made just before another process removes the cgroup
        // may never be signalled, and poll does not wake on removal. So no single wait
        // is longer than a second; the state is reread after it either way.
        let slice = left.map_or(MAX_EVENT_WAIT, |l| l.min(MAX_EVENT_WAIT));
        let ts = Some(timespec(slice));
        let mut fds = [PollFd::new(&fd, PollFlags::PRI)];
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(io_err(op, &path, e.into())),
        }
    }
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uname = rustix::system::uname();
    let rel = uname.release().to_string_lossy();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let maj: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let min: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (maj, min) >= (major, minor)
}

/// Whether a cgroup can be made in `dir` — asked the way [`Job::try_create`] makes one, so
/// the answer and `create` cannot disagree.
///
/// Permission bits are checked first as `mkdir` does (write *and* search, with the
/// effective ids and capabilities: `faccessat(AT_EACCESS)`, not `access`, which uses the
/// real ids); when they allow it, a probe directory `corral.probe.<pid>.<n>` (never a
/// job's `corral-` name) is made and removed at once, so what only `mkdir` says — `EROFS`
/// on a read-only mount, a security module's refusal, a cgroup limit such as
/// `cgroup.max.descendants` — counts too.
fn writable(dir: &Path) -> bool {
    use rustix::fs::{Access, AtFlags, CWD};
    if rustix::fs::accessat(
        CWD,
        dir,
        Access::WRITE_OK | Access::EXEC_OK,
        AtFlags::EACCESS,
    )
    .is_err()
    {
        return false;
    }
    static N: AtomicU32 = AtomicU32::new(0);
    let probe = dir.join(format!(
        "corral.probe.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    match std::fs::create_dir(&probe) {
        Ok(()) => {
            remove_dir_retrying(&probe);
            true
        }
        // Left by a probe of a process with this pid that died in between: still a yes.
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            remove_dir_retrying(&probe);
            true
        }
        Err(_) => false,
    }
}

/// `rmdir`, retried briefly while the kernel still reports the (empty) cgroup busy.
fn remove_dir_retrying(dir: &Path) {
    for _ in 0..50 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(2))
            }
            _ => return,
        }
    }
}

/// What this machine offers jobs.
pub(crate) fn capabilities() -> Capabilities {
    let mut c = Capabilities::default();
    let hs = match discover() {
        Ok(h) => h,
        Err(e) => {
            c.notes.push(format!("cgroup discovery failed: {e}"));
            return c;
        }
    };
    for h in hs.iter().filter(|h| used(h)) {
        let ok = !h.read_only && writable(&h.own_dir);
        if h.v2 {
            if !ok {
                c.notes.push(format!(
                    "cgroup v2 at {} is not writable by this process",
                    h.own_dir.display()
                ));
                continue;
            }
            c.v2 = true;
            // The root cgroup has no cgroup.kill / cgroup.freeze of its own: ask the
            // kernel version then (kill: 5.14, freeze: 5.2).
            let is_root = h.own_cg == "/";
            c.kill = if is_root {
                kernel_at_least(5, 14)
            } else {
                h.own_dir.join("cgroup.kill").exists()
            };
            let v2_freeze = if is_root {
                kernel_at_least(5, 2)
            } else {
                h.own_dir.join("cgroup.freeze").exists()
            };
            c.freeze |= v2_freeze;
            c.events = true;
        } else if ok {
            for ctl in &h.controllers {
                if V1_USED.contains(&ctl.as_str()) {
                    c.v1_controllers.push(ctl.clone());
                    if ctl == "freezer" {
                        c.freeze = true;
                    }
                }
            }
        } else {
            c.notes.push(format!(
                "cgroup v1 {} at {} is not writable by this process",
                h.controllers.join(","),
                h.own_dir.display()
            ));
        }
    }
    c.membership = c.v2 || !c.v1_controllers.is_empty();
    c.kill_on_close = c.membership;
    if !c.membership {
        c.notes
            .push("no writable cgroup hierarchy: jobs cannot be created".into());
    }
    c
}

impl Job {
    /// Creates `corral-<name>` in every usable hierarchy, optionally leaving out the v2
    /// hierarchy, the v1 hierarchies or `cgroup.kill`, so tests and benchmarks can run
    /// the paths of older, v1-only or pure-v2 machines on any machine. "No hierarchy has room for a job" (none mounted, or every
    /// `mkdir` refused with `EACCES`/`EPERM`/`EROFS`, or read-only) is told apart as
    /// `Ok(Err(_))`: that is when a process-group job stands in.
    pub(crate) fn create_or_no_place(
        name: Option<&str>,
        use_v2: bool,
        use_v1: bool,
        use_kill: bool,
    ) -> Result<Result<Job>> {
        let op = "create job";
        let mut hs = discover()?;
        hs.retain(|h| if h.v2 { use_v2 } else { use_v1 });
        let generated = name.is_none();
        for _ in 0..8 {
            let name = name.map_or_else(unique_name, str::to_owned);
            match Job::try_create(&hs, &name) {
                Err(e) if generated && e.raw_os_error() == Some(libc::EEXIST) => continue,
                Ok(Ok(mut job)) => {
                    job.no_kill = !use_kill;
                    return Ok(Ok(job));
                }
                r => return r,
            }
        }
        Err(Error::new(ErrorKind::Os, op).with_detail("could not find an unused job name"))
    }

    /// Creates the job's cgroups, the primary one first, and takes the handle's lock on
    /// it as soon as it exists. Every handle holds a shared lock on the primary cgroup
    /// and only the last one removes an empty job: a `Job::open` of the name while the
    /// job is being made (another process watching for it, say) must find that lock
    /// held, or its drop would remove the new job under its creator. The creator holds
    /// it exclusively until all the job's cgroups are made, so an open waits and then
    /// finds them all (and `open` makes sure it locked the primary: made first, removed
    /// last). Should an open take the lock in the moment between `mkdir` and the
    /// creator's lock, the creator finds the directory gone once it holds the lock, and
    /// starts again.
    fn try_create(hs: &[Hierarchy], name: &str) -> Result<Result<Job>> {
        let mut order: Vec<&Hierarchy> = hs.iter().filter(|h| used(h)).collect();
        order.sort_by_key(|h| primary_rank(h.v2, &h.controllers));
        for _ in 0..8 {
            if let Some(r) = Job::try_create_once(&order, name)? {
                return Ok(r);
            }
        }
        Err(Error::new(ErrorKind::Os, "create job").with_detail(format!(
            "job {name}: its new cgroup was removed by another handle's last drop, again \
             and again"
        )))
    }

    /// One attempt of [`Job::try_create`]; `None` when its primary cgroup was removed
    /// before this handle could lock it (nothing is left made).
    fn try_create_once(order: &[&Hierarchy], name: &str) -> Result<Option<Result<Job>>> {
        let op = "create job";
        let dir_name = format!("{JOB_PREFIX}{name}");
        let mut job = Job {
            name: name.to_owned(),
            dirs: Vec::new(),
            no_kill: false,
            lock: None,
        };
        let mut denied = Vec::new();
        for &h in order {
            // Names are one namespace, nested jobs included (as on Windows): a name
            // `Job::open` would find inside a job is taken.
            let inside = match nested_dir(h, &dir_name) {
                Ok(None) => None,
                Ok(Some(d)) => Some(d.path.display().to_string()),
                Err(e) => Some(e.detail().unwrap_or_default().to_owned()),
            };
            if let Some(where_) = inside {
                // Dropping `job` removes what was made so far.
                return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
                    "a job named {name} exists inside another job ({where_})"
                )));
            }
            let d = dir_of(h, &dir_name);
            if h.read_only {
                denied.push(format!("{} (read-only)", h.own_dir.display()));
                continue;
            }
            match std::fs::create_dir(&d.path) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    // Dropping `job` removes what was made so far.
                    return Err(Error::from_io(op, e)
                        .with_kind(ErrorKind::InvalidInput)
                        .with_detail(format!("a job named {name} exists ({})", d.path.display())));
                }
                Err(e) if is_permission(&e) => {
                    denied.push(format!("{}: {e}", h.own_dir.display()));
                    continue;
                }
                Err(e) => return Err(io_err(op, &d.path, e)),
            }
            let is_cpuset = !h.v2 && h.controllers.iter().any(|c| c == "cpuset");
            job.dirs.push(d);
            if job.lock.is_none() {
                // The first made is the primary (the hierarchies come in its order).
                // Locked exclusively until every cgroup is made: an open waits, and
                // then finds them all.
                let primary = &job.dirs[0].path;
                job.lock = lock(primary, rustix::fs::FlockOperation::LockExclusive);
                if !locks_dir(job.lock.as_ref(), primary) {
                    job.dirs.clear();
                    job.lock = None;
                    return Ok(None);
                }
            }
            if is_cpuset {
                let d = job.dirs.last().expect("just pushed");
                init_cpuset(&h.own_dir, &d.path).map_err(|e| io_err(op, &d.path, e))?;
            }
        }
        if job.dirs.is_empty() {
            let kind = if denied.is_empty() {
                ErrorKind::Unsupported
            } else {
                ErrorKind::AccessDenied
            };
            return Ok(Some(Err(Error::new(kind, op).with_detail(
                if denied.is_empty() {
                    "no cgroup hierarchy is mounted".to_owned()
                } else {
                    format!("no cgroup hierarchy is writable: {}", denied.join("; "))
                },
            ))));
        }
        // Made: from now on one handle among others (shared).
        if let Some(fd) = &job.lock {
            rustix::fs::flock(fd, rustix::fs::FlockOperation::LockShared)
                .map_err(|e| Error::from_io(op, e.into()))?;
        }
        Ok(Some(Ok(job)))
    }

    /// Finds an existing `corral-<name>` below the caller's cgroups.
    ///
    /// Locks the job's primary cgroup (see [`Job::try_create`]), then looks again: a job
    /// being made gains its cgroups in primary order, so a better one found the second
    /// time (the scan ran while it was made) means the lock is on the wrong one, and the
    /// open starts over.
    pub(crate) fn open(name: &str) -> Result<Job> {
        let hs = discover()?;
        let dir_name = format!("{JOB_PREFIX}{name}");
        let missing = || {
            Error::new(ErrorKind::InvalidInput, "open job").with_detail(format!(
                "no job named {name} below this process's cgroups, nor around it"
            ))
        };
        // Below the caller's cgroups, else the job the caller is itself inside (as a
        // Windows process can open its own job by name), else a job nested inside one
        // below (Windows' job names are one namespace, nested or not).
        let find = || -> Result<Vec<Dir>> {
            let mut dirs: Vec<Dir> = Vec::new();
            for h in hs.iter().filter(|h| used(h) || limits::on_demand(h)) {
                let d = dir_of(h, &dir_name);
                if d.path.is_dir() {
                    dirs.push(d);
                } else if let Some(d) = enclosing(h, &dir_name).filter(|d| d.path.is_dir()) {
                    dirs.push(d);
                } else if let Some(d) = nested_dir(h, &dir_name)? {
                    dirs.push(d);
                }
            }
            Ok(dirs)
        };
        for _ in 0..8 {
            let dirs = find()?;
            let Some(primary) = primary_of(&dirs).map(|d| d.path.clone()) else {
                return Err(missing());
            };
            let lock = lock_shared(&primary);
            // The last handle's drop may have removed it while we waited for the lock
            // (and a new job of the name may be there now: then look again).
            if !primary.is_dir() {
                return Err(missing());
            }
            if !locks_dir(lock.as_ref(), &primary) {
                continue;
            }
            let again = find()?;
            if primary_of(&again).is_some_and(|d| d.path == primary) {
                return Ok(Job {
                    name: name.to_owned(),
                    dirs: again,
                    no_kill: false,
                    lock,
                });
            }
        }
        Err(Error::new(ErrorKind::Os, "open job").with_detail(format!(
            "job {name}: its cgroups kept changing while it was opened"
        )))
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The cgroup that answers "who is in the job": v2, else v1 freezer, else pids, else
    /// the first one.
    pub(crate) fn primary(&self) -> &Dir {
        primary_of(&self.dirs).expect("a job has a cgroup")
    }

    pub(crate) fn v2(&self) -> Option<&Dir> {
        self.dirs
            .iter()
            .find(|d| d.v2 && d.path.join("cgroup.events").exists())
    }

    pub(crate) fn v1_freezer(&self) -> Option<&Dir> {
        self.dirs
            .iter()
            .find(|d| !d.v2 && d.controllers.iter().any(|c| c == "freezer"))
    }

    /// The job's cgroups, v2 first (for the kill-on-close guard and the event watcher).
    pub(crate) fn dirs(&self) -> &[Dir] {
        &self.dirs
    }

    /// Whether `terminate` may use `cgroup.kill` (tests turn it off).
    pub(crate) fn uses_kill(&self) -> bool {
        !self.no_kill
    }

    pub(crate) fn spawn_target(&self) -> JobSpawn {
        JobSpawn {
            procs: self
                .dirs
                .iter()
                .map(|d| d.path.join("cgroup.procs"))
                .collect(),
            v2_dir: self.dirs.iter().find(|d| d.v2).map(|d| d.path.clone()),
            fallback: None,
        }
    }

    /// Asks the kernel to reclaim the whole job's memory through the v2 `memory.reclaim`
    /// (Linux 5.19+): returns `memory.current` before and after, or `None` when the job
    /// has no v2 cgroup with the memory controller and that file.
    pub(crate) fn reclaim(&self) -> Result<Option<(u64, u64)>> {
        let op = "trim job memory";
        let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.v2 && d.path.join("memory.reclaim").exists())
        else {
            return Ok(None);
        };
        let cur = d.path.join("memory.current");
        let read = |p: &Path| -> Result<u64> {
            let b = read_text(p).map_err(|e| io_err(op, p, e))?;
            std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| {
                    Error::new(ErrorKind::Parse, op).with_detail(format!("{}", p.display()))
                })
        };
        let before = read(&cur)?;
        if before > 0 {
            let p = d.path.join("memory.reclaim");
            match std::fs::write(&p, before.to_string()) {
                Ok(()) => {}
                // The kernel could not reclaim all it was asked for: a partial result.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(e) => return Err(io_err(op, &p, e)),
            }
        }
        Ok(Some((before, read(&cur)?)))
    }

    /// The pids in the job now, nested jobs' members included (from the `cgroup.procs`
    /// of the primary cgroup and of every cgroup below it).
    pub(crate) fn pids(&self) -> Result<Vec<u32>> {
        let d = &self.primary().path;
        pids_below(d).map_err(|e| io_err("list job members", &d.join("cgroup.procs"), e))
    }

    /// Moves `h` into every cgroup of the job.
    pub(crate) fn assign(&self, h: &Handle) -> Result<()> {
        let op = "assign to job";
        let gone = |e: Error| {
            if e.kind() == ErrorKind::Zombie {
                e.with_kind(ErrorKind::NoSuchProcess)
                    .with_detail("the process has exited")
            } else {
                e
            }
        };
        self.assign_checked(h, op).map_err(gone)
    }

    fn assign_checked(&self, h: &Handle, op: &'static str) -> Result<()> {
        h.verify(op, false)?;
        let pid = h.pid.to_string();
        for d in &self.dirs {
            let p = d.path.join("cgroup.procs");
            if let Err(e) = write_file(&p, pid.as_bytes()) {
                h.verify(op, false)?;
                return Err(io_err(op, &p, e).with_pid(h.pid));
            }
        }
        // A process that exited around the writes may have had its pid reused, and the
        // write may have moved the newcomer: report it rather than claim success.
        h.verify(op, false)
    }

    /// Whether `h` is in the job (its `/proc/PID/cgroup` names the job's primary cgroup or
    /// one below it: a nested job's member is in the outer job too).
    pub(crate) fn contains(&self, h: &Handle) -> Result<bool> {
        let d = self.primary();
        let cgs = h.cgroups()?;
        Ok(cgs.iter().any(|l| line_is_or_below(l, d)))
    }

    /// Signals every member with `SIGKILL` through its pidfd, after checking that the
    /// opened process is a member (so a pid reused meanwhile is never hit); returns the
    /// handles it signalled.
    fn kill_members(&self) -> Result<Vec<Handle>> {
        let mut killed = Vec::new();
        for pid in self.pids()? {
            let Some(pid) = Pid::new(pid) else { continue };
            let Ok(h) = Handle::open(pid) else { continue };
            if matches!(self.contains(&h), Ok(true)) {
                match h.send_signal(crate::Signal::Kill) {
                    Ok(()) => killed.push(h),
                    Err(e) if e.kind() == ErrorKind::NoSuchProcess => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(killed)
    }

    /// Kills every member and returns once the job is empty. A process leaves its cgroup
    /// early in its exit (before it is a zombie): where corral signalled the members one
    /// by one it also waits on their pidfds, so on return each is a zombie or reaped;
    /// after `cgroup.kill` a member may still be finishing its exit in the kernel for a
    /// moment (it runs none of its own code again).
    pub(crate) fn terminate(&self) -> Result<()> {
        let op = "terminate job";
        if let Some(d) = self.v2() {
            let kill = d.path.join("cgroup.kill");
            if kill.exists() && !self.no_kill {
                write_file(&kill, b"1").map_err(|e| io_err(op, &kill, e))?;
                return self.wait_empty(None);
            }
        }
        let mut killed = Vec::new();
        if self.v2().is_some() || self.v1_freezer().is_some() {
            self.freeze()?;
            let r = self.kill_members();
            let t = self.thaw();
            killed = r?;
            t?;
        } else {
            // No freezer at all: kill until a round finds nobody (forks between listing
            // and killing show up in the next round).
            loop {
                let round = self.kill_members()?;
                if round.is_empty() && self.pids()?.is_empty() {
                    break;
                }
                killed.extend(round);
                self.wait_empty(Some(Duration::from_millis(100))).ok();
            }
        }
        self.wait_empty(None)?;
        let refs: Vec<&Handle> = killed.iter().collect();
        super::wait_many(&refs, None, |_| true)
    }

    pub(crate) fn freeze(&self) -> Result<()> {
        let op = "freeze job";
        if let Some(d) = self.v2() {
            let f = d.path.join("cgroup.freeze");
            if f.exists() {
                write_file(&f, b"1").map_err(|e| io_err(op, &f, e))?;
                return wait_event(&d.path, b"frozen", b"1", Some(FREEZE_WAIT), op);
            }
        }
        let Some(d) = self.v1_freezer() else {
            return Err(Error::new(ErrorKind::Unsupported, op).with_detail(
                "neither cgroup v2 freeze (Linux 5.2+) nor a v1 freezer is available",
            ));
        };
        let f = d.path.join("freezer.state");
        write_file(&f, b"FROZEN").map_err(|e| io_err(op, &f, e))?;
        // v1 gives no notification: check with a 1–20 ms backoff.
        let deadline = Instant::now() + FREEZE_WAIT;
        let mut nap = Duration::from_millis(1);
        loop {
            let s = read_text(&f).map_err(|e| io_err(op, &f, e))?;
            if super::parse::text::trim(&s) == b"FROZEN" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::new(ErrorKind::Timeout, op)
                    .with_detail(format!("{} stayed FREEZING", f.display())));
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(20));
        }
    }

    pub(crate) fn thaw(&self) -> Result<()> {
        let op = "thaw job";
        if let Some(d) = self.v2() {
            let f = d.path.join("cgroup.freeze");
            if f.exists() {
                write_file(&f, b"0").map_err(|e| io_err(op, &f, e))?;
                return wait_event(&d.path, b"frozen", b"0", Some(FREEZE_WAIT), op);
            }
        }
        let Some(d) = self.v1_freezer() else {
            return Err(Error::new(ErrorKind::Unsupported, op).with_detail(
                "neither cgroup v2 freeze (Linux 5.2+) nor a v1 freezer is available",
            ));
        };
        let f = d.path.join("freezer.state");
        write_file(&f, b"THAWED").map_err(|e| io_err(op, &f, e))
    }

    pub(crate) fn is_frozen(&self) -> Result<bool> {
        let op = "read job state";
        if let Some(d) = self.v2() {
            let p = d.path.join("cgroup.events");
            let b = read_text(&p).map_err(|e| io_err(op, &p, e))?;
            return Ok(event_value(&b, b"frozen") == Some(b"1"));
        }
        match self.v1_freezer() {
            Some(d) => {
                let f = d.path.join("freezer.state");
                let s = read_text(&f).map_err(|e| io_err(op, &f, e))?;
                Ok(super::parse::text::trim(&s) == b"FROZEN")
            }
            None => Ok(false),
        }
    }

    pub(crate) fn wait_empty(&self, timeout: Option<Duration>) -> Result<()> {
        let op = "wait for job to empty";
        if let Some(d) = self.v2() {
            return wait_event(&d.path, b"populated", b"0", timeout, op);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let members: Vec<Handle> = self
                .pids()?
                .into_iter()
                .filter_map(Pid::new)
                .filter_map(|p| Handle::open(p).ok())
                .filter(|h| !h.has_exited())
                .collect();
            if members.is_empty() {
                return Ok(());
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(Error::new(ErrorKind::Timeout, op)
                    .with_detail(format!("{} members still running", members.len())));
            }
            let refs: Vec<&Handle> = members.iter().collect();
            super::wait_many(&refs, left, |_| true)?;
        }
    }

    fn remove_dirs(&mut self) {
        for d in self.dirs.iter().rev() {
            // Nested jobs whose owners are gone may have left empty cgroups below; deepest
            // first (one with members or children of its own stays: `rmdir` refuses it).
            for below in cgroups_below(&d.path) {
                let _ = std::fs::remove_dir(below);
            }
            for i in 0..20 {
                match std::fs::remove_dir(&d.path) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && i < 19 => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    _ => break,
                }
            }
        }
        self.dirs.clear();
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // Only an empty job is removed, and only by its last handle; a job with members
        // stays (kill-on-close is a separate option).
        if self.dirs.is_empty() {
            return;
        }
        // Our shared lock goes first; an exclusive one then means no other handle is
        // open anywhere. It is held through the removal, so an `open` racing with it
        // waits and then finds the job gone.
        let _last = match self.lock.take() {
            Some(ours) => {
                let Some(ours) = upgrade_now(ours) else {
                    return;
                };
                // Our cgroup may be gone (another last handle removed it) and a new job
                // of the same name stand at its path: that one is not ours to remove.
                if !locks_dir(Some(&ours), &self.primary().path) {
                    return;
                }
                Some(ours)
            }
            None => None,
        };
        if matches!(self.pids(), Ok(p) if p.is_empty()) {
            self.remove_dirs();
        }
    }
}

/// Whether `lock` is held on the directory now at `dir` (not on one removed since it
/// was opened, whose path a new job of the same name may have taken).
fn locks_dir(lock: Option<&OwnedFd>, dir: &Path) -> bool {
    let Some(fd) = lock else { return false };
    match (rustix::fs::fstat(fd), rustix::fs::stat(dir)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// `dir` opened and shared-locked (waits while a last handle is removing the job, or
/// its creator is making it).
fn lock_shared(dir: &Path) -> Option<OwnedFd> {
    lock(dir, rustix::fs::FlockOperation::LockShared)
}

/// `dir` opened and locked with `how`, waiting for it.
fn lock(dir: &Path, how: rustix::fs::FlockOperation) -> Option<OwnedFd> {
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    loop {
        match rustix::fs::flock(&fd, how) {
            Ok(()) => return Some(fd),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// This handle's shared lock turned exclusive if no other handle holds one; `None` if
/// one does (or the lock cannot be taken: then nothing may be removed either). The lock
/// is converted on the handle's own open file, so it stays on this job's cgroup even if
/// that was removed and a new job of the name made at its path meanwhile.
///
/// A lock can also be held for a moment by a child another thread of some process (this
/// one included) has forked and not yet `exec`ed: it shares that process's descriptors
/// until `exec` closes them. So a refusal is retried for up to ~100 ms before it is
/// taken to mean another handle.
fn upgrade_now(fd: OwnedFd) -> Option<OwnedFd> {
    let mut nap = Duration::from_millis(1);
    let deadline = Instant::now() + Duration::from_millis(100);
    loop {
        match rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Some(fd),
            Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

/// Whether `l` names `d` or a cgroup below it, in `d`'s hierarchy.
fn line_is_or_below(l: &CgroupMembership, d: &Dir) -> bool {
    same_hierarchy(l, d) && (l.path == d.cg || is_below(&l.path, &d.cg))
}

/// Whether the cgroup path `p` is strictly below `top`.
pub(crate) fn is_below(p: &str, top: &str) -> bool {
    p.strip_prefix(top.trim_end_matches('/'))
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

fn same_hierarchy(l: &CgroupMembership, d: &Dir) -> bool {
    if d.v2 {
        l.hierarchy == 0 && l.controllers.is_empty()
    } else {
        let mut a = l.controllers.clone();
        let mut b = d.controllers.clone();
        a.sort();
        b.sort();
        a == b
    }
}

/// The extended attribute on a job's cgroup directories that says the job allows
/// breakaway ([`crate::JobLimits::breakaway_ok`]): `user.*`, so every member can read it.
pub(crate) const BREAKAWAY_XATTR: &str = "user.corral.breakaway_ok";

/// Whether the job cgroup `dir` carries the breakaway mark (`"1"`). No attribute, or a
/// filesystem without extended attributes, reads as "not allowed".
pub(crate) fn breakaway_mark(dir: &Path) -> io::Result<bool> {
    let mut buf = [0u8; 8];
    match rustix::fs::getxattr(dir, BREAKAWAY_XATTR, &mut buf[..]) {
        Ok(n) => Ok(&buf[..n] == b"1"),
        Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP | rustix::io::Errno::RANGE) => {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Where a child spawned with breakaway goes: the `cgroup.procs` of the cgroup the
/// caller's job was created below, in each hierarchy where the caller is in that job.
/// `None` when the caller is in no corral job (breakaway is then a no-op, as on Windows).
///
/// # Errors
///
/// [`ErrorKind::AccessDenied`] naming the job when none of its cgroups carries the
/// breakaway mark.
pub(crate) fn breakaway_target() -> Result<Option<JobSpawn>> {
    let op = "spawn outside the job";
    let hs = discover()?;
    // The caller's job: v2 first, then the v1 hierarchies a job joins (as `job_of`).
    let job_dir = hs.iter().filter(|h| used(h)).find_map(|h| {
        let last = h.own_cg.rsplit('/').next()?;
        (last.len() > JOB_PREFIX.len() && last.starts_with(JOB_PREFIX)).then(|| last.to_owned())
    });
    let Some(job_dir) = job_dir else {
        return Ok(None);
    };
    let name = &job_dir[JOB_PREFIX.len()..];
    let mut allowed = false;
    let mut procs = Vec::new();
    let mut v2_dir = None;
    for h in &hs {
        if h.own_cg.rsplit('/').next() != Some(job_dir.as_str()) {
            continue;
        }
        // The job's parent must be a cgroup visible here (not above the mount's root).
        let parent = h
            .own_dir
            .parent()
            .filter(|p| p.join("cgroup.procs").exists())
            .ok_or_else(|| {
                Error::new(ErrorKind::Unsupported, op).with_detail(format!(
                    "the cgroup above the job {name} ({}) is not visible to this process",
                    h.own_dir.display()
                ))
            })?;
        allowed |= breakaway_mark(&h.own_dir).map_err(|e| io_err(op, &h.own_dir, e))?;
        procs.push(parent.join("cgroup.procs"));
        if h.v2 {
            v2_dir = Some(parent.to_owned());
        }
    }
    if !allowed {
        return Err(Error::new(ErrorKind::AccessDenied, op).with_detail(format!(
            "the job {name} does not allow breakaway (its cgroup has no {BREAKAWAY_XATTR} = 1; \
             the job's owner sets it with JobLimits::breakaway_ok / corral run --allow-breakaway)"
        )));
    }
    Ok(Some(JobSpawn {
        procs,
        v2_dir,
        fallback: None,
    }))
}

/// The job (a `corral-*` cgroup) `h` is in, if any: its name and all its cgroups.
pub(crate) fn job_of(h: &Handle) -> Result<Option<(String, Vec<CgroupMembership>)>> {
    let cgs = h.cgroups()?;
    let pick = cgs
        .iter()
        .find(|l| l.hierarchy == 0 && l.controllers.is_empty())
        .into_iter()
        .chain(
            cgs.iter()
                .filter(|l| l.controllers.iter().any(|c| V1_USED.contains(&c.as_str()))),
        );
    for l in pick {
        if let Some(last) = l.path.rsplit('/').next() {
            if let Some(name) = last.strip_prefix(JOB_PREFIX) {
                if !name.is_empty() {
                    return Ok(Some((name.to_owned(), cgs.clone())));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_around_the_caller() {
        let h = Hierarchy {
            v2: false,
            controllers: vec!["memory".into()],
            own_cg: "/svc/corral-x/corral-y/leaf".into(),
            own_dir: PathBuf::from("/sys/fs/cgroup/memory/svc/corral-x/corral-y/leaf"),
            read_only: false,
        };
        let d = enclosing(&h, "corral-x").unwrap();
        assert_eq!(d.cg, "/svc/corral-x");
        assert_eq!(d.path, PathBuf::from("/sys/fs/cgroup/memory/svc/corral-x"));
        let d = enclosing(&h, "corral-y").unwrap();
        assert_eq!(d.cg, "/svc/corral-x/corral-y");
        assert!(enclosing(&h, "corral-z").is_none());
        // A job the caller is directly in.
        let h = Hierarchy {
            own_cg: "/corral-x".into(),
            own_dir: PathBuf::from("/sys/fs/cgroup/memory/corral-x"),
            ..h
        };
        assert_eq!(
            enclosing(&h, "corral-x").unwrap().path,
            PathBuf::from("/sys/fs/cgroup/memory/corral-x")
        );
    }

    /// Nested jobs are found through `corral-*` directories only; a name two jobs hold
    /// is refused, naming both.
    #[test]
    fn jobs_nested_in_jobs() {
        let root = std::env::temp_dir().join(format!("corral-nested-{}", std::process::id()));
        for d in [
            "corral-a/corral-b/corral-c",
            "corral-a/leaf/corral-hidden",
            "corral-x/corral-b",
            "other/corral-d",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let mut found = nested_jobs(&root);
        found.sort();
        let want: Vec<PathBuf> = [
            "corral-a/corral-b",
            "corral-a/corral-b/corral-c",
            "corral-x/corral-b",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let h = Hierarchy {
            v2: true,
            controllers: Vec::new(),
            own_cg: "/svc".into(),
            own_dir: root.clone(),
            read_only: false,
        };
        let c = nested_dir(&h, "corral-c");
        let b = nested_dir(&h, "corral-b");
        let none = nested_dir(&h, "corral-hidden");
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(found, want);
        let c = c.unwrap().unwrap();
        assert_eq!(c.cg, "/svc/corral-a/corral-b/corral-c");
        assert_eq!(c.path, root.join("corral-a/corral-b/corral-c"));
        let e = b.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("2 jobs hold a job named b"), "{e}");
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn hierarchies_from_fixtures() {
        let mounts =
            mountinfo::parse_cgroup_mounts(include_bytes!("../../../testdata/mountinfo_hybrid"))
                .unwrap();
        let own = cgroup_parse::parse(include_bytes!("../../../testdata/cgroup_v1v2")).unwrap();
        let hs = match_hierarchies(&mounts, &own);
        assert!(hs[0].v2);
        assert_eq!(hs[0].own_dir, PathBuf::from("/sys/fs/cgroup/unified"));
        let mem = hs.iter().find(|h| h.controllers == ["memory"]).unwrap();
        assert_eq!(
            mem.own_dir,
            PathBuf::from("/sys/fs/cgroup/memory/process_api/72a0845e6658b410d6c15ec754710796")
        );
        assert_eq!(
            dir_of(mem, "corral-x").cg,
            "/process_api/72a0845e6658b410d6c15ec754710796/corral-x"
        );
        assert_eq!(dir_of(&hs[0], "corral-x").cg, "/corral-x");
        assert_eq!(hs.iter().filter(|h| used(h)).count(), 6);
    }

    #[test]
    fn pure_v2_with_mounted_subtree() {
        let mounts = mountinfo::parse_cgroup_mounts(
            b"25 30 0:22 /user.slice /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
        )
        .unwrap();
        let own = cgroup_parse::parse(b"0::/user.slice/session-2.scope\n").unwrap();
        let hs = match_hierarchies(&mounts, &own);
        assert_eq!(hs.len(), 1);
        assert_eq!(
            hs[0].own_dir,
            PathBuf::from("/sys/fs/cgroup/session-2.scope")
        );
        // A cgroup outside the mounted subtree is not reachable.
        let own = cgroup_parse::parse(b"0::/system.slice/x.service\n").unwrap();
        assert!(match_hierarchies(&mounts, &own).is_empty());
        let own = cgroup_parse::parse(b"0::/user.slicex\n").unwrap();
        assert!(match_hierarchies(&mounts, &own).is_empty());
    }

    #[test]
    fn events_file() {
        let b = b"populated 1\nfrozen 0\n";
        assert_eq!(event_value(b, b"populated"), Some(&b"1"[..]));
        assert_eq!(event_value(b, b"frozen"), Some(&b"0"[..]));
        assert_eq!(event_value(b, b"x"), None);
        assert_eq!(parse_pids(b"1\n23\n\n"), vec![1, 23]);
    }
}
