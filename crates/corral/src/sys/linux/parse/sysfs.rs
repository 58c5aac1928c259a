//! One-value files under `/sys/devices/system/{cpu,node}`: CPU topology ids, cache
//! attributes, cpufreq frequencies. CPU lists (`online`, `shared_cpu_list`, `cpulist` …)
//! are parsed by [`super::status::parse_cpu_list`].

use super::text::trim;
use super::{parse_i64, parse_u64};

/// Parses a file holding one signed decimal number and a newline (`core_id`,
/// `physical_package_id` — which is `-1` when the firmware does not say —, `level`).
pub fn parse_int(buf: &[u8]) -> Option<i64> {
    parse_i64(trim(buf))
}

/// Parses a file holding one unsigned decimal number (`scaling_cur_freq` in kHz …).
pub fn parse_uint(buf: &[u8]) -> Option<u64> {
    parse_u64(trim(buf))
}

/// Parses a cache `size` such as `32K` or `32768K` into bytes; the kernel writes `K`,
/// but `M`, `G` and a bare byte count are accepted too. Overflow gives `None`.
pub fn parse_cache_size(buf: &[u8]) -> Option<u64> {
    let s = trim(buf);
    let (num, mult) = match s.last()? {
        b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    parse_u64(num)?.checked_mul(mult)
}

/// Returns the trimmed content of a one-word file (a cache `type`: `Data`,
/// `Instruction`, `Unified`); `None` when empty or when it holds whitespace inside.
pub fn parse_word(buf: &[u8]) -> Option<&[u8]> {
    let s = trim(buf);
    (!s.is_empty() && !s.iter().any(u8::is_ascii_whitespace)).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_recorded_here() {
        // From /sys/devices/system/cpu/cpu1 on the fixture VM.
        assert_eq!(parse_int(b"1\n"), Some(1));
        assert_eq!(parse_int(b"0\n"), Some(0));
        assert_eq!(parse_int(b"-1\n"), Some(-1));
        assert_eq!(parse_cache_size(b"32K\n"), Some(32 * 1024));
        assert_eq!(parse_cache_size(b"512K\n"), Some(512 * 1024));
        assert_eq!(parse_cache_size(b"32768K\n"), Some(32 << 20));
        assert_eq!(parse_word(b"Unified\n"), Some(&b"Unified"[..]));
        assert_eq!(parse_uint(b"2445412\n"), Some(2_445_412));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"x"), None);
        assert_eq!(parse_uint(b"-1"), None);
        assert_eq!(parse_cache_size(b""), None);
        assert_eq!(parse_cache_size(b"K"), None);
        assert_eq!(parse_cache_size(b"2M"), Some(2 << 20));
        assert_eq!(parse_cache_size(b"1G"), Some(1 << 30));
        assert_eq!(parse_cache_size(b"4096"), Some(4096));
        assert_eq!(parse_cache_size(b"32 K"), None);
        assert_eq!(parse_cache_size(b"18014398509481984K"), None);
        assert_eq!(parse_word(b" \n"), None);
        assert_eq!(parse_word(b"a b"), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_int(&bytes);
            let _ = parse_uint(&bytes);
            let _ = parse_cache_size(&bytes);
            let _ = parse_word(&bytes);
        }
    }
}
