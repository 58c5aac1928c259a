//! Job events on the command line: `corral job events NAME` and `corral run --events`.

use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use corral::{Job, JobEvent, JobEvents};
use serde_json::{json, Value};

use crate::kill::status_json;
use crate::output::Out;
use crate::Failure;

/// `corral job events NAME`.
#[derive(Args, Debug)]
#[command(after_help = "\
Output: one line per event: seconds since the start, the event, the pid, details.
Once the watch is set up on a job with members (no later event can be missed), stderr
says so with the number of members.
Events: new-process, exit, abnormal-exit (killed by a signal), process-limit,
memory-limit, oom-kill, empty. Exits carry the exit code or signal where the system
tells it. cpu-time-limit is never seen here: the --cpu-time budget is enforced by the
corral process that set it (`corral run --cpu-time T --events` prints it). Which events
are exact and which best-effort is documented in the library (corral::job_events).
Windows: a job has one watcher at a time (its completion port; `corral run --events`
is one): another is refused until it ends.

Exit status: 0 once the job is empty; 1 when no such job exists; 2 for a bad name;
3 when the job's events cannot be read.")]
pub struct EventsArgs {
    /// The job's name.
    pub name: String,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `corral run` for job events.
#[derive(Args, Debug, Default)]
pub struct RunEventArgs {
    /// Run the program in a job and print the job's events to stderr as they happen
    /// (processes joining and exiting, limits hit — --cpu-time included —, out-of-memory
    /// kills), as JSON lines
    /// with --json. Whatever the program leaves running in the job is killed when it ends.
    #[arg(long)]
    pub events: bool,
}

/// One event as a JSON object.
pub fn event_json(ev: &JobEvent, secs: f64) -> Value {
    let mut v = json!({"time": (secs * 1e6).round() / 1e6, "event": ev.kind()});
    if let Some(p) = ev.pid() {
        v["pid"] = json!(p.as_raw());
    }
    if let Some(s) = ev.status() {
        v["status"] = status_json(&s);
    }
    match ev {
        JobEvent::ProcessLimit { count }
        | JobEvent::MemoryLimit { count }
        | JobEvent::OomKill { count } => v["count"] = json!(count),
        JobEvent::NotificationLimit { limit } => v["limit"] = json!(limit.name()),
        _ => {}
    }
    v
}

/// One event as a line of text (no newline).
pub fn event_text(ev: &JobEvent, secs: f64) -> String {
    let pid = ev.pid().map_or_else(|| "-".to_owned(), |p| p.to_string());
    let detail = match ev {
        JobEvent::ProcessExit { status, .. } | JobEvent::AbnormalExit { status, .. } => {
            status.to_string()
        }
        JobEvent::ProcessLimit { count } | JobEvent::MemoryLimit { count } => {
            format!("{count} time(s)")
        }
        JobEvent::OomKill { count } => format!("{count} killed"),
        JobEvent::NotificationLimit { limit } => format!("{} crossed", limit.name()),
        _ => String::new(),
    };
    format!("{secs:10.6}  {:<14} {pid:>8}  {detail}", ev.kind())
        .trim_end()
        .to_owned()
}

/// Opens an existing job for watching: a missing job is "no match", a bad name a usage
/// error.
fn open(name: &str) -> Result<Job, Failure> {
    Job::open(name).map_err(|e| {
        let missing = e.kind() == corral::ErrorKind::InvalidInput
            && e.detail().is_some_and(|d| d.starts_with("no job named"));
        if missing {
            Failure::no_match(e.to_string())
        } else {
            Failure::from_error(&e)
        }
    })
}

/// `corral job events NAME`.
pub fn events(a: EventsArgs) -> Result<(), Failure> {
    let job = open(&a.name)?;
    // Dropping it removes the job only if it is empty and no other handle is open.
    follow(&job, &a)
}

fn follow(job: &Job, a: &EventsArgs) -> Result<(), Failure> {
    let mut evs = job.events().map_err(|e| Failure::from_error(&e))?;
    let t0 = Instant::now();
    let mut out = Out::new();
    let mut emit = |ev: &JobEvent| -> Result<(), Failure> {
        let secs = t0.elapsed().as_secs_f64();
        if a.json {
            out.json(&event_json(ev, secs))?;
        } else {
            out.line(&event_text(ev, secs))?;
        }
        out.flush()?;
        Ok(())
    };
    let next = |evs: &mut corral::JobEvents, wait: Option<Duration>| {
        evs.next_timeout(wait)
            .map_err(|e| Failure::fatal(e.to_string()))
    };
    if job.is_empty().map_err(|e| Failure::from_error(&e))? {
        // Empty already, or emptied as the watch began: what the watch caught, then
        // the emptiness, once.
        while let Some(ev) = next(&mut evs, Some(Duration::ZERO))? {
            if ev == JobEvent::JobEmpty {
                break;
            }
            emit(&ev)?;
        }
        return emit(&JobEvent::JobEmpty);
    }
    // On stderr, once the events are subscribed and the job has members: every event
    // from here on is printed.
    let members = job
        .processes()
        .map_or_else(|_| "?".to_owned(), |p| p.len().to_string());
    eprintln!("corral: watching job {}: {members} member(s)", a.name);
    loop {
        let Some(ev) = next(&mut evs, None)? else {
            continue;
        };
        emit(&ev)?;
        if ev == JobEvent::JobEmpty {
            return Ok(());
        }
    }
}

/// The event printer of `corral run --events`: a thread printing to stderr.
pub struct RunEvents {
    /// Every event printed, as it is printed.
    seen: mpsc::Receiver<JobEvent>,
}

impl RunEvents {
    /// Starts printing `events` to stderr until the job is empty.
    pub fn start(mut events: JobEvents, json: bool) -> RunEvents {
        let (tx, seen) = mpsc::channel();
        let t0 = Instant::now();
        std::thread::spawn(move || {
            for ev in &mut events {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => {
                        let _ = writeln!(std::io::stderr().lock(), "corral: job events: {e}");
                        break;
                    }
                };
                let secs = t0.elapsed().as_secs_f64();
                let line = if json {
                    event_json(&ev, secs).to_string()
                } else {
                    format!("corral: job: {}", event_text(&ev, secs).trim_start())
                };
                let _ = writeln!(std::io::stderr().lock(), "{line}");
                let _ = tx.send(ev);
                if ev == JobEvent::JobEmpty {
                    break;
                }
            }
        });
        RunEvents { seen }
    }

    /// Once the program (`main`) has exited: waits (briefly) until its exit is printed,
    /// kills what is left of the job by dropping it (when it is the printer's own
    /// kill-on-close job), and waits (briefly) until the job's emptiness is printed.
    pub fn finish(self, main: corral::Pid, job: Option<Job>) {
        let empty = std::cell::Cell::new(false);
        let until = |deadline: Instant, stop: &dyn Fn(&JobEvent) -> bool| loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(ev) => {
                    if ev == JobEvent::JobEmpty {
                        empty.set(true);
                    }
                    if stop(&ev) {
                        return;
                    }
                }
                Err(_) => return,
            }
        };
        // Bounds for a printer that lags (a loaded machine); events normally arrive
        // within milliseconds, and nothing waits once they have.
        let grace = Duration::from_secs(5);
        until(Instant::now() + grace, &|ev| {
            *ev == JobEvent::JobEmpty || (ev.pid() == Some(main) && ev.status().is_some())
        });
        if let Some(j) = job.as_ref().filter(|j| !j.kills_on_close()) {
            let _ = j.terminate();
        }
        drop(job);
        if !empty.get() {
            until(Instant::now() + grace, &|ev| *ev == JobEvent::JobEmpty);
        }
    }
}

/// For `corral run --events`: the event printer of `job` (the job of the run's other
/// options), or of a kill-on-close job of its own, returned too; set up before the program
/// starts so no event is missed.
pub fn start_for_run(
    a: &RunEventArgs,
    json: bool,
    job: Option<&Job>,
) -> Result<Option<(Option<Job>, RunEvents)>, Failure> {
    if !a.events {
        return Ok(None);
    }
    let own = match job {
        Some(_) => None,
        // Without a writable cgroup, a process-group job (kill-on-close through its guard
        // there too); what it still holds when the program ends is terminated by `finish`.
        None => Some(match Job::builder().kill_on_close(true).create() {
            Ok(j) => {
                if j.backend() == corral::JobBackend::ProcessGroup {
                    eprintln!("corral: {}", crate::job::FALLBACK_NOTE);
                }
                j
            }
            Err(e) => return Err(Failure::fatal(format!("--events needs a job: {e}"))),
        }),
    };
    let watched = job.or(own.as_ref()).expect("a job");
    let evs = watched
        .events()
        .map_err(|e| Failure::fatal(e.to_string()))?;
    Ok(Some((own, RunEvents::start(evs, json))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral::{ExitStatus, Pid};

    #[test]
    fn formats() {
        let p = Pid::new(42).unwrap();
        let ev = JobEvent::ProcessExit {
            pid: p,
            status: ExitStatus::Exited(3),
        };
        assert_eq!(
            event_json(&ev, 1.5),
            json!({"time": 1.5, "event": "exit", "pid": 42, "status": {"code": 3}})
        );
        let t = event_text(&ev, 0.25);
        assert!(
            t.contains("exit") && t.contains("42") && t.contains("code 3"),
            "{t}"
        );
        assert_eq!(
            event_json(&JobEvent::OomKill { count: 2 }, 0.0)["count"],
            json!(2)
        );
        assert_eq!(event_json(&JobEvent::JobEmpty, 0.0)["event"], "empty");
    }
}
