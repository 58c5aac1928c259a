//! `wait_corral PID [TAG]`: notices that a process which is not our child has exited, with the
//! corral library: `Process::open(PID)`, prints `ready`, `wait(None)` (a `poll` on the
//! pidfd, then the exit status as corral reports it), then reads `CLOCK_MONOTONIC` and
//! prints it in nanoseconds for the coordinator (`exit_latency`).
//!
//! TAG is not used: it only marks the process for the runner's survivor check.

use std::hint::black_box;
use std::io::Write;
use std::process::ExitCode;

use corral::{Pid, Process};
use corral_bench::monotonic_ns;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wait_corral: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let pid = std::env::args()
        .nth(1)
        .and_then(|s| s.parse::<u32>().ok())
        .and_then(Pid::new)
        .ok_or("usage: wait_corral PID")?;
    let p = Process::open(pid).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    let status = p.wait(None).map_err(|e| e.to_string())?;
    let seen = monotonic_ns();
    black_box(status);
    writeln!(out, "{seen}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}
