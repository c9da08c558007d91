"""Read use cases of the portal app."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.models import OrgUnit, User
from portal.scopes import Capability, has_capability


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def unit_chain(*, unit: OrgUnit | None) -> list[OrgUnit]:
    """The unit's ancestors from the root down to the unit itself."""
    if unit is None:
        return []
    return [*unit.get_ancestors(), unit]


def staff_links(*, user: User) -> list[Link]:
    links: list[Link] = []
    if user.is_staff and (
        user.is_superuser or has_capability(user=user, capability=Capability.MANAGE_PROGRAMMES)
    ):
        links.append(Link(_("Manage programmes"), reverse("admin:courses_programme_changelist")))
    if has_capability(user=user, capability=Capability.READ_REPORTS):
        links.append(Link(_("Attendance reports"), reverse("portal:reports")))
    return links


def home_url_for(*, user: User) -> str:
    """Where each kind of user lands after signing in."""
    if user.is_superuser:
        return reverse("admin:index")
    if user.is_staff and has_capability(user=user, capability=Capability.MANAGE_PROGRAMMES):
        return reverse("admin:courses_programme_changelist")
    if has_capability(user=user, capability=Capability.READ_REPORTS):
        return reverse("portal:reports")
    return reverse("home")
