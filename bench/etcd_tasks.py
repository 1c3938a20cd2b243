#!/usr/bin/env python3
"""RunTask -> RUNNING with the etcd store beside the SQLite store, in the same run.

Two servers, one on each store, each with its embedded agent running tasks on this
Docker Engine in a cluster of its own; samples alternate between them (SQLite first on
odd samples, etcd first on even ones), so both see the same machine. Each sample is
bench/tasks.py's: wall time from sending RunTask until DescribeTasks first shows
`lastStatus: RUNNING`, image present; the task is then stopped and its container removed.

Budget: the etcd store's median within 1.2x the SQLite store's.
Usage: etcd_tasks.py --sqlite URL --sqlite-cluster NAME --etcd URL --etcd-cluster NAME
                     [--samples 15]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tasks import Bench, DockerEvents, fmt, log, median, ms, p90  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sqlite", required=True)
    ap.add_argument("--sqlite-cluster", required=True)
    ap.add_argument("--etcd", required=True)
    ap.add_argument("--etcd-cluster", required=True)
    ap.add_argument("--samples", type=int, default=15)
    a = ap.parse_args()

    events = DockerEvents()
    events.start()
    events.ready.wait(10)
    benches = {
        "sqlite": Bench(a.sqlite, 0, a.sqlite_cluster, events, "sqlite"),
        "etcd": Bench(a.etcd, 0, a.etcd_cluster, events, "etcd"),
    }
    for b in benches.values():
        b.wait_instance(60)
        b.register()
        b.sample_wharf()  # warm-up
    totals = {"sqlite": [], "etcd": []}
    # Where the time goes: the RunTask answer, then Docker's create and start events
    # and the first DescribeTasks that shows RUNNING, each from the previous step.
    phases = {k: {"RunTask answered": [], "→ container created": [], "→ started": [],
                  "→ RUNNING seen": []} for k in totals}
    for i in range(a.samples):
        order = ["sqlite", "etcd"] if i % 2 == 0 else ["etcd", "sqlite"]
        for k in order:
            s = benches[k].sample_wharf()
            totals[k].append(ms(s["total"]))
            if s["create_ev"] and s["start_ev"]:
                ph = phases[k]
                ph["RunTask answered"].append(ms(s["runtask_rtt"]))
                ph["→ container created"].append(ms(s["create_ev"] - s["t0"]))
                ph["→ started"].append(ms(s["start_ev"] - s["create_ev"]))
                ph["→ RUNNING seen"].append(ms(s["seen"] - s["start_ev"]))
            log(f"sample {i + 1} {k}: {s['total'] * 1000:.0f} ms")
    sq, et = median(totals["sqlite"]), median(totals["etcd"])
    ratio = et / sq if sq else float("nan")
    print("| RunTask → RUNNING (image present) | median ms | p90 ms |")
    print("|---|---|---|")
    print(f"| SQLite store | {fmt(sq)} | {fmt(p90(totals['sqlite']))} |")
    print(f"| etcd store (3 members, linearizable reads) | {fmt(et)} | {fmt(p90(totals['etcd']))} |")
    print("\n| Phase (median ms) | SQLite | etcd |")
    print("|---|---|---|")
    for name in phases["sqlite"]:
        print(f"| {name} | {fmt(median(phases['sqlite'][name]))} | "
              f"{fmt(median(phases['etcd'][name]))} |")
    print(f"\netcd ÷ SQLite (medians): {ratio:.3f}× — budget ≤ 1.2×: "
          f"{'met' if ratio <= 1.2 else '**not met**'} ({a.samples} samples each, alternated)")


if __name__ == "__main__":
    main()
