//! The columns of `corral ps`: what each needs from a snapshot, how it shows, sorts and
//! serialises.

use std::time::{Duration, SystemTime};

use corral::{Error, Field, FieldValue, ProcessInfo};
use serde_json::{json, Value};

/// One cell value.
#[derive(Debug, Clone)]
pub enum Val {
    /// Unsigned number.
    U(u64),
    /// Signed number.
    I(i64),
    /// Fraction (percentages).
    F(f64),
    /// Text.
    S(String),
    /// No value (no terminal, no parent).
    None,
    /// Could not be read.
    Err(Error),
}

impl Val {
    pub fn json(&self) -> Value {
        match self {
            Val::U(v) => json!(v),
            Val::I(v) => json!(v),
            Val::F(v) => json!((v * 10.0).round() / 10.0),
            Val::S(s) => json!(s),
            Val::None => Value::Null,
            Val::Err(e) => error_json(e),
        }
    }
}

/// A field error as JSON: the kind and a message.
pub fn error_json(e: &Error) -> Value {
    json!({ "error": e.kind().as_str(), "message": e.to_string() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A column definition.
pub struct Column {
    pub name: &'static str,
    pub header: &'static str,
    pub align: Align,
    pub needs: &'static [Field],
    pub help: &'static str,
    pub get: fn(&ProcessInfo, &Ctx) -> Val,
    pub show: fn(&Val) -> String,
}

/// What columns need besides the row.
pub struct Ctx {
    pub now: SystemTime,
    pub total_memory: Option<u64>,
}

fn v<T>(f: &FieldValue<T>, map: impl FnOnce(&T) -> Val) -> Val {
    match f {
        None => Val::None,
        Some(Ok(t)) => map(t),
        Some(Err(e)) => Val::Err(e.clone()),
    }
}

fn show_plain(v: &Val) -> String {
    match v {
        Val::U(n) => n.to_string(),
        Val::I(n) => n.to_string(),
        Val::F(f) => format!("{f:.1}"),
        Val::S(s) => s.clone(),
        Val::None => "-".into(),
        Val::Err(e) => err_mark(e),
    }
}

/// How a field error shows in a table: `?` for denied, `-` for zombies/gone.
pub fn err_mark(e: &Error) -> String {
    match e.kind() {
        corral::ErrorKind::AccessDenied => "?".into(),
        _ => "-".into(),
    }
}

/// Bytes as `ps`-like human sizes: 1.5G, 300M, 12K.
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut f = n as f64;
    let mut i = 0;
    while f >= 1024.0 && i < U.len() - 1 {
        f /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else if f < 10.0 {
        format!("{f:.1}{}", U[i])
    } else {
        format!("{:.0}{}", f, U[i])
    }
}

fn show_bytes(v: &Val) -> String {
    match v {
        Val::U(n) => human_bytes(*n),
        other => show_plain(other),
    }
}

/// Seconds as `[D-]HH:MM:SS`.
pub fn clock(secs: u64) -> String {
    let d = secs / 86400;
    let h = (secs % 86400) / 3600;
    let m = (secs % 3600) / 60;
    let s = secs % 60;
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

fn show_clock(v: &Val) -> String {
    match v {
        Val::F(f) => clock(*f as u64),
        other => show_plain(other),
    }
}

fn unix_secs(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(_) => 0.0,
    }
}

fn show_start(v: &Val) -> String {
    match v {
        Val::F(secs) => {
            let now = unix_secs(SystemTime::now());
            let age = (now - secs).max(0.0) as u64;
            // Today: time of day; older: days ago (no time-zone database needed).
            if age < 86400 {
                let t = *secs as u64;
                format!("{:02}:{:02}", (t % 86400) / 3600, (t % 3600) / 60)
            } else {
                format!("{}d", age / 86400)
            }
        }
        other => show_plain(other),
    }
}

fn cmd_of(r: &ProcessInfo) -> Val {
    match &r.cmdline {
        Some(Ok(args)) if !args.is_empty() => Val::S(
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        // No command line (kernel threads, zombies): the name in brackets, as ps does.
        Some(Ok(_)) | Some(Err(_)) => match &r.name {
            Some(Ok(n)) => Val::S(format!("[{n}]")),
            _ => v(&r.cmdline, |_| Val::None),
        },
        None => Val::None,
    }
}

pub static COLUMNS: &[Column] = &[
    Column {
        name: "pid",
        header: "PID",
        align: Align::Right,
        needs: &[],
        help: "process id",
        get: |r, _| Val::U(r.pid.as_raw() as u64),
        show: show_plain,
    },
    Column {
        name: "ppid",
        header: "PPID",
        align: Align::Right,
        needs: &[Field::Ppid],
        help: "parent process id",
        get: |r, _| v(&r.ppid, |p| p.map_or(Val::U(0), |p| Val::U(p.as_raw() as u64))),
        show: show_plain,
    },
    Column {
        name: "user",
        header: "USER",
        align: Align::Left,
        needs: &[Field::Username],
        help: "user name of the real uid",
        get: |r, _| v(&r.username, |s| Val::S(s.clone())),
        show: show_plain,
    },
    Column {
        name: "uid",
        header: "UID",
        align: Align::Right,
        needs: &[Field::Uids],
        help: "real user id",
        get: |r, _| v(&r.uids, |i| Val::U(i.real as u64)),
        show: show_plain,
    },
    Column {
        name: "name",
        header: "NAME",
        align: Align::Left,
        needs: &[Field::Name],
        help: "process name (comm, completed beyond 15 bytes from argv[0] or exe)",
        get: |r, _| v(&r.name, |s| Val::S(s.clone())),
        show: show_plain,
    },
    Column {
        name: "state",
        header: "S",
        align: Align::Left,
        needs: &[Field::Status],
        help: "state letter (R running, S sleeping, D disk, T stopped, Z zombie, I idle)",
        get: |r, _| v(&r.status, |s| Val::S(s.letter().to_string())),
        show: show_plain,
    },
    Column {
        name: "status",
        header: "STATUS",
        align: Align::Left,
        needs: &[Field::Status],
        help: "state as a word",
        get: |r, _| v(&r.status, |s| Val::S(s.as_str().to_string())),
        show: show_plain,
    },
    Column {
        name: "cpu",
        header: "%CPU",
        align: Align::Right,
        needs: &[Field::CpuTimes],
        help: "CPU use averaged over the process's lifetime, as ps shows it (corral top shows current use)",
        get: |r, c| {
            v(&r.cpu_times, |t| {
                let age = c
                    .now
                    .duration_since(r.start.wall)
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64();
                Val::F(if age > 0.0 {
                    t.total().as_secs_f64() / age * 100.0
                } else {
                    0.0
                })
            })
        },
        show: show_plain,
    },
    Column {
        name: "time",
        header: "TIME",
        align: Align::Right,
        needs: &[Field::CpuTimes],
        help: "CPU time used (user + system), [D-]HH:MM:SS",
        get: |r, _| v(&r.cpu_times, |t| Val::F(t.total().as_secs_f64())),
        show: show_clock,
    },
    Column {
        name: "rss",
        header: "RSS",
        align: Align::Right,
        needs: &[Field::Rss],
        help: "resident memory (bytes; human units in tables)",
        get: |r, _| v(&r.rss, |m| Val::U(*m)),
        show: show_bytes,
    },
    Column {
        name: "vms",
        header: "VMS",
        align: Align::Right,
        needs: &[Field::Vms],
        help: "virtual memory size",
        get: |r, _| v(&r.vms, |m| Val::U(*m)),
        show: show_bytes,
    },
    Column {
        name: "mem",
        header: "%MEM",
        align: Align::Right,
        needs: &[Field::Rss],
        help: "resident memory as a percentage of physical memory",
        get: |r, c| {
            v(&r.rss, |m| match c.total_memory {
                Some(t) if t > 0 => Val::F(*m as f64 * 100.0 / t as f64),
                _ => Val::None,
            })
        },
        show: show_plain,
    },
    Column {
        name: "threads",
        header: "THR",
        align: Align::Right,
        needs: &[Field::NumThreads],
        help: "number of threads",
        get: |r, _| v(&r.num_threads, |n| Val::U(*n)),
        show: show_plain,
    },
    Column {
        name: "nice",
        header: "NI",
        align: Align::Right,
        needs: &[Field::Nice],
        help: "nice value",
        get: |r, _| v(&r.nice, |n| Val::I(*n as i64)),
        show: show_plain,
    },
    Column {
        name: "start",
        header: "START",
        align: Align::Right,
        needs: &[],
        help: "start time (UTC time of day if within a day, else days ago; JSON: Unix seconds)",
        get: |r, _| Val::F(unix_secs(r.start.wall)),
        show: show_start,
    },
    Column {
        name: "elapsed",
        header: "ELAPSED",
        align: Align::Right,
        needs: &[],
        help: "time since start, [D-]HH:MM:SS (JSON: seconds)",
        get: |r, c| {
            Val::F(
                c.now
                    .duration_since(r.start.wall)
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64(),
            )
        },
        show: show_clock,
    },
    Column {
        name: "tty",
        header: "TTY",
        align: Align::Left,
        needs: &[Field::Terminal],
        help: "controlling terminal",
        get: |r, _| {
            v(&r.terminal, |t| match t {
                Some(s) => Val::S(s.strip_prefix("/dev/").unwrap_or(s).to_string()),
                None => Val::None,
            })
        },
        show: show_plain,
    },
    Column {
        name: "pgid",
        header: "PGID",
        align: Align::Right,
        needs: &[Field::ProcessGroup],
        help: "process group id",
        get: |r, _| v(&r.group, |g| Val::U(g.pgid as u64)),
        show: show_plain,
    },
    Column {
        name: "sid",
        header: "SID",
        align: Align::Right,
        needs: &[Field::ProcessGroup],
        help: "session id",
        get: |r, _| v(&r.group, |g| Val::U(g.session as u64)),
        show: show_plain,
    },
    Column {
        name: "fds",
        header: "FDS",
        align: Align::Right,
        needs: &[Field::NumFds],
        help: "open file descriptors",
        get: |r, _| v(&r.num_fds, |n| Val::U(*n as u64)),
        show: show_plain,
    },
    Column {
        name: "exe",
        header: "EXE",
        align: Align::Left,
        needs: &[Field::Exe],
        help: "executable path",
        get: |r, _| {
            v(&r.exe, |p| match p {
                Some(p) => Val::S(p.to_string_lossy().into_owned()),
                None => Val::None,
            })
        },
        show: show_plain,
    },
    Column {
        name: "cwd",
        header: "CWD",
        align: Align::Left,
        needs: &[Field::Cwd],
        help: "working directory",
        get: |r, _| v(&r.cwd, |p| Val::S(p.to_string_lossy().into_owned())),
        show: show_plain,
    },
    Column {
        name: "cgroup",
        header: "CGROUP",
        align: Align::Left,
        needs: &[Field::Cgroups],
        help: "cgroup path (the v2 hierarchy's, else the first v1 one)",
        get: |r, _| {
            v(&r.cgroups, |_| match cgroup_of(r) {
                Some(p) => Val::S(p.to_string()),
                None => Val::None,
            })
        },
        show: show_plain,
    },
    Column {
        name: "cmd",
        header: "COMMAND",
        align: Align::Left,
        needs: &[Field::Cmdline, Field::Name],
        help: "command line ([name] when there is none)",
        get: |r, _| cmd_of(r),
        show: show_plain,
    },
];

/// A row's cgroup as the `cgroup` column shows it: the v2 hierarchy's path, else the
/// first v1 one; `None` when not read or empty.
pub fn cgroup_of(r: &ProcessInfo) -> Option<&str> {
    match &r.cgroups {
        Some(Ok(m)) => m
            .iter()
            .find(|c| c.hierarchy == 0)
            .or_else(|| m.first())
            .map(|c| c.path.as_str()),
        _ => None,
    }
}

/// The default `corral ps` columns.
pub const DEFAULT: &str = "pid,ppid,user,state,cpu,rss,start,time,cmd";

/// Finds a column by name (with a few ps aliases).
pub fn find(name: &str) -> Option<&'static Column> {
    let n = match name {
        "command" | "args" | "cmdline" => "cmd",
        "comm" => "name",
        "stat" | "s" => "state",
        "%cpu" | "pcpu" => "cpu",
        "%mem" | "pmem" => "mem",
        "rsz" => "rss",
        "vsz" => "vms",
        "nlwp" | "thcount" => "threads",
        "ni" => "nice",
        "etime" => "elapsed",
        "session" => "sid",
        "cputime" => "time",
        other => other,
    };
    COLUMNS.iter().find(|c| c.name == n)
}

/// Compares two values for sorting: numbers numerically, text lexically, missing and
/// errors last.
pub fn compare(a: &Val, b: &Val) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn num(v: &Val) -> Option<f64> {
        match v {
            Val::U(n) => Some(*n as f64),
            Val::I(n) => Some(*n as f64),
            Val::F(f) => Some(*f),
            _ => None,
        }
    }
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => match (a, b) {
            (Val::S(x), Val::S(y)) => x.cmp(y),
            (Val::S(_), _) => Ordering::Less,
            (_, Val::S(_)) => Ordering::Greater,
            (x, y) if num(x).is_some() && num(y).is_none() => Ordering::Less,
            (x, y) if num(x).is_none() && num(y).is_some() => Ordering::Greater,
            _ => Ordering::Equal,
        },
    }
}
