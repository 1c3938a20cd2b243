#!/usr/bin/env python3
"""Wharf's task budgets: RunTask latency beside Docker's, the agent's idle RSS and CPU.

Talks to a running `wharf server` (its embedded agent running tasks on the local Docker
Engine) and to that engine, and measures:

1. RunTask -> RUNNING of a one-container task whose image is present: wall time from
   sending RunTask until DescribeTasks (polled in a tight loop over one kept-alive
   connection) first shows `lastStatus: RUNNING`. Anchors, measured in the same run and
   interleaved with it: `docker run -d` of the same image and command (the CLI's wall
   time) and create+start through the Engine API on the unix socket (Docker's floor).
2. RunTask with count 10 -> all ten RUNNING, against ten concurrent `docker run -d`
   (threads) and ten concurrent create+start through the Engine API.
3. The server's RSS (VmRSS) idle after start-up and after the runs.
4. The server's CPU time (utime+stime) over an idle window, with no tasks and with five
   running tasks.

Every task is stopped after its sample (StopTask, then its container is removed); every
`docker run` container (named `wharf-bench-*`) is removed with `rm -f`; a sample starts
only once the previous one's containers are gone. Docker's event stream is recorded
throughout, to split Wharf's latency into its steps (see the breakdown table).

Progress goes to stderr; the result is Markdown on stdout. Python 3 standard library only.

Usage: tasks.py --endpoint http://127.0.0.1:PORT --pid PID --cluster NAME
                [--samples 15] [--burst-samples 5] [--idle-seconds 30]
                [--agent-endpoint URL --agent-pid PID --agent-cluster NAME]
"""

import argparse
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

IMAGE = "wharf-test/busybox:1"
COMMAND = ["sleep", "3600"]
MEMORY_MIB = 32
TARGET = "AmazonEC2ContainerServiceV20141113."
DOCKER_SOCKET = "/var/run/docker.sock"
NAME_PREFIX = "wharf-bench-"
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
LABEL_CLUSTER = "com.amazonaws.ecs.cluster"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def ms(seconds):
    return seconds * 1000.0


# --- statistics ---------------------------------------------------------------------------


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p90(xs):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def fmt(x, digits=1):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


# --- clients ------------------------------------------------------------------------------


class Ecs:
    """ECS JSON 1.1 over one kept-alive HTTP connection (unsigned requests)."""

    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, op, body):
        data = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET + op,
        }
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request("POST", "/", data, headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if resp.status // 100 != 2:
            raise RuntimeError(f"{op}: HTTP {resp.status}: {raw[:500]!r}")
        return json.loads(raw) if raw else {}


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
    """The Engine API on the unix socket, one kept-alive connection per instance."""

    def __init__(self, path=DOCKER_SOCKET):
        self.path = path
        self.conn = None

    def request(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = UnixHTTPConnection(self.path)
            try:
                self.conn.request(method, url, data, headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
        return resp.status, parsed

    def ok(self, method, url, body=None):
        status, parsed = self.request(method, url, body)
        if status // 100 != 2:
            raise RuntimeError(f"docker {method} {url}: HTTP {status}: {parsed!r}")
        return parsed

    def remove(self, ref):
        """rm -f, then waits until the container is gone."""
        status, parsed = self.request("DELETE", f"/containers/{ref}?force=1&v=1")
        if status not in (204, 404, 409):
            raise RuntimeError(f"docker rm -f {ref}: HTTP {status}: {parsed!r}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, _ = self.request("GET", f"/containers/{ref}/json")
            if status == 404:
                return
            if status // 100 == 2:
                # 409: removal already in progress; ask again.
                self.request("DELETE", f"/containers/{ref}?force=1&v=1")
            time.sleep(0.02)
        raise RuntimeError(f"container {ref} is still there after 60 s")


class DockerEvents(threading.Thread):
    """Records Docker's container events (create, start, die, destroy) with their times."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lock = threading.Lock()
        self.by_id = {}  # id -> {"name":..., "labels":..., "create": t, "start": t, ...}
        self.ready = threading.Event()

    def run(self):
        filters = json.dumps(
            {"type": ["container"], "event": ["create", "start", "die", "destroy"]}
        )
        conn = UnixHTTPConnection(DOCKER_SOCKET, timeout=None)
        conn.request("GET", "/events?filters=" + urllib.parse.quote(filters))
        resp = conn.getresponse()
        self.ready.set()
        while True:
            line = resp.readline()
            if not line:
                return
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            cid = ev.get("id") or ev.get("Actor", {}).get("ID")
            attrs = ev.get("Actor", {}).get("Attributes", {}) or {}
            t = ev.get("timeNano", 0) / 1e9
            with self.lock:
                rec = self.by_id.setdefault(cid, {"labels": attrs, "name": attrs.get("name")})
                rec.setdefault(ev.get("status") or ev.get("Action"), t)

    def get(self, cid):
        with self.lock:
            return dict(self.by_id.get(cid, {}))

    def wait_for(self, cid, what, timeout=2.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rec = self.get(cid)
            if what in rec:
                return rec[what]
            time.sleep(0.002)
        return None


# --- the server under test ----------------------------------------------------------------


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def proc_threads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return None


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # Fields after the command (which is in parentheses and may hold spaces).
    rest = data[data.rindex(")") + 2 :].split()
    utime, stime = int(rest[11]), int(rest[12])  # fields 14 and 15 of stat
    return utime, stime


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def ts(value):
    """An ECS timestamp (epoch seconds, possibly a string) as float seconds, or None."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Bench:
    def __init__(self, endpoint, pid, cluster, events, label=""):
        self.ecs = Ecs(endpoint)
        self.endpoint = endpoint
        self.pid = pid
        self.cluster = cluster
        self.events = events
        self.docker = Docker()
        self.label = label
        self.family = f"wharf-bench-{cluster}"

    def register(self):
        self.ecs.call(
            "RegisterTaskDefinition",
            {
                "family": self.family,
                "networkMode": "bridge",
                "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [
                    {
                        "name": "sleep",
                        "image": IMAGE,
                        "command": COMMAND,
                        "memory": MEMORY_MIB,
                        "essential": True,
                        # busybox sleep as PID 1 ignores SIGTERM: do not wait 30 s.
                        "stopTimeout": 1,
                    }
                ],
            },
        )

    def wait_instance(self, timeout=30):
        """Waits until the cluster has a registered, connected container instance."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                arns = self.ecs.call("ListContainerInstances", {"cluster": self.cluster}).get(
                    "containerInstanceArns", []
                )
                if arns:
                    d = self.ecs.call(
                        "DescribeContainerInstances",
                        {"cluster": self.cluster, "containerInstances": arns},
                    )
                    if any(ci.get("agentConnected") for ci in d.get("containerInstances", [])):
                        return
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"no connected container instance in cluster {self.cluster}")

    def run_tasks(self, count):
        """RunTask; returns (arns, t0 wall, t0 perf, response perf)."""
        t0w, t0 = time.time(), time.perf_counter()
        r = self.ecs.call(
            "RunTask",
            {"cluster": self.cluster, "taskDefinition": self.family, "count": count},
        )
        t_resp = time.perf_counter()
        if r.get("failures"):
            raise RuntimeError(f"RunTask failures: {r['failures']}")
        arns = [t["taskArn"] for t in r.get("tasks", [])]
        if len(arns) != count:
            raise RuntimeError(f"RunTask placed {len(arns)} of {count}: {r}")
        return arns, t0w, t0, t_resp

    def wait_running(self, arns, t0, interval=0.0, timeout=120):
        """Polls DescribeTasks until every task is RUNNING, sleeping `interval` between
        polls (0: a tight loop); returns (t_all perf, tasks, poll stats)."""
        pending = set(arns)
        deadline = t0 + timeout
        last_send = None
        seen = {}
        rtts = []
        while True:
            send = time.perf_counter()
            d = self.ecs.call("DescribeTasks", {"cluster": self.cluster, "tasks": arns})
            now = time.perf_counter()
            rtts.append(now - send)
            for t in d.get("tasks", []):
                st = t.get("lastStatus")
                if st == "RUNNING" and t["taskArn"] in pending:
                    pending.discard(t["taskArn"])
                    seen[t["taskArn"]] = t
                elif st == "STOPPED":
                    raise RuntimeError(
                        f"task stopped before RUNNING: {t.get('stoppedReason')} "
                        f"{[c.get('reason') for c in t.get('containers', [])]}"
                    )
            if not pending:
                polls = {"rtts": rtts, "gap": (send - last_send) if last_send else None}
                return now, [seen[a] for a in arns], polls
            if now > deadline:
                raise RuntimeError(f"{len(pending)} task(s) not RUNNING after {timeout} s")
            last_send = send
            if interval:
                time.sleep(interval)

    def stop_and_remove(self, arns):
        for a in arns:
            self.ecs.call(
                "StopTask", {"cluster": self.cluster, "task": a, "reason": "bench sample done"}
            )
        deadline = time.monotonic() + 120
        ids = []
        while True:
            d = self.ecs.call("DescribeTasks", {"cluster": self.cluster, "tasks": arns})
            tasks = d.get("tasks", [])
            if tasks and all(t.get("lastStatus") == "STOPPED" for t in tasks):
                for t in tasks:
                    ids += [c["runtimeId"] for c in t.get("containers", []) if c.get("runtimeId")]
                break
            if time.monotonic() > deadline:
                raise RuntimeError("tasks not STOPPED after 120 s")
            time.sleep(0.02)
        for cid in ids:
            self.docker.remove(cid)

    # -- one sample of each kind --

    def sample_wharf(self, interval=0.0):
        arns, t0w, t0, t_resp = self.run_tasks(1)
        t_seen, tasks, polls = self.wait_running(arns, t0, interval)
        task = tasks[0]
        cid = (task.get("containers") or [{}])[0].get("runtimeId")
        if cid:
            self.events.wait_for(cid, "start", 1.0)
        ev = self.events.get(cid) if cid else {}
        sample = {
            "total": t_seen - t0,
            "runtask_rtt": t_resp - t0,
            "t0": t0w,
            "seen": t0w + (t_seen - t0),
            "createdAt": ts(task.get("createdAt")),
            "pullStartedAt": ts(task.get("pullStartedAt")),
            "pullStoppedAt": ts(task.get("pullStoppedAt")),
            "startedAt": ts(task.get("startedAt")),
            "create_ev": ev.get("create"),
            "start_ev": ev.get("start"),
            "polls": polls,
        }
        self.stop_and_remove(arns)
        return sample

    def sample_burst(self, count, interval=0.0):
        arns, t0w, t0, t_resp = self.run_tasks(count)
        t_seen, tasks, polls = self.wait_running(arns, t0, interval)
        ids = [(t.get("containers") or [{}])[0].get("runtimeId") for t in tasks]
        sample = {
            "total": t_seen - t0,
            "runtask_rtt": t_resp - t0,
            "last_startedAt": max(ts(t.get("startedAt")) or 0 for t in tasks) - t0w,
            "first_pullStartedAt": min(ts(t.get("pullStartedAt")) or 1e18 for t in tasks) - t0w,
            "last_pullStoppedAt": max(ts(t.get("pullStoppedAt")) or 0 for t in tasks) - t0w,
            "polls": polls,
        }
        sample.update(event_spread(self.events, ids, t0w))
        self.stop_and_remove(arns)
        return sample


def event_spread(events, ids, t0w):
    """First and last Docker create/start events of containers `ids`, after t0w (seconds)."""
    out = {}
    for what in ("create", "start"):
        times = [events.wait_for(i, what, 1.0) for i in ids if i]
        times = [t for t in times if t is not None]
        if len(times) == len(ids):
            out[f"first_{what}"] = min(times) - t0w
            out[f"last_{what}"] = max(times) - t0w
    return out


def docker_cli_run(name):
    t0w, t0 = time.time(), time.perf_counter()
    p = subprocess.run(
        ["docker", "run", "-d", "--name", name, "--memory", f"{MEMORY_MIB}m", IMAGE, *COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    t1 = time.perf_counter()
    if p.returncode != 0:
        raise RuntimeError(f"docker run failed: {p.stderr.strip()}")
    return t0w, t0, t1, p.stdout.strip()


def docker_api_run(docker, name):
    body = {
        "Image": IMAGE,
        "Cmd": COMMAND,
        "HostConfig": {"Memory": MEMORY_MIB * 1024 * 1024},
    }
    t0w, t0 = time.time(), time.perf_counter()
    created = docker.ok("POST", f"/containers/create?name={name}", body)
    t_created = time.perf_counter()
    docker.ok("POST", f"/containers/{created['Id']}/start")
    t1 = time.perf_counter()
    return t0w, t0, t_created, t1, created["Id"]


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def next(self, kind):
        with self.lock:
            self.n += 1
            return f"{NAME_PREFIX}{os.getpid()}-{kind}-{self.n}"


NAMES = Counter()


def sample_cli(docker, events):
    name = NAMES.next("cli")
    t0w, t0, t1, cid = docker_cli_run(name)
    events.wait_for(cid, "start", 1.0)
    ev = events.get(cid)
    docker.remove(name)
    return {
        "total": t1 - t0,
        "create_ev": ev.get("create"),
        "start_ev": ev.get("start"),
        "t0": t0w,
        "end": t0w + (t1 - t0),
    }


def sample_api(docker, events):
    name = NAMES.next("api")
    t0w, t0, t_created, t1, cid = docker_api_run(docker, name)
    docker.remove(cid)
    return {"total": t1 - t0, "create": t_created - t0, "start": t1 - t_created}


def concurrent(count, fn):
    """Runs fn(i) in `count` threads released together; returns (wall seconds, results)."""
    barrier = threading.Barrier(count + 1)
    results = [None] * count
    errors = []

    def worker(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    t1 = time.perf_counter()
    if errors:
        raise errors[0]
    return t1 - t0, results


def burst_cli(docker, events, count):
    names = [NAMES.next("cli10") for _ in range(count)]
    t0w = time.time()
    wall, results = concurrent(count, lambda i: docker_cli_run(names[i]))
    sample = {"total": wall}
    sample.update(event_spread(events, [r[3] for r in results], t0w))
    for n in names:
        docker.remove(n)
    return sample


def burst_api(docker, events, count):
    names = [NAMES.next("api10") for _ in range(count)]
    t0w = time.time()
    wall, results = concurrent(count, lambda i: docker_api_run(Docker(), names[i]))
    sample = {"total": wall}
    sample.update(event_spread(events, [r[4] for r in results], t0w))
    for n in names:
        docker.remove(n)
    return sample


def idle_cpu(pid, seconds):
    tck = os.sysconf("SC_CLK_TCK")
    u0, s0 = proc_cpu_ticks(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    u1, s1 = proc_cpu_ticks(pid)
    dt = time.monotonic() - t0
    ticks = (u1 - u0) + (s1 - s0)
    return {"ticks": ticks, "per_s": ticks / dt, "cpu_pct": 100.0 * ticks / tck / dt, "s": dt}


# --- the run ------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--burst-samples", type=int, default=5)
    ap.add_argument("--burst", type=int, default=10)
    ap.add_argument("--paced-ms", type=float, default=5.0,
                    help="the paced poller's sleep between DescribeTasks calls (0: off)")
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--idle-tasks", type=int, default=5)
    ap.add_argument("--agent-endpoint", help="a server whose only agent is `wharf agent`")
    ap.add_argument("--agent-pid", type=int, help="the `wharf agent` process")
    ap.add_argument("--agent-server-pid", type=int, help="the server `wharf agent` talks to")
    ap.add_argument("--agent-cluster")
    ap.add_argument("--agent-samples", type=int, default=5)
    args = ap.parse_args()

    events = DockerEvents()
    events.start()
    if not events.ready.wait(10):
        raise SystemExit("cannot subscribe to Docker's events")

    docker = Docker()
    b = Bench(args.endpoint, args.pid, args.cluster, events)
    b.wait_instance()
    b.register()
    time.sleep(1)
    rss_idle = proc_rss_kib(args.pid)
    threads_idle = proc_threads(args.pid)
    log(f"server pid {args.pid}: idle RSS {rss_idle} KiB, {threads_idle} threads; "
        f"load {loadavg()}")

    loads = [loadavg()]
    paced = args.paced_ms / 1000.0
    # Warm-up: one of each, not counted (first bridge attachment, page cache, ...).
    log("warm-up")
    b.sample_wharf()
    sample_cli(docker, events)
    sample_api(docker, events)

    # 1. one task, interleaved; the order rotates each round so none always goes first.
    res = {"wharf": [], "paced": [], "cli": [], "api": []}
    kinds = [
        ("wharf", lambda: b.sample_wharf()),
        ("cli", lambda: sample_cli(docker, events)),
        ("paced", lambda: b.sample_wharf(paced)),
        ("api", lambda: sample_api(docker, events)),
    ]
    if not paced:
        kinds = [k for k in kinds if k[0] != "paced"]
    for i in range(args.samples):
        k = i % len(kinds)
        for key, fn in kinds[k:] + kinds[:k]:
            res[key].append(fn())
        log(f"  round {i + 1}/{args.samples}: " + ", ".join(
            f"{key} {ms(res[key][-1]['total']):.1f} ms" for key, _ in kinds))
    loads.append(loadavg())

    # 2. bursts.
    bres = {"wharf": [], "paced": [], "cli": [], "api": []}
    bkinds = [
        ("wharf", lambda: b.sample_burst(args.burst)),
        ("cli", lambda: burst_cli(docker, events, args.burst)),
        ("paced", lambda: b.sample_burst(args.burst, paced)),
        ("api", lambda: burst_api(docker, events, args.burst)),
    ]
    if not paced:
        bkinds = [k for k in bkinds if k[0] != "paced"]
    for i in range(args.burst_samples):
        k = i % len(bkinds)
        for key, fn in bkinds[k:] + bkinds[:k]:
            bres[key].append(fn())
        log(f"  burst {i + 1}/{args.burst_samples}: " + ", ".join(
            f"{key} {ms(bres[key][-1]['total']):.1f} ms" for key, _ in bkinds))
    loads.append(loadavg())

    # 3./4. idle CPU with no tasks, then with some running; RSS after.
    time.sleep(2)
    rss_after = proc_rss_kib(args.pid)
    log(f"idle CPU, no tasks ({args.idle_seconds:.0f} s)")
    cpu_none = idle_cpu(args.pid, args.idle_seconds)
    log(f"idle CPU, {args.idle_tasks} running tasks ({args.idle_seconds:.0f} s)")
    arns, _, t0, _ = b.run_tasks(args.idle_tasks)
    b.wait_running(arns, t0, paced)
    time.sleep(2)
    rss_tasks = proc_rss_kib(args.pid)
    cpu_tasks = idle_cpu(args.pid, args.idle_seconds)
    b.stop_and_remove(arns)
    time.sleep(1)
    rss_end = proc_rss_kib(args.pid)
    loads.append(loadavg())

    # The standalone agent, when there is one.
    agent = None
    if args.agent_endpoint and args.agent_pid:
        log("standalone `wharf agent`")
        a = Bench(args.agent_endpoint, args.agent_server_pid, args.agent_cluster, events)
        a.wait_instance()
        a.register()
        time.sleep(1)
        agent = {"rss_idle": proc_rss_kib(args.agent_pid), "threads": proc_threads(args.agent_pid)}
        log(f"idle CPU of `wharf agent`, no tasks ({args.idle_seconds:.0f} s)")
        agent["cpu_none"] = idle_cpu(args.agent_pid, args.idle_seconds)
        a.sample_wharf()  # warm-up
        runs, acli = [], []
        for i in range(args.agent_samples):
            runs.append(a.sample_wharf())
            acli.append(sample_cli(docker, events))
        agent["runs"] = runs
        agent["cli"] = acli
        log(f"idle CPU of `wharf agent`, {args.idle_tasks} running tasks")
        arns, _, t0, _ = a.run_tasks(args.idle_tasks)
        a.wait_running(arns, t0, paced)
        time.sleep(2)
        agent["rss_tasks"] = proc_rss_kib(args.agent_pid)
        agent["cpu_tasks"] = idle_cpu(args.agent_pid, args.idle_seconds)
        a.stop_and_remove(arns)
        time.sleep(1)
        agent["rss_after"] = proc_rss_kib(args.agent_pid)
        loads.append(loadavg())

    report(args, res, bres, dict(idle=rss_idle, after=rss_after, tasks=rss_tasks, end=rss_end),
           cpu_none, cpu_tasks, loads, agent)


def report(args, res, bres, rss, cpu_none, cpu_tasks, loads, agent):
    def col(xs, key="total"):
        return [x[key] for x in xs if x.get(key) is not None]

    def ratio(a, b):
        return f"{a / b:.2f}×" if b else "n/a"

    def met(ok):
        return "yes" if ok else "**no**"

    def mib(k):
        return k / 1024 if k is not None else float("nan")

    paced = bool(res["paced"])
    pl = f"paced poll ({args.paced_ms:g} ms sleep)"
    cm, em = median(col(res["cli"])), median(col(res["api"]))
    bcm, bam = median(col(bres["cli"])), median(col(bres["api"]))
    tck = os.sysconf("SC_CLK_TCK")
    out = []
    p = out.append
    p("")
    p(f"### Task budgets ({args.samples} single samples, {args.burst_samples} bursts of "
      f"{args.burst}; load average at start / after single / after bursts / after idle"
      f"{' / after agent' if agent else ''}: {' | '.join(loads)})")
    p("")
    p("| Measure | Wharf median | Wharf p90 | Anchor | Anchor median | Anchor p90 | "
      "Ratio (medians) | Budget | Met |")
    p("|---|---:|---:|---|---:|---:|---:|---|---|")
    for key, how in (("wharf", "tight poll"), ("paced", pl)):
        if not res[key]:
            continue
        w = col(res[key])
        wm = median(w)
        p(f"| RunTask → RUNNING, 1 task, {how} | {fmt(ms(wm))} ms | {fmt(ms(p90(w)))} ms | "
          f"`docker run -d` (CLI) | {fmt(ms(cm))} ms | {fmt(ms(p90(col(res['cli']))))} ms | "
          f"{ratio(wm, cm)} | ≤ 1.1× | {met(wm <= 1.1 * cm)} |")
        p(f"| ″ | | | Engine API create+start | {fmt(ms(em))} ms | "
          f"{fmt(ms(p90(col(res['api']))))} ms | {ratio(wm, em)} | (Docker's floor) | |")
    for key, how in (("wharf", "tight poll"), ("paced", pl)):
        if not bres[key]:
            continue
        w = col(bres[key])
        wm = median(w)
        p(f"| RunTask count {args.burst} → all RUNNING, {how} | {fmt(ms(wm))} ms | "
          f"{fmt(ms(p90(w)))} ms | {args.burst}× `docker run -d` (threads) | {fmt(ms(bcm))} ms | "
          f"{fmt(ms(p90(col(bres['cli']))))} ms | {ratio(wm, bcm)} | ≤ 1.2× | "
          f"{met(wm <= 1.2 * bcm)} |")
        p(f"| ″ | | | {args.burst}× Engine API create+start (threads) | {fmt(ms(bam))} ms | "
          f"{fmt(ms(p90(col(bres['api']))))} ms | {ratio(wm, bam)} | (Docker's floor) | |")
    p(f"| Idle RSS, server+embedded agent, after start-up | {fmt(mib(rss['idle']))} MiB | | | "
      f"| | | < 15 MiB | {met(mib(rss['idle']) < 15)} |")
    p(f"| Idle RSS, server+embedded agent, after the runs | {fmt(mib(rss['after']))} MiB | | | "
      f"| | | < 15 MiB | {met(mib(rss['after']) < 15)} |")
    p(f"| RSS, server+embedded agent, {args.idle_tasks} running tasks / after stopping them | "
      f"{fmt(mib(rss['tasks']))} / {fmt(mib(rss['end']))} MiB | | | | | | | |")
    for cpu, what in ((cpu_none, "no tasks"), (cpu_tasks, f"{args.idle_tasks} running tasks")):
        p(f"| Idle CPU, server+embedded agent, {what} ({cpu['s']:.0f} s) | "
          f"{cpu['per_s']:.3f} ticks/s ({cpu['ticks']} ticks, {cpu['cpu_pct']:.3f}% CPU) "
          f"| | | | | | ~0 | {met(cpu['per_s'] < 0.1)} |")
    if agent:
        ar, ac = col(agent["runs"]), col(agent["cli"])
        p(f"| `wharf agent` standalone: idle RSS | {fmt(mib(agent['rss_idle']))} MiB "
          f"({agent['threads']} thread(s)) | | | | | | < 15 MiB | "
          f"{met(mib(agent['rss_idle']) < 15)} |")
        p(f"| `wharf agent`: RSS with {args.idle_tasks} tasks / after stopping them | "
          f"{fmt(mib(agent['rss_tasks']))} / {fmt(mib(agent['rss_after']))} MiB | | | | | | "
          f"< 15 MiB | {met(mib(agent['rss_after']) < 15)} |")
        for key, what in (("cpu_none", "no tasks"), ("cpu_tasks", f"{args.idle_tasks} tasks")):
            cpu = agent[key]
            p(f"| `wharf agent`: idle CPU, {what} ({cpu['s']:.0f} s) | {cpu['per_s']:.3f} "
              f"ticks/s ({cpu['ticks']} ticks) | | | | | | ~0 | {met(cpu['per_s'] < 0.1)} |")
        p(f"| `wharf agent` (over HTTP): RunTask → RUNNING, tight poll ({len(ar)} samples) | "
          f"{fmt(ms(median(ar)))} ms | {fmt(ms(p90(ar)))} ms | `docker run -d` (CLI, "
          f"alternating) | {fmt(ms(median(ac)))} ms | {fmt(ms(p90(ac)))} ms | "
          f"{ratio(median(ar), median(ac))} | ≤ 1.1× | {met(median(ar) <= 1.1 * median(ac))} |")
    p("")
    for key, how in (("wharf", "tight"), ("paced", pl)):
        if not res[key]:
            continue
        rtts = [r for x in res[key] for r in x["polls"]["rtts"]]
        gaps = [x["polls"]["gap"] for x in res[key] if x["polls"]["gap"] is not None]
        p(f"Polling ({how}): DescribeTasks round trip median {fmt(ms(median(rtts)), 2)} ms, "
          f"p90 {fmt(ms(p90(rtts)), 2)} ms, {len(rtts) / len(res[key]):.0f} polls per sample; "
          f"the poll that saw RUNNING was sent {fmt(ms(median(gaps)), 2)} ms (median) after "
          f"the one before it: the figure is late by at most that much.")
    p(f"CPU: CLK_TCK = {tck} (1 tick = {1000 / tck:.0f} ms of CPU); `ticks/s` is "
      f"utime+stime of the process over the window.")
    p("")

    # Where the time goes: medians of each step, from the task's timestamps (ms precision,
    # the server's clock), Docker's event times (ns) and the client's clock (all one host).
    def step(xs, a, bkey):
        return [x[bkey] - x[a] for x in xs if x.get(a) is not None and x.get(bkey) is not None]

    def rows_for(xs):
        return [
            ("RunTask sent → answered", col(xs, "runtask_rtt")),
            ("RunTask sent → `createdAt`", step(xs, "t0", "createdAt")),
            ("`createdAt` → `pullStartedAt` (assignment reaches the agent, task provisioned)",
             step(xs, "createdAt", "pullStartedAt")),
            ("`pullStartedAt` → `pullStoppedAt` (image present: inspect only)",
             step(xs, "pullStartedAt", "pullStoppedAt")),
            ("`pullStoppedAt` → Docker `create` event (create call)",
             step(xs, "pullStoppedAt", "create_ev")),
            ("Docker `create` → `start` event (start call)", step(xs, "create_ev", "start_ev")),
            ("Docker `start` event → `startedAt` (start answered, inspect, RUNNING decided)",
             step(xs, "start_ev", "startedAt")),
            ("`startedAt` → DescribeTasks shows RUNNING (report stored, seen by a poll)",
             step(xs, "startedAt", "seen")),
            ("**total** RunTask → RUNNING", col(xs)),
        ]

    p("Where Wharf's time goes (single task; ms; task timestamps have ms resolution, Docker's "
      "events ns):")
    p("")
    cols = [("wharf", "tight")] + ([("paced", "paced")] if paced else [])
    samples = {k: res[k] for k, _ in cols}
    if agent:
        cols.append(("agent", "`wharf agent`"))
        samples["agent"] = agent["runs"]
    p("| Step | " + " | ".join(f"{h} median | {h} p90" for _, h in cols) + " |")
    p("|---|" + "---:|---:|" * len(cols))
    tables = [rows_for(samples[k]) for k, _ in cols]
    for r in range(len(tables[0])):
        name = tables[0][r][0]
        cells = []
        for t in tables:
            xs = t[r][1]
            cells += [fmt(ms(median(xs))), fmt(ms(p90(xs)))]
        p(f"| {name} | " + " | ".join(cells) + " |")
    p("")
    cli, api = res["cli"], res["api"]
    crows = [
        ("`docker run -d`: exec → Docker `create` event", step(cli, "t0", "create_ev")),
        ("`docker run -d`: `create` → `start` event", step(cli, "create_ev", "start_ev")),
        ("`docker run -d`: `start` event → CLI exits", step(cli, "start_ev", "end")),
        ("`docker run -d`: total", col(cli)),
        ("Engine API: create call", col(api, "create")),
        ("Engine API: start call", col(api, "start")),
        ("Engine API: total", col(api)),
    ]
    p("| Docker anchor step | median | p90 |")
    p("|---|---:|---:|")
    for name, xs in crows:
        p(f"| {name} | {fmt(ms(median(xs)))} | {fmt(ms(p90(xs)))} |")
    p("")
    bkeys = [k for k in ("wharf", "paced", "cli", "api") if bres[k]]
    p(f"Bursts of {args.burst} (medians, ms after the first request/exec):")
    p("")
    p("| | " + " | ".join(bkeys) + " |")
    p("|---|" + "---:|" * len(bkeys))
    for key, name in (("runtask_rtt", "RunTask answered"),
                      ("first_pullStartedAt", "first `pullStartedAt`"),
                      ("last_pullStoppedAt", "last `pullStoppedAt`"),
                      ("first_create", "first Docker `create` event"),
                      ("last_create", "last Docker `create` event"),
                      ("first_start", "first Docker `start` event"),
                      ("last_start", "last Docker `start` event"),
                      ("last_startedAt", "last `startedAt`"),
                      ("total", "all RUNNING seen / all returned")):
        p(f"| {name} | " + " | ".join(fmt(ms(median(col(bres[k], key)))) for k in bkeys) + " |")
    p("")
    for key in ("wharf", "paced", "cli", "api"):
        if res[key]:
            p(f"Raw single samples, {key} (ms): " + " ".join(
                f"{ms(x):.0f}" for x in col(res[key])))
    for key in bkeys:
        p(f"Raw bursts, {key} (ms): " + " ".join(f"{ms(x):.0f}" for x in col(bres[key])))
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    main()
