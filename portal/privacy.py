"""Personal data: what is removed when, and what a person may download (docs/security.md §5).

Two registries, filled by each app's ``privacy`` module (imported in its AppConfig's
``ready``), so every app states the rules for what it holds in one place:

* ``retention_purger(name)``: ``purge(now) -> rows removed``. ``purge_personal_data``
  (the command, and the daily beat task) runs them all; each removes rows past its own
  retention setting and is idempotent, so a run that stops halfway is finished by the next.
* ``personal_data_section(name)``: ``section(user) -> JSON-able data``. ``personal_data_of``
  gathers them for the PIPL access right (``/me/data/``: a cadre downloads what the portal
  holds about them, their own phone number unmasked).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connection
from django.utils import timezone

from portal.models import AuditLog, User, UserSession

Purger = Callable[[datetime], int]
Section = Callable[[User], Any]
_PURGERS: dict[str, Purger] = {}
_SECTIONS: dict[str, Section] = {}


def retention_purger(name: str) -> Callable[[Purger], Purger]:
    """Register ``purge(now) -> rows removed`` under ``name`` (the command's output key)."""

    def register(purge: Purger) -> Purger:
        _PURGERS[name] = purge
        return purge

    return register


def purge_personal_data(*, now: datetime | None = None) -> dict[str, int]:
    """Run every registered purge; ``{name: rows removed}``."""
    now = now or timezone.now()
    return {name: purge(now) for name, purge in sorted(_PURGERS.items())}


@retention_purger("audit_log")
def audit_log_purge(now: datetime) -> int:
    """Entries older than AUDIT_RETENTION_DAYS (at least 184: the database refuses
    younger deletions too). The model refuses deletes; this is the one SQL that may."""
    cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM portal_auditlog WHERE at < %s", [cutoff])
        return int(cur.rowcount)


@retention_purger("sessions")
def sessions_purge(now: datetime) -> int:
    """Expired sessions (Django's ``clearsessions``) and the sign-in records of sessions
    that can no longer be alive (older than the longest session lifetime)."""
    DatabaseSessionStore.clear_expired()
    longest = max(settings.CADRE_SESSION_SECONDS, settings.STAFF_SESSION_MAX_SECONDS)
    removed, _ = UserSession.objects.filter(
        created_at__lt=now - timedelta(seconds=longest)
    ).delete()
    return int(removed)


def personal_data_section(name: str) -> Callable[[Section], Section]:
    """Register ``section(user) -> data`` under ``name`` (a key of the download)."""

    def register(section: Section) -> Section:
        _SECTIONS[name] = section
        return section

    return register


def personal_data_of(*, user: User) -> dict[str, Any]:
    """Everything the registered sections hold about ``user``, by section name."""
    return {name: section(user) for name, section in sorted(_SECTIONS.items())}


def _when(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


@personal_data_section("account")
def account_section(user: User) -> dict[str, Any]:
    unit = user.unit
    return {
        "username": user.username,
        "full_name": user.full_name,
        "phone": user.phone,
        "email": user.email,
        "cadre_no": user.cadre_no,
        "rank": user.rank,
        "zwdd_employee_code": user.zwdd_employee_code,
        "unit": " / ".join(u.name for u in [*unit.get_ancestors(), unit]) if unit else None,
        "active": user.is_active,
        "joined": _when(user.date_joined),
        "last_sign_in": _when(user.last_login),
        "roles": [
            {"role": role.get_kind_display(), "unit": role.unit.name}
            for role in user.roles.select_related("unit").order_by("kind", "unit__path")
        ],
    }


@personal_data_section("sign_ins")
def sign_ins_section(user: User) -> list[dict[str, Any]]:
    """The audit log's record of this person's own sign-ins and sign-outs."""
    entries = AuditLog.objects.filter(user=user, action__startswith="auth.").order_by("-at")
    return [
        {"at": _when(e.at), "action": e.action, "address": e.address, **e.detail}
        for e in entries[:1000]
    ]
