"""``manage.py seed_demo``: the demo world of ARCHITECTURE.md §7.1/§7.2."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from courses import selectors
from courses.models import Enrolment, Lecture, Programme, Speaker, Venue
from demo import programme as demo_programme
from demo.seed import lecture_schedule
from portal.models import OrgUnit, Role, User
from portal.scopes import Capability, scope_for
from tests.conftest import Tree

NOW = datetime(2025, 6, 10, 4, 30, tzinfo=UTC)  # 12:30 in Hangzhou

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings: object) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]


def seed(cadres: int = 40, **options: object) -> str:
    out = io.StringIO()
    call_command("seed_demo", cadres=cadres, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (OrgUnit, User, Role, Programme, Lecture, Speaker, Venue, Enrolment)
    } | {
        "lecture_venues": Lecture.venues.through.objects.count(),
        "lecture_speakers": Lecture.speakers.through.objects.count(),
        "lecture_moderators": Lecture.moderators.through.objects.count(),
    }


def assert_tree_consistent() -> None:
    """What treebeard's ``find_problems`` checks, in one query (it is far too slow here)."""
    rows = list(OrgUnit.objects.values_list("path", "depth", "numchild"))
    paths = {path for path, _d, _n in rows}
    children = Counter(path[: -OrgUnit.steplen] for path in paths)
    for path, depth, numchild in rows:
        assert len(path) == depth * OrgUnit.steplen, path
        assert set(path) <= set(OrgUnit.alphabet), path
        assert depth == 1 or path[: -OrgUnit.steplen] in paths, f"orphan {path}"
        assert numchild == children[path], f"numchild of {path}"


def unit_of(user: User) -> OrgUnit:
    assert user.unit is not None, user
    return user.unit


def the_programme() -> Programme:
    return Programme.objects.get(title=demo_programme.PROGRAMME_TITLE)


@pytest.mark.usefixtures("debug")
def test_seed_demo_creates_the_four_demo_accounts_with_their_roles() -> None:
    seed()
    for username in ("admin", "organiser", "school", "cadre"):
        user = User.objects.get(username=username)
        assert user.check_password("zhixing-demo"), username
    assert authenticate(username="cadre", password="zhixing-demo") is not None

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff

    organiser = User.objects.get(username="organiser")
    province = OrgUnit.objects.get(code="330000000000")
    assert organiser.is_staff and not organiser.is_superuser
    assert unit_of(organiser).name == "浙江省委组织部"
    assert unit_of(organiser).kind == OrgUnit.Kind.ORG_DEPARTMENT
    assert list(organiser.roles.values_list("kind", "unit")) == [(Role.Kind.ORGANISER, province.pk)]
    for perm in (
        "add_programme",
        "change_lecture",
        "view_speaker",
        "delete_venue",
        "change_enrolment",
    ):
        assert organiser.has_perm(f"courses.{perm}"), perm
    assert scope_for(user=organiser, capability=Capability.MANAGE_PROGRAMMES).contains(
        the_programme().organiser_unit
    )

    school = User.objects.get(username="school")
    xihu = OrgUnit.objects.get(code="330106000000")
    assert unit_of(school).name == "西湖区委党校"
    assert unit_of(school).kind == OrgUnit.Kind.PARTY_SCHOOL
    assert list(school.roles.values_list("kind", "unit")) == [(Role.Kind.SCHOOL, xihu.pk)]

    cadre = User.objects.get(username="cadre")
    assert cadre.full_name == "王小明"
    assert cadre.phone == "13800000001"
    assert cadre.zwdd_employee_code == "GE_CADRE_DEMO"  # links the demo cadre's 浙政钉 sign-in
    assert unit_of(cadre).name == "灵隐街道"
    assert unit_of(cadre).get_parent() == xihu
    assert not cadre.is_staff
    assert Enrolment.objects.get(user=cadre, programme=the_programme()).is_active
    assert the_programme() in selectors.programme_list_for_user(user=cadre)


@pytest.mark.usefixtures("debug")
def test_seed_demo_builds_a_valid_zhejiang_tree() -> None:
    seed(cadres=0)
    assert_tree_consistent()
    province = OrgUnit.objects.get(code="330000000000")
    assert province.name == "浙江省" and province.is_root()

    cities = province.get_children().filter(kind=OrgUnit.Kind.CITY)
    assert cities.count() == 11
    assert dict(cities.values_list("code", "name")) | {} == {
        f"33{n:02d}00000000": name
        for n, name in enumerate(
            [
                "杭州市",
                "宁波市",
                "温州市",
                "嘉兴市",
                "湖州市",
                "绍兴市",
                "金华市",
                "衢州市",
                "舟山市",
                "台州市",
                "丽水市",
            ],
            start=1,
        )
    }
    hangzhou = cities.get(name="杭州市")
    districts = dict(
        hangzhou.get_children().filter(kind=OrgUnit.Kind.COUNTY).values_list("name", "code")
    )
    assert districts["西湖区"] == "330106000000"
    assert districts["上城区"] == "330102000000"
    assert districts["滨江区"] == "330108000000"
    assert districts["余杭区"] == "330110000000"

    xihu = OrgUnit.objects.get(code="330106000000")
    xihu_children = set(xihu.get_children().values_list("name", flat=True))
    assert {"北山街道", "灵隐街道", "三墩镇", "双浦镇", "西湖区委组织部", "西湖区委党校"} <= (
        xihu_children
    )

    by_kind = dict(OrgUnit.objects.order_by().values_list("kind").annotate(n=Count("id")))
    assert by_kind["province"] == 1
    assert by_kind["county"] == 90
    assert by_kind["township"] > 1000
    assert by_kind["village"] > 10000
    # Every province, city and county has its organisation department and party school.
    assert by_kind["org_department"] == by_kind["party_school"] == 1 + 11 + 90

    codes = list(OrgUnit.objects.exclude(code=None).values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"\d{12}", code) for code in codes)
    assert not OrgUnit.objects.filter(kind__in=OrgUnit.TERRITORIAL, code=None).exists()
    assert not OrgUnit.objects.exclude(kind__in=OrgUnit.TERRITORIAL).exclude(code=None).exists()
    # Villages sit at depth 5 below their township; a township's code extends its county's.
    village = OrgUnit.objects.filter(kind=OrgUnit.Kind.VILLAGE).order_by("path").first()
    assert village is not None and village.depth == 5
    assert village.code[:9] == village.get_parent().code[:9]


@pytest.mark.usefixtures("debug")
def test_seed_demo_lays_out_ten_weekly_lectures_around_now() -> None:
    with time_machine.travel(NOW, tick=False):
        seed()
        now = timezone.now()
        lectures = list(the_programme().lectures.order_by("sequence"))
        statuses = [lecture.status for lecture in lectures]
        assert statuses == ["ended"] * 5 + ["live"] + ["scheduled"] * 4
        assert Lecture.objects.filter(starts_at__lte=now, ends_at__gt=now).count() == 1

        live = lectures[5]
        assert live.starts_at == now - timedelta(minutes=20)
        assert live.ends_at >= now + timedelta(hours=3)  # live for the next few hours
        assert live.stream_url == reverse("demo:live_playlist")
        assert live.replay_url == ""

        organiser = User.objects.get(username="organiser")
        for lecture in lectures:
            lecture.full_clean()
            assert lecture.speakers.count() == 1
            assert lecture.venues.count() == 1 + 11 + 90
            assert organiser in lecture.moderators.all()
            assert selectors.lecture_is_moderator(user=organiser, lecture=lecture)
            if lecture.status == "ended":
                assert lecture.replay_url == "/static/demo/hls/vod.m3u8"
            else:
                assert lecture.replay_url == ""
            if lecture is not live:
                local = timezone.localtime(lecture.starts_at)
                assert (local.hour, local.minute, lecture.duration_minutes) == (19, 0, 90)
                assert (lecture.starts_at.date() - live.starts_at.date()).days % 7 == 0
        assert {lecture.category for lecture in lectures} == {"general", "industry", "application"}
        titles = {lecture.title: lecture.speakers.get().name for lecture in lectures}
        assert titles["人工智能新浪潮"] == "张亚勤"
        assert titles["从DeepSeek看全球人工智能发展趋势"] == "王坚"
        assert titles["脑机接口研究前沿进展"] == "王跃明"
        venue = Venue.objects.get(name="浙江省委党校知行厅")
        assert venue.kind == Venue.Kind.PARTY_SCHOOL
        assert venue.unit.name == "浙江省委党校"


def test_lecture_schedule_keeps_one_lecture_live_at_any_hour() -> None:
    for hour in range(24):
        now = NOW + timedelta(hours=hour, minutes=7)
        slots = lecture_schedule(now=now)
        live = [
            s
            for s in slots
            if s.starts_at <= now < s.starts_at + timedelta(minutes=s.duration_minutes)
        ]
        assert [s.sequence for s in live] == [demo_programme.LIVE_SEQUENCE]
        ends = [s.starts_at + timedelta(minutes=s.duration_minutes) for s in slots]
        assert all(
            end <= nxt for end, nxt in zip(ends, [s.starts_at for s in slots[1:]], strict=False)
        )


@pytest.mark.usefixtures("debug")
def test_seed_demo_generates_cadres_spread_over_the_tree() -> None:
    seed(cadres=300)
    generated = User.objects.filter(username__regex=r"^gb\d{6}$")
    assert generated.count() == 300
    assert generated.values("phone").exclude(phone=None).distinct().count() == (
        generated.exclude(phone=None).count()
    )
    assert generated.filter(phone=None).exists()
    assert not generated.filter(unit=None).exists()
    assert not generated.filter(full_name="").exists()
    assert not generated.filter(job_title="").exists()
    grass_roots = generated.filter(
        unit__kind__in=[OrgUnit.Kind.TOWNSHIP, OrgUnit.Kind.VILLAGE]
    ).count()
    assert grass_roots > 0.6 * 300
    # All share one password hash (hashed once), and it is the demo password.
    assert generated.values("password").distinct().count() == 1
    assert generated.all()[0].check_password("zhixing-demo")

    enrolled = Enrolment.objects.filter(user__in=generated, programme=the_programme())
    assert 0.55 * 300 < enrolled.count() < 0.85 * 300
    at_venue = enrolled.exclude(venue=None)
    assert at_venue.exists()
    assert not at_venue.exclude(source=Enrolment.Source.ASSIGNED).exists()
    for enrolment in at_venue.select_related("user__unit", "venue__unit"):
        # The venue is the party school of the cadre's own area.
        assert enrolment.venue is not None
        school = enrolment.venue.unit.get_parent()
        assert school is not None
        assert unit_of(enrolment.user).path.startswith(school.path)


@pytest.mark.usefixtures("debug")
@pytest.mark.parametrize(
    "shift", [timedelta(days=3, hours=5), timedelta(weeks=1)], ids=["3 days", "a week"]
)
def test_seed_demo_twice_adds_nothing_and_moves_the_lectures(shift: timedelta) -> None:
    with time_machine.travel(NOW, tick=False):
        seed(cadres=30)
    before = counts()
    first = {u: p for u, p in User.objects.values_list("username", "password")}

    later = NOW + shift  # a week: each lecture moves into its neighbour's old slot
    with time_machine.travel(later, tick=False):
        output = seed(cadres=30)
        assert counts() == before
        assert dict(User.objects.values_list("username", "password")) == first
        assert "+0" in output
        live = Lecture.objects.get(sequence=demo_programme.LIVE_SEQUENCE)
        assert live.status == "live"
        assert live.starts_at == later - timedelta(minutes=20)
        assert [lec.status for lec in Lecture.objects.order_by("sequence")].count("live") == 1

    # Asking for more cadres adds only the missing ones; the first 30 stay as they were.
    with time_machine.travel(later, tick=False):
        seed(cadres=45)
    assert User.objects.count() == before["User"] + 15
    assert (
        dict(User.objects.filter(username__in=first).values_list("username", "password")) == first
    )
    assert_tree_consistent()


def test_seed_demo_refuses_when_debug_is_false(settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="DEBUG=false"):
        seed()
    assert not OrgUnit.objects.exists()
    assert not User.objects.exists()

    seed(cadres=5, force=True)
    assert User.objects.filter(username="organiser").exists()


@pytest.mark.usefixtures("debug")
def test_seed_demo_rejects_a_negative_cadre_count() -> None:
    with pytest.raises(CommandError, match="--cadres"):
        seed(cadres=-1)
    assert not OrgUnit.objects.exists()


@pytest.mark.usefixtures("debug")
def test_seed_demo_merges_into_an_existing_tree(tree: Tree) -> None:
    """Units that already exist are reused (no second 浙江省), codes never collide."""
    seed(cadres=10)
    assert OrgUnit.objects.filter(name="浙江省").count() == 1
    assert OrgUnit.objects.filter(name="杭州市").count() == 1
    assert OrgUnit.objects.filter(name="灵隐街道").get() == tree.lingyin
    assert User.objects.get(username="cadre").unit == tree.lingyin
    assert_tree_consistent()
    codes = list(OrgUnit.objects.exclude(code=None).values_list("code", flat=True))
    assert len(codes) == len(set(codes))


@pytest.mark.usefixtures("debug")
def test_the_demo_evening_has_a_colleague_a_study_record_and_a_live_qa() -> None:
    from courses.attendance.credit import attendance_study_record
    from livestream.models import Question

    with time_machine.travel(NOW, tick=False):
        seed()
        cadre, cadre2 = User.objects.get(username="cadre"), User.objects.get(username="cadre2")
        assert cadre2.check_password("zhixing-demo")
        assert cadre2.unit == cadre.unit  # the same township: two-person flows
        assert Enrolment.objects.get(user=cadre2, programme=the_programme()).is_active

        # the demo cadre watched the five ended lectures: 学时 on the study record
        record = attendance_study_record(user=cadre)
        assert sum(line.credit_hours for line in record.lines) > 0, record
        assert all(line.completed for line in record.lines)

        live = Lecture.objects.get(sequence=demo_programme.LIVE_SEQUENCE)
        questions = Question.objects.filter(lecture=live)
        published = questions.filter(status__in=("approved", "answered"))
        assert published.count() >= 5
        assert published.filter(status="answered").exists()
        assert published.filter(highlighted=True).exists()
        assert published.filter(votes__gt=0).count() >= 5
        pending = questions.filter(status="pending")
        assert pending.count() >= 2
        assert pending.filter(flagged=True).count() == 1  # the sensitive-word list caught it
        # the shared queue's demo: a cluster of three, a 台下 question, the speaker's list
        clusters = Counter(pending.values_list("cluster_id", flat=True))
        assert max(clusters.values()) == 3, clusters
        assert pending.filter(venue__isnull=False).count() == 1
        listed = questions.filter(speaker_position__isnull=False).order_by("speaker_position")
        assert [q.status for q in listed] == ["approved"] * 3
        assert listed[0].highlighted  # the one on screen leads the list
        before = (questions.count(), live.questions.aggregate(n=Count("vote_set"))["n"])

        # the learning record: tests on the ended lectures, two passed, ratings, a certificate
        from learning.models import Evaluation, Quiz, QuizAttempt
        from learning.services import certificate_for_year

        ended = [lec for lec in the_programme().lectures.all() if lec.status_at(NOW) == "ended"]
        assert Quiz.objects.filter(lecture__in=ended).count() == len(ended) > 0
        assert QuizAttempt.objects.filter(user=cadre, passed=True).count() == 2
        assert Evaluation.objects.filter(lecture__in=ended).count() >= 20 * len(ended)
        record = attendance_study_record(user=cadre)
        bonus = [line for line in record.lines if line.test_passed]
        assert len(bonus) == 2 and all(
            line.credit_hours > line.lecture.credit_hours for line in bonus
        )
        year = timezone.localtime(ended[-1].starts_at).year
        assert certificate_for_year(user=cadre, year=year).hours > 0
        ratings = Evaluation.objects.count()

        seed()  # idempotent
        assert (questions.count(), live.questions.aggregate(n=Count("vote_set"))["n"]) == before
        assert Evaluation.objects.count() == ratings
        assert QuizAttempt.objects.filter(user=cadre).count() == 2


@pytest.mark.usefixtures("debug")
def test_the_reminders_that_went_out_are_in_the_inbox_and_the_outbox() -> None:
    from notifications.models import Delivery, InboxMessage, Reminder

    with time_machine.travel(NOW, tick=False):
        seed()
        live = Lecture.objects.get(sequence=demo_programme.LIVE_SEQUENCE)
        started = Lecture.objects.filter(starts_at__lte=NOW)
        went_out = Reminder.objects.filter(lecture__in=started)
        # the 24 h and 1 h reminders of the five ended lectures and of the live one
        assert went_out.count() == 2 * started.count() == 12
        assert set(went_out.values_list("status", flat=True)) == {Reminder.Status.DONE}
        enrolled = Enrolment.objects.filter(programme=the_programme(), status="active").count()
        assert set(went_out.values_list("recipients", flat=True)) == {enrolled}

        cadre = User.objects.get(username="cadre")
        inbox = InboxMessage.objects.filter(user=cadre)
        assert inbox.count() == 12
        one_hour = inbox.get(reminder__lecture=live, reminder__kind="reminder_1h")
        assert one_hour.created_at == live.starts_at - timedelta(hours=1)  # sent at its time
        assert live.title in one_hour.title + one_hour.body
        # the delivery admin shows them sent, by the inbox and by SMS (the embedded default)
        rows = Delivery.objects.filter(reminder__in=went_out)
        assert set(rows.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}
        assert set(rows.values_list("channel", flat=True)) >= {"inbox"}
        # later lectures' reminders have not gone out
        assert not InboxMessage.objects.filter(reminder__lecture__starts_at__gt=NOW).exists()
        before = (Delivery.objects.count(), InboxMessage.objects.count())

        seed()  # idempotent
        assert (Delivery.objects.count(), InboxMessage.objects.count()) == before
