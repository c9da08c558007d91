# The RTMP ingest and HLS origin (docs/streaming.md): Debian's nginx with its RTMP module,
# configured from deploy/nginx-rtmp.conf (the same file make serve and the tests fill in).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx libnginx-mod-rtmp curl \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/nginx-rtmp.conf /etc/nginx/nginx-rtmp.conf.in
COPY deploy/origin-entrypoint.sh /usr/local/bin/origin-entrypoint.sh
EXPOSE 1935 8088
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
    CMD curl -fsS -o /dev/null http://localhost:8088/origin-health || exit 1
ENTRYPOINT ["/usr/local/bin/origin-entrypoint.sh"]
