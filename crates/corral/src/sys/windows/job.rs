//! Jobs on Windows: Job Objects. A job is the named kernel object `corral-<name>` (in
//! the session's namespace); members are assigned with `AssignProcessToJobObject`, and
//! their children are born in the job. The job object lives while a handle to it is open
//! or a process is in it.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{GetLastError, ERROR_ALREADY_EXISTS, FALSE, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, IsProcessInJob,
    JobObjectBasicAccountingInformation, JobObjectBasicProcessIdList, OpenJobObjectW,
    QueryInformationJobObject, TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOB_OBJECT_LIMIT_ACTIVE_PROCESS, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{
    PROCESS_QUERY_INFORMATION, PROCESS_SET_QUOTA, PROCESS_TERMINATE, PROCESS_VM_READ,
};

use super::job_events::{JobWatch, Pump};
use super::job_limits::{self as lim, Native, KILL_EXIT_CODE};
use super::process::Handle;
use super::util::{last_error, wide};
use crate::info::CgroupMembership;
use crate::job::JOB_PREFIX;
use crate::{Error, ErrorKind, Pid, Result, Signal};

pub(crate) use super::job_limits::{limit_support, JobView};

/// The Job Object applies per-process limits, priority class and affinity to every
/// member itself: nothing to set on each process (see `Job::member_settings`).
pub(crate) const JOB_KEEPS_MEMBER_LIMITS: bool = true;

/// `JOB_OBJECT_ALL_ACCESS`.
const JOB_ALL_ACCESS: u32 = 0x1F_001F;

/// A job: a Job Object handle and its name, the limits this handle set, the members it
/// suspended, and its event pump.
#[derive(Debug)]
pub(crate) struct Job {
    name: String,
    h: Arc<OwnedHandle>,
    state: Mutex<State>,
    /// The completion port pump, from the first `events()` on this handle.
    pump: Mutex<Option<Arc<Pump>>>,
}

/// What this handle set and did.
#[derive(Debug, Default)]
struct State {
    /// The limit structures as last sent through this handle (Wine reads extended
    /// limits back as zeros, so changes are laid over these rather than a query).
    native: Native,
    /// The portable limits last set (to read a CPU rate back as `cpus`, say).
    limits: crate::JobLimits,
    /// Members this handle suspended with [`Job::freeze`], in order.
    frozen: Vec<Handle>,
}

/// Counts from `JobObjectBasicAccountingInformation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accounting {
    pub(crate) total_processes: u32,
    pub(crate) active_processes: u32,
    pub(crate) terminated_processes: u32,
}

/// What spawning into a job needs: the job's handle.
#[derive(Debug, Clone)]
pub(crate) struct JobSpawn(Arc<OwnedHandle>);

impl JobSpawn {
    /// Puts the (suspended) process into the job.
    pub(crate) fn assign(&self, h: &Handle) -> Result<()> {
        assign(self.0.as_raw_handle() as HANDLE, h)
    }

    /// The job's raw handle (for `PROC_THREAD_ATTRIBUTE_JOB_LIST` in spawn.rs).
    pub(crate) fn raw(&self) -> HANDLE {
        self.0.as_raw_handle() as HANDLE
    }
}

fn assign(job: HANDLE, h: &Handle) -> Result<()> {
    let op = "assign to job";
    h.verify(op, false)
        .map_err(|e| e.with_kind(ErrorKind::NoSuchProcess))?;
    let p = h.with_rights(PROCESS_SET_QUOTA | PROCESS_TERMINATE, op)?;
    // SAFETY: `job` is a job handle with JOB_OBJECT_ASSIGN_PROCESS; `p` has the rights
    // AssignProcessToJobObject needs.
    let ok = unsafe { AssignProcessToJobObject(job, p.as_raw_handle() as HANDLE) };
    if ok == 0 {
        let e = last_error(op, Some(h.pid));
        if h.has_exited() {
            return Err(Error::new(ErrorKind::NoSuchProcess, op).with_pid(h.pid));
        }
        return Err(e);
    }
    Ok(())
}

/// A unique name for an unnamed job: pid, counter, time.
fn generated_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "job-{}-{}-{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        t & 0xffff_ffff
    )
}

impl Job {
    fn raw(&self) -> HANDLE {
        self.h.as_raw_handle() as HANDLE
    }

    /// Creates the Job Object `corral-<name>`; a name already in use is refused.
    pub(crate) fn create(name: Option<&str>) -> Result<Job> {
        let op = "create job";
        let name = name.map_or_else(generated_name, str::to_owned);
        let w = wide(&format!("{JOB_PREFIX}{name}"));
        // SAFETY: default security, `w` is NUL-terminated UTF-16.
        let h = unsafe { CreateJobObjectW(std::ptr::null(), w.as_ptr()) };
        if h.is_null() {
            return Err(last_error(op, None));
        }
        // SAFETY: read right after the call, as the documentation says.
        let existed = unsafe { GetLastError() } == ERROR_ALREADY_EXISTS;
        // SAFETY: a fresh handle we own.
        let h = unsafe { OwnedHandle::from_raw_handle(h as _) };
        if existed {
            return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
                "a job named {name:?} already exists; use Job::open"
            )));
        }
        let job = Job {
            name,
            h: Arc::new(h),
            state: Mutex::default(),
            pump: Mutex::default(),
        };
        // No error dialog may hang a member: DIE_ON_UNHANDLED_EXCEPTION from the start.
        let st = State::default();
        lim::apply(job.raw(), &st.native, &st.native)?;
        Ok(job)
    }

    /// The same as [`Job::create`]: the flags select Linux cgroup fallbacks.
    pub(crate) fn create_with(name: Option<&str>, _: bool, _: bool) -> Result<Job> {
        Job::create(name)
    }

    /// Cgroup layouts exist on Linux only.
    pub(crate) fn create_v2_only(_: Option<&str>) -> Result<Job> {
        Err(Error::new(ErrorKind::Unsupported, "create job")
            .with_detail("cgroup hierarchies exist on Linux only"))
    }

    /// The process-group fallback exists on Linux only.
    pub(crate) fn create_fallback(_: Option<&str>) -> Result<Job> {
        Err(Error::new(ErrorKind::Unsupported, "create job")
            .with_detail("the process-group fallback exists on Linux only"))
    }

    pub(crate) fn backend(&self) -> crate::JobBackend {
        crate::JobBackend::JobObject
    }

    /// Opens the Job Object `corral-<name>` of the caller's session or, where that has
    /// none, of the one other session whose named objects hold it (`Global\…`,
    /// `Session\N\…`); held by several other sessions, the name is ambiguous.
    pub(crate) fn open(name: &str) -> Result<Job> {
        let op = "open job";
        let job = match open_as(name, &format!("{JOB_PREFIX}{name}"), JOB_ALL_ACCESS, op) {
            Err(e) if e.raw_os_error() == Some(2) => {
                // ERROR_FILE_NOT_FOUND: not in this session's named objects.
                let own = super::job_list::own_session(op)?;
                let holders: Vec<u32> = super::job_list::jobs_by_session(None, own, op)?
                    .into_iter()
                    .filter(|(s, _, names)| *s != own && names.iter().any(|n| n == name))
                    .map(|(s, _, _)| s)
                    .collect();
                match holders[..] {
                    [] => {
                        return Err(e
                            .with_kind(ErrorKind::InvalidInput)
                            .with_detail(format!("no job named {name:?}")))
                    }
                    [s] => open_as(
                        name,
                        &super::job_list::name_in_session(s, name),
                        JOB_ALL_ACCESS,
                        op,
                    )?,
                    _ => {
                        let list: Vec<String> = holders.iter().map(u32::to_string).collect();
                        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
                            "job {name:?} is not in this session (session {own}) but in \
                                 sessions {}: run corral in the session whose job you mean",
                            list.join(", ")
                        )));
                    }
                }
            }
            r => r?,
        };
        // Start from the limits the job has (Wine reads them as zeros: then from none).
        {
            let mut st = job.lock();
            if let Some(n) = lim::read_native(job.raw()) {
                st.native = n;
            }
            if let Ok(l) = lim::read(job.raw(), &crate::JobLimits::default()) {
                st.limits = l;
            }
        }
        Ok(job)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn assign(&self, h: &Handle) -> Result<()> {
        assign(self.raw(), h)
    }

    /// The member pids (`JobObjectBasicProcessIdList`).
    pub(crate) fn pids(&self) -> Result<Vec<u32>> {
        let op = "list job members";
        // Two u32 counts, then the ids as ULONG_PTRs.
        let mut buf: Vec<usize> = vec![0; 256];
        loop {
            // SAFETY: `buf` is a live, aligned buffer of the stated size.
            let ok = unsafe {
                QueryInformationJobObject(
                    self.raw(),
                    JobObjectBasicProcessIdList,
                    buf.as_mut_ptr().cast(),
                    (buf.len() * std::mem::size_of::<usize>()) as u32,
                    std::ptr::null_mut(),
                )
            };
            let head = buf[0] as u64;
            let (assigned, listed) = ((head & 0xffff_ffff) as usize, (head >> 32) as usize);
            let err = std::io::Error::last_os_error();
            // ERROR_MORE_DATA: grow and ask again.
            if (ok == 0 && err.raw_os_error() == Some(234)) || (ok != 0 && listed < assigned) {
                buf.resize(buf.len().max(assigned + 16) * 2, 0);
                continue;
            }
            if ok == 0 {
                return Err(super::util::win_error(op, None, err));
            }
            return Ok(buf[1..1 + listed].iter().map(|&p| p as u32).collect());
        }
    }

    /// Whether the process is in this job (`IsProcessInJob`; retried with
    /// `PROCESS_QUERY_INFORMATION` where the limited right is not enough, as on Wine).
    pub(crate) fn contains(&self, h: &Handle) -> Result<bool> {
        let op = "check job membership";
        let query = |p: HANDLE| {
            let mut r = 0;
            // SAFETY: valid process and job handles; `r` is a live BOOL.
            let ok = unsafe { IsProcessInJob(p, self.raw(), &mut r) };
            (ok != 0).then_some(r != 0)
        };
        if let Some(r) = query(h.raw_handle() as HANDLE) {
            return Ok(r);
        }
        let more = h.with_rights(PROCESS_QUERY_INFORMATION, op)?;
        query(more.as_raw_handle() as HANDLE).ok_or_else(|| last_error(op, Some(h.pid)))
    }

    /// Kills every member at once (`TerminateJobObject`, exit code 9) and waits until the
    /// job is empty.
    pub(crate) fn terminate(&self) -> Result<()> {
        // SAFETY: a job handle with JOB_OBJECT_TERMINATE.
        if unsafe { TerminateJobObject(self.raw(), KILL_EXIT_CODE) } == 0 {
            return Err(last_error("terminate job", None));
        }
        self.wait_empty(Some(Duration::from_secs(30)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Suspends every member (`NtSuspendProcess`), listing the members again after each
    /// round until a round finds none it has not suspended: a process a member created
    /// between rounds is caught by the next one. Members this handle already suspended
    /// are not suspended twice.
    pub(crate) fn freeze(&self) -> Result<()> {
        let op = "freeze job";
        let mut st = self.lock();
        for _ in 0..1000 {
            let mut new = 0;
            for pid in self.pids()? {
                if st.frozen.iter().any(|h| h.pid.as_raw() == pid) {
                    continue;
                }
                let Some(h) = Pid::new(pid).and_then(|p| Handle::open(p).ok()) else {
                    continue;
                };
                if h.has_exited() || !self.contains(&h).unwrap_or(false) {
                    continue;
                }
                match h.send_signal(Signal::Stop) {
                    Ok(()) => {}
                    Err(e) if h.has_exited() || e.kind() == ErrorKind::NoSuchProcess => continue,
                    Err(e) => {
                        // Leave nothing half frozen.
                        drop(st);
                        let _ = self.thaw();
                        return Err(e);
                    }
                }
                st.frozen.push(h);
                new += 1;
            }
            if new == 0 {
                return Ok(());
            }
        }
        drop(st);
        let _ = self.thaw();
        Err(Error::new(ErrorKind::Timeout, op)
            .with_detail("new members kept appearing for 1000 rounds"))
    }

    /// Resumes (`NtResumeProcess`) the members this handle suspended, last first; a
    /// handle that froze nothing (from `Job::open`, say) resumes every member once.
    pub(crate) fn thaw(&self) -> Result<()> {
        let mut st = self.lock();
        let frozen = std::mem::take(&mut st.frozen);
        let members: Vec<Handle> = if frozen.is_empty() {
            self.pids()?
                .into_iter()
                .filter_map(Pid::new)
                .filter_map(|p| Handle::open(p).ok())
                .filter(|h| self.contains(h).unwrap_or(false))
                .collect()
        } else {
            frozen
        };
        let mut first_err = None;
        for h in members.iter().rev() {
            match h.send_signal(Signal::Cont) {
                Ok(()) => {}
                Err(_) if h.has_exited() => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Whether the job is frozen: this handle froze it and every current member is one
    /// it suspended; or, frozen through another handle (another process's `freeze`),
    /// every member's threads all wait suspended (`SystemProcessInformation`).
    pub(crate) fn is_frozen(&self) -> Result<bool> {
        let st = self.lock();
        let pids = self.pids()?;
        if !st.frozen.is_empty() {
            return Ok(pids
                .iter()
                .all(|p| st.frozen.iter().any(|h| h.pid.as_raw() == *p)));
        }
        drop(st);
        if pids.is_empty() {
            return Ok(false);
        }
        let threads = super::status::threads()?;
        Ok(pids.iter().all(|p| {
            threads.get(p).is_some_and(|rows| {
                !rows.is_empty()
                    && super::status::process_status(rows) == crate::info::Status::Stopped
            })
        }))
    }

    /// Waits on the members' process handles (one `WaitForMultipleObjects` per group of
    /// 64), then lists again, until a listing is empty.
    /// No job-wide reclaim: `Job::trim_memory` trims each member.
    pub(crate) fn reclaim(&self) -> Result<Option<(u64, u64)>> {
        Ok(None)
    }

    pub(crate) fn wait_empty(&self, timeout: Option<Duration>) -> Result<()> {
        let op = "wait for job to empty";
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let members: Vec<Handle> = self
                .pids()?
                .into_iter()
                .filter_map(Pid::new)
                .filter_map(|p| Handle::open(p).ok())
                .filter(|h| !h.has_exited() && self.contains(h).unwrap_or(false))
                .collect();
            if members.is_empty() {
                return Ok(());
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(Error::new(ErrorKind::Timeout, op)
                    .with_detail(format!("{} members remain", members.len())));
            }
            let refs: Vec<&Handle> = members.iter().collect();
            super::control::wait_many(&refs, left, |_| true)?;
        }
    }

    /// Sets `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`: closing the last handle of the job kills
    /// every member.
    pub(crate) fn set_kill_on_close(&self, yes: bool) -> Result<()> {
        let mut st = self.lock();
        let sent = lim::with_kill_on_close(&st.native, yes);
        lim::apply(self.raw(), &st.native, &sent)?;
        st.native = lim::settled(&sent, &st.native);
        Ok(())
    }

    /// Sets (or with `None` lifts) `JOB_OBJECT_LIMIT_ACTIVE_PROCESS`.
    pub(crate) fn set_active_process_limit(&self, limit: Option<u32>) -> Result<()> {
        if limit == Some(0) {
            return Err(Error::new(ErrorKind::InvalidInput, "set job limit")
                .with_detail("an active-process limit must be at least 1"));
        }
        let mut st = self.lock();
        let mut sent = lim::with_kill_on_close(&st.native, self.kills_on_close(&st));
        let b = &mut sent.ext.BasicLimitInformation;
        match limit {
            Some(n) => {
                b.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
                b.ActiveProcessLimit = n;
            }
            None => {
                b.LimitFlags &= !JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
                b.ActiveProcessLimit = 0;
            }
        }
        lim::apply(self.raw(), &st.native, &sent)?;
        st.native = lim::settled(&sent, &st.native);
        st.limits.max_processes = limit.map(u64::from);
        Ok(())
    }

    fn kills_on_close(&self, st: &State) -> bool {
        st.native.ext.BasicLimitInformation.LimitFlags & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE != 0
    }

    /// Process counts of the job's lifetime (`JobObjectBasicAccountingInformation`).
    pub(crate) fn process_counts(&self) -> Result<Accounting> {
        process_counts(self.raw())
    }

    /// Lays `l` over the limits set before (a `None` keeps a limit) and sends both
    /// structures, all or nothing (`SetInformationJobObject` of the extended limit and,
    /// when it changes, the CPU rate control information).
    pub(crate) fn set_limits(&mut self, l: &crate::JobLimits) -> Result<()> {
        let mut st = self.lock();
        let sent = lim::build(&st.native, l)?;
        lim::apply(self.raw(), &st.native, &sent)?;
        st.native = lim::settled(&sent, &st.native);
        st.limits = l.clone();
        Ok(())
    }

    /// The limits as the OS reports them (`QueryInformationJobObject`). Wine 8 reads the
    /// extended limits back as zeros: there only the CPU rate and what the portable
    /// handle keeps show.
    pub(crate) fn limits(&self) -> Result<crate::JobLimits> {
        let hint = self.lock().limits.clone();
        lim::read(self.raw(), &hint)
    }

    /// `JobObjectBasicAndIoAccountingInformation` and the peaks of
    /// `JobObjectExtendedLimitInformation`; the memory now is the sum of the members'
    /// committed private memory (`PagefileUsage`, what `JOB_OBJECT_LIMIT_JOB_MEMORY`
    /// counts; the same as `PrivateUsage`, which Wine 8 leaves 0 for other processes),
    /// over the members that could be opened.
    pub(crate) fn accounting(&self) -> Result<crate::JobAccounting> {
        let mut a = lim::accounting(self.raw())?;
        let mut sum = 0u64;
        for pid in self.pids()?.into_iter().filter_map(Pid::new) {
            let Ok(h) = Handle::open(pid) else { continue };
            if !self.contains(&h).unwrap_or(false) {
                continue;
            }
            sum += commit_of(&h).unwrap_or(0);
        }
        a.memory = Some(sum);
        Ok(a)
    }

    pub(crate) fn view(&self) -> JobView {
        let st = self.lock();
        let share = match (st.limits.cpu_rate, st.limits.cpus) {
            (Some(r), _) => r,
            (None, Some(c)) => c / lim::logical_cpus() as f64,
            _ => 1.0,
        };
        JobView {
            h: Arc::clone(&self.h),
            cpu_share: share,
        }
    }

    /// The event pump of this handle, started on first use.
    pub(crate) fn pump(&self) -> Result<Arc<Pump>> {
        let mut p = self.pump.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = p.as_ref() {
            return Ok(Arc::clone(p));
        }
        let members: Vec<Handle> = self
            .pids()?
            .into_iter()
            .filter_map(Pid::new)
            .filter_map(|pid| Handle::open(pid).ok())
            .filter(|h| self.contains(h).unwrap_or(false))
            .collect();
        let new = Arc::new(Pump::start(Arc::clone(&self.h), members)?);
        *p = Some(Arc::clone(&new));
        Ok(new)
    }

    pub(crate) fn spawn_target(&self) -> JobSpawn {
        JobSpawn(Arc::clone(&self.h))
    }
}

/// A process's committed private memory (`PagefileUsage` of `K32GetProcessMemoryInfo`).
fn commit_of(h: &Handle) -> Option<u64> {
    let call = |p: HANDLE| {
        let mut m = PROCESS_MEMORY_COUNTERS {
            cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32,
            ..Default::default()
        };
        // SAFETY: `m` is a live PROCESS_MEMORY_COUNTERS whose `cb` says its size.
        let ok = unsafe { K32GetProcessMemoryInfo(p, &mut m, m.cb) };
        (ok != 0).then_some(m.PagefileUsage as u64)
    };
    call(h.raw_handle() as HANDLE).or_else(|| {
        // Before Windows 8.1 this needs PROCESS_QUERY_INFORMATION | PROCESS_VM_READ.
        let more = h
            .with_rights(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, "read memory")
            .ok()?;
        call(more.as_raw_handle() as HANDLE)
    })
}

/// Process counts of a job's lifetime (`JobObjectBasicAccountingInformation`).
fn process_counts(job: HANDLE) -> Result<Accounting> {
    // SAFETY: an all-zero accounting struct is valid (integers).
    let mut a: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: `a` is live and of the size passed; `job` has JOB_OBJECT_QUERY.
    let ok = unsafe {
        QueryInformationJobObject(
            job,
            JobObjectBasicAccountingInformation,
            (&mut a as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(last_error("read job accounting", None));
    }
    Ok(Accounting {
        total_processes: a.TotalProcesses,
        active_processes: a.ActiveProcesses,
        terminated_processes: a.TotalTerminatedProcesses,
    })
}

/// `JOB_OBJECT_QUERY`.
const JOB_QUERY: u32 = 0x4;

/// The corral job of the caller's session that `h` is in. Windows names no job of a
/// process, so each listed job is asked (`IsProcessInJob`); of nested jobs, which all
/// contain the process, the one with the fewest active processes is the innermost.
pub(crate) fn job_of(h: &Handle) -> Result<Option<(String, Vec<CgroupMembership>)>> {
    let op = "find job of process";
    h.verify(op, true)?;
    let mut best: Option<(u32, String, String)> = None;
    // The process's own session's jobs first (where a job it was started into usually
    // is), then the caller's, then every other session this process may read.
    let target = super::job_list::session_of(h.pid.as_raw(), op).ok();
    let own = super::job_list::own_session(op)?;
    for (session, dir, names) in super::job_list::jobs_by_session(target, own, op)? {
        for name in names {
            let full = if session == own {
                format!("{JOB_PREFIX}{name}")
            } else {
                super::job_list::name_in_session(session, &name)
            };
            let Some(view) = open_query(&name, &full) else {
                continue; // gone since the listing, or not ours to query
            };
            if !view.contains(h)? {
                continue;
            }
            let active = process_counts(view.raw()).map_or(u32::MAX, |a| a.active_processes);
            if best.as_ref().is_none_or(|(n, _, _)| active < *n) {
                best = Some((active, view.name, dir.clone()));
            }
        }
    }
    Ok(best.map(|(_, name, dir)| (name, vec![super::job_list::place(&dir)])))
}

/// Opens job `name` by its Win32 object name `full` with `access`.
fn open_as(name: &str, full: &str, access: u32, op: &'static str) -> Result<Job> {
    let w = wide(full);
    // SAFETY: `w` is NUL-terminated UTF-16.
    let raw = unsafe { OpenJobObjectW(access, FALSE, w.as_ptr()) };
    if raw.is_null() {
        return Err(last_error(op, None));
    }
    // SAFETY: a fresh handle we own.
    let h = unsafe { OwnedHandle::from_raw_handle(raw as _) };
    Ok(Job {
        name: name.to_owned(),
        h: Arc::new(h),
        state: Mutex::default(),
        pump: Mutex::default(),
    })
}

/// Opens job `name` for queries by its Win32 object name `full`; `None` if it cannot be.
fn open_query(name: &str, full: &str) -> Option<Job> {
    open_as(name, full, JOB_QUERY, "find job of process").ok()
}

pub(crate) fn job_capabilities() -> crate::job::Capabilities {
    crate::job::Capabilities {
        backend: crate::JobBackend::JobObject,
        membership: true,
        kill: true,
        freeze: true,
        events: true,
        kill_on_close: true,
        notes: vec![
            "Windows Job Objects; freeze suspends each member (NtSuspendProcess), re-listing \
             until no new member appears"
                .into(),
        ],
        ..Default::default()
    }
}

/// Kill on close, natively: the Job Object gets `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, so
/// the kernel kills every member when the last handle closes — also when the owner dies.
/// No guard process is needed (`pid` is 0).
#[derive(Debug)]
pub(crate) struct JobGuard;

impl JobGuard {
    pub(crate) fn start(job: &Job) -> Result<JobGuard> {
        job.set_kill_on_close(true)?;
        Ok(JobGuard)
    }

    pub(crate) fn pid(&self) -> u32 {
        0
    }

    /// Dropping this handle kills the job even when another handle keeps it open, as
    /// on Linux (Windows alone would wait for the last handle).
    pub(crate) fn close(self, job: &Job) {
        let _ = job.terminate();
    }
}

impl JobWatch {
    /// Subscribes to the job's completion port (created by the first watcher of this
    /// handle).
    pub(crate) fn new(job: &Job) -> Result<JobWatch> {
        Ok(JobWatch::subscribe(job.pump()?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::job_list::{name_in_session, own_session, place};
    use super::*;

    /// A job in session 0's named objects (`Global\`, another session's unless this
    /// test runs in session 0) is opened by its any-session name, `job_of` finds it for
    /// a process in it, naming that session's directory, and `open` by its plain name.
    #[test]
    fn job_of_looks_into_other_sessions() {
        let name = format!("unit-global-{}", std::process::id());
        let w = wide(&format!(r"Global\{JOB_PREFIX}{name}"));
        // SAFETY: `w` is NUL-terminated UTF-16; default security.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), w.as_ptr()) };
        assert!(!raw.is_null(), "{}", last_error("create job", None));
        // SAFETY: a fresh handle we own.
        let job = unsafe { OwnedHandle::from_raw_handle(raw as _) };
        assert!(open_query(&name, &name_in_session(0, &name)).is_some());
        if own_session("test").unwrap() != 0 {
            // Not in this session's directory: the plain name does not reach it.
            assert!(open_query(&name, &format!("{JOB_PREFIX}{name}")).is_none());
        }
        let mut child = crate::Command::new(std::env::current_exe().unwrap())
            .arg("--list")
            .suspended(true)
            .spawn()
            .unwrap();
        assign(job.as_raw_handle() as HANDLE, child.process().handle()).unwrap();
        let found = job_of(child.process().handle());
        // `open` reaches it by its plain name when no job of this session has it.
        let opened = Job::open(&name).map(|j| j.contains(child.process().handle()));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            found.unwrap(),
            Some((name.clone(), vec![place(r"\BaseNamedObjects")]))
        );
        assert!(opened.unwrap().unwrap());
        let e = Job::open(&format!("{name}-none")).unwrap_err();
        assert!(e.to_string().contains("no job named"), "{e}");
    }
}
