//! Listing jobs on Windows: a named Job Object is an entry of type `Job` in a session's
//! named-object directory (`\Sessions\N\BaseNamedObjects`, session 0's is
//! `\BaseNamedObjects`), where `CreateJobObjectW` put it. corral's are named
//! `corral-<name>`. The directories are read with `NtQueryDirectoryObject`.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem::{NtOpenDirectoryObject, NtQueryDirectoryObject};
use windows_sys::Win32::Foundation::{HANDLE, OBJ_CASE_INSENSITIVE, UNICODE_STRING};
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::Threading::GetCurrentProcessId;

use super::util::last_error;
use crate::info::CgroupMembership;
use crate::job::JOB_PREFIX;
use crate::{Error, ErrorKind, Result};

/// `DIRECTORY_QUERY`.
const DIRECTORY_QUERY: u32 = 1;
/// `STATUS_NO_MORE_ENTRIES`.
const STATUS_NO_MORE_ENTRIES: i32 = 0x8000_001Au32 as i32;

/// One entry as `NtQueryDirectoryObject` returns it (`OBJECT_DIRECTORY_INFORMATION`).
#[repr(C)]
struct DirEntry {
    name: UNICODE_STRING,
    type_name: UNICODE_STRING,
}

/// The text of a counted UTF-16 string the kernel wrote into our buffer.
fn text(s: &UNICODE_STRING) -> String {
    if s.Buffer.is_null() || s.Length == 0 {
        return String::new();
    }
    // SAFETY: the kernel points `Buffer` at `Length` bytes inside the buffer it filled,
    // which outlives this call.
    let units = unsafe { std::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2) };
    String::from_utf16_lossy(units)
}

/// The named-object directory of session `id`.
fn session_dir(id: u32) -> String {
    if id == 0 {
        r"\BaseNamedObjects".to_owned()
    } else {
        format!(r"\Sessions\{id}\BaseNamedObjects")
    }
}

/// Opens an object directory for listing; `None` if it does not exist or may not be
/// read (another session's, without privilege).
fn open_dir(path: &str, op: &'static str) -> Result<Option<OwnedHandle>> {
    let mut w: Vec<u16> = path.encode_utf16().collect();
    let bytes = u16::try_from(w.len() * 2).map_err(|_| {
        Error::new(ErrorKind::InvalidInput, op).with_detail(format!("{path}: too long"))
    })?;
    let name = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: w.as_mut_ptr(),
    };
    let attrs = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: std::ptr::null_mut(),
        ObjectName: &name,
        Attributes: OBJ_CASE_INSENSITIVE,
        SecurityDescriptor: std::ptr::null(),
        SecurityQualityOfService: std::ptr::null(),
    };
    let mut h: HANDLE = std::ptr::null_mut();
    // SAFETY: `attrs` and the name it points to live across the call; `h` receives a
    // handle we then own.
    let status = unsafe { NtOpenDirectoryObject(&mut h, DIRECTORY_QUERY, &attrs) };
    match status as u32 {
        0 => {}
        // STATUS_OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_PATH_NOT_FOUND, STATUS_ACCESS_DENIED.
        0xC000_0034 | 0xC000_003A | 0xC000_0022 => return Ok(None),
        s => {
            return Err(Error::new(ErrorKind::Os, op)
                .with_detail(format!("NtOpenDirectoryObject({path}): NTSTATUS {s:#x}")))
        }
    }
    // SAFETY: a fresh handle we own.
    Ok(Some(unsafe { OwnedHandle::from_raw_handle(h as _) }))
}

/// Every entry of a directory: (name, type name). One entry per call: Wine 8 implements
/// no other mode, and a directory of named objects is a few hundred entries at most.
fn entries(dir: &OwnedHandle, path: &str, op: &'static str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    // u64 words keep the entry's pointers aligned.
    let mut buf = vec![0u64; 128];
    let mut context = 0u32;
    let mut restart = true;
    loop {
        let mut ret = 0u32;
        // SAFETY: `buf` is writable for the byte length passed; `context` and `ret` are
        // live u32s; the handle has DIRECTORY_QUERY.
        let status = unsafe {
            NtQueryDirectoryObject(
                dir.as_raw_handle() as HANDLE,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                true,
                restart,
                &mut context,
                &mut ret,
            )
        };
        match status {
            STATUS_NO_MORE_ENTRIES => return Ok(out),
            // STATUS_BUFFER_TOO_SMALL: a long name; `ret` says what it needs.
            s if s as u32 == 0xC000_0023 && (ret as usize) > buf.len() * 8 => {
                buf.resize((ret as usize).div_ceil(8), 0);
                continue;
            }
            s if s < 0 => {
                return Err(Error::new(ErrorKind::Os, op).with_detail(format!(
                    "NtQueryDirectoryObject({path}): NTSTATUS {:#x}",
                    s as u32
                )))
            }
            _ => {}
        }
        restart = false;
        // SAFETY: the kernel wrote one entry (plus its strings) at the start of the
        // aligned buffer.
        let e = unsafe { &*buf.as_ptr().cast::<DirEntry>() };
        out.push((text(&e.name), text(&e.type_name)));
    }
}

/// The names (prefix removed) of corral's Job Objects in one directory.
fn jobs_in(path: &str, op: &'static str) -> Result<Vec<String>> {
    let Some(dir) = open_dir(path, op)? else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries(&dir, path, op)?
        .into_iter()
        .filter(|(_, ty)| ty.eq_ignore_ascii_case("Job"))
        .filter_map(|(name, _)| name.strip_prefix(JOB_PREFIX).map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// The session id of process `pid`.
pub(crate) fn session_of(pid: u32, op: &'static str) -> Result<u32> {
    let mut id = 0u32;
    // SAFETY: a live u32 receives the id.
    if unsafe { ProcessIdToSessionId(pid, &mut id) } == 0 {
        return Err(last_error(op, None));
    }
    Ok(id)
}

/// The caller's session id.
pub(crate) fn own_session(op: &'static str) -> Result<u32> {
    // SAFETY: no arguments.
    session_of(unsafe { GetCurrentProcessId() }, op)
}

/// corral's jobs in the caller's session (those `Job::open` reaches).
pub(crate) fn list_jobs() -> Result<Vec<String>> {
    let op = "list jobs";
    jobs_in(&session_dir(own_session(op)?), op)
}

/// Where a job listed in `dir` is, as the portable membership says it: the directory as
/// the path (hierarchy 0, no controllers).
pub(crate) fn place(dir: &str) -> CgroupMembership {
    CgroupMembership {
        hierarchy: 0,
        controllers: Vec::new(),
        path: dir.to_owned(),
    }
}

/// The session ids whose named-object directories exist (0 first), or just 0 where
/// `\Sessions` may not be read.
fn sessions(op: &'static str) -> Result<Vec<u32>> {
    let mut ids = vec![0];
    if let Some(sessions) = open_dir(r"\Sessions", op)? {
        let mut more: Vec<u32> = entries(&sessions, r"\Sessions", op)?
            .into_iter()
            .filter(|(_, ty)| ty.eq_ignore_ascii_case("Directory"))
            .filter_map(|(name, _)| name.parse().ok())
            .filter(|&id| id != 0)
            .collect();
        more.sort_unstable();
        ids.extend(more);
    }
    Ok(ids)
}

/// The Win32 name that opens job `name` (without the prefix) of session `session` from
/// any session: `Global\` reaches session 0's named objects, `Session\N\` session N's.
pub(crate) fn name_in_session(session: u32, name: &str) -> String {
    if session == 0 {
        format!(r"Global\{JOB_PREFIX}{name}")
    } else {
        format!(r"Session\{session}\{JOB_PREFIX}{name}")
    }
}

/// corral's jobs by session, the sessions ordered as `first`, then the caller's (`own`),
/// then the others this process may look into: `(session, directory, names)`.
pub(crate) fn jobs_by_session(
    first: Option<u32>,
    own: u32,
    op: &'static str,
) -> Result<Vec<(u32, String, Vec<String>)>> {
    let mut order: Vec<u32> = first.into_iter().collect();
    for id in std::iter::once(own).chain(sessions(op)?) {
        if !order.contains(&id) {
            order.push(id);
        }
    }
    let mut out = Vec::new();
    for id in order {
        let dir = session_dir(id);
        let names = jobs_in(&dir, op)?;
        if !names.is_empty() {
            out.push((id, dir, names));
        }
    }
    Ok(out)
}

/// corral's jobs in every session this process may look into, with the directory each
/// is in as the membership's path.
pub(crate) fn list_all_jobs() -> Result<Vec<(String, CgroupMembership)>> {
    let op = "list all jobs";
    let dirs: Vec<String> = sessions(op)?.into_iter().map(session_dir).collect();
    let mut out = Vec::new();
    for dir in dirs {
        for name in jobs_in(&dir, op)? {
            out.push((name, place(&dir)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_directories() {
        assert_eq!(session_dir(0), r"\BaseNamedObjects");
        assert_eq!(session_dir(3), r"\Sessions\3\BaseNamedObjects");
    }

    #[test]
    fn names_reach_any_session() {
        assert_eq!(name_in_session(0, "a"), r"Global\corral-a");
        assert_eq!(name_in_session(2, "b"), r"Session\2\corral-b");
    }

    #[test]
    fn a_missing_directory_is_no_jobs() {
        assert_eq!(
            jobs_in(r"\corral-no-such-directory", "list jobs").unwrap(),
            Vec::<String>::new()
        );
    }
}
