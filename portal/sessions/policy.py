"""Session rules by role.

* A cadre stays signed in for ``CADRE_SESSION_SECONDS`` (14 days) from the last sign-in, so
  the weekly lecture needs no sign-in at all (and no 19:00 password check).
* Staff (organisers, party-school staff, admins, anyone with a ``Role``) are signed out
  after ``STAFF_SESSION_IDLE_SECONDS`` without a request and, however active, after
  ``STAFF_SESSION_MAX_SECONDS`` since they signed in.

Applied at every sign-in (``user_logged_in``: password, SMS code, 浙政钉, the admin) and, for
staff, when their session is loaded (``RolePolicyMixin``): a staff session that is in use
is saved at most once a minute, which slides its expiry. Cadre sessions are not touched.
Signing out ends only the session of that device.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from portal.models import Role, User

STAFF_KEY = "_zx_staff"  # {"at": signed in (epoch s), "seen": last touch (epoch s)}
TOUCH_SECONDS = 60


def is_staff_user(*, user: User) -> bool:
    return bool(user.is_staff or user.is_superuser or Role.objects.filter(user_id=user.pk).exists())


def session_policy_apply(*, session: SessionBase, user: User) -> None:
    now = time.time()
    if is_staff_user(user=user):
        session.set_expiry(settings.STAFF_SESSION_IDLE_SECONDS)
        session[STAFF_KEY] = {"at": now, "seen": now}
    else:
        session.set_expiry(settings.CADRE_SESSION_SECONDS)
        session.pop(STAFF_KEY, None)


def session_policy_on_login(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """``user_logged_in`` receiver (connected in ``PortalConfig.ready``)."""
    if request is not None and hasattr(request, "session"):
        session_policy_apply(session=request.session, user=user)


def _checked(store: SessionBase, data: dict[str, Any]) -> dict[str, Any]:
    staff = data.get(STAFF_KEY)
    if not isinstance(staff, dict):
        return data
    now = time.time()
    if now - float(staff.get("at", 0)) > settings.STAFF_SESSION_MAX_SECONDS:
        return {}  # signed out; the emptied session is deleted when the response is saved
    if now - float(staff.get("seen", 0)) >= TOUCH_SECONDS:
        staff["seen"] = now
        store.modified = True  # saved with this response: the idle expiry slides
    return data


class RolePolicyMixin:
    """For a ``SessionStore``: the staff rules above when a session is loaded."""

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = super().load()  # type: ignore[misc]
        return _checked(self, data)  # type: ignore[arg-type]

    async def aload(self) -> dict[str, Any]:
        data: dict[str, Any] = await super().aload()  # type: ignore[misc]
        return _checked(self, data)  # type: ignore[arg-type]
