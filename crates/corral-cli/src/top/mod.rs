//! `corral top`: a live, job-aware process view (full screen), or batch output for
//! scripts (`--batch`, text or JSON).

mod actions;
mod batch;
mod model;
mod threads;
mod tui;

use std::time::Duration;

use clap::Args;

use crate::Failure;
use model::{Matcher, Sort, View};

#[derive(Args, Debug)]
#[command(after_help = "\
Keys: arrows/PgUp/PgDn/Home/End move; < > or F6 sort column, I invert; \\ or F4 filter
(Enter keeps, Esc clears; user:NAME, pid:N, cgroup:PATH, ~REGEX);
/ or F3 search, n next; t tree, H threads, J jobs (cgroups; Enter lists a cgroup's
processes); k or F9 signal menu (Tab: whole tree);
x graceful stop (TERM, then KILL after 5 s); s suspend, c continue; F7/F8 or [ ] nice
-/+; C priority class; a affinity; p or space pause; ? or F1 help; q or F10 quit.
Actions address the process drawn on screen by pid and start time: a pid reused since is
refused. pid 1, kernel threads, corral and its ancestors need a confirmation.")]
pub struct TopArgs {
    /// Seconds between refreshes (fractions allowed: 0.5).
    #[arg(short = 'd', long, value_name = "SECS", default_value = "2")]
    pub delay: String,
    /// Print figures and rows as text (or JSON with --json) instead of the full screen.
    #[arg(short = 'b', long)]
    pub batch: bool,
    /// Stop after this many refreshes (batch mode: default 1).
    #[arg(short = 'i', long, value_name = "N")]
    pub iterations: Option<u64>,
    /// With --batch: one JSON object per iteration and line.
    #[arg(long, requires = "batch")]
    pub json: bool,
    /// Sort column, `ps` names; prefix `-` for descending.
    #[arg(
        long,
        value_name = "COL",
        allow_hyphen_values = true,
        default_value = "-cpu"
    )]
    pub sort: String,
    /// Show only processes whose name, user or command line contains TEXT (user:NAME, pid:N, cgroup:PATH,
    /// ~REGEX as in the full screen).
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Show at most N processes per iteration (batch mode).
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Columns, as `corral ps -o` (cpu is the current use between refreshes).
    #[arg(short = 'o', long = "columns", value_name = "COLS", default_value = model::DEFAULT_COLUMNS)]
    pub columns: String,
    /// Start in a view: processes, tree, threads or jobs.
    #[arg(long, value_name = "VIEW", default_value = "processes")]
    pub view: String,
}

/// Parsed options shared by both modes.
pub struct Options {
    pub delay: Duration,
    pub iterations: Option<u64>,
    pub sort: Sort,
    pub filter_text: String,
    pub filter: Option<Matcher>,
    pub limit: Option<usize>,
    pub cols: Vec<&'static crate::columns::Column>,
    pub view: View,
    pub json: bool,
}

fn options(a: &TopArgs) -> Result<Options, Failure> {
    let delay =
        crate::duration::parse(&a.delay).map_err(|e| Failure::usage(format!("--delay: {e}")))?;
    if delay < Duration::from_millis(50) {
        return Err(Failure::usage(
            "--delay: the interval must be at least 0.05 s",
        ));
    }
    if a.iterations == Some(0) {
        return Err(Failure::usage("--iterations: must be at least 1"));
    }
    let view = match a.view.as_str() {
        "processes" | "list" => View::List,
        "tree" => View::Tree,
        "threads" => View::Threads,
        "jobs" | "cgroups" => View::Jobs,
        v => {
            return Err(Failure::usage(format!(
                "--view: unknown view {v:?}; use processes, tree, threads or jobs"
            )))
        }
    };
    let filter_text = a.filter.clone().unwrap_or_default();
    let filter =
        Matcher::parse(&filter_text).map_err(|e| Failure::usage(format!("--filter: {e}")))?;
    Ok(Options {
        delay,
        iterations: a.iterations,
        sort: Sort::parse(&a.sort)?,
        filter_text,
        filter,
        limit: a.limit,
        cols: crate::ps::parse_columns(&a.columns)?,
        view,
        json: a.json,
    })
}

pub fn run(a: TopArgs) -> Result<(), Failure> {
    let o = options(&a)?;
    if a.batch {
        batch::run(o)
    } else {
        tui::run(o)
    }
}
