//! Job Object limits and accounting: [`JobLimits`] as `JOBOBJECT_EXTENDED_LIMIT_INFORMATION`
//! and `JOBOBJECT_CPU_RATE_CONTROL_INFORMATION`, [`JobAccounting`] from
//! `JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION` plus the peaks of the extended limit
//! information, and the view the portable job-CPU-time watcher reads.

use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::sync::Arc;
use std::time::Duration;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::JobObjects::{
    JobObjectBasicAccountingInformation, JobObjectBasicAndIoAccountingInformation,
    JobObjectCpuRateControlInformation, JobObjectExtendedLimitInformation,
    JobObjectGroupInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION, JOBOBJECT_CPU_RATE_CONTROL_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_CPU_RATE_CONTROL_ENABLE,
    JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP, JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED,
    JOB_OBJECT_LIMIT_ACTIVE_PROCESS, JOB_OBJECT_LIMIT_AFFINITY, JOB_OBJECT_LIMIT_BREAKAWAY_OK,
    JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION, JOB_OBJECT_LIMIT_JOB_MEMORY,
    JOB_OBJECT_LIMIT_JOB_TIME, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME, JOB_OBJECT_LIMIT_PRIORITY_CLASS,
    JOB_OBJECT_LIMIT_PROCESS_MEMORY, JOB_OBJECT_LIMIT_PROCESS_TIME, JOB_OBJECT_LIMIT_WORKINGSET,
};
use windows_sys::Win32::System::Threading::{GetActiveProcessorCount, ALL_PROCESSOR_GROUPS};

use super::groups::GroupTable;
use super::process::class_to_win;
use super::util::{last_error, proc_address, ticks_duration, wine_version};
use crate::job_limits::{Enforcement, Limit, LimitSupport};
use crate::{Error, ErrorKind, JobAccounting, JobLimits, PriorityClass, Result};

/// The exit code members get when corral terminates a job (as `Signal::Kill` gives).
pub(crate) const KILL_EXIT_CODE: u32 = 9;

/// The Windows CPU rate unit: 1/100 of a percent of the whole machine.
const RATE_SCALE: f64 = 10_000.0;

/// Processors in all processor groups.
pub(crate) fn logical_cpus() -> usize {
    // SAFETY: no pointers; ALL_PROCESSOR_GROUPS counts every group.
    let n = unsafe { GetActiveProcessorCount(ALL_PROCESSOR_GROUPS) };
    (n as usize).max(1)
}

fn bad(why: String) -> Error {
    Error::new(ErrorKind::InvalidInput, "set job limits").with_detail(why)
}

fn unsupported(why: String) -> Error {
    Error::new(ErrorKind::Unsupported, "set job limits").with_detail(why)
}

/// 100 ns ticks of a duration, as the Job Object time limits take them.
fn ticks(d: Duration) -> Result<i64> {
    i64::try_from(d.as_nanos() / 100)
        .ok()
        .filter(|&t| t > 0)
        .ok_or_else(|| bad(format!("a CPU time of {d:?} is out of range")))
}

/// corral's weight (1–10000, 100 the default, logarithmic like cgroup `cpu.weight`) as
/// a Windows weight (1–9, 5 the default): 5 + 2·log10(w/100), so 1 → 1, 100 → 5,
/// 10000 → 9.
pub(crate) fn weight_to_win(w: u32) -> u32 {
    let k = 5.0 + 2.0 * (f64::from(w.clamp(1, 10_000)) / 100.0).log10();
    (k.round() as u32).clamp(1, 9)
}

/// A Windows weight back as corral's: 100·10^((k−5)/2), rounded.
pub(crate) fn weight_from_win(k: u32) -> u32 {
    let k = f64::from(k.clamp(1, 9));
    (100.0 * 10f64.powf((k - 5.0) / 2.0)).round() as u32
}

/// The two structures a job's limits are made of, plus what the job handle remembers
/// (which the OS does not keep, or Wine does not read back).
#[derive(Clone, Copy)]
pub(crate) struct Native {
    pub(crate) ext: JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    /// `None`: no CPU rate control (disabled, or never set).
    pub(crate) cpu: Option<JOBOBJECT_CPU_RATE_CONTROL_INFORMATION>,
    /// On a machine with several processor groups: the group the affinity limit's mask
    /// is in, assigned to the job with `JobObjectGroupInformation` before the limits.
    pub(crate) group: Option<u16>,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.ext.BasicLimitInformation;
        f.debug_struct("Native")
            .field("flags", &format_args!("{:#x}", b.LimitFlags))
            .field("cpu", &self.cpu.map(|c| c.ControlFlags))
            .finish()
    }
}

impl Default for Native {
    fn default() -> Native {
        let mut ext = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        ext.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
        Native {
            ext,
            cpu: None,
            group: None,
        }
    }
}

/// `limits` laid over `old` (a limit given as `None` keeps its old value, as the
/// portable contract says for kernel-kept limits). Checks what Windows cannot express.
pub(crate) fn build(old: &Native, l: &JobLimits) -> Result<Native> {
    if let Some(r) = l.io_rates.first() {
        return Err(unsupported(format!(
            "I/O rate for {}:{}: {}",
            r.major,
            r.minor,
            io_rate_reason()
        )));
    }
    if l.cpu_weight.is_some() && (l.cpu_rate.is_some() || l.cpus.is_some()) {
        return Err(unsupported(
            "CPU weight with a CPU rate: a Job Object's CPU rate control is either a hard cap \
             or weight-based, not both"
                .into(),
        ));
    }
    let mut n = *old;
    let b = &mut n.ext.BasicLimitInformation;
    b.LimitFlags |= JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    // Re-sending JOB_TIME restarts the job's time period; keep it unless it changes.
    b.LimitFlags &= !JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME;
    if let Some(m) = l.job_memory {
        n.ext.JobMemoryLimit = usize::try_from(m).map_err(|_| bad(format!("job memory {m}")))?;
        n.ext.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
    }
    if let Some(m) = l.process_memory {
        n.ext.ProcessMemoryLimit =
            usize::try_from(m).map_err(|_| bad(format!("process memory {m}")))?;
        n.ext.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY;
    }
    let mut group = n.group;
    let b = &mut n.ext.BasicLimitInformation;
    if let Some(p) = l.max_processes {
        b.ActiveProcessLimit = u32::try_from(p).map_err(|_| {
            bad(format!(
                "max processes: {p} is more than a Job Object allows ({})",
                u32::MAX
            ))
        })?;
        b.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
    }
    match l.job_cpu_time {
        Some(t) => {
            let t = ticks(t)?;
            if b.LimitFlags & JOB_OBJECT_LIMIT_JOB_TIME != 0 && b.PerJobUserTimeLimit == t {
                // Unchanged: keep its period (PRESERVE_JOB_TIME excludes JOB_TIME).
                b.LimitFlags &= !JOB_OBJECT_LIMIT_JOB_TIME;
                b.LimitFlags |= JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME;
            } else {
                b.PerJobUserTimeLimit = t;
                b.LimitFlags |= JOB_OBJECT_LIMIT_JOB_TIME;
            }
        }
        None if b.LimitFlags & JOB_OBJECT_LIMIT_JOB_TIME != 0 => {
            // Keep it (and its period): PRESERVE_JOB_TIME without JOB_TIME.
            b.LimitFlags &= !JOB_OBJECT_LIMIT_JOB_TIME;
            b.LimitFlags |= JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME;
        }
        None => {}
    }
    if let Some(t) = l.process_cpu_time {
        b.PerProcessUserTimeLimit = ticks(t)?;
        b.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_TIME;
    }
    match (l.working_set_min, l.working_set_max) {
        (None, None) => {}
        (Some(lo), Some(hi)) => {
            let conv = |v: u64| usize::try_from(v).map_err(|_| bad(format!("working set {v}")));
            b.MinimumWorkingSetSize = conv(lo)?;
            b.MaximumWorkingSetSize = conv(hi)?;
            b.LimitFlags |= JOB_OBJECT_LIMIT_WORKINGSET;
        }
        _ => {
            return Err(unsupported(
                "working set: a Job Object takes a minimum and a maximum together; give both"
                    .into(),
            ))
        }
    }
    if let Some(c) = l.priority_class {
        b.PriorityClass = class_to_win(c);
        b.LimitFlags |= JOB_OBJECT_LIMIT_PRIORITY_CLASS;
    }
    if let Some(a) = &l.affinity {
        let groups = GroupTable::machine();
        let m = groups.one_group(
            a,
            "set job limits",
            "a Job Object's affinity limit (JOBOBJECT_BASIC_LIMIT_INFORMATION.Affinity) is \
             one processor group's mask",
        )?;
        b.Affinity = m.mask as usize;
        b.LimitFlags |= JOB_OBJECT_LIMIT_AFFINITY;
        group = (!groups.is_single()).then_some(m.group);
    }
    // Like Windows' own flags (and corral's Linux mark): set or cleared by every call.
    if l.breakaway_ok {
        b.LimitFlags |= JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    } else {
        b.LimitFlags &= !JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    }
    n.group = group;
    let rate = match (l.cpu_rate, l.cpus) {
        (Some(r), _) => Some(r),
        (None, Some(c)) => {
            let cpus = logical_cpus();
            if c > cpus as f64 {
                return Err(bad(format!("CPUs: {c} is more than the {cpus} CPUs here")));
            }
            Some(c / cpus as f64)
        }
        (None, None) => None,
    };
    if let Some(r) = rate {
        let mut cpu = JOBOBJECT_CPU_RATE_CONTROL_INFORMATION {
            ControlFlags: JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP,
            ..Default::default()
        };
        cpu.Anonymous.CpuRate = ((r * RATE_SCALE).round() as u32).clamp(1, 10_000);
        n.cpu = Some(cpu);
    } else if let Some(w) = l.cpu_weight {
        let mut cpu = JOBOBJECT_CPU_RATE_CONTROL_INFORMATION {
            ControlFlags: JOB_OBJECT_CPU_RATE_CONTROL_ENABLE
                | JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED,
            ..Default::default()
        };
        cpu.Anonymous.Weight = weight_to_win(w);
        n.cpu = Some(cpu);
    }
    Ok(n)
}

/// Why [`JobLimits::io_rates`] is refused here.
fn io_rate_reason() -> String {
    if proc_address("kernel32.dll", b"SetIoRateControlInformationJobObject\0").is_none() {
        return "missing here: kernel32 has no SetIoRateControlInformationJobObject \
                (Wine does not implement it)"
            .into();
    }
    "not mapped: SetIoRateControlInformationJobObject caps IOPS and bandwidth per volume \
     for reads and writes together, while corral's IoRate names a block device by \
     major:minor with separate read and write caps"
        .into()
}

fn set_info<T>(job: HANDLE, class: i32, info: &T, what: &'static str) -> Result<()> {
    // SAFETY: `info` is a live structure of the size passed, of the type `class` takes;
    // `job` is a job handle with JOB_OBJECT_SET_ATTRIBUTES.
    let ok = unsafe {
        SetInformationJobObject(
            job,
            class,
            (info as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if ok == 0 {
        let e = last_error("set job limits", None);
        let detail = format!("SetInformationJobObject({what}) failed");
        return Err(if e.kind() == ErrorKind::Unsupported {
            e.with_detail(format!("{detail}: not implemented here"))
        } else {
            e.with_detail(detail)
        });
    }
    Ok(())
}

fn query_info<T: Default>(job: HANDLE, class: i32) -> std::io::Result<T> {
    let mut v = T::default();
    // SAFETY: `v` is a live structure of the size passed, of the type `class` fills.
    let ok = unsafe {
        QueryInformationJobObject(
            job,
            class,
            (&mut v as *mut T).cast(),
            std::mem::size_of::<T>() as u32,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(v)
}

/// Applies `new` (the CPU rate control only when it is set or changes from `old`), all
/// or nothing: if the second call fails, the first is undone.
pub(crate) fn apply(job: HANDLE, old: &Native, new: &Native) -> Result<()> {
    if let Some(g) = new.group.filter(|_| new.group != old.group) {
        // Several processor groups: the affinity mask is this group's.
        set_info(
            job,
            JobObjectGroupInformation,
            &g,
            "JobObjectGroupInformation",
        )?;
    }
    set_info(
        job,
        JobObjectExtendedLimitInformation,
        &new.ext,
        "JobObjectExtendedLimitInformation",
    )?;
    let cpu_changed = match (old.cpu, new.cpu) {
        (None, None) => false,
        (Some(a), Some(b)) => {
            // SAFETY: every member of the union is a plain integer.
            a.ControlFlags != b.ControlFlags
                || unsafe { a.Anonymous.CpuRate != b.Anonymous.CpuRate }
        }
        _ => true,
    };
    if cpu_changed {
        let cpu = new.cpu.unwrap_or_default();
        if let Err(e) = set_info(
            job,
            JobObjectCpuRateControlInformation,
            &cpu,
            "JobObjectCpuRateControlInformation",
        ) {
            let mut undo = old.ext;
            // The old job time limit, without restarting its period.
            if undo.BasicLimitInformation.LimitFlags & JOB_OBJECT_LIMIT_JOB_TIME != 0 {
                undo.BasicLimitInformation.LimitFlags &= !JOB_OBJECT_LIMIT_JOB_TIME;
                undo.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME;
            }
            let _ = set_info(job, JobObjectExtendedLimitInformation, &undo, "undo");
            if let Err(why) = cpu_rate_control_works() {
                // Not this job's values: the OS refuses CPU rate control altogether.
                return Err(unsupported(format!("CPU rate: {why}")));
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Sets only the basic flags for kill-on-close on top of `n`.
pub(crate) fn with_kill_on_close(n: &Native, yes: bool) -> Native {
    let mut m = *n;
    let b = &mut m.ext.BasicLimitInformation;
    if yes {
        b.LimitFlags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    } else {
        b.LimitFlags &= !JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    }
    // Never restart the job time period for this.
    if b.LimitFlags & JOB_OBJECT_LIMIT_JOB_TIME != 0 {
        b.LimitFlags &= !JOB_OBJECT_LIMIT_JOB_TIME;
        b.LimitFlags |= JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME;
    }
    m
}

/// What a `Native` sent earlier means when stored: the flags as the job keeps them
/// (JOB_TIME stays on once set; PRESERVE is a verb, not a state).
pub(crate) fn settled(sent: &Native, before: &Native) -> Native {
    let mut n = *sent;
    let b = &mut n.ext.BasicLimitInformation;
    if b.LimitFlags & JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME != 0 {
        b.LimitFlags &= !JOB_OBJECT_LIMIT_PRESERVE_JOB_TIME;
        let old = &before.ext.BasicLimitInformation;
        if old.LimitFlags & JOB_OBJECT_LIMIT_JOB_TIME != 0 {
            b.LimitFlags |= JOB_OBJECT_LIMIT_JOB_TIME;
            b.PerJobUserTimeLimit = old.PerJobUserTimeLimit;
        }
    }
    n
}

/// The limit structures the job has now, as the OS reports them (Wine: zeros), for a
/// handle from `Job::open` to lay its changes over.
pub(crate) fn read_native(job: HANDLE) -> Option<Native> {
    let ext = query_info(job, JobObjectExtendedLimitInformation).ok()?;
    let cpu = query_info::<JOBOBJECT_CPU_RATE_CONTROL_INFORMATION>(
        job,
        JobObjectCpuRateControlInformation,
    )
    .ok()
    .filter(|c| c.ControlFlags & JOB_OBJECT_CPU_RATE_CONTROL_ENABLE != 0);
    Some(Native {
        ext,
        cpu,
        group: None,
    })
}

/// The limits the job keeps, read back from the OS (`QueryInformationJobObject` of the
/// extended limit and the CPU rate control information). `hint` (what this handle set)
/// only chooses how a CPU rate reads back (as `cpus` when it was set so) and keeps an
/// exact weight when it maps to the OS's.
pub(crate) fn read(job: HANDLE, hint: &JobLimits) -> Result<JobLimits> {
    let op = "read job limits";
    let ext: JOBOBJECT_EXTENDED_LIMIT_INFORMATION =
        query_info(job, JobObjectExtendedLimitInformation)
            .map_err(|e| super::util::win_error(op, None, e))?;
    let b = &ext.BasicLimitInformation;
    let f = b.LimitFlags;
    let has = |flag| f & flag != 0;
    let mut l = JobLimits::new();
    if has(JOB_OBJECT_LIMIT_JOB_MEMORY) {
        l.job_memory = Some(ext.JobMemoryLimit as u64);
    }
    if has(JOB_OBJECT_LIMIT_PROCESS_MEMORY) {
        l.process_memory = Some(ext.ProcessMemoryLimit as u64);
    }
    if has(JOB_OBJECT_LIMIT_ACTIVE_PROCESS) {
        l.max_processes = Some(u64::from(b.ActiveProcessLimit));
    }
    if has(JOB_OBJECT_LIMIT_JOB_TIME) {
        l.job_cpu_time = Some(ticks_duration(b.PerJobUserTimeLimit.max(0) as u64));
    }
    if has(JOB_OBJECT_LIMIT_PROCESS_TIME) {
        l.process_cpu_time = Some(ticks_duration(b.PerProcessUserTimeLimit.max(0) as u64));
    }
    if has(JOB_OBJECT_LIMIT_WORKINGSET) {
        l.working_set_min = Some(b.MinimumWorkingSetSize as u64);
        l.working_set_max = Some(b.MaximumWorkingSetSize as u64);
    }
    if has(JOB_OBJECT_LIMIT_PRIORITY_CLASS) {
        l.priority_class = PriorityClass::ALL
            .into_iter()
            .find(|&c| class_to_win(c) == b.PriorityClass);
    }
    l.breakaway_ok = has(JOB_OBJECT_LIMIT_BREAKAWAY_OK);
    if has(JOB_OBJECT_LIMIT_AFFINITY) {
        let groups = GroupTable::machine();
        // Several groups: the mask is in the job's group when it has exactly one.
        let group = if groups.is_single() {
            groups.groups().first().map_or(0, |g| g.number)
        } else {
            query_info::<u16>(job, JobObjectGroupInformation).unwrap_or(0)
        };
        l.affinity = Some(groups.cpus_in(group, b.Affinity as u64));
    }
    if let Ok(cpu) = query_info::<JOBOBJECT_CPU_RATE_CONTROL_INFORMATION>(
        job,
        JobObjectCpuRateControlInformation,
    ) {
        let cf = cpu.ControlFlags;
        if cf & JOB_OBJECT_CPU_RATE_CONTROL_ENABLE != 0 {
            if cf & JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP != 0 {
                // SAFETY: a hard cap stores CpuRate.
                let r = f64::from(unsafe { cpu.Anonymous.CpuRate }) / RATE_SCALE;
                match hint.cpus {
                    Some(c) if ((c / logical_cpus() as f64) - r).abs() <= 1.0 / RATE_SCALE => {
                        l.cpus = Some(c)
                    }
                    _ => l.cpu_rate = Some(r),
                }
            } else if cf & JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED != 0 {
                // SAFETY: a weight-based control stores Weight.
                let k = unsafe { cpu.Anonymous.Weight };
                l.cpu_weight = Some(match hint.cpu_weight {
                    Some(w) if weight_to_win(w) == k => w,
                    _ => weight_from_win(k),
                });
            }
        }
    }
    Ok(l)
}

/// Basic and I/O accounting plus the memory peaks. Where
/// `JobObjectBasicAndIoAccountingInformation` is missing (Wine 8), the basic accounting
/// alone, and the I/O fields are `None`.
pub(crate) fn accounting(job: HANDLE) -> Result<JobAccounting> {
    let op = "read job accounting";
    let (b, io) = match query_info::<JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION>(
        job,
        JobObjectBasicAndIoAccountingInformation,
    ) {
        Ok(a) => (a.BasicInfo, Some(a.IoInfo)),
        Err(_) => (basic_accounting(job, op)?, None),
    };
    let ext: Option<JOBOBJECT_EXTENDED_LIMIT_INFORMATION> =
        query_info(job, JobObjectExtendedLimitInformation).ok();
    let t = |v: i64| Some(ticks_duration(v.max(0) as u64));
    Ok(JobAccounting {
        user_time: t(b.TotalUserTime),
        kernel_time: t(b.TotalKernelTime),
        this_period_user: t(b.ThisPeriodTotalUserTime),
        this_period_kernel: t(b.ThisPeriodTotalKernelTime),
        active_processes: b.ActiveProcesses as usize,
        total_processes: Some(u64::from(b.TotalProcesses)),
        page_faults: Some(u64::from(b.TotalPageFaultCount)),
        read_ops: io.map(|i| i.ReadOperationCount),
        write_ops: io.map(|i| i.WriteOperationCount),
        read_bytes: io.map(|i| i.ReadTransferCount),
        write_bytes: io.map(|i| i.WriteTransferCount),
        peak_memory: ext.map(|e| e.PeakJobMemoryUsed as u64),
        peak_process_memory: ext.map(|e| e.PeakProcessMemoryUsed as u64),
        ..JobAccounting::default()
    })
}

fn basic_accounting(
    job: HANDLE,
    op: &'static str,
) -> Result<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION> {
    query_info(job, JobObjectBasicAccountingInformation)
        .map_err(|e| super::util::win_error(op, None, e))
}

/// User time this period (what `JOB_OBJECT_LIMIT_JOB_TIME` is checked against).
fn this_period_user_time(job: HANDLE) -> Result<Duration> {
    let b = basic_accounting(job, "read job CPU time")?;
    Ok(ticks_duration(b.ThisPeriodTotalUserTime.max(0) as u64))
}

/// The job as the portable job-CPU-time watcher sees it. The kernel enforces
/// `JOB_OBJECT_LIMIT_JOB_TIME` itself; the watcher measures the same thing (user time of
/// this period) and is a backstop that also raises [`crate::JobEvent::CpuTimeLimit`]
/// for this handle's watchers when it gets there first.
#[derive(Debug)]
pub(crate) struct JobView {
    pub(crate) h: Arc<OwnedHandle>,
    pub(crate) cpu_share: f64,
}

impl JobView {
    pub(crate) fn cpu_usage(&self) -> Result<Duration> {
        this_period_user_time(self.h.as_raw_handle() as HANDLE)
    }
    pub(crate) fn cpu_capacity(&self) -> f64 {
        self.cpu_share * logical_cpus() as f64
    }
    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        accounting(self.h.as_raw_handle() as HANDLE)
    }
    pub(crate) fn terminate(&self) -> Result<()> {
        // SAFETY: a job handle with JOB_OBJECT_TERMINATE.
        if unsafe { TerminateJobObject(self.h.as_raw_handle() as HANDLE, KILL_EXIT_CODE) } == 0 {
            return Err(last_error("terminate job", None));
        }
        Ok(())
    }
}

/// Whether the CPU rate control can be set here: tried once on a scratch job.
fn cpu_rate_control_works() -> std::result::Result<(), String> {
    static R: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        use windows_sys::Win32::System::JobObjects::CreateJobObjectW;
        // SAFETY: an unnamed job with default security.
        let h = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if h.is_null() {
            return Err("CreateJobObjectW failed".into());
        }
        // SAFETY: a fresh handle we own.
        let h: OwnedHandle =
            unsafe { std::os::windows::io::FromRawHandle::from_raw_handle(h as _) };
        let mut cpu = JOBOBJECT_CPU_RATE_CONTROL_INFORMATION {
            ControlFlags: JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP,
            ..Default::default()
        };
        cpu.Anonymous.CpuRate = 5_000;
        set_info(
            h.as_raw_handle() as HANDLE,
            JobObjectCpuRateControlInformation,
            &cpu,
            "JobObjectCpuRateControlInformation",
        )
        .map_err(|e| e.to_string())
    })
    .clone()
}

/// How each limit is enforced here. Under Wine, the limits Wine accepts but does not
/// enforce (windows-feasibility.md, and this crate's Windows tests) say so.
pub(crate) fn limit_support() -> Vec<LimitSupport> {
    let wine = wine_version().is_some();
    let cpu = cpu_rate_control_works();
    Limit::ALL
        .iter()
        .map(|&limit| {
            let kernel = |s: &str| Enforcement::Kernel(s.into());
            let wine_lies = |s: &str| {
                if wine {
                    Enforcement::Unsupported(format!("Wine accepts {s} but does not enforce it"))
                } else {
                    kernel(s)
                }
            };
            let how = match limit {
                Limit::JobMemory => wine_lies("JOB_OBJECT_LIMIT_JOB_MEMORY"),
                Limit::ProcessMemory => wine_lies("JOB_OBJECT_LIMIT_PROCESS_MEMORY"),
                Limit::ActiveProcesses => wine_lies("JOB_OBJECT_LIMIT_ACTIVE_PROCESS"),
                Limit::JobTime => wine_lies("JOB_OBJECT_LIMIT_JOB_TIME"),
                Limit::ProcessTime => wine_lies("JOB_OBJECT_LIMIT_PROCESS_TIME"),
                Limit::WorkingSetMin | Limit::WorkingSetMax => {
                    wine_lies("JOB_OBJECT_LIMIT_WORKINGSET (per process, both bounds together)")
                }
                Limit::PriorityClass => wine_lies("JOB_OBJECT_LIMIT_PRIORITY_CLASS"),
                Limit::Affinity => wine_lies("JOB_OBJECT_LIMIT_AFFINITY"),
                Limit::CpuRate => match &cpu {
                    Ok(()) => kernel("JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP"),
                    Err(e) => Enforcement::Unsupported(e.clone()),
                },
                Limit::CpuWeight => match &cpu {
                    Ok(()) => kernel("JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED (weights 1-9)"),
                    Err(e) => Enforcement::Unsupported(e.clone()),
                },
                Limit::IoRate => Enforcement::Unsupported(io_rate_reason()),
                Limit::BreakawayOk => wine_lies("JOB_OBJECT_LIMIT_BREAKAWAY_OK"),
            };
            LimitSupport { limit, how }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_map_both_ways() {
        assert_eq!(weight_to_win(1), 1);
        assert_eq!(weight_to_win(100), 5);
        assert_eq!(weight_to_win(10_000), 9);
        assert_eq!(weight_to_win(1000), 7);
        for k in 1..=9 {
            assert_eq!(weight_to_win(weight_from_win(k)), k);
        }
        assert_eq!(weight_from_win(5), 100);
    }

    #[test]
    fn build_checks_what_windows_cannot_say() {
        let n = Native::default();
        let e = build(&n, &JobLimits::new().working_set(Some(1 << 20), None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let e = build(&n, &JobLimits::new().cpu_weight(200).cpu_rate(0.5)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let e = build(
            &n,
            &JobLimits::new().io_rate(crate::IoRate::new(8, 0).read_bps(1)),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.to_string()
                .contains("SetIoRateControlInformationJobObject"),
            "{e}"
        );
        let e = build(&n, &JobLimits::new().max_processes(1 << 40)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let ok = build(&n, &JobLimits::new().job_memory(1 << 30).cpu_rate(0.25)).unwrap();
        let b = &ok.ext.BasicLimitInformation;
        assert_eq!(
            b.LimitFlags,
            JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION | JOB_OBJECT_LIMIT_JOB_MEMORY
        );
        // SAFETY: a hard cap stores CpuRate.
        assert_eq!(unsafe { ok.cpu.unwrap().Anonymous.CpuRate }, 2500);
    }
}
