//! The caller's cgroup directories, found from `/proc/self/mountinfo` and
//! `/proc/self/cgroup` independently of the library, to check from outside what a job
//! created and removed.

use std::path::PathBuf;

/// The caller's cgroup directory in every mounted hierarchy: (is v2, controllers, dir).
pub fn own_dirs() -> Vec<(bool, Vec<String>, PathBuf)> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in mi.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, point) = (pre[3], pre[4]);
        let v2 = match post[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let ctl: Vec<String> = if v2 {
            vec![]
        } else {
            post[2]
                .split(',')
                .filter(|o| !o.contains('=') || o.starts_with("name="))
                .filter(|o| !["rw", "ro", "clone_children", "noprefix", "xattr"].contains(o))
                .map(String::from)
                .collect()
        };
        for l in cg.lines() {
            let mut it = l.splitn(3, ':');
            let (Some(_), Some(c), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let mut a: Vec<String> = c
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let mut b = ctl.clone();
            a.sort();
            b.sort();
            if a == b {
                let rest = path
                    .strip_prefix(root.trim_end_matches('/'))
                    .unwrap_or(path);
                out.push((v2, ctl.clone(), PathBuf::from(format!("{point}{rest}"))));
            }
        }
    }
    out
}

/// The directories of job `name` (`corral-NAME` below the caller's cgroups) that exist.
pub fn job_dirs(name: &str) -> Vec<PathBuf> {
    own_dirs()
        .into_iter()
        .map(|(_, _, d)| d.join(format!("corral-{name}")))
        .filter(|d| d.exists())
        .collect()
}

/// The job's directory in the v1 hierarchy carrying `controller`, if that exists.
pub fn v1_job_dir(name: &str, controller: &str) -> Option<PathBuf> {
    own_dirs()
        .into_iter()
        .find(|(v2, c, _)| !v2 && c.iter().any(|c| c == controller))
        .map(|(_, _, d)| d.join(format!("corral-{name}")))
        .filter(|d| d.exists())
}

/// The job's directory in the v2 hierarchy, if that exists.
pub fn v2_job_dir(name: &str) -> Option<PathBuf> {
    own_dirs()
        .into_iter()
        .find(|(v2, _, _)| *v2)
        .map(|(_, _, d)| d.join(format!("corral-{name}")))
        .filter(|d| d.exists())
}

/// Every `corral-*` directory below the caller's cgroups whose name contains `tag`.
pub fn leftovers(tag: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (_, _, d) in own_dirs() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("corral-") && n.contains(tag) {
                    out.push(e.path());
                }
            }
        }
    }
    out
}

/// Holds a job for a test: on drop (even when the test failed) thaws it, kills what is left
/// in it, drops it, and — unless the test is already panicking — checks that its cgroups are
/// gone.
#[derive(Debug)]
pub struct JobGuard(Option<corral::Job>);

impl JobGuard {
    /// Guards `job`.
    pub fn new(job: corral::Job) -> JobGuard {
        JobGuard(Some(job))
    }
}

impl std::ops::Deref for JobGuard {
    type Target = corral::Job;
    fn deref(&self) -> &corral::Job {
        self.0.as_ref().expect("guarded job")
    }
}

impl std::ops::DerefMut for JobGuard {
    fn deref_mut(&mut self) -> &mut corral::Job {
        self.0.as_mut().expect("guarded job")
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let Some(job) = self.0.take() else { return };
        let name = job.name().to_owned();
        let _ = job.thaw();
        let _ = job.terminate();
        drop(job);
        let left = job_dirs(&name);
        if !std::thread::panicking() {
            assert!(left.is_empty(), "job cgroups left behind: {left:?}");
        }
    }
}
