"""The CDNs' own stream callbacks (docs/streaming.md): with STREAM_CDN_PROVIDER, the
provider tells the portal when a lecture's push starts and stops, and the same use cases as
our origin's hooks follow (stream_publish_by_name / stream_publish_done). Each provider's
published callback signature is checked; anything else is 403 and changes nothing.

* Aliyun Live, stream ingest callback: GET ``?action=publish|publish_done&id=<stream>…``,
  headers ``ALI-LIVE-TIMESTAMP`` and ``ALI-LIVE-SIGNATURE = md5("<callback host>|<ts>|<key>")``.
* Tencent Cloud CSS, push event: POST JSON ``{"event_type": 1|0, "stream_id": …, "t": <expiry>,
  "sign": md5(<key> + str(t))}``; ``t`` in the past is refused (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from livestream.streaming import services

logger = logging.getLogger(__name__)

TIMESTAMP_SKEW_SECONDS = 600  # Aliyun: a callback older (or newer) than this is refused


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def aliyun_signature(*, host: str, timestamp: str, key: str) -> str:
    return _md5(f"{host}|{timestamp}|{key}")


def tencent_signature(*, key: str, t: int) -> str:
    return _md5(f"{key}{t}")


def _refused(why: str) -> HttpResponse:
    logger.warning("CDN stream callback refused: %s", why)
    return HttpResponse("forbidden\n", status=403, content_type="text/plain")


def _apply(*, name: str, started: bool) -> HttpResponse:
    if started:
        services.stream_publish_by_name(name=name)
    else:
        services.stream_publish_done(name=name)
    return HttpResponse("ok\n", content_type="text/plain")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def aliyun(request: HttpRequest) -> HttpResponse:
    key = str(getattr(settings, "STREAM_CDN_CALLBACK_KEY", ""))
    if settings.STREAM_CDN_PROVIDER != "aliyun" or not key:
        return _refused("aliyun callbacks are not configured")
    timestamp = request.headers.get("ALI-LIVE-TIMESTAMP", "")
    signature = request.headers.get("ALI-LIVE-SIGNATURE", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TIMESTAMP_SKEW_SECONDS:
        return _refused("aliyun: missing or stale timestamp")
    host = str(getattr(settings, "STREAM_CDN_CALLBACK_HOST", "")) or request.get_host()
    expected = aliyun_signature(host=host.split(":")[0], timestamp=timestamp, key=key)
    if not hmac.compare_digest(signature.lower(), expected):
        return _refused("aliyun: bad signature")
    action = request.GET.get("action", "")
    if action not in ("publish", "publish_done"):
        return HttpResponse("bad action\n", status=400, content_type="text/plain")
    return _apply(name=request.GET.get("id", ""), started=action == "publish")


@csrf_exempt
@require_http_methods(["POST"])
def tencent(request: HttpRequest) -> HttpResponse:
    key = str(getattr(settings, "STREAM_CDN_CALLBACK_KEY", ""))
    if settings.STREAM_CDN_PROVIDER != "tencent" or not key:
        return _refused("tencent callbacks are not configured")
    try:
        body: Any = json.loads(request.body or b"{}")
    except ValueError:
        return HttpResponse("bad json\n", status=400, content_type="text/plain")
    if not isinstance(body, dict):
        return HttpResponse("bad json\n", status=400, content_type="text/plain")
    t = body.get("t")
    if isinstance(t, bool) or not isinstance(t, int) or t < time.time():
        return _refused("tencent: missing or expired t")
    if not hmac.compare_digest(str(body.get("sign", "")).lower(), tencent_signature(key=key, t=t)):
        return _refused("tencent: bad sign")
    event = body.get("event_type")
    if event not in (0, 1):
        return HttpResponse("ok\n", content_type="text/plain")  # other events: not ours
    return _apply(name=str(body.get("stream_id", "")), started=event == 1)
