#!/usr/bin/env bash
# `wharf run` of a present image to its first log line on screen, beside `docker run` of the
# same image and command (issue 6's budget: within 1.3 times `docker run`).
#
# Usage: bench/wharf_run.sh [ROUNDS]   (default 15)
# Environment: SKIP_BUILD=1 to use an existing target/release/wharf; WHARF_BIN another binary.
#
# Three cases, one after another, each ROUNDS times after one warm-up run:
#   docker run      `docker run --rm IMAGE sh -c 'echo first line'`, attached: exec to the line
#   wharf run       `wharf run td.json` against a `wharf server` already running on a free
#                   port (WHARF_ENDPOINT): register, RunTask, the agent's create and start,
#                   the awslogs shipper, and wharf run reading the Logs API
#   wharf run --embedded   the same, starting its own server (stores, agent, Docker) first
# The result is a Markdown table on stdout; progress goes to stderr.
set -euo pipefail

ROUNDS=${1:-15}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1
IMAGE=wharf-test/busybox:1
log() { printf '%s\n' "$*" >&2; }

[ "${SKIP_BUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release -p wharf >&2)
docker image inspect "$IMAGE" >/dev/null 2>&1 || "$ROOT/scripts/docker-up" >&2

work=$(mktemp -d /tmp/wharf-bench-run.XXXXXX)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/td.json" <<JSON
{"family": "bench-first-line", "containerDefinitions": [{"name": "app", "image": "$IMAGE",
 "memory": 64, "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", "echo first line"]}]}
JSON

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$WHARF" server --listen "127.0.0.1:$port" --data-dir "$work/data" --metadata-address off \
    --listener-address off >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.1)" 2>/dev/null && break
    sleep 0.1
done

measure() { # measure LABEL COMMAND...
    local label=$1
    shift
    log "bench: $label (1 warm-up + $ROUNDS rounds)"
    "$ROOT/bench/first_line.py" 1 "first line" -- "$@" >/dev/null
    "$ROOT/bench/first_line.py" "$ROUNDS" "first line" -- "$@"
}

docker_json=$(measure "docker run" docker run --rm "$IMAGE" sh -c 'echo first line')
running_json=$(WHARF_ENDPOINT="http://127.0.0.1:$port" measure "wharf run (running server)" \
    "$WHARF" run "$work/td.json")
embedded_json=$(measure "wharf run --embedded" "$WHARF" run "$work/td.json" --embedded)

python3 - "$docker_json" "$running_json" "$embedded_json" <<'PY'
import json, sys
docker, running, embedded = (json.loads(a) for a in sys.argv[1:4])
budget = 1.3 * docker["median"]
print("| Case | median | p90 | min | ÷ docker run (median) | Budget (≤ 1.3×) |")
print("|---|---:|---:|---:|---:|---|")
for name, r in (("docker run --rm", docker), ("wharf run, running server", running),
                ("wharf run --embedded", embedded)):
    ratio = r["median"] / docker["median"]
    verdict = "anchor" if r is docker else ("met" if r["median"] <= budget else "**missed**")
    print(f"| {name} | {r['median']*1000:.0f} ms | {r['p90']*1000:.0f} ms | {r['min']*1000:.0f} ms "
          f"| {ratio:.2f} | {verdict} |")
PY
