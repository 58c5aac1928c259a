//! `/proc/tty/drivers` and turning a `tty_nr` (from `stat`) into a device path.
//!
//! Each line reads `driver-name  /dev/name  major  minor-or-range  type`, e.g.
//! `serial /dev/ttyS 4 64-95 serial` or `pty_slave /dev/pts 136 0-1048575 pty:slave`.
//! The kernel lists its pseudo-devices first (`/dev/tty`, `/dev/console`, `/dev/ptmx`,
//! `/dev/vc/0`, type `system…`); for those the path *is* the device. For the others it is
//! a prefix the line number is appended to (`/dev/ttyS` + 0).

use super::text::{fields, lines};

/// One line of `/proc/tty/drivers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtyDriver {
    /// The second column: a device path (`/dev/console`) or a name prefix (`/dev/ttyS`,
    /// `/dev/pts`).
    pub path: String,
    /// Device major number.
    pub major: u32,
    /// First minor number served.
    pub minor_start: u32,
    /// Last minor number served (equal to `minor_start` for a single device).
    pub minor_end: u32,
    /// Whether `path` names the one device itself rather than a prefix: a single minor of
    /// type `system…` (the pseudo-devices) or `console` (`ttyprintk`, `ttynull`).
    pub unnumbered: bool,
}

/// Parses `/proc/tty/drivers`, skipping lines it cannot read.
///
/// The path is the first field after the driver name that starts with `/dev/` and is
/// followed by a major number and a minor or `first-last` range, so driver names with
/// spaces do no harm. Reversed ranges are skipped.
pub fn parse_drivers(buf: &[u8]) -> Vec<TtyDriver> {
    lines(buf).filter_map(parse_line).collect()
}

fn parse_line(line: &[u8]) -> Option<TtyDriver> {
    let f: Vec<&[u8]> = fields(line).collect();
    (1..f.len()).find_map(|i| {
        let path = f[i];
        if !path.starts_with(b"/dev/") {
            return None;
        }
        let major = parse_u32(f.get(i + 1)?)?;
        let range = f.get(i + 2)?;
        let (minor_start, minor_end) = match range.iter().position(|&c| c == b'-') {
            Some(dash) => (parse_u32(&range[..dash])?, parse_u32(&range[dash + 1..])?),
            None => (parse_u32(range)?, parse_u32(range)?),
        };
        if minor_end < minor_start {
            return None;
        }
        let kind = f.get(i + 3).copied().unwrap_or_default();
        let unnumbered =
            minor_start == minor_end && (kind.starts_with(b"system") || kind == b"console");
        Some(TtyDriver {
            path: std::str::from_utf8(path).ok()?.to_owned(),
            major,
            minor_start,
            minor_end,
            unnumbered,
        })
    })
}

/// The device path of a controlling terminal, from the `tty_nr` field of `stat`.
///
/// `tty_nr` is the kernel's encoded device number: major `(tty_nr >> 8) & 0xfff`, minor
/// `(tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00)`. The first driver whose major matches
/// and whose range holds the minor names the device, following the kernel's own naming
/// (`tty_line_name`):
///
/// - an unnumbered driver: its path (`/dev/console`, `/dev/tty`);
/// - `/dev/pts`: `/dev/pts/N`, N the minor;
/// - the virtual consoles (major 4, `/dev/tty`, numbered from 1): `/dev/ttyN`, N the minor;
/// - any other: path + (minor − first minor), e.g. 4:64 → `/dev/ttyS0`, as the kernel
///   numbers lines from the start of the driver's range (procps appends the raw minor,
///   giving `/dev/ttyS64`, then checks it with `stat`).
///
/// Returns `None` for 0 (no terminal) and for a device no driver claims. The path is the
/// kernel's name; udev could in principle have named the node differently, and psutil
/// instead looks the number up among `/dev/tty*` and `/dev/pts/*` with `stat`. Legacy BSD
/// ptys (`/dev/ttyp0`) are not named correctly.
pub fn device_name(drivers: &[TtyDriver], tty_nr: u32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    let d = drivers
        .iter()
        .find(|d| d.major == major && (d.minor_start..=d.minor_end).contains(&minor))?;
    if d.unnumbered {
        return Some(d.path.clone());
    }
    if d.path == "/dev/pts" {
        return Some(format!("/dev/pts/{}", minor - d.minor_start));
    }
    let n = if d.major == 4 && d.path == "/dev/tty" {
        minor
    } else {
        minor - d.minor_start
    };
    // Old devfs-style names such as `/dev/tts/%d` carry the number's place in them.
    let prefix = d.path.strip_suffix("%d").unwrap_or(&d.path);
    Some(format!("{prefix}{n}"))
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    super::parse_u64(b).and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DRIVERS: &[u8] = include_bytes!("../../../../testdata/tty_drivers");
    /// A desktop-like list, hand-made from real lines of other machines.
    const DESKTOP: &[u8] = b"\
/dev/tty             /dev/tty        5       0 system:/dev/tty
/dev/console         /dev/console    5       1 system:console
/dev/ptmx            /dev/ptmx       5       2 system
/dev/vc/0            /dev/vc/0       4       0 system:vtmaster
ttyprintk            /dev/ttyprintk   5       3 console
usbserial            /dev/ttyUSB   188 0-511 serial
acm                  /dev/ttyACM   166 0-255 serial
max310x              /dev/ttyMAX   204 209-224 serial
hvc                  /dev/hvc      229 0-7 system
serial               /dev/ttyS       4 64-95 serial
pty_slave            /dev/pts      136 0-1048575 pty:slave
pty_master           /dev/ptm      128 0-1048575 pty:master
unknown              /dev/tty        4 1-63 console
";

    /// Encodes a device number the way `stat`'s `tty_nr` does (`new_encode_dev`).
    fn enc(major: u32, minor: u32) -> u32 {
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }

    fn d(path: &str, major: u32, minor_start: u32, minor_end: u32, unnumbered: bool) -> TtyDriver {
        TtyDriver {
            path: path.into(),
            major,
            minor_start,
            minor_end,
            unnumbered,
        }
    }

    #[test]
    fn fixture() {
        assert_eq!(
            parse_drivers(DRIVERS),
            vec![
                d("/dev/tty", 5, 0, 0, true),
                d("/dev/console", 5, 1, 1, true),
                d("/dev/ptmx", 5, 2, 2, true),
                d("/dev/vc/0", 4, 0, 0, true),
                // This machine has a single serial port: still a prefix.
                d("/dev/ttyS", 4, 64, 64, false),
                d("/dev/pts", 136, 0, 1048575, false),
                d("/dev/ptm", 128, 0, 1048575, false),
                d("/dev/tty", 4, 1, 63, false),
            ]
        );
    }

    #[test]
    fn names_on_this_machine() {
        let drv = parse_drivers(DRIVERS);
        let name = |maj, min| device_name(&drv, enc(maj, min));
        assert_eq!(device_name(&drv, 0), None);
        assert_eq!(device_name(&drv, 34816), Some("/dev/pts/0".into()));
        assert_eq!(name(136, 7), Some("/dev/pts/7".into()));
        assert_eq!(name(136, 300), Some("/dev/pts/300".into()));
        assert_eq!(enc(136, 300), 1_083_436);
        assert_eq!(name(136, 1048575), Some("/dev/pts/1048575".into()));
        // /dev/ttyS0 is 4:64 and /dev/tty1 is 4:1 here (checked with ls -l /dev).
        assert_eq!(name(4, 64), Some("/dev/ttyS0".into()));
        assert_eq!(name(4, 1), Some("/dev/tty1".into()));
        assert_eq!(name(4, 63), Some("/dev/tty63".into()));
        assert_eq!(name(4, 0), Some("/dev/vc/0".into()));
        assert_eq!(name(5, 0), Some("/dev/tty".into()));
        assert_eq!(name(5, 1), Some("/dev/console".into()));
        assert_eq!(name(4, 65), None);
        assert_eq!(name(188, 0), None);
        assert_eq!(device_name(&[], 34816), None);
    }

    #[test]
    fn names_on_a_desktop() {
        let drv = parse_drivers(DESKTOP);
        assert_eq!(drv.len(), 13);
        let name = |maj, min| device_name(&drv, enc(maj, min));
        assert_eq!(name(4, 64), Some("/dev/ttyS0".into()));
        assert_eq!(name(4, 95), Some("/dev/ttyS31".into()));
        assert_eq!(name(188, 3), Some("/dev/ttyUSB3".into()));
        assert_eq!(name(188, 300), Some("/dev/ttyUSB300".into()));
        assert_eq!(name(166, 0), Some("/dev/ttyACM0".into()));
        assert_eq!(name(204, 210), Some("/dev/ttyMAX1".into()));
        assert_eq!(name(229, 0), Some("/dev/hvc0".into()));
        assert_eq!(name(5, 3), Some("/dev/ttyprintk".into()));
        assert_eq!(name(5, 2), Some("/dev/ptmx".into()));
        assert_eq!(name(4, 7), Some("/dev/tty7".into()));
        assert_eq!(name(128, 4), Some("/dev/ptm4".into()));
    }

    #[test]
    fn odd_lines() {
        let drv = parse_drivers(
            b"my driver   /dev/ttyX   240 0-3 serial\n\
              devfs /dev/tts/%d 4 64-67 serial\n\
              bad /dev/ttyB 241 5-3 serial\n\
              bad /dev/ttyC x 0-3 serial\n\
              bad /dev/ttyD 242 0- serial\n\
              bad /dev/ttyE 243\n\
              /dev/ttyF\n\
              \n\
              notype /dev/ttyG 244 1\n",
        );
        assert_eq!(
            drv,
            vec![
                d("/dev/ttyX", 240, 0, 3, false),
                d("/dev/tts/%d", 4, 64, 67, false),
                d("/dev/ttyG", 244, 1, 1, false),
            ]
        );
        assert_eq!(device_name(&drv, enc(240, 2)), Some("/dev/ttyX2".into()));
        assert_eq!(device_name(&drv, enc(4, 65)), Some("/dev/tts/1".into()));
        assert_eq!(device_name(&drv, enc(244, 1)), Some("/dev/ttyG0".into()));
        assert_eq!(parse_drivers(b""), vec![]);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), nr in any::<u32>()) {
            let drv = parse_drivers(&bytes);
            let _ = device_name(&drv, nr);
        }

        #[test]
        fn any_tty_nr_never_panics(nr in any::<u32>()) {
            let drv = parse_drivers(DESKTOP);
            if let Some(p) = device_name(&drv, nr) {
                prop_assert!(p.starts_with("/dev/"));
            }
        }

        #[test]
        fn pts_round_trips(n in 0u32..1 << 20) {
            let drv = parse_drivers(DRIVERS);
            prop_assert_eq!(device_name(&drv, enc(136, n)), Some(format!("/dev/pts/{n}")));
        }
    }
}
