//! The Linux backend: procfs readers, pidfd identity, cgroups.

mod cgroup;
mod child;
mod connector;
mod control;
mod fields;
mod job;
mod job_events;
mod job_fallback;
mod job_fallback_guard;
mod job_guard;
mod job_notify;
pub(crate) mod parse;
pub(crate) mod proc;
mod process;
mod snapshot;
mod spawn;
mod system;
mod thread;

pub(crate) use cgroup::{breakaway_target, list_all_jobs};
pub(crate) use connector::ForkWatch;

/// Linux sets per-process job limits (rlimits, class, affinity) on each member itself.
pub(crate) const JOB_KEEPS_MEMBER_LIMITS: bool = false;

pub(crate) use control::wait_many;

/// The first step of a graceful stop: the signal itself on Linux.
pub(crate) fn request_stop(h: &Handle, sig: crate::Signal) -> Result<()> {
    h.send_signal(sig)
}
pub(crate) use child::SpawnedChild;
pub(crate) use fields::{account, group_id, total_memory, uptime, user_id, username as user_name};
pub(crate) use fields::{linux_policy, resource as fields_resource};
pub(crate) use job::{
    capabilities as job_capabilities, job_of, limit_support, list_jobs, Job, JobSpawn, JobView,
    JobWatch,
};
pub(crate) use job_guard::JobGuard;
pub(crate) use job_notify::{NotifyStop, NotifyWait};
pub(crate) use proc::{boot_time_secs, open_fd_count, raise_fd_limit};
pub(crate) use process::Handle;
pub(crate) use snapshot::snapshot;
pub(crate) use spawn::{
    block_forwarded, exec, exit_status as std_exit_status, forward_signals, push_arg, spawn,
    ForwardGuard, SpawnExtra,
};
pub(crate) use system::{
    cpu_freq, cpu_stats, cpu_times_all, load_average, pid_count, swap_memory, topology, users,
    virtual_memory,
};
pub(crate) use thread::{
    real_uid, set_who_ionice, set_who_nice, start_time_at_ticks, who_ionice, who_nice, ThreadHandle,
};

use crate::info::StartTime;
use crate::Result;

/// The start time of an open process.
pub(crate) fn start_time_of(h: &Handle) -> Result<StartTime> {
    fields::start_time_from_ticks(h.start_ticks)
}

/// The kind of an errno that `std::io::ErrorKind` does not already classify.
pub(crate) fn error_kind_of(code: i32) -> Option<crate::ErrorKind> {
    match code {
        libc::ESRCH => Some(crate::ErrorKind::NoSuchProcess),
        libc::ENOSYS | libc::EOPNOTSUPP => Some(crate::ErrorKind::Unsupported),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, ErrorKind};
    use std::io;

    #[test]
    fn errno_classification() {
        let k = |n| Error::from_io("open", io::Error::from_raw_os_error(n)).kind();
        assert_eq!(k(libc::ESRCH), ErrorKind::NoSuchProcess);
        assert_eq!(k(libc::EPERM), ErrorKind::AccessDenied);
        assert_eq!(k(libc::EACCES), ErrorKind::AccessDenied);
        assert_eq!(k(libc::ENOSYS), ErrorKind::Unsupported);
        assert_eq!(k(libc::EOPNOTSUPP), ErrorKind::Unsupported);
        assert_eq!(k(libc::ENOENT), ErrorKind::Os);
    }
}
