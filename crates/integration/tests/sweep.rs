//! The contract sweep (src/bin/sweep.rs), as root and as an unprivileged uid.

use std::os::unix::process::CommandExt;
use std::process::Command;

fn sweep_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_sweep"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run sweep");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sweep failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("sweep: ") && last.ends_with(" 0 violations"),
        "{stdout}"
    );
    // It really looked at processes.
    let n: usize = last.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(n > 1, "{last}");
}

#[test]
fn sweep_as_current_user() {
    run(&mut Command::new(sweep_path()));
}

#[test]
fn sweep_as_unprivileged_user() {
    integration::require_root!();
    let (uid, gid) = integration::nobody_ids();
    run(Command::new(sweep_path())
        .uid(uid)
        .gid(gid)
        .current_dir("/"));
}
