"""The origin's callbacks (nginx-rtmp ``on_publish`` & co., deploy/nginx-rtmp.conf): thin
views over livestream/streaming/services.py. Each call must carry the shared token
(STREAM_HOOK_SECRET) and come from an allowed address (the origin: loopback by default);
anything else is 403 and changes nothing. A 2xx lets nginx-rtmp go on, a 3xx on publish
renames the stream to the lecture's public name, anything else drops the push."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from livestream.streaming import services
from portal.http import request_address

logger = logging.getLogger(__name__)

NAME_MAX = 200


def _allowed(address: str | None) -> bool:
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    for entry in settings.STREAM_HOOK_ALLOWED_ADDRESSES:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            logger.warning("STREAM_HOOK_ALLOWED_ADDRESSES: %r is not an address", entry)
    return False


def hook(fn: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(fn)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        secret = str(settings.STREAM_HOOK_SECRET)
        token = request.GET.get("token", "")
        address = request_address(request)
        if not secret or not hmac.compare_digest(token.encode(), secret.encode()):
            logger.warning("stream hook %s refused: bad token from %s", request.path, address)
            return HttpResponse("forbidden\n", status=403, content_type="text/plain")
        if not _allowed(address):
            logger.warning("stream hook %s refused: address %s", request.path, address)
            return HttpResponse("forbidden\n", status=403, content_type="text/plain")
        name = request.POST.get("name", "")
        if not name or len(name) > NAME_MAX or not name.replace("-", "").isalnum():
            return HttpResponse("bad name\n", status=400, content_type="text/plain")
        return fn(request, name, *args, **kwargs)

    return csrf_exempt(require_POST(wrapper))


@hook
def publish(request: HttpRequest, name: str) -> HttpResponse:
    result = services.stream_publish(key=name, address=request.POST.get("addr") or None)
    if result is None:
        return HttpResponse("unknown key\n", status=403, content_type="text/plain")
    response = HttpResponse(status=302)
    response["Location"] = result.public_name  # nginx-rtmp renames the stream to it
    return response


@hook
def publish_done(request: HttpRequest, name: str) -> HttpResponse:
    services.stream_publish_done(name=name)
    return HttpResponse("ok\n", content_type="text/plain")


@hook
def update(request: HttpRequest, name: str) -> HttpResponse:
    if not services.stream_update(name=name):
        return HttpResponse("gone\n", status=403, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@hook
def record_done(request: HttpRequest, name: str) -> HttpResponse:
    path = request.POST.get("path", "")
    services.recording_done(name=name, path=path[:500])
    return HttpResponse("ok\n", content_type="text/plain")
