"""The columns of the attendance report, their labels and how a cell is shown and exported."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# ---------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------


class Kind(enum.StrEnum):
    TEXT = "text"
    INT = "int"
    FLAG = "flag"  # 0/1 shown as 是/否 (one lecture, one cadre)
    RATE = "rate"
    DECIMAL = "decimal"


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    kind: Kind
    help: Promise | str = ""

    @property
    def numeric(self) -> bool:
        return self.kind != Kind.TEXT


_C = Column
UNIT_COLUMNS: tuple[Column, ...] = (
    _C("name", gettext_lazy("Unit"), Kind.TEXT),
    _C("headcount", gettext_lazy("Cadres"), Kind.INT, gettext_lazy("Cadres in the subtree")),
    _C("enrolled", gettext_lazy("Enrolled"), Kind.INT),
    _C("enrolment_rate", gettext_lazy("Enrolment rate"), Kind.RATE),
    _C("attended", gettext_lazy("Attended"), Kind.INT, gettext_lazy("Person-times, any mode")),
    _C("in_person", gettext_lazy("In person"), Kind.INT),
    _C("online_live", gettext_lazy("Online live"), Kind.INT),
    _C("replay", gettext_lazy("Replay"), Kind.INT),
    _C("completed", gettext_lazy("Completed"), Kind.INT),
    _C("attendance_rate", gettext_lazy("Attendance rate"), Kind.RATE),
    _C("completion_rate", gettext_lazy("Completion rate"), Kind.RATE),
    _C("avg_minutes", gettext_lazy("Average minutes"), Kind.DECIMAL),
    _C("credit_hours", gettext_lazy("Credit hours"), Kind.DECIMAL),
)


def cadre_columns(*, single_lecture: bool) -> tuple[Column, ...]:
    flag = Kind.FLAG if single_lecture else Kind.INT
    columns = [
        _C("name", gettext_lazy("Name"), Kind.TEXT),
        _C("unit", gettext_lazy("Unit"), Kind.TEXT),
        _C("job_title", gettext_lazy("Position"), Kind.TEXT),
        _C("phone", gettext_lazy("Mobile phone"), Kind.TEXT),
        _C("enrolled", gettext_lazy("Enrolled"), Kind.FLAG),
        _C("attended", gettext_lazy("Attended"), flag),
        _C("in_person", gettext_lazy("In person"), flag),
        _C("online_live", gettext_lazy("Online live"), flag),
        _C("replay", gettext_lazy("Replay"), flag),
        _C("completed", gettext_lazy("Completed"), flag),
    ]
    if not single_lecture:
        columns.append(_C("attendance_rate", gettext_lazy("Attendance rate"), Kind.RATE))
    columns += [
        _C("minutes", gettext_lazy("Minutes watched"), Kind.DECIMAL),
        _C("credit_hours", gettext_lazy("Credit hours"), Kind.DECIMAL),
    ]
    return tuple(columns)


UNIT_SORT_KEYS = frozenset(c.key for c in UNIT_COLUMNS)
CADRE_SORT_KEYS = frozenset(c.key for c in cadre_columns(single_lecture=False)) - {"phone"}

_ONE_DP = Decimal("0.1")


def cell_text(column: Column, value: Any) -> str:
    """A value as the page shows it (and as the export writes rates and flags)."""
    if value is None:
        return "—"
    if column.kind == Kind.RATE:
        percent = (Decimal(value) * 100).quantize(_ONE_DP, rounding=ROUND_HALF_UP)
        return f"{percent}%"
    if column.kind == Kind.FLAG:
        return _("Yes") if value else _("No")
    if column.kind == Kind.DECIMAL:
        return str(Decimal(value).quantize(_ONE_DP, rounding=ROUND_HALF_UP))
    return str(value)


def cell_export(column: Column, value: Any) -> Any:
    """A value as the CSV/XLSX holds it: counts and decimals stay numbers, the rest is text
    exactly as on the page."""
    if value is None:
        return "—"
    if column.kind == Kind.INT:
        return int(value)
    if column.kind == Kind.DECIMAL:
        return Decimal(value).quantize(_ONE_DP, rounding=ROUND_HALF_UP)
    return cell_text(column, value)
