#!/usr/bin/env bash
# Wharf's task budgets (RunTask latency beside `docker run -d`, idle RSS and CPU), measured
# by bench/tasks.py against a fresh server whose embedded agent runs the tasks on the local
# Docker Engine.
#
# Usage: bench/tasks.sh [SAMPLES] [BURST_SAMPLES]
#   SAMPLES        single-task samples of each kind (default 15)
#   BURST_SAMPLES  samples of each kind of the ten-at-once case (default 5)
# Environment: IDLE_SECONDS (30), IDLE_TASKS (5), SKIP_BUILD=1 to use an existing binary,
#   WHARF_BIN to use another binary than target/release/wharf (implies SKIP_BUILD),
#   SKIP_DOCKER_UP=1 not to run scripts/docker-up, SKIP_AGENT=1 not to measure a standalone
#   `wharf agent` even when the binary has one, KEEP_LOG=1 to keep the server's log
#   (RUST_LOG is passed through: RUST_LOG=wharf_agent=debug bench/tasks.sh).
#
# The server listens on a free loopback port with a temporary data directory, and its agent
# joins a cluster of its own (`wharf-bench-<pid>`), so the containers it creates carry that
# cluster's label and nothing else on the engine is touched. On exit the server is stopped
# and every container with that label, or named `wharf-bench-<pid>-*` (the `docker run`
# anchors), is removed. The result is Markdown on stdout; progress goes to stderr.
set -euo pipefail

SAMPLES=${1:-15}
BURST_SAMPLES=${2:-5}
IDLE_SECONDS=${IDLE_SECONDS:-30}
IDLE_TASKS=${IDLE_TASKS:-5}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
command -v docker >/dev/null || die "the docker CLI is not installed"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"

if [ "${SKIP_DOCKER_UP:-0}" != 1 ]; then
    log "making sure Docker and the test images are up (scripts/docker-up)"
    WHARF_SKIP_REGISTRY=1 bash "$ROOT/scripts/docker-up" >&2
fi
docker image inspect wharf-test/busybox:1 >/dev/null 2>&1 \
    || die "image wharf-test/busybox:1 is missing (run scripts/docker-up)"

# --- server (and, when the binary has it, a standalone agent) -----------------------------
TAG="wharf-bench-$$"
WORK=$(mktemp -d -t wharf-tasks-bench.XXXXXX)
PIDS=()
cleanup() {
    stop_all "${PIDS[@]}"
    local ids
    ids=$( { docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$TAG"
             docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$TAG-agent"
             docker ps -aq --filter "name=^/$TAG-"; } 2>/dev/null | sort -u)
    if [ -n "$ids" ]; then
        log "removing $(wc -l <<<"$ids") container(s) left by the benchmark"
        # shellcheck disable=SC2086
        docker rm -f $ids >/dev/null 2>&1 || true
    fi
    if [ "${KEEP_LOG:-0}" = 1 ]; then
        log "server log kept in $WORK/wharf.log"
        rm -rf "$WORK/data" "$WORK/agent-server" "$WORK/agent-state"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(free_port)
"$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --cluster "$TAG" \
    >"$WORK/wharf.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
wait_port "$PORT" "$SPID" "wharf server" "$WORK/wharf.log"
log "wharf server on 127.0.0.1:$PORT (pid $SPID, cluster $TAG); load $(cut -d' ' -f1-3 /proc/loadavg)"

AGENT_ARGS=()
if [ "${SKIP_AGENT:-0}" != 1 ] && "$WHARF" agent --help >/dev/null 2>&1; then
    APORT=$(free_port)
    TOKEN="bench-$RANDOM$RANDOM"
    "$WHARF" server --listen "127.0.0.1:$APORT" --data-dir "$WORK/agent-server" --no-agent \
        --agent-token "$TOKEN" >"$WORK/agent-server.log" 2>&1 &
    APID_SERVER=$!
    PIDS+=("$APID_SERVER")
    wait_port "$APORT" "$APID_SERVER" "wharf server --no-agent" "$WORK/agent-server.log"
    # The agent's own program (`wharf-agent`, beside `wharf`) where it was built; else `wharf agent`.
    AGENT_CMD=("$WHARF" agent)
    [ -x "$WHARF-agent" ] && AGENT_CMD=("$WHARF-agent")
    "${AGENT_CMD[@]}" --endpoint "http://127.0.0.1:$APORT" --token "$TOKEN" \
        --state-dir "$WORK/agent-state" --cluster "$TAG-agent" >"$WORK/agent.log" 2>&1 &
    APID=$!
    PIDS+=("$APID")
    log "${AGENT_CMD[*]##*/} (pid $APID) for a server on 127.0.0.1:$APORT (pid $APID_SERVER)"
    AGENT_ARGS=(--agent-endpoint "http://127.0.0.1:$APORT" --agent-pid "$APID"
        --agent-server-pid "$APID_SERVER" --agent-cluster "$TAG-agent")
else
    log "no standalone \`wharf agent\` measured"
fi

python3 "$BENCH/tasks.py" --endpoint "http://127.0.0.1:$PORT" --pid "$SPID" --cluster "$TAG" \
    --samples "$SAMPLES" --burst-samples "$BURST_SAMPLES" --idle-seconds "$IDLE_SECONDS" \
    --idle-tasks "$IDLE_TASKS" "${AGENT_ARGS[@]}"
