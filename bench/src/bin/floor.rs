//! `floor`: the least honest work needed to list every process with the benchmark's fields.
//!
//! Fields: pid, ppid, name, state, utime + stime, rss, vms, uids (real, effective, saved),
//! start time, number of threads, and the command line. For each numeric entry of `/proc`
//! (read with `getdents64` into one buffer), it opens, reads and closes
//! `/proc/PID/stat`, `/proc/PID/status` and `/proc/PID/cmdline` (relative to one `/proc`
//! descriptor, into one reused buffer) and parses only what those fields need: no error
//! kinds, no strings but the name and command line, no per-field types. A process that
//! vanishes between `getdents64` and a read is skipped. Prints how many processes it saw.
//!
//! Any real library does at least this much; corral's overhead is measured against it.

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use rustix::fs::{openat, Mode, OFlags, RawDir, CWD};
use rustix::io::{read, Errno};

/// One process, as the benchmark's tools all produce it.
#[derive(Debug, Default)]
#[allow(dead_code)] // Fields are produced, not read: that is the point of the floor.
struct Row {
    pid: u32,
    ppid: u32,
    name: [u8; 16],
    name_len: u8,
    state: u8,
    cpu_ticks: u64,
    rss_bytes: u64,
    vms_bytes: u64,
    uids: [u32; 3],
    start_ticks: u64,
    threads: u32,
    /// The NUL-separated arguments, as the kernel gives them.
    cmdline: Box<[u8]>,
}

fn parse_u64(s: &[u8]) -> u64 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        })
}

/// Reads the whole file `dir/name` into `buf` (always fully initialized, grown when a file
/// does not fit); returns the file's length. `Err` if the file is gone.
fn slurp(dir: &OwnedFd, name: &std::ffi::CStr, buf: &mut Vec<u8>) -> Result<usize, Errno> {
    let fd = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match read(&fd, &mut buf[len..]) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// `/proc/PID/stat` → ppid, name, state, utime + stime, threads, start time, vms, rss.
fn parse_stat(buf: &[u8], page: u64, row: &mut Row) -> Option<()> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    let name = buf.get(open + 1..close)?;
    let n = name.len().min(16);
    row.name[..n].copy_from_slice(&name[..n]);
    row.name_len = n as u8;
    // After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    // utime(11) stime(12) cutime cstime priority nice num_threads(17) itrealvalue
    // starttime(19) vsize(20) rss(21) …
    let mut f = buf.get(close + 2..)?.split(|&b| b == b' ');
    row.state = *f.next()?.first()?;
    row.ppid = parse_u64(f.next()?) as u32;
    let mut f = f.skip(9);
    let utime = parse_u64(f.next()?);
    let stime = parse_u64(f.next()?);
    row.cpu_ticks = utime + stime;
    let mut f = f.skip(4);
    row.threads = parse_u64(f.next()?) as u32;
    let mut f = f.skip(1);
    row.start_ticks = parse_u64(f.next()?);
    row.vms_bytes = parse_u64(f.next()?);
    row.rss_bytes = parse_u64(f.next()?) * page;
    Some(())
}

/// `/proc/PID/status` → the real, effective and saved uids from the `Uid:` line.
fn parse_status(buf: &[u8], row: &mut Row) -> Option<()> {
    let at = buf.windows(5).position(|w| w == b"\nUid:")? + 5;
    let line = &buf[at..];
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    let mut f = line[..end]
        .split(|&b| b == b'\t' || b == b' ')
        .filter(|s| !s.is_empty());
    for uid in &mut row.uids {
        *uid = parse_u64(f.next()?) as u32;
    }
    Some(())
}

fn main() {
    let page = rustix::param::page_size() as u64;
    let proc_dir = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open /proc");
    let mut dents = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut buf: Vec<u8> = vec![0; 64 * 1024];
    let mut path = [0u8; 32];
    let mut rows: Vec<Row> = Vec::with_capacity(1024);

    let mut dir = RawDir::new(&proc_dir, &mut dents);
    while let Some(entry) = dir.next() {
        let entry = entry.expect("getdents64 /proc");
        let name = entry.file_name().to_bytes();
        if name.is_empty() || !name.iter().all(u8::is_ascii_digit) || name.len() > 20 {
            continue;
        }
        let mut row = Row {
            pid: parse_u64(name) as u32,
            ..Row::default()
        };
        // "PID/stat\0" etc., relative to the /proc descriptor.
        path[..name.len()].copy_from_slice(name);
        let mut file = |suffix: &[u8], buf: &mut Vec<u8>| -> Result<usize, Errno> {
            let end = name.len() + suffix.len();
            path[name.len()..end].copy_from_slice(suffix);
            let cpath = std::ffi::CStr::from_bytes_with_nul(&path[..end]).expect("path");
            slurp(&proc_dir, cpath, buf)
        };
        let Ok(n) = file(b"/stat\0", &mut buf) else {
            continue;
        };
        if parse_stat(&buf[..n], page, &mut row).is_none() {
            continue;
        }
        let Ok(n) = file(b"/status\0", &mut buf) else {
            continue;
        };
        if parse_status(&buf[..n], &mut row).is_none() {
            continue;
        }
        let Ok(n) = file(b"/cmdline\0", &mut buf) else {
            continue;
        };
        row.cmdline = buf[..n].into();
        rows.push(row);
    }
    black_box(&rows);
    println!("{}", rows.len());
}
