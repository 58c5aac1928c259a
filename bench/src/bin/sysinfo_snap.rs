//! `sysinfo_snap`: lists every process with the `sysinfo` crate, refreshing exactly the
//! fields the benchmark asks for, and prints how many it saw.
//!
//! `ProcessRefreshKind::nothing()` still enumerates every thread (`tasks`) on Linux; that
//! is turned off, because the other tools list processes, not threads. sysinfo then has
//! no thread count (it only has one through the task list), so it does slightly less work
//! than the others. Built with `default-features = false, features = ["system"]`: no
//! `multithread` (rayon), like every other tool here.

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

fn main() {
    let mut sys = System::new().expect("sysinfo::System::new");
    let kind = ProcessRefreshKind::nothing()
        .without_tasks()
        .with_cmd(UpdateKind::Always)
        .with_memory()
        .with_cpu()
        .with_user(UpdateKind::Always);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    println!("{}", sys.processes().len());
}
