#!/usr/bin/env python3
"""Name resolution budgets (issue 20) on a remote host (run by bench/dns_hosts.sh, which makes
the rig, the server and the agents).

Host 1's resolver (its agent's, on 169.254.170.2:53 in host 1's namespace) is the one watched:
it answers from the table its agent fetches from the server. Two awsvpc services register in
Cloud Map: `near` pinned to host 1 (us-east-1a) and `far` pinned to host 2 (us-east-1b).

1. Lookup latency from a container on host 1: queries for `near.<namespace>` from inside the
   near task's network namespace (nsenter -n) to the server its /etc/resolv.conf names, as
   bench/dns.py sends them. p50/p99/max; budget p99 < 2 ms.
2. Record timing, per service, over ROUNDS scale-out (1 -> 2) and scale-in (2 -> 1) rounds.
   Watched at once, each on its own clock-synchronised thread (one machine, one clock):
   - host 1's resolver, queried every 5 ms from host 1's namespace (this script in `--watch`
     mode under nsenter): when the new task's address is first answered, when the leaving
     task's address is last answered;
   - the Docker Engine of the task's host (`docker events`): the web container's
     `health_status: healthy`, `kill` (the agent's SIGTERM) and `die`;
   - the API (DescribeTasks and ListInstances, polled back to back): HEALTHY, STOPPED, and
     when the registry (the server's Cloud Map) lists and unlists the task.
   The appear budget (< 1 s) is judged from Docker's healthy event on the task's host (the
   health turning HEALTHY; the DescribeTasks figure is given beside it, as bench/dns.sh
   measures), the gone budget from the container's `die` (the task stopped; SIGTERM given
   beside it).

The result is Markdown on stdout; progress goes to stderr.
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns  # noqa: E402  (bench/dns.py: clients, query, answers, LOOKUP, pct)

log = dns.log
POLL = 0.005


def watch(server, names):
    """--watch mode: queries `server` for each name every POLL and prints a JSON line
    {"t", "name", "a"} whenever a name's answer changes (and once at the start)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    last = {}
    while True:
        for name in names:
            qid, q = dns.query(name)
            s.sendto(q, (server, 53))
            try:
                while True:
                    data = s.recv(4096)
                    if int.from_bytes(data[:2], "big") == qid:
                        break
            except socket.timeout:
                continue
            t = time.time()
            a = dns.answers(data) if data[3] & 0x0F == 0 else []
            if last.get(name) != a:
                last[name] = a
                print(json.dumps({"t": t, "name": name, "a": a}), flush=True)
        time.sleep(POLL)


class Resolver:
    """The answers of host 1's resolver over time, from a `--watch` child in its namespace."""

    def __init__(self, netns, server, names):
        self.history = {n: [] for n in names}  # name -> [(t, set of addresses)]
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={netns}", "--", sys.executable, os.path.abspath(__file__),
             "--watch", server, *names], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            e = json.loads(line)
            with self.lock:
                self.history[e["name"]].append((e["t"], set(e["a"])))

    def now(self, name):
        with self.lock:
            h = self.history[name]
            return h[-1][1] if h else set()

    def appeared(self, name, ip, after):
        """When `ip` was first answered for `name` since `after` (addresses are reused)."""
        with self.lock:
            return next((t for t, a in self.history[name] if t >= after and ip in a), None)

    def gone(self, name, ip, after):
        """When `ip` was no longer answered for `name`, its last appearance being after `after`."""
        with self.lock:
            seen = False
            for t, a in self.history[name]:
                if ip in a:
                    seen = True
                elif seen and t >= after:
                    return t
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Engine:
    """`docker events` of one host: per task ARN, the web container's first healthy, kill and die."""

    def __init__(self, docker_host, cluster):
        self.seen = {}  # (task_arn, what) -> t
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["docker", "-H", docker_host, "events", "--format", "{{json .}}",
             "--filter", "type=container", "--filter", "event=health_status",
             "--filter", "event=kill", "--filter", "event=die",
             "--filter", f"label=com.amazonaws.ecs.cluster={cluster}",
             "--filter", "label=com.amazonaws.ecs.container-name=web"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            e = json.loads(line)
            arn = e["Actor"]["Attributes"].get("com.amazonaws.ecs.task-arn")
            what = {"health_status: healthy": "healthy", "kill": "kill", "die": "die"}.get(e["Action"])
            if arn and what:
                with self.lock:
                    self.seen.setdefault((arn, what), e["timeNano"] / 1e9)

    def at(self, arn, what):
        with self.lock:
            return self.seen.get((arn, what))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Api:
    """DescribeTasks and ListInstances of one service, polled back to back while `active` is
    set: per task ID, when it was first seen HEALTHY, STOPPED, registered, and unregistered
    after being registered."""

    def __init__(self, ecs, sd, cluster, service, registry_id):
        self.ecs, self.sd = ecs, sd
        self.cluster, self.service, self.registry_id = cluster, service, registry_id
        self.first = {}  # (task id, what) -> t
        self.tasks = {}  # task id -> {"arn", "ip"}
        self.registered = set()
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.active = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _note(self, tid, what, t):
        self.first.setdefault((tid, what), t)

    def _run(self):
        while not self.halt.is_set():
            if not self.active.wait(0.1):
                continue
            arns = set()
            for status in ("RUNNING", "STOPPED"):
                arns |= set(self.ecs.list_tasks(cluster=self.cluster, serviceName=self.service,
                                                desiredStatus=status)["taskArns"])
            tasks = self.ecs.describe_tasks(cluster=self.cluster, tasks=list(arns))["tasks"] if arns else []
            t = time.time()
            instances = self.sd.list_instances(ServiceId=self.registry_id)["Instances"]
            t2 = time.time()
            with self.lock:
                for task in tasks:
                    tid = task["taskArn"].rsplit("/", 1)[1]
                    ip = next((d["value"] for a in task.get("attachments", [])
                               for d in a.get("details", []) if d["name"] == "privateIPv4Address"), None)
                    self.tasks[tid] = {"arn": task["taskArn"], "ip": ip}
                    if task.get("healthStatus") == "HEALTHY":
                        self._note(tid, "healthy", t)
                    if task["lastStatus"] == "STOPPED":
                        self._note(tid, "stopped", t)
                now = {i["Id"] for i in instances}
                for tid in now:
                    self._note(tid, "registered", t2)
                for tid in self.registered - now:
                    self._note(tid, "unregistered", t2)
                self.registered = now
            time.sleep(0.01)

    def at(self, tid, what):
        with self.lock:
            return self.first.get((tid, what))

    def running(self):
        """IDs of the tasks not stopped (by the API)."""
        with self.lock:
            return {tid for tid in self.tasks if (tid, "stopped") not in self.first}

    def task(self, tid):
        with self.lock:
            return self.tasks.get(tid)

    def stop(self):
        self.halt.set()
        self.thread.join()


def wait(what, f, timeout=120):
    return dns.wait(what, f, timeout, every=0.02)


def ms(x):
    return "n/a" if x is None else f"{x * 1e3:+.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--rig", required=True)
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    rig = json.load(open(a.rig))
    hosts = rig["hosts"]
    ecs, ec2, sd = dns.clients(a.endpoint)

    def instances():
        arns = ecs.list_container_instances(cluster=a.cluster)["containerInstanceArns"]
        return ecs.describe_container_instances(cluster=a.cluster, containerInstances=arns)[
            "containerInstances"] if arns else []

    ecs.create_cluster(clusterName=a.cluster)  # (the agents make it too; a clear wait if they fail)
    wait("both agents connected (their logs stay with KEEP_LOG=1)", lambda: len([c for c in instances() if c["agentConnected"]]) == 2, 60)
    log("both hosts joined")

    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    subnet_of = {s["AvailabilityZone"]: s["SubnetId"] for s in subnets}
    zone = f"bench{os.getpid()}.internal"
    op = sd.create_private_dns_namespace(Name=zone, Vpc=vpc)["OperationId"]
    ns = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    dns.register_web(ecs)
    # service name -> (host index, its registry id, its DNS name)
    services = {}
    for name, host, az in (("near", 1, "us-east-1a"), ("far", 2, "us-east-1b")):
        srv = sd.create_service(Name=name, NamespaceId=ns,
                                DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}]},
                                HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]
        ecs.create_service(
            cluster=a.cluster, serviceName=name, taskDefinition="dnsbench", desiredCount=1,
            placementConstraints=[{"type": "memberOf",
                                   "expression": f"attribute:ecs.availability-zone == {az}"}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet_of[az]]}},
            serviceRegistries=[{"registryArn": srv["Arn"]}])
        services[name] = (host, srv["Id"], f"{name}.{zone}")

    h1 = hosts[0]
    engines = {h["index"]: Engine(h["docker_host"], a.cluster) for h in hosts}
    resolver = None
    apis = {}
    try:
        def registered(sname):
            return {i["Id"] for i in sd.list_instances(ServiceId=services[sname][1])["Instances"]}

        wait("one registered task per service", lambda: all(len(registered(n)) == 1 for n in services))

        # 1. Lookups from the near task's container on host 1 (nothing else polls meanwhile).
        (tid,) = registered("near")
        arn = next(x for x in ecs.list_tasks(cluster=a.cluster, serviceName="near")["taskArns"]
                   if x.endswith("/" + tid))
        docker1 = ["docker", "-H", h1["docker_host"]]
        cid = subprocess.run(docker1 + ["ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn={arn}",
                                        "--filter", "label=com.amazonaws.ecs.container-name=web"],
                             capture_output=True, text=True, check=True).stdout.split()[0]
        pid = subprocess.run(docker1 + ["inspect", "-f", "{{.State.Pid}}", cid],
                             capture_output=True, text=True, check=True).stdout.strip()
        resolv = subprocess.run(docker1 + ["exec", cid, "cat", "/etc/resolv.conf"],
                                capture_output=True, text=True, check=True).stdout
        named = [l.split()[1] for l in resolv.splitlines() if l.startswith("nameserver")]
        if not named:
            raise SystemExit(f"the task's resolv.conf names no server: {resolv!r}")
        server = named[0]
        log(f"the near task's resolv.conf (host 1) names {', '.join(named)}")
        # Host 1's resolver learns of the records up to a fetch later than the registry: the
        # lookups start once it answers both names, with its watcher stopped meanwhile.
        resolver = Resolver(h1["netns"], server, [s[2] for s in services.values()])
        wait("host 1's resolver answering both names",
             lambda: all(resolver.now(s[2]) for s in services.values()), 30)
        resolver.proc.send_signal(signal.SIGSTOP)
        name = services["near"][2]
        out = subprocess.run(["nsenter", "-t", pid, "-n", sys.executable, "-c", dns.LOOKUP, name,
                              server, str(a.lookups)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"lookup run failed: {out.stderr}")
        r = json.loads(out.stdout)
        t = r["times"]
        lookup = (f"container on host 1 → host 1's resolver as its resolv.conf names it ({server})",
                  len(t), r["errors"], dns.pct(t, 0.5) * 1e3, dns.pct(t, 0.99) * 1e3, max(t) * 1e3)
        log(f"lookups: p50 {lookup[3]:.3f} ms, p99 {lookup[4]:.3f} ms, max {lookup[5]:.3f} ms over {len(t)}")

        # 2. Record timing through host 1's resolver.
        resolver.proc.send_signal(signal.SIGCONT)
        apis = {n: Api(ecs, sd, a.cluster, n, s[1]) for n, s in services.items()}
        results = {n: {"appear": [], "gone": []} for n in services}
        for rnd in range(a.rounds):
            for sname, (host, _, dname) in services.items():
                api, engine = apis[sname], engines[host]
                api.active.set()
                wait(f"{sname} polled", lambda: api.running())
                before = api.running()
                # At a random phase of host 1's fetches (each scale-in would otherwise follow
                # a fetch by the same few ms, and always wait about a whole interval).
                time.sleep(random.uniform(0, 1))
                t_out = time.time()
                ecs.update_service(cluster=a.cluster, service=sname, desiredCount=2)
                tid = wait(f"{sname}'s new task", lambda: next(iter(api.running() - before), None))
                ip = wait(f"{sname}'s new task's address", lambda: api.task(tid)["ip"])
                arn = api.task(tid)["arn"]
                seen = wait(f"{dname} answering {ip} on host 1", lambda: resolver.appeared(dname, ip, t_out))
                docker_healthy = wait("Docker's healthy event", lambda: engine.at(arn, "healthy"), 10)
                api_healthy = wait("DescribeTasks HEALTHY", lambda: api.at(tid, "healthy"), 10)
                registered = wait("ListInstances listing it", lambda: api.at(tid, "registered"), 10)
                row = (seen - docker_healthy, seen - api_healthy, seen - registered)
                results[sname]["appear"].append(row)
                log(f"round {rnd + 1}, {sname} (host {host}): answered on host 1 {ms(row[0])} ms after "
                    f"Docker's healthy, {ms(row[1])} ms after DescribeTasks HEALTHY, {ms(row[2])} ms "
                    f"after ListInstances listed it")

                # Scale in: the scheduler picks the task; the one that stops is measured.
                tracked = api.running()
                time.sleep(random.uniform(0, 1))
                t0 = time.time()
                ecs.update_service(cluster=a.cluster, service=sname, desiredCount=1)
                gone_tid = wait(f"a {sname} task to stop", lambda: next(
                    (x for x in tracked if api.at(x, "stopped")), None), 60)
                task = api.task(gone_tid)
                died = wait("Docker's die event", lambda: engine.at(task["arn"], "die"), 10)
                gone = wait(f"{task['ip']} no longer answered on host 1",
                            lambda: resolver.gone(dname, task["ip"], t0), 10)
                killed = engine.at(task["arn"], "kill")
                unlisted = api.at(gone_tid, "unregistered")
                stopped = api.at(gone_tid, "stopped")
                g = {"gone": gone - t0, "unlisted": unlisted and unlisted - t0,
                     "kill": killed and killed - t0, "die": died - t0, "stopped": stopped - t0}
                results[sname]["gone"].append(g)
                log(f"round {rnd + 1}, {sname} (host {host}) scale-in at 0: unlisted {ms(g['unlisted'])}, "
                    f"gone on host 1 {ms(g['gone'])}, SIGTERM {ms(g['kill'])}, die {ms(g['die'])}, "
                    f"STOPPED {ms(g['stopped'])} ms")
                wait(f"{sname} back to one answer on host 1", lambda: len(resolver.now(dname)) == 1, 30)
                api.active.clear()
    finally:
        for x in apis.values():
            x.stop()
        for e in engines.values():
            e.stop()
        if resolver:
            resolver.stop()

    print("| Lookup path | queries | errors | p50 ms | p99 ms | max ms | budget p99 < 2 ms |")
    print("|---|---|---|---|---|---|---|")
    label, n, err, p50, p99, mx = lookup
    print(f"| {label} | {n} | {err} | {p50:.3f} | {p99:.3f} | {mx:.3f} | {'met' if p99 < 2 and not err else 'missed'} |")
    print()
    print("Record seen by host 1's resolver, in ms (each round's figure):")
    print()
    print("| Task | appears after Docker's healthy (budget < 1 s) | after DescribeTasks HEALTHY "
          "| after ListInstances lists it | met |")
    print("|---|---|---|---|---|")
    where = {"near": "on host 1 (the resolver's host)", "far": "on host 2"}
    for sname, r in results.items():
        cols = [", ".join(ms(x[i]) for x in r["appear"]) for i in range(3)]
        ok = r["appear"] and all(x[0] < 1 for x in r["appear"])
        print(f"| {where[sname]} | {cols[0]} | {cols[1]} | {cols[2]} | {'yes' if ok else '**no**'} |")
    print()
    print("| Task | scale-in → unlisted (ListInstances) | → gone on host 1 | → SIGTERM | → container dies "
          "| → STOPPED | gone on host 1 before the container dies | before SIGTERM: host 1 / ListInstances |")
    print("|---|---|---|---|---|---|---|---|")
    for sname, r in results.items():
        cols = [", ".join(ms(g[k]) for g in r["gone"]) for k in ("unlisted", "gone", "kill", "die", "stopped")]
        n = len(r["gone"])

        def count(first, then):
            return sum(1 for g in r["gone"] if g[first] is not None and g[then] is not None
                       and g[first] < g[then])

        before_die = count("gone", "die")
        print(f"| {where[sname]} | {' | '.join(cols)} | {before_die}/{n}"
              f"{'' if n and before_die == n else ' **missed**'} "
              f"| {count('gone', 'kill')}/{n} / {count('unlisted', 'kill')}/{n} |")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--watch":
        watch(sys.argv[2], sys.argv[3:])
    else:
        main()
