#!/usr/bin/env bash
# `make serve`: the production topology on one machine, without Docker (docs/operations.md):
# nginx on $PORT (deploy/nginx.conf, the compose file's nginx config) in front of
# $WEB_PROCESSES daphne processes, PgBouncer in transaction mode in front of PostgreSQL, a
# Celery worker and beat. DEBUG is false. Needs DATABASE_URL (PostgreSQL), REDIS_URL,
# SECRET_KEY, ALLOWED_HOSTS. Ctrl-C / SIGTERM to the process group stops all of it; a web
# process that dies is started again, any other dying stops the rest.
#
#   PORT (8080)  WEB_PROCESSES (one per core)  WEB_BASE_PORT (8101: daphne i on +i)
#   PGBOUNCER_PORT (6432)  DATABASE_POOL_SIZE (20: PostgreSQL server connections, in all)
#   SERVE_DIR (var/serve: generated configs, logs, pids)
#   STREAM_RTMP_PORT (unset: no origin) STREAM_HTTP_PORT (8088) STREAM_HOOK_SECRET
#   STREAM_MEDIA_DIR (var/stream: HLS, recordings, replays)
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
BIN="$(dirname "$PY")"
PORT="${PORT:-8080}"
WEB_PROCESSES="${WEB_PROCESSES:-$(nproc)}"
WEB_BASE_PORT="${WEB_BASE_PORT:-8101}"
PGBOUNCER_PORT="${PGBOUNCER_PORT:-6432}"
DATABASE_POOL_SIZE="${DATABASE_POOL_SIZE:-20}"
SERVE_DIR="$(realpath -m "${SERVE_DIR:-var/serve}")"
STOP_GRACE="${STOP_GRACE:-10}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-portal.settings}"
export PYTHONUNBUFFERED=1 DEBUG=false
trap '' PIPE

log() { printf '[serve] %s\n' "$*" >&2 || true; }
die() { log "$*"; exit 2; }

for var in DATABASE_URL REDIS_URL SECRET_KEY ALLOWED_HOSTS; do
    [[ -n "${!var:-}" ]] || die "$var must be set (see docs/operations.md, make serve)"
done
[[ "$DATABASE_URL" =~ ^postgres ]] || die "DATABASE_URL must be PostgreSQL (postgres://…)"
[[ "$WEB_PROCESSES" =~ ^[1-9][0-9]*$ ]] || die "WEB_PROCESSES must be a positive number"
for tool in nginx pgbouncer; do
    command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] \
        || die "$tool is missing: scripts/system-deps.sh installs it (as root)"
done
PATH="$PATH:/usr/sbin"

export STATIC_ROOT="${STATIC_ROOT:-$PWD/var/staticfiles}"
export STREAM_MEDIA_DIR="${STREAM_MEDIA_DIR:-$PWD/var/stream}"
export MEDIA_ROOT="${MEDIA_ROOT:-$PWD/var/media}"
mkdir -p "$SERVE_DIR" "$STATIC_ROOT" "$MEDIA_ROOT"

log "migrate (direct to PostgreSQL)"
"$PY" manage.py migrate --noinput -v0
log "collectstatic"
"$PY" manage.py collectstatic --noinput -v0

web_ports=()
for ((i = 0; i < WEB_PROCESSES; i++)); do web_ports+=("$((WEB_BASE_PORT + i))"); done
POOLED_URL="$("$PY" scripts/serve_config.py "$SERVE_DIR" --port "$PORT" \
    --web-ports "$(IFS=,; echo "${web_ports[*]}")" --static-root "$STATIC_ROOT" \
    --media-root "$MEDIA_ROOT" --pgbouncer-port "$PGBOUNCER_PORT" \
    --pool-size "$DATABASE_POOL_SIZE")"

SUPERVISED="nginx, daphne ×$WEB_PROCESSES, celery, pgbouncer"
# shellcheck source=scripts/supervise.sh
. scripts/supervise.sh

# PgBouncer refuses to run as root: as root it reads its config, then drops to
# PGBOUNCER_USER (postgres); it logs to stderr, kept here by this (root) shell.
pgb=(pgbouncer)
if (( $(id -u) == 0 )); then
    pgb+=(-u "${PGBOUNCER_USER:-postgres}")
fi
log "pgbouncer on 127.0.0.1:$PGBOUNCER_PORT (transaction pooling, $DATABASE_POOL_SIZE server connections)"
"${pgb[@]}" "$SERVE_DIR/pgbouncer.ini" >"$SERVE_DIR/pgbouncer.out" 2>&1 &
pids+=("$!")

# The web processes and the workers reach PostgreSQL through PgBouncer only.
export DATABASE_URL="$POOLED_URL" DATABASE_POOLER=pgbouncer
export ALLAUTH_TRUSTED_PROXY_COUNT="${ALLAUTH_TRUSTED_PROXY_COUNT:-1}"
wait_for_port 127.0.0.1 "$PGBOUNCER_PORT" 50 || true  # PgBouncer accepts within a second

QUEUES="$("$PY" scripts/celery_queues.py)"
log "celery worker + beat (queues: $QUEUES)"
"$BIN/celery" -A portal worker -B --pool threads --concurrency "${CELERY_CONCURRENCY:-4}" \
    -Q "$QUEUES" --loglevel "${CELERY_LOGLEVEL:-WARNING}" --without-gossip --without-mingle \
    --schedule "$SERVE_DIR/celerybeat-schedule" &
pids+=("$!")

# A web process that dies (a crash, an OOM kill) is started again after a second, as a
# process manager would: its sockets reconnect to the others meanwhile (nginx skips it).
web() {
    local port="$1" child=""
    trap '[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM
    while :; do
        # a listen backlog for a connect storm (Twisted's default is 50)
        "$BIN/daphne" -e "tcp:port=$port:interface=127.0.0.1:backlog=${WEB_BACKLOG:-2048}" \
            --proxy-headers \
            --websocket-max-message-size 65536 --websocket-max-frame-size 65536 \
            --ping-interval 20 --ping-timeout 30 --application-close-timeout 10 \
            --websocket_connect_timeout "${WS_CONNECT_TIMEOUT:-30}" \
            portal.asgi:application &
        child="$!"
        wait "$child" && code=0 || code=$?
        log "daphne on 127.0.0.1:$port exited ($code): starting it again"
        sleep 1
    done
}
for port in "${web_ports[@]}"; do
    log "daphne on 127.0.0.1:$port"
    web "$port" &
    pids+=("$!")
done

log "nginx on http://0.0.0.0:$PORT/ (config: $SERVE_DIR/nginx.conf)"
nginx -c "$SERVE_DIR/nginx.conf" -g "daemon off;" &
pids+=("$!")

# The RTMP ingest and HLS origin (deploy/nginx-rtmp.conf; docs/streaming.md) when
# STREAM_RTMP_PORT is set: encoders push to it, its hooks call the portal through nginx.
if [[ -n "${STREAM_RTMP_PORT:-}" ]]; then
    [[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]] \
        || die "libnginx-mod-rtmp is missing: scripts/system-deps.sh installs it (as root)"
    command -v ffmpeg >/dev/null || die "ffmpeg is missing (replays): scripts/system-deps.sh"
    [[ -n "${STREAM_HOOK_SECRET:-}" ]] || die "STREAM_RTMP_PORT needs STREAM_HOOK_SECRET"
    STREAM_HTTP_PORT="${STREAM_HTTP_PORT:-8088}"
    "$PY" scripts/rtmp_config.py "$SERVE_DIR" --rtmp-port "$STREAM_RTMP_PORT" \
        --http-port "$STREAM_HTTP_PORT" --hook-base "http://127.0.0.1:$PORT/streaming/hooks" \
        --media-dir "$STREAM_MEDIA_DIR"
    log "RTMP ingest on :$STREAM_RTMP_PORT, HLS origin on :$STREAM_HTTP_PORT"
    nginx -c "$SERVE_DIR/nginx-rtmp.conf" -g "daemon off;" &
    pids+=("$!")
fi

supervise_wait
