//! The sleep of the notification-limit thread (`job_limits::Notifier`): `poll` on a stop
//! eventfd and, where the job's memory is a cgroup v1 memory cgroup, on a memory
//! threshold eventfd (`cgroup.event_control` with `memory.usage_in_bytes`), so the kernel
//! says when the job's usage crosses the notification limit instead of a sampler
//! noticing it. cgroup v2 has no threshold notification (`memory.events` counts only the
//! `memory.high`/`memory.max` boundaries): there, and for I/O bytes, the thread samples.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};

use crate::job_limits::NotifyWake;
use crate::{Error, Result};

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd(op: &'static str) -> Result<OwnedFd> {
    // SAFETY: eventfd(2) with flags only; the descriptor is owned right after.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(Error::from_io(op, std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// A v1 memory threshold: the eventfd the kernel signals at each crossing of the
/// threshold (up or down, checked every 128 page charges or uncharges per CPU), the job's
/// `memory.usage_in_bytes` (open, to tell a crossing from the cgroup's removal, which
/// signals the eventfd too). Closing the eventfd unregisters it.
#[derive(Debug)]
pub(crate) struct Threshold {
    efd: OwnedFd,
    usage: OwnedFd,
}

const OP: &str = "set job notification limits";

/// Registers a threshold of `bytes` on the v1 memory cgroup `dir`. `None` where the
/// kernel offers no `cgroup.event_control` or refuses this process (then the caller
/// samples).
pub(crate) fn register_threshold(dir: &Path, bytes: u64) -> Result<Option<Threshold>> {
    let io_err =
        |p: &Path, e: std::io::Error| Error::from_io(OP, e).with_detail(p.display().to_string());
    let usage_path = dir.join("memory.usage_in_bytes");
    let usage = rustix::fs::open(&usage_path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| io_err(&usage_path, e.into()))?;
    let efd = eventfd(OP)?;
    let line = format!("{} {} {bytes}", efd.as_raw_fd(), usage.as_raw_fd());
    let ctl: PathBuf = dir.join("cgroup.event_control");
    match std::fs::write(&ctl, line) {
        Ok(()) => Ok(Some(Threshold { efd, usage })),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(io_err(&ctl, e)),
    }
}

/// Where the notification thread sleeps; [`NotifyStop`] ends the sleep for good.
#[derive(Debug)]
pub(crate) struct NotifyWait {
    stop: Arc<OwnedFd>,
    memory: Option<Threshold>,
}

/// Stops a [`NotifyWait`]: a write to its eventfd, which stays readable.
#[derive(Debug)]
pub(crate) struct NotifyStop(Arc<OwnedFd>);

impl NotifyWait {
    /// A sleep that also wakes when the job's memory usage crosses `memory`, where the
    /// kernel can say so (see [`NotifyWait::memory_exact`]).
    pub(crate) fn new(view: &super::JobView, memory: Option<u64>) -> Result<NotifyWait> {
        let stop = Arc::new(eventfd(OP)?);
        let memory = match memory {
            Some(b) => view.memory_threshold(b)?,
            None => None,
        };
        Ok(NotifyWait { stop, memory })
    }

    /// What stops this sleep.
    pub(crate) fn stopper(&self) -> NotifyStop {
        NotifyStop(self.stop.clone())
    }

    /// Whether the kernel reports the memory crossings (a v1 threshold is registered).
    pub(crate) fn memory_exact(&self) -> bool {
        self.memory.is_some()
    }

    /// Sleeps for `timeout` (`None`: until stopped or woken by the kernel).
    /// [`NotifyWake::Memory`]: the usage crossed the threshold, either way, since the
    /// last wake-up. The kernel notes at registration whether the usage is at or above
    /// the threshold and signals each change of that, so any signal means the usage was
    /// at or above the threshold at some moment since the registration (on the way up,
    /// or before coming down). [`NotifyWake::Stop`] also when the job's memory cgroup
    /// was removed.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> NotifyWake {
        let ts = timeout.map(super::cgroup::timespec);
        let mut fds = Vec::with_capacity(2);
        fds.push(PollFd::new(&*self.stop, PollFlags::IN));
        if let Some(t) = &self.memory {
            fds.push(PollFd::new(&t.efd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) => {}
            // A signal: the caller re-checks and sleeps again.
            Err(rustix::io::Errno::INTR) => return NotifyWake::Timeout,
            Err(_) => return NotifyWake::Stop,
        }
        if !fds[0].revents().is_empty() {
            return NotifyWake::Stop;
        }
        let fired = fds.get(1).is_some_and(|f| !f.revents().is_empty());
        match (&self.memory, fired) {
            (Some(t), true) => {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(&t.efd, &mut b);
                // The removal of the cgroup signals the eventfd too: then the usage
                // file reads ENODEV.
                let mut u = [0u8; 32];
                match rustix::io::pread(t.usage.as_fd(), &mut u, 0) {
                    Ok(_) => NotifyWake::Memory,
                    Err(_) => NotifyWake::Stop,
                }
            }
            _ => NotifyWake::Timeout,
        }
    }
}

impl NotifyStop {
    /// Ends the sleep (and every later one).
    pub(crate) fn stop(&self) {
        let _ = rustix::io::write(&*self.0, &1u64.to_ne_bytes());
    }
}
