//! What the `harness = false` tests share (`portable.rs`, the same source on Linux and
//! under Wine, and the Windows-only `windows_*.rs`): the outcomes, the `t!`/`check!`
//! macros, and the runner that runs the tests named on the command line (all without a
//! name), catches a panicking test as a failure, prints one line per test and the
//! counts, and exits 1 on a failure.
//!
//! Declared with `#[macro_use]` at each test's crate root, before the module using it.

use std::io::Write;
use std::time::{Duration, Instant};

/// How a test ended, apart from failing (`Err`).
#[allow(dead_code)] // not every suite has every outcome
pub enum Outcome {
    /// Checked and right.
    Pass,
    /// Needs this API, which Wine does not implement.
    MissingInWine(String),
    /// Wine answers with wrong data here: nothing can be concluded.
    NotVerifiableUnderWine(String),
    /// This machine offers no jobs (Linux: no writable cgroup hierarchy): why.
    NoJobsHere(String),
}

/// A test's result: an outcome, or what failed.
pub type TestResult = Result<Outcome, String>;

/// A named test.
pub type Test = (&'static str, fn() -> TestResult);

/// Unwraps a `Result`, else fails the test naming the expression and the error.
macro_rules! t {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => {
                return Err(format!(
                    "{}:{}: {}: {err}",
                    file!(),
                    line!(),
                    stringify!($e)
                ))
            }
        }
    };
}

/// Ends the test as skipped without jobs where this machine offers none, saying why
/// (Linux without a writable cgroup hierarchy).
#[allow(unused_macros)]
macro_rules! require_jobs {
    () => {
        let caps = corral::Job::capabilities();
        if !caps.membership {
            return Ok(harness::Outcome::NoJobsHere(caps.notes.join("; ")));
        }
    };
}

/// Fails the test unless the condition holds.
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err(format!("{}:{}: check failed: {}", file!(), line!(), stringify!($cond)));
        }
    };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

/// Runs `tests` (those whose name contains an argument, when arguments are given) and
/// prints `SUITE: N passed; N failed; N not verifiable under Wine; N missing in Wine;
/// N skipped without jobs; N filtered out`.
pub fn run(suite: &str, tests: &[Test]) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut pass, mut fail, mut missing, mut unverifiable) = (0, 0, 0, 0);
    let (mut no_jobs, mut filtered) = (0, 0);
    for (n, f) in tests {
        if !filters.is_empty() && !filters.iter().any(|x| n.contains(x.as_str())) {
            filtered += 1;
            continue;
        }
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(f).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        });
        let ms = t0.elapsed().as_millis();
        match r {
            Ok(Outcome::Pass) => {
                pass += 1;
                println!("test {n} ... ok ({ms} ms)");
            }
            Ok(Outcome::MissingInWine(api)) => {
                missing += 1;
                println!("test {n} ... needs {api}, which Wine does not implement");
            }
            Ok(Outcome::NotVerifiableUnderWine(what)) => {
                unverifiable += 1;
                println!("test {n} ... not verifiable under Wine: {what}");
            }
            Ok(Outcome::NoJobsHere(why)) => {
                no_jobs += 1;
                println!("test {n} ... skipped: no jobs on this machine ({why})");
            }
            Err(m) => {
                fail += 1;
                println!("test {n} ... FAILED ({ms} ms)\n    {m}");
            }
        }
    }
    println!(
        "\n{suite}: {pass} passed; {fail} failed; {unverifiable} not verifiable under Wine; \
         {missing} missing in Wine; {no_jobs} skipped without jobs; {filtered} filtered out"
    );
    if fail > 0 {
        std::process::exit(1);
    }
}

/// A child program the suites share: appends a byte to the file `path` every 5 ms for
/// 60 s (until killed, in the tests), then exits 0. What it wrote shows whether it ran.
#[allow(dead_code)] // not every suite has a ticking child
pub fn tick(path: &str) -> ! {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    for _ in 0..12_000 {
        f.write_all(b".").unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    std::process::exit(0)
}

/// A child program the suites share: starts `n` children of its own — this program
/// again, with `child_var` set to `sleep:60000` (every suite's sleeping child) — then
/// sleeps 60 s with them (killed by the test).
#[allow(dead_code)] // not every suite starts a tree
pub fn tree(n: u64, child_var: &str) -> ! {
    let me = std::env::current_exe().expect("current_exe");
    let kids: Vec<_> = (0..n)
        .map(|_| {
            std::process::Command::new(&me)
                .env(child_var, "sleep:60000")
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_secs(60));
    drop(kids);
    std::process::exit(0)
}
