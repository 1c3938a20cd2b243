#!/usr/bin/env bash
# Issue 17's scale run: a server with no agent of its own, `wharf sim` registering N simulated
# container instances through the agent link (no Docker), and bench/scale.py placing tasks on
# them (RunTask ×10 from several clients, then services with large desired counts) while it
# times DescribeServices, ListTasks and DescribeTasks(100). Once per instance count, each on a
# fresh server and data directory.
#
# Usage: bench/scale.sh [INSTANCES...]        (default: 100 1000)
# Environment:
#   RUN_TASKS      tasks placed by RunTask per run (default 10000)
#   SERVICE_TASKS  tasks placed by services per run (default 10000)
#   SERVICES       how many services share SERVICE_TASKS (default 10)
#   CLIENTS        concurrent RunTask clients (default 4)
#   START_LATENCY  simulated start latency (default 50ms)
#   ROLL_TASKS     tasks of the service rolled to a new revision afterwards (default 1000; 0: none)
#   DRAIN_INSTANCES  instances drained after the rollout (default 100, at most a tenth)
#   LOST_AFTER     the server's --instance-lost-after (default 60s: heartbeats every 10 s)
#   TIMEOUT        seconds the placement phases may take in all (default 900)
#   REST_SECONDS   how long the server's CPU at rest is measured afterwards (default 20)
#   SKIP_BUILD=1, WHARF_BIN=path (implies SKIP_BUILD), KEEP_LOG=1 (keep the logs)
#
# The server runs with `--vpc-cidr off`: a cluster's awsvpc range is a /16 of /24 slices, one
# per instance, so with it a cluster takes 256 instances at most (the rest are refused). Every
# host holds a watch open: the connection limit is raised to twice the hosts (plus 1,024).
#
# Output: each run's Markdown summary and its line
#   SCALE_RESULT instances=N tasks=N placements_per_s=N p99_api_ms=N rss_mib=N
# (rss_mib: the server's peak resident memory, VmHWM; phases_cpu_s: the server's CPU time over
# the phases, which varies less between runs than the rate); the last line is the last run's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
build_wharf

RUN_TASKS=${RUN_TASKS:-10000}
SERVICE_TASKS=${SERVICE_TASKS:-10000}
SERVICES=${SERVICES:-10}
CLIENTS=${CLIENTS:-4}
START_LATENCY=${START_LATENCY:-50ms}
case $START_LATENCY in
    *ms) START_MS=${START_LATENCY%ms} ;;
    *) die "START_LATENCY must be given in ms (50ms)" ;;
esac
ROLL_TASKS=${ROLL_TASKS:-1000}
DRAIN_INSTANCES=${DRAIN_INSTANCES:-100}
LOST_AFTER=${LOST_AFTER:-60s}
TIMEOUT=${TIMEOUT:-900}
REST_SECONDS=${REST_SECONDS:-20}
[ $# -gt 0 ] || set -- 100 1000

SPID=
SIMPID=
WORK=
cleanup() {
    for p in $SIMPID $SPID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    SPID= SIMPID=
    if [ -n "$WORK" ] && [ "${KEEP_LOG:-0}" != 1 ]; then
        rm -rf "$WORK"
    elif [ -n "$WORK" ]; then
        log "logs kept in $WORK"
    fi
    WORK=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

last=
for N in "$@"; do
    WORK=$(mktemp -d -t wharf-scale-bench.XXXXXX)
    PORT=$(free_port)
    TOKEN="scale-$$"
    CLUSTER="wharf-scale-$$-$N"
    "$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --no-agent \
        --agent-token "$TOKEN" --dns-address off --instance-lost-after "$LOST_AFTER" \
        --vpc-cidr off --max-connections $(( N * 2 + 1024 )) \
        >"$WORK/server.log" 2>&1 &
    SPID=$!
    wait_port "$PORT" "$SPID" "wharf server" "$WORK/server.log"
    # Room for every task on any host, whatever the strategy: this measures placement, not
    # resource exhaustion.
    per_host=$(( (RUN_TASKS + SERVICE_TASKS) * 2 / N + 16 ))
    "$WHARF" sim --endpoint "http://127.0.0.1:$PORT" --token "$TOKEN" --cluster "$CLUSTER" \
        --instances "$N" --cpu $(( per_host > 4096 ? per_host : 4096 )) \
        --memory $(( per_host * 32 > 16384 ? per_host * 32 : 16384 )) \
        --start-latency "$START_LATENCY" >"$WORK/sim.log" 2>&1 &
    SIMPID=$!
    log "run: $N instances, $RUN_TASKS RunTask + $SERVICE_TASKS service tasks; server pid $SPID, sim pid $SIMPID; load $(cut -d' ' -f1-3 /proc/loadavg)"
    # The server's CPU time (user + system) over the phases: the cost of the work, which
    # varies less between runs than the placement rate does (the load, the simulator and the
    # server share two cores).
    ticks() { awk '{ print $14 + $15 }' "/proc/$SPID/stat"; }
    phases_from=$(ticks)
    python3 "$ROOT/bench/scale.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$CLUSTER" \
        --instances "$N" --run-tasks "$RUN_TASKS" --service-tasks "$SERVICE_TASKS" \
        --services "$SERVICES" --clients "$CLIENTS" --roll-tasks "$ROLL_TASKS" \
        --drain-instances "$DRAIN_INSTANCES" --start-latency-ms "$START_MS" --timeout "$TIMEOUT" \
        | tee "$WORK/result.md"
    result=$(grep '^RESULT ' "$WORK/result.md" | tail -1)
    hz=$(getconf CLK_TCK)
    phases_cpu_ms=$(( ( $(ticks) - phases_from ) * 1000 / hz ))
    placed=$(sed -n 's/.*tasks=\([0-9]*\).*/\1/p' <<<"$result")
    echo "server CPU over the phases: $(( phases_cpu_ms / 1000 )) s, $(( phases_cpu_ms * 1000 / (placed > 0 ? placed : 1) )) µs per task placed"
    # What the server spends with nothing changing (the scheduler's tick, heartbeats): the
    # share of one core its threads used over REST_SECONDS once the phases are done.
    before=$(ticks)
    sleep "$REST_SECONDS"
    rest_pct=$(( ( $(ticks) - before ) * 100 / hz / REST_SECONDS ))
    echo "server CPU at rest: ${rest_pct}% of a core over ${REST_SECONDS} s"
    hwm=$(status_kib "$SPID" VmHWM)
    rss=$(status_kib "$SPID" VmRSS)
    echo "server RSS now $(( rss / 1024 )) MiB, peak $(( hwm / 1024 )) MiB; sim peak $(( $(status_kib "$SIMPID" VmHWM) / 1024 )) MiB"
    last="SCALE_RESULT instances=$N ${result#RESULT } rss_mib=$(( hwm / 1024 )) rest_cpu_pct=$rest_pct phases_cpu_s=$(( phases_cpu_ms / 1000 ))"
    echo "$last"
    echo
    cleanup
done
echo "$last"
