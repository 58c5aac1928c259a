//! `corral topology`: packages → cores → logical CPUs, NUMA nodes, caches.

use clap::Args;
use corral::system::{self, Cache, CacheKind, Topology};
use serde_json::{json, Value};

use crate::columns::human_bytes;
use crate::output::Out;
use crate::Failure;

#[derive(Args, Debug)]
pub struct TopologyArgs {
    /// One JSON object: CPU lists, per-CPU placement, packages, NUMA nodes, caches.
    #[arg(long)]
    pub json: bool,
}

/// A CPU list in the kernel's compact form: `0-3,8,10-11`; empty for no CPU.
pub fn compact<T>(cpus: &[T]) -> String
where
    T: Copy + std::fmt::Display + PartialEq + std::ops::Add<Output = T> + From<u8>,
{
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + T::from(1) {
            j += 1;
        }
        parts.push(if j == i {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// [`compact`], or `none` for no CPU.
pub fn cpu_list(cpus: &[u32]) -> String {
    let s = compact(cpus);
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn id(v: Option<u32>) -> String {
    v.map_or_else(|| "?".into(), |n| n.to_string())
}

fn cache_name(c: &Cache) -> String {
    let suffix = match c.kind {
        CacheKind::Data => "d",
        CacheKind::Instruction => "i",
        _ => "",
    };
    format!("L{}{suffix}", c.level)
}

/// Fits `s` into `w` columns, cutting with `…`.
fn fit(s: String, w: usize) -> String {
    if s.chars().count() <= w {
        return s;
    }
    let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
    t.push('…');
    t
}

pub fn human(t: &Topology) -> Vec<String> {
    const WIDTH: usize = 80;
    let mut out = Vec::new();
    out.push(fit(
        format!(
            "{} online ({}), {}, {}",
            plural(t.logical_cpus(), "logical CPU", "logical CPUs"),
            cpu_list(&t.online),
            plural(t.physical_cores(), "core", "cores"),
            plural(t.packages.len(), "package", "packages"),
        ),
        WIDTH,
    ));
    if !t.offline.is_empty() {
        out.push(fit(format!("offline: {}", cpu_list(&t.offline)), WIDTH));
    }
    if t.possible != t.online {
        out.push(fit(format!("possible: {}", cpu_list(&t.possible)), WIDTH));
    }
    for p in &t.packages {
        out.push(format!("package {}", id(p.id)));
        for (i, c) in p.cores.iter().enumerate() {
            let branch = if i + 1 == p.cores.len() {
                "└─"
            } else {
                "├─"
            };
            let cpus = if c.cpus.len() == 1 { "cpu" } else { "cpus" };
            out.push(fit(
                format!("{branch} core {}: {cpus} {}", id(c.id), cpu_list(&c.cpus)),
                WIDTH,
            ));
        }
    }
    for n in &t.numa_nodes {
        let mem = match (n.memory_total, n.memory_free) {
            (Some(tot), Some(free)) => {
                format!(", {} memory ({} free)", human_bytes(tot), human_bytes(free))
            }
            (Some(tot), None) => format!(", {} memory", human_bytes(tot)),
            _ => String::new(),
        };
        out.push(fit(
            format!("NUMA node {}: cpus {}{mem}", n.id, cpu_list(&n.cpus)),
            WIDTH,
        ));
    }
    if !t.caches.is_empty() {
        out.push("caches".into());
        // One line per (level, kind, size): how many there are and who shares them.
        let mut i = 0;
        while i < t.caches.len() {
            let c = &t.caches[i];
            let mut j = i;
            while j + 1 < t.caches.len() && {
                let d = &t.caches[j + 1];
                d.level == c.level && d.kind == c.kind && d.size == c.size
            } {
                j += 1;
            }
            let group = &t.caches[i..=j];
            let size = c.size.map_or_else(|| "?".into(), human_bytes);
            let kind = match c.kind {
                CacheKind::Data => "data",
                CacheKind::Instruction => "instruction",
                CacheKind::Unified => "unified",
                _ => "other",
            };
            let sharing: Vec<String> = group.iter().map(|g| cpu_list(&g.shared_cpus)).collect();
            out.push(fit(
                format!(
                    "  {:<4}{:>6} {:<11} ×{:<3} cpus {}",
                    cache_name(c),
                    size,
                    kind,
                    group.len(),
                    sharing.join(" | ")
                ),
                WIDTH,
            ));
            i = j + 1;
        }
    }
    out
}

pub fn run(a: TopologyArgs) -> Result<(), Failure> {
    let t = system::topology().map_err(|e| Failure::from_error(&e))?;
    let mut out = Out::new();
    if a.json {
        let mut v = json!(t);
        if let Value::Object(m) = &mut v {
            m.insert("logical_cpus".into(), json!(t.logical_cpus()));
            m.insert("physical_cores".into(), json!(t.physical_cores()));
        }
        out.json(&v)?;
    } else {
        for line in human(&t) {
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
    fn cpu_lists() {
        assert_eq!(cpu_list(&[]), "none");
        assert_eq!(cpu_list(&[0]), "0");
        assert_eq!(cpu_list(&[0, 1]), "0-1");
        assert_eq!(cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
    }
}
