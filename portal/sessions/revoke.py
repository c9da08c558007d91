"""Ending all of a user's sessions: when they are deactivated or their password changes.

Sign-ins are recorded in ``UserSession`` (``user_logged_in``), sign-outs forget theirs.
``user_sessions_end`` deletes every recorded session (row and cached copy) and, on commit,
sends ``user_sessions_ended`` so the live hubs close the user's open websockets (4401)
within ``LIVE_VIEWERS_INTERVAL_SECONDS``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.models import User, UserSession, user_sessions_ended

logger = logging.getLogger(__name__)


def user_session_record(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """``user_logged_in``: remember the session key for ``user_sessions_end``."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    UserSession.objects.update_or_create(
        session_key=session.session_key, defaults={"user_id": user.pk}
    )
    # Sessions that expired on their own leave their row; drop this user's old ones here
    # (no session lives longer than the longest lifetime).
    longest = max(settings.CADRE_SESSION_SECONDS, settings.STAFF_SESSION_MAX_SECONDS)
    UserSession.objects.filter(
        user_id=user.pk, created_at__lt=timezone.now() - timedelta(seconds=longest)
    ).delete()


def user_session_forget(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    """``user_logged_out``: this device's session is gone; the others stay."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        UserSession.objects.filter(session_key=session.session_key).delete()


def user_sessions_end(*, user_id: int, reason: str) -> int:
    """Delete every recorded session of the user; returns how many."""
    return user_sessions_end_many(user_ids=[user_id], reason=reason)


def user_sessions_end_many(*, user_ids: Sequence[int], reason: str) -> int:
    """``user_sessions_end`` for many users at once (a directory import deactivating a
    unit's leavers): one query for their sessions, one signal after commit."""
    if not user_ids:
        return 0
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(
        UserSession.objects.filter(user_id__in=user_ids).values_list("session_key", flat=True)
    )
    for key in keys:
        store_class(session_key=key).delete(key)
    UserSession.objects.filter(session_key__in=keys).delete()
    logger.info("ended %d session(s) of %d user(s) (%s)", len(keys), len(user_ids), reason)
    ids = list(user_ids)
    transaction.on_commit(
        lambda: user_sessions_ended.send(sender=User, user_ids=ids, reason=reason)
    )
    return len(keys)


def user_access_changed(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    """``post_save`` of ``User``: deactivated → all sessions end; password changed → the
    sessions are already void (Django's session hash), the open sockets are closed."""
    loaded = instance._loaded_access
    if created or loaded is None:
        return
    was_active, old_password = loaded
    instance._loaded_access = (bool(instance.is_active), str(instance.password))
    if was_active and not instance.is_active:
        user_sessions_end(user_id=instance.pk, reason="deactivated")
    elif old_password != instance.password:
        transaction.on_commit(
            lambda: user_sessions_ended.send(
                sender=User, user_ids=[instance.pk], reason="password_changed"
            )
        )
