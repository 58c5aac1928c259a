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
    JobObjectBasicAccountingInformation, JobObjectBasicProcessIdList,
    JobObjectExtendedLimitInformation, OpenJobObjectW, QueryInformationJobObject,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_ACTIVE_PROCESS,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    PROCESS_QUERY_INFORMATION, PROCESS_SET_QUOTA, PROCESS_TERMINATE,
};

use super::process::Handle;
use super::util::{last_error, wide};
use crate::info::CgroupMembership;
use crate::job::JOB_PREFIX;
use crate::{Error, ErrorKind, Pid, Result};

/// `JOB_OBJECT_ALL_ACCESS`.
const JOB_ALL_ACCESS: u32 = 0x1F_001F;

/// The exit code members get from [`Job::terminate`] (as `Signal::Kill` gives).
const KILL_EXIT_CODE: u32 = 9;

/// A job: a Job Object handle and its name, and the limits this handle set (Wine reads
/// extended limits back as zeros, so they are remembered rather than queried).
#[derive(Debug)]
pub(crate) struct Job {
    name: String,
    h: Arc<OwnedHandle>,
    limits: Mutex<Limits>,
}

/// The limits set through this handle.
#[derive(Debug, Default, Clone, Copy)]
struct Limits {
    kill_on_close: bool,
    active_processes: Option<u32>,
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
        Ok(Job {
            name,
            h: Arc::new(h),
            limits: Mutex::default(),
        })
    }

    /// The same as [`Job::create`]: the flags select Linux cgroup fallbacks.
    pub(crate) fn create_with(name: Option<&str>, _: bool, _: bool) -> Result<Job> {
        Job::create(name)
    }

    /// Opens the Job Object `corral-<name>`.
    /// The process-group fallback exists on Linux only.
    pub(crate) fn create_fallback(_: Option<&str>) -> Result<Job> {
        Err(Error::new(ErrorKind::Unsupported, "create job")
            .with_detail("the process-group fallback exists on Linux only"))
    }

    pub(crate) fn backend(&self) -> crate::JobBackend {
        crate::JobBackend::JobObject
    }

    pub(crate) fn open(name: &str) -> Result<Job> {
        let op = "open job";
        let w = wide(&format!("{JOB_PREFIX}{name}"));
        // SAFETY: `w` is NUL-terminated UTF-16.
        let h = unsafe { OpenJobObjectW(JOB_ALL_ACCESS, FALSE, w.as_ptr()) };
        if h.is_null() {
            let e = last_error(op, None);
            // ERROR_FILE_NOT_FOUND
            if e.raw_os_error() == Some(2) {
                return Err(e
                    .with_kind(ErrorKind::InvalidInput)
                    .with_detail(format!("no job named {name:?}")));
            }
            return Err(e);
        }
        // SAFETY: a fresh handle we own.
        let h = unsafe { OwnedHandle::from_raw_handle(h as _) };
        Ok(Job {
            name: name.to_owned(),
            h: Arc::new(h),
            limits: Mutex::default(),
        })
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

    pub(crate) fn freeze(&self) -> Result<()> {
        Err(not_yet("freeze job"))
    }

    pub(crate) fn thaw(&self) -> Result<()> {
        Err(not_yet("thaw job"))
    }

    pub(crate) fn is_frozen(&self) -> Result<bool> {
        Err(not_yet("read job state"))
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
        let mut l = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let new = Limits {
            kill_on_close: yes,
            ..*l
        };
        self.apply(new)?;
        *l = new;
        Ok(())
    }

    /// Sets (or with `None` lifts) `JOB_OBJECT_LIMIT_ACTIVE_PROCESS`.
    pub(crate) fn set_active_process_limit(&self, limit: Option<u32>) -> Result<()> {
        if limit == Some(0) {
            return Err(Error::new(ErrorKind::InvalidInput, "set job limit")
                .with_detail("an active-process limit must be at least 1"));
        }
        let mut l = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let new = Limits {
            active_processes: limit,
            ..*l
        };
        self.apply(new)?;
        *l = new;
        Ok(())
    }

    fn apply(&self, l: Limits) -> Result<()> {
        // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is valid (integers).
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        let b = &mut info.BasicLimitInformation;
        if l.kill_on_close {
            b.LimitFlags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        }
        if let Some(n) = l.active_processes {
            b.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
            b.ActiveProcessLimit = n;
        }
        // SAFETY: `info` is live and of the size passed; a job handle with
        // JOB_OBJECT_SET_ATTRIBUTES.
        let ok = unsafe {
            SetInformationJobObject(
                self.raw(),
                JobObjectExtendedLimitInformation,
                (&info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(last_error("set job limit", None));
        }
        Ok(())
    }

    /// Process counts of the job's lifetime (`JobObjectBasicAccountingInformation`).
    pub(crate) fn process_counts(&self) -> Result<Accounting> {
        // SAFETY: an all-zero accounting struct is valid (integers).
        let mut a: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `a` is live and of the size passed.
        let ok = unsafe {
            QueryInformationJobObject(
                self.raw(),
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

    pub(crate) fn set_limits(&mut self, _: &crate::JobLimits) -> Result<()> {
        Err(not_yet("set job limits"))
    }

    pub(crate) fn limits(&self) -> Result<crate::JobLimits> {
        Err(not_yet("read job limits"))
    }

    pub(crate) fn accounting(&self) -> Result<crate::JobAccounting> {
        Err(not_yet("read job accounting"))
    }

    pub(crate) fn view(&self) -> super::JobView {
        super::JobView
    }

    pub(crate) fn spawn_target(&self) -> JobSpawn {
        JobSpawn(Arc::clone(&self.h))
    }
}

fn not_yet(op: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported, op).with_detail("not implemented on Windows yet")
}

/// Windows offers no way to name the jobs a process is in.
pub(crate) fn job_of(h: &Handle) -> Result<Option<(String, Vec<CgroupMembership>)>> {
    Err(Error::new(ErrorKind::Unsupported, "find job of process")
        .with_pid(h.pid)
        .with_detail("Windows cannot list the jobs a process belongs to"))
}

pub(crate) fn job_capabilities() -> crate::job::Capabilities {
    crate::job::Capabilities {
        backend: crate::JobBackend::JobObject,
        membership: true,
        kill: true,
        notes: vec!["Windows Job Objects: freeze/thaw and limits are not implemented yet".into()],
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

/// Job events (the completion port) are not implemented on Windows yet.
#[derive(Debug)]
pub(crate) struct JobWatch;

impl JobWatch {
    pub(crate) fn new(_: &Job) -> Result<JobWatch> {
        Err(Error::new(ErrorKind::Unsupported, "watch job events")
            .with_detail("job events (the completion port) are not implemented on Windows yet"))
    }

    pub(crate) fn next(
        &mut self,
        _: Option<Duration>,
    ) -> Result<Option<crate::job_events::JobEvent>> {
        Err(Error::new(ErrorKind::Unsupported, "watch job events"))
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
