//! `/proc/PID/cmdline` and `/proc/PID/environ`: NUL-separated strings.
//!
//! Both are empty for kernel threads and zombies. A process may overwrite its own
//! argument area (`setproctitle`); the kernel then shows what is there up to the first
//! NUL, usually one space-separated string with no NUL at all.

/// Splits a `cmdline` (or `environ`) buffer at NUL bytes.
///
/// - An empty buffer gives an empty list.
/// - One trailing NUL is optional and dropped, so `b"a\0\0b\0"` gives `["a", "", "b"]`
///   (empty arguments are kept) and `b"\0"` gives `[""]`.
/// - A buffer with no NUL at all is taken to come from a process that rewrote its argv
///   (`setproctitle`) and is split at each space, as psutil does: one trailing space is
///   dropped first and runs of spaces give empty strings (`b"nginx: worker process"`
///   gives `["nginx:", "worker", "process"]`).
///
/// psutil further splits a single NUL-terminated string holding spaces
/// (`"postgres: checkpointer \0"`); corral does not, because that also splits a genuine
/// lone argument with a space (`/opt/my app/bin`), so such a title stays one argument.
pub fn split_nul(buf: &[u8]) -> Vec<Vec<u8>> {
    if buf.is_empty() {
        return Vec::new();
    }
    let sep = if buf.contains(&0) { 0 } else { b' ' };
    let body = buf.strip_suffix(&[sep]).unwrap_or(buf);
    body.split(|&c| c == sep).map(<[u8]>::to_vec).collect()
}

/// Parses an `environ` buffer into `(name, value)` pairs, in file order.
///
/// Each NUL-terminated entry is split at its first `=`; an entry without `=` keeps an
/// empty value, and duplicates are all kept. An empty entry (two NULs in a row, or a NUL
/// first) ends the list, since what follows is leftover memory, not environment; a final
/// entry without its NUL is kept. psutil differs in skipping entries without `=` (or
/// starting with it) and dropping an unterminated last entry.
pub fn parse_environ(buf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let body = buf.strip_suffix(&[0]).unwrap_or(buf);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&c| c == 0)
        .take_while(|e| !e.is_empty())
        .map(|e| match e.iter().position(|&c| c == b'=') {
            Some(eq) => (e[..eq].to_vec(), e[eq + 1..].to_vec()),
            None => (e.to_vec(), Vec::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SMALL: &[u8] = include_bytes!("../../../../testdata/cmdline_small");
    const ZOMBIE: &[u8] = include_bytes!("../../../../testdata/cmdline_zombie");

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn fixtures() {
        // ./rec /work/wt-parsers/crates/corral/testdata "arg one" "" two
        let want = v(&[
            "./rec",
            "/work/wt-parsers/crates/corral/testdata",
            "arg one",
            "",
            "two",
        ]);
        assert_eq!(split_nul(SMALL), want);
        assert_eq!(split_nul(ZOMBIE), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn nul_rules() {
        assert_eq!(split_nul(b""), v(&[]));
        assert_eq!(split_nul(b"\0"), v(&[""]));
        assert_eq!(split_nul(b"\0\0"), v(&["", ""]));
        assert_eq!(split_nul(b"a"), v(&["a"]));
        assert_eq!(split_nul(b"a\0b\0"), v(&["a", "b"]));
        assert_eq!(split_nul(b"a\0b"), v(&["a", "b"]));
        assert_eq!(split_nul(b"a b\0"), v(&["a b"]));
        assert_eq!(split_nul(b"a b\0c d"), v(&["a b", "c d"]));
    }

    #[test]
    fn setproctitle_rules() {
        // No NUL at all: split at spaces (psutil issue 1179).
        assert_eq!(
            split_nul(b"nginx: worker process"),
            v(&["nginx:", "worker", "process"])
        );
        assert_eq!(split_nul(b"a b "), v(&["a", "b"]));
        assert_eq!(split_nul(b"a  b"), v(&["a", "", "b"]));
        assert_eq!(split_nul(b" "), v(&[""]));
        // A single NUL-terminated string with spaces stays whole (unlike psutil).
        assert_eq!(
            split_nul(b"postgres: checkpointer \0"),
            v(&["postgres: checkpointer "])
        );
    }

    #[test]
    fn environ() {
        let p = |k: &str, val: &str| (k.as_bytes().to_vec(), val.as_bytes().to_vec());
        assert_eq!(parse_environ(b""), vec![]);
        assert_eq!(parse_environ(b"\0"), vec![]);
        assert_eq!(
            parse_environ(b"HOME=/root\0PATH=/bin:/usr/bin\0EMPTY=\0EQ=a=b\0"),
            vec![
                p("HOME", "/root"),
                p("PATH", "/bin:/usr/bin"),
                p("EMPTY", ""),
                p("EQ", "a=b")
            ]
        );
        assert_eq!(
            parse_environ(b"NOEQUALS\0=lead\0A=1\0A=2"),
            vec![p("NOEQUALS", ""), p("", "lead"), p("A", "1"), p("A", "2")]
        );
        // A double NUL ends the block; leftovers after it are ignored.
        assert_eq!(parse_environ(b"A=1\0\0B=2\0"), vec![p("A", "1")]);
        assert_eq!(parse_environ(b"\0A=1\0"), vec![]);
        // Bytes that are not UTF-8 pass through untouched.
        assert_eq!(
            parse_environ(b"K\xff=\xfe\0"),
            vec![(b"K\xff".to_vec(), b"\xfe".to_vec())]
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = split_nul(&bytes);
            let _ = parse_environ(&bytes);
        }

        #[test]
        fn argv_round_trips(args in proptest::collection::vec(
            proptest::collection::vec(1u8..=255, 0..12), 1..6)
        ) {
            let mut buf = Vec::new();
            for a in &args {
                buf.extend_from_slice(a);
                buf.push(0);
            }
            prop_assert_eq!(split_nul(&buf), args);
        }
    }
}
