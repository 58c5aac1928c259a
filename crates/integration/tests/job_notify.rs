//! Notification-only limits (`Job::set_notification_limits`): crossing one is reported as
//! `JobEvent::NotificationLimit`, once, and nothing is killed.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use corral::{Command, ErrorKind, Job, JobEvent, JobNotificationLimits, Limit, NotificationLimit};
use integration::cgroups::JobGuard;
use integration::{testbin_path, unique_name};

fn supported(l: Limit) -> bool {
    let caps = Job::capabilities();
    match caps.limits.iter().find(|s| s.limit == l).map(|s| &s.how) {
        Some(corral::Enforcement::Unsupported(why)) => {
            integration::print_skip(&format!("{} unsupported here: {why}", l.name()));
            false
        }
        _ => true,
    }
}

/// Every event until the job is empty (at most 30 s).
fn events_until_empty(ev: &mut corral::JobEvents) -> Vec<JobEvent> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match ev.next_timeout(Some(left)).expect("job events") {
            Some(JobEvent::JobEmpty) => return out,
            Some(e) => out.push(e),
            None => panic!("no JobEmpty within 30 s; events so far: {out:?}"),
        }
    }
}

#[test]
fn crossing_notification_limits_is_reported_once_and_kills_nothing() {
    integration::require_root!("creates cgroups");
    if !supported(Limit::JobMemory) || !supported(Limit::JobTime) {
        return;
    }
    let mut job = JobGuard::new(Job::create(Some(&unique_name("ntf"))).expect("create job"));
    job.set_notification_limits(
        &JobNotificationLimits::new()
            .job_memory(16 << 20)
            .job_cpu_time(Duration::from_millis(200))
            // Far beyond anything this test does: never reported.
            .io_write_bytes(1 << 40),
    )
    .or_else(|e| match e.kind() {
        // No block I/O accounting here: watch the other two.
        ErrorKind::Unsupported => job.set_notification_limits(
            &JobNotificationLimits::new()
                .job_memory(16 << 20)
                .job_cpu_time(Duration::from_millis(200)),
        ),
        _ => Err(e),
    })
    .expect("set notification limits");
    let mut events = job.events().expect("watch events");
    // 32 MiB touched, then burns CPU until 1.5 s of wall time have passed, then exits 0.
    let mut child = Command::new(testbin_path())
        .args(["--alloc-mb", "32", "--burn", "--sleep-ms", "1500"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .job(&job)
        .spawn()
        .expect("spawn into job");
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    let st = child.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(0),
        "a notification limit must not kill: {st:?}"
    );
    let evs = events_until_empty(&mut events);
    let notes: Vec<NotificationLimit> = evs
        .iter()
        .filter_map(|e| match e {
            JobEvent::NotificationLimit { limit } => Some(*limit),
            _ => None,
        })
        .collect();
    let count = |l| notes.iter().filter(|&&n| n == l).count();
    assert_eq!(count(NotificationLimit::JobMemory), 1, "{evs:?}");
    let a = job.accounting().unwrap();
    if a.total_time().unwrap() >= Duration::from_millis(250) {
        assert_eq!(count(NotificationLimit::JobCpuTime), 1, "{evs:?} {a:?}");
    } else {
        integration::print_skip("the burner got under 250 ms of CPU on this loaded machine");
    }
    assert_eq!(count(NotificationLimit::IoWriteBytes), 0, "{evs:?}");
    assert!(!job.cpu_time_limit_hit());
    assert!(!evs
        .iter()
        .any(|e| matches!(e, JobEvent::AbnormalExit { .. } | JobEvent::CpuTimeLimit)));
}

#[test]
fn bad_notification_limits_are_refused() {
    integration::require_root!("creates cgroups");
    let mut job = JobGuard::new(Job::create(Some(&unique_name("ntf"))).expect("create job"));
    for bad in [
        JobNotificationLimits::new().job_memory(0),
        JobNotificationLimits::new().job_cpu_time(Duration::ZERO),
        JobNotificationLimits::new().io_read_bytes(0),
    ] {
        let e = job.set_notification_limits(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
    }
    // Empty: no watcher, fine.
    job.set_notification_limits(&JobNotificationLimits::new())
        .unwrap();
}
