"""Small helpers shared by the views of every app."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


# The address of the request or socket being served, for audit rows written deep inside
# a service: computed only when a row asks for it.
_ADDRESS: ContextVar[Callable[[], str | None] | None] = ContextVar("client_address", default=None)


def current_address() -> str | None:
    """The client address bound by ``ClientAddressMiddleware`` or ``address_bound``."""
    get = _ADDRESS.get()
    return get() if get is not None else None


@contextmanager
def address_bound(get: Callable[[], str | None]) -> Iterator[None]:
    token = _ADDRESS.set(get)
    try:
        yield
    finally:
        _ADDRESS.reset(token)


def address_of_scope(scope: dict[str, object]) -> str | None:
    """A websocket's client address (daphne's ``--proxy-headers`` puts nginx's
    X-Forwarded-For there)."""
    client = scope.get("client")
    if not isinstance(client, (list, tuple)) or not client:
        return None
    try:
        return str(ipaddress.ip_address(str(client[0])))
    except ValueError:
        return None
