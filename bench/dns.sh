#!/usr/bin/env bash
# Wharf's name resolution budgets (issue 20): a DNS lookup of a Cloud Map name from a
# container p99 < 2 ms; a task's record appears within 1 s of its health turning HEALTHY and
# disappears before it is drained. Measured by bench/dns.py against a fresh server whose
# embedded agent runs an awsvpc service with serviceRegistries on the local Docker Engine,
# and whose resolver listens on a link-local address of its own (DNS_ADDRESS).
#
# Usage: bench/dns.sh [LOOKUPS] [ROUNDS]
#   LOOKUPS  DNS queries per path (default 5000)
#   ROUNDS   scale-out/scale-in rounds for the record's timing (default 5)
# Environment: DNS_ADDRESS (169.254.171.250:53), SKIP_BUILD=1 to use an existing binary,
#   WHARF_BIN to use another binary than target/release/wharf (implies SKIP_BUILD),
#   SKIP_DOCKER_UP=1 not to run scripts/docker-up, KEEP_LOG=1 to keep the server's log.
#   Needs root (nsenter into a task's network namespace; the address on lo).
#
# The server listens on a free loopback port with a temporary data directory, and its agent
# joins a cluster of its own (`wharf-bench-<pid>`): on exit the server is stopped and every
# container with that cluster's label, or named `wharf-bench-*` (the `docker run` anchors),
# is removed. The result is Markdown on stdout; progress goes to stderr.
set -euo pipefail

LOOKUPS=${1:-5000}
ROUNDS=${2:-5}
DNS_ADDRESS=${DNS_ADDRESS:-169.254.171.250:53}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
[ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

command -v python3 >/dev/null || die "python3 is not installed"
command -v docker >/dev/null || die "the docker CLI is not installed"
command -v nsenter >/dev/null || die "nsenter (util-linux) is not installed"
python3 -c 'import boto3' 2>/dev/null || die "boto3 is not installed (pip install boto3)"
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
WORK=$(mktemp -d -t wharf-dns-bench.XXXXXX)
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
    --listener-address off --metadata-address off --dns-address "$DNS_ADDRESS" \
    >"$WORK/wharf.log" 2>&1 &
SPID=$!
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SPID" 2>/dev/null || { cat "$WORK/wharf.log" >&2; die "wharf server exited"; }
    sleep 0.05
done
log "wharf server on 127.0.0.1:$PORT (pid $SPID, cluster $TAG); load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$ROOT/bench/dns.py" --endpoint "http://127.0.0.1:$PORT" --cluster "$TAG" \
    --dns "${DNS_ADDRESS%:*}" --lookups "$LOOKUPS" --rounds "$ROUNDS"
