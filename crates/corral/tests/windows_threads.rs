//! Windows-only thread tests (`Process::threads`, `Thread` priority levels, affinity,
//! `SuspendThread`/`ResumeThread`), run under Wine in CI. Like `portable.rs`, a
//! `harness = false` test that is its own child program, and counts what Wine cannot
//! verify or lacks apart from passes and failures. On other platforms it does nothing.

#[cfg(not(windows))]
fn main() {
    println!("windows_threads: Windows only; nothing to run here");
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
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use corral::os::windows::wine_version;
    use corral::{Child, Command, ErrorKind, Process, Stdio, ThreadPriority, Tid};
    use windows_sys::Win32::System::Threading::GetCurrentThreadId;

    const CHILD_VAR: &str = "CORRAL_WINDOWS_THREADS_CHILD";

    use crate::harness::{run, Outcome::*, Test, TestResult};

    /// The child: `threads:N` starts N sleeping threads, prints each one's id (`tid N`),
    /// then `ready`, and sleeps; `ticker` starts one thread that prints its id, then a
    /// `.` every 10 ms, and sleeps.
    fn child_main(mode: &str) -> ! {
        let (what, arg) = mode.split_once(':').unwrap_or((mode, ""));
        match what {
            "threads" => {
                let n: usize = arg.parse().unwrap();
                let (tx, rx) = mpsc::channel();
                for _ in 0..n {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        // SAFETY: plain call.
                        tx.send(unsafe { GetCurrentThreadId() }).unwrap();
                        std::thread::sleep(Duration::from_secs(60));
                    });
                }
                let mut out = std::io::stdout().lock();
                for _ in 0..n {
                    writeln!(out, "tid {}", rx.recv().unwrap()).unwrap();
                }
                writeln!(out, "ready").unwrap();
                out.flush().unwrap();
                drop(out);
                std::thread::sleep(Duration::from_secs(60));
            }
            "ticker" => {
                std::thread::spawn(|| {
                    let mut out = std::io::stdout();
                    // SAFETY: plain call.
                    writeln!(out, "tid {}", unsafe { GetCurrentThreadId() }).unwrap();
                    out.flush().unwrap();
                    loop {
                        if out.write_all(b".").and_then(|_| out.flush()).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                });
                std::thread::sleep(Duration::from_secs(60));
            }
            _ => {}
        }
        std::process::exit(0)
    }

    /// A child in `mode`, and the thread ids it printed before `ready` (or the first
    /// one, for `ticker`); the reader of the rest of its stdout.
    struct Kid {
        c: Child,
        tids: Vec<Tid>,
        rest: Option<BufReader<std::process::ChildStdout>>,
    }

    impl Drop for Kid {
        fn drop(&mut self) {
            let _ = self.c.kill();
            let _ = self.c.wait();
        }
    }

    fn kid(mode: &str, lines: usize) -> Result<Kid, String> {
        let mut c = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_VAR, mode)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut rest = BufReader::new(c.take_stdout().unwrap());
        let mut tids = Vec::new();
        for _ in 0..lines {
            let mut l = String::new();
            rest.read_line(&mut l).map_err(|e| e.to_string())?;
            if let Some(t) = l.trim().strip_prefix("tid ") {
                tids.push(t.parse::<u32>().ok().and_then(Tid::new).ok_or(l.clone())?);
            }
        }
        Ok(Kid {
            c,
            tids,
            rest: Some(rest),
        })
    }

    fn threads_listed() -> TestResult {
        let k = t!(kid("threads:3", 4));
        let list = t!(k.c.threads());
        let listed: Vec<Tid> = list.iter().map(|t| t.tid).collect();
        for tid in &k.tids {
            check!(listed.contains(tid), "thread {tid} not in {listed:?}");
        }
        let start = t!(k.c.start_time());
        let mut outcome = Pass;
        for i in &list {
            check!(!i.affinity.is_empty(), "thread {} has no CPUs", i.tid);
            if i.start.raw < start.raw {
                let what = format!(
                    "thread {} created {} ms before its process (GetThreadTimes vs \
                     GetProcessTimes creation times)",
                    i.tid,
                    (start.raw - i.start.raw) / 10_000
                );
                if wine_version().is_none() {
                    return Err(what);
                }
                outcome = NotVerifiableUnderWine(what);
            }
        }
        // Opened one by one, each belongs to the child.
        for tid in &k.tids {
            let th = t!(k.c.thread(*tid));
            check!(th.pid() == k.c.pid(), "pid");
            check!(th.is_running(), "running");
            check!(t!(th.process()).pid() == k.c.pid(), "process");
            let again = t!(corral::Thread::open(*tid));
            check!(again.pid() == k.c.pid(), "Thread::open pid");
            check!(
                t!(again.start_time()) == t!(th.start_time()),
                "same thread, same start"
            );
        }
        // A thread of another process is not this one's.
        let me = t!(Process::current());
        let e = me.thread(k.tids[0]).unwrap_err();
        check!(e.kind() == ErrorKind::NoSuchProcess, "{e}");
        Ok(outcome)
    }

    fn priority_levels() -> TestResult {
        let k = t!(kid("threads:1", 2));
        let th = t!(k.c.thread(k.tids[0]));
        check!(
            t!(th.priority()) == ThreadPriority::Normal,
            "{:?}",
            th.priority()
        );
        for l in ThreadPriority::ALL {
            t!(th.set_priority(l));
            let got = t!(th.priority());
            check!(got == l, "set {l:?}, read {got:?}");
        }
        let e = th.set_scheduler(corral::SchedPolicy::Fifo, 10).unwrap_err();
        check!(e.kind() == ErrorKind::Unsupported, "{e}");
        Ok(Pass)
    }

    fn thread_affinity() -> TestResult {
        let k = t!(kid("threads:1", 2));
        let th = t!(k.c.thread(k.tids[0]));
        let all = t!(k.c.cpu_affinity());
        t!(th.set_cpu_affinity(&[all[0]]));
        let got = t!(th.cpu_affinity());
        if got != [all[0]] {
            if wine_version().is_some() {
                return Ok(NotVerifiableUnderWine(format!(
                    "thread affinity read back as {got:?} after setting {:?}",
                    [all[0]]
                )));
            }
            return Err(format!("set [{}], read {got:?}", all[0]));
        }
        // The other threads keep theirs.
        let others = t!(k.c.threads());
        check!(
            others
                .iter()
                .filter(|t| t.tid != k.tids[0])
                .all(|t| t.affinity == all),
            "{others:?}"
        );
        let e = th.set_cpu_affinity(&[]).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        Ok(Pass)
    }

    /// corral's CPU numbers run 0..N over the whole machine (across processor groups),
    /// the same in the topology and every affinity call; CPU N is refused everywhere
    /// with the valid range named, before anything changes; the last CPU round-trips.
    fn affinity_across_the_machine() -> TestResult {
        let topo = t!(corral::system::topology());
        let n = topo.online.len();
        check!(n > 0);
        check!(
            topo.online == (0..n as u32).collect::<Vec<_>>(),
            "online CPUs {:?} are not 0..{n}",
            topo.online
        );
        let range = format!("CPU {n} is beyond this machine's CPUs (0..{n})");
        let k = t!(kid("threads:1", 2));
        let all = t!(k.c.cpu_affinity());
        check!(
            !all.is_empty() && all.iter().all(|&c| c < n),
            "process affinity {all:?} outside 0..{n}"
        );
        let e = k.c.set_cpu_affinity(&[0, n]).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains(&range), "{e}");
        check!(
            t!(k.c.cpu_affinity()) == all,
            "a refused list changed the affinity"
        );
        let th = t!(k.c.thread(k.tids[0]));
        let e = th.set_cpu_affinity(&[n]).unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains(&range), "{e}");
        let e = Command::new(std::env::current_exe().unwrap())
            .cpu_affinity(&[n])
            .spawn()
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(e.to_string().contains(&range), "{e}");
        // The job's portable check counts the topology's CPUs.
        let e = corral::Job::create_with_limits(None, &corral::JobLimits::new().affinity(&[n]))
            .unwrap_err();
        check!(e.kind() == ErrorKind::InvalidInput, "{e}");
        check!(
            e.to_string()
                .contains(&format!("CPU {n} does not exist ({n} CPUs)")),
            "{e}"
        );
        // The highest CPU the process may use, for the process and then one thread.
        let last = *all.last().unwrap();
        t!(k.c.set_cpu_affinity(&[last]));
        let got = t!(k.c.cpu_affinity());
        check!(got == [last], "set [{last}], read {got:?}");
        t!(th.set_cpu_affinity(&[last]));
        let got = t!(th.cpu_affinity());
        check!(got == [last], "thread: set [{last}], read {got:?}");
        Ok(Pass)
    }

    fn suspend_resume() -> TestResult {
        let mut k = t!(kid("ticker", 1));
        let th = t!(k.c.thread(k.tids[0]));
        let mut rest = k.rest.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 256];
            while let Ok(n) = rest.read(&mut b) {
                if n == 0 || tx.send(n).is_err() {
                    return;
                }
            }
        });
        t!(rx.recv_timeout(Duration::from_secs(10)));
        t!(th.suspend());
        // Drain what was in flight, then nothing comes while it is suspended.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(200) {
            let _ = rx.recv_timeout(Duration::from_millis(20));
        }
        let quiet = rx.recv_timeout(Duration::from_millis(400));
        check!(quiet.is_err(), "the suspended thread wrote");
        check!(k.c.is_running(), "the process still runs");
        t!(th.resume());
        t!(rx.recv_timeout(Duration::from_secs(10)));
        // Resuming a thread that is not suspended is harmless (count stays 0).
        t!(th.resume());
        Ok(Pass)
    }

    /// Thread state and wait reason, and context switches, from
    /// `SystemProcessInformation`: a suspended thread is `Stopped`, a sleeping one
    /// `Sleeping`; a thread waking every 10 ms switches ever more.
    fn states_and_switches() -> TestResult {
        let k = t!(kid("ticker", 1));
        let ticker = k.tids[0];
        let th = t!(k.c.thread(ticker));
        let of = |list: &[corral::ThreadInfo]| list.iter().find(|t| t.tid == ticker).cloned();
        let first = t!(of(&t!(k.c.threads())).ok_or("the ticker is not listed"));
        std::thread::sleep(Duration::from_millis(300));
        let later = t!(of(&t!(k.c.threads())).ok_or("the ticker is not listed"));
        let total = t!(k.c.num_ctx_switches());
        let mut unverifiable = Vec::new();
        if later.ctx_switches.voluntary == 0 {
            if wine_version().is_none() {
                return Err(format!("a ticking thread has {:?}", later.ctx_switches));
            }
            unverifiable.push("context switches (Wine counts none)".to_string());
        } else {
            check!(
                later.ctx_switches.voluntary > first.ctx_switches.voluntary,
                "the ticker switched {} then {} times",
                first.ctx_switches.voluntary,
                later.ctx_switches.voluntary
            );
            check!(
                total.voluntary >= later.ctx_switches.voluntary,
                "process {total:?} < its thread's {:?}",
                later.ctx_switches
            );
        }
        check!(
            later.ctx_switches.involuntary == 0 && total.involuntary == 0,
            "involuntary"
        );
        t!(th.suspend());
        let suspended = t!(of(&t!(k.c.threads())).ok_or("the ticker is not listed"));
        let main_tid = t!(k.c.threads())
            .into_iter()
            .filter(|t| t.tid != ticker)
            .map(|t| t.status)
            .collect::<Vec<_>>();
        t!(th.resume());
        if suspended.status != corral::Status::Stopped {
            if wine_version().is_none() {
                return Err(format!("a suspended thread is {:?}", suspended.status));
            }
            unverifiable.push(format!(
                "thread states (Wine says {:?} for a suspended thread)",
                suspended.status
            ));
        } else {
            // The main thread sleeps (its other threads, the runtime's, wait too).
            check!(
                main_tid.iter().all(|s| *s == corral::Status::Sleeping),
                "the other threads: {main_tid:?}"
            );
        }
        if unverifiable.is_empty() {
            Ok(Pass)
        } else {
            Ok(NotVerifiableUnderWine(unverifiable.join("; ")))
        }
    }

    fn exited_thread() -> TestResult {
        let mut k = t!(kid("threads:1", 2));
        let th = t!(k.c.thread(k.tids[0]));
        t!(k.c.kill());
        t!(k.c.wait());
        check!(!th.is_running(), "still running");
        let e = th.priority().unwrap_err();
        check!(e.kind() == ErrorKind::NoSuchProcess, "{e}");
        let e = th.suspend().unwrap_err();
        check!(e.kind() == ErrorKind::NoSuchProcess, "{e}");
        Ok(Pass)
    }

    pub(super) fn main() {
        if let Ok(mode) = std::env::var(CHILD_VAR) {
            child_main(&mode);
        }
        let tests: &[Test] = &[
            ("threads_listed", threads_listed),
            ("priority_levels", priority_levels),
            ("thread_affinity", thread_affinity),
            ("affinity_across_the_machine", affinity_across_the_machine),
            ("suspend_resume", suspend_resume),
            ("exited_thread", exited_thread),
            ("states_and_switches", states_and_switches),
        ];
        run("windows_threads", tests);
    }
}
