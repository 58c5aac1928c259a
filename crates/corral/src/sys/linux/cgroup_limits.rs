//! Job limits and accounting on cgroups (a child module of `cgroup`, so it sees the
//! job's directories).
//!
//! Each kernel-enforced limit is written to the cgroup that carries its controller: the
//! v2 cgroup when the caller's v2 cgroup offers the controller (it is then enabled in the
//! caller's own `cgroup.subtree_control` if needed), else the v1 hierarchy with it. The v1
//! `cpu` and `cpuset` hierarchies are joined only when a limit needs them (joining costs
//! a write per spawn, and a v1 `cpu` cgroup has no real-time budget, which would refuse
//! `SCHED_FIFO` members); that is possible only while the job is empty.
//!
//! `set_limits` is all-or-nothing: every limit is resolved to files first (an
//! unenforceable one fails before anything is written), the old values are read, and a
//! failed write restores what was written before it and removes cgroups joined for it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    discover, init_cpuset, io_err, read_text, write_file, Dir, Hierarchy, Job, JOB_PREFIX,
};
use crate::info::CgroupMembership;
use crate::job_limits::{Enforcement, IoRate, JobAccounting, JobLimits, Limit, LimitSupport};
use crate::sys::linux::parse::status::parse_cpu_list;
use crate::sys::linux::parse::{parse_i64, parse_u64, text};
use crate::{Error, ErrorKind, Result};

/// v1 hierarchies a job joins only when one of its limits needs them.
pub(crate) const V1_ON_DEMAND: &[&str] = &["cpu", "cpuset"];

/// The CFS bandwidth period corral uses, microseconds.
const PERIOD_US: u64 = 100_000;

/// v1 memory counters at or above this mean "unlimited" (`PAGE_COUNTER_MAX` pages).
const V1_UNLIMITED: u64 = 1 << 62;

pub(super) fn on_demand(h: &Hierarchy) -> bool {
    !h.v2
        && h.controllers
            .iter()
            .any(|c| V1_ON_DEMAND.contains(&c.as_str()))
}

fn has(d: &Dir, ctl: &str) -> bool {
    d.controllers.iter().any(|c| c == ctl)
}

fn read_str(p: &Path) -> Option<String> {
    read_text(p)
        .ok()
        .map(|b| String::from_utf8_lossy(text::trim(&b)).into_owned())
}

fn read_num(p: &Path) -> Option<u64> {
    read_text(p).ok().and_then(|b| parse_u64(text::trim(&b)))
}

/// `key value` lines (`cpu.stat`, `memory.stat`, `memory.events`, `memory.oom_control`).
fn keyed(p: &Path, key: &str) -> Option<u64> {
    let b = read_text(p).ok()?;
    let v = text::lines(&b).find_map(|l| {
        let mut it = text::fields(l);
        (it.next()? == key.as_bytes())
            .then(|| it.next().and_then(parse_u64))
            .flatten()
    });
    v
}

fn online_cpus() -> usize {
    read_text(Path::new("/sys/devices/system/cpu/online"))
        .ok()
        .and_then(|b| parse_cpu_list(&b))
        .map_or(1, |v| v.len().max(1))
}

fn cpu_list(cpus: &[usize]) -> String {
    let mut v = cpus.to_vec();
    v.sort_unstable();
    v.dedup();
    v.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// Where a controller's files are for this job.
enum Place {
    V2(PathBuf),
    V1(PathBuf),
}

fn unsupported(limit: Limit, why: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unsupported, "set job limits").with_detail(format!(
        "{} cannot be enforced here: {}",
        limit.name(),
        why.into()
    ))
}

/// One planned write: the file, the new value, the limit it is for.
struct Write {
    path: PathBuf,
    value: String,
    limit: Limit,
}

impl Job {
    fn v2_dir(&self) -> Option<&Dir> {
        self.dirs.iter().find(|d| d.v2)
    }

    fn v1_dir(&self, ctl: &str) -> Option<&Dir> {
        self.dirs.iter().find(|d| !d.v2 && has(d, ctl))
    }

    /// The v1 memory cgroup, when the job's memory is counted there (no v2 `memory.stat`,
    /// as in `accounting`).
    pub(crate) fn v1_memory_dir(&self) -> Option<&Path> {
        if self
            .v2_dir()
            .is_some_and(|d| d.path.join("memory.stat").exists())
        {
            return None;
        }
        self.v1_dir("memory").map(|d| d.path.as_path())
    }

    /// The v2 cgroup, if the caller's v2 cgroup offers `ctl` (not necessarily enabled).
    fn v2_offers(&self, ctl: &str) -> Option<&Dir> {
        let d = self.v2_dir()?;
        let parent = d.path.parent()?;
        let list = read_str(&parent.join("cgroup.controllers"))?;
        list.split_whitespace().any(|c| c == ctl).then_some(d)
    }

    /// Finds (enabling, or joining, as needed) where `ctl` of the job lives. `created`
    /// collects v1 cgroups made here, so a failure can remove them.
    fn place(
        &mut self,
        v2_ctl: &str,
        v1_ctl: &str,
        limit: Limit,
        hs: &[Hierarchy],
        created: &mut Vec<usize>,
    ) -> Result<Place> {
        if let Some(d) = self.v2_offers(v2_ctl) {
            let enabled = read_str(&d.path.join("cgroup.controllers"))
                .is_some_and(|l| l.split_whitespace().any(|c| c == v2_ctl));
            if !enabled {
                let parent = d.path.parent().expect("a job cgroup has a parent");
                let sc = parent.join("cgroup.subtree_control");
                if let Err(e) = write_file(&sc, format!("+{v2_ctl}").as_bytes()) {
                    let why = if e.raw_os_error() == Some(libc::EBUSY) {
                        format!(
                            "the {v2_ctl} controller cannot be enabled in {}: that cgroup \
                             holds processes (this one included), and cgroup v2 lets only a \
                             cgroup without processes enable controllers for its children; \
                             run from a leaf cgroup whose parent delegates {v2_ctl}",
                            sc.display()
                        )
                    } else {
                        format!("enabling {v2_ctl} in {}: {e}", sc.display())
                    };
                    return Err(unsupported(limit, why));
                }
            }
            return Ok(Place::V2(d.path.clone()));
        }
        if let Some(d) = self.v1_dir(v1_ctl) {
            return Ok(Place::V1(d.path.clone()));
        }
        let Some(h) = hs
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == v1_ctl))
        else {
            return Err(unsupported(
                limit,
                format!(
                    "no {v2_ctl} controller: the cgroup v2 hierarchy does not offer it to this \
                     process's cgroup and no v1 {v1_ctl} hierarchy is mounted"
                ),
            ));
        };
        if h.read_only || !super::writable(&h.own_dir) {
            return Err(unsupported(
                limit,
                format!(
                    "the v1 {v1_ctl} hierarchy at {} is not writable",
                    h.own_dir.display()
                ),
            ));
        }
        if !self.pids()?.is_empty() {
            return Err(unsupported(
                limit,
                format!(
                    "it needs the v1 {v1_ctl} hierarchy, which a job joins only while it is \
                     empty; give this limit when the job is created"
                ),
            ));
        }
        let d = super::dir_of(h, &format!("{JOB_PREFIX}{}", self.name));
        std::fs::create_dir(&d.path).map_err(|e| io_err("set job limits", &d.path, e))?;
        let path = d.path.clone();
        let cpuset = has(&d, "cpuset");
        self.dirs.push(d);
        created.push(self.dirs.len() - 1);
        if cpuset {
            init_cpuset(&h.own_dir, &path).map_err(|e| io_err("set job limits", &path, e))?;
        }
        Ok(Place::V1(path))
    }

    /// Applies the kernel-side limits of `l` (others need nothing here but a check).
    pub(crate) fn set_limits(&mut self, l: &JobLimits) -> Result<()> {
        let hs = discover()?;
        self.set_limits_in(l, &hs)
    }

    /// `set_limits` with the hierarchies given (tests pass none, to stay off the real ones).
    fn set_limits_in(&mut self, l: &JobLimits, hs: &[Hierarchy]) -> Result<()> {
        let mut created = Vec::new();
        let r = self.plan_and_write(l, hs, &mut created);
        if r.is_err() {
            for i in created.into_iter().rev() {
                let d = self.dirs.remove(i);
                let _ = std::fs::remove_dir(&d.path);
            }
        }
        r
    }

    fn plan_and_write(
        &mut self,
        l: &JobLimits,
        hs: &[Hierarchy],
        created: &mut Vec<usize>,
    ) -> Result<()> {
        let mut w: Vec<Write> = Vec::new();
        let mut push =
            |path: PathBuf, value: String, limit: Limit| w.push(Write { path, value, limit });

        // Job memory (RAM + swap).
        if let Some(m) = l.job_memory {
            match self.place("memory", "memory", Limit::JobMemory, hs, created)? {
                Place::V2(p) => {
                    push(p.join("memory.max"), m.to_string(), Limit::JobMemory);
                    if p.join("memory.swap.max").exists() {
                        push(p.join("memory.swap.max"), "0".into(), Limit::JobMemory);
                    }
                }
                Place::V1(p) => {
                    let lim = p.join("memory.limit_in_bytes");
                    let sw = p.join("memory.memsw.limit_in_bytes");
                    // memsw must stay >= the memory limit at every step.
                    let cur = read_num(&lim).unwrap_or(u64::MAX);
                    let swap = sw.exists();
                    if swap && m > cur {
                        push(sw.clone(), m.to_string(), Limit::JobMemory);
                    }
                    push(lim, m.to_string(), Limit::JobMemory);
                    if swap && m <= cur {
                        push(sw, m.to_string(), Limit::JobMemory);
                    }
                }
            }
        }
        if let Some(n) = l.max_processes {
            match self.place("pids", "pids", Limit::ActiveProcesses, hs, created)? {
                Place::V2(p) | Place::V1(p) => {
                    push(p.join("pids.max"), n.to_string(), Limit::ActiveProcesses)
                }
            }
        }
        let cores = match (l.cpu_rate, l.cpus) {
            (Some(r), _) => Some(r * online_cpus() as f64),
            (None, Some(c)) => {
                let n = online_cpus();
                if c > n as f64 {
                    return Err(Error::new(ErrorKind::InvalidInput, "set job limits")
                        .with_detail(format!("CPUs: {c} is more than the {n} online CPUs")));
                }
                Some(c)
            }
            _ => None,
        };
        if let Some(cores) = cores {
            // quota >= 1 ms: lengthen the period (up to 1 s) for very small shares.
            let mut period = PERIOD_US;
            let mut quota = (cores * period as f64).round() as u64;
            if quota < 1000 {
                period = ((1000.0 / cores).ceil() as u64).min(1_000_000);
                quota = (cores * period as f64).round() as u64;
            }
            if quota < 1000 {
                return Err(
                    Error::new(ErrorKind::InvalidInput, "set job limits").with_detail(format!(
                        "CPU rate: {cores} CPUs is below the kernel's 1 ms per second"
                    )),
                );
            }
            match self.place("cpu", "cpu", Limit::CpuRate, hs, created)? {
                Place::V2(p) => push(
                    p.join("cpu.max"),
                    format!("{quota} {period}"),
                    Limit::CpuRate,
                ),
                Place::V1(p) => {
                    push(p.join("cpu.cfs_quota_us"), "-1".into(), Limit::CpuRate);
                    push(
                        p.join("cpu.cfs_period_us"),
                        period.to_string(),
                        Limit::CpuRate,
                    );
                    push(
                        p.join("cpu.cfs_quota_us"),
                        quota.to_string(),
                        Limit::CpuRate,
                    );
                }
            }
        }
        if let Some(wt) = l.cpu_weight {
            match self.place("cpu", "cpu", Limit::CpuWeight, hs, created)? {
                Place::V2(p) => push(p.join("cpu.weight"), wt.to_string(), Limit::CpuWeight),
                Place::V1(p) => push(
                    p.join("cpu.shares"),
                    (u64::from(wt) * 1024 / 100).max(2).to_string(),
                    Limit::CpuWeight,
                ),
            }
        }
        if let Some(m) = l.working_set_min {
            match self.place("memory", "memory", Limit::WorkingSetMin, hs, created)? {
                Place::V2(p) => push(p.join("memory.low"), m.to_string(), Limit::WorkingSetMin),
                Place::V1(_) => {
                    return Err(unsupported(
                        Limit::WorkingSetMin,
                        "cgroup v1 memory has no protection floor (v2 memory.low)",
                    ))
                }
            }
        }
        if let Some(m) = l.working_set_max {
            match self.place("memory", "memory", Limit::WorkingSetMax, hs, created)? {
                Place::V2(p) => push(p.join("memory.high"), m.to_string(), Limit::WorkingSetMax),
                Place::V1(p) => push(
                    p.join("memory.soft_limit_in_bytes"),
                    m.to_string(),
                    Limit::WorkingSetMax,
                ),
            }
        }
        for r in &l.io_rates {
            match self.place("io", "blkio", Limit::IoRate, hs, created)? {
                Place::V2(p) => {
                    let v = |x: Option<u64>| x.map_or("max".to_owned(), |n| n.to_string());
                    push(
                        p.join("io.max"),
                        format!(
                            "{}:{} rbps={} wbps={} riops={} wiops={}",
                            r.major,
                            r.minor,
                            v(r.read_bps),
                            v(r.write_bps),
                            v(r.read_iops),
                            v(r.write_iops)
                        ),
                        Limit::IoRate,
                    );
                }
                Place::V1(p) => {
                    for (f, x) in [
                        ("blkio.throttle.read_bps_device", r.read_bps),
                        ("blkio.throttle.write_bps_device", r.write_bps),
                        ("blkio.throttle.read_iops_device", r.read_iops),
                        ("blkio.throttle.write_iops_device", r.write_iops),
                    ] {
                        push(
                            p.join(f),
                            format!("{}:{} {}", r.major, r.minor, x.unwrap_or(0)),
                            Limit::IoRate,
                        );
                    }
                }
            }
        }
        if let Some(cpus) = &l.affinity {
            // Enforced by cpuset where there is one; members get sched_setaffinity too.
            match self.place("cpuset", "cpuset", Limit::Affinity, hs, created) {
                Ok(Place::V2(p)) => push(p.join("cpuset.cpus"), cpu_list(cpus), Limit::Affinity),
                Ok(Place::V1(p)) => push(p.join("cpuset.cpus"), cpu_list(cpus), Limit::Affinity),
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                Err(e) => return Err(e),
            }
        }
        if l.priority_class == Some(crate::PriorityClass::Realtime) {
            // A v1 cpu cgroup (CONFIG_RT_GROUP_SCHED) starts with no real-time budget:
            // SCHED_FIFO/RR would be refused to every member.
            if let Some(d) = self.v1_dir("cpu") {
                if read_num(&d.path.join("cpu.rt_runtime_us")) == Some(0) {
                    return Err(unsupported(
                        Limit::PriorityClass,
                        "the realtime class inside a job with a CPU limit: the job's v1 cpu \
                         cgroup has no real-time budget (cpu.rt_runtime_us is 0)",
                    ));
                }
            }
        }
        if l.job_cpu_time.is_some() && self.cpu_usage().is_err() {
            return Err(unsupported(
                Limit::JobTime,
                "neither v2 cpu.stat nor v1 cpuacct.usage is readable for the job",
            ));
        }

        // The breakaway mark first (it may turn out unsupported); undone with the rest.
        let marked = self.mark_breakaway(l.breakaway_ok)?;

        // Read the old values, then write; undo on failure.
        let old: Vec<Option<Vec<u8>>> = w.iter().map(|x| read_text(&x.path).ok()).collect();
        for (i, x) in w.iter().enumerate() {
            if let Err(e) = write_file(&x.path, x.value.as_bytes()) {
                unmark_breakaway(&marked, l.breakaway_ok);
                for (y, o) in w[..i].iter().zip(&old).rev() {
                    let v = o.as_deref().map(|o| restore_value(&y.path, o, &y.value));
                    if let Some(v) = v.filter(|v| !v.is_empty()) {
                        let _ = write_file(&y.path, v.as_bytes());
                    }
                }
                let kind = match e.raw_os_error() {
                    Some(libc::EINVAL) | Some(libc::ERANGE) | Some(libc::ENODEV) => {
                        ErrorKind::InvalidInput
                    }
                    _ => Error::from_io(
                        "",
                        io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0)),
                    )
                    .kind(),
                };
                return Err(Error::new(kind, "set job limits").with_detail(format!(
                    "{}: writing {:?} to {}: {e}",
                    x.limit.name(),
                    x.value,
                    x.path.display()
                )));
            }
        }
        Ok(())
    }

    /// Sets (`yes`) or clears the breakaway mark on each of the job's cgroups; returns
    /// the directories changed, for [`unmark_breakaway`]. Directories whose filesystem
    /// has no `user.*` extended attributes are skipped; setting fails as Unsupported only
    /// when none takes it (readers accept the mark on any of the job's cgroups).
    fn mark_breakaway(&self, yes: bool) -> Result<Vec<PathBuf>> {
        let name = super::BREAKAWAY_XATTR;
        let mut changed = Vec::new();
        let mut unsupported_on = Vec::new();
        for d in &self.dirs {
            if super::breakaway_mark(&d.path).unwrap_or(false) == yes {
                if yes {
                    changed.push(PathBuf::new()); // already set: counts as taken
                }
                continue;
            }
            let r = if yes {
                rustix::fs::setxattr(&d.path, name, b"1", rustix::fs::XattrFlags::empty())
            } else {
                rustix::fs::removexattr(&d.path, name)
            };
            match r {
                Ok(()) => changed.push(d.path.clone()),
                Err(rustix::io::Errno::NODATA) if !yes => {}
                Err(rustix::io::Errno::NOTSUP) => unsupported_on.push(d.path.display().to_string()),
                Err(e) => {
                    unmark_breakaway(&changed, yes);
                    return Err(
                        Error::from_io("set job limits", e.into()).with_detail(format!(
                            "{}: {} the extended attribute {name} on {}",
                            Limit::BreakawayOk.name(),
                            if yes { "setting" } else { "removing" },
                            d.path.display()
                        )),
                    );
                }
            }
        }
        if yes && changed.is_empty() && !unsupported_on.is_empty() {
            return Err(unsupported(
                Limit::BreakawayOk,
                format!(
                    "the job's cgroups ({}) take no user.* extended attributes (cgroupfs \
                     supports them from Linux 5.7), and that is where corral keeps the mark",
                    unsupported_on.join(", ")
                ),
            ));
        }
        changed.retain(|p| !p.as_os_str().is_empty());
        Ok(changed)
    }

    /// The limits the kernel holds for the job.
    pub(crate) fn limits(&self) -> Result<JobLimits> {
        let mut l = JobLimits::new();
        l.breakaway_ok = self
            .dirs
            .iter()
            .any(|d| super::breakaway_mark(&d.path).unwrap_or(false));
        let v2 = self.v2_dir().map(|d| d.path.clone());
        let mem = self.v1_dir("memory").map(|d| d.path.clone());
        let v2f = |f: &str| v2.as_ref().map(|p| p.join(f)).filter(|p| p.exists());
        let max_or = |p: &Path| {
            read_str(p)
                .filter(|s| s != "max")
                .and_then(|s| s.parse().ok())
        };

        if let Some(p) = v2f("memory.max") {
            l.job_memory = max_or(&p);
            l.working_set_max = v2f("memory.high").and_then(|p| max_or(&p));
            l.working_set_min = v2f("memory.low")
                .and_then(|p| read_num(&p))
                .filter(|&n| n > 0);
        } else if let Some(p) = &mem {
            l.job_memory = read_num(&p.join("memory.limit_in_bytes")).filter(|&n| n < V1_UNLIMITED);
            l.working_set_max =
                read_num(&p.join("memory.soft_limit_in_bytes")).filter(|&n| n < V1_UNLIMITED);
        }
        let pids = v2f("pids.max").or_else(|| self.v1_dir("pids").map(|d| d.path.join("pids.max")));
        if let Some(p) = pids {
            l.max_processes = max_or(&p);
        }
        if let Some(p) = v2f("cpu.max") {
            if let Some(s) = read_str(&p) {
                let mut it = s.split_whitespace();
                if let (Some(q), Some(per)) = (it.next(), it.next()) {
                    if let (Ok(q), Ok(per)) = (q.parse::<f64>(), per.parse::<f64>()) {
                        l.cpus = Some(q / per);
                    }
                }
            }
            l.cpu_weight = v2f("cpu.weight")
                .and_then(|p| read_num(&p))
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n != 100);
        } else if let Some(d) = self.v1_dir("cpu") {
            let q = read_str(&d.path.join("cpu.cfs_quota_us")).and_then(|s| s.parse::<i64>().ok());
            let per = read_num(&d.path.join("cpu.cfs_period_us"));
            if let (Some(q), Some(per)) = (q, per) {
                if q > 0 && per > 0 {
                    l.cpus = Some(q as f64 / per as f64);
                }
            }
            l.cpu_weight = read_num(&d.path.join("cpu.shares"))
                .filter(|&n| n != 1024)
                .map(|n| ((n * 100 + 512) / 1024).clamp(1, 10000) as u32);
        }
        let cpuset = v2f("cpuset.cpus")
            .filter(|p| read_str(p).is_some_and(|s| !s.is_empty()))
            .or_else(|| self.v1_dir("cpuset").map(|d| d.path.join("cpuset.cpus")));
        if let Some(p) = cpuset {
            let parent = p
                .parent()
                .and_then(Path::parent)
                .map(|pp| pp.join("cpuset.cpus"));
            let mine = read_text(&p).ok().and_then(|b| parse_cpu_list(&b));
            let theirs = parent
                .and_then(|pp| read_text(&pp).ok())
                .and_then(|b| parse_cpu_list(&b));
            if mine.is_some() && mine != theirs {
                l.affinity = mine.map(|v| v.into_iter().map(|c| c as usize).collect());
            }
        }
        l.io_rates = self.io_rates();
        Ok(l)
    }

    fn io_rates(&self) -> Vec<IoRate> {
        let mut out: Vec<IoRate> = Vec::new();
        fn get(out: &mut Vec<IoRate>, maj: u32, min: u32) -> usize {
            if let Some(i) = out.iter().position(|r| r.major == maj && r.minor == min) {
                return i;
            }
            out.push(IoRate::new(maj, min));
            out.len() - 1
        }
        let dev = |s: &str| -> Option<(u32, u32)> {
            let (a, b) = s.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let p = self.v2_dir().map(|d| d.path.join("io.max"));
        if let Some(s) = p.as_deref().and_then(read_str) {
            for line in s.lines() {
                let mut it = line.split_whitespace();
                let Some((maj, min)) = it.next().and_then(dev) else {
                    continue;
                };
                let i = get(&mut out, maj, min);
                for kv in it {
                    let Some((k, v)) = kv.split_once('=') else {
                        continue;
                    };
                    let n = v.parse::<u64>().ok();
                    match k {
                        "rbps" => out[i].read_bps = n,
                        "wbps" => out[i].write_bps = n,
                        "riops" => out[i].read_iops = n,
                        "wiops" => out[i].write_iops = n,
                        _ => {}
                    }
                }
            }
            return out;
        }
        let Some(d) = self.v1_dir("blkio") else {
            return out;
        };
        for (f, which) in [
            ("blkio.throttle.read_bps_device", 0),
            ("blkio.throttle.write_bps_device", 1),
            ("blkio.throttle.read_iops_device", 2),
            ("blkio.throttle.write_iops_device", 3),
        ] {
            let Some(s) = read_str(&d.path.join(f)) else {
                continue;
            };
            for line in s.lines() {
                let mut it = line.split_whitespace();
                let (Some((maj, min)), Some(n)) = (
                    it.next().and_then(dev),
                    it.next().and_then(|v| v.parse::<u64>().ok()),
                ) else {
                    continue;
                };
                let i = get(&mut out, maj, min);
                let slot = match which {
                    0 => &mut out[i].read_bps,
                    1 => &mut out[i].write_bps,
                    2 => &mut out[i].read_iops,
                    _ => &mut out[i].write_iops,
                };
                *slot = Some(n);
            }
        }
        out
    }

    /// CPU time of all members, past and present.
    pub(crate) fn cpu_usage(&self) -> Result<Duration> {
        if let Some(d) = self.v2_dir() {
            if let Some(us) = keyed(&d.path.join("cpu.stat"), "usage_usec") {
                return Ok(Duration::from_micros(us));
            }
        }
        if let Some(d) = self.v1_dir("cpuacct") {
            let p = d.path.join("cpuacct.usage");
            let b = read_text(&p).map_err(|e| io_err("read job CPU time", &p, e))?;
            if let Some(ns) = parse_u64(text::trim(&b)) {
                return Ok(Duration::from_nanos(ns));
            }
        }
        Err(Error::new(ErrorKind::Unsupported, "read job CPU time")
            .with_detail("the job has neither v2 cpu.stat nor v1 cpuacct.usage"))
    }

    /// The most CPUs the job can keep busy at once: online CPUs, its cpuset, its quota.
    pub(crate) fn cpu_capacity(&self) -> f64 {
        let mut cap = online_cpus() as f64;
        let v2 = self.v2_dir().map(|d| d.path.clone());
        let eff = v2
            .as_ref()
            .map(|p| p.join("cpuset.cpus.effective"))
            .filter(|p| p.exists())
            .or_else(|| {
                self.v1_dir("cpuset")
                    .map(|d| d.path.join("cpuset.effective_cpus"))
            });
        if let Some(n) = eff
            .and_then(|p| read_text(&p).ok())
            .and_then(|b| parse_cpu_list(&b))
            .map(|v| v.len())
            .filter(|&n| n > 0)
        {
            cap = cap.min(n as f64);
        }
        if let Some(s) = v2.as_ref().and_then(|p| read_str(&p.join("cpu.max"))) {
            let mut it = s.split_whitespace();
            if let (Some(Ok(q)), Some(Ok(per))) = (
                it.next().map(str::parse::<f64>),
                it.next().map(str::parse::<f64>),
            ) {
                cap = cap.min(q / per);
            }
        } else if let Some(d) = self.v1_dir("cpu") {
            let q = read_text(&d.path.join("cpu.cfs_quota_us"))
                .ok()
                .and_then(|b| parse_i64(text::trim(&b)));
            let per = read_num(&d.path.join("cpu.cfs_period_us"));
            if let (Some(q), Some(per)) = (q, per) {
                if q > 0 && per > 0 {
                    cap = cap.min(q as f64 / per as f64);
                }
            }
        }
        cap
    }

    /// What the job has used.
    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        let mut a = JobAccounting {
            active_processes: self.pids()?.len(),
            ..JobAccounting::default()
        };
        let v2 = self.v2_dir().map(|d| d.path.clone());
        let v2f = |f: &str| v2.as_ref().map(|p| p.join(f)).filter(|p| p.exists());
        if let Some(p) = v2f("cpu.stat") {
            a.user_time = keyed(&p, "user_usec").map(Duration::from_micros);
            a.kernel_time = keyed(&p, "system_usec").map(Duration::from_micros);
        }
        if a.user_time.is_none() {
            if let Some(d) = self.v1_dir("cpuacct") {
                a.user_time =
                    read_num(&d.path.join("cpuacct.usage_user")).map(Duration::from_nanos);
                a.kernel_time =
                    read_num(&d.path.join("cpuacct.usage_sys")).map(Duration::from_nanos);
            }
        }
        if let Some(p) = v2f("cpu.stat") {
            // Only with the cpu controller enabled for the job.
            a.throttled_periods = keyed(&p, "nr_throttled");
            a.throttled_time = keyed(&p, "throttled_usec").map(Duration::from_micros);
        }
        if a.throttled_periods.is_none() {
            if let Some(d) = self.v1_dir("cpu") {
                let p = d.path.join("cpu.stat");
                a.throttled_periods = keyed(&p, "nr_throttled");
                a.throttled_time = keyed(&p, "throttled_time").map(Duration::from_nanos);
            }
        }
        if let Some(p) = v2f("memory.stat") {
            a.page_faults = keyed(&p, "pgfault");
            a.major_page_faults = keyed(&p, "pgmajfault");
            a.memory = v2f("memory.current").and_then(|p| read_num(&p));
            a.peak_memory = v2f("memory.peak").and_then(|p| read_num(&p));
            a.oom_kills = v2f("memory.events").and_then(|p| keyed(&p, "oom_kill"));
        } else if let Some(d) = self.v1_dir("memory") {
            let st = d.path.join("memory.stat");
            a.page_faults = keyed(&st, "total_pgfault");
            a.major_page_faults = keyed(&st, "total_pgmajfault");
            a.memory = read_num(&d.path.join("memory.usage_in_bytes"));
            a.peak_memory = read_num(&d.path.join("memory.max_usage_in_bytes"));
            a.oom_kills = keyed(&d.path.join("memory.oom_control"), "oom_kill");
        }
        a.process_limit_hits = v2f("pids.events")
            .or_else(|| self.v1_dir("pids").map(|d| d.path.join("pids.events")))
            .and_then(|p| keyed(&p, "max"));
        if let Some(p) = v2f("io.stat") {
            let s = read_str(&p).unwrap_or_default();
            let (mut rb, mut wb, mut ri, mut wi) = (0, 0, 0, 0);
            for line in s.lines() {
                for kv in line.split_whitespace().skip(1) {
                    let Some((k, v)) = kv.split_once('=') else {
                        continue;
                    };
                    let n: u64 = v.parse().unwrap_or(0);
                    match k {
                        "rbytes" => rb += n,
                        "wbytes" => wb += n,
                        "rios" => ri += n,
                        "wios" => wi += n,
                        _ => {}
                    }
                }
            }
            (a.read_bytes, a.write_bytes, a.read_ops, a.write_ops) =
                (Some(rb), Some(wb), Some(ri), Some(wi));
        } else if let Some(d) = self.v1_dir("blkio") {
            let sum = |f: &str| -> Option<(u64, u64)> {
                let s = read_str(&d.path.join(f))?;
                let (mut r, mut w) = (0, 0);
                for line in s.lines() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if f.len() == 3 {
                        let n: u64 = f[2].parse().unwrap_or(0);
                        match f[1] {
                            "Read" => r += n,
                            "Write" => w += n,
                            _ => {}
                        }
                    }
                }
                Some((r, w))
            };
            if let Some((r, w)) = sum("blkio.throttle.io_serviced_recursive")
                .or_else(|| sum("blkio.throttle.io_serviced"))
            {
                (a.read_ops, a.write_ops) = (Some(r), Some(w));
            }
            if let Some((r, w)) = sum("blkio.throttle.io_service_bytes_recursive")
                .or_else(|| sum("blkio.throttle.io_service_bytes"))
            {
                (a.read_bytes, a.write_bytes) = (Some(r), Some(w));
            }
        }
        Ok(a)
    }

    /// A handle on the same cgroups for the CPU-time watcher; dropping it removes nothing.
    pub(crate) fn view(&self) -> JobView {
        JobView(Job {
            name: self.name.clone(),
            dirs: self.dirs.clone(),
            no_kill: self.no_kill,
            lock: None,
        })
    }
}

/// The write that restores `old` (what was read from `path` before `new` was written).
/// Per-device files (`io.max`, `blkio.throttle.*`) list one line per device: the device's
/// old line is written back, or its rule removed when it had none.
/// Undoes [`Job::mark_breakaway`] on the directories it changed.
fn unmark_breakaway(changed: &[PathBuf], was_set: bool) {
    let name = super::BREAKAWAY_XATTR;
    for p in changed {
        let _ = if was_set {
            rustix::fs::removexattr(p, name)
        } else {
            rustix::fs::setxattr(p, name, b"1", rustix::fs::XattrFlags::empty())
        };
    }
}

fn restore_value(path: &Path, old: &[u8], new: &str) -> String {
    let s = String::from_utf8_lossy(text::trim(old)).into_owned();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let per_device = name.starts_with("blkio.throttle.") || name == "io.max";
    if !per_device {
        return s;
    }
    let dev = new.split_whitespace().next().unwrap_or("");
    if let Some(line) = s.lines().find(|l| l.split_whitespace().next() == Some(dev)) {
        return line.to_owned();
    }
    if name == "io.max" {
        format!("{dev} rbps=max wbps=max riops=max wiops=max")
    } else {
        format!("{dev} 0")
    }
}

/// A job handle that never removes the job (for the watcher thread).
#[derive(Debug)]
pub(crate) struct JobView(Job);

impl JobView {
    pub(crate) fn cpu_usage(&self) -> Result<Duration> {
        self.0.cpu_usage()
    }
    pub(crate) fn cpu_capacity(&self) -> f64 {
        self.0.cpu_capacity()
    }
    pub(crate) fn terminate(&self) -> Result<()> {
        self.0.terminate()
    }
    pub(crate) fn accounting(&self) -> Result<JobAccounting> {
        self.0.accounting()
    }
    /// The v1 memory cgroup, when the job's memory is counted there (as `accounting`
    /// reads it: no v2 memory controller).
    pub(crate) fn v1_memory_dir(&self) -> Option<&Path> {
        self.0.v1_memory_dir()
    }
}

impl Drop for JobView {
    fn drop(&mut self) {
        // Job::drop removes nothing when it has no directories.
        self.0.dirs.clear();
    }
}

/// The names of the jobs below the caller's cgroups.
pub(crate) fn list_jobs() -> Result<Vec<String>> {
    let hs = discover()?;
    let Some(h) = hs.iter().find(|h| h.v2).or_else(|| {
        hs.iter()
            .find(|h| h.controllers.iter().any(|c| c == "freezer" || c == "pids"))
    }) else {
        return Ok(Vec::new());
    };
    let rd = std::fs::read_dir(&h.own_dir).map_err(|e| io_err("list jobs", &h.own_dir, e))?;
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(JOB_PREFIX))
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        })
        .collect();
    // Jobs nested inside those: `Job::open` reaches them too.
    out.extend(super::nested_jobs(&h.own_dir).iter().filter_map(|r| {
        r.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(JOB_PREFIX))
            .map(str::to_owned)
    }));
    out.sort();
    out.dedup();
    Ok(out)
}

/// Every `corral-*` cgroup anywhere in the membership hierarchy (v2, else v1 freezer or
/// pids) as far as it is mounted here: its name and cgroup. Read-only.
pub(crate) fn list_all_jobs() -> Result<Vec<(String, CgroupMembership)>> {
    let op = "list all jobs";
    let mut buf = Vec::new();
    super::read_path("/proc/self/mountinfo", &mut buf)
        .map_err(|e| Error::from_io(op, e).with_detail("/proc/self/mountinfo"))?;
    let mounts = super::mountinfo::parse_cgroup_mounts(&buf).ok_or_else(|| {
        Error::new(ErrorKind::Parse, op).with_detail("malformed /proc/self/mountinfo")
    })?;
    let m = mounts.iter().find(|m| m.v2).or_else(|| {
        mounts
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == "freezer" || c == "pids"))
    });
    let Some(m) = m else { return Ok(Vec::new()) };
    // The hierarchy id of a v1 mount, from this process's own membership line.
    let mut sorted = m.controllers.clone();
    sorted.sort();
    let id = if m.v2 {
        0
    } else {
        super::read_path("/proc/self/cgroup", &mut buf)
            .ok()
            .and_then(|_| super::cgroup_parse::parse(&buf))
            .and_then(|own| {
                own.into_iter().find_map(|l| {
                    let mut c = l.controllers.clone();
                    c.sort();
                    (c == sorted).then_some(l.hierarchy)
                })
            })
            .unwrap_or(0)
    };
    let membership = |path: String| CgroupMembership {
        hierarchy: id,
        controllers: m.controllers.clone(),
        path,
    };
    let mut out = Vec::new();
    let root = m.root.trim_end_matches('/').to_owned();
    let mut stack = vec![(PathBuf::from(&m.mount_point), root, 0usize)];
    while let Some((dir, cg, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.filter_map(|e| e.ok()) {
            // file_type does not follow symlinks; cgroup directories are never links.
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Some(n) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let child = format!("{cg}/{n}");
            if let Some(name) = n.strip_prefix(JOB_PREFIX).filter(|s| !s.is_empty()) {
                out.push((name.to_owned(), membership(child.clone())));
            }
            if depth < 32 {
                stack.push((e.path(), child, depth + 1));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1.path).cmp(&(&b.0, &b.1.path)));
    Ok(out)
}

/// Whether and how each limit can be enforced here (nothing is created or enabled).
pub(crate) fn limit_support() -> Vec<LimitSupport> {
    // The hierarchies a cgroup can be made in (each probed once).
    let hs: Vec<_> = discover()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !h.read_only && super::writable(&h.own_dir))
        .collect();
    let v2 = hs.iter().find(|h| h.v2);
    let v2_ctls: Vec<String> = v2
        .and_then(|h| read_str(&h.own_dir.join("cgroup.controllers")))
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let v2_enabled: Vec<String> = v2
        .and_then(|h| read_str(&h.own_dir.join("cgroup.subtree_control")))
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let v2_root = v2.is_some_and(|h| h.own_cg == "/");
    let v1 = |ctl: &str| {
        hs.iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == ctl))
    };
    // The file for a limit, or why not.
    let via = |v2_ctl: &str, v2_file: &str, v1_ctl: &str, v1_file: Option<&str>| -> Enforcement {
        if v2_ctls.iter().any(|c| c == v2_ctl) {
            if v2_root || v2_enabled.iter().any(|c| c == v2_ctl) {
                return Enforcement::Kernel(v2_file.into());
            }
            if v1(v1_ctl).is_none() {
                return Enforcement::Unsupported(format!(
                    "cgroup v2 offers {v2_ctl}, but this process's cgroup holds processes \
                     and may not enable it for children (no-internal-processes rule)"
                ));
            }
        }
        match (v1(v1_ctl), v1_file) {
            (Some(_), Some(f)) => Enforcement::Kernel(f.into()),
            (Some(_), None) => {
                Enforcement::Unsupported(format!("cgroup v1 {v1_ctl} has no such limit"))
            }
            (None, _) => Enforcement::Unsupported(format!(
                "no writable {v2_ctl} controller (v2) or v1 {v1_ctl} hierarchy"
            )),
        }
    };
    let usage = if v2.is_some() || v1("cpuacct").is_some() {
        Enforcement::Watcher
    } else {
        Enforcement::Unsupported("no v2 cpu.stat or v1 cpuacct.usage to watch".into())
    };
    let affinity = match via("cpuset", "cpuset.cpus", "cpuset", Some("cpuset.cpus")) {
        Enforcement::Unsupported(_) => Enforcement::PerProcess,
        k => k,
    };
    let breakaway = if !super::kernel_at_least(5, 7) {
        Enforcement::Unsupported(
            "cgroupfs takes user.* extended attributes (where corral keeps the mark) only \
             from Linux 5.7"
                .into(),
        )
    } else if v2.is_some() || super::V1_USED.iter().any(|c| v1(c).is_some()) {
        Enforcement::Convention(format!(
            "the extended attribute {} on the job's cgroups, checked by corral when a member \
             spawns with breakaway; the kernel does not enforce it",
            super::BREAKAWAY_XATTR
        ))
    } else {
        Enforcement::Unsupported("no writable cgroup hierarchy".into())
    };
    Limit::ALL
        .iter()
        .map(|&limit| {
            let how = match limit {
                Limit::JobMemory => via(
                    "memory",
                    "memory.max",
                    "memory",
                    Some("memory.limit_in_bytes"),
                ),
                Limit::ProcessMemory | Limit::ProcessTime | Limit::PriorityClass => {
                    Enforcement::PerProcess
                }
                Limit::ActiveProcesses => via("pids", "pids.max", "pids", Some("pids.max")),
                Limit::JobTime => usage.clone(),
                Limit::CpuRate => via("cpu", "cpu.max", "cpu", Some("cpu.cfs_quota_us")),
                Limit::CpuWeight => via("cpu", "cpu.weight", "cpu", Some("cpu.shares")),
                Limit::WorkingSetMin => via("memory", "memory.low", "memory", None),
                Limit::WorkingSetMax => via(
                    "memory",
                    "memory.high",
                    "memory",
                    Some("memory.soft_limit_in_bytes"),
                ),
                Limit::IoRate => via("io", "io.max", "blkio", Some("blkio.throttle.*_device")),
                Limit::Affinity => affinity.clone(),
                Limit::BreakawayOk => breakaway.clone(),
            };
            LimitSupport { limit, how }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake v2 job directory (plain files standing in for cgroupfs): the v2 code paths
    /// run here even on machines whose v2 tree has no controllers.
    struct Fake {
        root: PathBuf,
        job: Option<Job>,
    }

    impl Fake {
        fn new(tag: &str, parent_ctls: &str, files: &[(&str, &str)]) -> Fake {
            let root = std::env::temp_dir().join(format!(
                "corral-limits-{tag}-{}-{}",
                std::process::id(),
                super::super::unique_name()
            ));
            let dir = root.join("corral-x");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(root.join("cgroup.controllers"), parent_ctls).unwrap();
            std::fs::write(root.join("cpuset.cpus"), "0-1\n").unwrap();
            std::fs::write(dir.join("cgroup.controllers"), parent_ctls).unwrap();
            std::fs::write(dir.join("cgroup.procs"), "").unwrap();
            for (f, v) in files {
                std::fs::write(dir.join(f), v).unwrap();
            }
            let job = Job {
                name: "x".into(),
                dirs: vec![Dir {
                    v2: true,
                    controllers: Vec::new(),
                    cg: "/corral-x".into(),
                    path: dir,
                }],
                no_kill: false,
                lock: None,
            };
            Fake {
                root,
                job: Some(job),
            }
        }
        fn job(&mut self) -> &mut Job {
            self.job.as_mut().unwrap()
        }
        fn read(&self, f: &str) -> String {
            std::fs::read_to_string(self.root.join("corral-x").join(f)).unwrap()
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            if let Some(mut j) = self.job.take() {
                j.dirs.clear();
            }
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn v2_limits_are_written_and_read_back() {
        let files = [
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "memory.high",
            "pids.max",
            "cpu.max",
            "cpu.weight",
            "io.max",
            "cpuset.cpus",
        ]
        .map(|f| (f, ""));
        let mut f = Fake::new("w", "cpuset cpu io memory pids\n", &files);
        let l = JobLimits::new()
            .job_memory(256 << 20)
            .max_processes(64)
            .cpus(0.5)
            .cpu_weight(50)
            .working_set(Some(1 << 20), Some(128 << 20))
            .io_rate(IoRate::new(8, 0).read_bps(1 << 20))
            .affinity(&[1]);
        f.job().set_limits_in(&l, &[]).unwrap();
        assert_eq!(f.read("memory.max"), "268435456");
        assert_eq!(f.read("memory.swap.max"), "0");
        assert_eq!(f.read("pids.max"), "64");
        assert_eq!(f.read("cpu.max"), "50000 100000");
        assert_eq!(f.read("cpu.weight"), "50");
        assert_eq!(f.read("memory.low"), "1048576");
        assert_eq!(f.read("memory.high"), "134217728");
        assert_eq!(
            f.read("io.max"),
            "8:0 rbps=1048576 wbps=max riops=max wiops=max"
        );
        assert_eq!(f.read("cpuset.cpus"), "1");
        let got = f.job().limits().unwrap();
        assert_eq!(got.job_memory, Some(256 << 20));
        assert_eq!(got.max_processes, Some(64));
        assert_eq!(got.cpus, Some(0.5));
        assert_eq!(got.cpu_weight, Some(50));
        assert_eq!(got.working_set_min, Some(1 << 20));
        assert_eq!(got.working_set_max, Some(128 << 20));
        assert_eq!(got.io_rates, vec![IoRate::new(8, 0).read_bps(1 << 20)]);
        assert_eq!(got.affinity, Some(vec![1]));
        // The quota caps what the watcher assumes the job can burn.
        assert_eq!(f.job().cpu_capacity(), 0.5);
    }

    #[test]
    fn v2_without_the_controller_is_unsupported_and_writes_nothing() {
        // The caller's cgroup offers memory but not io; no v1 hierarchy either.
        let mut f = Fake::new("u", "memory\n", &[("memory.max", "")]);
        let l = JobLimits::new()
            .job_memory(1 << 30)
            .io_rate(IoRate::new(8, 0).write_iops(10));
        let e = f.job().set_limits_in(&l, &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("I/O rate"), "{e}");
        assert_eq!(
            f.read("memory.max"),
            "",
            "nothing is written when one limit fails"
        );
        // Working-set floor on v1 is unsupported: checked in the integration tests.
    }

    #[test]
    fn per_device_undo() {
        let io = Path::new("io.max");
        let bl = Path::new("blkio.throttle.read_bps_device");
        assert_eq!(
            restore_value(
                io,
                b"8:0 rbps=5 wbps=max riops=max wiops=max\n",
                "8:0 rbps=1"
            ),
            "8:0 rbps=5 wbps=max riops=max wiops=max"
        );
        assert_eq!(
            restore_value(io, b"8:16 rbps=5\n", "8:0 rbps=1"),
            "8:0 rbps=max wbps=max riops=max wiops=max"
        );
        assert_eq!(restore_value(bl, b"8:0 100\n", "8:0 7"), "8:0 100");
        assert_eq!(restore_value(bl, b"", "8:0 7"), "8:0 0");
        assert_eq!(
            restore_value(Path::new("cpu.max"), b"max 100000\n", "1 2"),
            "max 100000"
        );
    }

    #[test]
    fn v2_accounting_is_parsed() {
        let files = [
            (
                "cpu.stat",
                "usage_usec 3500000\nuser_usec 3000000\nsystem_usec 500000\n",
            ),
            ("memory.stat", "anon 4096\npgfault 1234\npgmajfault 5\n"),
            ("memory.current", "8192\n"),
            ("memory.peak", "65536\n"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n"),
            ("pids.events", "max 7\n"),
            (
                "io.stat",
                "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n\
                 8:16 rbytes=1 wbytes=2 rios=3 wios=4\n",
            ),
        ];
        let mut f = Fake::new("a", "memory io pids\n", &files);
        let a = f.job().accounting().unwrap();
        assert_eq!(a.user_time, Some(Duration::from_secs(3)));
        assert_eq!(a.kernel_time, Some(Duration::from_millis(500)));
        assert_eq!(a.page_faults, Some(1234));
        assert_eq!(a.major_page_faults, Some(5));
        assert_eq!(a.memory, Some(8192));
        assert_eq!(a.peak_memory, Some(65536));
        assert_eq!(a.oom_kills, Some(2));
        assert_eq!(a.process_limit_hits, Some(7));
        assert_eq!(
            (a.read_bytes, a.write_bytes, a.read_ops, a.write_ops),
            (Some(101), Some(202), Some(4), Some(6))
        );
        assert_eq!(a.active_processes, 0);
        assert_eq!(f.job().cpu_usage().unwrap(), Duration::from_millis(3500));
    }
}
