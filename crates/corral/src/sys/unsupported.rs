//! The backend for platforms corral does not support yet: every contract item returns
//! [`ErrorKind::Unsupported`]. It is compiled in CI (feature `force-unsupported`) so the
//! contract between the portable modules and the backends stays complete.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::info::*;
use crate::snapshot::{FieldSet, Filter, ProcessInfo};
use crate::{Error, ErrorKind, Pid, Result};

pub(crate) use super::notify_channel::{NotifyStop, NotifyWait};

fn unsupported<T>(op: &'static str) -> Result<T> {
    Err(Error::new(ErrorKind::Unsupported, op)
        .with_detail("corral has no backend for this platform"))
}

/// Extra state of a spawned child (never constructed here).
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pty_master: Option<std::fs::File>,
}

/// Errno values std does not classify, as Linux numbers them (this backend is compiled
/// on Linux with `force-unsupported`).
pub(crate) fn error_kind_of(code: i32) -> Option<ErrorKind> {
    match code {
        3 => Some(ErrorKind::NoSuchProcess),
        38 | 95 => Some(ErrorKind::Unsupported),
        _ => None,
    }
}

/// The spawned child as this backend would hold it (never constructed).
pub(crate) type SpawnedChild = std::process::Child;

pub(crate) fn spawn(
    _: &mut std::process::Command,
    _: &mut crate::command::Spec,
    _: &crate::command::Options,
    _: Option<&BlockGuard>,
) -> Result<(SpawnedChild, Spawned)> {
    unsupported("spawn")
}

/// Adds one argument to the command (backends that build the command line themselves
/// quote it here).
pub(crate) fn push_arg(cmd: &mut std::process::Command, arg: &std::ffi::OsStr) {
    cmd.arg(arg);
}

pub(crate) fn exec(
    _: &mut std::process::Command,
    _: &mut crate::command::Spec,
    _: &crate::command::Options,
) -> Error {
    Error::new(ErrorKind::Unsupported, "exec")
        .with_detail("corral has no backend for this platform")
}

/// Signal forwarding (never constructed here).
#[derive(Debug)]
pub(crate) struct ForwardGuard;

/// Nothing to block here.
#[derive(Debug)]
pub(crate) struct BlockGuard;

impl Drop for BlockGuard {
    fn drop(&mut self) {}
}

pub(crate) fn block_forwarded() -> BlockGuard {
    BlockGuard
}

pub(crate) fn forward_signals(_: &crate::Process) -> Result<ForwardGuard> {
    unsupported("forward signals")
}

pub(crate) fn account(_: &str) -> Result<Option<crate::system::Account>> {
    unsupported("look up user")
}

pub(crate) fn group_id(_: &str) -> Result<Option<u32>> {
    unsupported("look up group")
}

pub(crate) fn std_exit_status(_: std::process::ExitStatus) -> crate::ExitStatus {
    crate::ExitStatus::Unknown
}

/// Fork events (never available here).
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

/// An open process (never constructed here).
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) pid: Pid,
    pub(crate) start_ticks: u64,
}

pub(crate) fn snapshot(_: FieldSet, _: &Filter, _: impl FnMut(ProcessInfo)) -> Result<()> {
    unsupported("snapshot")
}

/// The first step of a graceful stop (mirrors the backends).
pub(crate) fn request_stop(h: &Handle, sig: crate::Signal) -> Result<()> {
    h.send_signal(sig)
}

pub(crate) fn wait_many(
    _: &[&Handle],
    _: Option<std::time::Duration>,
    _: impl FnMut(usize) -> bool,
) -> Result<()> {
    unsupported("wait for processes")
}

pub(crate) fn open_fd_count() -> Option<usize> {
    None
}

pub(crate) fn raise_fd_limit() -> Result<u64> {
    unsupported("raise open-file limit")
}

pub(crate) fn total_memory() -> Result<u64> {
    unsupported("read total memory")
}

pub(crate) fn boot_time_secs() -> Result<u64> {
    unsupported("read boot time")
}

pub(crate) fn uptime() -> Result<std::time::Duration> {
    unsupported("read uptime")
}

pub(crate) fn user_id(_: &str) -> Result<Option<u32>> {
    unsupported("look up user")
}

pub(crate) fn user_name(_: u32) -> Option<String> {
    None
}

pub(crate) fn cpu_times_all() -> Result<(
    crate::system::SystemCpuTimes,
    Vec<crate::system::PerCpuTimes>,
)> {
    unsupported("read CPU times")
}

pub(crate) fn cpu_stats() -> Result<crate::system::CpuStats> {
    unsupported("read CPU counters")
}

pub(crate) fn cpu_freq() -> Result<Vec<crate::system::CpuFreq>> {
    unsupported("read CPU frequency")
}

pub(crate) fn load_average() -> Result<crate::system::LoadAverage> {
    unsupported("read load average")
}

pub(crate) fn pid_count() -> Result<usize> {
    unsupported("count processes")
}

pub(crate) fn virtual_memory() -> Result<crate::system::VirtualMemory> {
    unsupported("read memory")
}

pub(crate) fn swap_memory() -> Result<crate::system::SwapMemory> {
    unsupported("read swap")
}

pub(crate) fn users() -> Result<Vec<crate::system::User>> {
    unsupported("read logged-in users")
}

pub(crate) fn topology() -> Result<crate::system::Topology> {
    unsupported("read CPU topology")
}

pub(crate) fn start_time_of(_: &Handle) -> Result<StartTime> {
    unsupported("read start time")
}

impl Handle {
    pub(crate) fn open(_: Pid) -> Result<Handle> {
        unsupported("open")
    }
    pub(crate) fn open_child(_: Pid) -> Result<Handle> {
        unsupported("open")
    }
    pub(crate) fn open_pinned(_: Pid, _: u64) -> Result<Handle> {
        unsupported("open")
    }
    pub(crate) fn open_with_start(_: Pid, _: u64) -> Result<Handle> {
        unsupported("open")
    }
    pub(crate) fn has_exited(&self) -> bool {
        true
    }
    pub(crate) fn inode(&self) -> Option<u64> {
        None
    }
    pub(crate) fn verify(&self, op: &'static str, _: bool) -> Result<()> {
        unsupported(op)
    }
    pub(crate) fn send_signal(&self, _: crate::Signal) -> Result<()> {
        unsupported("send signal")
    }
    pub(crate) fn child_event(&self, _: bool) -> Result<Option<crate::ChildEvent>> {
        unsupported("wait for a state change")
    }
    pub(crate) fn signal_group(&self, _: crate::Signal) -> Result<()> {
        unsupported("signal process group")
    }
    pub(crate) fn wait_exit(&self, _: Option<std::time::Duration>) -> Result<()> {
        unsupported("wait")
    }
    pub(crate) fn exit_status(&self) -> crate::ExitStatus {
        crate::ExitStatus::Unknown
    }
    pub(crate) fn name(&self) -> Result<String> {
        unsupported("read name")
    }
    pub(crate) fn exe(&self) -> Result<Option<PathBuf>> {
        unsupported("read exe")
    }
    pub(crate) fn cmdline(&self) -> Result<Vec<OsString>> {
        unsupported("read cmdline")
    }
    pub(crate) fn cwd(&self) -> Result<PathBuf> {
        unsupported("read cwd")
    }
    pub(crate) fn environ(&self) -> Result<Vec<(OsString, OsString)>> {
        unsupported("read environ")
    }
    pub(crate) fn status(&self) -> Result<Status> {
        unsupported("read status")
    }
    pub(crate) fn username(&self) -> Result<String> {
        unsupported("read username")
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
    pub(crate) fn ppid(&self) -> Result<Option<Pid>> {
        unsupported("read ppid")
    }
    pub(crate) fn cpu_times(&self) -> Result<CpuTimes> {
        unsupported("read cpu_times")
    }
    pub(crate) fn cpu_num(&self) -> Result<u32> {
        unsupported("read cpu_num")
    }
    pub(crate) fn affinity(&self) -> Result<Vec<usize>> {
        unsupported("read cpu_affinity")
    }
    pub(crate) fn set_affinity(&self, _: &[usize]) -> Result<()> {
        unsupported("set cpu_affinity")
    }
    pub(crate) fn nice(&self) -> Result<i32> {
        unsupported("read nice")
    }
    pub(crate) fn set_nice(&self, _: i32) -> Result<()> {
        unsupported("set nice")
    }
    pub(crate) fn priority_class(&self) -> Result<crate::PriorityClass> {
        unsupported("read priority class")
    }
    pub(crate) fn set_priority_class(&self, _: crate::PriorityClass) -> Result<()> {
        unsupported("set priority class")
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
    pub(crate) fn num_threads(&self) -> Result<u64> {
        unsupported("read num_threads")
    }
    pub(crate) fn threads(&self) -> Result<Vec<crate::ThreadInfo>> {
        unsupported("read threads")
    }
    pub(crate) fn thread(&self, _: crate::Tid) -> Result<ThreadHandle> {
        unsupported("open thread")
    }
    pub(crate) fn set_background(&self, _: bool) -> Result<crate::BackgroundReport> {
        unsupported("set background mode")
    }
    pub(crate) fn is_background(&self) -> Result<bool> {
        unsupported("read background mode")
    }
    pub(crate) fn trim_memory(&self) -> Result<crate::TrimReport> {
        unsupported("trim memory")
    }
    pub(crate) fn num_fds(&self) -> Result<usize> {
        unsupported("read num_fds")
    }
    pub(crate) fn open_files(&self) -> Result<Vec<OpenFile>> {
        unsupported("read open_files")
    }
    pub(crate) fn connections(&self, _: ConnectionKind) -> Result<Vec<Connection>> {
        unsupported("read connections")
    }
    pub(crate) fn io_counters(&self) -> Result<IoCounters> {
        unsupported("read io_counters")
    }
    pub(crate) fn memory_info(&self) -> Result<MemoryInfo> {
        unsupported("read memory")
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

/// An open thread (never constructed here).
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
    pub(crate) fn set_priority(&self, _: crate::ThreadPriority) -> Result<()> {
        unsupported("set thread priority")
    }
    pub(crate) fn suspend(&self) -> Result<()> {
        unsupported("suspend thread")
    }
    pub(crate) fn resume(&self) -> Result<()> {
        unsupported("resume thread")
    }
}

pub(crate) fn start_time_at_ticks(_: u64) -> Result<StartTime> {
    unsupported("read start time")
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

/// A job (never constructed here).
#[derive(Debug)]
pub(crate) struct Job;

/// What spawning into a job needs (never constructed here).
#[derive(Debug, Clone)]
pub(crate) struct JobSpawn;

impl Job {
    pub(crate) fn create(_: Option<&str>) -> Result<Job> {
        unsupported("create job")
    }
    pub(crate) fn create_with(_: Option<&str>, _: bool, _: bool) -> Result<Job> {
        unsupported("create job")
    }
    pub(crate) fn create_v2_only(_: Option<&str>) -> Result<Job> {
        unsupported("create job")
    }
    pub(crate) fn create_fallback(_: Option<&str>) -> Result<Job> {
        unsupported("create job")
    }
    pub(crate) fn open(_: &str) -> Result<Job> {
        unsupported("open job")
    }
    pub(crate) fn backend(&self) -> crate::JobBackend {
        crate::JobBackend::None
    }
    pub(crate) fn name(&self) -> &str {
        ""
    }
    pub(crate) fn assign(&self, _: &Handle) -> Result<()> {
        unsupported("assign to job")
    }
    pub(crate) fn pids(&self) -> Result<Vec<u32>> {
        unsupported("list job members")
    }
    pub(crate) fn contains(&self, _: &Handle) -> Result<bool> {
        unsupported("check job membership")
    }
    pub(crate) fn terminate(&self) -> Result<()> {
        unsupported("terminate job")
    }
    pub(crate) fn freeze(&self) -> Result<()> {
        unsupported("freeze job")
    }
    pub(crate) fn thaw(&self) -> Result<()> {
        unsupported("thaw job")
    }
    pub(crate) fn is_frozen(&self) -> Result<bool> {
        unsupported("read job state")
    }
    pub(crate) fn wait_empty(&self, _: Option<std::time::Duration>) -> Result<()> {
        unsupported("wait for job to empty")
    }
    pub(crate) fn reclaim(&self) -> Result<Option<(u64, u64)>> {
        Ok(None)
    }
    pub(crate) fn spawn_target(&self) -> JobSpawn {
        JobSpawn
    }
    pub(crate) fn set_limits(&mut self, _: &crate::JobLimits) -> Result<()> {
        unsupported("set job limits")
    }
    pub(crate) fn limits(&self) -> Result<crate::JobLimits> {
        unsupported("read job limits")
    }
    pub(crate) fn accounting(&self) -> Result<crate::JobAccounting> {
        unsupported("read job accounting")
    }
    pub(crate) fn view(&self) -> JobView {
        JobView
    }
}

/// Where a breakaway child goes (no jobs here).
pub(crate) fn breakaway_target() -> Result<Option<JobSpawn>> {
    unsupported("spawn outside the job")
}

/// A job handle for the CPU-time watcher (never constructed here).
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

pub(crate) fn list_jobs() -> Result<Vec<String>> {
    unsupported("list jobs")
}

pub(crate) fn list_all_jobs() -> Result<Vec<(String, CgroupMembership)>> {
    unsupported("list all jobs")
}

/// Linux sets per-process job limits (rlimits, class, affinity) on each member itself.
pub(crate) const JOB_KEEPS_MEMBER_LIMITS: bool = false;

pub(crate) fn limit_support() -> Vec<crate::LimitSupport> {
    crate::Limit::ALL
        .iter()
        .map(|&limit| crate::LimitSupport {
            limit,
            how: crate::Enforcement::Unsupported(
                "corral has no job backend for this platform".into(),
            ),
        })
        .collect()
}

/// A kill-on-close guard (never constructed here).
#[derive(Debug)]
pub(crate) struct JobGuard;

impl JobGuard {
    pub(crate) fn start(_: &Job) -> Result<JobGuard> {
        unsupported("start job guard")
    }
    pub(crate) fn pid(&self) -> u32 {
        0
    }
    pub(crate) fn close(self, _: &Job) {}
}

/// A job event watcher (never constructed here).
#[derive(Debug)]
pub(crate) struct JobWatch;

impl JobWatch {
    pub(crate) fn new(_: &Job) -> Result<JobWatch> {
        unsupported("watch job events")
    }
    pub(crate) fn next(
        &mut self,
        _: Option<std::time::Duration>,
    ) -> Result<Option<crate::job_events::JobEvent>> {
        unsupported("watch job events")
    }
    pub(crate) fn new_process_exact(&self) -> bool {
        false
    }
    pub(crate) fn cpu_limit_raiser(&self) -> Option<crate::job_limits::Raiser> {
        None
    }
    pub(crate) fn ended(&self) -> bool {
        true
    }
}

pub(crate) fn job_of(_: &Handle) -> Result<Option<(String, Vec<CgroupMembership>)>> {
    unsupported("find job of process")
}

pub(crate) fn job_capabilities() -> crate::job::Capabilities {
    let mut c = crate::job::Capabilities::default();
    c.notes
        .push("corral has no job backend for this platform".into());
    c
}
