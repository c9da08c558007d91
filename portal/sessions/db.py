"""Database sessions with the role rules (``SESSION_ENGINE`` without Redis)."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DBStore

from portal.sessions.policy import RolePolicyMixin


class SessionStore(RolePolicyMixin, DBStore):
    pass
