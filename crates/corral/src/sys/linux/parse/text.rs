//! Small byte-string helpers shared by the parsers: trimming, line splitting, hex.
//!
//! Every helper is total: it returns `None` or an empty slice instead of panicking.

/// Removes leading and trailing ASCII whitespace (space, tab, newline, CR, FF).
pub fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Iterates over the lines of `buf`, without their `\n`; a final line without `\n` is
/// yielded too, an empty buffer yields nothing.
pub fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = buf.strip_suffix(b"\n").unwrap_or(buf);
    let empty = buf.is_empty();
    body.split(|&c| c == b'\n').filter(move |_| !empty)
}

/// Splits `b` into fields separated by runs of ASCII whitespace.
pub fn fields(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|c| c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
}

/// Takes the next space- or tab-separated field off the front of `rest`, leaving `rest`
/// just after it (so the caller can still see the exact spacing that follows).
pub fn next_field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let start = rest.iter().position(|c| !blank(c))?;
    let len = rest[start..]
        .iter()
        .position(blank)
        .unwrap_or(rest.len() - start);
    let field = &rest[start..start + len];
    *rest = &rest[start + len..];
    Some(field)
}

/// Splits a `Key: value` line at its first `:`, returning the key and the trimmed value.
pub fn key_value(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&c| c == b':')?;
    Some((&line[..colon], trim(&line[colon + 1..])))
}

/// Parses an unsigned hexadecimal number (no `0x` prefix, either case, at most 16 digits).
pub fn parse_hex_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        let d = (c as char).to_digit(16)?;
        n = (n << 4) | u64::from(d);
    }
    Some(n)
}

/// Parses an unsigned octal number (a leading `0` is allowed, at most 22 digits).
pub fn parse_octal_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 22 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        n = n.checked_mul(8)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// Parses a `N kB` size as the kernel prints it in `status`, `smaps` and `meminfo`, in
/// bytes; the unit must be `kB` (a bare number is refused) and overflow gives `None`.
pub fn parse_kb(value: &[u8]) -> Option<u64> {
    let mut it = fields(value);
    let n = super::parse_u64(it.next()?)?;
    if it.next()? != b"kB" || it.next().is_some() {
        return None;
    }
    n.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trimming_and_lines() {
        assert_eq!(trim(b"  a b\t\n"), b"a b");
        assert_eq!(trim(b" \n "), b"");
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").collect::<Vec<_>>(), vec![&b""[..]]);
        assert_eq!(
            lines(b"a\nb").collect::<Vec<_>>(),
            vec![&b"a"[..], &b"b"[..]]
        );
        assert_eq!(
            lines(b"a\n\nb\n").collect::<Vec<_>>(),
            vec![&b"a"[..], &b""[..], &b"b"[..]]
        );
        assert_eq!(
            fields(b" 1\t 2  3\n").collect::<Vec<_>>(),
            vec![&b"1"[..], &b"2"[..], &b"3"[..]]
        );
        assert_eq!(key_value(b"Uid:\t1\t2"), Some((&b"Uid"[..], &b"1\t2"[..])));
        assert_eq!(key_value(b"no colon"), None);
        let mut rest = &b"  a\tbb  c "[..];
        assert_eq!(next_field(&mut rest), Some(&b"a"[..]));
        assert_eq!(next_field(&mut rest), Some(&b"bb"[..]));
        assert_eq!(rest, b"  c ");
        assert_eq!(next_field(&mut rest), Some(&b"c"[..]));
        assert_eq!(rest, b" ");
        assert_eq!(next_field(&mut rest), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_hex_u64(b"0A"), Some(10));
        assert_eq!(parse_hex_u64(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_hex_u64(b"1ffffffffffffffff"), None);
        assert_eq!(parse_hex_u64(b""), None);
        assert_eq!(parse_hex_u64(b"0x1"), None);
        assert_eq!(parse_hex_u64(b"+1"), None);
        assert_eq!(parse_octal_u64(b"0102001"), Some(0o102001));
        assert_eq!(parse_octal_u64(b"8"), None);
        assert_eq!(parse_octal_u64(b"1777777777777777777777"), Some(u64::MAX));
        assert_eq!(parse_octal_u64(b"2000000000000000000000"), None);
        assert_eq!(parse_kb(b"   1528 kB"), Some(1528 * 1024));
        assert_eq!(parse_kb(b"0 kB"), Some(0));
        assert_eq!(parse_kb(b"12"), None);
        assert_eq!(parse_kb(b"12 MB"), None);
        assert_eq!(parse_kb(b"12 kB x"), None);
        assert_eq!(parse_kb(b"18014398509481984 kB"), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = trim(&bytes);
            let _ = lines(&bytes).count();
            let _ = fields(&bytes).count();
            let _ = key_value(&bytes);
            let mut rest = &bytes[..];
            while next_field(&mut rest).is_some() {}
            let _ = parse_hex_u64(&bytes);
            let _ = parse_octal_u64(&bytes);
            let _ = parse_kb(&bytes);
        }
    }
}
