//! `/proc/PID/cgroup`: the cgroups a process belongs to, one hierarchy per line.
//!
//! A line is `hierarchy-id:controllers:path`. Cgroup v2 has the single line `0::/path`;
//! v1 hierarchies list their controllers (`4:memory:/a`, `2:cpu,cpuacct:/x`) or a name
//! (`9:name=systemd:/`). Only the first two colons separate fields, since a cgroup path
//! may itself contain `:`.

use super::parse_u64;
use super::text::lines;
use crate::info::CgroupMembership;

/// Parses a `cgroup` file into one membership per line, in file order.
///
/// Empty lines are skipped and an empty file gives an empty list. Returns `None` when a
/// line lacks two colons or its hierarchy id is not a decimal `u32`. Controllers are
/// split at `,` (an empty field gives no controllers); the path is kept exactly (lossily
/// converted to UTF-8).
pub fn parse(buf: &[u8]) -> Option<Vec<CgroupMembership>> {
    let mut out = Vec::new();
    for line in lines(buf) {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, |&c| c == b':');
        let id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let hierarchy = u32::try_from(parse_u64(id)?).ok()?;
        let controllers = if controllers.is_empty() {
            Vec::new()
        } else {
            controllers
                .split(|&c| c == b',')
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect()
        };
        out.push(CgroupMembership {
            hierarchy,
            controllers,
            path: String::from_utf8_lossy(path).into_owned(),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const V1V2: &[u8] = include_bytes!("../../../../testdata/cgroup_v1v2");

    fn m(hierarchy: u32, controllers: &[&str], path: &str) -> CgroupMembership {
        CgroupMembership {
            hierarchy,
            controllers: controllers.iter().map(|s| s.to_string()).collect(),
            path: path.into(),
        }
    }

    #[test]
    fn fixture_hybrid() {
        assert_eq!(
            parse(V1V2),
            Some(vec![
                m(9, &["name=systemd"], "/"),
                m(8, &["pids"], "/"),
                m(7, &["blkio"], "/"),
                m(6, &["freezer"], "/"),
                m(5, &["devices"], "/"),
                m(
                    4,
                    &["memory"],
                    "/process_api/72a0845e6658b410d6c15ec754710796"
                ),
                m(3, &["cpuset"], "/"),
                m(2, &["cpuacct"], "/"),
                m(1, &["cpu"], "/"),
                m(0, &[], "/"),
            ])
        );
    }

    #[test]
    fn pure_v2_and_odd_paths() {
        assert_eq!(
            parse(b"0::/user.slice/user-1000.slice/session-2.scope\n"),
            Some(vec![m(
                0,
                &[],
                "/user.slice/user-1000.slice/session-2.scope"
            )])
        );
        assert_eq!(
            parse(b"2:cpu,cpuacct:/x\n12:rdma:/\n"),
            Some(vec![m(2, &["cpu", "cpuacct"], "/x"), m(12, &["rdma"], "/")])
        );
        // Colons and spaces in the path, a cgroup-namespace path, no final newline.
        assert_eq!(
            parse(b"0::/a:b c:/d\n1:name=x:/../../outside"),
            Some(vec![
                m(0, &[], "/a:b c:/d"),
                m(1, &["name=x"], "/../../outside")
            ])
        );
        assert_eq!(parse(b"0::\n"), Some(vec![m(0, &[], "")]));
        assert_eq!(parse(b""), Some(vec![]));
        assert_eq!(parse(b"\n\n0::/\n\n"), Some(vec![m(0, &[], "/")]));
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b"0:/\n"), None);
        assert_eq!(parse(b"x::/\n"), None);
        assert_eq!(parse(b"-1::/\n"), None);
        assert_eq!(parse(b"::/\n"), None);
        assert_eq!(parse(b"4294967296::/\n"), None);
        assert_eq!(parse(b"0::/\ngarbage\n"), None);
        // Truncated in the middle of a line.
        let cut = parse(&V1V2[..V1V2.len() - 2]).unwrap();
        assert_eq!((cut.len(), cut[9].path.as_str()), (10, ""));
        assert_eq!(parse(&V1V2[..3]), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn round_trips(
            id in any::<u32>(),
            ctl in proptest::collection::vec("[a-z_=]{1,8}", 0..4),
            path in "/[^\n]{0,40}",
        ) {
            let line = format!("{id}:{}:{path}\n", ctl.join(","));
            let got = parse(line.as_bytes()).unwrap();
            prop_assert_eq!(got, vec![CgroupMembership { hierarchy: id, controllers: ctl, path }]);
        }
    }
}
