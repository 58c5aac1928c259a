//! `corral_snap`: lists every process with corral's snapshot API, asking for the same
//! fields as the other tools, and prints how many it saw.
//!
//! Pid and start time are always read; RSS and VMS come from the same `stat` read.

use std::process::ExitCode;

use corral::{Field, Snapshot};

fn main() -> ExitCode {
    let rows = Snapshot::new()
        .fields(&[
            Field::Ppid,
            Field::Name,
            Field::Status,
            Field::CpuTimes,
            Field::Rss,
            Field::Vms,
            Field::Uids,
            Field::NumThreads,
            Field::Cmdline,
        ])
        .collect();
    match rows {
        Ok(rows) => {
            println!("{}", rows.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("corral_snap: {e}");
            ExitCode::FAILURE
        }
    }
}
