#!/usr/bin/env bash
# The web console's budget: first paint of a cluster view with 1,000 tasks under 300 ms,
# measured by bench/console.py in headless Chromium (through chromedriver) against a fresh
# server holding 1,000 RUNNING tasks.
#
# Usage: bench/console.sh [LOADS]
#   LOADS  page loads measured (default 20), after 3 warm-up loads
# Environment: TASKS (1000), SKIP_BUILD=1 to use an existing binary, WHARF_BIN to use
#   another binary than target/release/wharf (implies SKIP_BUILD), KEEP_LOG=1 to keep the
#   server's log.
#
# A scale simulation, as DESIGN.md allows: the server runs with --no-agent, and
# bench/console.py plays the agent through the agent HTTP endpoints (/_wharf/agent/v1/:
# register a container instance with room for every task, RunTask 10 at a time, report
# each task RUNNING with a container, a port binding and a health status), so no
# container is started and Docker is not needed. The result is Markdown on stdout;
# progress goes to stderr.
set -euo pipefail

LOADS=${1:-20}
TASKS=${TASKS:-1000}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
command -v chromedriver >/dev/null && [ -x /usr/bin/chromium ] \
    || die "chromium and chromedriver are missing (Debian: apt-get install chromium chromium-driver)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"

WORK=$(mktemp -d -t wharf-console-bench.XXXXXX)
PIDS=()
cleanup() {
    stop_all "${PIDS[@]}"
    if [ "${KEEP_LOG:-0}" = 1 ]; then
        log "server log kept in $WORK/wharf.log"
        rm -rf "$WORK/data" "$WORK/profile"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(free_port)
"$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --no-agent \
    --listener-address off >"$WORK/wharf.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
wait_port "$PORT" "$SPID" "wharf server" "$WORK/wharf.log"

DPORT=$(free_port)
chromedriver --port="$DPORT" >"$WORK/chromedriver.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
wait_port "$DPORT" "$DPID" "chromedriver" "$WORK/chromedriver.log"
log "wharf server on 127.0.0.1:$PORT (pid $SPID), chromedriver on $DPORT; load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$ROOT/bench/console.py" --endpoint "http://127.0.0.1:$PORT" \
    --webdriver "http://127.0.0.1:$DPORT" --profile "$WORK/profile" --tasks "$TASKS" \
    --loads "$LOADS" --work "$WORK"
