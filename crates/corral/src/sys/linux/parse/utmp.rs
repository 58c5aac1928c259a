//! The binary `utmp` file (`/var/run/utmp`): who is logged in.
//!
//! The file is an array of glibc `struct utmp` records, 384 bytes each on x86 and
//! x86_64 (where `ut_tv` is two 32-bit fields for compatibility with 32-bit programs),
//! in the machine's byte order:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 2 | `ut_type` (7 = `USER_PROCESS`) |
//! | 4 | 4 | `ut_pid` |
//! | 8 | 32 | `ut_line`: terminal, without `/dev/` |
//! | 40 | 4 | `ut_id` |
//! | 44 | 32 | `ut_user` |
//! | 76 | 256 | `ut_host` |
//! | 332 | 4 | `ut_exit` |
//! | 336 | 4 | `ut_session` |
//! | 340 | 4 | `ut_tv.tv_sec` |
//! | 344 | 4 | `ut_tv.tv_usec` |
//! | 348 | 16 | `ut_addr_v6` |
//! | 364 | 20 | reserved |
//!
//! String fields are NUL-padded but not necessarily NUL-terminated when full.

/// The size of one record.
pub const RECORD_SIZE: usize = 384;

/// `ut_type` of a record for a logged-in user.
pub const USER_PROCESS: i16 = 7;

/// One utmp record, the fields corral uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UtmpRecord {
    /// `ut_type`.
    pub kind: i16,
    /// `ut_pid`: the login process.
    pub pid: i32,
    /// `ut_line` up to its first NUL: the terminal (`pts/0`, `tty1`, `:0`).
    pub line: Vec<u8>,
    /// `ut_user` up to its first NUL.
    pub user: Vec<u8>,
    /// `ut_host` up to its first NUL: the remote host or display, empty for local logins.
    pub host: Vec<u8>,
    /// `ut_tv.tv_sec`: login time in Unix seconds (read as unsigned, as glibc 2.40+ does,
    /// which carries it past 2038).
    pub tv_sec: u32,
    /// `ut_tv.tv_usec`.
    pub tv_usec: u32,
}

fn cstr(b: &[u8]) -> Vec<u8> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b[..end].to_vec()
}

fn ne_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(a)
}

/// Parses one 384-byte record; `None` if `rec` is not exactly that long.
pub fn parse_record(rec: &[u8]) -> Option<UtmpRecord> {
    if rec.len() != RECORD_SIZE {
        return None;
    }
    Some(UtmpRecord {
        kind: i16::from_ne_bytes([rec[0], rec[1]]),
        pid: ne_u32(rec, 4) as i32,
        line: cstr(&rec[8..40]),
        user: cstr(&rec[44..76]),
        host: cstr(&rec[76..332]),
        tv_sec: ne_u32(rec, 340),
        tv_usec: ne_u32(rec, 344),
    })
}

/// Parses every whole record of a utmp file, in file order. A trailing partial record
/// (a writer caught mid-append) is ignored.
pub fn parse_utmp(buf: &[u8]) -> Vec<UtmpRecord> {
    buf.chunks_exact(RECORD_SIZE)
        .filter_map(parse_record)
        .collect()
}

/// The records of logged-in users: `USER_PROCESS` with a non-empty user name.
pub fn user_records(buf: &[u8]) -> Vec<UtmpRecord> {
    parse_utmp(buf)
        .into_iter()
        .filter(|r| r.kind == USER_PROCESS && !r.user.is_empty())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds one record the way glibc's `pututline` lays it out.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        kind: i16,
        pid: i32,
        line: &[u8],
        id: &[u8],
        user: &[u8],
        host: &[u8],
        sec: u32,
        usec: u32,
    ) -> Vec<u8> {
        let mut r = vec![0u8; RECORD_SIZE];
        r[0..2].copy_from_slice(&kind.to_ne_bytes());
        r[4..8].copy_from_slice(&pid.to_ne_bytes());
        r[8..8 + line.len()].copy_from_slice(line);
        r[40..40 + id.len()].copy_from_slice(id);
        r[44..44 + user.len()].copy_from_slice(user);
        r[76..76 + host.len()].copy_from_slice(host);
        r[336..340].copy_from_slice(&1234i32.to_ne_bytes());
        r[340..344].copy_from_slice(&sec.to_ne_bytes());
        r[344..348].copy_from_slice(&usec.to_ne_bytes());
        r[348..352].copy_from_slice(&[192, 168, 1, 2]);
        r
    }

    /// A small utmp file: boot time, runlevel, a getty, two logged-in users (one with a
    /// full-width unterminated name), a dead process.
    pub(crate) fn fixture() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend(record(
            2,
            0,
            b"~",
            b"~~",
            b"reboot",
            b"6.18.44",
            1_795_421_716,
            0,
        ));
        f.extend(record(
            1,
            20019,
            b"~",
            b"~~",
            b"runlevel",
            b"6.18.44",
            1_795_421_720,
            0,
        ));
        f.extend(record(
            6,
            812,
            b"tty1",
            b"tty1",
            b"LOGIN",
            b"",
            1_795_421_730,
            5,
        ));
        f.extend(record(
            7,
            4242,
            b"pts/0",
            b"ts/0",
            b"alice",
            b"192.168.1.2",
            1_795_422_000,
            250_000,
        ));
        f.extend(record(
            7,
            4300,
            b"tty2",
            b"tty2",
            &[b'b'; 32],
            b"",
            4_000_000_000,
            0,
        ));
        f.extend(record(
            8,
            4100,
            b"pts/1",
            b"ts/1",
            b"",
            b"",
            1_795_421_900,
            0,
        ));
        f
    }

    #[test]
    fn records() {
        let all = parse_utmp(&fixture());
        assert_eq!(all.len(), 6);
        assert_eq!(all[0].kind, 2);
        assert_eq!(all[0].user, b"reboot");
        assert_eq!(all[2].line, b"tty1");
        let users = user_records(&fixture());
        assert_eq!(users.len(), 2);
        assert_eq!(
            users[0],
            UtmpRecord {
                kind: USER_PROCESS,
                pid: 4242,
                line: b"pts/0".to_vec(),
                user: b"alice".to_vec(),
                host: b"192.168.1.2".to_vec(),
                tv_sec: 1_795_422_000,
                tv_usec: 250_000,
            }
        );
        assert_eq!(users[1].user, vec![b'b'; 32]);
        assert_eq!(users[1].host, b"");
        assert_eq!(users[1].tv_sec, 4_000_000_000);
    }

    #[test]
    fn partial_and_empty() {
        assert!(parse_utmp(b"").is_empty());
        let mut f = fixture();
        f.truncate(f.len() - 1);
        assert_eq!(parse_utmp(&f).len(), 5);
        assert_eq!(parse_record(&f[..RECORD_SIZE - 1]), None);
        assert!(parse_utmp(&[0u8; RECORD_SIZE - 1]).is_empty());
        // An all-zero record is EMPTY (type 0), not a user.
        assert_eq!(parse_utmp(&[0u8; RECORD_SIZE]).len(), 1);
        assert!(user_records(&[0u8; RECORD_SIZE]).is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let n = parse_utmp(&bytes).len();
            prop_assert_eq!(n, bytes.len() / RECORD_SIZE);
            let _ = user_records(&bytes);
        }
    }
}
