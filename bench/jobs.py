#!/usr/bin/env python3
"""Jobs benchmark runner (root): terminate a 1000-process job, spawn into a job, and
job-empty latency — side by side, through `job_bench` (bench/src/bin/job_bench.rs, which
documents what each row measures).

Usage:
    sudo python3 bench/jobs.py                     # 1000 processes, 5 rounds, 200 spawns, 100 reps
    sudo python3 bench/jobs.py --quick             # 200 processes, 2 rounds, 20 spawns, 10 reps
    sudo python3 bench/jobs.py --procs 2000 --rounds 7 --only terminate

Writes the markdown tables and the raw numbers to bench/results/jobs-<date-time>.{md,json}.

Safety (the machine is shared): job_bench dies with this script (PR_SET_PDEATHSIG), every
process it makes dies with its parent and lives in a kill-on-close job, so even a killed
run leaves no process behind; afterwards this script checks that no cgroup named after
job_bench's pid (`corral-<pid>-…`) is left below its own cgroups, and fails if one is.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import compare
from compare import BENCH, log

compare.LOG_NAME = "jobs"


def own_cgroup_dirs():
    """The caller's cgroup directory in each mounted hierarchy."""
    cg = open("/proc/self/cgroup").read().splitlines()
    out = []
    for line in open("/proc/self/mountinfo").read().splitlines():
        pre, _, post = line.partition(" - ")
        pre, post = pre.split(" "), post.split(" ")
        if post[0] not in ("cgroup", "cgroup2"):
            continue
        root, point = pre[3], pre[4]
        opts = post[2].split(",")
        for l in cg:
            _, ctl, path = l.split(":", 2)
            ok = (post[0] == "cgroup2" and ctl == "") or (
                post[0] == "cgroup" and ctl and all(c in opts for c in ctl.split(",")))
            if ok:
                rest = path[len(root.rstrip("/")):] if path.startswith(root.rstrip("/")) else path
                out.append(Path(point + rest))
    return out


def leftovers(pid):
    tag = f"corral-{pid}-"
    found = []
    for d in own_cgroup_dirs():
        try:
            found += [d / n for n in os.listdir(d) if n.startswith(tag)]
        except OSError:
            pass
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--procs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--spawns", type=int, default=200)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--only", choices=["terminate", "spawn", "empty"])
    ap.add_argument("--results", default=str(BENCH / "results"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("jobs.py: needs root (creates cgroups)")
    if a.quick:
        a.procs, a.rounds, a.spawns, a.reps = 200, 2, 20, 10
    bins, _ = compare.build()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = Path(a.results)
    results.mkdir(parents=True, exist_ok=True)
    raw = results / f"jobs-{stamp}.json"
    cmd = [bins["job_bench"], "--procs", str(a.procs), "--rounds", str(a.rounds),
           "--spawns", str(a.spawns), "--reps", str(a.reps), "--json", str(raw)]
    if a.only:
        cmd += ["--only", a.only]
    log("running: " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                         preexec_fn=compare._die_with_me())
    try:
        out, _ = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        left = leftovers(p.pid)
    if left:
        raise SystemExit(f"jobs.py: cgroups left behind: {left}")
    if p.returncode != 0:
        raise SystemExit(f"jobs.py: job_bench failed ({p.returncode})")
    header = (f"Jobs benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
              f"kernel {os.uname().release}, {os.cpu_count()} CPUs\n"
              f"Command: {' '.join(['python3', 'bench/jobs.py'] + sys.argv[1:])}\n")
    md = results / f"jobs-{stamp}.md"
    md.write_text(header + out)
    print(header + out)
    log(f"wrote {md} and {raw}; no process or cgroup left behind")


if __name__ == "__main__":
    main()
