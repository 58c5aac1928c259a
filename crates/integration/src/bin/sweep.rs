//! The contract sweep: every getter on every visible pid may return only Ok,
//! NoSuchProcess, AccessDenied or Zombie, and must not panic.
//!
//! Prints one line per violation and `sweep: N processes, M calls, V violations`; exits 1
//! when there is any violation. The integration tests run it as root and as an
//! unprivileged uid.

use corral::{ConnectionKind, ErrorKind, Field, Process, Resource, Snapshot};

/// How many processes get the checks that scan every process.
const COSTLY_CHECKS: usize = 300;

fn main() {
    let mut calls = 0u64;
    let mut bad = Vec::new();
    let mut check = |pid: u32, what: &str, r: Result<(), corral::Error>| {
        calls += 1;
        if let Err(e) = r {
            match e.kind() {
                ErrorKind::NoSuchProcess | ErrorKind::AccessDenied | ErrorKind::Zombie => {}
                _ => bad.push(format!("pid {pid} {what}: {e:?}")),
            }
        }
    };
    // The snapshot with every field: per-field errors are held to the same contract.
    let rows = match Snapshot::new().fields(&Field::ALL).collect() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sweep: snapshot failed: {e}");
            std::process::exit(1);
        }
    };
    for row in &rows {
        let pid = row.pid.as_raw();
        macro_rules! f {
            ($($name:ident),*) => {$(
                if let Some(Err(e)) = &row.$name {
                    check(pid, concat!("snapshot ", stringify!($name)), Err(e.clone()));
                }
            )*};
        }
        f!(
            ppid,
            name,
            exe,
            cmdline,
            status,
            cpu_times,
            memory,
            uids,
            gids,
            username,
            num_threads,
            terminal,
            nice,
            page_faults,
            group,
            cpu_num,
            cwd,
            environ,
            num_fds,
            io,
            memory_peaks,
            ctx_switches,
            cgroups
        );
    }
    let mut n = 0;
    for row in &rows {
        let pid = row.pid.as_raw();
        let p = match Process::open(row.pid) {
            Ok(p) => p,
            Err(e) => {
                check(pid, "open", Err(e));
                continue;
            }
        };
        n += 1;
        macro_rules! g {
            ($($e:expr),* $(,)?) => {$(
                check(pid, stringify!($e), ($e)(&p).map(|_| ()));
            )*};
        }
        g!(
            |p: &Process| p.name(),
            |p: &Process| p.exe(),
            |p: &Process| p.cmdline(),
            |p: &Process| p.cwd(),
            |p: &Process| p.environ(),
            |p: &Process| p.status(),
            |p: &Process| p.username(),
            |p: &Process| p.uids(),
            |p: &Process| p.gids(),
            |p: &Process| p.terminal(),
            |p: &Process| p.ppid(),
            |p: &Process| p.parent(),
            |p: &Process| p.cpu_times(),
            |p: &Process| p.cpu_num(),
            |p: &Process| p.cpu_affinity(),
            |p: &Process| p.nice(),
            |p: &Process| p.ionice(),
            |p: &Process| p.num_ctx_switches(),
            |p: &Process| p.num_threads(),
            |p: &Process| p.threads(),
            |p: &Process| p.num_fds(),
            |p: &Process| p.open_files(),
            |p: &Process| p.io_counters(),
            |p: &Process| p.memory_info(),
            |p: &Process| p.memory_full_info(),
            |p: &Process| p.memory_peaks(),
            |p: &Process| p.memory_percent(),
            |p: &Process| p.memory_maps(true),
            |p: &Process| p.page_faults(),
            |p: &Process| p.process_group(),
            |p: &Process| p.cgroups(),
            |p: &Process| p.start_time(),
            |p: &Process| p.priority_class(),
            |p: &Process| p.is_background(),
        );
        // Every thread, opened both ways, with its getters.
        if let Ok(threads) = p.threads() {
            for t in threads {
                let th = match p.thread(t.tid) {
                    Ok(th) => th,
                    Err(e) => {
                        check(pid, "thread", Err(e));
                        continue;
                    }
                };
                check(pid, "Thread::open", corral::Thread::open(t.tid).map(|_| ()));
                check(pid, "thread info", th.info().map(|_| ()));
                check(pid, "thread priority", th.priority().map(|_| ()));
                check(pid, "thread affinity", th.cpu_affinity().map(|_| ()));
            }
        }
        for r in Resource::ALL {
            check(pid, r.name(), p.rlimit(r).map(|_| ()));
        }
        // These scan the whole machine on each call: checking every process would make the
        // sweep quadratic (a CI namespace whose pid 1 does not reap can hold 10 000 zombies).
        if n <= COSTLY_CHECKS {
            g!(|p: &Process| p.children(), |p: &Process| p
                .connections(ConnectionKind::All),);
        }
    }
    for b in &bad {
        println!("{b}");
    }
    println!(
        "sweep: {n} processes, {calls} calls, {} violations",
        bad.len()
    );
    std::process::exit(if bad.is_empty() { 0 } else { 1 });
}
