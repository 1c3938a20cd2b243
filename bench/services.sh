#!/usr/bin/env bash
# Wharf's service budgets (a killed service task replaced within 1 s plus the container's own
# start; a 10-task rolling deployment with default settings in under 2x the slowest health
# check path), measured by bench/services.py against a fresh server whose embedded agent runs
# the tasks on the local Docker Engine and whose ALB data plane listens on 127.0.0.1.
#
# Usage: bench/services.sh [ROUNDS] [DEPLOY_ROUNDS]
#   ROUNDS         kill-and-replace rounds (default 10)
#   DEPLOY_ROUNDS  10-task rollouts (default 3)
# Environment: INTERVAL (health check interval, 5 s), HEALTHY (healthy threshold, 2),
#   DELAY (deregistration delay, 5 s), SKIP_BUILD=1 to use an existing binary, WHARF_BIN to
#   use another binary than target/release/wharf (implies SKIP_BUILD), SKIP_DOCKER_UP=1 not
#   to run scripts/docker-up, KEEP_LOG=1 to keep the server's log.
#
# The server listens on a free loopback port with a temporary data directory, and its agent
# joins a cluster of its own (`wharf-bench-<pid>`): on exit the server is stopped and every
# container with that cluster's label, or named `wharf-bench-*` (the `docker run` anchors),
# is removed. The result is Markdown on stdout; progress goes to stderr.
set -euo pipefail

ROUNDS=${1:-10}
DEPLOY_ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

command -v python3 >/dev/null || die "python3 is not installed"
command -v docker >/dev/null || die "the docker CLI is not installed"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf --bin wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"
if [ "${SKIP_DOCKER_UP:-0}" != 1 ]; then
    log "making sure Docker and the test images are up (scripts/docker-up)"
    WHARF_SKIP_REGISTRY=1 bash "$ROOT/scripts/docker-up" >&2
fi
docker image inspect wharf-test/busybox:1 >/dev/null 2>&1 \
    || die "image wharf-test/busybox:1 is missing (run scripts/docker-up)"

TAG="wharf-bench-$$"
WORK=$(mktemp -d -t wharf-services-bench.XXXXXX)
SPID=
cleanup() {
    if [ -n "$SPID" ]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    local ids
    ids=$( { docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$TAG"
             docker ps -aq --filter "name=^/wharf-bench-anchor-"; } 2>/dev/null | sort -u)
    if [ -n "$ids" ]; then
        log "removing $(wc -l <<<"$ids") container(s) left by the benchmark"
        # shellcheck disable=SC2086
        docker rm -f -v $ids >/dev/null 2>&1 || true
    fi
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
    --listener-address 127.0.0.1 >"$WORK/wharf.log" 2>&1 &
SPID=$!
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SPID" 2>/dev/null || { cat "$WORK/wharf.log" >&2; die "wharf server exited"; }
    sleep 0.05
done
log "wharf server on 127.0.0.1:$PORT (pid $SPID, cluster $TAG); load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$ROOT/bench/services.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$TAG" \
    --rounds "$ROUNDS" --deploy-rounds "$DEPLOY_ROUNDS" --interval "${INTERVAL:-5}" \
    --healthy "${HEALTHY:-2}" --delay "${DELAY:-5}"
