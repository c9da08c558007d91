"""From the 浙政钉 directory to the import's rows (the same columns as a file).

Organisations → units (rules in docs/directory.md, configurable in settings):

1. an internal institution (``ZWDD_DIRECTORY_SKIP_TYPES``) is not a unit: its people
   belong to the unit above it;
2. a name with 组织部 is an organisation department, with 党校 or 行政学院 a party school;
3. a territorial node (``ZWDD_DIRECTORY_TERRITORIAL_TYPES``) with an administrative
   division code is the province, a city, county, township or village by that code, and
   its 单位编码 is the 12-digit code — so it meets the tree a spreadsheet import made;
4. anything else is an agency (机关) with the organisation code as its 单位编码.

Employees → cadres, matched by their 浙政钉 employee code: a known cadre keeps their
干部编号, mobile number and rank (the platform does not return them); a new one gets the
employee code as 干部编号 (hashed when longer than 32 characters) and signs in with 浙政钉.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings

from directory import cadres, units
from directory.reading import Table
from directory.zwdd.walk import Directory, Organization
from portal.models import OrgUnit, User

_LABEL: dict[str, str] = {str(kind): label for label, kind in units.KINDS.items()}
_DIVISION = re.compile(r"^[0-9]{6}(?:[0-9]{6})?$")


def _division_kind(code: str) -> str:
    digits = code.ljust(12, "0")
    if digits[2:] == "0" * 10:
        return OrgUnit.Kind.PROVINCE
    if digits[4:] == "0" * 8:
        return OrgUnit.Kind.CITY
    if digits[6:] == "0" * 6:
        return OrgUnit.Kind.COUNTY
    if digits[9:] == "000":
        return OrgUnit.Kind.TOWNSHIP
    return OrgUnit.Kind.VILLAGE


@dataclass(frozen=True)
class UnitOf:
    """What an organisation becomes: its 单位编码 and kind, or nothing (not a unit)."""

    key: str
    kind: str


def unit_of(organization: Organization) -> UnitOf | None:
    if organization.type_code in settings.ZWDD_DIRECTORY_SKIP_TYPES:
        return None
    if "组织部" in organization.name:
        return UnitOf(organization.code, OrgUnit.Kind.ORG_DEPARTMENT)
    if "党校" in organization.name or "行政学院" in organization.name:
        return UnitOf(organization.code, OrgUnit.Kind.PARTY_SCHOOL)
    division = organization.division_code
    if organization.type_code in settings.ZWDD_DIRECTORY_TERRITORIAL_TYPES and _DIVISION.match(
        division
    ):
        return UnitOf(division.ljust(12, "0"), _division_kind(division))
    return UnitOf(organization.code, OrgUnit.Kind.BUREAU)


def cadre_no_for(employee_code: str) -> str:
    """A new cadre's 干部编号: the employee code itself where it fits the column."""
    if cadres.CADRE_NO_RE.match(employee_code):
        return employee_code
    return "ZD-" + hashlib.sha256(employee_code.encode()).hexdigest()[:29]


@dataclass
class SyncRows:
    """Both tables and, per line, what the line came from (for the report)."""

    units: list[list[str]] = field(default_factory=list)
    unit_origin: dict[int, str] = field(default_factory=dict)
    cadres: list[list[str]] = field(default_factory=list)
    cadre_origin: dict[int, str] = field(default_factory=dict)
    root_key: str = ""

    def table(self, kind: str) -> Table:
        header, rows = (
            (list(units.COLUMNS.values()), self.units)
            if kind == "units"
            else (list(cadres.COLUMNS.values()), self.cadres)
        )
        numbered: Iterator[tuple[int, list[str]]] = (
            (line, cells) for line, cells in enumerate(rows, start=2)
        )
        return Table(header=header, rows=numbered, encoding="zwdd")


def sync_rows(directory: Directory, *, root_parent_key: str = "") -> SyncRows:
    """``root_parent_key``: the 单位编码 above the root when the sync starts below the
    province (the unit the root hangs from)."""
    out = SyncRows()
    by_code = {o.code: o for o in directory.organizations}
    unit_key: dict[str, str] = {}  # organisation code → the 单位编码 of its unit (or above)
    for organization in directory.organizations:  # breadth first: parents come first
        parent = by_code.get(organization.parent_code)
        above = unit_key.get(parent.code, "") if parent is not None else root_parent_key
        made = unit_of(organization)
        if made is None:
            unit_key[organization.code] = above
            continue
        unit_key[organization.code] = made.key
        out.units.append([made.key, organization.name, above, _LABEL[made.kind]])
        out.unit_origin[len(out.units) + 1] = f"{organization.code} {organization.name}".strip()
    root = unit_of(directory.root)
    out.root_key = root.key if root is not None else root_parent_key

    # A known cadre keeps what the platform does not return. An account made by hand with
    # this employee code (no 干部编号) is left to the engine's check: reported, not taken.
    known: dict[str, tuple[str, str, str]] = {
        str(code): (str(cadre_no), phone or "", rank or "")
        for code, cadre_no, phone, rank in User.objects.filter(
            zwdd_employee_code__in=[e.code for e in directory.employees], cadre_no__isnull=False
        ).values_list("zwdd_employee_code", "cadre_no", "phone", "rank")
    }
    for employee in directory.employees:
        cadre_no, phone, rank = known.get(employee.code, (cadre_no_for(employee.code), "", ""))
        out.cadres.append(
            [
                cadre_no,
                employee.name,
                phone,
                unit_key.get(employee.organization_code, ""),
                employee.code,
                rank,
                "在职" if employee.active else "离职",
            ]
        )
        out.cadre_origin[len(out.cadres) + 1] = f"{employee.code} {employee.name}".strip()
    return out
