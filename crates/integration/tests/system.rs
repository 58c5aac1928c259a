//! `corral::system` checked against `/proc` and `/sys/devices/system` read independently
//! here: exact equality where the figure cannot change between the two reads (totals,
//! CPU lists, topology), bracketing between a read before and a read after where it is
//! a monotonic counter, and sensible bounds otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use corral::system::{self, CacheKind};
use corral::ErrorKind;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// `0-3,8` → [0, 1, 2, 3, 8]; written here independently of the library's parser.
fn cpus(list: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for item in list.trim().split(',').filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u32>().unwrap()..=b.parse::<u32>().unwrap()),
            None => out.push(item.parse().unwrap()),
        }
    }
    out
}

/// `Key:   N kB` lines of `/proc/meminfo`, in bytes.
fn meminfo() -> BTreeMap<String, u64> {
    read("/proc/meminfo")
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let n: u64 = v.split_whitespace().next()?.parse().ok()?;
            let kb = v.trim_end().ends_with("kB");
            Some((k.to_string(), if kb { n * 1024 } else { n }))
        })
        .collect()
}

/// The lines of `/proc/stat` by first word.
fn proc_stat() -> BTreeMap<String, Vec<u64>> {
    read("/proc/stat")
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?.to_string();
            Some((k, it.filter_map(|n| n.parse().ok()).collect()))
        })
        .collect()
}

fn vmstat(key: &str) -> Option<u64> {
    read("/proc/vmstat").lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

fn hz() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as u64
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) as u64
}

fn ticks(d: Duration) -> u64 {
    // Durations are built from whole ticks, so this is exact.
    (d.as_nanos() * u128::from(hz()) / 1_000_000_000) as u64
}

fn between(lo: u64, v: u64, hi: u64, what: &str) {
    assert!(lo <= v && v <= hi, "{what}: {v} not within [{lo}, {hi}]");
}

#[test]
fn virtual_memory_matches_meminfo() {
    let before = meminfo();
    let v = system::virtual_memory().unwrap();
    let after = meminfo();
    assert_eq!(v.total, before["MemTotal"]);
    assert_eq!(v.total, system::total_memory().unwrap());
    assert!(v.available <= v.total && v.free <= v.total && v.used <= v.total);
    assert!((0.0..=100.0).contains(&v.percent), "{v:?}");
    // The library's own figures follow psutil's definitions exactly.
    let expect_used = v
        .total
        .checked_sub(v.free + v.cached + v.buffers)
        .unwrap_or(v.total - v.free);
    assert_eq!(v.used, expect_used);
    let expect_pct = (v.total - v.available) as f64 / v.total as f64 * 100.0;
    assert!((v.percent - expect_pct).abs() < 1e-9);
    // Moving figures: within what /proc/meminfo said just before or just after, with a
    // little room for the kernel's per-CPU counter drift in between.
    let slack = v.total / 50;
    let near = |got: u64, keys: &[&str], what: &str| {
        let sum = |m: &BTreeMap<String, u64>| keys.iter().map(|k| m[*k]).sum::<u64>();
        let (a, b) = (sum(&before), sum(&after));
        between(a.min(b).saturating_sub(slack), got, a.max(b) + slack, what);
    };
    near(v.free, &["MemFree"], "free");
    near(v.available, &["MemAvailable"], "available");
    near(v.buffers, &["Buffers"], "buffers");
    near(v.cached, &["Cached", "SReclaimable"], "cached");
    near(v.shared, &["Shmem"], "shared");
    near(v.active, &["Active"], "active");
    near(v.inactive, &["Inactive"], "inactive");
    near(v.slab, &["Slab"], "slab");
}

#[test]
fn swap_matches_meminfo_and_vmstat() {
    let m = meminfo();
    let sin0 = vmstat("pswpin");
    let s = system::swap_memory().unwrap();
    let sin1 = vmstat("pswpin");
    assert_eq!(s.total, m["SwapTotal"]);
    assert_eq!(s.used, s.total - s.free);
    assert!(s.free <= s.total);
    if s.total == 0 {
        assert_eq!(s.percent, 0.0);
    } else {
        assert!((0.0..=100.0).contains(&s.percent));
    }
    match (sin0, sin1) {
        (Some(a), Some(b)) => between(a * page_size(), s.sin.expect("sin"), b * page_size(), "sin"),
        _ => assert_eq!(s.sin, None),
    }
    assert_eq!(s.sout.is_some(), vmstat("pswpout").is_some());
}

#[test]
fn cpu_times_bracketed_by_proc_stat() {
    let before = proc_stat();
    let total = system::cpu_times().unwrap();
    let per = system::cpu_times_per_cpu().unwrap();
    let after = proc_stat();
    // The kernel computes idle and iowait (indexes 3, 4) live for tickless CPUs and
    // iowait may even go backwards, so those get a second of slack; the rest are plain
    // monotonic tick counters.
    let check = |label: &str, t: &system::SystemCpuTimes| {
        let got = [
            t.user,
            t.nice,
            t.system,
            t.idle,
            t.iowait,
            t.irq,
            t.softirq,
            t.steal,
            t.guest,
            t.guest_nice,
        ];
        for (i, d) in got.iter().enumerate() {
            let slack = if i == 3 || i == 4 { hz() } else { 0 };
            between(
                before[label][i].saturating_sub(slack),
                ticks(*d),
                after[label][i] + slack,
                &format!("{label} field {i}"),
            );
        }
    };
    check("cpu", &total);
    let listed: Vec<u32> = before
        .keys()
        .filter_map(|k| k.strip_prefix("cpu")?.parse().ok())
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    assert_eq!(per.iter().map(|c| c.cpu).collect::<Vec<_>>(), listed);
    for c in &per {
        check(&format!("cpu{}", c.cpu), &c.times);
    }
    assert!(total.busy() <= total.total());
}

#[test]
fn cpu_percent_from_two_samples() {
    let a = system::cpu_times_sample().unwrap();
    // Burn some CPU in this thread so the interval has busy time in it.
    let t0 = Instant::now();
    let mut x = 0u64;
    while t0.elapsed() < Duration::from_millis(150) {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    let b = system::cpu_times_sample().unwrap();
    let p = b.percent_since(&a);
    let t = &p.total;
    assert!(t.busy > 0.0 && t.busy <= 100.0, "{t:?}");
    let sum = t.busy + t.idle + t.iowait;
    assert!((sum - 100.0).abs() < 0.01, "busy+idle+iowait = {sum}");
    let modes = t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
    assert!((modes - 100.0).abs() < 0.01, "modes sum to {modes}");
    assert_eq!(p.per_cpu.len(), b.per_cpu.len());
    for c in &p.per_cpu {
        assert!((0.0..=100.0).contains(&c.percent.busy), "{c:?}");
    }
    // The same sample against itself: no time passed, all zeros.
    assert_eq!(b.percent_since(&b).total, Default::default());
}

#[test]
fn cpu_stats_bracketed_by_proc_stat() {
    let before = proc_stat();
    let s = system::cpu_stats().unwrap();
    let after = proc_stat();
    let first = |m: &BTreeMap<String, Vec<u64>>, k: &str| m[k][0];
    let b = |k: &str, v: u64| between(first(&before, k), v, first(&after, k), k);
    b("ctxt", s.ctx_switches);
    b("intr", s.interrupts);
    b("softirq", s.soft_interrupts);
    b("processes", s.processes_forked);
    // This test is running, so at least one task is runnable.
    assert!(s.procs_running >= 1, "{s:?}");
    assert!(s.procs_blocked < 1_000_000);
}

#[test]
fn load_average_matches_proc_loadavg() {
    let parse = |s: String| -> Vec<f64> {
        s.split_whitespace()
            .take(3)
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let before = parse(read("/proc/loadavg"));
    let l = system::load_average().unwrap();
    let after = parse(read("/proc/loadavg"));
    // The kernel updates it every 5 s: it is one of the two reads around ours.
    let got = [l.one, l.five, l.fifteen];
    assert!(
        got[..] == before[..] || got[..] == after[..],
        "{got:?} vs {before:?} / {after:?}"
    );
}

fn proc_pids() -> u64 {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|c| c.is_ascii_digit())
        })
        .count() as u64
}

#[test]
fn pid_count_near_proc_listing() {
    let a = proc_pids();
    let n = system::pid_count().unwrap() as u64;
    let b = proc_pids();
    // Other processes come and go on a shared machine; allow for some churn.
    between(a.min(b).saturating_sub(50), n, a.max(b) + 50, "pid count");
    assert!(n >= 2, "at least init and this test");
}

#[test]
fn boot_time_and_uptime() {
    let btime = proc_stat()["btime"][0];
    let boot = system::boot_time().unwrap();
    assert_eq!(
        boot.duration_since(SystemTime::UNIX_EPOCH).unwrap(),
        Duration::from_secs(btime)
    );
    let up = |s: String| -> f64 { s.split_whitespace().next().unwrap().parse().unwrap() };
    let a = up(read("/proc/uptime"));
    let u = system::uptime().unwrap().as_secs_f64();
    let b = up(read("/proc/uptime"));
    assert!(a - 0.01 <= u && u <= b + 0.01, "{a} {u} {b}");
}

#[test]
fn users_from_utmp() {
    let users = system::users().unwrap();
    if !Path::new("/var/run/utmp").exists() {
        assert!(users.is_empty(), "no utmp but {users:?}");
        eprintln!("no /var/run/utmp here: users() is empty, as documented");
        return;
    }
    let now = SystemTime::now();
    for u in &users {
        assert!(!u.name.is_empty());
        assert!(u.started <= now + Duration::from_secs(60), "{u:?}");
    }
}

#[test]
fn cpu_freq_or_unsupported_naming_what_is_missing() {
    let online = cpus(&read("/sys/devices/system/cpu/online"));
    match system::cpu_freq() {
        Ok(f) => {
            assert_eq!(f.iter().map(|c| c.cpu).collect::<Vec<_>>(), online);
            for c in &f {
                assert!(c.current_mhz > 0.0 && c.min_mhz <= c.max_mhz, "{c:?}");
                let dir = format!("/sys/devices/system/cpu/cpu{}/cpufreq", c.cpu);
                let khz: f64 = read(&format!("{dir}/scaling_max_freq"))
                    .trim()
                    .parse()
                    .unwrap();
                assert_eq!(c.max_mhz, khz / 1000.0);
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            let missing = online
                .iter()
                .map(|c| format!("/sys/devices/system/cpu/cpu{c}/cpufreq"))
                .find(|d| !Path::new(d).exists())
                .expect("cpu_freq failed although every cpufreq directory exists");
            assert!(e.to_string().contains(&missing), "{e}");
        }
    }
}

#[test]
fn topology_matches_sysfs() {
    let sys = "/sys/devices/system/cpu";
    let t = system::topology().unwrap();
    let online = cpus(&read(&format!("{sys}/online")));
    assert_eq!(t.online, online);
    assert_eq!(t.offline, cpus(&read(&format!("{sys}/offline"))));
    assert_eq!(t.possible, cpus(&read(&format!("{sys}/possible"))));
    assert_eq!(t.logical_cpus(), online.len());

    // Per CPU: package and core ids; cores as psutil counts them (distinct sibling lists).
    let mut core_lists = BTreeSet::new();
    let mut package_ids = BTreeSet::new();
    for (c, place) in online.iter().zip(&t.cpus) {
        assert_eq!(place.cpu, *c);
        let topo = format!("{sys}/cpu{c}/topology");
        let pkg: i64 = read(&format!("{topo}/physical_package_id"))
            .trim()
            .parse()
            .unwrap();
        let core: i64 = read(&format!("{topo}/core_id")).trim().parse().unwrap();
        assert_eq!(place.package, u32::try_from(pkg).ok());
        assert_eq!(place.core, u32::try_from(core).ok());
        package_ids.insert(pkg);
        let list = std::fs::read_to_string(format!("{topo}/core_cpus_list"))
            .unwrap_or_else(|_| read(&format!("{topo}/thread_siblings_list")));
        let siblings: Vec<u32> = cpus(&list)
            .into_iter()
            .filter(|s| online.contains(s))
            .collect();
        // The core holding this CPU has exactly its online siblings.
        let holder = t
            .packages
            .iter()
            .flat_map(|p| &p.cores)
            .find(|k| k.cpus.contains(c))
            .unwrap();
        assert_eq!(holder.cpus, siblings, "cpu {c}");
        core_lists.insert(siblings);
    }
    assert_eq!(t.physical_cores(), core_lists.len());
    assert_eq!(t.packages.len(), package_ids.len());
    // Every online CPU is in exactly one core.
    let mut all: Vec<u32> = t
        .packages
        .iter()
        .flat_map(|p| p.cores.iter().flat_map(|k| k.cpus.iter().copied()))
        .collect();
    all.sort_unstable();
    assert_eq!(all, online);

    // Caches: every indexM of every online CPU is listed once.
    let mut want = BTreeSet::new();
    for c in &online {
        let dir = format!("{sys}/cpu{c}/cache");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("index") {
                continue;
            }
            let f = |n: &str| read(&format!("{dir}/{name}/{n}")).trim().to_string();
            let kind = match f("type").as_str() {
                "Data" => CacheKind::Data,
                "Instruction" => CacheKind::Instruction,
                "Unified" => CacheKind::Unified,
                _ => CacheKind::Other,
            };
            let size = f("size");
            let size: u64 = size.trim_end_matches('K').parse::<u64>().unwrap() * 1024;
            want.insert((
                f("level").parse::<u32>().unwrap(),
                kind,
                size,
                cpus(&f("shared_cpu_list")),
            ));
        }
    }
    let got: BTreeSet<(u32, CacheKind, u64, Vec<u32>)> = t
        .caches
        .iter()
        .map(|c| (c.level, c.kind, c.size.unwrap(), c.shared_cpus.clone()))
        .collect();
    assert_eq!(got.len(), t.caches.len(), "caches are listed once each");
    assert_eq!(got, want);
}

#[test]
fn numa_nodes_match_sysfs() {
    let node_dir = "/sys/devices/system/node";
    let node_total = |id: u32| -> Option<u64> {
        read(&format!("{node_dir}/node{id}/meminfo"))
            .lines()
            .find(|l| l.contains("MemTotal:"))
            .map(|l| {
                let n: u64 = l.split_whitespace().nth(3).unwrap().parse().unwrap();
                n * 1024
            })
    };
    let ids = || -> Vec<u32> {
        let Ok(rd) = std::fs::read_dir(node_dir) else {
            return Vec::new();
        };
        let mut v: Vec<u32> = rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("node")?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    };
    let before: BTreeMap<u32, Option<u64>> =
        ids().into_iter().map(|i| (i, node_total(i))).collect();
    let t = system::topology().unwrap();
    let after: BTreeMap<u32, Option<u64>> = ids().into_iter().map(|i| (i, node_total(i))).collect();
    if before.is_empty() {
        assert!(t.numa_nodes.is_empty());
        eprintln!("no {node_dir}: kernel without NUMA, numa_nodes empty as documented");
        return;
    }
    assert_eq!(
        t.numa_nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
        before.keys().copied().collect::<Vec<_>>()
    );
    for n in &t.numa_nodes {
        let list = cpus(&read(&format!("{node_dir}/node{}/cpulist", n.id)));
        let list: Vec<u32> = list.into_iter().filter(|c| t.online.contains(c)).collect();
        assert_eq!(n.cpus, list, "node {}", n.id);
        // Memory can be hot-added (this VM's node grows), so bracket it.
        let (a, b) = (before[&n.id].unwrap(), after[&n.id].unwrap());
        between(a.min(b), n.memory_total.unwrap(), a.max(b), "node MemTotal");
        assert!(n.memory_free.unwrap() <= n.memory_total.unwrap());
        for c in &n.cpus {
            let place = t.cpus.iter().find(|p| p.cpu == *c).unwrap();
            assert_eq!(place.node, Some(n.id));
        }
    }
}
