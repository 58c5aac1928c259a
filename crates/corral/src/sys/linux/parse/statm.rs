//! `/proc/PID/statm`: seven page counts on one line.
//!
//! The fields are `size resident shared text lib data dt`; `lib` and `dt` have been 0
//! since Linux 2.6. Kernel threads and zombies show all zeros.

use super::parse_u64;
use super::text::fields;
use crate::info::MemoryInfo;

/// Parses a `statm` line, converting pages to bytes with `page_size`.
///
/// The mapping is `vms = size`, `rss = resident`, `shared`, `text`, `lib`, `data`,
/// `dirty = dt`. Returns `None` unless there are exactly seven decimal fields, or when a
/// size in bytes would overflow `u64`.
pub fn parse(buf: &[u8], page_size: u64) -> Option<MemoryInfo> {
    let mut it = fields(buf);
    let mut v = [0u64; 7];
    for slot in &mut v {
        *slot = parse_u64(it.next()?)?.checked_mul(page_size)?;
    }
    if it.next().is_some() {
        return None;
    }
    let [size, resident, shared, text, lib, data, dt] = v;
    Some(MemoryInfo {
        rss: resident,
        vms: size,
        shared,
        text,
        lib,
        data,
        dirty: dt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SMALL: &[u8] = include_bytes!("../../../../testdata/statm_small");
    const CAT: &[u8] = include_bytes!("../../../../testdata/statm_cat");
    const ZOMBIE: &[u8] = include_bytes!("../../../../testdata/statm_zombie");

    #[test]
    fn fixtures() {
        assert_eq!(
            parse(SMALL, 4096),
            Some(MemoryInfo {
                vms: 4801 * 4096,
                rss: 435 * 4096,
                shared: 327 * 4096,
                text: 4096,
                lib: 0,
                data: 4264 * 4096,
                dirty: 0,
            })
        );
        let m = parse(CAT, 4096).unwrap();
        assert_eq!(
            (m.vms, m.rss, m.shared),
            (765 * 4096, 389 * 4096, 361 * 4096)
        );
        assert_eq!((m.text, m.data), (5 * 4096, 123 * 4096));
        assert_eq!(parse(ZOMBIE, 4096), Some(MemoryInfo::default()));
        // Another page size (arm64 with 64 KiB pages).
        assert_eq!(parse(CAT, 65536).unwrap().rss, 389 * 65536);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b"", 4096), None);
        assert_eq!(parse(b"1 2 3 4 5 6\n", 4096), None);
        assert_eq!(parse(b"1 2 3 4 5 6 7 8\n", 4096), None);
        assert_eq!(parse(b"1 2 3 4 5 -6 7\n", 4096), None);
        assert_eq!(parse(b"1 2 3 4 5 6 x\n", 4096), None);
        assert_eq!(parse(b"18446744073709551615 0 0 0 0 0 0", 4096), None);
        assert_eq!(
            parse(b"18446744073709551615 0 0 0 0 0 0", 1).map(|m| m.vms),
            Some(u64::MAX)
        );
        assert_eq!(parse(&SMALL[..10], 4096), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100), page in any::<u64>()) {
            let _ = parse(&bytes, page);
        }

        #[test]
        fn round_trips(v in proptest::array::uniform7(0u64..1 << 40)) {
            let line = format!("{} {} {} {} {} {} {}\n", v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
            let m = parse(line.as_bytes(), 4096).unwrap();
            prop_assert_eq!(
                [m.vms, m.rss, m.shared, m.text, m.lib, m.data, m.dirty],
                v.map(|p| p * 4096)
            );
        }
    }
}
