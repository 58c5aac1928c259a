//! `/proc/loadavg`: `1.00 0.50 0.25 2/345 6789` — the 1, 5 and 15 minute load averages,
//! runnable/total scheduling entities, and the last pid handed out.

use super::parse_u64;
use super::text::fields;

/// The figures of `/proc/loadavg`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadAvg {
    /// Load averaged over 1, 5 and 15 minutes.
    pub load: [f64; 3],
    /// Scheduling entities (threads) runnable now.
    pub runnable: u64,
    /// Scheduling entities that exist now.
    pub entities: u64,
    /// The pid most recently handed out.
    pub last_pid: u64,
}

/// Parses a plain non-negative decimal such as `1.25` or `3`; signs, exponents, `inf`
/// and `nan` give `None`.
pub fn parse_decimal(b: &[u8]) -> Option<f64> {
    let dots = b.iter().filter(|&&c| c == b'.').count();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if dots > 1 || digits == 0 || digits + dots != b.len() {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Parses `/proc/loadavg`; `None` unless it has exactly the five fields.
pub fn parse_loadavg(buf: &[u8]) -> Option<LoadAvg> {
    let mut it = fields(buf);
    let mut load = [0.0; 3];
    for l in &mut load {
        *l = parse_decimal(it.next()?)?;
    }
    let sched = it.next()?;
    let slash = sched.iter().position(|&c| c == b'/')?;
    let runnable = parse_u64(&sched[..slash])?;
    let entities = parse_u64(&sched[slash + 1..])?;
    let last_pid = parse_u64(it.next()?)?;
    it.next().is_none().then_some(LoadAvg {
        load,
        runnable,
        entities,
        last_pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LOADAVG: &[u8] = include_bytes!("../../../../testdata/loadavg");

    #[test]
    fn fixture() {
        assert_eq!(
            parse_loadavg(LOADAVG),
            Some(LoadAvg {
                load: [3.68, 2.07, 1.55],
                runnable: 4,
                entities: 116,
                last_pid: 14440,
            })
        );
    }

    #[test]
    fn edge_cases() {
        assert_eq!(
            parse_loadavg(b"0.00 0.00 0.00 0/1 1").unwrap().load,
            [0.0; 3]
        );
        assert_eq!(parse_loadavg(b""), None);
        assert_eq!(parse_loadavg(b"0.00 0.00 0.00 0/1\n"), None);
        assert_eq!(parse_loadavg(b"0.00 0.00 0.00 0/1 1 9\n"), None);
        assert_eq!(parse_loadavg(b"0.00 0.00 0.00 01 1\n"), None);
        assert_eq!(parse_loadavg(b"0.00 0.00 0.00 0/ 1\n"), None);
        assert_eq!(parse_loadavg(b"-1.0 0.00 0.00 0/1 1\n"), None);
        assert_eq!(parse_loadavg(b"inf 0.00 0.00 0/1 1\n"), None);
        assert_eq!(parse_loadavg(b"1e3 0.00 0.00 0/1 1\n"), None);
        assert_eq!(parse_decimal(b"12"), Some(12.0));
        assert_eq!(parse_decimal(b"1.2.3"), None);
        assert_eq!(parse_decimal(b"."), None);
        assert_eq!(parse_decimal(b""), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_loadavg(&bytes);
            let _ = parse_decimal(&bytes);
        }

        #[test]
        fn round_trips(l in proptest::array::uniform3(0u32..100_000), r in 0u64..1000, e in 0u64..100_000, p in 0u64..4_194_304) {
            let text = format!("{}.{:02} {}.{:02} {}.{:02} {r}/{e} {p}\n",
                l[0] / 100, l[0] % 100, l[1] / 100, l[1] % 100, l[2] / 100, l[2] % 100);
            let got = parse_loadavg(text.as_bytes()).unwrap();
            for (got, want) in got.load.iter().zip(l) {
                prop_assert!((got - f64::from(want) / 100.0).abs() < 1e-9);
            }
            prop_assert_eq!((got.runnable, got.entities, got.last_pid), (r, e, p));
        }
    }
}
