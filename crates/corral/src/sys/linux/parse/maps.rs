//! `/proc/PID/maps`: the address ranges of a process's mappings, for trimming memory.

use super::text::trim;

/// One mapping line: range, permissions and what is mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `rwxp`-style permissions (4 bytes).
    pub perms: [u8; 4],
    /// The inode of a mapped file (0 for anonymous mappings).
    pub inode: u64,
    /// The path or pseudo-name (`[heap]`, `[stack]`, `[vdso]`); empty for anonymous.
    pub path: Vec<u8>,
}

impl Mapping {
    /// Private (copy-on-write), not shared.
    pub fn is_private(&self) -> bool {
        self.perms[3] == b'p'
    }

    /// Whether the kernel could page this mapping out: private, accessible, and not one
    /// of the special kernel mappings (`[vdso]`, `[vvar]`, `[vsyscall]` …).
    pub fn is_pageable(&self) -> bool {
        let special = self.path.starts_with(b"[")
            && !matches!(&self.path[..], b"[heap]" | b"[stack]" | b"[anon]")
            && !self.path.starts_with(b"[anon:");
        self.is_private() && self.perms[..3] != *b"---" && !special && self.end > self.start
    }
}

fn hex(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok()
}

/// Parses one line; `None` when malformed.
pub fn parse_line(line: &[u8]) -> Option<Mapping> {
    // start-end perms offset dev inode [path]; the path may contain spaces.
    let mut rest = line;
    let mut field = || {
        let sp = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let f = &rest[..sp];
        rest = rest.get(sp + 1..).unwrap_or(b"");
        f
    };
    let range = field();
    let perms = field();
    let _offset = field();
    let _dev = field();
    let inode = super::parse_u64(field())?;
    let (a, b) = {
        let dash = range.iter().position(|&c| c == b'-')?;
        (hex(&range[..dash])?, hex(&range[dash + 1..])?)
    };
    if perms.len() != 4 {
        return None;
    }
    Some(Mapping {
        start: a,
        end: b,
        perms: [perms[0], perms[1], perms[2], perms[3]],
        inode,
        path: trim(rest).to_vec(),
    })
}

/// Parses a whole `maps` file; `None` if any line is malformed.
pub fn parse(buf: &[u8]) -> Option<Vec<Mapping>> {
    buf.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAPS: &[u8] = include_bytes!("../../../../testdata/maps_testbin");

    #[test]
    fn recorded_file() {
        let m = parse(MAPS).unwrap();
        assert!(m.len() > 10);
        let heap = m.iter().find(|m| m.path == b"[heap]").unwrap();
        assert!(heap.is_pageable() && heap.inode == 0 && heap.end > heap.start);
        for special in [&b"[vdso]"[..], b"[vvar]"] {
            let v = m.iter().find(|m| m.path == special).unwrap();
            assert!(!v.is_pageable());
        }
        let named = m.iter().find(|m| m.path.ends_with(b"my file.bin")).unwrap();
        assert!(named.inode != 0);
        assert_eq!(&named.perms, b"r--p");
        assert!(m.iter().any(|m| m.path.is_empty() && m.is_pageable()));
    }

    #[test]
    fn hand_made_lines() {
        let l = parse_line(b"7f00-7f10 rw-s 00000000 00:01 42      /dev/shm/x (deleted)").unwrap();
        assert_eq!((l.start, l.end, l.inode), (0x7f00, 0x7f10, 42));
        assert_eq!(l.path, b"/dev/shm/x (deleted)");
        assert!(!l.is_pageable(), "shared");
        let guard = parse_line(b"1000-2000 ---p 00000000 00:00 0").unwrap();
        assert!(!guard.is_pageable());
        assert!(parse_line(b"zz-10 rw-p 0 00:00 0").is_none());
        assert!(parse_line(b"10-20 rw 0 00:00 0").is_none());
        assert!(parse(b"").unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&b);
        }
    }
}
