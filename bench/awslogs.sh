#!/usr/bin/env bash
# Wharf's awslogs budgets (issue 4): sustained ingest of one container's output into the
# Logs API, and write -> visible latency, measured by bench/awslogs.py against a fresh server
# whose embedded agent runs the containers on the local Docker Engine.
#
# Usage: bench/awslogs.sh [LINES]     (default 1,000,000 lines in the burst)
# Environment: SKIP_BUILD=1 to use an existing binary, WHARF_BIN for another binary than
#   target/release/wharf (implies SKIP_BUILD), SKIP_DOCKER_UP=1 not to run scripts/docker-up,
#   KEEP_LOG=1 to keep the server's log.
#
# The server listens on a free loopback port with a temporary data directory; its agent
# joins a cluster of its own, and every container with that cluster's label is removed on
# exit. The result is Markdown on stdout; progress goes to stderr.
set -euo pipefail

LINES=${1:-1000000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"
if [ "${SKIP_DOCKER_UP:-0}" != 1 ]; then
    WHARF_SKIP_REGISTRY=1 bash "$ROOT/scripts/docker-up" >&2
fi

TAG="wharf-logbench-$$"
WORK=$(mktemp -d -t wharf-awslogs-bench.XXXXXX)
SPID=
cleanup() {
    [ -z "$SPID" ] || { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }
    local ids
    ids=$(docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$TAG" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
    if [ "${KEEP_LOG:-0}" = 1 ]; then
        log "server log kept in $WORK/wharf.log"
        rm -rf "$WORK/data"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --cluster "$TAG" \
    >"$WORK/wharf.log" 2>&1 &
SPID=$!
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SPID" 2>/dev/null || { cat "$WORK/wharf.log" >&2; die "the server exited"; }
    sleep 0.05
done
log "wharf server on 127.0.0.1:$PORT (pid $SPID); load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/awslogs.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$TAG" --lines "$LINES"
