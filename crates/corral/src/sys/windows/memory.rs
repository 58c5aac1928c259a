//! USS/PSS and memory maps on Windows.
//!
//! Which pages a process has resident, and whether each is shared, comes from its working
//! set: `QueryWorkingSet` lists every resident page with its `Shared` bit and
//! `ShareCount` (how many working sets hold it, 3 bits: 7 means 7 or more). Where
//! `QueryWorkingSet` is not implemented (Wine 8), `QueryWorkingSetEx` is asked about each
//! committed page instead (its `Valid` bit says resident), which costs one entry per
//! committed page rather than per resident one.
//!
//! A page counts as private, as psutil counts it, when it is not shareable or when only
//! this process holds it (`!Shared || ShareCount <= 1`) — Linux's `Private_*` is the same
//! rule (mapped once). Its PSS share is page size / share count. The regions come from
//! `VirtualQueryEx` (committed memory only), their files from `GetMappedFileNameW`.

use std::collections::HashMap;
use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::{ERROR_BAD_LENGTH, ERROR_INVALID_PARAMETER, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{GetLogicalDriveStringsW, QueryDosDeviceW};
use windows_sys::Win32::System::Memory::{
    VirtualQueryEx, MEMORY_BASIC_INFORMATION, MEM_COMMIT, MEM_IMAGE, MEM_MAPPED, PAGE_EXECUTE,
    PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY, PAGE_READONLY,
    PAGE_READWRITE, PAGE_WRITECOPY,
};
use windows_sys::Win32::System::ProcessStatus::{
    K32GetMappedFileNameW, K32QueryWorkingSet, K32QueryWorkingSetEx,
    PSAPI_WORKING_SET_EX_INFORMATION,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, PROCESS_QUERY_INFORMATION, PROCESS_VM_READ,
};

use super::process::Handle;
use super::util::win_error;
use crate::info::{MemoryFullInfo, MemoryMap};
use crate::{Error, ErrorKind, Result};

/// The page size (`GetSystemInfo`), looked up once.
pub(crate) fn page_size() -> u64 {
    static SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        // SAFETY: an all-zero SYSTEM_INFO is valid (integers and pointers).
        let mut si: SYSTEM_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: `si` is a live SYSTEM_INFO; the call cannot fail.
        unsafe { GetSystemInfo(&mut si) };
        if si.dwPageSize == 0 {
            4096
        } else {
            u64::from(si.dwPageSize)
        }
    })
}

/// One resident page: its address, whether it is shareable, and how many working sets
/// hold it (saturating at 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) addr: u64,
    pub(crate) shared: bool,
    pub(crate) share_count: u8,
}

impl Page {
    /// A `PSAPI_WORKING_SET_BLOCK` (`Protection:5 ShareCount:3 Shared:1 Reserved:3
    /// VirtualPage:rest`).
    pub(crate) fn from_ws_block(flags: usize, page: u64) -> Page {
        let f = flags as u64;
        Page {
            addr: f & !(page - 1),
            share_count: ((f >> 5) & 7) as u8,
            shared: (f >> 8) & 1 != 0,
        }
    }

    /// A `PSAPI_WORKING_SET_EX_BLOCK` (`Valid:1 ShareCount:3 Win32Protection:11 Shared:1
    /// …`) of the page at `addr`, if the page is resident (`Valid`).
    pub(crate) fn from_ws_ex_block(addr: u64, flags: usize) -> Option<Page> {
        let f = flags as u64;
        (f & 1 != 0).then_some(Page {
            addr,
            share_count: ((f >> 1) & 7) as u8,
            shared: (f >> 15) & 1 != 0,
        })
    }

    /// Only this process holds it: what would be freed with the process.
    pub(crate) fn private(&self) -> bool {
        !self.shared || self.share_count <= 1
    }

    /// Its proportional share: the whole page when private, else page / share count.
    pub(crate) fn pss(&self, page: u64) -> u64 {
        if self.private() {
            page
        } else {
            page / u64::from(self.share_count)
        }
    }
}

/// Sums of a set of resident pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PageSums {
    pub(crate) rss: u64,
    pub(crate) private: u64,
    pub(crate) shared: u64,
    pub(crate) pss: u64,
}

pub(crate) fn sum_pages(pages: &[Page], page: u64) -> PageSums {
    let mut s = PageSums::default();
    for p in pages {
        s.rss += page;
        s.pss += p.pss(page);
        if p.private() {
            s.private += page;
        } else {
            s.shared += page;
        }
    }
    s
}

/// A committed region (`VirtualQueryEx`).
#[derive(Debug, Clone, Copy)]
struct Region {
    base: u64,
    size: u64,
    allocation_base: u64,
    protect: u32,
    kind: u32,
}

/// The protection and type of a region as Linux's `rwxp` / `rwxs`: a view of a section
/// that writes through to it (`MEM_MAPPED`, not copy-on-write) is shared, everything
/// else (private memory, images, copy-on-write views) private.
pub(crate) fn perms(protect: u32, kind: u32) -> String {
    let base = protect & 0xff; // without PAGE_GUARD / NOCACHE / WRITECOMBINE
    let (r, w, x) = match base {
        PAGE_READONLY => ('r', '-', '-'),
        PAGE_READWRITE | PAGE_WRITECOPY => ('r', 'w', '-'),
        PAGE_EXECUTE => ('-', '-', 'x'),
        PAGE_EXECUTE_READ => ('r', '-', 'x'),
        PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY => ('r', 'w', 'x'),
        _ => ('-', '-', '-'), // PAGE_NOACCESS
    };
    let cow = matches!(base, PAGE_WRITECOPY | PAGE_EXECUTE_WRITECOPY);
    let s = if kind == MEM_MAPPED && !cow { 's' } else { 'p' };
    [r, w, x, s].iter().collect()
}

/// `\Device\HarddiskVolume3\dir\f.dll` → `C:\dir\f.dll`, given the drives' device
/// targets (`("C:", "\Device\HarddiskVolume3")`); `\??\C:\…` loses its prefix; anything
/// else is kept as it is.
pub(crate) fn dos_path(nt: &str, drives: &[(String, String)]) -> String {
    if let Some(rest) = nt.strip_prefix("\\??\\") {
        return rest.to_owned();
    }
    for (drive, device) in drives {
        if device.is_empty() {
            continue;
        }
        let Some(head) = nt.get(..device.len()) else {
            continue;
        };
        let tail = &nt[device.len()..];
        if head.eq_ignore_ascii_case(device) && (tail.is_empty() || tail.starts_with('\\')) {
            return format!("{drive}{tail}");
        }
    }
    nt.to_owned()
}

/// Each drive letter with the device it names (`QueryDosDeviceW`).
pub(crate) fn drive_devices() -> Vec<(String, String)> {
    let mut buf = vec![0u16; 512];
    // SAFETY: `buf` has room for the length passed.
    let n = unsafe { GetLogicalDriveStringsW(buf.len() as u32, buf.as_mut_ptr()) } as usize;
    if n == 0 || n > buf.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for root in buf[..n].split(|&c| c == 0).filter(|s| s.len() >= 2) {
        // "C:\" → "C:"
        let drive: Vec<u16> = root[..2].iter().copied().chain([0]).collect();
        let mut target = vec![0u16; 1024];
        // SAFETY: a NUL-terminated name and a buffer of the length passed.
        let len =
            unsafe { QueryDosDeviceW(drive.as_ptr(), target.as_mut_ptr(), target.len() as u32) }
                as usize;
        if len == 0 {
            continue;
        }
        // The first of the NUL-separated targets.
        let end = target[..len.min(target.len())]
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(len);
        out.push((
            String::from_utf16_lossy(&drive[..2]),
            String::from_utf16_lossy(&target[..end]),
        ));
    }
    out
}

/// The file mapped at `addr` (`GetMappedFileNameW`), in its NT device form.
fn mapped_file(h: HANDLE, addr: u64) -> Option<String> {
    let mut buf = vec![0u16; 1024];
    loop {
        // SAFETY: `buf` has room for the length passed; `addr` is only looked up.
        let n = unsafe {
            K32GetMappedFileNameW(h, addr as *const c_void, buf.as_mut_ptr(), buf.len() as u32)
        } as usize;
        if n == 0 {
            return None;
        }
        // A full buffer may be a truncated name: grow up to the 32 767-unit limit.
        if n >= buf.len() - 1 && buf.len() < 32_768 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        // Up to the first NUL: Wine counts a trailing one in some lengths.
        let name = &buf[..n.min(buf.len())];
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        return Some(String::from_utf16_lossy(&name[..end]));
    }
}

/// The resident pages from `QueryWorkingSet`, sorted by address; the buffer grows while
/// Windows says `ERROR_BAD_LENGTH`.
fn working_set(h: HANDLE, page: u64) -> io::Result<Vec<Page>> {
    let mut cap: usize = 8192;
    // The working set may grow between calls; a few retries with room to spare suffice.
    for _ in 0..8 {
        // NumberOfEntries, then one usize per entry.
        let mut buf: Vec<usize> = vec![0; cap + 1];
        let bytes = u32::try_from(buf.len() * std::mem::size_of::<usize>())
            .map_err(|_| io::Error::from_raw_os_error(ERROR_BAD_LENGTH as i32))?;
        // SAFETY: `buf` is a live, aligned buffer of `bytes` bytes laid out as
        // PSAPI_WORKING_SET_INFORMATION.
        let ok = unsafe { K32QueryWorkingSet(h, buf.as_mut_ptr().cast(), bytes) };
        if ok == 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(ERROR_BAD_LENGTH as i32) {
                // NumberOfEntries says how many there were; leave room for growth.
                cap = buf[0].max(cap) + buf[0] / 8 + 1024;
                continue;
            }
            return Err(e);
        }
        let n = buf[0].min(cap);
        let mut pages: Vec<Page> = buf[1..=n]
            .iter()
            .map(|&f| Page::from_ws_block(f, page))
            .collect();
        pages.sort_unstable_by_key(|p| p.addr);
        return Ok(pages);
    }
    Err(io::Error::from_raw_os_error(ERROR_BAD_LENGTH as i32))
}

/// The resident pages among those of `regions`, from `QueryWorkingSetEx` (batches of
/// up to 64 Ki pages), sorted by address.
fn working_set_ex(h: HANDLE, regions: &[Region], page: u64) -> io::Result<Vec<Page>> {
    const BATCH: usize = 1 << 16;
    let mut out = Vec::new();
    let mut batch: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<PSAPI_WORKING_SET_EX_INFORMATION>, out: &mut Vec<Page>| {
        if batch.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::size_of_val(batch.as_slice()) as u32;
        // SAFETY: `batch` is a live array of PSAPI_WORKING_SET_EX_INFORMATION whose
        // addresses are set; Windows fills in the attributes.
        let ok = unsafe { K32QueryWorkingSetEx(h, batch.as_mut_ptr().cast(), bytes) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        for e in batch.iter() {
            // SAFETY: every bit pattern is a valid usize.
            let flags = unsafe { e.VirtualAttributes.Flags };
            out.extend(Page::from_ws_ex_block(e.VirtualAddress as u64, flags));
        }
        batch.clear();
        Ok(())
    };
    for r in regions {
        let mut a = r.base;
        while a < r.base + r.size {
            batch.push(PSAPI_WORKING_SET_EX_INFORMATION {
                VirtualAddress: a as *mut c_void,
                ..Default::default()
            });
            if batch.len() == BATCH {
                flush(&mut batch, &mut out)?;
            }
            a += page;
        }
    }
    flush(&mut batch, &mut out)?;
    out.sort_unstable_by_key(|p| p.addr);
    Ok(out)
}

/// Whether an error says the call is not implemented (Wine's answer for
/// `MemoryWorkingSetList`), so the other way is worth trying.
fn not_implemented(e: &io::Error) -> bool {
    // ERROR_INVALID_FUNCTION, ERROR_NOT_SUPPORTED, ERROR_CALL_NOT_IMPLEMENTED,
    // ERROR_INVALID_PARAMETER (STATUS_INVALID_INFO_CLASS maps to it), and the raw
    // STATUS_NOT_IMPLEMENTED / STATUS_INVALID_INFO_CLASS some layers pass through.
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(1 | 50 | 120 | 87 | 0xC000_0002 | 0xC000_0003)
    )
}

/// The committed regions of the process, in address order.
fn regions(h: HANDLE) -> io::Result<Vec<Region>> {
    let mut out = Vec::new();
    let mut addr: u64 = 0;
    loop {
        // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is valid (integers, pointers).
        let mut mbi: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `mbi` is live and of the size passed; `addr` is only looked up.
        let n = unsafe {
            VirtualQueryEx(
                h,
                addr as *const c_void,
                &mut mbi,
                std::mem::size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        if n == 0 {
            let e = io::Error::last_os_error();
            // Past the highest user address.
            if e.raw_os_error() == Some(ERROR_INVALID_PARAMETER as i32) && addr > 0 {
                break;
            }
            return Err(e);
        }
        let base = mbi.BaseAddress as u64;
        let size = mbi.RegionSize as u64;
        if mbi.State == MEM_COMMIT && size > 0 {
            out.push(Region {
                base,
                size,
                allocation_base: mbi.AllocationBase as u64,
                protect: mbi.Protect,
                kind: mbi.Type,
            });
        }
        match base.checked_add(size) {
            Some(next) if next > addr => addr = next,
            _ => break,
        }
    }
    Ok(out)
}

/// The pages of `pages` (sorted) within `[start, end)`.
fn pages_in(pages: &[Page], start: u64, end: u64) -> &[Page] {
    let lo = pages.partition_point(|p| p.addr < start);
    let hi = pages.partition_point(|p| p.addr < end);
    &pages[lo..hi.max(lo)]
}

impl Handle {
    /// The resident pages, from `QueryWorkingSet`, else (not implemented)
    /// `QueryWorkingSetEx` over the committed `regions` (walked here when `None`).
    /// Both not implemented for this process (Wine answers only for the calling process,
    /// and only the Ex call): `Unsupported`, naming the calls.
    fn resident_pages(
        &self,
        h: HANDLE,
        regions: Option<&[Region]>,
        op: &'static str,
    ) -> Result<Vec<Page>> {
        let page = page_size();
        let e = match working_set(h, page) {
            Ok(p) => return Ok(p),
            Err(e) if not_implemented(&e) => e,
            Err(e) => return Err(self.os_error(op, e)),
        };
        let walked;
        let regions = match regions {
            Some(r) => r,
            None => {
                walked = self::regions(h).map_err(|e| self.os_error(op, e))?;
                &walked
            }
        };
        working_set_ex(h, regions, page).map_err(|e2| {
            if not_implemented(&e2) {
                if let Err(z) = self.verify(op, false) {
                    return z;
                }
                Error::new(ErrorKind::Unsupported, op)
                    .with_pid(self.pid)
                    .with_detail(format!(
                        "this system implements neither QueryWorkingSet ({e}) nor \
                         QueryWorkingSetEx ({e2}) for this process"
                    ))
            } else {
                self.os_error(op, e2)
                    .with_detail(format!("QueryWorkingSetEx (QueryWorkingSet: {e})"))
            }
        })
    }

    /// A handle to query the address space with: the pseudo-handle for this process
    /// (Wine answers working-set queries only through it), else a duplicate with
    /// `PROCESS_QUERY_INFORMATION | PROCESS_VM_READ`.
    fn vm_handle(&self, op: &'static str) -> Result<(Option<OwnedHandle>, HANDLE)> {
        if self.pid.as_raw() == std::process::id() {
            // SAFETY: plain call; the pseudo-handle needs no closing.
            return Ok((None, unsafe { GetCurrentProcess() }));
        }
        let h = self.with_rights(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, op)?;
        let raw = h.as_raw_handle() as HANDLE;
        Ok((Some(h), raw))
    }

    /// A failed call's error: `Zombie` once the process has exited, else the Win32
    /// error (an invalid parameter means a bad call here, not a missing pid).
    fn os_error(&self, op: &'static str, e: io::Error) -> Error {
        if let Err(z) = self.verify(op, false) {
            return z;
        }
        let err = win_error(op, Some(self.pid), e);
        if err.kind() == ErrorKind::NoSuchProcess {
            err.with_kind(ErrorKind::Os)
        } else {
            err
        }
    }

    /// USS and PSS from the working set; `swap` is 0 (Windows keeps no per-process
    /// figure of memory written to the page file).
    pub(crate) fn memory_full_info(&self) -> Result<MemoryFullInfo> {
        let op = "read memory_full_info";
        let basic = self.memory_info()?;
        let (_keep, h) = self.vm_handle(op)?;
        let pages = self.resident_pages(h, None, op)?;
        self.verify(op, false)?;
        let s = sum_pages(&pages, page_size());
        Ok(MemoryFullInfo {
            basic,
            uss: s.private,
            pss: s.pss,
            swap: 0,
        })
    }

    /// One entry per committed region (`VirtualQueryEx`), grouped by path on request.
    pub(crate) fn memory_maps(&self, grouped: bool) -> Result<Vec<MemoryMap>> {
        let op = "read memory_maps";
        self.verify(op, false)?;
        let (_keep, raw) = self.vm_handle(op)?;
        let regions = regions(raw).map_err(|e| self.os_error(op, e))?;
        let page = page_size();
        let pages = self.resident_pages(raw, Some(&regions), op)?;
        let drives = drive_devices();
        // Every region of one image or view has the same allocation base and file.
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut maps = Vec::with_capacity(regions.len());
        for r in &regions {
            let path = if r.kind == MEM_IMAGE || r.kind == MEM_MAPPED {
                names
                    .entry(r.allocation_base)
                    .or_insert_with(|| {
                        mapped_file(raw, r.base)
                            .map(|nt| dos_path(&nt, &drives))
                            .unwrap_or_else(|| "[anon]".to_owned())
                    })
                    .clone()
            } else {
                "[anon]".to_owned()
            };
            maps.push(region_map(
                r,
                path,
                pages_in(&pages, r.base, r.base + r.size),
                page,
            ));
        }
        self.verify(op, false)?;
        Ok(if grouped {
            crate::sys::group_maps(&maps)
        } else {
            maps
        })
    }
}

/// A region as a [`MemoryMap`]: resident pages split into private and shared, all
/// counted dirty for private pages (Windows does not say which pages were modified; a
/// private page is backed by the page file, as Linux's dirty anonymous pages are) and
/// clean for shared ones; `anonymous` is the resident part of private memory
/// (`MEM_PRIVATE`); `referenced` the resident size (every working-set page was touched);
/// `swap` 0.
fn region_map(r: &Region, path: String, pages: &[Page], page: u64) -> MemoryMap {
    let s = sum_pages(pages, page);
    MemoryMap {
        path,
        addr: Some((r.base, r.base + r.size)),
        perms: Some(perms(r.protect, r.kind)),
        size: r.size,
        rss: s.rss,
        pss: s.pss,
        shared_clean: s.shared,
        shared_dirty: 0,
        private_clean: 0,
        private_dirty: s.private,
        referenced: s.rss,
        anonymous: if r.kind == MEM_IMAGE || r.kind == MEM_MAPPED {
            0
        } else {
            s.rss
        },
        swap: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_set_blocks_decode() {
        // VirtualPage 0x7ff6_1234_5, Shared, ShareCount 3, Protection 1.
        let flags = 0x7ff6_1234_5000usize | (1 << 8) | (3 << 5) | 1;
        let p = Page::from_ws_block(flags, 4096);
        assert_eq!(
            p,
            Page {
                addr: 0x7ff6_1234_5000,
                shared: true,
                share_count: 3
            }
        );
        assert!(!p.private());
        assert_eq!(p.pss(4096), 1365);
        // Shareable but held only here: private, as psutil counts it.
        let once = Page::from_ws_block(0x1000 | (1 << 8) | (1 << 5), 4096);
        assert!(once.shared && once.private());
        assert_eq!(once.pss(4096), 4096);
        // Not shareable, ShareCount 0.
        let own = Page::from_ws_block(0x2000 | 4, 4096);
        assert!(!own.shared && own.private());
        // Ex blocks: Valid bit 0, ShareCount bits 1-3, Shared bit 15.
        assert_eq!(Page::from_ws_ex_block(0x3000, 0), None);
        assert_eq!(
            Page::from_ws_ex_block(0x3000, 1 | (7 << 1) | (1 << 15) | (4 << 4)),
            Some(Page {
                addr: 0x3000,
                shared: true,
                share_count: 7
            })
        );
    }

    #[test]
    fn page_sums_split_private_and_shared() {
        let pages = [
            Page {
                addr: 0,
                shared: false,
                share_count: 0,
            },
            Page {
                addr: 4096,
                shared: true,
                share_count: 1,
            },
            Page {
                addr: 8192,
                shared: true,
                share_count: 4,
            },
        ];
        let s = sum_pages(&pages, 4096);
        assert_eq!(
            s,
            PageSums {
                rss: 3 * 4096,
                private: 2 * 4096,
                shared: 4096,
                pss: 2 * 4096 + 1024,
            }
        );
        assert_eq!(pages_in(&pages, 4096, 8192).len(), 1);
        assert_eq!(pages_in(&pages, 0, 1 << 20).len(), 3);
        assert!(pages_in(&pages, 1 << 20, 2 << 20).is_empty());
    }

    #[test]
    fn protections_as_linux_perms() {
        use windows_sys::Win32::System::Memory::{
            MEM_PRIVATE, PAGE_GUARD, PAGE_NOACCESS, PAGE_NOCACHE,
        };
        assert_eq!(perms(PAGE_READWRITE, MEM_PRIVATE), "rw-p");
        assert_eq!(perms(PAGE_READWRITE | PAGE_GUARD, MEM_PRIVATE), "rw-p");
        assert_eq!(perms(PAGE_EXECUTE_READ, MEM_IMAGE), "r-xp");
        assert_eq!(perms(PAGE_WRITECOPY, MEM_IMAGE), "rw-p");
        assert_eq!(perms(PAGE_READONLY, MEM_MAPPED), "r--s");
        assert_eq!(perms(PAGE_READWRITE, MEM_MAPPED), "rw-s");
        assert_eq!(perms(PAGE_WRITECOPY, MEM_MAPPED), "rw-p");
        assert_eq!(
            perms(PAGE_EXECUTE_READWRITE | PAGE_NOCACHE, MEM_PRIVATE),
            "rwxp"
        );
        assert_eq!(perms(PAGE_EXECUTE, MEM_IMAGE), "--xp");
        assert_eq!(perms(PAGE_NOACCESS, MEM_PRIVATE), "---p");
    }

    /// The drive table this system gives (`GetLogicalDriveStringsW` + `QueryDosDeviceW`)
    /// maps each drive's device back to it. Wine's `GetMappedFileNameW` gives the
    /// `\??\Z:\…` form, so this is where the device form is checked with real targets.
    #[test]
    fn the_drive_table_round_trips() {
        let drives = drive_devices();
        let windows_drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
        assert!(
            drives
                .iter()
                .any(|(d, _)| d.eq_ignore_ascii_case(&windows_drive)),
            "{drives:?}"
        );
        for (drive, device) in &drives {
            assert!(drive.len() == 2 && drive.ends_with(':'), "{drives:?}");
            assert!(device.starts_with('\\'), "{drives:?}");
            let nt = format!("{device}\\dir\\f.dll");
            // Two letters may name one device (subst); the first one wins.
            let first = drives.iter().find(|(_, d)| d == device).unwrap();
            assert_eq!(dos_path(&nt, &drives), format!("{}\\dir\\f.dll", first.0));
        }
    }

    #[test]
    fn device_paths_become_drive_paths() {
        let drives = vec![
            ("C:".to_string(), "\\Device\\HarddiskVolume3".to_string()),
            ("D:".to_string(), "\\Device\\HarddiskVolume1".to_string()),
        ];
        assert_eq!(
            dos_path(
                "\\Device\\HarddiskVolume3\\Windows\\System32\\ntdll.dll",
                &drives
            ),
            "C:\\Windows\\System32\\ntdll.dll"
        );
        assert_eq!(
            dos_path("\\device\\harddiskvolume1\\x.exe", &drives),
            "D:\\x.exe"
        );
        // HarddiskVolume1 must not match HarddiskVolume10.
        assert_eq!(
            dos_path("\\Device\\HarddiskVolume10\\x.exe", &drives),
            "\\Device\\HarddiskVolume10\\x.exe"
        );
        assert_eq!(
            dos_path("\\??\\Z:\\work\\a.dll", &drives),
            "Z:\\work\\a.dll"
        );
        assert_eq!(
            dos_path("\\Device\\Mup\\server\\share\\a.dll", &drives),
            "\\Device\\Mup\\server\\share\\a.dll"
        );
    }
}
