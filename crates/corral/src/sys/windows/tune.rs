//! Background mode and working-set trimming on Windows: the calls the portable
//! `Process::set_background` and `Process::trim_memory` were modelled on.
//!
//! Background mode for *another* process cannot use `PROCESS_MODE_BACKGROUND_BEGIN`
//! (Windows accepts it only for the calling process), so it is built from the settings
//! that mode and Task Manager's efficiency mode change, each of which Windows accepts for
//! any process the caller may set information on: the I/O priority hint (very low), the
//! memory priority (very low), the priority class (`IDLE_PRIORITY_CLASS`), and EcoQoS
//! (`ProcessPowerThrottling` with execution-speed throttling, the counterpart of a Linux
//! utilisation clamp). All four are process-wide, so they cover every thread, present
//! and future.

use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Memory::SetProcessWorkingSetSizeEx;
use windows_sys::Win32::System::Threading::{
    ProcessMemoryPriority, ProcessPowerThrottling, MEMORY_PRIORITY_INFORMATION,
    MEMORY_PRIORITY_NORMAL, MEMORY_PRIORITY_VERY_LOW, PROCESS_POWER_THROTTLING_CURRENT_VERSION,
    PROCESS_POWER_THROTTLING_EXECUTION_SPEED, PROCESS_POWER_THROTTLING_STATE,
    PROCESS_SET_INFORMATION, PROCESS_SET_QUOTA,
};

use super::process::Handle;
use super::util::{last_error, proc_address};
use crate::info::{BackgroundReport, IoClass, IoPriority, TrimReport};
use crate::{Error, ErrorKind, PriorityClass, Result};

/// `SetProcessInformation` (Windows 8+), looked up at run time so that a system without
/// it still loads the library.
type SetProcessInformationFn =
    unsafe extern "system" fn(HANDLE, i32, *const core::ffi::c_void, u32) -> i32;

fn set_process_information() -> Option<SetProcessInformationFn> {
    let f = proc_address("kernel32.dll", b"SetProcessInformation\0")?;
    // SAFETY: kernel32's export of that name has this documented signature.
    Some(unsafe { std::mem::transmute::<usize, SetProcessInformationFn>(f) })
}

/// The I/O priority hint background mode sets (very low), and the one it restores.
const BACKGROUND_IO: IoPriority = IoPriority {
    class: IoClass::Idle,
    level: 0,
};
const NORMAL_IO: IoPriority = IoPriority {
    class: IoClass::BestEffort,
    level: 4,
};

impl Handle {
    /// Background mode: priority class `Idle` and the very-low I/O hint.
    pub(crate) fn is_background(&self) -> Result<bool> {
        Ok(self.priority_class()? == PriorityClass::Idle && self.ionice()? == BACKGROUND_IO)
    }

    /// Sets or clears background mode (see the module docs). The I/O hint goes first: it
    /// is the step a system may not implement (Wine 8), and then nothing has changed.
    /// `util_clamp` says whether EcoQoS was accepted (Windows 10 1709+ for processes).
    pub(crate) fn set_background(&self, on: bool) -> Result<BackgroundReport> {
        let op = if on {
            "enter background mode"
        } else {
            "leave background mode"
        };
        self.verify(op, false)?;
        if let Err(e) = self.set_ionice(if on { BACKGROUND_IO } else { NORMAL_IO }) {
            return Err(if e.kind() == ErrorKind::Unsupported {
                Error::new(ErrorKind::Unsupported, op)
                    .with_pid(self.pid)
                    .with_detail(format!(
                        "this system cannot set a process's I/O priority ({e})"
                    ))
            } else {
                e
            });
        }
        let h = self.with_rights(PROCESS_SET_INFORMATION, op)?;
        let raw = h.as_raw_handle() as HANDLE;
        let set = set_process_information();
        if let Some(set) = set {
            let m = MEMORY_PRIORITY_INFORMATION {
                MemoryPriority: if on {
                    MEMORY_PRIORITY_VERY_LOW
                } else {
                    MEMORY_PRIORITY_NORMAL
                },
            };
            // SAFETY: `raw` has PROCESS_SET_INFORMATION; `m` is the documented struct
            // for this class, alive for the call, of the size passed.
            let ok = unsafe {
                set(
                    raw,
                    ProcessMemoryPriority,
                    (&m as *const MEMORY_PRIORITY_INFORMATION).cast(),
                    size_of::<MEMORY_PRIORITY_INFORMATION>() as u32,
                )
            };
            if ok == 0 {
                return Err(last_error(op, Some(self.pid))
                    .with_detail("SetProcessInformation(ProcessMemoryPriority) failed"));
            }
        }
        self.set_priority_class(if on {
            PriorityClass::Idle
        } else {
            PriorityClass::Normal
        })?;
        // EcoQoS on: throttle execution speed; off: hand the decision back to Windows.
        let eco = PROCESS_POWER_THROTTLING_STATE {
            Version: PROCESS_POWER_THROTTLING_CURRENT_VERSION,
            ControlMask: if on {
                PROCESS_POWER_THROTTLING_EXECUTION_SPEED
            } else {
                0
            },
            StateMask: if on {
                PROCESS_POWER_THROTTLING_EXECUTION_SPEED
            } else {
                0
            },
        };
        let util_clamp = set.is_some_and(|set| {
            // SAFETY: as above, with the power-throttling struct of its class.
            unsafe {
                set(
                    raw,
                    ProcessPowerThrottling,
                    (&eco as *const PROCESS_POWER_THROTTLING_STATE).cast(),
                    size_of::<PROCESS_POWER_THROTTLING_STATE>() as u32,
                ) != 0
            }
        });
        Ok(BackgroundReport {
            threads: usize::try_from(self.num_threads()?).unwrap_or(usize::MAX),
            util_clamp,
        })
    }

    /// Empties the working set (`SetProcessWorkingSetSizeEx(-1, -1)`, what
    /// `EmptyWorkingSet` does): every page leaves it for the standby or modified list,
    /// to be faulted back on use. `advised` is the working set before.
    pub(crate) fn trim_memory(&self) -> Result<TrimReport> {
        let op = "trim memory";
        self.verify(op, false)?;
        let before = self.memory_counters(op)?.WorkingSetSize as u64;
        let h = self.with_rights(PROCESS_SET_QUOTA, op)?;
        // SAFETY: `h` has PROCESS_SET_QUOTA; (-1, -1) is the documented "remove as many
        // pages as possible" request.
        let ok = unsafe {
            SetProcessWorkingSetSizeEx(h.as_raw_handle() as HANDLE, usize::MAX, usize::MAX, 0)
        };
        if ok == 0 {
            self.verify(op, false)?;
            return Err(last_error(op, Some(self.pid)));
        }
        let after = self.memory_counters(op)?.WorkingSetSize as u64;
        Ok(TrimReport {
            rss_before: before,
            rss_after: after,
            advised: before,
        })
    }
}
