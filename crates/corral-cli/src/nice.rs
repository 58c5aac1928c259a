//! `corral nice`: set the priority class or nice value of selected processes.

use clap::Args;

use crate::act::{self, Common, Done};
use crate::Failure;

#[derive(Args, Debug)]
#[command(after_help = "\
Selects processes like `corral kill` (pids, PID:INODE, --name, --user, --pgid …) with the
same safety rules. Exit status: 0 one or more processes changed; 1 none matched or none
could be changed; 2 usage error; 3 fatal error.")]
pub struct NiceArgs {
    #[command(flatten)]
    pub common: Common,
    /// Priority class for every thread: idle, below-normal, normal, above-normal, high,
    /// realtime.
    #[arg(long, value_name = "CLASS", conflicts_with = "nice")]
    pub class: Option<String>,
    /// Nice value, -20 (most favoured) to 19.
    #[arg(long, allow_hyphen_values = true, value_name = "N")]
    pub nice: Option<i32>,
    #[command(flatten)]
    pub whole: act::Whole,
}

pub fn run(a: NiceArgs) -> Result<(), Failure> {
    let class: Option<corral::PriorityClass> = match &a.class {
        Some(c) => Some(c.parse().map_err(|e| act::usage_of("--class", e))?),
        None => None,
    };
    if let Some(n) = a.nice {
        if !(-20..=19).contains(&n) {
            return Err(Failure::usage(format!("--nice: {n} is outside -20..=19")));
        }
    }
    if let Some(w) = a.whole.target(&a.common)? {
        if class.is_some() {
            return Err(Failure::usage(
                "--class sets every thread of each process; with --whole-group or \
                 --whole-user give --nice N",
            ));
        }
        return whole(w, a.nice, a.common.json);
    }
    if class.is_none() && a.nice.is_none() {
        return Err(Failure::usage("give --class CLASS or --nice N"));
    }
    act::each(&a.common, true, |t| match (class, a.nice) {
        (Some(c), _) => t
            .proc
            .set_priority_class(c)
            .map(|()| Done::new(format!("priority class {c}")).with("class", c.name())),
        (None, Some(n)) => t
            .proc
            .set_nice(n)
            .map(|()| Done::new(format!("nice {n}")).with("nice", n)),
        (None, None) => unreachable!("checked above"),
    })
}

/// `--whole-group` / `--whole-user`: one `setpriority(PRIO_PGRP/PRIO_USER)` call, then
/// the group's or user's nice value (the most favoured member's) read back. Without
/// `--nice`, only shows it.
fn whole(w: act::WholeTarget, nice: Option<i32>, json: bool) -> Result<(), Failure> {
    use corral::sched;
    let fail = |e: corral::Error| Failure::from_error(&e);
    if let Some(n) = nice {
        match w {
            act::WholeTarget::Group(g) => sched::set_group_nice(g, n),
            act::WholeTarget::User(u) => sched::set_user_nice(u, n),
        }
        .map_err(fail)?;
    }
    let now = match w {
        act::WholeTarget::Group(g) => sched::group_nice(g),
        act::WholeTarget::User(u) => sched::user_nice(u),
    }
    .map_err(fail)?;
    let mut m = serde_json::Map::new();
    m.insert("nice".into(), now.into());
    m.insert("changed".into(), nice.is_some().into());
    act::print_whole(w, json, &format!("nice {now}"), m)
}
