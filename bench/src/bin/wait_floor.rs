//! `wait_floor PID [TAG]`: the least work needed to notice that a process which is not our
//! child has exited. The floor of the exit-latency benchmark.
//!
//! `pidfd_open(PID)`, prints `ready`, blocks in `poll` on the pidfd until it is readable
//! (from the moment the process exits), reads `CLOCK_MONOTONIC` and prints it in
//! nanoseconds. The coordinator (`exit_latency`) compares that with the instant the
//! process exited.
//!
//! TAG is not used: it only marks the process for the runner's survivor check.

use std::io::Write;
use std::process::ExitCode;

use corral_bench::monotonic_ns;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{pidfd_open, Pid, PidfdFlags};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wait_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let pid = std::env::args()
        .nth(1)
        .and_then(|s| s.parse::<i32>().ok())
        .and_then(Pid::from_raw)
        .ok_or("usage: wait_floor PID")?;
    let fd = pidfd_open(pid, PidfdFlags::empty()).map_err(|e| format!("pidfd_open: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, None) {
            Ok(_) if !fds[0].revents().is_empty() => break,
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
    }
    let seen = monotonic_ns();
    writeln!(out, "{seen}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}
