//! CPU topology on Windows: one `GetLogicalProcessorInformationEx(RelationAll)` call, whose
//! variable-length records describe packages, cores, NUMA nodes and caches as processor
//! group masks. A logical CPU's number is the portable one of [`super::groups`]: the
//! active CPUs numbered 0..N across processor groups, as the affinity calls take them.

use std::collections::BTreeMap;

use windows_sys::Win32::System::SystemInformation::{
    GetLogicalProcessorInformationEx, RelationAll, LOGICAL_PROCESSOR_RELATIONSHIP,
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX,
};
use windows_sys::Win32::System::Threading::{
    GetActiveProcessorCount, GetMaximumProcessorCount, GetNumaAvailableMemoryNodeEx,
};

use super::groups::GroupTable;
use super::util::last_error;
use crate::system::{Cache, CacheKind, Core, LogicalCpu, NumaNode, Package, Topology};
use crate::{Error, ErrorKind, Result};

const RELATION_CORE: u32 = 0;
const RELATION_NUMA: u32 = 1;
const RELATION_CACHE: u32 = 2;
const RELATION_PACKAGE: u32 = 3;
/// `ALL_PROCESSOR_GROUPS` for the processor-count calls.
const ALL_GROUPS: u16 = 0xffff;

/// The machine's topology: see [`crate::system::topology`].
pub(crate) fn topology() -> Result<Topology> {
    let buf = read_records(RelationAll)?;
    let mut t = parse(&buf, GroupTable::machine());
    // SAFETY: plain calls with a constant argument.
    let (active, max) = unsafe {
        (
            GetActiveProcessorCount(ALL_GROUPS),
            GetMaximumProcessorCount(ALL_GROUPS),
        )
    };
    if t.online.is_empty() {
        t.online = (0..active).collect();
    }
    let top = t.online.last().map_or(0, |&c| c + 1).max(max);
    t.possible = (0..top).collect();
    for n in &mut t.numa_nodes {
        let mut free = 0u64;
        // Node numbers above u16 do not exist.
        if let Ok(id) = u16::try_from(n.id) {
            // SAFETY: out-pointer to a live u64.
            if unsafe { GetNumaAvailableMemoryNodeEx(id, &mut free) } != 0 {
                n.memory_free = Some(free);
            }
        }
    }
    Ok(t)
}

/// The raw records of `relation` (as `u64`s, so they are aligned; the last word is their
/// length in bytes, see [`record_bytes`]).
pub(crate) fn read_records(relation: LOGICAL_PROCESSOR_RELATIONSHIP) -> Result<Vec<u64>> {
    let op = "read CPU topology";
    let mut len: u32 = 0;
    let mut buf: Vec<u64> = Vec::new();
    for _ in 0..4 {
        // SAFETY: the buffer holds `len` bytes (or is null with `len` 0); the call writes
        // at most `len` bytes and sets `len` to what it needs.
        let ok = unsafe {
            GetLogicalProcessorInformationEx(
                relation,
                if buf.is_empty() {
                    std::ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                        .cast::<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX>()
                },
                &mut len,
            )
        };
        if ok != 0 && !buf.is_empty() {
            buf.truncate((len as usize).div_ceil(8));
            return Ok(bytes_len(buf, len as usize));
        }
        let e = last_error(op, None);
        if len == 0 {
            return Err(e);
        }
        buf = vec![0u64; (len as usize).div_ceil(8)];
    }
    Err(Error::new(ErrorKind::Os, op).with_detail("the topology kept changing size"))
}

/// Keeps the length in bytes in the last word's place: `parse` needs both.
fn bytes_len(mut buf: Vec<u64>, len: usize) -> Vec<u64> {
    buf.push(len as u64);
    buf
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The logical CPUs (portable numbers, through `groups`) of `count` GROUP_AFFINITY
/// entries (16 bytes each: a 64-bit mask, a group number, padding) starting at `at`.
fn group_cpus(b: &[u8], at: usize, count: u16, groups: &GroupTable) -> Vec<u32> {
    let mut cpus = Vec::new();
    for i in 0..usize::from(count) {
        let g = at + i * 16;
        let (Some(mask), Some(group)) = (u64_at(b, g), u16_at(b, g + 8)) else {
            break;
        };
        cpus.extend(groups.cpus_in(group, mask).into_iter().map(|c| c as u32));
    }
    cpus.sort_unstable();
    cpus
}

/// The `(relationship, record)` pairs of records as [`read_records`] returns them, each
/// record whole (its 8-byte header first); one whose size does not fit ends them.
pub(crate) fn records(buf: &[u64]) -> impl Iterator<Item = (u32, &[u8])> {
    let b = record_bytes(buf);
    let mut at = 0;
    std::iter::from_fn(move || {
        let (rel, size) = (u32_at(b, at)?, u32_at(b, at + 4)? as usize);
        if size < 8 || at + size > b.len() {
            return None;
        }
        let r = &b[at..at + size];
        at += size;
        Some((rel, r))
    })
}

/// The bytes of records as [`read_records`] returns them (`buf`'s last word is their
/// length in bytes).
fn record_bytes(buf: &[u64]) -> &[u8] {
    let Some((&len, words)) = buf.split_last() else {
        return &[];
    };
    // SAFETY: viewing initialised u64s as bytes.
    let all = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) };
    &all[..(len as usize).min(all.len())]
}

/// Builds the topology from the records (`buf`'s last word is their length in bytes),
/// numbering CPUs through `groups`.
fn parse(buf: &[u64], groups: &GroupTable) -> Topology {
    if record_bytes(buf).is_empty() {
        return Topology::default();
    }
    let mut cores: Vec<Vec<u32>> = Vec::new();
    let mut packages: Vec<Vec<u32>> = Vec::new();
    let mut nodes: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut caches = Vec::new();
    for (rel, r) in records(buf) {
        let body = 8;
        match rel {
            // PROCESSOR_RELATIONSHIP: Flags u8, EfficiencyClass u8, Reserved [u8; 20],
            // GroupCount u16, GroupMask[].
            RELATION_CORE | RELATION_PACKAGE => {
                let n = u16_at(r, body + 22).unwrap_or(0);
                let cpus = group_cpus(r, body + 24, n, groups);
                if rel == RELATION_CORE {
                    cores.push(cpus);
                } else {
                    packages.push(cpus);
                }
            }
            // NUMA_NODE_RELATIONSHIP: NodeNumber u32, Reserved [u8; 18], GroupCount u16,
            // GroupMask[].
            RELATION_NUMA => {
                let id = u32_at(r, body).unwrap_or(0);
                let n = u16_at(r, body + 22).unwrap_or(0);
                let n = n.max(1);
                nodes
                    .entry(id)
                    .or_default()
                    .extend(group_cpus(r, body + 24, n, groups));
            }
            // CACHE_RELATIONSHIP: Level u8, Associativity u8, LineSize u16, CacheSize u32,
            // Type u32, Reserved [u8; 18], GroupCount u16, GroupMask[].
            RELATION_CACHE => {
                let level = u32::from(r.get(body).copied().unwrap_or(0));
                let ways = r.get(body + 1).copied().unwrap_or(0);
                let line = u16_at(r, body + 2).unwrap_or(0);
                let size = u32_at(r, body + 4).unwrap_or(0);
                let kind = match u32_at(r, body + 8).unwrap_or(u32::MAX) {
                    0 => CacheKind::Unified,
                    1 => CacheKind::Instruction,
                    2 => CacheKind::Data,
                    _ => CacheKind::Other,
                };
                let n = u16_at(r, body + 30).unwrap_or(0).max(1);
                caches.push(Cache {
                    level,
                    kind,
                    size: (size > 0).then_some(u64::from(size)),
                    line_size: (line > 0).then_some(u64::from(line)),
                    // 0xff means fully associative.
                    ways: (ways > 0 && ways != 0xff).then_some(u64::from(ways)),
                    shared_cpus: group_cpus(r, body + 32, n, groups),
                });
            }
            _ => {}
        }
    }
    build(cores, packages, nodes, caches)
}

fn build(
    mut cores: Vec<Vec<u32>>,
    packages: Vec<Vec<u32>>,
    nodes: BTreeMap<u32, Vec<u32>>,
    mut caches: Vec<Cache>,
) -> Topology {
    cores.retain(|c| !c.is_empty());
    cores.sort();
    let mut online: Vec<u32> = cores.iter().flatten().copied().collect();
    online.sort_unstable();
    online.dedup();
    let package_of = |cpu: u32| packages.iter().position(|p| p.contains(&cpu));
    let node_of = |cpu: u32| {
        nodes
            .iter()
            .find(|(_, c)| c.contains(&cpu))
            .map(|(&id, _)| id)
    };
    let mut cpus = Vec::new();
    let mut by_package: BTreeMap<usize, Vec<Core>> = BTreeMap::new();
    for c in &cores {
        let pkg = package_of(c[0]);
        // Core ids: Windows gives none; number them within their package.
        let within = by_package.entry(pkg.unwrap_or(usize::MAX)).or_default();
        let id = within.len() as u32;
        within.push(Core {
            id: Some(id),
            cpus: c.clone(),
        });
        for &cpu in c {
            cpus.push(LogicalCpu {
                cpu,
                package: pkg.map(|p| p as u32),
                core: Some(id),
                node: node_of(cpu),
            });
        }
    }
    cpus.sort_by_key(|c| c.cpu);
    let packages = by_package
        .into_iter()
        .map(|(p, cores)| Package {
            id: (p != usize::MAX).then_some(p as u32),
            cores,
        })
        .collect();
    let numa_nodes = nodes
        .into_iter()
        .map(|(id, mut cpus)| {
            cpus.sort_unstable();
            cpus.dedup();
            NumaNode {
                id,
                cpus,
                memory_total: None,
                memory_free: None,
            }
        })
        .collect();
    caches.sort_by(|a, b| {
        (a.level, a.kind, a.shared_cpus.first()).cmp(&(b.level, b.kind, b.shared_cpus.first()))
    });
    caches.dedup();
    Topology {
        online,
        offline: Vec::new(),
        possible: Vec::new(),
        cpus,
        packages,
        numa_nodes,
        caches,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One record as Windows lays it out.
    fn record(rel: u32, body: &[u8]) -> Vec<u8> {
        let mut r = rel.to_ne_bytes().to_vec();
        r.extend_from_slice(&((8 + body.len()) as u32).to_ne_bytes());
        r.extend_from_slice(body);
        r
    }

    fn group(mask: u64, group: u16) -> Vec<u8> {
        let mut g = mask.to_ne_bytes().to_vec();
        g.extend_from_slice(&group.to_ne_bytes());
        g.extend_from_slice(&[0; 6]);
        g
    }

    fn processor(mask: u64) -> Vec<u8> {
        let mut b = vec![0u8; 22];
        b.extend_from_slice(&1u16.to_ne_bytes());
        b.extend(group(mask, 0));
        b
    }

    #[test]
    fn two_cores_with_two_threads_one_package_one_node_and_caches() {
        let mut raw = Vec::new();
        raw.extend(record(RELATION_CORE, &processor(0b0011)));
        raw.extend(record(RELATION_CORE, &processor(0b1100)));
        raw.extend(record(RELATION_PACKAGE, &processor(0b1111)));
        let mut numa = 0u32.to_ne_bytes().to_vec();
        numa.extend_from_slice(&[0; 18]);
        numa.extend_from_slice(&1u16.to_ne_bytes());
        numa.extend(group(0b1111, 0));
        raw.extend(record(RELATION_NUMA, &numa));
        let mut cache = vec![2u8, 8];
        cache.extend_from_slice(&64u16.to_ne_bytes());
        cache.extend_from_slice(&(1u32 << 20).to_ne_bytes());
        cache.extend_from_slice(&0u32.to_ne_bytes());
        cache.extend_from_slice(&[0; 18]);
        cache.extend_from_slice(&1u16.to_ne_bytes());
        cache.extend(group(0b0011, 0));
        raw.extend(record(RELATION_CACHE, &cache));
        let t = parse(&words(raw), &GroupTable::from_counts(&[4]));
        assert_eq!(t.online, vec![0, 1, 2, 3]);
        assert_eq!(t.physical_cores(), 2);
        assert_eq!(t.packages.len(), 1);
        assert_eq!(t.packages[0].cores[1].cpus, vec![2, 3]);
        assert_eq!(t.cpus[3].core, Some(1));
        assert_eq!(t.numa_nodes[0].cpus, vec![0, 1, 2, 3]);
        assert_eq!(t.cpus[2].node, Some(0));
        assert_eq!(t.caches.len(), 1);
        assert_eq!(t.caches[0].level, 2);
        assert_eq!(t.caches[0].kind, CacheKind::Unified);
        assert_eq!(t.caches[0].size, Some(1 << 20));
        assert_eq!(t.caches[0].ways, Some(8));
        assert_eq!(t.caches[0].shared_cpus, vec![0, 1]);
    }

    /// Records as bytes packed as [`read_records`] returns them (the length last).
    pub(crate) fn words(mut raw: Vec<u8>) -> Vec<u64> {
        let len = raw.len();
        raw.resize(len.div_ceil(8) * 8, 0);
        let mut words: Vec<u64> = raw
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        words.push(len as u64);
        words
    }

    /// A PROCESSOR_RELATIONSHIP over several groups' masks.
    fn processor_in(masks: &[(u64, u16)]) -> Vec<u8> {
        let mut b = vec![0u8; 22];
        b.extend_from_slice(&(masks.len() as u16).to_ne_bytes());
        for &(m, g) in masks {
            b.extend(group(m, g));
        }
        b
    }

    #[test]
    fn cpus_of_later_groups_follow_on_from_the_earlier_groups() {
        // Two groups of 40 and 24 CPUs: group 1's bit 0 is CPU 40.
        let groups = GroupTable::from_counts(&[40, 24]);
        let mut raw = Vec::new();
        raw.extend(record(RELATION_CORE, &processor_in(&[(0b11, 0)])));
        raw.extend(record(RELATION_CORE, &processor_in(&[(0b11, 1)])));
        raw.extend(record(RELATION_CORE, &processor_in(&[(0b11 << 22, 1)])));
        // A package over both groups.
        raw.extend(record(
            RELATION_PACKAGE,
            &processor_in(&[(0b11, 0), (0b11 | 0b11 << 22, 1)]),
        ));
        let t = parse(&words(raw), &groups);
        assert_eq!(t.online, vec![0, 1, 40, 41, 62, 63]);
        assert_eq!(t.packages.len(), 1);
        assert_eq!(t.packages[0].cores.len(), 3);
        assert_eq!(t.packages[0].cores[1].cpus, vec![40, 41]);
        assert_eq!(t.cpus.iter().map(|c| c.cpu).collect::<Vec<_>>(), t.online);
        // Every CPU maps back to its group and bit.
        assert_eq!(groups.locate(41), Some((1, 1)));
        assert_eq!(groups.locate(62), Some((1, 22)));
    }
}
