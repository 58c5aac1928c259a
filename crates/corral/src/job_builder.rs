//! [`JobBuilder`]: options of a new [`Job`] — its name and kill-on-close.

use crate::job::validate_name;
use crate::sys::imp;
use crate::{Job, JobLimits, Result};

/// Options for creating a [`Job`]; start with [`Job::builder`].
///
/// # Examples
///
/// ```no_run
/// use corral::{Command, Job};
/// let job = Job::builder().name("build").kill_on_close(true).create()?;
/// Command::new("make").job(&job).spawn()?;
/// // Dropping `job`, or this process dying (even by SIGKILL), kills make and its
/// // compilers and removes the job.
/// drop(job);
/// # Ok::<(), corral::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct JobBuilder {
    name: Option<String>,
    kill_on_close: bool,
    limits: Option<JobLimits>,
    testing: Option<(bool, bool)>,
    fallback: bool,
    v2_only: bool,
}

impl Job {
    /// Starts building a job with options ([`Job::create`] is the short form).
    pub fn builder() -> JobBuilder {
        JobBuilder::default()
    }
}

impl JobBuilder {
    /// The job's name (default: a generated unique one). See [`Job::create`] for the rules.
    pub fn name(mut self, name: &str) -> JobBuilder {
        self.name = Some(name.to_owned());
        self
    }

    /// Kill every member and remove the job when the `Job` is dropped **or the process
    /// that created it dies**, however it dies — `SIGKILL` included [Windows:
    /// `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`].
    ///
    /// # Platform-specific behavior
    ///
    /// Linux has no such primitive; [`create`](JobBuilder::create) starts a small guard
    /// process (named `corral-guard`) outside the job, in a session of its own, that
    /// holds a pidfd of the creating process and one end of a socket pair. When the
    /// process exits, or the `Job` is dropped (or the process `exec`s), the guard kills
    /// the job (`cgroup.kill`, or freeze, `SIGKILL` each member, thaw), removes its
    /// cgroups and exits; `drop` waits for that. The guard runs only raw system calls
    /// after `fork` (no allocation), keeps none of the creator's descriptors, and is
    /// reparented to init, which reaps it. If the guard itself is killed, the protection
    /// is lost (a plain drop still kills the job, in-process).
    ///
    /// Linux without a writable cgroup (the process-group fallback,
    /// [`JobBackend::ProcessGroup`](crate::JobBackend::ProcessGroup)): dropping the **last** handle of the job in
    /// this process terminates it in-process; the guard is told the job's membership as
    /// corral's scans find it and, when the process dies, kills what the same rules find
    /// in `/proc` — as exact as that membership (see
    /// [`Capabilities::kill_on_close`](crate::Capabilities::kill_on_close) and the notes).
    pub fn kill_on_close(mut self, yes: bool) -> JobBuilder {
        self.kill_on_close = yes;
        self
    }

    /// The job's limits, set as [`Job::set_limits`] does before `create` returns (all or
    /// nothing: on error no job is left).
    pub fn limits(mut self, limits: JobLimits) -> JobBuilder {
        self.limits = Some(limits);
        self
    }

    /// Testing only: as [`Job::__create_for_testing`]. Not part of the stable API.
    #[doc(hidden)]
    pub fn __testing(mut self, use_v2: bool, use_kill: bool) -> JobBuilder {
        self.testing = Some((use_v2, use_kill));
        self
    }

    /// Testing only: as [`Job::__create_fallback_for_testing`]. Not part of the stable
    /// API.
    #[doc(hidden)]
    pub fn __testing_fallback(mut self) -> JobBuilder {
        self.fallback = true;
        self
    }

    /// Testing and benchmarks only: the job's cgroups in the v2 hierarchy alone, as on
    /// a pure cgroup v2 machine (Linux; `Unsupported` elsewhere). Not part of the stable
    /// API.
    #[doc(hidden)]
    pub fn __testing_v2_only(mut self) -> JobBuilder {
        self.v2_only = true;
        self
    }

    /// Creates the job.
    ///
    /// # Errors
    ///
    /// As [`Job::create`] and [`Job::set_limits`]; with kill-on-close, also when the
    /// guard process cannot be started. Nothing is left behind on error.
    pub fn create(&self) -> Result<Job> {
        let name = self.name.as_deref();
        if let Some(n) = name {
            validate_name(n)?;
        }
        if let Some(l) = &self.limits {
            l.validate()?;
        }
        let (use_v2, use_kill) = self.testing.unwrap_or((true, true));
        let inner = if self.fallback {
            imp::Job::create_fallback(name)?
        } else if self.v2_only {
            imp::Job::create_v2_only(name)?
        } else {
            imp::Job::create_with(name, use_v2, use_kill)?
        };
        let guard = if self.kill_on_close {
            // On failure `inner` is dropped, which removes the (empty) job.
            Some(imp::JobGuard::start(&inner)?)
        } else {
            None
        };
        let mut job = Job::from_parts(inner, guard);
        if let Some(l) = &self.limits {
            // On error `job` drops: its guard (if any) or its own drop removes it.
            job.set_limits(l)?;
        }
        Ok(job)
    }
}
