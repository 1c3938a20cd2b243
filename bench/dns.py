#!/usr/bin/env python3
"""Name resolution budgets (issue 20), against a running Wharf server (see bench/dns.sh).

1. Lookup latency from a container: DNS queries for a Cloud Map name, sent from inside a
   running awsvpc task's network namespace (nsenter -n), (a) to the server its
   /etc/resolv.conf names (Wharf's resolver: the agent writes it there, as an ECS task's ENI
   names its VPC's resolver) and, for comparison, (b) to Docker's embedded resolver
   127.0.0.11, which forwards to Wharf's and which the task no longer asks. p50/p99/max;
   the budget is judged on (a).
2. Record timing: the service scales from 1 to 2 tasks; the new task's record must appear
   within 1 s of DescribeTasks showing it HEALTHY. Then it scales back to 1: the leaving
   task's record must disappear before the task stops (the scheduler deregisters it when it
   decides to stop it, before any draining). Both watched by polling every 10 ms, so each
   figure is exact to about 10 ms.

The result is Markdown on stdout; progress goes to stderr.
"""
import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

import boto3
from botocore.config import Config


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
              aws_secret_access_key="bench",
              config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))
    return (boto3.client("ecs", **kw), boto3.client("ec2", **kw),
            boto3.client("servicediscovery", **kw))


def query(name, qtype=1):
    qid = random.randint(0, 65535)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return qid, q + b"\0" + struct.pack(">HH", qtype, 1)


def answers(packet):
    """The A records' addresses of an answer (enough parsing for Wharf's and Docker's)."""
    ancount = struct.unpack(">H", packet[6:8])[0]
    at = 12
    while packet[at] != 0:
        at += packet[at] + 1
    at += 5
    out = []
    for _ in range(ancount):
        if packet[at] & 0xC0 == 0xC0:
            at += 2
        else:
            while packet[at] != 0:
                at += packet[at] + 1
            at += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", packet[at:at + 10])
        at += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(packet[at:at + 4]))
        at += rdlen
    return sorted(out)


LOOKUP = r'''
import random, socket, struct, sys, time, json
name, server, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
times, errors = [], 0
for i in range(n):
    qid = random.randint(0, 65535)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)
    t = time.perf_counter()
    s.sendto(q, (server, 53))
    try:
        while True:
            data = s.recv(4096)
            if struct.unpack(">H", data[:2])[0] == qid:
                break
    except socket.timeout:
        errors += 1
        continue
    times.append(time.perf_counter() - t)
    if data[3] & 0x0F != 0 or struct.unpack(">H", data[6:8])[0] == 0:
        errors += 1
print(json.dumps({"times": times, "errors": errors}))
'''


def register_web(ecs):
    """Registers `dnsbench`: an awsvpc busybox httpd on port 80 with a health check (HEALTHY
    about 5 s after it starts) and a 2 s stopTimeout."""
    ecs.register_task_definition(
        family="dnsbench", networkMode="awsvpc",
        containerDefinitions=[{
            "name": "web", "image": "wharf-test/busybox:1", "memory": 32, "essential": True,
            "stopTimeout": 2,
            "command": ["sh", "-c", "mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w"],
            "healthCheck": {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"],
                            "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 0},
        }])


def wait(what, f, timeout=120, every=0.05):
    """f()'s first truthy value, asked every `every` seconds; exits after `timeout`."""
    end = time.time() + timeout
    while time.time() < end:
        v = f()
        if v:
            return v
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--dns", required=True)
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    ecs, ec2, sd = clients(a.endpoint)

    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]["SubnetId"]
    zone = f"bench{os.getpid()}.internal"
    op = sd.create_private_dns_namespace(Name=zone, Vpc=vpc)["OperationId"]
    ns = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    srv = sd.create_service(Name="web", NamespaceId=ns,
                            DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}]},
                            HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]
    name = f"web.{zone}"
    register_web(ecs)
    ecs.create_service(cluster=a.cluster, serviceName="web", taskDefinition="dnsbench",
                       desiredCount=1,
                       networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
                       serviceRegistries=[{"registryArn": srv["Arn"]}])

    def instances():
        return {i["Id"] for i in sd.list_instances(ServiceId=srv["Id"])["Instances"]}

    wait("the first task registered", lambda: len(instances()) == 1)
    first = next(iter(instances()))
    log(f"task {first} registered as {name}")

    # 1. Lookups from inside the task's network namespace.
    cid = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn",
                          "--filter", f"label=com.amazonaws.ecs.cluster={a.cluster}",
                          "--filter", "label=com.amazonaws.ecs.container-name=web"],
                         capture_output=True, text=True, check=True).stdout.split()[0]
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", cid],
                         capture_output=True, text=True, check=True).stdout.strip()
    resolv = subprocess.run(["docker", "exec", cid, "cat", "/etc/resolv.conf"],
                            capture_output=True, text=True, check=True).stdout
    named = [l.split()[1] for l in resolv.splitlines() if l.startswith("nameserver")]
    if not named:
        raise SystemExit(f"the task's resolv.conf names no server: {resolv!r}")
    log(f"the task's resolv.conf names {', '.join(named)}")
    rows = []
    for label, server in [(f"the task's resolver as its resolv.conf names it ({named[0]})", named[0]),
                          ("Docker's embedded resolver 127.0.0.11 → Wharf's (not used by the task)",
                           "127.0.0.11")]:
        out = subprocess.run(["nsenter", "-t", pid, "-n", sys.executable, "-c", LOOKUP, name,
                              server, str(a.lookups)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"lookup run failed: {out.stderr}")
        r = json.loads(out.stdout)
        t = r["times"]
        rows.append((label, len(t), r["errors"], pct(t, 0.5) * 1e3, pct(t, 0.99) * 1e3, max(t) * 1e3))
        log(f"{label}: p50 {rows[-1][3]:.3f} ms, p99 {rows[-1][4]:.3f} ms over {len(t)}")

    # 2. Record timing over scale-out and scale-in rounds.
    appear, gone_before = [], []
    for rnd in range(a.rounds):
        before = instances()
        ecs.update_service(cluster=a.cluster, service="web", desiredCount=2)
        healthy_at, registered_at = {}, {}
        stop = threading.Event()

        def watch_tasks():
            while not stop.is_set():
                arns = ecs.list_tasks(cluster=a.cluster, serviceName="web")["taskArns"]
                if arns:
                    for t in ecs.describe_tasks(cluster=a.cluster, tasks=arns)["tasks"]:
                        tid = t["taskArn"].rsplit("/", 1)[1]
                        if t.get("healthStatus") == "HEALTHY" and tid not in healthy_at:
                            healthy_at[tid] = time.time()
                time.sleep(0.01)

        watcher = threading.Thread(target=watch_tasks, daemon=True)
        watcher.start()
        new = wait("the new task registered", lambda: (instances() - before) or None)
        (tid,) = new
        registered_at[tid] = time.time()
        wait("the new task HEALTHY", lambda: tid in healthy_at, 30)
        stop.set()
        watcher.join()
        appear.append(registered_at[tid] - healthy_at[tid])
        log(f"round {rnd + 1}: record appeared {appear[-1] * 1e3:+.0f} ms after HEALTHY")

        # Scale in: which task leaves is the scheduler's choice; watch both.
        ecs.update_service(cluster=a.cluster, service="web", desiredCount=1)
        t0 = time.time()
        gone_at, stopped_at = {}, {}
        tracked = instances() | {tid}
        while time.time() - t0 < 60 and not stopped_at:
            now = instances()
            for i in tracked - now:
                gone_at.setdefault(i, time.time())
            arns = ecs.list_tasks(cluster=a.cluster, serviceName="web", desiredStatus="STOPPED")["taskArns"]
            for t in ecs.describe_tasks(cluster=a.cluster, tasks=arns)["tasks"] if arns else []:
                i = t["taskArn"].rsplit("/", 1)[1]
                if t["lastStatus"] == "STOPPED" and i in tracked:
                    stopped_at.setdefault(i, time.time())
            time.sleep(0.01)
        for i, s in stopped_at.items():
            g = gone_at.get(i)
            gone_before.append((g is not None and g <= s, (g - t0) if g else None, s - t0))
            log(f"round {rnd + 1}: scale-in: record gone at +{(g - t0) * 1e3 if g else float('nan'):.0f} ms, "
                f"task STOPPED at +{(s - t0) * 1e3:.0f} ms")
        wait("one task left registered", lambda: len(instances()) == 1)
        tracked.clear()

    ecs.update_service(cluster=a.cluster, service="web", desiredCount=0)
    print("| Lookup path | queries | errors | p50 ms | p99 ms | max ms | budget p99 < 2 ms |")
    print("|---|---|---|---|---|---|---|")
    for label, n, err, p50, p99, mx in rows:
        print(f"| {label} | {n} | {err} | {p50:.3f} | {p99:.3f} | {mx:.3f} | {'met' if p99 < 2 else 'missed'} |")
    print()
    print("| Record | rounds | worst | budget |")
    print("|---|---|---|---|")
    worst = max(appear) if appear else float("nan")
    print(f"| appears after the task turns HEALTHY | {len(appear)} | {worst * 1e3:.0f} ms "
          f"(all: {', '.join(f'{x * 1e3:.0f}' for x in appear)} ms) | < 1 s: "
          f"{'met' if appear and worst < 1 else 'missed'} |")
    ok = all(b for b, _, _ in gone_before) and gone_before
    detail = ", ".join(f"gone +{g * 1e3:.0f} / stopped +{s * 1e3:.0f} ms" if g else f"not gone / stopped +{s * 1e3:.0f} ms"
                       for _, g, s in gone_before)
    print(f"| gone before the task stops (scale-in) | {len(gone_before)} | {detail} | "
          f"{'met' if ok else 'missed'} |")


if __name__ == "__main__":
    main()
