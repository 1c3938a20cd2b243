# Shared by the bench scripts: `. "$ROOT/bench/lib.sh"` after ROOT is set.

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

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
