"""psutil_kill NAME: kill every process named NAME with psutil and wait until all are gone.

The psutil idiom: `process_iter(['name'])`, `kill()` each match, then
`psutil.wait_procs(procs)`. Prints how many processes it killed. Run by control.py as a
fresh interpreter per measurement, so interpreter start-up and `import psutil` are part of
the time, as they are for anyone running such a script.

psutil's wait for a process that is not the caller's child returns only once the process
is gone from the process table (it confirms with `pid_exists`), i.e. once its parent has
reaped it, not when it becomes a zombie; the benchmark's population reaps each sleeper as
soon as it exits.

Safety: NAME must be a benchmark sleeper name (cb + 10 lowercase letters or digits).
"""

import re
import sys

import psutil


def main():
    name = sys.argv[1] if len(sys.argv) == 2 else ""
    if not re.fullmatch(r"cb[a-z0-9]{10}", name):
        sys.exit(f"psutil_kill: refusing process name {name!r}")
    procs = []
    for p in psutil.process_iter(["name"]):
        if p.info["name"] == name and p.pid != 1:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                continue
            procs.append(p)
    _gone, alive = psutil.wait_procs(procs, timeout=60)
    if alive:
        sys.exit(f"psutil_kill: {len(alive)} processes still alive after 60 s")
    print(len(procs))


if __name__ == "__main__":
    main()
