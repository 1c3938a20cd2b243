#!/usr/bin/env bash
# The ALB data plane's budget (issue 5): through one Wharf listener to two targets, at least
# 80% of nginx's throughput as a reverse proxy to the same targets, and at most 1 ms added to
# p99 compared with hitting a target directly. One run, one load tool (wrk), loopback only.
#
# Usage: bench/lb.sh [DURATION] [WARMUP]     (defaults 10s and 2s)
# Environment: ROUNDS (3: the three cases run in turn this many times, medians reported, so
#   that other load on the machine hits all three alike), THREADS (2), CONNECTIONS (64),
#   WORKERS (Wharf's proxy worker threads, 2),
#   NGINX_WORKERS (2), SKIP_BUILD=1 to use built examples, BASE_PORT (18080).
#
# Targets are `crates/wharf-lb/examples/bench_target.rs` (a one-thread hyper server with a
# short static body, keep-alive), the Wharf listener `examples/bench_lb.rs`, nginx runs from a
# temporary prefix with a keepalive upstream. Cases run one after another; the result is a
# Markdown table on stdout, progress on stderr.
set -euo pipefail

DURATION=${1:-10s}
WARMUP=${2:-2s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
NGINX_WORKERS=${NGINX_WORKERS:-2}
BASE_PORT=${BASE_PORT:-18080}
T1=$((BASE_PORT + 1)) T2=$((BASE_PORT + 2)) NGINX_PORT=$((BASE_PORT + 3)) WHARF_PORT=$((BASE_PORT + 4))

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/examples"

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    log "installing wrk and nginx (apt)"
    apt-get install -y wrk nginx >&2 || die "wrk and nginx are needed"
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building the wharf-lb bench examples (release)"
    (cd "$ROOT" && cargo build --release -p wharf-lb --examples >&2)
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}

"$BIN/bench_target" "$T1" & PIDS+=($!)
"$BIN/bench_target" "$T2" & PIDS+=($!)
wait_port "$T1"; wait_port "$T2"

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream targets {
        server 127.0.0.1:$T1;
        server 127.0.0.1:$T2;
        keepalive 128;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://targets;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Port \$server_port;
        }
    }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)
wait_port "$NGINX_PORT"

mkfifo "$WORK/ready"
WORKERS=${WORKERS:-2} "$BIN/bench_lb" "$WHARF_PORT" "$T1" "$T2" >"$WORK/ready" & PIDS+=($!)
read -r line <"$WORK/ready"
[ "$line" = ready ] || die "bench_lb did not become ready"

# run NAME PORT -> "req/s p99_ms non2xx_or_errors"
run() {
    local port=$2 out
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$port/" >/dev/null
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port/")
    log "--- $1"; log "$out"
    python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
bad = 0
for pat in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)"):
    g = re.search(pat, out)
    if g:
        bad += sum(int(x) for x in g.groups())
print(f"{rps:.0f} {p99:.3f} {bad}")
PY
}

ROUNDS=${ROUNDS:-3}
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    log "=== round $round of $ROUNDS"
    echo "direct $(run "direct to one target" "$T1")" >>"$WORK/results"
    echo "nginx $(run "nginx, two targets" "$NGINX_PORT")" >>"$WORK/results"
    echo "wharf $(run "wharf-lb, two targets" "$WHARF_PORT")" >>"$WORK/results"
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p99, bad = line.split()
    rows.setdefault(name, []).append((float(rps), float(p99), int(bad)))
med = lambda name, i: statistics.median(r[i] for r in rows[name])
d_rps, d_p99 = med("direct", 0), med("direct", 1)
n_rps, n_p99 = med("nginx", 0), med("nginx", 1)
w_rps, w_p99 = med("wharf", 0), med("wharf", 1)
bad = [sum(r[2] for r in rows[n]) for n in ("direct", "nginx", "wharf")]
print(f"Medians of {len(rows['direct'])} rounds.")
print()
ratio = w_rps / n_rps
added = w_p99 - d_p99
print("| Case | req/s | p99 (ms) |")
print("|---|---:|---:|")
print(f"| direct to one target | {d_rps:,.0f} | {d_p99:.2f} |")
print(f"| nginx (keepalive upstream), two targets | {n_rps:,.0f} | {n_p99:.2f} |")
print(f"| wharf-lb listener, two targets | {w_rps:,.0f} | {w_p99:.2f} |")
print()
print(f"- wharf ÷ nginx throughput: {ratio:.0%} (budget ≥ 80%: {'met' if ratio >= 0.8 else 'NOT met'})")
print(f"- p99 added over direct: {added:+.2f} ms (budget ≤ 1 ms: {'met' if added <= 1.0 else 'NOT met'})")
print(f"- non-2xx answers and socket errors: direct {bad[0]}, nginx {bad[1]}, wharf {bad[2]}")
PY
