#!/usr/bin/env python3
"""The web console's budget: first paint of a cluster view with 1,000 tasks.

Talks to a running `wharf server --no-agent` and plays its agent through the agent HTTP
endpoints (a scale simulation: no container runs): registers one container instance with
room for every task, runs the tasks with RunTask (10 at a time, the most ECS allows per
call) and reports each RUNNING with one container, a port binding and a runtime id. Then,
in headless Chromium driven through chromedriver (W3C WebDriver), it loads
`/console#/clusters/default` LOADS times (after 3 warm-up loads, each from about:blank so
every load is a full navigation) and reads, relative to the navigation's start:

- first-contentful-paint (the Performance API's paint entry): the console's frame;
- table in DOM: the console's `wharf-rendered` mark, set once the view's one HTML string
  with every task row is in the document;
- table painted: the `wharf-painted` mark, two animation frames later, i.e. once the frame
  holding the table (its first 60 rows, more than a screen holds; the page adds the others
  in chunks right after) has been produced. This is the budget's figure;
- all rows painted: the `wharf-complete-painted` mark, two frames after the last chunk of
  rows is in the document.

Anchor, same run, same browser: the very DOM the console built (its outerHTML, with the
same stylesheet, and no script but the same two-frame mark) saved as a static page and
served by Python's http.server: what painting those 1,000 rows costs the browser when the
server sends them ready-made. Also reported: the JSON view's own latency and size (plain
HTTP GETs of /console/api/clusters/default).

Progress goes to stderr; the result is Markdown on stdout. Python 3 standard library only.

Usage: console.py --endpoint URL --webdriver URL --profile DIR --work DIR
                  [--tasks 1000] [--loads 20]
"""

import argparse
import concurrent.futures
import functools
import http.client
import http.server
import json
import math
import os
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

TARGET = "AmazonEC2ContainerServiceV20141113."
REGION = "us-east-1"
CLUSTER = "default"
WARMUP = 3


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p90(xs):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def fmt(x):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0f}"


class Http:
    """Plain HTTP/1.1 to the server, one kept-alive connection per thread."""

    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port or 80
        self.local = threading.local()

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                conn.request(method, path, body, headers or {})
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise

    def ecs(self, op, body):
        status, raw = self.request(
            "POST", "/", json.dumps(body).encode(),
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op},
        )
        if status // 100 != 2:
            raise RuntimeError(f"{op}: HTTP {status}: {raw[:300]!r}")
        return json.loads(raw) if raw else {}

    def agent(self, call, query, body):
        path = f"/_wharf/agent/v1/{call}?" + urllib.parse.urlencode(query)
        status, raw = self.request("POST", path, json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
        if status // 100 != 2:
            raise RuntimeError(f"agent {call}: HTTP {status}: {raw[:300]!r}")
        return json.loads(raw) if raw else {}


def seed(api, tasks):
    """One instance, `tasks` tasks RUNNING on it; returns their ARNs."""
    started = time.monotonic()
    instance = api.agent("register", {"region": REGION}, {
        "cluster": CLUSTER,
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024 * 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 64 * 1024 * 1024},
        ],
        # What the task definition requires (as the agent registers them).
        "attributes": [{"name": "ecs.os-type", "value": "linux"}] + [
            {"name": f"com.amazonaws.ecs.capability.{c}"}
            for c in ["logging-driver.awslogs", "docker-remote-api.1.17", "docker-remote-api.1.18",
                      "docker-remote-api.1.19"]
        ],
    })
    log(f"registered {instance.get('containerInstanceArn')}")
    api.ecs("RegisterTaskDefinition", {
        "family": "bench-web",
        "containerDefinitions": [{
            "name": "app", "image": "wharf-test/busybox:1", "memory": 32,
            "portMappings": [{"containerPort": 80, "hostPort": 0}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/bench-web", "awslogs-region": REGION,
                "awslogs-stream-prefix": "ecs"}},
        }],
    })
    arns = []
    while len(arns) < tasks:
        count = min(10, tasks - len(arns))
        out = api.ecs("RunTask", {"cluster": CLUSTER, "taskDefinition": "bench-web",
                                  "count": count, "group": f"family:bench-web-{len(arns) // 100}"})
        if out.get("failures"):
            raise RuntimeError(f"RunTask failures: {out['failures']}")
        arns += [t["taskArn"] for t in out["tasks"]]
    now = time.time()

    def report(item):
        i, arn = item
        api.agent("report", {"region": REGION, "cluster": CLUSTER}, {
            "taskArn": arn, "lastStatus": "RUNNING", "startedAt": now, "pullStartedAt": now,
            "pullStoppedAt": now, "healthStatus": "HEALTHY",
            "containers": [{
                "name": "app", "lastStatus": "RUNNING", "healthStatus": "HEALTHY",
                "runtimeId": f"{i:064x}",
                "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                     "hostPort": 32768 + i, "protocol": "tcp"}],
            }],
        })

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(report, enumerate(arns)))
    status, raw = api.request("GET", f"/console/api/clusters/{CLUSTER}?region={REGION}")
    view = json.loads(raw)
    if status != 200 or view["running"] != tasks or len(view["tasks"]) != tasks:
        raise RuntimeError(f"the cluster view shows {view.get('running')} running of {tasks}")
    log(f"{tasks} tasks RUNNING in {time.monotonic() - started:.1f} s")
    return arns


def api_latency(api, n=30):
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        status, raw = api.request("GET", f"/console/api/clusters/{CLUSTER}?region={REGION}")
        times.append((time.perf_counter() - t) * 1000)
        size = len(raw)
        assert status == 200
    return times, size


class WebDriver:
    def __init__(self, url, profile):
        self.url = url.rstrip("/")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--window-size=1280,900", f"--user-data-dir={profile}"],
        }}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["value"]

    def s(self, rest):
        return f"/session/{self.session}{rest}"

    def open(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def script(self, source, args=()):
        return self.call("POST", self.s("/execute/sync"), {"script": source, "args": list(args)})

    def close(self):
        try:
            self.call("DELETE", self.s(""))
        except OSError:
            pass


MEASURE = """
const paint = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
const mark = (n) => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime : null; };
return {fcp: paint ? paint.startTime : null, rendered: mark('wharf-rendered'),
        painted: mark('wharf-painted'), complete: mark('wharf-complete-painted'),
        rows: document.querySelectorAll('table.tasks tbody tr').length};
"""


def load(driver, url, tasks):
    driver.open("about:blank")
    driver.open(url)
    deadline = time.monotonic() + 30
    while True:
        m = driver.script(MEASURE)
        if m["painted"] is not None and m["complete"] is not None:
            if m["rows"] != tasks:
                raise RuntimeError(f"the page shows {m['rows']} task rows, not {tasks}")
            return m
        if time.monotonic() > deadline:
            state = driver.script("return [document.getElementById('live').className, "
                                  "document.getElementById('main').innerText.slice(0, 300)]")
            raise RuntimeError(f"the table never painted: {m}; the page: {state}")
        time.sleep(0.01)


def static_anchor(driver, console_url, work):
    """Saves the DOM the console built as a static page and serves it; its URL."""
    driver.open("about:blank")
    driver.open(console_url)
    load_deadline = time.monotonic() + 30
    while driver.script(MEASURE)["complete"] is None:
        if time.monotonic() > load_deadline:
            raise RuntimeError("the console never painted")
        time.sleep(0.01)
    html = driver.script("""
      const doc = document.documentElement.cloneNode(true);
      doc.querySelectorAll('script').forEach(s => s.remove());
      doc.querySelector('link[rel=stylesheet]').setAttribute('href', 'app.css');
      return '<!doctype html>' + doc.outerHTML;
    """)
    mark = ("<script>requestAnimationFrame(() => requestAnimationFrame(() => "
            "{ performance.mark('wharf-painted'); performance.mark('wharf-complete-painted'); }));"
            "</script>")
    html = html.replace("</body>", mark + "</body>")
    site = os.path.join(work, "static")
    os.makedirs(site, exist_ok=True)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write(html)
    base = console_url.split("/console")[0]
    with urllib.request.urlopen(base + "/console/app.css") as r, \
            open(os.path.join(site, "app.css"), "wb") as f:
        f.write(r.read())
    handler = functools.partial(QuietHandler, directory=site)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/index.html", len(html)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def measure(driver, url, tasks, loads, what):
    for _ in range(WARMUP):
        load(driver, url, tasks)
    samples = []
    for i in range(loads):
        samples.append(load(driver, url, tasks))
        log(f"{what} load {i + 1}/{loads}: {samples[-1]}")
    return samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--loads", type=int, default=20)
    a = ap.parse_args()

    api = Http(a.endpoint)
    seed(api, a.tasks)
    api_times, size = api_latency(api)
    driver = WebDriver(a.webdriver, a.profile)
    try:
        url = f"{a.endpoint}/console?region={REGION}#/clusters/{CLUSTER}"
        console = measure(driver, url, a.tasks, a.loads, "console")
        static_url, static_size = static_anchor(driver, url, a.work)
        static = measure(driver, static_url, a.tasks, a.loads, "static")
    finally:
        driver.close()

    col = lambda rows, k: [r[k] for r in rows if r[k] is not None]
    painted = col(console, "painted")
    met = "yes" if p90(painted) < 300 else "no"
    print(f"Console, cluster view of {a.tasks} RUNNING tasks, {a.loads} loads in headless "
          f"Chromium (after {WARMUP} warm-up), ms from navigation start; load "
          f"{open('/proc/loadavg').read().split()[0]}:\n")
    print("| | median | p90 | budget | met |")
    print("|---|---|---|---|---|")
    print(f"| console: first-contentful-paint | {fmt(median(col(console, 'fcp')))} | "
          f"{fmt(p90(col(console, 'fcp')))} | | |")
    print(f"| console: table in DOM | {fmt(median(col(console, 'rendered')))} | "
          f"{fmt(p90(col(console, 'rendered')))} | | |")
    print(f"| **console: table painted** | **{fmt(median(painted))}** | **{fmt(p90(painted))}** "
          f"| < 300 | {met} |")
    print(f"| console: all {a.tasks} rows in the DOM and painted | "
          f"{fmt(median(col(console, 'complete')))} | {fmt(p90(col(console, 'complete')))} | | |")
    print(f"| anchor: the same DOM as a static page, first-contentful-paint | "
          f"{fmt(median(col(static, 'fcp')))} | {fmt(p90(col(static, 'fcp')))} | | |")
    print(f"| anchor: the same DOM as a static page, painted | "
          f"{fmt(median(col(static, 'painted')))} | {fmt(p90(col(static, 'painted')))} | | |")
    print(f"\nJSON view `/console/api/clusters/{CLUSTER}`: {size / 1024:.0f} KiB, median "
          f"{median(api_times):.1f} ms, p90 {p90(api_times):.1f} ms over {len(api_times)} GETs; "
          f"the static page is {static_size / 1024:.0f} KiB of HTML.")


if __name__ == "__main__":
    main()
