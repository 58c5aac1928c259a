//! `breakaway_spawner`: run inside a job, spawns one `testbin` with
//! `Command::breakaway_from_job(true)` and reports, on one stdout line, either
//!
//! ```text
//! spawned pid=PID start=TICKS
//! ```
//!
//! or, when the spawn failed,
//!
//! ```text
//! failed kind=KIND children=N error=MESSAGE
//! ```
//!
//! (`KIND` is the `ErrorKind` in `Debug` form, `N` the number of children this process has
//! right after the failure, from `/proc/self/task/*/children`). It then waits until stdin
//! reaches end of file, kills and reaps the `testbin` it spawned, and exits 0.
//! Exit codes: 0 after that, 90 when something else failed.

use std::io::{Read, Write};
use std::process::Stdio;

use corral::Command;
use integration::{start_time_of, testbin_path};

fn children_now() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return usize::MAX;
    };
    dir.flatten()
        .map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .map(|s| s.split_whitespace().count())
                .unwrap_or(0)
        })
        .sum()
}

fn main() {
    let spawned = Command::new(testbin_path())
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .breakaway_from_job(true)
        .spawn();
    let mut out = std::io::stdout();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            let _ = writeln!(
                out,
                "failed kind={:?} children={} error={msg}",
                e.kind(),
                children_now()
            );
            let _ = out.flush();
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            return;
        }
    };
    let pid = child.pid().as_raw();
    let start = start_time_of(pid).unwrap_or(0);
    if writeln!(out, "spawned pid={pid} start={start}")
        .and_then(|()| out.flush())
        .is_err()
    {
        let _ = child.kill();
        let _ = child.wait();
        std::process::exit(90);
    }
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let _ = child.kill();
    let _ = child.wait();
}
