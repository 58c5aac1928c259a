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

/// Whether job `name`'s memory is a v1 memory cgroup (where the kernel notifies memory
/// thresholds); prints the skip reason when not.
fn v1_memory(name: &str) -> bool {
    let v2_memory =
        integration::cgroups::v2_job_dir(name).is_some_and(|d| d.join("memory.stat").exists());
    match integration::cgroups::v1_job_dir(name, "memory") {
        Some(d) if !v2_memory && d.join("cgroup.event_control").exists() => true,
        _ => {
            integration::print_skip("the job has no v1 memory cgroup with cgroup.event_control");
            false
        }
    }
}

/// The next `NotificationLimit` within `timeout`, and every other event before it.
fn next_notification(
    ev: &mut corral::JobEvents,
    timeout: Duration,
) -> (Option<NotificationLimit>, Vec<JobEvent>) {
    let mut other = Vec::new();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match ev.next_timeout(Some(left)).expect("job events") {
            Some(JobEvent::NotificationLimit { limit }) => return (Some(limit), other),
            Some(e) => other.push(e),
            None => return (None, other),
        }
    }
}

#[test]
fn v1_memory_threshold_reports_an_allocation_and_kills_nothing() {
    integration::require_root!("creates cgroups");
    let name = unique_name("ntfm");
    let mut job = JobGuard::new(Job::create(Some(&name)).expect("create job"));
    if !v1_memory(&name) {
        return;
    }
    job.set_notification_limits(&JobNotificationLimits::new().job_memory(32 << 20))
        .expect("set notification limits");
    let mut events = job.events().expect("watch events");
    // 64 MiB touched in one go, then it sleeps.
    let mut child = Command::new(testbin_path())
        .args(["--alloc-mb", "64"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .job(&job)
        .spawn()
        .expect("spawn into job");
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("alloc_mb=64"), "{line:?}");
    let (got, other) = next_notification(&mut events, Duration::from_secs(10));
    assert_eq!(got, Some(NotificationLimit::JobMemory), "{other:?}");
    assert!(
        job.accounting().unwrap().memory.unwrap() >= 32 << 20,
        "the member holds its 64 MiB"
    );
    // Nothing killed: the member still runs, no memory event, no exit.
    assert_eq!(child.try_wait().unwrap(), None, "the member must live");
    assert!(
        !other.iter().any(|e| matches!(
            e,
            JobEvent::MemoryLimit { .. }
                | JobEvent::OomKill { .. }
                | JobEvent::ProcessExit { .. }
                | JobEvent::AbnormalExit { .. }
        )),
        "{other:?}"
    );
    // Reported once: nothing more while it holds the memory.
    let (again, _) = next_notification(&mut events, Duration::from_millis(300));
    assert_eq!(again, None);
    job.terminate().unwrap();
    let _ = child.wait();
}

/// Brief spikes over the limit: the member maps 24 MiB (huge pages where the kernel has
/// them: a spike takes a few ms), touches it and unmaps it at once, up to five times with
/// 100 ms pauses, with the limit 2 MiB below the peak. The kernel checks v1 thresholds
/// every 128 page charges or uncharges per CPU, so a spike crosses the threshold where the
/// kernel looks (512 pages over it): the threshold reports the first one. A sampler that
/// has backed off to 50 ms while the usage stood still sees the usage above the limit
/// only if a sample falls into the fraction of a millisecond a spike spends there: with
/// the threshold disabled (the 5–50 ms sampler watching instead) this test failed 10 of
/// 12 runs here.
#[test]
fn v1_memory_threshold_reports_spikes_between_samples() {
    integration::require_root!("creates cgroups");
    use std::io::Write as _;
    let name = unique_name("ntfs");
    let mut job = JobGuard::new(Job::create(Some(&name)).expect("create job"));
    if !v1_memory(&name) {
        return;
    }
    let mut child = Command::new(testbin_path())
        .args(["--spike-on-stdin", "24"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .job(&job)
        .spawn()
        .expect("spawn into job");
    let mut stdin = child.take_stdin().unwrap();
    let mut out = BufReader::new(child.take_stdout().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("ready "), "{line:?}");
    // Once to let the usage settle (page tables, the stdout buffer), then measure.
    writeln!(stdin, "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("spiked "), "{line:?}");
    std::thread::sleep(Duration::from_millis(50));
    let base = job.accounting().unwrap().memory.unwrap();
    let limit = base + (22 << 20);
    job.set_notification_limits(&JobNotificationLimits::new().job_memory(limit))
        .expect("set notification limits");
    let mut events = job.events().expect("watch events");
    let mut spikes = Vec::new();
    let mut got = None;
    let mut other = Vec::new();
    for _ in 0..5 {
        writeln!(stdin, "go").unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        spikes.push(line.trim().to_owned());
        let (n, o) = next_notification(&mut events, Duration::from_millis(100));
        other.extend(o);
        if n.is_some() {
            got = n;
            break;
        }
    }
    let now = job.accounting().unwrap().memory.unwrap();
    assert!(
        now < limit,
        "the usage is back below the limit: {now} vs {limit}"
    );
    assert_eq!(
        got,
        Some(NotificationLimit::JobMemory),
        "no report after {spikes:?} (base {base}, limit {limit}); other events {other:?}"
    );
    assert_eq!(spikes.len(), 1, "the first spike is reported: {spikes:?}");
    assert_eq!(child.try_wait().unwrap(), None, "the member must live");
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
