#!/usr/bin/env python3
"""Failover of the etcd-backed control plane after kill -9 of the leading server.

Starts three `wharf server --store etcd://...` (no embedded agents) on one etcd cluster and
a fake agent (registers one large instance, watches its assignments through whichever
server answers, reports every task RUNNING), creates a service, and runs TRIALS trials:

1. a client registers task definitions continuously, each call to the next server that
   accepts its connection (as a client behind a load balancer would);
2. the leading server (named by etcd's leader key) is killed with SIGKILL;
3. right after, the service's desired count is raised through a live server;
4. measured: the API's unavailability (the longest gap between two successful calls
   around the kill), the time until another server holds the leader key, and the time
   until the new leader's scheduler has placed the extra task (reconcilers resumed);
5. the killed server is started again on its data directory.

The budgets: unavailability <= 5 s at p99, reconcilers resumed within the lease's TTL + 1 s.
Progress goes to stderr, Markdown to stdout. Python 3 standard library only.

Usage: etcd_failover.py --wharf BIN --etcd HOST:PORT,... --work DIR [--trials 20] [--lease 5]
"""

import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

TARGET = "AmazonEC2ContainerServiceV20141113."
REGION = "us-east-1"
CLUSTER = "failover"
PREFIX = "failover"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(port, path, body, headers, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Servers:
    def __init__(self, wharf, etcd, work, lease):
        self.wharf, self.etcd, self.work, self.lease = wharf, etcd, work, lease
        self.ports = [free_port() for _ in range(3)]
        self.procs = [None] * 3
        self.next = 0
        self.lock = threading.Lock()

    def start(self, i):
        data = os.path.join(self.work, f"s{i}")
        os.makedirs(data, exist_ok=True)
        out = open(os.path.join(self.work, f"server{i}.log"), "ab")
        self.procs[i] = subprocess.Popen(
            [
                self.wharf, "server", "--listen", f"127.0.0.1:{self.ports[i]}",
                "--data-dir", data, "--store", f"etcd://{self.etcd}/{PREFIX}",
                "--no-agent", "--listener-address", "off", "--metadata-address", "off",
                "--leader-lease", f"{self.lease}s",
            ],
            stdout=out, stderr=out,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.ecs_at(i, "ListClusters", {})[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"server {i} did not start; see {self.work}/server{i}.log")

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()
        self.procs[i] = None

    def stop_all(self):
        for p in self.procs:
            if p:
                p.terminate()
        for p in self.procs:
            if p:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()

    def ecs_at(self, i, op, body):
        status, raw = post(
            self.ports[i], "/", json.dumps(body),
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op},
        )
        return status, (json.loads(raw) if raw else {})

    def ecs(self, op, body):
        """To the next server that accepts the connection."""
        with self.lock:
            start = self.next
            self.next += 1
        last = None
        for k in range(3):
            i = (start + k) % 3
            try:
                status, answer = self.ecs_at(i, op, body)
            except ConnectionRefusedError as e:
                last = e
                continue
            if status == 200:
                return answer
            raise RuntimeError(f"{op}: HTTP {status}: {answer}")
        raise ConnectionRefusedError(f"no server accepts connections: {last}")


def etcd_get(etcd, key):
    host, port = etcd.split(",")[0].split(":")
    body = json.dumps({"key": base64.b64encode(key.encode()).decode()})
    status, raw = post(int(port), "/v3/kv/range", body, {"Content-Type": "application/json"})
    kvs = json.loads(raw).get("kvs", [])
    return json.loads(base64.b64decode(kvs[0]["value"])) if kvs else None


class FakeAgent(threading.Thread):
    """One instance; every task assigned to it is reported RUNNING (through any server)."""

    def __init__(self, servers):
        super().__init__(daemon=True)
        self.servers = servers
        self.reported = set()
        self.headers = {"Content-Type": "application/json"}

    def call(self, path, body):
        for k in range(30):
            i = k % 3
            try:
                status, raw = post(self.servers.ports[i], path, json.dumps(body), self.headers)
                if status // 100 == 2:
                    return raw
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{path}: no server answered")

    def register(self):
        body = {
            "cluster": CLUSTER,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1_000_000},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 1_000_000},
            ],
        }
        raw = self.call(f"/_wharf/agent/v1/register?region={REGION}", body)
        self.instance = json.loads(raw)["containerInstanceArn"].rsplit("/", 1)[1]

    def run(self):
        k = 0
        while True:
            port = self.servers.ports[k % 3]
            k += 1
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                path = (f"/_wharf/agent/v1/watch?region={REGION}&cluster={CLUSTER}"
                        f"&instance={self.instance}")
                conn.request("GET", path)
                resp = conn.getresponse()
                if resp.status != 200:
                    raise OSError(f"watch: HTTP {resp.status}")
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    # {"assigned": {"task": ..., ...}} or the "synced" mark.
                    if not isinstance(event, dict) or "assigned" not in event:
                        continue
                    task = event["assigned"]["task"]
                    arn = task["taskArn"]
                    if task.get("desiredStatus") == "RUNNING" and arn not in self.reported:
                        change = {
                            "taskArn": arn, "lastStatus": "RUNNING",
                            "containers": [{"name": task["containers"][0]["name"],
                                            "lastStatus": "RUNNING"}],
                        }
                        self.call(f"/_wharf/agent/v1/report?region={REGION}&cluster={CLUSTER}",
                                  change)
                        self.reported.add(arn)
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)


class Client(threading.Thread):
    """Registers task definitions back to back, recording when each call succeeded."""

    def __init__(self, servers):
        super().__init__(daemon=True)
        self.servers = servers
        self.ok = []
        self.stop = threading.Event()

    def run(self):
        body = {"family": "failover-load", "containerDefinitions": [
            {"name": "c", "image": "busybox", "memory": 16, "essential": True}]}
        while not self.stop.is_set():
            try:
                self.servers.ecs("RegisterTaskDefinition", body)
                self.ok.append(time.monotonic())
            except (OSError, RuntimeError, http.client.HTTPException):
                pass


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", required=True)
    ap.add_argument("--etcd", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--lease", type=int, default=5)
    a = ap.parse_args()

    servers = Servers(a.wharf, a.etcd, a.work, a.lease)
    try:
        for i in range(3):
            servers.start(i)
        agent = FakeAgent(servers)
        agent.register()
        agent.start()
        servers.ecs("RegisterTaskDefinition", {"family": "failover-svc", "containerDefinitions": [
            {"name": "c", "image": "busybox", "memory": 16, "essential": True}]})
        desired = 1
        servers.ecs("CreateService", {"cluster": CLUSTER, "serviceName": "svc",
                                      "taskDefinition": "failover-svc", "desiredCount": desired})
        rows = []
        for trial in range(1, a.trials + 1):
            # The service is settled before each trial.
            deadline = time.monotonic() + 30
            while len(servers.ecs("ListTasks", {"cluster": CLUSTER, "serviceName": "svc"})
                      .get("taskArns", [])) != desired:
                if time.monotonic() > deadline:
                    raise SystemExit("the service did not settle before a trial")
                time.sleep(0.05)
            leader = etcd_get(a.etcd, f"{PREFIX}/s/leader")
            idx = servers.ports.index(int(leader["name"].rsplit(":", 1)[1]))
            client = Client(servers)
            client.start()
            time.sleep(1.0)
            t0 = time.monotonic()
            servers.kill(idx)
            desired += 1
            while True:
                try:
                    servers.ecs("UpdateService", {"cluster": CLUSTER, "service": "svc",
                                                  "desiredCount": desired})
                    break
                except (OSError, RuntimeError):
                    time.sleep(0.01)
            t_leader = t_resume = None
            deadline = t0 + a.lease + 15
            while time.monotonic() < deadline and (t_leader is None or t_resume is None):
                now = time.monotonic()
                if t_leader is None:
                    l = etcd_get(a.etcd, f"{PREFIX}/s/leader")
                    if l and l["server"] != leader["server"]:
                        t_leader = now - t0
                if t_resume is None:
                    n = len(servers.ecs("ListTasks", {"cluster": CLUSTER, "serviceName": "svc"})
                            .get("taskArns", []))
                    if n >= desired:
                        t_resume = now - t0
                time.sleep(0.01)
            time.sleep(1.0)
            client.stop.set()
            client.join()
            # The gap between the last success before the kill and the first after it.
            spanning = [b - x for x, b in zip(client.ok, client.ok[1:]) if x <= t0 <= b]
            unavailable = spanning[0] if spanning else float("nan")
            rows.append((unavailable, t_leader, t_resume))
            log(f"trial {trial}: killed server {idx}; unavailable {unavailable * 1000:.0f} ms, "
                f"new leader after {t_leader if t_leader is None else round(t_leader, 2)} s, "
                f"scheduler acted after {t_resume if t_resume is None else round(t_resume, 2)} s")
            servers.start(idx)
            time.sleep(0.5)
    finally:
        servers.stop_all()

    un = [r[0] * 1000 for r in rows]
    ld = [r[1] for r in rows if r[1] is not None]
    rs = [r[2] for r in rows if r[2] is not None]
    missing = sum(1 for r in rows if r[1] is None or r[2] is None)
    budget_resume = a.lease + 1
    print(f"| Failover after kill -9 of the leader ({len(rows)} trials, lease {a.lease} s) "
          f"| p50 | p99 | max | Budget | Met |")
    print("|---|---|---|---|---|---|")
    print(f"| API unavailability (ms) | {pct(un, 50):.0f} | {pct(un, 99):.0f} | {max(un):.0f} "
          f"| ≤ 5000 at p99 | {'yes' if pct(un, 99) <= 5000 else '**NO**'} |")
    if ld:
        print(f"| another server leads (s) | {pct(ld, 50):.2f} | {pct(ld, 99):.2f} | "
              f"{max(ld):.2f} | | |")
    if rs:
        print(f"| reconcilers resumed: the new leader's scheduler placed a task (s) "
              f"| {pct(rs, 50):.2f} | {pct(rs, 99):.2f} | {max(rs):.2f} | ≤ {budget_resume} "
              f"| {'yes' if max(rs) <= budget_resume and not missing else '**NO**'} |")
    if missing:
        print(f"\n{missing} trial(s) saw no new leader or no scheduler action within "
              f"{a.lease + 15} s.")


if __name__ == "__main__":
    main()
