//! `/proc/PID/stat` and `/proc/PID/task/TID/stat`.
//!
//! The second field, `(comm)`, may itself contain spaces and parentheses (a process can
//! name itself `a) b (c`), so the name ends at the *last* `)` of the line.

use super::text::trim;
use super::{parse_i64, parse_u64};

/// The fields of a `stat` line that corral uses. Times are in clock ticks, sizes in
/// bytes or pages as noted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// Field 1.
    pub pid: u32,
    /// Field 2, without the parentheses (at most 15 bytes, may be any bytes but NUL).
    pub comm: Vec<u8>,
    /// Field 3, the state letter.
    pub state: u8,
    /// Field 4.
    pub ppid: u32,
    /// Field 5.
    pub pgrp: u32,
    /// Field 6.
    pub session: u32,
    /// Field 7: controlling terminal device number (0 for none).
    pub tty_nr: u32,
    /// Field 9: kernel flags (`PF_*`); `PF_KTHREAD` = 0x0020_0000 marks kernel threads.
    pub flags: u32,
    /// Field 10.
    pub minflt: u64,
    /// Field 11.
    pub cminflt: u64,
    /// Field 12.
    pub majflt: u64,
    /// Field 13.
    pub cmajflt: u64,
    /// Field 14, ticks.
    pub utime: u64,
    /// Field 15, ticks.
    pub stime: u64,
    /// Field 16, ticks.
    pub cutime: u64,
    /// Field 17, ticks.
    pub cstime: u64,
    /// Field 18.
    pub priority: i64,
    /// Field 19.
    pub nice: i64,
    /// Field 20.
    pub num_threads: u64,
    /// Field 22: start time in ticks after boot.
    pub starttime: u64,
    /// Field 23: virtual size in bytes.
    pub vsize: u64,
    /// Field 24: resident set in pages.
    pub rss_pages: u64,
    /// Field 39: CPU last run on.
    pub processor: Option<u32>,
    /// Field 40: real-time priority (1..=99 for real-time policies, else 0).
    pub rt_priority: Option<u32>,
    /// Field 41: scheduling policy.
    pub policy: Option<u32>,
    /// Field 42: aggregated block-I/O delay, ticks.
    pub delayacct_blkio_ticks: Option<u64>,
    /// Field 52: the exit status in `waitpid` form, kept while the process is a zombie
    /// (shown only to callers allowed to ptrace-read the process; 0 otherwise).
    pub exit_code: Option<i32>,
}

/// `PF_KTHREAD`: the task is a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Parses one `stat` line. Returns `None` for anything that is not a well-formed line
/// (truncated, no parentheses, non-numeric fields); fields after `starttime`..`rss`
/// that an old kernel omits come back as `None`.
pub fn parse(buf: &[u8]) -> Option<Stat> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = parse_u64(trim(&buf[..open]))?;
    let comm = buf[open + 1..close].to_vec();
    let rest = buf.get(close + 1..)?;
    let mut it = rest
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    // Field 3 onward.
    let state_f = it.next()?;
    if state_f.len() != 1 {
        return None;
    }
    let mut f = [&b""[..]; 49];
    let mut n = 0;
    for field in it.by_ref() {
        if n == f.len() {
            break;
        }
        f[n] = field;
        n += 1;
    }
    // f[0] is field 4 (ppid) ... f[k] is field k+4. Need up to field 24 (index 20).
    if n < 21 {
        return None;
    }
    let u = |i: usize| parse_u64(f[i]);
    let opt = |i: usize| if i < n { parse_u64(f[i]) } else { None };
    Some(Stat {
        pid: u32::try_from(pid).ok()?,
        comm,
        state: state_f[0],
        ppid: u32::try_from(u(0)?).ok()?,
        pgrp: parse_i64(f[1]).map(|v| v.max(0) as u32)?,
        session: parse_i64(f[2]).map(|v| v.max(0) as u32)?,
        tty_nr: parse_i64(f[3]).map(|v| v as u32)?,
        flags: u32::try_from(u(5)?).ok()?,
        minflt: u(6)?,
        cminflt: u(7)?,
        majflt: u(8)?,
        cmajflt: u(9)?,
        utime: u(10)?,
        stime: u(11)?,
        cutime: parse_i64(f[12]).map(|v| v.max(0) as u64)?,
        cstime: parse_i64(f[13]).map(|v| v.max(0) as u64)?,
        priority: parse_i64(f[14])?,
        nice: parse_i64(f[15])?,
        num_threads: parse_i64(f[16]).map(|v| v.max(0) as u64)?,
        starttime: u(18)?,
        vsize: u(19)?,
        rss_pages: parse_i64(f[20]).map(|v| v.max(0) as u64)?,
        processor: opt(35).and_then(|v| u32::try_from(v).ok()),
        rt_priority: opt(36).and_then(|v| u32::try_from(v).ok()),
        policy: opt(37).and_then(|v| u32::try_from(v).ok()),
        delayacct_blkio_ticks: opt(38),
        exit_code: if n > 48 {
            parse_i64(f[48]).and_then(|v| i32::try_from(v).ok())
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASH: &[u8] = b"4242 (bash) S 4241 4242 4242 34816 4300 4194560 1811 5421 0 3 3 1 7 2 20 0 1 0 2519 9105408 1311 18446744073709551615 1 1 0 0 0 0 65536 3686404 1266761467 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn ordinary_line() {
        let s = parse(BASH).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, b"bash");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 4241);
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.session, 4242);
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.minflt, 1811);
        assert_eq!(s.cminflt, 5421);
        assert_eq!(s.majflt, 0);
        assert_eq!(s.cmajflt, 3);
        assert_eq!(s.utime, 3);
        assert_eq!(s.stime, 1);
        assert_eq!(s.cutime, 7);
        assert_eq!(s.cstime, 2);
        assert_eq!(s.priority, 20);
        assert_eq!(s.nice, 0);
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.starttime, 2519);
        assert_eq!(s.vsize, 9105408);
        assert_eq!(s.rss_pages, 1311);
        assert_eq!(s.processor, Some(1));
        assert_eq!(s.policy, Some(0));
        assert_eq!(s.delayacct_blkio_ticks, Some(0));
        assert_eq!(s.exit_code, Some(0));
    }

    #[test]
    fn hostile_comm() {
        let line = b"77 (a) b (c) R 1 77 77 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        let s = parse(line).unwrap();
        assert_eq!(s.comm, b"a) b (c");
        assert_eq!(s.state, b'R');
        assert_eq!(s.ppid, 1);
        let line = b"78 (x\ny) S 1 78 78 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n";
        assert_eq!(parse(line).unwrap().comm, b"x\ny");
        let line = b"79 () S 1 79 79 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n";
        assert_eq!(parse(line).unwrap().comm, b"");
    }

    #[test]
    fn kernel_thread_and_zombie() {
        let kt = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0\n";
        let s = parse(kt).unwrap();
        assert_eq!(s.ppid, 0);
        assert!(s.flags & PF_KTHREAD != 0);
        let z = b"900 (defunct thing) Z 1 900 900 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse(z).unwrap();
        assert_eq!(s.state, b'Z');
        assert_eq!(s.exit_code, None, "an old kernel's line without field 52");
        let z52 = b"901 (z) Z 1 901 901 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 1792\n";
        assert_eq!(parse(z52).unwrap().exit_code, Some(7 << 8));
        assert_eq!(s.vsize, 0);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"12 bash S 1"), None);
        assert_eq!(parse(b"12 (bash) S 1 2 3"), None);
        assert_eq!(
            parse(b"x (bash) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"),
            None
        );
        assert_eq!(
            parse(b"12 )bash( S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"),
            None
        );
        assert_eq!(
            parse(b"12 (bash) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"),
            None
        );
        // Truncated in the middle of the number fields.
        assert_eq!(parse(&BASH[..80]), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_comm_round_trips(comm in proptest::collection::vec(1u8..=255, 0..16)) {
            let mut line = b"5 (".to_vec();
            line.extend_from_slice(&comm);
            line.extend_from_slice(b") S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n");
            let s = parse(&line).unwrap();
            prop_assert_eq!(s.comm, comm);
        }
    }
}
