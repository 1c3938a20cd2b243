#!/usr/bin/env bash
# The etcd store's budgets (issue 18), each part on fresh 3-member etcd clusters on loopback
# (scripts/etcd-cluster, Debian's etcd-server):
#
#   throughput  `etcdctl check perf` (the ceiling), then wrk against `wharf server --store
#               etcd://...`: RegisterTaskDefinition of one family and of many families
#               (durable: each answer waits for the etcd commit), DescribeTaskDefinition
#               with linearizable reads (the default) and with reads=local; the SQLite
#               store's figures on the same machine in the same run beside them
#   failover    bench/etcd_failover.py: kill -9 of the leading server, TRIALS times
#   tasks       bench/etcd_tasks.py: RunTask -> RUNNING with the etcd store beside the SQLite
#               store (embedded agents, Docker), samples alternated
#
# Usage: bench/etcd.sh [all|throughput|failover|tasks]
# Environment: DURATION (10s per wrk case), WARMUP (3s), CONNECTIONS (64), THREADS (2),
#   PERF_LOAD (l: etcdctl check perf's load, s/m/l/xl), TRIALS (20), LEASE (5, seconds),
#   SAMPLES (15), SKIP_BUILD=1, WHARF_BIN, SKIP_DOCKER_UP=1.
# Results are Markdown on stdout; progress goes to stderr. Everything started is stopped,
# and only the containers of the clusters this script made are removed.
set -euo pipefail

PART=${1:-all}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PERF_LOAD=${PERF_LOAD:-l}
TRIALS=${TRIALS:-20}
LEASE=${LEASE:-5}
SAMPLES=${SAMPLES:-15}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

. "$ROOT/bench/lib.sh"

command -v etcd >/dev/null || die "etcd is not installed (apt-get install etcd-server etcd-client)"
command -v etcdctl >/dev/null || die "etcdctl is not installed (apt-get install etcd-client)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"

WORK=$(mktemp -d -t wharf-etcd-bench.XXXXXX)
PIDS=()
CLUSTERS=()
TAG="wharf-bench-$$"
cleanup() {
    local dir
    stop_all "${PIDS[@]}"
    for dir in "${CLUSTERS[@]}"; do "$ROOT/scripts/etcd-cluster" down "$dir" || true; done
    local ids
    ids=$(docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$TAG-sqlite" 2>/dev/null || true)
    ids+=" $(docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$TAG-etcd" 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [ -z "${ids// /}" ] || docker rm -f $ids >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

etcd_up() { # NAME -> prints the endpoints
    CLUSTERS+=("$WORK/$1")
    "$ROOT/scripts/etcd-cluster" up "$WORK/$1" 3
}

etcd_down() { "$ROOT/scripts/etcd-cluster" down "$WORK/$1"; }

# start_server NAME ARGS... -> sets SERVER_URL and SERVER_PID
start_server() {
    local name=$1 port
    shift
    port=$(free_port)
    "$WHARF" server --listen "127.0.0.1:$port" --data-dir "$WORK/$name" \
        --metadata-address off --listener-address off "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port "$port" "$SERVER_PID" "$name" "$WORK/$name.log"
    SERVER_URL="http://127.0.0.1:$port"
}

stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

seed() { # URL
    curl -sS --fail-with-body -X POST "$1/" -H 'Content-Type: application/x-amz-json-1.1' \
        -H 'X-Amz-Target: AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition' \
        --data '{"family":"bench-describe","containerDefinitions":[{"name":"web","image":"public.ecr.aws/nginx/nginx:1.27","essential":true,"memory":128,"portMappings":[{"containerPort":80}]}]}' \
        >/dev/null || die "seeding $1 failed"
}

declare -A R
wrk_case() { # KEY URL SCRIPT DURATION
    local out line field
    log "wrk: $1 ($4, $CONNECTIONS connections, $THREADS threads)"
    out=$(cd "$BENCH/wrk" && env WRK_THREADS="$THREADS" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --timeout 10s -s "$3" "$2")
    line=$(grep '^WRK_RESULT ' <<<"$out") || die "no result from wrk for $1:"$'\n'"$out"
    log "  $line"
    for field in ${line#WRK_RESULT }; do R["$1.${field%%=*}"]=${field#*=}; done
}
int() { printf '%.0f' "$1"; }
met() { awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (v >= b) : (v < b); print ok ? "yes" : "**NO**" }'; }

throughput() {
    local endpoints perf
    endpoints=$(etcd_up perf)
    log "etcdctl check perf --load $PERF_LOAD (60 s)"
    perf=$(ETCDCTL_API=3 etcdctl --endpoints "$endpoints" check perf --load "$PERF_LOAD" 2>&1 | tr '\r' '\n' | tee "$WORK/perf.txt" | grep -Eo 'Throughput[^0-9]*[0-9]+' | grep -Eo '[0-9]+$' || true)
    [ -n "$perf" ] || die "no throughput from etcdctl check perf: $(tail -5 "$WORK/perf.txt")"
    log "  etcd: $perf writes/s"
    etcd_down perf

    endpoints=$(etcd_up wharf)
    start_server etcd-lin --no-agent --store "etcd://$endpoints/bench"
    seed "$SERVER_URL"
    wrk_case warm "$SERVER_URL" register_one_family.lua "$WARMUP"
    wrk_case etcd.register-one "$SERVER_URL" register_one_family.lua "$DURATION"
    wrk_case etcd.register-many "$SERVER_URL" register_many_families.lua "$DURATION"
    wrk_case etcd.describe "$SERVER_URL" describe.lua "$DURATION"
    stop_server
    start_server etcd-local --no-agent --store "etcd://$endpoints/bench?reads=local"
    wrk_case warm "$SERVER_URL" describe.lua "$WARMUP"
    wrk_case etcd.describe-local "$SERVER_URL" describe.lua "$DURATION"
    stop_server
    etcd_down wharf

    start_server sqlite --no-agent
    seed "$SERVER_URL"
    wrk_case warm "$SERVER_URL" register_one_family.lua "$WARMUP"
    wrk_case sqlite.register-one "$SERVER_URL" register_one_family.lua "$DURATION"
    wrk_case sqlite.describe "$SERVER_URL" describe.lua "$DURATION"
    stop_server

    local one many
    one=${R[etcd.register-one.rps]}
    many=${R[etcd.register-many.rps]}
    cat <<EOF

Throughput on 3 etcd members on this machine ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)); wrk $THREADS threads, $CONNECTIONS connections, $DURATION per case.

| Case | req/s | p99 ms | Budget | Met | ÷ etcd check perf ($perf writes/s) | SQLite store, same run |
|---|---|---|---|---|---|---|
| RegisterTaskDefinition, one family (durable) | $(int "$one") | ${R[etcd.register-one.p99_ms]} | ≥ 5,000/s, p99 < 20 ms | $(met "$one" ">=" 5000) / $(met "${R[etcd.register-one.p99_ms]}" "<" 20) | $(awk -v a="$one" -v b="$perf" 'BEGIN { printf "%.2f", a / b }') | $(int "${R[sqlite.register-one.rps]}")/s, p99 ${R[sqlite.register-one.p99_ms]} ms |
| RegisterTaskDefinition, 10,000 families (durable) | $(int "$many") | ${R[etcd.register-many.p99_ms]} | ≥ 5,000/s, p99 < 20 ms | $(met "$many" ">=" 5000) / $(met "${R[etcd.register-many.p99_ms]}" "<" 20) | $(awk -v a="$many" -v b="$perf" 'BEGIN { printf "%.2f", a / b }') | |
| DescribeTaskDefinition, linearizable reads (default) | $(int "${R[etcd.describe.rps]}") | ${R[etcd.describe.p99_ms]} | ≥ 40,000/s | $(met "${R[etcd.describe.rps]}" ">=" 40000) | | $(int "${R[sqlite.describe.rps]}")/s, p99 ${R[sqlite.describe.p99_ms]} ms |
| DescribeTaskDefinition, reads=local (cache as it is) | $(int "${R[etcd.describe-local.rps]}") | ${R[etcd.describe-local.p99_ms]} | ≥ 40,000/s | $(met "${R[etcd.describe-local.rps]}" ">=" 40000) | | |

Non-2xx answers or socket errors: $(for k in etcd.register-one etcd.register-many etcd.describe etcd.describe-local; do printf '%s ' "${R[$k.non2xx]}/${R[$k.socket_errors]}"; done)
EOF
}

failover() {
    local endpoints
    endpoints=$(etcd_up failover)
    mkdir -p "$WORK/failover"
    log "failover: $TRIALS trials, lease ${LEASE}s"
    echo
    python3 "$BENCH/etcd_failover.py" --wharf "$WHARF" --etcd "$endpoints" \
        --work "$WORK/failover" --trials "$TRIALS" --lease "$LEASE"
    etcd_down failover
}

tasks() {
    if [ "${SKIP_DOCKER_UP:-0}" != 1 ]; then
        WHARF_SKIP_REGISTRY=1 bash "$ROOT/scripts/docker-up" >&2
    fi
    local endpoints sqlite
    endpoints=$(etcd_up tasks)
    start_server tasks-sqlite --cluster "$TAG-sqlite"
    sqlite=$SERVER_URL
    start_server tasks-etcd --cluster "$TAG-etcd" --store "etcd://$endpoints/tasks"
    echo
    python3 "$BENCH/etcd_tasks.py" --sqlite "$sqlite" --sqlite-cluster "$TAG-sqlite" \
        --etcd "$SERVER_URL" --etcd-cluster "$TAG-etcd" --samples "$SAMPLES"
}

case "$PART" in
throughput) throughput ;;
failover) failover ;;
tasks) tasks ;;
all) throughput; failover; tasks ;;
*) die "usage: bench/etcd.sh [all|throughput|failover|tasks]" ;;
esac
