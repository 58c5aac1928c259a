//! Per-process fields on Linux: converters from parsed `/proc` data to corral's types
//! (shared by [`Handle`] getters and the snapshot), and the getters themselves.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::parse::{
    cgroup, cmdline, fdinfo, io as pio, net, smaps, stat::Stat, statm, status, tty,
};
use super::proc::{page_size, read_path, ticks};
use super::process::Handle;
use super::thread;
use crate::info::*;
use crate::{Error, ErrorKind, Pid, Result, Tid};

/// The longest name `comm` holds; a name of this length may have been cut.
pub(crate) const COMM_LEN: usize = 15;

fn parse_err(op: &'static str, pid: Pid, what: &str) -> Error {
    Error::new(ErrorKind::Parse, op)
        .with_pid(pid)
        .with_detail(format!("malformed /proc/PID/{what}"))
}

// ---- converters (pure) -------------------------------------------------------------

/// The start time of a process that started `starttime` clock ticks after boot.
pub(crate) fn start_time_from_ticks(starttime: u64) -> Result<StartTime> {
    Ok(start_time_at(super::proc::boot_time_secs()?, starttime))
}

/// As [`start_time_from_ticks`] with the boot time given (the snapshot reads it once).
pub(crate) fn start_time_at(boot_secs: u64, starttime: u64) -> StartTime {
    let since = ticks(starttime);
    StartTime {
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(boot_secs) + since,
        raw: starttime,
    }
}

pub(crate) fn cpu_times(stat: &Stat) -> CpuTimes {
    CpuTimes {
        user: ticks(stat.utime),
        system: ticks(stat.stime),
        children_user: ticks(stat.cutime),
        children_system: ticks(stat.cstime),
        iowait: ticks(stat.delayacct_blkio_ticks.unwrap_or(0)),
    }
}

pub(crate) fn page_faults(stat: &Stat) -> PageFaults {
    PageFaults {
        minor: stat.minflt,
        major: stat.majflt,
        children_minor: stat.cminflt,
        children_major: stat.cmajflt,
    }
}

pub(crate) fn group_info(stat: &Stat, tracer: u32) -> ProcessGroupInfo {
    ProcessGroupInfo {
        session: stat.session,
        pgid: stat.pgrp,
        tracer: Pid::new(tracer),
    }
}

pub(crate) fn is_kernel_thread(stat: &Stat) -> bool {
    stat.flags & super::parse::stat::PF_KTHREAD != 0
}

/// The documented name rule: `comm`, completed from argv\[0\]'s basename (or, failing
/// that, the executable's basename) when `comm` may have been cut at 15 bytes and the
/// longer name starts with it.
pub(crate) fn complete_name(comm: &[u8], argv0: Option<&[u8]>, exe: Option<&[u8]>) -> String {
    if comm.len() >= COMM_LEN {
        for cand in [argv0, exe].into_iter().flatten() {
            let base = match cand.iter().rposition(|&b| b == b'/') {
                Some(i) => &cand[i + 1..],
                None => cand,
            };
            // argv[0] may carry arguments when the process rewrote its title.
            let base = base.split(|&b| b == b' ').next().unwrap_or(base);
            if base.len() > comm.len() && base.starts_with(comm) {
                return String::from_utf8_lossy(base).into_owned();
            }
        }
    }
    String::from_utf8_lossy(comm).into_owned()
}

pub(crate) fn cmdline_args(buf: &[u8]) -> Vec<OsString> {
    cmdline::split_nul(buf)
        .into_iter()
        .map(OsString::from_vec)
        .collect()
}

pub(crate) fn environ(buf: &[u8]) -> Vec<(OsString, OsString)> {
    cmdline::parse_environ(buf)
        .into_iter()
        .map(|(k, v)| (OsString::from_vec(k), OsString::from_vec(v)))
        .collect()
}

pub(crate) fn ids(v: [u32; 4]) -> Ids {
    Ids {
        real: v[0],
        effective: v[1],
        saved: v[2],
        filesystem: v[3],
    }
}

pub(crate) fn peaks(st: &status::Status) -> MemoryPeaks {
    MemoryPeaks {
        peak_rss: st.vm_hwm.unwrap_or(0),
        peak_vms: st.vm_peak.unwrap_or(0),
        swap: st.vm_swap.unwrap_or(0),
    }
}

pub(crate) fn ctx_switches(st: &status::Status) -> CtxSwitches {
    CtxSwitches {
        voluntary: st.voluntary_ctxt_switches.unwrap_or(0),
        involuntary: st.nonvoluntary_ctxt_switches.unwrap_or(0),
    }
}

/// Calls a reentrant NSS lookup (`getpw*_r`, `getgr*_r`) with a scratch buffer, growing
/// it while the call answers `ERANGE`. `call` gets the buffer and returns the call's
/// result code and, on success, what it extracted (before the buffer goes away).
fn nss_lookup<T>(
    mut call: impl FnMut(&mut [u8]) -> (libc::c_int, Option<T>),
) -> io::Result<Option<T>> {
    let mut buf = vec![0u8; 1024];
    loop {
        let (rc, found) = call(&mut buf);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        // "Not found" comes back as 0 with no entry, or as one of these on some NSS modules.
        if rc != 0
            && rc != libc::ENOENT
            && rc != libc::ESRCH
            && rc != libc::EBADF
            && rc != libc::EPERM
        {
            return Err(io::Error::from_raw_os_error(rc));
        }
        return Ok(found);
    }
}

/// The user name for `uid` from the system's user database (NSS), or `None`.
pub(crate) fn username(uid: u32) -> Option<String> {
    nss_lookup(|buf| {
        // SAFETY: zeroed passwd is a valid all-null struct for getpwuid_r to fill.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the stated lengths; the name is copied out
        // before `buf`, which it points into, is touched again.
        let rc = unsafe {
            libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut out)
        };
        if rc != 0 || out.is_null() || pwd.pw_name.is_null() {
            return (rc, None);
        }
        // SAFETY: getpwuid_r succeeded, so pw_name points at a NUL-terminated string in buf.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        (0, Some(name.to_string_lossy().into_owned()))
    })
    .ok()
    .flatten()
}

/// The uid for a user name (NSS `getpwnam_r`), or `None`.
pub(crate) fn user_id(name: &str) -> Result<Option<u32>> {
    Ok(passwd_by_name(name)?.map(|(uid, _)| uid))
}

/// The uid and primary gid of a user name (NSS `getpwnam_r`), or `None`.
fn passwd_by_name(name: &str) -> Result<Option<(u32, u32)>> {
    let op = "look up user";
    let Ok(cname) = std::ffi::CString::new(name) else {
        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail("user name contains NUL"));
    };
    nss_lookup(|buf| {
        // SAFETY: zeroed passwd is a valid all-null struct for getpwnam_r to fill.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the stated lengths.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut out,
            )
        };
        (rc, (!out.is_null()).then_some((pwd.pw_uid, pwd.pw_gid)))
    })
    .map_err(|e| Error::from_io(op, e))
}

/// A user's uid, primary gid and supplementary groups (NSS `getpwnam_r` +
/// `getgrouplist`), or `None`.
pub(crate) fn account(name: &str) -> Result<Option<crate::system::Account>> {
    let op = "look up user";
    let Some((uid, gid)) = passwd_by_name(name)? else {
        return Ok(None);
    };
    let cname = std::ffi::CString::new(name).map_err(|_| {
        Error::new(ErrorKind::InvalidInput, op).with_detail("user name contains NUL")
    })?;
    let mut n: libc::c_int = 64;
    let groups = loop {
        let mut g = vec![0 as libc::gid_t; n as usize];
        // SAFETY: `g` holds `n` entries; getgrouplist updates `n`.
        let rc = unsafe { libc::getgrouplist(cname.as_ptr(), gid, g.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            g.truncate(n as usize);
            break g;
        }
        if n > 1 << 16 {
            return Err(Error::new(ErrorKind::Os, op).with_detail("too many groups"));
        }
        n *= 2;
    };
    Ok(Some(crate::system::Account {
        name: name.to_string(),
        uid,
        gid,
        groups,
    }))
}

/// The gid of a group name (NSS `getgrnam_r`), or `None`.
pub(crate) fn group_id(name: &str) -> Result<Option<u32>> {
    let op = "look up group";
    let Ok(cname) = std::ffi::CString::new(name) else {
        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail("group name contains NUL"));
    };
    nss_lookup(|buf| {
        // SAFETY: zeroed group is a valid all-null struct for getgrnam_r to fill.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the stated lengths.
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut out,
            )
        };
        (rc, (!out.is_null()).then_some(grp.gr_gid))
    })
    .map_err(|e| Error::from_io(op, e))
}

/// Total physical memory in bytes (`MemTotal`).
pub(crate) fn total_memory() -> Result<u64> {
    let mut buf = Vec::new();
    read_path("/proc/meminfo", &mut buf).map_err(|e| Error::from_io("read /proc/meminfo", e))?;
    super::parse::system::parse_meminfo_total(&buf).ok_or_else(|| {
        Error::new(ErrorKind::Parse, "read /proc/meminfo").with_detail("no MemTotal line")
    })
}

/// Time since boot (`/proc/uptime`).
pub(crate) fn uptime() -> Result<Duration> {
    let op = "read /proc/uptime";
    let mut buf = Vec::new();
    read_path("/proc/uptime", &mut buf).map_err(|e| Error::from_io(op, e))?;
    super::parse::system::parse_uptime(&buf)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| Error::new(ErrorKind::Parse, op).with_detail("malformed /proc/uptime"))
}

/// The controlling terminal's device path for a `tty_nr`, or `None` for no terminal.
pub(crate) fn terminal(tty_nr: u32) -> Result<Option<String>> {
    if tty_nr == 0 {
        return Ok(None);
    }
    let mut buf = Vec::new();
    read_path("/proc/tty/drivers", &mut buf)
        .map_err(|e| Error::from_io("read /proc/tty/drivers", e))?;
    let drivers = tty::parse_drivers(&buf);
    Ok(tty::device_name(&drivers, tty_nr))
}

// ---- getters ----------------------------------------------------------------------

/// The `RLIMIT_*` number of a resource.
pub(crate) fn resource(r: Resource) -> i32 {
    (match r {
        Resource::As => libc::RLIMIT_AS,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::Data => libc::RLIMIT_DATA,
        Resource::Fsize => libc::RLIMIT_FSIZE,
        Resource::Locks => libc::RLIMIT_LOCKS,
        Resource::Memlock => libc::RLIMIT_MEMLOCK,
        Resource::Msgqueue => libc::RLIMIT_MSGQUEUE,
        Resource::Nice => libc::RLIMIT_NICE,
        Resource::Nofile => libc::RLIMIT_NOFILE,
        Resource::Nproc => libc::RLIMIT_NPROC,
        Resource::Rss => libc::RLIMIT_RSS,
        Resource::Rtprio => libc::RLIMIT_RTPRIO,
        Resource::Rttime => libc::RLIMIT_RTTIME,
        Resource::Sigpending => libc::RLIMIT_SIGPENDING,
        Resource::Stack => libc::RLIMIT_STACK,
    }) as i32
}

fn lim(v: u64) -> Option<u64> {
    if v == libc::RLIM_INFINITY {
        None
    } else {
        Some(v)
    }
}

/// The Linux policy and static priority of a priority class.
pub(crate) fn linux_policy(class: crate::PriorityClass) -> (libc::c_int, libc::c_int) {
    let s = class.linux();
    (
        s.policy.linux_number() as libc::c_int,
        s.rt_priority as libc::c_int,
    )
}

impl Handle {
    fn read_buf(&self, file: &str, op: &'static str, zombie_ok: bool) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(1024);
        self.read(file, op, zombie_ok, &mut buf)?;
        Ok(buf)
    }

    /// `/proc/PID/stat`, verified; zombies pass (the kernel keeps it for them).
    pub(crate) fn stat(&self) -> Result<Stat> {
        let buf = self.read_buf("stat", "read stat", true)?;
        super::parse::stat::parse(&buf).ok_or_else(|| parse_err("read stat", self.pid, "stat"))
    }

    fn status_file(&self, op: &'static str) -> Result<status::Status> {
        let buf = self.read_buf("status", op, true)?;
        status::parse(&buf).ok_or_else(|| parse_err(op, self.pid, "status"))
    }

    pub(crate) fn name(&self) -> Result<String> {
        let st = self.stat()?;
        if st.comm.len() < COMM_LEN || is_kernel_thread(&st) {
            return Ok(String::from_utf8_lossy(&st.comm).into_owned());
        }
        let argv = self.cmdline_raw().ok();
        let argv0 = argv.as_ref().and_then(|a| a.first().map(|s| s.as_bytes()));
        let exe = if argv0.is_some() {
            None
        } else {
            self.exe().ok().flatten()
        };
        Ok(complete_name(
            &st.comm,
            argv0,
            exe.as_ref().map(|p| p.as_os_str().as_bytes()),
        ))
    }

    fn cmdline_raw(&self) -> Result<Vec<OsString>> {
        let buf = self.read_buf("cmdline", "read cmdline", false)?;
        Ok(cmdline_args(&buf))
    }

    pub(crate) fn cmdline(&self) -> Result<Vec<OsString>> {
        self.cmdline_raw()
    }

    pub(crate) fn exe(&self) -> Result<Option<PathBuf>> {
        let r = std::fs::read_link(format!("/proc/{}/exe", self.pid));
        self.verify("read exe", false)?;
        match r {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // Kernel threads have no executable.
                let st = self.stat()?;
                if is_kernel_thread(&st) {
                    Ok(None)
                } else {
                    Err(self.live_error("read exe", e))
                }
            }
            Err(e) => Err(self.live_error("read exe", e)),
        }
    }

    pub(crate) fn cwd(&self) -> Result<PathBuf> {
        let r = std::fs::read_link(format!("/proc/{}/cwd", self.pid));
        self.verify("read cwd", false)?;
        r.map_err(|e| self.live_error("read cwd", e))
    }

    pub(crate) fn environ(&self) -> Result<Vec<(OsString, OsString)>> {
        if is_kernel_thread(&self.stat()?) {
            // Kernel threads have no user space, hence no environment.
            return Ok(Vec::new());
        }
        let buf = self.read_buf("environ", "read environ", false)?;
        Ok(environ(&buf))
    }

    pub(crate) fn status(&self) -> Result<Status> {
        Ok(Status::from_letter(self.stat()?.state))
    }

    pub(crate) fn uids(&self) -> Result<Ids> {
        Ok(ids(self.status_file("read uids")?.uids))
    }

    pub(crate) fn gids(&self) -> Result<Ids> {
        Ok(ids(self.status_file("read gids")?.gids))
    }

    pub(crate) fn username(&self) -> Result<String> {
        let uid = self.uids()?.real;
        Ok(username(uid).unwrap_or_else(|| uid.to_string()))
    }

    pub(crate) fn terminal(&self) -> Result<Option<String>> {
        terminal(self.stat()?.tty_nr)
    }

    pub(crate) fn ppid(&self) -> Result<Option<Pid>> {
        Ok(Pid::new(self.stat()?.ppid))
    }

    pub(crate) fn cpu_times(&self) -> Result<CpuTimes> {
        Ok(cpu_times(&self.stat()?))
    }

    pub(crate) fn cpu_num(&self) -> Result<u32> {
        self.stat()?
            .processor
            .ok_or_else(|| parse_err("read cpu_num", self.pid, "stat"))
    }

    pub(crate) fn page_faults(&self) -> Result<PageFaults> {
        Ok(page_faults(&self.stat()?))
    }

    pub(crate) fn num_threads(&self) -> Result<u64> {
        Ok(self.stat()?.num_threads)
    }

    pub(crate) fn group_info(&self) -> Result<ProcessGroupInfo> {
        let st = self.stat()?;
        let status = self.status_file("read process group")?;
        Ok(group_info(&st, status.tracer_pid))
    }

    pub(crate) fn ctx_switches(&self) -> Result<CtxSwitches> {
        Ok(ctx_switches(&self.status_file("read context switches")?))
    }

    pub(crate) fn memory_peaks(&self) -> Result<MemoryPeaks> {
        Ok(peaks(&self.status_file("read memory peaks")?))
    }

    pub(crate) fn memory_info(&self) -> Result<MemoryInfo> {
        let buf = self.read_buf("statm", "read memory", true)?;
        statm::parse(&buf, page_size()).ok_or_else(|| parse_err("read memory", self.pid, "statm"))
    }

    pub(crate) fn memory_full_info(&self) -> Result<MemoryFullInfo> {
        let basic = self.memory_info()?;
        let buf = self.read_buf("smaps_rollup", "read memory_full_info", false)?;
        let r = smaps::parse_rollup(&buf)
            .ok_or_else(|| parse_err("read memory_full_info", self.pid, "smaps_rollup"))?;
        Ok(MemoryFullInfo {
            basic,
            uss: r.uss(),
            pss: r.pss,
            swap: r.swap,
        })
    }

    pub(crate) fn memory_maps(&self, grouped: bool) -> Result<Vec<MemoryMap>> {
        let buf = self.read_buf("smaps", "read memory_maps", false)?;
        let maps = smaps::parse_smaps(&buf)
            .ok_or_else(|| parse_err("read memory_maps", self.pid, "smaps"))?;
        Ok(if grouped { smaps::group(&maps) } else { maps })
    }

    pub(crate) fn io_counters(&self) -> Result<IoCounters> {
        let buf = self.read_buf("io", "read io_counters", false)?;
        pio::parse(&buf).ok_or_else(|| parse_err("read io_counters", self.pid, "io"))
    }

    pub(crate) fn cgroups(&self) -> Result<Vec<CgroupMembership>> {
        let buf = self.read_buf("cgroup", "read cgroups", false)?;
        cgroup::parse(&buf).ok_or_else(|| parse_err("read cgroups", self.pid, "cgroup"))
    }

    /// Lists `/proc/PID/<dir>` numeric entries.
    fn list_numeric(&self, dir: &str, op: &'static str) -> Result<Vec<u32>> {
        let r = std::fs::read_dir(format!("/proc/{}/{}", self.pid, dir));
        let mut out = Vec::new();
        let res = r.map(|rd| {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    out.push(n);
                }
            }
        });
        self.verify(op, false)?;
        res.map_err(|e| self.live_error(op, e))?;
        out.sort_unstable();
        Ok(out)
    }

    pub(crate) fn num_fds(&self) -> Result<usize> {
        Ok(self.list_numeric("fd", "read num_fds")?.len())
    }

    /// `(fd, link target)` for every open descriptor.
    fn fd_links(&self, op: &'static str) -> Result<Vec<(i32, Vec<u8>)>> {
        let fds = self.list_numeric("fd", op)?;
        let mut out = Vec::with_capacity(fds.len());
        for fd in fds {
            match std::fs::read_link(format!("/proc/{}/fd/{}", self.pid, fd)) {
                Ok(target) => out.push((fd as i32, target.into_os_string().into_vec())),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // closed meanwhile
                Err(e) => return Err(self.live_error(op, e)),
            }
        }
        Ok(out)
    }

    pub(crate) fn open_files(&self) -> Result<Vec<OpenFile>> {
        let op = "read open_files";
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(256);
        for (fd, target) in self.fd_links(op)? {
            if !target.starts_with(b"/") {
                continue;
            }
            // stat through the fd link: the open file itself, even if renamed or deleted.
            let fdpath = format!("/proc/{}/fd/{}", self.pid, fd);
            let Ok(st) = rustix::fs::stat(fdpath.as_str()) else {
                continue;
            };
            if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile
            {
                continue;
            }
            if read_path(&format!("/proc/{}/fdinfo/{}", self.pid, fd), &mut buf).is_err() {
                continue;
            }
            let Some(info) = fdinfo::parse(&buf) else {
                continue;
            };
            out.push(OpenFile {
                path: PathBuf::from(OsStr::from_bytes(&target)),
                fd,
                position: info.pos,
                mode: fdinfo::open_mode(info.flags),
                flags: info.flags,
            });
        }
        self.verify(op, false)?;
        Ok(out)
    }

    pub(crate) fn connections(&self, kind: ConnectionKind) -> Result<Vec<Connection>> {
        let op = "read connections";
        let mut inodes: HashMap<u64, i32> = HashMap::new();
        for (fd, target) in self.fd_links(op)? {
            if let Some(rest) = target.strip_prefix(b"socket:[") {
                if let Some(ino) = rest.strip_suffix(b"]").and_then(super::parse::parse_u64) {
                    inodes.insert(ino, fd);
                }
            }
        }
        let mut out = Vec::new();
        if inodes.is_empty() {
            return Ok(out);
        }
        let mut buf = Vec::with_capacity(8192);
        let tables = [
            ("tcp", Family::Inet, SocketType::Stream),
            ("tcp6", Family::Inet6, SocketType::Stream),
            ("udp", Family::Inet, SocketType::Datagram),
            ("udp6", Family::Inet6, SocketType::Datagram),
        ];
        for (file, family, st) in tables {
            if !kind.selects(family, st) {
                continue;
            }
            // The process's own network namespace.
            match read_path(&format!("/proc/{}/net/{}", self.pid, file), &mut buf) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // no IPv6
                Err(e) => return Err(self.live_error(op, e)),
            }
            for s in net::parse_inet(&buf, family, st) {
                if let Some(&fd) = inodes.get(&s.inode) {
                    let unspecified_remote = s.remote.ip().is_unspecified() && s.remote.port() == 0;
                    out.push(Connection {
                        fd,
                        family,
                        kind: st,
                        local: Some(Endpoint::Inet(s.local)),
                        remote: (!unspecified_remote).then_some(Endpoint::Inet(s.remote)),
                        status: s.state,
                        inode: s.inode,
                    });
                }
            }
        }
        if kind.selects(Family::Unix, SocketType::Stream) {
            match read_path(&format!("/proc/{}/net/unix", self.pid), &mut buf) {
                Ok(()) => {
                    for s in net::parse_unix(&buf) {
                        if let Some(&fd) = inodes.get(&s.inode) {
                            out.push(Connection {
                                fd,
                                family: Family::Unix,
                                kind: s.kind,
                                local: Some(Endpoint::Unix(s.path)),
                                remote: None,
                                status: if s.listening && s.kind == SocketType::Stream {
                                    TcpState::Listen
                                } else {
                                    TcpState::None
                                },
                                inode: s.inode,
                            });
                        }
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(self.live_error(op, e)),
            }
        }
        self.verify(op, false)?;
        out.sort_by_key(|c| c.fd);
        Ok(out)
    }

    pub(crate) fn affinity(&self) -> Result<Vec<usize>> {
        let set = self.by_pid("read cpu_affinity", || {
            rustix::thread::sched_getaffinity(Some(self.rpid())).map_err(io::Error::from)
        })?;
        Ok(thread::cpus_of(&set))
    }

    /// Runs `f` on every thread of the process (by tid), checked against pid reuse
    /// before and after; threads that end meanwhile (ESRCH) are skipped.
    pub(crate) fn for_each_task(
        &self,
        op: &'static str,
        mut f: impl FnMut(i32) -> io::Result<()>,
    ) -> Result<()> {
        let tids = self.list_numeric("task", op)?;
        self.by_pid(op, || {
            for tid in &tids {
                match f(*tid as i32) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }

    /// Restricts every thread to `cpus`, as `SetProcessAffinityMask` does.
    pub(crate) fn set_affinity(&self, cpus: &[usize]) -> Result<()> {
        let op = "set cpu_affinity";
        let set = thread::cpu_set(op, self.pid, cpus)?;
        self.for_each_task(op, |tid| thread::set_task_affinity(tid, &set))
            .map_err(|e| thread::affinity_error(e, cpus))
    }

    pub(crate) fn nice(&self) -> Result<i32> {
        // /proc/PID/stat's nice is the main thread's; getpriority(PRIO_PROCESS) is too.
        let v = self.stat()?.nice;
        Ok(v as i32)
    }

    pub(crate) fn set_nice(&self, nice: i32) -> Result<()> {
        let op = "set nice";
        thread::check_nice(op, self.pid, nice)?;
        self.by_pid(op, || {
            rustix::process::setpriority_process(Some(self.rpid()), nice).map_err(io::Error::from)
        })
    }

    pub(crate) fn priority_class(&self) -> Result<crate::PriorityClass> {
        Ok(thread::class_of(&self.stat()?))
    }

    /// Applies a priority class to every thread, as `SetPriorityClass` does (Linux sets
    /// policy and nice per thread).
    pub(crate) fn set_priority_class(&self, class: crate::PriorityClass) -> Result<()> {
        let s = class.linux();
        self.for_each_task("set priority class", |tid| thread::set_task_sched(tid, &s))
    }

    pub(crate) fn ionice(&self) -> Result<IoPriority> {
        let pid = self.pid.as_raw() as libc::c_long;
        let v = self.by_pid("read ionice", || {
            thread::ioprio_get(thread::IOPRIO_WHO_PROCESS, pid)
        })?;
        Ok(thread::ioprio_decode(v))
    }

    pub(crate) fn set_ionice(&self, prio: IoPriority) -> Result<()> {
        let op = "set ionice";
        let value = thread::ioprio_value(op, prio).map_err(|e| e.with_pid(self.pid))?;
        let pid = self.pid.as_raw() as libc::c_long;
        self.by_pid(op, || {
            thread::ioprio_set(thread::IOPRIO_WHO_PROCESS, pid, value)
        })
    }

    /// Every thread with its fields.
    pub(crate) fn threads(&self) -> Result<Vec<crate::ThreadInfo>> {
        let op = "read threads";
        let tids = self.list_numeric("task", op)?;
        let class = self.priority_class()?;
        let boot = super::proc::boot_time_secs()?;
        let mut out = Vec::with_capacity(tids.len());
        let mut buf = Vec::with_capacity(512);
        let mut sbuf = Vec::with_capacity(2048);
        for tid in tids {
            // A thread may exit between the listing and the read: skip it.
            if read_path(&format!("/proc/{}/task/{}/stat", self.pid, tid), &mut buf).is_err() {
                continue;
            }
            let status = read_path(
                &format!("/proc/{}/task/{}/status", self.pid, tid),
                &mut sbuf,
            )
            .ok()
            .and_then(|()| status::parse(&sbuf));
            if let (Some(st), Some(tid)) = (super::parse::stat::parse(&buf), Tid::new(tid)) {
                out.push(thread::thread_info(tid, &st, status.as_ref(), class, boot));
            }
        }
        self.verify(op, false)?;
        Ok(out)
    }

    /// Opens one thread of this process.
    pub(crate) fn thread(&self, tid: Tid) -> Result<thread::ThreadHandle> {
        let t = thread::ThreadHandle::open_in(self.pid, self.start_ticks, tid)?;
        self.verify("open thread", false)?;
        Ok(t)
    }

    pub(crate) fn rlimit(&self, res: Resource) -> Result<Rlimit> {
        let pid = self.pid.as_raw() as libc::pid_t;
        let r = resource(res);
        let v = self.by_pid("read rlimit", || {
            let mut old = libc::rlimit64 {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `old` is a valid out-pointer; a null `new` only reads.
            let rc = unsafe { libc::prlimit64(pid, r as _, std::ptr::null(), &mut old) };
            if rc != 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(old)
            }
        })?;
        Ok(Rlimit {
            soft: lim(v.rlim_cur),
            hard: lim(v.rlim_max),
        })
    }

    pub(crate) fn set_rlimit(&self, res: Resource, limit: Rlimit) -> Result<()> {
        let op = "set rlimit";
        let inf = libc::RLIM_INFINITY;
        let new = libc::rlimit64 {
            rlim_cur: limit.soft.unwrap_or(inf),
            rlim_max: limit.hard.unwrap_or(inf),
        };
        if new.rlim_cur > new.rlim_max {
            return Err(Error::new(ErrorKind::InvalidInput, op)
                .with_pid(self.pid)
                .with_detail(format!(
                    "soft limit of {} is above its hard limit",
                    res.name()
                )));
        }
        let pid = self.pid.as_raw() as libc::pid_t;
        let r = resource(res);
        self.by_pid(op, || {
            // SAFETY: `new` is a valid pointer; a null `old` only writes.
            let rc = unsafe { libc::prlimit64(pid, r as _, &new, std::ptr::null_mut()) };
            if rc != 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        })
    }
}
