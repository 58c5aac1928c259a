//! Threads on Linux: a reuse-safe thread handle (tid + start time, held through a thread
//! pidfd on 6.9+), per-thread fields from `/proc/PID/task/TID/{stat,status}`, and the
//! per-thread scheduling calls (the kernel's `setpriority`, `sched_setscheduler`,
//! `sched_setaffinity` and `ioprio_set` all act on one thread).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};

use super::fields::{self, start_time_at};
use super::parse::{stat, status};
use super::proc::{boot_time_secs, proc_error, read_path, ticks};
use crate::info::{StartTime, Status};
use crate::sched::{LinuxSched, SchedPolicy, ThreadPriority};
use crate::thread::ThreadInfo;
use crate::{Error, ErrorKind, Pid, PriorityClass, Result, Tid};

/// An open thread: owner pid, tid, both start times, and a thread pidfd where the kernel
/// has them.
#[derive(Debug)]
pub(crate) struct ThreadHandle {
    pub(crate) pid: Pid,
    pub(crate) tid: Tid,
    pub(crate) start_ticks: u64,
    pub(crate) proc_start: u64,
    pidfd: Option<OwnedFd>,
}

fn not_in_process(op: &'static str, pid: Pid, tid: Tid) -> Error {
    Error::new(ErrorKind::NoSuchProcess, op)
        .with_pid(pid)
        .with_detail(format!("no thread {tid} in process {pid}"))
}

/// `pidfd_open(tid, PIDFD_THREAD)`; `None` where the kernel lacks it (before 6.9 the
/// flag, and pidfds of non-leader threads, are refused with EINVAL).
fn thread_pidfd(tid: Tid) -> io::Result<Option<OwnedFd>> {
    const PIDFD_THREAD: libc::c_long = libc::O_EXCL as libc::c_long;
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_open,
            tid.as_raw() as libc::c_long,
            PIDFD_THREAD,
        )
    };
    if r >= 0 {
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EINVAL) => Ok(None),
        _ => Err(e),
    }
}

fn task_stat(pid: Pid, tid: Tid, buf: &mut Vec<u8>) -> io::Result<Option<stat::Stat>> {
    read_path(&format!("/proc/{pid}/task/{tid}/stat"), buf)?;
    Ok(stat::parse(buf))
}

/// The `Tgid` of `/proc/TID/status`: the process a thread id belongs to.
fn owner_of(tid: Tid) -> Result<Pid> {
    let op = "open thread";
    let mut buf = Vec::with_capacity(1024);
    read_path(&format!("/proc/{tid}/status"), &mut buf).map_err(|e| {
        let pid = Pid::new(tid.as_raw()).expect("tid is positive");
        proc_error(op, pid, e).with_detail(format!("no thread {tid}"))
    })?;
    status::parse(&buf)
        .and_then(|s| Pid::new(s.tgid))
        .ok_or_else(|| Error::new(ErrorKind::Parse, op).with_detail("malformed /proc/TID/status"))
}

/// The Linux scheduling setting in a `stat` line.
fn sched_of(st: &stat::Stat) -> LinuxSched {
    LinuxSched {
        policy: SchedPolicy::from_linux(st.policy.unwrap_or(0)),
        nice: st.nice as i32,
        rt_priority: st.rt_priority.unwrap_or(0),
    }
}

/// One thread's fields from its `stat` and `status` (pure).
pub(crate) fn thread_info(
    tid: Tid,
    st: &stat::Stat,
    status: Option<&status::Status>,
    class: PriorityClass,
    boot_secs: u64,
) -> ThreadInfo {
    let sched = sched_of(st);
    ThreadInfo {
        tid,
        name: String::from_utf8_lossy(&st.comm).into_owned(),
        status: Status::from_letter(st.state),
        user: ticks(st.utime),
        system: ticks(st.stime),
        nice: sched.nice,
        policy: sched.policy,
        rt_priority: sched.rt_priority,
        priority: ThreadPriority::from_linux(class, &sched),
        affinity: status
            .and_then(|s| s.cpus_allowed_list.as_ref())
            .map(|v| v.iter().map(|&c| c as usize).collect())
            .unwrap_or_default(),
        cpu: st.processor,
        ctx_switches: status.map(fields::ctx_switches).unwrap_or_default(),
        start: start_time_at(boot_secs, st.starttime),
    }
}

/// The class of a process from its main thread's `stat`.
pub(crate) fn class_of(st: &stat::Stat) -> PriorityClass {
    PriorityClass::from_linux(st.policy.unwrap_or(0), st.nice as i32)
}

impl ThreadHandle {
    pub(crate) fn open(tid: Tid) -> Result<ThreadHandle> {
        let pid = owner_of(tid)?;
        let mut buf = Vec::with_capacity(512);
        let proc_start = super::process::read_stat(pid, &mut buf)?.starttime;
        ThreadHandle::open_in(pid, proc_start, tid)
    }

    /// Opens `tid` of the process `pid` (which started at `proc_start`).
    pub(crate) fn open_in(pid: Pid, proc_start: u64, tid: Tid) -> Result<ThreadHandle> {
        let op = "open thread";
        let mut buf = Vec::with_capacity(512);
        let read = |buf: &mut Vec<u8>| -> Result<u64> {
            match task_stat(pid, tid, buf) {
                Ok(Some(st)) => Ok(st.starttime),
                Ok(None) => Err(Error::new(ErrorKind::Parse, op)
                    .with_pid(pid)
                    .with_detail("malformed /proc/PID/task/TID/stat")),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => {
                    Err(not_in_process(op, pid, tid))
                }
                Err(e) => Err(proc_error(op, pid, e)),
            }
        };
        for _ in 0..3 {
            let before = read(&mut buf)?;
            let pidfd = thread_pidfd(tid).map_err(|e| match e.raw_os_error() {
                Some(libc::ESRCH) => not_in_process(op, pid, tid),
                _ => proc_error(op, pid, e),
            })?;
            let after = read(&mut buf)?;
            if before != after {
                continue;
            }
            return Ok(ThreadHandle {
                pid,
                tid,
                start_ticks: after,
                proc_start,
                pidfd,
            });
        }
        Err(not_in_process(op, pid, tid).with_detail("the thread id kept changing hands"))
    }

    pub(crate) fn has_exited(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if let Ok(n) = rustix::event::poll(&mut fds, Some(&zero)) {
                return n > 0;
            }
        }
        let mut buf = Vec::with_capacity(512);
        match task_stat(self.pid, self.tid, &mut buf) {
            Ok(Some(s)) => s.starttime != self.start_ticks || s.state == b'Z' || s.state == b'X',
            _ => true,
        }
    }

    fn verify(&self, op: &'static str) -> Result<()> {
        if self.has_exited() {
            return Err(Error::new(ErrorKind::NoSuchProcess, op)
                .with_pid(self.pid)
                .with_detail(format!("thread {} has exited", self.tid)));
        }
        Ok(())
    }

    /// Runs a tid-addressed call checked against reuse before and after.
    fn by_tid<T>(&self, op: &'static str, f: impl FnOnce(i32) -> io::Result<T>) -> Result<T> {
        self.verify(op)?;
        let r = f(self.tid.as_raw() as i32);
        self.verify(op)?;
        r.map_err(|e| Error::from_io(op, e).with_pid(self.pid))
    }

    pub(crate) fn process_class(&self) -> Result<PriorityClass> {
        let mut buf = Vec::with_capacity(512);
        let st = super::process::read_stat(self.pid, &mut buf)?;
        if st.starttime != self.proc_start {
            return Err(
                Error::new(ErrorKind::NoSuchProcess, "read priority class").with_pid(self.pid)
            );
        }
        Ok(class_of(&st))
    }

    pub(crate) fn info(&self) -> Result<ThreadInfo> {
        let op = "read thread";
        let mut buf = Vec::with_capacity(1024);
        let st = task_stat(self.pid, self.tid, &mut buf);
        let mut sbuf = Vec::with_capacity(2048);
        let stt = read_path(
            &format!("/proc/{}/task/{}/status", self.pid, self.tid),
            &mut sbuf,
        );
        self.verify(op)?;
        let st = st
            .map_err(|e| proc_error(op, self.pid, e))?
            .ok_or_else(|| Error::new(ErrorKind::Parse, op).with_pid(self.pid))?;
        let status = stt.ok().and_then(|()| status::parse(&sbuf));
        let class = self.process_class()?;
        Ok(thread_info(
            self.tid,
            &st,
            status.as_ref(),
            class,
            boot_time_secs()?,
        ))
    }

    pub(crate) fn set_sched(&self, s: &LinuxSched, op: &'static str) -> Result<()> {
        self.by_tid(op, |tid| set_task_sched(tid, s))
    }

    pub(crate) fn set_nice(&self, nice: i32) -> Result<()> {
        let op = "set thread nice";
        check_nice(op, self.pid, nice)?;
        self.by_tid(op, |tid| set_task_nice(tid, nice))
    }

    pub(crate) fn affinity(&self) -> Result<Vec<usize>> {
        let set = self.by_tid("read thread affinity", |tid| {
            rustix::thread::sched_getaffinity(rustix::process::Pid::from_raw(tid))
                .map_err(io::Error::from)
        })?;
        Ok(cpus_of(&set))
    }

    pub(crate) fn set_affinity(&self, cpus: &[usize]) -> Result<()> {
        let op = "set thread affinity";
        let set = cpu_set(op, self.pid, cpus)?;
        self.by_tid(op, |tid| set_task_affinity(tid, &set))
            .map_err(|e| affinity_error(e, cpus))
    }

    pub(crate) fn io_priority(&self) -> Result<crate::IoPriority> {
        let v = self.by_tid("read thread I/O priority", |tid| {
            ioprio_get(IOPRIO_WHO_PROCESS, tid as libc::c_long)
        })?;
        Ok(ioprio_decode(v))
    }

    pub(crate) fn set_io_priority(&self, prio: crate::IoPriority) -> Result<()> {
        let op = "set thread I/O priority";
        let value = ioprio_value(op, prio).map_err(|e| e.with_pid(self.pid))?;
        self.by_tid(op, |tid| {
            ioprio_set(IOPRIO_WHO_PROCESS, tid as libc::c_long, value)
        })
    }

    /// A priority level relative to the process's class, as the sched module's table
    /// maps it to a policy and nice value.
    pub(crate) fn set_priority(&self, level: crate::ThreadPriority) -> Result<()> {
        let class = self.process_class()?;
        self.set_sched(&level.linux(class), "set thread priority")
    }

    /// Linux cannot suspend one thread without tracing it (see `Thread::suspend`).
    pub(crate) fn suspend(&self) -> Result<()> {
        ThreadHandle::suspend_unsupported("suspend thread", self.pid)
    }

    /// See [`ThreadHandle::suspend`].
    pub(crate) fn resume(&self) -> Result<()> {
        ThreadHandle::suspend_unsupported("resume thread", self.pid)
    }

    pub(crate) fn suspend_unsupported(op: &'static str, pid: Pid) -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported, op).with_pid(pid).with_detail(
            "Linux cannot stop one thread of a process without tracing it (ptrace seize + interrupt); \
             corral does not trace behind your back: suspend the whole process instead",
        ))
    }
}

// ---- per-task calls shared by Thread and Process -----------------------------------

pub(crate) fn check_nice(op: &'static str, pid: Pid, nice: i32) -> Result<()> {
    if !(-20..=19).contains(&nice) {
        return Err(Error::new(ErrorKind::InvalidInput, op)
            .with_pid(pid)
            .with_detail(format!("nice {nice} is outside -20..=19")));
    }
    Ok(())
}

pub(crate) fn set_task_nice(tid: i32, nice: i32) -> io::Result<()> {
    rustix::process::setpriority_process(rustix::process::Pid::from_raw(tid), nice)
        .map_err(io::Error::from)
}

/// `sched_setscheduler` then (for non-real-time policies) `setpriority` on one task.
pub(crate) fn set_task_sched(tid: i32, s: &LinuxSched) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: s.rt_priority as libc::c_int,
    };
    // SAFETY: sched_setscheduler reads `param`, a valid local.
    let r =
        unsafe { libc::sched_setscheduler(tid, s.policy.linux_number() as libc::c_int, &param) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if !s.policy.is_realtime() {
        set_task_nice(tid, s.nice)?;
    }
    Ok(())
}

pub(crate) fn cpus_of(set: &rustix::thread::CpuSet) -> Vec<usize> {
    (0..rustix::thread::CpuSet::MAX_CPU)
        .filter(|&c| set.is_set(c))
        .collect()
}

/// A CPU set from a list, refusing an empty list and CPUs beyond the machine.
pub(crate) fn cpu_set(
    op: &'static str,
    pid: Pid,
    cpus: &[usize],
) -> Result<rustix::thread::CpuSet> {
    let bad = |d: String| {
        Error::new(ErrorKind::InvalidInput, op)
            .with_pid(pid)
            .with_detail(d)
    };
    if cpus.is_empty() {
        return Err(bad("the CPU list is empty".into()));
    }
    let possible = super::system::possible_cpus();
    let mut set = rustix::thread::CpuSet::new();
    for &c in cpus {
        if c >= rustix::thread::CpuSet::MAX_CPU || possible.is_some_and(|n| c >= n) {
            return Err(bad(format!(
                "CPU {c} does not exist on this machine (CPUs 0-{})",
                possible.unwrap_or(rustix::thread::CpuSet::MAX_CPU) - 1
            )));
        }
        set.set(c);
    }
    Ok(set)
}

pub(crate) fn set_task_affinity(tid: i32, set: &rustix::thread::CpuSet) -> io::Result<()> {
    rustix::thread::sched_setaffinity(rustix::process::Pid::from_raw(tid), set)
        .map_err(io::Error::from)
}

pub(crate) fn affinity_error(e: Error, cpus: &[usize]) -> Error {
    if e.raw_os_error() == Some(libc::EINVAL) {
        e.with_kind(ErrorKind::InvalidInput)
            .with_detail(format!("no online CPU among {cpus:?}"))
    } else {
        e
    }
}

pub(crate) const IOPRIO_WHO_PROCESS: libc::c_long = 1;
const IOPRIO_WHO_PGRP: libc::c_long = 2;
const IOPRIO_WHO_USER: libc::c_long = 3;
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// The kernel's encoding of an I/O priority, refusing levels above 7.
pub(crate) fn ioprio_value(op: &'static str, prio: crate::IoPriority) -> Result<libc::c_long> {
    use crate::IoClass;
    if prio.level > 7 {
        return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
            "I/O priority level {} is outside 0..=7",
            prio.level
        )));
    }
    let class: u32 = match prio.class {
        IoClass::None => 0,
        IoClass::Realtime => 1,
        IoClass::BestEffort => 2,
        IoClass::Idle => 3,
    };
    let level = match prio.class {
        IoClass::None | IoClass::Idle => 0,
        _ => prio.level as u32,
    };
    Ok(((class << IOPRIO_CLASS_SHIFT) | level) as libc::c_long)
}

/// Decodes the kernel's I/O priority value.
pub(crate) fn ioprio_decode(v: u32) -> crate::IoPriority {
    use crate::IoClass;
    let class = match v >> IOPRIO_CLASS_SHIFT {
        1 => IoClass::Realtime,
        2 => IoClass::BestEffort,
        3 => IoClass::Idle,
        _ => IoClass::None,
    };
    crate::IoPriority {
        class,
        level: (v & 0x7) as u8,
    }
}

pub(crate) fn ioprio_get(which: libc::c_long, who: libc::c_long) -> io::Result<u32> {
    // SAFETY: ioprio_get takes two integer arguments and touches no memory.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, which, who) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u32)
    }
}

pub(crate) fn ioprio_set(
    which: libc::c_long,
    who: libc::c_long,
    value: libc::c_long,
) -> io::Result<()> {
    // SAFETY: ioprio_set takes three integer arguments and touches no memory.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, which, who, value) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

// ---- process groups and users ------------------------------------------------------

use crate::sched::Who;

fn who_error(op: &'static str, who: Who, e: io::Error) -> Error {
    let err = Error::from_io(op, e);
    if err.kind() == ErrorKind::NoSuchProcess {
        let d = match who {
            Who::Group(g) => format!("no process in process group {g}"),
            Who::User(u) => format!("user {u} has no process"),
        };
        err.with_detail(d)
    } else {
        err
    }
}

pub(crate) fn real_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

pub(crate) fn who_nice(who: Who, op: &'static str) -> Result<i32> {
    use rustix::process as rp;
    match who {
        Who::Group(g) => rp::getpriority_pgrp(rp::Pid::from_raw(g as i32)),
        Who::User(u) => rp::getpriority_user(rp::Uid::from_raw(u)),
    }
    .map_err(|e| who_error(op, who, e.into()))
}

pub(crate) fn set_who_nice(who: Who, nice: i32, op: &'static str) -> Result<()> {
    if !(-20..=19).contains(&nice) {
        return Err(Error::new(ErrorKind::InvalidInput, op)
            .with_detail(format!("nice {nice} is outside -20..=19")));
    }
    use rustix::process as rp;
    match who {
        Who::Group(g) => rp::setpriority_pgrp(rp::Pid::from_raw(g as i32), nice),
        Who::User(u) => rp::setpriority_user(rp::Uid::from_raw(u), nice),
    }
    .map_err(|e| who_error(op, who, e.into()))
}

fn who_args(who: Who) -> (libc::c_long, libc::c_long) {
    match who {
        Who::Group(g) => (IOPRIO_WHO_PGRP, g as libc::c_long),
        Who::User(u) => (IOPRIO_WHO_USER, u as libc::c_long),
    }
}

pub(crate) fn who_ionice(who: Who, op: &'static str) -> Result<crate::IoPriority> {
    let (which, id) = who_args(who);
    ioprio_get(which, id)
        .map(ioprio_decode)
        .map_err(|e| who_error(op, who, e))
}

pub(crate) fn set_who_ionice(who: Who, prio: crate::IoPriority, op: &'static str) -> Result<()> {
    let v = ioprio_value(op, prio)?;
    let (which, id) = who_args(who);
    ioprio_set(which, id, v).map_err(|e| who_error(op, who, e))
}

/// The start time of something that started `t` ticks after boot.
pub(crate) fn start_time_at_ticks(t: u64) -> Result<StartTime> {
    Ok(start_time_at(boot_time_secs()?, t))
}

// ---- background mode and trimming ---------------------------------------------------

/// `struct sched_attr` (`SCHED_ATTR_SIZE_VER1`).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP_MAX: u64 = 0x40;

/// Sets only the utilisation clamp maximum of one task (`u32::MAX` resets it).
/// `Ok(false)` when the kernel has no utilisation clamping.
fn set_util_max(tid: i32, max: u32) -> io::Result<bool> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_flags: SCHED_FLAG_KEEP_POLICY | SCHED_FLAG_KEEP_PARAMS | SCHED_FLAG_UTIL_CLAMP_MAX,
        sched_util_max: max,
        ..SchedAttr::default()
    };
    // SAFETY: sched_setattr reads `attr.size` bytes of a valid, initialised local.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, tid, &attr as *const SchedAttr, 0) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // No CONFIG_UCLAMP_TASK (EOPNOTSUPP), or a kernel before 5.3 (E2BIG/EINVAL on
        // the larger struct), or no sched_setattr at all.
        Some(libc::EOPNOTSUPP | libc::E2BIG | libc::EINVAL | libc::ENOSYS) => Ok(false),
        _ => Err(e),
    }
}

/// `process_madvise(2)` of one range.
fn pageout(pidfd: std::os::fd::BorrowedFd<'_>, start: u64, len: u64) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    const MADV_PAGEOUT: libc::c_long = 21;
    let iov = libc::iovec {
        iov_base: start as usize as *mut libc::c_void,
        iov_len: len as usize,
    };
    // SAFETY: the kernel reads one iovec from a valid local; the addresses in it belong
    // to the other process and are never dereferenced here.
    let r = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            pidfd.as_raw_fd(),
            &iov as *const libc::iovec,
            1 as libc::c_long,
            MADV_PAGEOUT,
            0 as libc::c_long,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u64)
    }
}

impl super::process::Handle {
    pub(crate) fn set_background(&self, on: bool) -> Result<crate::BackgroundReport> {
        let op = if on {
            "begin background mode"
        } else {
            "end background mode"
        };
        let sched = if on {
            LinuxSched {
                policy: SchedPolicy::Idle,
                nice: 19,
                rt_priority: 0,
            }
        } else {
            LinuxSched {
                policy: SchedPolicy::Normal,
                nice: 0,
                rt_priority: 0,
            }
        };
        let io = ioprio_value(
            op,
            crate::IoPriority {
                class: if on {
                    crate::IoClass::Idle
                } else {
                    crate::IoClass::None
                },
                level: 0,
            },
        )?;
        let mut threads = 0;
        let mut clamp = true;
        self.for_each_task(op, |tid| {
            // Lower the CPU priority last when going into the background, first when
            // coming out, so a refusal leaves the process no higher than it was.
            if !on {
                set_task_sched(tid, &sched)?;
            }
            ioprio_set(IOPRIO_WHO_PROCESS, tid as libc::c_long, io)?;
            clamp &= set_util_max(tid, if on { 0 } else { u32::MAX })?;
            if on {
                set_task_sched(tid, &sched)?;
            }
            threads += 1;
            Ok(())
        })?;
        Ok(crate::BackgroundReport {
            threads,
            util_clamp: clamp && threads > 0,
        })
    }

    pub(crate) fn is_background(&self) -> Result<bool> {
        let op = "read background mode";
        for t in self.threads()? {
            if t.policy != SchedPolicy::Idle {
                return Ok(false);
            }
            let v = self.by_pid(op, || {
                ioprio_get(IOPRIO_WHO_PROCESS, t.tid.as_raw() as libc::c_long)
            });
            match v {
                Ok(v) if ioprio_decode(v).class == crate::IoClass::Idle => {}
                Ok(_) => return Ok(false),
                // The thread ended meanwhile.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    pub(crate) fn trim_memory(&self) -> Result<crate::TrimReport> {
        let op = "trim memory";
        let Some(pidfd) = self.pidfd() else {
            return Err(Error::new(ErrorKind::Unsupported, op)
                .with_pid(self.pid)
                .with_detail("needs pidfd_open (Linux 5.3+) and process_madvise (5.10+)"));
        };
        let before = self.memory_info()?.rss;
        let mut buf = Vec::with_capacity(16 * 1024);
        self.read("maps", op, false, &mut buf)?;
        let maps = super::parse::maps::parse(&buf).ok_or_else(|| {
            Error::new(ErrorKind::Parse, op)
                .with_pid(self.pid)
                .with_detail("malformed /proc/PID/maps")
        })?;
        let mut advised = 0;
        for m in maps.iter().filter(|m| m.is_pageable()) {
            match pageout(pidfd, m.start, m.end - m.start) {
                Ok(n) => advised += n,
                // Locked, huge-TLB or PFN mappings (EINVAL), unmapped meanwhile (ENOMEM),
                // or pages the kernel would not touch (EAGAIN): skip the range.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::ENOMEM | libc::EAGAIN)
                    ) => {}
                Err(e) => {
                    self.verify(op, false)?;
                    let err = Error::from_io(op, e).with_pid(self.pid);
                    return Err(match err.kind() {
                        ErrorKind::Unsupported => err
                            .with_detail("this kernel has no process_madvise (needs Linux 5.10+)"),
                        ErrorKind::AccessDenied => {
                            err.with_detail("needs ptrace access to the process and CAP_SYS_NICE")
                        }
                        _ => err,
                    });
                }
            }
        }
        self.verify(op, false)?;
        let after = self.memory_info()?.rss;
        Ok(crate::TrimReport {
            rss_before: before,
            rss_after: after,
            advised,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &[u8] = include_bytes!("../../../testdata/task_stat_rr");
    const STATUS: &[u8] = include_bytes!("../../../testdata/status_threads");

    #[test]
    fn recorded_rr_thread() {
        let st = stat::parse(TASK).unwrap();
        let status = status::parse(STATUS).unwrap();
        let t = thread_info(
            Tid::new(st.pid).unwrap(),
            &st,
            Some(&status),
            PriorityClass::Normal,
            1000,
        );
        assert_eq!(t.name, "worker-1");
        assert_eq!(t.policy, SchedPolicy::RoundRobin);
        assert_eq!(t.rt_priority, 10);
        assert_eq!(t.priority, ThreadPriority::TimeCritical);
        assert_eq!(t.affinity, vec![0, 1]);
        assert_eq!(
            ThreadPriority::from_linux(PriorityClass::Realtime, &sched_of(&st)),
            ThreadPriority::AboveNormal
        );
        assert!(t.cpu.is_some());
    }

    #[test]
    fn ioprio_encoding_round_trips() {
        use crate::{IoClass, IoPriority};
        for class in [IoClass::Realtime, IoClass::BestEffort] {
            for level in 0..=7 {
                let p = IoPriority { class, level };
                assert_eq!(ioprio_decode(ioprio_value("t", p).unwrap() as u32), p);
            }
        }
        let idle = IoPriority {
            class: IoClass::Idle,
            level: 5,
        };
        assert_eq!(
            ioprio_decode(ioprio_value("t", idle).unwrap() as u32).class,
            IoClass::Idle
        );
        let bad = IoPriority {
            class: IoClass::BestEffort,
            level: 8,
        };
        assert_eq!(
            ioprio_value("t", bad).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}
