//! The Windows backend (x86_64-pc-windows-gnu and -msvc): process handles plus creation
//! times for identity, Toolhelp32 for enumeration, `TerminateProcess` and
//! `WaitForMultipleObjects` for control, std's `CreateProcessW` with corral's argument
//! quoting for spawning. What is not implemented yet returns
//! [`ErrorKind::Unsupported`] with a detail saying so (issue #8 tracks the rest).

mod argv;
mod console;
mod control;
mod gui;
mod inspect;
mod job;
mod job_events;
mod job_limits;
mod job_list;
mod memory;
mod net;
mod process;
mod snapshot;
mod spawn;
mod status;
mod system;
mod thread;
mod topology;
mod tune;
mod util;

use crate::info::*;
use crate::{Error, ErrorKind, Result};

pub(crate) use super::notify_channel::{NotifyStop, NotifyWait};
pub(crate) use control::wait_many;
pub(crate) use gui::{request_stop, window_owner, windows_of};
pub(crate) use job::{
    job_capabilities, job_of, limit_support, Job, JobGuard, JobSpawn, JobView,
    JOB_KEEPS_MEMBER_LIMITS,
};
pub(crate) use job_events::JobWatch;
pub(crate) use job_list::{list_all_jobs, list_jobs};
pub(crate) use process::Handle;
pub(crate) use snapshot::{pid_count, snapshot};
pub(crate) use spawn::{
    block_forwarded, exec, forward_signals, push_arg, spawn, std_exit_status, ForwardGuard,
    SpawnExtra, SpawnedChild,
};
pub(crate) use system::{
    boot_time_secs, cpu_freq, cpu_stats, cpu_times_all, swap_memory, total_memory, uptime, users,
    virtual_memory,
};
pub(crate) use thread::ThreadHandle;
pub(crate) use topology::topology;
pub(crate) use util::{error_kind_of, wine_version};

fn unsupported<T>(op: &'static str) -> Result<T> {
    Err(Error::new(ErrorKind::Unsupported, op).with_detail("not implemented on Windows yet"))
}

/// The start time of an open process: its creation time.
pub(crate) fn start_time_of(h: &Handle) -> Result<StartTime> {
    Ok(StartTime {
        wall: util::ticks_to_system_time(h.start_ticks),
        raw: h.start_ticks,
    })
}

pub(crate) fn account(_: &str) -> Result<Option<crate::system::Account>> {
    unsupported("look up user")
}

pub(crate) fn group_id(_: &str) -> Result<Option<u32>> {
    unsupported("look up group")
}

/// Fork events (Windows has none; job objects report new members instead).
#[derive(Debug)]
pub(crate) struct ForkWatch;

impl ForkWatch {
    pub(crate) fn new() -> Option<ForkWatch> {
        None
    }
    pub(crate) fn drain(&mut self, _: &mut Vec<(u32, u32)>) {}
    pub(crate) fn lost_events(&self) -> bool {
        true
    }
}

/// Windows has no per-process descriptor count limit to budget against.
pub(crate) fn open_fd_count() -> Option<usize> {
    None
}

pub(crate) fn raise_fd_limit() -> Result<u64> {
    unsupported("raise open-file limit")
}

pub(crate) fn user_id(_: &str) -> Result<Option<u32>> {
    unsupported("look up user")
}

pub(crate) fn user_name(_: u32) -> Option<String> {
    None
}

pub(crate) fn load_average() -> Result<crate::system::LoadAverage> {
    Err(Error::new(ErrorKind::Unsupported, "read load average")
        .with_detail("Windows keeps no load average"))
}

impl Handle {
    pub(crate) fn uids(&self) -> Result<Ids> {
        unsupported("read uids")
    }
    pub(crate) fn gids(&self) -> Result<Ids> {
        unsupported("read gids")
    }
    pub(crate) fn terminal(&self) -> Result<Option<String>> {
        unsupported("read terminal")
    }
    pub(crate) fn cpu_num(&self) -> Result<u32> {
        unsupported("read cpu_num")
    }
    pub(crate) fn nice(&self) -> Result<i32> {
        unsupported("read nice")
    }
    pub(crate) fn set_nice(&self, _: i32) -> Result<()> {
        unsupported("set nice")
    }
    pub(crate) fn rlimit(&self, _: Resource) -> Result<Rlimit> {
        unsupported("read rlimit")
    }
    pub(crate) fn set_rlimit(&self, _: Resource, _: Rlimit) -> Result<()> {
        unsupported("set rlimit")
    }
    /// The sum over the process's threads (`SystemProcessInformation`; see `status.rs`).
    pub(crate) fn ctx_switches(&self) -> Result<CtxSwitches> {
        let op = "read context switches";
        self.verify(op, false)?;
        let all = status::threads()?;
        let rows = all
            .get(&self.pid.as_raw())
            .ok_or_else(|| Error::new(ErrorKind::NoSuchProcess, op).with_pid(self.pid))?;
        Ok(status::process_ctx_switches(rows))
    }
    pub(crate) fn open_files(&self) -> Result<Vec<OpenFile>> {
        unsupported("read open_files")
    }
    pub(crate) fn group_info(&self) -> Result<ProcessGroupInfo> {
        unsupported("read process group")
    }
    pub(crate) fn cgroups(&self) -> Result<Vec<CgroupMembership>> {
        unsupported("read cgroups")
    }
}

/// A start stamp (FILETIME ticks) as a start time.
pub(crate) fn start_time_at_ticks(ticks: u64) -> Result<StartTime> {
    Ok(StartTime {
        wall: util::ticks_to_system_time(ticks),
        raw: ticks,
    })
}

pub(crate) fn real_uid() -> u32 {
    u32::MAX
}

pub(crate) fn who_nice(_: crate::sched::Who, op: &'static str) -> Result<i32> {
    unsupported(op)
}

pub(crate) fn set_who_nice(_: crate::sched::Who, _: i32, op: &'static str) -> Result<()> {
    unsupported(op)
}

pub(crate) fn who_ionice(_: crate::sched::Who, op: &'static str) -> Result<IoPriority> {
    unsupported(op)
}

pub(crate) fn set_who_ionice(_: crate::sched::Who, _: IoPriority, op: &'static str) -> Result<()> {
    unsupported(op)
}

/// Breakaway needs no placement on Windows: the spawn passes `CREATE_BREAKAWAY_FROM_JOB`
/// and Windows checks the job's `JOB_OBJECT_LIMIT_BREAKAWAY_OK`.
pub(crate) fn breakaway_target() -> Result<Option<JobSpawn>> {
    Ok(None)
}
