"""Small helpers shared by the views of every app."""

from __future__ import annotations

import ipaddress

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from portal.models import User


def request_user(request: HttpRequest) -> User:
    """The signed-in user, typed (views run behind ``login_required``)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def request_address(request: HttpRequest | None) -> str | None:
    """The client's IP address (behind ``ALLAUTH_TRUSTED_PROXY_COUNT`` proxies), or None
    when the request has no usable one. The one rule for rate limits and the audit log."""
    if request is None:
        return None
    try:
        address = str(get_adapter(request).get_client_ip(request))
        return str(ipaddress.ip_address(address))
    except Exception:  # no usable address (a test client, a malformed header)
        return None
