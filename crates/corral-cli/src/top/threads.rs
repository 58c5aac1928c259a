//! The thread view of `corral top` (`H`): each process followed by its threads with
//! their current CPU use. Kept apart so that it can move to a richer per-thread API
//! (names, states) without touching the rest: today it reads
//! [`corral::Process::threads`] (thread ids and CPU times) for each multi-threaded
//! process, opened by (pid, start time), once per refresh and only while this view is
//! shown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use corral::{Pid, Process, ProcessInfo};

use super::model::Line;

type ThreadKey = (Pid, u64, u32);

/// A thread's id, current CPU percentage and CPU time.
type ThreadLine = (u32, f64, Duration);

/// Threads read in the current refresh, and the previous CPU time of each thread for
/// percentages between refreshes.
#[derive(Debug, Default)]
pub struct ThreadRows {
    prev: HashMap<ThreadKey, Duration>,
    next: HashMap<ThreadKey, Duration>,
    /// (tid, cpu percent, cpu time) of each process read in this refresh.
    cache: HashMap<(Pid, u64), Vec<ThreadLine>>,
    generation: u64,
    at: Option<Instant>,
    wall: Option<f64>,
}

impl ThreadRows {
    /// Appends, for each process of `order`, its line and (when it has more than one
    /// thread) one line per thread. `generation` counts refreshes: threads are read once
    /// per refresh, and reused when only the filter or sort changed.
    pub fn build(
        &mut self,
        rows: &[ProcessInfo],
        order: &[usize],
        generation: u64,
        lines: &mut Vec<Line>,
    ) {
        if generation != self.generation || self.at.is_none() {
            self.generation = generation;
            let now = Instant::now();
            self.wall = self
                .at
                .map(|t| now.saturating_duration_since(t).as_secs_f64());
            self.at = Some(now);
            self.cache.clear();
            std::mem::swap(&mut self.prev, &mut self.next);
            self.next.clear();
        }
        for &i in order {
            let r = &rows[i];
            lines.push(Line::Proc {
                i,
                art: String::new(),
            });
            if !matches!(&r.num_threads, Some(Ok(n)) if *n > 1) {
                continue;
            }
            let key = (r.pid, r.start.raw);
            if !self.cache.contains_key(&key) {
                let list = self.read(r);
                self.cache.insert(key, list);
            }
            for &(tid, cpu, time) in &self.cache[&key] {
                lines.push(Line::Thread { i, tid, cpu, time });
            }
        }
    }

    fn read(&mut self, r: &ProcessInfo) -> Vec<ThreadLine> {
        let Ok(p) = Process::open_with_start(r.pid, &r.start) else {
            return Vec::new();
        };
        let Ok(threads) = p.threads() else {
            return Vec::new();
        };
        threads
            .into_iter()
            .map(|t| {
                let tid = t.tid.as_raw();
                let total = t.user + t.system;
                let key = (r.pid, r.start.raw, tid);
                let cpu = match (self.wall, self.prev.get(&key)) {
                    (Some(w), Some(before)) if w > 0.0 => {
                        total.saturating_sub(*before).as_secs_f64() / w * 100.0
                    }
                    _ => 0.0,
                };
                self.next.insert(key, total);
                (tid, cpu, total)
            })
            .collect()
    }
}
