"""The attendance report (issue 5 §1): numbers, scope, navigation and bad input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from courses.attendance.buffer import LIVE, REPLAY, Credit, MemoryBuffer
from courses.attendance.credit import attendance_flush
from courses.models import Attendance, AttendanceOverride, Enrolment, Lecture, Programme
from courses.reports.attendance import unit_report_build
from courses.reports.request import ReportError, ReportErrorCode, report_request_parse
from courses.summaries.rebuild import summaries_rebuild
from courses.summaries.sync import headcounts_changed
from portal.models import AuditLog, OrgUnit, Role, User
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory, RoleFactory, UserFactory, unit_create

pytestmark = pytest.mark.django_db

URL = "/reports/attendance/"
DATA_URL = "/reports/attendance/data.json"


# ---------------------------------------------------------------------------------------
# A small tree with attendance in every mode, and the brute-force oracle
# ---------------------------------------------------------------------------------------


@dataclass
class Data:
    tree: Tree
    beishan: OrgUnit  # a second township of 西湖区
    school_unit: OrgUnit  # 西湖区委党校: no administrative code
    programme: Programme
    first: Lecture  # ended
    second: Lecture  # ended
    third: Lecture  # upcoming
    people: dict[str, User]


def _cadre(unit: OrgUnit, name: str, phone: str | None = None) -> User:
    return UserFactory(username=f"u-{name}", full_name=name, unit=unit, phone=phone)


def _attend(user: User, lecture: Lecture, **values: Any) -> Attendance:
    return Attendance.objects.create(user=user, lecture=lecture, **values)


@pytest.fixture
def data(tree: Tree, school_staff: User, organiser: User) -> Data:
    now = timezone.now()
    beishan = unit_create(name="北山街道", kind="township", parent=tree.xihu, code="330106005000")
    school_unit = unit_create(name="西湖区委党校", kind="party_school", parent=tree.xihu)
    programme = ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])
    first = LectureFactory(programme=programme, sequence=1, starts_at=now - timedelta(days=8))
    second = LectureFactory(
        programme=programme,
        sequence=2,
        starts_at=now - timedelta(days=1),
        credit_hours=Decimal("1.5"),
    )
    third = LectureFactory(programme=programme, sequence=3, starts_at=now + timedelta(days=6))
    p = {
        "a": _cadre(tree.lingyin, "王一", "13800000001"),
        "b": _cadre(tree.lingyin, "王二", "13800000002"),
        "c": _cadre(tree.village, "王三", "13800000003"),
        "d": _cadre(tree.village, "王四"),
        "e": _cadre(beishan, "=HYPERLINK(1)"),  # a hostile name, for the exports
        "f": _cadre(tree.xihu, "王六"),  # directly in the county
        "g": _cadre(school_unit, "王七"),
        "h": _cadre(tree.yuhang, "李一"),
        "i": _cadre(tree.yuhang, "李二"),
        "j": _cadre(tree.haishu, "赵一"),
    }
    for key in "abcdefgh":
        Enrolment.objects.create(user=p[key], programme=programme)
    Enrolment.objects.create(
        user=p["i"], programme=programme, status=Enrolment.Status.WITHDRAWN, withdrawn_at=now
    )
    at = now - timedelta(days=8)
    _attend(p["a"], first, live_seconds=5400, completed=True)
    _attend(p["a"], second, replay_seconds=4800, completed=True)
    _attend(p["b"], first, checked_in_at=at, completed=True)
    row = _attend(p["b"], second, live_seconds=60)
    AttendanceOverride.objects.create(attendance=row, completed=True, reason="补录", by=organiser)
    _attend(p["c"], first, live_seconds=1200, replay_seconds=3000)
    row = _attend(p["c"], second, live_seconds=5400, completed=True)
    AttendanceOverride.objects.create(
        attendance=row, completed=True, reason="旧", by=organiser, at=now - timedelta(hours=2)
    )
    AttendanceOverride.objects.create(attendance=row, completed=False, reason="新", by=organiser)
    _attend(p["e"], first, live_seconds=5000, completed=True)
    _attend(p["f"], second, checked_in_at=at, live_seconds=300)
    _attend(p["g"], first, replay_seconds=90)
    _attend(p["h"], first, live_seconds=5400, completed=True)
    _attend(p["i"], first, live_seconds=100)  # withdrawn, still attended
    _attend(p["j"], first, live_seconds=5400, completed=True)
    # An empty row (opened the room, no credited second): not attendance.
    _attend(p["d"], first)
    summaries_rebuild()
    headcounts_changed()
    return Data(tree, beishan, school_unit, programme, first, second, third, p)


def brute_force(unit: OrgUnit, lectures: list[Lecture], programme: Programme) -> dict[str, Any]:
    """One report row counted straight from raw rows (the oracle)."""
    users = [
        u
        for u in User.objects.select_related("unit")
        if u.unit and u.unit.path.startswith(unit.path)
    ]
    ids = {u.pk for u in users}
    enrolled = Enrolment.objects.filter(
        programme=programme, user_id__in=ids, status=Enrolment.Status.ACTIVE
    ).count()
    counts = dict.fromkeys(("attended", "in_person", "online_live", "replay", "completed"), 0)
    seconds, hours = 0, Decimal("0")
    for row in Attendance.objects.filter(user_id__in=ids, lecture__in=lectures).select_related(
        "lecture"
    ):
        latest = row.overrides.order_by("-at", "-pk").first()
        done = latest.completed if latest else row.completed
        if not (row.live_seconds or row.replay_seconds or row.checked_in_at):
            continue
        counts["attended"] += 1
        counts["in_person"] += row.checked_in_at is not None
        counts["online_live"] += row.live_seconds > 0
        counts["replay"] += row.replay_seconds > 0
        counts["completed"] += done
        seconds += row.live_seconds + row.replay_seconds
        hours += row.lecture.credit_hours if done else 0
    n = len(lectures)
    base = enrolled * n
    return {
        "headcount": len(users),
        "enrolled": enrolled,
        **counts,
        "enrolment_rate": Decimal(enrolled) / len(users) if users else None,
        "attendance_rate": Decimal(counts["attended"]) / base if base else None,
        "completion_rate": Decimal(counts["completed"]) / base if base else None,
        "avg_minutes": Decimal(seconds) / 60 / counts["attended"] if counts["attended"] else None,
        "credit_hours": hours,
    }


def _values(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row.values.items() if k != "name"}


def _parse(user: User, **params: str | None) -> Any:
    return report_request_parse(user=user, params={k: v for k, v in params.items() if v})


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["first", "second", "third", "programme"])
@pytest.mark.parametrize("unit_attr", ["province", "hangzhou", "xihu", "lingyin"])
def test_rows_match_a_brute_force_count(
    data: Data, admin_user: User, subject: str, unit_attr: str
) -> None:
    unit = getattr(data.tree, unit_attr)
    if subject == "programme":
        req = _parse(admin_user, programme=str(data.programme.pk), unit=unit.code)
        lectures = [data.first, data.second]  # the upcoming lecture is not counted
    else:
        lecture = getattr(data, subject)
        req = _parse(admin_user, lecture=str(lecture.pk), unit=unit.code)
        lectures = [lecture]
    assert [lec.pk for lec in req.lectures] == [lec.pk for lec in lectures]
    report = unit_report_build(request=req)
    children = list(unit.get_children().order_by("path"))
    assert [r.unit.pk for r in report.rows if r.unit] == [c.pk for c in children]
    for row, child in zip(report.rows, children, strict=True):
        assert _values(row) == brute_force(child, lectures, data.programme), child.name
    assert _values(report.total) == brute_force(unit, lectures, data.programme)
    # 本级直属 = the cadres sitting in the unit itself.
    direct = [u for u in User.objects.filter(unit=unit)]
    if direct:
        assert report.direct is not None
        assert report.direct.values["headcount"] == len(direct)
    else:
        assert report.direct is None
    summed = {
        key: sum(r.values[key] for r in [*report.rows, *([report.direct] if report.direct else [])])
        for key in ("headcount", "enrolled", "attended", "completed", "credit_hours")
    }
    assert summed == {k: report.total.values[k] for k in summed}


def test_programme_counts_person_times_and_rates(data: Data, school_staff: User) -> None:
    req = _parse(school_staff, programme=str(data.programme.pk), unit=data.tree.xihu.code)
    total = unit_report_build(request=req).total.values
    # 西湖区: a,b,c,d,e,f,g enrolled (7) + the staff member (not enrolled) = 8 cadres.
    assert (total["headcount"], total["enrolled"]) == (8, 7)
    # first: a b c e g (d's row is empty); second: a b c f → 9 person-times.
    assert total["attended"] == 9
    assert total["attendance_rate"] == Decimal(9) / 14
    # completed: a×2, b×2 (the override), e → 5; c's newest override says not completed.
    assert total["completed"] == 5
    assert total["credit_hours"] == Decimal("2.0") * 3 + Decimal("1.5") * 2


def test_incremental_flush_feeds_the_report(tree: Tree, school_staff: User) -> None:
    programme = ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])
    lecture = LectureFactory(
        programme=programme, sequence=1, duration_minutes=2, starts_at=timezone.now()
    )
    cadre = _cadre(tree.village, "刘一")
    with transaction.atomic():
        Enrolment.objects.create(user=cadre, programme=programme)
    from courses.summaries.sync import enrolment_summaries_sync

    enrolment_summaries_sync(programme_id=programme.pk)
    buffer = MemoryBuffer()
    base = int(lecture.starts_at.timestamp()) // 30
    for w in range(4):
        for mode, offset in ((LIVE, 0), (REPLAY, 10_000)):
            buffer.credit(
                Credit(
                    lecture_id=lecture.pk,
                    user_id=int(cadre.pk),
                    mode=mode,
                    window=base + w + offset,
                    seconds=30,
                    now_epoch=(base + w) * 30,
                ),
                seed=lambda: (0, 0),
            )
    attendance_flush(buffer=buffer)
    req = _parse(school_staff, lecture=str(lecture.pk), unit=tree.lingyin.code)
    row = unit_report_build(request=req).rows[0]
    assert row.unit == tree.village
    assert _values(row) == brute_force(tree.village, [lecture], programme)
    assert (row.values["attended"], row.values["online_live"], row.values["replay"]) == (1, 1, 1)


def test_level_filter_lists_the_units_of_that_level(data: Data, admin_user: User) -> None:
    req = _parse(
        admin_user, lecture=str(data.first.pk), unit=data.tree.province.code, level="township"
    )
    report = unit_report_build(request=req)
    assert {r.unit.pk for r in report.rows if r.unit} == {data.tree.lingyin.pk, data.beishan.pk}
    assert report.direct is not None  # everyone outside those townships
    total = report.total.values["headcount"]
    assert report.direct.values["headcount"] == total - sum(
        r.values["headcount"] for r in report.rows
    )


def test_sorting_by_each_column(data: Data, admin_user: User) -> None:
    for column in ("name", "completion_rate", "attended", "avg_minutes"):
        for prefix in ("", "-"):
            req = _parse(
                admin_user,
                programme=str(data.programme.pk),
                unit=data.tree.xihu.code,
                sort=prefix + column,
            )
            rows = unit_report_build(request=req).rows
            present = [r.values[column] for r in rows if r.values[column] is not None]
            assert present == sorted(present, reverse=prefix == "-")
            assert all(r.values[column] is None for r in rows[len(present) :])


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------


def _cells(html: str, table_id: str = "report-table") -> list[list[str]]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def page_table(html: str) -> list[list[str]]:
    """The report table of a page, as the viewer reads it."""
    return _cells(html)


def test_page_shows_the_county_with_drill_down_and_total(
    client: Any, data: Data, school_staff: User
) -> None:
    client.force_login(school_staff)
    response = client.get(URL, {"lecture": data.first.pk, "unit": data.tree.xihu.code})
    assert response.status_code == 200
    html = response.content.decode()
    assert "西湖区 · 考勤报表" in html
    rows = page_table(html)
    assert [r[0] for r in rows] == ["灵隐街道", "北山街道", "西湖区委党校", "本级直属", "合计"]
    assert f"unit={data.tree.lingyin.code}" in html
    assert f"unit=pk%3A{data.school_unit.pk}" in html  # a unit without a code
    assert "出勤率" in html and "完成率" in html


def test_breadcrumb_stops_at_the_scope_root(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    html = client.get(URL, {"lecture": data.first.pk, "unit": data.tree.village.code}).content
    crumbs = html.decode().split('class="crumbs report-crumbs"', 1)[1].split("</nav>", 1)[0]
    assert "西湖区" in crumbs and "灵隐街道" in crumbs and "灵隐村" in crumbs
    assert "杭州市" not in crumbs and "浙江省" not in crumbs


def test_village_shows_cadres_with_masked_phones(
    client: Any, data: Data, school_staff: User
) -> None:
    client.force_login(school_staff)
    response = client.get(URL, {"lecture": data.first.pk, "unit": data.tree.village.code})
    html = response.content.decode()
    rows = page_table(html)
    assert [r[0] for r in rows] == ["王三", "王四"]
    assert rows[0][3] == "138****0003"
    assert "13800000003" not in html
    # 王三: live + replay on the first lecture, 70 minutes, not completed.
    assert rows[0][4:] == ["是", "是", "否", "是", "是", "否", "70.0", "0.0"]
    assert rows[1][4:] == ["是", "否", "否", "否", "否", "否", "0.0", "0.0"]


def test_cadres_view_of_a_county_is_paged_and_sortable(
    client: Any, data: Data, school_staff: User
) -> None:
    client.force_login(school_staff)
    params = {"programme": data.programme.pk, "unit": data.tree.xihu.code, "view": "cadres"}
    html = client.get(URL, {**params, "sort": "-credit_hours"}).content.decode()
    rows = page_table(html)
    assert len(rows) == 8
    assert rows[0][0] == "王一"  # 4.0 hours
    hours = [Decimal(r[-1]) for r in rows]
    assert hours == sorted(hours, reverse=True)


def test_default_unit_and_lecture(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    html = client.get(URL).content.decode()
    assert "西湖区 · 考勤报表" in html
    assert data.second.title in html  # the most recent started lecture


def test_chooser_when_no_lecture_has_started(tree: Tree, client: Any, school_staff: User) -> None:
    programme = ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])
    LectureFactory(programme=programme, sequence=1)  # tomorrow
    client.force_login(school_staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert programme.title in response.content.decode()
    assert f"programme={programme.pk}" in response.content.decode()


def test_reports_home_links_to_the_report(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    html = client.get("/reports/").content.decode()
    assert f"{URL}?lecture={data.first.pk}&amp;unit={data.tree.xihu.code}" in html


def test_report_url_is_the_contract() -> None:
    assert reverse("courses:attendance_report") == URL
    assert reverse("courses:attendance_report_data") == DATA_URL


def test_chart_data(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    body = client.get(
        DATA_URL, {"programme": data.programme.pk, "unit": data.tree.xihu.code}
    ).json()
    assert [u["name"] for u in body["units"]] == ["灵隐街道", "北山街道", "西湖区委党校"]
    lingyin = brute_force(data.tree.lingyin, [data.first, data.second], data.programme)
    assert body["units"][0]["attendance_rate"] == round(float(lingyin["attendance_rate"]) * 100, 1)
    assert [p["lecture"] for p in body["trend"]] == [data.first.pk, data.second.pk]
    first = brute_force(data.tree.xihu, [data.first], data.programme)
    assert body["trend"][0]["attendance_rate"] == round(float(first["attendance_rate"]) * 100, 1)


def test_query_count_is_bounded_and_independent_of_cadres(
    client: Any, data: Data, school_staff: User, django_assert_max_num_queries: Any
) -> None:
    client.force_login(school_staff)
    params = {"programme": data.programme.pk, "unit": data.tree.xihu.code}
    client.get(URL, params)  # warm the headcount memo

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, params).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(40):
        UserFactory(unit=data.tree.lingyin if i % 2 else data.beishan)
    headcounts_changed()
    client.get(URL, params)
    assert count() == before
    with django_assert_max_num_queries(15):
        client.get(URL, params)
    with django_assert_max_num_queries(15):
        client.get(URL, {**params, "view": "cadres"})


# ---------------------------------------------------------------------------------------
# Scope
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["", "csv", "xlsx", "json"])
def test_unit_outside_scope_is_403(client: Any, data: Data, school_staff: User, fmt: str) -> None:
    client.force_login(school_staff)
    params: dict[str, Any] = {"lecture": data.first.pk, "unit": data.tree.yuhang.code}
    if fmt in ("csv", "xlsx"):
        params["format"] = fmt
    response = client.get(DATA_URL if fmt == "json" else URL, params)
    assert response.status_code == 403
    assert "李一" not in response.content.decode()
    if fmt == "json":
        assert response.json() == {"error": "forbidden"}
    assert not AuditLog.objects.filter(action__startswith="report.export").exists()


def test_parent_of_scope_is_403(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    response = client.get(URL, {"lecture": data.first.pk, "unit": data.tree.hangzhou.code})
    assert response.status_code == 403


def test_cadre_without_role_is_403(client: Any, data: Data) -> None:
    client.force_login(data.people["a"])
    assert client.get(URL, {"lecture": data.first.pk}).status_code == 403
    assert client.get(DATA_URL, {"lecture": data.first.pk}).status_code == 403


def test_anonymous_is_sent_to_sign_in(client: Any, data: Data) -> None:
    response = client.get(URL, {"lecture": data.first.pk})
    assert response.status_code == 302
    assert client.get(DATA_URL, {"lecture": data.first.pk}).status_code == 401


def test_organiser_sees_the_whole_city(client: Any, data: Data, organiser: User) -> None:
    client.force_login(organiser)
    html = client.get(URL, {"lecture": data.first.pk}).content.decode()
    assert [r[0] for r in page_table(html)] == ["西湖区", "余杭区", "本级直属", "合计"]
    assert (
        client.get(URL, {"lecture": data.first.pk, "unit": data.tree.haishu.code}).status_code
        == 403
    )


def test_two_roots_choose_by_unit(client: Any, data: Data) -> None:
    user = UserFactory(username="two-roots")
    RoleFactory(user=user, kind=Role.Kind.SCHOOL, unit=data.tree.xihu)
    RoleFactory(user=user, kind=Role.Kind.SCHOOL, unit=data.tree.haishu)
    client.force_login(user)
    assert (
        client.get(URL, {"lecture": data.first.pk, "unit": data.tree.haishu.code}).status_code
        == 200
    )
    assert (
        client.get(URL, {"lecture": data.first.pk, "unit": data.tree.yuhang.code}).status_code
        == 403
    )


# ---------------------------------------------------------------------------------------
# Bad input: a clear 400, never a 500, never foreign rows
# ---------------------------------------------------------------------------------------


BAD = [
    ({"lecture": "abc"}, "invalid_lecture", "讲次"),
    ({"lecture": "1.5"}, "invalid_lecture", "讲次"),
    ({"lecture": "-1"}, "invalid_lecture", "讲次"),
    ({"lecture": "99999999999999999999"}, "invalid_lecture", "讲次"),
    ({"lecture": "1 OR 1=1"}, "invalid_lecture", "讲次"),
    ({"programme": "1;DROP TABLE courses_attendance"}, "invalid_programme", "专题"),
    ({"unit": "330106000000' OR '1'='1"}, "invalid_unit", "行政区划代码"),
    ({"unit": "西湖区"}, "invalid_unit", "行政区划代码"),
    ({"unit": "pk:abc"}, "invalid_unit", "行政区划代码"),
    ({"format": "pdf"}, "invalid_format", "导出格式"),
    ({"sort": "password"}, "invalid_sort", "排序"),
    ({"sort": "name;DELETE"}, "invalid_sort", "排序"),
    ({"sort": "--name"}, "invalid_sort", "排序"),
    ({"level": "galaxy"}, "invalid_level", "层级"),
    ({"level": "city"}, "invalid_level", "层级"),  # above the county
    ({"view": "everything"}, "invalid_view", "视图"),
    ({"page": "0"}, "invalid_page", "页码"),
    ({"page": "999"}, "invalid_page", "页码"),
]


@pytest.mark.parametrize(("extra", "code", "words"), BAD)
def test_bad_input_is_400_with_a_chinese_message(
    client: Any, data: Data, school_staff: User, extra: dict[str, str], code: str, words: str
) -> None:
    client.force_login(school_staff)
    params = {"lecture": str(data.first.pk), "unit": data.tree.xihu.code, "view": "cadres"}
    if "view" in extra or "level" in extra or "sort" in extra:
        params.pop("view")
    if "programme" in extra:
        params.pop("lecture")
    params.update(extra)
    response = client.get(URL, params)
    assert response.status_code == 400, response.content[:300]
    html = response.content.decode()
    assert words in html
    assert code in html
    assert "王" not in html.split("<main", 1)[1]  # no rows
    if "format" not in extra and extra.get("page") != "999":  # (the charts have no pages)
        json_response = client.get(DATA_URL, params)
        assert json_response.status_code == 400
        assert json_response.json()["error"] == code


def test_repeated_parameter_is_400(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    response = client.get(f"{URL}?lecture={data.first.pk}&lecture={data.second.pk}")
    assert response.status_code == 400
    assert "重复" in response.content.decode()


def test_lecture_of_another_programme_is_400(client: Any, data: Data, school_staff: User) -> None:
    other = ProgrammeFactory(organiser_unit=data.tree.hangzhou)
    client.force_login(school_staff)
    response = client.get(URL, {"lecture": data.first.pk, "programme": other.pk})
    assert response.status_code == 400
    assert "不属于" in response.content.decode()
    response = client.get(DATA_URL, {"lecture": data.first.pk, "programme": other.pk})
    assert response.json() == {
        "error": "lecture_not_in_programme",
        "message": response.json()["message"],
    }


@pytest.mark.parametrize(
    "params",
    [
        {"lecture": "987654"},
        {"programme": "987654"},
        {"unit": "339999999999"},
        {"unit": "pk:987654"},
    ],
)
def test_unknown_objects_are_404(
    client: Any, data: Data, school_staff: User, params: dict[str, str]
) -> None:
    client.force_login(school_staff)
    assert client.get(URL, params).status_code == 404
    response = client.get(DATA_URL, params)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}


def test_nul_in_unit_is_a_clear_error(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    for url in (URL, DATA_URL):
        response = client.get(url, {"lecture": data.first.pk, "unit": "3301\x0006"})
        assert response.status_code in (400, 404)  # PostgreSQL would refuse the parameter


def test_report_error_carries_a_code(data: Data, school_staff: User) -> None:
    with pytest.raises(ReportError) as excinfo:
        _parse(school_staff, sort="nope")
    assert excinfo.value.code == ReportErrorCode.INVALID_SORT


def test_printable_view_is_audited(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    response = client.get(
        URL, {"lecture": data.first.pk, "unit": data.tree.xihu.code, "print": "1"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "print-view" in html and "report-filters" not in html
    entry = AuditLog.objects.get(action="report.export.attendance")
    assert entry.user == school_staff
    assert entry.detail["format"] == "print"
    assert entry.detail["rows"] == 5


def test_programme_outside_the_area_is_unknown(client: Any, data: Data, school_staff: User) -> None:
    """A programme for another city is refused as unknown: its title does not leak."""
    tree = data.tree
    other = ProgrammeFactory(organiser_unit=tree.ningbo, audience=[tree.ningbo], title="宁波专题")
    lecture = LectureFactory(
        programme=other, sequence=1, starts_at=timezone.now() - timedelta(days=1)
    )
    client.force_login(school_staff)
    for params in ({"programme": other.pk}, {"lecture": lecture.pk}):
        response = client.get(URL, {**params, "unit": tree.xihu.code})
        assert response.status_code == 404
        assert "宁波专题" not in response.content.decode()
        for name in ("courses:followup", "courses:ranking"):
            if name == "courses:ranking" and "lecture" in params:
                continue
            assert client.get(reverse(name), params).status_code == 404


def test_cadre_list_of_a_huge_unit_asks_to_drill_down(
    client: Any, data: Data, school_staff: User, settings: Any
) -> None:
    settings.REPORT_CADRE_LIST_MAX = 2
    client.force_login(school_staff)
    params = {"lecture": data.first.pk, "unit": data.tree.xihu.code, "view": "cadres"}
    response = client.get(URL, params)
    assert response.status_code == 400
    assert "下级单位" in response.content.decode() or "下载" in response.content.decode()
    assert client.get(URL, {**params, "format": "csv"}).status_code == 200  # downloads stream
