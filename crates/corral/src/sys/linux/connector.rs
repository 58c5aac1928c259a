//! The kernel's process-events connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`): a stream of
//! every fork on the machine, so a tree kill sees a grandchild even when its parent forked
//! it and exited before any `/proc` scan could notice. Needs `CAP_NET_ADMIN` (root).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
const NLMSG_DONE: u16 = 3;

/// One process event: a fork (parent tgid, child pid) or a process's exit (its pid and
/// its `wait` status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcEvent {
    Fork { parent: u32, child: u32 },
    Exit { pid: u32, status: i32 },
}

/// A subscription to fork events. Dropping it unsubscribes (closes the socket).
#[derive(Debug)]
pub(crate) struct ForkWatch {
    fd: OwnedFd,
    lost: bool,
    buf: Vec<u8>,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl ForkWatch {
    /// Subscribes; `None` where the kernel or the caller's privileges do not allow it.
    pub(crate) fn new() -> Option<ForkWatch> {
        Self::try_new().ok()
    }

    fn try_new() -> io::Result<ForkWatch> {
        if !in_initial_namespaces() {
            // The kernel ignores subscriptions from other namespaces, and the events other
            // listeners cause still arrive, with pids of the initial namespace: numbers
            // that name other processes here. Never use them.
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        // SAFETY: plain socket(2); the fd is owned right after.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_CONNECTOR,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // A large buffer: a fork storm must not overflow it between two drains.
        let size: libc::c_int = 8 << 20;
        // SAFETY: valid pointer and length of an int option value.
        unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        // SAFETY: zeroed sockaddr_nl is valid; fields set below.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_pid = 0; // the kernel picks a unique port id
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl of the given length.
        cvt(unsafe {
            libc::bind(
                raw,
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        let mut msg = [0u8; NLMSG_HDRLEN + CN_MSG_LEN + 4];
        let total = msg.len() as u32;
        msg[0..4].copy_from_slice(&total.to_ne_bytes());
        msg[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        msg[12..16].copy_from_slice(&std::process::id().to_ne_bytes());
        let cn = NLMSG_HDRLEN;
        msg[cn..cn + 4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
        msg[cn + 4..cn + 8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
        msg[cn + 16..cn + 18].copy_from_slice(&4u16.to_ne_bytes());
        msg[cn + CN_MSG_LEN..].copy_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
        // SAFETY: sending an initialised buffer of the stated length.
        let n = unsafe { libc::send(raw, msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ForkWatch {
            fd,
            lost: false,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// Appends every process fork seen since the last call as `(parent tgid, child pid)`;
    /// thread creations are left out. Never blocks.
    pub(crate) fn drain(&mut self, out: &mut Vec<(u32, u32)>) {
        self.recv_each(|b| parse_events(b, out));
    }

    /// Appends every process fork and process exit seen since the last call, in the
    /// kernel's order; threads are left out. Never blocks.
    pub(crate) fn drain_all(&mut self, out: &mut Vec<ProcEvent>) {
        self.recv_each(|b| parse_all(b, out));
    }

    /// The socket, readable when events are pending.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn recv_each(&mut self, mut f: impl FnMut(&[u8])) {
        loop {
            // SAFETY: receiving into our own buffer of its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => {
                        // Events were dropped: the caller can no longer claim to have seen
                        // every fork.
                        self.lost = true;
                        continue;
                    }
                    _ => return, // EAGAIN: drained
                }
            }
            f(&self.buf[..n as usize]);
        }
    }

    /// Whether events were lost (the socket overflowed) since subscribing.
    pub(crate) fn lost_events(&self) -> bool {
        self.lost
    }
}

/// Whether this process is in the initial pid and user namespaces: the kernel gives those
/// namespaces fixed inode numbers (`PROC_PID_INIT_INO`, `PROC_USER_INIT_INO`).
fn in_initial_namespaces() -> bool {
    let is = |link: &str, want: &str| std::fs::read_link(link).is_ok_and(|t| t.as_os_str() == want);
    is("/proc/self/ns/pid", "pid:[4026531836]") && is("/proc/self/ns/user", "user:[4026531837]")
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses one datagram of netlink messages carrying `proc_event`s: forks and exits.
fn parse_all(b: &[u8], out: &mut Vec<ProcEvent>) {
    each_event(b, |what, data| {
        if what == PROC_EVENT_FORK {
            if let (Some(parent), Some(child_pid), Some(child_tgid)) =
                (u32_at(data, 4), u32_at(data, 8), u32_at(data, 12))
            {
                if child_pid == child_tgid {
                    out.push(ProcEvent::Fork {
                        parent,
                        child: child_pid,
                    });
                }
            }
        } else if what == PROC_EVENT_EXIT {
            // struct exit_proc_event { process_pid, process_tgid, exit_code, ... }
            if let (Some(pid), Some(tgid), Some(code)) =
                (u32_at(data, 0), u32_at(data, 4), u32_at(data, 8))
            {
                if pid == tgid {
                    out.push(ProcEvent::Exit {
                        pid,
                        status: code as i32,
                    });
                }
            }
        }
    });
}

/// Calls `f(what, event_data)` for each `proc_event` in one datagram.
fn each_event(mut b: &[u8], mut f: impl FnMut(u32, &[u8])) {
    while b.len() >= NLMSG_HDRLEN {
        let Some(len) = u32_at(b, 0).map(|l| l as usize) else {
            return;
        };
        if len < NLMSG_HDRLEN || len > b.len() {
            return;
        }
        let msg = &b[NLMSG_HDRLEN..len];
        // cn_msg, then struct proc_event { what, cpu, timestamp_ns, event_data }.
        if let Some(what) = u32_at(msg, CN_MSG_LEN) {
            f(what, msg.get(CN_MSG_LEN + 16..).unwrap_or(&[]));
        }
        let aligned = (len + 3) & !3;
        if aligned >= b.len() {
            return;
        }
        b = &b[aligned..];
    }
}

/// Parses one datagram of netlink messages carrying `proc_event`s: the forks.
fn parse_events(b: &[u8], out: &mut Vec<(u32, u32)>) {
    let mut all = Vec::new();
    parse_all(b, &mut all);
    out.extend(all.into_iter().filter_map(|e| match e {
        ProcEvent::Fork { parent, child } => Some((parent, child)),
        ProcEvent::Exit { .. } => None,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fork_event(parent: u32, child_pid: u32, child_tgid: u32) -> Vec<u8> {
        let mut m = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN + 16 + 16];
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        let ev = NLMSG_HDRLEN + CN_MSG_LEN;
        m[ev..ev + 4].copy_from_slice(&PROC_EVENT_FORK.to_ne_bytes());
        let d = ev + 16;
        m[d..d + 4].copy_from_slice(&parent.to_ne_bytes());
        m[d + 4..d + 8].copy_from_slice(&parent.to_ne_bytes());
        m[d + 8..d + 12].copy_from_slice(&child_pid.to_ne_bytes());
        m[d + 12..d + 16].copy_from_slice(&child_tgid.to_ne_bytes());
        m
    }

    #[test]
    fn parses_forks_and_skips_threads() {
        let mut b = fork_event(10, 11, 11);
        b.extend(fork_event(10, 12, 10)); // a thread of 10
        b.extend(fork_event(11, 13, 13));
        let mut out = Vec::new();
        parse_events(&b, &mut out);
        assert_eq!(out, vec![(10, 11), (11, 13)]);
    }

    #[test]
    fn parses_forks_and_exits_in_order() {
        let mut b = fork_event(10, 11, 11);
        let mut ex = fork_event(0, 0, 0);
        let ev = NLMSG_HDRLEN + CN_MSG_LEN;
        ex[ev..ev + 4].copy_from_slice(&PROC_EVENT_EXIT.to_ne_bytes());
        let d = ev + 16;
        ex[d..d + 4].copy_from_slice(&11u32.to_ne_bytes());
        ex[d + 4..d + 8].copy_from_slice(&11u32.to_ne_bytes());
        ex[d + 8..d + 12].copy_from_slice(&(3u32 << 8).to_ne_bytes());
        b.extend(&ex);
        let mut out = Vec::new();
        parse_all(&b, &mut out);
        assert_eq!(
            out,
            vec![
                ProcEvent::Fork {
                    parent: 10,
                    child: 11
                },
                ProcEvent::Exit {
                    pid: 11,
                    status: 3 << 8
                }
            ]
        );
        for cut in 0..b.len() {
            let mut o = Vec::new();
            parse_all(&b[..cut], &mut o);
            assert!(o.len() <= 1);
        }
    }

    #[test]
    fn truncated_input_is_ignored() {
        let b = fork_event(1, 2, 2);
        for cut in 0..b.len() {
            let mut out = Vec::new();
            parse_events(&b[..cut], &mut out);
            assert!(out.is_empty());
        }
    }
}
