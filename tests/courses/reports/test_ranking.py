"""通报 ranking (issue 5 item 3): units of one level ranked from the summaries, with the
per-lecture trend, scoped, exported and audit-logged."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from courses.reports.ranking import RankBy, ranking_build, ranking_units
from courses.summaries.totals import headcounts
from portal.models import AuditLog, OrgUnit, User
from portal.scopes import Capability, scope_for
from tests.courses.reports.followup_support import World, cadre_in, enrol, world_fixture  # noqa: F401
from tests.factories import (
    LectureFactory,
    ProgrammeFactory,
    RoleFactory,
    UserFactory,
    unit_create,
)

pytestmark = pytest.mark.django_db

URL = "courses:ranking"


def _get(client: Client, **params: Any) -> Any:
    return client.get(reverse(URL), params)


@pytest.fixture
def org(client: Client, organiser: User) -> Client:
    client.force_login(organiser)
    return client


@pytest.fixture
def school(client: Client, school_staff: User) -> Client:
    client.force_login(school_staff)
    return client


def test_counties_ranked_by_attendance_with_trend(org: Client, world: World) -> None:
    response = _get(org, programme=world.programme.pk, level="county")
    assert response.status_code == 200
    ranking = response.context["ranking"]
    # Two lectures have started; the upcoming third is not counted.
    assert [lec.sequence for lec in ranking.lectures] == [1, 2]
    rows = [
        (r.rank, r.name, r.enrolled, r.attendance_rate, r.completion_rate) for r in ranking.rows
    ]
    # 余杭: 2 enrolled, attended 2 + 1 of 4 = 75 %, completed 1 + 1 = 50 %.
    # 西湖: 3 enrolled, attended 2 + 2 of 6 = 66.7 %, completed 2 + 1 = 50 %.
    assert rows == [
        (1, "余杭区", 2, Decimal("75.0"), Decimal("50.0")),
        (2, "西湖区", 3, Decimal("66.7"), Decimal("50.0")),
    ]
    xihu = ranking.rows[1]
    assert [(p.attendance_rate, p.completion_rate) for p in xihu.points] == [
        (Decimal("66.7"), Decimal("66.7")),
        (Decimal("66.7"), Decimal("33.3")),
    ]
    assert ranking.total.enrolled == 5
    assert ranking.total.attendance_rate == Decimal("70.0")
    html = response.content.decode()
    assert "海曙区" not in html  # Ningbo is outside the organiser's area
    assert "第1讲出勤率（%）" in html
    assert '<th scope="col">出勤率（%）</th>' in html
    assert "Attendance" not in html
    chart = json.loads(response.context["chart"] and json.dumps(response.context["chart"]))
    assert chart["labels"] == ["第1讲", "第2讲"]
    assert chart["units"][0] == {"label": "余杭区", "data": [100.0, 50.0]}
    assert 'id="ranking-data"' in html
    assert "vendor/chart.js/chart.umd.min.js" in html
    assert "js/ranking.js" in html


def test_ties_share_a_rank(org: Client, world: World) -> None:
    response = _get(org, programme=world.programme.pk, level="county", sort="completion")
    rows = [(r.rank, r.name) for r in response.context["ranking"].rows]
    # Both at 50 %: the same rank; attendance decides who is listed first.
    assert rows == [(1, "余杭区"), (1, "西湖区")]


def test_unit_without_enrolment_has_no_rank_and_comes_last(
    org: Client, world: World, tree: Any
) -> None:
    unit_create(name="拱墅区", kind="county", parent=tree.hangzhou, code="330105000000")
    rows = _get(org, programme=world.programme.pk, level="county").context["ranking"].rows
    assert [(r.rank, r.name) for r in rows][-1] == (None, "拱墅区")
    assert rows[-1].attendance_rate is None


def test_township_level_under_a_unit(org: Client, world: World) -> None:
    response = _get(org, programme=world.programme.pk, level="township", unit="330106000000")
    assert [r.name for r in response.context["ranking"].rows] == ["灵隐街道"]


def test_school_staff_see_only_their_area(school: Client, world: World) -> None:
    response = _get(school, programme=world.programme.pk, level="county")
    assert [r.name for r in response.context["ranking"].rows] == ["西湖区"]
    # Default level: the one below the staff member's county.
    response = _get(school, programme=world.programme.pk)
    assert response.context["ranking"].level == "township"


def test_another_unit_is_refused_in_html_and_exports(school: Client, world: World) -> None:
    for unit in ("330110000000", "330100000000", "330203000000"):
        for fmt in ("", "csv", "xlsx"):
            response = _get(
                school, programme=world.programme.pk, level="township", unit=unit, format=fmt
            )
            assert response.status_code == 403, (unit, fmt)
    assert not AuditLog.objects.filter(action__startswith="report.export").exists()


def test_cadre_is_refused(client: Client, world: World) -> None:
    client.force_login(world.people["a"])
    assert _get(client, programme=world.programme.pk).status_code == 403


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"programme": "x1"}, 400, "编号"),
        ({"programme": "1 OR 1=1"}, 400, "编号"),
        ({"programme": "99999999"}, 404, "专题培训不存在"),
        ({"programme": "{programme}", "level": "province"}, 400, "level"),
        ({"programme": "{programme}", "level": "'; DROP TABLE x; --"}, 400, "level"),
        ({"programme": "{programme}", "sort": "name"}, 400, "sort"),
        ({"programme": "{programme}", "format": "pdf"}, 400, "csv"),
        ({"programme": "{programme}", "lecture": "1"}, 400, "programme="),
        ({"programme": "{programme}", "unit": "nope"}, 404, "单位不存在"),
        ({"programme": "{programme}", "unit": "330106000000", "level": "city"}, 400, "更低"),
    ],
)
def test_bad_input_gets_a_clear_chinese_error(
    org: Client, world: World, params: dict[str, str], status: int, text: str
) -> None:
    filled = {k: v.format(programme=world.programme.pk) for k, v in params.items()}
    response = _get(org, **filled)
    assert response.status_code == status
    assert text in response.content.decode()


def test_without_a_programme_the_page_opens_on_the_current_one(org: Client, world: World) -> None:
    """No ``programme=``: the newest programme with a started lecture, and a picker of the
    others (a newer one that has not started yet is offered, not opened)."""
    province = world.tree.province
    newer = ProgrammeFactory(title="尚未开课的专题", organiser_unit=province, audience=[province])
    LectureFactory(programme=newer, sequence=1, starts_at=timezone.now() + timedelta(days=3))
    response = _get(org)
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["ranking"].programme == world.programme
    assert "尚未开课的专题" in html  # in the picker
    assert f"programme={newer.pk}" in html


def test_without_any_programme_in_scope_it_asks_for_one(client: Client, world: World) -> None:
    elsewhere = unit_create(name="江苏省", kind="province", code="320000000000")
    staff = UserFactory(username="lonely", unit=elsewhere)
    RoleFactory(user=staff, unit=elsewhere, kind="school")
    client.force_login(staff)
    response = _get(client)
    assert response.status_code == 400
    assert "请选择一个专题培训" in response.content.decode()
    assert "<code>missing_programme</code>" in response.content.decode()


def test_csv_and_xlsx_export_the_table_on_screen(
    org: Client, world: World, organiser: User
) -> None:
    response = _get(org, programme=world.programme.pk, level="county", format="csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "排名",
        "单位",
        "报名人数",
        "出勤率（%）",
        "完成率（%）",
        "第1讲出勤率（%）",
        "第1讲完成率（%）",
        "第2讲出勤率（%）",
        "第2讲完成率（%）",
    ]
    assert rows[1] == ["1", "余杭区", "2", "75.0", "50.0", "100.0", "50.0", "50.0", "50.0"]
    assert rows[3][:3] == ["", "合计", "5"]
    log = AuditLog.objects.get(action="report.export.ranking")
    assert (log.user, log.detail["rows"], log.detail["format"]) == (organiser, 2, "csv")

    response = _get(org, programme=world.programme.pk, level="county", format="xlsx")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert values[1][:4] == [1, "余杭区", 2, 75]
    assert AuditLog.objects.filter(action="report.export.ranking").count() == 2


def test_nothing_started_shows_a_note(org: Client, tree: Any) -> None:
    from tests.factories import LectureFactory, ProgrammeFactory

    programme = ProgrammeFactory(organiser_unit=tree.hangzhou)
    LectureFactory(programme=programme, sequence=1)  # tomorrow
    response = _get(org, programme=programme.pk, level="county")
    assert response.status_code == 200
    assert "尚无已开始的课程" in response.content.decode()
    assert 'id="ranking-data"' not in response.content.decode()


def test_cost_does_not_grow_with_units(
    world: World, tree: Any, organiser: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(40):
        town = unit_create(name=f"镇{i}", kind="township", parent=tree.yuhang)
        enrol(cadre_in(town, f"t{i}"), world.programme)
    scope = scope_for(user=organiser, capability=Capability.READ_REPORTS)
    units = list(ranking_units(scope=scope, level=OrgUnit.Kind.TOWNSHIP))
    assert len(units) == 41
    headcounts()  # memoised per process (recounted only when cadres change)
    with django_assert_max_num_queries(4):
        ranking = ranking_build(
            programme=world.programme,
            level=OrgUnit.Kind.TOWNSHIP,
            units=units,
            rank_by=RankBy.COMPLETION,
        )
    assert ranking.rows[0].name == "灵隐街道"  # the only township with completions
