//! The data behind `corral top`: one refresh is one snapshot of the fields the screen
//! needs, CPU percentages between refreshes, and the machine's figures; views (list,
//! tree, threads, jobs) are built from it. Shared by the full-screen UI and batch mode.
//!
//! Cost: every process gets only the fields that sorting, filtering and the view need
//! (by default those of `/proc/PID/stat`); fields that are only *shown* (the command
//! line, the user name …) are read afterwards for the rows on screen alone. Buffers
//! (rows, percentages, sort keys, lines) are kept and reused between refreshes.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use corral::system::{self, CpuTimesSample, LoadAverage, SwapMemory, VirtualMemory};
use corral::{Field, FieldSet, Pid, ProcessInfo, Snapshot, Status};
use regex::Regex;

use super::threads::ThreadRows;
use crate::columns::{self, cgroup_of, Column, Ctx, Val};
use crate::Failure;

/// A process's identity in a snapshot: pid and raw start time.
pub type Key = (Pid, u64);

/// Fields that may be read only for the rows on screen (others come with `stat`, at no
/// extra cost, or are needed to sort and filter).
const LAZY: [Field; 7] = [
    Field::Cmdline,
    Field::Exe,
    Field::Cwd,
    Field::NumFds,
    Field::Cgroups,
    Field::Username,
    Field::Uids,
];

/// The `corral top` default columns.
pub const DEFAULT_COLUMNS: &str = "pid,user,nice,state,cpu,mem,rss,threads,time,cmd";

/// Task counts of one refresh.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tasks {
    pub total: u64,
    pub running: u64,
    pub sleeping: u64,
    pub stopped: u64,
    pub zombie: u64,
    pub threads: u64,
}

/// The machine's figures of one refresh; `None` where the OS did not say.
#[derive(Debug, Default)]
pub struct SysView {
    /// Busy percentage of all CPUs together since the previous refresh.
    pub cpu_total: Option<f64>,
    /// (CPU number, busy percentage) of each CPU.
    pub per_cpu: Vec<(u32, f64)>,
    pub memory: Option<VirtualMemory>,
    pub swap: Option<SwapMemory>,
    pub load: Option<LoadAverage>,
    pub uptime: Option<Duration>,
    pub tasks: Tasks,
}

/// Turns two readings of each process's CPU time into a percentage (explicit: the
/// sampler holds the previous reading; the library keeps no hidden state).
#[derive(Debug, Default)]
pub struct Sampler {
    prev: HashMap<Key, Duration>,
    next: HashMap<Key, Duration>,
    prev_at: Option<Instant>,
}

impl Sampler {
    /// Records `total` for `key` and returns its CPU use since the previous round, in
    /// percent of one CPU (0 the first time a process is seen).
    fn percent(&mut self, key: Key, total: Duration, wall: Option<f64>) -> f64 {
        let before = self.prev.get(&key).copied();
        self.next.insert(key, total);
        match (wall, before) {
            (Some(w), Some(p)) if w > 0.0 => total.saturating_sub(p).as_secs_f64() / w * 100.0,
            _ => 0.0,
        }
    }

    /// Ends a round taken at `at`.
    fn finish(&mut self, at: Instant) {
        std::mem::swap(&mut self.prev, &mut self.next);
        self.next.clear();
        self.prev_at = Some(at);
    }
}

/// Which table is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// One row per process.
    List,
    /// Processes under their parents.
    Tree,
    /// Each process followed by its threads.
    Threads,
    /// One row per cgroup (job), with member counts and sums.
    Jobs,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::List => "processes",
            View::Tree => "tree",
            View::Threads => "threads",
            View::Jobs => "jobs",
        }
    }
}

/// The text filter: a case-insensitive substring of the name, user or command line;
/// `user:NAME` for one user; `pid:N` for one pid; `cgroup:PATH` for the members of one
/// cgroup (as the jobs view shows it); `~REGEX` for a regular expression on name and
/// command.
#[derive(Debug, Clone)]
pub enum Matcher {
    Sub(String),
    User(String),
    Pid(u32),
    Cgroup(String),
    Regex(Regex),
}

impl Matcher {
    /// Parses filter text; `None` for empty text.
    pub fn parse(text: &str) -> Result<Option<Matcher>, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if let Some(p) = t.strip_prefix("pid:") {
            return p
                .trim()
                .parse()
                .map(|p| Some(Matcher::Pid(p)))
                .map_err(|_| format!("pid:{p}: not a pid"));
        }
        if let Some(c) = t.strip_prefix("cgroup:") {
            return Ok(Some(Matcher::Cgroup(c.to_string())));
        }
        if let Some(u) = t.strip_prefix("user:") {
            return Ok(Some(Matcher::User(u.to_string())));
        }
        if let Some(r) = t.strip_prefix('~') {
            return Regex::new(&format!("(?i){r}"))
                .map(|r| Some(Matcher::Regex(r)))
                .map_err(|e| format!("bad regular expression: {e}"));
        }
        Ok(Some(Matcher::Sub(t.to_lowercase())))
    }

    fn needs(&self) -> FieldSet {
        match self {
            Matcher::User(_) => [Field::Username].into_iter().collect(),
            Matcher::Pid(_) => FieldSet::empty(),
            Matcher::Cgroup(_) => [Field::Cgroups].into_iter().collect(),
            _ => [Field::Name, Field::Username, Field::Cmdline]
                .into_iter()
                .collect(),
        }
    }

    /// Whether a row matches.
    pub fn matches(&self, r: &ProcessInfo) -> bool {
        let name = match &r.name {
            Some(Ok(n)) => n.as_str(),
            _ => "",
        };
        let user = match &r.username {
            Some(Ok(u)) => u.as_str(),
            _ => "",
        };
        let cmd = || match &r.cmdline {
            Some(Ok(a)) => a
                .iter()
                .map(|s| s.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
        match self {
            Matcher::User(u) => user == u,
            Matcher::Pid(p) => r.pid.as_raw() == *p,
            Matcher::Cgroup(c) => cgroup_of(r) == Some(c.as_str()),
            Matcher::Sub(s) => {
                name.to_lowercase().contains(s)
                    || user.to_lowercase().contains(s)
                    || cmd().to_lowercase().contains(s)
            }
            Matcher::Regex(re) => re.is_match(name) || re.is_match(&cmd()),
        }
    }
}

/// The sort column and direction.
#[derive(Clone, Copy)]
pub struct Sort {
    pub col: &'static Column,
    pub desc: bool,
}

impl std::fmt::Debug for Sort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", if self.desc { "-" } else { "" }, self.col.name)
    }
}

impl Sort {
    /// Parses `COL` (ascending) or `-COL` (descending), with `ps`'s column names.
    pub fn parse(spec: &str) -> Result<Sort, Failure> {
        let t = spec.trim();
        let (desc, name) = match t.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let col = columns::find(&name.to_ascii_lowercase()).ok_or_else(|| {
            let known: Vec<&str> = columns::COLUMNS.iter().map(|c| c.name).collect();
            Failure::usage(format!(
                "--sort: unknown column {name:?}; known: {}",
                known.join(", ")
            ))
        })?;
        Ok(Sort { col, desc })
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub enum Line {
    /// A process (row index) with its tree drawing prefix.
    Proc { i: usize, art: String },
    /// A thread of process `i`.
    Thread {
        i: usize,
        tid: u32,
        cpu: f64,
        time: Duration,
    },
    /// A cgroup group (index into [`Model::jobs`]).
    Job { j: usize },
}

/// A cgroup and the processes in it; for corral jobs, their limits and usage too.
#[derive(Debug, Clone, Default)]
pub struct JobRow {
    /// The cgroup path (the v2 hierarchy's, else the first v1 one).
    pub cgroup: String,
    /// The corral job's name when the cgroup is one (`corral-NAME`).
    pub job: Option<String>,
    pub procs: usize,
    pub threads: u64,
    pub cpu: f64,
    pub rss: u64,
    /// Limits and usage, from the job's handle (corral jobs this process can open).
    pub usage: Option<JobUsage>,
}

/// A corral job's limits and its use against them, as `Job::limits` and
/// `Job::accounting` tell.
#[derive(Debug, Clone, Default)]
pub struct JobUsage {
    /// Memory the job uses now, and its limit (bytes).
    pub memory: Option<u64>,
    pub memory_max: Option<u64>,
    /// Tasks in the job now (Linux counts threads against the limit) and the limit.
    pub pids: Option<u64>,
    pub pids_max: Option<u64>,
    /// The CPU quota, in cores.
    pub cpus: Option<f64>,
    /// Periods the quota held the job back, and for how long in total.
    pub throttled_periods: Option<u64>,
    pub throttled_time: Option<Duration>,
    /// Members the OOM killer killed; forks refused at the process limit.
    pub oom_kills: Option<u64>,
    pub process_limit_hits: Option<u64>,
}

impl JobUsage {
    fn read(job: &corral::Job, threads: u64) -> Option<JobUsage> {
        let l = job.limits().ok()?;
        let a = job.accounting().ok()?;
        Some(JobUsage {
            memory: a.memory,
            memory_max: l.job_memory,
            pids: Some(threads),
            pids_max: l.max_processes,
            cpus: l.cpus,
            throttled_periods: a.throttled_periods,
            throttled_time: a.throttled_time,
            oom_kills: a.oom_kills,
            process_limit_hits: a.process_limit_hits,
        })
    }

    /// `used/max` for the text views (`-` for what is not known or not limited).
    pub fn memory_text(u: Option<&JobUsage>) -> String {
        let Some(u) = u else { return "-".into() };
        let b = |n: Option<u64>| n.map_or("-".into(), columns::human_bytes);
        format!("{}/{}", b(u.memory), b(u.memory_max))
    }

    pub fn pids_text(u: Option<&JobUsage>) -> String {
        let Some(u) = u else { return "-".into() };
        let n = |n: Option<u64>| n.map_or("-".into(), |n| n.to_string());
        format!("{}/{}", n(u.pids), n(u.pids_max))
    }

    pub fn cpus_text(u: Option<&JobUsage>) -> String {
        u.and_then(|u| u.cpus)
            .map_or("-".into(), |c| format!("{c:.2}"))
    }

    /// Throttled periods and time (`12/0.4s`).
    pub fn throttled_text(u: Option<&JobUsage>) -> String {
        match u.and_then(|u| Some((u.throttled_periods?, u.throttled_time))) {
            Some((n, Some(t))) => format!("{n}/{:.1}s", t.as_secs_f64()),
            Some((n, None)) => n.to_string(),
            None => "-".into(),
        }
    }

    pub fn oom_text(u: Option<&JobUsage>) -> String {
        u.and_then(|u| u.oom_kills)
            .map_or("-".into(), |n| n.to_string())
    }
}

/// What one refresh read, and the views built from it.
pub struct Model {
    pub cols: Vec<&'static Column>,
    pub rows: Vec<ProcessInfo>,
    /// Current CPU percentage of each row (parallel to `rows`).
    pub cpu: Vec<f64>,
    pub sys: SysView,
    pub jobs: Vec<JobRow>,
    pub lines: Vec<Line>,
    pub total_memory: Option<u64>,
    /// Whether the last refresh measured CPU use over an interval (false on the first).
    pub measured: bool,
    lazy: FieldSet,
    sampler: Sampler,
    sys_prev: Option<CpuTimesSample>,
    keys: Vec<Val>,
    order: Vec<usize>,
    threads: ThreadRows,
    /// Fields read by the last refresh.
    pub last_fields: FieldSet,
    /// Refreshes so far.
    pub generation: u64,
    /// Handles of the corral jobs the jobs view shows, kept across refreshes, dropped
    /// when a job leaves the view (it has no process left). Such a drop removes the job
    /// only if no other handle is open — its creator's keeps it — as Windows does.
    job_handles: HashMap<String, Option<corral::Job>>,
}

impl Model {
    pub fn new(cols: Vec<&'static Column>) -> Model {
        Model {
            cols,
            rows: Vec::new(),
            cpu: Vec::new(),
            sys: SysView::default(),
            jobs: Vec::new(),
            lines: Vec::new(),
            total_memory: system::total_memory().ok(),
            measured: false,
            lazy: FieldSet::empty(),
            sampler: Sampler::default(),
            sys_prev: None,
            job_handles: HashMap::new(),
            keys: Vec::new(),
            order: Vec::new(),
            threads: ThreadRows::default(),
            last_fields: FieldSet::empty(),
            generation: 0,
        }
    }

    /// The context columns need.
    pub fn ctx(&self) -> Ctx {
        Ctx {
            now: SystemTime::now(),
            total_memory: self.total_memory,
        }
    }

    /// Reads a new snapshot and the machine's figures. Every process gets the fields
    /// `sort`, `filter` and `view` need, plus what `stat` gives anyway; the columns'
    /// other fields are left for [`Model::fill`].
    pub fn refresh(
        &mut self,
        sort: &Sort,
        filter: Option<&Matcher>,
        view: View,
    ) -> Result<(), Failure> {
        let shown: FieldSet = self
            .cols
            .iter()
            .flat_map(|c| c.needs.iter().copied())
            .collect();
        let base = Model::needs(sort, filter, view);
        let mut lazy = FieldSet::empty();
        let mut all = base;
        for f in Field::ALL {
            if shown.contains(f) && !base.contains(f) {
                if LAZY.contains(&f) {
                    lazy.insert(f);
                } else {
                    all.insert(f);
                }
            }
        }
        self.lazy = lazy;
        self.last_fields = all;

        let at = Instant::now();
        let wall = self
            .sampler
            .prev_at
            .map(|t| at.saturating_duration_since(t).as_secs_f64());
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        Snapshot::new()
            .field_set(all)
            .for_each(|r| rows.push(r))
            .map_err(|e| Failure::fatal(e.to_string()))?;
        self.rows = rows;
        self.cpu.clear();
        let mut tasks = Tasks::default();
        for r in &self.rows {
            let pct = match &r.cpu_times {
                Some(Ok(t)) => self.sampler.percent((r.pid, r.start.raw), t.total(), wall),
                _ => 0.0,
            };
            self.cpu.push(pct);
            tasks.total += 1;
            match &r.status {
                Some(Ok(Status::Running)) => tasks.running += 1,
                Some(Ok(Status::Stopped | Status::TracingStop)) => tasks.stopped += 1,
                Some(Ok(Status::Zombie)) => tasks.zombie += 1,
                _ => tasks.sleeping += 1,
            }
            if let Some(Ok(n)) = &r.num_threads {
                tasks.threads += n;
            }
        }
        self.sampler.finish(at);
        self.generation += 1;
        self.measured = wall.is_some();

        let sample = system::cpu_times_sample().ok();
        let (total, per) = match (&sample, &self.sys_prev) {
            (Some(now), Some(before)) => {
                let p = now.percent_since(before);
                (
                    Some(p.total.busy),
                    p.per_cpu.iter().map(|c| (c.cpu, c.percent.busy)).collect(),
                )
            }
            (Some(now), None) => (None, now.per_cpu.iter().map(|c| (c.cpu, 0.0)).collect()),
            _ => (None, Vec::new()),
        };
        if sample.is_some() {
            self.sys_prev = sample;
        }
        self.sys = SysView {
            cpu_total: total,
            per_cpu: per,
            memory: system::virtual_memory().ok(),
            swap: system::swap_memory().ok(),
            load: system::load_average().ok(),
            uptime: system::uptime().ok(),
            tasks,
        };
        Ok(())
    }

    /// The value of column `c` for row `i` (`cpu` is the current use, not the lifetime
    /// average `ps` shows).
    pub fn value(&self, c: &Column, i: usize, ctx: &Ctx) -> Val {
        if c.name == "cpu" {
            Val::F(self.cpu[i])
        } else {
            (c.get)(&self.rows[i], ctx)
        }
    }

    /// Builds the lines of `view`: filtered, sorted (and arranged as a tree, with
    /// threads, or grouped by cgroup).
    pub fn build(&mut self, view: View, sort: &Sort, filter: Option<&Matcher>) {
        let ctx = self.ctx();
        self.order.clear();
        for (i, r) in self.rows.iter().enumerate() {
            if filter.is_none_or(|m| m.matches(r)) {
                self.order.push(i);
            }
        }
        self.keys.clear();
        for i in 0..self.rows.len() {
            let v = self.value(sort.col, i, &ctx);
            self.keys.push(v);
        }
        let keys = &self.keys;
        let rows = &self.rows;
        self.order.sort_by(|&a, &b| {
            let (x, y) = (&keys[a], &keys[b]);
            let missing = |v: &Val| matches!(v, Val::None | Val::Err(_));
            let o = match (missing(x), missing(y)) {
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => {
                    let o = columns::compare(x, y);
                    if sort.desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            o.then(rows[a].pid.cmp(&rows[b].pid))
        });
        self.lines.clear();
        match view {
            View::List => self.lines.extend(self.order.iter().map(|&i| Line::Proc {
                i,
                art: String::new(),
            })),
            View::Tree => {
                for (i, art) in crate::ps::forest(&self.rows, &self.order) {
                    self.lines.push(Line::Proc { i, art });
                }
            }
            View::Threads => {
                self.threads
                    .build(&self.rows, &self.order, self.generation, &mut self.lines);
            }
            View::Jobs => self.build_jobs(),
        }
    }

    fn build_jobs(&mut self) {
        let mut index: HashMap<String, usize> = HashMap::new();
        self.jobs.clear();
        for &i in &self.order {
            let r = &self.rows[i];
            let path = cgroup_of(r).unwrap_or("?").to_string();
            let j = *index.entry(path.clone()).or_insert_with(|| {
                let job = match &r.cgroups {
                    Some(Ok(m)) => m.iter().find_map(|c| {
                        let path = c.path.strip_suffix(" (deleted)").unwrap_or(&c.path);
                        let last = path.rsplit('/').next().unwrap_or("");
                        last.strip_prefix("corral-").map(str::to_string)
                    }),
                    _ => None,
                };
                self.jobs.push(JobRow {
                    cgroup: path,
                    job,
                    ..JobRow::default()
                });
                self.jobs.len() - 1
            });
            let g = &mut self.jobs[j];
            g.procs += 1;
            g.cpu += self.cpu[i];
            if let Some(Ok(n)) = &r.num_threads {
                g.threads += n;
            }
            if let Some(Ok(m)) = &r.rss {
                g.rss += m;
            }
        }
        // Limits and usage of corral jobs: a handle opened once per job (a failed open is
        // remembered too), a few cgroup files read per refresh.
        self.job_handles
            .retain(|name, _| self.jobs.iter().any(|g| g.job.as_ref() == Some(name)));
        for g in &mut self.jobs {
            let Some(name) = &g.job else { continue };
            let h = self
                .job_handles
                .entry(name.clone())
                .or_insert_with(|| corral::Job::open(name).ok());
            g.usage = h.as_ref().and_then(|j| JobUsage::read(j, g.threads));
        }
        self.jobs.sort_by(|a, b| {
            b.cpu
                .partial_cmp(&a.cpu)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.procs.cmp(&a.procs))
                .then(a.cgroup.cmp(&b.cgroup))
        });
        self.lines
            .extend((0..self.jobs.len()).map(|j| Line::Job { j }));
    }

    /// Reads the fields that are only shown for the processes of `lines` (the rows on
    /// screen), in one snapshot limited to their pids. A pid that changed hands since
    /// the main snapshot is left without them.
    pub fn fill(&mut self, lines: &[Line]) {
        if self.lazy == FieldSet::empty() {
            return;
        }
        let mut pids: Vec<Pid> = lines
            .iter()
            .filter_map(|l| match l {
                Line::Proc { i, .. } | Line::Thread { i, .. } => Some(self.rows[*i].pid),
                Line::Job { .. } => None,
            })
            .collect();
        if pids.is_empty() {
            return;
        }
        pids.sort_unstable();
        pids.dedup();
        self.merge(self.lazy, Some(&pids));
    }

    /// Makes sure every row has `fields` (a filter, sort or view that needs more than
    /// the last refresh read): reads only the missing ones, for every row, without
    /// touching the CPU sampling.
    pub fn ensure(&mut self, fields: FieldSet) {
        let missing: FieldSet = Field::ALL
            .into_iter()
            .filter(|&f| fields.contains(f) && !self.last_fields.contains(f))
            .collect();
        if missing == FieldSet::empty() {
            return;
        }
        self.merge(missing, None);
        self.last_fields = self.last_fields.union(missing);
    }

    fn merge(&mut self, fields: FieldSet, pids: Option<&[Pid]>) {
        let rows = &mut self.rows;
        let mut snap = Snapshot::new().field_set(fields);
        if let Some(p) = pids {
            snap = snap.pids(p);
        }
        let _ = snap.for_each(|n| {
            let Ok(at) = rows.binary_search_by_key(&n.pid, |r| r.pid) else {
                return;
            };
            let r = &mut rows[at];
            if r.start.raw != n.start.raw {
                return;
            }
            macro_rules! take {
                ($($f:ident),*) => { $( if n.$f.is_some() { r.$f = n.$f; } )* };
            }
            take!(
                ppid,
                name,
                exe,
                cmdline,
                status,
                cpu_times,
                memory,
                rss,
                vms,
                uids,
                gids,
                username,
                num_threads,
                terminal,
                nice,
                page_faults,
                group,
                cpu_num,
                cwd,
                environ,
                num_fds,
                io,
                memory_peaks,
                ctx_switches,
                cgroups
            );
        });
    }

    /// The fields every row needs for `sort`, `filter` and `view`.
    pub fn needs(sort: &Sort, filter: Option<&Matcher>, view: View) -> FieldSet {
        let mut base: FieldSet = [
            Field::CpuTimes,
            Field::Status,
            Field::NumThreads,
            Field::Name,
        ]
        .into_iter()
        .chain(sort.col.needs.iter().copied())
        .collect();
        if let Some(m) = filter {
            base = base.union(m.needs());
        }
        match view {
            View::Tree => base.insert(Field::Ppid),
            View::Jobs => {
                base.insert(Field::Cgroups);
                base.insert(Field::Rss);
            }
            _ => {}
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> ProcessInfo {
        let pid = corral::Process::current().unwrap().pid();
        Snapshot::new()
            .fields(&[Field::Name, Field::Username, Field::Cmdline])
            .pids(&[pid])
            .collect()
            .unwrap()
            .remove(0)
    }

    #[test]
    fn filter_text_forms() {
        let r = me();
        let name = match &r.name {
            Some(Ok(n)) => n.clone(),
            other => panic!("{other:?}"),
        };
        let user = match &r.username {
            Some(Ok(u)) => u.clone(),
            other => panic!("{other:?}"),
        };
        let m = |t: &str| Matcher::parse(t).unwrap().unwrap().matches(&r);
        assert!(m(&name.to_uppercase()), "substring, any case");
        assert!(m(&format!("user:{user}")));
        assert!(!m(&format!("user:{user}x")));
        assert!(m(&format!("pid:{}", r.pid)));
        assert!(!m(&format!("pid:{}", r.pid.as_raw() + 1)));
        assert!(m(&format!("~^{}$", regex::escape(&name))));
        assert!(!m("~^$"));
        assert!(Matcher::parse("  ").unwrap().is_none());
        assert!(Matcher::parse("~(").is_err());
        assert!(Matcher::parse("pid:x").is_err());
    }

    #[test]
    fn sort_specs() {
        let s = Sort::parse("-rss").unwrap();
        assert_eq!((s.col.name, s.desc), ("rss", true));
        let s = Sort::parse("%cpu").unwrap();
        assert_eq!((s.col.name, s.desc), ("cpu", false));
        assert!(Sort::parse("-nosuch").is_err());
    }

    #[test]
    fn sampler_percent_between_rounds() {
        let mut s = Sampler::default();
        let key = (corral::Process::current().unwrap().pid(), 7);
        assert_eq!(s.percent(key, Duration::from_millis(100), None), 0.0);
        s.finish(Instant::now());
        // 500 ms of CPU over 2 s of wall time: 25 %.
        let p = s.percent(key, Duration::from_millis(600), Some(2.0));
        assert!((p - 25.0).abs() < 1e-9, "{p}");
        s.finish(Instant::now());
        // A process seen for the first time shows 0, not its lifetime.
        let other = (key.0, 8);
        assert_eq!(s.percent(other, Duration::from_secs(9), Some(1.0)), 0.0);
    }
}
