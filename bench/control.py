#!/usr/bin/env python3
"""Side-by-side benchmark of process control: kill by name and wait, and exit latency.

Usage:
    python3 bench/control.py                  # both benchmarks: N = 1000, 7 rounds; 100 reps
    python3 bench/control.py --quick          # smoke run: N = 200, 3 rounds; 10 reps
    python3 bench/control.py --only kill      # or --only latency
    python3 bench/control.py --sizes 500,2000 --rounds 11 --reps 100

1. Kill by name and wait. For each round and each tool, a fresh `population N --comm NAME
   --reap` starts N sleepers whose process name is NAME, a random `cb` + 10 letters or
   digits drawn for that population alone, and reaps each as soon as it exits. Once they
   are all running (not timed) the runner checks that they are the only processes in the
   system holding NAME, then runs the tool once, as a fresh process, through `measure`
   (wall time from fork to exit). The tool must kill all N and return only once all have
   exited; "exited" means zombie or reaped, for every tool (a pidfd becomes readable at
   exit). The runner checks that no sleeper was left running when the tool returned and
   that the tool reports N kills, then waits for the population to reap them all. Tools
   are interleaved, the order rotating each round, after an unmeasured warm-up round.

2. Exit latency. `exit_latency` forks a victim (its own child, not the waiter's), starts
   a waiter that opens the victim and blocks, lets the victim record CLOCK_MONOTONIC and
   `_exit`, reaps it at once, and reads the CLOCK_MONOTONIC at which the waiter's wait
   returned; latency = the difference. Waiters are interleaved, the order rotating.

The report (markdown) is printed and written, with every raw sample as JSON, to
bench/results/control-<date-time>.{md,json}.

Needs: python3 (stdlib only), cargo, procps `pkill`, and psutil (installed
with pip into <cargo target dir>/bench-python if the interpreter cannot import it).

Safety (the machine is shared): the tools that kill by name only ever get a NAME drawn
here, checked before each run to be held by this run's population alone, and refuse any
name not of the form cb + 10 lowercase letters or digits; the runner signals only its own
children. Every process spawned dies with its spawner (PR_SET_PDEATHSIG(SIGKILL)),
populations are stopped in try/finally, in SIGTERM/SIGHUP/SIGINT handlers and at exit,
and each population's and each latency run's random tag (in the command lines) is
checked for survivors afterwards (as in compare.py, whose helpers this reuses).
"""

import argparse
import atexit
import datetime
import json
import os
import resource
import secrets
import selectors
import shutil
import signal
import statistics
import string
import subprocess
import sys
import time
from pathlib import Path

import compare
from compare import BENCH, ROOT, log

compare.LOG_NAME = "control"

NAME_ALPHABET = string.ascii_lowercase + string.digits
# States of a process that has exited: zombie, or dead (its parent is reaping it right now).
EXITED = ("Z", "X")

# Tools of the kill benchmark: label, argv ({name} is replaced by the population's name),
# what it prints (count: the number killed; cli: one line per process; None: nothing),
# whether it waits for the processes to exit.
KILL_TOOLS = [
    ("floor", ["{kill_floor}", "{name}"], "count", True),
    ("floor+verify", ["{kill_floor}", "--verify", "{name}"], "count", True),
    ("corral-lib", ["{kill_corral}", "{name}"], "count", True),
    ("corral-cli", ["{corral}", "kill", "--name", "{name}", "--signal", "KILL", "--wait"],
     "cli", True),
    ("pkill", ["{pkill_wait}", "{name}", "{pkill}", "--wait"], None, True),
    ("pkill-nowait", ["{pkill_wait}", "{name}", "{pkill}"], None, False),
    ("psutil", ["{python}", str(BENCH / "psutil_kill.py"), "{name}"], "count", True),
]

WAITERS = [
    ("floor", ["{wait_floor}", "{pid}"]),
    ("corral", ["{wait_corral}", "{pid}"]),
    ("psutil", ["{python}", str(BENCH / "psutil_wait.py"), "{pid}"]),
]


# --------------------------------------------------------------------------------------
# Build


def build():
    return compare.build(["corral-cli"])


def expand(argv, paths, **more):
    out = []
    for a in argv:
        for k, v in {**paths, **more}.items():
            a = a.replace("{" + k + "}", str(v))
        out.append(a)
    return out


# --------------------------------------------------------------------------------------
# Who holds a name


def holders(name):
    """Every process whose name (comm) is name: [(pid, ppid, state, start_ticks)]."""
    found = []
    want = name.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index(b"(") + 1 : data.rindex(b")")]
        if comm != want:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        found.append((int(d), int(fields[1]), fields[0].decode(), int(fields[19])))
    return found


def check_only_ours(name, pop, pop_start, n):
    """The population's N sleepers, all running, must be the only holders of name."""
    h = holders(name)
    strangers = [x for x in h if x[1] != pop.pid or x[3] < pop_start]
    if strangers:
        raise RuntimeError(f"processes other than our sleepers hold the name {name}: "
                           f"{strangers[:5]}; not running any tool")
    running = [x for x in h if x[2] not in EXITED]
    if len(running) != n:
        raise RuntimeError(f"{len(running)} of {n} sleepers named {name} are running")


def wait_gone(pop, n, timeout=60.0):
    """Wait for the population's `gone N` line and its exit; returns its exit status."""
    sel = selectors.DefaultSelector()
    sel.register(pop.stdout, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                raise RuntimeError(f"population {pop.pid}: not all sleepers gone "
                                   f"within {timeout:.0f}s")
            chunk = os.read(pop.stdout.fileno(), 256)
            if not chunk:
                break
            data += chunk
    finally:
        sel.close()
    code = compare.stop_population(pop)  # already exiting: just waits
    if data.split() != [b"gone", str(n).encode()] or code != 0:
        raise RuntimeError(f"population {pop.pid}: said {data!r}, exit status {code}")
    return code


def cpu_busy(seconds=1.0):
    """Share of all CPUs' time spent busy (not idle or waiting for I/O) over `seconds`:
    how much else runs on the machine just before a benchmark. (The load average is no
    use here: the benchmark's own populations inflate it.)"""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait

    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


# --------------------------------------------------------------------------------------
# Benchmark 1: kill by name and wait


def python_startup(paths, env, times=5):
    """Median wall time of `python3 -c 'import psutil'` (s): the fixed part of the psutil
    rows, which include interpreter start-up and the import."""
    argv = [paths["python"], "-c", "import psutil"]
    return statistics.median(
        compare.measure(paths["measure"], argv, env, "/dev/null")[0] for _ in range(times)
    )


def random_name():
    return "cb" + "".join(secrets.choice(NAME_ALPHABET) for _ in range(10))


def kill_once(tool, n, paths, env, scratch):
    """One population, one run of tool; returns (wall s, CPU s, peak RSS KiB)."""
    label, argv, prints, waits = tool
    name = random_name()
    tag = "corral-ctl-" + secrets.token_hex(6)
    pop, _spawn_s = compare.start_population(paths, n, tag, ["--comm", name, "--reap"])
    pop_start = next((s for t, s in compare._tags if t == tag), 0)
    try:
        check_only_ours(name, pop, pop_start, n)
        out = str(scratch / f"kill-{label}.out")
        sample = compare.measure(paths["measure"], expand(argv, paths, name=name), env, out)
        if waits:
            left = [x for x in holders(name) if x[2] not in EXITED]
            if left:
                raise RuntimeError(f"{label} returned with {len(left)} sleepers still running")
        text = Path(out).read_text()
        if prints == "count" and text.strip() != str(n):
            raise RuntimeError(f"{label} reports {text.strip()!r} kills, not {n}")
        if prints == "cli":
            k = sum(1 for line in text.splitlines() if " exited after " in line)
            if k != n:
                raise RuntimeError(f"{label} reports {k} exits, not {n}")
        wait_gone(pop, n)
    finally:
        if pop in compare._populations:
            compare.stop_population(pop)
        compare.verify_no_survivor(tag, pop_start)
        compare._tags[:] = [(t, s) for t, s in compare._tags if t != tag]
        if holders(name):
            raise RuntimeError(f"processes named {name} are left after the population")
    return sample


def run_kill(n, rounds, paths, env, scratch):
    tools = KILL_TOOLS
    samples = {t[0]: [] for t in tools}
    busy_before = cpu_busy()
    log(f"kill N={n}: warm-up round (each tool once, checked, not recorded)")
    for tool in tools:
        wall, _, _ = kill_once(tool, n, paths, env, scratch)
        log(f"  {tool[0]:13} killed {n} in {wall * 1e3:.1f} ms")
    for r in range(rounds):
        order = tools[r % len(tools):] + tools[: r % len(tools)]
        for tool in order:
            wall, cpu, rss = kill_once(tool, n, paths, env, scratch)
            samples[tool[0]].append({"wall_s": wall, "cpu_s": cpu, "maxrss_kb": rss})
        log(f"kill N={n}: round {r + 1}/{rounds} done ("
            + ", ".join(f"{t[0]} {samples[t[0]][-1]['wall_s'] * 1e3:.1f}ms" for t in tools)
            + ")")
    return {
        "n": n,
        "rounds": rounds,
        "cpu_busy_before": busy_before,
        "cpu_busy_after": cpu_busy(),
        "samples": samples,
    }


# --------------------------------------------------------------------------------------
# Benchmark 2: exit latency


def latency_once(waiter, paths, env):
    label, argv = waiter
    tag = "corral-ctl-" + secrets.token_hex(6)
    not_before = compare._start_time(os.getpid()) or 0
    cmd = [paths["exit_latency"], "--tag", tag, "--"] + expand(argv, paths) + [tag]
    try:
        res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, timeout=120,
                             preexec_fn=compare._die_with_me())
    finally:
        compare.verify_no_survivor(tag, not_before)
    if res.returncode != 0:
        raise RuntimeError(f"exit_latency failed ({res.returncode}) for {label}")
    kv = dict(item.split("=", 1) for item in res.stdout.split())
    return int(kv["latency_ns"])


def run_latency(reps, paths, env):
    waiters = WAITERS
    samples = {w[0]: [] for w in waiters}
    busy_before = cpu_busy()
    for w in waiters:  # warm-up: page cache, interpreter files
        latency_once(w, paths, env)
    for r in range(reps):
        order = waiters[r % len(waiters):] + waiters[: r % len(waiters)]
        for w in order:
            samples[w[0]].append(latency_once(w, paths, env))
        if (r + 1) % 10 == 0 or r + 1 == reps:
            log(f"latency: {r + 1}/{reps} reps ("
                + ", ".join(f"{w[0]} {samples[w[0]][-1] / 1e3:.0f}µs" for w in waiters) + ")")
    return {
        "reps": reps,
        "cpu_busy_before": busy_before,
        "cpu_busy_after": cpu_busy(),
        "samples_ns": samples,
    }


# --------------------------------------------------------------------------------------
# Report


def p90(xs):
    return statistics.quantiles(xs, n=10, method="inclusive")[8] if len(xs) > 1 else xs[0]


def loads(res):
    return (f"other activity: CPUs {res['cpu_busy_before'] * 100:.0f}% busy in the second "
            f"before, {res['cpu_busy_after'] * 100:.0f}% in the second after")


def verdict(ok):
    return "met" if ok else "**not met**"


def render(env_info, kill_results, latency):
    out = [
        f"# corral process-control benchmark, {env_info['date']}",
        "",
        f"- commit `{env_info['commit']}`; {env_info['cpus']} CPUs ({env_info['cpu']}); "
        f"Linux {env_info['kernel']}",
        f"- {env_info['rustc']}; Python {env_info['python']}, psutil "
        f"{env_info['psutil']}; {env_info['pkill']}",
        f"- interpreter start-up and `import psutil` (`python3 -c 'import psutil'`, median "
        f"of 5): {env_info['python_startup_s'] * 1e3:.0f} ms, included in the psutil rows",
        "",
    ]
    for res in kill_results:
        names = list(res["samples"])
        rows = {}
        for nm in names:
            s = res["samples"][nm]
            walls = [x["wall_s"] for x in s]
            rows[nm] = {
                "min": min(walls),
                "median": statistics.median(walls),
                "cpu": statistics.median(x["cpu_s"] for x in s),
                "rss": statistics.median(x["maxrss_kb"] for x in s) / 1024,
            }
        fl, co = rows["floor"], rows["corral-lib"]
        out += [
            f"## Kill {res['n']} processes by name and wait until all have exited "
            f"({res['rounds']} rounds)",
            "",
            f"Each tool run as a fresh process (`measure`: fork to exit) on a fresh population "
            f"of {res['n']}; {loads(res)}.",
            "",
            "| tool | min ms | median ms | × floor (min) | × floor (median) "
            "| × corral-lib (min) | × corral-lib (median) | CPU ms (median) "
            "| peak RSS MiB (median) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for nm in names:
            r = rows[nm]
            out.append(
                f"| {nm} | {r['min'] * 1e3:.1f} | {r['median'] * 1e3:.1f} "
                f"| {r['min'] / fl['min']:.2f} | {r['median'] / fl['median']:.2f} "
                f"| {r['min'] / co['min']:.2f} | {r['median'] / co['median']:.2f} "
                f"| {r['cpu'] * 1e3:.1f} | {r['rss']:.1f} |"
            )
        ratio = co["median"] / fl["median"]
        cli = rows["corral-cli"]["median"] / fl["median"]
        pk = rows["pkill"]["median"] / co["median"]
        pk_cli = rows["pkill"]["median"] / rows["corral-cli"]["median"]
        ps = rows["psutil"]["median"] / co["median"]
        out += [
            "",
            "Targets (medians): "
            f"corral-lib ÷ floor = {ratio:.2f} (aim ≤ 1.2: {verdict(ratio <= 1.2)}; "
            f"corral-cli ÷ floor = {cli:.2f}); "
            f"pkill ÷ corral-lib = {pk:.2f}, pkill ÷ corral-cli = {pk_cli:.2f} "
            f"(aim ≥ 2: {verdict(pk >= 2)} / {verdict(pk_cli >= 2)}); "
            f"psutil ÷ corral-lib = {ps:.2f} (aim ≥ 4: {verdict(ps >= 4)}).",
            "",
        ]
    if latency:
        s = latency["samples_ns"]
        st = {nm: (min(v), statistics.median(v), p90(v)) for nm, v in s.items()}
        f0 = st["floor"]
        out += [
            f"## Exit latency of a process that is not the waiter's child "
            f"({latency['reps']} reps per waiter)",
            "",
            f"Delay from the victim's last CLOCK_MONOTONIC reading before `_exit` to the "
            f"waiter's first reading after its wait returns; {loads(latency)}.",
            "",
            "| waiter | min µs | median µs | p90 µs | × floor (min) | × floor (median) "
            "| × floor (p90) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for nm, (mn, md, p9) in st.items():
            out.append(
                f"| {nm} | {mn / 1e3:.1f} | {md / 1e3:.1f} | {p9 / 1e3:.1f} "
                f"| {mn / f0[0]:.2f} | {md / f0[1]:.2f} | {p9 / f0[2]:.2f} |"
            )
        ratio = st["corral"][1] / f0[1]
        out += [
            "",
            f"Target: corral median ÷ floor median = {ratio:.2f} (aim ≤ 1.1: "
            f"{verdict(ratio <= 1.1)}); psutil median ÷ floor median = "
            f"{st['psutil'][1] / f0[1]:.2f}.",
            "",
        ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", help="comma-separated population sizes (default 1000)")
    ap.add_argument("--rounds", type=int, help="measured rounds per size (default 7)")
    ap.add_argument("--reps", type=int, help="exit-latency repetitions per waiter (default 100)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: size 200, 3 rounds, 10 latency reps")
    ap.add_argument("--only", choices=["kill", "latency"], help="run one benchmark only")
    ap.add_argument("--results", default=str(BENCH / "results"),
                    help="directory for the report (default bench/results)")
    args = ap.parse_args()
    sizes, rounds, reps = ([200], 3, 10) if args.quick else ([1000], 7, 100)
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else sizes
    args.rounds = args.rounds or rounds
    args.reps = args.reps or reps
    if args.rounds < 1 or args.reps < 1 or any(n < 1 for n in args.sizes):
        ap.error("sizes, rounds and reps must be positive")
    return args


def main():
    args = parse_args()
    atexit.register(compare.final_cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, compare._on_signal)
    # Every tool inherits the same open-file limit: as high as allowed (a tool holding one
    # pidfd per process needs more than 1024 for large populations).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    bins, target_dir = build()
    env, psutil_version = compare.python_env(target_dir)
    paths = dict(bins)
    paths["python"] = sys.executable
    paths["pkill"] = shutil.which("pkill")
    if not paths["pkill"]:
        raise SystemExit("`pkill` (procps) not found")
    env_info = compare.environment(psutil_version)
    env_info["pkill"] = compare._cmd_version(["pkill", "--version"])
    env_info["python_startup_s"] = python_startup(paths, env)
    scratch = target_dir / "bench-scratch"
    scratch.mkdir(parents=True, exist_ok=True)

    kill_results, latency = [], None
    try:
        if args.only in (None, "kill"):
            for n in args.sizes:
                kill_results.append(run_kill(n, args.rounds, paths, env, scratch))
        if args.only in (None, "latency"):
            latency = run_latency(args.reps, paths, env)
    finally:
        compare.final_cleanup()

    report = render(env_info, kill_results, latency)
    print(report)
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    (out_dir / f"control-{stamp}.md").write_text(report + "\n")
    (out_dir / f"control-{stamp}.json").write_text(
        json.dumps({"environment": env_info, "kill": kill_results, "latency": latency},
                   indent=1) + "\n"
    )
    log(f"report written to {out_dir / ('control-' + stamp + '.md')}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        compare.final_cleanup()
        log("interrupted; every population was stopped")
        sys.exit(130)
    except SystemExit as e:
        if isinstance(e.code, int) and e.code > 128:
            compare.final_cleanup()
            log(f"stopped by signal {e.code - 128}; every population was stopped")
        raise
    except RuntimeError as e:
        compare.final_cleanup()
        sys.exit(f"[control] error: {e}")
