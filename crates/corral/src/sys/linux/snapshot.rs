//! The snapshot loop: `/proc` read with `openat` relative to one directory fd, into
//! reused buffers, reading each needed file once per process.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use rustix::fs::{Dir, Mode, OFlags};

use super::fields::{self, COMM_LEN};
use super::parse::{self, cgroup, io as pio, net, stat, statm, status, tty};
use super::proc::{open_at, page_size, read_all, read_path, read_whole, renders_whole, PathBuf32};
use crate::info::*;
use crate::snapshot::{Field, FieldSet, Filter, PortMatch, ProcessInfo};
use crate::{Error, ErrorKind, Pid, Result};

/// Why a file read failed: the process vanished (drop the row) or a field error.
enum Fail {
    Vanished,
    Field(Error),
}

struct Reader {
    proc_fd: OwnedFd,
    path: PathBuf32,
}

impl Reader {
    fn classify(pid: u32, op: &'static str, e: io::Error) -> Fail {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Fail::Vanished,
            _ => {
                let pid = Pid::new(pid).expect("pid from /proc is positive");
                Fail::Field(Error::from_io(op, e).with_pid(pid))
            }
        }
    }

    /// Whether the process that started at `start` still has `pid`: ENOENT/ESRCH on one
    /// of its files does not always mean it is gone (an exiting process has lost its
    /// memory map, kernel threads have no `environ`).
    fn still_there(&mut self, pid: u32, start: u64, buf: &mut Vec<u8>) -> bool {
        let p = self.path.pid_file(pid, b"stat");
        let Ok(fd) = open_at(self.proc_fd.as_fd(), p) else {
            return false;
        };
        read_whole(fd.as_fd(), buf).is_ok()
            && stat::parse(buf).is_some_and(|s| s.starttime == start)
    }

    fn read(
        &mut self,
        pid: u32,
        file: &[u8],
        op: &'static str,
        buf: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let p = self.path.pid_file(pid, file);
        let fd = open_at(self.proc_fd.as_fd(), p).map_err(|e| Self::classify(pid, op, e))?;
        let r = if renders_whole(file) {
            read_whole(fd.as_fd(), buf)
        } else {
            read_all(fd.as_fd(), buf)
        };
        r.map_err(|e| Self::classify(pid, op, e))
    }

    fn readlink(&mut self, pid: u32, file: &[u8], op: &'static str) -> Result<PathBuf, Fail> {
        let p = self.path.pid_file(pid, file);
        rustix::fs::readlinkat(self.proc_fd.as_fd(), p, Vec::new())
            .map(|c| PathBuf::from(OsString::from_vec(c.into_bytes())))
            .map_err(|e| Self::classify(pid, op, e.into()))
    }

    /// Whether any descriptor of the process is a socket in `inodes`.
    fn has_socket(&mut self, pid: u32, inodes: &HashSet<u64>) -> Result<bool, Fail> {
        let op = "read fd";
        let p = self.path.pid_file(pid, b"fd");
        let fd = rustix::fs::openat(
            self.proc_fd.as_fd(),
            p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Self::classify(pid, op, e.into()))?;
        let mut dir = Dir::read_from(&fd).map_err(|e| Self::classify(pid, op, e.into()))?;
        let mut link = Vec::with_capacity(64);
        while let Some(ent) = dir.read() {
            let ent = ent.map_err(|e| Self::classify(pid, op, e.into()))?;
            let name = ent.file_name();
            if !name.to_bytes().first().is_some_and(|b| b.is_ascii_digit()) {
                continue;
            }
            link.clear();
            let Ok(target) = rustix::fs::readlinkat(&fd, name, std::mem::take(&mut link)) else {
                continue; // closed meanwhile
            };
            let bytes = target.into_bytes();
            if let Some(ino) = bytes
                .strip_prefix(b"socket:[")
                .and_then(|r| r.strip_suffix(b"]"))
                .and_then(parse::parse_u64)
            {
                if inodes.contains(&ino) {
                    return Ok(true);
                }
            }
            link = bytes;
        }
        Ok(false)
    }

    fn count_dir(&mut self, pid: u32, file: &[u8], op: &'static str) -> Result<usize, Fail> {
        let p = self.path.pid_file(pid, file);
        let fd = rustix::fs::openat(
            self.proc_fd.as_fd(),
            p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Self::classify(pid, op, e.into()))?;
        let mut dir = Dir::new(fd).map_err(|e| Self::classify(pid, op, e.into()))?;
        let mut n = 0;
        while let Some(ent) = dir.read() {
            let ent = ent.map_err(|e| Self::classify(pid, op, e.into()))?;
            if ent
                .file_name()
                .to_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_digit())
            {
                n += 1;
            }
        }
        Ok(n)
    }
}

fn parse_error(pid: Pid, op: &'static str, file: &str) -> Error {
    Error::new(ErrorKind::Parse, op)
        .with_pid(pid)
        .with_detail(format!("malformed /proc/PID/{file}"))
}

/// Lists the pids in `/proc`, ascending.
fn list_pids(proc_fd: &OwnedFd) -> Result<Vec<u32>> {
    let fd = rustix::fs::openat(
        proc_fd.as_fd(),
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::from_io("list /proc", e.into()))?;
    let mut dir = Dir::new(fd).map_err(|e| Error::from_io("list /proc", e.into()))?;
    let mut pids = Vec::with_capacity(1024);
    while let Some(ent) = dir.read() {
        let ent = ent.map_err(|e| Error::from_io("list /proc", e.into()))?;
        if let Some(n) = parse::parse_u64(ent.file_name().to_bytes()) {
            if let Ok(n) = u32::try_from(n) {
                if n != 0 {
                    pids.push(n);
                }
            }
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// Inodes of this network namespace's TCP/UDP sockets with `m.port` as local or remote
/// port.
fn port_inodes(m: PortMatch) -> Result<HashSet<u64>> {
    let mut set = HashSet::new();
    let mut buf = Vec::with_capacity(16384);
    for (file, family, kind) in [
        ("/proc/net/tcp", Family::Inet, SocketType::Stream),
        ("/proc/net/tcp6", Family::Inet6, SocketType::Stream),
        ("/proc/net/udp", Family::Inet, SocketType::Datagram),
        ("/proc/net/udp6", Family::Inet6, SocketType::Datagram),
    ] {
        if m.kind.is_some_and(|k| k != kind) {
            continue;
        }
        match read_path(file, &mut buf) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // no IPv6
            Err(e) => return Err(Error::from_io("read socket tables", e)),
        }
        for s in net::parse_inet(&buf, family, kind) {
            // Inode 0: a socket in TIME_WAIT or otherwise owned by no process.
            if s.inode != 0 && (s.local.port() == m.port || s.remote.port() == m.port) {
                set.insert(s.inode);
            }
        }
    }
    Ok(set)
}

/// Runs a snapshot: see [`crate::Snapshot`].
pub(crate) fn snapshot(
    fields: FieldSet,
    filter: &Filter,
    mut each: impl FnMut(ProcessInfo),
) -> Result<()> {
    let want = fields.union(filter.needs());
    let proc_fd = rustix::fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::from_io("open /proc", e.into()))?;
    let pids: Vec<u32> = match &filter.pids {
        Some(v) => v.iter().map(|p| p.as_raw()).collect(),
        None => list_pids(&proc_fd)?,
    };
    let port_set = match filter.port {
        Some(m) => Some(port_inodes(m)?),
        None => None,
    };
    let boot = super::proc::boot_time_secs()?;
    let page = page_size();
    let mut rd = Reader {
        proc_fd,
        path: PathBuf32::new(),
    };
    let mut stat_buf = Vec::with_capacity(1024);
    let mut buf = Vec::with_capacity(4096);
    let mut check_buf = Vec::with_capacity(1024);
    let mut users: HashMap<u32, String> = HashMap::new();
    let mut drivers: Option<Vec<tty::TtyDriver>> = None;

    let need_status = want.any(&[
        Field::Gids,
        Field::MemoryPeaks,
        Field::CtxSwitches,
        Field::ProcessGroup,
    ]);
    let need_uids = want.any(&[Field::Uids, Field::Username]);

    'procs: for pid in pids {
        let Some(ppid_ok) = Pid::new(pid) else {
            continue;
        };
        // stat: always (identity), and it carries most cheap fields.
        match rd.read(pid, b"stat", "read stat", &mut stat_buf) {
            Ok(()) => {}
            Err(_) => continue, // vanished, or unreadable stat: not a usable process
        }
        let Some(st) = stat::parse(&stat_buf) else {
            continue;
        };
        let start = fields::start_time_at(boot, st.starttime);
        let kthread = fields::is_kernel_thread(&st);
        let zombie = st.state == b'Z';
        let mut row = ProcessInfo::new(ppid_ok, start, kthread);
        // A file of the process answered ENOENT/ESRCH: drop the row if the process is
        // really gone, else the field is lost because the process is exiting.
        macro_rules! gone {
            () => {{
                if !rd.still_there(pid, st.starttime, &mut check_buf) {
                    continue 'procs;
                }
                Error::new(ErrorKind::Zombie, "read")
                    .with_pid(ppid_ok)
                    .with_detail("the process is exiting")
            }};
        }
        if want.contains(Field::Ppid) {
            row.ppid = Some(Ok(Pid::new(st.ppid)));
        }
        if want.contains(Field::Status) {
            row.status = Some(Ok(Status::from_letter(st.state)));
        }
        if want.contains(Field::CpuTimes) {
            row.cpu_times = Some(Ok(fields::cpu_times(&st)));
        }
        if want.contains(Field::Rss) {
            row.rss = Some(Ok(st.rss_pages * page));
        }
        if want.contains(Field::Vms) {
            row.vms = Some(Ok(st.vsize));
        }
        if want.contains(Field::NumThreads) {
            row.num_threads = Some(Ok(st.num_threads));
        }
        if want.contains(Field::Nice) {
            row.nice = Some(Ok(st.nice as i32));
        }
        if want.contains(Field::PageFaults) {
            row.page_faults = Some(Ok(fields::page_faults(&st)));
        }
        if want.contains(Field::CpuNum) {
            row.cpu_num = Some(
                st.processor
                    .ok_or_else(|| parse_error(ppid_ok, "read cpu_num", "stat")),
            );
        }
        let comm_complete = st.comm.len() < COMM_LEN || kthread;
        if want.contains(Field::Name) && comm_complete {
            row.name = Some(Ok(String::from_utf8_lossy(&st.comm).into_owned()));
        }
        if want.contains(Field::Terminal) {
            let d = drivers.get_or_insert_with(|| {
                let mut b = Vec::new();
                match read_path("/proc/tty/drivers", &mut b) {
                    Ok(()) => tty::parse_drivers(&b),
                    Err(_) => Vec::new(),
                }
            });
            row.terminal = Some(Ok(if st.tty_nr == 0 {
                None
            } else {
                tty::device_name(d, st.tty_nr)
            }));
        }
        if filter.check(&row) == Some(false) {
            continue;
        }
        if let Some(set) = &port_set {
            // Processes whose descriptors cannot be read cannot be matched.
            match rd.has_socket(pid, set) {
                Ok(true) => {}
                Ok(false) | Err(Fail::Field(_)) => continue,
                Err(Fail::Vanished) => continue,
            }
        }

        // status: uids (fast path when that is all), or the whole file.
        if need_status || need_uids {
            match rd.read(pid, b"status", "read status", &mut buf) {
                Ok(()) => {
                    if need_status {
                        match status::parse(&buf) {
                            Some(s) => {
                                set_uids(&mut row, want, fields::ids(s.uids), &mut users);
                                if want.contains(Field::Gids) {
                                    row.gids = Some(Ok(fields::ids(s.gids)));
                                }
                                if want.contains(Field::MemoryPeaks) {
                                    row.memory_peaks = Some(Ok(fields::peaks(&s)));
                                }
                                if want.contains(Field::CtxSwitches) {
                                    row.ctx_switches = Some(Ok(fields::ctx_switches(&s)));
                                }
                                if want.contains(Field::ProcessGroup) {
                                    row.group = Some(Ok(fields::group_info(&st, s.tracer_pid)));
                                }
                            }
                            None => {
                                let e = parse_error(ppid_ok, "read status", "status");
                                set_status_err(&mut row, want, e);
                            }
                        }
                    } else {
                        match status::parse_uids_only(&buf) {
                            Some(u) => set_uids(&mut row, want, fields::ids(u), &mut users),
                            None => {
                                let e = parse_error(ppid_ok, "read status", "status");
                                set_status_err(&mut row, want, e);
                            }
                        }
                    }
                }
                Err(Fail::Vanished) => {
                    let e = gone!();
                    set_status_err(&mut row, want, e)
                }
                Err(Fail::Field(e)) => set_status_err(&mut row, want, e),
            }
            if filter.check(&row) == Some(false) {
                continue;
            }
        }

        // cmdline: requested, or needed to complete a cut name.
        let need_cmdline =
            want.contains(Field::Cmdline) || (want.contains(Field::Name) && !comm_complete);
        let mut argv: Option<Result<Vec<OsString>>> = None;
        if need_cmdline {
            if zombie {
                argv = Some(Err(
                    Error::new(ErrorKind::Zombie, "read cmdline").with_pid(ppid_ok)
                ));
            } else {
                match rd.read(pid, b"cmdline", "read cmdline", &mut buf) {
                    Ok(()) => argv = Some(Ok(fields::cmdline_args(&buf))),
                    Err(Fail::Vanished) => argv = Some(Err(gone!())),
                    Err(Fail::Field(e)) => argv = Some(Err(e)),
                }
            }
        }
        let mut exe: Option<Result<Option<PathBuf>>> = None;
        let read_exe = |rd: &mut Reader| -> Result<Result<Option<PathBuf>>, ()> {
            if kthread {
                return Ok(Ok(None));
            }
            if zombie {
                return Ok(Err(
                    Error::new(ErrorKind::Zombie, "read exe").with_pid(ppid_ok)
                ));
            }
            match rd.readlink(pid, b"exe", "read exe") {
                Ok(p) => Ok(Ok(Some(p))),
                Err(Fail::Vanished) => Err(()),
                Err(Fail::Field(e)) => Ok(Err(e)),
            }
        };
        if want.contains(Field::Exe) {
            match read_exe(&mut rd) {
                Ok(v) => exe = Some(v),
                Err(()) => exe = Some(Err(gone!())),
            }
        }
        if want.contains(Field::Name) && !comm_complete {
            let a0 = match &argv {
                Some(Ok(a)) => a.first().map(|s| s.as_encoded_bytes().to_vec()),
                _ => None,
            };
            let from_argv = fields::complete_name(&st.comm, a0.as_deref(), None);
            let name = if from_argv.len() > st.comm.len() {
                from_argv
            } else {
                if exe.is_none() {
                    match read_exe(&mut rd) {
                        Ok(v) => exe = Some(v),
                        Err(()) => exe = Some(Err(gone!())),
                    }
                }
                let e = match &exe {
                    Some(Ok(Some(p))) => Some(p.as_os_str().as_encoded_bytes().to_vec()),
                    _ => None,
                };
                fields::complete_name(&st.comm, None, e.as_deref())
            };
            row.name = Some(Ok(name));
        }
        if want.contains(Field::Cmdline) {
            row.cmdline = argv;
        }
        if want.contains(Field::Exe) {
            row.exe = exe;
        }
        if filter.check(&row) == Some(false) {
            continue;
        }

        if want.contains(Field::Memory) {
            row.memory = Some(match rd.read(pid, b"statm", "read memory", &mut buf) {
                Ok(()) => statm::parse(&buf, page)
                    .ok_or_else(|| parse_error(ppid_ok, "read memory", "statm")),
                Err(Fail::Vanished) => Err(gone!()),
                Err(Fail::Field(e)) => Err(e),
            });
        }
        if want.contains(Field::Cwd) {
            row.cwd = Some(if zombie {
                Err(Error::new(ErrorKind::Zombie, "read cwd").with_pid(ppid_ok))
            } else {
                match rd.readlink(pid, b"cwd", "read cwd") {
                    Ok(p) => Ok(p),
                    Err(Fail::Vanished) => Err(gone!()),
                    Err(Fail::Field(e)) => Err(e),
                }
            });
        }
        if want.contains(Field::Environ) {
            row.environ = Some(if kthread {
                // Kernel threads have no user space, hence no environment.
                Ok(Vec::new())
            } else if zombie {
                Err(Error::new(ErrorKind::Zombie, "read environ").with_pid(ppid_ok))
            } else {
                match rd.read(pid, b"environ", "read environ", &mut buf) {
                    Ok(()) => Ok(fields::environ(&buf)),
                    Err(Fail::Vanished) => Err(gone!()),
                    Err(Fail::Field(e)) => Err(e),
                }
            });
        }
        if want.contains(Field::Io) {
            row.io = Some(match rd.read(pid, b"io", "read io_counters", &mut buf) {
                Ok(()) => {
                    pio::parse(&buf).ok_or_else(|| parse_error(ppid_ok, "read io_counters", "io"))
                }
                Err(Fail::Vanished) => Err(gone!()),
                Err(Fail::Field(e)) => Err(e),
            });
        }
        if want.contains(Field::Cgroups) {
            row.cgroups = Some(match rd.read(pid, b"cgroup", "read cgroups", &mut buf) {
                Ok(()) => cgroup::parse(&buf)
                    .ok_or_else(|| parse_error(ppid_ok, "read cgroups", "cgroup")),
                Err(Fail::Vanished) => Err(gone!()),
                Err(Fail::Field(e)) => Err(e),
            });
        }
        if want.contains(Field::NumFds) {
            row.num_fds = Some(match rd.count_dir(pid, b"fd", "read num_fds") {
                Ok(n) => Ok(n),
                Err(Fail::Vanished) => Err(gone!()),
                Err(Fail::Field(e)) => Err(e),
            });
        }
        if filter.check(&row) != Some(false) {
            each(row);
        }
    }
    Ok(())
}

/// Fills the uid fields, looking user names up once per snapshot and uid.
fn set_uids(row: &mut ProcessInfo, want: FieldSet, u: Ids, users: &mut HashMap<u32, String>) {
    if want.contains(Field::Uids) {
        row.uids = Some(Ok(u));
    }
    if want.contains(Field::Username) {
        let name = users
            .entry(u.real)
            .or_insert_with(|| fields::username(u.real).unwrap_or_else(|| u.real.to_string()));
        row.username = Some(Ok(name.clone()));
    }
}

fn set_status_err(row: &mut ProcessInfo, want: FieldSet, e: Error) {
    if want.contains(Field::Uids) {
        row.uids = Some(Err(e.clone()));
    }
    if want.contains(Field::Username) {
        row.username = Some(Err(e.clone()));
    }
    if want.contains(Field::Gids) {
        row.gids = Some(Err(e.clone()));
    }
    if want.contains(Field::MemoryPeaks) {
        row.memory_peaks = Some(Err(e.clone()));
    }
    if want.contains(Field::CtxSwitches) {
        row.ctx_switches = Some(Err(e.clone()));
    }
    if want.contains(Field::ProcessGroup) {
        row.group = Some(Err(e));
    }
}
