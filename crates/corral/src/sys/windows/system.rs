//! Machine-wide figures on Windows: `GlobalMemoryStatusEx`, `GetSystemTimes`,
//! `NtQuerySystemInformation(SystemProcessorPerformanceInformation)` (per processor
//! group with `NtQuerySystemInformationEx` on a machine with several), `GetTickCount64`.

use std::time::{Duration, SystemTime};

use windows_sys::Wdk::System::SystemInformation::{
    NtQuerySystemInformation, SystemProcessorPerformanceInformation,
};
use windows_sys::Win32::Foundation::FILETIME;
use windows_sys::Win32::System::SystemInformation::{
    GetTickCount64, GlobalMemoryStatusEx, MEMORYSTATUSEX,
};
use windows_sys::Win32::System::Threading::GetSystemTimes;

use super::util::{ft_duration, last_error, ticks_duration};
use crate::system::{PerCpuTimes, SwapMemory, SystemCpuTimes, VirtualMemory};
use crate::{Error, ErrorKind, Result};

fn memory_status() -> Result<MEMORYSTATUSEX> {
    // SAFETY: an all-zero MEMORYSTATUSEX is valid (plain integers).
    let mut m: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    m.dwLength = std::mem::size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: `m` is live and its dwLength is set.
    if unsafe { GlobalMemoryStatusEx(&mut m) } == 0 {
        return Err(last_error("read memory", None));
    }
    Ok(m)
}

/// Installed physical memory usable by Windows.
pub(crate) fn total_memory() -> Result<u64> {
    Ok(memory_status()?.ullTotalPhys)
}

/// Physical memory: Windows gives total and available; `free` is the available figure,
/// and buffers, cached, shared, active, inactive and slab do not exist there (0).
pub(crate) fn virtual_memory() -> Result<VirtualMemory> {
    let m = memory_status()?;
    let total = m.ullTotalPhys;
    let available = m.ullAvailPhys;
    let used = total.saturating_sub(available);
    Ok(VirtualMemory {
        total,
        available,
        used,
        free: available,
        buffers: 0,
        cached: 0,
        shared: 0,
        active: 0,
        inactive: 0,
        slab: 0,
        percent: if total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / total as f64
        },
    })
}

/// The page file beyond physical memory (commit limit minus RAM), as psutil computes it.
pub(crate) fn swap_memory() -> Result<SwapMemory> {
    let m = memory_status()?;
    let total = m.ullTotalPageFile.saturating_sub(m.ullTotalPhys);
    let free = m.ullAvailPageFile.saturating_sub(m.ullAvailPhys).min(total);
    let used = total - free;
    Ok(SwapMemory {
        total,
        used,
        free,
        percent: if total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / total as f64
        },
        sin: None,
        sout: None,
    })
}

/// Time since boot (`GetTickCount64`, milliseconds).
pub(crate) fn uptime() -> Result<Duration> {
    // SAFETY: no arguments.
    Ok(Duration::from_millis(unsafe { GetTickCount64() }))
}

/// The boot time as wall-clock time.
pub(crate) fn boot_time() -> SystemTime {
    // SAFETY: no arguments.
    let up = Duration::from_millis(unsafe { GetTickCount64() });
    SystemTime::now() - up
}

/// The boot time in seconds since the Unix epoch.
pub(crate) fn boot_time_secs() -> Result<u64> {
    boot_time()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::new(ErrorKind::Os, "read boot time").with_detail("boot before 1970"))
}

/// `SYSTEM_PROCESSOR_PERFORMANCE_INFORMATION` (documented in winternl.h).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProcessorTimes {
    idle: i64,
    /// Includes idle time.
    kernel: i64,
    user: i64,
    dpc: i64,
    interrupt: i64,
    interrupt_count: u32,
}

fn cpu_times_from(
    user: Duration,
    kernel_with_idle: Duration,
    idle: Duration,
    irq: Duration,
    softirq: Duration,
) -> SystemCpuTimes {
    SystemCpuTimes {
        user,
        system: kernel_with_idle.saturating_sub(idle),
        idle,
        irq,
        softirq,
        ..SystemCpuTimes::default()
    }
}

/// One record per logical processor of the `NtQuerySystemInformation` class `class`
/// (`T` is the record's layout), in corral's CPU order. `NtQuerySystemInformation`
/// answers for the calling thread's processor group only: on a machine with several
/// groups each group is asked in turn with `NtQuerySystemInformationEx` (the group
/// number as input), and the groups' records follow one another as the CPU numbers do.
fn per_processor<T: Default + Clone>(
    class: windows_sys::Wdk::System::SystemInformation::SYSTEM_INFORMATION_CLASS,
    op: &'static str,
) -> Result<Vec<T>> {
    let table = super::groups::GroupTable::machine();
    if table.is_single() {
        return per_processor_in(class, op);
    }
    let mut all = Vec::new();
    for g in table.groups() {
        all.extend(per_processor_of_group::<T>(class, g.number, op)?);
    }
    Ok(all)
}

/// The records `call` wrote into `per` (`ret` bytes), or its failure `status`.
fn filled<T>(
    mut per: Vec<T>,
    ret: u32,
    status: i32,
    class: windows_sys::Wdk::System::SystemInformation::SYSTEM_INFORMATION_CLASS,
    call: &str,
    op: &'static str,
) -> Result<Vec<T>> {
    if status < 0 {
        return Err(Error::new(ErrorKind::Os, op).with_detail(format!(
            "{call} (class {class}): NTSTATUS {:#x}",
            status as u32
        )));
    }
    per.truncate(ret as usize / std::mem::size_of::<T>());
    Ok(per)
}

/// The records of group `group` (`NtQuerySystemInformationEx`, looked up in ntdll).
fn per_processor_of_group<T: Default + Clone>(
    class: windows_sys::Wdk::System::SystemInformation::SYSTEM_INFORMATION_CLASS,
    group: u16,
    op: &'static str,
) -> Result<Vec<T>> {
    type QueryEx = unsafe extern "system" fn(i32, *const u16, u32, *mut u8, u32, *mut u32) -> i32;
    let Some(f) = super::util::proc_address("ntdll.dll", b"NtQuerySystemInformationEx\0") else {
        return Err(Error::new(ErrorKind::Unsupported, op)
            .with_detail("ntdll lacks NtQuerySystemInformationEx (per-group processor figures)"));
    };
    // SAFETY: ntdll's export of that name has this signature (class, input buffer and
    // length, output buffer and length, returned length).
    let f: QueryEx = unsafe { std::mem::transmute(f) };
    // A group has at most 64 processors.
    let mut per = vec![T::default(); 64];
    let mut ret = 0u32;
    // SAFETY: `group` is the 2-byte input the class takes; `per` is a live buffer of the
    // stated size, of the layout Windows writes for this class.
    let status = unsafe {
        f(
            class,
            &group,
            2,
            per.as_mut_ptr().cast(),
            (per.len() * std::mem::size_of::<T>()) as u32,
            &mut ret,
        )
    };
    filled(per, ret, status, class, "NtQuerySystemInformationEx", op)
}

/// The records of the calling thread's group (every CPU on a one-group machine).
fn per_processor_in<T: Default + Clone>(
    class: windows_sys::Wdk::System::SystemInformation::SYSTEM_INFORMATION_CLASS,
    op: &'static str,
) -> Result<Vec<T>> {
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let mut per = vec![T::default(); cpus.max(64)];
    let mut ret = 0u32;
    // SAFETY: `per` is a live buffer of the stated size, of the layout Windows writes for
    // this class.
    let status = unsafe {
        NtQuerySystemInformation(
            class,
            per.as_mut_ptr().cast(),
            (per.len() * std::mem::size_of::<T>()) as u32,
            &mut ret,
        )
    };
    filled(per, ret, status, class, "NtQuerySystemInformation", op)
}

/// `SYSTEM_INTERRUPT_INFORMATION`: one per logical processor.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct InterruptInfo {
    context_switches: u32,
    dpc_count: u32,
    dpc_rate: u32,
    time_increment: u32,
    dpc_bypass_count: u32,
    apc_bypass_count: u32,
}

/// Scheduler counters: context switches and DPCs (Windows' deferred procedure calls, the
/// counterpart of Linux soft interrupts) summed over `SystemInterruptInformation`,
/// interrupts over `SystemProcessorPerformanceInformation`, runnable threads and threads
/// waiting for a page-in from one `SystemProcessInformation` read; `processes_forked`
/// is 0 (Windows keeps no count of processes created).
pub(crate) fn cpu_stats() -> Result<crate::system::CpuStats> {
    use windows_sys::Wdk::System::SystemInformation::SystemInterruptInformation;
    let op = "read CPU counters";
    let perf = per_processor::<ProcessorTimes>(SystemProcessorPerformanceInformation, op)?;
    let intr = per_processor::<InterruptInfo>(SystemInterruptInformation, op)?;
    let threads = super::status::threads()?;
    let rows = threads.values().flatten();
    let (mut running, mut blocked) = (0u64, 0u64);
    for t in rows {
        if super::status::runnable(t) {
            running += 1;
        } else if super::status::thread_status(t) == crate::info::Status::DiskSleep {
            blocked += 1;
        }
    }
    Ok(crate::system::CpuStats {
        ctx_switches: intr.iter().map(|i| u64::from(i.context_switches)).sum(),
        interrupts: perf.iter().map(|p| u64::from(p.interrupt_count)).sum(),
        soft_interrupts: intr.iter().map(|i| u64::from(i.dpc_count)).sum(),
        processes_forked: 0,
        procs_running: running,
        procs_blocked: blocked,
    })
}

/// Each logical processor's clock from `CallNtPowerInformation(ProcessorInformation)`:
/// current and maximum MHz; the minimum is 0 (Windows does not say it; `MhzLimit` is
/// the current cap, not a floor).
pub(crate) fn cpu_freq() -> Result<Vec<crate::system::CpuFreq>> {
    use windows_sys::Win32::System::Power::{
        CallNtPowerInformation, ProcessorInformation, PROCESSOR_POWER_INFORMATION,
    };
    let op = "read CPU frequency";
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    // SAFETY: an all-zero PROCESSOR_POWER_INFORMATION is valid (plain integers).
    let mut info: Vec<PROCESSOR_POWER_INFORMATION> = vec![unsafe { std::mem::zeroed() }; cpus];
    let bytes = (info.len() * std::mem::size_of::<PROCESSOR_POWER_INFORMATION>()) as u32;
    // SAFETY: `info` is a live buffer of `bytes` bytes; no input buffer.
    let st = unsafe {
        CallNtPowerInformation(
            ProcessorInformation,
            std::ptr::null(),
            0,
            info.as_mut_ptr().cast(),
            bytes,
        )
    };
    if st < 0 {
        return Err(Error::new(ErrorKind::Os, op).with_detail(format!(
            "CallNtPowerInformation(ProcessorInformation): NTSTATUS {:#x}",
            st as u32
        )));
    }
    Ok(info
        .iter()
        .map(|i| crate::system::CpuFreq {
            cpu: i.Number,
            current_mhz: f64::from(i.CurrentMhz),
            min_mhz: 0.0,
            max_mhz: f64::from(i.MaxMhz),
        })
        .collect())
}

/// Machine and per-CPU times: `GetSystemTimes` and
/// `SystemProcessorPerformanceInformation` (interrupt time as `irq`, DPC time as
/// `softirq`; kernel time excludes idle, as psutil reports it).
pub(crate) fn cpu_times_all() -> Result<(SystemCpuTimes, Vec<PerCpuTimes>)> {
    let op = "read CPU times";
    let mut t = [FILETIME::default(); 3];
    let [idle, kernel, user] = &mut t;
    // SAFETY: three distinct live FILETIMEs.
    if unsafe { GetSystemTimes(idle, kernel, user) } == 0 {
        return Err(last_error(op, None));
    }
    let per = per_processor::<ProcessorTimes>(SystemProcessorPerformanceInformation, op)?;
    let d = |v: i64| ticks_duration(v.max(0) as u64);
    let mut irq = Duration::ZERO;
    let mut softirq = Duration::ZERO;
    let per_cpu: Vec<PerCpuTimes> = per
        .iter()
        .enumerate()
        .map(|(i, p)| {
            irq += d(p.interrupt);
            softirq += d(p.dpc);
            PerCpuTimes {
                cpu: i as u32,
                times: cpu_times_from(d(p.user), d(p.kernel), d(p.idle), d(p.interrupt), d(p.dpc)),
            }
        })
        .collect();
    let total = cpu_times_from(
        ft_duration(&t[2]),
        ft_duration(&t[1]),
        ft_duration(&t[0]),
        irq,
        softirq,
    );
    Ok((total, per_cpu))
}

/// The sessions with a user logged on (`WTSEnumerateSessionsW`, then
/// `WTSQuerySessionInformationW(WTSSessionInfo)` and `(WTSClientName)` for each): the
/// user as `DOMAIN\user`, the window station (`Console`, `RDP-Tcp#0`) as the terminal,
/// the remote client's name as the host, the logon time as the start.
pub(crate) fn users() -> Result<Vec<crate::system::User>> {
    use windows_sys::Win32::System::RemoteDesktop::{
        WTSClientName, WTSEnumerateSessionsW, WTSFreeMemory, WTSQuerySessionInformationW,
        WTSSessionInfo, WTSINFOW, WTS_CURRENT_SERVER_HANDLE, WTS_SESSION_INFOW,
    };
    let op = "read logged-in users";
    let mut list: *mut WTS_SESSION_INFOW = std::ptr::null_mut();
    let mut count = 0u32;
    // SAFETY: live out-pointers; the list is freed with WTSFreeMemory below.
    if unsafe { WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &mut list, &mut count) } == 0
    {
        return Err(last_error(op, None));
    }
    let ids: Vec<u32> = (0..count as usize)
        // SAFETY: the call returned `count` entries at `list`.
        .map(|i| unsafe { (*list.add(i)).SessionId })
        .collect();
    // SAFETY: the list WTSEnumerateSessionsW allocated.
    unsafe { WTSFreeMemory(list.cast()) };
    /// One WTS query's answer, copied out and freed.
    fn query(id: u32, class: i32) -> Option<Vec<u8>> {
        let mut p: windows_sys::core::PWSTR = std::ptr::null_mut();
        let mut n = 0u32;
        // SAFETY: live out-pointers; the buffer is freed right after copying.
        unsafe {
            if WTSQuerySessionInformationW(WTS_CURRENT_SERVER_HANDLE, id, class, &mut p, &mut n)
                == 0
                || p.is_null()
            {
                return None;
            }
            let v = std::slice::from_raw_parts(p.cast::<u8>(), n as usize).to_vec();
            WTSFreeMemory(p.cast());
            Some(v)
        }
    }
    fn text(units: &[u16]) -> String {
        let end = units.iter().position(|&c| c == 0).unwrap_or(units.len());
        String::from_utf16_lossy(&units[..end])
    }
    let mut out = Vec::new();
    for id in ids {
        let Some(raw) = query(id, WTSSessionInfo) else {
            continue;
        };
        if raw.len() < std::mem::size_of::<WTSINFOW>() {
            continue;
        }
        // SAFETY: the answer holds a whole WTSINFOW (checked above); read unaligned.
        let info: WTSINFOW = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
        let user = text(&info.UserName);
        if user.is_empty() {
            continue; // no one logged on to this session (services, listeners)
        }
        let domain = text(&info.Domain);
        let host = query(id, WTSClientName)
            .map(|b| {
                let units: Vec<u16> = b
                    .chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect();
                text(&units)
            })
            .filter(|h| !h.is_empty());
        let station = text(&info.WinStationName);
        out.push(crate::system::User {
            name: if domain.is_empty() {
                user
            } else {
                format!("{domain}\\{user}")
            },
            terminal: (!station.is_empty()).then_some(station),
            host,
            started: super::util::ticks_to_system_time(info.LogonTime.max(0) as u64),
            pid: None,
        });
    }
    Ok(out)
}
