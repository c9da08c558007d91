"""Follow-up lists (issue 5 item 2): who has not enrolled / attended / completed, scoped,
paginated by keyset, exported as streamed CSV/XLSX with an audit-log row."""

from __future__ import annotations

import csv
import io
import tracemalloc
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from courses.attendance.credit import attendance_override_create
from courses.models import Attendance, Enrolment
from courses.reports import followups
from courses.reports.followups import FollowUpKind, FollowUpQuery, followup_page, followup_stream
from courses.summaries.sync import headcounts_changed
from portal.models import AuditLog, OrgUnit, User
from tests.conftest import Tree
from tests.courses.reports.followup_support import World, world_fixture  # noqa: F401 (fixture)
from tests.factories import LectureFactory, ProgrammeFactory, unit_create

pytestmark = pytest.mark.django_db

URL = "courses:followup"


def _get(client: Client, **params: Any) -> Any:
    return client.get(reverse(URL), params)


def _names(response: Any) -> list[str]:
    return [row.name for row in response.context["page"].rows]


@pytest.fixture
def school(client: Client, school_staff: User) -> Client:
    client.force_login(school_staff)
    return client


def test_not_enrolled_lists_the_subtree_without_an_active_enrolment(
    school: Client, world: World, school_staff: User
) -> None:
    response = _get(school, programme=world.programme.pk, kind="not_enrolled")
    assert response.status_code == 200
    # 王四 (西湖区) and the party-school staff member are cadres of 西湖区 too; 赵一 is in
    # Ningbo, 李一/李二 in 余杭区: never listed.
    assert sorted(_names(response)) == sorted(["王四", school_staff.display_name])
    assert response.context["page"].total == 2
    assert "未报名" in response.content.decode()


def test_withdrawn_enrolment_counts_as_not_enrolled(school: Client, world: World) -> None:
    Enrolment.objects.filter(user=world.people["c"]).update(status=Enrolment.Status.WITHDRAWN)
    response = _get(school, programme=world.programme.pk, kind="not_enrolled", unit="330106004001")
    assert _names(response) == ["王三"]


def test_lecture_not_attended_and_not_completed(school: Client, world: World) -> None:
    response = _get(school, lecture=world.second.pk, kind="not_attended")
    assert _names(response) == ["王三"]  # 王一 watched the replay, 王二 was live for a minute
    response = _get(school, lecture=world.second.pk, kind="not_completed")
    rows = response.context["page"].rows
    assert [(r.name, r.detail) for r in rows] == [("王二", "已出勤未完成"), ("王三", "未出勤")]


def test_corrections_apply_to_completed(school: Client, world: World, organiser: User) -> None:
    row = Attendance.objects.get(user=world.people["b"], lecture=world.second)
    attendance_override_create(attendance=row, completed=True, reason="补签", by=organiser)
    row = Attendance.objects.get(user=world.people["a"], lecture=world.first)
    attendance_override_create(attendance=row, completed=False, reason="时长不足", by=organiser)
    response = _get(school, lecture=world.second.pk, kind="not_completed")
    assert _names(response) == ["王三"]
    response = _get(school, lecture=world.first.pk, kind="not_completed")
    assert _names(response) == ["王一", "王三"]


def test_programme_lists_count_started_lectures_only(school: Client, world: World) -> None:
    # Two lectures have started (the third is upcoming and never counts).
    response = _get(school, programme=world.programme.pk, kind="not_attended")
    assert [(r.name, r.detail) for r in response.context["page"].rows] == [("王三", "缺 2 / 2 讲")]
    response = _get(school, programme=world.programme.pk, kind="not_completed")
    assert [(r.name, r.detail) for r in response.context["page"].rows] == [
        ("王二", "未完成 1 / 2 讲"),
        ("王三", "未完成 2 / 2 讲"),
    ]


def test_row_shows_unit_chain_job_and_masked_phone(school: Client, world: World) -> None:
    response = _get(school, programme=world.programme.pk, kind="not_completed")
    first = response.context["page"].rows[0]
    assert first.unit_chain == "西湖区 › 灵隐街道"
    html = response.content.decode()
    assert "138****0002" in html
    assert "13800000002" not in html
    response = _get(school, programme=world.programme.pk, kind="not_completed", unit="330106004000")
    assert response.context["page"].rows[1].unit_chain == "灵隐街道 › 灵隐村"


def test_keyset_pages_cover_the_list_once(
    school: Client, world: World, monkeypatch: pytest.MonkeyPatch, tree: Tree
) -> None:
    for i in range(7):
        User.objects.create(username=f"x{i}", full_name=f"新人{i}", unit=tree.village)
    headcounts_changed()
    monkeypatch.setattr(followups, "PAGE_SIZE", 3)
    seen: list[str] = []
    params: dict[str, Any] = {"programme": world.programme.pk, "kind": "not_enrolled"}
    for _page in range(10):
        response = _get(school, **params)
        page = response.context["page"]
        assert page.total == 9
        seen += [r.name for r in page.rows]
        if not page.next_cursor:
            break
        params["after"] = page.next_cursor
        assert response.context["next_url"]
    assert len(seen) == 9 == len(set(seen))
    assert response.context["first_url"]


def test_another_unit_is_refused_in_html_and_exports(school: Client, world: World) -> None:
    for unit in ("330110000000", "330203000000", "330100000000"):
        for fmt in ("", "csv", "xlsx"):
            response = _get(school, programme=world.programme.pk, unit=unit, format=fmt)
            assert response.status_code == 403, (unit, fmt)
    assert not AuditLog.objects.filter(action__startswith="report.export").exists()


def test_cadre_without_a_report_role_is_refused(client: Client, world: World) -> None:
    client.force_login(world.people["a"])
    assert _get(client, programme=world.programme.pk, unit="330106004000").status_code == 403


def test_anonymous_is_sent_to_sign_in(client: Client, world: World) -> None:
    response = _get(client, programme=world.programme.pk)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({}, 400, "请选择一讲或一个专题"),
        ({"programme": "abc"}, 400, "编号"),
        ({"lecture": "1; DROP TABLE courses_lecture"}, 400, "编号"),
        ({"programme": "99999999"}, 404, "专题培训不存在"),
        ({"lecture": "99999999"}, 404, "课程不存在"),
        ({"programme": "{programme}", "kind": "bogus"}, 400, "kind"),
        ({"programme": "{programme}", "format": "pdf"}, 400, "csv"),
        ({"programme": "{programme}", "unit": "' OR '1'='1"}, 404, "单位不存在"),
        ({"programme": "{programme}", "unit": "999999999999"}, 404, "单位不存在"),
        ({"programme": "{programme}", "unit": "pk:abc"}, 404, "单位不存在"),
        ({"programme": "{programme}", "unit": "33\x00"}, 404, "单位不存在"),
        ({"programme": "{programme}", "after": "x' OR 1=1"}, 400, "第一页"),
        ({"lecture": "{other_lecture}", "programme": "{programme}"}, 400, "不属于"),
    ],
)
def test_bad_input_gets_a_clear_chinese_error(
    school: Client, world: World, params: dict[str, str], status: int, text: str
) -> None:
    other = LectureFactory(programme=ProgrammeFactory(organiser_unit=world.tree.ningbo), sequence=1)
    filled = {
        k: v.format(programme=world.programme.pk, other_lecture=other.pk) for k, v in params.items()
    }
    response = _get(school, **filled)
    assert response.status_code == status
    assert text in response.content.decode()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "missing_subject"),
        ({"programme": "99999999"}, "unknown_programme"),
        ({"programme": "{programme}", "unit": "999999999999"}, "unknown_unit"),
        ({"programme": "{programme}", "kind": "bogus"}, "invalid_choice"),
        ({"programme": "{programme}", "after": "nope"}, "invalid_cursor"),
    ],
)
def test_the_error_page_carries_the_report_error_code(
    school: Client, world: World, params: dict[str, str], code: str
) -> None:
    filled = {k: v.format(programme=world.programme.pk) for k, v in params.items()}
    response = _get(school, **filled)
    assert f"<code>{code}</code>" in response.content.decode()


def _chunks(response: Any) -> list[bytes]:
    return [bytes(chunk) for chunk in response.streaming_content]


def _csv_rows(response: Any) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(_chunks(response)).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_matches_the_list_and_is_audited(
    school: Client, world: World, school_staff: User
) -> None:
    response = _get(school, programme=world.programme.pk, kind="not_completed", format="csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "filename*=" in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == ["姓名", "单位", "职务", "手机号码", "状态"]
    assert rows[1:] == [
        ["王二", "西湖区 › 灵隐街道", "", "138****0002", "未完成 1 / 2 讲"],
        ["王三", "西湖区 › 灵隐街道 › 灵隐村", "", "138****0003", "未完成 2 / 2 讲"],
    ]
    log = AuditLog.objects.get(action="report.export.followup")
    assert log.user == school_staff
    assert log.detail["rows"] == 2
    assert log.detail["format"] == "csv"
    assert log.detail["params"]["kind"] == "not_completed"


def test_xlsx_export_opens_and_escapes_formulas(school: Client, world: World) -> None:
    world.people["d"].job_title = '=HYPERLINK("http://evil")'
    world.people["d"].save(update_fields=["job_title"])
    response = _get(school, programme=world.programme.pk, kind="not_enrolled", format="xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(_chunks(response))), read_only=True)
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert values[0][0] == "姓名"
    wang = next(r for r in values if r[0] == "王四")
    assert wang[2] == '\'=HYPERLINK("http://evil")'
    assert AuditLog.objects.get(action="report.export.followup").detail["format"] == "xlsx"


def test_big_csv_streams_with_flat_memory(school: Client, world: World, tree: Tree) -> None:
    """30,000 cadres: the response is streamed, rows are read through a server-side cursor
    in chunks, and the memory held while streaming stays far below the size of the list."""
    big = unit_create(name="大村", kind="village", parent=tree.lingyin, code="330106004009")
    n = 30_000
    User.objects.bulk_create(
        [
            User(username=f"bulk{i}", full_name=f"干部{i}", unit=big, phone=f"139{i:08d}")
            for i in range(n)
        ],
        batch_size=5000,
    )
    headcounts_changed()
    response = _get(school, programme=world.programme.pk, unit=big.code, format="csv")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    lines = 0
    tracemalloc.start()
    try:
        for chunk in response.streaming_content:  # type: ignore[union-attr]
            lines += bytes(chunk).count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == n + 1
    # Holding the whole list would take well over 20 MB (about 1 KB of Python objects per
    # row); chunks of 2,000 rows stay a few MB.
    assert peak < 12 * 1024 * 1024, peak
    assert AuditLog.objects.get(action="report.export.followup").detail["rows"] == n


def test_stream_uses_a_server_side_cursor(
    world: World, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    real = followups.QuerySet.iterator

    def spy(self: Any, chunk_size: int | None = None) -> Any:
        calls.append({"chunk_size": chunk_size})
        return real(self, chunk_size=chunk_size)

    monkeypatch.setattr(followups.QuerySet, "iterator", spy)
    query = FollowUpQuery(
        unit=OrgUnit.objects.get(pk=tree.xihu.pk),
        programme=world.programme,
        lecture=None,
        kind=FollowUpKind.NOT_ENROLLED,
    )
    rows = followup_stream(query=query, chunk_size=1)
    assert calls == []  # lazy: nothing is read before the first row is asked for
    assert [r.name for r in rows] == [r.name for r in followup_page(query=query).rows]
    assert calls == [{"chunk_size": 1}]
