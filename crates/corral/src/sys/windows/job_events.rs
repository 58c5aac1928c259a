//! Job events from the job's I/O completion port
//! (`JobObjectAssociateCompletionPortInformation`).
//!
//! A Job Object takes one completion port at a time. The first [`crate::Job::events`]
//! of a `Job` handle creates the port and a pump thread that blocks in
//! `GetQueuedCompletionStatus`, turns each message into a [`JobEvent`] and hands it to
//! every watcher of that handle (each gets every event). Later `events()` calls on the
//! same handle subscribe to the same pump; another handle's (another process's) are
//! refused while the port is held. The pump stops (a posted message wakes it) when the
//! handle and all its watchers are gone, and gives the port back (Windows 8 and later)
//! so the job can be watched again; a watcher that is killed keeps it associated until
//! the job is gone.
//!
//! The pump opens each new member's process when `JOB_OBJECT_MSG_NEW_PROCESS` arrives
//! (and the members present when watching starts), so the exit message can carry the
//! exit code from `GetExitCodeProcess`; a member that exited before it could be opened
//! reports [`ExitStatus::Unknown`].

use std::collections::{HashMap, HashSet};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::JobObjects::{
    JobObjectAssociateCompletionPortInformation, SetInformationJobObject,
    JOBOBJECT_ASSOCIATE_COMPLETION_PORT,
};
use windows_sys::Win32::System::IO::{
    CreateIoCompletionPort, GetQueuedCompletionStatus, PostQueuedCompletionStatus, OVERLAPPED,
};

use super::process::Handle;
use super::util::last_error;
use crate::job_events::JobEvent;
use crate::{Error, ErrorKind, ExitStatus, Pid, Result};

// The JOB_OBJECT_MSG_* message ids (winnt.h).
const MSG_END_OF_JOB_TIME: u32 = 1;
const MSG_END_OF_PROCESS_TIME: u32 = 2;
const MSG_ACTIVE_PROCESS_LIMIT: u32 = 3;
const MSG_ACTIVE_PROCESS_ZERO: u32 = 4;
const MSG_NEW_PROCESS: u32 = 6;
const MSG_EXIT_PROCESS: u32 = 7;
const MSG_ABNORMAL_EXIT_PROCESS: u32 = 8;
const MSG_PROCESS_MEMORY_LIMIT: u32 = 9;
const MSG_JOB_MEMORY_LIMIT: u32 = 10;

/// The completion key of the job's messages.
const JOB_KEY: usize = 1;
/// The completion key of the message that stops the pump.
const STOP_KEY: usize = 2;

/// What the pump hands to watchers: an event, or why the port failed.
type Msg = std::result::Result<JobEvent, String>;

/// The subscribers of one pump.
type Subs = Arc<Mutex<Vec<Sender<Msg>>>>;

/// A job's completion port and the thread that reads it.
#[derive(Debug)]
pub(crate) struct Pump {
    /// The job, to give the port back when the pump stops.
    job: Arc<OwnedHandle>,
    port: Arc<OwnedHandle>,
    subs: Subs,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pump {
    /// Creates the port, associates it with `job`, and starts the thread. `members`: the
    /// processes in the job now (their exits are reported, their arrival is not).
    pub(crate) fn start(job: Arc<OwnedHandle>, members: Vec<Handle>) -> Result<Pump> {
        let op = "watch job events";
        // SAFETY: a new port, not tied to a file; one concurrent thread.
        let p = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, std::ptr::null_mut(), 0, 1) };
        if p.is_null() {
            return Err(last_error(op, None));
        }
        // SAFETY: a fresh handle we own.
        let port = Arc::new(unsafe { OwnedHandle::from_raw_handle(p as _) });
        let assoc = JOBOBJECT_ASSOCIATE_COMPLETION_PORT {
            CompletionKey: JOB_KEY as *mut _,
            CompletionPort: port.as_raw_handle() as HANDLE,
        };
        // SAFETY: `assoc` is live and of the size passed; a job handle with
        // JOB_OBJECT_SET_ATTRIBUTES.
        let ok = unsafe { associate(job.as_raw_handle() as HANDLE, &assoc) };
        if ok == 0 {
            let e = last_error(op, None);
            // ERROR_INVALID_PARAMETER: the job already has a port.
            if e.raw_os_error() == Some(87) {
                return Err(Error::new(ErrorKind::Unsupported, op).with_detail(
                    "the job already has a completion port (another process or another \
                     handle of this job watches it, or a watcher ended without giving it \
                     back): Windows allows one per job at a time",
                ));
            }
            return Err(e.with_detail(
                "SetInformationJobObject(JobObjectAssociateCompletionPortInformation) failed",
            ));
        }
        let subs: Subs = Arc::default();
        let (port2, subs2) = (Arc::clone(&port), Arc::clone(&subs));
        let thread = std::thread::Builder::new()
            .name("corral-job-events".into())
            .spawn(move || pump(&port2, &subs2, members))
            .map_err(|e| Error::from_io("start job event thread", e))?;
        Ok(Pump {
            job,
            port,
            subs,
            thread: Some(thread),
        })
    }

    fn subscribe(&self) -> (Sender<Msg>, Receiver<Msg>) {
        let (tx, rx) = mpsc::channel();
        if let Ok(mut s) = self.subs.lock() {
            s.push(tx.clone());
        }
        (tx, rx)
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        // SAFETY: our port handle; a message with no OVERLAPPED.
        let ok = unsafe {
            PostQueuedCompletionStatus(
                self.port.as_raw_handle() as HANDLE,
                0,
                STOP_KEY,
                std::ptr::null(),
            )
        };
        if let Some(t) = self.thread.take() {
            if ok != 0 {
                let _ = t.join();
            }
        }
        // Give the port back, so another watcher (another process's, say) can watch the
        // job: a null port removes the association (Windows 8 and later; Wine 8 refuses
        // it, and there the job keeps this port until it is gone).
        let none = JOBOBJECT_ASSOCIATE_COMPLETION_PORT {
            CompletionKey: std::ptr::null_mut(),
            CompletionPort: std::ptr::null_mut(),
        };
        // SAFETY: `none` is live; the job handle is ours.
        let _ = unsafe { associate(self.job.as_raw_handle() as HANDLE, &none) };
    }
}

/// `SetInformationJobObject(JobObjectAssociateCompletionPortInformation)`.
///
/// # Safety
/// `job` must be a job handle with `JOB_OBJECT_SET_ATTRIBUTES`.
unsafe fn associate(job: HANDLE, assoc: &JOBOBJECT_ASSOCIATE_COMPLETION_PORT) -> i32 {
    // SAFETY: `assoc` is live and of the size passed; the caller's handle.
    unsafe {
        SetInformationJobObject(
            job,
            JobObjectAssociateCompletionPortInformation,
            (assoc as *const JOBOBJECT_ASSOCIATE_COMPLETION_PORT).cast(),
            std::mem::size_of::<JOBOBJECT_ASSOCIATE_COMPLETION_PORT>() as u32,
        )
    }
}

/// The pump thread: one blocking `GetQueuedCompletionStatus` per message.
fn pump(port: &OwnedHandle, subs: &Subs, members: Vec<Handle>) {
    let mut open: HashMap<u32, Handle> = members.into_iter().map(|h| (h.pid.as_raw(), h)).collect();
    // Windows announces the members present at association time: not "new" for us.
    let mut announced_before: HashSet<u32> = open.keys().copied().collect();
    let send = |m: Msg| {
        if let Ok(mut s) = subs.lock() {
            s.retain(|tx| tx.send(m.clone()).is_ok());
        }
    };
    loop {
        let (mut n, mut key, mut ov) = (0u32, 0usize, std::ptr::null_mut::<OVERLAPPED>());
        // SAFETY: our port; the out-pointers are live locals.
        let ok = unsafe {
            GetQueuedCompletionStatus(
                port.as_raw_handle() as HANDLE,
                &mut n,
                &mut key,
                &mut ov,
                u32::MAX,
            )
        };
        if ok == 0 {
            let e = std::io::Error::last_os_error();
            send(Err(format!("GetQueuedCompletionStatus failed: {e}")));
            return;
        }
        if key == STOP_KEY {
            return;
        }
        if key != JOB_KEY {
            continue;
        }
        // For process messages, the "OVERLAPPED pointer" is the process id.
        let pid_raw = ov as usize as u32;
        let pid = Pid::new(pid_raw);
        let ev = match n {
            MSG_NEW_PROCESS => {
                if announced_before.remove(&pid_raw) {
                    continue;
                }
                let Some(pid) = pid else { continue };
                if let Ok(h) = Handle::open(pid) {
                    open.insert(pid_raw, h);
                }
                JobEvent::NewProcess { pid }
            }
            MSG_EXIT_PROCESS | MSG_ABNORMAL_EXIT_PROCESS => {
                announced_before.remove(&pid_raw);
                let Some(pid) = pid else { continue };
                let status = match open.remove(&pid_raw) {
                    Some(h) => {
                        // The message can come a moment before the handle is signalled.
                        let _ = h.wait_exit(Some(Duration::from_secs(1)));
                        h.exit_status()
                    }
                    None => ExitStatus::Unknown,
                };
                if n == MSG_EXIT_PROCESS {
                    JobEvent::ProcessExit { pid, status }
                } else {
                    JobEvent::AbnormalExit { pid, status }
                }
            }
            MSG_ACTIVE_PROCESS_ZERO => {
                announced_before.clear();
                JobEvent::JobEmpty
            }
            MSG_ACTIVE_PROCESS_LIMIT => JobEvent::ProcessLimit { count: 1 },
            MSG_JOB_MEMORY_LIMIT | MSG_PROCESS_MEMORY_LIMIT => JobEvent::MemoryLimit { count: 1 },
            MSG_END_OF_JOB_TIME | MSG_END_OF_PROCESS_TIME => JobEvent::CpuTimeLimit,
            _ => continue,
        };
        send(Ok(ev));
    }
}

/// One stream of a job's events.
#[derive(Debug)]
pub(crate) struct JobWatch {
    _pump: Arc<Pump>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    ended: bool,
    /// A CpuTimeLimit was delivered and no process joined since: drop a second one (the
    /// kernel's END_OF_JOB_TIME and corral's backstop watcher may both report it).
    cpu_limit_reported: bool,
}

impl JobWatch {
    pub(crate) fn subscribe(pump: Arc<Pump>) -> JobWatch {
        let (tx, rx) = pump.subscribe();
        JobWatch {
            _pump: pump,
            tx,
            rx,
            ended: false,
            cpu_limit_reported: false,
        }
    }

    pub(crate) fn next(&mut self, timeout: Option<Duration>) -> Result<Option<JobEvent>> {
        let op = "watch job events";
        if self.ended {
            return Err(
                Error::new(ErrorKind::InvalidInput, op).with_detail("the event stream ended")
            );
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let m = match deadline {
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => self
                    .rx
                    .recv_timeout(d.saturating_duration_since(std::time::Instant::now())),
            };
            let ev = match m {
                Ok(Ok(ev)) => ev,
                Ok(Err(why)) => {
                    self.ended = true;
                    return Err(Error::new(ErrorKind::Os, op).with_detail(why));
                }
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = true;
                    return Err(
                        Error::new(ErrorKind::Os, op).with_detail("the event thread stopped")
                    );
                }
            };
            match ev {
                JobEvent::CpuTimeLimit if self.cpu_limit_reported => continue,
                JobEvent::CpuTimeLimit => self.cpu_limit_reported = true,
                JobEvent::NewProcess { .. } => self.cpu_limit_reported = false,
                _ => {}
            }
            return Ok(Some(ev));
        }
    }

    /// Windows reports every process that joins.
    pub(crate) fn new_process_exact(&self) -> bool {
        true
    }

    /// Lets the handle's watchers report events here: the job-CPU-time backstop's
    /// [`JobEvent::CpuTimeLimit`] and the notification limits' `NotificationLimit`.
    pub(crate) fn cpu_limit_raiser(&self) -> Option<crate::job_limits::Raiser> {
        let tx = Mutex::new(self.tx.clone());
        Some(Box::new(move |ev| {
            tx.lock().map(|t| t.send(Ok(ev)).is_ok()).unwrap_or(false)
        }))
    }

    pub(crate) fn ended(&self) -> bool {
        self.ended
    }
}
