"""Sign-ins, sign-outs and failed sign-ins in the audit log, with the client's address.

Receivers of Django's auth signals, so every way in is covered by one rule: the password
and SMS-code forms, 浙政钉 / DingTalk (allauth), and the admin's own login. The method is
what allauth recorded in the session for this sign-in (``password``, ``code``,
``socialaccount`` with its provider), else the authentication backend."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.http import request_address
from portal.masking import mask_phone, phones_masked
from portal.models import User
from portal.services import audit_log_write

_ALLAUTH_RECORDS = "account_authentication_methods"


def _method(request: HttpRequest | None, user: Any) -> dict[str, str]:
    if request is not None and request.path.startswith("/admin/"):
        return {"method": "admin"}
    session = getattr(request, "session", None)
    records = session.get(_ALLAUTH_RECORDS) if session is not None else None
    if isinstance(records, list) and records and isinstance(records[-1], dict):
        last = records[-1]
        found = {"method": str(last.get("method", ""))[:32]}
        if last.get("provider"):
            found["provider"] = str(last["provider"])[:32]
        return found
    backend = str(getattr(user, "backend", "") or "")
    return {"method": backend.rsplit(".", 1)[-1][:32] or "unknown"}


def sign_in_audit(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``."""
    if isinstance(user, User):
        audit_log_write(
            user=user,
            action="auth.sign_in",
            target=user,
            detail=_method(request, user),
            address=request_address(request),
        )


def sign_out_audit(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_out`` (user is None when the session had already ended)."""
    if isinstance(user, User):
        audit_log_write(
            user=user, action="auth.sign_out", target=user, address=request_address(request)
        )


def sign_in_failed_audit(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """``user_login_failed``: the name tried (a phone number masked), never the password.
    The entry has no user: whether that account exists is not recorded either."""
    tried = ""
    for key in ("username", "login", "phone", "email"):
        if credentials.get(key):
            tried = str(credentials[key])[:150]
            break
    tried = phones_masked(tried)
    path = request.path if request is not None else ""
    audit_log_write(
        user=None,
        action="auth.sign_in_failed",
        target=f"login:{tried}",
        detail={"admin": path.startswith("/admin/")},
        address=request_address(request),
    )


def sign_in_code_rejected_audit(
    sender: Any, request: HttpRequest, user: User, last_attempt: bool, **kwargs: Any
) -> None:
    """allauth's ``login_code_rejected``: a wrong SMS code, recorded like a wrong password
    (no user, the number masked); ``last_attempt`` when it voided the code."""
    audit_log_write(
        user=None,
        action="auth.sign_in_failed",
        target=f"login:{mask_phone(user.phone)}",
        detail={"method": "code", "last_attempt": last_attempt},
        address=request_address(request),
    )
