#!/usr/bin/env python3
"""`wharf ps` with many tasks, beside the aws CLI doing the same reads.

Seeds a running `wharf server --no-agent` with one cluster, one registered container
instance (large enough for every task) and TASKS tasks (RunTask, count 10 per call; with
no agent they stay PROVISIONING, which is all a listing needs), then times, each ROUNDS
times, interleaved:

1. `wharf ps` (the table) and `wharf ps --json`: ListTasks pages (100 a page) for desired
   RUNNING and STOPPED, DescribeTasks in batches of 100 while the next page is listed.
2. The anchor: the same reads with the aws CLI as a person would script them today,
   `aws ecs list-tasks` (which follows every page itself) and then `aws ecs describe-tasks`
   for each batch of 100 ARNs, one process after another.

Progress goes to stderr; the result is Markdown on stdout. Python 3 standard library only.

Usage: ps.py --endpoint http://127.0.0.1:PORT --wharf PATH [--tasks 1000] [--rounds 5]
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

TARGET = "AmazonEC2ContainerServiceV20141113."
CLUSTER = "ps-bench"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Ecs:
    """ECS JSON 1.1 calls over one kept-alive connection."""

    def __init__(self, endpoint):
        url = urllib.parse.urlparse(endpoint)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def call(self, op, body):
        self.conn.request(
            "POST",
            "/",
            json.dumps(body),
            {"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"},
        )
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{op}: {r.status} {data[:300]!r}")
        return json.loads(data or b"{}")


def seed(ecs, tasks):
    ecs.call("CreateCluster", {"clusterName": CLUSTER})
    ecs.call(
        "RegisterContainerInstance",
        {
            "cluster": CLUSTER,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 10_000_000},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 10_000_000},
            ],
        },
    )
    ecs.call(
        "RegisterTaskDefinition",
        {
            "family": "ps-bench",
            "containerDefinitions": [
                {
                    "name": "web",
                    "image": "wharf-test/busybox:1",
                    "memory": 4,
                    "portMappings": [{"containerPort": 80, "hostPort": 0}],
                }
            ],
        },
    )
    made = 0
    while made < tasks:
        n = min(10, tasks - made)
        out = ecs.call("RunTask", {"cluster": CLUSTER, "taskDefinition": "ps-bench", "count": n})
        made += len(out.get("tasks", []))
        if out.get("failures"):
            raise RuntimeError(f"RunTask failures: {out['failures']}")
    log(f"seeded {made} tasks in cluster {CLUSTER}")


def timed(argv, env):
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {out.stderr.decode()[:500]}")
    return elapsed, out.stdout


def aws_env(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_PAGER="",
        AWS_CONFIG_FILE=os.path.join(home, "config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"),
    )
    return env


def aws_reads(endpoint, env):
    """list-tasks (every page) then describe-tasks per 100: wall time and task count."""
    base = ["aws", "--endpoint-url", endpoint, "--output", "json", "ecs"]
    start = time.perf_counter()
    listed = subprocess.run(
        base + ["list-tasks", "--cluster", CLUSTER], env=env, capture_output=True, check=True
    )
    arns = json.loads(listed.stdout)["taskArns"]
    described = 0
    for i in range(0, len(arns), 100):
        out = subprocess.run(
            base + ["describe-tasks", "--cluster", CLUSTER, "--tasks", *arns[i : i + 100]],
            env=env,
            capture_output=True,
            check=True,
        )
        described += len(json.loads(out.stdout)["tasks"])
    return time.perf_counter() - start, described


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--wharf", required=True)
    p.add_argument("--tasks", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--skip-aws", action="store_true")
    a = p.parse_args()

    seed(Ecs(a.endpoint), a.tasks)
    env = dict(os.environ, WHARF_ENDPOINT=a.endpoint)
    env.pop("NO_COLOR", None)
    table, as_json, anchor = [], [], []
    with tempfile.TemporaryDirectory() as home:
        for r in range(a.rounds + 1):
            t, out = timed([a.wharf, "ps", "-c", CLUSTER], env)
            rows = len(out.splitlines()) - 1
            t_json, out_json = timed([a.wharf, "ps", "-c", CLUSTER, "--json"], env)
            count = len(json.loads(out_json))
            if rows != a.tasks or count != a.tasks:
                raise RuntimeError(f"ps showed {rows} rows / {count} tasks, not {a.tasks}")
            t_aws = None
            if not a.skip_aws:
                t_aws, described = aws_reads(a.endpoint, aws_env(home))
                if described != a.tasks:
                    raise RuntimeError(f"the aws CLI described {described} tasks")
            if r == 0:
                log("warm-up round done")
                continue
            table.append(t)
            as_json.append(t_json)
            if t_aws is not None:
                anchor.append(t_aws)
            log(f"round {r}: ps {ms(t)}, ps --json {ms(t_json)}"
                + (f", aws CLI {ms(t_aws)}" if t_aws is not None else ""))

    load = open("/proc/loadavg").read().split()[:3]
    print(f"\n{a.tasks} tasks, median of {a.rounds} rounds (load average {' '.join(load)})\n")
    print("| Case | Wharf | Anchor: aws CLI list-tasks + describe-tasks per 100 | Ratio |")
    print("|---|---:|---:|---:|")
    anchor_median = statistics.median(anchor) if anchor else None
    for name, samples in (("`wharf ps`", table), ("`wharf ps --json`", as_json)):
        m = statistics.median(samples)
        ratio = f"{anchor_median / m:.0f}× faster" if anchor_median else ""
        anchor_text = ms(anchor_median) if anchor_median else "(skipped)"
        print(f"| {name} | {ms(m)} (max {ms(max(samples))}) | {anchor_text} | {ratio} |")


if __name__ == "__main__":
    main()
