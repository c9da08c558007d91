#!/bin/sh
# Fill deploy/nginx-rtmp.conf's placeholders for the compose origin and run nginx.
#   STREAM_HOOK_SECRET (required)  STREAM_HOOK_BASE (http://web:8000/streaming/hooks)
#   STREAM_MEDIA_DIR (/srv/stream: hls/, recordings/, replays/; shared with the worker)
set -eu
: "${STREAM_HOOK_SECRET:?set STREAM_HOOK_SECRET (letters and digits) in .env}"
HOOK_BASE="${STREAM_HOOK_BASE:-http://web:8000/streaming/hooks}"
MEDIA="${STREAM_MEDIA_DIR:-/srv/stream}"
mkdir -p /run/origin/rtmp-temp/body /run/origin/rtmp-temp/proxy /run/origin/rtmp-temp/fastcgi \
    /run/origin/rtmp-temp/uwsgi /run/origin/rtmp-temp/scgi "$MEDIA/hls" "$MEDIA/recordings" \
    "$MEDIA/replays"
chown www-data "$MEDIA/hls" "$MEDIA/recordings"
chown 10001 "$MEDIA/replays"  # the portal's worker (uid 10001 in its image) writes the replays
sed -e "s|@MODULES@|/usr/lib/nginx/modules|" \
    -e "s|@USER_LINE@|user www-data;|" \
    -e "s|@RUN_DIR@|/run/origin|g" -e "s|@LOG_DIR@|/var/log/nginx|g" \
    -e "s|@RTMP_LISTEN@|1935|" -e "s|@RTMP_PORT@|1935|" -e "s|@HTTP_LISTEN@|8088|" \
    -e "s|@HOOK_BASE@|$HOOK_BASE|g" -e "s|@HOOK_SECRET@|$STREAM_HOOK_SECRET|g" \
    -e "s|@HLS_DIR@|$MEDIA/hls|" -e "s|@RECORD_DIR@|$MEDIA/recordings|" \
    -e "s|@MEDIA_PARENT@|$MEDIA|g" \
    /etc/nginx/nginx-rtmp.conf.in > /etc/nginx/nginx-rtmp.conf
exec nginx -c /etc/nginx/nginx-rtmp.conf -g "daemon off;"
