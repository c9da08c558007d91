"""A database that cannot take more work is a 503 with ``Retry-After``, not a 500.

At 19:00 the pooler (PgBouncer) queues requests for a server connection; one that waits
longer than its ``query_wait_timeout``, or a PostgreSQL that refuses connections, raises
``OperationalError``. That is the portal being busy, not broken: the answer says so in
Chinese and English and tells clients (and nginx, and load balancers) when to come back.

Installed as ``handler500`` (portal/urls.py): Django calls it while handling the uncaught
exception, from any layer (a view, a template's context processor, a middleware), so the
exception is ``sys.exc_info()`` here. Any other exception keeps the plain 500 page.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader

logger = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError):
        logger.warning("database busy or unreachable: %s (%s)", type(exc).__name__, request.path)
        response = HttpResponse(
            loader.get_template("503.html").render({}),
            status=503,
            content_type="text/html; charset=utf-8",
        )
        response["Retry-After"] = str(int(settings.BUSY_RETRY_AFTER_SECONDS))
        response["Cache-Control"] = "no-store"
        return response
    return HttpResponseServerError(loader.get_template("500.html").render({}))
