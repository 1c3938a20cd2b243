#!/usr/bin/env python3
"""The `/metrics` scrape budget: under 50 ms with a realistic load.

Talks to a running `wharf server --no-agent --agent-token TOKEN` (its load balancer data
plane on 127.0.0.1) and builds the load by scale simulation, as the issue allows: a fake
agent registers one large container instance through the agent endpoints
(`/_wharf/agent/v1/register`), watches its assignments (`/watch`, newline-delimited JSON)
and reports each task's progress (`/report`) the way `wharf agent` would, without Docker.
On it:

- 50 services of 10 tasks each (desiredCount 10, all reported RUNNING);
- 500 standalone tasks (RunTask count 10, 50 times): most reported RUNNING, some left
  PENDING, some STOPPED;
- 10 load balancers with a listener each, forwarding to a target group with no targets
  (the load balancer's own 503) and a fixed-response rule, with traffic through each;
- some 40 distinct operations across ECS, ELBv2, SSM, Secrets Manager and CloudWatch Logs,
  answered and refused, so that the API's families have many series.

Then it scrapes `GET /metrics` SCRAPES times over one kept-alive connection (after a
warm-up) and reports the median, p90, p99 and max wall time of a whole scrape (request
sent to last byte read), the body's size and sample count. Anchors in the same run:
a scrape of a second, empty server started the same way (what the fixed parts cost), and
DescribeClusters on the loaded server (the API's own floor for a request).

Progress goes to stderr; the result is Markdown on stdout. Python 3 standard library only.

Usage: metrics.py --endpoint http://127.0.0.1:PORT --token TOKEN
                  --empty-endpoint http://127.0.0.1:PORT2 [--scrapes 200]
"""

import argparse
import http.client
import json
import math
import socket
import statistics
import sys
import threading
import time
import urllib.parse

CLUSTER = "bench"
REGION = "us-east-1"
SERVICES = 50
TASKS_PER_SERVICE = 10
STANDALONE_BATCHES = 50
BATCH = 10
LOAD_BALANCERS = 10
ECS_TARGET = "AmazonEC2ContainerServiceV20141113."


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def pct(xs, q):
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


class Client:
    """One kept-alive HTTP connection."""

    def __init__(self, endpoint, timeout=120):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.conn.request(method, path, body, headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def json11(self, target, body, ok=True):
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        status, _, raw = self.request("POST", "/", json.dumps(body).encode(), headers)
        if ok and status // 100 != 2:
            raise RuntimeError(f"{target}: HTTP {status}: {raw[:300]!r}")
        return status, (json.loads(raw) if raw else {})

    def ecs(self, op, body, ok=True):
        return self.json11(ECS_TARGET + op, body, ok)[1]

    def query(self, params, ok=True):
        params = dict(params, Version="2015-12-01")
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, raw = self.request("POST", "/", body, headers)
        if ok and status // 100 != 2:
            raise RuntimeError(f"{params['Action']}: HTTP {status}: {raw[:300]!r}")
        return raw.decode()


def xml_value(xml, tag):
    start = xml.index(f"<{tag}>") + len(tag) + 2
    return xml[start : xml.index(f"</{tag}>", start)]


class FakeAgent(threading.Thread):
    """Registers an instance, watches its assignments and reports each task's progress:
    RUNNING, except what `outcome` says for standalone tasks."""

    def __init__(self, endpoint, token):
        super().__init__(daemon=True)
        self.endpoint, self.token = endpoint, token
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.reporter = Client(endpoint)
        self.reported = {}
        self.lock = threading.Lock()
        self.error = None

    def register(self):
        body = {
            "cluster": CLUSTER,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1_000_000},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 1_000_000},
            ],
        }
        status, _, raw = self.reporter.request(
            "POST", f"/_wharf/agent/v1/register?region={REGION}", json.dumps(body), self.headers
        )
        if status != 200:
            raise RuntimeError(f"register: HTTP {status}: {raw[:300]!r}")
        self.instance = json.loads(raw)["containerInstanceArn"].rsplit("/", 1)[1]

    @staticmethod
    def outcome(task):
        """Standalone tasks (startedBy bench-solo-N): every tenth stays PENDING, every
        tenth after it stops; the rest run."""
        if not (task.get("startedBy") or "").startswith("bench-solo"):
            return "RUNNING"
        n = int(task["taskArn"][-2:], 16) % 10
        return {0: "PENDING", 1: "STOPPED"}.get(n, "RUNNING")

    def report(self, task, status):
        name = task["containers"][0]["name"]
        container = {"name": name, "lastStatus": status}
        change = {"taskArn": task["taskArn"], "lastStatus": status, "containers": [container]}
        if status == "STOPPED":
            container["exitCode"] = 0
            change["stoppedReason"] = "Essential container in task exited"
            change["stopCode"] = "EssentialContainerExited"
        status_code, _, raw = self.reporter.request(
            "POST",
            f"/_wharf/agent/v1/report?region={REGION}&cluster={CLUSTER}",
            json.dumps(change),
            self.headers,
        )
        if status_code != 204:
            raise RuntimeError(f"report: HTTP {status_code}: {raw[:300]!r}")
        with self.lock:
            self.reported[task["taskArn"]] = status

    def run(self):
        try:
            u = urllib.parse.urlparse(self.endpoint)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=None)
            path = f"/_wharf/agent/v1/watch?region={REGION}&cluster={CLUSTER}&instance={self.instance}"
            conn.request("GET", path, headers=self.headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"watch: HTTP {resp.status}")
            while True:
                line = resp.readline()
                if not line:
                    return
                task = json.loads(line)["task"]
                arn = task["taskArn"]
                with self.lock:
                    done = self.reported.get(arn)
                if task.get("desiredStatus") == "STOPPED":
                    if done != "STOPPED":
                        self.report(task, "STOPPED")
                elif done is None:
                    self.report(task, self.outcome(task))
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e

    def count(self):
        with self.lock:
            return len(self.reported)


def build_load(api, agent):
    log("registering 51 task definitions")
    for i in range(SERVICES + 1):
        family = f"bench-{i:02d}"
        api.ecs("RegisterTaskDefinition", {
            "family": family,
            "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 8,
                                      "command": ["sleep", "3600"]}],
        })
    log(f"creating {SERVICES} services of {TASKS_PER_SERVICE} tasks")
    for i in range(SERVICES):
        api.ecs("CreateService", {
            "cluster": CLUSTER, "serviceName": f"svc-{i:02d}", "taskDefinition": f"bench-{i:02d}",
            "desiredCount": TASKS_PER_SERVICE,
        })
    log(f"running {STANDALONE_BATCHES * BATCH} standalone tasks")
    for i in range(STANDALONE_BATCHES):
        api.ecs("RunTask", {"cluster": CLUSTER, "taskDefinition": f"bench-{SERVICES:02d}",
                            "count": BATCH, "startedBy": f"bench-solo-{i}"})
    total = SERVICES * TASKS_PER_SERVICE + STANDALONE_BATCHES * BATCH
    deadline = time.monotonic() + 300
    while agent.count() < total:
        if agent.error:
            raise agent.error
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {agent.count()} of {total} tasks reported")
        time.sleep(0.2)
    log(f"{total} tasks placed and reported")
    # Service tasks that stopped are replaced; wait until every service runs its ten.
    deadline = time.monotonic() + 300
    while True:
        running = 0
        for start in range(0, SERVICES, 10):
            names = [f"svc-{i:02d}" for i in range(start, min(start + 10, SERVICES))]
            out = api.ecs("DescribeServices", {"cluster": CLUSTER, "services": names})
            running += sum(s["runningCount"] for s in out["services"])
        if running == SERVICES * TASKS_PER_SERVICE:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"services run {running} tasks")
        time.sleep(0.5)


def load_balancers(api):
    log(f"creating {LOAD_BALANCERS} load balancers with a listener each")
    ports = []
    for i in range(LOAD_BALANCERS):
        tg = xml_value(api.query({
            "Action": "CreateTargetGroup", "Name": f"tg-{i}", "Protocol": "HTTP", "Port": "80",
            "TargetType": "ip", "VpcId": "vpc-1",
        }), "TargetGroupArn")
        lb = xml_value(api.query({
            "Action": "CreateLoadBalancer", "Name": f"lb-{i}", "Subnets.member.1": "subnet-1",
            "Subnets.member.2": "subnet-2",
        }), "LoadBalancerArn")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        listener = xml_value(api.query({
            "Action": "CreateListener", "LoadBalancerArn": lb, "Protocol": "HTTP",
            "Port": str(port), "DefaultActions.member.1.Type": "forward",
            "DefaultActions.member.1.TargetGroupArn": tg,
        }), "ListenerArn")
        api.query({
            "Action": "CreateRule", "ListenerArn": listener, "Priority": "1",
            "Conditions.member.1.Field": "path-pattern",
            "Conditions.member.1.Values.member.1": "/fixed",
            "Actions.member.1.Type": "fixed-response",
            "Actions.member.1.FixedResponseConfig.StatusCode": "200",
        })
        ports.append(port)
    for port in ports:
        deadline = time.monotonic() + 30
        while True:
            try:
                lbc = Client(f"http://127.0.0.1:{port}", timeout=5)
                for path in ("/", "/fixed", "/other", "/fixed"):
                    lbc.request("GET", path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def many_operations(api):
    log("calling some 40 operations, answered and refused")
    c = {"cluster": CLUSTER}
    calls = [
        ("DescribeClusters", {"clusters": [CLUSTER]}), ("ListClusters", {}),
        ("ListServices", c), ("ListTasks", c), ("ListContainerInstances", c),
        ("ListTaskDefinitions", {}), ("ListTaskDefinitionFamilies", {}),
        ("DescribeTaskDefinition", {"taskDefinition": "bench-00"}),
        ("ListAccountSettings", {}), ("DescribeCapacityProviders", {}),
        ("ListTagsForResource", {"resourceArn": "arn:aws:ecs:us-east-1:000000000000:cluster/bench"}),
        ("DescribeServices", {"cluster": "missing", "services": ["x"]}),
        ("DescribeTasks", {"cluster": CLUSTER, "tasks": ["nope"]}),
        ("RunTask", {"cluster": CLUSTER, "taskDefinition": "missing"}),
        ("CreateService", {"cluster": CLUSTER}),
        ("DeleteCluster", {"cluster": "missing"}),
        ("LaunchRockets", {}),
    ]
    for op, body in calls:
        api.ecs(op, body, ok=False)
    for target, body in [
        ("AmazonSSM.PutParameter", {"Name": "/bench/p", "Value": "v", "Type": "String"}),
        ("AmazonSSM.GetParameter", {"Name": "/bench/p"}),
        ("AmazonSSM.GetParameter", {"Name": "/bench/missing"}),
        ("AmazonSSM.DescribeParameters", {}),
        ("secretsmanager.CreateSecret", {"Name": "bench", "SecretString": "s"}),
        ("secretsmanager.GetSecretValue", {"SecretId": "bench"}),
        ("secretsmanager.GetSecretValue", {"SecretId": "missing"}),
        ("secretsmanager.ListSecrets", {}),
        ("Logs_20140328.CreateLogGroup", {"logGroupName": "bench"}),
        ("Logs_20140328.DescribeLogGroups", {}),
        ("Logs_20140328.CreateLogGroup", {"logGroupName": "bench"}),
        ("Logs_20140328.FilterLogEvents", {"logGroupName": "bench"}),
    ]:
        api.json11(target, body, ok=False)
    for action in ["DescribeLoadBalancers", "DescribeTargetGroups", "DescribeTags",
                   "DescribeAccountLimits", "DescribeSSLPolicies", "NoSuchAction"]:
        api.query({"Action": action}, ok=False)
    api.query({"Action": "DescribeListeners", "LoadBalancerArn": "arn:nope"}, ok=False)
    api.query({"Action": "DescribeTargetHealth", "TargetGroupArn": "arn:nope"}, ok=False)


def scrape_times(endpoint, n):
    c = Client(endpoint)
    times, size, samples = [], 0, 0
    for i in range(n + 10):
        t0 = time.perf_counter()
        status, headers, body = c.request("GET", "/metrics")
        elapsed = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"/metrics: HTTP {status}: {body[:300]!r}")
        if i >= 10:  # warm-up
            times.append(elapsed * 1000)
        size = len(body)
        samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    return times, size, samples


def call_times(api, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        api.ecs("DescribeClusters", {"clusters": [CLUSTER]})
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--empty-endpoint", required=True)
    p.add_argument("--scrapes", type=int, default=200)
    args = p.parse_args()

    api = Client(args.endpoint)
    agent = FakeAgent(args.endpoint, args.token)
    agent.register()
    agent.start()
    build_load(api, agent)
    load_balancers(api)
    many_operations(api)

    log(f"scraping {args.scrapes} times (and an empty server, and DescribeClusters)")
    loaded, size, samples = scrape_times(args.endpoint, args.scrapes)
    empty, empty_size, empty_samples = scrape_times(args.empty_endpoint, args.scrapes)
    describe = call_times(api, args.scrapes)
    status = Client(args.endpoint).request("GET", "/metrics")[2].decode()
    tasks = sum(float(l.rsplit(" ", 1)[1]) for l in status.splitlines() if l.startswith("wharf_tasks{"))
    series = len({l.split("{", 1)[0] for l in status.splitlines() if l and not l.startswith("#")})

    def row(name, xs, extra):
        return (f"| {name} | {statistics.median(xs):.2f} | {pct(xs, 0.9):.2f} | "
                f"{pct(xs, 0.99):.2f} | {max(xs):.2f} | {extra} |")

    print(f"Load: {int(tasks)} tasks, {SERVICES} services, {LOAD_BALANCERS} load balancers; "
          f"{args.scrapes} scrapes after 10 of warm-up, one kept-alive connection.")
    print()
    print("| Case | median ms | p90 ms | p99 ms | max ms | body |")
    print("|---|---:|---:|---:|---:|---|")
    print(row("GET /metrics, loaded server", loaded, f"{size:,} bytes, {samples:,} samples, {series} names"))
    print(row("GET /metrics, empty server (anchor)", empty, f"{empty_size:,} bytes, {empty_samples} samples"))
    print(row("DescribeClusters, loaded server (anchor)", describe, "one cluster"))
    print()
    p99 = pct(loaded, 0.99)
    print(f"Budget: scrape under 50 ms: p99 {p99:.2f} ms, {'met' if p99 < 50 else 'NOT met'}.")


if __name__ == "__main__":
    main()
