"""Importing the directory: one use case per kind, all-or-nothing.

Every row is checked while the file streams; then, in one transaction, the good rows are
staged and checked against the database (numbers and accounts held by others). Any bad row
and nothing is applied. Otherwise the rows are applied with set-based SQL, cadres who moved
take their counts along in the report summaries, and cadres who were deactivated lose their
sessions and open sockets (after commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.utils.translation import gettext as _

from courses.summaries.sync import summaries_sync_users
from directory import cadres, units
from directory.reading import FileUnreadable, table_open
from directory.report import ImportResult, RowError
from portal.models import OrgUnit, User
from portal.scopes import Scope
from portal.services import audit_log_write
from portal.sessions.revoke import user_sessions_end_many

logger = logging.getLogger(__name__)
KINDS = ("units", "cadres")


class _Rollback(Exception):
    """Leave the transaction without applying (a dry run, or bad rows found late)."""


def _unit_codes(scope: Scope | None) -> tuple[dict[str, int], set[str]]:
    inside: dict[str, int] = {}
    outside: set[str] = set()
    for pk, code, path in OrgUnit.objects.exclude(directory_code=None).values_list(
        "pk", "directory_code", "path"
    ):
        if scope is None or scope.contains_path(path):
            inside[code] = pk
        else:
            outside.add(code)
    return inside, outside


def directory_import(
    *,
    kind: str,
    path: Path,
    dry_run: bool = False,
    deactivate_missing: bool = False,
    scope: Scope | None = None,
    by: User | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a units or cadres file (``.csv`` or ``.xlsx``). ``scope``: the importer's
    area (rows outside it are errors); None for an operator at the command line."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if connection.vendor != "postgresql":
        raise RuntimeError("the directory import needs PostgreSQL (COPY and set-based SQL)")
    result = ImportResult(kind=kind)
    try:
        table = table_open(path)
    except FileUnreadable as exc:
        result.errors.append(RowError(1, "", _("The file cannot be read: %(why)s") % {"why": exc}))
        return result
    try:
        if kind == "cadres":
            _cadres(table, result, dry_run, deactivate_missing, scope, progress)
        else:
            units.units_import(
                table=table, result=result, dry_run=dry_run, scope=scope, progress=progress
            )
    except FileUnreadable as exc:
        result.errors.append(RowError(1, "", _("The file cannot be read: %(why)s") % {"why": exc}))
        result.applied = False
    if result.applied:
        audit_log_write(
            user=by,
            action=f"directory.import_{kind}",
            target=f"file:{path.name}",
            detail=result.counts(),
        )
    return result


def _cadres(
    table: object,
    result: ImportResult,
    dry_run: bool,
    deactivate_missing: bool,
    scope: Scope | None,
    progress: Callable[[int], None] | None,
) -> None:
    inside, outside = _unit_codes(scope)
    check = cadres.CadreRows(table, inside, outside, progress=progress)  # type: ignore[arg-type]
    applied: cadres.Applied | None = None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cadres.stage_create(cursor)
            cadres.stage_fill(cursor, check.good())
            result.rows = check.rows
            result.errors.extend(check.errors)
            if result.errors:
                raise _Rollback
            result.errors.extend(cadres.stage_conflicts(cursor))
            if result.errors:
                raise _Rollback
            cadres.stage_classify(cursor, result)
            covered = sorted(check.unit_ids) if deactivate_missing else None
            if covered is not None:
                result.deactivated += cadres.missing_count(cursor, covered)
            if dry_run:
                raise _Rollback
            applied = cadres.stage_apply(cursor, deactivate_missing_units=covered)
            if applied.moved_ids:
                summaries_sync_users(user_ids=applied.moved_ids)
            if applied.deactivated_ids:
                user_sessions_end_many(user_ids=applied.deactivated_ids, reason="directory")
            cursor.execute(f"DROP TABLE {cadres.STAGE}")
            result.applied = True
    except _Rollback:
        pass
    result.errors.sort(key=lambda e: (e.line, e.column))
    if applied is not None:
        logger.info(
            "directory: %s (%d created, %d moved, %d deactivated)",
            result.summary,
            len(applied.created_ids),
            len(applied.moved_ids),
            len(applied.deactivated_ids),
        )
