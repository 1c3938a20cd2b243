#!/usr/bin/env python3
"""What etcd's JSON gateway costs the member that serves it (issue 18).

Wharf's etcd client speaks etcd's JSON gateway (`POST /v3/kv/txn`, base64 keys and
values). Under `bench/etcd.sh throughput` the member Wharf talks to burns about five
times the CPU of the others, leader or not. This measures why, apart from Wharf: one
etcd member on loopback, the same transactions sent through the JSON gateway and
through native gRPC (the `etcd3` package), alternating, and the member's CPU time
(`/proc/PID/stat`) per put for each.

Each transaction has Wharf's shape under RegisterTaskDefinition: JOBS puts of a VALUE-byte
record, each guarded by a comparison (`mod_revision == 0`), as one writer batch.

Usage: bench/etcd_gateway.py [TRANSACTIONS] (300)
Environment: JOBS (32), VALUE (1400), ROUNDS (2).
Needs Debian's etcd-server and `pip install etcd3` (its generated code needs the
pure-Python protobuf runtime, set below; the client's speed is not what is measured).
Prints Markdown on stdout and a last line
`ETCD_GATEWAY_RESULT json_us_per_put=N grpc_us_per_put=N ratio=N`.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
try:
    import etcd3  # noqa: E402
except ImportError:
    sys.exit("etcd3 is not installed (python3 -m pip install etcd3)")

JOBS = int(os.environ.get("JOBS", "32"))
VALUE = b"x" * int(os.environ.get("VALUE", "1400"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def json_txn(endpoint, keys):
    body = {
        "compare": [
            {"result": "EQUAL", "target": "MOD", "key": b64(k), "mod_revision": "0"}
            for k in keys
        ],
        "success": [{"request_put": {"key": b64(k), "value": b64(VALUE)}} for k in keys],
    }
    req = urllib.request.Request(
        f"http://{endpoint}/v3/kv/txn", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(req) as r:
        answer = json.loads(r.read())
    if not answer.get("succeeded"):
        raise SystemExit(f"a JSON transaction did not commit: {answer}")


def grpc_txn(client, keys):
    ok, _ = client.transaction(
        compare=[client.transactions.mod(k) == 0 for k in keys],
        success=[client.transactions.put(k, VALUE) for k in keys],
        failure=[],
    )
    if not ok:
        raise SystemExit("a gRPC transaction did not commit")


def main():
    transactions = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    work = tempfile.mkdtemp(prefix="wharf-bench-gateway.")
    client_port, peer_port = free_port(), free_port()
    member = subprocess.Popen(
        [
            "etcd", "--name", "m", "--data-dir", f"{work}/m",
            "--listen-client-urls", f"http://127.0.0.1:{client_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"m=http://127.0.0.1:{peer_port}",
            "--max-txn-ops", "1024", "--logger", "zap", "--log-outputs", f"{work}/m.log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"127.0.0.1:{client_port}"
        client = etcd3.client(host="127.0.0.1", port=client_port)
        for _ in range(100):
            try:
                client.status()
                break
            except Exception:  # not up yet
                time.sleep(0.1)
        modes = {
            "json": lambda keys: json_txn(endpoint, keys),
            "grpc": lambda keys: grpc_txn(client, keys),
        }
        per_put = {m: [] for m in modes}
        for r in range(ROUNDS):
            for mode, send in modes.items():
                prefix = f"/bench/{mode}/{r}"
                send([f"{prefix}/warm/{j}" for j in range(JOBS)])
                before, started = cpu_ticks(member.pid), time.monotonic()
                for t in range(transactions):
                    send([f"{prefix}/{t}/{j}" for j in range(JOBS)])
                ticks, seconds = cpu_ticks(member.pid) - before, time.monotonic() - started
                puts = transactions * JOBS
                us = ticks * 1e6 / os.sysconf("SC_CLK_TCK") / puts
                per_put[mode].append(us)
                print(f"round {r + 1} {mode}: {puts} puts in {seconds:.1f} s, "
                      f"member CPU {us:.1f} µs per put", file=sys.stderr)
    finally:
        member.terminate()
        member.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    mean = {m: sum(v) / len(v) for m, v in per_put.items()}
    ratio = mean["json"] / mean["grpc"]
    listed = lambda m: ", ".join(f"{v:.1f}" for v in per_put[m])  # noqa: E731
    print(f"""
## etcd's JSON gateway against gRPC, one member

{time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())} · {os.cpu_count()} cores · {ROUNDS} rounds × {transactions} transactions of {JOBS} guarded puts of {len(VALUE)} bytes

| Path | Member CPU per put | Rounds |
|---|---:|---|
| JSON gateway (`/v3/kv/txn`, what Wharf sends) | {mean['json']:.1f} µs | {listed('json')} |
| native gRPC (`etcdserverpb.KV/Txn`) | {mean['grpc']:.1f} µs | {listed('grpc')} |
| ratio | {ratio:.2f}× | |
""")
    print(f"ETCD_GATEWAY_RESULT json_us_per_put={mean['json']:.1f} "
          f"grpc_us_per_put={mean['grpc']:.1f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
