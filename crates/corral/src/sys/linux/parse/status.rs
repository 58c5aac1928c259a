//! `/proc/PID/status` and `/proc/PID/task/TID/status`.
//!
//! The file is one `Key:\tvalue` per line. The `Name:` value is the task's `comm` with
//! the kernel's escapes (`\n` for a newline, `\\` for a backslash; nothing else is
//! escaped, so it may hold tabs and spaces). Kernel threads and zombies have no `Vm*` /
//! `Rss*` lines, so those fields are `None` for them; so is any optional line whose value
//! is malformed.

use super::parse_u64;
use super::text::{fields, key_value, lines, parse_hex_u64, parse_kb, parse_octal_u64, trim};

/// The fields of a `status` file that corral uses; sizes are in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// `Name:` with the kernel's `\n` and `\\` escapes undone (the raw `comm` bytes).
    pub name: Vec<u8>,
    /// `Umask:` (octal in the file; absent before Linux 4.7).
    pub umask: Option<u32>,
    /// The letter of `State:` (`R`, `S`, `Z` …).
    pub state: u8,
    /// `Tgid:`: the process (thread-group) id.
    pub tgid: u32,
    /// `Pid:`: the thread id.
    pub pid: u32,
    /// `PPid:`.
    pub ppid: u32,
    /// `TracerPid:` (0 when not traced).
    pub tracer_pid: u32,
    /// `Uid:` real, effective, saved, filesystem.
    pub uids: [u32; 4],
    /// `Gid:` real, effective, saved, filesystem.
    pub gids: [u32; 4],
    /// `FDSize:`: slots allocated in the descriptor table.
    pub fd_size: Option<u64>,
    /// `Groups:`: supplementary groups (empty when none).
    pub groups: Vec<u32>,
    /// `VmPeak:`.
    pub vm_peak: Option<u64>,
    /// `VmSize:`.
    pub vm_size: Option<u64>,
    /// `VmLck:`.
    pub vm_lck: Option<u64>,
    /// `VmHWM:`: peak resident set.
    pub vm_hwm: Option<u64>,
    /// `VmRSS:`.
    pub vm_rss: Option<u64>,
    /// `RssAnon:`.
    pub rss_anon: Option<u64>,
    /// `RssFile:`.
    pub rss_file: Option<u64>,
    /// `RssShmem:`.
    pub rss_shmem: Option<u64>,
    /// `VmData:`.
    pub vm_data: Option<u64>,
    /// `VmStk:`.
    pub vm_stk: Option<u64>,
    /// `VmExe:`.
    pub vm_exe: Option<u64>,
    /// `VmLib:`.
    pub vm_lib: Option<u64>,
    /// `VmPTE:`.
    pub vm_pte: Option<u64>,
    /// `VmSwap:`.
    pub vm_swap: Option<u64>,
    /// `Threads:`.
    pub threads: Option<u64>,
    /// `SigPnd:` thread-pending signal mask (bit `n-1` is signal `n`).
    pub sig_pnd: Option<u64>,
    /// `ShdPnd:` process-pending signal mask.
    pub shd_pnd: Option<u64>,
    /// `SigBlk:` blocked signal mask.
    pub sig_blk: Option<u64>,
    /// `SigIgn:` ignored signal mask.
    pub sig_ign: Option<u64>,
    /// `SigCgt:` caught signal mask.
    pub sig_cgt: Option<u64>,
    /// `Cpus_allowed_list:` the CPU affinity.
    pub cpus_allowed_list: Option<Vec<u32>>,
    /// `Mems_allowed_list:` the NUMA nodes allowed.
    pub mems_allowed_list: Option<Vec<u32>>,
    /// `voluntary_ctxt_switches:`.
    pub voluntary_ctxt_switches: Option<u64>,
    /// `nonvoluntary_ctxt_switches:`.
    pub nonvoluntary_ctxt_switches: Option<u64>,
    /// `NSpid:` the thread id in each pid namespace, outermost first (empty before 4.1).
    pub nspid: Vec<u32>,
}

/// Parses a whole `status` file.
///
/// Returns `None` when a line the kernel always writes is missing or malformed: `Name`,
/// `State`, `Tgid`, `Pid`, `PPid`, `TracerPid`, `Uid`, `Gid`; also when `Groups` or
/// `NSpid` is malformed, since those fields have no "unknown" value. Any other line is
/// optional: missing or malformed, its field is `None`. Unknown lines are ignored.
pub fn parse(buf: &[u8]) -> Option<Status> {
    let mut s = Status::default();
    let (mut name, mut state, mut tgid, mut pid, mut ppid, mut tracer, mut uid, mut gid) =
        (false, false, false, false, false, false, false, false);
    for line in lines(buf) {
        // `Name` is taken verbatim (after the one tab) because it may hold whitespace.
        if let Some(raw) = line.strip_prefix(b"Name:") {
            s.name = unescape_name(raw.strip_prefix(b"\t").unwrap_or(raw));
            name = true;
            continue;
        }
        let Some((key, v)) = key_value(line) else {
            continue;
        };
        match key {
            b"State" => {
                s.state = *v.first()?;
                if !s.state.is_ascii_alphabetic() {
                    return None;
                }
                state = true;
            }
            b"Tgid" => (s.tgid, tgid) = (parse_u32(v)?, true),
            b"Pid" => (s.pid, pid) = (parse_u32(v)?, true),
            b"PPid" => (s.ppid, ppid) = (parse_u32(v)?, true),
            b"TracerPid" => (s.tracer_pid, tracer) = (parse_u32(v)?, true),
            b"Uid" => (s.uids, uid) = (parse_ids(v)?, true),
            b"Gid" => (s.gids, gid) = (parse_ids(v)?, true),
            b"Umask" => s.umask = parse_octal_u64(v).and_then(|n| u32::try_from(n).ok()),
            b"FDSize" => s.fd_size = parse_u64(v),
            b"Groups" => s.groups = fields(v).map(parse_u32).collect::<Option<_>>()?,
            b"NSpid" => s.nspid = fields(v).map(parse_u32).collect::<Option<_>>()?,
            b"VmPeak" => s.vm_peak = parse_kb(v),
            b"VmSize" => s.vm_size = parse_kb(v),
            b"VmLck" => s.vm_lck = parse_kb(v),
            b"VmHWM" => s.vm_hwm = parse_kb(v),
            b"VmRSS" => s.vm_rss = parse_kb(v),
            b"RssAnon" => s.rss_anon = parse_kb(v),
            b"RssFile" => s.rss_file = parse_kb(v),
            b"RssShmem" => s.rss_shmem = parse_kb(v),
            b"VmData" => s.vm_data = parse_kb(v),
            b"VmStk" => s.vm_stk = parse_kb(v),
            b"VmExe" => s.vm_exe = parse_kb(v),
            b"VmLib" => s.vm_lib = parse_kb(v),
            b"VmPTE" => s.vm_pte = parse_kb(v),
            b"VmSwap" => s.vm_swap = parse_kb(v),
            b"Threads" => s.threads = parse_u64(v),
            b"SigPnd" => s.sig_pnd = parse_hex_u64(v),
            b"ShdPnd" => s.shd_pnd = parse_hex_u64(v),
            b"SigBlk" => s.sig_blk = parse_hex_u64(v),
            b"SigIgn" => s.sig_ign = parse_hex_u64(v),
            b"SigCgt" => s.sig_cgt = parse_hex_u64(v),
            b"Cpus_allowed_list" => s.cpus_allowed_list = parse_cpu_list(v),
            b"Mems_allowed_list" => s.mems_allowed_list = parse_cpu_list(v),
            b"voluntary_ctxt_switches" => s.voluntary_ctxt_switches = parse_u64(v),
            b"nonvoluntary_ctxt_switches" => s.nonvoluntary_ctxt_switches = parse_u64(v),
            _ => {}
        }
    }
    (name && state && tgid && pid && ppid && tracer && uid && gid).then_some(s)
}

/// Finds the `Uid:` line and parses only it: the snapshot hot path's cheap owner check.
///
/// Gives the same answer as `parse(buf).map(|s| s.uids)` whenever the file is well formed,
/// without looking at the other lines.
pub fn parse_uids_only(buf: &[u8]) -> Option<[u32; 4]> {
    // `Name:` is always the first line and a newline in it is escaped, so every `Uid:`
    // line follows a real newline.
    const NEEDLE: &[u8] = b"\nUid:";
    let at = buf.windows(NEEDLE.len()).position(|w| w == NEEDLE)?;
    let rest = &buf[at + NEEDLE.len()..];
    let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
    parse_ids(trim(&rest[..end]))
}

/// Parses a CPU or NUMA-node list such as `0-3,8,10-11` into its members, in the order
/// listed (the kernel lists them ascending).
///
/// Surrounding whitespace is ignored and an empty list gives an empty vector. Returns
/// `None` for a malformed item, a reversed range (`3-1`), or more than 2^20 members in
/// all (no machine has that many CPUs; this bounds the allocation).
pub fn parse_cpu_list(s: &[u8]) -> Option<Vec<u32>> {
    const MAX: usize = 1 << 20;
    let s = trim(s);
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for item in s.split(|&c| c == b',') {
        let (lo, hi) = match item.iter().position(|&c| c == b'-') {
            Some(dash) => (parse_u32(&item[..dash])?, parse_u32(&item[dash + 1..])?),
            None => {
                let n = parse_u32(item)?;
                (n, n)
            }
        };
        if hi < lo || (hi - lo) as usize >= MAX - out.len() {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

/// Undoes the escapes `proc_task_name()` applies to `Name:` (`\n` and `\\`); any other
/// backslash sequence is kept as it is.
fn unescape_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1)) {
            (b'\\', Some(b'n')) => {
                out.push(b'\n');
                i += 2;
            }
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_u64(b).and_then(|n| u32::try_from(n).ok())
}

/// Parses the four ids of a `Uid:` or `Gid:` value; exactly four are required.
fn parse_ids(v: &[u8]) -> Option<[u32; 4]> {
    let mut it = fields(v);
    let mut ids = [0u32; 4];
    for id in &mut ids {
        *id = parse_u32(it.next()?)?;
    }
    it.next().is_none().then_some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CAT: &[u8] = include_bytes!("../../../../testdata/status_cat");
    const THREADS: &[u8] = include_bytes!("../../../../testdata/status_threads");
    const ZOMBIE: &[u8] = include_bytes!("../../../../testdata/status_zombie");
    const KTHREAD: &[u8] = include_bytes!("../../../../testdata/status_kthread");

    #[test]
    fn ordinary_process() {
        let s = parse(CAT).unwrap();
        assert_eq!(s.name, b"cat");
        assert_eq!(s.umask, Some(0o022));
        assert_eq!(s.state, b'R');
        assert_eq!((s.tgid, s.pid, s.ppid, s.tracer_pid), (6901, 6901, 6898, 0));
        assert_eq!(s.uids, [0; 4]);
        assert_eq!(s.gids, [0; 4]);
        assert_eq!(s.fd_size, Some(256));
        assert_eq!(s.groups, Vec::<u32>::new());
        assert_eq!(s.vm_peak, Some(3060 * 1024));
        assert_eq!(s.vm_size, Some(3060 * 1024));
        assert_eq!(s.vm_lck, Some(0));
        assert_eq!(s.vm_hwm, Some(1620 * 1024));
        assert_eq!(s.vm_rss, Some(1620 * 1024));
        assert_eq!(s.rss_anon, Some(108 * 1024));
        assert_eq!(s.rss_file, Some(1512 * 1024));
        assert_eq!(s.rss_shmem, Some(0));
        assert_eq!(s.vm_data, Some(360 * 1024));
        assert_eq!(s.vm_stk, Some(132 * 1024));
        assert_eq!(s.vm_exe, Some(20 * 1024));
        assert_eq!(s.vm_lib, Some(1528 * 1024));
        assert_eq!(s.vm_pte, Some(48 * 1024));
        assert_eq!(s.vm_swap, Some(0));
        assert_eq!(s.threads, Some(1));
        assert_eq!(s.sig_pnd, Some(0));
        assert_eq!(s.sig_cgt, Some(0));
        assert_eq!(s.cpus_allowed_list, Some(vec![0, 1]));
        assert_eq!(s.mems_allowed_list, Some(vec![0]));
        assert_eq!(s.voluntary_ctxt_switches, Some(0));
        assert_eq!(s.nonvoluntary_ctxt_switches, Some(1));
        assert_eq!(s.nspid, vec![6901]);
        assert_eq!(parse_uids_only(CAT), Some([0; 4]));
    }

    #[test]
    fn escaped_name_groups_signals_threads() {
        // Recorded from a helper that named itself "a\\b\nc d)" (prctl PR_SET_NAME), set
        // umask 027, joined groups 4 24 100, ignored SIGPIPE, caught SIGUSR1 (and glibc
        // SIGRTMIN... bit 32), blocked SIGUSR2+SIGTERM, raised SIGUSR2, and ran 3 threads.
        let s = parse(THREADS).unwrap();
        assert_eq!(s.name, b"a\\b\nc d)");
        assert_eq!(s.umask, Some(0o027));
        assert_eq!(s.state, b'R');
        assert_eq!((s.tgid, s.pid, s.ppid), (7046, 7046, 7037));
        assert_eq!(s.groups, vec![4, 24, 100]);
        assert_eq!(s.threads, Some(3));
        assert_eq!(s.sig_pnd, Some(1 << (12 - 1)));
        assert_eq!(s.shd_pnd, Some(0));
        assert_eq!(s.sig_blk, Some((1 << (12 - 1)) | (1 << (15 - 1))));
        assert_eq!(s.sig_ign, Some(1 << (13 - 1)));
        assert_eq!(s.sig_cgt, Some(0x0000_0001_0000_0200));
        assert_eq!(s.vm_size, Some(19204 * 1024));
        assert_eq!(s.vm_data, Some(16924 * 1024));
        assert_eq!(s.vm_exe, Some(4 * 1024));
        assert_eq!(s.nonvoluntary_ctxt_switches, Some(1));
    }

    #[test]
    fn zombie_and_kernel_thread_have_no_memory_lines() {
        let z = parse(ZOMBIE).unwrap();
        assert_eq!(z.state, b'Z');
        assert_eq!(z.name, b"a\\b\nc d)");
        assert_eq!(z.umask, None);
        assert_eq!((z.pid, z.ppid), (7049, 7046));
        assert_eq!(z.fd_size, Some(0));
        assert_eq!(z.vm_rss, None);
        assert_eq!(z.vm_swap, None);
        assert_eq!(z.rss_anon, None);
        assert_eq!(z.threads, Some(1));
        assert_eq!(z.voluntary_ctxt_switches, Some(1));

        let k = parse(KTHREAD).unwrap();
        assert_eq!(k.name, b"kthreadd");
        assert_eq!(k.state, b'S');
        assert_eq!((k.tgid, k.pid, k.ppid), (2, 2, 0));
        assert_eq!(k.vm_size, None);
        assert_eq!(k.vm_peak, None);
        assert_eq!(k.sig_ign, Some(u64::MAX));
        assert_eq!(k.nspid, vec![2]);
    }

    #[test]
    fn old_kernel_layout() {
        // 2.6-era: no Umask, no NSpid, no Rss* lines, groups without trailing space.
        let old = b"Name:\tbash\nState:\tS (sleeping)\nTgid:\t10\nPid:\t10\nPPid:\t1\n\
TracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nFDSize:\t64\n\
Groups:\t100 200\nVmRSS:\t    1024 kB\nThreads:\t1\n";
        let s = parse(old).unwrap();
        assert_eq!(s.umask, None);
        assert_eq!(s.uids, [1000; 4]);
        assert_eq!(s.gids, [100; 4]);
        assert_eq!(s.groups, vec![100, 200]);
        assert_eq!(s.vm_rss, Some(1024 * 1024));
        assert_eq!(s.rss_anon, None);
        assert_eq!(s.nspid, Vec::<u32>::new());
        assert_eq!(s.cpus_allowed_list, None);
        assert_eq!(parse_uids_only(old), Some([1000; 4]));
    }

    #[test]
    fn name_escapes_and_whitespace() {
        let with = |name: &[u8]| {
            let mut b = b"Name:\t".to_vec();
            b.extend_from_slice(name);
            b.extend_from_slice(&CAT[CAT.iter().position(|&c| c == b'\n').unwrap()..]);
            parse(&b).unwrap().name
        };
        assert_eq!(with(b"a\\nb"), b"a\nb");
        assert_eq!(with(b"a\\\\nb"), b"a\\nb");
        assert_eq!(with(b" tab\there "), b" tab\there ");
        assert_eq!(with(b"Uid:"), b"Uid:");
        assert_eq!(with(b""), b"");
        assert_eq!(with(b"trailing\\"), b"trailing\\");
        assert_eq!(with(b"odd\\x"), b"odd\\x");
    }

    #[test]
    fn required_lines() {
        assert_eq!(parse(b""), None);
        for key in [
            "Name:",
            "State:",
            "Tgid:",
            "Pid:",
            "PPid:",
            "TracerPid:",
            "Uid:",
            "Gid:",
        ] {
            let text = std::str::from_utf8(CAT).unwrap();
            let without: String = text
                .lines()
                .filter(|l| !l.starts_with(key))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(parse(without.as_bytes()), None, "without {key}");
        }
        let bad = |from: &str, to: &str| {
            let text = std::str::from_utf8(CAT).unwrap().replacen(from, to, 1);
            parse(text.as_bytes())
        };
        assert_eq!(bad("Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0"), None);
        assert_eq!(bad("Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0\t0\t0"), None);
        assert_eq!(bad("Gid:\t0\t0\t0\t0", "Gid:\t0\tx\t0\t0"), None);
        assert_eq!(bad("Pid:\t6901", "Pid:\t4294967296"), None);
        assert_eq!(bad("PPid:\t6898", "PPid:\t-1"), None);
        assert_eq!(bad("State:\tR (running)", "State:\t"), None);
        assert_eq!(bad("State:\tR (running)", "State:\t? (what)"), None);
        assert_eq!(bad("Groups:\t \n", "Groups:\t1 x\n"), None);
        // Optional lines that are malformed become None, the rest still parses.
        let s = bad("VmRSS:\t    1620 kB", "VmRSS:\t    1620").unwrap();
        assert_eq!(s.vm_rss, None);
        assert_eq!(s.vm_hwm, Some(1620 * 1024));
        let s = bad("SigCgt:\t0000000000000000", "SigCgt:\tzz").unwrap();
        assert_eq!(s.sig_cgt, None);
        let s = bad("Cpus_allowed_list:\t0-1", "Cpus_allowed_list:\t1-0").unwrap();
        assert_eq!(s.cpus_allowed_list, None);
        let s = bad("Umask:\t0022", "Umask:\t0099").unwrap();
        assert_eq!(s.umask, None);
        // Truncated in the middle: the required lines are all early, so it parses.
        let cut = &CAT[..CAT.windows(6).position(|w| w == b"VmRSS:").unwrap() + 9];
        let s = parse(cut).unwrap();
        assert_eq!(s.vm_hwm, Some(1620 * 1024));
        assert_eq!(s.vm_rss, None);
        // Cut before Gid.
        let cut = &CAT[..CAT.windows(4).position(|w| w == b"Gid:").unwrap()];
        assert_eq!(parse(cut), None);
    }

    #[test]
    fn uids_fast_path() {
        assert_eq!(parse_uids_only(THREADS), Some([0; 4]));
        let s = b"Name:\tx\nUmask:\t0022\nState:\tS\nUid:\t1000\t1001\t1002\t1003\nGid:\t1 2 3 4\n";
        assert_eq!(parse_uids_only(s), Some([1000, 1001, 1002, 1003]));
        assert_eq!(parse_uids_only(b"Uid:\t1\t1\t1\t1\n"), None);
        assert_eq!(parse_uids_only(b"Name:\tx\nUid:\t1\t1\t1\n"), None);
        assert_eq!(parse_uids_only(b"Name:\tx\nUid:\t1\t1\t1\t1"), Some([1; 4]));
        assert_eq!(parse_uids_only(b"Name:\tx\nUid:"), None);
        assert_eq!(parse_uids_only(b""), None);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list(b""), Some(vec![]));
        assert_eq!(parse_cpu_list(b"\n"), Some(vec![]));
        assert_eq!(parse_cpu_list(b"0"), Some(vec![0]));
        assert_eq!(
            parse_cpu_list(b"0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list(b"5-5"), Some(vec![5]));
        assert_eq!(parse_cpu_list(b"3-1"), None);
        assert_eq!(parse_cpu_list(b"0,"), None);
        assert_eq!(parse_cpu_list(b",0"), None);
        assert_eq!(parse_cpu_list(b"0--1"), None);
        assert_eq!(parse_cpu_list(b"-1"), None);
        assert_eq!(parse_cpu_list(b"1-"), None);
        assert_eq!(parse_cpu_list(b"a"), None);
        assert_eq!(parse_cpu_list(b"0 - 1"), None);
        assert_eq!(parse_cpu_list(b"0-4294967295"), None);
        assert_eq!(parse_cpu_list(b"0-1048575").map(|v| v.len()), Some(1 << 20));
        assert_eq!(parse_cpu_list(b"0-1048576"), None);
        assert_eq!(
            parse_cpu_list(b"0-1048574,1048575"),
            Some((0..1 << 20).collect())
        );
        assert_eq!(parse_cpu_list(b"0-1048575,7"), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&bytes);
            let _ = parse_uids_only(&bytes);
            let _ = parse_cpu_list(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_fixture(
            cut in 0..CAT.len(),
            at in 0..CAT.len(),
            byte in any::<u8>(),
        ) {
            let mut b = CAT[..cut].to_vec();
            if at < b.len() {
                b[at] = byte;
            }
            let parsed = parse(&b);
            if let Some(s) = parsed {
                // The fast path agrees with the full parser whenever the latter succeeds
                // and finds the same line.
                if let Some(u) = parse_uids_only(&b) {
                    prop_assert_eq!(u, s.uids);
                }
            }
        }

        #[test]
        fn cpu_list_round_trips(mut cpus in proptest::collection::btree_set(0u32..5000, 0..50)) {
            let v: Vec<u32> = std::mem::take(&mut cpus).into_iter().collect();
            let text = v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            prop_assert_eq!(parse_cpu_list(text.as_bytes()), Some(v));
        }
    }
}
