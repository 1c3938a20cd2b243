#!/usr/bin/env python3
"""Wharf's service budgets: a stopped task replaced, a 10-task rolling deployment.

Talks to a running `wharf server` (its embedded agent running tasks on the local Docker
Engine, its ALB data plane on 127.0.0.1) and to that engine, and measures:

1. Replacement latency. A REPLICA service of one task (`sleep 3600`, image present). Each
   round kills the task's container through the Engine API (`POST /containers/ID/kill`)
   and times, from the kill: the old task seen STOPPED, and the replacement task first
   seen RUNNING (ListTasks + DescribeTasks polled in a tight loop over one kept-alive
   connection). The round ends once the service is back at runningCount 1. Anchor,
   interleaved with the rounds: `docker run -d` of the same image and command (the CLI's
   wall time, i.e. the container's own start). Budget: replacement RUNNING within 1 s plus
   the anchor.
2. A 10-task rolling deployment with the default deployment configuration (minimum 100%,
   maximum 200%) behind a target group (instance targets, dynamic host ports, health check
   interval I, healthy threshold H, deregistration delay D), an ALB and a listener. Each
   round registers a new revision, calls UpdateService and times until DescribeServices
   shows the new PRIMARY alone with rolloutState COMPLETED and 10 tasks running. The
   slowest health check path is I*H + D: with maximum 200% all ten new tasks start at once,
   a new target is healthy at the latest H intervals after its registration, and the
   deployment completes only once the old tasks are deregistered, drained for D and
   stopped. Budget: under 2 * (I*H + D).

Progress goes to stderr; the result is Markdown on stdout. Python 3 standard library only.

Usage: services.py --endpoint http://127.0.0.1:PORT --cluster NAME
                   [--rounds 10] [--deploy-rounds 3] [--interval 5] [--healthy 2]
                   [--delay 5]
"""

import argparse
import http.client
import json
import math
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

IMAGE = "wharf-test/busybox:1"
TARGET = "AmazonEC2ContainerServiceV20141113."
DOCKER_SOCKET = "/var/run/docker.sock"
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
NAME_PREFIX = "wharf-bench-"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p90(xs):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def fmt(x, digits=0):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


class Http:
    """One kept-alive HTTP connection, reopened once on failure."""

    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def post(self, data, headers):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.conn.request("POST", "/", data, headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class Ecs(Http):
    """ECS JSON 1.1 (unsigned requests)."""

    def call(self, op, body):
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op}
        status, raw = self.post(json.dumps(body).encode(), headers)
        if status // 100 != 2:
            raise RuntimeError(f"{op}: HTTP {status}: {raw[:500]!r}")
        return json.loads(raw) if raw else {}


class Elb(Http):
    """ELBv2 Query protocol (unsigned requests); answers are XML, read with regexes."""

    def call(self, action, params):
        form = {"Action": action, "Version": "2015-12-01", **params}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, raw = self.post(urllib.parse.urlencode(form).encode(), headers)
        text = raw.decode()
        if status // 100 != 2:
            raise RuntimeError(f"{action}: HTTP {status}: {text[:500]}")
        return text

    @staticmethod
    def field(text, name):
        m = re.search(f"<{name}>([^<]*)</{name}>", text)
        if not m:
            raise RuntimeError(f"no <{name}> in {text[:500]}")
        return m.group(1)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Docker:
    """The Engine API on the unix socket."""

    def __init__(self):
        self.conn = None

    def request(self, method, url):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = UnixHTTPConnection(DOCKER_SOCKET)
            try:
                self.conn.request(method, url)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def container_of(self, task_arn):
        filters = urllib.parse.quote(json.dumps({"label": [f"{LABEL_TASK_ARN}={task_arn}"]}))
        status, found = self.request("GET", f"/containers/json?filters={filters}")
        if status != 200 or not found:
            raise RuntimeError(f"no running container for {task_arn}")
        return found[0]["Id"]


def wait(what, timeout, f, interval=0.0):
    deadline = time.monotonic() + timeout
    while True:
        v = f()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        if interval:
            time.sleep(interval)


def register(ecs, family, container):
    out = ecs.call(
        "RegisterTaskDefinition",
        {"family": family, "networkMode": "bridge", "containerDefinitions": [container]},
    )
    return out["taskDefinition"]["taskDefinitionArn"]


def describe(ecs, cluster, name):
    return ecs.call("DescribeServices", {"cluster": cluster, "services": [name]})["services"][0]


def completed(ecs, cluster, name, task_definition, desired):
    svc = describe(ecs, cluster, name)
    deps = svc.get("deployments", [])
    return (
        len(deps) == 1
        and deps[0].get("rolloutState") == "COMPLETED"
        and deps[0].get("taskDefinition") == task_definition
        and svc.get("runningCount") == desired
    )


def running_tasks(ecs, cluster, service):
    arns = ecs.call("ListTasks", {"cluster": cluster, "serviceName": service})["taskArns"]
    if not arns:
        return []
    tasks = ecs.call("DescribeTasks", {"cluster": cluster, "tasks": arns})["tasks"]
    return [t for t in tasks if t.get("lastStatus") == "RUNNING"]


def docker_run_anchor(i):
    name = f"{NAME_PREFIX}anchor-{i}-{time.monotonic_ns()}"
    t0 = time.monotonic()
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-m", "32m", IMAGE, "sleep", "3600"],
        check=True,
        capture_output=True,
    )
    took = time.monotonic() - t0
    subprocess.run(["docker", "rm", "-f", "-v", name], check=True, capture_output=True)
    return took


def replacement(ecs, docker, cluster, rounds):
    td = register(
        ecs,
        "bench-replace",
        {"name": "main", "image": IMAGE, "memory": 32, "essential": True,
         "command": ["sleep", "3600"]},
    )
    ecs.call(
        "CreateService",
        {"cluster": cluster, "serviceName": "replace", "taskDefinition": td, "desiredCount": 1},
    )
    wait("the service's first task", 120, lambda: completed(ecs, cluster, "replace", td, 1), 0.1)
    stopped_seen, running_seen, anchors = [], [], []
    for i in range(rounds):
        anchors.append(docker_run_anchor(i))
        old = running_tasks(ecs, cluster, "replace")[0]["taskArn"]
        container = docker.container_of(old)
        t0 = time.monotonic()
        status, _ = docker.request("POST", f"/containers/{container}/kill")
        if status != 204:
            raise RuntimeError(f"kill {container}: HTTP {status}")
        seen_stop = None
        while True:
            if time.monotonic() - t0 > 60:
                raise RuntimeError("no replacement RUNNING within 60 s")
            arns = ecs.call("ListTasks", {"cluster": cluster, "serviceName": "replace"})[
                "taskArns"
            ]
            tasks = ecs.call(
                "DescribeTasks", {"cluster": cluster, "tasks": sorted(set(arns) | {old})}
            )["tasks"]
            now = time.monotonic() - t0
            by = {t["taskArn"]: t for t in tasks}
            if seen_stop is None and by.get(old, {}).get("lastStatus") == "STOPPED":
                seen_stop = now
            new = [t for a, t in by.items() if a != old and t.get("lastStatus") == "RUNNING"]
            if new:
                running_seen.append(now)
                stopped_seen.append(seen_stop if seen_stop is not None else now)
                break
        wait("runningCount back at 1", 60,
             lambda: completed(ecs, cluster, "replace", td, 1), 0.05)
        log(f"  round {i + 1}: old STOPPED {stopped_seen[-1] * 1000:.0f} ms, replacement "
            f"RUNNING {running_seen[-1] * 1000:.0f} ms; docker run -d {anchors[-1] * 1000:.0f} ms")
    ecs.call("DeleteService", {"cluster": cluster, "service": "replace", "force": True})
    return stopped_seen, running_seen, anchors


def rolling(ecs, elb, cluster, rounds, interval, healthy, delay):
    tg = elb.call("CreateTargetGroup", {
        "Name": "bench-roll", "Protocol": "HTTP", "Port": "80", "TargetType": "instance",
        "VpcId": "vpc-1", "HealthCheckPath": "/", "HealthCheckIntervalSeconds": str(interval),
        "HealthCheckTimeoutSeconds": str(min(interval - 1, 2)),
        "HealthyThresholdCount": str(healthy),
    })
    tg_arn = Elb.field(tg, "TargetGroupArn")
    elb.call("ModifyTargetGroupAttributes", {
        "TargetGroupArn": tg_arn,
        "Attributes.member.1.Key": "deregistration_delay.timeout_seconds",
        "Attributes.member.1.Value": str(delay),
    })
    lb = elb.call("CreateLoadBalancer", {
        "Name": "bench-roll-lb", "Subnets.member.1": "subnet-1", "Subnets.member.2": "subnet-2",
    })
    lb_arn = Elb.field(lb, "LoadBalancerArn")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    elb.call("CreateListener", {
        "LoadBalancerArn": lb_arn, "Protocol": "HTTP", "Port": str(port),
        "DefaultActions.member.1.Type": "forward",
        "DefaultActions.member.1.TargetGroupArn": tg_arn,
    })

    def revision(n):
        script = (f"mkdir -p /www && echo rev{n} > /www/index.html && "
                  "exec httpd -f -p 80 -h /www")
        return register(ecs, "bench-roll", {
            "name": "web", "image": IMAGE, "memory": 32, "essential": True, "stopTimeout": 2,
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "command": ["sh", "-c", script],
        })

    td = revision(0)
    ecs.call("CreateService", {
        "cluster": cluster, "serviceName": "roll", "taskDefinition": td, "desiredCount": 10,
        "loadBalancers": [{"targetGroupArn": tg_arn, "containerName": "web",
                           "containerPort": 80}],
    })
    t0 = time.monotonic()
    wait("the 10 first tasks", 300, lambda: completed(ecs, cluster, "roll", td, 10), 0.2)
    log(f"  create: 10 tasks healthy and COMPLETED in {time.monotonic() - t0:.1f} s")
    took = []
    for n in range(1, rounds + 1):
        td = revision(n)
        t0 = time.monotonic()
        ecs.call("UpdateService", {"cluster": cluster, "service": "roll", "taskDefinition": td})
        wait(f"rollout {n}", 600, lambda: completed(ecs, cluster, "roll", td, 10), 0.1)
        took.append(time.monotonic() - t0)
        log(f"  rollout {n}: COMPLETED after {took[-1]:.1f} s")
    ecs.call("DeleteService", {"cluster": cluster, "service": "roll", "force": True})
    return took


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--deploy-rounds", type=int, default=3)
    p.add_argument("--interval", type=int, default=5)
    p.add_argument("--healthy", type=int, default=2)
    p.add_argument("--delay", type=int, default=5)
    a = p.parse_args()
    ecs, elb, docker = Ecs(a.endpoint), Elb(a.endpoint), Docker()

    log(f"replacement latency, {a.rounds} rounds")
    stopped, running, anchors = replacement(ecs, docker, a.cluster, a.rounds)
    log(f"10-task rolling deployment, {a.deploy_rounds} rounds "
        f"(I={a.interval} s, H={a.healthy}, D={a.delay} s)")
    took = rolling(ecs, elb, a.cluster, a.deploy_rounds, a.interval, a.healthy, a.delay)

    ms = lambda xs: [x * 1000 for x in xs]  # noqa: E731
    anchor_med = median(ms(anchors))
    budget = 1000 + anchor_med
    print("### Replacement of a killed service task\n")
    print("| measure | median ms | p90 ms |")
    print("|---|---|---|")
    print(f"| kill → old task STOPPED (seen) | {fmt(median(ms(stopped)))} | "
          f"{fmt(p90(ms(stopped)))} |")
    print(f"| kill → replacement RUNNING (seen) | {fmt(median(ms(running)))} | "
          f"{fmt(p90(ms(running)))} |")
    print(f"| anchor: `docker run -d` | {fmt(anchor_med)} | {fmt(p90(ms(anchors)))} |")
    verdict = "met" if median(ms(running)) <= budget else "MISSED"
    print(f"\nBudget: replacement RUNNING within 1 s + the container's own start = "
          f"{fmt(budget)} ms (median): **{verdict}** (p90 "
          f"{'within' if p90(ms(running)) <= 1000 + p90(ms(anchors)) else 'over'} "
          f"1 s + p90 anchor).\n")
    path = a.interval * a.healthy + a.delay
    print("### 10-task rolling deployment (min 100 %, max 200 %)\n")
    print(f"Health check interval I = {a.interval} s, healthy threshold H = {a.healthy}, "
          f"deregistration delay D = {a.delay} s; slowest health check path I×H + D = "
          f"{path} s; budget 2 × that = {2 * path} s.\n")
    print("| rollout | UpdateService → COMPLETED (s) |")
    print("|---|---|")
    for i, t in enumerate(took, 1):
        print(f"| {i} | {t:.1f} |")
    verdict = "met" if max(took) < 2 * path else "MISSED"
    print(f"\nmedian {median(took):.1f} s, worst {max(took):.1f} s: **{verdict}**")


if __name__ == "__main__":
    main()
