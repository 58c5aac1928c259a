#!/usr/bin/env python3
"""CPU cost of live process viewers: `corral top -d 1` vs `top -d 1` vs `htop -d 10`.

Usage:
    python3 bench/top_cost.py                      # 5000 sleepers, 60 s window
    python3 bench/top_cost.py --seconds 20         # shorter window
    python3 bench/top_cost.py --procs 2000 --seconds 30 --rounds 3

A population of N sleeping processes (bench `population`, as compare.py uses) is
started; then the three viewers run side by side, each in its own pane of a private tmux
server (120x40, TERM=xterm-256color), all refreshing once per second on the same
population at the same time. After a warm-up of 3 s, each viewer's utime+stime is read
from /proc/PID/stat at the start and the end of the window; the report gives CPU seconds
per minute of viewing for each, and the ratios to corral. With --rounds > 1 the viewers
are restarted for each round and the median is reported.

htop is installed with apt-get when missing (as root); top is procps'. htop runs with
HOME set to a scratch directory so it neither reads nor writes the user's htoprc.

Safety: the population and every tmux server are this run's own and are stopped in
try/finally, in signal handlers and at exit (the population's sleepers also die with it
by PR_SET_PDEATHSIG); tmux servers use a random socket name and only they are killed.
The report (markdown) is printed and written with the raw samples (JSON) to
bench/results/top-<date-time>.{md,json}.
"""

import argparse
import atexit
import datetime
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import compare
from compare import BENCH, log

compare.LOG_NAME = "top_cost"
TICK = os.sysconf("SC_CLK_TCK")
_servers = []  # tmux socket names still running


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-L", sock, *args], check=check, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def kill_servers():
    while _servers:
        tmux(_servers.pop(), "kill-server", check=False)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def ensure_htop():
    if shutil.which("htop"):
        return shutil.which("htop")
    log("htop missing: installing it with apt-get")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "htop"], check=True,
                   stdout=subprocess.DEVNULL)
    return shutil.which("htop")


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def one_round(viewers, seconds, home):
    """Starts every viewer in its own tmux server, measures, stops them; returns
    {label: CPU seconds per minute}."""
    panes = {}
    try:
        for label, argv in viewers:
            sock = "corraltopcost" + secrets.token_hex(4)
            _servers.append(sock)
            env = ["env", "-i", f"PATH={os.environ.get('PATH', '')}", "TERM=xterm-256color",
                   f"HOME={home}", "LANG=C.UTF-8"]
            tmux(sock, "new-session", "-d", "-s", "v", "-x", "120", "-y", "40", *env, *argv)
            pid = int(tmux(sock, "display-message", "-p", "-t", "v", "#{pane_pid}")
                      .stdout.strip())
            panes[label] = (sock, pid)
        time.sleep(3.0)  # warm-up: first screens drawn, caches filled
        start = {label: cpu_ticks(pid) for label, (_, pid) in panes.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        end = {label: cpu_ticks(pid) for label, (_, pid) in panes.items()}
        wall = time.monotonic() - t0
        return {label: (end[label] - start[label]) / TICK / wall * 60.0 for label in panes}
    finally:
        for sock, _ in panes.values():
            tmux(sock, "kill-server", check=False)
            if sock in _servers:
                _servers.remove(sock)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--procs", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed (apt-get install tmux)")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, compare._on_signal)
    atexit.register(compare.final_cleanup)
    atexit.register(kill_servers)

    bins, _target = compare.build(extra_packages=("corral-cli",))
    corral = bins["corral"]
    top = shutil.which("top")
    if not top:
        raise SystemExit("`top` (procps) not found")
    htop = ensure_htop()
    viewers = [
        ("corral top -d 1", [corral, "top", "-d", "1"]),
        ("top -d 1", [top, "-d", "1"]),
        ("htop -d 10", [htop, "-d", "10"]),
    ]
    tag = "corral-bench-" + secrets.token_hex(6)
    samples = {label: [] for label, _ in viewers}
    with tempfile.TemporaryDirectory(prefix="corral-topcost-") as home:
        pop, started_in = compare.start_population(bins, a.procs, tag)
        log(f"{a.procs} sleepers ready in {started_in:.1f}s")
        try:
            for r in range(a.rounds):
                # Rotate which viewer starts first.
                order = viewers[r % len(viewers):] + viewers[:r % len(viewers)]
                res = one_round(order, a.seconds, home)
                for label, v in res.items():
                    samples[label].append(v)
                log(f"round {r + 1}: " + ", ".join(f"{k}: {v:.2f}" for k, v in res.items()))
        finally:
            kill_servers()
            compare.stop_population(pop)
            compare.verify_no_survivor(tag, 0)

    med = {k: statistics.median(v) for k, v in samples.items()}
    base = med["corral top -d 1"]
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        f"## corral top: CPU cost ({now:%Y-%m-%d %H:%M} UTC)",
        "",
        f"{a.procs} sleeping processes (plus the machine's own: "
        f"{sum(1 for d in os.listdir('/proc') if d.isdigit())} in /proc at the end), "
        f"refresh every 1 s, {a.seconds:.0f} s window, {a.rounds} round(s), viewers side "
        f"by side in 120x40 tmux panes; {os.cpu_count()} CPUs.",
        "",
        "| viewer | CPU s per minute (median) | rounds | × corral |",
        "|---|---:|---|---:|",
    ]
    for label, _ in viewers:
        ratio = med[label] / base if base > 0 else float("inf")
        lines.append(f"| {label} | {med[label]:.2f} | "
                     f"{', '.join(f'{x:.2f}' for x in samples[label])} | {ratio:.2f} |")
    lines += ["", f"Versions: {version([top, '-V'])}; {version([htop, '--version'])}.", ""]
    report = "\n".join(lines)
    print(report)
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    stem = out / f"top-{now:%Y%m%d-%H%M%S}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps(
        {"procs": a.procs, "seconds": a.seconds, "rounds": a.rounds, "samples": samples},
        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
