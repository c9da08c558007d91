# Zhixing portal image: web (daphne), celery worker, celery beat and the init job all run
# from this one image (see docker-compose.yml and deploy/entrypoint.sh).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=portal.settings \
    ZHIXING_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

RUN groupadd --system --gid 10001 zhixing \
    && useradd --system --uid 10001 --gid zhixing --home-dir /app --shell /usr/sbin/nologin zhixing

WORKDIR /app

# ffmpeg: the worker remuxes the origin's recordings into replays (docs/streaming.md);
# fonts-wqy-microhei: the Chinese font embedded in the 学时证明 PDFs (docs/learning.md)
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first: this layer is reused until requirements.txt changes.
COPY requirements.txt constraints.txt ./
RUN pip install -r requirements.txt -c constraints.txt

COPY --chown=zhixing:zhixing . .

# Static files are collected at build time (hashed names + compressed copies, WhiteNoise's
# manifest); the init service collects them again into the volume nginx serves.
RUN DEBUG=false SECRET_KEY=build-time-only-not-a-secret ALLOWED_HOSTS=localhost \
        python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/var /app/media \
    && chown -R zhixing:zhixing /app/var /app/media /app/staticfiles

USER zhixing
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://localhost:8000/healthz/', timeout=4).status == 200 else 1)"

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
