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
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
build_wharf
docker_ready
serve_cluster services

python3 "$ROOT/bench/services.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$TAG" \
    --rounds "$ROUNDS" --deploy-rounds "$DEPLOY_ROUNDS" --interval "${INTERVAL:-5}" \
    --healthy "${HEALTHY:-2}" --delay "${DELAY:-5}"
