"""psutil_snap: list every process with psutil, asking for the benchmark's fields.

Consumes the whole iterator and prints how many processes it saw. Run by compare.py as a
fresh interpreter per measurement, so interpreter start-up and `import psutil` are part
of the time, as they are for anyone running such a script.
"""

import psutil

ATTRS = [
    "pid",
    "ppid",
    "name",
    "status",
    "cpu_times",
    "memory_info",
    "uids",
    "create_time",
    "num_threads",
    "cmdline",
]


def main():
    count = 0
    for _proc in psutil.process_iter(attrs=ATTRS):
        count += 1
    print(count)


if __name__ == "__main__":
    main()
