//! `/proc/meminfo`, `/sys/devices/system/node/nodeN/meminfo` and the swap counters of
//! `/proc/vmstat`.
//!
//! Every field is optional: which lines exist depends on the kernel's version and
//! configuration, and the caller decides which ones it cannot do without.

use super::parse_u64;
use super::text::{fields, key_value, lines, parse_kb, trim};

/// The `/proc/meminfo` lines corral uses, in bytes; `None` when missing or malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meminfo {
    /// `MemTotal`.
    pub mem_total: Option<u64>,
    /// `MemFree`.
    pub mem_free: Option<u64>,
    /// `MemAvailable` (Linux 3.14+).
    pub mem_available: Option<u64>,
    /// `Buffers`.
    pub buffers: Option<u64>,
    /// `Cached`: the page cache (excluding swap cache).
    pub cached: Option<u64>,
    /// `SReclaimable` (Linux 2.6.19+).
    pub s_reclaimable: Option<u64>,
    /// `Shmem` (Linux 2.6.32+).
    pub shmem: Option<u64>,
    /// `Active`.
    pub active: Option<u64>,
    /// `Inactive`.
    pub inactive: Option<u64>,
    /// `Slab`.
    pub slab: Option<u64>,
    /// `SwapTotal`.
    pub swap_total: Option<u64>,
    /// `SwapFree`.
    pub swap_free: Option<u64>,
}

/// Parses `/proc/meminfo`. Never fails as a whole: each field is `None` when its line is
/// missing or malformed; unknown lines are ignored; a repeated line's last value wins.
pub fn parse_meminfo(buf: &[u8]) -> Meminfo {
    let mut m = Meminfo::default();
    for line in lines(buf) {
        let Some((key, v)) = key_value(line) else {
            continue;
        };
        let slot = match key {
            b"MemTotal" => &mut m.mem_total,
            b"MemFree" => &mut m.mem_free,
            b"MemAvailable" => &mut m.mem_available,
            b"Buffers" => &mut m.buffers,
            b"Cached" => &mut m.cached,
            b"SReclaimable" => &mut m.s_reclaimable,
            b"Shmem" => &mut m.shmem,
            b"Active" => &mut m.active,
            b"Inactive" => &mut m.inactive,
            b"Slab" => &mut m.slab,
            b"SwapTotal" => &mut m.swap_total,
            b"SwapFree" => &mut m.swap_free,
            _ => continue,
        };
        *slot = parse_kb(v);
    }
    m
}

/// The memory of one NUMA node, in bytes, from `nodeN/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeMeminfo {
    /// `MemTotal`.
    pub total: Option<u64>,
    /// `MemFree`.
    pub free: Option<u64>,
    /// `MemUsed`.
    pub used: Option<u64>,
}

/// Parses a node's `meminfo`, whose lines read `Node 0 MemTotal:   7300896 kB`. Lines
/// without the `Node N ` prefix are ignored, as are unknown keys.
pub fn parse_node_meminfo(buf: &[u8]) -> NodeMeminfo {
    let mut m = NodeMeminfo::default();
    for line in lines(buf) {
        let mut rest = trim(line);
        let Some(after) = rest.strip_prefix(b"Node") else {
            continue;
        };
        rest = after;
        let Some(num_at) = rest.iter().position(|c| !c.is_ascii_whitespace()) else {
            continue;
        };
        rest = &rest[num_at..];
        let num_len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if num_len == 0 {
            continue;
        }
        let Some((key, v)) = key_value(trim(&rest[num_len..])) else {
            continue;
        };
        let slot = match key {
            b"MemTotal" => &mut m.total,
            b"MemFree" => &mut m.free,
            b"MemUsed" => &mut m.used,
            _ => continue,
        };
        *slot = parse_kb(v);
    }
    m
}

/// Finds `pswpin` and `pswpout` in `/proc/vmstat`: pages swapped in and out since boot.
/// Each is `None` when its line is missing or malformed.
pub fn parse_vmstat_swap(buf: &[u8]) -> (Option<u64>, Option<u64>) {
    let (mut sin, mut sout) = (None, None);
    for line in lines(buf) {
        let mut it = fields(line);
        let slot = match it.next() {
            Some(b"pswpin") => &mut sin,
            Some(b"pswpout") => &mut sout,
            _ => continue,
        };
        *slot = it
            .next()
            .and_then(parse_u64)
            .filter(|_| it.next().is_none());
    }
    (sin, sout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MEMINFO: &[u8] = include_bytes!("../../../../testdata/meminfo");
    const NODE0: &[u8] = include_bytes!("../../../../testdata/node0_meminfo");
    const VMSTAT: &[u8] = include_bytes!("../../../../testdata/vmstat");

    #[test]
    fn fixture_meminfo() {
        let m = parse_meminfo(MEMINFO);
        let kb = |n: u64| Some(n * 1024);
        assert_eq!(m.mem_total, kb(24_683_656));
        assert_eq!(m.mem_free, kb(23_858_816));
        assert_eq!(m.mem_available, kb(24_339_996));
        assert_eq!(m.buffers, kb(1_352));
        assert_eq!(m.cached, kb(680_012));
        assert_eq!(m.s_reclaimable, kb(30_744));
        assert_eq!(m.shmem, kb(8_952));
        assert_eq!(m.active, kb(205_424));
        assert_eq!(m.inactive, kb(473_580));
        assert_eq!(m.slab, kb(50_232));
        assert_eq!(m.swap_total, kb(0));
        assert_eq!(m.swap_free, kb(0));
    }

    #[test]
    fn fixture_node_meminfo() {
        assert_eq!(
            parse_node_meminfo(NODE0),
            NodeMeminfo {
                total: Some(8_218_400 * 1024),
                free: Some(3_867_572 * 1024),
                used: Some(4_350_828 * 1024),
            }
        );
    }

    #[test]
    fn fixture_vmstat() {
        assert_eq!(parse_vmstat_swap(VMSTAT), (Some(0), Some(0)));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(parse_meminfo(b""), Meminfo::default());
        let m = parse_meminfo(b"MemTotal: 1 kB\nMemFree: 2\nCached: x kB\nBuffers:   3 kB");
        assert_eq!(m.mem_total, Some(1024));
        assert_eq!(m.mem_free, None);
        assert_eq!(m.cached, None);
        assert_eq!(m.buffers, Some(3072));
        // `Active(anon)` is not `Active`.
        let m = parse_meminfo(b"Active(anon): 5 kB\nInactive(file): 6 kB\n");
        assert_eq!((m.active, m.inactive), (None, None));

        let n = parse_node_meminfo(b"Node 12 MemTotal: 4 kB\nNode MemFree: 1 kB\nMemUsed: 2 kB\n");
        assert_eq!(n.total, Some(4096));
        assert_eq!(n.free, None);
        assert_eq!(n.used, None);
        assert_eq!(parse_node_meminfo(b""), NodeMeminfo::default());
        assert_eq!(
            parse_node_meminfo(b"Node 0 HugePages_Total: 0\n"),
            NodeMeminfo::default()
        );

        assert_eq!(
            parse_vmstat_swap(b"pswpin 12\npswpout 34\n"),
            (Some(12), Some(34))
        );
        assert_eq!(parse_vmstat_swap(b"pswpin\npswpout 1 2\n"), (None, None));
        assert_eq!(parse_vmstat_swap(b"zswpin 3\n"), (None, None));
        assert_eq!(parse_vmstat_swap(b""), (None, None));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_meminfo(&bytes);
            let _ = parse_node_meminfo(&bytes);
            let _ = parse_vmstat_swap(&bytes);
        }
    }
}
