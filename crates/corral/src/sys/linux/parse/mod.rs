//! Pure parsers for `/proc` files: bytes in, values out.
//!
//! Nothing here does I/O, so every parser is unit-tested on recorded fixtures
//! (`crates/corral/testdata/`) and property-tested never to panic on any input.
//! A parser returns `None` (or a `Parse` error at the call site) on malformed input.

pub mod cgroup;
pub mod cmdline;
pub mod cpustat;
pub mod fdinfo;
pub mod io;
pub mod loadavg;
pub mod maps;
pub mod meminfo;
pub mod mountinfo;
pub mod net;
pub mod smaps;
pub mod stat;
pub mod statm;
pub mod status;
pub mod sysfs;
pub mod system;
pub mod text;
pub mod tty;
pub mod utmp;

/// Parses an unsigned decimal number from ASCII bytes; `None` when empty or not all digits.
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(n)
}

/// Parses a signed decimal number.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    match b.split_first() {
        Some((b'-', rest)) => parse_u64(rest).and_then(|n| 0i64.checked_sub_unsigned(n)),
        _ => parse_u64(b).and_then(|n| i64::try_from(n).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
        assert_eq!(parse_i64(b"-20"), Some(-20));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
    }
}
