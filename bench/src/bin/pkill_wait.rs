//! `pkill_wait NAME PKILL [PIDWAIT]`: the procps way to kill every process named NAME and
//! wait until all have exited: runs `PKILL -KILL -x NAME`, then, if PIDWAIT is given,
//! `PIDWAIT -x NAME` (procps' `pidwait`, which finds the processes by name again and
//! waits on their pidfds). Exits 0 if both did (status 1, "nothing matched", is fine for
//! `pidwait`: everything may be gone by the time it looks).
//!
//! `pkill` does not wait, so this wrapper is what the benchmark measures for the `pkill`
//! column: the same two commands a shell script would run, without a shell's start-up.
//! Like the other tools', "exited" includes zombies: `pidwait` returns once every pidfd
//! it opened is readable, which a pidfd is from the moment its process exits.
//!
//! Safety: NAME must be a benchmark sleeper name (`cb` + 10 lowercase letters or digits).

use std::os::fd::AsRawFd;
use std::process::ExitCode;

use corral_bench::{check_sleeper_name, die_with_parent, fork_exec, wait_child, Argv, ChildSetup};
use rustix::fs::{open, Mode, OFlags};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pkill_wait: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `argv` to completion; returns its exit code (or an error if it was killed).
fn run_one(argv: &[&str], setup: &ChildSetup) -> Result<i32, String> {
    let argv = Argv::new(argv.iter().copied()).map_err(|e| e.to_string())?;
    let pid = fork_exec(&argv, setup).map_err(|e| format!("fork: {e}"))?;
    let (status, _) = wait_child(pid).map_err(|e| format!("wait4: {e}"))?;
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(format!(
            "{} killed by signal {}",
            argv.program().to_string_lossy(),
            libc::WTERMSIG(status)
        ))
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: pkill_wait NAME PKILL [PIDWAIT]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, pkill, pidwait) = match args.as_slice() {
        [n, k] => (n, k, None),
        [n, k, w] => (n, k, Some(w)),
        _ => return Err(usage.into()),
    };
    check_sleeper_name(name)?;
    if !die_with_parent(libc::SIGKILL, None).map_err(|e| format!("prctl: {e}"))? {
        return Err("parent already gone".into());
    }
    let devnull = open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("/dev/null: {e}"))?;
    let setup = ChildSetup {
        death_signal: libc::SIGKILL,
        stdin: devnull.as_raw_fd(),
        stdout: 1,
        stderr: 2,
        keep_fd: None,
    };
    match run_one(&[pkill, "-KILL", "-x", name], &setup)? {
        0 => {}
        1 => return Err(format!("pkill matched no process named {name}")),
        c => return Err(format!("pkill exited with status {c}")),
    }
    if let Some(pidwait) = pidwait {
        match run_one(&[pidwait, "-x", name], &setup)? {
            0 | 1 => {}
            c => return Err(format!("pidwait exited with status {c}")),
        }
    }
    Ok(())
}
