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
#[macro_use]
mod harness;

#[cfg(windows)]
mod imp {
    use std::time::{Duration, Instant};

    use corral::os::windows::{wine_version, JobExt};
    use corral::{
        Command, ErrorKind, ExitStatus, Job, JobEvent, JobLimits, PriorityClass, Process,
    };

    const CHILD_VAR: &str = "CORRAL_WINDOWS_JOBS_CHILD";

    use crate::harness::{run, Outcome::*, Test, TestResult};

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

    /// A member assigned to a second job is in both (Windows 8+ nests the second inside
    /// the first): the outer job lists it, `Job::of` names the inner, and terminating
    /// the outer kills it.
    fn nested_job_by_assign() -> TestResult {
        let outer = t!(Job::create(Some(&name("outer"))));
        let mut c = t!(child("sleep").job(&outer).spawn());
        let inner = t!(Job::create(Some(&name("inner"))));
        if let Err(e) = inner.assign(&c) {
            let _ = c.kill();
            let _ = c.wait();
            if wine_version().is_some() {
                return Ok(MissingInWine(format!("nested Job Objects: {e}")));
            }
            return Err(format!("assign to a second job: {e}"));
        }
        let result = (|| -> TestResult {
            check!(t!(outer.contains(&c)) && t!(inner.contains(&c)));
            let pids: Vec<u32> = t!(outer.processes())
                .iter()
                .map(|p| p.pid().as_raw())
                .collect();
            check!(pids == [c.pid().as_raw()], "outer lists {pids:?}");
            let of = t!(Job::of(&c));
            check!(
                of.as_ref().map(|j| j.name.as_str()) == Some(inner.name()),
                "Job::of says {of:?}"
            );
            t!(outer.terminate());
            let st = t!(c.wait());
            check!(st == ExitStatus::Exited(9), "{st:?}");
            check!(t!(inner.is_empty()), "the inner job kept a member");
            Ok(Pass)
        })();
        let _ = c.kill();
        let _ = c.wait();
        result
    }

    /// A job frozen through one handle reads frozen through another (as `corral job
    /// show` after `corral job freeze`): every member's threads wait suspended.
    fn frozen_seen_by_another_handle() -> TestResult {
        let job = t!(Job::create(Some(&name("frozen"))));
        let mut c = t!(child("sleep").job(&job).spawn());
        let result = (|| -> TestResult {
            let other = t!(Job::open(job.name()));
            check!(!t!(other.is_frozen()), "frozen before the freeze");
            t!(job.freeze());
            check!(t!(job.is_frozen()), "the freezing handle says not frozen");
            let seen = t!(other.is_frozen());
            t!(job.thaw());
            check!(!t!(other.is_frozen()), "frozen after the thaw");
            if !seen {
                if wine_version().is_some() {
                    return Ok(NotVerifiableUnderWine(
                        "thread wait reasons (Wine reports no thread as suspended)".into(),
                    ));
                }
                return Err("another handle does not see the job frozen".into());
            }
            Ok(Pass)
        })();
        let _ = c.kill();
        let _ = c.wait();
        result
    }

    fn active_process_limit() -> TestResult {
        let job = t!(Job::create(Some(&name("limit"))));
        let e = job.set_active_process_limit(Some(0)).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        t!(job.set_active_process_limit(Some(1)));
        let mut ev = t!(job.events());
        let mut first = t!(child("sleep").job(&job).spawn());
        let second = child("sleep").job(&job).spawn();
        let outcome = match second {
            Err(e) => {
                // ERROR_NOT_ENOUGH_QUOTA (1816) from AssignProcessToJobObject.
                check!(e.raw_os_error() == Some(1816), "{e}");
                // And the port says so.
                let mut seen = Vec::new();
                while let Some(e) = t!(ev.next_timeout(Some(Duration::from_secs(5)))) {
                    seen.push(e);
                    if matches!(e, JobEvent::ProcessLimit { .. }) {
                        break;
                    }
                }
                check!(
                    matches!(seen.last(), Some(JobEvent::ProcessLimit { .. })),
                    "no ProcessLimit event: {seen:?}"
                );
                Pass
            }
            Ok(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
                if wine_version().is_some() {
                    MissingInWine("JOB_OBJECT_LIMIT_ACTIVE_PROCESS enforcement".into())
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
        let a = t!(job.accounting());
        check!(
            a.memory == Some(0),
            "no member, yet {:?} of memory",
            a.memory
        );
        check!(a.total_processes == Some(2), "{a:?}");
        // A live member's committed memory is counted.
        let c = Reap(t!(child("sleep").job(&job).spawn()));
        let a = t!(job.accounting());
        check!(a.memory.unwrap_or(0) > 0, "{a:?}");
        check!(a.active_processes == 1, "{a:?}");
        drop(c);
        Ok(Pass)
    }

    /// Kills and waits for a child when dropped, so a failing test leaves nothing.
    struct Reap(corral::Child);

    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn io_rate_names_the_api() -> TestResult {
        let e = Job::create_with_limits(
            Some(&name("io")),
            &JobLimits::new().io_rate(corral::IoRate::new(8, 0).read_bps(1 << 20)),
        )
        .unwrap_err();
        check!(e.kind() == ErrorKind::Unsupported, "{e}");
        check!(
            e.to_string()
                .contains("SetIoRateControlInformationJobObject"),
            "{e}"
        );
        // All or nothing: no job left under that name.
        check!(Job::open(&name("io")).is_err(), "a job was left behind");
        let caps = Job::capabilities();
        let io = caps
            .limits
            .iter()
            .find(|l| l.limit == corral::Limit::IoRate)
            .unwrap();
        check!(
            matches!(io.how, corral::Enforcement::Unsupported(_)),
            "{io:?}"
        );
        Ok(Pass)
    }

    fn member_limits_come_from_the_job() -> TestResult {
        let job = t!(Job::create_with_limits(
            Some(&name("class")),
            &JobLimits::new()
                .priority_class(PriorityClass::BelowNormal)
                .affinity(&[0])
        ));
        let c = Reap(t!(child("sleep").job(&job).spawn()));
        let p = t!(Process::open(c.0.pid()));
        let class = t!(p.priority_class());
        let cpus = t!(p.cpu_affinity());
        t!(job.terminate());
        if class != PriorityClass::BelowNormal || cpus != [0] {
            if wine_version().is_some() {
                return Ok(MissingInWine(
                    "JOB_OBJECT_LIMIT_PRIORITY_CLASS / JOB_OBJECT_LIMIT_AFFINITY enforcement"
                        .into(),
                ));
            }
            return Err(format!("member has {class:?} on {cpus:?}"));
        }
        Ok(Pass)
    }

    fn process_memory_limit() -> TestResult {
        let job = t!(Job::create_with_limits(
            Some(&name("pmem")),
            &JobLimits::new().process_memory(64 << 20)
        ));
        let mut c = Reap(t!(child("alloc256").job(&job).spawn()));
        let st = t!(c.0.wait());
        if st == ExitStatus::Exited(0) && wine_version().is_some() {
            return Ok(MissingInWine(
                "JOB_OBJECT_LIMIT_PROCESS_MEMORY enforcement".into(),
            ));
        }
        check!(
            st == ExitStatus::Exited(3),
            "256 MiB under 64 MiB per process: {st:?}"
        );
        Ok(Pass)
    }

    fn unhandled_exception_kills_not_hangs() -> TestResult {
        let job = t!(Job::create(Some(&name("crash"))));
        let mut ev = t!(job.events());
        let mut c = Reap(t!(child("crash").job(&job).spawn()));
        let pid = c.0.pid();
        let p = t!(Process::open(pid));
        if p.wait(Some(Duration::from_secs(20))).is_err() {
            if wine_version().is_some() {
                return Ok(MissingInWine(
                    "JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION".into(),
                ));
            }
            return Err("a crashing member still runs after 20 s".into());
        }
        let st = t!(c.0.wait());
        if st != ExitStatus::Exited(0xC000_0005_u32 as i32) && wine_version().is_some() {
            // Wine starts winedbg for the unhandled exception instead of ending the
            // process with the exception code.
            return Ok(MissingInWine(
                "JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION (Wine runs winedbg)".into(),
            ));
        }
        // STATUS_ACCESS_VIOLATION
        check!(st == ExitStatus::Exited(0xC000_0005_u32 as i32), "{st:?}");
        let mut seen = Vec::new();
        while let Some(e) = t!(ev.next_timeout(Some(Duration::from_secs(5)))) {
            seen.push(e);
            if e == JobEvent::JobEmpty {
                break;
            }
        }
        let abnormal = seen.iter().any(|e| matches!(e, JobEvent::AbnormalExit { pid: p, status } if *p == pid && *status == st));
        if !abnormal {
            let plain = seen
                .iter()
                .any(|e| matches!(e, JobEvent::ProcessExit { pid: p, .. } if *p == pid));
            if plain && wine_version().is_some() {
                return Ok(NotVerifiableUnderWine(
                    "JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS (Wine posts EXIT_PROCESS)".into(),
                ));
            }
            return Err(format!("no abnormal exit event: {seen:?}"));
        }
        Ok(Pass)
    }

    /// A job takes one completion port at a time: a second handle's watch is refused
    /// while the first handle holds it, and succeeds once that handle and its watchers
    /// are gone (the port given back).
    fn one_completion_port_per_job() -> TestResult {
        let job = t!(Job::create(Some(&name("port"))));
        let ev = t!(job.events());
        let other = t!(Job::open(job.name()));
        match other.events() {
            Err(e) => {
                check!(e.kind() == ErrorKind::Unsupported, "{e}");
                check!(e.to_string().contains("completion port"), "{e}");
            }
            Ok(_) if wine_version().is_some() => {
                return Ok(NotVerifiableUnderWine(
                    "a second JobObjectAssociateCompletionPortInformation (Wine accepts it)".into(),
                ))
            }
            Ok(_) => return Err("a second handle associated a second completion port".into()),
        }
        drop(ev);
        drop(job);
        match other.events() {
            Ok(_) => Ok(Pass),
            Err(e) if wine_version().is_some() && e.to_string().contains("completion port") => {
                Ok(NotVerifiableUnderWine(
                    "giving a job's completion port back (Wine 8 refuses a null port)".into(),
                ))
            }
            Err(e) => Err(format!("the first handle's port was not given back: {e}")),
        }
    }

    fn freeze_catches_the_whole_tree() -> TestResult {
        let job = t!(Job::create(Some(&name("freeze"))));
        let _c = Reap(t!(child("tree").job(&job).spawn()));
        let t0 = Instant::now();
        while t!(job.processes()).len() < 3 {
            check!(
                t0.elapsed() < Duration::from_secs(20),
                "the tree never grew"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        t!(job.freeze());
        check!(t!(job.is_frozen()), "not every member suspended");
        // is_frozen is what this handle did: another handle froze nothing.
        let other = t!(Job::open(job.name()));
        check!(!t!(other.is_frozen()), "another handle claims a freeze");
        t!(job.thaw());
        check!(!t!(job.is_frozen()), "still frozen after thaw");
        t!(job.terminate());
        Ok(Pass)
    }

    pub(super) fn main() {
        if let Ok(mode) = std::env::var(CHILD_VAR) {
            match mode.as_str() {
                "sleep" => std::thread::sleep(Duration::from_secs(30)),
                "alloc256" => {
                    let mut v: Vec<u8> = Vec::new();
                    if v.try_reserve_exact(256 << 20).is_err() {
                        std::process::exit(3);
                    }
                    v.resize(256 << 20, 1);
                    std::hint::black_box(&v);
                }
                "crash" => {
                    // An access violation nobody handles.
                    // SAFETY: none; this child is meant to crash.
                    unsafe {
                        std::ptr::write_volatile(std::hint::black_box(16usize) as *mut u8, 1)
                    };
                }
                "tree" => {
                    let kids: Vec<_> = (0..2)
                        .map(|_| {
                            std::process::Command::new(std::env::current_exe().unwrap())
                                .env(CHILD_VAR, "sleep")
                                .spawn()
                                .unwrap()
                        })
                        .collect();
                    std::thread::sleep(Duration::from_secs(30));
                    drop(kids);
                }
                _ => {}
            }
            std::process::exit(0);
        }
        let tests: &[Test] = &[
            ("kill_on_close", kill_on_close),
            ("nested_job_by_assign", nested_job_by_assign),
            (
                "frozen_seen_by_another_handle",
                frozen_seen_by_another_handle,
            ),
            ("active_process_limit", active_process_limit),
            ("accounting", accounting),
            ("io_rate_names_the_api", io_rate_names_the_api),
            (
                "member_limits_come_from_the_job",
                member_limits_come_from_the_job,
            ),
            ("process_memory_limit", process_memory_limit),
            (
                "unhandled_exception_kills_not_hangs",
                unhandled_exception_kills_not_hangs,
            ),
            ("one_completion_port_per_job", one_completion_port_per_job),
            (
                "freeze_catches_the_whole_tree",
                freeze_catches_the_whole_tree,
            ),
        ];
        run("windows_jobs", tests);
    }
}
