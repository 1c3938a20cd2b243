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
#   KEEP_LOG=1 to keep the server's log, EXEC_TLS=1 to serve the sessions over TLS (wss://,
#   a certificate for 127.0.0.1 made with openssl and trusted through AWS_CA_BUNDLE).
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
if [ "${EXEC_TLS:-0}" = 1 ]; then
    command -v openssl >/dev/null || die "openssl is not installed"
    CERTS=$(mktemp -d -t wharf-exec-certs.XXXXXX)
    (
        cd "$CERTS"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
            -subj /CN=wharf-bench-ca -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
            -keyout key.pem -out req.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
        openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
            -extfile ext.cnf -out cert.pem 2>/dev/null
    ) || die "cannot make a certificate with openssl"
    WHARF_SERVER_ARGS="${WHARF_SERVER_ARGS:-} --exec-tls-cert $CERTS/cert.pem --exec-tls-key $CERTS/key.pem"
    export AWS_CA_BUNDLE=$CERTS/ca.pem
    log "sessions over TLS (wss://)"
fi
serve_cluster exec
[ -z "${CERTS:-}" ] || trap 'stop_cluster; rm -rf "$CERTS"' EXIT

python3 "$ROOT/bench/exec.py" --wharf "$WHARF" --endpoint "http://127.0.0.1:$PORT" \
    --cluster "$TAG" --keys "$KEYS" --sessions "$SESSIONS"
