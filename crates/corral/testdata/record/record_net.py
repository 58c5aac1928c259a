"""Holds a known set of sockets open and copies /proc/net/{tcp,tcp6,udp,udp6,unix} to argv[1]."""
import socket, sys, os, time
out = sys.argv[1]
IP_FREEBIND = 15
IPV6_FREEBIND = 78
keep = []
def tcp(fam, addr, freebind=False, v6only=None):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if freebind:
        if fam == socket.AF_INET: s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        else: s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind(addr); s.listen(5); keep.append(s); return s
l4 = tcp(socket.AF_INET, ("127.0.0.1", 0))
tcp(socket.AF_INET, ("192.0.2.1", 8080), freebind=True)
l6 = tcp(socket.AF_INET6, ("::1", 0))
tcp(socket.AF_INET6, ("2001:db8::1", 443), freebind=True)
tcp(socket.AF_INET6, ("2001:db8:85a3::8a2e:370:7334", 22), freebind=True)
dual = tcp(socket.AF_INET6, ("::", 0), v6only=0)
# established v4
c = socket.create_connection(l4.getsockname()); a, _ = l4.accept(); keep += [c, a]
# established v6
c = socket.socket(socket.AF_INET6); c.connect(l6.getsockname()[:2]); a, _ = l6.accept(); keep += [c, a]
# v4-mapped: connect with IPv4 to dual-stack listener
c = socket.create_connection(("127.0.0.1", dual.getsockname()[1])); a, _ = dual.accept(); keep += [c, a]
# TIME_WAIT: active close by client
c = socket.create_connection(l4.getsockname()); a, _ = l4.accept(); c.close(); time.sleep(0.05); a.close()
# CLOSE_WAIT / FIN_WAIT2
c = socket.create_connection(l4.getsockname()); a, _ = l4.accept(); a.shutdown(socket.SHUT_WR); keep += [c, a]
# UDP
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); keep.append(u)
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2.bind(("127.0.0.1", 0)); u2.connect(u.getsockname()); keep.append(u2)
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 0)); keep.append(u6)
u6m = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6m.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); u6m.bind(("::", 0)); u6m.connect(("::ffff:127.0.0.1", u.getsockname()[1])); keep.append(u6m)
# unix
d = "/tmp/corral-fx"
for p in ["a sock", "dgram.sock"]:
    try: os.unlink(os.path.join(d, p))
    except FileNotFoundError: pass
us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); us.bind(os.path.join(d, "a sock")); us.listen(1); keep.append(us)
uc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); uc.connect(os.path.join(d, "a sock")); ua, _ = us.accept(); keep += [uc, ua]
ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ab.bind("\0corral abstract"); ab.listen(1); keep.append(ab)
ud = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); ud.bind(os.path.join(d, "dgram.sock")); keep.append(ud)
sp = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); sp.bind("\0corral-seq"); sp.listen(1); keep.append(sp)
keep += list(socket.socketpair())
for f in ["tcp", "tcp6", "udp", "udp6", "unix"]:
    with open("/proc/net/" + f, "rb") as i, open(os.path.join(out, "net_" + f), "wb") as o:
        o.write(i.read())
# print what we made for test expectations
print("l4", l4.getsockname(), "l6", l6.getsockname(), "dual", dual.getsockname(), "u", u.getsockname(), "u2", u2.getsockname(), "u6", u6.getsockname(), "u6m", u6m.getsockname())
for s in keep:
    try: print(s.fileno(), os.fstat(s.fileno()).st_ino, s.family, s.type, s.getsockname(), s.getpeername() if s.type==socket.SOCK_STREAM and s.family!=socket.AF_UNIX else "")
    except OSError as e: print(s.fileno(), os.fstat(s.fileno()).st_ino, s.getsockname(), e)
