//! `measure [--stdout PATH] -- PROGRAM ARGS…`: runs one command once and reports its wall
//! time and peak resident set size.
//!
//! Prints one line on its own stdout: `wall_ns=<n> cpu_ns=<n> maxrss_kb=<n> status=<exit
//! code or -signal>`, where `cpu_ns` is the command's user + system CPU time. The command's stdout goes to PATH (default `/dev/null`); its stdin is
//! `/dev/null` and its stderr is ours.
//!
//! Why a helper instead of timing from Python: on Linux, a process's peak RSS
//! (`ru_maxrss`) includes the peak RSS of the address space it had *before* `execve`. A
//! child forked (or vforked) by a Python interpreter would report at least the
//! interpreter's ~10 MiB however small the tool is. This helper is small and forks (not
//! vforks), so the child's pre-`execve` footprint is only this helper's few private pages,
//! and the time between `fork` and `wait4` excludes the interpreter's own spawning cost.
//! The command gets `PR_SET_PDEATHSIG(SIGKILL)`, and so does this helper, so nothing
//! outlives the runner.

use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use corral_bench::{die_with_parent, find_program, fork_exec, wait_child, Argv, ChildSetup};
use rustix::fs::{open, Mode, OFlags};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("measure: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: measure [--stdout PATH] -- PROGRAM ARGS...";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout_path = PathBuf::from("/dev/null");
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--stdout" => {
                stdout_path = PathBuf::from(args.get(i + 1).ok_or(usage)?);
                i += 2;
            }
            "--" => {
                i += 1;
                break;
            }
            _ => return Err(usage.into()),
        }
    }
    let command = &args[i..];
    if command.is_empty() {
        return Err(usage.into());
    }
    if !die_with_parent(libc::SIGKILL, None).map_err(|e| format!("prctl: {e}"))? {
        return Err("parent already gone".into());
    }

    let program = find_program(&command[0])?;
    let argv = Argv::new(
        std::iter::once(Path::new(&program).as_os_str().as_bytes().to_vec())
            .chain(command[1..].iter().map(|a| a.as_bytes().to_vec())),
    )
    .map_err(|e| e.to_string())?;
    let devnull = open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("/dev/null: {e}"))?;
    let out = open(
        &stdout_path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|e| format!("{}: {e}", stdout_path.display()))?;
    let setup = ChildSetup {
        death_signal: libc::SIGKILL,
        stdin: devnull.as_raw_fd(),
        stdout: out.as_raw_fd(),
        stderr: 2,
        keep_fd: None,
    };

    let start = Instant::now();
    let pid = fork_exec(&argv, &setup).map_err(|e| format!("fork: {e}"))?;
    let (status, usage) = wait_child(pid).map_err(|e| format!("wait4: {e}"))?;
    let wall = start.elapsed();

    let status = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    let tv_ns = |tv: libc::timeval| tv.tv_sec as i128 * 1_000_000_000 + tv.tv_usec as i128 * 1000;
    println!(
        "wall_ns={} cpu_ns={} maxrss_kb={} status={}",
        wall.as_nanos(),
        tv_ns(usage.ru_utime) + tv_ns(usage.ru_stime),
        usage.ru_maxrss,
        status
    );
    Ok(())
}
