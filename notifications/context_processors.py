"""``inbox_unread`` for the bell in base.html (None for anonymous visitors; lazy)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def inbox(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"inbox_unread": None}

    def _count() -> int:
        from notifications.selectors import inbox_unread_count

        return inbox_unread_count(user=user)

    return {"inbox_unread": SimpleLazyObject(_count)}
