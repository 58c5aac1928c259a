#!/usr/bin/env python3
"""Side-by-side benchmark: list every process with corral and its peers.

Usage:
    python3 bench/compare.py                 # sizes 1000 and 5000, 7 rounds
    python3 bench/compare.py --skip-corral   # peers and floor only
    python3 bench/compare.py --quick         # smoke run: size 200, 3 rounds
    python3 bench/compare.py --sizes 500,2000 --rounds 11

For each population size N it starts `population N` (N sleeping processes, each with a
real command line), waits for its `ready` line, then runs every tool as a fresh process,
interleaved, for R rounds (the order rotates each round), through the `measure` helper,
which reports the tool's wall time and peak RSS. It checks that every tool saw at least N
processes, prints a markdown table (min and median wall time, median peak RSS, ratios to
`floor` and to `corral`) and writes it, with the raw samples as JSON, to bench/results/.

Needs: python3 (stdlib only), cargo, procps `ps`, and psutil, which is installed with
pip into <cargo target dir>/bench-python if the interpreter cannot import it.

Safety (the machine is shared): the only processes this script signals are ones it
spawned itself. Every sleeper dies with its spawner (PR_SET_PDEATHSIG(SIGKILL), set in the
sleeper and checked against its parent), the population dies with this script (same, set
before exec), and the population is stopped in try/finally, in SIGTERM/SIGHUP/SIGINT
handlers and at exit. At the end the script looks for any process still carrying this
run's random tag in its command line and fails if one is found (after killing it through
a pidfd, having checked its tag and start time).
"""

import argparse
import atexit
import ctypes
import datetime
import json
import os
import platform
import secrets
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PS_ARGS = ["-eo", "pid,ppid,comm,stat,time,rss,vsz,uid,lstart,nlwp,args"]
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)
_populations = []  # Popen objects of populations not yet stopped
_tags = []  # tags of every population started, checked at exit
LOG_NAME = "compare"  # prefix of log lines; control.py, which reuses these helpers, sets it


def log(msg):
    print(f"[{LOG_NAME}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Clean-up


def _die_with_me():
    """preexec_fn: make the child die (SIGKILL) when this script dies."""
    parent = os.getpid()

    def setup():
        if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(127)
        if os.getppid() != parent:  # we died before prctl
            os._exit(127)

    return setup


def _start_time(pid):
    """Start time (clock ticks since boot) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[19])


def _tagged_pids(pids, tag):
    """Those of pids that are alive (not zombies) and carry tag as one of their
    arguments: [(pid, start_time)]."""
    needle = tag.encode()
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if needle in cmdline.split(b"\0"):
            start = _start_time(pid)
            if start is not None:
                found.append((pid, start))
    return found


def _tagged(tag):
    """Every live process carrying tag in its command line: [(pid, start_time)]."""
    return _tagged_pids((int(d) for d in os.listdir("/proc") if d.isdigit()), tag)


def _kill_tagged(tag, not_before):
    """SIGKILL leftovers of our own population, identified by tag and start time, through
    a pidfd, so a recycled pid can never be hit. Returns how many were found."""
    leftovers = _tagged(tag)
    for pid, start in leftovers:
        if start < not_before:
            continue  # cannot be ours: it started before our population did
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # already gone
        try:
            # The pidfd pins the process: re-check its identity, then signal through the
            # pidfd. Had it died (and its pid been reused) during the check, the signal
            # would fail with ESRCH instead of reaching the newcomer.
            if _start_time(pid) == start and (pid, start) in _tagged_pids([pid], tag):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)
    return len(leftovers)


def stop_population(pop, timeout=60.0):
    """Close the population's stdin (it then kills and reaps its sleepers), wait for it,
    SIGKILL it if it does not exit in time (its sleepers then die by PDEATHSIG)."""
    if pop in _populations:
        _populations.remove(pop)
    try:
        if pop.stdin and not pop.stdin.closed:
            pop.stdin.close()
    except OSError:
        pass
    try:
        pop.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"population {pop.pid} did not stop in {timeout}s; sending SIGKILL")
        pop.kill()  # our unreaped child: Popen polls first, so the pid is still ours
        pop.wait()
    if pop.stdout:
        pop.stdout.close()
    return pop.returncode


def verify_no_survivor(tag, not_before, grace=5.0):
    """Fail loudly if any process of this population is still alive."""
    deadline = time.monotonic() + grace
    while True:
        left = _tagged(tag)
        if not left:
            return
        if time.monotonic() > deadline:
            n = _kill_tagged(tag, not_before)
            raise RuntimeError(f"{n} sleeper(s) of tag {tag} survived; they were SIGKILLed")
        time.sleep(0.05)


def final_cleanup():
    """Stop every population still running and check for survivors. Idempotent."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    for pop in list(_populations):
        stop_population(pop, timeout=30.0)
    while _tags:
        tag, not_before = _tags.pop()
        try:
            verify_no_survivor(tag, not_before)
        except RuntimeError as e:
            log(f"ERROR: {e}")


def _on_signal(signum, _frame):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------------------
# Build and tools


def build(extra_packages=()):
    """Builds the bench binaries (and `extra_packages`) in release; returns their paths
    by target name, and the target directory."""
    cmd = ["cargo", "build", "--release", "-p", "corral-bench", "--bins"]
    for pkg in extra_packages:
        cmd += ["-p", pkg]
    cmd += ["--message-format=json-render-diagnostics"]
    log("building: " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit("cargo build failed")
    bins = {}
    for line in proc.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            bins[msg["target"]["name"]] = msg["executable"]
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return bins, Path(json.loads(meta.stdout)["target_directory"])


def python_env(target_dir):
    """An environment in which `import psutil` works (installing it if needed)."""
    env = dict(os.environ)
    probe = [sys.executable, "-c", "import psutil; print(psutil.__version__)"]
    res = subprocess.run(probe, env=env, capture_output=True, text=True)
    if res.returncode == 0:
        return env, res.stdout.strip()
    site = target_dir / "bench-python"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    res = subprocess.run(probe, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        log(f"psutil not importable; installing it with pip into {site}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--root-user-action=ignore", "--target", str(site), "psutil"],
            check=True,
        )
        res = subprocess.run(probe, env=env, capture_output=True, text=True, check=True)
    return env, res.stdout.strip()


def make_tools(bins, skip_corral):
    ps = shutil.which("ps")
    if not ps:
        raise SystemExit("`ps` (procps) not found")
    tools = [
        # name, argv, prints its count on stdout
        ("floor", [bins["floor"]], True),
        ("ps", [ps] + PS_ARGS, False),
        ("psutil", [sys.executable, str(BENCH / "psutil_snap.py")], True),
        ("sysinfo", [bins["sysinfo_snap"]], True),
    ]
    if not skip_corral:
        tools.append(("corral", [bins["corral_snap"]], True))
    return tools


# --------------------------------------------------------------------------------------
# Measuring


def measure(measure_bin, argv, env, stdout_path):
    """Run argv once under `measure`; returns (wall s, CPU s, peak RSS KiB)."""
    res = subprocess.run(
        [measure_bin, "--stdout", stdout_path, "--"] + argv,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    if res.returncode != 0:
        raise RuntimeError(f"measure failed ({res.returncode}) for {argv[0]}")
    kv = dict(item.split("=", 1) for item in res.stdout.split())
    if kv["status"] != "0":
        raise RuntimeError(f"{' '.join(argv)} exited with status {kv['status']}")
    return int(kv["wall_ns"]) / 1e9, int(kv["cpu_ns"]) / 1e9, int(kv["maxrss_kb"])


def seen(name, counts, out_path):
    text = Path(out_path).read_text()
    if counts:
        return int(text.strip())
    return max(0, len(text.splitlines()) - 1)  # ps: one line per process plus a header


def start_population(bins, n, tag, extra_args=()):
    cmd = [bins["population"], str(n), "--tag", tag, "--parent", str(os.getpid())]
    cmd += list(extra_args)
    t0 = time.perf_counter()
    pop = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=_die_with_me(),
    )
    _populations.append(pop)
    start = _start_time(pop.pid)
    _tags.append((tag, start if start is not None else 0))
    sel = selectors.DefaultSelector()
    sel.register(pop.stdout, selectors.EVENT_READ)
    line = b""
    deadline = time.monotonic() + 600
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(timeout=left):
            raise RuntimeError(f"population {n}: no ready line within 600s")
        chunk = os.read(pop.stdout.fileno(), 256)
        if not chunk:
            raise RuntimeError(f"population {n} exited with {pop.wait()} before ready")
        line += chunk
    sel.close()
    if line.split() != [b"ready", str(n).encode()]:
        raise RuntimeError(f"population {n}: unexpected line {line!r}")
    return pop, time.perf_counter() - t0


def run_size(n, rounds, tools, bins, env, scratch):
    tag = "corral-bench-" + secrets.token_hex(6)
    log(f"N={n}: starting population (tag {tag})")
    pop, spawn_s = start_population(bins, n, tag)
    samples = {name: [] for name, _, _ in tools}
    load_before = os.getloadavg()
    try:
        log(f"N={n}: {n} sleepers ready after {spawn_s:.2f}s; warm-up and check")
        for name, argv, counts in tools:
            out = str(scratch / f"{name}.out")
            measure(bins["measure"], argv, env, out)
            k = seen(name, counts, out)
            if k < n:
                raise RuntimeError(f"{name} saw {k} processes, fewer than N={n}")
            log(f"  {name:8} saw {k} processes")
        for r in range(rounds):
            order = tools[r % len(tools):] + tools[: r % len(tools)]
            for name, argv, counts in order:
                out = "/dev/null" if not counts else str(scratch / f"{name}.out")
                wall, cpu, rss = measure(bins["measure"], argv, env, out)
                if counts and seen(name, counts, out) < n:
                    raise RuntimeError(f"{name} saw fewer than N={n} processes")
                samples[name].append({"wall_s": wall, "cpu_s": cpu, "maxrss_kb": rss})
            log(f"N={n}: round {r + 1}/{rounds} done ("
                + ", ".join(f"{nm} {samples[nm][-1]['wall_s'] * 1e3:.1f}ms"
                            for nm, _, _ in tools) + ")")
    finally:
        load_after = os.getloadavg()
        code = stop_population(pop)
        log(f"N={n}: population stopped (exit {code}); checking for survivors")
        not_before = next((s for t, s in _tags if t == tag), 0)
        verify_no_survivor(tag, not_before)
        _tags[:] = [(t, s) for t, s in _tags if t != tag]
        log(f"N={n}: no sleeper survived")
    if code != 0:
        raise RuntimeError(f"population exited with status {code}")
    return {
        "n": n,
        "rounds": rounds,
        "population_spawn_s": spawn_s,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "samples": samples,
    }


# --------------------------------------------------------------------------------------
# Report


def _cmd_version(cmd):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (res.stdout or res.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def environment(psutil_version):
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    sysinfo = "?"
    try:
        lock = (ROOT / "Cargo.lock").read_text().split("[[package]]")
        for pkg in lock:
            if 'name = "sysinfo"' in pkg:
                sysinfo = pkg.split('version = "', 1)[1].split('"', 1)[0]
    except (OSError, IndexError):
        pass
    commit = _cmd_version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit + ("-dirty" if dirty else ""),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "rustc": _cmd_version(["rustc", "--version"]),
        "python": platform.python_version(),
        "psutil": psutil_version,
        "sysinfo": sysinfo,
        "ps": _cmd_version(["ps", "--version"]),
    }


def summarize(result, tool_names):
    rows = {}
    for name in tool_names:
        s = result["samples"][name]
        walls = [x["wall_s"] for x in s]
        rows[name] = {
            "min": min(walls),
            "median": statistics.median(walls),
            "cpu": statistics.median(x["cpu_s"] for x in s),
            "rss_mib": statistics.median(x["maxrss_kb"] for x in s) / 1024,
        }
    return rows


def render(env_info, results, tool_names):
    has_corral = "corral" in tool_names
    out = [
        f"# corral benchmark, {env_info['date']}",
        "",
        f"- commit `{env_info['commit']}`; {env_info['cpus']} CPUs ({env_info['cpu']}); "
        f"Linux {env_info['kernel']}",
        f"- {env_info['rustc']}; Python {env_info['python']}, psutil "
        f"{env_info['psutil']}; sysinfo {env_info['sysinfo']}; {env_info['ps']}",
        "- each tool runs as a fresh process; wall time from fork to exit (`measure`), "
        "CPU = user + system time, peak RSS = `ru_maxrss`; tools interleaved, order "
        "rotated each round; ratios are of wall times",
        "",
    ]
    for res in results:
        rows = summarize(res, tool_names)
        floor = rows["floor"]
        corral = rows.get("corral")
        la0 = "/".join(f"{x:.2f}" for x in res["loadavg_before"])
        la1 = "/".join(f"{x:.2f}" for x in res["loadavg_after"])
        out += [
            f"## N = {res['n']} sleepers ({res['rounds']} rounds)",
            "",
            f"Population ready in {res['population_spawn_s']:.2f}s; "
            f"load average {la0} before, {la1} after.",
            "",
        ]
        head = ["tool", "min ms", "median ms", "× floor (min)", "× floor (median)"]
        if has_corral:
            head += ["× corral (min)", "× corral (median)"]
        head += ["CPU ms (median)", "peak RSS MiB (median)"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for name in tool_names:
            r = rows[name]
            cells = [
                name,
                f"{r['min'] * 1e3:.1f}",
                f"{r['median'] * 1e3:.1f}",
                f"{r['min'] / floor['min']:.2f}",
                f"{r['median'] / floor['median']:.2f}",
            ]
            if has_corral:
                cells += [
                    f"{r['min'] / corral['min']:.2f}",
                    f"{r['median'] / corral['median']:.2f}",
                ]
            cells += [f"{r['cpu'] * 1e3:.1f}", f"{r['rss_mib']:.1f}"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", help="comma-separated population sizes (default 1000,5000)")
    ap.add_argument("--rounds", type=int, help="measured rounds per size (default 7)")
    ap.add_argument("--quick", action="store_true", help="smoke run: size 200, 3 rounds")
    ap.add_argument("--skip-corral", action="store_true",
                    help="leave corral out (peers and floor only)")
    ap.add_argument("--results", default=str(BENCH / "results"),
                    help="directory for the report (default bench/results)")
    args = ap.parse_args()
    default_sizes, default_rounds = ([200], 3) if args.quick else ([1000, 5000], 7)
    args.sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else default_sizes)
    args.rounds = args.rounds or default_rounds
    if args.rounds < 1 or any(n < 1 for n in args.sizes):
        ap.error("sizes and rounds must be positive")
    return args


def main():
    args = parse_args()
    atexit.register(final_cleanup)
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and we want every
    # way of stopping this script to go through the clean-up.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    bins, target_dir = build()
    env, psutil_version = python_env(target_dir)
    tools = make_tools(bins, args.skip_corral)
    names = [t[0] for t in tools]
    env_info = environment(psutil_version)
    scratch = target_dir / "bench-scratch"
    scratch.mkdir(parents=True, exist_ok=True)

    results = []
    try:
        for n in args.sizes:
            results.append(run_size(n, args.rounds, tools, bins, env, scratch))
    finally:
        final_cleanup()

    report = render(env_info, results, names)
    print(report)
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    (out_dir / f"{stamp}.md").write_text(report + "\n")
    (out_dir / f"{stamp}.json").write_text(
        json.dumps({"environment": env_info, "tools": names, "results": results}, indent=1)
        + "\n"
    )
    log(f"report written to {out_dir / (stamp + '.md')}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        final_cleanup()
        log("interrupted; every population was stopped")
        sys.exit(130)
    except SystemExit as e:
        if isinstance(e.code, int) and e.code > 128:
            final_cleanup()
            log(f"stopped by signal {e.code - 128}; every population was stopped")
        raise
    except RuntimeError as e:
        final_cleanup()
        sys.exit(f"[compare] error: {e}")
