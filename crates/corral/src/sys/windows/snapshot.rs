//! Enumeration on Windows: one Toolhelp32 pass (`CreateToolhelp32Snapshot`) gives pid,
//! parent pid, thread count and image name of every process; the start time (identity)
//! and the fields Toolhelp lacks come from a handle opened with the least rights
//! (`PROCESS_QUERY_LIMITED_INFORMATION`), one per process, closed at once.

use std::os::windows::io::{FromRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::{ERROR_NO_MORE_FILES, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W, TH32CS_SNAPPROCESS,
};

use super::process::Handle;
use super::util::{from_wide_nul, last_error, ticks_to_system_time};
use crate::info::StartTime;
use crate::snapshot::{Field, FieldSet, Filter, ProcessInfo};
use crate::{Error, ErrorKind, Pid, Result};

/// What Toolhelp says about one process.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    pub(crate) threads: u32,
    pub(crate) name: String,
}

/// Every process Toolhelp lists, in its order.
pub(crate) fn entries() -> Result<Vec<Entry>> {
    let op = "list processes";
    // SAFETY: plain call; INVALID_HANDLE_VALUE means failure.
    let snap = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if snap == INVALID_HANDLE_VALUE {
        return Err(last_error(op, None));
    }
    // SAFETY: `snap` is a fresh handle we own; OwnedHandle closes it.
    let snap = unsafe { OwnedHandle::from_raw_handle(snap as _) };
    let raw = std::os::windows::io::AsRawHandle::as_raw_handle(&snap) as _;
    let mut out = Vec::with_capacity(256);
    let mut e = PROCESSENTRY32W {
        dwSize: std::mem::size_of::<PROCESSENTRY32W>() as u32,
        ..Default::default()
    };
    // SAFETY: `raw` is a process snapshot; `e` is a live entry with dwSize set.
    let mut ok = unsafe { Process32FirstW(raw, &mut e) };
    while ok != 0 {
        out.push(Entry {
            pid: e.th32ProcessID,
            ppid: e.th32ParentProcessID,
            threads: e.cntThreads,
            name: from_wide_nul(&e.szExeFile).to_string_lossy().into_owned(),
        });
        // SAFETY: as above.
        ok = unsafe { Process32NextW(raw, &mut e) };
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(ERROR_NO_MORE_FILES as i32) {
        return Err(super::util::win_error(op, None, err));
    }
    Ok(out)
}

/// The Toolhelp entry of `pid`.
pub(crate) fn find_entry(pid: Pid) -> Result<Entry> {
    entries()?
        .into_iter()
        .find(|e| e.pid == pid.as_raw())
        .ok_or_else(|| Error::new(ErrorKind::NoSuchProcess, "read").with_pid(pid))
}

/// The number of processes.
pub(crate) fn pid_count() -> Result<usize> {
    Ok(entries()?.iter().filter(|e| e.pid != 0).count())
}

/// A field Windows does not have; `why` says so.
fn absent<T>(op: &'static str, pid: Pid, why: &'static str) -> Option<Result<T>> {
    Some(Err(Error::new(ErrorKind::Unsupported, op)
        .with_pid(pid)
        .with_detail(why)))
}

/// Runs a snapshot: see [`crate::Snapshot`].
pub(crate) fn snapshot(
    fields: FieldSet,
    filter: &Filter,
    mut each: impl FnMut(ProcessInfo),
) -> Result<()> {
    // The port filter: the pids owning a matching socket, from one read of the tables.
    let on_port = match filter.port {
        Some(m) => Some(super::net::pids_on_port(m.port, m.kind)?),
        None => None,
    };
    let want = fields.union(filter.needs());
    // Status and context switches: one system-wide read of the threads for all rows.
    let threads = if want.contains(Field::Status) || want.contains(Field::CtxSwitches) {
        Some(super::status::threads())
    } else {
        None
    };
    let of_threads = |op: &'static str, pid: Pid| {
        threads.as_ref().map(|r| match r {
            Ok(m) => m
                .get(&pid.as_raw())
                .ok_or_else(|| Error::new(ErrorKind::NoSuchProcess, op).with_pid(pid)),
            Err(err) => Err(err.clone()),
        })
    };
    let mut list = entries()?;
    list.sort_by_key(|e| e.pid);
    for e in list {
        // Pid 0 is the Idle pseudo-process, not something corral can name.
        let Some(pid) = Pid::new(e.pid) else { continue };
        if let Some(p) = &filter.pids {
            if p.binary_search(&pid).is_err() {
                continue;
            }
        }
        if let Some(p) = &on_port {
            if p.binary_search(&e.pid).is_err() {
                continue;
            }
        }
        // Identity: the creation time through a least-rights handle. Processes Windows
        // will not open (System, protected ones) show the boot time and raw stamp 0.
        let handle = match Handle::open(pid) {
            Ok(h) => Some(h),
            Err(err) if err.kind() == ErrorKind::NoSuchProcess => continue,
            Err(_) => None,
        };
        let start = match &handle {
            Some(h) => StartTime {
                wall: ticks_to_system_time(h.start_ticks),
                raw: h.start_ticks,
            },
            None => StartTime {
                wall: super::system::boot_time(),
                raw: 0,
            },
        };
        let mut row = ProcessInfo::new(pid, start, false);
        let denied = |op: &'static str| -> Error {
            Error::new(ErrorKind::AccessDenied, op)
                .with_pid(pid)
                .with_detail("Windows does not let this process open it")
        };
        macro_rules! via_handle {
            ($op:literal, $f:expr) => {
                Some(match &handle {
                    Some(h) => $f(h),
                    None => Err(denied($op)),
                })
            };
        }
        if want.contains(Field::Ppid) {
            row.ppid = Some(Ok(Pid::new(e.ppid)));
        }
        if want.contains(Field::Name) {
            row.name = Some(Ok(e.name.clone()));
        }
        if want.contains(Field::NumThreads) {
            row.num_threads = Some(Ok(u64::from(e.threads)));
        }
        if want.contains(Field::Exe) {
            row.exe = via_handle!("read exe", |h: &Handle| h.exe());
        }
        if want.contains(Field::Cmdline) {
            row.cmdline = via_handle!("read cmdline", |h: &Handle| h.cmdline());
        }
        if want.contains(Field::CpuTimes) {
            row.cpu_times = via_handle!("read cpu_times", |h: &Handle| h.cpu_times());
        }
        if want.any(&[Field::Memory, Field::Rss, Field::Vms]) {
            let m = via_handle!("read memory", |h: &Handle| h.memory_info());
            if want.contains(Field::Rss) {
                row.rss = m.clone().map(|r| r.map(|m| m.rss));
            }
            if want.contains(Field::Vms) {
                row.vms = m.clone().map(|r| r.map(|m| m.vms));
            }
            if want.contains(Field::Memory) {
                row.memory = m;
            }
        }
        if want.contains(Field::Cwd) {
            row.cwd = via_handle!("read cwd", |h: &Handle| h.cwd());
        }
        if want.contains(Field::Environ) {
            row.environ = via_handle!("read environ", |h: &Handle| h.environ());
        }
        if want.contains(Field::Username) {
            row.username = via_handle!("read username", |h: &Handle| h.username());
        }
        if want.contains(Field::NumFds) {
            row.num_fds = via_handle!("read num_fds", |h: &Handle| h.num_fds());
        }
        if want.contains(Field::Io) {
            row.io = via_handle!("read io_counters", |h: &Handle| h.io_counters());
        }
        for f in [
            Field::Status,
            Field::Uids,
            Field::Gids,
            Field::Terminal,
            Field::Nice,
            Field::PageFaults,
            Field::ProcessGroup,
            Field::CpuNum,
            Field::MemoryPeaks,
            Field::CtxSwitches,
            Field::Cgroups,
        ] {
            if !want.contains(f) {
                continue;
            }
            match f {
                Field::Status => {
                    row.status = of_threads("read status", pid)
                        .map(|r| r.map(|rows| super::status::process_status(rows)))
                }
                Field::Uids => row.uids = absent("read uids", pid, super::NO_NUMERIC_IDS),
                Field::Gids => row.gids = absent("read gids", pid, super::NO_NUMERIC_IDS),
                Field::Terminal => row.terminal = absent("read terminal", pid, super::NO_TERMINAL),
                Field::Nice => row.nice = absent("read nice", pid, super::NO_NICE),
                Field::PageFaults => {
                    row.page_faults = via_handle!("read page faults", |h: &Handle| h.page_faults())
                }
                Field::ProcessGroup => {
                    row.group = absent("read process group", pid, super::NO_GROUPS)
                }
                Field::CpuNum => row.cpu_num = absent("read cpu_num", pid, super::NO_CPU_NUM),
                Field::MemoryPeaks => {
                    row.memory_peaks =
                        via_handle!("read memory peaks", |h: &Handle| h.memory_peaks())
                }
                Field::CtxSwitches => {
                    row.ctx_switches = of_threads("read context switches", pid)
                        .map(|r| r.map(|rows| super::status::process_ctx_switches(rows)))
                }
                Field::Cgroups => row.cgroups = absent("read cgroups", pid, super::NO_CGROUPS),
                _ => {}
            }
        }
        if filter.check(&row) != Some(false) {
            each(row);
        }
    }
    Ok(())
}
