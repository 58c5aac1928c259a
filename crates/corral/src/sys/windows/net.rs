//! TCP and UDP endpoints with their owning processes: the IP Helper's extended tables
//! (`GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL)`, `GetExtendedUdpTable(UDP_TABLE_OWNER_PID)`),
//! IPv4 and IPv6. One call per table gives every socket of the machine with its pid, so
//! both `Process::connections` and the snapshot's port filter read the tables once.
//!
//! Windows has no descriptor numbers or inodes for these sockets: `fd` is -1 and `inode`
//! 0 (as psutil reports them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, GetExtendedUdpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCPROW_OWNER_PID,
    MIB_UDP6ROW_OWNER_PID, MIB_UDPROW_OWNER_PID, TCP_TABLE_OWNER_PID_ALL, UDP_TABLE_OWNER_PID,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};

use crate::info::{Connection, ConnectionKind, Endpoint, Family, SocketType, TcpState};
use crate::{Error, ErrorKind, Result};

/// One socket of the machine and the pid that owns it.
pub(crate) struct Owned {
    pub(crate) pid: u32,
    pub(crate) conn: Connection,
}

/// Every TCP/UDP socket `kind` selects, with its owner.
pub(crate) fn sockets(kind: ConnectionKind) -> Result<Vec<Owned>> {
    let mut out = Vec::new();
    for (family, stype) in [
        (Family::Inet, SocketType::Stream),
        (Family::Inet6, SocketType::Stream),
        (Family::Inet, SocketType::Datagram),
        (Family::Inet6, SocketType::Datagram),
    ] {
        if kind.selects(family, stype) {
            read_table(family, stype, &mut out)?;
        }
    }
    Ok(out)
}

/// The pids with a TCP/UDP socket whose local or remote port is `port` (`kind`: only
/// TCP, only UDP, or both). Rows owned by pid 0 are no process's: Windows gives a
/// `TIME_WAIT` connection (closed, its owner maybe gone) that pid, and selecting the
/// System Idle Process by it would be wrong.
pub(crate) fn pids_on_port(port: u16, kind: Option<SocketType>) -> Result<Vec<u32>> {
    let which = match kind {
        Some(SocketType::Stream) => ConnectionKind::Tcp,
        Some(SocketType::Datagram) => ConnectionKind::Udp,
        _ => ConnectionKind::Inet,
    };
    let mut pids: Vec<u32> = sockets(which)?
        .into_iter()
        .filter(|s| {
            [&s.conn.local, &s.conn.remote]
                .into_iter()
                .flatten()
                .any(|e| matches!(e, Endpoint::Inet(a) if a.port() == port))
        })
        .map(|s| s.pid)
        .filter(|&pid| pid != 0)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// Reads one table (family × TCP/UDP) into `out`.
fn read_table(family: Family, stype: SocketType, out: &mut Vec<Owned>) -> Result<()> {
    let af = u32::from(if family == Family::Inet {
        AF_INET
    } else {
        AF_INET6
    });
    let op = "read socket table";
    // The table grows between the size query and the read: retry with what it asks for.
    let mut buf: Vec<u64> = Vec::new();
    let mut size: u32 = 0;
    for _ in 0..8 {
        // SAFETY: the buffer is `size` bytes long (u64s keep the rows aligned); the call
        // writes at most that many bytes and updates `size` when it needs more.
        let r = unsafe {
            let p = if buf.is_empty() {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            };
            if stype == SocketType::Stream {
                GetExtendedTcpTable(p, &mut size, 0, af, TCP_TABLE_OWNER_PID_ALL, 0)
            } else {
                GetExtendedUdpTable(p, &mut size, 0, af, UDP_TABLE_OWNER_PID, 0)
            }
        };
        if r == NO_ERROR && !buf.is_empty() {
            parse_table(&buf, size as usize, family, stype, out);
            return Ok(());
        }
        if r == NO_ERROR || r == ERROR_INSUFFICIENT_BUFFER {
            // A first call with no buffer may answer either way; size the buffer.
            let words = (size as usize).div_ceil(8).max(1) + 64;
            size = (words * 8) as u32;
            buf = vec![0u64; words];
            continue;
        }
        return Err(
            Error::from_io(op, std::io::Error::from_raw_os_error(r as i32)).with_detail(format!(
                "{} {} table",
                if stype == SocketType::Stream {
                    "TCP"
                } else {
                    "UDP"
                },
                if family == Family::Inet {
                    "IPv4"
                } else {
                    "IPv6"
                }
            )),
        );
    }
    Err(Error::new(ErrorKind::Os, op).with_detail("the socket table kept growing"))
}

/// Rows of a table: a `u32` count, then the rows (aligned to 4 bytes; the v6 rows too).
fn parse_table(buf: &[u64], len: usize, family: Family, stype: SocketType, out: &mut Vec<Owned>) {
    let bytes = len.min(buf.len() * 8);
    // SAFETY: viewing the initialised u64 buffer as bytes.
    let raw = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), bytes) };
    if raw.len() < 4 {
        return;
    }
    let n = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    macro_rules! rows {
        ($t:ty, $conv:expr) => {{
            let size = std::mem::size_of::<$t>();
            for i in 0..n {
                let at = 4 + i * size;
                if at + size > raw.len() {
                    break;
                }
                // SAFETY: `size` bytes inside the buffer; rows are plain integers, read
                // unaligned.
                let row: $t = unsafe { std::ptr::read_unaligned(raw[at..].as_ptr().cast()) };
                out.push($conv(&row));
            }
        }};
    }
    match (family, stype) {
        (Family::Inet, SocketType::Stream) => {
            rows!(MIB_TCPROW_OWNER_PID, |r: &MIB_TCPROW_OWNER_PID| {
                let local = v4(r.dwLocalAddr, r.dwLocalPort);
                let listen = r.dwState == 2;
                Owned {
                    pid: r.dwOwningPid,
                    conn: conn(
                        family,
                        stype,
                        local,
                        (!listen).then(|| v4(r.dwRemoteAddr, r.dwRemotePort)),
                        tcp_state(r.dwState),
                    ),
                }
            })
        }
        (Family::Inet6, SocketType::Stream) => {
            rows!(MIB_TCP6ROW_OWNER_PID, |r: &MIB_TCP6ROW_OWNER_PID| {
                let local = v6(r.ucLocalAddr, r.dwLocalPort);
                let listen = r.dwState == 2;
                Owned {
                    pid: r.dwOwningPid,
                    conn: conn(
                        family,
                        stype,
                        local,
                        (!listen).then(|| v6(r.ucRemoteAddr, r.dwRemotePort)),
                        tcp_state(r.dwState),
                    ),
                }
            })
        }
        (Family::Inet, _) => rows!(MIB_UDPROW_OWNER_PID, |r: &MIB_UDPROW_OWNER_PID| Owned {
            pid: r.dwOwningPid,
            conn: conn(
                family,
                stype,
                v4(r.dwLocalAddr, r.dwLocalPort),
                None,
                TcpState::None
            ),
        }),
        _ => rows!(MIB_UDP6ROW_OWNER_PID, |r: &MIB_UDP6ROW_OWNER_PID| Owned {
            pid: r.dwOwningPid,
            conn: conn(
                family,
                stype,
                v6(r.ucLocalAddr, r.dwLocalPort),
                None,
                TcpState::None
            ),
        }),
    }
}

fn conn(
    family: Family,
    kind: SocketType,
    local: SocketAddr,
    remote: Option<SocketAddr>,
    status: TcpState,
) -> Connection {
    Connection {
        fd: -1,
        family,
        kind,
        local: Some(Endpoint::Inet(local)),
        remote: remote.map(Endpoint::Inet),
        status,
        inode: 0,
    }
}

/// A port as the tables store it: network byte order in the low 16 bits.
fn port(p: u32) -> u16 {
    u16::from_be(p as u16)
}

/// An IPv4 address as stored: network byte order, read as a native `u32`.
fn v4(addr: u32, p: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(addr.to_ne_bytes())), port(p))
}

fn v6(addr: [u8; 16], p: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::from(addr)), port(p))
}

/// `MIB_TCP_STATE` → [`TcpState`].
fn tcp_state(s: u32) -> TcpState {
    match s {
        1 => TcpState::Close,
        2 => TcpState::Listen,
        3 => TcpState::SynSent,
        4 => TcpState::SynRecv,
        5 => TcpState::Established,
        6 => TcpState::FinWait1,
        7 => TcpState::FinWait2,
        8 => TcpState::CloseWait,
        9 => TcpState::Closing,
        10 => TcpState::LastAck,
        11 => TcpState::TimeWait,
        // DELETE_TCB: being torn down.
        _ => TcpState::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rows_as_stored() {
        // 127.0.0.1:8069 listening, as the table stores it (network order in memory).
        let addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let p = u32::from(8069u16.to_be());
        assert_eq!(v4(addr, p), "127.0.0.1:8069".parse().unwrap());
        assert_eq!(tcp_state(2), TcpState::Listen);
        assert_eq!(tcp_state(5), TcpState::Established);
        let mut buf = vec![0u64; 8];
        let row = MIB_TCPROW_OWNER_PID {
            dwState: 5,
            dwLocalAddr: addr,
            dwLocalPort: p,
            dwRemoteAddr: addr,
            dwRemotePort: u32::from(40000u16.to_be()),
            dwOwningPid: 4242,
        };
        // SAFETY: writing a count and one row into a zeroed buffer of 64 bytes.
        unsafe {
            let b = buf.as_mut_ptr().cast::<u8>();
            std::ptr::write_unaligned(b.cast::<u32>(), 1);
            std::ptr::write_unaligned(b.add(4).cast::<MIB_TCPROW_OWNER_PID>(), row);
        }
        let mut out = Vec::new();
        parse_table(&buf, 4 + 24, Family::Inet, SocketType::Stream, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].pid, 4242);
        assert_eq!(out[0].conn.status, TcpState::Established);
        assert_eq!(
            out[0].conn.remote,
            Some(Endpoint::Inet("127.0.0.1:40000".parse().unwrap()))
        );
    }
}
