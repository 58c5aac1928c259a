//! Command lines: Windows passes one string, and the C runtime of the child (MSVCRT,
//! UCRT, and Rust's own `std::env::args`, which follows them) splits it into argv. This
//! module quotes each argument so that the split gives it back exactly, and implements
//! that split (for `Process::cmdline` and for the round-trip tests).
//!
//! The rules of the split (everything after argv\[0\]):
//! - arguments are separated by spaces and tabs outside double quotes;
//! - `"` opens or closes a quoted region (inside one, `""` is a literal `"`);
//! - `2n` backslashes before a `"` are `n` backslashes and the `"` is a quote mark;
//!   `2n + 1` backslashes before a `"` are `n` backslashes and a literal `"`;
//! - backslashes not followed by `"` are literal.
//!
//! argv\[0\] is read differently: up to the next `"` if it starts with one (no escapes),
//! else up to the first space or tab.
//!
//! Quoting: an argument that is not empty and has no space, tab, newline, vertical tab
//! or `"` is passed as is. Otherwise it is wrapped in `"`; each `"` inside is preceded by
//! a backslash, and every run of backslashes before a `"` or before the closing quote is
//! doubled.
//!
//! Batch files (`.bat`, `.cmd`) run under cmd.exe, which parses their arguments with its
//! own rules (the 2024 "BatBadBut" class of injections): [`bat_command_line`] quotes and
//! escapes them the way std does since 1.77.2 and refuses what cannot be passed safely.

use std::ffi::{OsStr, OsString};
use std::os::windows::ffi::{OsStrExt, OsStringExt};

const QUOTE: u16 = b'"' as u16;
const BACKSLASH: u16 = b'\\' as u16;
const SPACE: u16 = b' ' as u16;
const TAB: u16 = b'\t' as u16;

/// Appends `arg`, quoted for the C runtime's split, to `out` (no separator).
pub(crate) fn quote_into(arg: &OsStr, out: &mut Vec<u16>) {
    let w: Vec<u16> = arg.encode_wide().collect();
    let plain = !w.is_empty()
        && !w
            .iter()
            .any(|&c| c == SPACE || c == TAB || c == b'\n' as u16 || c == 0x0b || c == QUOTE);
    if plain {
        out.extend_from_slice(&w);
        return;
    }
    out.push(QUOTE);
    let mut backslashes = 0usize;
    for &c in &w {
        if c == BACKSLASH {
            backslashes += 1;
            continue;
        }
        if c == QUOTE {
            // n backslashes before a quote: 2n + 1, then the quote.
            out.extend(std::iter::repeat_n(BACKSLASH, backslashes * 2 + 1));
        } else {
            out.extend(std::iter::repeat_n(BACKSLASH, backslashes));
        }
        backslashes = 0;
        out.push(c);
    }
    // Backslashes before the closing quote are doubled so it stays a quote mark.
    out.extend(std::iter::repeat_n(BACKSLASH, backslashes * 2));
    out.push(QUOTE);
}

/// One argument quoted for the C runtime's split.
#[cfg(test)]
pub(crate) fn quote(arg: &OsStr) -> OsString {
    let mut v = Vec::new();
    quote_into(arg, &mut v);
    OsString::from_wide(&v)
}

/// A whole command line: `program` (quoted as argv\[0\] is read) and the arguments.
pub(crate) fn command_line(program: &OsStr, args: &[&OsStr]) -> Vec<u16> {
    let mut out = Vec::new();
    out.push(QUOTE);
    out.extend(program.encode_wide());
    out.push(QUOTE);
    for a in args {
        out.push(SPACE);
        quote_into(a, &mut out);
    }
    out
}

/// The command line that runs batch file `script` with `args` through
/// `cmd.exe /e:ON /v:OFF /d /c "…"` (command extensions on for the `%` escape, delayed
/// expansion off, no AutoRun). Each argument is quoted when it is empty, ends with `\`,
/// or has any ASCII character other than letters, digits and `#$*+-./:?@\_` (or a
/// control character); inside, `"` is doubled (after doubling the backslashes before
/// it) and `%` becomes `%%cd:~,%` (an empty substring of `%cd%`, so cmd.exe expands no
/// variable). Arguments with CR, LF or NUL cannot be passed and give `Err`, as does a
/// script path with `"` or a trailing `\`.
pub(crate) fn bat_command_line(script: &[u16], args: &[&OsStr]) -> Result<Vec<u16>, String> {
    if script.contains(&QUOTE) || script.last() == Some(&BACKSLASH) {
        return Err("a batch file path cannot contain '\"' or end with '\\'".into());
    }
    let mut out: Vec<u16> = "cmd.exe /e:ON /v:OFF /d /c \"\"".encode_utf16().collect();
    out.extend_from_slice(script);
    out.push(QUOTE);
    for a in args {
        out.push(SPACE);
        append_bat_arg(a, &mut out)?;
    }
    out.push(QUOTE);
    Ok(out)
}

fn append_bat_arg(arg: &OsStr, out: &mut Vec<u16>) -> Result<(), String> {
    let w: Vec<u16> = arg.encode_wide().collect();
    if w.iter()
        .any(|&c| c == 0 || c == u16::from(b'\r') || c == u16::from(b'\n'))
    {
        return Err(format!(
            "argument {arg:?} has a CR, LF or NUL, which cannot be passed to a batch file"
        ));
    }
    const UNQUOTED: &str = r"#$*+-./:?@\_";
    let mut quote = w.is_empty() || w.last() == Some(&BACKSLASH);
    for c in char::decode_utf16(w.iter().copied()).flatten() {
        if (c.is_ascii() && !(c.is_ascii_alphanumeric() || UNQUOTED.contains(c))) || c.is_control()
        {
            quote = true;
        }
    }
    if quote {
        out.push(QUOTE);
    }
    let mut backslashes = 0usize;
    for &c in &w {
        if c == BACKSLASH {
            backslashes += 1;
        } else {
            if c == QUOTE {
                // 2n backslashes, then `""`: cmd.exe and the C runtime read one `"`.
                out.extend(std::iter::repeat_n(BACKSLASH, backslashes));
                out.push(QUOTE);
            } else if c == u16::from(b'%') {
                out.extend("%%cd:~,".encode_utf16());
            }
            backslashes = 0;
        }
        out.push(c);
    }
    if quote {
        out.extend(std::iter::repeat_n(BACKSLASH, backslashes));
        out.push(QUOTE);
    }
    Ok(())
}

/// Whether `program` names a batch file (cmd.exe parses its arguments).
pub(crate) fn is_batch(program: &OsStr) -> bool {
    let w: Vec<u16> = program.encode_wide().collect();
    let lower: String = String::from_utf16_lossy(&w)
        .trim_end_matches([' ', '.'])
        .to_ascii_lowercase();
    lower.ends_with(".bat") || lower.ends_with(".cmd")
}

/// Splits a command line as the C runtime does (see the module docs).
pub(crate) fn split(line: &[u16]) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    // argv[0]
    let mut cur = Vec::new();
    if n > 0 && line[0] == QUOTE {
        i = 1;
        while i < n && line[i] != QUOTE {
            cur.push(line[i]);
            i += 1;
        }
        i += 1; // the closing quote
    } else {
        while i < n && line[i] != SPACE && line[i] != TAB {
            cur.push(line[i]);
            i += 1;
        }
    }
    if n == 0 {
        return args;
    }
    args.push(OsString::from_wide(&cur));
    loop {
        while i < n && (line[i] == SPACE || line[i] == TAB) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let mut cur = Vec::new();
        let mut in_quotes = false;
        while i < n {
            let c = line[i];
            if c == BACKSLASH {
                let start = i;
                while i < n && line[i] == BACKSLASH {
                    i += 1;
                }
                let count = i - start;
                if i < n && line[i] == QUOTE {
                    cur.extend(std::iter::repeat_n(BACKSLASH, count / 2));
                    if count % 2 == 1 {
                        cur.push(QUOTE);
                        i += 1;
                    }
                } else {
                    cur.extend(std::iter::repeat_n(BACKSLASH, count));
                }
                continue;
            }
            if c == QUOTE {
                if in_quotes && i + 1 < n && line[i + 1] == QUOTE {
                    // `""` inside quotes: a literal quote (post-2008 runtimes).
                    cur.push(QUOTE);
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
                i += 1;
                continue;
            }
            if !in_quotes && (c == SPACE || c == TAB) {
                break;
            }
            cur.push(c);
            i += 1;
        }
        args.push(OsString::from_wide(&cur));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments that break naive quoting.
    pub(crate) const HOSTILE: &[&str] = &[
        "",
        " ",
        "a b",
        "\"",
        "\"\"",
        "a\"b",
        "\\",
        "\\\\",
        "a\\",
        "a\\\\",
        "a b\\",
        "a b\\\\",
        "\\\"",
        "\\\\\"",
        "C:\\Program Files\\x\\",
        "\"quoted\"",
        "\ttab",
        "new\nline",
        "%PATH%",
        "^&|<>()",
        "ünï cødé ✓",
        "x\"y\\\"z\\\\",
        "-flag=\"a b\"",
    ];

    #[test]
    fn quotes_round_trip_through_the_split() {
        let program = OsStr::new("C:\\dir with space\\prog.exe");
        let args: Vec<&OsStr> = HOSTILE.iter().map(OsStr::new).collect();
        let line = command_line(program, &args);
        let back = split(&line);
        assert_eq!(back[0], program);
        assert_eq!(
            back.len(),
            args.len() + 1,
            "{}",
            String::from_utf16_lossy(&line)
        );
        for (a, b) in args.iter().zip(&back[1..]) {
            assert_eq!(a, b, "line {}", String::from_utf16_lossy(&line));
        }
    }

    #[test]
    fn each_hostile_arg_alone() {
        for a in HOSTILE {
            let line = command_line(OsStr::new("p"), &[OsStr::new(a)]);
            let back = split(&line);
            assert_eq!(back, vec![OsString::from("p"), OsString::from(a)], "{a:?}");
        }
    }

    #[test]
    fn known_quotings() {
        let q = |s: &str| quote(OsStr::new(s)).into_string().unwrap();
        assert_eq!(q("plain"), "plain");
        assert_eq!(q(""), "\"\"");
        assert_eq!(q("a b"), "\"a b\"");
        assert_eq!(q("a\"b"), "\"a\\\"b\"");
        assert_eq!(q("a b\\"), "\"a b\\\\\"");
        assert_eq!(q("a\\b"), "a\\b");
        assert_eq!(q("a\\\"b"), "\"a\\\\\\\"b\"");
    }

    #[test]
    fn splits_like_the_c_runtime() {
        // Examples from Microsoft's "Parsing C command-line arguments" table.
        let s = |l: &str| -> Vec<String> {
            let w: Vec<u16> = l.encode_utf16().collect();
            split(&w)
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect()
        };
        assert_eq!(s("p \"a b c\" d e"), ["p", "a b c", "d", "e"]);
        assert_eq!(s("p \"ab\\\"c\" \"\\\\\" d"), ["p", "ab\"c", "\\", "d"]);
        assert_eq!(s("p a\\\\\\b d\"e f\"g h"), ["p", "a\\\\\\b", "de fg", "h"]);
        assert_eq!(s("p a\\\\\\\"b c d"), ["p", "a\\\"b", "c", "d"]);
        assert_eq!(s("p a\\\\\\\\\"b c\" d e"), ["p", "a\\\\b c", "d", "e"]);
        assert_eq!(s("p a\"b\"\" c d"), ["p", "ab\" c d"]);
        assert_eq!(s("\"C:\\a b\\p.exe\" x"), ["C:\\a b\\p.exe", "x"]);
        assert!(split(&[]).is_empty());
    }

    #[test]
    fn batch_arguments_are_escaped_for_cmd() {
        let line = |args: &[&str]| -> Result<String, String> {
            let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            let script: Vec<u16> = "C:\\t\\x.bat".encode_utf16().collect();
            bat_command_line(&script, &a).map(|l| String::from_utf16(&l).unwrap())
        };
        let pre = "cmd.exe /e:ON /v:OFF /d /c \"\"C:\\t\\x.bat\"";
        assert_eq!(
            line(&["plain", "a-b.c"]).unwrap(),
            format!("{pre} plain a-b.c\"")
        );
        assert_eq!(line(&["a&b"]).unwrap(), format!("{pre} \"a&b\"\""));
        assert_eq!(line(&[""]).unwrap(), format!("{pre} \"\"\""));
        assert_eq!(
            line(&["%PATH%"]).unwrap(),
            format!("{pre} \"%%cd:~,%PATH%%cd:~,%\"\"")
        );
        assert_eq!(
            line(&["\"&calc"]).unwrap(),
            format!("{pre} \"\"\"&calc\"\"")
        );
        assert_eq!(line(&["a\\"]).unwrap(), format!("{pre} \"a\\\\\"\""));
        for bad in ["a\nb", "a\rb", "a\0b"] {
            assert!(line(&[bad]).is_err(), "{bad:?}");
        }
        let script: Vec<u16> = "C:\\t\\".encode_utf16().collect();
        assert!(bat_command_line(&script, &[]).is_err());
    }

    #[test]
    fn batch_files_are_recognised() {
        for p in ["a.bat", "A.CMD", "x\\y.Bat", "z.cmd. "] {
            assert!(is_batch(OsStr::new(p)), "{p}");
        }
        for p in ["a.exe", "bat", "cmd", "a.batx"] {
            assert!(!is_batch(OsStr::new(p)), "{p}");
        }
    }
}
