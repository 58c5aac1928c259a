//! The Windows backend (x86_64-pc-windows-gnu and -msvc): process handles plus creation
//! times for identity, Toolhelp32 for enumeration, `TerminateProcess` and
//! `WaitForMultipleObjects` for control, corral's own `CreateProcessW` (argument quoting,
//! environment block, handle and job lists) for spawning. What Windows does not have (numeric user ids, nice values,
//! rlimits, terminals, process groups, cgroups) returns [`ErrorKind::Unsupported`] with a
//! detail saying what it has instead.

mod argv;
mod console;
mod control;
mod files;
mod groups;
mod gui;
mod inspect;
mod job;
mod job_events;
mod job_limits;
mod job_list;
mod memory;
mod net;
mod peb;
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

/// Windows has no such thing; `why` says what it has instead.
fn absent<T>(op: &'static str, why: &'static str) -> Result<T> {
    Err(Error::new(ErrorKind::Unsupported, op).with_detail(why))
}

pub(super) const NO_TERMINAL: &str = "Windows processes have consoles, not terminals";
pub(super) const NO_CPU_NUM: &str = "Windows does not report the CPU a process last ran on";
pub(super) const NO_CGROUPS: &str = "cgroups are Linux's; Windows has Job Objects (see Job::of)";
pub(super) const NO_NUMERIC_IDS: &str =
    "Windows identifies users and groups by SID, not by a numeric id";
pub(super) const NO_NICE: &str =
    "Windows schedules by priority class, not nice values (see Process::priority_class)";
pub(super) const NO_GROUPS: &str =
    "Windows has no process groups or sessions of this kind (a console \
     process group is reached with os::windows::ProcessExt::send_ctrl_break)";
const NO_WHO: &str = "Windows sets priorities per process, not per process group or user";

/// The start time of an open process: its creation time.
pub(crate) fn start_time_of(h: &Handle) -> Result<StartTime> {
    Ok(StartTime {
        wall: util::ticks_to_system_time(h.start_ticks),
        raw: h.start_ticks,
    })
}

pub(crate) fn account(_: &str) -> Result<Option<crate::system::Account>> {
    absent("look up user", NO_NUMERIC_IDS)
}

pub(crate) fn group_id(_: &str) -> Result<Option<u32>> {
    absent("look up group", NO_NUMERIC_IDS)
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
    absent(
        "raise open-file limit",
        "Windows sets no limit on a process's open handles",
    )
}

pub(crate) fn user_id(_: &str) -> Result<Option<u32>> {
    absent("look up user", NO_NUMERIC_IDS)
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
        absent("read uids", NO_NUMERIC_IDS)
    }
    pub(crate) fn gids(&self) -> Result<Ids> {
        absent("read gids", NO_NUMERIC_IDS)
    }
    pub(crate) fn terminal(&self) -> Result<Option<String>> {
        absent("read terminal", NO_TERMINAL)
    }
    pub(crate) fn cpu_num(&self) -> Result<u32> {
        absent("read cpu_num", NO_CPU_NUM)
    }
    pub(crate) fn nice(&self) -> Result<i32> {
        absent("read nice", NO_NICE)
    }
    pub(crate) fn set_nice(&self, _: i32) -> Result<()> {
        absent("set nice", NO_NICE)
    }
    pub(crate) fn rlimit(&self, _: Resource) -> Result<Rlimit> {
        absent(
            "read rlimit",
            "Windows has no per-process resource limits (a Job sets limits)",
        )
    }
    pub(crate) fn set_rlimit(&self, _: Resource, _: Rlimit) -> Result<()> {
        absent(
            "set rlimit",
            "Windows has no per-process resource limits (a Job sets limits)",
        )
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
    pub(crate) fn group_info(&self) -> Result<ProcessGroupInfo> {
        absent("read process group", NO_GROUPS)
    }
    pub(crate) fn cgroups(&self) -> Result<Vec<CgroupMembership>> {
        absent("read cgroups", NO_CGROUPS)
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
    absent(op, NO_WHO)
}

pub(crate) fn set_who_nice(_: crate::sched::Who, _: i32, op: &'static str) -> Result<()> {
    absent(op, NO_WHO)
}

pub(crate) fn who_ionice(_: crate::sched::Who, op: &'static str) -> Result<IoPriority> {
    absent(op, NO_WHO)
}

pub(crate) fn set_who_ionice(_: crate::sched::Who, _: IoPriority, op: &'static str) -> Result<()> {
    absent(op, NO_WHO)
}

/// Breakaway needs no placement on Windows: the spawn passes `CREATE_BREAKAWAY_FROM_JOB`
/// and Windows checks the job's `JOB_OBJECT_LIMIT_BREAKAWAY_OK`.
pub(crate) fn breakaway_target() -> Result<Option<JobSpawn>> {
    Ok(None)
}
