//! `/proc/PID/smaps` and `/proc/PID/smaps_rollup`: per-mapping and summed memory figures.
//!
//! Each mapping is a header line as in `maps` (`start-end perms offset dev inode [path]`)
//! followed by `Key:  N kB` lines and a final `VmFlags:` line. The path is everything
//! after the inode and its padding, so it may contain spaces; it ends in ` (deleted)` when
//! the file was removed, and a newline in a file name shows as `\012` (the kernel's only
//! escape here, kept as it is, since a literal `\012` in a name would look the same).
//! `smaps_rollup` (Linux 4.14+) has a single `[rollup]` header with the sums.

use super::parse_u64;
use super::text::{key_value, lines, next_field, parse_hex_u64, parse_kb};
use crate::info::MemoryMap;

/// The sums of `/proc/PID/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollup {
    /// `Rss:` resident memory.
    pub rss: u64,
    /// `Pss:` proportional set size (shared pages divided among their sharers).
    pub pss: u64,
    /// `Shared_Clean:`.
    pub shared_clean: u64,
    /// `Shared_Dirty:`.
    pub shared_dirty: u64,
    /// `Private_Clean:`.
    pub private_clean: u64,
    /// `Private_Dirty:`.
    pub private_dirty: u64,
    /// `Referenced:`.
    pub referenced: u64,
    /// `Anonymous:`.
    pub anonymous: u64,
    /// `Swap:`.
    pub swap: u64,
    /// `SwapPss:` proportional swap.
    pub swap_pss: u64,
}

impl Rollup {
    /// Unique set size as psutil computes it: `Private_Clean + Private_Dirty`.
    pub fn uss(&self) -> u64 {
        self.private_clean.saturating_add(self.private_dirty)
    }
}

/// Parses `smaps_rollup`.
///
/// Every figure of [`Rollup`] is required (the kernel always prints them); a missing or
/// malformed one gives `None`, as does an empty file (the kernel gives one for kernel
/// threads). The header line and other keys are ignored.
pub fn parse_rollup(buf: &[u8]) -> Option<Rollup> {
    let mut v: [Option<u64>; 10] = [None; 10];
    for line in lines(buf) {
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        let slot = match key {
            b"Rss" => 0,
            b"Pss" => 1,
            b"Shared_Clean" => 2,
            b"Shared_Dirty" => 3,
            b"Private_Clean" => 4,
            b"Private_Dirty" => 5,
            b"Referenced" => 6,
            b"Anonymous" => 7,
            b"Swap" => 8,
            b"SwapPss" => 9,
            _ => continue,
        };
        v[slot] = Some(parse_kb(value)?);
    }
    Some(Rollup {
        rss: v[0]?,
        pss: v[1]?,
        shared_clean: v[2]?,
        shared_dirty: v[3]?,
        private_clean: v[4]?,
        private_dirty: v[5]?,
        referenced: v[6]?,
        anonymous: v[7]?,
        swap: v[8]?,
        swap_pss: v[9]?,
    })
}

/// Parses `smaps` into one [`MemoryMap`] per mapping, in file order.
///
/// Anonymous mappings (no path) get the path `[anon]`, as psutil names them; other paths
/// are kept exactly, ` (deleted)` suffix included (psutil drops it when no such file
/// exists, which needs I/O). Sizes are in bytes; figures the file lacks stay 0.
///
/// An empty file (kernel threads) gives an empty list. Returns `None` for a malformed
/// header, a size line before any header or with a malformed `N kB` value, or a line that
/// is neither a header nor `Key: value`; unknown keys and `VmFlags:` are ignored.
pub fn parse_smaps(buf: &[u8]) -> Option<Vec<MemoryMap>> {
    let mut maps = Vec::new();
    for line in lines(buf) {
        if let Some(map) = parse_header(line) {
            maps.push(map);
            continue;
        }
        let (key, value) = key_value(line)?;
        if key.is_empty() || key.iter().any(|c| c.is_ascii_whitespace()) {
            return None;
        }
        let map: &mut MemoryMap = maps.last_mut()?;
        let slot = match key {
            b"Size" => &mut map.size,
            b"Rss" => &mut map.rss,
            b"Pss" => &mut map.pss,
            b"Shared_Clean" => &mut map.shared_clean,
            b"Shared_Dirty" => &mut map.shared_dirty,
            b"Private_Clean" => &mut map.private_clean,
            b"Private_Dirty" => &mut map.private_dirty,
            b"Referenced" => &mut map.referenced,
            b"Anonymous" => &mut map.anonymous,
            b"Swap" => &mut map.swap,
            _ => continue,
        };
        *slot = parse_kb(value)?;
    }
    Some(maps)
}

/// Sums mappings by path, as psutil's `memory_maps(grouped=True)` (see
/// [`crate::sys::group_maps`], shared with the Windows backend).
pub fn group(maps: &[MemoryMap]) -> Vec<MemoryMap> {
    crate::sys::group_maps(maps)
}

/// Parses a mapping header `start-end perms offset dev inode [path]`, or `None` when the
/// line is not one.
fn parse_header(line: &[u8]) -> Option<MemoryMap> {
    let mut rest = line;
    let mut take = || next_field(&mut rest);
    let range = take()?;
    let perms = take()?;
    let offset = take()?;
    let dev = take()?;
    let inode = take()?;
    let dash = range.iter().position(|&c| c == b'-')?;
    let start = parse_hex_u64(&range[..dash])?;
    let end = parse_hex_u64(&range[dash + 1..])?;
    let perms_ok = perms.len() == 4 && perms.iter().all(|c| b"rwxsp-".contains(c));
    let dev_ok = dev.iter().filter(|&&c| c == b':').count() == 1
        && dev.iter().all(|&c| c == b':' || c.is_ascii_hexdigit());
    if end < start
        || !perms_ok
        || parse_hex_u64(offset).is_none()
        || !dev_ok
        || parse_u64(inode).is_none()
    {
        return None;
    }
    let path = match rest.iter().position(|&c| c != b' ') {
        Some(p) => String::from_utf8_lossy(&rest[p..]).into_owned(),
        None => "[anon]".to_owned(),
    };
    Some(MemoryMap {
        path,
        addr: Some((start, end)),
        perms: Some(String::from_utf8_lossy(perms).into_owned()),
        ..MemoryMap::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SMAPS: &[u8] = include_bytes!("../../../../testdata/smaps_small");
    const ROLLUP: &[u8] = include_bytes!("../../../../testdata/smaps_rollup_small");
    const ROLLUP_CAT: &[u8] = include_bytes!("../../../../testdata/smaps_rollup_cat");
    const KB: u64 = 1024;

    #[test]
    fn rollup_fixtures() {
        assert_eq!(
            parse_rollup(ROLLUP),
            Some(Rollup {
                rss: 1740 * KB,
                pss: 695 * KB,
                shared_clean: 1284 * KB,
                shared_dirty: 0,
                private_clean: 4 * KB,
                private_dirty: 452 * KB,
                referenced: 1740 * KB,
                anonymous: 432 * KB,
                swap: 0,
                swap_pss: 0,
            })
        );
        let r = parse_rollup(ROLLUP_CAT).unwrap();
        assert_eq!((r.rss, r.pss, r.uss()), (1648 * KB, 462 * KB, 184 * KB));
    }

    #[test]
    fn rollup_edge_cases() {
        assert_eq!(parse_rollup(b""), None);
        let text = std::str::from_utf8(ROLLUP).unwrap();
        let without_swap_pss: String = text
            .lines()
            .filter(|l| !l.starts_with("SwapPss:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_rollup(without_swap_pss.as_bytes()), None);
        let bad = text.replace("Pss:                 695 kB", "Pss: 695");
        assert_eq!(parse_rollup(bad.as_bytes()), None);
    }

    #[test]
    fn smaps_fixture() {
        let maps = parse_smaps(SMAPS).unwrap();
        assert_eq!(maps.len(), 31);
        assert_eq!(
            maps[0],
            MemoryMap {
                path: "/tmp/corral-fx/rec".into(),
                addr: Some((0x55823f537000, 0x55823f538000)),
                perms: Some("r--p".into()),
                size: 4 * KB,
                rss: 4 * KB,
                pss: 4 * KB,
                shared_clean: 0,
                shared_dirty: 0,
                private_clean: 0,
                private_dirty: 4 * KB,
                referenced: 4 * KB,
                anonymous: 0,
                swap: 0,
            }
        );
        assert_eq!(maps[5].path, "[heap]");
        assert_eq!(maps[5].size, 132 * KB);
        // Anonymous mapping: the header ends in "0 " with no path.
        assert_eq!(maps[6].path, "[anon]");
        assert_eq!(maps[6].addr, Some((0x7fc75182d000, 0x7fc75187c000)));
        assert_eq!((maps[6].rss, maps[6].anonymous), (308 * KB, 308 * KB));
        let gone = maps.iter().find(|m| m.path.contains("gone")).unwrap();
        assert_eq!(gone.path, "/tmp/corral-fx/gone (deleted)");
        assert_eq!(gone.private_clean, 4 * KB);
        let spaced = maps.iter().find(|m| m.path.contains("my file")).unwrap();
        assert_eq!(spaced.path, "/tmp/corral-fx/my file.bin");
        assert_eq!(spaced.perms.as_deref(), Some("rw-s"));
        assert_eq!((spaced.size, spaced.rss), (16 * KB, 8 * KB));
        let last = maps.last().unwrap();
        assert_eq!(last.path, "[vsyscall]");
        assert_eq!(last.addr, Some((0xffffffffff600000, 0xffffffffff601000)));
        assert_eq!(last.perms.as_deref(), Some("--xp"));

        // Recorded together with the rollup: the sums agree (Pss differs by rounding,
        // the rollup sums before converting to kB).
        let r = parse_rollup(ROLLUP).unwrap();
        let sum = |f: fn(&MemoryMap) -> u64| maps.iter().map(f).sum::<u64>();
        assert_eq!(sum(|m| m.rss), r.rss);
        assert_eq!(sum(|m| m.shared_clean), r.shared_clean);
        assert_eq!(sum(|m| m.private_clean), r.private_clean);
        assert_eq!(sum(|m| m.private_dirty), r.private_dirty);
        assert_eq!(sum(|m| m.referenced), r.referenced);
        assert_eq!(sum(|m| m.anonymous), r.anonymous);
        assert_eq!(sum(|m| m.pss), 691 * KB);
    }

    #[test]
    fn grouping() {
        let maps = parse_smaps(SMAPS).unwrap();
        let g = group(&maps);
        let paths: Vec<&str> = g.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/tmp/corral-fx/rec",
                "[heap]",
                "[anon]",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/tmp/corral-fx/gone (deleted)",
                "/tmp/corral-fx/my file.bin",
                "[vvar]",
                "[vvar_vclock]",
                "[vdso]",
                "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                "[stack]",
                "[vsyscall]",
            ]
        );
        assert!(g.iter().all(|m| m.addr.is_none() && m.perms.is_none()));
        let libc = &g[3];
        assert_eq!(libc.size, (152 + 1368 + 332 + 16 + 8) * KB);
        assert_eq!(libc.rss, (152 + 804 + 128 + 16 + 8) * KB);
        assert_eq!(libc.pss, (30 + 137 + 31 + 16 + 8) * KB);
        let anon = &g[2];
        assert_eq!(
            (anon.size, anon.rss, anon.pss, anon.anonymous),
            (16780 * KB, 356 * KB, 356 * KB, 356 * KB)
        );
        assert_eq!(group(&[]), vec![]);
        let big = MemoryMap {
            path: "x".into(),
            size: u64::MAX,
            ..MemoryMap::default()
        };
        assert_eq!(group(&[big.clone(), big])[0].size, u64::MAX);
    }

    #[test]
    fn smaps_edge_cases() {
        assert_eq!(parse_smaps(b""), Some(vec![]));
        // Size line before any header.
        assert_eq!(parse_smaps(b"Size: 4 kB\n"), None);
        let header = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ";
        let ok = |body: &str| parse_smaps(format!("{header}\n{body}").as_bytes());
        assert_eq!(ok("Rss: 4 kB\n").unwrap()[0].rss, 4 * KB);
        assert_eq!(ok("Rss: 4\n"), None);
        assert_eq!(ok("Rss: x kB\n"), None);
        assert_eq!(ok("garbage\n"), None);
        assert_eq!(ok("two words: 1 kB\n"), None);
        assert_eq!(
            ok("VmFlags: rd wr mr mw me ac\nFuture: 1 2 3\n")
                .unwrap()
                .len(),
            1
        );
        // Truncated in the middle of a header: not a header, not `Key: value`.
        assert_eq!(parse_smaps(&header.as_bytes()[..12]), None);
        // Headers: paths with leading pseudo names, odd spacing, and bad fields.
        let one = |h: &str| parse_smaps(h.as_bytes()).map(|m| m[0].path.clone());
        assert_eq!(
            one("00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"),
            Some("/usr/bin/dbus-daemon".into())
        );
        assert_eq!(
            one("00400000-00452000 r-xp 00000000 08:02 173521 /a  b \n"),
            Some("/a  b ".into())
        );
        assert_eq!(
            one("7f0-7f1 rw-s 00000000 00:01 1029 /memfd:x (deleted)"),
            Some("/memfd:x (deleted)".into())
        );
        assert_eq!(
            one("7f0-7f1 rw-p 00000000 00:00 0   [anon:my name]\n"),
            Some("[anon:my name]".into())
        );
        assert_eq!(one("7f0-7f1 rw-p 00000000 00:00 0"), Some("[anon]".into()));
        assert_eq!(one("7f1-7f0 rw-p 00000000 00:00 0\n"), None);
        assert_eq!(one("7f0-7f1 rwz 00000000 00:00 0\n"), None);
        assert_eq!(one("7f0-7f1 rw-p 0000000g 00:00 0\n"), None);
        assert_eq!(one("7f0-7f1 rw-p 00000000 0000 0\n"), None);
        assert_eq!(one("7f0-7f1 rw-p 00000000 00:00 x\n"), None);
        assert_eq!(one("7f0 rw-p 00000000 00:00 0\n"), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_rollup(&bytes);
            if let Some(maps) = parse_smaps(&bytes) {
                let _ = group(&maps);
            }
        }

        #[test]
        fn never_panics_on_mutated_fixture(
            cut in 0..SMAPS.len(),
            at in 0..SMAPS.len(),
            byte in any::<u8>(),
        ) {
            let mut b = SMAPS[..cut].to_vec();
            if at < b.len() {
                b[at] = byte;
            }
            if let Some(maps) = parse_smaps(&b) {
                let _ = group(&maps);
            }
            let _ = parse_rollup(&b);
        }
    }
}
