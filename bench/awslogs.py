#!/usr/bin/env python3
"""Wharf's awslogs budgets: sustained ingest from one container, and write -> visible.

Talks to a running `wharf server` whose embedded agent runs tasks on the local Docker
Engine, and measures, for containers logging with `awslogs` (mode blocking):

1. Burst: one container writes N lines as fast as it can (`seq 1 N`). Reported: how long
   the container took to write them (Docker's own pipeline, `StartedAt` -> `FinishedAt`),
   how long until the last line was visible in GetLogEvents, the resulting lines/s, and
   the lag (now - the newest visible event's timestamp) sampled every 100 ms while the
   burst was being shipped: its p50, p99 and max.
2. Sustained: one container writes 100,000 lines at the start of every second for 20 s
   (`--seconds`): about 100,000 lines/s. Reported: the rate at which they became visible
   and the lag sampled every 100 ms while they were shipped.
3. Trickle: one container writes a line every 50 ms for 10 s. GetLogEvents is polled
   every 10 ms; for each line, write -> visible is the time it was first seen minus its
   event timestamp (the engine's read time). Reported: p50, p99, max.

Event timestamps are the engine's own (the time Docker read the line), and both clocks are
this host's. Every task is stopped and its containers removed afterwards.

Progress goes to stderr; the result is Markdown on stdout. Python 3 standard library only.

Usage: awslogs.py --endpoint http://127.0.0.1:PORT --cluster NAME [--lines 1000000]
"""

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
import urllib.parse

IMAGE = "wharf-test/busybox:1"


class Api:
    """AWS JSON 1.1 calls over one kept-alive connection."""

    def __init__(self, endpoint):
        url = urllib.parse.urlparse(endpoint)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def call(self, target, body):
        self.conn.request(
            "POST", "/", json.dumps(body),
            {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        )
        resp = self.conn.getresponse()
        data = resp.read()
        answer = json.loads(data) if data else {}
        if resp.status != 200:
            raise RuntimeError(f"{target}: {resp.status} {answer}")
        return answer

    def ecs(self, op, body):
        return self.call("AmazonEC2ContainerServiceV20141113." + op, body)

    def logs(self, op, body):
        return self.call("Logs_20140328." + op, body)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def register(api, family, group, script):
    api.ecs("RegisterTaskDefinition", {
        "family": family,
        "containerDefinitions": [{
            "name": "app", "image": IMAGE, "memory": 64, "essential": True,
            "entryPoint": ["sh", "-c"], "command": [script],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": group, "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "bench", "awslogs-create-group": "true",
                "mode": "blocking",
            }},
        }],
    })


def run(api, cluster, family):
    out = api.ecs("RunTask", {"cluster": cluster, "taskDefinition": family})
    if out.get("failures"):
        raise RuntimeError(f"RunTask failed: {out['failures']}")
    task = out["tasks"][0]
    return task["taskArn"], task["taskArn"].rsplit("/", 1)[1]


def describe(api, cluster, arn):
    return api.ecs("DescribeTasks", {"cluster": cluster, "tasks": [arn]})["tasks"][0]


def docker_times(container_id):
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}}", container_id],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return [rfc3339(t) for t in out]


def rfc3339(s):
    """Seconds since the epoch of Docker's RFC 3339 time (UTC, nanoseconds)."""
    date, frac = s.rstrip("Z").split(".") if "." in s else (s.rstrip("Z"), "0")
    t = time.strptime(date, "%Y-%m-%dT%H:%M:%S")
    return time.mktime(t) - time.timezone + float("0." + frac)


def newest(api, group, stream):
    """The newest visible event of a stream, or None."""
    try:
        out = api.logs("GetLogEvents", {
            "logGroupName": group, "logStreamName": stream, "startFromHead": False, "limit": 1,
        })
    except RuntimeError as e:
        if "ResourceNotFoundException" in str(e):
            return None
        raise
    events = out.get("events") or []
    return events[-1] if events else None


def wait_stopped(api, cluster, arn, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        task = describe(api, cluster, arn)
        if task.get("lastStatus") == "STOPPED":
            return task
        time.sleep(0.2)
    raise RuntimeError(f"{arn} did not stop")


def burst(api, cluster, n):
    group = f"/bench/burst-{int(time.time())}"
    register(api, cluster + "-burst", group, f"sleep 1; seq 1 {n}")
    arn, task_id = run(api, cluster, cluster + "-burst")
    stream = f"bench/app/{task_id}"
    lags, last_line, visible_at = [], str(n), None
    deadline = time.time() + 600
    while time.time() < deadline:
        e = newest(api, group, stream)
        now = time.time()
        if e is not None:
            lags.append(now - e["timestamp"] / 1000)
            if e["message"] == last_line:
                visible_at = now
                break
        time.sleep(0.1)
    if visible_at is None:
        raise RuntimeError("the last line never became visible")
    task = wait_stopped(api, cluster, arn)
    started, finished = docker_times(task["containers"][0]["runtimeId"])
    # The container sleeps 1 s before writing.
    write_start = started + 1.0
    total = visible_at - write_start
    # Lag samples while the burst was being shipped (after the first line arrived).
    return {
        "lines": n,
        "write_s": finished - write_start,
        "visible_s": total,
        "rate": n / total,
        "lag_p50": pct(lags, 50), "lag_p99": pct(lags, 99), "lag_max": max(lags),
        "tail_s": visible_at - finished,
    }


def sustained(api, cluster, seconds):
    """A container writing 100,000 lines every second (in one burst at the start of each
    second), for `seconds` s: ~100,000 lines/s sustained. The lag is sampled while it runs."""
    group = f"/bench/sustained-{int(time.time())}"
    n = seconds * 100_000
    script = (f"sleep 1; i=0; while [ $i -lt {seconds} ]; do "
              "s=$(date +%s); seq $((i * 100000 + 1)) $((i * 100000 + 100000)); "
              "while [ $(date +%s) -eq $s ]; do sleep 0.05; done; i=$((i+1)); done")
    register(api, cluster + "-sustained", group, script)
    arn, task_id = run(api, cluster, cluster + "-sustained")
    stream = f"bench/app/{task_id}"
    lags, visible_at, first_at = [], None, None
    deadline = time.time() + seconds + 120
    while time.time() < deadline:
        e = newest(api, group, stream)
        now = time.time()
        if e is not None:
            first_at = first_at or now
            lags.append(now - e["timestamp"] / 1000)
            if e["message"] == str(n):
                visible_at = now
                break
        time.sleep(0.1)
    if visible_at is None:
        raise RuntimeError("the last line never became visible")
    task = wait_stopped(api, cluster, arn)
    started, finished = docker_times(task["containers"][0]["runtimeId"])
    return {
        "lines": n, "write_s": finished - (started + 1.0),
        "rate": n / (visible_at - (started + 1.0)),
        "lag_p50": pct(lags, 50), "lag_p99": pct(lags, 99), "lag_max": max(lags),
        "tail_s": visible_at - finished,
    }


def trickle(api, cluster):
    group = f"/bench/trickle-{int(time.time())}"
    script = "i=0; while [ $i -lt 200 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done"
    register(api, cluster + "-trickle", group, script)
    arn, task_id = run(api, cluster, cluster + "-trickle")
    stream = f"bench/app/{task_id}"
    token, seen, delays = None, 0, []
    deadline = time.time() + 60
    while seen < 200 and time.time() < deadline:
        body = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            body["nextToken"] = token
        try:
            out = api.logs("GetLogEvents", body)
        except RuntimeError as e:
            if "ResourceNotFoundException" in str(e):
                time.sleep(0.01)
                continue
            raise
        now = time.time()
        for e in out.get("events") or []:
            delays.append(now - e["timestamp"] / 1000)
            seen += 1
        token = out.get("nextForwardToken", token)
        time.sleep(0.01)
    wait_stopped(api, cluster, arn)
    return {"lines": seen, "p50": pct(delays, 50), "p99": pct(delays, 99), "max": max(delays)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    api = Api(args.endpoint)
    log(f"burst of {args.lines} lines")
    b = burst(api, args.cluster, args.lines)
    log(f"sustained 100,000 lines/s for {args.seconds} s")
    st = sustained(api, args.cluster, args.seconds)
    log("trickle of 200 lines")
    t = trickle(api, args.cluster)
    print("| Measure | Wharf | Budget |")
    print("|---|---:|---|")
    print(f"| burst: {b['lines']:,} lines written by the container (Docker's json-file pipeline) "
          f"| {b['write_s']:.2f} s ({b['lines'] / b['write_s']:,.0f} lines/s) | |")
    print(f"| burst: first write -> last line visible in GetLogEvents | {b['visible_s']:.2f} s "
          f"= **{b['rate']:,.0f} lines/s** | >= 100,000 lines/s |")
    print(f"| burst: lag (now - newest visible event) while shipping, p50 / p99 / max "
          f"| {b['lag_p50'] * 1000:.0f} / {b['lag_p99'] * 1000:.0f} / {b['lag_max'] * 1000:.0f} ms "
          f"| < 1 s |")
    print(f"| burst: container exit -> last line visible | {b['tail_s'] * 1000:.0f} ms | |")
    print(f"| sustained: {st['lines']:,} lines at ~100,000/s (written in {st['write_s']:.1f} s), "
          f"first write -> last visible | **{st['rate']:,.0f} lines/s** | >= 100,000 lines/s |")
    print(f"| sustained: lag (now - newest visible event), p50 / p99 / max "
          f"| {st['lag_p50'] * 1000:.0f} / {st['lag_p99'] * 1000:.0f} / {st['lag_max'] * 1000:.0f} ms | < 1 s |")
    print(f"| sustained: container exit -> last line visible | {st['tail_s'] * 1000:.0f} ms | |")
    print(f"| trickle: write -> visible, p50 / p99 / max ({t['lines']} lines) "
          f"| {t['p50'] * 1000:.0f} / {t['p99'] * 1000:.0f} / {t['max'] * 1000:.0f} ms | < 1 s |")


if __name__ == "__main__":
    main()
