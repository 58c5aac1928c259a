//! `/proc/PID/fdinfo/FD`: offset, open flags and mount of one descriptor.
//!
//! The first lines are `pos:`, `flags:` (octal) and, since Linux 3.15, `mnt_id:`; some
//! descriptor kinds (eventfd, epoll, inotify, …) add lines of their own, which are ignored.

use super::parse_u64;
use super::text::{key_value, lines, parse_octal_u64};

/// What corral uses from an `fdinfo` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FdInfo {
    /// `pos:`: the file offset.
    pub pos: u64,
    /// `flags:`: the open flags (`O_*`, with `O_CLOEXEC` shown when close-on-exec is set).
    pub flags: u32,
    /// `mnt_id:`: the mount the file lives on (absent before Linux 3.15).
    pub mnt_id: Option<u64>,
}

/// Parses an `fdinfo` file; `None` when `pos` or `flags` is missing or malformed.
pub fn parse(buf: &[u8]) -> Option<FdInfo> {
    let (mut pos, mut flags, mut mnt_id) = (None, None, None);
    for line in lines(buf) {
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        match key {
            b"pos" => pos = Some(parse_u64(value)?),
            b"flags" => flags = Some(u32::try_from(parse_octal_u64(value)?).ok()?),
            b"mnt_id" => mnt_id = parse_u64(value),
            _ => {}
        }
    }
    Some(FdInfo {
        pos: pos?,
        flags: flags?,
        mnt_id,
    })
}

const O_ACCMODE: u32 = 0o3;
const O_WRONLY: u32 = 0o1;
const O_RDWR: u32 = 0o2;
const O_APPEND: u32 = 0o2000;

/// Names open flags the way `fopen` modes would, exactly as psutil's `file_flags_to_mode`.
///
/// Read-only gives `"r"` (with or without `O_APPEND`), write-only `"w"` or `"a"`, and
/// read-write `"r+"` or `"a+"`. The access mode 3 (the Linux-only "ioctl only" mode, for
/// which psutil raises `KeyError`) is treated as read-write. The octal values of
/// `O_WRONLY`, `O_RDWR` and `O_APPEND` are the same on every Linux architecture.
pub fn open_mode(flags: u32) -> &'static str {
    let append = flags & O_APPEND != 0;
    match (flags & O_ACCMODE, append) {
        (O_WRONLY, false) => "w",
        (O_WRONLY, true) => "a",
        (0, _) => "r",
        // O_RDWR, and the Linux-only access mode 3, read as read-write.
        (O_RDWR | O_ACCMODE, false) => "r+",
        (_, _) => "a+",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const APPEND: &[u8] = include_bytes!("../../../../testdata/fdinfo_append");
    const RDWR: &[u8] = include_bytes!("../../../../testdata/fdinfo_rdwr_cloexec");
    const EVENTFD: &[u8] = include_bytes!("../../../../testdata/fdinfo_eventfd");

    #[test]
    fn fixtures() {
        // open(O_WRONLY | O_CREAT | O_APPEND) on a file holding 12 bytes.
        let a = parse(APPEND).unwrap();
        assert_eq!(
            a,
            FdInfo {
                pos: 12,
                flags: 0o102001,
                mnt_id: Some(27)
            }
        );
        assert_eq!(open_mode(a.flags), "a");
        // open(O_RDWR | O_CLOEXEC) then lseek(12345).
        let r = parse(RDWR).unwrap();
        assert_eq!(
            r,
            FdInfo {
                pos: 12345,
                flags: 0o2100002,
                mnt_id: Some(27)
            }
        );
        assert_eq!(open_mode(r.flags), "r+");
        let e = parse(EVENTFD).unwrap();
        assert_eq!(
            e,
            FdInfo {
                pos: 0,
                flags: 0o4002,
                mnt_id: Some(17)
            }
        );
    }

    #[test]
    fn edge_cases() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"pos:\t0\n"), None);
        assert_eq!(parse(b"flags:\t02\n"), None);
        assert_eq!(
            parse(b"pos:\t7\nflags:\t02\n"),
            Some(FdInfo {
                pos: 7,
                flags: 2,
                mnt_id: None
            })
        );
        assert_eq!(parse(b"pos:\t7\nflags:\t08\n"), None);
        assert_eq!(parse(b"pos:\t-1\nflags:\t02\n"), None);
        assert_eq!(parse(b"pos:\t0\nflags:\t77777777777\n"), None);
        assert_eq!(
            parse(b"pos:\t0\nflags:\t0\nmnt_id:\tx\n").unwrap().mnt_id,
            None
        );
    }

    #[test]
    fn modes_match_psutil() {
        assert_eq!(open_mode(0), "r");
        assert_eq!(open_mode(O_APPEND), "r");
        assert_eq!(open_mode(O_WRONLY), "w");
        assert_eq!(open_mode(O_WRONLY | O_APPEND), "a");
        assert_eq!(open_mode(O_RDWR), "r+");
        assert_eq!(open_mode(O_RDWR | O_APPEND), "a+");
        assert_eq!(open_mode(3), "r+");
        assert_eq!(open_mode(0o100000 | 0o2000000 | O_RDWR), "r+");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), flags in any::<u32>()) {
            let _ = parse(&bytes);
            let m = open_mode(flags);
            prop_assert!(["r", "w", "a", "r+", "a+"].contains(&m));
        }
    }
}
