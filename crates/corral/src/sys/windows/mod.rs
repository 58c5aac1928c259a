//! The Windows backend (x86_64-pc-windows-gnu and -msvc): process handles plus creation
//! times for identity, Toolhelp32 for enumeration, `TerminateProcess` and
//! `WaitForMultipleObjects` for control, std's `CreateProcessW` with corral's argument
//! quoting for spawning. What is not implemented yet returns
//! [`ErrorKind::Unsupported`] with a detail saying so (issue #8 tracks the rest).

mod argv;
mod control;
mod job;
mod process;
mod snapshot;
mod spawn;
mod system;
mod util;

use crate::info::*;
use crate::{Error, ErrorKind, Pid, Result};

pub(crate) use control::wait_many;
pub(crate) use job::{job_capabilities, job_of, Job, JobGuard, JobSpawn, JobWatch};
pub(crate) use process::Handle;
pub(crate) use snapshot::{pid_count, snapshot};
pub(crate) use spawn::{
    block_forwarded, exec, forward_signals, push_arg, spawn, std_exit_status, ForwardGuard,
};
pub(crate) use system::{
    boot_time_secs, cpu_times_all, swap_memory, total_memory, uptime, virtual_memory,
};
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

pub(crate) fn cpu_stats() -> Result<crate::system::CpuStats> {
    unsupported("read CPU counters")
}

pub(crate) fn cpu_freq() -> Result<Vec<crate::system::CpuFreq>> {
    unsupported("read CPU frequency")
}

pub(crate) fn load_average() -> Result<crate::system::LoadAverage> {
    Err(Error::new(ErrorKind::Unsupported, "read load average")
        .with_detail("Windows keeps no load average"))
}

pub(crate) fn users() -> Result<Vec<crate::system::User>> {
    unsupported("read logged-in users")
}

pub(crate) fn topology() -> Result<crate::system::Topology> {
    unsupported("read CPU topology")
}

impl Handle {
    pub(crate) fn threads(&self) -> Result<Vec<crate::ThreadInfo>> {
        unsupported("read threads")
    }
    pub(crate) fn trim_memory(&self) -> Result<crate::TrimReport> {
        unsupported("trim memory")
    }
    pub(crate) fn is_background(&self) -> Result<bool> {
        unsupported("read background mode")
    }
    pub(crate) fn set_background(&self, _: bool) -> Result<crate::BackgroundReport> {
        unsupported("set background mode")
    }
    pub(crate) fn thread(&self, _: crate::Tid) -> Result<ThreadHandle> {
        unsupported("open thread")
    }
    pub(crate) fn status(&self) -> Result<Status> {
        unsupported("read status")
    }
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
    pub(crate) fn ionice(&self) -> Result<IoPriority> {
        unsupported("read ionice")
    }
    pub(crate) fn set_ionice(&self, _: IoPriority) -> Result<()> {
        unsupported("set ionice")
    }
    pub(crate) fn rlimit(&self, _: Resource) -> Result<Rlimit> {
        unsupported("read rlimit")
    }
    pub(crate) fn set_rlimit(&self, _: Resource, _: Rlimit) -> Result<()> {
        unsupported("set rlimit")
    }
    pub(crate) fn ctx_switches(&self) -> Result<CtxSwitches> {
        unsupported("read context switches")
    }
    pub(crate) fn open_files(&self) -> Result<Vec<OpenFile>> {
        unsupported("read open_files")
    }
    pub(crate) fn connections(&self, _: ConnectionKind) -> Result<Vec<Connection>> {
        unsupported("read connections")
    }
    pub(crate) fn memory_full_info(&self) -> Result<MemoryFullInfo> {
        unsupported("read memory_full_info")
    }
    pub(crate) fn memory_peaks(&self) -> Result<MemoryPeaks> {
        unsupported("read memory peaks")
    }
    pub(crate) fn memory_maps(&self, _: bool) -> Result<Vec<MemoryMap>> {
        unsupported("read memory_maps")
    }
    pub(crate) fn page_faults(&self) -> Result<PageFaults> {
        unsupported("read page faults")
    }
    pub(crate) fn group_info(&self) -> Result<ProcessGroupInfo> {
        unsupported("read process group")
    }
    pub(crate) fn cgroups(&self) -> Result<Vec<CgroupMembership>> {
        unsupported("read cgroups")
    }
}

/// An open thread (not implemented on Windows yet; never constructed).
#[derive(Debug)]
pub(crate) struct ThreadHandle {
    pub(crate) pid: Pid,
    pub(crate) tid: crate::Tid,
    pub(crate) start_ticks: u64,
    pub(crate) proc_start: u64,
}

impl ThreadHandle {
    pub(crate) fn open(_: crate::Tid) -> Result<ThreadHandle> {
        unsupported("open thread")
    }
    pub(crate) fn has_exited(&self) -> bool {
        true
    }
    pub(crate) fn info(&self) -> Result<crate::ThreadInfo> {
        unsupported("read thread")
    }
    pub(crate) fn process_class(&self) -> Result<crate::PriorityClass> {
        unsupported("read priority class")
    }
    pub(crate) fn set_sched(&self, _: &crate::LinuxSched, op: &'static str) -> Result<()> {
        unsupported(op)
    }
    pub(crate) fn set_nice(&self, _: i32) -> Result<()> {
        unsupported("set thread nice")
    }
    pub(crate) fn affinity(&self) -> Result<Vec<usize>> {
        unsupported("read thread affinity")
    }
    pub(crate) fn set_affinity(&self, _: &[usize]) -> Result<()> {
        unsupported("set thread affinity")
    }
    pub(crate) fn io_priority(&self) -> Result<crate::IoPriority> {
        unsupported("read thread I/O priority")
    }
    pub(crate) fn set_io_priority(&self, _: crate::IoPriority) -> Result<()> {
        unsupported("set thread I/O priority")
    }
    pub(crate) fn suspend_unsupported(op: &'static str, _: Pid) -> Result<()> {
        unsupported(op)
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

pub(crate) fn list_jobs() -> Result<Vec<String>> {
    unsupported("list jobs")
}

pub(crate) fn list_all_jobs() -> Result<Vec<(String, CgroupMembership)>> {
    unsupported("list all jobs")
}

pub(crate) fn limit_support() -> Vec<crate::LimitSupport> {
    crate::Limit::ALL
        .iter()
        .map(|&limit| crate::LimitSupport {
            limit,
            how: crate::Enforcement::Unsupported(
                "job limits are not implemented on Windows yet".into(),
            ),
        })
        .collect()
}

/// Where a breakaway child goes (`CREATE_BREAKAWAY_FROM_JOB` is not wired up yet).
pub(crate) fn breakaway_target() -> Result<Option<JobSpawn>> {
    Err(
        Error::new(ErrorKind::Unsupported, "spawn outside the job").with_detail(
            "breakaway from a job (CREATE_BREAKAWAY_FROM_JOB) is not implemented on Windows yet",
        ),
    )
}

/// A job handle for the CPU-time watcher (not implemented on Windows yet; never constructed).
#[derive(Debug)]
pub(crate) struct JobView;

impl JobView {
    pub(crate) fn cpu_usage(&self) -> Result<std::time::Duration> {
        unsupported("read job CPU time")
    }
    pub(crate) fn cpu_capacity(&self) -> f64 {
        1.0
    }
    pub(crate) fn terminate(&self) -> Result<()> {
        unsupported("terminate job")
    }
    pub(crate) fn accounting(&self) -> Result<crate::JobAccounting> {
        unsupported("read job accounting")
    }
}
