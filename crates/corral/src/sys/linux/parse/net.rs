//! `/proc/net/{tcp,tcp6,udp,udp6}` and `/proc/net/unix`: the sockets of a network
//! namespace.
//!
//! Inet lines read `sl: local remote st tx:rx tr:when retrnsmt uid timeout inode …`.
//! Addresses are the kernel's 32-bit words printed with `%08X` in *host* byte order (one
//! word for IPv4, four for IPv6), followed by `:` and the port in hex (already in host
//! order). Unix lines read `Num: RefCount Protocol Flags Type St Inode [Path]`, and the
//! path is the rest of the line after one space (it may contain spaces; abstract names
//! start with `@`, with any NUL in them shown as `@` too).
//!
//! Both parsers skip any line they cannot read (the header, a line cut short) instead of
//! failing: one odd socket must not hide all the others.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use super::parse_u64;
use super::text::{lines, next_field, parse_hex_u64};
use crate::info::{Family, SocketType, TcpState};

/// One line of `/proc/net/tcp*` or `/proc/net/udp*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetSocket {
    /// Local address and port (port 0 when unbound).
    pub local: SocketAddr,
    /// Remote address and port (`0.0.0.0:0` or `[::]:0` when not connected; psutil shows
    /// that as an empty tuple).
    pub remote: SocketAddr,
    /// TCP state; [`TcpState::None`] for every datagram socket, whatever the file says.
    pub state: TcpState,
    /// Socket inode: the link target `socket:[INODE]` of the owning descriptor (0 for
    /// `TIME_WAIT` entries, which no descriptor owns).
    pub inode: u64,
    /// Owner's uid.
    pub uid: u32,
}

/// One line of `/proc/net/unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    /// Socket inode.
    pub inode: u64,
    /// [`SocketType::Stream`], [`SocketType::Datagram`] or [`SocketType::SeqPacket`].
    pub kind: SocketType,
    /// Bound path; empty when unbound, `@name` for abstract sockets (as the file shows).
    pub path: String,
    /// Whether the socket is listening (flag `__SO_ACCEPTCON`, `00010000`).
    pub listening: bool,
}

/// Parses `/proc/net/tcp`, `tcp6`, `udp` or `udp6`.
///
/// `family` says which address width to expect ([`Family::Inet`] for `tcp`/`udp`,
/// [`Family::Inet6`] for `tcp6`/`udp6`; [`Family::Unix`] gives an empty list). `kind`
/// decides the state: [`SocketType::Stream`] maps codes `01` (`ESTABLISHED`) to `0C`
/// (`NEW_SYN_RECV`) to [`TcpState`] and skips lines with any other code; any other kind
/// gets [`TcpState::None`]. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) stay IPv6, as
/// psutil shows them. The scope id of link-local IPv6 addresses is not in the file and
/// is left 0.
pub fn parse_inet(buf: &[u8], family: Family, kind: SocketType) -> Vec<InetSocket> {
    if family == Family::Unix {
        return Vec::new();
    }
    lines(buf)
        .filter_map(|line| parse_inet_line(line, family, kind))
        .collect()
}

/// Parses `/proc/net/unix`; lines of unknown socket types are skipped.
pub fn parse_unix(buf: &[u8]) -> Vec<UnixSocket> {
    lines(buf).filter_map(parse_unix_line).collect()
}

fn parse_inet_line(line: &[u8], family: Family, kind: SocketType) -> Option<InetSocket> {
    let mut rest = line;
    let mut f = [&b""[..]; 10];
    for slot in &mut f {
        *slot = next_field(&mut rest)?;
    }
    let [sl, local, remote, st, _queues, _timer, _retr, uid, _timeout, inode] = f;
    parse_u64(sl.strip_suffix(b":")?)?;
    let local = parse_addr(local, family)?;
    let remote = parse_addr(remote, family)?;
    if st.len() != 2 {
        return None;
    }
    let code = parse_hex_u64(st)?;
    let state = if kind == SocketType::Stream {
        tcp_state(code)?
    } else {
        TcpState::None
    };
    Some(InetSocket {
        local,
        remote,
        state,
        inode: parse_u64(inode)?,
        uid: u32::try_from(parse_u64(uid)?).ok()?,
    })
}

/// The state for a kernel `TCP_*` code (`include/net/tcp_states.h`).
fn tcp_state(code: u64) -> Option<TcpState> {
    Some(match code {
        0x01 => TcpState::Established,
        0x02 => TcpState::SynSent,
        0x03 => TcpState::SynRecv,
        0x04 => TcpState::FinWait1,
        0x05 => TcpState::FinWait2,
        0x06 => TcpState::TimeWait,
        0x07 => TcpState::Close,
        0x08 => TcpState::CloseWait,
        0x09 => TcpState::LastAck,
        0x0A => TcpState::Listen,
        0x0B => TcpState::Closing,
        0x0C => TcpState::NewSynRecv,
        _ => return None,
    })
}

/// Parses `HEXADDR:HEXPORT`, the address being 8 (IPv4) or 32 (IPv6) hex digits made of
/// host-order 32-bit words.
fn parse_addr(field: &[u8], family: Family) -> Option<SocketAddr> {
    let colon = field.iter().position(|&c| c == b':')?;
    let (hex, port) = (&field[..colon], &field[colon + 1..]);
    if port.len() != 4 {
        return None;
    }
    let port = u16::try_from(parse_hex_u64(port)?).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = parse_hex_u64(hex.get(i * 8..i * 8 + 8)?)?;
        Some(u32::try_from(w).ok()?.to_ne_bytes())
    };
    match family {
        Family::Inet if hex.len() == 8 => Some(SocketAddr::from((Ipv4Addr::from(word(0)?), port))),
        Family::Inet6 if hex.len() == 32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(b),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

fn parse_unix_line(line: &[u8]) -> Option<UnixSocket> {
    let mut rest = line;
    let mut f = [&b""[..]; 7];
    for slot in &mut f {
        *slot = next_field(&mut rest)?;
    }
    let [num, _refcount, _protocol, flags, kind, _state, inode] = f;
    parse_hex_u64(num.strip_suffix(b":")?)?;
    let flags = parse_hex_u64(flags)?;
    let kind = match parse_hex_u64(kind)? {
        1 => SocketType::Stream,
        2 => SocketType::Datagram,
        5 => SocketType::SeqPacket,
        _ => return None,
    };
    let path = match rest.strip_prefix(b" ") {
        Some(p) => String::from_utf8_lossy(p).into_owned(),
        None if rest.is_empty() => String::new(),
        None => return None,
    };
    Some(UnixSocket {
        inode: parse_u64(inode)?,
        kind,
        path,
        listening: flags & 0x0001_0000 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TCP: &[u8] = include_bytes!("../../../../testdata/net_tcp");
    const TCP6: &[u8] = include_bytes!("../../../../testdata/net_tcp6");
    const UDP: &[u8] = include_bytes!("../../../../testdata/net_udp");
    const UDP6: &[u8] = include_bytes!("../../../../testdata/net_udp6");
    const UNIX: &[u8] = include_bytes!("../../../../testdata/net_unix");

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn sock(local: &str, remote: &str, state: TcpState, inode: u64) -> InetSocket {
        InetSocket {
            local: sa(local),
            remote: sa(remote),
            state,
            inode,
            uid: 0,
        }
    }

    // The fixtures were recorded on x86_64, so their words are little-endian.
    #[cfg(target_endian = "little")]
    #[test]
    fn tcp4_fixture() {
        use TcpState::*;
        assert_eq!(
            parse_inet(TCP, Family::Inet, SocketType::Stream),
            vec![
                sock("0.0.0.0:2024", "0.0.0.0:0", Listen, 1146),
                sock("127.0.0.1:43441", "0.0.0.0:0", Listen, 8880),
                // Bound with IP_FREEBIND to a non-local TEST-NET address.
                sock("192.0.2.1:8080", "0.0.0.0:0", Listen, 8881),
                // Accepted side that shut down its writes; its peer (last) is in CLOSE_WAIT.
                sock("127.0.0.1:43441", "127.0.0.1:32966", FinWait1, 8895),
                sock("127.0.0.1:53690", "127.0.0.1:42169", Established, 8890),
                sock("127.0.0.1:43441", "127.0.0.1:32954", Established, 8887),
                sock("127.0.0.1:32954", "127.0.0.1:43441", Established, 8886),
                // A TIME_WAIT line is shorter and has inode 0.
                sock("127.0.0.1:32964", "127.0.0.1:43441", TimeWait, 0),
                sock("127.0.0.1:32966", "127.0.0.1:43441", CloseWait, 8894),
            ]
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn tcp6_fixture() {
        use TcpState::*;
        assert_eq!(
            parse_inet(TCP6, Family::Inet6, SocketType::Stream),
            vec![
                sock("[2001:db8:85a3::8a2e:370:7334]:22", "[::]:0", Listen, 8884),
                sock("[::1]:45603", "[::]:0", Listen, 8882),
                sock("[2001:db8::1]:443", "[::]:0", Listen, 8883),
                sock("[::]:42169", "[::]:0", Listen, 8885),
                sock("[::1]:46458", "[::1]:45603", Established, 8888),
                sock("[::1]:45603", "[::1]:46458", Established, 8889),
                // An IPv4 client accepted by a dual-stack listener: v4-mapped.
                sock(
                    "[::ffff:127.0.0.1]:42169",
                    "[::ffff:127.0.0.1]:53690",
                    Established,
                    8891
                ),
            ]
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn udp_fixtures() {
        use TcpState::None;
        // The connected socket says 01 in the file; datagram sockets have no state.
        assert_eq!(
            parse_inet(UDP, Family::Inet, SocketType::Datagram),
            vec![
                sock("127.0.0.1:41148", "0.0.0.0:0", None, 8896),
                sock("127.0.0.1:48169", "127.0.0.1:41148", None, 8897),
            ]
        );
        assert_eq!(
            parse_inet(UDP6, Family::Inet6, SocketType::Datagram),
            vec![
                sock(
                    "[::ffff:127.0.0.1]:43023",
                    "[::ffff:127.0.0.1]:41148",
                    None,
                    8899
                ),
                sock("[::1]:32865", "[::]:0", None, 8898),
            ]
        );
    }

    /// Builds the kernel's text for an address on whatever host runs the test.
    fn kernel_hex(ip: std::net::IpAddr) -> String {
        let bytes: Vec<u8> = match ip {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        bytes
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect()
    }

    #[test]
    fn any_host_byte_order() {
        for (text, fam) in [
            ("10.1.2.3:80", Family::Inet),
            ("[fe80::1:2:3:4]:443", Family::Inet6),
            ("[::ffff:192.168.1.20]:5353", Family::Inet6),
        ] {
            let addr = sa(text);
            let line = format!(
                "  0: {}:{:04X} {}:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77 1 0000000000000000 100 0 0 10 0\n",
                kernel_hex(addr.ip()),
                addr.port(),
                kernel_hex(addr.ip()),
            );
            let got = parse_inet(line.as_bytes(), fam, SocketType::Stream);
            assert_eq!(got.len(), 1, "{line}");
            assert_eq!(got[0].local, addr);
            assert_eq!(got[0].remote.port(), 0);
            assert_eq!(got[0].state, TcpState::Listen);
            assert_eq!((got[0].inode, got[0].uid), (77, 1000));
        }
    }

    #[test]
    fn inet_edge_cases() {
        let line = |s: &str| {
            format!("  0: 0100007F:0050 00000000:0000 {s} 00000000:00000000 00:00000000 00000000     0        0 5 1 0 100 0 0 10 0\n")
        };
        let states = [
            ("01", TcpState::Established),
            ("02", TcpState::SynSent),
            ("03", TcpState::SynRecv),
            ("04", TcpState::FinWait1),
            ("05", TcpState::FinWait2),
            ("06", TcpState::TimeWait),
            ("07", TcpState::Close),
            ("08", TcpState::CloseWait),
            ("09", TcpState::LastAck),
            ("0A", TcpState::Listen),
            ("0B", TcpState::Closing),
            ("0C", TcpState::NewSynRecv),
        ];
        for (code, want) in states {
            let v = parse_inet(line(code).as_bytes(), Family::Inet, SocketType::Stream);
            assert_eq!(v[0].state, want);
            let v = parse_inet(line(code).as_bytes(), Family::Inet, SocketType::Datagram);
            assert_eq!(v[0].state, TcpState::None);
        }
        for bad in ["00", "0D", "FF", "1", "001", "zz"] {
            let v = parse_inet(line(bad).as_bytes(), Family::Inet, SocketType::Stream);
            assert_eq!(v, vec![], "{bad}");
        }
        // Wrong family for the width, Unix family, header only, empty, truncated.
        let ok = line("0A");
        assert_eq!(
            parse_inet(ok.as_bytes(), Family::Inet, SocketType::Stream).len(),
            1
        );
        assert_eq!(
            parse_inet(ok.as_bytes(), Family::Inet6, SocketType::Stream),
            vec![]
        );
        assert_eq!(
            parse_inet(ok.as_bytes(), Family::Unix, SocketType::Stream),
            vec![]
        );
        assert_eq!(parse_inet(b"", Family::Inet, SocketType::Stream), vec![]);
        let header = TCP.split(|&c| c == b'\n').next().unwrap();
        assert_eq!(parse_inet(header, Family::Inet, SocketType::Stream), vec![]);
        assert_eq!(
            parse_inet(&ok.as_bytes()[..60], Family::Inet, SocketType::Stream),
            vec![]
        );
        // Malformed fields.
        for (from, to) in [
            ("0100007F:0050", "0100007F:050"),
            ("0100007F:0050", "100007F:0050"),
            ("0100007F:0050", "0100007G:0050"),
            ("0100007F:0050", "0100007F0050"),
            ("  0:", "  x:"),
            ("  0:", "  0"),
            (" 5 1 ", " -5 1 "),
            ("     0        0 5", "     4294967296        0 5"),
        ] {
            let bad = ok.replacen(from, to, 1);
            assert_eq!(
                parse_inet(bad.as_bytes(), Family::Inet, SocketType::Stream),
                vec![],
                "{bad}"
            );
        }
        // A bad line does not hide the good ones around it.
        let mixed = format!("{ok}garbage line\n{ok}");
        assert_eq!(
            parse_inet(mixed.as_bytes(), Family::Inet, SocketType::Stream).len(),
            2
        );
    }

    #[test]
    fn unix_fixture() {
        let u = |inode, kind, path: &str, listening| UnixSocket {
            inode,
            kind,
            path: path.into(),
            listening,
        };
        use SocketType::*;
        assert_eq!(
            parse_unix(UNIX),
            vec![
                u(8907, Stream, "", false),
                u(8900, Stream, "/tmp/corral-fx/a sock", true),
                u(8904, Datagram, "/tmp/corral-fx/dgram.sock", false),
                u(1143, Stream, "", false),
                // The accepted end of a connection shows the listener's path.
                u(8902, Stream, "/tmp/corral-fx/a sock", false),
                u(8901, Stream, "", false),
                u(1142, Stream, "", false),
                u(8906, Stream, "", false),
                u(8903, Stream, "@corral abstract", true),
                u(8905, SeqPacket, "@corral-seq", true),
            ]
        );
    }

    #[test]
    fn unix_edge_cases() {
        assert_eq!(parse_unix(b""), vec![]);
        let l = |s: &str| parse_unix(s.as_bytes());
        let one = l("0000000000000000: 00000002 00000000 00010000 0001 01 12345  /lead space\n");
        assert_eq!(one[0].path, " /lead space");
        assert_eq!(one[0].inode, 12345);
        assert!(one[0].listening);
        let one = l("0000000000000000: 00000002 00000000 00000000 0002 01 7 @a@b");
        assert_eq!(one[0].path, "@a@b");
        assert_eq!(one[0].kind, SocketType::Datagram);
        // Unknown type, bad inode, missing colon, truncated, a tab instead of the space.
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00000000 0003 01 7\n"),
            vec![]
        );
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00000000 0001 01 x\n"),
            vec![]
        );
        assert_eq!(
            l("0000000000000000 00000002 00000000 00000000 0001 01 7\n"),
            vec![]
        );
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00000000 0001\n"),
            vec![]
        );
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00000000 0001 01 7\t/p\n"),
            vec![]
        );
        // Non-UTF-8 bytes in a path are replaced, not fatal.
        let mut raw = b"0000000000000000: 00000002 00000000 00000000 0001 01 7 /x".to_vec();
        raw.push(0xff);
        assert_eq!(parse_unix(&raw)[0].path, "/x\u{fffd}");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for fam in [Family::Inet, Family::Inet6, Family::Unix] {
                let _ = parse_inet(&bytes, fam, SocketType::Stream);
            }
            let _ = parse_unix(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_fixtures(
            which in 0..3usize,
            cut in 0..2000usize,
            at in 0..2000usize,
            byte in any::<u8>(),
        ) {
            let src = [TCP, TCP6, UNIX][which];
            let mut b = src[..cut.min(src.len())].to_vec();
            if at < b.len() {
                b[at] = byte;
            }
            let _ = parse_inet(&b, Family::Inet, SocketType::Stream);
            let _ = parse_inet(&b, Family::Inet6, SocketType::Datagram);
            let _ = parse_unix(&b);
        }
    }
}
