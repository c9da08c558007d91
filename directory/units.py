"""Unit rows: the tree from 单位编码 / 上级单位编码, checked whole before anything is
written (parents may come after their children in the file; cycles and levels that break
the tree are errors), then applied in one transaction: renames, moves (treebeard's, so the
report summaries follow), and new units inserted in bulk with their paths computed here."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from directory.cadres import control_checked, header_errors
from directory.reading import Table
from directory.report import ImportResult, RowError
from portal.models import OrgUnit
from portal.scopes import Scope
from portal.tree import child_path, last_child_positions, numchild_grow

COLUMNS = {"code": "单位编码", "name": "单位名称", "parent": "上级单位编码", "kind": "单位类型"}
REQUIRED = ("code", "name", "parent", "kind")
KINDS = {
    "省": OrgUnit.Kind.PROVINCE,
    "市": OrgUnit.Kind.CITY,
    "县": OrgUnit.Kind.COUNTY,
    "乡": OrgUnit.Kind.TOWNSHIP,
    "村": OrgUnit.Kind.VILLAGE,
    "组织部": OrgUnit.Kind.ORG_DEPARTMENT,
    "党校": OrgUnit.Kind.PARTY_SCHOOL,
    "机关": OrgUnit.Kind.BUREAU,
}
LEVEL = {kind: i for i, kind in enumerate(OrgUnit.TERRITORIAL)}
CODE_RE = re.compile(r"^[0-9A-Za-z_\-.]{1,64}$")
NAME_MAX = 100


@dataclass
class _Row:
    line: int
    code: str
    name: str
    parent: str
    kind: str


@dataclass
class _Existing:
    pk: int
    path: str
    name: str
    kind: str
    parent: str  # the parent's directory code ('' for a root or a parent without one)


def unit_keys() -> Coalesce:
    """A unit's key in directory files: its 单位编码, else its 12-digit administrative code
    (so a first import adopts a tree made before, e.g. by hand or by the demo seeder)."""
    return Coalesce("directory_code", "code")


def _existing() -> dict[str, _Existing]:
    step = OrgUnit.steplen
    rows = list(
        OrgUnit.objects.annotate(key=unit_keys()).values_list("pk", "path", "name", "kind", "key")
    )
    code_of = {path: code or "" for _pk, path, _n, _k, code in rows}
    return {
        code: _Existing(pk, path, name, kind, code_of.get(path[:-step], ""))
        for pk, path, name, kind, code in rows
        if code
    }


def _rule_error(child_kind: str, parent_kind: str | None) -> str | None:
    """Why ``child_kind`` cannot sit below ``parent_kind`` (None: it can)."""
    if parent_kind is None:
        return (
            None if child_kind == OrgUnit.Kind.PROVINCE else _("Only a province can be the root.")
        )
    if parent_kind not in LEVEL:
        return _("Units can only be placed below a territorial unit.")
    if child_kind in LEVEL and LEVEL[child_kind] != LEVEL[parent_kind] + 1:
        return _("This unit type does not fit below a unit of type %(parent)s.") % {
            "parent": OrgUnit.Kind(parent_kind).label
        }
    return None


def units_import(
    *,
    table: Table,
    result: ImportResult,
    dry_run: bool,
    scope: Scope | None,
    progress: Callable[[int], None] | None = None,
) -> None:
    where, errors = header_errors(table.header, COLUMNS, REQUIRED)
    result.errors.extend(errors)
    if errors:
        return
    rows: dict[str, _Row] = {}
    err = result.errors.append
    for line, cells in table.rows:
        result.rows += 1
        if progress is not None and result.rows % 5000 == 0:
            progress(result.rows)
        before = len(result.errors)
        cells = control_checked(
            cells, line=line, where=where, columns=COLUMNS, errors=result.errors
        )

        def get(key: str, cells: list[str] = cells) -> str:
            i = where[key]
            return cells[i] if i < len(cells) else ""

        code, name, parent, kind_label = get("code"), get("name"), get("parent"), get("kind")
        if not code:
            err(RowError(line, COLUMNS["code"], _("The unit code is missing.")))
        elif not CODE_RE.match(code):
            err(RowError(line, COLUMNS["code"], _("Use up to 64 letters, digits, ., - or _.")))
        elif code in rows:
            err(
                RowError(
                    line,
                    COLUMNS["code"],
                    _("The same unit code is on line %(line)s.") % {"line": rows[code].line},
                )
            )
        if not name:
            err(RowError(line, COLUMNS["name"], _("The unit name is missing.")))
        elif len(name) > NAME_MAX:
            err(
                RowError(
                    line,
                    COLUMNS["name"],
                    _("The name is longer than %(n)s characters.") % {"n": NAME_MAX},
                )
            )
        if kind_label not in KINDS:
            err(
                RowError(
                    line, COLUMNS["kind"], _("Use one of 省, 市, 县, 乡, 村, 组织部, 党校, 机关.")
                )
            )
        if parent and parent == code:
            err(RowError(line, COLUMNS["parent"], _("A unit cannot be its own parent.")))
        if len(result.errors) == before:
            rows[code] = _Row(line, code, name, parent, KINDS[kind_label])
    existing = _existing()
    _check_tree(rows, existing, scope, result)
    if result.errors:
        result.errors.sort(key=lambda e: (e.line, e.column))
        return
    _classify_and_apply(rows, existing, result, dry_run)


def _kind_of(code: str, rows: dict[str, _Row], existing: dict[str, _Existing]) -> str | None:
    if code in rows:
        return rows[code].kind
    return existing[code].kind if code in existing else None


def _check_tree(
    rows: dict[str, _Row], existing: dict[str, _Existing], scope: Scope | None, result: ImportResult
) -> None:
    err = result.errors.append
    for row in rows.values():
        if row.parent and row.parent not in rows and row.parent not in existing:
            err(
                RowError(
                    row.line,
                    COLUMNS["parent"],
                    _("No unit has the code %(code)s.") % {"code": row.parent},
                )
            )
            continue
        why = _rule_error(row.kind, _kind_of(row.parent, rows, existing) if row.parent else None)
        if why:
            err(RowError(row.line, COLUMNS["kind"], why))
        if row.code in existing and existing[row.code].kind != row.kind:
            has_children = OrgUnit.objects.filter(
                path__startswith=existing[row.code].path,
                depth__gt=len(existing[row.code].path) // OrgUnit.steplen,
            ).exists()
            if has_children:
                err(
                    RowError(
                        row.line,
                        COLUMNS["kind"],
                        _("The type of a unit with units below it cannot change."),
                    )
                )
    # cycles: follow the parents inside the file
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for start in rows:
        chain: list[str] = []
        code = start
        while code in rows and state.get(code) != 2:
            if state.get(code) == 1:
                loop = chain[chain.index(code) :]
                for member in loop:
                    err(
                        RowError(
                            rows[member].line, COLUMNS["parent"], _("The parents form a cycle.")
                        )
                    )
                break
            state[code] = 1
            chain.append(code)
            code = rows[code].parent
        for member in chain:
            state[member] = 2
    if scope is not None and not scope.everything:
        for row in rows.values():
            anchor = row.code if row.code in existing else row.parent
            while anchor in rows and anchor not in existing:
                anchor = rows[anchor].parent
            path = existing[anchor].path if anchor in existing else ""
            if not path or not scope.contains_path(path):
                err(RowError(row.line, COLUMNS["code"], _("This unit is outside your area.")))


def _classify_and_apply(
    rows: dict[str, _Row], existing: dict[str, _Existing], result: ImportResult, dry_run: bool
) -> None:
    new = [r for r in rows.values() if r.code not in existing]
    moves = [r for r in rows.values() if r.code in existing and existing[r.code].parent != r.parent]
    edits = [
        r
        for r in rows.values()
        if r.code in existing
        and existing[r.code].parent == r.parent
        and (existing[r.code].name, existing[r.code].kind) != (r.name, r.kind)
    ]
    result.created, result.moved, result.updated = len(new), len(moves), len(edits)
    result.unchanged = len(rows) - len(new) - len(moves) - len(edits)
    if dry_run:
        return
    with transaction.atomic():
        # units known by their administrative code take the file's key from now on
        keys = [r.code for r in rows.values()] + [r.parent for r in rows.values() if r.parent]
        OrgUnit.objects.filter(directory_code=None, code__in=keys).update(directory_code=F("code"))
        for row in edits + moves:
            OrgUnit.objects.filter(pk=existing[row.code].pk).update(name=row.name, kind=row.kind)
        for row in moves:
            unit = OrgUnit.objects.get(pk=existing[row.code].pk)
            if row.parent:
                target = (
                    OrgUnit.objects.get(directory_code=row.parent)
                    if row.parent in existing
                    else None
                )
                if target is None:
                    continue  # its new parent is new too: moved after the insert below
                unit.move(target, "last-child")
        _insert(new, rows)
        for row in moves:
            if row.parent and row.parent not in existing:
                unit = OrgUnit.objects.get(directory_code=row.code)
                unit.move(OrgUnit.objects.get(directory_code=row.parent), "last-child")
    result.applied = True


def _insert(new: list[_Row], rows: dict[str, _Row]) -> None:
    """New units in bulk, parents first, with treebeard's materialised paths."""
    if not new:
        return
    paths = {
        key: path
        for key, path in OrgUnit.objects.annotate(key=unit_keys()).values_list("key", "path")
        if key
    }
    existing_paths = set(OrgUnit.objects.values_list("path", flat=True))
    last = last_child_positions()
    pending = {r.code: r for r in new}
    children: dict[str, int] = defaultdict(int)
    for r in new:
        children[r.parent] += 1
    created: list[OrgUnit] = []
    grown: dict[str, int] = defaultdict(int)
    while pending:
        ready = [r for r in pending.values() if not r.parent or r.parent in paths]
        if not ready:
            raise RuntimeError("unplaceable units (checked before): " + ", ".join(pending))
        for r in sorted(ready, key=lambda r: r.line):
            parent_path = paths[r.parent] if r.parent else ""
            path, depth = child_path(parent_path=parent_path, last=last)
            paths[r.code] = path
            created.append(
                OrgUnit(
                    path=path,
                    depth=depth,
                    numchild=children.get(r.code, 0),
                    name=r.name,
                    kind=r.kind,
                    directory_code=r.code,
                )
            )
            if parent_path in existing_paths:
                grown[parent_path] += 1  # an existing parent gains a child
            del pending[r.code]
    OrgUnit.objects.bulk_create(created, batch_size=5000)
    numchild_grow(grown)
