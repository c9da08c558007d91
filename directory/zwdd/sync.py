"""The 浙政钉 directory sync: one use case, all or nothing.

Walk the platform's directory, turn it into unit and cadre rows (``directory.zwdd.rows``)
and apply both with the import engine inside one transaction: the same checks, the same
summary line, the same audit entries (target ``zwdd:<root organisation>``). Cadres with a
浙政钉 account in the synced subtree whom the platform no longer lists are deactivated
(their sessions and sockets end). A dry run walks and checks the same, writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from directory import cadres, units
from directory.report import ImportResult
from directory.services import directory_import_table
from directory.zwdd.rows import SyncRows, sync_rows, unit_of
from directory.zwdd.walk import DirectoryWalk, directory_gateway
from portal.models import OrgUnit, User

logger = logging.getLogger(__name__)


class SyncNotConfigured(Exception):
    """The sync needs ZWDD_API_BASE, ZWDD_APP_KEY, ZWDD_APP_SECRET and ZWDD_TENANT_ID."""


@dataclass
class SyncProblem:
    what: str  # the organisation or employee (code and name) the row came from
    column: str
    reason: str


@dataclass
class SyncResult:
    units: ImportResult
    cadres: ImportResult
    organizations: int = 0
    employees: int = 0
    calls: int = 0
    problems: list[SyncProblem] = field(default_factory=list)
    applied: bool = False


class _Rollback(Exception):
    pass


def sync_configured() -> bool:
    return all(
        getattr(settings, name)
        for name in ("ZWDD_API_BASE", "ZWDD_APP_KEY", "ZWDD_APP_SECRET", "ZWDD_TENANT_ID")
    )


def _problems(result: ImportResult, origin: dict[int, str]) -> list[SyncProblem]:
    return [
        SyncProblem(origin.get(e.line, f"#{e.line}"), e.column, e.reason) for e in result.errors
    ]


def _keys() -> dict[str, int]:
    return {
        str(key): int(pk)
        for pk, key in OrgUnit.objects.annotate(key=units.unit_keys()).values_list("pk", "key")
        if key
    }


def directory_sync_zwdd(*, dry_run: bool = False, by: User | None = None) -> SyncResult:
    """Raises ``SyncNotConfigured``, or ``portal.zwdd.GatewayError`` when the platform
    cannot be walked (nothing is written then)."""
    if not sync_configured():
        raise SyncNotConfigured
    walk = DirectoryWalk(
        gateway_=directory_gateway(),
        tenant_id=settings.ZWDD_TENANT_ID,
        page_size=settings.ZWDD_DIRECTORY_PAGE_SIZE,
    )
    directory = walk.walk(settings.ZWDD_DIRECTORY_ROOT)
    root_parent_key = ""
    root_unit = unit_of(directory.root)
    if directory.root.parent_code and (root_unit is None or root_unit.kind != "province"):
        # the sync starts below the province: the root hangs from its parent's unit
        parents = walk.organizations([directory.root.parent_code])
        above = unit_of(parents[0]) if parents else None
        root_parent_key = above.key if above is not None else ""
    rows = sync_rows(directory, root_parent_key=root_parent_key)
    source = f"zwdd:{directory.root.code}"
    result = SyncResult(
        units=ImportResult(kind="units"),
        cadres=ImportResult(kind="cadres"),
        organizations=len(directory.organizations),
        employees=len(directory.employees),
        calls=walk.calls,
    )
    try:
        with transaction.atomic():
            _apply(rows, result, source=source, dry_run=dry_run, by=by)
    except _Rollback:
        pass
    logger.info(
        "浙政钉 directory sync%s: %d organisations, %d employees, %d calls; units %s; cadres %s",
        " (dry run)" if dry_run else "",
        result.organizations,
        result.employees,
        result.calls,
        result.units.summary,
        result.cadres.summary,
    )
    return result


def _apply(
    rows: SyncRows, result: SyncResult, *, source: str, dry_run: bool, by: User | None
) -> None:
    result.units = directory_import_table(
        kind="units", table=rows.table("units"), source=source, dry_run=dry_run, by=by
    )
    result.problems += _problems(result.units, rows.unit_origin)
    if result.units.errors:
        raise _Rollback
    keys = _keys()
    pending = {}
    if dry_run:  # the units a real run would create, with stand-in ids
        new = [row[0] for row in rows.units if row[0] not in keys]
        pending = {key: -(i + 1) for i, key in enumerate(new)}
    root = keys.get(rows.root_key)
    subtree: list[int] = []
    if root is not None:
        path = OrgUnit.objects.values_list("path", flat=True).get(pk=root)
        subtree = list(OrgUnit.objects.filter(path__startswith=path).values_list("pk", flat=True))
    result.cadres = directory_import_table(
        kind="cadres",
        table=rows.table("cadres"),
        source=source,
        dry_run=dry_run,
        missing=cadres.Missing(subtree, synced_only=True),
        pending_units=pending,
        by=by,
    )
    result.problems += _problems(result.cadres, rows.cadre_origin)
    if result.cadres.errors or dry_run:
        raise _Rollback
    result.applied = True
