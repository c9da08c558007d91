"""Rate limiting and temporary lockout for the Django admin login (ARCHITECTURE §6).

allauth limits its own sign-in (``ACCOUNT_RATE_LIMITS``); the admin login is a separate form,
so it gets the same protection here. Failures are counted in the Django cache (Redis in
production, shared by all web processes) per username and per client IP within
``LOGIN_LOCKOUT_SECONDS``; at ``LOGIN_FAILURE_LIMIT`` failures for a username (or
``LOGIN_FAILURE_IP_LIMIT`` for an IP) further attempts are refused for
``LOGIN_LOCKOUT_SECONDS`` without checking the password, and the lockout is written to the
audit log once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal.http import request_address
from portal.services import audit_log_write

LOCKED_MESSAGE = _(
    "Too many failed sign-in attempts. The account is locked for %(minutes)d minutes; "
    "please try again later."
)


def _key(kind: str, scope: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"adminlogin:{kind}:{scope}:{digest}"


def _client_ip(request: HttpRequest | None) -> str:
    return request_address(request) or ""  # no usable address: count by username only


def _subjects(username: str, ip: str) -> list[tuple[str, str, int]]:
    subjects = []
    if username:
        subjects.append(("user", username, settings.LOGIN_FAILURE_LIMIT))
    if ip:
        subjects.append(("ip", ip, settings.LOGIN_FAILURE_IP_LIMIT))
    return subjects


def admin_login_is_locked(*, username: str, ip: str) -> bool:
    keys = [_key("lock", scope, value) for scope, value, _limit in _subjects(username, ip)]
    return bool(keys) and any(cache.get_many(keys).values())


def admin_login_failure_record(*, username: str, ip: str) -> bool:
    """Count one failure; lock the username / IP that reached its limit. True if locked now."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    locked_now = False
    for scope, value, limit in _subjects(username, ip):
        counter = _key("fail", scope, value)
        cache.add(counter, 0, timeout=window)
        try:
            failures = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, timeout=window)
            failures = 1
        if failures >= limit and cache.add(_key("lock", scope, value), 1, timeout=window):
            locked_now = True
            audit_log_write(
                user=None,
                action="admin.login_locked",
                target=f"{scope}:{value}"[:200],
                detail={
                    "username": username[:150],
                    "ip": ip,
                    "failures": failures,
                    "seconds": window,
                },
            )
    return locked_now


def admin_login_success_record(*, username: str) -> None:
    cache.delete(_key("fail", "user", username))


class RateLimitedAdminAuthenticationForm(AdminAuthenticationForm):
    """``admin.site.login_form``: refuses locked usernames/IPs before checking a password."""

    def _locked_error(self) -> ValidationError:
        minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
        return ValidationError(LOCKED_MESSAGE, code="locked", params={"minutes": minutes})

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        ip = _client_ip(self.request)
        if admin_login_is_locked(username=username, ip=ip):
            raise self._locked_error()
        try:
            cleaned = super().clean()
        except ValidationError:
            if admin_login_failure_record(username=username, ip=ip):
                raise self._locked_error() from None
            raise
        admin_login_success_record(username=username)
        return cleaned
