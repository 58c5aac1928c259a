//! `corral top --batch`: the figures and rows of each refresh as text, or as one JSON
//! object per iteration and line. The first iteration is printed after one interval,
//! so that every CPU percentage is measured between two refreshes.

use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::model::{JobUsage, Line, Model, SysView};
use super::Options;
use crate::columns::{clock, human_bytes};
use crate::output::{self, Out};
use crate::Failure;

/// `up 1 day, 02:03:04`-style uptime.
pub fn uptime_text(s: &SysView) -> String {
    match s.uptime {
        Some(u) => {
            let secs = u.as_secs();
            let days = secs / 86400;
            let rest = clock(secs % 86400);
            match days {
                0 => rest,
                1 => format!("1 day, {rest}"),
                d => format!("{d} days, {rest}"),
            }
        }
        None => "?".into(),
    }
}

/// The load averages as text.
pub fn load_text(s: &SysView) -> String {
    match s.load {
        Some(l) => format!("{:.2} {:.2} {:.2}", l.one, l.five, l.fifteen),
        None => "?".into(),
    }
}

/// The task counts as text.
pub fn tasks_text(s: &SysView) -> String {
    let t = s.tasks;
    format!(
        "{} total, {} running, {} sleeping, {} stopped, {} zombie; {} threads",
        t.total, t.running, t.sleeping, t.stopped, t.zombie, t.threads
    )
}

/// Memory and swap as text.
pub fn memory_text(s: &SysView) -> (String, String) {
    let mem = match &s.memory {
        Some(m) => format!(
            "{} total, {} used, {} available ({:.1}%)",
            human_bytes(m.total),
            human_bytes(m.used),
            human_bytes(m.available),
            m.percent
        ),
        None => "?".into(),
    };
    let swap = match &s.swap {
        Some(w) => format!(
            "{} total, {} used ({:.1}%)",
            human_bytes(w.total),
            human_bytes(w.used),
            w.percent
        ),
        None => "?".into(),
    };
    (mem, swap)
}

fn json_of(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn run(o: Options) -> Result<(), Failure> {
    let mut m = Model::new(o.cols.clone());
    let mut out = Out::new();
    let iterations = o.iterations.unwrap_or(1);
    // A first reading to measure from.
    m.refresh(&o.sort, o.filter.as_ref(), o.view)?;
    if o.view == super::View::Threads {
        m.build(o.view, &o.sort, o.filter.as_ref());
    }
    for n in 1..=iterations {
        std::thread::sleep(o.delay);
        m.refresh(&o.sort, o.filter.as_ref(), o.view)?;
        m.build(o.view, &o.sort, o.filter.as_ref());
        let mut lines = std::mem::take(&mut m.lines);
        if let Some(l) = o.limit {
            lines.truncate(l);
        }
        m.fill(&lines);
        if o.json {
            print_json(&m, &lines, n, &o, &mut out)?;
        } else {
            print_text(&m, &lines, n, &o, &mut out)?;
        }
        m.lines = lines;
        out.flush()?;
    }
    Ok(())
}

fn print_json(
    m: &Model,
    lines: &[Line],
    n: u64,
    o: &Options,
    out: &mut Out,
) -> Result<(), Failure> {
    let s = &m.sys;
    let ctx = m.ctx();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let round = |f: f64| (f * 10.0).round() / 10.0;
    let mut procs = Vec::new();
    let mut jobs = Vec::new();
    for l in lines {
        match l {
            Line::Proc { i, art } => {
                let r = &m.rows[*i];
                let mut obj = Map::new();
                obj.insert("pid".into(), json!(r.pid.as_raw()));
                obj.insert(
                    "name".into(),
                    match &r.name {
                        Some(Ok(n)) => json!(n),
                        _ => Value::Null,
                    },
                );
                obj.insert("cpu_percent".into(), json!(round(m.cpu[*i])));
                for c in &m.cols {
                    obj.insert(c.name.to_string(), m.value(c, *i, &ctx).json());
                }
                if !art.is_empty() {
                    obj.insert("depth".into(), json!(art.chars().count() / 3));
                }
                procs.push(Value::Object(obj));
            }
            Line::Thread { i, tid, cpu, time } => procs.push(json!({
                "pid": m.rows[*i].pid.as_raw(),
                "tid": tid,
                "cpu_percent": round(*cpu),
                "time": time.as_secs_f64(),
            })),
            Line::Job { j } => {
                let g = &m.jobs[*j];
                jobs.push(json!({
                    "cgroup": g.cgroup,
                    "job": g.job,
                    "processes": g.procs,
                    "threads": g.threads,
                    "cpu_percent": round(g.cpu),
                    "rss": g.rss,
                    "limits": g.usage.as_ref().map(|u| json!({
                        "memory": u.memory_max,
                        "pids": u.pids_max,
                        "cpus": u.cpus,
                    })),
                    "usage": g.usage.as_ref().map(|u| json!({
                        "memory": u.memory,
                        "pids": u.pids,
                        "throttled_periods": u.throttled_periods,
                        "throttled_time": u.throttled_time.map(|t| t.as_secs_f64()),
                        "oom_kills": u.oom_kills,
                        "process_limit_hits": u.process_limit_hits,
                    })),
                }));
            }
        }
    }
    let mut v = json!({
        "iteration": n,
        "time": now,
        "view": o.view.name(),
        "uptime": s.uptime.map(|u| u.as_secs_f64()),
        "load": s.load.map(|l| json!([l.one, l.five, l.fifteen])),
        "cpu": {
            "busy_percent": s.cpu_total.map(round),
            "per_cpu": s.per_cpu.iter().map(|(c, p)| json!({"cpu": c, "busy_percent": round(*p)})).collect::<Vec<_>>(),
        },
        "memory": s.memory.as_ref().map(json_of),
        "swap": s.swap.as_ref().map(json_of),
        "tasks": {
            "total": s.tasks.total, "running": s.tasks.running, "sleeping": s.tasks.sleeping,
            "stopped": s.tasks.stopped, "zombie": s.tasks.zombie, "threads": s.tasks.threads,
        },
        "sort": format!("{:?}", o.sort),
        "filter": o.filter_text,
    });
    if o.view == super::View::Jobs {
        v["jobs"] = Value::Array(jobs);
    } else {
        v["processes"] = Value::Array(procs);
    }
    out.json(&v)?;
    Ok(())
}

fn print_text(
    m: &Model,
    lines: &[Line],
    n: u64,
    o: &Options,
    out: &mut Out,
) -> Result<(), Failure> {
    let s = &m.sys;
    let ctx = m.ctx();
    if n > 1 {
        out.line("")?;
    }
    out.line(&format!(
        "corral top: iteration {n}, up {}, load average {}",
        uptime_text(s),
        load_text(s)
    ))?;
    out.line(&format!("Tasks: {}", tasks_text(s)))?;
    let per: Vec<String> = s
        .per_cpu
        .iter()
        .map(|(c, p)| format!("cpu{c} {p:.1}"))
        .collect();
    out.line(&format!(
        "CPU: {} busy ({})",
        s.cpu_total.map_or("?".into(), |p| format!("{p:.1}%")),
        per.join(", ")
    ))?;
    let (mem, swap) = memory_text(s);
    out.line(&format!("Mem: {mem}"))?;
    out.line(&format!("Swap: {swap}"))?;
    out.line("")?;
    let (headers, aligns, table) = if o.view == super::View::Jobs {
        let t: Vec<Vec<String>> = lines
            .iter()
            .filter_map(|l| match l {
                Line::Job { j } => Some(&m.jobs[*j]),
                _ => None,
            })
            .map(|g| {
                vec![
                    g.procs.to_string(),
                    g.threads.to_string(),
                    format!("{:.1}", g.cpu),
                    human_bytes(g.rss),
                    JobUsage::memory_text(g.usage.as_ref()),
                    JobUsage::pids_text(g.usage.as_ref()),
                    JobUsage::cpus_text(g.usage.as_ref()),
                    JobUsage::throttled_text(g.usage.as_ref()),
                    JobUsage::oom_text(g.usage.as_ref()),
                    g.job.clone().unwrap_or_else(|| "-".into()),
                    g.cgroup.clone(),
                ]
            })
            .collect();
        use crate::columns::Align::{Left, Right};
        (
            vec![
                "PROCS",
                "THR",
                "%CPU",
                "RSS",
                "MEM/MAX",
                "PIDS/MAX",
                "CPUS",
                "THROTTLED",
                "OOM",
                "JOB",
                "CGROUP",
            ],
            vec![
                Right, Right, Right, Right, Right, Right, Right, Right, Right, Left, Left,
            ],
            t,
        )
    } else {
        let tree_col = o
            .cols
            .iter()
            .position(|c| c.name == "cmd")
            .or_else(|| o.cols.iter().position(|c| c.name == "name"));
        let t: Vec<Vec<String>> = lines
            .iter()
            .map(|l| match l {
                Line::Proc { i, art } => o
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        let s = (c.show)(&m.value(c, *i, &ctx));
                        if Some(k) == tree_col {
                            format!("{art}{s}")
                        } else {
                            s
                        }
                    })
                    .collect(),
                Line::Thread { tid, cpu, time, .. } => o
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(k, c)| match c.name {
                        "pid" => tid.to_string(),
                        "cpu" => format!("{cpu:.1}"),
                        "time" => clock(time.as_secs()),
                        _ if Some(k) == tree_col => format!("  thread {tid}"),
                        _ => String::new(),
                    })
                    .collect(),
                Line::Job { .. } => Vec::new(),
            })
            .collect();
        (
            o.cols.iter().map(|c| c.header).collect(),
            o.cols.iter().map(|c| c.align).collect(),
            t,
        )
    };
    output::table(out, &headers, &aligns, &table, true, output::width(out.tty))?;
    Ok(())
}
