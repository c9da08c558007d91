"""Cadre rows: validated while streaming, the good ones COPYed into a staging table and
applied with set-based SQL inside the caller's transaction — no per-row ORM saves, so
300,000 rows take well under a minute. The rules a row must meet live here; the
transaction, the summaries and the sessions in ``directory.services``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from directory.reading import Table
from directory.report import ImportResult, RowError
from portal.bulk import copy_rows
from portal.models import phone_normalise

COLUMNS = {
    "cadre_no": "干部编号",
    "full_name": "姓名",
    "phone": "手机号",
    "unit": "单位编码",
    "employee_code": "浙政钉账号",
    "rank": "职级",
    "status": "状态",
}
REQUIRED = ("cadre_no", "full_name", "phone", "unit")
STATUS = {"": True, "在职": True, "离职": False}
CADRE_NO_RE = re.compile(r"^[0-9A-Za-z_\-]{1,32}$")
PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")  # not \d: it matches full-width digits too
EMPLOYEE_CODE_RE = re.compile(r"^[0-9A-Za-z_\-.$]{1,64}$")
NAME_MAX, RANK_MAX = 50, 50
STAGE = "directory_cadre_stage"
STAGE_COLUMNS = (
    "line",
    "cadre_no",
    "full_name",
    "phone",
    "unit_id",
    "employee_code",
    "rank",
    "active",
)


# NUL (PostgreSQL refuses it) and the other control characters XML 1.0 cannot carry (every
# XLSX export of the value would fail); tabs and line breaks are allowed.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def control_checked(
    cells: list[str],
    *,
    line: int,
    where: dict[str, int],
    columns: dict[str, str],
    errors: list[RowError],
) -> list[str]:
    """``cells`` without control characters; each known column's cell that had some is an
    error (so nothing of such a row is written, and no reason quotes the characters)."""
    if not CONTROL_RE.search("".join(cells)):
        return cells
    label_at = {i: columns[key] for key, i in where.items()}
    clean = []
    for i, value in enumerate(cells):
        if CONTROL_RE.search(value):
            if i in label_at:
                reason = _("Remove the control characters from the cell.")
                errors.append(RowError(line, label_at[i], reason))
            value = CONTROL_RE.sub("", value)
        clean.append(value)
    return clean


def header_errors(
    header: list[str], columns: dict[str, str], required: tuple[str, ...]
) -> tuple[dict[str, int], list[RowError]]:
    """Where each known column is; a missing required column is an error at line 1."""
    where = {name: i for i, name in enumerate(header)}
    errors = [
        RowError(1, columns[key], _("The column is missing."))
        for key in required
        if columns[key] not in where
    ]
    seen: set[str] = set()
    for name in header:
        if name in seen and name in columns.values():
            errors.append(RowError(1, name, _("The column appears twice.")))
        seen.add(name)
    return {key: where[label] for key, label in columns.items() if label in where}, errors


@dataclass
class CadreRows:
    """The streaming check of a cadres file: ``good()`` yields staging rows and fills
    ``errors`` and the sets the apply step needs."""

    table: Table
    units: dict[str, int]  # 单位编码 → unit id (only units the importer may write to)
    units_outside: set[str]  # codes that exist but lie outside the importer's scope
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    unit_ids: set[int] = field(default_factory=set)
    progress: Callable[[int], None] | None = None

    def good(self) -> Iterator[tuple[object, ...]]:
        where, errors = header_errors(self.table.header, COLUMNS, REQUIRED)
        self.errors.extend(errors)
        if errors:
            return
        keys: dict[str, int] = {}
        phones: dict[str, int] = {}
        codes: dict[str, int] = {}
        err = self.errors.append

        def get(cells: list[str], key: str) -> str:
            i = where.get(key)
            return cells[i] if i is not None and i < len(cells) else ""

        for line, cells in self.table.rows:
            self.rows += 1
            if self.progress is not None and self.rows % 5000 == 0:
                self.progress(self.rows)
            before = len(self.errors)
            cells = control_checked(
                cells, line=line, where=where, columns=COLUMNS, errors=self.errors
            )
            cadre_no = get(cells, "cadre_no")
            if not cadre_no:
                err(RowError(line, COLUMNS["cadre_no"], _("The cadre number is missing.")))
            elif not CADRE_NO_RE.match(cadre_no):
                err(RowError(line, COLUMNS["cadre_no"], _("Use up to 32 letters, digits, - or _.")))
            elif cadre_no in keys:
                err(
                    RowError(
                        line,
                        COLUMNS["cadre_no"],
                        _("The same cadre number is on line %(line)s.") % {"line": keys[cadre_no]},
                    )
                )
            else:
                keys[cadre_no] = line
            name = get(cells, "full_name")
            if not name:
                err(RowError(line, COLUMNS["full_name"], _("The name is missing.")))
            elif len(name) > NAME_MAX:
                err(
                    RowError(
                        line,
                        COLUMNS["full_name"],
                        _("The name is longer than %(n)s characters.") % {"n": NAME_MAX},
                    )
                )
            phone = phone_normalise(get(cells, "phone"))
            if phone:
                if not PHONE_RE.match(phone):
                    err(
                        RowError(
                            line, COLUMNS["phone"], _("Not an 11-digit mainland mobile number.")
                        )
                    )
                elif phone in phones:
                    err(
                        RowError(
                            line,
                            COLUMNS["phone"],
                            _("The same mobile number is on line %(line)s.")
                            % {"line": phones[phone]},
                        )
                    )
                else:
                    phones[phone] = line
            code = get(cells, "unit")
            unit_id = self.units.get(code)
            if not code:
                err(RowError(line, COLUMNS["unit"], _("The unit code is missing.")))
            elif code in self.units_outside:
                err(
                    RowError(
                        line,
                        COLUMNS["unit"],
                        _("The unit %(code)s is outside your area.") % {"code": code},
                    )
                )
            elif unit_id is None:
                err(
                    RowError(
                        line, COLUMNS["unit"], _("No unit has the code %(code)s.") % {"code": code}
                    )
                )
            employee_code = get(cells, "employee_code")
            if employee_code:
                if not EMPLOYEE_CODE_RE.match(employee_code):
                    err(RowError(line, COLUMNS["employee_code"], _("Not a 浙政钉 account code.")))
                elif employee_code in codes:
                    err(
                        RowError(
                            line,
                            COLUMNS["employee_code"],
                            _("The same 浙政钉 account is on line %(line)s.")
                            % {"line": codes[employee_code]},
                        )
                    )
                else:
                    codes[employee_code] = line
            rank = get(cells, "rank")
            if len(rank) > RANK_MAX:
                err(
                    RowError(
                        line,
                        COLUMNS["rank"],
                        _("The rank is longer than %(n)s characters.") % {"n": RANK_MAX},
                    )
                )
            status = get(cells, "status")
            if status not in STATUS:
                err(RowError(line, COLUMNS["status"], _("Use 在职 or 离职.")))
            if len(self.errors) == before and unit_id is not None:
                self.unit_ids.add(unit_id)
                yield (
                    line,
                    cadre_no,
                    name,
                    phone or None,
                    unit_id,
                    employee_code or None,
                    rank,
                    STATUS[status],
                )


def stage_create(cursor: object) -> None:
    # ON COMMIT DROP ends it with the transaction; inside an enclosing one (tests, a
    # caller's atomic block) a previous import's table may still be there.
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")  # type: ignore[attr-defined]
    cursor.execute(  # type: ignore[attr-defined]
        f"""
        CREATE TEMP TABLE {STAGE} (
            line integer NOT NULL,
            cadre_no varchar(32) NOT NULL,
            full_name varchar(50) NOT NULL,
            phone varchar(11),
            unit_id bigint NOT NULL,
            employee_code varchar(64),
            rank varchar(50) NOT NULL,
            active boolean NOT NULL
        ) ON COMMIT DROP
        """
    )


def stage_fill(cursor: object, rows: Iterator[tuple[object, ...]]) -> int:
    count = copy_rows(table=STAGE, columns=STAGE_COLUMNS, rows=rows, cursor=cursor)
    cursor.execute(f"CREATE UNIQUE INDEX ON {STAGE} (cadre_no)")  # type: ignore[attr-defined]
    cursor.execute(f"ANALYZE {STAGE}")  # type: ignore[attr-defined]
    return count


# Another user (not the same cadre) holds this phone / 浙政钉 account / username — unless
# that user is in the file too and gives it up there (numbers change hands between cadres).
_CONFLICTS = [
    (
        "phone",
        "phone",
        "手机号",
    ),
    ("employee_code", "zwdd_employee_code", "浙政钉账号"),
    ("cadre_no", "username", "干部编号"),
]


def stage_conflicts(cursor: object) -> list[RowError]:
    errors: list[RowError] = []
    for stage_col, user_col, label in _CONFLICTS:
        released = (
            f"AND NOT EXISTS (SELECT 1 FROM {STAGE} o WHERE o.cadre_no = u.cadre_no "  # noqa: S608 (identifiers are constants; values are parameters)
            f"AND o.{stage_col} IS DISTINCT FROM u.{user_col})"
            if user_col != "username"
            else ""
        )
        cursor.execute(  # type: ignore[attr-defined]
            f"""
            SELECT s.line, u.cadre_no IS NULL FROM {STAGE} s
            JOIN portal_user u ON u.{user_col} = s.{stage_col}
            WHERE u.cadre_no IS DISTINCT FROM s.cadre_no {released}
            ORDER BY s.line
            """  # noqa: S608 (identifiers are constants; values are parameters)
        )
        for line, staff in cursor.fetchall():  # type: ignore[attr-defined]
            reason = (
                _("An account made by hand already uses it.")
                if staff
                else _("Another cadre already uses it.")
            )
            errors.append(RowError(int(line), label, reason))
    return errors


@dataclass
class Applied:
    created_ids: list[int]
    moved_ids: list[int]
    deactivated_ids: list[int]


def stage_classify(cursor: object, result: ImportResult) -> None:
    """Count what applying would do (for the dry run and the summary line)."""
    cursor.execute(  # type: ignore[attr-defined]
        f"""
        SELECT
          count(*) FILTER (WHERE u.id IS NULL),
          count(*) FILTER (WHERE u.id IS NOT NULL AND u.is_active AND NOT s.active),
          count(*) FILTER (WHERE u.id IS NOT NULL AND NOT (u.is_active AND NOT s.active)
                           AND u.unit_id IS DISTINCT FROM s.unit_id),
          count(*) FILTER (WHERE u.id IS NOT NULL AND NOT (u.is_active AND NOT s.active)
                           AND u.unit_id IS NOT DISTINCT FROM s.unit_id
                           AND (u.full_name, u.phone, u.zwdd_employee_code, u.rank, u.is_active)
                               IS DISTINCT FROM
                               (s.full_name, s.phone, s.employee_code, s.rank, s.active))
        FROM {STAGE} s LEFT JOIN portal_user u ON u.cadre_no = s.cadre_no
        """  # noqa: S608 (identifiers are constants; values are parameters)
    )
    created, deactivated, moved, updated = cursor.fetchone()  # type: ignore[attr-defined]
    result.created, result.deactivated, result.moved, result.updated = (
        int(created),
        int(deactivated),
        int(moved),
        int(updated),
    )
    result.unchanged = result.rows - len(result.errors) - created - deactivated - moved - updated


@dataclass(frozen=True)
class Missing:
    """Whose absence deactivates: the active cadres of exactly these units (None: of the
    units the rows name — a city's file must not deactivate the counties' cadres), or — a
    浙政钉 sync, which lists a whole subtree — only those with a 浙政钉 account."""

    unit_ids: list[int] | None = None
    synced_only: bool = False


def missing_count(cursor: object, missing: Missing) -> int:
    cursor.execute(_missing_sql("SELECT count(*)", missing), [missing.unit_ids])  # type: ignore[attr-defined]
    return int(cursor.fetchone()[0])  # type: ignore[attr-defined]


def _missing_sql(head: str, missing: Missing) -> str:
    """Active cadres of ``missing``'s units that the staged rows do not list."""
    synced = "AND u.zwdd_employee_code IS NOT NULL" if missing.synced_only else ""
    return f"""
        {head} FROM portal_user u
        WHERE u.cadre_no IS NOT NULL AND u.is_active AND u.unit_id = ANY(%s) {synced}
          AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.cadre_no = u.cadre_no)
    """  # noqa: S608 (identifiers are constants; values are parameters)


def stage_apply(cursor: object, *, missing: Missing | None) -> Applied:
    """Write the staged rows: free numbers and accounts that change hands, update, insert,
    and (optionally) deactivate the ``missing`` cadres the rows no longer list."""
    for stage_col, user_col in (("phone", "phone"), ("employee_code", "zwdd_employee_code")):
        cursor.execute(  # type: ignore[attr-defined]
            f"""
            UPDATE portal_user u SET {user_col} = NULL FROM {STAGE} s
            WHERE u.cadre_no = s.cadre_no AND u.{user_col} IS DISTINCT FROM s.{stage_col}
              AND u.{user_col} IS NOT NULL
            """  # noqa: S608 (identifiers are constants; values are parameters)
        )
    cursor.execute(  # type: ignore[attr-defined]
        f"""
        UPDATE portal_user u
        SET full_name = s.full_name, phone = s.phone, unit_id = s.unit_id,
            zwdd_employee_code = s.employee_code, rank = s.rank, is_active = s.active
        FROM (
            SELECT s.*, u.id AS uid, u.unit_id AS old_unit, u.is_active AS was_active
            FROM {STAGE} s JOIN portal_user u ON u.cadre_no = s.cadre_no
        ) s
        WHERE u.id = s.uid
          AND (u.full_name, u.phone, u.unit_id, u.zwdd_employee_code, u.rank, u.is_active)
              IS DISTINCT FROM
              (s.full_name, s.phone, s.unit_id, s.employee_code, s.rank, s.active)
        RETURNING u.id, s.old_unit IS DISTINCT FROM s.unit_id, s.was_active AND NOT s.active
        """  # noqa: S608 (identifiers are constants; values are parameters)
    )
    moved, deactivated = [], []
    for uid, was_moved, was_deactivated in cursor.fetchall():  # type: ignore[attr-defined]
        if was_moved:
            moved.append(int(uid))
        if was_deactivated:
            deactivated.append(int(uid))
    cursor.execute(  # type: ignore[attr-defined]
        f"""
        INSERT INTO portal_user (password, is_superuser, username, first_name, last_name,
            email, is_staff, is_active, date_joined, full_name, phone, unit_id, job_title,
            zwdd_employee_code, cadre_no, rank)
        SELECT '!', false, s.cadre_no, '', '', '', false, s.active, now(), s.full_name,
            s.phone, s.unit_id, '', s.employee_code, s.cadre_no, s.rank
        FROM {STAGE} s
        WHERE NOT EXISTS (SELECT 1 FROM portal_user u WHERE u.cadre_no = s.cadre_no)
        RETURNING id
        """  # noqa: S608 (identifiers are constants; values are parameters)
    )
    created = [int(r[0]) for r in cursor.fetchall()]  # type: ignore[attr-defined]
    if missing is not None:
        cursor.execute(  # type: ignore[attr-defined]
            "UPDATE portal_user SET is_active = false WHERE id IN ("  # noqa: S608 (constant SQL)
            + _missing_sql("SELECT u.id", missing)
            + ") RETURNING id",
            [missing.unit_ids],
        )
        deactivated += [int(r[0]) for r in cursor.fetchall()]  # type: ignore[attr-defined]
    return Applied(created, moved, deactivated)
