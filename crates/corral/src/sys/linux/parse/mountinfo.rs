//! `/proc/PID/mountinfo`: where the cgroup hierarchies are mounted.
//!
//! A line is `id parent major:minor root mount-point mount-options [optional...] - fstype
//! source super-options`. Paths escape space, tab, newline and backslash as `\ooo`
//! (octal). Only `cgroup` (v1) and `cgroup2` mounts are kept; a v1 mount's controllers
//! are its super options minus the generic ones (`rw`, `ro`, `clone_children`, …), with
//! `name=X` kept for named hierarchies.

use super::text::lines;

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// `true` for `cgroup2`, `false` for a v1 `cgroup` mount.
    pub v2: bool,
    /// The cgroup of the hierarchy that is mounted there (`/` for the hierarchy's root).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// v1: the controllers bound to the hierarchy (and `name=X`); v2: empty.
    pub controllers: Vec<String>,
    /// Whether the mount is read-only.
    pub read_only: bool,
}

/// Super options of a v1 cgroup mount that are not controllers.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "clone_children",
    "noprefix",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
    "nsdelegate",
    "memory_localevents",
    "memory_recursiveprot",
    "memory_hugetlb_accounting",
    "pids_localevents",
];

/// Undoes the kernel's `\ooo` escaping of a mountinfo path.
fn unescape(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a `mountinfo` file and returns its cgroup mounts, in file order.
///
/// Returns `None` when a line has fewer than five fields before the `-` separator or
/// nothing after it.
pub fn parse_cgroup_mounts(buf: &[u8]) -> Option<Vec<CgroupMount>> {
    let mut out = Vec::new();
    for line in lines(buf) {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
        let sep = fields.iter().position(|f| *f == b"-")?;
        if sep < 6 || fields.len() < sep + 3 {
            return None;
        }
        let fstype = fields[sep + 1];
        let v2 = match fstype {
            b"cgroup2" => true,
            b"cgroup" => false,
            _ => continue,
        };
        let mount_opts = fields[5];
        let super_opts = fields[sep + 3];
        let read_only = mount_opts.split(|&c| c == b',').any(|o| o == b"ro")
            || super_opts.split(|&c| c == b',').any(|o| o == b"ro");
        let controllers = if v2 {
            Vec::new()
        } else {
            super_opts
                .split(|&c| c == b',')
                .filter(|o| !o.is_empty())
                .map(|o| String::from_utf8_lossy(o).into_owned())
                .filter(|o| {
                    !NOT_CONTROLLERS.contains(&o.as_str())
                        && (!o.contains('=') || o.starts_with("name="))
                })
                .collect()
        };
        out.push(CgroupMount {
            v2,
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            controllers,
            read_only,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HYBRID: &[u8] = include_bytes!("../../../../testdata/mountinfo_hybrid");

    fn v1(point: &str, ctl: &[&str]) -> CgroupMount {
        CgroupMount {
            v2: false,
            root: "/".into(),
            mount_point: point.into(),
            controllers: ctl.iter().map(|s| s.to_string()).collect(),
            read_only: false,
        }
    }

    #[test]
    fn fixture_hybrid() {
        let got = parse_cgroup_mounts(HYBRID).unwrap();
        assert_eq!(
            got,
            vec![
                v1("/sys/fs/cgroup/cpu", &["cpu"]),
                v1("/sys/fs/cgroup/cpuacct", &["cpuacct"]),
                v1("/sys/fs/cgroup/cpuset", &["cpuset"]),
                v1("/sys/fs/cgroup/memory", &["memory"]),
                v1("/sys/fs/cgroup/devices", &["devices"]),
                v1("/sys/fs/cgroup/freezer", &["freezer"]),
                v1("/sys/fs/cgroup/blkio", &["blkio"]),
                v1("/sys/fs/cgroup/pids", &["pids"]),
                v1("/sys/fs/cgroup/systemd", &["name=systemd"]),
                CgroupMount {
                    v2: true,
                    root: "/".into(),
                    mount_point: "/sys/fs/cgroup/unified".into(),
                    controllers: vec![],
                    read_only: false,
                },
            ]
        );
    }

    #[test]
    fn pure_v2_systemd_and_escapes() {
        let buf = b"25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n\
26 30 0:23 / /proc rw,nosuid - proc proc rw\n\
40 25 0:22 /user.slice /mnt/my\\040cg ro,relatime master:1 - cgroup2 cgroup2 rw\n\
41 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw shared:2 - cgroup cgroup rw,cpu,cpuacct,release_agent=/x,clone_children\n";
        let got = parse_cgroup_mounts(buf).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].v2 && got[0].mount_point == "/sys/fs/cgroup" && !got[0].read_only);
        assert_eq!(got[1].mount_point, "/mnt/my cg");
        assert_eq!(got[1].root, "/user.slice");
        assert!(got[1].read_only);
        assert_eq!(got[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(parse_cgroup_mounts(b""), Some(vec![]));
    }

    #[test]
    fn malformed() {
        assert_eq!(parse_cgroup_mounts(b"25 30 0:22 / /x rw\n"), None);
        assert_eq!(parse_cgroup_mounts(b"25 30 0:22 / /x rw - cgroup2\n"), None);
        assert_eq!(parse_cgroup_mounts(b"- cgroup2 cgroup2 rw\n"), None);
        assert_eq!(unescape(b"a\\"), "a\\");
        assert_eq!(unescape(b"a\\04"), "a\\04");
        assert_eq!(unescape(b"a\\777"), "a\\777");
        assert_eq!(unescape(b"\\134x"), "\\x");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_cgroup_mounts(&bytes);
        }

        #[test]
        fn unescape_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = unescape(&bytes);
        }
    }
}
