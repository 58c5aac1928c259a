//! Windows-only job tests (Job Object limits and accounting through
//! `corral::os::windows::JobExt`), run under Wine in CI. Like `portable.rs`, a
//! `harness = false` test that is its own child program, and counts what Wine cannot
//! verify or lacks apart from passes and failures. On other platforms it does nothing.

#[cfg(not(windows))]
fn main() {
    println!("windows_jobs: Windows only; nothing to run here");
}

#[cfg(windows)]
fn main() {
    imp::main()
}

#[cfg(windows)]
mod imp {
    use std::time::{Duration, Instant};

    use corral::os::windows::{wine_version, JobExt};
    use corral::{Command, ErrorKind, Job, Process};

    const CHILD_VAR: &str = "CORRAL_WINDOWS_JOBS_CHILD";

    enum Outcome {
        Pass,
        MissingInWine(&'static str),
    }
    use Outcome::*;

    type TestResult = Result<Outcome, String>;

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

    macro_rules! check {
        ($cond:expr, $($fmt:tt)+) => {
            if !$cond {
                return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
            }
        };
    }

    fn child(mode: &str) -> Command {
        Command::new(std::env::current_exe().unwrap()).env(CHILD_VAR, mode)
    }

    fn name(tag: &str) -> String {
        format!("winjobs-{tag}-{}", std::process::id())
    }

    fn kill_on_close() -> TestResult {
        let job = t!(Job::create(Some(&name("close"))));
        t!(job.set_kill_on_close(true));
        let mut c = t!(child("sleep").job(&job).spawn());
        check!(t!(job.contains(&c)), "child not in the job");
        let p = t!(Process::open(c.pid()));
        drop(job); // the last handle: Windows kills the members
        let r = p.wait(Some(Duration::from_secs(20)));
        let _ = c.kill();
        let _ = c.wait();
        t!(r);
        Ok(Pass)
    }

    fn active_process_limit() -> TestResult {
        let job = t!(Job::create(Some(&name("limit"))));
        let e = job.set_active_process_limit(Some(0)).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        t!(job.set_active_process_limit(Some(1)));
        let mut first = t!(child("sleep").job(&job).spawn());
        let second = child("sleep").job(&job).spawn();
        let outcome = match second {
            Err(e) => {
                // ERROR_NOT_ENOUGH_QUOTA (1816) from AssignProcessToJobObject.
                check!(e.raw_os_error() == Some(1816), "{e}");
                Pass
            }
            Ok(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
                if wine_version().is_some() {
                    MissingInWine("JOB_OBJECT_LIMIT_ACTIVE_PROCESS enforcement")
                } else {
                    return Err("a second process joined a job limited to one".into());
                }
            }
        };
        t!(job.terminate());
        let _ = first.wait();
        Ok(outcome)
    }

    fn accounting() -> TestResult {
        let job = t!(Job::create(Some(&name("acct"))));
        for _ in 0..2 {
            let mut c = t!(child("exit").job(&job).spawn());
            t!(c.wait());
        }
        let (total, active, _) = t!(job.process_counts());
        check!(total == 2 && active == 0, "total {total}, active {active}");
        Ok(Pass)
    }

    pub(super) fn main() {
        if let Ok(mode) = std::env::var(CHILD_VAR) {
            if mode == "sleep" {
                std::thread::sleep(Duration::from_secs(30));
            }
            std::process::exit(0);
        }
        type Test = (&'static str, fn() -> TestResult);
        let tests: &[Test] = &[
            ("kill_on_close", kill_on_close),
            ("active_process_limit", active_process_limit),
            ("accounting", accounting),
        ];
        let (mut pass, mut fail, mut missing) = (0, 0, 0);
        for (n, f) in tests {
            let t0 = Instant::now();
            match f() {
                Ok(Pass) => {
                    pass += 1;
                    println!("test {n} ... ok ({} ms)", t0.elapsed().as_millis());
                }
                Ok(MissingInWine(api)) => {
                    missing += 1;
                    println!("test {n} ... needs {api}, which Wine does not implement");
                }
                Err(m) => {
                    fail += 1;
                    println!("test {n} ... FAILED\n    {m}");
                }
            }
        }
        println!("\nwindows_jobs: {pass} passed; {fail} failed; {missing} missing in Wine");
        if fail > 0 {
            std::process::exit(1);
        }
    }
}
