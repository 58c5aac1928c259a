//! `kill_corral NAME`: kills every process named NAME with the corral library and waits
//! until all have exited, the way a program using corral would.
//!
//! `corral::system::raise_fd_limit()`, then `Snapshot::new().name(NameMatch::Exact(NAME))`,
//! `open()` each row (a pidfd, checked against the row's start time), `kill()` it
//! (`pidfd_send_signal(SIGKILL)`), and `control::wait_all` over all of them (one epoll
//! instance over the pidfds). Prints how many processes it killed.
//!
//! Safety: NAME must be a benchmark sleeper name (`cb` + 10 lowercase letters or
//! digits); pid 1 and this process are never signalled.

use std::process::ExitCode;
use std::time::Duration;

use corral::control::wait_all;
use corral::{ErrorKind, NameMatch, Snapshot};
use corral_bench::check_sleeper_name;

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kill_corral: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<usize, String> {
    let name = std::env::args().nth(1).ok_or("usage: kill_corral NAME")?;
    check_sleeper_name(&name)?;
    corral::system::raise_fd_limit().map_err(|e| e.to_string())?;
    let me = std::process::id();
    let rows = Snapshot::new()
        .name(NameMatch::Exact(name))
        .collect()
        .map_err(|e| e.to_string())?;
    let mut procs = Vec::with_capacity(rows.len());
    for row in &rows {
        let raw = row.pid.as_raw();
        if raw == 1 || raw == me {
            continue;
        }
        let p = match row.open() {
            Ok(p) => p,
            Err(e) if e.kind() == ErrorKind::NoSuchProcess => continue,
            Err(e) => return Err(e.to_string()),
        };
        match p.kill() {
            Ok(()) => procs.push(p),
            Err(e) if e.kind() == ErrorKind::NoSuchProcess => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let left =
        wait_all(&procs, Some(Duration::from_secs(60)), |_, _| {}).map_err(|e| e.to_string())?;
    if !left.is_empty() {
        return Err(format!("{} processes still running after 60 s", left.len()));
    }
    Ok(procs.len())
}
