"""Security headers on every response: Content-Security-Policy and Permissions-Policy.

django-csp builds the policy from :func:`portal.csp.policy_config`; this middleware runs
natively under both WSGI and ASGI (django-csp's own is a ``MiddlewareMixin``, which under
daphne hops to a thread twice per request) and reuses the built header while a response
asks for nothing of its own (no nonce, no per-view addition)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from portal.csp import policy_config
from portal.http import address_bound, request_address


class SecurityHeadersMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.nonces = CSPMiddleware(get_response)  # request.csp_nonce, made on first use
        self._built: tuple[int, str] | None = None
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        self.nonces.process_request(request)
        return self._finish(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        self.nonces.process_request(request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return self._finish(request, await get_response(request))

    def _policy(self, request: HttpRequest, response: HttpResponseBase) -> str:
        config = policy_config()
        update = getattr(response, "_csp_update", None)
        replace = getattr(response, "_csp_replace", None)
        nonce = getattr(request, "_csp_nonce", None)
        if update or replace or nonce:
            return build_policy(config=config, update=update, replace=replace, nonce=nonce)
        if self._built is None or self._built[0] != id(config):
            self._built = (id(config), build_policy(config=config))
        return self._built[1]

    def _finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        # Django's technical debug pages style themselves inline.
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        exempt = debug_page or getattr(response, "_csp_exempt", False)
        if not exempt and HEADER not in response:
            response[HEADER] = self._policy(request, response)
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response


class ClientAddressMiddleware:
    """Bind the request's client address for the audit log (``portal.http.current_address``):
    every row a request writes, however deep, carries it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        with address_bound(lambda: request_address(request)):
            return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        with address_bound(lambda: request_address(request)):
            return await self.get_response(request)
