#!/usr/bin/env python3
"""Wharf start-up time: from exec to the first accepted TCP connection.

Starts `wharf server` N times (default 20), each on a fresh port and a fresh data
directory, polls the port every 0.2 ms until a connection is accepted, then stops the
server. Prints each run and the median in milliseconds; the last line is machine-readable:
`STARTUP_RESULT median_ms=... min_ms=... max_ms=... runs=...`.

Usage: startup.py PATH/TO/wharf [RUNS]
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(binary: str) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wharf-startup-") as data:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [binary, "server", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = start + 10
            while True:
                with socket.socket() as s:
                    try:
                        s.connect(("127.0.0.1", port))
                        return (time.perf_counter() - start) * 1000
                    except OSError:
                        pass
                if proc.poll() is not None:
                    raise SystemExit(f"wharf exited with {proc.returncode} before listening")
                if time.perf_counter() > deadline:
                    raise SystemExit("wharf did not listen within 10 s")
                time.sleep(0.0002)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary} is not an executable; build it first")
    times = []
    for i in range(runs):
        ms = one_run(binary)
        times.append(ms)
        print(f"run {i + 1:2d}: {ms:7.2f} ms")
    print(
        f"STARTUP_RESULT median_ms={statistics.median(times):.2f} "
        f"min_ms={min(times):.2f} max_ms={max(times):.2f} runs={runs}"
    )


if __name__ == "__main__":
    main()
