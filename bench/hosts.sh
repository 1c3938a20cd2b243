#!/usr/bin/env bash
# Issue 14's budgets on a rig of three hosts on this machine (scripts/hosts): placement over
# three zones, the load balancer to targets on other hosts against nginx, a drain under load,
# a host killed and a host cut off under load, agents' memory, and RunTask on a remote host
# against `docker run -d` there. Progress on stderr, a Markdown report on stdout.
#
# Usage: bench/hosts.sh
# Environment: SKIP_BUILD=1 (use the built binaries), KEEP=1 (leave the rig up),
#   SAMPLES (RunTask samples, 10), DURATION (wrk per case, 10s), ROUNDS (3),
#   LOST_AFTER (the server's --instance-lost-after, 5s).
#
# Needs root and Docker (scripts/docker-up). Installs wrk and nginx (apt) when missing. The
# targets are crates/wharf-lb/examples/bench_target.rs built statically into a FROM scratch
# image (wharf-bench/target:1) and loaded into each host.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
RIG=bench

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    log "installing wrk and nginx (apt)"
    apt-get install -y -q wrk nginx >&2 || die "wrk and nginx are needed"
fi
"$ROOT/scripts/docker-up" >&2
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf (release) and a static bench_target"
    (cd "$ROOT" && cargo build --release -p wharf >&2)
    (cd "$ROOT" && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p wharf-lb \
        --example bench_target --target x86_64-unknown-linux-gnu >&2)
fi
TARGET_BIN="$ROOT/target/x86_64-unknown-linux-gnu/release/examples/bench_target"
[ -x "$TARGET_BIN" ] || die "no static bench_target at $TARGET_BIN"

CTX=$(mktemp -d)
cp "$TARGET_BIN" "$CTX/bench_target"
printf 'FROM scratch\nCOPY bench_target /bench_target\nENTRYPOINT ["/bench_target"]\n' >"$CTX/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t wharf-bench/target:1 "$CTX" >&2
rm -rf "$CTX"

cleanup() {
    if [ "${KEEP:-0}" != 1 ]; then
        "$ROOT/scripts/hosts" down --rig "$RIG" >&2 || true
    fi
}
trap cleanup EXIT
"$ROOT/scripts/hosts" down --rig "$RIG" >&2
WHARF_HOSTS_IMAGES="wharf-test/busybox:1 wharf-bench/target:1" \
    "$ROOT/scripts/hosts" up 3 --rig "$RIG" >"$ROOT/target/bench-rig.json"
python3 "$ROOT/bench/hosts.py" --rig "$ROOT/target/bench-rig.json" \
    --wharf "$ROOT/target/release/wharf" --scripts "$ROOT/scripts"
