#!/usr/bin/env bash
# The `/metrics` scrape budget (issue 6): under 50 ms with 1,000 tasks, 50 services and many
# operations seen. Scale simulation: the server runs without its embedded agent and
# bench/metrics.py plays the agent through the agent endpoints (no Docker needed).
#
# Usage: bench/metrics.sh [SCRAPES]     (default 200)
# Environment: SKIP_BUILD=1 to use an existing target/release/wharf, WHARF_BIN for another
#   binary (implies SKIP_BUILD), KEEP_LOG=1 to keep the servers' logs.
#
# Two servers listen on free loopback ports with temporary data directories: the loaded one
# (`--no-agent --agent-token`, load balancer listeners on 127.0.0.1) and an empty one, the
# anchor. Both are stopped and their directories removed on exit. The result is Markdown
# on stdout; progress goes to stderr.
set -euo pipefail

SCRAPES=${1:-200}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf --bin wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"

WORK=$(mktemp -d -t wharf-metrics-bench.XXXXXX)
PIDS=()
cleanup() {
    stop_all "${PIDS[@]}"
    if [ "${KEEP_LOG:-0}" = 1 ]; then
        log "logs kept in $WORK/*.log"
        rm -rf "$WORK/loaded" "$WORK/empty"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TOKEN="bench-$RANDOM$RANDOM"
PORT=$(free_port)
"$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/loaded" --no-agent \
    --agent-token "$TOKEN" --listener-address 127.0.0.1 >"$WORK/loaded.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT" "${PIDS[-1]}" "wharf server" "$WORK/loaded.log"
EMPTY_PORT=$(free_port)
"$WHARF" server --listen "127.0.0.1:$EMPTY_PORT" --data-dir "$WORK/empty" --no-agent \
    --agent-token "$TOKEN" --listener-address 127.0.0.1 >"$WORK/empty.log" 2>&1 &
PIDS+=($!)
wait_port "$EMPTY_PORT" "${PIDS[-1]}" "wharf server (empty)" "$WORK/empty.log"
log "servers on 127.0.0.1:$PORT (loaded) and :$EMPTY_PORT (empty); load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$ROOT/bench/metrics.py" --endpoint "http://127.0.0.1:$PORT" --token "$TOKEN" \
    --empty-endpoint "http://127.0.0.1:$EMPTY_PORT" --scrapes "$SCRAPES"
log "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
