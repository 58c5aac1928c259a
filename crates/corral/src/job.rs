//! [`Job`]: a group of processes handled as one — Windows Job Object semantics.
//!
//! A job holds processes (and, by inheritance, everything they spawn, daemons and new
//! sessions included: leaving a job needs privilege, not a double fork). It can list its
//! members, kill them all at once, freeze and thaw them, and wait until none is left.
//! Limits ([`JobLimits`]) and accounting ([`JobAccounting`]) are in [`Job::set_limits`]
//! and [`Job::accounting`]; notifications in [`Job::events`]; a job that dies with its
//! handle or its creator is made with
//! [`JobBuilder::kill_on_close`](crate::JobBuilder::kill_on_close).
//! [`Job::capabilities`] says what this machine offers, limit by limit.
//!
//! # Examples
//!
//! ```no_run
//! use corral::{Command, Job};
//! let job = Job::create(Some("build"))?;
//! let child = Command::new("make").job(&job).spawn()?;
//! // ... make forks compilers; all of them are in the job ...
//! job.terminate()?;           // every member, at once
//! # drop(child);
//! # Ok::<(), corral::Error>(())
//! ```
//!
//! With limits and accounting:
//!
//! ```no_run
//! use std::time::Duration;
//! use corral::{Command, Job, JobLimits};
//! let limits = JobLimits::new()
//!     .job_memory(512 << 20)                    // all members together
//!     .max_processes(64)                        // Linux counts threads too
//!     .cpus(1.5)                                // as docker run --cpus
//!     .job_cpu_time(Duration::from_secs(30));   // then the job is terminated
//! let job = Job::create_with_limits(Some("solver"), &limits)?; // all or nothing
//! let mut child = Command::new("./solver").job(&job).spawn()?;
//! child.wait()?;
//! let used = job.accounting()?;                 // exited members included
//! println!("{:?} of CPU, {:?} OOM kills", used.total_time(), used.oom_kills);
//! # Ok::<(), corral::Error>(())
//! ```
//!
//! # Platform-specific behavior
//!
//! Linux: a job is a cgroup named `corral-<name>` created directly below the caller's own
//! cgroup in the cgroup v2 hierarchy (when mounted and writable) and in each writable v1
//! hierarchy with one of the controllers `freezer`, `pids`, `memory`, `cpuacct`, `blkio`
//! (hybrid systems; `cpu` and `cpuset` too when a limit needs them). Hierarchies are found through `/proc/self/mountinfo` and the caller's place
//! in them through `/proc/self/cgroup`. Creating cgroups normally needs root or a
//! delegated subtree. Windows: a Job Object named `corral-<name>`; limits are
//! `JOBOBJECT_EXTENDED_LIMIT_INFORMATION` and `JOBOBJECT_CPU_RATE_CONTROL_INFORMATION`
//! (with `JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION` always set), and the job itself
//! applies per-process limits, the priority class and the affinity to its members.
//!
//! ## Linux without a writable cgroup: the process-group fallback
//!
//! Where no hierarchy has room for a job (none mounted, or every `mkdir` below the
//! caller's cgroups refused with `EACCES`/`EPERM`/`EROFS` — an unprivileged user without
//! delegation), [`Job::create`] makes a **process-group + subreaper job** instead and
//! creates nothing in the cgroup trees; [`Job::backend`] and [`Capabilities::backend`]
//! say [`JobBackend::ProcessGroup`]. Its guarantees are weaker:
//!
//! - Membership is reconstructed from `/proc` at each call: known members (pid + start
//!   time), processes in a process group led by a member, processes whose environment
//!   carries the job's `CORRAL_JOB` marker (children spawned into the job get it), and
//!   the descendants of all of those. The calling process becomes a child subreaper
//!   (`PR_SET_CHILD_SUBREAPER`, for the **whole process**: orphans of any of its
//!   children are reparented to it), so orphaned members stay visible; corral reaps the
//!   orphans that are members. A process escapes if it leaves the group, clears its
//!   environment and loses its parent before any call looked — or if the creator exits
//!   (unless the job is kill-on-close: then its members die with it, below).
//! - [`Job::terminate`] kills in rounds (pidfds, start times checked) until a scan finds
//!   no member; [`Job::freeze`] is `SIGSTOP` rounds and [`Job::thaw`] `SIGCONT`, which
//!   members can notice and undo; [`Job::wait_empty`] waits on pidfds and rescans.
//! - Limits: the per-process ones (rlimits, priority class, affinity) and the job CPU
//!   time watcher; the others fail with [`ErrorKind::Unsupported`] naming them.
//!   [`Job::accounting`] gives CPU times (exited orphans through their `rusage`, spawned
//!   children through the last scan that saw them) and process counts only.
//! - The job is known only to the creating process ([`Job::open`], [`Job::list`]);
//!   [`Job::events`] are best-effort (see [`crate::job_events`]).
//! - [`kill_on_close`](crate::JobBuilder::kill_on_close) acts when the **last** handle
//!   (created or opened — all are in the creating process) is dropped: it terminates the
//!   job as [`Job::terminate`] does. For the creator's death a guard process is forked
//!   that the creator keeps told of the membership (known members, their process groups;
//!   it knows the marker); when the creator exits — `SIGKILL` included — or `exec`s, the
//!   guard stops and then kills, through pidfds checked against start times, every
//!   process the same rules find in `/proc`, in rounds until three scans find none. What
//!   the rules miss escapes it too. (A child spawned into such a job tells the guard its
//!   pid itself right after `fork`, before it has the marker: its spawn takes std's
//!   `fork` path rather than `posix_spawn`.)

use std::time::Duration;

use crate::info::CgroupMembership;
use crate::job_limits::{JobAccounting, JobLimits, LimitSupport};
use crate::sys::imp;
use crate::{Error, ErrorKind, Process, Result};

/// What a process joining a job gets: rlimits, priority class, CPUs.
pub(crate) type MemberSettings = (
    Vec<(crate::Resource, crate::Rlimit)>,
    Option<crate::PriorityClass>,
    Option<Vec<usize>>,
);

/// The prefix of every cgroup (Linux) or Job Object (Windows) corral creates for a job.
#[cfg_attr(feature = "force-unsupported", allow(dead_code))]
pub(crate) const JOB_PREFIX: &str = "corral-";

/// The longest job name accepted, in bytes.
pub const MAX_JOB_NAME: usize = 64;

/// A group of processes handled as one: members, kill-all, freeze/thaw, wait-until-empty.
///
/// Dropping a `Job` removes the job when it is the last handle of the job (in any
/// process: [`Job::create`] and [`Job::open`] handles count alike) and the job has no
/// members at that moment — as Windows deletes a job object with its last handle. A job
/// that still has members, or that another handle still holds, is left in place (find it
/// again with [`Job::open`]) — unless it was created with
/// [`kill_on_close`](crate::JobBuilder::kill_on_close): then dropping the creating
/// handle, or the death of the process that created it (even by `SIGKILL`), kills every
/// member and removes it, whoever else holds a handle. (Linux process-group fallback:
/// the last handle's drop, or the creator's death; see the module docs.)
///
/// # Platform-specific behavior
///
/// Linux: each handle holds the primary cgroup's directory (v2, else v1 `freezer`/`pids`)
/// open with a shared `flock`; the kernel releases it when the handle is dropped or its
/// process dies, however. The drop lets go of its own lock, and only when it can then
/// lock the directory exclusively (no other handle) and `cgroup.procs` is empty does it
/// `rmdir` each of the job's cgroups (v1 first, v2 last), retrying briefly while the
/// kernel still reports them busy. Errors are ignored. A handle's descriptor is
/// close-on-exec, but a child forked without `exec` shares it, and the lock with it:
/// a drop that finds the lock held retries for up to ~100 ms (the moment between another
/// thread's `fork` and `exec`) before it leaves the job to the other handle.
#[derive(Debug)]
pub struct Job {
    // Declared first so they stop (and let go of the cgroups) before `inner` drops.
    watcher: Option<crate::job_limits::Watcher>,
    notifier: Option<crate::job_limits::Notifier>,
    /// The limits set through this handle (the kernel keeps only some of them).
    limits: JobLimits,
    inner: imp::Job,
    /// The event watchers of this handle to tell when its watcher hits the CPU time limit.
    cpu_limit: std::sync::Arc<crate::job_limits::CpuLimitSignal>,
    /// Kill-on-close: the guard that kills the job when this handle or its process goes.
    guard: Option<imp::JobGuard>,
    /// The job's (user, kernel) time when this handle last set a job CPU time limit: the
    /// start of the accounting period (`None`: the job's creation).
    period_base: Option<(Duration, Duration)>,
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            g.close(&self.inner);
        }
        // Then `inner`'s own drop removes the job if it is (now) empty.
    }
}

/// Where a process is, job-wise: the job's name and the process's cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// The job's name (without the `corral-` prefix of its cgroups).
    pub name: String,
    /// Every cgroup the process is in, one per hierarchy.
    pub cgroups: Vec<CgroupMembership>,
}

/// What holds a job's processes together.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JobBackend {
    /// No job backend on this platform.
    #[default]
    None,
    /// Linux: cgroups (v2 and/or v1) below the caller's own — kernel-kept membership.
    Cgroup,
    /// Linux without a writable cgroup: a process-group + subreaper job whose membership
    /// corral reconstructs from `/proc`, with weaker guarantees (see the module docs).
    ProcessGroup,
    /// Windows: a Job Object.
    JobObject,
}

/// What jobs can do on this machine.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// What a job created now is made of (Linux: cgroups, or the process-group fallback
    /// where no cgroup is writable).
    pub backend: JobBackend,
    /// Jobs can be created and hold processes.
    pub membership: bool,
    /// Linux: the cgroup v2 hierarchy is mounted and writable by this process.
    pub v2: bool,
    /// All members can be killed in one step (Linux: v2 `cgroup.kill`, 5.14+); otherwise
    /// [`Job::terminate`] freezes, kills each member, and thaws.
    pub kill: bool,
    /// [`Job::freeze`] works (Linux: v2 `cgroup.freeze`, 5.2+, or the v1 freezer).
    pub freeze: bool,
    /// The OS notifies changes (Linux: v2 `cgroup.events`), so waits need no polling.
    pub events: bool,
    /// [`JobBuilder::kill_on_close`](crate::JobBuilder::kill_on_close) works: the job dies
    /// with its last handle and with the process that created it, `SIGKILL` included
    /// (Windows: natively; Linux: through a guard process — exact for cgroup jobs, as
    /// good as the membership rules for the process-group fallback, see
    /// [`notes`](Capabilities::notes)).
    pub kill_on_close: bool,
    /// Linux: the v1 controllers a job joins (of `freezer`, `pids`, `memory`, `cpuacct`,
    /// `blkio`; `cpu` and `cpuset` only when a limit needs them).
    pub v1_controllers: Vec<String>,
    /// Whether and how each limit of [`JobLimits`] can be enforced here.
    pub limits: Vec<LimitSupport>,
    /// Why something is missing, for people.
    pub notes: Vec<String>,
}

/// Checks a job name: 1–64 bytes of `[A-Za-z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let bad = |d: String| Err(Error::new(ErrorKind::InvalidInput, "job name").with_detail(d));
    if name.is_empty() {
        return bad("the job name is empty".into());
    }
    if name.len() > MAX_JOB_NAME {
        return bad(format!(
            "the job name is {} bytes long, more than {MAX_JOB_NAME}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return bad(format!("{name:?} is not a valid job name"));
    }
    if name.contains('\0') {
        return bad("the job name contains a NUL byte".into());
    }
    if name.contains('/') {
        return bad(format!("the job name {name:?} contains '/'"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return bad(format!(
            "the job name {name:?} contains {c:?}; only A-Z a-z 0-9 . _ - are allowed"
        ));
    }
    Ok(())
}

impl Job {
    /// Creates a new, empty job named `name`, or with a generated unique name.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a bad name (empty, longer than [`MAX_JOB_NAME`]
    /// bytes, `.`/`..`, or a byte outside `[A-Za-z0-9._-]`) or a name already in use — by
    /// a job below the same cgroups or one nested inside such a job, as [`Job::open`]
    /// would find it (use that). Nothing is left behind on failure.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `mkdir` of `corral-<name>` below the caller's cgroup in the v2 hierarchy and
    /// in each writable v1 hierarchy carrying `freezer`, `pids`, `memory`, `cpuacct` or `blkio`
    /// (hierarchies the caller may not write are skipped). A v1 `cpuset` cgroup, should
    /// one be created, gets `cpuset.cpus` and `cpuset.mems` copied from its parent.
    /// Where no hierarchy has room (none mounted, or each `mkdir` refused with
    /// `EACCES`/`EPERM`/`EROFS`), a process-group job instead (see the module docs).
    pub fn create(name: Option<&str>) -> Result<Job> {
        if let Some(n) = name {
            validate_name(n)?;
        }
        imp::Job::create(name).map(Job::wrap)
    }

    fn wrap(inner: imp::Job) -> Job {
        Job {
            watcher: None,
            notifier: None,
            limits: JobLimits::default(),
            inner,
            cpu_limit: Default::default(),
            guard: None,
            period_base: None,
        }
    }

    /// Creates a job with limits, all or nothing: if one limit cannot be enforced, no job
    /// is left behind.
    ///
    /// # Errors
    ///
    /// As [`Job::create`] and [`Job::set_limits`]; on any error the job is removed.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: besides the cgroups of [`Job::create`], joins the v1 `cpu` and `cpuset`
    /// hierarchies when a CPU-rate/weight or affinity limit needs them.
    pub fn create_with_limits(name: Option<&str>, limits: &JobLimits) -> Result<Job> {
        limits.validate()?;
        let mut job = Job::create(name)?;
        // On error `job` drops here, empty, and its cgroups are removed.
        job.set_limits(limits)?;
        Ok(job)
    }

    /// Sets the job's limits (Windows: `SetInformationJobObject`), all or nothing.
    ///
    /// Kernel-kept limits given as `None` keep their current value. The limits kept by
    /// this handle are replaced (`None` removes them): per-process limits (memory, CPU
    /// time), the priority class and the affinity apply to processes spawned into
    /// ([`Command::job`](crate::Command::job)) or assigned to the job from now on; the job
    /// CPU time (user + kernel time of all members, past ones included — Windows counts
    /// user time) is enforced by a watcher thread of this process while this handle
    /// lives, restarted with the new budget. Setting a job CPU time limit starts a new
    /// accounting period, as on Windows: the budget counts the time used from this call
    /// on (see [`JobAccounting::this_period_user`]), the time used before is not held
    /// against it — calling `set_limits` again with the same limit grants it afresh.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a bad value (`0`, a rate outside (0, 1], more CPUs
    /// than online, a working-set minimum above the maximum, a device the kernel does not
    /// know …); [`ErrorKind::Unsupported`] naming the limit and the reason when this
    /// machine cannot enforce it (see [`Job::capabilities`]). Nothing changes on error.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: see the table in [`JobLimits`]'s module docs: cgroup files for the kernel
    /// limits (v2 controllers are enabled in the caller's `cgroup.subtree_control` when
    /// needed, which cgroup v2 allows only if the caller's cgroup holds no processes or
    /// is the root), rlimits / scheduling class / `sched_setaffinity` for per-process
    /// ones. Joining the v1 `cpu`/`cpuset` hierarchies is possible only while the job is
    /// empty.
    ///
    /// Windows: one `SetInformationJobObject` of `JOBOBJECT_EXTENDED_LIMIT_INFORMATION`
    /// (and one of `JOBOBJECT_CPU_RATE_CONTROL_INFORMATION` when a CPU rate or weight is
    /// given or changes, undoing the first if it fails). The kernel keeps every limit and
    /// applies the per-process ones, the priority class and the affinity to current
    /// members too. The job and process CPU times count user time only (as Windows
    /// does); a weight maps to Windows' 1–9 as 5 + 2·log10(weight/100); a working set
    /// needs both bounds (per process); a CPU weight cannot be combined with a rate, and
    /// I/O rates are `Unsupported` (see [`Job::capabilities`]).
    pub fn set_limits(&mut self, limits: &JobLimits) -> Result<()> {
        limits.validate()?;
        if let Some(a) = &limits.affinity {
            let n = crate::system::topology()
                .map(|t| t.logical_cpus())
                .unwrap_or(usize::MAX);
            if let Some(c) = a.iter().find(|&&c| c >= n) {
                return Err(Error::new(ErrorKind::InvalidInput, "set job limits")
                    .with_detail(format!("affinity: CPU {c} does not exist ({n} CPUs)")));
            }
        }
        // The period starts when the limit is set: the times before are not counted.
        let base = match limits.job_cpu_time {
            Some(_) => {
                let a = self.inner.accounting()?;
                Some((
                    a.user_time.unwrap_or_default(),
                    a.kernel_time.unwrap_or_default(),
                ))
            }
            None => self.period_base,
        };
        self.inner.set_limits(limits)?;
        self.watcher = None;
        self.period_base = base;
        if let Some(t) = limits.job_cpu_time {
            self.watcher = Some(crate::job_limits::Watcher::start(
                self.inner.view(),
                t,
                self.cpu_limit.clone(),
            )?);
        }
        self.limits = limits.clone();
        Ok(())
    }

    /// Sets the job's notification-only limits (Windows: `SetInformationJobObject` with
    /// `JobObjectNotificationLimitInformation`), replacing those set before through this
    /// handle (empty limits: none). When the job crosses one, every [`Job::events`]
    /// stream of this handle gets [`JobEvent::NotificationLimit`](crate::JobEvent::NotificationLimit)
    /// once; nothing is killed. They are watched while this handle lives.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a `0` value; [`ErrorKind::Unsupported`] naming the
    /// limit when the job has no counter for it (no memory or I/O controller).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: a thread of this process, woken by the kernel for the job memory on cgroup
    /// v1 (a memory threshold) and sampling otherwise, see
    /// [`JobNotificationLimits`](crate::JobNotificationLimits) for what is exact and what
    /// is sampled. Windows: not implemented yet (the same thread samples).
    pub fn set_notification_limits(&mut self, limits: &crate::JobNotificationLimits) -> Result<()> {
        limits.validate()?;
        self.notifier = None;
        if !limits.is_empty() {
            self.notifier = Some(crate::job_limits::Notifier::start(
                self.inner.view(),
                limits,
                self.cpu_limit.clone(),
            )?);
        }
        Ok(())
    }

    /// The job's limits: those the kernel keeps (any handle sees them) and those set
    /// through this handle (per-process limits, priority class, job CPU time).
    ///
    /// # Errors
    ///
    /// When the job's control files cannot be read.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: a CPU quota reads back as [`JobLimits::cpus`] (cores), unless this handle
    /// set it as a [`JobLimits::cpu_rate`]; a weight of 100 (the default) and cpusets
    /// equal to the parent's read as `None`.
    pub fn limits(&self) -> Result<JobLimits> {
        let mut l = self.inner.limits()?;
        l.merge_handle_kept(&self.limits);
        Ok(l)
    }

    /// What the job has used, members that already exited included
    /// (Windows: `QueryInformationJobObject`) basic and I/O accounting.
    ///
    /// # Errors
    ///
    /// When the member list cannot be read.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: see [`JobAccounting`].
    pub fn accounting(&self) -> Result<JobAccounting> {
        let mut a = self.inner.accounting()?;
        a.cpu_time_limit_hit = self.watcher.as_ref().is_some_and(|w| w.hit());
        let (bu, bk) = self.period_base.unwrap_or_default();
        a.this_period_user = a.user_time.map(|t| t.saturating_sub(bu));
        a.this_period_kernel = a.kernel_time.map(|t| t.saturating_sub(bk));
        Ok(a)
    }

    /// Whether this handle's watcher terminated the job at its CPU time limit.
    pub fn cpu_time_limit_hit(&self) -> bool {
        self.watcher.as_ref().is_some_and(|w| w.hit())
    }

    /// The names of the jobs below the calling process's cgroups.
    ///
    /// # Errors
    ///
    /// When the cgroup directory cannot be read.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: the `corral-*` directories below the caller's v2 cgroup (else its v1
    /// `freezer`/`pids` cgroup) and the jobs nested inside them, and this process's own
    /// process-group fallback jobs (those of other processes cannot be seen).
    ///
    /// Windows: the `corral-*` Job Objects in the caller's session's named-object
    /// directory (`\Sessions\N\BaseNamedObjects`), those [`Job::open`] reaches. A job
    /// stays listed while any handle or member keeps its object alive; an exited
    /// member releases it shortly after its exit.
    pub fn list() -> Result<Vec<String>> {
        imp::list_jobs()
    }

    /// Every job on the machine, wherever it sits in the cgroup tree, as far as this
    /// process can see: name and cgroup (read-only: [`Job::open`] reaches only jobs
    /// below the caller's own cgroups).
    ///
    /// # Errors
    ///
    /// When the mount table cannot be read.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: walks the cgroup v2 mount (else the v1 `freezer`/`pids` one) for
    /// directories named `corral-*`, at most 32 levels deep.
    ///
    /// Windows: the `corral-*` Job Objects of every session's named-object directory
    /// the caller may read (`\BaseNamedObjects` for session 0); each [`JobRef`] has one
    /// entry whose `path` is that directory (hierarchy 0, no controllers).
    pub fn list_all() -> Result<Vec<JobRef>> {
        Ok(imp::list_all_jobs()?
            .into_iter()
            .map(|(name, cg)| JobRef {
                name,
                cgroups: vec![cg],
            })
            .collect())
    }

    /// The per-process settings a member gets: rlimits, priority class, CPUs.
    pub(crate) fn member_settings(&self) -> MemberSettings {
        if imp::JOB_KEEPS_MEMBER_LIMITS {
            // The OS applies them to every member (Windows Job Objects).
            return (Vec::new(), None, None);
        }
        (
            self.limits.member_rlimits(),
            self.limits.priority_class,
            self.limits.affinity.clone(),
        )
    }

    /// Opens an existing job by name (one created by this or another process below the
    /// same cgroups, a job nested inside one of those, or the job the caller itself is
    /// in).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a bad name, when no such job exists, and when
    /// several jobs hold a nested job of that name (the message names them).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: looks for the directory `corral-<name>` below the caller's cgroup in each
    /// hierarchy [`Job::create`] uses, else among the ancestors of the caller's cgroup (a
    /// member opening its own job), else inside the jobs below (through `corral-*`
    /// directories only, as Windows' job names are one namespace, nested or not).
    /// A process-group fallback job is found only within the process that created it.
    ///
    /// Windows: the Job Object `corral-<name>` of the caller's session; where that has
    /// none, the one another session's named objects hold (a service's job, say, opened
    /// as `Global\…` or `Session\N\…`), and an error naming the sessions where several
    /// do.
    pub fn open(name: &str) -> Result<Job> {
        validate_name(name)?;
        imp::Job::open(name).map(Job::wrap)
    }

    /// The job's name (without the `corral-` prefix of its cgroups).
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Puts a running process into the job; its future children are born in it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process exited (before or during the call);
    /// [`ErrorKind::AccessDenied`] without the privilege to move it.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: writes the pid to `cgroup.procs` of the job's v2 cgroup and of each of its
    /// v1 cgroups, checking through the pidfd that the process is alive before and after.
    /// If it died between the checks, the pid may have been reused and the newcomer
    /// moved: the call then reports `NoSuchProcess`.
    pub fn assign(&self, process: &Process) -> Result<()> {
        self.inner.assign(process.handle())?;
        let (rlimits, class, cpus) = self.member_settings();
        for (r, l) in rlimits {
            process.set_rlimit(r, l)?;
        }
        if let Some(c) = class {
            process.set_priority_class(c)?;
        }
        if let Some(c) = cpus {
            process.set_cpu_affinity(&c)?;
        }
        Ok(())
    }

    /// The processes in the job now, those of jobs nested in it included (as Windows
    /// lists a job's processes with its child jobs'); members that exit meanwhile are
    /// left out.
    ///
    /// # Errors
    ///
    /// When the member list cannot be read (the job was removed, say).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: reads `cgroup.procs` of the v2 cgroup (else of the v1 `freezer`, else
    /// `pids` cgroup) and of every cgroup below it (nested jobs), opens each pid and keeps
    /// it only if `/proc/PID/cgroup` shows it in the job (or below) after opening, so a
    /// reused pid never sneaks in.
    pub fn processes(&self) -> Result<Vec<Process>> {
        let mut out = Vec::new();
        for pid in self.inner.pids()? {
            let Some(pid) = crate::Pid::new(pid) else {
                continue;
            };
            let Ok(p) = Process::open(pid) else { continue };
            if let Ok(true) = self.inner.contains(p.handle()) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Whether `process` is in the job, directly or through a job nested in it (Windows:
    /// `IsProcessInJob`, which says so for every job of the chain).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: compares `/proc/PID/cgroup` with the job's v2 (else v1 `freezer`/`pids`)
    /// cgroup: that cgroup or one below it.
    pub fn contains(&self, process: &Process) -> Result<bool> {
        self.inner.contains(process.handle())
    }

    /// Whether the job has no members now.
    ///
    /// # Errors
    ///
    /// When the member list cannot be read.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: `cgroup.procs` of the v2 (else v1 `freezer`/`pids`) cgroup and of every
    /// cgroup below it (nested jobs) are empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.inner.pids()?.is_empty())
    }

    /// Kills every member at once and waits until the job is empty.
    ///
    /// Members cannot escape by forking meanwhile.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AccessDenied`] without the privilege; OS errors writing the control
    /// files.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: writes `1` to `cgroup.kill` (v2, 5.14+). Otherwise freezes the job (see
    /// [`Job::freeze`]), sends `SIGKILL` through a pidfd to each member (checked to be a
    /// member after opening), thaws; without any freezer, repeats kill rounds until a
    /// round finds nobody. Then waits as [`Job::wait_empty`] does, and where it signalled
    /// the members itself, on their pidfds too: a killed process leaves its cgroup early in
    /// its exit, before it is a zombie, so after `cgroup.kill` a member's pid may still
    /// show as running in `/proc` for a moment, in the kernel's exit path (it runs none of
    /// its own code again).
    pub fn terminate(&self) -> Result<()> {
        self.inner.terminate()
    }

    /// Stops every member (they cannot run, fork or exit on their own) and returns once
    /// the OS reports the job frozen.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] without a freezer; [`ErrorKind::Timeout`] if the job is
    /// not frozen within 30 s (a member stuck in the kernel).
    ///
    /// # Platform-specific behavior
    ///
    /// Linux v2: writes `1` to `cgroup.freeze` and waits for `frozen 1` in
    /// `cgroup.events` (`poll` for `POLLPRI`, no sleeping). v1: writes `FROZEN` to
    /// `freezer.state` and rereads it (1–20 ms backoff) until it says `FROZEN`.
    /// Unlike `SIGSTOP`, members cannot notice or undo it.
    /// Windows has no job freezer: `NtSuspendProcess` on each member, listing the
    /// members again after each round until a round finds none left to suspend (a
    /// process created between rounds is caught by the next). A member resumed by
    /// someone else (`NtResumeProcess`, `ResumeThread`) runs again, and
    /// [`Job::is_frozen`] of this handle reports what it did.
    pub fn freeze(&self) -> Result<()> {
        self.inner.freeze()
    }

    /// Lets a frozen job run again.
    ///
    /// # Errors
    ///
    /// As [`Job::freeze`].
    ///
    /// # Platform-specific behavior
    ///
    /// Linux v2: writes `0` to `cgroup.freeze` and waits for `frozen 0` in
    /// `cgroup.events`. v1: writes `THAWED` to `freezer.state`. Windows: resumes the
    /// members this handle suspended, last first; a handle that froze nothing (from
    /// [`Job::open`]) resumes every member once.
    pub fn thaw(&self) -> Result<()> {
        self.inner.thaw()
    }

    /// Whether the job is frozen now.
    ///
    /// # Errors
    ///
    /// When the state cannot be read.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux v2: `frozen 1` in `cgroup.events`; v1: `FROZEN` in `freezer.state`.
    /// Windows: this handle froze the job and every current member is one it suspended;
    /// for a job this handle did not freeze (another process ran `freeze`), every member
    /// has all its threads waiting suspended (`SystemProcessInformation` wait reasons).
    pub fn is_frozen(&self) -> Result<bool> {
        self.inner.is_frozen()
    }

    /// Waits until the job has no members, at most `timeout` (`None`: no limit).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] if members remain at the deadline.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux v2: waits for `populated 0` in `cgroup.events` (`poll` for `POLLPRI`). v1:
    /// waits on the members' pidfds (one epoll), then lists again, until a listing is
    /// empty.
    pub fn wait_empty(&self, timeout: Option<Duration>) -> Result<()> {
        self.inner.wait_empty(timeout)
    }

    /// Pages out what the job's members hold resident (the job-wide
    /// `SetProcessWorkingSetSize(-1, -1)` case) and reports how much went.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`] when neither a job-wide reclaim nor trimming the
    /// members one by one is possible here (the error of the first member says why);
    /// [`ErrorKind::AccessDenied`] without the privilege; OS errors writing the control
    /// file. Members that exit meanwhile are skipped.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux, cgroup v2 with the memory controller (Linux 5.19+): writes the job's
    /// `memory.current` to its `memory.reclaim` in one step, so the kernel reclaims
    /// file and (with swap) anonymous pages of the whole cgroup, and reports
    /// `memory.current` before and after; a partial reclaim (`EAGAIN`) is not an error.
    /// Otherwise (cgroup v1, whose `memory` controller has no reclaim on demand for a
    /// populated cgroup, or no memory controller): trims each member with
    /// [`Process::trim_memory`] and sums their resident sets before and after.
    /// Windows: each member, as [`Process::trim_memory`] does there.
    pub fn trim_memory(&self) -> Result<crate::JobTrimReport> {
        if let Some((before, after)) = self.inner.reclaim()? {
            return Ok(crate::JobTrimReport {
                before,
                after,
                reclaimed: true,
                members: 0,
            });
        }
        let mut r = crate::JobTrimReport {
            before: 0,
            after: 0,
            reclaimed: false,
            members: 0,
        };
        for p in self.processes()? {
            match p.trim_memory() {
                Ok(t) => {
                    r.before += t.rss_before;
                    r.after += t.rss_after;
                    r.members += 1;
                }
                Err(e) if matches!(e.kind(), ErrorKind::NoSuchProcess | ErrorKind::Zombie) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(r)
    }

    /// The job `process` is in, if any (read-only: works for jobs of other processes).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchProcess`] if the process is gone.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: reads `/proc/PID/cgroup`; a job is a cgroup whose last component starts
    /// with `corral-`, in the v2 hierarchy or a v1 `freezer`/`pids`/`memory`/`cpuacct`/`blkio`
    /// one.
    ///
    /// Windows: no call names a process's jobs, so each `corral-*` job is asked
    /// (`IsProcessInJob`): those of the process's own session first, then the caller's,
    /// then every other session whose named objects this process may read (each opened
    /// as `Global\…` or `Session\N\…`); a process in nested jobs is in all of them, and
    /// the one with the fewest active processes — the innermost — is returned, with its
    /// session's named-object directory as the path. Job Objects not made by corral are
    /// not seen.
    pub fn of(process: &Process) -> Result<Option<JobRef>> {
        Ok(imp::job_of(process.handle())?.map(|(name, cgroups)| JobRef { name, cgroups }))
    }

    /// The job the calling process is in, if any.
    ///
    /// # Errors
    ///
    /// As [`Job::of`].
    pub fn current() -> Result<Option<JobRef>> {
        Job::of(&Process::current()?)
    }

    /// What jobs can do on this machine, for this process.
    ///
    /// # Platform-specific behavior
    ///
    /// Linux: from `/proc/self/mountinfo`, `/proc/self/cgroup`, whether a cgroup can be
    /// made below the caller's own — asked as [`Job::create`] does: permission with the
    /// effective ids, then a probe directory `corral.probe.<pid>.<n>` made and removed at
    /// once, so the answer and `create` agree — the presence of `cgroup.kill`/`cgroup.freeze` there
    /// (or the kernel version when the caller is in a root cgroup, which lacks them).
    pub fn capabilities() -> Capabilities {
        let mut c = imp::job_capabilities();
        c.limits = imp::limit_support();
        c
    }

    /// What holds this job together: cgroups, or (Linux, no writable cgroup) the
    /// process-group fallback with its weaker guarantees.
    pub fn backend(&self) -> JobBackend {
        self.inner.backend()
    }

    /// Testing only: creates a process-group fallback job (as an unprivileged caller
    /// without a writable cgroup gets) even where cgroups are writable, so the fallback
    /// runs on any machine. Not part of the stable API.
    ///
    /// # Errors
    ///
    /// As [`Job::create`].
    #[doc(hidden)]
    pub fn __create_fallback_for_testing(name: Option<&str>) -> Result<Job> {
        if let Some(n) = name {
            validate_name(n)?;
        }
        imp::Job::create_fallback(name).map(Job::wrap)
    }

    /// Testing only: creates a job without the v2 hierarchy (`use_v2 = false`) or acting
    /// as if `cgroup.kill` were missing (`use_kill = false`), to run the fallbacks of
    /// v1-only and older kernels on any machine. Not part of the stable API.
    ///
    /// # Errors
    ///
    /// As [`Job::create`].
    #[doc(hidden)]
    pub fn __create_for_testing(name: Option<&str>, use_v2: bool, use_kill: bool) -> Result<Job> {
        if let Some(n) = name {
            validate_name(n)?;
        }
        imp::Job::create_with(name, use_v2, use_kill).map(Job::wrap)
    }

    /// Builds a job from its backend parts (the builder's way in).
    pub(crate) fn from_parts(inner: imp::Job, guard: Option<imp::JobGuard>) -> Job {
        let mut job = Job::wrap(inner);
        job.guard = guard;
        job
    }

    /// The list of event watchers to tell when this handle's CPU-time watcher fires.
    pub(crate) fn cpu_limit_signal(&self) -> &crate::job_limits::CpuLimitSignal {
        &self.cpu_limit
    }

    /// The backend job.
    pub(crate) fn inner_job(&self) -> &imp::Job {
        &self.inner
    }

    /// Whether the job is killed when this handle is dropped or its process dies.
    pub fn kills_on_close(&self) -> bool {
        self.guard.is_some()
    }

    /// Testing only: the pid of the kill-on-close guard process. Not part of the stable
    /// API.
    #[doc(hidden)]
    pub fn __guard_pid(&self) -> Option<u32> {
        self.guard.as_ref().map(|g| g.pid())
    }

    pub(crate) fn spawn_target(&self) -> imp::JobSpawn {
        self.inner.spawn_target()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "build-1", "x.y_z", &"n".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\0b", "a b", "é", &"n".repeat(65)] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.detail().is_some());
        }
    }
}
