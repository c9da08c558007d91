"""Receipt webhooks: Aliyun SMS reports and WeChat TEMPLATESENDJOBFINISH events.

Both are verified before anything is read (Aliyun: a shared token configured in the
callback URL or the ``X-Zhixing-Token`` header; WeChat: the SHA-1 signature over token,
timestamp and nonce) and replays are rejected (a body or nonce seen before → 409, a stale
WeChat timestamp → 403).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from notifications import services
from notifications.providers.base import Receipt

WECHAT_MAX_SKEW = 300
MAX_BODY = 1_000_000


def _bad(status: int, code: str) -> JsonResponse:
    return JsonResponse({"code": code}, status=status)


@csrf_exempt
@require_POST
def aliyun_sms_report(request: HttpRequest) -> HttpResponse:
    expected = settings.NOTIFY_ALIYUN_RECEIPT_TOKEN
    given = request.headers.get("X-Zhixing-Token") or request.GET.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _bad(403, "bad_token")
    if len(request.body) > MAX_BODY:
        return _bad(413, "too_large")
    try:
        reports = json.loads(request.body)
    except ValueError:
        return _bad(400, "bad_json")
    if not isinstance(reports, list) or not all(isinstance(r, dict) for r in reports):
        return _bad(400, "bad_json")
    digest = hashlib.sha256(request.body).hexdigest()
    if not services.webhook_replay_check(key=f"aliyun:{digest}"):
        return _bad(409, "replayed")
    receipts = [
        Receipt(
            provider_message_id=str(r.get("biz_id", "")),
            address=str(r.get("phone_number", "")),
            delivered=bool(r.get("success")),
            code=str(r.get("err_code", "")),
            batch_id=str(r.get("out_id", "")).split(".")[0],
        )
        for r in reports
    ]
    services.receipt_apply(channel="sms", receipts=receipts)
    return JsonResponse({"code": 0, "msg": "成功"})


def _wechat_signature_ok(request: HttpRequest) -> bool:
    token = settings.NOTIFY_WECHAT_TOKEN
    signature = request.GET.get("signature", "")
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")
    if not token or not signature or not timestamp.isdigit() or not nonce:
        return False
    expected = hashlib.sha1(  # noqa: S324 (the algorithm WeChat uses)
        "".join(sorted([token, timestamp, nonce])).encode()
    ).hexdigest()
    return hmac.compare_digest(expected, signature)


_TAG = re.compile(r"<(\w+)>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))\s*</\1>", re.S)


def _xml_fields(body: bytes) -> dict[str, str]:
    """The flat fields of a WeChat push (no XML parser: no entities, no DTDs)."""
    text = body.decode("utf-8", errors="replace")
    return {
        m.group(1): (m.group(2) if m.group(2) is not None else m.group(3)).strip()
        for m in _TAG.finditer(text)
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wechat_event(request: HttpRequest) -> HttpResponse:
    if not _wechat_signature_ok(request):
        return _bad(403, "bad_signature")
    if abs(time.time() - int(request.GET["timestamp"])) > WECHAT_MAX_SKEW:
        return _bad(403, "stale")
    if request.method == "GET":  # the server URL check
        return HttpResponse(request.GET.get("echostr", ""), content_type="text/plain")
    if len(request.body) > MAX_BODY:
        return _bad(413, "too_large")
    key = f"wx:{request.GET['timestamp']}:{request.GET['nonce']}"
    if not services.webhook_replay_check(key=key):
        return _bad(409, "replayed")
    fields = _xml_fields(request.body)
    if fields.get("Event") == "TEMPLATESENDJOBFINISH":
        status = fields.get("Status", "")
        services.receipt_apply(
            channel="wechat",
            receipts=[
                Receipt(
                    provider_message_id=fields.get("MsgID", ""),
                    address=fields.get("FromUserName", ""),
                    delivered=status == "success",
                    code=status.replace(" ", "_")[:60],
                )
            ],
        )
    return HttpResponse("success", content_type="text/plain")
