//! `corral ionice`, `limit`, `trim`, `background` and `affinity`: read or change one
//! property of selected processes (selected as for `corral kill`).

use clap::Args;
use corral::{IoClass, IoPriority, Resource, Rlimit};

use crate::act::{self, Common, Done};
use crate::columns::human_bytes;
use crate::run::{parse_cpus, parse_ionice, parse_rlimit};
use crate::topology::compact as cpu_list;
use crate::Failure;

const SELECT_HELP: &str = "\
Selects processes like `corral kill` (pids, PID:INODE, --name, --user, --pgid …) with the
same safety rules when changing something (reading is allowed on any process).
Exit status: 0 done for one or more processes; 1 none matched or none could be done;
2 usage error; 3 fatal error.";

fn show_io(p: IoPriority) -> String {
    match p.class {
        IoClass::None => "none".into(),
        IoClass::Idle => "idle".into(),
        IoClass::BestEffort => format!("best-effort:{}", p.level),
        IoClass::Realtime => format!("realtime:{}", p.level),
    }
}

#[derive(Args, Debug)]
#[command(after_help = SELECT_HELP)]
pub struct IoniceArgs {
    #[command(flatten)]
    pub common: Common,
    /// Set the I/O class: idle, best-effort[:LEVEL], realtime[:LEVEL], none (LEVEL 0-7,
    /// 0 highest; default 4). Without it, show the I/O priority.
    #[arg(long, value_name = "CLASS[:LEVEL]")]
    pub class: Option<String>,
    /// The level within the class, 0 (highest) to 7.
    #[arg(long, value_name = "N", requires = "class")]
    pub level: Option<u8>,
    #[command(flatten)]
    pub whole: act::Whole,
}

pub fn ionice(a: IoniceArgs) -> Result<(), Failure> {
    let set = match &a.class {
        None => None,
        Some(s) => {
            let mut p = parse_ionice(s, "--class")?;
            if let Some(l) = a.level {
                if l > 7 {
                    return Err(Failure::usage(format!("--level: {l} is outside 0-7")));
                }
                p.level = l;
            }
            Some(p)
        }
    };
    if let Some(w) = a.whole.target(&a.common)? {
        return ionice_whole(w, set, a.common.json);
    }
    act::each(&a.common, set.is_some(), |t| {
        if let Some(p) = set {
            t.proc.set_ionice(p)?;
        }
        let now = t.proc.ionice()?;
        Ok(Done::new(format!("I/O priority {}", show_io(now))).with("ionice", now))
    })
}

/// `--whole-group` / `--whole-user`: one `ioprio_set(IOPRIO_WHO_PGRP/USER)` call, then
/// the group's or user's I/O priority (its highest member's) read back.
fn ionice_whole(w: act::WholeTarget, set: Option<IoPriority>, json: bool) -> Result<(), Failure> {
    use corral::sched;
    let fail = |e: corral::Error| Failure::from_error(&e);
    if let Some(p) = set {
        match w {
            act::WholeTarget::Group(g) => sched::set_group_io_priority(g, p),
            act::WholeTarget::User(u) => sched::set_user_io_priority(u, p),
        }
        .map_err(fail)?;
    }
    let now = match w {
        act::WholeTarget::Group(g) => sched::group_io_priority(g),
        act::WholeTarget::User(u) => sched::user_io_priority(u),
    }
    .map_err(fail)?;
    let mut m = serde_json::Map::new();
    m.insert(
        "ionice".into(),
        serde_json::to_value(now).unwrap_or(serde_json::Value::Null),
    );
    m.insert("changed".into(), set.is_some().into());
    act::print_whole(w, json, &format!("I/O priority {}", show_io(now)), m)
}

#[derive(Args, Debug)]
#[command(after_help = "\
Items are pids (or PID:INODE) and limits to set, RES=SOFT[:HARD] with K/M/G suffixes or
`unlimited` (nofile=128, core=0, as=512M:1G). Without limits, shows every limit.
Resources: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss,
rtprio, rttime, sigpending, stack.

Selects processes like `corral kill` (pids, PID:INODE, --name, --user, --pgid …) with the
same safety rules when changing something. Exit status: 0 done for one or more processes;
1 none matched or none could be done; 2 usage error; 3 fatal error.")]
pub struct LimitArgs {
    #[command(flatten)]
    pub common: Common,
}

fn show_lim(v: Option<u64>) -> String {
    v.map(|n| n.to_string())
        .unwrap_or_else(|| "unlimited".into())
}

pub fn limit(mut a: LimitArgs) -> Result<(), Failure> {
    let (sets, pids): (Vec<String>, Vec<String>) =
        a.common.targets.drain(..).partition(|s| s.contains('='));
    a.common.targets = pids;
    let sets: Vec<(Resource, Rlimit)> = sets
        .iter()
        .map(|s| parse_rlimit(s, "limit"))
        .collect::<Result<_, _>>()?;
    act::each(&a.common, !sets.is_empty(), |t| {
        for (res, lim) in &sets {
            t.proc.set_rlimit(*res, *lim)?;
        }
        let shown: Vec<Resource> = if sets.is_empty() {
            Resource::ALL.to_vec()
        } else {
            sets.iter().map(|(r, _)| *r).collect()
        };
        let mut human = String::from("limits");
        let mut m = serde_json::Map::new();
        for r in shown {
            let l = t.proc.rlimit(r)?;
            human.push_str(&format!(
                "\n  {:<11} {:>12} {:>12}",
                r.name(),
                show_lim(l.soft),
                show_lim(l.hard)
            ));
            m.insert(
                r.name().into(),
                serde_json::json!({"soft": l.soft, "hard": l.hard}),
            );
        }
        Ok(Done::new(human).with("limits", m))
    })
}

#[derive(Args, Debug)]
#[command(after_help = SELECT_HELP)]
pub struct TrimArgs {
    #[command(flatten)]
    pub common: Common,
    /// Trim a whole job instead of selected processes: the kernel reclaims the job's
    /// cgroup in one step where it can (cgroup v2 memory.reclaim), else each member is
    /// trimmed.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
}

pub fn trim(a: TrimArgs) -> Result<(), Failure> {
    if let Some(name) = &a.job {
        return trim_job(name, &a.common);
    }
    act::each(&a.common, true, |t| {
        let r = t.proc.trim_memory()?;
        Ok(Done::new(format!(
            "paged out {} (resident {} -> {})",
            human_bytes(r.paged_out()),
            human_bytes(r.rss_before),
            human_bytes(r.rss_after)
        ))
        .with("rss_before", r.rss_before)
        .with("rss_after", r.rss_after)
        .with("paged_out", r.paged_out())
        .with("advised", r.advised))
    })
}

/// `corral trim --job NAME`: one line (or JSON object) for the job.
fn trim_job(name: &str, c: &Common) -> Result<(), Failure> {
    if !c.targets.is_empty() || c.select.any() {
        return Err(Failure::usage(
            "--job trims a whole job: give no pids or selectors with it",
        ));
    }
    let job = corral::Job::open(name).map_err(|e| Failure::from_error(&e))?;
    let r = job.trim_memory().map_err(|e| Failure::from_error(&e))?;
    let mut out = crate::output::Out::new();
    if c.json {
        out.json(&serde_json::json!({
            "job": name,
            "before": r.before,
            "after": r.after,
            "paged_out": r.paged_out(),
            "reclaimed": r.reclaimed,
            "members": r.members,
        }))?;
    } else {
        let how = if r.reclaimed {
            "cgroup reclaim".to_owned()
        } else {
            format!("{} members trimmed one by one", r.members)
        };
        out.line(&format!(
            "job {name}: paged out {} ({} -> {}; {how})",
            human_bytes(r.paged_out()),
            human_bytes(r.before),
            human_bytes(r.after)
        ))?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Args, Debug)]
#[command(after_help = SELECT_HELP)]
pub struct BackgroundArgs {
    #[command(flatten)]
    pub common: Common,
    /// End background mode (back to the normal class and the default I/O priority).
    #[arg(long)]
    pub off: bool,
}

pub fn background(a: BackgroundArgs) -> Result<(), Failure> {
    act::each(&a.common, true, |t| {
        let r = t.proc.set_background(!a.off)?;
        Ok(Done::new(format!(
            "background mode {} ({} threads; utilisation clamp {})",
            if a.off { "off" } else { "on" },
            r.threads,
            if r.util_clamp { "set" } else { "not available" }
        ))
        .with("background", !a.off)
        .with("threads", r.threads)
        .with("util_clamp", r.util_clamp))
    })
}

#[derive(Args, Debug)]
#[command(after_help = SELECT_HELP)]
pub struct AffinityArgs {
    #[command(flatten)]
    pub common: Common,
    /// Restrict every thread to these CPUs (0,2-3). Without --cpus or --node, show the
    /// affinity.
    #[arg(long, value_name = "CPUS", conflicts_with = "node")]
    pub cpus: Option<String>,
    /// Keep the processes on this NUMA node (its CPUs).
    #[arg(long, value_name = "NODE")]
    pub node: Option<u32>,
}

pub fn affinity(a: AffinityArgs) -> Result<(), Failure> {
    let cpus = match (&a.cpus, a.node) {
        (Some(s), _) => Some(parse_cpus(s, "--cpus")?),
        (None, Some(n)) => {
            Some(corral::system::numa_node_cpus(n).map_err(|e| act::usage_of("--node", e))?)
        }
        (None, None) => None,
    };
    act::each(&a.common, cpus.is_some(), |t| {
        if let Some(c) = &cpus {
            t.proc.set_cpu_affinity(c)?;
        }
        let now = t.proc.cpu_affinity()?;
        let mut d = Done::new(format!("CPUs {}", cpu_list(&now))).with("cpus", &now);
        if let Some(n) = a.node {
            d = d.with("node", n);
        }
        Ok(d)
    })
}
