#!/usr/bin/env bash
# Issue 15's service auto scaling budgets, measured by bench/autoscaling.py against a fresh
# server (metric period 5 s) whose embedded agent runs tasks on the local Docker Engine:
#
# 1. Scale out: a service behind the ALB whose every request burns CPU in a CGI script, target
#    tracking at 50% CPU, a steady request rate from this script: the time from the load's
#    start to the scale out and to its tasks RUNNING, against 2 evaluation periods (2 x 3 x 5 s).
# 2. Cost: 1,000 services, each a scalable target with a target tracking policy on a custom
#    metric (2,000 alarms), their metric put each period (one PutMetricData of 1,000 datums):
#    the server's CPU time per second over the passes, minus the same server's before the
#    targets existed, against 5% of one core, at the 5 s period and scaled to the default 60 s.
#
# CPU is read from /proc/<server>/stat (user + system), so other load on a shared machine
# changes wall times but not the server's own CPU time much.
#
# Usage: bench/autoscaling.sh [SERVICES]     (default 1000)
# Environment: as bench/services.sh (SKIP_BUILD, WHARF_BIN, SKIP_DOCKER_UP, KEEP_LOG).
set -euo pipefail

SERVICES=${1:-1000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
build_wharf
docker_ready
WHARF_SERVER_ARGS="--metrics-period 5s" serve_cluster autoscaling

python3 "$ROOT/bench/autoscaling.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$TAG" \
    --pid "$SPID" --services "$SERVICES" --period 5
