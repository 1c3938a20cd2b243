#!/usr/bin/env python3
"""Drives issue 17's scale run against a server whose container instances are simulated
(`wharf sim`), and measures placements per second and the API's latency during placement.

Phases, one after the other, with a sampler thread timing reads throughout:
  1. RunTask, `count` 10 per call (ECS's limit), from CLIENTS processes at once, until
     RUN_TASKS tasks are placed;
  2. SERVICES services (created with desiredCount 0 before phase 1, so that DescribeServices
     reads real services from the start) raised to SERVICE_TASKS / SERVICES each with
     UpdateService, until every one of their tasks is placed (pendingCount + runningCount);
  3. until the cluster counts every task RUNNING (the simulated hosts' reports are in).

A placement is a task stored on a container instance: RunTask's answer carries it; for
services, DescribeServices' pending + running counts. The sampler calls in turn, SAMPLE_RATE
times a second: DescribeServices (10 services), ListTasks by service (100 at most) and
DescribeTasks of 100 tasks placed by phase 1. Latency is measured from this client, on one
keep-alive connection.

Prints a Markdown summary, then `RESULT tasks=N placements_per_s=N p99_api_ms=N` (the worst
of the three p99s); bench/scale.sh adds the instances and the server's RSS. Python 3 standard
library only.
"""

import argparse
import http.client
import json
import multiprocessing as mp
import sys
import threading
import time
import urllib.parse

TARGET = "AmazonEC2ContainerServiceV20141113."


class Ecs:
    """One keep-alive connection to the ECS API."""

    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def call(self, op, body):
        data = json.dumps(body).encode()
        headers = {"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"}
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.request("POST", "/", data, headers)
                resp = self.conn.getresponse()
                answer = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{op}: HTTP {resp.status}: {answer[:300]!r}")
                return json.loads(answer)
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def run_tasks_worker(endpoint, cluster, family, remaining, placed, failures, arns_out):
    """Calls RunTask (count 10) until the shared `remaining` is used up."""
    ecs = Ecs(endpoint)
    kept = []
    while True:
        with remaining.get_lock():
            if remaining.value <= 0:
                break
            n = min(10, remaining.value)
            remaining.value -= n
        answer = ecs.call("RunTask", {"cluster": cluster, "taskDefinition": family, "count": n,
                                      "startedBy": "scale"})
        got = answer.get("tasks", [])
        with placed.get_lock():
            placed.value += len(got)
        if answer.get("failures"):
            with failures.get_lock():
                failures.value += len(answer["failures"])
            with remaining.get_lock():
                remaining.value += n - len(got)
            if not got:
                time.sleep(0.05)
        if len(kept) < 100:
            kept.extend(t["taskArn"] for t in got)
    arns_out.put(kept[:100])


class Sampler(threading.Thread):
    """Times the three reads in turn while the phases run."""

    def __init__(self, endpoint, cluster, services, rate):
        super().__init__(daemon=True)
        self.ecs = Ecs(endpoint)
        self.cluster, self.services, self.rate = cluster, services, rate
        self.task_arns = []
        self.latencies = {"DescribeServices": [], "ListTasks": [], "DescribeTasks": []}
        self.stop = threading.Event()

    def run(self):
        i = 0
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            op = ["DescribeServices", "ListTasks", "DescribeTasks"][i % 3]
            i += 1
            if op == "DescribeServices":
                body = {"cluster": self.cluster, "services": self.services[:10]}
            elif op == "ListTasks":
                body = {"cluster": self.cluster, "serviceName": self.services[i % len(self.services)],
                        "maxResults": 100}
            else:
                if not self.task_arns:
                    continue
                body = {"cluster": self.cluster, "tasks": self.task_arns[:100]}
            start = time.perf_counter()
            self.ecs.call(op, body)
            self.latencies[op].append((time.perf_counter() - start) * 1000)
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()


def placed_by_services(ecs, cluster, services):
    total = 0
    for i in range(0, len(services), 10):
        d = ecs.call("DescribeServices", {"cluster": cluster, "services": services[i:i + 10]})
        total += sum(s["pendingCount"] + s["runningCount"] for s in d["services"])
    return total


def service(ecs, cluster, name):
    return ecs.call("DescribeServices", {"cluster": cluster, "services": [name]})["services"][0]


# ECS counts a task without a container health check (and no load balancer) healthy once it
# has run this long (wharf_model::ecs::service::UNCHECKED_HEALTHY_AFTER_MS).
UNCHECKED_HEALTHY_AFTER_S = 40.0


def rolling_deployment(ecs, a, family, rate):
    """A service of ROLL_TASKS healthy tasks rolled to a new revision, minimumHealthyPercent
    100 and maximumPercent 200: ECS may start every new task at once, and stops an old one
    once a new one counts healthy, 40 s after it started RUNNING (no health check). The least
    time that configuration allows is placing the new tasks at the rate measured above, one
    start latency, those 40 s and one stop latency. Returns two rows (name, tasks, seconds,
    allowed): the old tasks replaced, and the deployment COMPLETED."""
    name, n = "scale-roll", a.roll_tasks
    ecs.call("CreateService", {
        "cluster": a.cluster, "serviceName": name, "taskDefinition": family, "desiredCount": n,
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200}})
    deadline = time.monotonic() + a.timeout
    # Healthy first: its deployment COMPLETED (its tasks counted healthy).
    while service(ecs, a.cluster, name)["deployments"][0].get("rolloutState") != "COMPLETED":
        if time.monotonic() > deadline:
            sys.exit(f"{name} did not reach {n} healthy tasks in time")
        time.sleep(0.5)
    ecs.call("RegisterTaskDefinition", {
        "family": family,
        "containerDefinitions": [{"name": "app", "image": "scale/app:2", "cpu": 1, "memory": 32,
                                  "essential": True}],
    })
    log(f"rolling {name} ({n} tasks) to a new revision")
    start = time.monotonic()
    ecs.call("UpdateService", {"cluster": a.cluster, "service": name, "taskDefinition": family})
    replaced = running = None
    while True:
        s = service(ecs, a.cluster, name)
        deps = s["deployments"]
        now = time.monotonic()
        if running is None and deps[0]["runningCount"] == n:
            running = now - start
        if replaced is None and len(deps) == 1 and deps[0]["runningCount"] == n:
            replaced = now - start
        if replaced is not None and deps[0].get("rolloutState") == "COMPLETED":
            break
        if now > deadline:
            sys.exit(f"the rollout of {name} did not complete in time")
        time.sleep(0.05)
    took = time.monotonic() - start
    allowed = least_time(a, n, rate)
    log(f"rollout: new tasks RUNNING in {running:.1f} s, old replaced in {replaced:.1f} s, "
        f"COMPLETED in {took:.1f} s (allowed {allowed:.1f} s)")
    return [(f"rolling deployment of {n} tasks (100%/200%): new tasks RUNNING", n, running,
             n / rate + a.start_latency_ms / 1000),
            (f"rolling deployment of {n} tasks: old replaced", n, replaced, allowed),
            (f"rolling deployment of {n} tasks: COMPLETED", n, took, allowed)]


def least_time(a, n, rate):
    """The least time to replace n healthy tasks under minimumHealthyPercent 100: place the new
    ones at the measured rate, start them, wait until they count healthy, stop the old."""
    if not rate:
        return 0
    return (n / rate + (a.start_latency_ms + a.stop_latency_ms) / 1000
            + UNCHECKED_HEALTHY_AFTER_S)


def drain(ecs, a, rate):
    """Drains instances holding the rolled service's tasks; times until every one of those
    tasks is STOPPED and the service runs its desired count again. ECS starts the
    replacements first (minimumHealthyPercent 100) and stops a draining task once its
    replacement is healthy: the least time allowed is placing the replacements at the
    measured rate, one start latency, the 40 s before they count healthy, one stop latency."""
    name = "scale-roll"
    want = max(1, min(a.drain_instances, a.instances // 10))
    arns, on = [], {}
    token = None
    while len(on) < want:
        body = {"cluster": a.cluster, "serviceName": name, "desiredStatus": "RUNNING",
                "maxResults": 100}
        if token:
            body["nextToken"] = token
        page = ecs.call("ListTasks", body)
        if not page["taskArns"]:
            break
        for t in ecs.call("DescribeTasks", {"cluster": a.cluster,
                                            "tasks": page["taskArns"]})["tasks"]:
            ci = t["containerInstanceArn"]
            if ci in on or len(on) < want:
                on.setdefault(ci, []).append(t["taskArn"])
        token = page.get("nextToken")
        if not token:
            break
    instances = list(on)
    arns = [t for ts in on.values() for t in ts]
    # Every task of the service on those instances, not only those listed so far.
    for instance in instances:
        token = None
        while True:
            body = {"cluster": a.cluster, "containerInstance": instance,
                    "desiredStatus": "RUNNING", "maxResults": 100}
            if token:
                body["nextToken"] = token
            page = ecs.call("ListTasks", body)
            listed = page["taskArns"]
            if listed:
                for t in ecs.call("DescribeTasks", {"cluster": a.cluster,
                                                    "tasks": listed})["tasks"]:
                    if t.get("group") == f"service:{name}" and t["taskArn"] not in arns:
                        arns.append(t["taskArn"])
            token = page.get("nextToken")
            if not token:
                break
    n = len(arns)
    desired = service(ecs, a.cluster, name)["desiredCount"]
    log(f"draining {len(instances)} instances holding {n} of {name}'s tasks")
    start, wall = time.monotonic(), time.time()
    for i in range(0, len(instances), 10):
        ecs.call("UpdateContainerInstancesState", {
            "cluster": a.cluster, "containerInstances": instances[i:i + 10],
            "status": "DRAINING"})
    deadline = start + a.timeout
    while True:
        stopped = 0
        for i in range(0, n, 100):
            d = ecs.call("DescribeTasks", {"cluster": a.cluster, "tasks": arns[i:i + 100]})
            stopped += sum(1 for t in d["tasks"] if t["lastStatus"] == "STOPPED")
        if stopped == n and service(ecs, a.cluster, name)["runningCount"] >= desired:
            break
        if time.monotonic() > deadline:
            sys.exit("the drained instances' tasks were not replaced in time")
        time.sleep(0.05)
    took = time.monotonic() - start
    allowed = least_time(a, n, rate)
    # The replacements: the service's tasks created after the drain began (the server's
    # clock is this machine's), and when the last of them started.
    started, token = [], None
    while True:
        body = {"cluster": a.cluster, "serviceName": name, "desiredStatus": "RUNNING",
                "maxResults": 100}
        if token:
            body["nextToken"] = token
        page = ecs.call("ListTasks", body)
        if page["taskArns"]:
            for t in ecs.call("DescribeTasks", {"cluster": a.cluster,
                                                "tasks": page["taskArns"]})["tasks"]:
                if t["createdAt"] >= wall and t.get("startedAt"):
                    started.append(t["startedAt"] - wall)
        token = page.get("nextToken")
        if not token:
            break
    running = max(started) if started else took
    log(f"drain: {len(started)} replacements, the first started {min(started or [0]):.2f} s "
        f"after the drain began, the last {running:.2f} s; the drained tasks replaced in "
        f"{took:.1f} s (allowed {allowed:.1f} s)")
    what = f"drain of {len(instances)} instances ({n} service tasks)"
    return [(f"{what}: replacements RUNNING", n, running, n / rate + a.start_latency_ms / 1000),
            (f"{what}: drained tasks replaced", n, took, allowed)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--instances", type=int, required=True)
    ap.add_argument("--run-tasks", type=int, default=10000)
    ap.add_argument("--service-tasks", type=int, default=10000)
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--sample-rate", type=float, default=20)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--settle-timeout", type=float, default=120)
    ap.add_argument("--roll-tasks", type=int, default=1000,
                    help="tasks of the service rolled to a new revision (0: no rollout)")
    ap.add_argument("--drain-instances", type=int, default=100,
                    help="instances drained after the rollout (at most a tenth of them)")
    ap.add_argument("--start-latency-ms", type=float, default=50)
    ap.add_argument("--stop-latency-ms", type=float, default=50)
    a = ap.parse_args()
    ecs = Ecs(a.endpoint)

    log(f"waiting for {a.instances} instances in {a.cluster}")
    deadline = time.monotonic() + a.timeout
    while True:
        c = ecs.call("DescribeClusters", {"clusters": [a.cluster]})["clusters"]
        if c and c[0]["registeredContainerInstancesCount"] >= a.instances:
            break
        if time.monotonic() > deadline:
            sys.exit("the simulated instances did not register in time")
        time.sleep(0.5)

    family = "scale-app"
    ecs.call("RegisterTaskDefinition", {
        "family": family,
        "containerDefinitions": [{"name": "app", "image": "scale/app:1", "cpu": 1, "memory": 32,
                                  "essential": True}],
    })
    services = [f"scale-svc-{i}" for i in range(max(a.services, 1))]
    for s in services:
        ecs.call("CreateService", {"cluster": a.cluster, "serviceName": s,
                                   "taskDefinition": family, "desiredCount": 0})

    sampler = Sampler(a.endpoint, a.cluster, services, a.sample_rate)
    sampler.start()
    phases = []

    # Phase 1: RunTask from several clients.
    if a.run_tasks > 0:
        remaining, placed, failures = mp.Value("l", a.run_tasks), mp.Value("l", 0), mp.Value("l", 0)
        arns = mp.Queue()
        procs = [mp.Process(target=run_tasks_worker,
                            args=(a.endpoint, a.cluster, family, remaining, placed, failures, arns))
                 for _ in range(a.clients)]
        start = time.monotonic()
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            if not sampler.task_arns and not arns.empty():
                sampler.task_arns = arns.get()
            time.sleep(0.2)
            log(f"  RunTask: {placed.value} placed")
        took = time.monotonic() - start
        while not arns.empty():
            got = arns.get()
            if not sampler.task_arns:
                sampler.task_arns = got
        phases.append(("RunTask ×10", placed.value, took, failures.value))
        log(f"RunTask: {placed.value} tasks in {took:.1f} s, {failures.value} failures")

    # Phase 2: services with large desired counts.
    if a.service_tasks > 0:
        each = a.service_tasks // len(services)
        start = time.monotonic()
        for s in services:
            ecs.call("UpdateService", {"cluster": a.cluster, "service": s, "desiredCount": each})
        target = each * len(services)
        while True:
            n = min(placed_by_services(ecs, a.cluster, services), target)
            log(f"  services: {n}/{target} placed")
            if n >= target:
                break
            if time.monotonic() > deadline:
                log(f"services placed only {n} of {target} tasks in time")
                break
            time.sleep(0.5)
        took = time.monotonic() - start
        phases.append((f"services ({len(services)} × {each})", n, took, target - n))
        log(f"services: {n} tasks in {took:.1f} s")

    # Phase 3: every task RUNNING.
    total = sum(p[1] for p in phases)
    start = time.monotonic()
    settle_by = start + a.settle_timeout
    while True:
        c = ecs.call("DescribeClusters", {"clusters": [a.cluster]})["clusters"][0]
        running = c["runningTasksCount"]
        if running >= total:
            break
        if time.monotonic() > settle_by:
            log(f"only {running} of {total} tasks RUNNING after {a.settle_timeout:.0f} s")
            break
        time.sleep(0.5)
    settle = time.monotonic() - start
    sampler.stop.set()
    sampler.join(timeout=30)

    placing = sum(p[2] for p in phases)
    rate = total / placing if placing else 0
    convergence = []
    if a.roll_tasks > 0:
        convergence.extend(rolling_deployment(ecs, a, family, rate))
    if a.drain_instances > 0 and a.roll_tasks > 0:
        convergence.extend(drain(ecs, a, rate))
    print(f"\n{a.instances} simulated instances, {total} tasks ({a.clients} RunTask clients)\n")
    print("| Phase | tasks | seconds | placements/s | failures |")
    print("|---|---|---|---|---|")
    for name, n, took, fails in phases:
        print(f"| {name} | {n} | {took:.1f} | {n / took:.0f} | {fails} |")
    print(f"| RUNNING after the last placement | {running} | {settle:.1f} | | |")
    print("\n| Read during placement | samples | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for op, lat in sampler.latencies.items():
        p99 = percentile(lat, 99)
        worst = max(worst, p99) if lat else worst
        print(f"| {op} | {len(lat)} | {percentile(lat, 50):.1f} | {p99:.1f} | "
              f"{max(lat) if lat else float('nan'):.1f} |")
    print(f"\nRUNNING at the end: {running} of {total}")
    if convergence:
        print("\n| Convergence | tasks | seconds | allowed s | ratio | per s |")
        print("|---|---|---|---|---|---|")
        for name, n, took, allowed in convergence:
            ratio = f"{took / allowed:.2f}" if allowed else ""
            allowed_s = f"{allowed:.1f}" if allowed else ""
            print(f"| {name} | {n} | {took:.1f} | {allowed_s} | {ratio} | {n / took:.0f} |")
    print(f"RESULT tasks={total} placements_per_s={rate:.0f} p99_api_ms={worst:.1f}")


if __name__ == "__main__":
    main()
