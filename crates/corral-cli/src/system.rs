//! `corral system`: CPU use, load, memory, swap, uptime, users, process count.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use corral::system::{self, CpuPercent, SwapMemory, User, VirtualMemory};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::columns::{clock, error_json, human_bytes};
use crate::output::Out;
use crate::Failure;

#[derive(Args, Debug)]
pub struct SystemArgs {
    /// How long to measure CPU use over: two samples this far apart (`200ms`, `1s`).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "200ms",
        value_parser = parse_interval,
        allow_hyphen_values = true
    )]
    pub interval: Duration,
    /// One JSON object with every figure; unreadable ones are objects with an error.
    #[arg(long)]
    pub json: bool,
}

/// Parses `--interval`: a duration greater than zero.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!("bad interval {s:?}: must be more than zero"));
    }
    let d = crate::duration::parse(s)?;
    if d.is_zero() {
        return Err(format!(
            "bad interval {s:?}: must be more than zero (two CPU samples need time between them)"
        ));
    }
    Ok(d)
}

fn field<T: Serialize>(r: &corral::Result<T>) -> Value {
    match r {
        Ok(v) => serde_json::to_value(v).unwrap_or(Value::Null),
        Err(e) => error_json(e),
    }
}

fn unix(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian calendar).
pub fn utc(t: SystemTime) -> String {
    let secs = unix(t).floor() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Everything `corral system` shows, read once.
struct Figures {
    interval: Duration,
    cpu: CpuPercent,
    cpu_times: system::SystemCpuTimes,
    cpu_stats: corral::Result<system::CpuStats>,
    cpu_freq: corral::Result<Vec<system::CpuFreq>>,
    load: corral::Result<system::LoadAverage>,
    memory: corral::Result<VirtualMemory>,
    swap: corral::Result<SwapMemory>,
    uptime: corral::Result<Duration>,
    boot_time: corral::Result<SystemTime>,
    users: corral::Result<Vec<User>>,
    pid_count: corral::Result<usize>,
}

fn collect(interval: Duration) -> Result<Figures, Failure> {
    let fatal = |e: corral::Error| Failure::from_error(&e);
    let a = system::cpu_times_sample().map_err(fatal)?;
    std::thread::sleep(interval);
    let b = system::cpu_times_sample().map_err(fatal)?;
    Ok(Figures {
        interval,
        cpu: b.percent_since(&a),
        cpu_times: b.total,
        cpu_stats: system::cpu_stats(),
        cpu_freq: system::cpu_freq(),
        load: system::load_average(),
        memory: system::virtual_memory(),
        swap: system::swap_memory(),
        uptime: system::uptime(),
        boot_time: system::boot_time(),
        users: system::users(),
        pid_count: system::pid_count(),
    })
}

fn to_json(f: &Figures) -> Value {
    let mut m = Map::new();
    m.insert("cpu_count".into(), json!(f.cpu.per_cpu.len()));
    m.insert("interval".into(), json!(f.interval.as_secs_f64()));
    m.insert("cpu_percent".into(), json!(f.cpu));
    m.insert("cpu_times".into(), json!(f.cpu_times));
    m.insert("cpu_stats".into(), field(&f.cpu_stats));
    m.insert("cpu_freq".into(), field(&f.cpu_freq));
    m.insert("load_average".into(), field(&f.load));
    m.insert("virtual_memory".into(), field(&f.memory));
    m.insert("swap_memory".into(), field(&f.swap));
    m.insert(
        "uptime".into(),
        field(
            &f.uptime
                .as_ref()
                .map(Duration::as_secs_f64)
                .map_err(Clone::clone),
        ),
    );
    m.insert(
        "boot_time".into(),
        field(&f.boot_time.as_ref().map(|t| unix(*t)).map_err(Clone::clone)),
    );
    m.insert("users".into(), field(&f.users));
    m.insert("pid_count".into(), field(&f.pid_count));
    Value::Object(m)
}

const LABEL: usize = 11;

/// Lines of `label` + items, wrapped to `width` columns under the label.
fn wrapped(label: &str, items: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = format!("{label:<LABEL$}");
    let mut empty = true;
    for it in items {
        if !empty && line.chars().count() + 1 + it.chars().count() > width {
            lines.push(std::mem::replace(&mut line, " ".repeat(LABEL)));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(it);
        empty = false;
    }
    lines.push(line);
    lines
}

fn err_text(e: &corral::Error) -> String {
    format!("<{}: {e}>", e.kind().as_str())
}

fn human(f: &Figures) -> Vec<String> {
    const WIDTH: usize = 80;
    let pct = |p: f64| format!("{p:.1}%");
    let mut out = Vec::new();
    out.push(format!("{:<LABEL$}{} online", "CPUs", f.cpu.per_cpu.len()));
    let ms = f.interval.as_secs_f64() * 1000.0;
    let over = if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    };
    let t = &f.cpu.total;
    out.push(format!(
        "{:<LABEL$}{} busy over {over}",
        "CPU use",
        pct(t.busy)
    ));
    let modes: Vec<String> = [
        ("user", t.user),
        ("nice", t.nice),
        ("system", t.system),
        ("iowait", t.iowait),
        ("steal", t.steal),
    ]
    .iter()
    .map(|(k, v)| format!("{k} {}", pct(*v)))
    .collect();
    out.extend(wrapped("", &modes, WIDTH));
    let per: Vec<String> = f
        .cpu
        .per_cpu
        .iter()
        .map(|c| format!("{:>6} {:>5}", format!("cpu{}", c.cpu), pct(c.percent.busy)))
        .collect();
    out.extend(wrapped("", &per, WIDTH));
    out.push(match &f.load {
        Ok(l) => format!(
            "{:<LABEL$}{:.2} {:.2} {:.2} (1, 5, 15 min)",
            "Load", l.one, l.five, l.fifteen
        ),
        Err(e) => format!("{:<LABEL$}{}", "Load", err_text(e)),
    });
    match &f.memory {
        Ok(m) => {
            out.push(format!(
                "{:<LABEL$}{} total, {} available ({} in use), {} used",
                "Memory",
                human_bytes(m.total),
                human_bytes(m.available),
                pct(m.percent),
                human_bytes(m.used)
            ));
            out.push(format!(
                "{:<LABEL$}free {}, buffers {}, cached {}, shared {}",
                "",
                human_bytes(m.free),
                human_bytes(m.buffers),
                human_bytes(m.cached),
                human_bytes(m.shared)
            ));
        }
        Err(e) => out.push(format!("{:<LABEL$}{}", "Memory", err_text(e))),
    }
    let io = |v: Option<u64>| v.map_or_else(|| "?".to_string(), human_bytes);
    out.push(match &f.swap {
        Ok(s) if s.total == 0 => format!("{:<LABEL$}none", "Swap"),
        Ok(s) => format!(
            "{:<LABEL$}{} total, {} used ({}); in {}, out {} since boot",
            "Swap",
            human_bytes(s.total),
            human_bytes(s.used),
            pct(s.percent),
            io(s.sin),
            io(s.sout)
        ),
        Err(e) => format!("{:<LABEL$}{}", "Swap", err_text(e)),
    });
    out.push(match (&f.uptime, &f.boot_time) {
        (Ok(u), Ok(b)) => format!(
            "{:<LABEL$}{}, booted {}",
            "Uptime",
            clock(u.as_secs()),
            utc(*b)
        ),
        (Err(e), _) | (_, Err(e)) => format!("{:<LABEL$}{}", "Uptime", err_text(e)),
    });
    match &f.users {
        Ok(u) if u.is_empty() => out.push(format!("{:<LABEL$}none logged in", "Users")),
        Ok(users) => {
            for (i, u) in users.iter().enumerate() {
                let label = if i == 0 { "Users" } else { "" };
                let mut s = u.name.clone();
                if let Some(t) = &u.terminal {
                    s.push_str(&format!(" on {t}"));
                }
                if let Some(h) = &u.host {
                    s.push_str(&format!(" from {h}"));
                }
                s.push_str(&format!(" since {}", utc(u.started)));
                let line = format!("{label:<LABEL$}{s}");
                out.push(if line.chars().count() > WIDTH {
                    let mut t: String = line.chars().take(WIDTH - 1).collect();
                    t.push('…');
                    t
                } else {
                    line
                });
            }
        }
        Err(e) => out.push(format!("{:<LABEL$}{}", "Users", err_text(e))),
    }
    out.push(match &f.pid_count {
        Ok(n) => format!("{:<LABEL$}{n}", "Processes"),
        Err(e) => format!("{:<LABEL$}{}", "Processes", err_text(e)),
    });
    out
}

pub fn run(a: SystemArgs) -> Result<(), Failure> {
    let f = collect(a.interval)?;
    let mut out = Out::new();
    if a.json {
        out.json(&to_json(&f))?;
    } else {
        for line in human(&f) {
            out.line(&line)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        for bad in ["0", "0s", "0ms", "-1s", "-1", "abc", "", "1x"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        assert!(parse_interval("-1s")
            .unwrap_err()
            .contains("more than zero"));
        assert!(parse_interval("0").unwrap_err().contains("more than zero"));
    }

    #[test]
    fn utc_dates() {
        let at = |s: u64| utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_795_421_716), "2026-11-23 08:15:16 UTC");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn wrapping_fits() {
        let items: Vec<String> = (0..64).map(|i| format!("cpu{i:<3} 99.9%")).collect();
        for l in wrapped("", &items, 80) {
            assert!(l.chars().count() <= 80, "{l:?}");
        }
    }
}
