//! Reading `/proc`: whole small files into reused buffers, with errno mapped to what a
//! missing or forbidden file means for a process.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

use crate::{Error, ErrorKind, Pid, Result};

/// Reads all of `fd` into `buf` (cleared first). `/proc` files must be read in one go
/// from offset 0; a short read is not the end for seq files, so read until 0.
pub(crate) fn read_all(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    read_into(fd, buf, false)
}

/// Whether the kernel renders this per-process file whole on the first read: the
/// `single_open` seq files (`stat`, `statm`, `status`, `io`) format everything into the
/// kernel's buffer before copying, so a read that leaves room in ours got all of it.
pub(crate) fn renders_whole(file: &[u8]) -> bool {
    matches!(file, b"stat" | b"statm" | b"status" | b"io")
}

/// [`read_all`] for a file that [`renders_whole`]: saves the read that would only see the
/// end of the file (a quarter of the system calls of a snapshot).
pub(crate) fn read_whole(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    read_into(fd, buf, true)
}

fn read_into(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, whole: bool) -> io::Result<()> {
    buf.clear();
    if buf.capacity() < 4096 {
        buf.reserve(4096);
    }
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let spare = buf.spare_capacity_mut();
        let room = spare.len();
        let (filled, _) = rustix::io::read(fd, spare).map_err(io::Error::from)?;
        let n = filled.len();
        if n == 0 {
            return Ok(());
        }
        // SAFETY: `read` initialised exactly `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        if whole && n < room {
            return Ok(());
        }
    }
}

/// Opens `path` relative to `dir` (or absolute) read-only, close-on-exec.
pub(crate) fn open_at(dir: BorrowedFd<'_>, path: &CStr) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// Reads a whole file by absolute path into `buf`.
pub(crate) fn read_path(path: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    let whole = path
        .rsplit('/')
        .next()
        .is_some_and(|f| renders_whole(f.as_bytes()))
        && path.starts_with("/proc/");
    read_into(fd.as_fd(), buf, whole)
}

/// Maps an I/O error from reading `/proc/PID/...` to a corral error: a missing file or
/// process is `NoSuchProcess`, a refusal `AccessDenied`.
pub(crate) fn proc_error(op: &'static str, pid: Pid, err: io::Error) -> Error {
    let e = Error::from_io(op, err);
    let e = match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => e.with_kind(ErrorKind::NoSuchProcess),
        _ => e,
    };
    e.with_pid(pid)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of `/proc` times.
pub(crate) fn ticks_per_second() -> u64 {
    static T: OnceLock<u64> = OnceLock::new();
    *T.get_or_init(|| rustix::param::clock_ticks_per_second().max(1))
}

/// The page size in bytes.
pub(crate) fn page_size() -> u64 {
    static P: OnceLock<u64> = OnceLock::new();
    *P.get_or_init(|| rustix::param::page_size() as u64)
}

/// Converts clock ticks to a duration.
pub(crate) fn ticks(t: u64) -> std::time::Duration {
    let hz = ticks_per_second();
    std::time::Duration::new(t / hz, ((t % hz) * 1_000_000_000 / hz) as u32)
}

/// Boot time as Unix seconds (`btime` of `/proc/stat`), read once.
pub(crate) fn boot_time_secs() -> Result<u64> {
    static B: OnceLock<u64> = OnceLock::new();
    if let Some(b) = B.get() {
        return Ok(*b);
    }
    let mut buf = Vec::new();
    read_path("/proc/stat", &mut buf).map_err(|e| Error::from_io("read /proc/stat", e))?;
    let b = super::parse::system::parse_btime(&buf).ok_or_else(|| {
        Error::new(ErrorKind::Parse, "read /proc/stat").with_detail("no btime line")
    })?;
    Ok(*B.get_or_init(|| b))
}

/// A small NUL-terminated path builder for `PID/file` relative to `/proc`, so the
/// snapshot loop allocates nothing per file.
pub(crate) struct PathBuf32 {
    buf: [u8; 64],
    len: usize,
}

impl PathBuf32 {
    pub(crate) fn new() -> PathBuf32 {
        PathBuf32 {
            buf: [0; 64],
            len: 0,
        }
    }

    /// Sets the path to `{pid}/{file}` and returns it as a C string.
    pub(crate) fn pid_file(&mut self, pid: u32, file: &[u8]) -> &CStr {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        let mut n = pid;
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = &tmp[i..];
        let total = digits.len() + 1 + file.len();
        assert!(total < self.buf.len(), "proc path too long");
        self.buf[..digits.len()].copy_from_slice(digits);
        self.buf[digits.len()] = b'/';
        self.buf[digits.len() + 1..total].copy_from_slice(file);
        self.buf[total] = 0;
        self.len = total;
        // SAFETY-free: from_bytes_with_nul checks the single trailing NUL; file names
        // passed here are constants without interior NULs.
        CStr::from_bytes_with_nul(&self.buf[..=total]).expect("proc path has no interior NUL")
    }
}

/// Raises the soft open-file limit to the hard limit; returns the new soft limit.
pub(crate) fn raise_fd_limit() -> Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let lim = getrlimit(Resource::Nofile);
    let Some(hard) = lim.maximum else {
        return Ok(u64::MAX);
    };
    if lim.current == Some(hard) {
        return Ok(hard);
    }
    setrlimit(
        Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        },
    )
    .map_err(|e| Error::from_io("raise open-file limit", e.into()))?;
    Ok(hard)
}

/// How many descriptors this process has open now.
pub(crate) fn open_fd_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_files_come_whole() {
        for file in ["stat", "statm", "status", "io"] {
            let path = format!("/proc/self/{file}");
            let mut a = Vec::new();
            let mut b = Vec::new();
            let fd = rustix::fs::open(path.as_str(), OFlags::RDONLY, Mode::empty()).unwrap();
            read_whole(fd.as_fd(), &mut a).unwrap();
            let fd = rustix::fs::open(path.as_str(), OFlags::RDONLY, Mode::empty()).unwrap();
            read_all(fd.as_fd(), &mut b).unwrap();
            assert!(a.ends_with(b"\n"), "{file}");
            // The two reads are moments apart: compare the stable first word.
            let first = |v: &[u8]| v.split(|&c| c == b' ').next().unwrap().to_vec();
            assert_eq!(first(&a), first(&b), "{file}");
            // Whole: as many lines as the full read.
            let lines = |v: &[u8]| v.iter().filter(|&&c| c == b'\n').count();
            assert_eq!(lines(&a), lines(&b), "{file}");
        }
    }
}
