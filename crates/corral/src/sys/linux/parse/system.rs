//! System-wide files the process getters need: `/proc/stat`, `/proc/uptime`,
//! `/proc/meminfo`.

use super::parse_u64;
use super::text::{fields, key_value, lines, parse_kb};

/// Finds the `btime` line of `/proc/stat`: the boot time in seconds since the Unix epoch.
pub fn parse_btime(buf: &[u8]) -> Option<u64> {
    lines(buf).find_map(|line| {
        let mut it = fields(line);
        if it.next()? != b"btime" {
            return None;
        }
        let v = parse_u64(it.next()?)?;
        it.next().is_none().then_some(v)
    })
}

/// Parses the first number of `/proc/uptime`: seconds since boot (suspend included).
///
/// The number must be plain decimal (`1234.56`); anything else, including `inf`, `nan`,
/// exponents and signs that `f64::from_str` would accept, gives `None`.
pub fn parse_uptime(buf: &[u8]) -> Option<f64> {
    let first = fields(buf).next()?;
    let dots = first.iter().filter(|&&c| c == b'.').count();
    let digits = first.iter().filter(|c| c.is_ascii_digit()).count();
    if dots > 1 || digits == 0 || digits + dots != first.len() {
        return None;
    }
    std::str::from_utf8(first).ok()?.parse().ok()
}

/// Finds `MemTotal:` in `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(buf: &[u8]) -> Option<u64> {
    lines(buf).find_map(|line| match key_value(line) {
        Some((b"MemTotal", v)) => Some(parse_kb(v)),
        _ => None,
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAT: &[u8] = include_bytes!("../../../../testdata/proc_stat");
    const UPTIME: &[u8] = include_bytes!("../../../../testdata/uptime");
    const MEMINFO: &[u8] = include_bytes!("../../../../testdata/meminfo");

    #[test]
    fn fixtures() {
        assert_eq!(parse_btime(STAT), Some(1_795_421_716));
        assert_eq!(parse_uptime(UPTIME), Some(2042.51));
        assert_eq!(parse_meminfo_total(MEMINFO), Some(24_683_656 * 1024));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(parse_btime(b""), None);
        assert_eq!(parse_btime(b"cpu 1 2 3\nbtime\n"), None);
        assert_eq!(parse_btime(b"btime 12 13\n"), None);
        assert_eq!(parse_btime(b"btime -12\n"), None);
        assert_eq!(parse_btime(b"xbtime 12\nbtime 7"), Some(7));
        assert_eq!(parse_uptime(b"0.00 0.00\n"), Some(0.0));
        assert_eq!(parse_uptime(b"12\n"), Some(12.0));
        assert_eq!(parse_uptime(b""), None);
        assert_eq!(parse_uptime(b"inf 1"), None);
        assert_eq!(parse_uptime(b"NaN 1"), None);
        assert_eq!(parse_uptime(b"-1.0 1"), None);
        assert_eq!(parse_uptime(b"1e5 1"), None);
        assert_eq!(parse_uptime(b"1.2.3 1"), None);
        assert_eq!(parse_uptime(b". 1"), None);
        assert_eq!(parse_meminfo_total(b""), None);
        assert_eq!(parse_meminfo_total(b"MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo_total(b"MemTotal: 1 MB\n"), None);
        assert_eq!(parse_meminfo_total(b"MemTotal:       16 kB\n"), Some(16384));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_btime(&bytes);
            let _ = parse_uptime(&bytes);
            let _ = parse_meminfo_total(&bytes);
        }
    }
}
