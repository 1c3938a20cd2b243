#!/usr/bin/env python3
"""Time from exec to the first line of a container's output on stdout.

Usage: bench/first_line.py ROUNDS NEEDLE -- COMMAND...
Runs COMMAND ROUNDS times, one after another; for each, the seconds from exec until a stdout
line containing NEEDLE arrives (the command is then left to finish). Prints one JSON object:
{"runs": [...], "median": s, "p90": s, "min": s}.
"""
import json
import statistics
import subprocess
import sys
import time


def once(command, needle):
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = None
    for line in proc.stdout:
        if seen is None and needle in line:
            seen = time.monotonic() - start
    code = proc.wait()
    if seen is None:
        sys.exit(f"first_line: {command!r} exited {code} without printing {needle!r}")
    return seen


def main():
    rounds, needle = int(sys.argv[1]), sys.argv[2].encode()
    command = sys.argv[sys.argv.index("--") + 1:]
    runs = [once(command, needle) for _ in range(rounds)]
    ordered = sorted(runs)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    print(json.dumps({"runs": [round(r, 4) for r in runs], "median": statistics.median(runs),
                      "p90": p90, "min": ordered[0]}))


if __name__ == "__main__":
    main()
