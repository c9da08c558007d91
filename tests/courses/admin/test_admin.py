"""The organiser admin: scope, the weekly-series and cohort pages, bad input, audit.

An organiser of Hangzhou (fixture ``organiser``, given the organiser group's permissions)
works on Hangzhou's programme; Ningbo's programme must stay invisible and untouched.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from courses.models import Enrolment, Lecture, Programme, Speaker, Venue
from portal.models import AuditLog, Role, User
from portal.services import organiser_permissions_grant
from tests.conftest import Tree
from tests.factories import (
    EnrolmentFactory,
    LectureFactory,
    ProgrammeFactory,
    RoleFactory,
    SpeakerFactory,
    UserFactory,
    VenueFactory,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def organiser_client(client: Client, organiser: User) -> Client:
    organiser_permissions_grant(user=organiser)
    client.force_login(organiser)
    return client


@pytest.fixture
def ningbo_programme(tree: Tree) -> Programme:
    return ProgrammeFactory(
        title="宁波市数字经济专题培训", organiser_unit=tree.ningbo, audience=[tree.ningbo]
    )


def next_week_evening(days: int = 7) -> datetime:
    day = timezone.localtime() + timedelta(days=days)
    return day.replace(hour=19, minute=0, second=0, microsecond=0)


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:courses_{name}", args=args)


def errors_of(response: Any) -> list[str]:
    import re as _re

    return _re.findall(
        r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), _re.S
    )


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def lecture_row(index: int, lecture: Lecture | None = None, **values: Any) -> dict[str, Any]:
    """POST data of one inline lecture row (existing ``lecture`` or a new one)."""
    starts_at = timezone.localtime(values.pop("starts_at", None) or lecture.starts_at)  # type: ignore[union-attr]
    base: dict[str, Any] = {
        "id": lecture.pk if lecture else "",
        "sequence": lecture.sequence if lecture else index + 1,
        "title": lecture.title if lecture else f"第{index + 1}讲",
        "category": lecture.category if lecture else "general",
        "starts_at_0": starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": starts_at.strftime("%H:%M:%S"),
        "duration_minutes": lecture.duration_minutes if lecture else 90,
        "stream_url": lecture.stream_url if lecture else "https://live.example.org/a.m3u8",
        "replay_url": lecture.replay_url if lecture else "",
        "credit_hours": str(lecture.credit_hours) if lecture else "2.0",
        "status_override": lecture.status_override if lecture else "",
    }
    base.update(values)
    return {f"lectures-{index}-{key}": value for key, value in base.items()}


def programme_post(
    programme: Programme | None,
    *,
    tree: Tree,
    rows: list[dict[str, Any]] | None = None,
    initial: int | None = None,
    **values: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": programme.title if programme else "新专题",
        "description": programme.description if programme else "",
        "organiser_unit": programme.organiser_unit_id if programme else tree.hangzhou.pk,
        "audience": ([u.pk for u in programme.audience.all()] if programme else [tree.hangzhou.pk]),
        "enrolment_mode": programme.enrolment_mode if programme else "voluntary",
        "replays_count": "on",
        "is_published": "on",
        "attention_check_minutes": programme.attention_check_minutes if programme else 0,
    }
    data.update(values)
    rows = rows or []
    if initial is None:
        initial = (
            sum(1 for row in rows if any(k.endswith("-id") and v for k, v in row.items()))
            if programme
            else 0
        )
    data.update(
        {
            "lectures-TOTAL_FORMS": str(len(rows)),
            "lectures-INITIAL_FORMS": str(initial),
            "lectures-MIN_NUM_FORMS": "0",
            "lectures-MAX_NUM_FORMS": "1000",
            # the 学时 rule's inline (issue 18): none sent unless a test adds one
            "study_hour_rule-TOTAL_FORMS": "0",
            "study_hour_rule-INITIAL_FORMS": "0",
            "study_hour_rule-MIN_NUM_FORMS": "0",
            "study_hour_rule-MAX_NUM_FORMS": "1",
        }
    )
    for row in rows:
        data.update(row)
    return data


# ---------------------------------------------------------------------------
# Scope: list, open, edit, delete
# ---------------------------------------------------------------------------
def test_site_header_is_chinese(organiser_client: Client) -> None:
    response = organiser_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "知行 · 干部在线培训管理" in response.content.decode()


def test_organiser_lists_only_programmes_in_scope(
    organiser_client: Client, programme: Programme, ningbo_programme: Programme
) -> None:
    response = organiser_client.get(url("programme_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert programme.title in body
    assert ningbo_programme.title not in body
    assert ningbo_programme.organiser_unit.name not in body  # not even in the list filter


def test_superuser_lists_every_programme(
    admin_client: Client, programme: Programme, ningbo_programme: Programme
) -> None:
    body = admin_client.get(url("programme_changelist")).content.decode()
    assert programme.title in body and ningbo_programme.title in body


def test_organiser_opens_and_edits_own_programme(
    organiser_client: Client, programme: Programme, lecture: Lecture, tree: Tree
) -> None:
    response = organiser_client.get(url("programme_change", programme.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert lecture.title in body
    assert "安排每周系列课" in body  # the object tool

    data = programme_post(
        programme, tree=tree, rows=[lecture_row(0, lecture)], title="杭州市人工智能专题培训"
    )
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    programme.refresh_from_db()
    assert programme.title == "杭州市人工智能专题培训"
    entry = AuditLog.objects.get(action="courses.programme.change")
    assert entry.target == f"courses.programme:{programme.pk}"
    assert entry.user is not None and entry.user.username == "org-hz"


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_city_programme_cannot_be_opened(
    organiser_client: Client, ningbo_programme: Programme, view: str
) -> None:
    response = organiser_client.get(url(f"programme_{view}", ningbo_programme.pk))
    assert response.status_code == 403
    assert ningbo_programme.title not in response.content.decode()


def test_other_city_programme_cannot_be_changed_or_deleted(
    organiser_client: Client, ningbo_programme: Programme, tree: Tree
) -> None:
    data = programme_post(ningbo_programme, tree=tree, title="被篡改")
    assert (
        organiser_client.post(url("programme_change", ningbo_programme.pk), data).status_code == 403
    )
    response = organiser_client.post(url("programme_delete", ningbo_programme.pk), {"post": "yes"})
    assert response.status_code == 403
    # The bulk delete action only sees the organiser's own queryset.
    organiser_client.post(
        url("programme_changelist"),
        {"action": "delete_selected", "_selected_action": [ningbo_programme.pk], "post": "yes"},
    )
    ningbo_programme.refresh_from_db()
    assert ningbo_programme.title == "宁波市数字经济专题培训"
    assert not AuditLog.objects.exclude(action__startswith="auth.").exists()  # sign-ins only


def test_unknown_programme_is_404(organiser_client: Client) -> None:
    assert organiser_client.get(url("programme_change", 999_999)).status_code == 404
    assert organiser_client.get(url("programme_change", "abc")).status_code == 404


def test_organiser_deletes_own_programme_and_it_is_audited(
    organiser_client: Client, programme: Programme
) -> None:
    response = organiser_client.post(url("programme_delete", programme.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Programme.objects.filter(pk=programme.pk).exists()
    assert AuditLog.objects.filter(
        action="courses.programme.delete", target=f"courses.programme:{programme.pk}"
    ).exists()


def test_staff_without_scope_sees_no_courses(client: Client, tree: Tree) -> None:
    """Model permissions alone open nothing: the scope decides."""
    clerk = UserFactory(username="clerk", unit=tree.hangzhou, is_staff=True)
    organiser_permissions_grant(user=clerk)
    client.force_login(clerk)
    assert client.get(url("programme_changelist")).status_code == 403


def test_saving_programme_with_unit_outside_scope_is_refused(
    organiser_client: Client, programme: Programme, tree: Tree
) -> None:
    data = programme_post(None, tree=tree, organiser_unit=tree.ningbo.pk, title="越权专题")
    response = organiser_client.post(url("programme_add"), data)
    assert response.status_code == 200
    assert "该单位不存在或不在您的管理范围内" in response.content.decode()
    assert not Programme.objects.filter(title="越权专题").exists()

    data = programme_post(programme, tree=tree, organiser_unit=tree.ningbo.pk)
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200
    programme.refresh_from_db()
    assert programme.organiser_unit == tree.hangzhou

    data = programme_post(programme, tree=tree, audience=[tree.haishu.pk])
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200
    assert list(programme.audience.all()) == [tree.hangzhou]


def test_organiser_adds_programme_in_scope_with_lectures(
    organiser_client: Client, tree: Tree
) -> None:
    start = next_week_evening()
    data = programme_post(
        None,
        tree=tree,
        organiser_unit=tree.xihu.pk,
        audience=[tree.xihu.pk],
        title="西湖区专题",
        rows=[
            lecture_row(0, starts_at=start),
            lecture_row(1, starts_at=start + timedelta(days=7)),
        ],
    )
    response = organiser_client.post(url("programme_add"), data)
    assert response.status_code == 302
    new = Programme.objects.get(title="西湖区专题")
    assert list(new.lectures.values_list("sequence", flat=True).order_by("sequence")) == [1, 2]
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"courses.programme.add", "courses.lecture.add"} <= actions


def test_autocomplete_offers_only_units_in_scope(organiser_client: Client, tree: Tree) -> None:
    base = reverse("admin:autocomplete")
    params = {"app_label": "courses", "model_name": "programme", "field_name": "organiser_unit"}
    found = organiser_client.get(base, {**params, "term": "宁波"}).json()["results"]
    assert found == []
    found = organiser_client.get(base, {**params, "term": "西湖"}).json()["results"]
    assert [r["text"] for r in found] == ["西湖区"]


# ---------------------------------------------------------------------------
# Bad input on the programme page (inline lectures) and elsewhere
# ---------------------------------------------------------------------------
def test_inline_lectures_overlapping_each_other_are_refused(
    organiser_client: Client, programme: Programme, tree: Tree
) -> None:
    start = next_week_evening()
    data = programme_post(
        programme,
        tree=tree,
        title="不应保存",
        rows=[
            lecture_row(0, starts_at=start, title="甲"),
            lecture_row(1, starts_at=start + timedelta(minutes=30), title="乙"),
        ],
    )
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "有堂课的时间相互重叠" in body
    assert "“甲”" in body
    programme.refresh_from_db()
    assert programme.title != "不应保存"
    assert not programme.lectures.exists()


def test_inline_lecture_overlapping_saved_lecture_is_refused(
    organiser_client: Client, programme: Programme, lecture: Lecture, tree: Tree
) -> None:
    data = programme_post(
        programme,
        tree=tree,
        rows=[
            lecture_row(0, lecture),
            lecture_row(1, starts_at=lecture.starts_at + timedelta(minutes=10), sequence=2),
        ],
    )
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200
    assert programme.lectures.count() == 1


def test_inline_lectures_swapping_times_in_one_save_is_accepted(
    organiser_client: Client, programme: Programme, tree: Tree
) -> None:
    start = next_week_evening()
    first = LectureFactory(programme=programme, sequence=1, starts_at=start)
    second = LectureFactory(programme=programme, sequence=2, starts_at=start + timedelta(days=7))
    data = programme_post(
        programme,
        tree=tree,
        rows=[
            lecture_row(0, first, starts_at=second.starts_at),
            lecture_row(1, second, starts_at=first.starts_at),
        ],
    )
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.starts_at == start + timedelta(days=7)
    assert second.starts_at == start


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_minutes", "0", "确保该值大于或等于1"),
        ("duration_minutes", "-30", "确保该值大于或等于"),
        ("stream_url", "ftp://live.example.org/a.m3u8", "http://"),
        ("stream_url", "javascript:alert(1)", "http://"),
        ("replay_url", "rtmp://x/y", "http://"),
    ],
)
def test_inline_lecture_bad_values_are_refused(
    organiser_client: Client, programme: Programme, tree: Tree, field: str, value: str, message: str
) -> None:
    data = programme_post(
        programme,
        tree=tree,
        rows=[lecture_row(0, None, starts_at=next_week_evening(), **{field: value})],
    )
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not programme.lectures.exists()


def test_too_long_description_gets_a_chinese_error(
    organiser_client: Client, programme: Programme, tree: Tree
) -> None:
    data = programme_post(programme, tree=tree, description="长" * 100_000)
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200
    assert "确保该变量包含不超过 20000 字符" in response.content.decode()
    programme.refresh_from_db()
    assert len(programme.description) < 100


def test_ten_megabyte_description_is_rejected_and_nothing_saved(
    organiser_client: Client, programme: Programme, tree: Tree
) -> None:
    data = programme_post(programme, tree=tree, description="x" * 10 * 1024 * 1024, title="新标题")
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 400  # over DATA_UPLOAD_MAX_MEMORY_SIZE: never parsed
    programme.refresh_from_db()
    assert programme.title != "新标题"


def test_description_fields_carry_the_client_side_limit(
    organiser_client: Client, programme: Programme
) -> None:
    body = organiser_client.get(url("programme_change", programme.pk)).content.decode()
    assert 'data-max-chars="20000"' in body
    assert "内容过长" in body


def test_speaker_photo_must_be_an_image(organiser_client: Client) -> None:
    fake = SimpleUploadedFile("photo.jpg", b"this is not a picture", content_type="image/jpeg")
    response = organiser_client.post(
        url("speaker_add"), {"name": "王坚", "title": "院士", "photo": fake}
    )
    assert response.status_code == 200
    assert "请上传一张有效的图片" in response.content.decode()
    assert not Speaker.objects.exists()


def test_speaker_with_a_real_image_is_saved(organiser_client: Client) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    png = buffer.getvalue()
    photo = SimpleUploadedFile("wang.png", png, content_type="image/png")
    response = organiser_client.post(
        url("speaker_add"), {"name": "王坚", "title": "中国工程院院士", "photo": photo}
    )
    assert response.status_code == 302, errors_of(response)
    speaker = Speaker.objects.get(name="王坚")
    assert str(speaker.photo.name).startswith("speakers/")
    speaker.photo.delete(save=False)


def test_standalone_lecture_overlap_is_refused(
    organiser_client: Client, programme: Programme, lecture: Lecture
) -> None:
    starts = timezone.localtime(lecture.starts_at + timedelta(minutes=45))
    response = organiser_client.post(
        url("lecture_add"),
        {
            "programme": programme.pk,
            "sequence": 2,
            "title": "冲突的一讲",
            "category": "general",
            "starts_at_0": starts.strftime("%Y-%m-%d"),
            "starts_at_1": starts.strftime("%H:%M:%S"),
            "duration_minutes": 90,
            "credit_hours": "2.0",
        },
    )
    assert response.status_code == 200
    assert "本专题第1讲" in response.content.decode()
    assert programme.lectures.count() == 1


# ---------------------------------------------------------------------------
# Lectures, venues, enrolments: scoped like their programme / unit
# ---------------------------------------------------------------------------
def test_lecture_admin_lists_and_opens_only_lectures_in_scope(
    organiser_client: Client, lecture: Lecture, ningbo_programme: Programme
) -> None:
    other = LectureFactory(programme=ningbo_programme, sequence=1, title="宁波的一讲")
    body = organiser_client.get(url("lecture_changelist")).content.decode()
    assert lecture.title in body and "宁波的一讲" not in body
    assert organiser_client.get(url("lecture_change", other.pk)).status_code == 403
    assert organiser_client.get(url("lecture_change", lecture.pk)).status_code == 200
    # A lecture cannot be moved into (or created in) another city's programme.
    starts = timezone.localtime(next_week_evening(30))
    response = organiser_client.post(
        url("lecture_add"),
        {
            "programme": ningbo_programme.pk,
            "sequence": 5,
            "title": "越权",
            "category": "general",
            "starts_at_0": starts.strftime("%Y-%m-%d"),
            "starts_at_1": starts.strftime("%H:%M:%S"),
            "duration_minutes": 90,
            "credit_hours": "2.0",
        },
    )
    assert response.status_code == 200
    assert "该专题培训不存在或不在您的管理范围内" in response.content.decode()
    assert not Lecture.objects.filter(title="越权").exists()


def test_lecture_status_filter(organiser_client: Client, programme: Programme) -> None:
    LectureFactory(
        programme=programme,
        sequence=1,
        title="已结束的一讲",
        starts_at=timezone.now() - timedelta(days=3),
    )
    LectureFactory(
        programme=programme,
        sequence=2,
        title="正在直播的一讲",
        starts_at=timezone.now() - timedelta(minutes=10),
    )
    body = organiser_client.get(url("lecture_changelist"), {"status": "live"}).content.decode()
    assert "正在直播的一讲" in body and "已结束的一讲" not in body


def test_venue_unit_must_be_in_scope(organiser_client: Client, tree: Tree) -> None:
    response = organiser_client.post(
        url("venue_add"),
        {"name": "海曙区委党校", "kind": "party_school", "unit": tree.haishu.pk, "capacity": 100},
    )
    assert response.status_code == 200
    assert not Venue.objects.exists()
    VenueFactory(name="宁波党校", unit=tree.ningbo)
    VenueFactory(name="西湖区委党校", unit=tree.xihu)
    body = organiser_client.get(url("venue_changelist")).content.decode()
    assert "西湖区委党校" in body and "宁波党校" not in body


def test_enrolments_of_other_cities_are_hidden(
    organiser_client: Client,
    programme: Programme,
    ningbo_programme: Programme,
    cadre: User,
    outsider: User,
) -> None:
    EnrolmentFactory(user=cadre, programme=programme)
    theirs = EnrolmentFactory(user=outsider, programme=ningbo_programme)
    body = organiser_client.get(url("enrolment_changelist")).content.decode()
    assert "张三" in body and "李四" not in body
    assert organiser_client.get(url("enrolment_change", theirs.pk)).status_code == 403


# ---------------------------------------------------------------------------
# The weekly series
# ---------------------------------------------------------------------------
def series_post(start: datetime, **values: Any) -> dict[str, Any]:
    local = timezone.localtime(start)
    data = {
        "first_starts_at_0": local.strftime("%Y-%m-%d"),
        "first_starts_at_1": local.strftime("%H:%M"),
        "count": 5,
        "duration_minutes": 90,
        "title_template": "人工智能第{n}讲",
        "category": "application",
        "credit_hours": "1.5",
        "stream_url": "https://live.example.org/ai/index.m3u8",
    }
    data.update(values)
    return data


def test_action_with_one_programme_opens_the_series_page(
    organiser_client: Client, programme: Programme
) -> None:
    response = organiser_client.post(
        url("programme_changelist"),
        {"action": "schedule_weekly_series", "_selected_action": [programme.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == url("programme_schedule_series", programme.pk)
    page = organiser_client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "安排每周系列课" in body and "第{n}讲" in body


def test_action_with_two_programmes_explains_itself(
    organiser_client: Client, programme: Programme, tree: Tree
) -> None:
    second = ProgrammeFactory(organiser_unit=tree.xihu)
    response = organiser_client.post(
        url("programme_changelist"),
        {"action": "schedule_weekly_series", "_selected_action": [programme.pk, second.pk]},
        follow=True,
    )
    assert "请只选择一个专题培训" in response.content.decode()
    assert not Lecture.objects.exists()


def test_weekly_series_creates_lectures_seven_days_apart(
    organiser_client: Client, programme: Programme, lecture: Lecture
) -> None:
    start = next_week_evening(10)
    response = organiser_client.post(
        url("programme_schedule_series", programme.pk), series_post(start)
    )
    assert response.status_code == 302
    assert response["Location"] == url("programme_change", programme.pk)
    created = list(programme.lectures.filter(sequence__gt=1).order_by("sequence"))
    assert [lec.sequence for lec in created] == [2, 3, 4, 5, 6]
    assert [lec.title for lec in created] == [f"人工智能第{n}讲" for n in range(2, 7)]
    for i, lec in enumerate(created):
        assert lec.starts_at == start + timedelta(days=7 * i)
        assert timezone.localtime(lec.starts_at, SHANGHAI).hour == 19
        assert lec.category == "application" and str(lec.credit_hours) == "1.5"
    follow = organiser_client.get(response["Location"])
    assert any("已安排 5 讲每周系列课" in m for m in messages_of(follow))
    assert AuditLog.objects.filter(
        action="lecture.schedule_weekly_series", target=f"programme:{programme.pk}"
    ).exists()


def test_weekly_series_overlapping_an_existing_lecture_saves_nothing(
    organiser_client: Client, programme: Programme
) -> None:
    start = next_week_evening(3)
    LectureFactory(
        programme=programme, sequence=1, starts_at=start + timedelta(days=14, minutes=30)
    )
    response = organiser_client.post(
        url("programme_schedule_series", programme.pk), series_post(start)
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "第4讲" in body and "重叠" in body
    assert programme.lectures.count() == 1
    assert not AuditLog.objects.exclude(action__startswith="auth.").exists()  # sign-ins only


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("count", "0", "确保该值大于或等于1"),
        ("count", "53", "确保该值小于或等于52"),
        ("duration_minutes", "0", "确保该值大于或等于1"),
        ("duration_minutes", "-90", "确保该值大于或等于1"),
        ("stream_url", "ftp://live.example.org/x.m3u8", "http://"),
        ("title_template", "第{x}讲", "{n}"),
        ("first_starts_at_0", "2025-13-40", "输入一个有效的日期"),
        ("credit_hours", "-1", "确保该值大于或等于0"),
    ],
)
def test_weekly_series_bad_input_is_refused(
    organiser_client: Client, programme: Programme, field: str, value: str, message: str
) -> None:
    data = series_post(next_week_evening(), **{field: value})
    response = organiser_client.post(url("programme_schedule_series", programme.pk), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not programme.lectures.exists()


def test_weekly_series_of_another_city_is_forbidden(
    organiser_client: Client, ningbo_programme: Programme
) -> None:
    target = url("programme_schedule_series", ningbo_programme.pk)
    assert organiser_client.get(target).status_code == 403
    assert organiser_client.post(target, series_post(next_week_evening())).status_code == 403
    assert not ningbo_programme.lectures.exists()


# ---------------------------------------------------------------------------
# Assigning a cohort
# ---------------------------------------------------------------------------
def test_assign_cohort_enrols_a_unit_subtree_at_a_venue(
    organiser_client: Client,
    programme: Programme,
    lecture: Lecture,
    tree: Tree,
    cadre: User,
    outsider: User,
) -> None:
    venue = VenueFactory(name="西湖区委党校", unit=tree.xihu)
    lecture.venues.add(venue)
    village_cadre = UserFactory(username="vc", unit=tree.village)
    UserFactory(username="yh", unit=tree.yuhang)  # same city, other county: not in the cohort
    response = organiser_client.post(
        url("programme_assign_cohort", programme.pk), {"unit": tree.xihu.pk, "venue": venue.pk}
    )
    assert response.status_code == 302
    enrolled = set(
        Enrolment.objects.filter(programme=programme, status="active").values_list(
            "user__username", flat=True
        )
    )
    assert enrolled == {cadre.username, village_cadre.username}
    assert set(Enrolment.objects.values_list("venue", flat=True)) == {venue.pk}
    assert AuditLog.objects.filter(action="enrolment.assign_bulk").exists()
    # Idempotent: a second run enrols nobody twice.
    organiser_client.post(
        url("programme_assign_cohort", programme.pk), {"unit": tree.xihu.pk, "venue": venue.pk}
    )
    assert Enrolment.objects.count() == 2


def test_assign_cohort_refuses_units_outside_scope_or_audience(
    organiser_client: Client, programme: Programme, tree: Tree, outsider: User
) -> None:
    target = url("programme_assign_cohort", programme.pk)
    response = organiser_client.post(target, {"unit": tree.haishu.pk})
    assert "该单位不存在或不在您的管理范围内" in response.content.decode()
    programme.audience.set([tree.yuhang])
    response = organiser_client.post(target, {"unit": tree.xihu.pk})
    assert "该单位不在本专题培训的培训对象范围内" in response.content.decode()
    response = organiser_client.post(target, {"unit": 999_999})
    assert "该单位不存在或不在您的管理范围内" in response.content.decode()
    assert not Enrolment.objects.exists()


def test_assign_cohort_refuses_a_venue_not_used_by_the_programme(
    organiser_client: Client, programme: Programme, tree: Tree, cadre: User
) -> None:
    venue = VenueFactory(name="余杭区委党校", unit=tree.yuhang)
    response = organiser_client.post(
        url("programme_assign_cohort", programme.pk), {"unit": tree.xihu.pk, "venue": venue.pk}
    )
    assert response.status_code == 200
    assert not Enrolment.objects.exists()


def test_provincial_organiser_sees_both_cities(
    client: Client, tree: Tree, programme: Programme, ningbo_programme: Programme
) -> None:
    boss = UserFactory(username="org-zj", unit=tree.province, is_staff=True)
    RoleFactory(user=boss, kind=Role.Kind.ORGANISER, unit=tree.province)
    organiser_permissions_grant(user=boss)
    client.force_login(boss)
    body = client.get(url("programme_changelist")).content.decode()
    assert programme.title in body and ningbo_programme.title in body


def test_add_page_starts_at_the_organisers_unit(organiser_client: Client, tree: Tree) -> None:
    response = organiser_client.get(url("programme_add"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.initial["organiser_unit"] == tree.hangzhou.pk


def test_shared_speaker_used_elsewhere_is_read_only(
    organiser_client: Client, ningbo_programme: Programme, lecture: Lecture
) -> None:
    mine = SpeakerFactory(name="本市讲师")
    lecture.speakers.add(mine)
    shared = SpeakerFactory(name="张亚勤")
    LectureFactory(programme=ningbo_programme, sequence=1).speakers.add(shared)
    assert organiser_client.get(url("speaker_change", shared.pk)).status_code == 200  # view
    response = organiser_client.post(url("speaker_change", shared.pk), {"name": "改名"})
    assert response.status_code == 403
    assert (
        organiser_client.post(url("speaker_delete", shared.pk), {"post": "yes"}).status_code == 403
    )
    shared.refresh_from_db()
    assert shared.name == "张亚勤"
    response = organiser_client.post(url("speaker_change", mine.pk), {"name": "本市讲师（改）"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "本市讲师（改）"


def test_changelists_do_not_grow_queries_per_row(
    organiser_client: Client,
    tree: Tree,
    django_assert_max_num_queries: Any,
) -> None:
    for i in range(30):
        programme = ProgrammeFactory(organiser_unit=tree.xihu if i % 2 else tree.hangzhou)
        LectureFactory(programme=programme, sequence=1, starts_at=next_week_evening(i + 1))
    with django_assert_max_num_queries(15):
        assert organiser_client.get(url("programme_changelist")).status_code == 200
    with django_assert_max_num_queries(15):
        assert organiser_client.get(url("lecture_changelist")).status_code == 200


def test_organiser_sets_the_programmes_study_hour_rule_and_credit_follows(
    organiser_client: Client, programme: Programme, lecture: Lecture, tree: Tree
) -> None:
    from courses.models import StudyHourRule

    assert lecture.credit_hours == 2  # each lecture's own, until a rule says otherwise
    data = programme_post(programme, tree=tree, rows=[lecture_row(0, lecture)])
    data.update(
        {
            "study_hour_rule-TOTAL_FORMS": "1",
            "study_hour_rule-0-basis": "duration",
            "study_hour_rule-0-bands_text": "30 = 1\n15 = 0.5\n0 = 0.25",
            "study_hour_rule-0-cap_hours": "",
            "study_hour_rule-0-test_bonus_hours": "0.5",
            "study_hour_rule-0-certificate_min_lectures": "",
        }
    )
    response = organiser_client.post(url("programme_change", programme.pk), data, follow=True)
    assert response.status_code == 200
    assert "学时已按本专题规则重新计算" in response.content.decode()
    rule = StudyHourRule.objects.get(programme=programme)
    assert rule.basis == "duration" and rule.bands[0] == [30, "1"]
    lecture.refresh_from_db()
    assert lecture.credit_hours == 1  # a 90-minute lecture: the ≥ 30 min band
    assert AuditLog.objects.filter(action="studyhours.rule_apply").exists()
    data["study_hour_rule-0-bands_text"] = "三十分钟 = 1"
    data["study_hour_rule-INITIAL_FORMS"] = "1"
    data["study_hour_rule-0-id"] = str(rule.pk)
    data["study_hour_rule-0-programme"] = str(programme.pk)
    response = organiser_client.post(url("programme_change", programme.pk), data)
    assert response.status_code == 200  # the form again, with the line named
    assert "第 1 行" in response.content.decode()
