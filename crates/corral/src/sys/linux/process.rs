//! Process identity on Linux: pid + start time, held through a pidfd.
//!
//! Opening reads the start time from `/proc/PID/stat`, opens a pidfd, and reads the
//! start time again: if both agree, the pidfd refers to the process whose start time we
//! hold. From then on the pidfd answers "has *this* process exited?" without races,
//! because a pid cannot be reused before its process is reaped, and a pidfd becomes
//! readable as soon as its process exits. Every read of `/proc/PID/...` is followed by
//! that check, so data read from a newer process that reused the pid is never returned.
//!
//! Where the kernel has no `pidfd_open` (before 5.3) the same check is done by reading
//! the start time again, which is exact up to the clock-tick resolution of start times.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::process::PidfdFlags;

use super::parse::stat::{self, Stat};
use super::proc::{proc_error, read_path};
use crate::{Error, ErrorKind, Pid, Result};

/// `PID_FS_MAGIC`: the filesystem of pidfds on kernels with pidfs (6.9+), whose inode
/// numbers are unique per process for the life of the system (64-bit).
const PID_FS_MAGIC: i64 = 0x5049_4446;

/// An open process: its pid, start time and, where the kernel has them, a pidfd and its
/// pidfs inode.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) pid: Pid,
    pub(crate) start_ticks: u64,
    pub(crate) pidfd: Option<OwnedFd>,
    /// The pidfs inode, looked up on first use (two syscalls most callers never need).
    inode: std::sync::OnceLock<Option<u64>>,
}

/// Reads and parses `/proc/PID/stat`.
pub(crate) fn read_stat(pid: Pid, buf: &mut Vec<u8>) -> Result<Stat> {
    read_path(&format!("/proc/{pid}/stat"), buf).map_err(|e| proc_error("open", pid, e))?;
    stat::parse(buf).ok_or_else(|| {
        Error::new(ErrorKind::Parse, "read stat")
            .with_pid(pid)
            .with_detail("malformed /proc/PID/stat")
    })
}

fn pidfd_open(pid: Pid) -> io::Result<Option<OwnedFd>> {
    let raw = rustix::process::Pid::from_raw(pid.as_raw() as i32)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => Ok(Some(fd)),
        // No pidfd_open on this kernel (or a seccomp filter hides it): fall back quietly.
        Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn pidfs_inode(fd: &OwnedFd) -> Option<u64> {
    let fs = rustix::fs::fstatfs(fd).ok()?;
    if fs.f_type as i64 != PID_FS_MAGIC {
        return None;
    }
    rustix::fs::fstat(fd).ok().map(|st| st.st_ino)
}

impl Handle {
    /// Opens the process that has `pid` now.
    pub(crate) fn open(pid: Pid) -> Result<Handle> {
        let mut buf = Vec::with_capacity(512);
        // Retry if the pid changes hands between the two stat reads (rare).
        for _ in 0..3 {
            let before = read_stat(pid, &mut buf)?;
            let pidfd = pidfd_open(pid).map_err(|e| proc_error("open", pid, e))?;
            let after = read_stat(pid, &mut buf)?;
            if before.starttime != after.starttime {
                continue;
            }
            return Ok(Handle {
                pid,
                start_ticks: after.starttime,
                pidfd,
                inode: std::sync::OnceLock::new(),
            });
        }
        Err(Error::new(ErrorKind::NoSuchProcess, "open")
            .with_pid(pid)
            .with_detail("the pid kept changing hands while opening"))
    }

    /// Opens a child this process just spawned and has not reaped: its pid cannot change
    /// hands, so one `stat` read suffices.
    pub(crate) fn open_child(pid: Pid) -> Result<Handle> {
        let pidfd = pidfd_open(pid).map_err(|e| proc_error("open", pid, e))?;
        let mut buf = Vec::with_capacity(512);
        let st = read_stat(pid, &mut buf)?;
        Ok(Handle {
            pid,
            start_ticks: st.starttime,
            pidfd,
            inode: std::sync::OnceLock::new(),
        })
    }

    /// Opens `pid` only if it is the process with pidfs inode `inode`.
    pub(crate) fn open_pinned(pid: Pid, inode: u64) -> Result<Handle> {
        let h = Handle::open(pid)?;
        match h.inode() {
            Some(i) if i == inode => Ok(h),
            Some(_) => Err(Error::new(ErrorKind::NoSuchProcess, "open")
                .with_pid(pid)
                .with_detail(format!(
                    "pid {pid} now belongs to another process than {pid}:{inode}"
                ))),
            None => Err(Error::new(ErrorKind::Unsupported, "open")
                .with_pid(pid)
                .with_detail("this kernel has no pidfs inodes (needs Linux 6.9+)")),
        }
    }

    /// Opens `pid` only if its start time is `start_ticks`.
    ///
    /// One `stat` read, after `pidfd_open`, is enough here: if it shows the expected start
    /// time, the process holding the pid then is the expected one, which already existed
    /// before the pidfd was opened — so the pidfd refers to it too.
    pub(crate) fn open_with_start(pid: Pid, start_ticks: u64) -> Result<Handle> {
        let pidfd = pidfd_open(pid).map_err(|e| proc_error("open", pid, e))?;
        let mut buf = Vec::with_capacity(512);
        let st = read_stat(pid, &mut buf)?;
        if st.starttime != start_ticks {
            return Err(Error::new(ErrorKind::NoSuchProcess, "open")
                .with_pid(pid)
                .with_detail("the pid now belongs to a newer process"));
        }
        Ok(Handle {
            pid,
            start_ticks,
            pidfd,
            inode: std::sync::OnceLock::new(),
        })
    }

    /// The pidfs inode, if the kernel has pidfs.
    pub(crate) fn inode(&self) -> Option<u64> {
        *self
            .inode
            .get_or_init(|| self.pidfd.as_ref().and_then(pidfs_inode))
    }

    /// Whether the process has exited (zombie or reaped), by pidfd or start time.
    pub(crate) fn has_exited(&self) -> bool {
        match &self.pidfd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                let zero = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                match rustix::event::poll(&mut fds, Some(&zero)) {
                    Ok(n) => n > 0,
                    Err(_) => self.exited_by_stat(),
                }
            }
            None => self.exited_by_stat(),
        }
    }

    fn exited_by_stat(&self) -> bool {
        let mut buf = Vec::with_capacity(512);
        match read_stat(self.pid, &mut buf) {
            Ok(s) => s.starttime != self.start_ticks || s.state == b'Z' || s.state == b'X',
            Err(_) => true,
        }
    }

    /// After reading data about the process: `Ok` if it was the right process, else
    /// `Zombie` (same process, exited, not reaped) or `NoSuchProcess`.
    ///
    /// With `zombie_ok`, a zombie passes (for data the kernel keeps for zombies, such as
    /// `stat`).
    pub(crate) fn verify(&self, op: &'static str, zombie_ok: bool) -> Result<()> {
        if !self.has_exited() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(512);
        match read_stat(self.pid, &mut buf) {
            Ok(s) if s.starttime == self.start_ticks && s.state == b'Z' => {
                if zombie_ok {
                    Ok(())
                } else {
                    Err(Error::new(ErrorKind::Zombie, op).with_pid(self.pid))
                }
            }
            _ => Err(Error::new(ErrorKind::NoSuchProcess, op).with_pid(self.pid)),
        }
    }

    /// Reads `/proc/PID/<file>` into `buf` and verifies the identity afterwards.
    pub(crate) fn read(
        &self,
        file: &str,
        op: &'static str,
        zombie_ok: bool,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let r = read_path(&format!("/proc/{}/{}", self.pid, file), buf);
        // Check identity whether or not the read worked: a failure because the process
        // is gone must say NoSuchProcess, not the errno of the vanished file.
        self.verify(op, zombie_ok)?;
        r.map_err(|e| self.live_error(op, e))
    }

    /// An error reading a file of this process, known to be still alive: ENOENT/ESRCH
    /// then mean it is exiting (its memory map is already gone), not that it is gone.
    pub(crate) fn live_error(&self, op: &'static str, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::new(ErrorKind::Zombie, op)
                .with_pid(self.pid)
                .with_detail("the process is exiting"),
            _ => proc_error(op, self.pid, e),
        }
    }

    /// The pidfd, if any.
    pub(crate) fn pidfd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|fd| fd.as_fd())
    }

    /// The raw pid as rustix wants it.
    pub(crate) fn rpid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_raw(self.pid.as_raw() as i32).expect("pid is positive")
    }

    /// Runs a pid-addressed call (the kernel offers some only by pid) so that it cannot
    /// hit another process: the identity is checked before and after. If the process
    /// exited around the call, the pid may have been reused during it, so the result is
    /// `NoSuchProcess` (the call may have done nothing, or been refused).
    pub(crate) fn by_pid<T>(
        &self,
        op: &'static str,
        f: impl FnOnce() -> io::Result<T>,
    ) -> Result<T> {
        self.verify(op, false)?;
        let r = f();
        self.verify(op, false)?;
        r.map_err(|e| Error::from_io(op, e).with_pid(self.pid))
    }
}
