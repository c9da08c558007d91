"""The 学时 rule of a programme (issue 18 §1): minute bands, a cap, replays counted or not,
applied to every attendance row from its raw seconds (audited), equal to a fresh count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from courses.admin.forms import StudyHourRuleForm
from courses.attendance.rules import study_hour_rule_apply, study_hour_rule_for
from courses.models import Attendance, Lecture, Programme, StudyHourRule
from courses.summaries.totals import summary_totals
from portal.models import AuditLog, User
from tests.factories import LectureFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(0, "0.25"), (1, "0.25"), (14, "0.25"), (15, "0.5"), (29, "0.5"), (30, "1.0"), (90, "1.0")],
)
def test_the_default_bands_at_their_boundaries(minutes: int, hours: str) -> None:
    rule = StudyHourRule(basis=StudyHourRule.Basis.DURATION)
    assert rule.lecture_hours(duration_minutes=minutes, own_hours=D("2.0")) == D(hours)


def test_bands_without_a_zero_band_give_nothing_below_the_least() -> None:
    rule = StudyHourRule(basis="duration", bands=[[45, "2"], [20, "1"]])
    assert rule.band_hours(19) == 0 and rule.band_hours(20) == 1 and rule.band_hours(45) == 2


def test_fixed_keeps_the_lectures_own_hours_and_the_cap_bounds_both() -> None:
    fixed = StudyHourRule(basis="fixed", cap_hours=D("1.5"))
    assert fixed.lecture_hours(duration_minutes=90, own_hours=D("2.0")) == D("1.5")
    assert fixed.lecture_hours(duration_minutes=90, own_hours=D("1.0")) == D("1.0")
    capped = StudyHourRule(basis="duration", bands=[[30, "3"]], cap_hours=D("2"))
    assert capped.lecture_hours(duration_minutes=60, own_hours=D("0")) == D("2")


def test_a_programme_without_a_rule_keeps_its_lectures_hours(programme: Programme) -> None:
    rule = study_hour_rule_for(programme=programme)
    assert rule.pk is None and rule.basis == "fixed"
    assert not StudyHourRule.objects.exists()  # reading never writes


def _row(user: User, lecture: Lecture, *, live: int, replay: int = 0, hall: bool = False) -> None:
    Attendance.objects.create(
        user=user,
        lecture=lecture,
        live_seconds=live,
        replay_seconds=replay,
        checked_in_at=timezone.now() if hall else None,
        completed=hall or live + replay >= lecture.completion_seconds,
        credit_hours_earned=lecture.credit_hours
        if hall or live + replay >= lecture.completion_seconds
        else D("0"),
    )


@pytest.fixture
def world(tree: Any, programme: Programme, organiser: User) -> dict[str, Any]:
    start = timezone.now() - timedelta(days=3)
    short = LectureFactory(programme=programme, sequence=1, duration_minutes=20, starts_at=start)
    long = LectureFactory(
        programme=programme,
        sequence=2,
        duration_minutes=45,
        starts_at=start + timedelta(days=1),
    )
    cadres = [UserFactory(unit=tree.lingyin) for _ in range(4)]
    _row(cadres[0], short, live=20 * 60)  # all of it
    _row(cadres[1], long, live=10 * 60, replay=40 * 60)  # mostly by replay
    _row(cadres[2], long, live=60, hall=True)  # in the hall
    _row(cadres[3], long, live=5 * 60)  # not completed
    return {"short": short, "long": long, "cadres": cadres, "by": organiser}


def _fresh(lecture: Lecture, row: Attendance, replays: bool) -> tuple[bool, Decimal]:
    """The rule computed from scratch for one row (what a recompute must equal)."""
    seconds = row.live_seconds + (row.replay_seconds if replays else 0)
    done = row.checked_in_at is not None or seconds >= lecture.completion_seconds
    return done, (lecture.credit_hours if done else D("0"))


def test_changing_the_rule_recomputes_every_row_and_is_audited(
    world: dict[str, Any], programme: Programme
) -> None:
    StudyHourRule.objects.create(programme=programme, basis="duration")
    applied = study_hour_rule_apply(programme=programme, by=world["by"])
    short, long = (Lecture.objects.get(pk=world[k].pk) for k in ("short", "long"))
    assert (short.credit_hours, long.credit_hours) == (D("0.5"), D("1.0"))
    assert sorted(applied.lectures_changed) == sorted([short.pk, long.pk])
    assert applied.rows_changed == 3  # the three completed rows: 2.0 → 0.5 / 1.0
    rows = {a.user_id: a for a in Attendance.objects.all()}
    for row in rows.values():
        lecture = short if row.lecture_id == short.pk else long
        assert (row.completed, row.credit_hours_earned) == _fresh(lecture, row, replays=True)
    entry = AuditLog.objects.get(action="studyhours.rule_apply")
    assert entry.detail["basis"] == "duration" and entry.detail["rows_changed"] == 3
    # idempotent: nothing more to change, nothing more audited
    again = study_hour_rule_apply(programme=programme, by=world["by"])
    assert (again.lectures_changed, again.rows_changed) == ([], 0)
    assert AuditLog.objects.filter(action="studyhours.rule_apply").count() == 1


def test_replays_off_recounts_completion_from_live_minutes_and_the_summaries_follow(
    world: dict[str, Any], programme: Programme, tree: Any
) -> None:
    long = world["long"]

    def completed() -> int:
        totals = summary_totals(
            unit_ids=[tree.lingyin.pk], lecture_ids=[long.pk], programme_id=programme.pk
        )
        return totals[tree.lingyin.pk].completed

    from courses.summaries.rebuild import summaries_rebuild

    summaries_rebuild()
    assert completed() == 2  # by replay, and in the hall
    programme.replays_count = False
    programme.save(update_fields=["replays_count"])
    applied = study_hour_rule_apply(programme=programme, by=world["by"])
    assert applied.rows_changed == 1
    by_replay = Attendance.objects.get(user=world["cadres"][1])
    assert (by_replay.completed, by_replay.credit_hours_earned) == (False, D("0"))
    assert Attendance.objects.get(user=world["cadres"][2]).completed  # the hall still counts
    assert completed() == 1
    programme.replays_count = True  # and back: the raw seconds were kept
    programme.save(update_fields=["replays_count"])
    study_hour_rule_apply(programme=programme, by=world["by"])
    assert Attendance.objects.get(user=world["cadres"][1]).completed
    assert completed() == 2


def test_a_lectures_length_change_follows_a_band_rule(programme: Programme) -> None:
    StudyHourRule.objects.create(programme=programme, basis="duration")
    lecture = LectureFactory(programme=programme, sequence=1, duration_minutes=20)
    assert lecture.credit_hours == D("0.5")
    lecture.duration_minutes = 40
    lecture.save()
    assert Lecture.objects.get(pk=lecture.pk).credit_hours == D("1.0")


def test_the_admin_form_reads_and_checks_the_bands(programme: Programme) -> None:
    form = StudyHourRuleForm(
        data={
            "basis": "duration",
            "bands_text": "15 ＝ 0.5\n30 = 1\n\n0: 0.25",
            "test_bonus_hours": "0.5",
        },
        instance=StudyHourRule(programme=programme),
    )
    assert form.is_valid(), form.errors
    rule = form.save()
    assert rule.bands == [[30, "1"], [15, "0.5"], [0, "0.25"]]
    bad = StudyHourRuleForm(
        data={"basis": "duration", "bands_text": "三十 = 1", "test_bonus_hours": "0.5"},
        instance=StudyHourRule(programme=programme),
    )
    assert not bad.is_valid() and "bands_text" in bad.errors
    twice = StudyHourRuleForm(
        data={"basis": "duration", "bands_text": "30 = 1\n30 = 2", "test_bonus_hours": "0.5"},
        instance=StudyHourRule(programme=programme),
    )
    assert not twice.is_valid()
