//! Signals and waits on Linux, through the pidfd.
//!
//! Signals go through `pidfd_send_signal`, which cannot reach another process that
//! reused the pid. Waits poll the pidfd, which becomes readable when the process exits:
//! event-driven, no sleep loop. Exit statuses come from, in order: `waitid(P_PIDFD,
//! WEXITED | WNOWAIT)` for our own children (without reaping them, so `std`'s `Child`
//! still can), field 52 of `/proc/PID/stat` while the process is a zombie, and
//! `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT` (Linux 6.15+) once its parent reaped it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{WaitId, WaitIdOptions};

use super::process::{read_stat, Handle};
use crate::signal::{ExitStatus, Signal};
use crate::{Error, ErrorKind, Result};

/// `PIDFD_INFO_EXIT`: ask `PIDFD_GET_INFO` for the exit status.
const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `struct pidfd_info` as of Linux 6.15 (`include/uapi/linux/pidfd.h`).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
    coredump_mask: u32,
    spare1: u32,
}

/// `PIDFD_GET_INFO = _IOWR(0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: u64 =
    (3 << 30) | ((std::mem::size_of::<PidfdInfo>() as u64) << 16) | (0xFF << 8) | 11;

/// `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9+): signal the process group of the pidfd's
/// process.
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 1 << 2;

fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    pidfd_send_signal_flags(fd, sig, 0)
}

fn pidfd_send_signal_flags(fd: BorrowedFd<'_>, sig: i32, flags: u32) -> io::Result<()> {
    // SAFETY: plain syscall with an fd, a signal number, a null siginfo and flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn signal_error(h: &Handle, sig: Signal, e: io::Error) -> Error {
    let op = "send signal";
    let err = Error::from_io(op, e).with_pid(h.pid);
    match err.raw_os_error() {
        Some(libc::EINVAL) => err
            .with_kind(ErrorKind::InvalidInput)
            .with_detail(format!("{sig} is not a valid signal here")),
        _ => err,
    }
}

impl Handle {
    /// Sends `sig` (0 checks that it could be sent).
    pub(crate) fn send_signal(&self, sig: Signal) -> Result<()> {
        let n = sig.number();
        if !(0..=64).contains(&n) {
            return Err(Error::new(ErrorKind::InvalidInput, "send signal")
                .with_pid(self.pid)
                .with_detail(format!("signal number {n} is outside 0..=64")));
        }
        match self.pidfd() {
            Some(fd) => pidfd_send_signal(fd, n).map_err(|e| signal_error(self, sig, e)),
            None => {
                // No pidfd: check identity right before the signal. A pid cannot be
                // reused while its process is a zombie, so the window is the time
                // between this check and kill(2) while the process is reaped and a new
                // one takes its pid — microseconds, and documented.
                self.verify("send signal", true)?;
                let pid =
                    rustix::process::Pid::from_raw(self.pid.as_raw() as i32).expect("positive pid");
                // SAFETY: kill takes a pid and a signal number and touches no memory.
                let r = unsafe { libc::kill(pid.as_raw_nonzero().get(), n) };
                if r < 0 {
                    Err(signal_error(self, sig, io::Error::last_os_error()))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Sends `sig` to the whole process group of this process, atomically.
    pub(crate) fn signal_group(&self, sig: Signal) -> Result<()> {
        let n = sig.number();
        let op = "signal process group";
        if let Some(fd) = self.pidfd() {
            match pidfd_send_signal_flags(fd, n, PIDFD_SIGNAL_PROCESS_GROUP) {
                Ok(()) => return Ok(()),
                // Kernels before 6.9 reject the flag: fall back to killpg below.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && (0..=64).contains(&n) => {}
                Err(e) => return Err(signal_error(self, sig, e)),
            }
        }
        // killpg by number: the group is this process's, read while it is alive (a group
        // id cannot be reused while its member exists).
        let mut buf = Vec::with_capacity(512);
        let pgrp = read_stat(self.pid, &mut buf)?.pgrp;
        self.verify(op, false)?;
        if pgrp == 0 {
            // The group's leader lives outside this pid namespace; killpg(0) would signal
            // the caller's own group instead.
            return Err(Error::new(ErrorKind::Unsupported, op)
                .with_pid(self.pid)
                .with_detail("its process group's leader is outside this pid namespace"));
        }
        // SAFETY: killpg takes two integers and touches no memory.
        let r = unsafe { libc::killpg(pgrp as libc::pid_t, n) };
        if r < 0 {
            return Err(signal_error(self, sig, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Waits until the process exits (zombie or reaped), up to `timeout`.
    pub(crate) fn wait_exit(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        match self.pidfd() {
            Some(fd) => loop {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let ts = left.map(|l| Timespec {
                    tv_sec: l.as_secs() as _,
                    tv_nsec: l.subsec_nanos() as _,
                });
                let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                match rustix::event::poll(&mut fds, ts.as_ref()) {
                    Ok(0) => {
                        return Err(Error::new(ErrorKind::Timeout, "wait").with_pid(self.pid));
                    }
                    Ok(_) => return Ok(()),
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(Error::from_io("wait", e.into()).with_pid(self.pid)),
                }
            },
            None => {
                // Kernels before 5.3 give no event for a non-child's exit: back off
                // from 1 ms to 100 ms between checks. Documented as the one polling path.
                let mut nap = Duration::from_millis(1);
                loop {
                    if self.has_exited() {
                        return Ok(());
                    }
                    if let Some(d) = deadline {
                        let now = Instant::now();
                        if now >= d {
                            return Err(Error::new(ErrorKind::Timeout, "wait").with_pid(self.pid));
                        }
                        nap = nap.min(d - now);
                    }
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(100));
                }
            }
        }
    }

    /// How the process ended; call after it exited.
    ///
    /// In order of cost: the zombie's `stat` (field 52 holds the status for callers allowed
    /// to read it, our own children and same-uid processes included), then
    /// `waitid(WNOWAIT)` for our own children whose status `stat` could not vouch for, then
    /// `PIDFD_GET_INFO` once the process was reaped.
    pub(crate) fn exit_status(&self) -> ExitStatus {
        let mut buf = Vec::with_capacity(512);
        let zombie = match read_stat(self.pid, &mut buf) {
            Ok(st) if st.starttime == self.start_ticks && st.state == b'Z' => Some(st),
            _ => None,
        };
        if let Some(st) = &zombie {
            if let Some(code) = st.exit_code {
                if code != 0 || self.may_read_exit_code() {
                    return ExitStatus::from_wait_status(code);
                }
            }
        }
        if let Some(fd) = self.pidfd() {
            // Our own child: read the status without reaping it.
            if let Ok(Some(st)) = rustix::process::waitid(
                WaitId::PidFd(fd),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG,
            ) {
                if let Some(code) = st.exit_status() {
                    return ExitStatus::Exited(code);
                }
                if let Some(sig) = st.terminating_signal() {
                    return ExitStatus::Signaled {
                        signal: Signal::from_number(sig),
                        core_dumped: st.dumped(),
                    };
                }
            }
            if zombie.is_some() {
                // Another user's zombie: the kernel does not tell us yet.
                return ExitStatus::Unknown;
            }
            // Reaped: pidfs keeps the status (Linux 6.15+).
            let mut info = PidfdInfo {
                mask: PIDFD_INFO_EXIT,
                ..PidfdInfo::default()
            };
            // SAFETY: `info` is a live, writable struct of the size encoded in the request.
            let r = unsafe {
                libc::ioctl(
                    fd.as_fd().as_raw_fd(),
                    PIDFD_GET_INFO as _,
                    &mut info as *mut PidfdInfo,
                )
            };
            if r == 0 && info.mask & PIDFD_INFO_EXIT != 0 {
                return ExitStatus::from_wait_status(info.exit_code);
            }
        }
        ExitStatus::Unknown
    }

    /// The next change of state of our own child: stopped, continued or exited (an exit
    /// is left for the reaper; stop and continue reports are consumed). `block` waits
    /// for one; otherwise `None` when there is none pending.
    pub(crate) fn child_event(&self, block: bool) -> Result<Option<crate::command::ChildEvent>> {
        use crate::command::ChildEvent;
        let op = "wait for a state change";
        let Some(fd) = self.pidfd() else {
            return Err(Error::new(ErrorKind::Unsupported, op)
                .with_pid(self.pid)
                .with_detail("needs pidfd_open (Linux 5.3+)"));
        };
        let hang = if block {
            WaitIdOptions::empty()
        } else {
            WaitIdOptions::NOHANG
        };
        let peek = loop {
            match rustix::process::waitid(
                WaitId::PidFd(fd),
                WaitIdOptions::EXITED
                    | WaitIdOptions::STOPPED
                    | WaitIdOptions::CONTINUED
                    | WaitIdOptions::NOWAIT
                    | hang,
            ) {
                Ok(v) => break v,
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::CHILD) => {
                    return Err(Error::new(ErrorKind::InvalidInput, op)
                        .with_pid(self.pid)
                        .with_detail("not a child of this process"))
                }
                Err(e) => return Err(Error::from_io(op, e.into()).with_pid(self.pid)),
            }
        };
        let Some(st) = peek else { return Ok(None) };
        if st.stopped() {
            // Consume this report so the next call sees the next change.
            let _ = rustix::process::waitid(
                WaitId::PidFd(fd),
                WaitIdOptions::STOPPED | WaitIdOptions::NOHANG,
            );
            let sig = st.stopping_signal().unwrap_or(libc::SIGSTOP);
            return Ok(Some(ChildEvent::Stopped(Signal::from_number(sig))));
        }
        if st.continued() {
            let _ = rustix::process::waitid(
                WaitId::PidFd(fd),
                WaitIdOptions::CONTINUED | WaitIdOptions::NOHANG,
            );
            return Ok(Some(ChildEvent::Continued));
        }
        Ok(Some(ChildEvent::Exited(self.exit_status())))
    }

    fn may_read_exit_code(&self) -> bool {
        let me = rustix::process::geteuid();
        if me.is_root() {
            return true;
        }
        let mut buf = Vec::with_capacity(2048);
        super::proc::read_path(&format!("/proc/{}/status", self.pid), &mut buf).is_ok()
            && super::parse::status::parse_uids_only(&buf)
                .is_some_and(|u| u.iter().all(|&id| id == me.as_raw()))
    }
}

/// Waits for many processes with one epoll instance: `on_exit(i)` is called once for each
/// `handles[i]` as it exits, and returns whether to keep waiting. Returns when all have
/// exited, `on_exit` said stop, or at the deadline.
///
/// Only one descriptor is added (the epoll instance); the pidfds are the handles' own.
/// Handles without a pidfd (kernels before 5.3) are checked with the same 1–100 ms
/// backoff as [`Handle::wait_exit`].
pub(crate) fn wait_many(
    handles: &[&Handle],
    timeout: Option<Duration>,
    mut on_exit: impl FnMut(usize) -> bool,
) -> Result<()> {
    use rustix::event::epoll;
    let op = "wait for processes";
    let deadline = timeout.map(|t| Instant::now() + t);
    let ep =
        epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| Error::from_io(op, e.into()))?;
    let mut pending = 0usize;
    let mut polled: Vec<usize> = Vec::new();
    for (i, h) in handles.iter().enumerate() {
        match h.pidfd() {
            Some(fd) => {
                epoll::add(
                    &ep,
                    fd,
                    epoll::EventData::new_u64(i as u64),
                    epoll::EventFlags::IN,
                )
                .map_err(|e| Error::from_io(op, e.into()))?;
                pending += 1;
            }
            None => polled.push(i),
        }
    }
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    let mut nap = Duration::from_millis(1);
    let mut polled_once = false;
    while pending > 0 || !polled.is_empty() {
        let now = Instant::now();
        let mut left = deadline.map(|d| d.saturating_duration_since(now));
        // A zero or passed deadline still looks once, so exits that already happened count.
        if left == Some(Duration::ZERO) && polled_once {
            return Ok(());
        }
        polled_once = true;
        if !polled.is_empty() {
            left = Some(left.map_or(nap, |l| l.min(nap)));
        }
        let ts = left.map(|l| Timespec {
            tv_sec: l.as_secs() as _,
            tv_nsec: l.subsec_nanos() as _,
        });
        events.clear();
        match epoll::wait(
            &ep,
            rustix::buffer::spare_capacity(&mut events),
            ts.as_ref(),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::from_io(op, e.into())),
        }
        for ev in &events {
            let i = ev.data.u64() as usize;
            if let Some(fd) = handles[i].pidfd() {
                let _ = epoll::delete(&ep, fd);
            }
            pending -= 1;
            if !on_exit(i) {
                return Ok(());
            }
        }
        if !polled.is_empty() {
            let mut stop = false;
            polled.retain(|&i| {
                if !stop && handles[i].has_exited() {
                    stop = !on_exit(i);
                    false
                } else {
                    true
                }
            });
            if stop {
                return Ok(());
            }
            nap = (nap * 2).min(Duration::from_millis(100));
        }
    }
    Ok(())
}
