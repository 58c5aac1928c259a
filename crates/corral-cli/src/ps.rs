//! `corral ps`.

use std::collections::HashMap;
use std::time::SystemTime;

use clap::Args;
use corral::{FieldSet, Pid, ProcessInfo, Snapshot};
use serde_json::{Map, Value};

use crate::columns::{self, Column, Ctx, Val};
use crate::output::{self, Out};
use crate::select::Selection;
use crate::Failure;

#[derive(Args, Debug)]
#[command(after_help = column_help())]
pub struct PsArgs {
    /// Columns to show, comma-separated (see the list below).
    #[arg(short = 'o', long = "columns", value_name = "COLS", default_value = columns::DEFAULT)]
    pub columns: String,
    /// Sort by these columns, comma-separated; prefix `-` for descending (`-rss,pid`).
    #[arg(long, value_name = "KEYS", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Show processes as a tree (children under their parents).
    #[arg(long)]
    pub tree: bool,
    /// One JSON object per process and line; unreadable fields are objects with an error.
    #[arg(long)]
    pub json: bool,
    /// Leave out the header line.
    #[arg(long)]
    pub no_header: bool,
    /// Do not truncate lines to the terminal width.
    #[arg(short = 'w', long)]
    pub wide: bool,
    /// Leave out kernel threads.
    #[arg(long)]
    pub no_kernel: bool,
    /// One row per thread of the selected processes (fixed columns: pid, process name,
    /// then those of `corral threads`).
    #[arg(long, conflicts_with_all = ["tree", "sort", "columns"])]
    pub threads: bool,
    #[command(flatten)]
    pub select: Selection,
}

fn column_help() -> String {
    let mut s = String::from("Columns:\n");
    for c in columns::COLUMNS {
        s.push_str(&format!("  {:<9} {}\n", c.name, c.help));
    }
    s.push_str(&format!("Default: {}\n", columns::DEFAULT));
    s
}

pub fn parse_columns(spec: &str) -> Result<Vec<&'static Column>, Failure> {
    let mut cols = Vec::new();
    for name in spec.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(Failure::usage(format!("-o: empty column name in {spec:?}")));
        }
        let c = columns::find(&name.to_ascii_lowercase()).ok_or_else(|| {
            let known: Vec<&str> = columns::COLUMNS.iter().map(|c| c.name).collect();
            Failure::usage(format!(
                "unknown column {name:?}; known: {}",
                known.join(", ")
            ))
        })?;
        cols.push(c);
    }
    Ok(cols)
}

struct SortKey {
    col: &'static Column,
    desc: bool,
}

fn parse_sort(spec: &str) -> Result<Vec<SortKey>, Failure> {
    let mut keys = Vec::new();
    for k in spec.split(',').map(str::trim) {
        let (desc, name) = match k.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, k.strip_prefix('+').unwrap_or(k)),
        };
        if name.is_empty() {
            return Err(Failure::usage(format!("--sort: empty key in {spec:?}")));
        }
        let col = columns::find(&name.to_ascii_lowercase())
            .ok_or_else(|| Failure::usage(format!("--sort: unknown column {name:?}")))?;
        keys.push(SortKey { col, desc });
    }
    Ok(keys)
}

fn is_missing(v: &Val) -> bool {
    matches!(v, Val::None | Val::Err(_))
}

/// Orders rows as a forest: each root followed by its descendants, depth-first; returns
/// (row index, depth, is-last-sibling path) for drawing.
pub fn forest(rows: &[ProcessInfo], order: &[usize]) -> Vec<(usize, String)> {
    let index: HashMap<Pid, usize> = rows.iter().enumerate().map(|(i, r)| (r.pid, i)).collect();
    let parent_of = |i: usize| -> Option<usize> {
        match &rows[i].ppid {
            Some(Ok(Some(p))) => index.get(p).copied().filter(|&j| {
                // A parent starts before its child; anything else is a stale ppid.
                j != i && rows[j].start.raw <= rows[i].start.raw
            }),
            _ => None,
        }
    };
    let mut kids: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for &i in order {
        match parent_of(i) {
            Some(p) => kids.entry(p).or_default().push(i),
            None => roots.push(i),
        }
    }
    let mut out = Vec::with_capacity(order.len());
    fn walk(
        i: usize,
        prefix: &str,
        last: bool,
        root: bool,
        kids: &HashMap<usize, Vec<usize>>,
        out: &mut Vec<(usize, String)>,
    ) {
        let art = if root {
            String::new()
        } else if last {
            format!("{prefix}└─ ")
        } else {
            format!("{prefix}├─ ")
        };
        out.push((i, art));
        let next = if root {
            String::new()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        if let Some(ch) = kids.get(&i) {
            for (n, &c) in ch.iter().enumerate() {
                walk(c, &next, n + 1 == ch.len(), false, kids, out);
            }
        }
    }
    for r in roots {
        walk(r, "", true, true, &kids, &mut out);
    }
    out
}

pub fn run(a: PsArgs) -> Result<(), Failure> {
    let cols = parse_columns(&a.columns)?;
    let sort = match &a.sort {
        Some(s) => parse_sort(s)?,
        None => Vec::new(),
    };
    let mut fields = FieldSet::empty();
    for c in cols.iter().chain(sort.iter().map(|k| &k.col)) {
        for &f in c.needs {
            fields.insert(f);
        }
    }
    if a.tree {
        fields.insert(corral::Field::Ppid);
    }
    let mut snap = Snapshot::new().field_set(fields);
    if a.no_kernel {
        snap = snap.exclude_kernel_threads();
    }
    let selected = a.select.any();
    snap = a.select.apply(snap)?;
    if a.threads {
        snap = snap.field(corral::Field::Name);
    }
    let rows = snap.collect().map_err(|e| Failure::fatal(e.to_string()))?;
    if a.threads {
        crate::threads::ps_rows(&rows, a.json, !a.no_header, a.wide)?;
        if selected && rows.is_empty() {
            return Err(Failure::no_match(String::new()));
        }
        return Ok(());
    }
    let ctx = Ctx {
        now: SystemTime::now(),
        total_memory: if fields.contains(corral::Field::Rss) {
            corral::system::total_memory().ok()
        } else {
            None
        },
    };
    // Values of every column (and sort key) per row.
    let vals: Vec<Vec<Val>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| (c.get)(r, &ctx)).collect())
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    if !sort.is_empty() {
        let keys: Vec<Vec<Val>> = rows
            .iter()
            .map(|r| sort.iter().map(|k| (k.col.get)(r, &ctx)).collect())
            .collect();
        order.sort_by(|&x, &y| {
            for (n, k) in sort.iter().enumerate() {
                let (a, b) = (&keys[x][n], &keys[y][n]);
                // Missing values go last whatever the direction.
                let o = match (is_missing(a), is_missing(b)) {
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ => {
                        let o = columns::compare(a, b);
                        if k.desc {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            x.cmp(&y)
        });
    }
    let arranged: Vec<(usize, String)> = if a.tree {
        forest(&rows, &order)
    } else {
        order.into_iter().map(|i| (i, String::new())).collect()
    };

    let mut out = Out::new();
    if a.json {
        for (i, art) in &arranged {
            let mut m = Map::new();
            for (c, v) in cols.iter().zip(&vals[*i]) {
                m.insert(c.name.to_string(), v.json());
            }
            if a.tree {
                m.insert("depth".into(), Value::from(art.chars().count() / 3));
            }
            out.json(&Value::Object(m))?;
        }
    } else {
        let tree_col = cols
            .iter()
            .position(|c| c.name == "cmd")
            .or_else(|| cols.iter().position(|c| c.name == "name"));
        let table: Vec<Vec<String>> = arranged
            .iter()
            .map(|(i, art)| {
                cols.iter()
                    .zip(&vals[*i])
                    .enumerate()
                    .map(|(n, (c, v))| {
                        let s = (c.show)(v);
                        if a.tree && Some(n) == tree_col {
                            format!("{art}{s}")
                        } else {
                            s
                        }
                    })
                    .collect()
            })
            .collect();
        let headers: Vec<&str> = cols.iter().map(|c| c.header).collect();
        let aligns: Vec<_> = cols.iter().map(|c| c.align).collect();
        let width = if a.wide { None } else { output::width(out.tty) };
        output::table(&mut out, &headers, &aligns, &table, !a.no_header, width)?;
    }
    out.flush()?;
    if selected && rows.is_empty() {
        return Err(Failure::no_match(String::new()));
    }
    Ok(())
}
