#!/usr/bin/env bash
# The `make run` supervisor: prepare the database and demo data, then run daphne and a
# Celery worker (with embedded beat) side by side until Ctrl-C / SIGTERM.
#
# Embedded default (SQLite, in-memory channel layer, filesystem broker) unless
# DATABASE_URL / REDIS_URL are set in the environment. HOST / PORT choose the address.
# `--audience N` (make run AUDIENCE=N) also starts N simulated viewers in the live lecture
# (manage.py demo_audience) once daphne answers.
#
# Signals: Ctrl-C sends SIGINT to the whole foreground process group. Children started
# with `&` by a non-interactive shell ignore SIGINT, so the trap below forwards SIGTERM to
# each of them, waits (bounded), and kills whatever is left. If either child dies on its
# own, the other one is stopped too and the script exits non-zero.
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
BIN="$(dirname "$PY")"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
STOP_GRACE="${STOP_GRACE:-10}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-portal.settings}"
export PYTHONUNBUFFERED=1

log() { printf '[run] %s\n' "$*" >&2 || true; }
# `make run | tee run.log` + Ctrl-C kills tee first: a write to the dead pipe must not kill
# this supervisor before it has stopped its children.
trap '' PIPE

AUDIENCE="${AUDIENCE:-0}"
while (( $# )); do
    case "$1" in
        --audience) AUDIENCE="${2:?--audience needs a number}"; shift 2 ;;
        --audience=*) AUDIENCE="${1#*=}"; shift ;;
        *) echo "usage: $0 [--audience N]" >&2; exit 2 ;;
    esac
done
[[ "$AUDIENCE" =~ ^[0-9]+$ ]] || { echo "--audience must be a number, not '$AUDIENCE'" >&2; exit 2; }

VAR_DIR="${ZHIXING_VAR_DIR:-var}"
mkdir -p "$VAR_DIR"

log "migrate"
"$PY" manage.py migrate --noinput

if "$PY" manage.py help seed_demo >/dev/null 2>&1; then
    # --attendance: the ended lectures (and the live one so far) get realistic attendance,
    # so every report, chart, follow-up list and 通报 of the demo shows real figures.
    log "seed_demo --attendance (idempotent)"
    "$PY" manage.py seed_demo --attendance
else
    log "seed_demo is not available yet: skipping the demo data"
fi

# collectstatic only when a static source changed since the last run (or never ran).
STATIC_STAMP="$VAR_DIR/.collectstatic.stamp"
if [[ ! -f "$STATIC_STAMP" ]] \
    || [[ -n "$(find static */static -newer "$STATIC_STAMP" -print -quit 2>/dev/null)" ]]; then
    log "collectstatic"
    "$PY" manage.py collectstatic --noinput -v0
    touch "$STATIC_STAMP"
fi

# Every queue that settings route tasks to, plus the default one (CELERY_QUEUES overrides).
QUEUES="$("$PY" scripts/celery_queues.py)"

pids=()
helpers=()  # stopped with the rest, but their end does not stop the portal
stopping=0

stop_all() {
    local code="${1:-0}"
    if (( stopping )); then return; fi
    stopping=1
    trap '' INT TERM
    log "stopping (daphne, celery)…"
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

log "celery worker + beat (queues: $QUEUES)"
"$BIN/celery" -A portal worker -B --pool threads --concurrency "${CELERY_CONCURRENCY:-4}" \
    -Q "$QUEUES" --loglevel "${CELERY_LOGLEVEL:-INFO}" --without-gossip --without-mingle &
pids+=("$!")

log "daphne on http://$HOST:$PORT/"
"$BIN/daphne" -b "$HOST" -p "$PORT" \
    --websocket-max-message-size 65536 --websocket-max-frame-size 65536 \
    --application-close-timeout 5 \
    portal.asgi:application &
pids+=("$!")

if (( AUDIENCE > 0 )); then
    # once daphne accepts connections (bounded), the simulated viewers join
    for _ in $(seq 1 100); do
        "$PY" -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)" \
            "$HOST" "$PORT" 2>/dev/null && break
        sleep 0.2
    done
    log "demo_audience $AUDIENCE (simulated viewers in the live lecture)"
    "$PY" manage.py demo_audience "$AUDIENCE" --url "http://$HOST:$PORT" &
    helpers+=("$!")
fi

# Return when either child exits (or a trapped signal arrives), then stop the other.
set +e
wait -n "${pids[@]}"
code=$?
set -e
log "a child process exited with status $code"
stop_all "$(( code == 0 ? 1 : code ))"
