#!/usr/bin/env bash
# Wharf's budgets, measured beside moto's server in one run.
#
# Usage: bench/run.sh [DURATION] [WARMUP]
#   DURATION  wrk duration of each measured case (default 10s)
#   WARMUP    wrk duration of the warm-up runs (default 3s)
# Environment: CONNECTIONS (64), THREADS (2), TARGET_REGISTRATIONS (100000),
#   STARTUP_RUNS (20), SKIP_MOTO=1 to measure Wharf alone, SKIP_BUILD=1 to use an existing
#   binary, WHARF_BIN to use another binary than target/release/wharf (implies SKIP_BUILD).
#
# Both servers run on loopback on free ports, Wharf with a fresh temporary data directory.
# The cases run one after another (never both servers under load at once) so they do not
# share the CPU. The result is a Markdown table on stdout; progress goes to stderr.
set -euo pipefail

DURATION=${1:-10s}
WARMUP=${2:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TARGET_REGISTRATIONS=${TARGET_REGISTRATIONS:-100000}
STARTUP_RUNS=${STARTUP_RUNS:-20}
SKIP_MOTO=${SKIP_MOTO:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

. "$ROOT/bench/lib.sh"

# --- prerequisites -----------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing wrk"
        DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
    else
        die "wrk is not installed (apt-get install -y wrk)"
    fi
fi
if [ "$SKIP_MOTO" != 1 ] && ! command -v moto_server >/dev/null; then
    log "installing moto[server]"
    python3 -m pip install --quiet 'moto[server]' >&2
    command -v moto_server >/dev/null || die "moto_server is not on PATH after pip install"
fi
command -v curl >/dev/null || die "curl is not installed"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"

# --- servers -----------------------------------------------------------------------------
WORK=$(mktemp -d -t wharf-bench.XXXXXX)
PIDS=()
cleanup() {
    stop_all "${PIDS[@]}"
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { # port pid name
    local i
    for i in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || die "$3 exited before listening; see its log above"
        sleep 0.05
    done
    die "$3 is not listening on port $1 after 30 s"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# moto picks the service from the SigV4 credential scope (it does not verify signatures).
MOTO_AUTH='AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ecs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000'

call() { # url op body [auth] -> prints body; fails on non-2xx
    local auth=()
    [ -z "${4:-}" ] || auth=(-H "Authorization: $4" -H 'X-Amz-Date: 20260101T000000Z')
    curl -sS --fail-with-body -X POST "$1/" \
        -H 'Content-Type: application/x-amz-json-1.1' \
        -H "X-Amz-Target: AmazonEC2ContainerServiceV20141113.$2" \
        "${auth[@]}" --data "$3"
}

WPORT=$(free_port)
"$WHARF" server --listen "127.0.0.1:$WPORT" --data-dir "$WORK/wharf-data" \
    >"$WORK/wharf.log" 2>&1 &
WPID=$!
PIDS+=("$WPID")
wait_port "$WPORT" "$WPID" wharf || { cat "$WORK/wharf.log" >&2; exit 1; }
WURL="http://127.0.0.1:$WPORT"
log "wharf listening on $WURL (pid $WPID)"

if [ "$SKIP_MOTO" != 1 ]; then
    MPORT=$(free_port)
    moto_server -H 127.0.0.1 -p "$MPORT" >"$WORK/moto.log" 2>&1 &
    MPID=$!
    PIDS+=("$MPID")
    wait_port "$MPORT" "$MPID" moto_server || { cat "$WORK/moto.log" >&2; exit 1; }
    MURL="http://127.0.0.1:$MPORT"
    log "moto listening on $MURL (pid $MPID)"
fi

sleep 1
IDLE_RSS=$(rss_kib "$WPID")

SEED='{"family":"bench-describe","executionRoleArn":"arn:aws:iam::000000000000:role/ecsTaskExecutionRole","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"public.ecr.aws/nginx/nginx:1.27","essential":true,"portMappings":[{"containerPort":80,"hostPort":80,"protocol":"tcp"}],"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/bench","awslogs-region":"us-east-1","awslogs-stream-prefix":"web"}}}]}'
seed() { # url name [auth]
    local out
    out=$(call "$1" RegisterTaskDefinition "$SEED" "${3:-}" 2>&1) || die "seeding $2 failed: $out"
    grep -q '"taskDefinitionArn"' <<<"$out" || die "seeding $2: unexpected answer $out"
}
seed "$WURL" wharf
[ "$SKIP_MOTO" = 1 ] || seed "$MURL" moto "$MOTO_AUTH"

# --- wrk ---------------------------------------------------------------------------------
declare -A RESULT
r() { printf '%s' "${RESULT[$1]:-n/a}"; }
int() { if [ "$1" = n/a ]; then printf 'n/a'; else printf '%.0f' "$1"; fi; }
WHARF_REGISTRATIONS=1

# run_case KEY URL SCRIPT DURATION [ENV...] — stores RESULT[KEY.field] for each field.
run_case() {
    local key=$1 url=$2 script=$3 duration=$4
    shift 4
    log "wrk: $key ($duration, $CONNECTIONS connections, $THREADS threads)"
    local out
    local sign=0
    [[ $key == moto.* ]] && sign=1
    out=$(cd "$BENCH/wrk" && env WRK_THREADS="$THREADS" BENCH_SIGV4_SCOPE="$sign" "$@" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --timeout 10s -s "$script" "$url")
    local line
    line=$(grep '^WRK_RESULT ' <<<"$out") || die "no result from wrk for $key:"$'\n'"$out"
    log "  $line"
    local field
    for field in ${line#WRK_RESULT }; do
        RESULT["$key.${field%%=*}"]=${field#*=}
    done
    if [[ $key == wharf.register* ]] || [[ $key == wharf.fill* ]] || [[ $key == wharf.warm-register ]]; then
        WHARF_REGISTRATIONS=$((WHARF_REGISTRATIONS + RESULT["$key.ok"]))
    fi
}

log "warming up"
run_case wharf.warm-describe "$WURL" describe.lua "$WARMUP"
run_case wharf.warm-register "$WURL" register_one_family.lua "$WARMUP"
[ "$SKIP_MOTO" = 1 ] || run_case moto.warm-describe "$MURL" describe.lua "$WARMUP"

for server in wharf moto; do
    [ "$server" = moto ] && [ "$SKIP_MOTO" = 1 ] && continue
    url=$WURL
    [ "$server" = moto ] && url=$MURL
    run_case "$server.describe" "$url" describe.lua "$DURATION"
    run_case "$server.register-one" "$url" register_one_family.lua "$DURATION"
    run_case "$server.register-many" "$url" register_many_families.lua "$DURATION"
done

# Top up to TARGET_REGISTRATIONS. wrk runs for its whole duration even when every thread
# has stopped early, so each round gets a duration estimated from the measured rate.
rate=$(int "$(r wharf.register-many.rps)")
[ "$rate" != n/a ] || rate=1000
round=0
while [ "$WHARF_REGISTRATIONS" -lt "$TARGET_REGISTRATIONS" ]; do
    round=$((round + 1))
    [ "$round" -le 20 ] || die "could not reach $TARGET_REGISTRATIONS registrations"
    remaining=$((TARGET_REGISTRATIONS - WHARF_REGISTRATIONS))
    seconds=$(( remaining / (rate > 0 ? rate : 1) + 2 ))
    log "registering $remaining more task definitions in Wharf (about ${seconds}s)"
    run_case "wharf.fill$round" "$WURL" register_many_families.lua "${seconds}s" \
        WRK_STOP_AFTER="$remaining" BENCH_PREFIX=bench-fill
done
sleep 1
LOADED_RSS=$(rss_kib "$WPID")
DB_BYTES=$(du -sb "$WORK/wharf-data" | cut -f1)

log "start-up time ($STARTUP_RUNS runs)"
STARTUP_LINE=$(python3 "$BENCH/startup.py" "$WHARF" "$STARTUP_RUNS" | tee /dev/stderr | grep '^STARTUP_RESULT ')
STARTUP_MEDIAN=$(sed -E 's/.*median_ms=([0-9.]+).*/\1/' <<<"$STARTUP_LINE")

# --- report ------------------------------------------------------------------------------
ratio() { # a b
    if [ "$1" = n/a ] || [ "$2" = n/a ]; then printf 'n/a'; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f×", a / b; else printf "n/a" }'
}
verdict() { # value op budget
    awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {
        if (v == "n/a") { print "?"; exit }
        ok = (op == ">=") ? (v >= b) : (v < b); print ok ? "yes" : "**NO**" }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

MOTO_VERSION=n/a
[ "$SKIP_MOTO" = 1 ] || MOTO_VERSION=$(python3 -c 'import moto; print(moto.__version__)')

cat <<EOF

## Wharf benchmark

$(date -u +%Y-%m-%dT%H:%MZ) · $(nproc) cores · wrk $THREADS threads, $CONNECTIONS connections, $DURATION per case · Wharf $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (release) · moto $MOTO_VERSION

| Case | Wharf req/s | Wharf p99 ms | moto req/s | moto p99 ms | Wharf ÷ moto | Budget | Met | fakecloud (anchor) |
|---|---:|---:|---:|---:|---:|---|---|---:|
| DescribeTaskDefinition | $(int "$(r wharf.describe.rps)") | $(r wharf.describe.p99_ms) | $(int "$(r moto.describe.rps)") | $(r moto.describe.p99_ms) | $(ratio "$(r wharf.describe.rps)" "$(r moto.describe.rps)") | ≥ 50,000/s, p99 < 5 ms | $(verdict "$(r wharf.describe.rps)" ">=" 50000) / $(verdict "$(r wharf.describe.p99_ms)" "<" 5) | ~46,000/s |
| RegisterTaskDefinition, one family | $(int "$(r wharf.register-one.rps)") | $(r wharf.register-one.p99_ms) | $(int "$(r moto.register-one.rps)") | $(r moto.register-one.p99_ms) | $(ratio "$(r wharf.register-one.rps)" "$(r moto.register-one.rps)") | ≥ 20,000/s durable, p99 < 5 ms | $(verdict "$(r wharf.register-one.rps)" ">=" 20000) / $(verdict "$(r wharf.register-one.p99_ms)" "<" 5) | ~28,000/s (in memory) |
| RegisterTaskDefinition, 10,000 families | $(int "$(r wharf.register-many.rps)") | $(r wharf.register-many.p99_ms) | $(int "$(r moto.register-many.rps)") | $(r moto.register-many.p99_ms) | $(ratio "$(r wharf.register-many.rps)" "$(r moto.register-many.rps)") | ≥ 20,000/s durable, p99 < 5 ms | $(verdict "$(r wharf.register-many.rps)" ">=" 20000) / $(verdict "$(r wharf.register-many.p99_ms)" "<" 5) | — |

Non-2xx answers (must be 0): Wharf $(r wharf.describe.non2xx)/$(r wharf.register-one.non2xx)/$(r wharf.register-many.non2xx), moto $(r moto.describe.non2xx)/$(r moto.register-one.non2xx)/$(r moto.register-many.non2xx) (describe/register one/register many); socket errors: Wharf $(r wharf.describe.socket_errors)/$(r wharf.register-one.socket_errors)/$(r wharf.register-many.socket_errors), moto $(r moto.describe.socket_errors)/$(r moto.register-one.socket_errors)/$(r moto.register-many.socket_errors). moto's anchor from the issue: ~250/s.

| Resource | Wharf | Budget | Met |
|---|---:|---|---|
| RSS idle | $(mib "$IDLE_RSS") MiB | < 20 MiB | $(verdict "$(mib "$IDLE_RSS")" "<" 20) |
| RSS after $WHARF_REGISTRATIONS registrations | $(mib "$LOADED_RSS") MiB | < 100 MiB (after ≥ 100,000) | $(verdict "$(mib "$LOADED_RSS")" "<" 100) |
| Data directory after them | $(awk -v b="$DB_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB | — | — |
| Start-up, exec → accepting (median of $STARTUP_RUNS) | $STARTUP_MEDIAN ms | well under 100 ms | $(verdict "$STARTUP_MEDIAN" "<" 100) |
EOF
