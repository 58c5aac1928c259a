//! `corral`: see, control, spawn and confine processes.
//!
//! Exit codes (all subcommands):
//!   0  success
//!   1  nothing matched: no process fits the selection, or the named process does not exist
//!   2  usage error: bad arguments, bad pid, unknown column, bad regular expression
//!   3  fatal error: the process table could not be read, or output failed

mod act;
mod columns;
mod duration;
mod find;
mod info;
mod job;
mod kill;
mod nice;
mod output;
mod ps;
mod run;
mod select;
mod system;
mod targets;
mod threads;
mod topology;
mod tree;
mod tune;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: nothing matched.
pub const EXIT_NO_MATCH: u8 = 1;
/// Exit code: usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: fatal error.
pub const EXIT_FATAL: u8 = 3;

const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  nothing matched (no process fits the selection, or it does not exist)
  2  usage error (bad arguments, pid, column name or regular expression)
  3  fatal error (the process table could not be read, or output failed)";

#[derive(Parser, Debug)]
#[command(
    name = "corral",
    version,
    about = "See, control, spawn and confine processes",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List processes (like ps), with columns, sorting, filters, a tree view and JSON.
    Ps(Box<ps::PsArgs>),
    /// Show every field of one process (PID or PID:INODE).
    Info(info::InfoArgs),
    /// Show the process tree (of all processes, or below PID).
    Tree(tree::TreeArgs),
    /// Find processes (like pgrep): print the pids that match the selectors.
    Find(Box<find::FindArgs>),
    /// Signal processes (like pkill/taskkill): by pid, name, pattern, user, age, port …
    Kill(Box<kill::KillArgs>),
    /// Run a program with priorities, affinity, limits, another user, a pty … and pass its
    /// exit code on.
    Run(Box<run::RunArgs>),
    /// Set the priority class or nice value of processes (selected as for kill).
    Nice(Box<nice::NiceArgs>),
    /// Show or set the I/O priority of processes (selected as for kill).
    Ionice(Box<tune::IoniceArgs>),
    /// Show or set resource limits of processes (prlimit): `limit PID nofile=128`.
    Limit(Box<tune::LimitArgs>),
    /// Page out what processes hold resident and report how much went.
    Trim(Box<tune::TrimArgs>),
    /// Put processes into background mode (lowest CPU and I/O priority), or back.
    Background(Box<tune::BackgroundArgs>),
    /// Show or set the CPUs processes may run on (--cpus LIST or --node N).
    Affinity(Box<tune::AffinityArgs>),
    /// List the threads of a process with their scheduling, affinity and times.
    Threads(threads::ThreadsArgs),
    /// Stop processes (SIGSTOP): PID or PID:INODE.
    Suspend(run::ResumeArgs),
    /// Continue stopped processes (SIGCONT), such as one started with `run --suspended`.
    Resume(run::ResumeArgs),
    /// Jobs: list, show (members, limits, accounting), kill, freeze, thaw.
    Job(job::JobArgs),
    /// Show the machine: CPU use over an interval, load, memory, swap, uptime, users.
    System(system::SystemArgs),
    /// Show the CPU topology: packages, cores, logical CPUs, NUMA nodes, caches.
    Topology(topology::TopologyArgs),
}

/// A command's failure: a message and an exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub msg: String,
}

impl Failure {
    pub fn usage(msg: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            msg: msg.into(),
        }
    }
    pub fn no_match(msg: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_NO_MATCH,
            msg: msg.into(),
        }
    }
    pub fn fatal(msg: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FATAL,
            msg: msg.into(),
        }
    }
    /// A library error: bad input is a usage error, a missing process "no match",
    /// anything else fatal.
    pub fn from_error(e: &corral::Error) -> Failure {
        use corral::ErrorKind as K;
        let code = match e.kind() {
            K::InvalidInput => EXIT_USAGE,
            K::NoSuchProcess | K::Zombie => EXIT_NO_MATCH,
            _ => EXIT_FATAL,
        };
        Failure {
            code,
            msg: e.to_string(),
        }
    }
}

impl From<output::OutErr> for Failure {
    fn from(e: output::OutErr) -> Failure {
        match e {
            // A closed pipe (`corral ps | head`) is success: the reader has what it wanted.
            output::OutErr::BrokenPipe => Failure {
                code: 0,
                msg: String::new(),
            },
            output::OutErr::Io(e) => Failure::fatal(format!("writing output: {e}")),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let r = match cli.cmd {
        Cmd::Ps(a) => ps::run(*a),
        Cmd::Info(a) => info::run(a),
        Cmd::Tree(a) => tree::run(a),
        Cmd::Find(a) => find::run(*a),
        Cmd::Kill(a) => kill::run(*a),
        Cmd::Run(a) => run::run(*a),
        Cmd::Nice(a) => nice::run(*a),
        Cmd::Ionice(a) => tune::ionice(*a),
        Cmd::Limit(a) => tune::limit(*a),
        Cmd::Trim(a) => tune::trim(*a),
        Cmd::Background(a) => tune::background(*a),
        Cmd::Affinity(a) => tune::affinity(*a),
        Cmd::Threads(a) => threads::run(a),
        Cmd::Suspend(a) => run::signal_each(a, corral::Signal::Stop),
        Cmd::Resume(a) => run::signal_each(a, corral::Signal::Cont),
        Cmd::Job(a) => job::run(a),
        Cmd::System(a) => system::run(a),
        Cmd::Topology(a) => topology::run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.msg.is_empty() {
                eprintln!("corral: {}", f.msg);
            }
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
