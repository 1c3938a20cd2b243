#!/usr/bin/env python3
"""Issue 15's service auto scaling budgets (see bench/autoscaling.sh).

1. Scale out under CPU load, timed from the load's start: to the scale out (DescribeServices'
   desiredCount first above 1) and to its tasks RUNNING; against 2 evaluation periods of the
   high alarm (2 x 3 periods).
2. The CPU cost of metric evaluation over N services: the server's CPU seconds per second
   (from /proc/PID/stat) while N targets with target tracking policies (2N alarms) are
   evaluated each period and their metric put, minus the server's before the targets existed.

Python 3 standard library only; progress on stderr, Markdown on stdout.
"""

import argparse
import http.client
import json
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

IMAGE = "wharf-test/busybox:1"
ECS = "AmazonEC2ContainerServiceV20141113."
AAS = "AnyScaleFrontendService."
CW = "GraniteServiceVersion20100801."


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Api:
    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port

    def call(self, target, body, version="1.1"):
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        c.request("POST", "/", json.dumps(body), {
            "X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError(f"{target}: {r.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def ecs(self, op, body):
        return self.call(ECS + op, body)

    def aas(self, op, body):
        return self.call(AAS + op, body)

    def cw(self, op, body):
        return self.call(CW + op, body, "1.0")

    def elb(self, action, params):
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        body = urllib.parse.urlencode({"Action": action, "Version": "2015-12-01", **params})
        c.request("POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        if r.status != 200:
            raise RuntimeError(f"{action}: {r.status} {data[:300]}")
        return data


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path)
        status = c.getresponse().status
        c.close()
        return status
    except OSError:
        return None


def wait(what, timeout, check):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = check()
        if v:
            return v
        time.sleep(0.25)
    raise RuntimeError(f"timed out waiting for {what}")


def scale_out(api, cluster, period):
    script = ("mkdir -p /www/cgi-bin && echo ok > /www/index.html && printf '#!/bin/sh\\n"
              "echo Content-Type: text/plain\\necho\\ni=0\\nwhile [ $i -lt 20000 ]; do "
              "i=$((i+1)); done\\necho burnt\\n' > /www/cgi-bin/burn && chmod +x "
              "/www/cgi-bin/burn && exec httpd -f -p 80 -h /www")
    td = api.ecs("RegisterTaskDefinition", {
        "family": "bench-burner", "networkMode": "bridge", "cpu": "128", "memory": "64",
        "containerDefinitions": [{
            "name": "web", "image": IMAGE, "essential": True, "stopTimeout": 2,
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "command": ["sh", "-c", script]}]})["taskDefinition"]["taskDefinitionArn"]
    tg = re.search(r"<TargetGroupArn>([^<]+)", api.elb("CreateTargetGroup", {
        "Name": "bench-burner", "Protocol": "HTTP", "Port": "80", "TargetType": "instance",
        "VpcId": "vpc-1", "HealthCheckIntervalSeconds": "5", "HealthCheckTimeoutSeconds": "2",
        "HealthyThresholdCount": "2"})).group(1)
    lb = re.search(r"<LoadBalancerArn>([^<]+)", api.elb("CreateLoadBalancer", {
        "Name": "bench-burner", "Subnets.member.1": "subnet-1",
        "Subnets.member.2": "subnet-2"})).group(1)
    port = free_port()
    api.elb("CreateListener", {
        "LoadBalancerArn": lb, "Protocol": "HTTP", "Port": str(port),
        "DefaultActions.member.1.Type": "forward",
        "DefaultActions.member.1.TargetGroupArn": tg})
    api.ecs("CreateService", {
        "cluster": cluster, "serviceName": "burner", "taskDefinition": td, "desiredCount": 1,
        "loadBalancers": [{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}]})

    def service():
        return api.ecs("DescribeServices", {"cluster": cluster, "services": ["burner"]})["services"][0]

    wait("one task answering", 120, lambda: service()["runningCount"] == 1 and get(port, "/") == 200)
    resource = f"service/{cluster}/burner"
    target = {"ServiceNamespace": "ecs", "ResourceId": resource,
              "ScalableDimension": "ecs:service:DesiredCount"}
    api.aas("RegisterScalableTarget", {**target, "MinCapacity": 1, "MaxCapacity": 6})
    api.aas("PutScalingPolicy", {**target, "PolicyName": "cpu50",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 50.0, "ScaleOutCooldown": 10, "ScaleInCooldown": 4,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}})
    stop = threading.Event()

    def worker(i):
        time.sleep(i / 8)
        nxt = time.monotonic()
        while not stop.is_set():
            get(port, "/cgi-bin/burn")
            nxt += 1
            time.sleep(max(0, nxt - time.monotonic()))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(8)]
    log("load: 8 requests/s of about 20 ms CPU each")
    t0 = time.monotonic()
    for t in threads:
        t.start()
    t_out = None
    while True:
        s = service()
        now = time.monotonic() - t0
        if t_out is None and s["desiredCount"] > 1:
            t_out, to = now, s["desiredCount"]
            log(f"scale out to {to} at {now:.1f} s")
        if t_out is not None and s["runningCount"] == s["desiredCount"] == to:
            t_running = now
            break
        if now > 120:
            raise RuntimeError(f"no scale out within 120 s: {s['desiredCount']}")
        time.sleep(0.25)
    stop.set()
    acts = api.aas("DescribeScalingActivities", {"ServiceNamespace": "ecs", "ResourceId": resource})
    cause = acts["ScalingActivities"][0]["Cause"] if acts["ScalingActivities"] else "-"
    api.ecs("UpdateService", {"cluster": cluster, "service": "burner", "desiredCount": 0})
    api.aas("DeregisterScalableTarget", target)
    return {"to": to, "t_out": t_out, "t_running": t_running, "budget": 2 * 3 * period,
            "cause": cause}


def cost(api, cluster, pid, n, period, window):
    td = api.ecs("RegisterTaskDefinition", {
        "family": "bench-idle", "containerDefinitions": [{
            "name": "c", "image": IMAGE, "memory": 16, "essential": True,
            "command": ["sleep", "3600"]}]})["taskDefinition"]["taskDefinitionArn"]
    log(f"creating {n} services")
    for i in range(n):
        api.ecs("CreateService", {"cluster": cluster, "serviceName": f"s{i:04}",
                                  "taskDefinition": td, "desiredCount": 0})
    log(f"baseline: the server's CPU over {window} s with {n} services and no targets")
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    base = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    log(f"registering {n} scalable targets with target tracking policies")
    for i in range(n):
        target = {"ServiceNamespace": "ecs", "ResourceId": f"service/{cluster}/s{i:04}",
                  "ScalableDimension": "ecs:service:DesiredCount"}
        api.aas("RegisterScalableTarget", {**target, "MinCapacity": 0, "MaxCapacity": 10})
        api.aas("PutScalingPolicy", {**target, "PolicyName": "load",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 50.0, "CustomizedMetricSpecification": {
                        "Namespace": "Bench", "MetricName": "Load", "Statistic": "Average",
                        "Dimensions": [{"Name": "ServiceName", "Value": f"s{i:04}"}]}}})
    alarms = 0
    token = None
    while True:
        page = api.cw("DescribeAlarms", {"AlarmNamePrefix": "TargetTracking-", "MaxRecords": 100,
                                         **({"NextToken": token} if token else {})})
        alarms += len(page.get("MetricAlarms", []))
        token = page.get("NextToken")
        if not token:
            break
    log(f"{alarms} alarms; measuring {window} s of passes with the metric put each period")
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            api.cw("PutMetricData", {"Namespace": "Bench", "MetricData": [
                {"MetricName": "Load", "Value": 30.0,
                 "Dimensions": [{"Name": "ServiceName", "Value": f"s{i:04}"}]}
                for i in range(n)]})
            stop.wait(period)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    time.sleep(period * 2)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    loaded = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    stop.set()
    feeder.join()
    return {"base": base, "loaded": loaded, "alarms": alarms, "n": n}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--period", type=int, default=5)
    p.add_argument("--window", type=int, default=60)
    a = p.parse_args()
    api = Api(a.endpoint)
    out = scale_out(api, a.cluster, a.period)
    c = cost(api, a.cluster, a.pid, a.services, a.period, a.window)
    eval_core = c["loaded"] - c["base"]
    at_default = eval_core * a.period / 60
    load = open("/proc/loadavg").read().split()[:3]
    print("## Service auto scaling (issue 15)\n")
    print(f"Metric period {a.period} s; load average {' '.join(load)} at the end (shared machine).\n")
    print("| Budget | Measured | Met |")
    print("|---|---|---|")
    print(f"| Scale out within 2 evaluation periods ({out['budget']} s) of the load | "
          f"scale out to {out['to']} at {out['t_out']:.1f} s, {out['to']} tasks RUNNING at "
          f"{out['t_running']:.1f} s | {'yes' if out['t_running'] <= out['budget'] else 'no'} |")
    print(f"| Metric evaluation over {c['n']} services < 5% of one core | "
          f"{eval_core * 100:.2f}% of a core at the {a.period} s period "
          f"({at_default * 100:.2f}% at the default 60 s); server {c['loaded'] * 100:.2f}% "
          f"with {c['alarms']} alarms vs {c['base'] * 100:.2f}% before | "
          f"{'yes' if eval_core < 0.05 else 'no'} |")
    print(f"\nScale-out cause: {out['cause']}")


if __name__ == "__main__":
    main()
