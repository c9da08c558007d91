"""``portal.bulk.copy_rows``: COPY text escaping, streaming, the table from the model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from portal.bulk import copy_rows, copy_supported, copy_value
from portal.models import OrgUnit
from tests.conftest import service_missing

pytestmark = pytest.mark.django_db


def test_copy_value_escapes_what_would_shift_columns() -> None:
    assert copy_value("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert copy_value(None) == r"\N"
    assert copy_value(True) == "t"
    assert copy_value(False) == "f"
    assert copy_value(7) == "7"
    assert copy_value(datetime(2026, 5, 11, 19, 0, tzinfo=UTC)) == "2026-05-11T19:00:00+00:00"
    with pytest.raises(ValueError, match="non-finite"):
        copy_value(float("nan"))


@pytest.fixture
def postgres() -> None:
    if not copy_supported():
        service_missing("PostgreSQL")  # COPY is PostgreSQL only; CI always has it


def test_copy_rows_round_trips_awkward_text_into_a_staging_table(postgres: None) -> None:
    awkward = ["tab\there", "new\nline", "back\\slash", r"\N literally", "", "＝1+1", None]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE zx_copy_probe (n integer, t text) ON COMMIT DROP")
        sent = copy_rows(
            table="zx_copy_probe",
            columns=("n", "t"),
            rows=((i, text) for i, text in enumerate(awkward)),
            cursor=cursor,
        )
        cursor.execute("SELECT t FROM zx_copy_probe ORDER BY n")
        back = [row[0] for row in cursor.fetchall()]
    assert sent == len(awkward)
    assert back == awkward


def test_copy_rows_takes_the_table_from_the_model_and_streams(postgres: None) -> None:
    pulled = 0

    def rows() -> Iterator[tuple[object, ...]]:
        nonlocal pulled
        for i in range(3):
            pulled += 1
            yield (f"9{i:03d}", 1, 0, f"单位\t{i}", "county", f"33990000000{i}")

    columns = ("path", "depth", "numchild", "name", "kind", "code")
    assert copy_rows(table=OrgUnit, columns=columns, rows=rows()) == 3
    assert pulled == 3
    assert sorted(OrgUnit.objects.values_list("name", flat=True)) == [
        "单位\t0",
        "单位\t1",
        "单位\t2",
    ]


def _copy_short_row() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE zx_copy_probe (n integer, t text) ON COMMIT DROP")
        copy_rows(table="zx_copy_probe", columns=("n", "t"), rows=[(1,)], cursor=cursor)


def test_copy_rows_refuses_a_row_of_the_wrong_width(postgres: None) -> None:
    with pytest.raises(ValueError, match="row 1 has 1 values, expected 2"):
        _copy_short_row()
