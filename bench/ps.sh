#!/usr/bin/env bash
# `wharf ps` over a cluster of many tasks (default 1,000), beside the aws CLI doing the
# same reads (list-tasks, then describe-tasks per 100), measured by bench/ps.py against a
# fresh `wharf server --no-agent`: the tasks are placed on a registered container instance
# and stay PROVISIONING, so no container is started and Docker is not needed.
#
# Usage: bench/ps.sh [TASKS] [ROUNDS]
#   TASKS   tasks in the cluster (default 1000)
#   ROUNDS  timed rounds after one warm-up (default 5)
# Environment: SKIP_BUILD=1 to use an existing binary, WHARF_BIN to use another binary than
#   target/release/wharf (implies SKIP_BUILD), SKIP_AWS=1 to leave out the aws CLI anchor.
#
# The server listens on a free loopback port with a temporary data directory, removed on
# exit. The result is Markdown on stdout; progress goes to stderr.
set -euo pipefail

TASKS=${1:-1000}
ROUNDS=${2:-5}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

command -v python3 >/dev/null || die "python3 is not installed"
if [ "${SKIP_AWS:-0}" != 1 ]; then
    command -v aws >/dev/null || die "the aws CLI is not installed (pip install awscli), or SKIP_AWS=1"
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release)"
    (cd "$ROOT" && cargo build --release -p wharf --bin wharf >&2)
fi
[ -x "$WHARF" ] || die "$WHARF does not exist"

WORK=$(mktemp -d -t wharf-ps-bench.XXXXXX)
SPID=
cleanup() {
    if [ -n "$SPID" ]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --no-agent \
    --metadata-address off >"$WORK/wharf.log" 2>&1 &
SPID=$!
for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$SPID" 2>/dev/null || { cat "$WORK/wharf.log" >&2; die "wharf server exited"; }
    sleep 0.05
done
log "wharf server on 127.0.0.1:$PORT (pid $SPID); load $(cut -d' ' -f1-3 /proc/loadavg)"

EXTRA=()
[ "${SKIP_AWS:-0}" != 1 ] || EXTRA=(--skip-aws)
python3 "$ROOT/bench/ps.py" --endpoint "http://127.0.0.1:$PORT" --wharf "$WHARF" \
    --tasks "$TASKS" --rounds "$ROUNDS" "${EXTRA[@]}"
