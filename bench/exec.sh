#!/usr/bin/env bash
# Wharf's ECS Exec budget (issue 20): `wharf exec` interactive round trip, keystroke to
# echo, p99 < 10 ms on the same host. Measured by bench/exec.py: a fresh release server whose
# embedded agent runs an exec-enabled task on the local Docker Engine, and `wharf exec -it`
# on a pseudo-terminal running `cat` in it; each keystroke is timed from its write to the
# terminal until the container's terminal echoes it back.
#
# Usage: bench/exec.sh [KEYS] [SESSIONS]
#   KEYS      keystrokes timed (default 3000)
#   SESSIONS  sessions opened one after another, each timed from ExecuteCommand to the
#             command's first output (default 20)
# Environment: SKIP_BUILD=1 to use an existing binary, WHARF_BIN to use another binary than
#   target/release/wharf (implies SKIP_BUILD), SKIP_DOCKER_UP=1 not to run scripts/docker-up,
#   KEEP_LOG=1 to keep the server's log.
#
# The server listens on a free loopback port with a temporary data directory, and its agent
# joins a cluster of its own (`wharf-bench-<pid>`): on exit the server is stopped and every
# container with that cluster's label is removed. The result is Markdown on stdout; progress
# goes to stderr.
set -euo pipefail

KEYS=${1:-3000}
SESSIONS=${2:-20}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || die "python3 is not installed"
python3 -c 'import boto3' 2>/dev/null || die "boto3 is not installed (pip install boto3)"
build_wharf
docker_ready
serve_cluster exec

python3 "$ROOT/bench/exec.py" --wharf "$WHARF" --endpoint "http://127.0.0.1:$PORT" \
    --cluster "$TAG" --keys "$KEYS" --sessions "$SESSIONS"
