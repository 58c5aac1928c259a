//! `corral info PID`: every field of one process.

use clap::Args;
use corral::{ConnectionKind, Process, ProcessRef, Resource};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::columns::{clock, error_json, human_bytes};
use crate::output::Out;
use crate::Failure;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The process: PID, or PID:INODE to insist on one exact process.
    #[arg(value_name = "PID")]
    pub pid: String,
    /// One JSON object with every field; unreadable fields are objects with an error.
    #[arg(long)]
    pub json: bool,
}

fn field<T: Serialize>(r: corral::Result<T>) -> Value {
    match r {
        Ok(v) => serde_json::to_value(v).unwrap_or(Value::Null),
        Err(e) => error_json(&e),
    }
}

/// Every field of `p`, in a fixed order, as JSON values.
pub fn collect(p: &Process) -> Vec<(&'static str, Value)> {
    let os = |v: Vec<std::ffi::OsString>| -> Vec<String> {
        v.into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    };
    let mut f: Vec<(&'static str, Value)> = vec![
        ("pid", json!(p.pid())),
        ("pidfs_inode", json!(p.pidfs_inode())),
        ("start_time", field(p.start_time())),
        ("name", field(p.name())),
        ("exe", field(p.exe())),
        ("cmdline", field(p.cmdline().map(os))),
        ("cwd", field(p.cwd())),
        ("status", field(p.status())),
        ("ppid", field(p.ppid())),
        ("username", field(p.username())),
        ("uids", field(p.uids())),
        ("gids", field(p.gids())),
        ("terminal", field(p.terminal())),
        ("process_group", field(p.process_group())),
        ("nice", field(p.nice())),
        ("ionice", field(p.ionice())),
        ("cpu_times", field(p.cpu_times())),
        ("cpu_num", field(p.cpu_num())),
        ("cpu_affinity", field(p.cpu_affinity())),
        ("num_threads", field(p.num_threads())),
        ("threads", field(p.threads())),
        ("num_ctx_switches", field(p.num_ctx_switches())),
        ("memory_info", field(p.memory_info())),
        ("memory_full_info", field(p.memory_full_info())),
        ("memory_peaks", field(p.memory_peaks())),
        ("memory_percent", field(p.memory_percent())),
        ("page_faults", field(p.page_faults())),
        ("io_counters", field(p.io_counters())),
        ("num_fds", field(p.num_fds())),
        ("open_files", field(p.open_files())),
        ("connections", field(p.connections(ConnectionKind::All))),
        ("cgroups", field(p.cgroups())),
    ];
    let mut limits = Map::new();
    for r in Resource::ALL {
        limits.insert(r.name().to_string(), field(p.rlimit(r)));
    }
    f.push(("rlimits", Value::Object(limits)));
    f.push((
        "environ",
        field(p.environ().map(|env| {
            env.into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })),
    ));
    f
}

fn human(key: &str, v: &Value) -> String {
    if let Some(e) = v.get("error") {
        let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
        return format!("<{}: {}>", e.as_str().unwrap_or("error"), msg);
    }
    let bytes_obj = |v: &Value| -> String {
        match v.as_object() {
            Some(m) => m
                .iter()
                .map(|(k, x)| match x.as_u64() {
                    Some(n) => format!("{k}={}", human_bytes(n)),
                    None => format!("{k}={x}"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            None => v.to_string(),
        }
    };
    match key {
        "memory_info" | "memory_full_info" | "memory_peaks" => bytes_obj(v),
        "start_time" => {
            let secs = v.get("wall").and_then(Value::as_f64).unwrap_or(0.0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            format!(
                "{secs:.2} (Unix seconds; {} ago; raw {})",
                clock((now - secs).max(0.0) as u64),
                v.get("raw").unwrap_or(&Value::Null)
            )
        }
        "cmdline" => match v.as_array() {
            Some(a) => a
                .iter()
                .map(|s| {
                    let s = s.as_str().unwrap_or("");
                    if s.is_empty() || s.contains(char::is_whitespace) {
                        format!("{s:?}")
                    } else {
                        s.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            None => v.to_string(),
        },
        _ => match v {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            Value::Object(m) => m
                .iter()
                .map(|(k, x)| format!("{k}={}", compact(x)))
                .collect::<Vec<_>>()
                .join(" "),
            Value::Array(a) if a.is_empty() => "(none)".into(),
            other => other.to_string(),
        },
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub fn run(a: InfoArgs) -> Result<(), Failure> {
    let r: ProcessRef = a
        .pid
        .parse()
        .map_err(|e: corral::Error| Failure::usage(e.detail().unwrap_or("bad pid").to_string()))?;
    let p = Process::open_ref(r).map_err(|e| Failure::from_error(&e))?;
    let fields = collect(&p);
    let mut out = Out::new();
    if a.json {
        let m: Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        out.json(&Value::Object(m))?;
    } else {
        for (k, v) in &fields {
            match (k, v) {
                (&"environ", Value::Array(env)) => {
                    out.line(&format!("{k:<17} {} variables", env.len()))?;
                    for kv in env {
                        if let Some(pair) = kv.as_array() {
                            out.line(&format!(
                                "  {}={}",
                                compact(&pair[0]),
                                compact(pair.get(1).unwrap_or(&Value::Null))
                            ))?;
                        }
                    }
                }
                (&"threads" | &"open_files" | &"connections" | &"cgroups", Value::Array(items))
                    if !items.is_empty() =>
                {
                    out.line(&format!("{k:<17} {}", items.len()))?;
                    for it in items {
                        out.line(&format!("  {}", human("", it)))?;
                    }
                }
                (&"rlimits", Value::Object(m)) => {
                    out.line(&format!("{k:<17}"))?;
                    for (name, lim) in m {
                        out.line(&format!("  {name:<11} {}", human("", lim)))?;
                    }
                }
                _ => out.line(&format!("{k:<17} {}", human(k, v)))?,
            }
        }
    }
    out.flush()?;
    Ok(())
}
