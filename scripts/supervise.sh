# Sourced by scripts/run.sh (make run) and scripts/serve.sh (make serve): the one supervisor
# of a group of child processes. The caller defines log(), sets STOP_GRACE and PY, starts
# children in the background and appends them to `pids` (when one ends, the rest are
# stopped) or `helpers` (stopped with the rest; their own end stops nothing), then calls
# supervise_wait.
#
# Signals: Ctrl-C sends SIGINT to the whole foreground process group. Children started with
# `&` by a non-interactive shell ignore SIGINT, so the traps forward SIGTERM to each of
# them, wait (bounded by STOP_GRACE seconds), and kill whatever is left.

pids=()
helpers=()
stopping=0

stop_all() {
    local code="${1:-0}"
    if (( stopping )); then return; fi
    stopping=1
    trap '' INT TERM
    log "stopping (${SUPERVISED:-children})…"
    pids+=("${helpers[@]}")
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    local waited=0
    while (( waited < STOP_GRACE * 10 )); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.1
        waited=$((waited + 1))
    done
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid did not stop in ${STOP_GRACE}s: killing it"
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    log "stopped"
    exit "$code"
}
trap 'stop_all 130' INT
trap 'stop_all 143' TERM

# wait_for_port HOST PORT TRIES: until HOST:PORT accepts a connection (0.2 s apart), or give up.
wait_for_port() {
    local host="$1" port="$2" tries="$3"
    for _ in $(seq 1 "$tries"); do
        "$PY" -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)" \
            "$host" "$port" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# Return when a child of `pids` exits (or a trapped signal arrives), then stop the rest.
supervise_wait() {
    local code
    set +e
    wait -n "${pids[@]}"
    code=$?
    set -e
    log "a child process exited with status $code"
    stop_all "$(( code == 0 ? 1 : code ))"
}
