#!/usr/bin/env bash
# The `make run` supervisor: prepare the database and demo data, then run daphne and a
# Celery worker (with embedded beat) side by side until Ctrl-C / SIGTERM.
#
# Embedded default (SQLite, live rooms in memory, filesystem broker) unless
# DATABASE_URL / REDIS_URL are set in the environment. HOST / PORT choose the address.
# `--audience N` (make run AUDIENCE=N) also starts N simulated viewers in the live lecture
# (manage.py demo_audience) once daphne answers.
#
# Signals and stopping: scripts/supervise.sh (Ctrl-C / SIGTERM stop the group; if daphne or
# the worker dies on its own, the other one is stopped too and the script exits non-zero).
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

SUPERVISED="daphne, celery"
# shellcheck source=scripts/supervise.sh
. scripts/supervise.sh

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
    wait_for_port "$HOST" "$PORT" 100 || true
    log "demo_audience $AUDIENCE (simulated viewers in the live lecture)"
    "$PY" manage.py demo_audience "$AUDIENCE" --url "http://$HOST:$PORT" &
    helpers+=("$!")
fi

supervise_wait
