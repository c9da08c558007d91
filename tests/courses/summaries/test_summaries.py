"""Report summaries (issue 5 §7): incremental maintenance equals a rebuild from raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courses.attendance.buffer import LIVE, REPLAY, Credit, MemoryBuffer
from courses.attendance.credit import attendance_flush, attendance_override_create
from courses.models import Attendance, Enrolment, Lecture, LectureUnitSummary, Programme
from courses.services import enrolment_assign_bulk, enrolment_create, enrolment_withdraw
from courses.summaries.rebuild import summaries_compute, summaries_rebuild, summaries_stored
from courses.summaries.sync import attendance_summaries_sync
from courses.summaries.totals import headcounts, summary_totals
from portal.models import OrgUnit, User
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory, UserFactory

pytestmark = pytest.mark.django_db


def _assert_consistent(programme: Programme) -> None:
    lectures = list(programme.lectures.values_list("pk", flat=True))
    expected = summaries_compute(lecture_ids=lectures, programme_ids=[programme.pk])
    stored = summaries_stored(lecture_ids=lectures, programme_ids=[programme.pk])
    assert stored == expected


def _flush(buffer: MemoryBuffer, lecture: Lecture, user: User, mode: str, windows: int) -> None:
    base = int(lecture.starts_at.timestamp()) // 30
    for w in range(windows):
        buffer.credit(
            Credit(
                lecture_id=lecture.pk,
                user_id=int(user.pk),
                mode=mode,
                window=base + w + (10_000 if mode == REPLAY else 0),
                seconds=30,
                now_epoch=(base + w) * 30,
            ),
            seed=lambda: (0, 0),
        )
    attendance_flush(buffer=buffer)


def _check_in(lecture: Lecture, user: User) -> None:
    with transaction.atomic():
        Attendance.objects.update_or_create(
            user=user, lecture=lecture, defaults={"checked_in_at": timezone.now()}
        )
        attendance_summaries_sync(lecture_id=lecture.pk, user_ids=[user.pk])


def test_flush_counts_every_ancestor(tree: Tree, programme: Programme, cadre: User) -> None:
    lecture = LectureFactory(programme=programme, sequence=1, duration_minutes=2)
    enrolment_create(user=cadre, programme=programme)
    _flush(MemoryBuffer(), lecture, cadre, LIVE, windows=4)  # 120 s >= 0.8 × 2 min
    units = [tree.province, tree.hangzhou, tree.xihu, tree.lingyin, tree.village, tree.ningbo]
    totals = summary_totals(
        unit_ids=[u.pk for u in units], lecture_ids=[lecture.pk], programme_id=programme.pk
    )
    for unit in (tree.province, tree.hangzhou, tree.xihu, tree.lingyin):
        t = totals[unit.pk]
        assert (t.attended, t.online_live, t.completed, t.seconds, t.enrolled) == (1, 1, 1, 120, 1)
        assert t.credit_hours == lecture.credit_hours
    assert totals[tree.village.pk].attended == 0  # the cadre sits in the township itself
    assert totals[tree.ningbo.pk].attended == 0
    assert totals[tree.province.pk].headcount == User.objects.exclude(unit=None).count()
    _assert_consistent(programme)


def test_sync_twice_and_flush_rerun_change_nothing(programme: Programme, cadre: User) -> None:
    lecture = LectureFactory(programme=programme, sequence=1)
    _flush(MemoryBuffer(), lecture, cadre, LIVE, windows=3)
    before = summaries_stored(lecture_ids=[lecture.pk])
    assert attendance_summaries_sync(lecture_id=lecture.pk) == 0
    assert summaries_stored(lecture_ids=[lecture.pk]) == before


def test_correction_and_move_and_delete(tree: Tree, programme: Programme, organiser: User) -> None:
    lecture = LectureFactory(programme=programme, sequence=1, duration_minutes=60)
    mover = UserFactory(unit=tree.village)
    _flush(MemoryBuffer(), lecture, mover, LIVE, windows=2)
    row = Attendance.objects.get(user=mover, lecture=lecture)
    attendance_override_create(attendance=row, completed=True, reason="线下补学", by=organiser)
    village = summary_totals(
        unit_ids=[tree.village.pk, tree.yuhang.pk], lecture_ids=[lecture.pk], programme_id=0
    )
    assert village[tree.village.pk].completed == 1
    mover.unit = tree.yuhang
    mover.save()
    moved = summary_totals(
        unit_ids=[tree.village.pk, tree.yuhang.pk, tree.hangzhou.pk],
        lecture_ids=[lecture.pk],
        programme_id=0,
    )
    assert moved[tree.village.pk].attended == 0
    assert moved[tree.yuhang.pk].completed == 1
    assert moved[tree.hangzhou.pk].attended == 1
    _assert_consistent(programme)
    mover.delete()
    _assert_consistent(programme)
    gone = summary_totals(unit_ids=[tree.province.pk], lecture_ids=[lecture.pk], programme_id=0)
    assert gone[tree.province.pk].attended == 0


def test_rebuild_repairs_damage(tree: Tree, programme: Programme, cadre: User) -> None:
    lecture = LectureFactory(programme=programme, sequence=1)
    enrolment_create(user=cadre, programme=programme)
    _flush(MemoryBuffer(), lecture, cadre, LIVE, windows=3)
    LectureUnitSummary.objects.filter(unit=tree.xihu).update(attended=99)
    Attendance.objects.filter(user=cadre).update(live_seconds=600)  # raw write, no sync
    result = summaries_rebuild(programme_ids=[programme.pk])
    assert result.lecture_rows == 4  # province, city, county, township
    _assert_consistent(programme)
    t = summary_totals(unit_ids=[tree.xihu.pk], lecture_ids=[lecture.pk], programme_id=programme.pk)
    assert (t[tree.xihu.pk].attended, t[tree.xihu.pk].seconds) == (1, 600)
    assert attendance_summaries_sync(lecture_id=lecture.pk) == 0  # snapshots reset too


def test_moving_a_unit_moves_its_counts(tree: Tree, programme: Programme, cadre: User) -> None:
    lecture = LectureFactory(programme=programme, sequence=1)
    enrolment_create(user=cadre, programme=programme)
    _flush(MemoryBuffer(), lecture, cadre, LIVE, windows=3)
    headcount = headcounts()[tree.hangzhou.pk]
    OrgUnit.objects.get(pk=tree.xihu.pk).move(OrgUnit.objects.get(pk=tree.ningbo.pk), "last-child")
    _assert_consistent(programme)
    t = summary_totals(
        unit_ids=[tree.hangzhou.pk, tree.ningbo.pk, tree.province.pk],
        lecture_ids=[lecture.pk],
        programme_id=programme.pk,
    )
    assert (t[tree.hangzhou.pk].attended, t[tree.hangzhou.pk].enrolled) == (0, 0)
    assert (t[tree.ningbo.pk].attended, t[tree.ningbo.pk].enrolled) == (1, 1)
    assert t[tree.province.pk].attended == 1
    assert headcounts().get(tree.hangzhou.pk, 0) < headcount


def test_headcounts_follow_new_and_moved_cadres(tree: Tree) -> None:
    before = headcounts().get(tree.xihu.pk, 0)
    user = UserFactory(unit=tree.village)
    assert headcounts()[tree.xihu.pk] == before + 1
    user.unit = tree.haishu
    user.save()
    assert headcounts().get(tree.xihu.pk, 0) == before
    assert headcounts()[tree.ningbo.pk] >= 1


# ---------------------------------------------------------------------------------------
# The property: after any sequence of changes, the incremental summaries equal a rebuild.
# ---------------------------------------------------------------------------------------

OPS = ("live", "replay", "check_in", "override", "move", "enrol", "withdraw", "assign", "delete")


@dataclass
class World:
    programme: Programme
    lectures: list[Lecture]
    users: list[User]
    units: list[OrgUnit]
    organiser: User


def _world(tree: Tree, organiser: User) -> World:
    programme = ProgrammeFactory(organiser_unit=tree.province, audience=[tree.province])
    start = timezone.now() - timedelta(days=3)
    lectures = [
        LectureFactory(
            programme=programme,
            sequence=i + 1,
            starts_at=start + timedelta(days=i),
            duration_minutes=3,
        )
        for i in range(2)
    ]
    units = [tree.province, tree.xihu, tree.lingyin, tree.village, tree.yuhang, tree.haishu]
    users = [UserFactory(unit=units[i % len(units)]) for i in range(5)]
    return World(programme, lectures, users, units, organiser)


def _apply(world: World, buffer: MemoryBuffer, op: str, u: int, lec: int, n: int) -> None:
    user, lecture = world.users[u], world.lectures[lec]
    if user.pk is None:  # deleted by an earlier step
        return
    if op == "live":
        _flush(buffer, lecture, user, LIVE, windows=n)
    elif op == "replay":
        _flush(buffer, lecture, user, REPLAY, windows=n)
    elif op == "check_in":
        _check_in(lecture, user)
    elif op == "override":
        row = Attendance.objects.filter(user=user, lecture=lecture).first()
        if row is not None:
            attendance_override_create(
                attendance=row, completed=n % 2 == 0, reason="核对", by=world.organiser
            )
    elif op == "move":
        user.unit = world.units[n % len(world.units)]
        user.save()
    elif op == "enrol":
        enrolment_create(user=user, programme=world.programme)
    elif op == "withdraw":
        if Enrolment.objects.filter(
            user=user, programme=world.programme, status=Enrolment.Status.ACTIVE
        ).exists():
            enrolment_withdraw(user=user, programme=world.programme)
    elif op == "assign":
        enrolment_assign_bulk(
            programme=world.programme,
            users=[x for x in world.users[: n + 1] if x.pk is not None],
            venue=None,
            assigned_by=None,
        )
    elif op == "delete":
        user.delete()


class _Rollback(Exception):
    pass


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(OPS),
            st.integers(0, 4),
            st.integers(0, 1),
            st.integers(1, 7),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_incremental_equals_rebuild(
    steps: list[tuple[str, int, int, int]], tree: Tree, organiser: User, settings: Any
) -> None:
    del settings
    try:
        with transaction.atomic():
            world = _world(tree, organiser)
            buffer = MemoryBuffer()
            for op, u, lec, n in steps:
                _apply(world, buffer, op, u, lec, n)
                _assert_consistent(world.programme)
            raise _Rollback
    except _Rollback:
        pass
