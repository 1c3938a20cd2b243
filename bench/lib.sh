# Shared by the bench scripts: `. "$ROOT/bench/lib.sh"` after ROOT is set.

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# stop_all PID...: asks each process to stop (SIGTERM), then waits for each; for cleanups.
stop_all() {
    local pid
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT PID NAME LOG: waits (30 s at most) for PORT to listen, failing with LOG's
# contents if process PID exits first.
wait_port() {
    local i
    for i in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || { cat "$4" >&2; die "$3 exited before listening"; }
        sleep 0.05
    done
    die "$3 is not listening on port $1 after 30 s"
}

# build_wharf: builds the release binary (unless SKIP_BUILD=1; setting WHARF_BIN implies it)
# and checks that $WHARF exists. Needs ROOT and WHARF.
build_wharf() {
    [ -z "${WHARF_BIN:-}" ] || SKIP_BUILD=1
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        log "building wharf (release)"
        (cd "$ROOT" && cargo build --release -p wharf --bin wharf >&2)
    fi
    [ -x "$WHARF" ] || die "$WHARF does not exist"
}

# docker_ready: the docker CLI, the engine and the test image (scripts/docker-up, unless
# SKIP_DOCKER_UP=1).
docker_ready() {
    command -v docker >/dev/null || die "the docker CLI is not installed"
    if [ "${SKIP_DOCKER_UP:-0}" != 1 ]; then
        log "making sure Docker and the test images are up (scripts/docker-up)"
        WHARF_SKIP_REGISTRY=1 bash "$ROOT/scripts/docker-up" >&2
    fi
    docker image inspect wharf-test/busybox:1 >/dev/null 2>&1 \
        || die "image wharf-test/busybox:1 is missing (run scripts/docker-up)"
}

# serve_cluster NAME: starts `wharf server` on a free loopback port with a temporary data
# directory (`wharf-NAME-bench.*`), its agent in a cluster of its own (`wharf-bench-<pid>`) and
# its listeners on 127.0.0.1, and waits for it. Sets TAG, WORK, SPID and PORT. On exit the
# server is stopped, every container of that cluster (and every `wharf-bench-anchor-*`) is
# removed, and WORK too unless KEEP_LOG=1 (then the server's log is kept). WHARF_SERVER_ARGS adds
# arguments to the server's (word-split).
serve_cluster() {
    TAG="wharf-bench-$$"
    WORK=$(mktemp -d -t "wharf-$1-bench.XXXXXX")
    SPID=
    trap stop_cluster EXIT
    trap 'exit 130' INT TERM
    PORT=$(free_port)
    "$WHARF" server --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --cluster "$TAG" \
        --listener-address 127.0.0.1 ${WHARF_SERVER_ARGS:-} >"$WORK/wharf.log" 2>&1 &
    SPID=$!
    wait_port "$PORT" "$SPID" "wharf server" "$WORK/wharf.log"
    log "wharf server on 127.0.0.1:$PORT (pid $SPID, cluster $TAG); load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The EXIT trap of serve_cluster.
stop_cluster() {
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
