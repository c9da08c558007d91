"""Shared data for the follow-up, ranking and ranking-dispatch tests.

Hangzhou runs a programme with three lectures: two have ended, one is upcoming. Cadres
sit in 西湖区 (灵隐街道, 灵隐村) and 余杭区; one more in 海曙区 (Ningbo). Every write goes
through the same summary syncs as production code, so the summaries are right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from courses.models import Attendance, Enrolment, Lecture, Programme
from courses.summaries.sync import (
    attendance_summaries_sync,
    enrolment_summaries_sync,
    headcounts_changed,
)
from portal.models import OrgUnit, User
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory, UserFactory


def enrol(user: User, programme: Programme) -> None:
    with transaction.atomic():
        Enrolment.objects.create(user=user, programme=programme)
        enrolment_summaries_sync(programme_id=programme.pk, user_ids=[user.pk])


def attend(
    user: User,
    lecture: Lecture,
    *,
    live: int = 0,
    replay: int = 0,
    checked_in: bool = False,
    completed: bool = False,
) -> Attendance:
    with transaction.atomic():
        row = Attendance.objects.create(
            user=user,
            lecture=lecture,
            live_seconds=live,
            replay_seconds=replay,
            checked_in_at=timezone.now() if checked_in else None,
            completed=completed,
        )
        attendance_summaries_sync(lecture_id=lecture.pk, user_ids=[user.pk])
    return row


@dataclass
class World:
    tree: Tree
    programme: Programme
    first: Lecture  # ended
    second: Lecture  # ended
    third: Lecture  # upcoming
    people: dict[str, User]


def cadre_in(unit: OrgUnit, username: str, **extra: object) -> User:
    return UserFactory(
        username=username, full_name=extra.pop("full_name", username), unit=unit, **extra
    )


@pytest.fixture(name="world")
def world_fixture(tree: Tree) -> World:
    now = timezone.now()
    programme = ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])
    first = LectureFactory(programme=programme, sequence=1, starts_at=now - timedelta(days=8))
    second = LectureFactory(programme=programme, sequence=2, starts_at=now - timedelta(days=1))
    third = LectureFactory(programme=programme, sequence=3, starts_at=now + timedelta(days=6))
    p = {
        # 灵隐街道 (a township of 西湖区)
        "a": cadre_in(tree.lingyin, "a", full_name="王一", phone="13800000001", job_title="科员"),
        "b": cadre_in(tree.lingyin, "b", full_name="王二", phone="13800000002"),
        "c": cadre_in(tree.village, "c", full_name="王三", phone="13800000003"),
        "d": cadre_in(tree.xihu, "d", full_name="王四"),
        # 余杭区
        "e": cadre_in(tree.yuhang, "e", full_name="李一"),
        "f": cadre_in(tree.yuhang, "f", full_name="李二"),
        # 海曙区 (Ningbo)
        "g": cadre_in(tree.haishu, "g", full_name="赵一"),
    }
    for key in "abcef":
        enrol(p[key], programme)
    # a: both lectures, completed both; b: first only (completed), second attended only;
    # c: nothing; e: first completed, second completed; f: first attended only.
    attend(p["a"], first, live=5400, completed=True)
    attend(p["a"], second, replay=5400, completed=True)
    attend(p["b"], first, checked_in=True, completed=True)
    attend(p["b"], second, live=60)
    attend(p["e"], first, live=5400, completed=True)
    attend(p["e"], second, live=5400, completed=True)
    attend(p["f"], first, live=600)
    headcounts_changed()
    return World(tree, programme, first, second, third, p)
