//! Machine-wide figures and topology: `/proc/stat`, `/proc/loadavg`, `/proc/meminfo`,
//! `/proc/vmstat`, `/var/run/utmp`, `/sys/devices/system/{cpu,node}`.
//!
//! Reading is here; parsing is in `parse::{cpustat, loadavg, meminfo, utmp, sysfs}`;
//! the arithmetic that turns parsed values into the portable types is in small pure
//! functions below, unit-tested on recorded values.

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, SystemTime};

use super::parse::cpustat::{self, CpuTicks};
use super::parse::meminfo::{self, Meminfo};
use super::parse::status::parse_cpu_list;
use super::parse::{loadavg, sysfs, utmp};
use super::proc::{page_size, read_path, ticks};
use crate::system::{
    Cache, CacheKind, Core, CpuFreq, CpuStats, LoadAverage, LogicalCpu, NumaNode, Package,
    PerCpuTimes, SwapMemory, SystemCpuTimes, Topology, User, VirtualMemory,
};
use crate::{Error, ErrorKind, Pid, Result};

const CPU_DIR: &str = "/sys/devices/system/cpu";
const NODE_DIR: &str = "/sys/devices/system/node";
const UTMP: &str = "/var/run/utmp";

/// Reads `path` into `buf`; an error names the file.
fn read(op: &'static str, path: &str, buf: &mut Vec<u8>) -> Result<()> {
    read_path(path, buf).map_err(|e| Error::from_io(op, e).with_detail(path.to_string()))
}

/// Reads `path` into `buf`; `Ok(false)` when it does not exist.
fn read_opt(op: &'static str, path: &str, buf: &mut Vec<u8>) -> Result<bool> {
    match read_path(path, buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::from_io(op, e).with_detail(path.to_string())),
    }
}

fn malformed(op: &'static str, what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Parse, op).with_detail(what)
}

// ---- CPU times and counters ---------------------------------------------------------

/// Converts one `cpu` line's ticks to durations.
pub(crate) fn cpu_times_from(t: &CpuTicks) -> SystemCpuTimes {
    SystemCpuTimes {
        user: ticks(t.user),
        nice: ticks(t.nice),
        system: ticks(t.system),
        idle: ticks(t.idle),
        iowait: ticks(t.iowait),
        irq: ticks(t.irq),
        softirq: ticks(t.softirq),
        steal: ticks(t.steal),
        guest: ticks(t.guest),
        guest_nice: ticks(t.guest_nice),
    }
}

/// All CPUs' times and each online CPU's, from one read of `/proc/stat`.
pub(crate) fn cpu_times_all() -> Result<(SystemCpuTimes, Vec<PerCpuTimes>)> {
    let op = "read /proc/stat";
    let mut buf = Vec::new();
    read(op, "/proc/stat", &mut buf)?;
    let lines = cpustat::parse_cpu_lines(&buf).ok_or_else(|| malformed(op, "bad cpu lines"))?;
    let per_cpu = lines
        .per_cpu
        .iter()
        .map(|(cpu, t)| PerCpuTimes {
            cpu: *cpu,
            times: cpu_times_from(t),
        })
        .collect();
    Ok((cpu_times_from(&lines.total), per_cpu))
}

/// Context switches, interrupts, forks, runnable and blocked tasks.
pub(crate) fn cpu_stats() -> Result<CpuStats> {
    let op = "read /proc/stat";
    let mut buf = Vec::new();
    read(op, "/proc/stat", &mut buf)?;
    let c = cpustat::parse_counters(&buf).ok_or_else(|| {
        malformed(
            op,
            "missing or bad ctxt/intr/softirq/processes/procs_* line",
        )
    })?;
    Ok(CpuStats {
        ctx_switches: c.ctxt,
        interrupts: c.intr,
        soft_interrupts: c.softirq,
        processes_forked: c.processes,
        procs_running: c.procs_running,
        procs_blocked: c.procs_blocked,
    })
}

/// The online CPUs (`/sys/devices/system/cpu/online`).
fn online_cpus(buf: &mut Vec<u8>) -> Result<Vec<u32>> {
    let op = "read online CPUs";
    let path = "/sys/devices/system/cpu/online";
    read(op, path, buf)?;
    parse_cpu_list(buf).ok_or_else(|| malformed(op, format!("bad CPU list in {path}")))
}

/// Per-CPU frequencies from cpufreq.
pub(crate) fn cpu_freq() -> Result<Vec<CpuFreq>> {
    let op = "read CPU frequency";
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for cpu in online_cpus(&mut buf)? {
        let dir = format!("{CPU_DIR}/cpu{cpu}/cpufreq");
        if !std::path::Path::new(&dir).exists() {
            return Err(Error::new(ErrorKind::Unsupported, op).with_detail(format!(
                "{dir} does not exist: the kernel has no CPU frequency driver for CPU {cpu} \
                 (usual in virtual machines)"
            )));
        }
        let mut khz = |names: &[&str]| -> Result<u64> {
            for name in names {
                let path = format!("{dir}/{name}");
                if read_opt(op, &path, &mut buf)? {
                    return sysfs::parse_uint(&buf)
                        .ok_or_else(|| malformed(op, format!("bad number in {path}")));
                }
            }
            Err(Error::new(ErrorKind::Unsupported, op)
                .with_detail(format!("{dir} has no {}", names.join(" or "))))
        };
        let current = khz(&["scaling_cur_freq", "cpuinfo_cur_freq"])?;
        let min = khz(&["scaling_min_freq"])?;
        let max = khz(&["scaling_max_freq"])?;
        out.push(CpuFreq {
            cpu,
            current_mhz: current as f64 / 1000.0,
            min_mhz: min as f64 / 1000.0,
            max_mhz: max as f64 / 1000.0,
        });
    }
    Ok(out)
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> Result<LoadAverage> {
    let op = "read /proc/loadavg";
    let mut buf = Vec::new();
    read(op, "/proc/loadavg", &mut buf)?;
    let l = loadavg::parse_loadavg(&buf).ok_or_else(|| malformed(op, "malformed /proc/loadavg"))?;
    Ok(LoadAverage {
        one: l.load[0],
        five: l.load[1],
        fifteen: l.load[2],
    })
}

/// The number of numeric entries in `/proc`.
pub(crate) fn pid_count() -> Result<usize> {
    let op = "list /proc";
    let mut n = 0;
    for e in std::fs::read_dir("/proc").map_err(|e| Error::from_io(op, e))? {
        let e = e.map_err(|e| Error::from_io(op, e))?;
        let name = e.file_name();
        let b = name.as_encoded_bytes();
        if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
            n += 1;
        }
    }
    Ok(n)
}

// ---- memory -------------------------------------------------------------------------

/// psutil's `virtual_memory()` arithmetic on a parsed `/proc/meminfo`.
pub(crate) fn virtual_memory_from(m: &Meminfo) -> Result<VirtualMemory> {
    let op = "read /proc/meminfo";
    let need =
        |v: Option<u64>, line: &str| v.ok_or_else(|| malformed(op, format!("no {line} line")));
    let total = need(m.mem_total, "MemTotal")?;
    let free = need(m.mem_free, "MemFree")?;
    let buffers = need(m.buffers, "Buffers")?;
    let cached = need(m.cached, "Cached")?.saturating_add(m.s_reclaimable.unwrap_or(0));
    let shared = need(m.shmem, "Shmem")?;
    let active = need(m.active, "Active")?;
    let inactive = need(m.inactive, "Inactive")?;
    let slab = need(m.slab, "Slab")?;
    let available = m.mem_available.ok_or_else(|| {
        Error::new(ErrorKind::Unsupported, op)
            .with_detail("no MemAvailable line (Linux before 3.14)")
    })?;
    // Larger than total only in some containers; psutil then falls back to free.
    let available = if available > total { free } else { available };
    let used = total
        .checked_sub(free)
        .and_then(|u| u.checked_sub(cached))
        .and_then(|u| u.checked_sub(buffers))
        .unwrap_or_else(|| total.saturating_sub(free));
    let percent = if total == 0 {
        0.0
    } else {
        (total - available) as f64 / total as f64 * 100.0
    };
    Ok(VirtualMemory {
        total,
        available,
        used,
        free,
        buffers,
        cached,
        shared,
        active,
        inactive,
        slab,
        percent,
    })
}

pub(crate) fn virtual_memory() -> Result<VirtualMemory> {
    let mut buf = Vec::new();
    read("read /proc/meminfo", "/proc/meminfo", &mut buf)?;
    virtual_memory_from(&meminfo::parse_meminfo(&buf))
}

/// psutil's `swap_memory()` arithmetic; `pages` are `pswpin`/`pswpout` of `/proc/vmstat`.
pub(crate) fn swap_memory_from(
    m: &Meminfo,
    pages: (Option<u64>, Option<u64>),
    page: u64,
) -> Result<SwapMemory> {
    let op = "read /proc/meminfo";
    let total = m
        .swap_total
        .ok_or_else(|| malformed(op, "no SwapTotal line"))?;
    let free = m
        .swap_free
        .ok_or_else(|| malformed(op, "no SwapFree line"))?;
    let used = total.saturating_sub(free);
    let percent = if total == 0 {
        0.0
    } else {
        used as f64 / total as f64 * 100.0
    };
    Ok(SwapMemory {
        total,
        used,
        free,
        percent,
        sin: pages.0.and_then(|p| p.checked_mul(page)),
        sout: pages.1.and_then(|p| p.checked_mul(page)),
    })
}

pub(crate) fn swap_memory() -> Result<SwapMemory> {
    let mut buf = Vec::new();
    read("read /proc/meminfo", "/proc/meminfo", &mut buf)?;
    let m = meminfo::parse_meminfo(&buf);
    let pages = if read_opt("read /proc/vmstat", "/proc/vmstat", &mut buf)? {
        meminfo::parse_vmstat_swap(&buf)
    } else {
        (None, None)
    };
    swap_memory_from(&m, pages, page_size())
}

// ---- users --------------------------------------------------------------------------

/// Turns utmp user records into [`User`]s.
pub(crate) fn users_from(records: &[utmp::UtmpRecord]) -> Vec<User> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let nonempty = |b: &[u8]| (!b.is_empty()).then(|| text(b));
    records
        .iter()
        .map(|r| User {
            name: text(&r.user),
            terminal: nonempty(&r.line),
            host: nonempty(&r.host),
            started: SystemTime::UNIX_EPOCH
                + Duration::new(u64::from(r.tv_sec), 0)
                + Duration::from_micros(u64::from(r.tv_usec.min(999_999))),
            pid: u32::try_from(r.pid).ok().and_then(Pid::new),
        })
        .collect()
}

pub(crate) fn users() -> Result<Vec<User>> {
    let op = "read logged-in users";
    let mut buf = Vec::new();
    if !read_opt(op, UTMP, &mut buf)? {
        return Ok(Vec::new());
    }
    if !cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        return Err(Error::new(ErrorKind::Unsupported, op)
            .with_detail("the utmp record layout is known only for x86 and x86_64"));
    }
    Ok(users_from(&utmp::user_records(&buf)))
}

// ---- topology -----------------------------------------------------------------------

/// What `/sys/devices/system/cpu/cpuN/topology` says about one online CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CpuPlace {
    pub(crate) cpu: u32,
    pub(crate) package: Option<u32>,
    pub(crate) core: Option<u32>,
    /// `core_cpus_list` (or the older `thread_siblings_list`): the CPUs of its core.
    pub(crate) siblings: Vec<u32>,
}

/// Builds the topology from what was read: groups CPUs into cores by their sibling
/// lists and cores into packages by package id, maps CPUs to nodes, and sorts and
/// de-duplicates caches.
pub(crate) fn assemble(
    online: Vec<u32>,
    offline: Vec<u32>,
    possible: Vec<u32>,
    places: &[CpuPlace],
    mut numa_nodes: Vec<NumaNode>,
    caches: Vec<Cache>,
) -> Topology {
    let is_online = |c: &u32| online.binary_search(c).is_ok();
    for n in &mut numa_nodes {
        n.cpus.retain(is_online);
        n.cpus.sort_unstable();
        n.cpus.dedup();
    }
    numa_nodes.sort_by_key(|n| n.id);
    let node_of = |cpu: u32| {
        numa_nodes
            .iter()
            .find(|n| n.cpus.binary_search(&cpu).is_ok())
            .map(|n| n.id)
    };
    // package id (None last) -> core key (first online sibling) -> core
    let mut packages: BTreeMap<(bool, u32), BTreeMap<u32, Core>> = BTreeMap::new();
    let mut cpus = Vec::with_capacity(places.len());
    for p in places {
        let mut sib: Vec<u32> = p.siblings.iter().copied().filter(is_online).collect();
        if !sib.contains(&p.cpu) {
            sib.push(p.cpu);
        }
        sib.sort_unstable();
        sib.dedup();
        let key = (p.package.is_none(), p.package.unwrap_or(0));
        let core = packages
            .entry(key)
            .or_default()
            .entry(sib[0])
            .or_insert_with(|| Core {
                id: p.core,
                cpus: Vec::new(),
            });
        if !core.cpus.contains(&p.cpu) {
            core.cpus.push(p.cpu);
            core.cpus.sort_unstable();
        }
        cpus.push(LogicalCpu {
            cpu: p.cpu,
            package: p.package,
            core: p.core,
            node: node_of(p.cpu),
        });
    }
    cpus.sort_by_key(|c| c.cpu);
    let packages = packages
        .into_iter()
        .map(|((none, id), cores)| Package {
            id: (!none).then_some(id),
            cores: cores.into_values().collect(),
        })
        .collect();
    let mut caches = caches;
    caches.sort_by(|a, b| {
        (a.level, a.kind, a.shared_cpus.first(), &a.shared_cpus).cmp(&(
            b.level,
            b.kind,
            b.shared_cpus.first(),
            &b.shared_cpus,
        ))
    });
    caches
        .dedup_by(|a, b| a.level == b.level && a.kind == b.kind && a.shared_cpus == b.shared_cpus);
    Topology {
        online,
        offline,
        possible,
        cpus,
        packages,
        numa_nodes,
        caches,
    }
}

/// The kind named by a cache's `type` file.
pub(crate) fn cache_kind(word: &[u8]) -> CacheKind {
    match word {
        b"Data" => CacheKind::Data,
        b"Instruction" => CacheKind::Instruction,
        b"Unified" => CacheKind::Unified,
        _ => CacheKind::Other,
    }
}

/// How many CPU numbers this machine can ever have (highest possible CPU + 1), read once;
/// `None` if `/sys/devices/system/cpu/possible` cannot be read.
pub(crate) fn possible_cpus() -> Option<usize> {
    static P: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *P.get_or_init(|| {
        let mut buf = Vec::new();
        cpu_list_file(
            "read possible CPUs",
            "/sys/devices/system/cpu/possible",
            &mut buf,
        )
        .ok()
        .flatten()
        .and_then(|v| v.iter().max().map(|&m| m as usize + 1))
    })
}

/// Reads a CPU list file; `Ok(None)` when it does not exist.
fn cpu_list_file(op: &'static str, path: &str, buf: &mut Vec<u8>) -> Result<Option<Vec<u32>>> {
    if !read_opt(op, path, buf)? {
        return Ok(None);
    }
    parse_cpu_list(buf)
        .map(Some)
        .ok_or_else(|| malformed(op, format!("bad CPU list in {path}")))
}

/// Reads a one-number file; `Ok(None)` when it does not exist.
fn int_file(op: &'static str, path: &str, buf: &mut Vec<u8>) -> Result<Option<i64>> {
    if !read_opt(op, path, buf)? {
        return Ok(None);
    }
    sysfs::parse_int(buf)
        .map(Some)
        .ok_or_else(|| malformed(op, format!("bad number in {path}")))
}

/// The numbered entries `{prefix}N` of a directory, ascending; empty if it is missing.
fn numbered_entries(op: &'static str, dir: &str, prefix: &str) -> Result<Vec<u32>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::from_io(op, e).with_detail(dir.to_string())),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::from_io(op, e).with_detail(dir.to_string()))?;
        let name = e.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_prefix(prefix))
            .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn place(cpu: u32, buf: &mut Vec<u8>) -> Result<CpuPlace> {
    let op = "read CPU topology";
    let dir = format!("{CPU_DIR}/cpu{cpu}/topology");
    if !std::path::Path::new(&dir).exists() {
        return Err(
            Error::new(ErrorKind::Unsupported, op).with_detail(format!("{dir} does not exist"))
        );
    }
    let id = |v: Option<i64>| v.and_then(|n| u32::try_from(n).ok());
    let package = id(int_file(op, &format!("{dir}/physical_package_id"), buf)?);
    let core = id(int_file(op, &format!("{dir}/core_id"), buf)?);
    let siblings = match cpu_list_file(op, &format!("{dir}/core_cpus_list"), buf)? {
        Some(s) => s,
        None => cpu_list_file(op, &format!("{dir}/thread_siblings_list"), buf)?
            .unwrap_or_else(|| vec![cpu]),
    };
    Ok(CpuPlace {
        cpu,
        package,
        core,
        siblings,
    })
}

fn numa_nodes(buf: &mut Vec<u8>) -> Result<Vec<NumaNode>> {
    let op = "read NUMA nodes";
    let mut out = Vec::new();
    for id in numbered_entries(op, NODE_DIR, "node")? {
        let dir = format!("{NODE_DIR}/node{id}");
        let cpus = cpu_list_file(op, &format!("{dir}/cpulist"), buf)?.unwrap_or_default();
        let mem = if read_opt(op, &format!("{dir}/meminfo"), buf)? {
            meminfo::parse_node_meminfo(buf)
        } else {
            Default::default()
        };
        out.push(NumaNode {
            id,
            cpus,
            memory_total: mem.total,
            memory_free: mem.free,
        });
    }
    Ok(out)
}

fn caches(online: &[u32], buf: &mut Vec<u8>) -> Result<Vec<Cache>> {
    let op = "read CPU caches";
    let mut seen: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut out = Vec::new();
    for &cpu in online {
        let cdir = format!("{CPU_DIR}/cpu{cpu}/cache");
        for index in numbered_entries(op, &cdir, "index")? {
            let dir = format!("{cdir}/index{index}");
            let shared = cpu_list_file(op, &format!("{dir}/shared_cpu_list"), buf)?
                .unwrap_or_else(|| vec![cpu]);
            if seen.iter().any(|(i, s)| *i == index && *s == shared) {
                continue;
            }
            seen.push((index, shared.clone()));
            let Some(level) =
                int_file(op, &format!("{dir}/level"), buf)?.and_then(|n| u32::try_from(n).ok())
            else {
                continue;
            };
            let kind = if read_opt(op, &format!("{dir}/type"), buf)? {
                sysfs::parse_word(buf).map_or(CacheKind::Other, cache_kind)
            } else {
                CacheKind::Other
            };
            let size = if read_opt(op, &format!("{dir}/size"), buf)? {
                sysfs::parse_cache_size(buf)
            } else {
                None
            };
            let uint = |name: &str, buf: &mut Vec<u8>| -> Result<Option<u64>> {
                Ok(int_file(op, &format!("{dir}/{name}"), buf)?
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|&n| n > 0))
            };
            let line_size = uint("coherency_line_size", buf)?;
            let ways = uint("ways_of_associativity", buf)?;
            out.push(Cache {
                level,
                kind,
                size,
                line_size,
                ways,
                shared_cpus: shared,
            });
        }
    }
    Ok(out)
}

pub(crate) fn topology() -> Result<Topology> {
    let op = "read CPU topology";
    let mut buf = Vec::new();
    let online = online_cpus(&mut buf)?;
    let offline =
        cpu_list_file(op, "/sys/devices/system/cpu/offline", &mut buf)?.unwrap_or_default();
    let possible = cpu_list_file(op, "/sys/devices/system/cpu/possible", &mut buf)?
        .unwrap_or_else(|| online.clone());
    let places = online
        .iter()
        .map(|&c| place(c, &mut buf))
        .collect::<Result<Vec<_>>>()?;
    let nodes = numa_nodes(&mut buf)?;
    let caches = caches(&online, &mut buf)?;
    Ok(assemble(online, offline, possible, &places, nodes, caches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::linux::parse::utmp;

    const MEMINFO: &[u8] = include_bytes!("../../../testdata/meminfo");

    #[test]
    fn virtual_memory_psutil_definitions() {
        let m = meminfo::parse_meminfo(MEMINFO);
        let v = virtual_memory_from(&m).unwrap();
        let kb = |n: u64| n * 1024;
        assert_eq!(v.total, kb(24_683_656));
        assert_eq!(v.free, kb(23_858_816));
        assert_eq!(v.available, kb(24_339_996));
        assert_eq!(v.buffers, kb(1_352));
        assert_eq!(v.cached, kb(680_012 + 30_744));
        assert_eq!(v.shared, kb(8_952));
        assert_eq!(v.slab, kb(50_232));
        assert_eq!(
            v.used,
            kb(24_683_656 - 23_858_816 - (680_012 + 30_744) - 1_352)
        );
        let pct = (24_683_656.0 - 24_339_996.0) / 24_683_656.0 * 100.0;
        assert!((v.percent - pct).abs() < 1e-9);
    }

    #[test]
    fn virtual_memory_edge_cases() {
        let base = meminfo::parse_meminfo(MEMINFO);
        // Caches larger than total - free (containers): used falls back to total - free.
        let m = Meminfo {
            mem_total: Some(100),
            mem_free: Some(60),
            cached: Some(50),
            s_reclaimable: None,
            mem_available: Some(90),
            ..base
        };
        let v = virtual_memory_from(&m).unwrap();
        assert_eq!((v.used, v.cached), (40, 50));
        // Available above total: psutil uses free.
        let v = virtual_memory_from(&Meminfo {
            mem_available: Some(200),
            ..m
        })
        .unwrap();
        assert_eq!(v.available, 60);
        assert!((v.percent - 40.0).abs() < 1e-9);
        // Missing MemAvailable: unsupported, not a guess.
        let e = virtual_memory_from(&Meminfo {
            mem_available: None,
            ..m
        })
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        // Missing a line the kernel always writes: a parse error naming it.
        let e = virtual_memory_from(&Meminfo { buffers: None, ..m }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parse);
        assert!(e.to_string().contains("Buffers"), "{e}");
        let v = virtual_memory_from(&Meminfo {
            mem_total: Some(0),
            mem_free: Some(0),
            mem_available: Some(0),
            ..m
        })
        .unwrap();
        assert_eq!(v.percent, 0.0);
    }

    #[test]
    fn swap_memory_arithmetic() {
        let m = Meminfo {
            swap_total: Some(1000),
            swap_free: Some(750),
            ..Default::default()
        };
        let s = swap_memory_from(&m, (Some(3), Some(5)), 4096).unwrap();
        assert_eq!((s.total, s.used, s.free), (1000, 250, 750));
        assert!((s.percent - 25.0).abs() < 1e-9);
        assert_eq!((s.sin, s.sout), (Some(3 * 4096), Some(5 * 4096)));
        let s = swap_memory_from(&meminfo::parse_meminfo(MEMINFO), (None, Some(0)), 4096).unwrap();
        assert_eq!((s.total, s.used, s.percent), (0, 0, 0.0));
        assert_eq!((s.sin, s.sout), (None, Some(0)));
        assert_eq!(
            swap_memory_from(&Meminfo::default(), (None, None), 4096)
                .unwrap_err()
                .kind(),
            ErrorKind::Parse
        );
    }

    #[test]
    fn users_from_utmp_fixture() {
        let recs = utmp::user_records(&utmp::tests::fixture());
        let u = users_from(&recs);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].name, "alice");
        assert_eq!(u[0].terminal.as_deref(), Some("pts/0"));
        assert_eq!(u[0].host.as_deref(), Some("192.168.1.2"));
        assert_eq!(
            u[0].started,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_422_000_250)
        );
        assert_eq!(u[0].pid, Pid::new(4242));
        assert_eq!(u[1].name, "b".repeat(32));
        assert_eq!(u[1].host, None);
        assert_eq!(
            u[1].started,
            SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000)
        );
    }

    fn cache(level: u32, kind: CacheKind, size: u64, shared: &[u32]) -> Cache {
        Cache {
            level,
            kind,
            size: Some(size),
            line_size: Some(64),
            ways: Some(8),
            shared_cpus: shared.to_vec(),
        }
    }

    #[test]
    fn topology_of_this_vm() {
        // Recorded here: 2 CPUs, one package, cores 0 and 1 without SMT, one node,
        // L1d/L1i/L2 per core and a shared L3.
        let places = [
            CpuPlace {
                cpu: 0,
                package: Some(0),
                core: Some(0),
                siblings: vec![0],
            },
            CpuPlace {
                cpu: 1,
                package: Some(0),
                core: Some(1),
                siblings: vec![1],
            },
        ];
        let node = NumaNode {
            id: 0,
            cpus: vec![0, 1],
            memory_total: Some(7_300_896 * 1024),
            memory_free: Some(4_619_384 * 1024),
        };
        let mut caches = Vec::new();
        for cpu in [0, 1] {
            caches.push(cache(1, CacheKind::Data, 32 << 10, &[cpu]));
            caches.push(cache(1, CacheKind::Instruction, 32 << 10, &[cpu]));
            caches.push(cache(2, CacheKind::Unified, 512 << 10, &[cpu]));
        }
        caches.push(cache(3, CacheKind::Unified, 32 << 20, &[0, 1]));
        let t = assemble(
            vec![0, 1],
            vec![],
            vec![0, 1],
            &places,
            vec![node.clone()],
            caches,
        );
        assert_eq!(t.logical_cpus(), 2);
        assert_eq!(t.physical_cores(), 2);
        assert_eq!(t.packages.len(), 1);
        assert_eq!(t.packages[0].id, Some(0));
        assert_eq!(
            t.packages[0].cores,
            vec![
                Core {
                    id: Some(0),
                    cpus: vec![0]
                },
                Core {
                    id: Some(1),
                    cpus: vec![1]
                }
            ]
        );
        assert_eq!(t.numa_nodes, vec![node]);
        assert_eq!(t.cpus[1].node, Some(0));
        let summary: Vec<(u32, CacheKind, Vec<u32>)> = t
            .caches
            .iter()
            .map(|c| (c.level, c.kind, c.shared_cpus.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, CacheKind::Data, vec![0]),
                (1, CacheKind::Data, vec![1]),
                (1, CacheKind::Instruction, vec![0]),
                (1, CacheKind::Instruction, vec![1]),
                (2, CacheKind::Unified, vec![0]),
                (2, CacheKind::Unified, vec![1]),
                (3, CacheKind::Unified, vec![0, 1]),
            ]
        );
    }

    #[test]
    fn topology_smt_two_packages_offline_cpu() {
        // Two packages of two SMT cores each (siblings n and n+4, Intel numbering), CPU 7
        // offline, package id unknown on none, two nodes (one per package).
        let mut places = Vec::new();
        for cpu in [0u32, 1, 2, 3, 4, 5, 6] {
            let pkg = (cpu % 4) / 2;
            let core = cpu % 2;
            let first = cpu % 4;
            places.push(CpuPlace {
                cpu,
                package: Some(pkg),
                core: Some(core),
                siblings: vec![first, first + 4],
            });
        }
        let nodes = vec![
            NumaNode {
                id: 1,
                cpus: vec![2, 3, 6, 7],
                memory_total: None,
                memory_free: None,
            },
            NumaNode {
                id: 0,
                cpus: vec![0, 1, 4, 5],
                memory_total: Some(1),
                memory_free: Some(0),
            },
        ];
        let t = assemble(
            vec![0, 1, 2, 3, 4, 5, 6],
            vec![7],
            (0..8).collect(),
            &places,
            nodes,
            vec![],
        );
        assert_eq!(t.logical_cpus(), 7);
        assert_eq!(t.physical_cores(), 4);
        type Shape = Vec<(Option<u32>, Vec<(Option<u32>, Vec<u32>)>)>;
        let shape: Shape = t
            .packages
            .iter()
            .map(|p| {
                (
                    p.id,
                    p.cores.iter().map(|c| (c.id, c.cpus.clone())).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (Some(0), vec![(Some(0), vec![0, 4]), (Some(1), vec![1, 5])]),
                (Some(1), vec![(Some(0), vec![2, 6]), (Some(1), vec![3])]),
            ]
        );
        assert_eq!(t.numa_nodes[0].id, 0);
        assert_eq!(t.numa_nodes[1].cpus, vec![2, 3, 6]);
        assert_eq!(t.cpus[6].node, Some(1));
        assert_eq!(t.offline, vec![7]);
    }

    #[test]
    fn topology_without_package_ids() {
        let places = [
            CpuPlace {
                cpu: 0,
                package: None,
                core: None,
                siblings: vec![],
            },
            CpuPlace {
                cpu: 1,
                package: None,
                core: None,
                siblings: vec![],
            },
        ];
        let t = assemble(vec![0, 1], vec![], vec![0, 1], &places, vec![], vec![]);
        assert_eq!(t.packages.len(), 1);
        assert_eq!(t.packages[0].id, None);
        assert_eq!(t.physical_cores(), 2);
        assert_eq!(t.cpus[0].node, None);
    }

    #[test]
    fn cache_kinds() {
        assert_eq!(cache_kind(b"Data"), CacheKind::Data);
        assert_eq!(cache_kind(b"Instruction"), CacheKind::Instruction);
        assert_eq!(cache_kind(b"Unified"), CacheKind::Unified);
        assert_eq!(cache_kind(b"Trace"), CacheKind::Other);
    }

    #[test]
    fn cpu_ticks_convert() {
        let hz = super::super::proc::ticks_per_second();
        let t = cpu_times_from(&CpuTicks {
            user: hz * 2,
            guest: hz,
            ..Default::default()
        });
        assert_eq!(t.user, Duration::from_secs(2));
        assert_eq!(t.guest, Duration::from_secs(1));
        assert_eq!(t.total(), Duration::from_secs(2));
    }
}
