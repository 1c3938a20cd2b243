#!/usr/bin/env python3
"""ECS Exec's interactive round trip (issue 20), against a running Wharf server (see
bench/exec.sh).

A task with enableExecuteCommand runs `sleep`; `wharf exec -it TASK -- cat` runs on a
pseudo-terminal of this process (pty.fork), as a person's terminal would hold it. Each
keystroke is one byte written to the terminal; its time is until the byte comes back: the
client sends it over the session's WebSocket to the agent, the agent into Docker's exec, the
container's terminal echoes it, and the echo travels back the same way. Keys go one at a
time, a few milliseconds apart, as typing does; every 64 keys a newline lets `cat` print the
line (drained, not timed). Also timed: opening a session, from starting `wharf exec` to the
command's first output (ExecuteCommand, the WebSocket, the token opened by the server,
docker exec).

The result is Markdown on stdout; progress goes to stderr.
"""
import argparse
import os
import pty
import select
import sys
import time

import boto3
from botocore.config import Config


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def spawn(wharf, endpoint, cluster, task, command):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["WHARF_ENDPOINT"] = endpoint
        os.execv(wharf, [wharf, "exec", "-it", "--cluster", cluster, task, "--"] + command)
    return pid, fd


def read_until(fd, wanted, timeout=10.0, count=1):
    """Reads from fd until `wanted` (bytes) has been seen `count` times; what was read."""
    got = b""
    end = time.perf_counter() + timeout
    while got.count(wanted) < count:
        left = end - time.perf_counter()
        if left <= 0:
            raise SystemExit(f"timed out waiting for {wanted!r}; got {got[-200:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            got += os.read(fd, 65536)
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--keys", type=int, default=3000)
    ap.add_argument("--sessions", type=int, default=20)
    a = ap.parse_args()
    ecs = boto3.client("ecs", endpoint_url=a.endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench",
                       config=Config(retries={"max_attempts": 1}))
    ecs.register_task_definition(family="execbench", containerDefinitions=[{
        "name": "shell", "image": "wharf-test/busybox:1", "memory": 32, "essential": True,
        "stopTimeout": 1, "command": ["sleep", "3600"]}])
    task = ecs.run_task(cluster=a.cluster, taskDefinition="execbench",
                        enableExecuteCommand=True)["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(cluster=a.cluster, tasks=[task],
                                         WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    log(f"task {task} running")

    # Opening sessions.
    opens = []
    for _ in range(a.sessions):
        t = time.perf_counter()
        pid, fd = spawn(a.wharf, a.endpoint, a.cluster, task, ["echo", "ready"])
        read_until(fd, b"ready")
        opens.append(time.perf_counter() - t)
        os.waitpid(pid, 0)
        os.close(fd)
    log(f"session open: p50 {pct(opens, 0.5) * 1e3:.1f} ms, p99 {pct(opens, 0.99) * 1e3:.1f} ms")

    # Keystroke to echo.
    pid, fd = spawn(a.wharf, a.endpoint, a.cluster, task, ["cat"])
    time.sleep(1.0)
    # Settle: the session is up once a keystroke comes back.
    os.write(fd, b"s")
    read_until(fd, b"s")
    os.write(fd, b"\r")
    read_until(fd, b"\r\n", count=2)  # the newline's echo, then cat's line
    times = []
    for i in range(a.keys):
        key = bytes([ord("a") + i % 26])
        t = time.perf_counter()
        os.write(fd, key)
        read_until(fd, key)
        times.append(time.perf_counter() - t)
        if i % 64 == 63:
            os.write(fd, b"\r")
            read_until(fd, b"\r\n", count=2)  # the newline's echo, then cat's line
        time.sleep(0.003)
    os.write(fd, b"\r\x04")  # the line, then end of input: cat exits
    os.waitpid(pid, 0)
    log(f"keystroke to echo: p50 {pct(times, 0.5) * 1e3:.3f} ms, p99 {pct(times, 0.99) * 1e3:.3f} ms")
    ecs.stop_task(cluster=a.cluster, task=task)

    instances = ecs.list_container_instances(cluster=a.cluster)["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster=a.cluster, containerInstances=instances[:1])
    attributes = described["containerInstances"][0].get("attributes", [])
    served = next((x.get("value") for x in attributes if x["name"] == "wharf.exec-endpoint"), "?")
    print(f"Sessions served by the agent at `{served}`.\n")
    print("| Measure | samples | p50 ms | p99 ms | max ms | budget |")
    print("|---|---|---|---|---|---|")
    p99 = pct(times, 0.99) * 1e3
    print(f"| `wharf exec -it` keystroke to echo | {len(times)} | {pct(times, 0.5) * 1e3:.3f} | "
          f"{p99:.3f} | {max(times) * 1e3:.3f} | p99 < 10 ms: {'met' if p99 < 10 else 'missed'} |")
    print(f"| session open (`wharf exec` start to first output) | {len(opens)} | "
          f"{pct(opens, 0.5) * 1e3:.1f} | {pct(opens, 0.99) * 1e3:.1f} | {max(opens) * 1e3:.1f} | "
          f"none |")


if __name__ == "__main__":
    main()
