#!/bin/sh
# Container entry point: one image, one role per service (docker-compose.yml).
#   web      daphne on :8000 (behind nginx; proxy headers trusted)
#   worker   celery worker on every queue the settings route to (or $CELERY_QUEUES)
#   beat     celery beat — run exactly one
#   init     migrate, then collectstatic into the shared static volume (one-shot)
#   anything else is executed as given (e.g. `python manage.py createsuperuser`)
set -eu

case "${1:-web}" in
web)
    # a listen backlog for a connect storm (Twisted's default is 50)
    exec daphne -e "tcp:port=8000:backlog=${WEB_BACKLOG:-2048}" --proxy-headers \
        --websocket-max-message-size "${WS_MAX_MESSAGE_SIZE:-65536}" \
        --websocket-max-frame-size "${WS_MAX_FRAME_SIZE:-65536}" \
        --ping-interval 20 --ping-timeout 30 --application-close-timeout 10 \
        --websocket_connect_timeout "${WS_CONNECT_TIMEOUT:-30}" \
        portal.asgi:application
    ;;
worker)
    exec celery -A portal worker --loglevel "${CELERY_LOGLEVEL:-INFO}" \
        --concurrency "${CELERY_CONCURRENCY:-4}" \
        -Q "$(python scripts/celery_queues.py)" --without-mingle --without-gossip
    ;;
beat)
    exec celery -A portal beat --loglevel "${CELERY_LOGLEVEL:-INFO}" \
        --schedule /app/var/celerybeat-schedule
    ;;
init)
    python manage.py migrate --noinput
    python manage.py collectstatic --noinput -v0
    echo "init: migrated, static files collected"
    ;;
*)
    exec "$@"
    ;;
esac
