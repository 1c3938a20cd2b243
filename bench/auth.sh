#!/usr/bin/env bash
# The cost of security on the hot path, measured in one run:
#   1. DescribeTaskDefinition throughput of a server without credentials and of one with
#      --credentials (every request SigV4-verified and authorised against a 20-statement
#      policy), alternating so all see the same machine. The server without credentials is
#      measured twice: with the very signed requests the other one gets (the AWS CLI and
#      the SDKs always sign, so this is what verifying costs; budget: within 5%), and with
#      unsigned requests (what the signature's headers cost on the wire, reported beside).
#   2. Policy evaluation with 20 statements per request (budget ≤ 20 µs) and one SigV4
#      verification, in process (crates/wharf-auth/examples/policy_eval.rs).
#
# Usage: bench/auth.sh [DURATION] [WARMUP]   (defaults 10s and 3s)
# Environment: CONNECTIONS (64), THREADS (2), ROUNDS (2), SKIP_BUILD=1, WHARF_BIN, POLICY_EVAL_BIN (the
# example's binary; default target/release/examples/policy_eval).
# The result is a Markdown table on stdout; progress on stderr.
set -euo pipefail

DURATION=${1:-10s}
WARMUP=${2:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
POLICY_EVAL=${POLICY_EVAL_BIN:-$ROOT/target/release/examples/policy_eval}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1
. "$ROOT/bench/lib.sh"

command -v wrk >/dev/null || {
    [ "$(id -u)" = 0 ] || die "wrk is not installed (apt-get install -y wrk)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
}
python3 -c 'import botocore' 2>/dev/null || python3 -m pip install --quiet awscli >&2
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf and the policy benchmark (release)"
    (cd "$ROOT" && cargo build --release -p wharf >&2 \
        && cargo build --release -p wharf-auth --example policy_eval >&2)
fi

WORK=$(mktemp -d -t wharf-bench-auth.XXXXXX)
PIDS=()
cleanup() {
    stop_all "${PIDS[@]}"
    rm -rf "$WORK"
}
trap cleanup EXIT

KEY=AKIABENCH00000000001
SECRET=bench/secret/00000000000000000000000001
# The bench user's policy: 20 statements, the one that allows DescribeTaskDefinition last.
python3 - "$WORK/credentials.json" "$KEY" "$SECRET" <<'PY'
import json, sys
path, key, secret = sys.argv[1:4]
st = []
for i in range(8):
    st.append({"Effect": "Allow", "Action": [f"ecs:List{i}*", "ecs:DescribeClusters"], "Resource": f"arn:aws:ecs:*:*:cluster/team-{i}-*"})
for i in range(6):
    st.append({"Effect": "Deny", "Action": "ecs:Delete*", "Resource": f"arn:aws:ecs:*:*:cluster/prod-{i}"})
for i in range(5):
    st.append({"Effect": "Allow", "Action": "ecs:RunTask", "Resource": f"arn:aws:ecs:*:*:task-definition/app-{i}:*",
               "Condition": {"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/team-*"}}})
st.append({"Effect": "Allow", "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], "Resource": "*"})
assert len(st) == 20
json.dump({"users": [{"arn": "arn:aws:iam::000000000000:user/bench",
                      "accessKeys": [{"accessKeyId": key, "secretAccessKey": secret}],
                      "policies": [{"Version": "2012-10-17", "Statement": st}]}]}, open(path, "w"))
PY

start() { # name port extra-args... (not in a subshell: PIDS must keep the pid)
    local name=$1 port=$2
    shift 2
    "$WHARF" server --no-agent --listener-address off --listen "127.0.0.1:$port" \
        --data-dir "$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$port" "$!" "wharf ($name)" "$WORK/$name.log"
}
OPEN_PORT=$(free_port)
start open "$OPEN_PORT"
OPEN_PID=${PIDS[-1]}
SIGNED_PORT=$(free_port)
start signed "$SIGNED_PORT" --credentials "$WORK/credentials.json"
SIGNED_PID=${PIDS[-1]}
log "servers: open on $OPEN_PORT, signed on $SIGNED_PORT"

SEED='{"family":"bench-describe","containerDefinitions":[{"name":"web","image":"public.ecr.aws/nginx/nginx:1.27","memory":128,"essential":true}]}'
DESCRIBE='{"taskDefinition":"bench-describe"}'
post() { # port op body [date auth]
    local extra=()
    [ -z "${4:-}" ] || extra=(-H "X-Amz-Date: $4" -H "Authorization: $5")
    curl -sS --fail-with-body -X POST "http://127.0.0.1:$1/" \
        -H 'Content-Type: application/x-amz-json-1.1' \
        -H "X-Amz-Target: AmazonEC2ContainerServiceV20141113.$2" "${extra[@]}" --data "$3"
}
signature() { # port op body -> "date\nauthorization"
    python3 "$BENCH/sign.py" "127.0.0.1:$1" "$2" "$3" "$KEY" "$SECRET"
}
post "$OPEN_PORT" RegisterTaskDefinition "$SEED" >/dev/null
mapfile -t SIG < <(signature "$SIGNED_PORT" RegisterTaskDefinition "$SEED")
post "$SIGNED_PORT" RegisterTaskDefinition "$SEED" "${SIG[0]}" "${SIG[1]}" >/dev/null
mapfile -t SIG < <(signature "$SIGNED_PORT" DescribeTaskDefinition "$DESCRIBE")
post "$SIGNED_PORT" DescribeTaskDefinition "$DESCRIBE" "${SIG[0]}" "${SIG[1]}" >/dev/null \
    || die "the signed DescribeTaskDefinition was refused"

declare -A RPS CPU
# The CPU time (user + system) a process has used, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
run() { # key port duration [signed]
    local env=() out line pid before requests
    pid=$OPEN_PID
    [ "$2" = "$OPEN_PORT" ] || pid=$SIGNED_PID
    before=$(ticks "$pid")
    [ -z "${4:-}" ] || env=(BENCH_AMZ_DATE="${SIG[0]}" BENCH_AUTHORIZATION="${SIG[1]}")
    # The open server takes the same signed bytes (its Host differs by the port digits).
    out=$(cd "$BENCH/wrk" && env "${env[@]}" WRK_THREADS="$THREADS" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3" --timeout 10s -s describe.lua "http://127.0.0.1:$2")
    line=$(grep '^WRK_RESULT ' <<<"$out") || die "no result from wrk for $1: $out"
    log "  $1: $line"
    grep -q ' non2xx=0 ' <<<"$line " || die "$1 had non-2xx answers: $line"
    RPS[$1]=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
    requests=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")
    # The server's CPU per request, in µs: what the work costs whatever else runs.
    CPU[$1]=$(awk -v t="$(($(ticks "$pid") - before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
        'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    log "  $1: server CPU ${CPU[$1]} µs per request"
}
log "warming up"
run warm-open "$OPEN_PORT" "$WARMUP"
run warm-signed "$SIGNED_PORT" "$WARMUP" signed
for round in $(seq 1 "$ROUNDS"); do
    log "round $round"
    run "open$round" "$OPEN_PORT" "$DURATION"
    run "openheaders$round" "$OPEN_PORT" "$DURATION" signed
    run "signed$round" "$SIGNED_PORT" "$DURATION" signed
done
each() { # name array -> the rounds' figures, space-separated
    local -n figures=$2
    local r
    for r in $(seq 1 "$ROUNDS"); do printf '%s ' "${figures[$1$r]}"; done
}
mean() { each "$1" RPS | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.0f", s / NF }'; }
listed() { each "$1" RPS | sed 's/ $//; s/ /, /g'; }
OPEN=$(mean open)
OPEN_HEADERS=$(mean openheaders)
SIGNED=$(mean signed)
lost() { awk -v o="$1" -v s="$2" 'BEGIN { printf "%.1f", (o - s) * 100 / o }'; }
cpu() { each "$1" CPU | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s / NF }'; }
CPU_OPEN=$(cpu open)
CPU_HEADERS=$(cpu openheaders)
CPU_SIGNED=$(cpu signed)
CPU_COST=$(awk -v o="$CPU_HEADERS" -v s="$CPU_SIGNED" 'BEGIN { printf "%.1f", (s - o) * 100 / o }')
COST=$(lost "$OPEN_HEADERS" "$SIGNED")
WIRE=$(lost "$OPEN" "$OPEN_HEADERS")
TOTAL=$(lost "$OPEN" "$SIGNED")

log "policy evaluation and SigV4 verification in process"
[ -x "$POLICY_EVAL" ] || die "$POLICY_EVAL does not exist (cargo build --release -p wharf-auth --example policy_eval)"
EVAL=$("$POLICY_EVAL")
POLICY_NS=$(sed -nE 's/^POLICY_RESULT .*ns_per_request=([0-9]+).*/\1/p' <<<"$EVAL")
SIGV4_NS=$(sed -nE 's/^SIGV4_RESULT .*ns_per_request=([0-9]+).*/\1/p' <<<"$EVAL")
met() { awk -v v="$1" -v b="$2" 'BEGIN { print (v <= b) ? "yes" : "**NO**" }'; }

cat <<EOF

## Security on the hot path

$(date -u +%Y-%m-%dT%H:%MZ) · $(nproc) cores · wrk $THREADS threads, $CONNECTIONS connections, $ROUNDS × $DURATION per case, alternating · Wharf $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (release)

| Measure | Figure | Budget | Met |
|---|---:|---|---|
| DescribeTaskDefinition, no credentials, unsigned requests | $OPEN req/s ($(listed open)) | | |
| DescribeTaskDefinition, no credentials, the same signed requests (not verified) | $OPEN_HEADERS req/s ($(listed openheaders)) | | |
| DescribeTaskDefinition, --credentials (SigV4 verified + 20-statement policy) | $SIGNED req/s ($(listed signed)) | | |
| Throughput lost to verification and authorisation (same requests) | $COST % | ≤ 5 % | $(met "$COST" 5) |
| Throughput lost to the signature's headers alone (unsigned → signed, not verified) | $WIRE % | — | — |
| Throughput lost in all (unsigned → signed and verified) | $TOTAL % | — | — |
| Server CPU per request: unsigned / signed, not verified / verified | $CPU_OPEN / $CPU_HEADERS / $CPU_SIGNED µs | — | — |
| Server CPU added by verification and authorisation (same requests) | $CPU_COST % | ≤ 5 % | $(met "$CPU_COST" 5) |
| Policy evaluation, 20 statements, per request (in process) | $(awk -v n="$POLICY_NS" 'BEGIN { printf "%.2f", n / 1000 }') µs | ≤ 20 µs | $(met "$POLICY_NS" 20000) |
| SigV4 verification, cached key, per request (in process) | $(awk -v n="$SIGV4_NS" 'BEGIN { printf "%.2f", n / 1000 }') µs | — | — |
EOF
