//! Open files of a process on Windows, as psutil lists them but without its hangs.
//!
//! The handles come from one `NtQuerySystemInformation(SystemExtendedHandleInformation)`
//! read (every handle of the machine; the rows of the process are kept). Only rows whose
//! object type is `File` are looked at; the type's index is learned from a handle this
//! process opens to `NUL` for the duration of the read, so no other handle needs asking.
//! Each candidate is duplicated into this process (`PROCESS_DUP_HANDLE`), and only a
//! duplicate `GetFileType` calls a disk file is asked anything more: pipes, consoles and
//! other devices are never asked for a name, which is what can block forever (a name
//! query on a synchronous pipe waits for the pending read that holds the file object's
//! lock — psutil's hang). A directory is left out, as on Linux only regular files are
//! listed.
//!
//! A disk file opened for synchronous I/O can still hold its lock for long (a thread
//! waiting in `LockFileEx`, or watching a directory with `ReadDirectoryChangesW`), so the
//! queries run on a worker thread: a handle that does not answer within
//! `STUCK_AFTER` is left out and a fresh worker carries on with the next ones (the
//! stuck one ends with the wait it is in, closing its duplicate).

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use windows_sys::Wdk::Storage::FileSystem::{FilePositionInformation, NtQueryInformationFile};
use windows_sys::Wdk::System::SystemInformation::NtQuerySystemInformation;
use windows_sys::Win32::Foundation::{DuplicateHandle, DUPLICATE_SAME_ACCESS, FALSE, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    FileStandardInfo, GetFileInformationByHandleEx, GetFileType, GetFinalPathNameByHandleW,
    FILE_APPEND_DATA, FILE_NAME_NORMALIZED, FILE_READ_DATA, FILE_STANDARD_INFO, FILE_TYPE_DISK,
    FILE_WRITE_DATA, VOLUME_NAME_DOS, VOLUME_NAME_NT,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, PROCESS_DUP_HANDLE};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::memory::{dos_path, drive_devices};
use super::process::Handle;
use crate::info::OpenFile;
use crate::{Error, ErrorKind, Result};

/// `SystemExtendedHandleInformation`.
const SYSTEM_EXTENDED_HANDLE_INFORMATION: i32 = 64;
/// STATUS_INFO_LENGTH_MISMATCH.
const LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
/// How long one handle's queries may take before the handle is left out.
const STUCK_AFTER: Duration = Duration::from_secs(2);

/// `SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX` (not in windows-sys).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct HandleEntry {
    object: usize,
    unique_process_id: usize,
    handle_value: usize,
    granted_access: u32,
    creator_back_trace_index: u16,
    object_type_index: u16,
    handle_attributes: u32,
    reserved: u32,
}

/// The part of one row that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) handle: usize,
    pub(crate) access: u32,
    pub(crate) type_index: u16,
}

/// `SYSTEM_HANDLE_INFORMATION_EX`'s header: `NumberOfHandles`, `Reserved`.
const HEADER: usize = 2 * std::mem::size_of::<usize>();

/// The handle rows of `pid`, and the type index of the handle `probe` of this process.
/// The buffer grows while Windows says `STATUS_INFO_LENGTH_MISMATCH`.
fn handle_rows(pid: u32, probe: usize) -> io::Result<(Vec<Row>, Option<u16>)> {
    let entry = std::mem::size_of::<HandleEntry>();
    let mut buf: Vec<u64> = vec![0; (1 << 20) / 8];
    for _ in 0..10 {
        let bytes = u32::try_from(buf.len() * 8).unwrap_or(u32::MAX);
        let mut need = 0u32;
        // SAFETY: `buf` is a live, 8-aligned buffer of `bytes` bytes.
        let st = unsafe {
            NtQuerySystemInformation(
                SYSTEM_EXTENDED_HANDLE_INFORMATION,
                buf.as_mut_ptr().cast(),
                bytes,
                &mut need,
            )
        };
        if st == LENGTH_MISMATCH {
            // Handles come and go between calls: a margin more than asked.
            let want = (need as usize).max(bytes as usize * 2) + (256 << 10);
            buf = vec![0; want.div_ceil(8)];
            continue;
        }
        if st < 0 {
            return Err(io::Error::from_raw_os_error(nt_to_win32(st)));
        }
        let base = buf.as_ptr().cast::<u8>();
        // SAFETY: the buffer starts with the header's NumberOfHandles (a usize).
        let count = unsafe { base.cast::<usize>().read() };
        let room = (bytes as usize).saturating_sub(HEADER) / entry;
        let me = std::process::id() as usize;
        let mut rows = Vec::new();
        let mut probe_type = None;
        for i in 0..count.min(room) {
            // SAFETY: entry `i` lies within the `bytes` Windows filled (checked by `room`).
            let e = unsafe {
                base.add(HEADER + i * entry)
                    .cast::<HandleEntry>()
                    .read_unaligned()
            };
            if e.unique_process_id == me && e.handle_value == probe {
                probe_type = Some(e.object_type_index);
            }
            if e.unique_process_id == pid as usize {
                rows.push(Row {
                    handle: e.handle_value,
                    access: e.granted_access,
                    type_index: e.object_type_index,
                });
            }
        }
        return Ok((rows, probe_type));
    }
    Err(io::Error::from_raw_os_error(
        windows_sys::Win32::Foundation::ERROR_INSUFFICIENT_BUFFER as i32,
    ))
}

/// An NTSTATUS as the Win32 error the rest of the backend maps.
fn nt_to_win32(st: i32) -> i32 {
    match st as u32 {
        0xC000_0022 => 5,                 // STATUS_ACCESS_DENIED → ERROR_ACCESS_DENIED
        0xC000_0002 | 0xC000_0003 => 120, // not implemented / invalid class → not implemented
        _ => st,
    }
}

/// How `fopen` would name the access a handle was granted: write data → `"w"` (`"r+"`
/// with read data), append only → `"a"` (`"a+"` with read data), else `"r"`.
pub(crate) fn access_mode(access: u32) -> &'static str {
    let read = access & FILE_READ_DATA != 0;
    let write = access & FILE_WRITE_DATA != 0;
    let append = access & FILE_APPEND_DATA != 0;
    match (read, write, append) {
        (true, true, _) => "r+",
        (false, true, _) => "w",
        (true, false, true) => "a+",
        (false, false, true) => "a",
        _ => "r",
    }
}

/// `\\?\C:\dir\f` → `C:\dir\f`, `\\?\UNC\server\share\f` → `\\server\share\f`.
pub(crate) fn strip_verbatim(p: &str) -> String {
    if let Some(rest) = p.strip_prefix("\\\\?\\UNC\\") {
        format!("\\\\{rest}")
    } else if let Some(rest) = p.strip_prefix("\\\\?\\") {
        rest.to_owned()
    } else {
        p.to_owned()
    }
}

/// `GetFinalPathNameByHandleW` with `flags`, the buffer grown to the length asked for.
fn final_path(h: HANDLE, flags: u32) -> Option<String> {
    let mut buf = vec![0u16; 512];
    for _ in 0..3 {
        // SAFETY: `buf` has room for the length passed.
        let n = unsafe { GetFinalPathNameByHandleW(h, buf.as_mut_ptr(), buf.len() as u32, flags) }
            as usize;
        if n == 0 {
            return None;
        }
        if n >= buf.len() {
            // Too small: `n` is the length needed, NUL included.
            buf.resize(n + 1, 0);
            continue;
        }
        return Some(String::from_utf16_lossy(&buf[..n]));
    }
    None
}

/// The path of a disk file handle: the drive-letter form, else the NT device form
/// turned into one with the drive table memory maps use.
fn path_of(h: HANDLE) -> Option<PathBuf> {
    if let Some(p) = final_path(h, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS) {
        return Some(PathBuf::from(strip_verbatim(&p)));
    }
    let nt = final_path(h, FILE_NAME_NORMALIZED | VOLUME_NAME_NT)?;
    Some(PathBuf::from(dos_path(&nt, &drive_devices())))
}

/// The shared file object's current byte offset.
fn position_of(h: HANDLE) -> Option<u64> {
    // SAFETY: all-zero is a valid IO_STATUS_BLOCK.
    let mut iosb: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
    let mut pos: i64 = 0;
    // SAFETY: `pos` is a live FILE_POSITION_INFORMATION (one LARGE_INTEGER).
    let st = unsafe {
        NtQueryInformationFile(
            h,
            &mut iosb,
            (&mut pos as *mut i64).cast(),
            8,
            FilePositionInformation,
        )
    };
    (st >= 0).then_some(pos.max(0) as u64)
}

/// Whether the handle is to a directory (`FileStandardInfo`); unknown counts as not.
fn is_directory(h: HANDLE) -> bool {
    // SAFETY: all-zero is a valid FILE_STANDARD_INFO.
    let mut info: FILE_STANDARD_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is live and of the size passed.
    let ok = unsafe {
        GetFileInformationByHandleEx(
            h,
            FileStandardInfo,
            (&mut info as *mut FILE_STANDARD_INFO).cast(),
            std::mem::size_of::<FILE_STANDARD_INFO>() as u32,
        )
    };
    ok != 0 && info.Directory
}

/// The open file behind handle `row` of the process `process` (opened with
/// `PROCESS_DUP_HANDLE`), if it is a regular disk file.
fn inspect(process: HANDLE, row: Row) -> Option<OpenFile> {
    let mut dup: HANDLE = std::ptr::null_mut();
    // SAFETY: duplicating a handle value of the process into this one; `dup` receives a
    // new handle we then own (closed by the OwnedHandle below).
    let ok = unsafe {
        DuplicateHandle(
            process,
            row.handle as HANDLE,
            GetCurrentProcess(),
            &mut dup,
            0,
            FALSE,
            DUPLICATE_SAME_ACCESS,
        )
    };
    if ok == 0 || dup.is_null() {
        return None; // closed meanwhile, or not one Windows lets us copy
    }
    // SAFETY: `dup` is a fresh handle we own.
    let dup = unsafe { OwnedHandle::from_raw_handle(dup as _) };
    let h = dup.as_raw_handle() as HANDLE;
    // Never ask a pipe, a console or another device anything more.
    // SAFETY: a valid handle.
    if unsafe { GetFileType(h) } != FILE_TYPE_DISK || is_directory(h) {
        return None;
    }
    let path = path_of(h)?;
    Some(OpenFile {
        path,
        fd: i32::try_from(row.handle).unwrap_or(i32::MAX),
        position: position_of(h).unwrap_or(0),
        mode: access_mode(row.access),
        flags: row.access,
    })
}

/// `f` of each item, on worker threads: an item `f` does not answer for within
/// `stuck_after` is left out (its worker is abandoned, to end with the wait it is in)
/// and a fresh worker goes on with the next ones. In the items' order.
fn guarded<T, R, F>(items: Vec<T>, stuck_after: Duration, f: F) -> Vec<R>
where
    T: Copy + Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(T) -> Option<R> + Send + Sync + 'static,
{
    let items: Arc<[T]> = items.into();
    let f = Arc::new(f);
    let mut out = Vec::new();
    let mut next = 0;
    while next < items.len() {
        let (tx, rx) = mpsc::channel::<(usize, Option<R>)>();
        let (work, g, start) = (Arc::clone(&items), Arc::clone(&f), next);
        let spawned = std::thread::Builder::new()
            .name("corral-open-files".into())
            .spawn(move || {
                for (i, item) in work.iter().enumerate().skip(start) {
                    if tx.send((i, g(*item))).is_err() {
                        return;
                    }
                }
            });
        if spawned.is_err() {
            // No thread to spare: do the rest here, without the guard.
            out.extend(items[next..].iter().filter_map(|i| f(*i)));
            break;
        }
        loop {
            match rx.recv_timeout(stuck_after) {
                Ok((i, r)) => {
                    out.extend(r);
                    next = i + 1;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    next = items.len();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Item `next` is stuck: leave it to its worker and skip it.
                    next += 1;
                    break;
                }
            }
        }
    }
    out
}

/// The type index of `File` objects, learned from `probe`'s row; remembered once known.
fn file_type_index(probe: Option<u16>) -> Option<u16> {
    static INDEX: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    if let Some(i) = INDEX.get() {
        return Some(*i);
    }
    let i = probe?;
    Some(*INDEX.get_or_init(|| i))
}

impl Handle {
    /// Regular disk files the process holds handles to (see the module's comment).
    pub(crate) fn open_files(&self) -> Result<Vec<OpenFile>> {
        let op = "read open_files";
        self.verify(op, false)?;
        let process = self.with_rights(PROCESS_DUP_HANDLE, op)?;
        // A handle of our own whose type is File, for the type index.
        let probe = std::fs::File::open("NUL").map_err(|e| Error::from_io(op, e))?;
        let probe_value = probe.as_raw_handle() as usize;
        let (rows, probe_type) = handle_rows(self.pid.as_raw(), probe_value).map_err(|e| {
            let code = e.raw_os_error().unwrap_or(0);
            let err = super::util::win_error(op, None, e)
                .with_pid(self.pid)
                .with_detail("NtQuerySystemInformation(SystemExtendedHandleInformation)");
            match super::util::error_kind_of(code) {
                Some(k) => err.with_kind(k),
                None => err,
            }
        })?;
        drop(probe);
        let file_type = file_type_index(probe_type).ok_or_else(|| {
            Error::new(ErrorKind::Unsupported, op)
                .with_pid(self.pid)
                .with_detail(
                    "the system handle table does not list this process's own handles, so \
                     which rows are files is unknown",
                )
        })?;
        let rows: Vec<Row> = rows
            .into_iter()
            .filter(|r| r.type_index == file_type)
            .collect();
        let mut files = guarded(rows, STUCK_AFTER, move |row| {
            inspect(process.as_raw_handle() as HANDLE, row)
        });
        files.sort_by_key(|f| f.fd);
        self.verify(op, false)?;
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_masks_as_fopen_modes() {
        use windows_sys::Win32::Storage::FileSystem::{
            FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_READ_ATTRIBUTES,
        };
        assert_eq!(access_mode(FILE_GENERIC_READ), "r");
        assert_eq!(access_mode(FILE_GENERIC_WRITE), "w");
        assert_eq!(access_mode(FILE_GENERIC_READ | FILE_GENERIC_WRITE), "r+");
        // std's append: FILE_GENERIC_WRITE without FILE_WRITE_DATA.
        let append = FILE_GENERIC_WRITE & !FILE_WRITE_DATA;
        assert_eq!(access_mode(append), "a");
        assert_eq!(access_mode(FILE_GENERIC_READ | append), "a+");
        assert_eq!(access_mode(FILE_READ_ATTRIBUTES), "r");
    }

    #[test]
    fn verbatim_prefixes_are_stripped() {
        assert_eq!(strip_verbatim("\\\\?\\C:\\dir\\f.txt"), "C:\\dir\\f.txt");
        assert_eq!(
            strip_verbatim("\\\\?\\UNC\\server\\share\\f.txt"),
            "\\\\server\\share\\f.txt"
        );
        assert_eq!(strip_verbatim("C:\\f.txt"), "C:\\f.txt");
    }

    /// An item whose work blocks is left out after the timeout and the others are still
    /// done, in order, by a fresh worker.
    #[test]
    fn a_stuck_item_is_skipped() {
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = std::sync::Mutex::new(blocked);
        let t0 = std::time::Instant::now();
        let got = guarded(
            vec![0u32, 1, 2, 3, 4, 5],
            Duration::from_millis(300),
            move |i| {
                if i == 2 {
                    // Blocks until the test ends (the sender is dropped).
                    let _ = blocked.lock().unwrap().recv();
                }
                (i != 4).then_some(i * 10)
            },
        );
        assert_eq!(got, vec![0, 10, 30, 50]);
        assert!(t0.elapsed() >= Duration::from_millis(300));
        drop(release);
        // Nothing stuck: every item, no wait.
        assert_eq!(
            guarded(vec![1u8, 2, 3], Duration::from_secs(60), Some),
            vec![1, 2, 3]
        );
        assert!(guarded(Vec::<u8>::new(), Duration::from_secs(60), Some).is_empty());
    }

    #[test]
    fn the_entry_layout_matches_windows() {
        assert_eq!(
            std::mem::size_of::<HandleEntry>(),
            if cfg!(target_pointer_width = "64") {
                40
            } else {
                28
            }
        );
    }
}
