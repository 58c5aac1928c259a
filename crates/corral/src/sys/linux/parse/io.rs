//! `/proc/PID/io`: the task's I/O counters, one `name: value` per line.
//!
//! Reading another user's file needs ptrace access (the open fails with `EACCES`), which
//! the caller maps to `AccessDenied`; the parser only sees bytes.

use super::parse_u64;
use super::text::{key_value, lines};
use crate::info::IoCounters;

/// Parses an `io` file.
///
/// All seven counters (`rchar`, `wchar`, `syscr`, `syscw`, `read_bytes`, `write_bytes`,
/// `cancelled_write_bytes`) are required: the kernel always writes them together, so a
/// missing or non-numeric one means a malformed file and gives `None`. Unknown lines are
/// ignored.
pub fn parse(buf: &[u8]) -> Option<IoCounters> {
    let mut v: [Option<u64>; 7] = [None; 7];
    for line in lines(buf) {
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        let slot = match key {
            b"rchar" => 0,
            b"wchar" => 1,
            b"syscr" => 2,
            b"syscw" => 3,
            b"read_bytes" => 4,
            b"write_bytes" => 5,
            b"cancelled_write_bytes" => 6,
            _ => continue,
        };
        v[slot] = Some(parse_u64(value)?);
    }
    Some(IoCounters {
        read_chars: v[0]?,
        write_chars: v[1]?,
        read_count: v[2]?,
        write_count: v[3]?,
        read_bytes: v[4]?,
        write_bytes: v[5]?,
        cancelled_write_bytes: v[6]?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SMALL: &[u8] = include_bytes!("../../../../testdata/io_small");
    const CAT: &[u8] = include_bytes!("../../../../testdata/io_cat");

    #[test]
    fn fixtures() {
        assert_eq!(
            parse(SMALL),
            Some(IoCounters {
                read_chars: 30471,
                write_chars: 26497,
                read_count: 28,
                write_count: 14,
                read_bytes: 0,
                write_bytes: 61440,
                cancelled_write_bytes: 61440,
            })
        );
        assert_eq!(
            parse(CAT),
            Some(IoCounters {
                read_chars: 6976,
                write_chars: 0,
                read_count: 10,
                write_count: 0,
                read_bytes: 0,
                write_bytes: 4096,
                cancelled_write_bytes: 0,
            })
        );
    }

    #[test]
    fn edge_cases() {
        assert_eq!(parse(b""), None);
        // Missing the last line (truncated).
        let cut = &SMALL[..SMALL.len() - "cancelled_write_bytes: 61440\n".len()];
        assert_eq!(parse(cut), None);
        let bad = std::str::from_utf8(SMALL)
            .unwrap()
            .replace("syscw: 14", "syscw: -14");
        assert_eq!(parse(bad.as_bytes()), None);
        // Order does not matter and unknown or blank lines are skipped.
        let shuffled = b"\nwchar: 2\nfuture_field: x\nrchar: 1\nsyscw: 4\nsyscr: 3\n\
write_bytes: 6\nread_bytes: 5\ncancelled_write_bytes: 7";
        let io = parse(shuffled).unwrap();
        assert_eq!(
            [io.read_chars, io.write_chars, io.read_count, io.write_count],
            [1, 2, 3, 4]
        );
        assert_eq!(
            [io.read_bytes, io.write_bytes, io.cancelled_write_bytes],
            [5, 6, 7]
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
