"""psutil_wait PID [TAG]: notice with psutil that a process which is not our child has exited.

`psutil.Process(PID)`, prints `ready`, `wait()`, then prints CLOCK_MONOTONIC in
nanoseconds for the coordinator (`exit_latency`). psutil 7 waits on a pidfd with `poll`
and then, the process not being its child, confirms with `pid_exists` (sleeping 0.1 ms,
doubling, until it is gone), so it returns once the parent has reaped the process; the
coordinator reaps it at once. TAG is not used: it only marks the process for the
runner's survivor check.
"""

import sys
import time

import psutil


def main():
    p = psutil.Process(int(sys.argv[1]))
    print("ready", flush=True)
    p.wait()
    seen = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    print(seen, flush=True)


if __name__ == "__main__":
    main()
