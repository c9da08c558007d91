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
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.summaries.sync import summaries_sync_users
from directory import cadres, units
from directory.models import DirectoryImport
from directory.reading import FileUnreadable, Table, table_open
from directory.report import ImportResult, RowError
from portal.models import OrgUnit, User
from portal.scopes import Capability, Scope, scope_for
from portal.services import audit_log_write
from portal.sessions.revoke import user_sessions_end_many

logger = logging.getLogger(__name__)
KINDS = ("units", "cadres")


class _Rollback(Exception):
    """Leave the transaction without applying (a dry run, or bad rows found late)."""


def _unit_codes(scope: Scope | None) -> tuple[dict[str, int], set[str]]:
    inside: dict[str, int] = {}
    outside: set[str] = set()
    for pk, code, path in OrgUnit.objects.annotate(key=units.unit_keys()).values_list(
        "pk", "key", "path"
    ):
        if not code:
            continue
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
    progress: Callable[[int, float | None], None] | None = None,
) -> ImportResult:
    """Import a units or cadres file (``.csv`` or ``.xlsx``). ``scope``: the importer's
    area (rows outside it are errors); None for an operator at the command line."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    try:
        table = table_open(path)
    except FileUnreadable as exc:
        result = ImportResult(kind=kind)
        result.errors.append(RowError(1, "", _("The file cannot be read: %(why)s") % {"why": exc}))
        return result
    return directory_import_table(
        kind=kind,
        table=table,
        source=f"file:{path.name}",
        dry_run=dry_run,
        deactivate_missing=deactivate_missing,
        scope=scope,
        by=by,
        progress=progress,
    )


def directory_import_table(
    *,
    kind: str,
    table: Table,
    source: str,
    dry_run: bool = False,
    deactivate_missing: bool = False,
    missing: cadres.Missing | None = None,
    pending_units: dict[str, int] | None = None,
    scope: Scope | None = None,
    by: User | None = None,
    progress: Callable[[int, float | None], None] | None = None,
) -> ImportResult:
    """The import engine over rows in the file's columns, wherever they come from (a file,
    the 浙政钉 directory). ``source`` names them in the audit log. Cadres the rows no longer
    list are deactivated with ``deactivate_missing`` (those of the units the rows name) or
    as ``missing`` says. ``pending_units``: 单位编码 a dry run of units would create, with
    stand-in ids, so a dry run of cadres can count the rows that go there."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if connection.vendor != "postgresql":
        raise RuntimeError("the directory import needs PostgreSQL (COPY and set-based SQL)")
    result = ImportResult(kind=kind)
    tick: Callable[[int], None] | None = None
    if progress is not None:
        report = progress

        def tick(rows: int) -> None:
            report(rows, table.done_fraction())

    try:
        if kind == "cadres":
            if missing is None and deactivate_missing:
                missing = cadres.Missing()
            _cadres(table, result, dry_run, missing, scope, tick, pending_units or {})
        else:
            units.units_import(
                table=table, result=result, dry_run=dry_run, scope=scope, progress=tick
            )
    except FileUnreadable as exc:
        result.errors.append(RowError(1, "", _("The file cannot be read: %(why)s") % {"why": exc}))
        result.applied = False
    if result.applied:
        audit_log_write(
            user=by,
            action=f"directory.import_{kind}",
            target=source,
            detail=result.counts(),
        )
    return result


def _cadres(
    table: Table,
    result: ImportResult,
    dry_run: bool,
    missing: cadres.Missing | None,
    scope: Scope | None,
    progress: Callable[[int], None] | None,
    pending_units: dict[str, int],
) -> None:
    inside, outside = _unit_codes(scope)
    if pending_units:
        if not dry_run:
            raise ValueError("units still to be created are for a dry run only")
        inside.update(pending_units)
    check = cadres.CadreRows(table, inside, outside, progress=progress)
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
            covered = missing
            if covered is not None and covered.unit_ids is None:
                covered = cadres.Missing(sorted(check.unit_ids), covered.synced_only)
            if covered is not None:
                result.deactivated += cadres.missing_count(cursor, covered)
            if dry_run:
                raise _Rollback
            applied = cadres.stage_apply(cursor, missing=covered)
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


# -- uploads in the admin -----------------------------------------------------------------


def upload_progress_key(import_id: int) -> str:
    return f"zx:directory:{import_id}:rows"


def directory_upload_create(
    *, by: User, kind: str, upload: Any, deactivate_missing: bool
) -> DirectoryImport:
    """Record an organiser's file and check it in the background (nothing is applied)."""
    scope = _upload_scope(by)
    unit = None if scope is None else OrgUnit.objects.filter(path=scope.paths[0]).first()
    row = DirectoryImport.objects.create(
        kind=kind,
        file=upload,
        file_name=str(getattr(upload, "name", "file"))[:200],
        deactivate_missing=deactivate_missing,
        by=by,
        unit=unit,
    )
    audit_log_write(user=by, action="directory.upload", target=row, detail={"kind": kind})
    from directory.tasks import directory_upload_check_task

    transaction.on_commit(lambda: directory_upload_check_task.delay(row.pk))
    return row


def directory_upload_confirm(*, row: DirectoryImport, by: User) -> bool:
    """Apply a checked file (once: a second confirmation is a no-op)."""
    claimed = DirectoryImport.objects.filter(
        pk=row.pk, status=DirectoryImport.Status.CHECKED
    ).update(status=DirectoryImport.Status.APPLYING)
    if not claimed:
        return False
    audit_log_write(user=by, action="directory.confirm", target=row, detail={})
    from directory.tasks import directory_upload_apply_task

    transaction.on_commit(lambda: directory_upload_apply_task.delay(row.pk))
    return True


def _upload_scope(user: User) -> Scope | None:
    if user.is_superuser:
        return None
    scope = scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES)
    if scope.is_empty:
        raise PermissionDenied("no area to import into")
    return scope


def directory_upload_run(*, import_id: int, apply: bool) -> None:
    """The check (``apply=False``) or the import of an uploaded file (a Celery task's body;
    running it again for a finished row does nothing)."""
    row = DirectoryImport.objects.select_related("by").get(pk=import_id)
    wanted = DirectoryImport.Status.APPLYING if apply else DirectoryImport.Status.CHECKING
    if row.status != wanted or row.by is None:
        return
    key = upload_progress_key(import_id)
    cache.set(key, 0, 3600)

    def progress(rows: int, fraction: float | None) -> None:
        cache.set(key, rows, 3600)

    try:
        result = directory_import(
            kind=row.kind,
            path=Path(row.file.path),
            dry_run=not apply,
            deactivate_missing=row.deactivate_missing,
            scope=_upload_scope(row.by),
            by=row.by,
            progress=progress,
        )
    except Exception:
        logger.exception("directory: import %s failed", import_id)
        DirectoryImport.objects.filter(pk=import_id).update(status=DirectoryImport.Status.FAILED)
        raise
    cache.set(key, result.rows, 3600)
    if result.errors:
        status = DirectoryImport.Status.REJECTED
    elif apply:
        status = DirectoryImport.Status.APPLIED
    else:
        status = DirectoryImport.Status.CHECKED
    DirectoryImport.objects.filter(pk=import_id).update(
        status=status,
        counts=result.counts(),
        errors=[[e.line, e.column, e.reason] for e in result.errors[: DirectoryImport.ERRORS_KEPT]],
        error_count=len(result.errors),
        applied_at=timezone.now() if apply and not result.errors else None,
    )
