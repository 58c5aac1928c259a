//! The Linux job: a set of cgroups ([`cgroup`](super::cgroup)) where the caller may create
//! them, else a process-group + subreaper job ([`job_fallback`](super::job_fallback)).
//!
//! `create` tries the cgroups first and falls back only when no hierarchy has room for a
//! job: none is mounted, or every `mkdir` below the caller's own cgroups was refused with
//! `EACCES`/`EPERM`/`EROFS` (or the mount is read-only) — what the kernel said, not a
//! guess from permissions. Nothing is created in the cgroup trees on the fallback path.

use std::sync::Arc;
use std::time::Duration;

use super::cgroup;
use super::job_fallback as fb;
use super::Handle;
use crate::info::CgroupMembership;
use crate::job::{Capabilities, JobBackend};
use crate::job_limits::{JobAccounting, JobLimits, LimitSupport};
use crate::{Error, ErrorKind, Result};

pub(crate) use cgroup::JobSpawn;

/// A job on Linux.
#[derive(Debug)]
pub(crate) enum Job {
    /// One cgroup per hierarchy.
    Cgroup(cgroup::Job),
    /// The process-group + subreaper fallback.
    Fallback(fb::Job),
}

macro_rules! each {
    ($self:expr, $j:ident => $e:expr) => {
        match $self {
            Job::Cgroup($j) => $e,
            Job::Fallback($j) => $e,
        }
    };
}

impl Job {
    pub(crate) fn create(name: Option<&str>) -> Result<Job> {
        Job::create_with(name, true, true)
    }

    pub(crate) fn create_with(name: Option<&str>, use_v2: bool, use_kill: bool) -> Result<Job> {
        Job::create_layout(name, use_v2, true, use_kill)
    }

    /// A job in the v2 hierarchy only, as on a pure cgroup v2 machine (benchmarks).
    pub(crate) fn create_v2_only(name: Option<&str>) -> Result<Job> {
        Job::create_layout(name, true, false, true)
    }

    fn create_layout(
        name: Option<&str>,
        use_v2: bool,
        use_v1: bool,
        use_kill: bool,
    ) -> Result<Job> {
        match cgroup::Job::create_or_no_place(name, use_v2, use_v1, use_kill)? {
            Ok(j) => Ok(Job::Cgroup(j)),
            Err(_) => {
                if let Some(n) = name {
                    // A cgroup job of that name may exist even if no new one can be made.
                    if cgroup::Job::open(n).is_ok() {
                        return Err(Error::new(ErrorKind::InvalidInput, "create job")
                            .with_detail(format!("a job named {n} exists")));
                    }
                }
                fb::Job::create(name).map(Job::Fallback)
            }
        }
    }

    /// Testing: a process-group job even where cgroups are writable.
    pub(crate) fn create_fallback(name: Option<&str>) -> Result<Job> {
        fb::Job::create(name).map(Job::Fallback)
    }

    pub(crate) fn open(name: &str) -> Result<Job> {
        match cgroup::Job::open(name) {
            Ok(j) => Ok(Job::Cgroup(j)),
            Err(e) => fb::Job::open(name).map(Job::Fallback).ok_or(e),
        }
    }

    pub(crate) fn backend(&self) -> JobBackend {
        match self {
            Job::Cgroup(_) => JobBackend::Cgroup,
            Job::Fallback(_) => JobBackend::ProcessGroup,
        }
    }

    /// The cgroup job, for the parts only cgroups have (guard, events).
    pub(crate) fn cgroup(&self) -> Option<&cgroup::Job> {
        match self {
            Job::Cgroup(j) => Some(j),
            Job::Fallback(_) => None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        each!(self, j => j.name())
    }
    pub(crate) fn assign(&self, h: &Handle) -> Result<()> {
        each!(self, j => j.assign(h))
    }
    pub(crate) fn pids(&self) -> Result<Vec<u32>> {
        each!(self, j => j.pids())
    }
    pub(crate) fn contains(&self, h: &Handle) -> Result<bool> {
        each!(self, j => j.contains(h))
    }
    pub(crate) fn terminate(&self) -> Result<()> {
        each!(self, j => j.terminate())
    }
    pub(crate) fn freeze(&self) -> Result<()> {
        each!(self, j => j.freeze())
    }
    pub(crate) fn thaw(&self) -> Result<()> {
        each!(self, j => j.thaw())
    }
    pub(crate) fn is_frozen(&self) -> Result<bool> {
        each!(self, j => j.is_frozen())
    }
    pub(crate) fn wait_empty(&self, timeout: Option<Duration>) -> Result<()> {
        each!(self, j => j.wait_empty(timeout))
    }
    pub(crate) fn reclaim(&self) -> Result<Option<(u64, u64)>> {
        match self {
            Job::Cgroup(j) => j.reclaim(),
            Job::Fallback(_) => Ok(None),
        }
    }
    pub(crate) fn spawn_target(&self) -> JobSpawn {
        match self {
            Job::Cgroup(j) => j.spawn_target(),
            Job::Fallback(j) => JobSpawn {
                procs: Vec::new(),
                v2_dir: None,
                fallback: Some(j.shared()),
            },
        }
    }
    pub(crate) fn set_limits(&mut self, l: &JobLimits) -> Result<()> {
        each!(self, j => j.set_limits(l))
    }
    pub(crate) fn limits(&self) -> Result<JobLimits> {
        match self {
            Job::Cgroup(j) => j.limits(),
            // Only handle-kept limits exist for a fallback job.
            Job::Fallback(_) => Ok(JobLimits::new()),
        }
    }
    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        each!(self, j => j.accounting())
    }
    pub(crate) fn view(&self) -> JobView {
        match self {
            Job::Cgroup(j) => JobView::Cgroup(j.view()),
            Job::Fallback(j) => JobView::Fallback(j.shared()),
        }
    }
}

/// A handle on a job for the CPU-time watcher; dropping it removes nothing.
#[derive(Debug)]
pub(crate) enum JobView {
    Cgroup(cgroup::JobView),
    Fallback(Arc<fb::Shared>),
}

impl JobView {
    pub(crate) fn cpu_usage(&self) -> Result<Duration> {
        match self {
            JobView::Cgroup(v) => v.cpu_usage(),
            JobView::Fallback(s) => s.cpu_usage(),
        }
    }
    pub(crate) fn cpu_capacity(&self) -> f64 {
        match self {
            JobView::Cgroup(v) => v.cpu_capacity(),
            JobView::Fallback(_) => {
                std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
            }
        }
    }
    pub(crate) fn terminate(&self) -> Result<()> {
        match self {
            JobView::Cgroup(v) => v.terminate(),
            JobView::Fallback(s) => s.terminate(),
        }
    }
    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        match self {
            JobView::Cgroup(v) => v.accounting(),
            JobView::Fallback(s) => s.accounting(),
        }
    }
    /// A kernel notification of the job's memory usage crossing `bytes` (cgroup v1
    /// memory thresholds); `None` where there is none (v2, the fallback).
    pub(crate) fn memory_threshold(
        &self,
        bytes: u64,
    ) -> Result<Option<super::job_notify::Threshold>> {
        match self {
            JobView::Cgroup(v) => match v.v1_memory_dir() {
                Some(d) => super::job_notify::register_threshold(d, bytes),
                None => Ok(None),
            },
            JobView::Fallback(_) => Ok(None),
        }
    }
}

/// Whether a job created now would be a process-group fallback.
fn cgroups_usable(c: &Capabilities) -> bool {
    c.membership
}

/// What jobs can do here: the cgroup capabilities, or the fallback's.
pub(crate) fn capabilities() -> Capabilities {
    let mut c = cgroup::capabilities();
    if cgroups_usable(&c) {
        c.backend = JobBackend::Cgroup;
        return c;
    }
    c.backend = JobBackend::ProcessGroup;
    c.membership = true;
    c.kill = false;
    c.freeze = true;
    // Best-effort, by rescans: not OS notifications.
    c.events = false;
    // By the last handle's drop and a guard process told the membership (see notes).
    c.kill_on_close = true;
    c.notes.push(
        "jobs fall back to process groups + a subreaper: membership is reconstructed from \
         /proc (process group, parent links, the CORRAL_JOB environment marker) and a \
         member that leaves its group, clears its environment and loses its parent before \
         a scan escapes; terminate kills in rounds; freeze is SIGSTOP (members can notice \
         and undo it); only per-process limits and the job CPU time are enforced; events \
         are best-effort (rescans); kill-on-close kills at the last handle's drop and, \
         through a guard process the creator keeps told of the membership, when the \
         creator dies or execs — by the same rules, so what escapes a scan escapes it \
         too; the \
         job is known only to the creating process"
            .into(),
    );
    c
}

/// How each limit can be enforced by a job created now.
pub(crate) fn limit_support() -> Vec<LimitSupport> {
    if cgroups_usable(&cgroup::capabilities()) {
        cgroup::limit_support()
    } else {
        fb::limit_support()
    }
}

/// The jobs of this process's cgroups and its own fallback jobs.
pub(crate) fn list_jobs() -> Result<Vec<String>> {
    let mut v = match cgroup::list_jobs() {
        Ok(v) => v,
        Err(e) => {
            let f = fb::list_jobs();
            if f.is_empty() {
                return Err(e);
            }
            Vec::new()
        }
    };
    v.extend(fb::list_jobs());
    v.sort();
    v.dedup();
    Ok(v)
}

/// The job `h` is in: a `corral-*` cgroup, else the innermost fallback job named by the
/// marker in its environment (no cgroups then).
pub(crate) fn job_of(h: &Handle) -> Result<Option<(String, Vec<CgroupMembership>)>> {
    if let Some(j) = cgroup::job_of(h)? {
        return Ok(Some(j));
    }
    Ok(fb::job_names_of(h).pop().map(|n| (n, Vec::new())))
}

/// A job's event watcher: the cgroup one, or the fallback's best-effort rescans.
#[derive(Debug)]
pub(crate) enum JobWatch {
    Cgroup(Box<super::job_events::JobWatch>),
    Fallback(fb::Watch),
}

impl JobWatch {
    pub(crate) fn new(job: &Job) -> Result<JobWatch> {
        match job {
            Job::Cgroup(j) => {
                super::job_events::JobWatch::new(j).map(|w| JobWatch::Cgroup(Box::new(w)))
            }
            Job::Fallback(j) => fb::Watch::new(j).map(JobWatch::Fallback),
        }
    }
    pub(crate) fn next(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<crate::job_events::JobEvent>> {
        match self {
            JobWatch::Cgroup(w) => w.next(timeout),
            JobWatch::Fallback(w) => w.next(timeout),
        }
    }
    pub(crate) fn new_process_exact(&self) -> bool {
        match self {
            JobWatch::Cgroup(w) => w.new_process_exact(),
            JobWatch::Fallback(_) => false,
        }
    }
    pub(crate) fn cpu_limit_raiser(&self) -> Option<crate::job_limits::Raiser> {
        match self {
            JobWatch::Cgroup(w) => w.cpu_limit_raiser(),
            JobWatch::Fallback(w) => Some(w.cpu_limit_raiser()),
        }
    }
    pub(crate) fn ended(&self) -> bool {
        match self {
            JobWatch::Cgroup(w) => w.ended(),
            // The job lives as long as this process.
            JobWatch::Fallback(_) => false,
        }
    }
}
