#!/usr/bin/env bash
# Wharf's blue/green budgets (issue 16): zero failed requests through the listener during a
# BLUE_GREEN, a CANARY and a LINEAR deployment under steady load; the traffic split at each
# production step within 5 points of the configured weight over 1,000 requests; a rollback
# (StopServiceDeployment ROLLBACK at the canary step) putting all traffic back on blue within
# one health check interval with no failed request; the test listener serving green before
# production. Measured by bench/bluegreen.py against a fresh server whose embedded agent runs
# the tasks on the local Docker Engine and whose ALB data plane listens on 127.0.0.1. Takes
# about 8 minutes (the canary and linear steps bake for a minute each).
#
# Usage: bench/bluegreen.sh
# Environment: SKIP_BUILD=1 to use an existing binary, WHARF_BIN to use another binary than
#   target/release/wharf (implies SKIP_BUILD), SKIP_DOCKER_UP=1 not to run scripts/docker-up,
#   KEEP_LOG=1 to keep the server's log.
#
# On exit the server is stopped and every container of its cluster (`wharf-bench-<pid>`) is
# removed. The result is Markdown on stdout; progress goes to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
build_wharf
docker_ready
serve_cluster bluegreen

python3 "$ROOT/bench/bluegreen.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$TAG"
