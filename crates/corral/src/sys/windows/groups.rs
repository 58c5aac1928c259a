//! Processor groups. Windows splits a machine with more than 64 logical CPUs into
//! processor groups of at most 64, and every affinity call names one group and a 64-bit
//! mask within it (`GROUP_AFFINITY`). corral's CPU numbers are portable: the machine's
//! active logical CPUs numbered 0..N across all groups, group 0's first, each group's in
//! bit order. [`GroupTable`] is the one place that maps between the two; the topology,
//! process and thread affinity, `Command::cpu_affinity` and the job affinity limit all
//! go through it. On a one-group machine (every machine up to 64 CPUs, and Wine) a CPU's
//! number is its bit.
//!
//! The table is read from `GetLogicalProcessorInformationEx(RelationGroup)` (each active
//! group's active-processor mask), else from `GetActiveProcessorGroupCount` and
//! `GetActiveProcessorCount(group)` (the low bits of each group).

use std::io;

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, HANDLE};
use windows_sys::Win32::System::SystemInformation::{RelationGroup, GROUP_AFFINITY};
use windows_sys::Win32::System::Threading::{
    GetActiveProcessorCount, GetActiveProcessorGroupCount, GetProcessGroupAffinity,
};

use super::topology::{u16_at, u64_at};
use super::util::proc_address;
use crate::{Error, ErrorKind, Result};

/// One active processor group: its number and the mask of its active logical CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) number: u16,
    pub(crate) active: u64,
}

/// A set of CPUs of one group, as the Win32 calls take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupMask {
    pub(crate) group: u16,
    pub(crate) mask: u64,
}

/// The machine's active processor groups, in group order, and the portable numbering
/// over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupTable {
    groups: Vec<Group>,
}

impl GroupTable {
    /// A table of these groups (sorted by number; a repeated number keeps the first;
    /// groups without active CPUs are dropped).
    pub(crate) fn new(mut groups: Vec<Group>) -> GroupTable {
        groups.retain(|g| g.active != 0);
        groups.sort_by_key(|g| g.number);
        groups.dedup_by_key(|g| g.number);
        GroupTable { groups }
    }

    /// A table of groups `0..counts.len()` whose active CPUs are the low `counts[g]` bits.
    pub(crate) fn from_counts(counts: &[u32]) -> GroupTable {
        GroupTable::new(
            counts
                .iter()
                .enumerate()
                .map(|(g, &n)| Group {
                    number: g as u16,
                    active: low_bits(n),
                })
                .collect(),
        )
    }

    /// This machine's groups, read once per process: groups change only when processors
    /// are hot-added, and one numbering for the process's lifetime keeps the CPU numbers
    /// of the topology and the affinity calls the same.
    pub(crate) fn machine() -> &'static GroupTable {
        static T: std::sync::OnceLock<GroupTable> = std::sync::OnceLock::new();
        T.get_or_init(GroupTable::read)
    }

    fn read() -> GroupTable {
        if let Ok(buf) = super::topology::read_records(RelationGroup) {
            let t = GroupTable::new(parse_group_records(&buf));
            if t.cpu_count() > 0 {
                return t;
            }
        }
        // SAFETY: plain calls without pointers.
        let n = unsafe { GetActiveProcessorGroupCount() };
        let counts: Vec<u32> = (0..n)
            // SAFETY: as above.
            .map(|g| unsafe { GetActiveProcessorCount(g) })
            .collect();
        let t = GroupTable::from_counts(&counts);
        if t.cpu_count() > 0 {
            return t;
        }
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        GroupTable::from_counts(&[n.min(64) as u32])
    }

    /// The groups, in order.
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Whether the machine has one processor group (the mapping is then the identity).
    pub(crate) fn is_single(&self) -> bool {
        self.groups.len() <= 1
    }

    /// The number of active logical CPUs: the portable numbers are `0..cpu_count()`.
    pub(crate) fn cpu_count(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.active.count_ones() as usize)
            .sum()
    }

    /// The portable number of the first CPU of the group at `index` in the table.
    fn first_cpu(&self, index: usize) -> usize {
        self.groups[..index]
            .iter()
            .map(|g| g.active.count_ones() as usize)
            .sum()
    }

    /// The portable number of bit `bit` of group `group`; `None` for a CPU that is not
    /// active in the table.
    pub(crate) fn cpu_at(&self, group: u16, bit: u32) -> Option<usize> {
        let i = self.groups.iter().position(|g| g.number == group)?;
        let active = self.groups[i].active;
        if bit >= 64 || active & (1 << bit) == 0 {
            return None;
        }
        let below = (active & ((1u64 << bit) - 1)).count_ones() as usize;
        Some(self.first_cpu(i) + below)
    }

    /// The portable numbers of the CPUs of `mask` in group `group`, ascending; bits that
    /// are not active CPUs of the group are left out.
    pub(crate) fn cpus_in(&self, group: u16, mask: u64) -> Vec<usize> {
        (0..64)
            .filter(|b| mask & (1 << b) != 0)
            .filter_map(|b| self.cpu_at(group, b))
            .collect()
    }

    /// Every CPU of group `group`.
    pub(crate) fn all_in(&self, group: u16) -> Vec<usize> {
        self.groups
            .iter()
            .find(|g| g.number == group)
            .map_or_else(Vec::new, |g| self.cpus_in(group, g.active))
    }

    /// The group and bit of portable CPU `cpu`; `None` beyond the machine.
    pub(crate) fn locate(&self, cpu: usize) -> Option<(u16, u32)> {
        let mut first = 0;
        for g in &self.groups {
            let n = g.active.count_ones() as usize;
            if cpu < first + n {
                let mut rank = cpu - first;
                for bit in 0..64 {
                    if g.active & (1 << bit) != 0 {
                        if rank == 0 {
                            return Some((g.number, bit));
                        }
                        rank -= 1;
                    }
                }
            }
            first += n;
        }
        None
    }

    /// A CPU list as one mask per group it touches, in group order. An empty list and a
    /// CPU beyond the machine are `InvalidInput`.
    pub(crate) fn masks(&self, cpus: &[usize], op: &'static str) -> Result<Vec<GroupMask>> {
        if cpus.is_empty() {
            return Err(
                Error::new(ErrorKind::InvalidInput, op).with_detail("the CPU list is empty")
            );
        }
        let mut out: Vec<GroupMask> = Vec::new();
        for &c in cpus {
            let Some((group, bit)) = self.locate(c) else {
                return Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
                    "CPU {c} is beyond this machine's CPUs (0..{})",
                    self.cpu_count()
                )));
            };
            match out.iter_mut().find(|m| m.group == group) {
                Some(m) => m.mask |= 1 << bit,
                None => out.push(GroupMask {
                    group,
                    mask: 1 << bit,
                }),
            }
        }
        out.sort_by_key(|m| m.group);
        Ok(out)
    }

    /// A CPU list that must lie in one processor group (`what` says whose rule that is,
    /// e.g. "a Windows thread runs in one processor group"): its group and mask.
    pub(crate) fn one_group(
        &self,
        cpus: &[usize],
        op: &'static str,
        what: &str,
    ) -> Result<GroupMask> {
        let masks = self.masks(cpus, op)?;
        if let [m] = masks[..] {
            return Ok(m);
        }
        Err(Error::new(ErrorKind::InvalidInput, op).with_detail(format!(
            "CPUs {cpus:?} span processor groups {}: {what}; this machine's groups: {}",
            masks
                .iter()
                .map(|m| m.group.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            self.describe()
        )))
    }

    /// The groups as "0: CPUs 0-39, 1: CPUs 40-63", for error details.
    pub(crate) fn describe(&self) -> String {
        self.groups
            .iter()
            .map(|g| {
                let cpus = self.all_in(g.number);
                match (cpus.first(), cpus.last()) {
                    (Some(a), Some(b)) if a == b => format!("{}: CPU {a}", g.number),
                    (Some(a), Some(b)) => format!("{}: CPUs {a}-{b}", g.number),
                    _ => format!("{}: no CPUs", g.number),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl GroupMask {
    /// As the Win32 calls take it (reserved words zero).
    pub(crate) fn to_win(self) -> GROUP_AFFINITY {
        GROUP_AFFINITY {
            Mask: self.mask as usize,
            Group: self.group,
            Reserved: [0; 3],
        }
    }

    pub(crate) fn from_win(g: &GROUP_AFFINITY) -> GroupMask {
        GroupMask {
            group: g.Group,
            mask: g.Mask as u64,
        }
    }
}

/// The union of the CPUs of `masks`, ascending.
pub(crate) fn union(groups: &GroupTable, masks: &[GroupMask]) -> Vec<usize> {
    let mut cpus: Vec<usize> = masks
        .iter()
        .flat_map(|m| groups.cpus_in(m.group, m.mask))
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

/// The processor groups the threads of process `h` are assigned to
/// (`GetProcessGroupAffinity`; the handle needs `PROCESS_QUERY_LIMITED_INFORMATION`).
pub(crate) fn process_groups(h: HANDLE) -> io::Result<Vec<u16>> {
    let mut buf = vec![0u16; 4];
    for _ in 0..4 {
        let mut n = buf.len() as u16;
        // SAFETY: `buf` holds `n` u16s; the call writes at most `n` and sets `n`.
        if unsafe { GetProcessGroupAffinity(h, &mut n, buf.as_mut_ptr()) } != 0 {
            buf.truncate(usize::from(n));
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(ERROR_INSUFFICIENT_BUFFER as i32) || usize::from(n) <= buf.len()
        {
            return Err(e);
        }
        buf = vec![0u16; usize::from(n)];
    }
    Err(io::Error::other(
        "the process's processor groups kept changing",
    ))
}

type GetCpuSetMasks = unsafe extern "system" fn(HANDLE, *mut GROUP_AFFINITY, u16, *mut u16) -> BOOL;
type SetCpuSetMasks = unsafe extern "system" fn(HANDLE, *const GROUP_AFFINITY, u16) -> BOOL;

/// The process's default CPU sets as group masks (`GetProcessDefaultCpuSetMasks`, looked
/// up at run time: Windows 11 / Server 2022); `None` where Windows lacks the call, an
/// empty list when the process has no default CPU sets.
pub(crate) fn default_cpu_set_masks(h: HANDLE) -> Option<io::Result<Vec<GroupMask>>> {
    let f = proc_address("kernel32.dll", b"GetProcessDefaultCpuSetMasks\0")?;
    // SAFETY: the export of that name has this documented signature.
    let f: GetCpuSetMasks = unsafe { std::mem::transmute(f) };
    let mut buf = vec![GROUP_AFFINITY::default(); 4];
    for _ in 0..4 {
        let mut n = 0u16;
        // SAFETY: `buf` holds `buf.len()` entries; `n` is live.
        if unsafe { f(h, buf.as_mut_ptr(), buf.len() as u16, &mut n) } != 0 {
            buf.truncate(usize::from(n));
            return Some(Ok(buf.iter().map(GroupMask::from_win).collect()));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(ERROR_INSUFFICIENT_BUFFER as i32) || usize::from(n) <= buf.len()
        {
            return Some(Err(e));
        }
        buf = vec![GROUP_AFFINITY::default(); usize::from(n)];
    }
    Some(Err(io::Error::other("the CPU sets kept changing")))
}

/// Sets (an empty list: clears) the process's default CPU sets
/// (`SetProcessDefaultCpuSetMasks`, looked up at run time: Windows 11 / Server 2022; the
/// handle needs `PROCESS_SET_LIMITED_INFORMATION`); `None` where Windows lacks the call.
pub(crate) fn set_default_cpu_set_masks(h: HANDLE, masks: &[GroupMask]) -> Option<io::Result<()>> {
    let f = proc_address("kernel32.dll", b"SetProcessDefaultCpuSetMasks\0")?;
    // SAFETY: the export of that name has this documented signature.
    let f: SetCpuSetMasks = unsafe { std::mem::transmute(f) };
    let win: Vec<GROUP_AFFINITY> = masks.iter().map(|m| m.to_win()).collect();
    let ptr = if win.is_empty() {
        std::ptr::null()
    } else {
        win.as_ptr()
    };
    // SAFETY: `win` holds `win.len()` entries (or is null with a count of 0).
    if unsafe { f(h, ptr, win.len() as u16) } == 0 {
        return Some(Err(io::Error::last_os_error()));
    }
    Some(Ok(()))
}

/// The low `n` bits (all 64 from 64 on).
fn low_bits(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The groups of `GetLogicalProcessorInformationEx(RelationGroup)` records (the buffer
/// as `topology::read_records` returns it: the last word is the length in bytes). A
/// `GROUP_RELATIONSHIP` is `MaximumGroupCount: u16, ActiveGroupCount: u16, Reserved:
/// [u8; 20]` then one 48-byte `PROCESSOR_GROUP_INFO` per active group
/// (`MaximumProcessorCount: u8, ActiveProcessorCount: u8, Reserved: [u8; 38],
/// ActiveProcessorMask: u64`), group `i` at index `i`.
pub(crate) fn parse_group_records(buf: &[u64]) -> Vec<Group> {
    super::topology::records(buf)
        .filter(|&(rel, _)| rel == RelationGroup as u32)
        .flat_map(|(_, r)| parse_group_relationship(&r[8..]))
        .collect()
}

/// The groups of one `GROUP_RELATIONSHIP` body (see [`parse_group_records`]).
fn parse_group_relationship(r: &[u8]) -> Vec<Group> {
    let active = u16_at(r, 2).unwrap_or(0);
    (0..active)
        .map_while(|g| {
            let info = 24 + usize::from(g) * 48;
            let mask = u64_at(r, info + 40)?;
            Some(Group {
                number: g,
                active: mask,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(number: u16, active: u64) -> Group {
        Group { number, active }
    }

    #[test]
    fn one_group_is_the_identity() {
        let t = GroupTable::from_counts(&[8]);
        assert!(t.is_single());
        assert_eq!(t.cpu_count(), 8);
        for c in 0..8 {
            assert_eq!(t.locate(c), Some((0, c as u32)));
            assert_eq!(t.cpu_at(0, c as u32), Some(c));
        }
        assert_eq!(t.locate(8), None);
        assert_eq!(t.cpus_in(0, 0b1010_0101), vec![0, 2, 5, 7]);
        // Bits beyond the active CPUs are not CPUs.
        assert_eq!(t.cpus_in(0, 0x300), Vec::<usize>::new());
        assert_eq!(
            t.masks(&[0, 3], "op").unwrap(),
            vec![GroupMask {
                group: 0,
                mask: 0b1001
            }]
        );
        // A full 64-CPU group.
        let t = GroupTable::from_counts(&[64]);
        assert_eq!(t.cpu_count(), 64);
        assert_eq!(t.locate(63), Some((0, 63)));
        assert_eq!(t.cpus_in(0, u64::MAX).len(), 64);
    }

    #[test]
    fn two_groups_of_40_and_24() {
        let t = GroupTable::from_counts(&[40, 24]);
        assert!(!t.is_single());
        assert_eq!(t.cpu_count(), 64);
        assert_eq!(t.locate(0), Some((0, 0)));
        assert_eq!(t.locate(39), Some((0, 39)));
        assert_eq!(t.locate(40), Some((1, 0)));
        assert_eq!(t.locate(63), Some((1, 23)));
        assert_eq!(t.locate(64), None);
        assert_eq!(t.cpu_at(1, 0), Some(40));
        assert_eq!(t.cpu_at(1, 23), Some(63));
        assert_eq!(t.cpu_at(1, 24), None);
        assert_eq!(t.cpu_at(2, 0), None);
        assert_eq!(t.cpus_in(1, 0b11), vec![40, 41]);
        assert_eq!(t.all_in(1), (40..64).collect::<Vec<_>>());
        assert_eq!(
            t.masks(&[41, 1, 40, 0], "op").unwrap(),
            vec![
                GroupMask {
                    group: 0,
                    mask: 0b11
                },
                GroupMask {
                    group: 1,
                    mask: 0b11
                }
            ]
        );
        assert_eq!(
            t.one_group(&[40, 63], "op", "rule").unwrap(),
            GroupMask {
                group: 1,
                mask: 1 | 1 << 23
            }
        );
        let e = t
            .one_group(
                &[39, 40],
                "set thread affinity",
                "a Windows thread runs in one processor group",
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let s = e.to_string();
        assert!(s.contains("span processor groups 0, 1"), "{s}");
        assert!(
            s.contains("a Windows thread runs in one processor group"),
            "{s}"
        );
        assert!(s.contains("0: CPUs 0-39, 1: CPUs 40-63"), "{s}");
    }

    #[test]
    fn four_groups_of_64_round_trip() {
        let t = GroupTable::from_counts(&[64, 64, 64, 64]);
        assert_eq!(t.cpu_count(), 256);
        for c in 0..256 {
            let (group, bit) = t.locate(c).unwrap();
            assert_eq!((group as usize, bit as usize), (c / 64, c % 64));
            assert_eq!(t.cpu_at(group, bit), Some(c));
        }
        assert_eq!(t.locate(256), None);
        let m = t.masks(&[255, 64, 128, 130], "op").unwrap();
        assert_eq!(
            m,
            vec![
                GroupMask { group: 1, mask: 1 },
                GroupMask {
                    group: 2,
                    mask: 0b101
                },
                GroupMask {
                    group: 3,
                    mask: 1 << 63
                }
            ]
        );
        assert_eq!(t.cpus_in(3, u64::MAX), (192..256).collect::<Vec<_>>());
    }

    #[test]
    fn holes_in_the_active_masks_are_skipped() {
        // Group 0 has CPUs at bits 0, 1, 4; group 2 (group 1 without active CPUs is
        // dropped) at bits 3 and 5.
        let t = GroupTable::new(vec![g(2, 0b10_1000), g(0, 0b1_0011), g(1, 0)]);
        assert_eq!(t.groups().len(), 2);
        assert_eq!(t.cpu_count(), 5);
        assert_eq!(t.locate(2), Some((0, 4)));
        assert_eq!(t.locate(3), Some((2, 3)));
        assert_eq!(t.locate(4), Some((2, 5)));
        assert_eq!(t.cpu_at(0, 2), None);
        assert_eq!(t.cpu_at(2, 5), Some(4));
        assert_eq!(t.cpus_in(0, u64::MAX), vec![0, 1, 2]);
        assert_eq!(t.describe(), "0: CPUs 0-2, 2: CPUs 3-4");
    }

    #[test]
    fn bad_input_is_refused_clearly() {
        let t = GroupTable::from_counts(&[40, 24]);
        let e = t.masks(&[], "set cpu_affinity").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("the CPU list is empty"), "{e}");
        let e = t.masks(&[3, 64], "set cpu_affinity").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(
            e.to_string()
                .contains("CPU 64 is beyond this machine's CPUs (0..64)"),
            "{e}"
        );
        let e = t.one_group(&[usize::MAX], "op", "rule").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("(0..64)"), "{e}");
        let e = t.one_group(&[], "op", "rule").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    /// The table this machine reports (one group under Wine) counts every active CPU
    /// and numbers them as the topology does.
    #[test]
    fn the_machine_table_agrees_with_the_processor_count_and_topology() {
        let t = GroupTable::read();
        // Read from the group records, not the fallback.
        let recs = super::super::topology::read_records(RelationGroup).unwrap();
        assert_eq!(GroupTable::new(parse_group_records(&recs)), t);
        // SAFETY: a plain call (ALL_PROCESSOR_GROUPS).
        let n = unsafe { GetActiveProcessorCount(0xffff) } as usize;
        assert_eq!(t.cpu_count(), n);
        // SAFETY: a plain call.
        let groups = unsafe { GetActiveProcessorGroupCount() };
        assert_eq!(t.groups().len(), usize::from(groups));
        let topo = super::super::topology::topology().unwrap();
        assert_eq!(topo.online, (0..n as u32).collect::<Vec<_>>());
        for c in 0..n {
            let (g, bit) = t.locate(c).unwrap();
            assert_eq!(t.cpu_at(g, bit), Some(c));
        }
    }

    #[test]
    fn group_records_as_windows_lays_them_out() {
        // One RelationGroup record: 2 active groups of 40 and 24 CPUs.
        let mut body = Vec::new();
        body.extend_from_slice(&4u16.to_ne_bytes()); // MaximumGroupCount
        body.extend_from_slice(&2u16.to_ne_bytes()); // ActiveGroupCount
        body.extend_from_slice(&[0; 20]);
        for n in [40u32, 24] {
            body.push(64);
            body.push(n as u8);
            body.extend_from_slice(&[0; 38]);
            body.extend_from_slice(&low_bits(n).to_ne_bytes());
        }
        let mut raw = (RelationGroup as u32).to_ne_bytes().to_vec();
        raw.extend_from_slice(&((8 + body.len()) as u32).to_ne_bytes());
        raw.extend(body);
        let t = GroupTable::new(parse_group_records(&super::super::topology::tests::words(
            raw,
        )));
        assert_eq!(t, GroupTable::from_counts(&[40, 24]));
        // A truncated record yields what it holds.
        assert_eq!(parse_group_records(&[0]), Vec::new());
    }
}
