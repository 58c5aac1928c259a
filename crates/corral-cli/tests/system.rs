//! `corral system` and `corral topology`, run for real, their JSON checked against
//! `/proc` and `/sys/devices/system` read here.
// testbin and the integration crate are Linux-only (see Cargo.toml).
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::stderr;

use serde_json::Value;

fn corral(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .output()
        .expect("run corral")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON object: {out}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("bad JSON {out:?}: {e}"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn meminfo(key: &str) -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == key).then(|| v.split_whitespace().next()?.parse::<u64>().ok())?
        })
        .unwrap()
        * 1024
}

fn cpus(list: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for item in list.trim().split(',').filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap()),
            None => out.push(item.parse().unwrap()),
        }
    }
    out
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn system_json_matches_proc() {
    let o = corral(&["system", "--json", "--interval", "100ms"]);
    let v = json(&o);
    assert_eq!(v["interval"], 0.1);
    let stat = read("/proc/stat");
    let stat_cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(v["cpu_count"], stat_cpus);
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(v["boot_time"].as_f64().unwrap(), btime as f64);
    assert_eq!(v["virtual_memory"]["total"], meminfo("MemTotal"));
    assert_eq!(v["swap_memory"]["total"], meminfo("SwapTotal"));
    let busy = v["cpu_percent"]["total"]["busy"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&busy), "{busy}");
    let per = v["cpu_percent"]["per_cpu"].as_array().unwrap();
    assert_eq!(per.len(), stat_cpus);
    for c in per {
        let b = c["percent"]["busy"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&b), "{c}");
    }
    let mem_pct = v["virtual_memory"]["percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&mem_pct));
    let uptime: f64 = read("/proc/uptime")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let up = v["uptime"].as_f64().unwrap();
    assert!(up > 0.0 && up <= uptime + 0.01, "{up} vs {uptime}");
    for k in ["ctx_switches", "interrupts", "processes_forked"] {
        assert!(v["cpu_stats"][k].as_u64().unwrap() > 0, "{k}");
    }
    for k in ["one", "five", "fifteen"] {
        assert!(v["load_average"][k].as_f64().unwrap() >= 0.0, "{k}");
    }
    let pids = v["pid_count"].as_u64().unwrap();
    assert!(pids >= 2, "{pids}");
    if !Path::new("/var/run/utmp").exists() {
        assert_eq!(v["users"], Value::Array(vec![]));
    }
    if Path::new("/sys/devices/system/cpu/cpu0/cpufreq").exists() {
        assert!(v["cpu_freq"].is_array(), "{}", v["cpu_freq"]);
    } else {
        // Not a silent zero: an error object saying what is missing.
        assert_eq!(v["cpu_freq"]["error"], "unsupported");
        let msg = v["cpu_freq"]["message"].as_str().unwrap();
        assert!(
            msg.contains("/sys/devices/system/cpu/cpu0/cpufreq"),
            "{msg}"
        );
    }
}

#[test]
fn system_human_fits_80_columns() {
    let o = corral(&["system", "--interval", "50ms"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for label in [
        "CPUs",
        "CPU use",
        "Load",
        "Memory",
        "Swap",
        "Uptime",
        "Users",
        "Processes",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(label)),
            "no {label} line in\n{out}"
        );
    }
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "too wide: {l:?}");
    }
    assert!(out.contains("busy over 50ms"), "{out}");
}

#[test]
fn system_bad_interval_is_a_usage_error() {
    for (bad, says) in [
        ("-1s", "more than zero"),
        ("0", "more than zero"),
        ("0ms", "more than zero"),
        ("abc", "bad duration"),
        ("5x", "unknown unit"),
    ] {
        let o = corral(&["system", "--interval", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("--interval") && err.contains(says),
            "{bad}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn system_closed_stdout_is_success() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["system", "--interval", "10ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn topology_json_matches_sysfs() {
    let sys = "/sys/devices/system/cpu";
    let v = json(&corral(&["topology", "--json"]));
    let online = cpus(&read(&format!("{sys}/online")));
    assert_eq!(u64s(&v["online"]), online);
    assert_eq!(u64s(&v["offline"]), cpus(&read(&format!("{sys}/offline"))));
    assert_eq!(
        u64s(&v["possible"]),
        cpus(&read(&format!("{sys}/possible")))
    );
    assert_eq!(v["logical_cpus"], online.len());
    let mut core_lists = std::collections::BTreeSet::new();
    for (c, place) in online.iter().zip(v["cpus"].as_array().unwrap()) {
        assert_eq!(place["cpu"], *c);
        let topo = format!("{sys}/cpu{c}/topology");
        let pkg: u64 = read(&format!("{topo}/physical_package_id"))
            .trim()
            .parse()
            .unwrap();
        let core: u64 = read(&format!("{topo}/core_id")).trim().parse().unwrap();
        assert_eq!(place["package"], pkg);
        assert_eq!(place["core"], core);
        let list = std::fs::read_to_string(format!("{topo}/core_cpus_list"))
            .unwrap_or_else(|_| read(&format!("{topo}/thread_siblings_list")));
        core_lists.insert(list.trim().to_string());
    }
    assert_eq!(v["physical_cores"], core_lists.len());
    let nodes: Vec<u64> = v["numa_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .collect();
    for n in &nodes {
        let node = &v["numa_nodes"].as_array().unwrap()[nodes.iter().position(|x| x == n).unwrap()];
        let list: Vec<u64> = cpus(&read(&format!("/sys/devices/system/node/node{n}/cpulist")))
            .into_iter()
            .filter(|c| online.contains(c))
            .collect();
        assert_eq!(u64s(&node["cpus"]), list);
        assert!(node["memory_total"].as_u64().unwrap() > 0);
    }
    let l3: Vec<&Value> = v["caches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["level"] == 3)
        .collect();
    if let Some(c) = l3.first() {
        let size = read(&format!("{sys}/cpu0/cache/index3/size"));
        let kb: u64 = size.trim().trim_end_matches('K').parse().unwrap();
        assert_eq!(c["size"], kb * 1024);
    }
}

#[test]
fn topology_human_tree() {
    let o = corral(&["topology"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let online = cpus(&read("/sys/devices/system/cpu/online"));
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{} logical CPU", online.len())),
        "{first}"
    );
    assert!(out.lines().any(|l| l.starts_with("package ")), "{out}");
    assert!(out.contains("└─ core "), "{out}");
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "too wide: {l:?}");
    }
}
