//! Waiting for many processes: `WaitForMultipleObjects` takes at most 64 handles, so up
//! to 64 are waited for on the calling thread, and more by one helper thread per group of
//! 63 (plus a shared cancel event), which report exits over a channel.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    CloseHandle, FALSE, HANDLE, TRUE, WAIT_FAILED, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Threading::{
    CreateEventW, SetEvent, WaitForMultipleObjects, INFINITE,
};

use super::process::Handle;
use super::util::last_error;
use crate::{Error, ErrorKind, Result};

/// `MAXIMUM_WAIT_OBJECTS`.
const MAX_WAIT: usize = 64;

fn millis_until(deadline: Option<Instant>) -> u32 {
    match deadline {
        None => INFINITE,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            left.as_nanos()
                .div_ceil(1_000_000)
                .min(u128::from(INFINITE - 1)) as u32
        }
    }
}

/// Waits on up to 64 raw handles: `Ok(Some(i))` for the lowest signaled index,
/// `Ok(None)` on timeout.
fn wait_group(handles: &[HANDLE], ms: u32, op: &'static str) -> Result<Option<usize>> {
    debug_assert!(!handles.is_empty() && handles.len() <= MAX_WAIT);
    // SAFETY: `handles` holds 1..=64 valid handles with SYNCHRONIZE, alive for the call.
    let r = unsafe { WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), FALSE, ms) };
    if r == WAIT_TIMEOUT {
        return Ok(None);
    }
    if r == WAIT_FAILED {
        return Err(last_error(op, None));
    }
    let i = r.wrapping_sub(WAIT_OBJECT_0) as usize;
    if i < handles.len() {
        return Ok(Some(i));
    }
    // WAIT_ABANDONED_0 + i only concerns mutexes; anything else is unexpected.
    Err(Error::new(ErrorKind::Os, op)
        .with_detail(format!("WaitForMultipleObjects returned {r:#x}")))
}

/// Waits for many processes: `on_exit(i)` is called once for each `handles[i]` as it
/// exits, and returns whether to keep waiting. Returns when all have exited, `on_exit`
/// said stop, or at the deadline.
pub(crate) fn wait_many(
    handles: &[&Handle],
    timeout: Option<Duration>,
    mut on_exit: impl FnMut(usize) -> bool,
) -> Result<()> {
    let op = "wait for processes";
    let deadline = timeout.map(|t| Instant::now() + t);
    if handles.len() <= MAX_WAIT {
        let mut idx: Vec<usize> = (0..handles.len()).collect();
        let mut raw: Vec<HANDLE> = handles.iter().map(|h| h.raw_handle() as HANDLE).collect();
        while !raw.is_empty() {
            match wait_group(&raw, millis_until(deadline), op)? {
                Some(k) => {
                    raw.swap_remove(k);
                    let i = idx.swap_remove(k);
                    if !on_exit(i) {
                        return Ok(());
                    }
                }
                None => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(());
                    }
                }
            }
        }
        return Ok(());
    }
    wait_threaded(handles, deadline, on_exit)
}

/// An event handle closed on drop.
struct Event(HANDLE);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: we own the event handle.
        unsafe { CloseHandle(self.0) };
    }
}

/// A raw handle value passed to a helper thread (the handles outlive the scope).
#[derive(Clone, Copy)]
struct SendHandle(usize);

fn wait_threaded(
    handles: &[&Handle],
    deadline: Option<Instant>,
    mut on_exit: impl FnMut(usize) -> bool,
) -> Result<()> {
    let op = "wait for processes";
    // SAFETY: an unnamed manual-reset event, initially unsignaled.
    let ev = unsafe { CreateEventW(std::ptr::null(), TRUE, FALSE, std::ptr::null()) };
    if ev.is_null() {
        return Err(last_error(op, None));
    }
    let cancel = Event(ev);
    let cancel_raw = SendHandle(cancel.0 as usize);
    let (tx, rx) = mpsc::channel::<Result<usize>>();
    let groups: Vec<Vec<(usize, SendHandle)>> = handles
        .iter()
        .enumerate()
        .map(|(i, h)| (i, SendHandle(h.raw_handle() as usize)))
        .collect::<Vec<_>>()
        .chunks(MAX_WAIT - 1)
        .map(|c| c.to_vec())
        .collect();
    std::thread::scope(|s| {
        for group in groups {
            let tx = tx.clone();
            s.spawn(move || {
                let mut group = group;
                while !group.is_empty() {
                    let mut raw: Vec<HANDLE> = vec![cancel_raw.0 as HANDLE];
                    raw.extend(group.iter().map(|(_, h)| h.0 as HANDLE));
                    match wait_group(&raw, INFINITE, op) {
                        Ok(Some(0)) => return,
                        Ok(Some(k)) => {
                            let (i, _) = group.swap_remove(k - 1);
                            if tx.send(Ok(i)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            });
        }
        drop(tx);
        let mut result = Ok(());
        loop {
            let msg = match deadline {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            };
            match msg {
                Ok(Ok(i)) => {
                    if !on_exit(i) {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    result = Err(e);
                    break;
                }
                // Timeout, or every group finished.
                Err(_) => break,
            }
        }
        // SAFETY: `cancel` is our event; signaling it makes every helper return.
        unsafe { SetEvent(cancel.0) };
        result
    })
}
