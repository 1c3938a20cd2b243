#!/usr/bin/env bash
# Issue 20's name resolution budgets on a remote host: bench/dns.sh measures them with the
# server's embedded agent on the same host; here the resolver is that of a `wharf-agent` on
# another host of a rig (scripts/hosts), which answers from the table it gets from the server
# over its link. A DNS lookup of a Cloud Map name from a container p99 < 2 ms; a task's record
# appears within 1 s of its health turning HEALTHY and disappears before the task stops.
# Measured by bench/dns_hosts.py (which reuses bench/dns.py's pieces) against:
#   - a rig `dnsbench` of two hosts (network namespaces with their own dockerd);
#   - a `wharf server --no-agent` on the rig's gateway;
#   - a `wharf-agent` on each host, host 1 in us-east-1a, host 2 in us-east-1b, each with its
#     resolver on its host's 169.254.170.2:53 (the agent's default);
#   - two awsvpc services registered in Cloud Map: `near` pinned to host 1 and `far` pinned to
#     host 2, watched through host 1's resolver.
#
# Usage: bench/dns_hosts.sh [LOOKUPS] [ROUNDS]
#   LOOKUPS  DNS queries from the container (default 5000)
#   ROUNDS   scale-out/scale-in rounds per service (default 5)
# Environment: WHARF_BIN (default target/release/wharf; setting it implies SKIP_BUILD=1),
#   WHARF_AGENT_BIN (default `wharf-agent` beside WHARF_BIN), SKIP_BUILD=1, SKIP_DOCKER_UP=1,
#   KEEP_LOG=1 (keep the server's and agents' logs).
# Needs root (the rig, nsenter).
#
# Everything it makes goes on exit, also on failure or Ctrl-C: the agents and the server are
# stopped (the server removes its routes to the hosts' awsvpc slices), then `scripts/hosts
# down --rig dnsbench` removes the hosts' namespaces, dockerds (with every container, in their
# own data roots), veths, bridge and iptables chain. Nothing runs on this machine's own Docker
# Engine and no address is added to its namespace. The result is Markdown on stdout; progress
# goes to stderr.
set -euo pipefail

LOOKUPS=${1:-5000}
ROUNDS=${2:-5}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
RIG=dnsbench
CLUSTER=dnsbench
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
AGENT=${WHARF_AGENT_BIN:-$(dirname "$WHARF")/wharf-agent}

[ "$(id -u)" -eq 0 ] || die "must run as root (the rig of hosts, nsenter)"
command -v python3 >/dev/null || die "python3 is not installed"
command -v nsenter >/dev/null || die "nsenter (util-linux) is not installed"
python3 -c 'import boto3' 2>/dev/null || die "boto3 is not installed (pip install boto3)"
if [ -z "${WHARF_BIN:-}" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building wharf and wharf-agent (release)"
    (cd "$ROOT" && cargo build --release -p wharf --bin wharf --bin wharf-agent >&2)
fi
SKIP_BUILD=1 build_wharf
[ -x "$AGENT" ] || die "$AGENT does not exist (WHARF_AGENT_BIN)"
docker_ready

WORK=$(mktemp -d -t wharf-dns-hosts-bench.XXXXXX)
PIDS=()
cleanup() {
    # The benchmark, the server (on SIGTERM it removes its routes) and the agents.
    stop_all "${PIDS[@]}"
    "$ROOT/scripts/hosts" down --rig "$RIG" >&2 || log "scripts/hosts down --rig $RIG failed"
    if [ "${KEEP_LOG:-0}" = 1 ]; then
        log "logs kept in $WORK"
        rm -rf "$WORK"/data "$WORK"/agent*/state
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/scripts/hosts" down --rig "$RIG" >&2
"$ROOT/scripts/hosts" up 2 --rig "$RIG" >"$WORK/rig.json"
# GATEWAY, K (the rig's index), and NETNS_I and DOCKER_I for each host I.
eval "$(python3 - "$WORK/rig.json" <<'PY'
import json, shlex, sys
rig = json.load(open(sys.argv[1]))
print(f"GATEWAY={shlex.quote(rig['gateway'])} K={int(rig['index'])}")
for h in rig["hosts"]:
    print(f"NETNS_{h['index']}={shlex.quote(h['netns'])} DOCKER_{h['index']}={shlex.quote(h['docker_host'])}")
PY
)"

# The server: no agent of its own, no resolver or metadata endpoint on this machine's
# namespace, and a VPC pool of the rig's own (10.(128+2K).0.0/15: apart from the default pool
# and the test suite's 10.(160+2K)), so that its routes are no other server's.
PORT=$(python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$GATEWAY")
"$WHARF" server --listen "$GATEWAY:$PORT" --data-dir "$WORK/data" --no-agent --insecure-no-auth \
    --listener-address off --metadata-address off --dns-address off \
    --vpc-cidr "10.$((128 + 2 * K)).0.0/15" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/$GATEWAY/$PORT") 2>/dev/null && break
    kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$WORK/server.log" >&2; die "wharf server exited"; }
    sleep 0.05
done
ENDPOINT="http://$GATEWAY:$PORT"

ZONES=(us-east-1a us-east-1b)
for i in 1 2; do
    mkdir -p "$WORK/agent$i"
    netns=NETNS_$i docker_host=DOCKER_$i
    DOCKER_HOST=${!docker_host} RUST_LOG=warn nsenter --net="${!netns}" -- "$AGENT" \
        --endpoint "$ENDPOINT" --cluster "$CLUSTER" --availability-zone "${ZONES[$((i - 1))]}" \
        --state-dir "$WORK/agent$i/state" </dev/null >"$WORK/agent$i/agent.log" 2>&1 &
    PIDS+=($!)
done
log "wharf server on $ENDPOINT, agents on hosts 1 and 2 of rig $RIG; load $(cut -d' ' -f1-3 /proc/loadavg)"

# In the background, so that a signal to this script is handled at once (its trap runs
# when `wait` returns, not when a foreground child would have finished).
python3 "$ROOT/bench/dns_hosts.py" --endpoint "$ENDPOINT" --cluster "$CLUSTER" \
    --rig "$WORK/rig.json" --lookups "$LOOKUPS" --rounds "$ROUNDS" &
BENCH=$!
PIDS=("$BENCH" "${PIDS[@]}")
wait "$BENCH"
