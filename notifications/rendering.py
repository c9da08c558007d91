"""Message texts: Django templates with a fixed set of placeholders, validated up front.

Texts are rendered by a private template engine (no loaders, no autoescape: these are
plain-text messages, never HTML; the in-site inbox inserts them as text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Node, VariableNode
from django.utils import timezone
from django.utils.translation import gettext as _

PLACEHOLDERS = ("title", "time", "speaker", "link", "programme", "note")
# What an SMS may show of free-text fields, so a long lecture title cannot push a
# validated template over the length limit.
SMS_FIELD_MAX = {"title": 30, "speaker": 20, "programme": 20, "note": 40}
SAMPLE = {
    "title": "人" * SMS_FIELD_MAX["title"],
    "time": "12月31日 19:30",
    "speaker": "讲" * SMS_FIELD_MAX["speaker"],
    "link": "",  # filled from SITE_URL
    "programme": "专" * SMS_FIELD_MAX["programme"],
    "note": "注" * SMS_FIELD_MAX["note"],
}
MESSAGES_DIR = Path(__file__).resolve().parent / "templates" / "notifications" / "messages"
WECHAT_APPID_RE = re.compile(r"^wx[0-9a-f]{16}$")
OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
USERID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def _err(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(autoescape=False, string_if_invalid="", libraries={}, builtins=None)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _variables(nodes: list[Node]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, VariableNode):
            var = node.filter_expression.var
            lookups = getattr(var, "lookups", None)
            if lookups:
                names.add(lookups[0])
    return names


def _compile(source: str, field: str) -> object:
    try:
        template = _engine().from_string(source)
    except TemplateSyntaxError as exc:
        raise _err(field, _("Template error: %(error)s") % {"error": exc}, "syntax") from exc
    unknown = _variables(template.nodelist.get_nodes_by_type(VariableNode)) - set(PLACEHOLDERS)
    if unknown:
        raise _err(
            field,
            _("Unknown placeholder: %(names)s. Allowed: %(allowed)s.")
            % {
                "names": ", ".join(sorted(unknown)),
                "allowed": ", ".join(PLACEHOLDERS),
            },
            "unknown_placeholder",
        )
    return template


def sample_context() -> dict[str, str]:
    return {**SAMPLE, "link": f"{settings.SITE_URL.rstrip('/')}/lectures/99999/"}


def template_validate(*, channel: str, subject: str, body: str) -> None:
    """Raise ``ValidationError`` for syntax errors, unknown placeholders, SMS over length."""
    if not body.strip():
        raise _err("body", _("The text may not be empty."), "empty")
    _compile(subject, "subject")
    _compile(body, "body")
    if channel == "sms":
        text = render_text(body, sample_context(), channel=channel)
        limit = settings.NOTIFY_SMS_MAX_CHARS
        if len(text) > limit:
            raise _err(
                "body",
                _(
                    "With the longest title and speaker the SMS has %(n)s characters; "
                    "at most %(limit)s are allowed."
                )
                % {"n": len(text), "limit": limit},
                "sms_too_long",
            )


def render_text(source: str, context: dict[str, str], *, channel: str) -> str:
    template = _engine().from_string(source)
    if channel == "sms":
        context = {
            k: (v if len(v) <= SMS_FIELD_MAX.get(k, 10_000) else v[: SMS_FIELD_MAX[k] - 1] + "…")
            for k, v in context.items()
        }
    return " ".join(template.render(Context(context, autoescape=False)).split())


def default_source(*, channel: str, kind: str) -> tuple[str, str]:
    """The built-in (subject, body) for a channel and kind (SMS has its own short texts)."""
    folder = MESSAGES_DIR / ("sms" if channel == "sms" else "default")
    body = (folder / f"{kind}.txt").read_text(encoding="utf-8")
    subject_path = MESSAGES_DIR / "default" / f"{kind}.subject.txt"
    subject = subject_path.read_text(encoding="utf-8") if subject_path.exists() else ""
    return subject, body


def format_time(value: datetime) -> str:
    local = timezone.localtime(value)
    weekday = "一二三四五六日"[local.weekday()]
    return f"{local.month}月{local.day}日（周{weekday}）{local:%H:%M}"


def binding_validate(*, channel: str, address: str, appid: str) -> None:
    """Check an address for a channel; WeChat openids belong to the configured appid."""
    if channel == "sms" and not PHONE_RE.match(address):
        raise _err("address", _("Enter a valid 11-digit mainland mobile number."), "phone")
    if channel == "wechat":
        if not OPENID_RE.match(address):
            raise _err("address", _("This is not a WeChat openid."), "openid")
        expected = settings.NOTIFY_WECHAT_APPID
        if not WECHAT_APPID_RE.match(appid or ""):
            raise _err("appid", _("Enter the WeChat appid (wx…)."), "appid")
        if expected and appid != expected:
            raise _err(
                "appid",
                _(
                    "This openid belongs to another official account (%(appid)s); "
                    "notices are sent from %(expected)s."
                )
                % {"appid": appid, "expected": expected},
                "other_appid",
            )
    if channel in ("dingtalk", "zwdd") and not USERID_RE.match(address):
        raise _err("address", _("This is not a valid account id."), "userid")
