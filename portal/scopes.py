"""The one place that decides which part of the org tree a user may see or manage.

Every view, export, admin page and websocket asks this module. A ``Scope`` is a set of
subtree roots (materialised paths); superusers see everything.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from portal.models import OrgUnit, Role, User


class Capability(enum.Enum):
    """What a user wants to do over a subtree."""

    MANAGE_PROGRAMMES = "manage_programmes"  # organisers
    READ_REPORTS = "read_reports"  # organisers and party-school staff
    CHECK_IN = "check_in"  # party-school staff and organisers
    READ_AUDIT_LOG = "read_audit_log"  # auditors (superusers: the whole log)
    MANAGE_GROUPS = "manage_groups"  # study groups: organisers and party-school staff


_ROLE_KINDS: dict[Capability, tuple[str, ...]] = {
    Capability.MANAGE_PROGRAMMES: (Role.Kind.ORGANISER,),
    Capability.READ_REPORTS: (Role.Kind.ORGANISER, Role.Kind.SCHOOL),
    Capability.CHECK_IN: (Role.Kind.ORGANISER, Role.Kind.SCHOOL),
    Capability.READ_AUDIT_LOG: (Role.Kind.AUDITOR,),
    Capability.MANAGE_GROUPS: (Role.Kind.ORGANISER, Role.Kind.SCHOOL),
}


@dataclass(frozen=True)
class Scope:
    everything: bool
    paths: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.everything and not self.paths

    def contains_path(self, path: str) -> bool:
        return self.everything or any(path.startswith(p) for p in self.paths)

    def contains(self, unit: OrgUnit | None) -> bool:
        if unit is None:
            return self.everything
        return self.contains_path(unit.path)

    def q(self, prefix: str = "") -> Q:
        """A filter on ``<prefix>path`` that keeps rows inside the scope."""
        if self.everything:
            return Q()
        if not self.paths:
            return Q(pk__in=[])
        q = Q()
        for path in self.paths:
            q |= Q(**{f"{prefix}path__startswith": path})
        return q

    def roots(self) -> list[OrgUnit]:
        if self.everything:
            return list(OrgUnit.get_root_nodes())
        return list(OrgUnit.objects.filter(path__in=self.paths).order_by("path"))


def _minimal(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop paths already covered by a shorter one."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    return tuple(sorted(kept))


def scope_for(*, user: User, capability: Capability) -> Scope:
    """The subtrees where ``user`` has ``capability`` (memoised on the user object)."""
    if not user.is_authenticated or not user.is_active:
        return Scope(everything=False, paths=())
    if user.is_superuser:
        return Scope(everything=True, paths=())
    cache: dict[Capability, Scope] = user.__dict__.setdefault("_zhixing_scopes", {})
    if capability not in cache:
        paths = Role.objects.filter(user=user, kind__in=_ROLE_KINDS[capability]).values_list(
            "unit__path", flat=True
        )
        cache[capability] = Scope(everything=False, paths=_minimal(paths))
    return cache[capability]


def has_capability(*, user: User, capability: Capability) -> bool:
    return not scope_for(user=user, capability=capability).is_empty


def unit_get_in_scope(*, user: User, capability: Capability, code: str) -> OrgUnit:
    """Fetch a unit by code (or ``pk:<id>`` for units without a code) and authorise.

    Unknown → ``Http404``; outside the caller's scope → ``PermissionDenied`` (403, never an
    empty result).
    """
    if len(code) > 64 or "\x00" in code:  # PostgreSQL refuses NUL in text parameters
        raise Http404(_("No such unit."))
    lookup = {"pk": code[3:]} if code.startswith("pk:") else {"code": code}
    if "pk" in lookup and not lookup["pk"].isdigit():
        raise Http404(_("No such unit."))
    try:
        unit = OrgUnit.objects.get(**lookup)
    except OrgUnit.DoesNotExist as exc:
        raise Http404(_("No such unit.")) from exc
    if not scope_for(user=user, capability=capability).contains(unit):
        raise PermissionDenied(_("This unit is outside your area."))
    return unit


def user_role_kinds(*, user: User) -> set[str]:
    """The role kinds a user holds anywhere (for choosing a home page)."""
    if not user.is_authenticated:
        return set()
    return set(Role.objects.filter(user=user).values_list("kind", flat=True))
