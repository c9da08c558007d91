"""``manage.py rebuild_report_summaries``: recount the report summaries from raw rows."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from courses.attendance.buffer import LIVE, Credit, MemoryBuffer
from courses.attendance.credit import attendance_flush
from courses.models import Attendance, LectureUnitSummary, Programme, ProgrammeUnitSummary
from courses.services import enrolment_create
from courses.summaries.rebuild import summaries_compute, summaries_stored
from portal.models import User
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db


def _attend(programme: Programme, user: User) -> int:
    lecture = LectureFactory(programme=programme, sequence=1, duration_minutes=2)
    enrolment_create(user=user, programme=programme)
    buffer = MemoryBuffer()
    base = int(lecture.starts_at.timestamp()) // 30
    for w in range(4):
        buffer.credit(
            Credit(
                lecture_id=lecture.pk,
                user_id=int(user.pk),
                mode=LIVE,
                window=base + w,
                seconds=30,
                now_epoch=(base + w) * 30,
            ),
            seed=lambda: (0, 0),
        )
    attendance_flush(buffer=buffer)
    return int(lecture.pk)


def _consistent(programme: Programme) -> bool:
    lectures = list(programme.lectures.values_list("pk", flat=True))
    stored = summaries_stored(lecture_ids=lectures, programme_ids=[programme.pk])
    return stored == summaries_compute(lecture_ids=lectures, programme_ids=[programme.pk])


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("rebuild_report_summaries", *args, stdout=out)
    return out.getvalue()


def test_rebuilds_every_programme_and_reports_rows_and_seconds(
    tree: Tree, programme: Programme, cadre: User, outsider: User
) -> None:
    other = ProgrammeFactory(organiser_unit=tree.province, audience=[tree.province])
    _attend(programme, cadre)
    _attend(other, outsider)
    Attendance.objects.update(live_seconds=90)  # raw writes, past the services
    LectureUnitSummary.objects.update(attended=7)
    ProgrammeUnitSummary.objects.all().delete()
    assert not _consistent(programme) and not _consistent(other)

    output = _run()

    assert _consistent(programme) and _consistent(other)
    match = re.search(
        r"2 programme\(s\) and 2 lecture\(s\): (\d+) lecture-unit rows, (\d+) programme-unit "
        r"rows in \d+\.\d s",
        output,
    )
    assert match, output
    # cadre: province, Hangzhou, Xihu, Lingyin; outsider: province, Ningbo, Haishu.
    assert (int(match[1]), int(match[2])) == (7, 7)


def test_rebuilds_only_the_programmes_named(
    tree: Tree, programme: Programme, cadre: User, outsider: User
) -> None:
    other = ProgrammeFactory(organiser_unit=tree.province, audience=[tree.province])
    _attend(programme, cadre)
    _attend(other, outsider)
    LectureUnitSummary.objects.update(attended=7)

    output = _run("--programme", str(programme.pk))

    assert "1 programme(s) and 1 lecture(s): 4 lecture-unit rows" in output
    assert _consistent(programme)
    assert not _consistent(other)  # left alone
    _run("--programme", str(programme.pk), "--programme", str(other.pk))
    assert _consistent(other)


def test_unknown_programme_is_a_clear_error(programme: Programme) -> None:
    with pytest.raises(CommandError, match=r"No programme with id 999999\."):
        _run("--programme", "999999")
    with pytest.raises(CommandError, match="invalid int value"):
        _run("--programme", "abc")
