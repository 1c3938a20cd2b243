#!/usr/bin/env python3
"""Issue 14's budgets on a rig of three hosts (run by bench/hosts.sh, which brings the rig up).

A `wharf server` on the rig's gateway (no agent of its own), a `wharf-agent` inside each host
(zones us-east-1a/b/c), then, in order:

1. each agent's idle RSS;
2. RunTask -> RUNNING on host 1, against `docker -H <host 1> run -d` (interleaved samples);
3. a service of 6 tasks behind an ALB listener, spread over the zones: placement per host,
   and six requests in a row reaching the six tasks (every host in turn);
4. wrk through the listener against nginx proxying to the same six remote targets, and
   straight to one target (for the p99 added), at 8 connections;
5. host 1 drained (UpdateContainerInstancesState DRAINING) under steady load: failed requests;
6. host 3 killed (its dockerd, containerd, agent and containers) under load: when the service
   runs 6 tasks elsewhere, and when requests failed; then host 3 boots again, its agent comes
   back, and every host's Docker is counted: no task runs twice;
7. host 2's link cut under load, the same measures, the link restored, the same count.

Standard library only. Progress on stderr, the report (Markdown) on stdout.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
CLUSTER = "bench"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Api:
    """ECS (JSON) and ELBv2 (Query) calls on one kept-alive connection."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def _post(self, headers, body):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request("POST", "/", body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def ecs(self, op, body):
        status, data = self._post(
            {"X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{op}",
             "Content-Type": "application/x-amz-json-1.1"}, json.dumps(body))
        out = json.loads(data or b"{}")
        if status != 200:
            raise RuntimeError(f"{op}: {status} {out}")
        return out

    def elb(self, action, **params):
        form = {"Action": action, "Version": "2015-12-01"}
        form.update({k: str(v) for k, v in params.items()})
        status, data = self._post({"Content-Type": "application/x-www-form-urlencoded"},
                                  urllib.parse.urlencode(form))
        if status != 200:
            raise RuntimeError(f"{action}: {status} {data[:300]}")
        return ET.fromstring(data)


def texts(root, name):
    return [e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == name]


class Agent:
    def __init__(self, host, wharf, endpoint, state):
        self.host, self.wharf, self.endpoint, self.state = host, wharf, endpoint, state
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.state, "agent.log"), "ab")
        env = dict(os.environ, DOCKER_HOST=self.host["docker_host"], RUST_LOG="warn")
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={self.host['netns']}", "--", self.wharf + "-agent",
             "--endpoint", self.endpoint, "--cluster", CLUSTER,
             "--availability-zone", ZONES[self.host["index"] - 1],
             "--state-dir", os.path.join(self.state, "state")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def docker(host, *args, check=True):
    return subprocess.run(["docker", "-H", host["docker_host"], *args], check=check,
                          capture_output=True, text=True)


def listening(host, port):
    """Whether something accepts connections at host:port."""
    import socket
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait(what, timeout, f, every=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = f()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)


class Load:
    """Threads sending GET / over kept-alive connections; every failure is timed."""

    def __init__(self, host, port, threads=4):
        self.host, self.port, self.threads = host, port, threads
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                good = r.status == 200
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                good = False
                conn = None
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failures.append(time.monotonic())
            if not good:
                time.sleep(0.01)

    def __enter__(self):
        self.workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for w in self.workers:
            w.join()


def wrk(url, duration, connections=8):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    import re
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    bad = 0
    for pat in (r"Non-2xx or 3xx responses:\s+(\d+)",
                r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)"):
        g = re.search(pat, out)
        if g:
            bad += sum(int(x) for x in g.groups())
    return rps, p99, bad


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rig", required=True)
    p.add_argument("--wharf", required=True)
    p.add_argument("--scripts", required=True)
    a = p.parse_args()
    rig = json.load(open(a.rig))
    hosts = rig["hosts"]
    gw = rig["gateway"]
    samples = int(os.environ.get("SAMPLES", "10"))
    duration = os.environ.get("DURATION", "10s")
    rounds = int(os.environ.get("ROUNDS", "3"))
    lost_after = os.environ.get("LOST_AFTER", "5s")
    lost_after_s = float(lost_after.rstrip("s"))
    work = tempfile.mkdtemp(prefix="wharf-bench-hosts.")
    report = []

    import socket
    s = socket.socket()
    s.bind((gw, 0))
    port = s.getsockname()[1]
    s.close()
    server_log = open(os.path.join(work, "server.log"), "ab")
    server = subprocess.Popen(
        [a.wharf, "server", "--listen", f"{gw}:{port}", "--data-dir", os.path.join(work, "data"),
         "--no-agent", "--insecure-no-auth", "--listener-address", gw,
         "--instance-lost-after", lost_after],
        stdin=subprocess.DEVNULL, stdout=server_log, stderr=server_log,
        env=dict(os.environ, RUST_LOG="warn"))
    api = Api(gw, port)
    agents = []
    nginx = None
    try:
        wait("the server", 20, lambda: listening(gw, port) or server.poll() is not None)
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: see {work}/server.log")
        endpoint = f"http://{gw}:{port}"
        api.ecs("CreateCluster", {"clusterName": CLUSTER})
        for h in hosts:
            d = os.path.join(work, f"agent{h['index']}")
            os.makedirs(d)
            ag = Agent(h, a.wharf, endpoint, d)
            ag.start()
            agents.append(ag)

        def instances():
            arns = api.ecs("ListContainerInstances", {"cluster": CLUSTER}).get("containerInstanceArns", [])
            if not arns:
                return []
            return api.ecs("DescribeContainerInstances",
                           {"cluster": CLUSTER, "containerInstances": arns})["containerInstances"]

        def address(ci):
            return next((x.get("value") for x in ci.get("attributes", []) if x["name"] == "wharf.address"), None)

        wait("three connected agents", 30,
             lambda: len([c for c in instances() if c.get("agentConnected")]) == 3)
        by_address = {address(c): c["containerInstanceArn"] for c in instances()}
        instance_of = {h["index"]: by_address[h["address"]] for h in hosts}
        host_of_instance = {v: k for k, v in instance_of.items()}

        # 1. Idle RSS.
        time.sleep(10)
        rss = [ag.rss_mib() for ag in agents]
        log(f"idle RSS (MiB): {rss}")

        # 2. RunTask -> RUNNING on host 1 against docker run -d there.
        api.ecs("RegisterTaskDefinition", {"family": "sleeper", "containerDefinitions": [{
            "name": "main", "image": "wharf-test/busybox:1", "memory": 32, "stopTimeout": 1,
            "command": ["sleep", "3600"]}]})
        h1 = hosts[0]
        wharf_ms, docker_ms = [], []
        for i in range(samples + 1):
            t = time.monotonic()
            docker(h1, "run", "-d", "--memory", "32m", "--name", f"wharf-bench-{i}",
                   "wharf-test/busybox:1", "sleep", "3600")
            d_ms = (time.monotonic() - t) * 1000
            docker(h1, "rm", "-f", f"wharf-bench-{i}")
            t = time.monotonic()
            run = api.ecs("RunTask", {"cluster": CLUSTER, "taskDefinition": "sleeper",
                                      "placementConstraints": [{"type": "memberOf",
                                      "expression": "attribute:ecs.availability-zone == us-east-1a"}]})
            arn = run["tasks"][0]["taskArn"]
            while api.ecs("DescribeTasks", {"cluster": CLUSTER, "tasks": [arn]})["tasks"][0]["lastStatus"] != "RUNNING":
                time.sleep(0.005)
            w_ms = (time.monotonic() - t) * 1000
            api.ecs("StopTask", {"cluster": CLUSTER, "task": arn})
            wait("the sample task stopped", 30, lambda: api.ecs(
                "DescribeTasks", {"cluster": CLUSTER, "tasks": [arn]})["tasks"][0]["lastStatus"] == "STOPPED")
            ids = docker(h1, "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.task-arn={arn}").stdout.split()
            if ids:
                docker(h1, "rm", "-f", *ids)
            if i > 0:
                wharf_ms.append(w_ms)
                docker_ms.append(d_ms)
            log(f"sample {i}: RunTask->RUNNING {w_ms:.0f} ms, docker run -d {d_ms:.0f} ms")

        # 3. A service of six behind the ALB, spread over the zones.
        tg = texts(api.elb("CreateTargetGroup", Name="web", Protocol="HTTP", Port=80,
                           VpcId="vpc-1", TargetType="instance", HealthCheckIntervalSeconds=5,
                           HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                           UnhealthyThresholdCount=2), "TargetGroupArn")[0]
        api.elb("ModifyTargetGroupAttributes", TargetGroupArn=tg,
                **{"Attributes.member.1.Key": "deregistration_delay.timeout_seconds",
                   "Attributes.member.1.Value": "5"})
        lb = texts(api.elb("CreateLoadBalancer", Name="web", **{"Subnets.member.1": "subnet-1",
                                                                "Subnets.member.2": "subnet-2"}),
                   "LoadBalancerArn")[0]
        s = socket.socket()
        s.bind((gw, 0))
        lport = s.getsockname()[1]
        s.close()
        api.elb("CreateListener", LoadBalancerArn=lb, Protocol="HTTP", Port=lport,
                **{"DefaultActions.member.1.Type": "forward",
                   "DefaultActions.member.1.TargetGroupArn": tg})
        api.ecs("RegisterTaskDefinition", {"family": "web", "containerDefinitions": [{
            "name": "web", "image": "wharf-bench/target:1", "memory": 32, "stopTimeout": 2,
            "command": ["80", "0.0.0.0"], "portMappings": [{"containerPort": 80, "hostPort": 0}]}]})
        api.ecs("CreateService", {"cluster": CLUSTER, "serviceName": "web", "taskDefinition": "web",
                                  "desiredCount": 6,
                                  "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
                                  "loadBalancers": [{"targetGroupArn": tg, "containerName": "web",
                                                     "containerPort": 80}]})

        def healthy_targets():
            r = api.elb("DescribeTargetHealth", TargetGroupArn=tg)
            return texts(r, "State").count("healthy")

        wait("six healthy targets", 120, lambda: healthy_targets() == 6, every=0.5)

        def service_tasks():
            arns = api.ecs("ListTasks", {"cluster": CLUSTER, "serviceName": "web",
                                         "desiredStatus": "RUNNING"}).get("taskArns", [])
            if not arns:
                return []
            return api.ecs("DescribeTasks", {"cluster": CLUSTER, "tasks": arns})["tasks"]

        tasks = [t for t in service_tasks() if t["lastStatus"] == "RUNNING"]
        per_zone = {z: sum(1 for t in tasks if t["availabilityZone"] == z) for z in ZONES}
        per_host = {h: sum(1 for t in tasks if host_of_instance[t["containerInstanceArn"]] == h) for h in (1, 2, 3)}
        containers = {}
        for h in hosts:
            for cid in docker(h, "ps", "-q").stdout.split():
                containers[cid] = h["index"]
        turn = []
        c = http.client.HTTPConnection(gw, lport, timeout=5)
        for _ in range(6):
            c.request("GET", "/")
            body = c.getresponse().read().decode().strip()
            turn.append(containers.get(body.rsplit(" ", 1)[-1][:12]))
        c.close()
        log(f"placement per zone {per_zone}, per host {per_host}; six requests reached hosts {turn}")

        # 4. wrk: direct to one target, nginx over the six, Wharf's listener.
        targets = []
        for t in tasks:
            h = hosts[host_of_instance[t["containerInstanceArn"]] - 1]
            hp = t["containers"][0]["networkBindings"][0]["hostPort"]
            targets.append(f"{h['address']}:{hp}")
        ndir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(ndir, "logs"))
        s = socket.socket()
        s.bind((gw, 0))
        nport = s.getsockname()[1]
        s.close()
        upstream = "\n".join(f"        server {t};" for t in targets)
        with open(os.path.join(ndir, "nginx.conf"), "w") as f:
            f.write(f"""worker_processes 2;
pid {ndir}/nginx.pid;
error_log {ndir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {ndir}/body; proxy_temp_path {ndir}/proxy;
    fastcgi_temp_path {ndir}/fastcgi; uwsgi_temp_path {ndir}/uwsgi; scgi_temp_path {ndir}/scgi;
    upstream targets {{
{upstream}
        keepalive 128;
    }}
    server {{
        listen {gw}:{nport};
        location / {{
            proxy_pass http://targets;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Port $server_port;
        }}
    }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-p", ndir, "-c", os.path.join(ndir, "nginx.conf"),
                                  "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        results = {"direct": [], "nginx": [], "wharf": []}
        urls = {"direct": f"http://{targets[0]}/", "nginx": f"http://{gw}:{nport}/",
                "wharf": f"http://{gw}:{lport}/"}
        for r in range(rounds):
            for name in ("direct", "nginx", "wharf"):
                wrk(urls[name], "2s")
                results[name].append(wrk(urls[name], duration))
                log(f"round {r + 1} {name}: {results[name][-1]}")
        med = {n: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                   sum(x[2] for x in v)) for n, v in results.items()}
        nginx.kill()
        nginx.wait()
        nginx = None

        # 5. Drain host 1 under steady load.
        with Load(gw, lport) as load:
            time.sleep(2)
            t0 = time.monotonic()
            api.ecs("UpdateContainerInstancesState", {"cluster": CLUSTER, "status": "DRAINING",
                                                      "containerInstances": [instance_of[1]]})

            def drained():
                ts = [t for t in service_tasks() if t["lastStatus"] == "RUNNING"]
                on1 = [t for t in ts if host_of_instance[t["containerInstanceArn"]] == 1]
                return len(ts) == 6 and not on1 and healthy_targets() == 6

            wait("host 1 drained", 180, drained, every=0.5)
            drain_s = time.monotonic() - t0
            time.sleep(6)
        drain = (load.ok, len(load.failures), drain_s)
        log(f"drain: {drain}")
        api.ecs("UpdateContainerInstancesState", {"cluster": CLUSTER, "status": "ACTIVE",
                                                  "containerInstances": [instance_of[1]]})

        def elsewhere(lost_host):
            ts = [t for t in service_tasks() if t["lastStatus"] == "RUNNING"]
            return len(ts) == 6 and all(host_of_instance[t["containerInstanceArn"]] != lost_host for t in ts)

        def count_running():
            """Running containers of the service per task ARN, from every host's Docker."""
            seen = {}
            for h in hosts:
                r = docker(h, "ps", "--filter", f"label=com.amazonaws.ecs.cluster={CLUSTER}",
                           "--format", '{{.Label "com.amazonaws.ecs.task-arn"}}', check=False)
                for arn in r.stdout.split():
                    seen.setdefault(arn, []).append(h["index"])
            api_running = {t["taskArn"] for t in service_tasks() if t["lastStatus"] == "RUNNING"}
            twice = {a: hs for a, hs in seen.items() if len(hs) > 1}
            strays = {a: hs for a, hs in seen.items() if a not in api_running
                      and a in {x["taskArn"] for x in all_tasks()}}
            return twice, strays, seen

        def all_tasks():
            out = []
            for desired in ("RUNNING", "STOPPED"):
                arns = api.ecs("ListTasks", {"cluster": CLUSTER, "desiredStatus": desired}).get("taskArns", [])
                for i in range(0, len(arns), 100):
                    out += api.ecs("DescribeTasks", {"cluster": CLUSTER, "tasks": arns[i:i + 100]})["tasks"]
            return out

        # 6. Kill host 3 under load.
        wait("some tasks on host 3", 5, lambda: True)
        kills = {}
        for (victim, how) in ((3, "kill"), (2, "cut")):
            on_victim = sum(1 for t in service_tasks() if host_of_instance[t["containerInstanceArn"]] == victim)
            with Load(gw, lport) as load:
                time.sleep(2)
                t0 = time.monotonic()
                if how == "kill":
                    subprocess.run([os.path.join(a.scripts, "hosts"), "kill", str(victim), "--rig", rig["rig"]], check=True)
                    agents[victim - 1].kill()
                else:
                    subprocess.run([os.path.join(a.scripts, "hosts"), "link", str(victim), "down", "--rig", rig["rig"]], check=True)
                wait("the service running elsewhere", 120, lambda: elsewhere(victim), every=0.1)
                running_s = time.monotonic() - t0
                wait("six healthy targets again", 120, lambda: healthy_targets() >= 6, every=0.5)
                time.sleep(3)
            fails = [f - t0 for f in load.failures if f >= t0]
            kills[how] = dict(host=victim, tasks_on_host=on_victim, running_s=running_s, ok=load.ok,
                              failed=len(fails), first=min(fails) if fails else None,
                              last=max(fails) if fails else None)
            log(f"{how} host {victim}: {kills[how]}")
            # The host comes back.
            if how == "kill":
                subprocess.run([os.path.join(a.scripts, "hosts"), "boot", str(victim), "--rig", rig["rig"]], check=True)
                agents[victim - 1].start()
            else:
                subprocess.run([os.path.join(a.scripts, "hosts"), "link", str(victim), "up", "--rig", rig["rig"]], check=True)
            wait("the host's agent connected again", 90,
                 lambda: any(c["containerInstanceArn"] == instance_of[victim] and c.get("agentConnected")
                             for c in instances()), every=0.5)
            time.sleep(20)
            twice, strays, seen = count_running()
            kills[how].update(twice=len(twice), strays=len(strays), containers=sum(len(v) for v in seen.values()))
            log(f"after {how}: twice {twice}, strays {strays}")

        # Report.
        report.append("### Figures (bench/hosts.sh)\n")
        report.append("| Measure | Wharf | Anchor (same run) | Budget |")
        report.append("|---|---:|---:|---|")
        report.append(f"| placement of a service of 6 over 3 zones (per host) | "
                      f"{per_host[1]}/{per_host[2]}/{per_host[3]} | | 2/2/2 "
                      f"{'✓' if sorted(per_host.values()) == [2, 2, 2] else '✗'} |")
        ok_turn = sorted(turn) == [1, 1, 2, 2, 3, 3]
        report.append(f"| six requests in a row through the ALB, by host | {turn} | | every host in turn "
                      f"{'✓' if ok_turn else '✗'} |")
        ratio = med["wharf"][0] / med["nginx"][0]
        added = med["wharf"][1] - med["direct"][1]
        report.append(f"| ALB to 6 remote targets, 8 connections, req/s | {med['wharf'][0]:,.0f} | "
                      f"nginx {med['nginx'][0]:,.0f} | ≥ 0.8× nginx: {ratio:.2f}× "
                      f"{'✓' if ratio >= 0.8 else '✗'} |")
        report.append(f"| p99 through the ALB, added over one target direct | {med['wharf'][1]:.2f} ms "
                      f"({added:+.2f} ms) | direct {med['direct'][1]:.2f} ms, nginx {med['nginx'][1]:.2f} ms | "
                      f"≤ 1 ms added {'✓' if added <= 1.0 else '✗'} |")
        report.append(f"| drain host 1 under load: failed / served requests | {drain[1]} / {drain[0]} "
                      f"(drained in {drain[2]:.1f} s) | | 0 failed {'✓' if drain[1] == 0 else '✗'} |")
        for how, k in kills.items():
            within = k["running_s"] <= lost_after_s + 2
            window = "none" if k["first"] is None else f"{k['first']:.1f}–{k['last']:.1f} s after"
            report.append(f"| {how} host {k['host']} ({k['tasks_on_host']} tasks): service RUNNING elsewhere | "
                          f"{k['running_s']:.1f} s | --instance-lost-after {lost_after} | ≤ {lost_after_s + 2:.0f} s "
                          f"{'✓' if within else '✗'} |")
            report.append(f"| {how} host {k['host']}: failed requests | {k['failed']} of {k['failed'] + k['ok']} "
                          f"({window}) | health check detection window 2 × 5 s = 10 s | within it "
                          f"{'✓' if k['last'] is None or k['last'] <= 10.5 else '✗'} |")
            report.append(f"| {how} host {k['host']}: after it returned, tasks running twice / strays "
                          f"(every host's Docker) | {k['twice']} / {k['strays']} ({k['containers']} containers) | | 0 "
                          f"{'✓' if k['twice'] == 0 and k['strays'] == 0 else '✗'} |")
        report.append(f"| agents' idle RSS | {', '.join(f'{r:.1f}' for r in rss)} MiB | | ≤ 15 MiB "
                      f"{'✓' if max(rss) <= 15 else '✗'} |")
        wm, dm = statistics.median(wharf_ms), statistics.median(docker_ms)
        report.append(f"| RunTask → RUNNING on host 1 (median of {samples}) | {wm:.0f} ms | "
                      f"`docker -H host1 run -d` {dm:.0f} ms | ≤ 1.1×: {wm / dm:.2f}× "
                      f"{'✓' if wm / dm <= 1.1 else '✗'} |")
        print("\n".join(report))
    finally:
        if nginx:
            nginx.kill()
        for ag in agents:
            ag.kill()
        server.kill()
        server.wait()
        if os.environ.get("KEEP") != "1":
            subprocess.run(["rm", "-rf", work])
        else:
            log(f"kept {work}")


if __name__ == "__main__":
    main()
