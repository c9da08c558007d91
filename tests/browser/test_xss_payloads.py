"""XSS payloads in every field a cadre or an organiser can fill render inert in Chromium,
the admin included (docs/security.md §7).

Each payload would set ``window.__xss`` (or open an alert) if it ever ran. They are stored
through the services and models an organiser's or cadre's input goes through (the
directory import, enrolment, the live room's websocket, the announcement's admin action,
the discussion pages' own forms, …), then every page that shows them is opened on a real
daphne (the live room and the discussion pages render from their websockets with
JavaScript). On each page: the response is the expected
one, the payload is there as literal text where the page shows it, nothing ran, the DOM
holds no element or handler made from a payload, and the raw HTML has no unescaped payload.
A Content-Security-Policy violation fails the test too (``csp_clean``): the escaping must
stop the payloads, not only the policy.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper

from courses.attendance.credit import attendance_override_create
from courses.models import (
    Attendance,
    Enrolment,
    Lecture,
    Programme,
    Speaker,
    Venue,
    validate_stream_url,
)
from courses.services import enrolment_create
from courses.summaries.sync import headcounts_changed
from directory.models import DirectoryImport
from directory.services import directory_upload_confirm, directory_upload_create
from discussion.models import Post, PostReport, StudyGroup, Thread
from discussion.services import group_create
from livestream.models import Question
from notifications.models import (
    Announcement,
    AnnouncementAttachment,
    Channel,
    InboxMessage,
    MessageTemplate,
    Reminder,
    ReminderKind,
)
from notifications.services.inbox import notice_send_test
from notifications.services.reminders import reminder_create
from portal.models import AuditLog, OrgUnit, User
from tests.browser.conftest import DESKTOP, screenshot
from tests.browser.live_support import live_server_url, session_cookie
from tests.conftest import Tree
from tests.courses.reports.followup_support import attend
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]

# -- the payloads ---------------------------------------------------------------------------
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
JSON_BREAK = "</script><script>window.__xss=1</script>"  # out of a json_script block
TEMPLATE = "{{7*7}}${7*7}"  # template text: shown as typed, never evaluated
QUOTE = "'-alert(1)-'"  # out of a quoted JavaScript string
JS_URL = "javascript:window.__xss=1"
ALL = SCRIPT + IMG + SVG + JSON_BREAK + TEMPLATE + QUOTE  # 161 characters

# What a raw response may never contain: the payloads' markup, unescaped.
RAW_FORBIDDEN = ("<script>window.__xss", 'onerror="window.__xss', "<svg onload", "<img src=x")

# Every field gets its own Chinese marker, so a page shows which field it rendered.
PROGRAMME_TITLE = "项目" + ALL
PROGRAMME_DESCRIPTION = "简介" + ALL + "\n" + JS_URL
LECTURE_TITLES = ("一讲" + ALL, "二讲" + ALL, "三讲" + ALL)  # ended, live, upcoming
LECTURE_SUMMARY = "摘要" + ALL
SPEAKER_NAME = "讲师" + SCRIPT  # names: at most 50 characters
SPEAKER_TITLE = "职称" + IMG + SVG
SPEAKER_ORGANISATION = "单位" + JSON_BREAK + QUOTE
SPEAKER_BIO = "履历" + ALL
VENUE_NAME = "会场" + SVG + IMG
VENUE_ADDRESS = "地址" + ALL
UNIT_NAME = "街道" + JSON_BREAK + SVG  # a township, as imported from the directory
VILLAGE_NAME = "村" + SCRIPT + IMG  # a village below it
CADRE_NAME = "干部" + IMG
CADRE2_NAME = "干部" + SVG + QUOTE
RANK = "职级" + SVG
JOB_TITLE = "职务" + SCRIPT + QUOTE + TEMPLATE
QUESTIONS = ("问一" + ALL, "问二" + ALL, "问三" + ALL)  # approved, rejected, pending
REJECT_REASON = "理由" + ALL
OVERRIDE_REASON = "更正" + ALL
ANNOUNCEMENT_TITLE = "公告" + ALL
ANNOUNCEMENT_BODY = "正文" + ALL + "\n" + JS_URL
ATTACHMENT_NAME = "附件" + IMG + ".txt"
REMINDER_NOTE = "备注" + ALL
TEMPLATE_SUBJECT = "标题" + SCRIPT + "{{ title }}"
TEMPLATE_BODY = "模板" + IMG + SVG + QUOTE + " {{ note }}"
TEMPLATE_SAMPLE = "模板" + IMG + SVG + QUOTE  # the template's literal text, as rendered
NOTICE_TITLE = "标题" + SCRIPT + LECTURE_TITLES[2][:100]  # the inbox keeps 200 characters
UPLOAD_NAME = "名册" + SVG + ".csv"  # a file name has no slash
BAD_UNIT_CODE = SCRIPT  # echoed by the import's error report
SEARCH = SVG + SCRIPT  # reflected from query strings
GROUP_NAME = "学习群" + SCRIPT + SVG + QUOTE  # at most 100 characters
GROUP_DESCRIPTION = "群简介" + ALL
GROUP_LECTURE_TITLE = "研讨" + JSON_BREAK + SVG + QUOTE + TEMPLATE  # the group's thread
TOPIC_TITLE = "话题" + JSON_BREAK + IMG + QUOTE  # a topic in the lecture space
TOPIC_TEXT = "首帖" + ALL
POST_LINK = "https://example.com/a?x=1"  # a link ends where a quote starts
POST_TEXT = "帖子" + ALL + "\n" + JS_URL + "\n" + POST_LINK + '"onmouseover="window.__xss=1'
REPLY_TEXT = "回帖" + ALL
REPORT_DETAIL = "举报" + ALL

# Elements and handlers made from a payload (json_script blocks hold them as JSON text).
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (!attr.value.includes("__xss")) continue;
      if (attr.name.startsWith("on") || /^\\s*javascript:/i.test(attr.value)) {
        found.push(el.outerHTML.slice(0, 200));
      }
    }
    if (el.tagName === "SCRIPT" && el.type !== "application/json"
        && el.textContent.includes("__xss")) {
      found.push(el.outerHTML.slice(0, 200));
    }
  }
  return found;
}"""
# Does a <select> offer an option with this text?
HAS_OPTION = """([selector, text]) => Array.from(document.querySelectorAll(selector + " option"))
  .some((o) => o.textContent.includes(text))"""
# The href of every link in the elements ``selector`` matches.
HREFS = """(selector) => Array.from(document.querySelectorAll(selector + " a"))
  .map((a) => a.getAttribute("href"))"""
# A discussion page's socket is open and its hello sent (its own "connected" text).
DISC_CONNECTED = """() => {
  const cfg = JSON.parse(document.getElementById("discussion-config").textContent);
  return document.getElementById("disc-conn").textContent === cfg.messages.connected;
}"""


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


# -- the data ---------------------------------------------------------------------------------
@dataclass
class World:
    programme: Programme
    ended: Lecture
    live: Lecture
    upcoming: Lecture
    township: OrgUnit
    village: OrgUnit
    cadre: User
    cadre2: User
    venue: Venue
    speaker: Speaker
    attendance: Attendance
    announcement: Announcement
    reminder: Reminder
    template: MessageTemplate
    notice: InboxMessage
    bad_import: DirectoryImport
    group: StudyGroup
    root: User


def _import(by: User, kind: str, name: str, rows: list[list[str]]) -> DirectoryImport:
    """An organiser's directory file through the admin's use cases (the check, then the
    confirmation; Celery runs eagerly here)."""
    upload = SimpleUploadedFile(name, csv_file(rows), content_type="text/csv")
    row = directory_upload_create(by=by, kind=kind, upload=upload, deactivate_missing=False)
    row.refresh_from_db()
    if row.status == DirectoryImport.Status.CHECKED:
        assert directory_upload_confirm(row=row, by=by)
        row.refresh_from_db()
    return row


def _world(tree: Tree, organiser: User) -> World:
    root = UserFactory(username="root", full_name="系统管理员", is_staff=True, is_superuser=True)
    # Units and cadres as the directory import brings them in.
    units = _import(
        organiser,
        "units",
        "units.csv",
        [
            ["单位编码", "单位名称", "上级单位编码", "单位类型"],
            ["XSS-T", UNIT_NAME, tree.xihu.code or "", "乡"],
            ["XSS-V", VILLAGE_NAME, "XSS-T", "村"],
        ],
    )
    assert units.status == DirectoryImport.Status.APPLIED, units.errors
    cadres = _import(
        organiser,
        "cadres",
        "cadres.csv",
        [
            ["干部编号", "姓名", "手机号", "单位编码", "浙政钉账号", "职级", "状态"],
            ["X1", CADRE_NAME, "13900000001", "XSS-T", "", RANK, ""],
            ["X2", CADRE2_NAME, "", "XSS-V", "", "", ""],
        ],
    )
    assert cadres.status == DirectoryImport.Status.APPLIED, cadres.errors
    bad_import = _import(
        organiser,
        "cadres",
        UPLOAD_NAME,
        [
            ["干部编号", "姓名", "手机号", "单位编码", "浙政钉账号", "职级", "状态"],
            ["X3", "王五", "", BAD_UNIT_CODE, "", "", ""],
        ],
    )
    assert bad_import.status == DirectoryImport.Status.REJECTED
    township = OrgUnit.objects.get(directory_code="XSS-T")
    village = OrgUnit.objects.get(directory_code="XSS-V")
    cadre = User.objects.get(cadre_no="X1")
    cadre2 = User.objects.get(cadre_no="X2")
    cadre.job_title = JOB_TITLE  # set by an organiser in the admin
    cadre.full_clean()
    cadre.save(update_fields=["job_title"])

    # The catalogue, as an organiser types it in the admin (each row passes its validation).
    programme = Programme(
        title=PROGRAMME_TITLE, description=PROGRAMME_DESCRIPTION, organiser_unit=tree.hangzhou
    )
    programme.full_clean()
    programme.save()
    programme.audience.set([tree.hangzhou])
    speaker = Speaker(
        name=SPEAKER_NAME, title=SPEAKER_TITLE, organisation=SPEAKER_ORGANISATION, bio=SPEAKER_BIO
    )
    speaker.full_clean()
    speaker.save()
    venue = Venue(
        name=VENUE_NAME,
        address=VENUE_ADDRESS,
        kind=Venue.Kind.PARTY_SCHOOL,
        unit=tree.xihu,
        capacity=50,
    )
    venue.full_clean()
    venue.save()
    now = timezone.now()
    lectures = []
    for sequence, (title, starts_at) in enumerate(
        zip(
            LECTURE_TITLES,
            (now - timedelta(days=2), now - timedelta(minutes=10), now + timedelta(days=3)),
            strict=True,
        ),
        start=1,
    ):
        lecture = Lecture(
            programme=programme,
            sequence=sequence,
            title=title,
            summary=LECTURE_SUMMARY,
            starts_at=starts_at,
            duration_minutes=90,
        )
        lecture.full_clean(exclude=["ends_at"])
        lecture.save()
        lecture.speakers.add(speaker)
        lectures.append(lecture)
    ended, live, upcoming = lectures
    live.venues.add(venue)
    # The only addresses an organiser types (the streams') refuse a javascript: URL.
    with pytest.raises(ValidationError):
        validate_stream_url(JS_URL)

    # Enrolment, attendance and an organiser's correction with its reason.
    for user in (cadre, cadre2):
        enrolment_create(user=user, programme=programme)
    Enrolment.objects.filter(user=cadre, programme=programme).update(venue=venue)
    attendance = attend(cadre, ended, live=600)
    attendance_override_create(
        attendance=attendance, completed=True, reason=OVERRIDE_REASON, by=organiser
    )
    headcounts_changed()

    # Notices: an announcement with an attachment (published later, in the admin), a custom
    # reminder with a note, and the organisers' own inbox text for custom notices.
    announcement = Announcement(
        title=ANNOUNCEMENT_TITLE, body=ANNOUNCEMENT_BODY, unit=tree.hangzhou
    )
    announcement.full_clean()
    announcement.save()
    AnnouncementAttachment.objects.create(
        announcement=announcement,
        file=ContentFile(b"notice", name="notice.txt"),
        name=ATTACHMENT_NAME,
    )
    template = MessageTemplate(
        channel=Channel.INBOX,
        kind=ReminderKind.CUSTOM,
        subject=TEMPLATE_SUBJECT,
        body=TEMPLATE_BODY,
    )
    template.full_clean()
    template.save()
    reminder = reminder_create(
        lecture=upcoming,
        kind=ReminderKind.CUSTOM,
        due_at=now + timedelta(days=1),
        created_by=organiser,
        note=REMINDER_NOTE,
    )
    notice_send_test(reminder=reminder, user=cadre, channel=Channel.INBOX)
    notice = InboxMessage.objects.get(user=cadre, reminder=None, announcement=None)

    # The township's study group, as the admin's form makes it (both cadres join). It
    # follows a programme of its own, whose ended lecture (a thread in the group) has a
    # title that fits a thread's 100 characters.
    seminar = Programme(title="研讨班", description="研讨", organiser_unit=tree.hangzhou)
    seminar.full_clean()
    seminar.save()
    seminar.audience.set([tree.hangzhou])
    seminar_lecture = Lecture(
        programme=seminar,
        sequence=1,
        title=GROUP_LECTURE_TITLE,
        starts_at=now - timedelta(days=1),
        duration_minutes=90,
    )
    seminar_lecture.full_clean(exclude=["ends_at"])
    seminar_lecture.save()
    group = group_create(
        by=organiser,
        programme=seminar,
        unit=township,
        name=GROUP_NAME,
        description=GROUP_DESCRIPTION,
    )
    assert set(group.members.values_list("user_id", flat=True)) == {cadre.pk, cadre2.pk}
    return World(
        programme=programme,
        ended=ended,
        live=live,
        upcoming=upcoming,
        township=township,
        village=village,
        cadre=cadre,
        cadre2=cadre2,
        venue=venue,
        speaker=speaker,
        attendance=attendance,
        announcement=announcement,
        reminder=reminder,
        template=template,
        notice=notice,
        bad_import=bad_import,
        group=group,
        root=root,
    )


# -- the checks -------------------------------------------------------------------------------
@dataclass
class Visits:
    """Opens pages and checks each; records the dialogs (an alert is a payload that ran)."""

    server: str
    alerts: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def context(self, browser: Browser, user: User) -> BrowserContext:
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        context.add_cookies(
            [{"name": "sessionid", "value": session_cookie(user), "url": self.server}]
        )
        context.set_default_timeout(15_000)
        context.on("page", self._watch)
        return context

    def _watch(self, page: Page) -> None:
        def on_dialog(dialog: Dialog) -> None:
            if dialog.type == "prompt":  # the moderator's reason for rejecting
                dialog.accept(REJECT_REASON)
                return
            self.alerts.append(f"{page.url}: {dialog.type} {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def inert(self, page: Page, raw: str | None = None) -> None:
        assert page.evaluate("window.__xss") is None, page.url
        assert page.evaluate(INJECTED) == [], page.url
        assert self.alerts == []
        if raw is not None:
            leaked = [bad for bad in RAW_FORBIDDEN if bad in raw]
            assert leaked == [], f"{page.url}: unescaped {leaked}"
        self.pages.append(page.url)

    def visit(
        self,
        page: Page,
        path: str,
        *texts: str,
        values: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        status: int = 200,
        idle: bool = False,
    ) -> None:
        """Open ``path``: the status, the ``texts`` shown as literal text, the form fields'
        ``values``, a select's option with the text in ``options``; then nothing ran."""
        response = page.goto(self.server + path)
        assert response is not None
        assert response.status == status, f"{path}: {response.status}"
        if idle:
            page.wait_for_load_state("networkidle")
        body = page.inner_text("body")
        missing = [text for text in texts if text not in body]
        assert missing == [], f"{path}: not shown {missing}"
        for selector, value in (values or {}).items():
            assert page.input_value(selector, timeout=2_000) == value, f"{path}: {selector}"
        for selector, text in (options or {}).items():
            assert page.evaluate(HAS_OPTION, [selector, text]), f"{path}: {selector} {text}"
        self.inert(page, response.text())


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[str]:
    yield from live_server_url(redis_url, tmp_path, {"LIVE_QUESTION_INTERVAL_SECONDS": "0"})


@pytest.fixture
def eager(uploads_run_inline: None, settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def test_payloads_render_inert_everywhere(
    browser: Browser, server: str, tree: Tree, organiser: User, eager: None
) -> None:
    w = _world(tree, organiser)
    v = Visits(server)
    cadre_context = v.context(browser, w.cadre)
    cadre2_context = v.context(browser, w.cadre2)
    mod_context = v.context(browser, organiser)
    root_context = v.context(browser, w.root)
    try:
        _live_room(v, w, cadre_context, mod_context)
        _admin(v, w, root_context.new_page())
        _cadre_pages(v, w, cadre_context.new_page())
        _organiser_pages(v, w, mod_context.new_page())
        _discussion(v, w, cadre_context, cadre2_context, mod_context)
        _discussion_admin(v, w, root_context.new_page())
    finally:
        for context in (cadre_context, cadre2_context, mod_context, root_context):
            context.close()
    print(f"{len(v.pages)} pages checked")


def _live_room(
    v: Visits, w: World, cadre_context: BrowserContext, mod_context: BrowserContext
) -> None:
    """The cadre types three questions; the moderator approves one, puts it on screen,
    rejects one with a reason; everything arrives through the websocket."""
    room = f"{v.server}/lectures/{w.live.pk}/live/"
    cadre, mod = cadre_context.new_page(), mod_context.new_page()
    for page in (cadre, mod):
        response = page.goto(room)
        assert response is not None and response.status == 200
        expect(page.locator("#live-conn")).to_have_text("已连接", timeout=10_000)
        expect(page.locator("#live-title")).to_have_text(LECTURE_TITLES[1])
        v.inert(page, response.text())

    for n, text in enumerate(QUESTIONS, start=1):
        cadre.fill("#ask-text", text)
        cadre.click("#ask-send")
        expect(cadre.locator("#question-list .pending")).to_have_count(n)
    expect(cadre.locator("#question-list .pending .q-text")).to_have_text(list(QUESTIONS))
    v.inert(cadre)

    queue = mod.locator("#queue-list .queue-item")
    expect(queue.locator(".q-text")).to_have_text(list(QUESTIONS), timeout=10_000)
    expect(queue.first.locator(".q-author")).to_have_text(f"{CADRE_NAME} · {UNIT_NAME}")
    v.inert(mod)
    queue.filter(has_text="问一").get_by_role("button", name="通过", exact=True).click()
    expect(mod.locator("#question-list li.question .q-text")).to_have_text(QUESTIONS[0])
    mod.keyboard.press("h")  # on screen: the newest published question
    queue.filter(has_text="问二").get_by_role("button", name="不通过", exact=True).click()
    expect(queue).to_have_count(1)
    v.inert(mod)

    published = cadre.locator("#question-list li.question.highlighted")
    expect(published.locator(".q-text")).to_have_text(QUESTIONS[0], timeout=10_000)
    expect(published.locator(".q-author")).to_have_text(f"{CADRE_NAME} · {UNIT_NAME}")
    expect(cadre.locator("#ask-status")).to_contain_text(REJECT_REASON)
    expect(cadre.locator("#question-list .pending .q-text")).to_have_text(QUESTIONS[2])
    v.inert(cadre)
    screenshot(cadre, "xss-live-room")

    screen = cadre_context.new_page()
    response = screen.goto(f"{v.server}/lectures/{w.live.pk}/screen/")
    assert response is not None and response.status == 200
    expect(screen.locator("#screen-text")).to_have_text(QUESTIONS[0], timeout=10_000)
    expect(screen.locator("#screen-author")).to_have_text(f"{CADRE_NAME} · {UNIT_NAME}")
    v.inert(screen, response.text())
    # the speaker's list and the speaker's view (moderator objects: author and unit named)
    mod.locator("#question-list li.question").filter(has_text="问一").get_by_role(
        "button", name="加入主讲人清单"
    ).click()
    expect(mod.locator("#console-speaker-list li .q-text")).to_have_text(
        [QUESTIONS[0]], timeout=10_000
    )
    v.inert(mod)
    speaker = mod_context.new_page()
    response = speaker.goto(f"{v.server}/lectures/{w.live.pk}/speaker/")
    assert response is not None and response.status == 200
    expect(speaker.locator("#speaker-list li .q-text")).to_have_text([QUESTIONS[0]], timeout=10_000)
    expect(speaker.locator("#speaker-list li .q-author")).to_contain_text(CADRE_NAME)
    expect(speaker.locator("#screen-text")).to_have_text(QUESTIONS[0])
    v.inert(speaker, response.text())
    speaker.close()
    rejected = Question.objects.get(text=QUESTIONS[1])
    assert (rejected.status, rejected.reject_reason) == (Question.Status.REJECTED, REJECT_REASON)

    # The dashboard: the waiting question rendered by the page, then by its script.
    dashboard = mod_context.new_page()
    dashboard.add_init_script(
        "document.addEventListener('live:event', (e) => {"
        " if (e.detail.type === 'lecture.stats') window.__statsSeen = true; });"
    )
    v.visit(dashboard, f"/lectures/{w.live.pk}/dashboard/", QUESTIONS[2], LECTURE_TITLES[1])
    dashboard.wait_for_function("() => window.__statsSeen === true", timeout=10_000)
    expect(dashboard.locator("#dash-waiting li")).to_have_text([QUESTIONS[2]])
    v.inert(dashboard)
    for page in (cadre, mod, screen, dashboard):
        page.close()


def _admin(v: Visits, w: World, page: Page) -> None:
    """The changelists and change pages of every model holding a payload (a superuser)."""
    admin = "/admin"
    # The announcement is published with the admin action; its message names it.
    v.visit(page, f"{admin}/notifications/announcement/", ANNOUNCEMENT_TITLE)
    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "publish")
    page.click("button[name=index]")
    expect(page.locator(".messagelist .success")).to_contain_text(ANNOUNCEMENT_TITLE)
    v.inert(page)
    v.visit(
        page,
        f"{admin}/notifications/announcement/{w.announcement.pk}/change/",
        ATTACHMENT_NAME,
        values={"#id_title": ANNOUNCEMENT_TITLE, "#id_body": ANNOUNCEMENT_BODY},
    )

    p, live = w.programme.pk, w.live.pk
    v.visit(page, f"{admin}/courses/programme/", PROGRAMME_TITLE)
    v.visit(page, f"{admin}/courses/programme/?q={quote(SEARCH)}", values={"#searchbar": SEARCH})
    v.visit(
        page,
        f"{admin}/courses/programme/{p}/change/",
        values={
            "#id_title": PROGRAMME_TITLE,
            "#id_description": PROGRAMME_DESCRIPTION,
            "#id_lectures-0-title": LECTURE_TITLES[0],
        },
    )
    v.visit(page, f"{admin}/courses/programme/{p}/delete/", PROGRAMME_TITLE)
    v.visit(page, f"{admin}/courses/programme/{p}/schedule-series/", *LECTURE_TITLES)
    v.visit(page, f"{admin}/courses/programme/{p}/assign-cohort/", PROGRAMME_TITLE[:20])
    v.visit(page, f"{admin}/courses/lecture/", *LECTURE_TITLES, PROGRAMME_TITLE)
    v.visit(
        page,
        f"{admin}/courses/lecture/{live}/change/",
        SPEAKER_NAME,
        VENUE_NAME,
        PROGRAMME_TITLE,
        values={"#id_title": LECTURE_TITLES[1], "#id_summary": LECTURE_SUMMARY},
        options={"#id_speakers": SPEAKER_NAME, "#id_venues": VENUE_NAME},
    )
    v.visit(page, f"{admin}/courses/speaker/", SPEAKER_NAME, SPEAKER_TITLE, SPEAKER_ORGANISATION)
    v.visit(
        page,
        f"{admin}/courses/speaker/{w.speaker.pk}/change/",
        values={
            "#id_name": SPEAKER_NAME,
            "#id_title": SPEAKER_TITLE,
            "#id_organisation": SPEAKER_ORGANISATION,
            "#id_bio": SPEAKER_BIO,
        },
    )
    v.visit(page, f"{admin}/courses/venue/", VENUE_NAME)
    v.visit(
        page,
        f"{admin}/courses/venue/{w.venue.pk}/change/",
        values={"#id_name": VENUE_NAME, "#id_address": VENUE_ADDRESS},
    )
    v.visit(page, f"{admin}/courses/enrolment/", CADRE_NAME, CADRE2_NAME, VENUE_NAME)
    v.visit(page, f"{admin}/courses/attendance/", CADRE_NAME, UNIT_NAME, LECTURE_TITLES[0])
    v.visit(page, f"{admin}/courses/attendance/{w.attendance.pk}/change/", CADRE_NAME)
    v.visit(page, f"{admin}/courses/attendance/{w.attendance.pk}/correct/", OVERRIDE_REASON)
    v.visit(page, f"{admin}/courses/attendanceoverride/", OVERRIDE_REASON, CADRE_NAME)
    override = w.attendance.overrides.get()
    v.visit(page, f"{admin}/courses/attendanceoverride/{override.pk}/change/", OVERRIDE_REASON)

    v.visit(page, f"{admin}/livestream/question/", *QUESTIONS, CADRE_NAME)
    rejected = Question.objects.get(text=QUESTIONS[1])
    v.visit(
        page,
        f"{admin}/livestream/question/{rejected.pk}/change/",
        LECTURE_TITLES[1],
        values={"#id_text": QUESTIONS[1], "#id_reject_reason": REJECT_REASON},
    )
    v.visit(page, f"{admin}/notifications/reminder/", LECTURE_TITLES[2])
    v.visit(
        page,
        f"{admin}/notifications/reminder/{w.reminder.pk}/change/",
        "标题" + SCRIPT + LECTURE_TITLES[2],
        REMINDER_NOTE,
        values={"#id_note": REMINDER_NOTE},
    )
    v.visit(
        page,
        f"{admin}/notifications/messagetemplate/{w.template.pk}/change/",
        TEMPLATE_SAMPLE,
        values={"#id_subject": TEMPLATE_SUBJECT, "#id_body": TEMPLATE_BODY},
    )

    v.visit(page, f"{admin}/portal/user/", CADRE_NAME, CADRE2_NAME, UNIT_NAME)
    v.visit(page, f"{admin}/portal/user/?q={quote(SEARCH)}", values={"#searchbar": SEARCH})
    v.visit(
        page,
        f"{admin}/portal/user/{w.cadre.pk}/change/",
        UNIT_NAME,
        values={"#id_full_name": CADRE_NAME, "#id_job_title": JOB_TITLE},
    )
    # The unit picker's results come from the autocomplete JSON, drawn by select2.
    page.click("#id_unit + .select2 .select2-selection")
    page.fill(".select2-search__field", "__xss")
    results = page.locator(".select2-results__option:not(.loading-results)")
    expect(results).to_have_text([UNIT_NAME, VILLAGE_NAME])
    v.inert(page)
    page.keyboard.press("Escape")
    v.visit(page, f"{admin}/portal/orgunit/", UNIT_NAME, VILLAGE_NAME)
    v.visit(
        page,
        f"{admin}/portal/orgunit/{w.village.pk}/change/",
        values={"#id_name": VILLAGE_NAME},
        options={"#id__ref_node_id": UNIT_NAME},  # treebeard's tree of units (mark_safe)
    )
    reject_log = AuditLog.objects.get(action="question.reject")
    v.visit(page, f"{admin}/portal/auditlog/", "question.reject")
    v.visit(page, f"{admin}/portal/auditlog/{reject_log.pk}/change/", SCRIPT)
    v.visit(page, f"{admin}/directory/directoryimport/", UPLOAD_NAME)
    v.visit(
        page,
        f"{admin}/directory/directoryimport/{w.bad_import.pk}/change/",
        UPLOAD_NAME,
        BAD_UNIT_CODE,
    )
    screenshot(page, "xss-admin-import")
    page.close()


def _cadre_pages(v: Visits, w: World, page: Page) -> None:
    lecture_texts = (
        LECTURE_SUMMARY,
        SPEAKER_NAME,
        SPEAKER_TITLE,
        SPEAKER_ORGANISATION,
        SPEAKER_BIO,
    )
    v.visit(page, "/", CADRE_NAME, LECTURE_TITLES[1], LECTURE_TITLES[2], PROGRAMME_TITLE)
    v.visit(page, "/courses/", PROGRAMME_TITLE, *LECTURE_TITLES, SPEAKER_NAME)
    v.visit(page, f"/courses/?q={quote(SEARCH)}", values={"#id_q": SEARCH})
    v.visit(
        page,
        f"/programmes/{w.programme.pk}/",
        PROGRAMME_TITLE,
        "简介" + ALL,
        JS_URL,
        VENUE_NAME,
        *LECTURE_TITLES,
    )
    v.visit(page, f"/lectures/{w.live.pk}/", LECTURE_TITLES[1], PROGRAMME_TITLE, *lecture_texts)
    v.visit(page, f"/lectures/{w.ended.pk}/", LECTURE_TITLES[0], *lecture_texts)
    v.visit(page, "/me/study/", LECTURE_TITLES[0], PROGRAMME_TITLE)
    v.visit(page, "/inbox/", ANNOUNCEMENT_TITLE, NOTICE_TITLE)
    v.visit(
        page,
        f"/inbox/{w.notice.pk}/",
        NOTICE_TITLE,
        TEMPLATE_SAMPLE,
        REMINDER_NOTE,
    )
    v.visit(
        page,
        f"/inbox/announcements/{w.announcement.pk}/",
        ANNOUNCEMENT_TITLE,
        "正文" + ALL,
        JS_URL,
        ATTACHMENT_NAME,
    )
    v.visit(page, "/accounts/profile/", CADRE_NAME, UNIT_NAME, JOB_TITLE)
    v.visit(page, "/me/notifications/", PROGRAMME_TITLE)
    # The rank (only in the personal-data download): a JSON attachment, never a page.
    download = page.context.request.get(f"{v.server}/me/data/")
    assert download.status == 200
    assert download.headers["content-type"].startswith("application/json")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.json()["account"]["rank"] == RANK
    page.close()


def _organiser_pages(v: Visits, w: World, page: Page) -> None:
    p, xihu = w.programme.pk, w.township.get_parent()
    assert xihu is not None
    v.visit(page, f"/lectures/{w.live.pk}/", LECTURE_TITLES[1], VENUE_NAME)
    v.visit(
        page,
        f"/lectures/{w.live.pk}/venues/{w.venue.pk}/check-in/",
        VENUE_NAME,
        CADRE_NAME,
        UNIT_NAME,
        LECTURE_TITLES[1],
        PROGRAMME_TITLE,
    )
    v.visit(page, "/reports/", PROGRAMME_TITLE, LECTURE_TITLES[0])
    v.visit(
        page,
        f"/reports/attendance/?lecture={w.ended.pk}&unit={xihu.code}",
        UNIT_NAME,
        LECTURE_TITLES[0],
        idle=True,  # the charts' data arrives by fetch
    )
    v.visit(
        page,
        f"/reports/attendance/?programme={p}&unit=pk:{w.township.pk}&view=cadres",
        CADRE_NAME,
        CADRE2_NAME,
        VILLAGE_NAME,
        UNIT_NAME,
    )
    v.visit(
        page,
        f"/reports/attendance/follow-up/?programme={p}&unit={xihu.code}&kind=not_attended",
        CADRE2_NAME,
        VILLAGE_NAME,
    )
    v.visit(page, f"/reports/ranking/?programme={p}&level=township", UNIT_NAME, idle=True)
    v.visit(
        page,
        f"/reports/ranking/?programme={p}&unit=pk:{w.village.pk}&level=county",
        VILLAGE_NAME,  # the error names the unit
        status=400,
    )
    v.visit(page, f"/reports/attendance/?unit={quote(SEARCH)}", status=400)
    page.close()


def _disc_open(v: Visits, page: Page, path: str, *texts: str) -> None:
    """``visit`` a discussion page, then wait for its socket (later events arrive live)."""
    v.visit(page, path, *texts)
    page.wait_for_function(DISC_CONNECTED, timeout=10_000)


def _discussion(
    v: Visits,
    w: World,
    cadre_context: BrowserContext,
    cadre2_context: BrowserContext,
    mod_context: BrowserContext,
) -> None:
    """The study group's thread: the cadre posts, the classmate replies and reports it,
    the moderator hides it with a reason (the prompt); all through the pages and the
    socket. Then a topic in the lecture space, started with its form."""
    cadre, mate, mod = cadre_context.new_page(), cadre2_context.new_page(), mod_context.new_page()
    g = w.group
    v.visit(cadre, "/groups/", GROUP_NAME, UNIT_NAME)
    v.visit(mod, "/groups/", GROUP_NAME, UNIT_NAME)
    _disc_open(v, cadre, f"/groups/{g.pk}/", GROUP_NAME, GROUP_DESCRIPTION, GROUP_LECTURE_TITLE)
    thread = Thread.objects.get(space=g.space)
    path = f"/discussion/threads/{thread.pk}/"
    for page in (cadre, mate, mod):
        _disc_open(v, page, path, GROUP_NAME, GROUP_LECTURE_TITLE)
        expect(page.locator("#thread-title")).to_have_text(GROUP_LECTURE_TITLE)

    cadre.fill("#post-text", POST_TEXT)
    cadre.click("#post-send")
    expect(cadre.locator("#post-text")).to_have_value("")
    post = Post.objects.get(thread=thread, author=w.cadre)
    item = f"#post-{post.pk}"
    for page in (cadre, mate, mod):
        expect(page.locator(f"{item} .post-text")).to_have_text(POST_TEXT, timeout=10_000)
        expect(page.locator(f"{item} .post-author")).to_have_text(CADRE_NAME)
        expect(page.locator(f"{item} .post-head .muted")).to_contain_text(UNIT_NAME)
        # only the http(s) URL is a link, cut where the quote starts; javascript: is text
        assert page.evaluate(HREFS, f"{item} .post-text") == [POST_LINK]
        v.inert(page)

    # The classmate replies to it and reports it ("something else", with a detail).
    mate.click(f"{item} button.reply")
    expect(mate.locator("#reply-name")).to_contain_text(CADRE_NAME)
    mate.fill("#post-text", REPLY_TEXT)
    mate.click("#post-send")
    expect(mate.locator("#post-text")).to_have_value("")
    reply = Post.objects.get(thread=thread, author=w.cadre2)
    for page in (cadre, mate, mod):
        answer = page.locator(f"#post-{reply.pk}")
        expect(answer.locator(".post-text")).to_have_text(REPLY_TEXT, timeout=10_000)
        expect(answer.locator(".post-author")).to_have_text(CADRE2_NAME)
        expect(answer.locator(".post-parent")).to_contain_text(CADRE_NAME)
    mate.click(f"{item} button.report")
    mate.check("#report-reasons input[value=other]")
    mate.fill("#report-detail", REPORT_DETAIL)
    mate.click("#report-send")
    expect(mate.locator("#report-dialog")).to_be_hidden()
    expect(mod.locator(f"{item} .post-head .tag")).to_contain_text("×1", timeout=10_000)
    for page in (mate, mod):
        v.inert(page)

    # The moderator hides it; the reason (the prompt's answer) reaches the author's page.
    mod.click(f"{item} button.hide")
    expect(cadre.locator(f"{item} .post-note")).to_contain_text(REJECT_REASON, timeout=10_000)
    expect(mod.locator(f"{item} .post-note")).to_contain_text(REJECT_REASON)
    expect(mate.locator(item)).to_have_count(0, timeout=10_000)
    for page in (cadre, mate, mod):
        v.inert(page)
    screenshot(cadre, "xss-discussion-thread")
    # As the pages draw them again from their json_script config.
    v.visit(cadre, path, GROUP_LECTURE_TITLE, "帖子" + ALL, JS_URL, REJECT_REASON, REPLY_TEXT)
    v.visit(mod, path, "帖子" + ALL, REJECT_REASON, REPLY_TEXT, CADRE2_NAME)
    assert cadre.evaluate(HREFS, "#post-list") == [POST_LINK]

    # A topic in the ended lecture's space, through its form; the lecture's questions.
    space = f"/lectures/{w.ended.pk}/discussion/"
    v.visit(cadre, space, LECTURE_TITLES[0])
    cadre.fill("#thread-title", TOPIC_TITLE)
    cadre.fill("#thread-text", TOPIC_TEXT)
    cadre.click("#thread-form button[type=submit]")
    cadre.wait_for_url(re.compile(r"/discussion/threads/\d+/$"))
    topic = Thread.objects.get(space__lecture=w.ended)
    assert topic.title == TOPIC_TITLE
    v.visit(cadre, f"/discussion/threads/{topic.pk}/", TOPIC_TITLE, TOPIC_TEXT, CADRE_NAME)
    expect(cadre.locator("#thread-title")).to_have_text(TOPIC_TITLE)
    v.visit(mod, space, LECTURE_TITLES[0], TOPIC_TITLE, CADRE_NAME)
    v.visit(cadre, f"/lectures/{w.live.pk}/discussion/", LECTURE_TITLES[1], QUESTIONS[0])
    for page in (cadre, mate, mod):
        page.close()


def _discussion_admin(v: Visits, w: World, page: Page) -> None:
    """The group, the posts and the report queue in the admin."""
    admin = "/admin/discussion"
    g = w.group
    post = Post.objects.get(thread__space=g.space, author=w.cadre)
    report = PostReport.objects.get(post=post)
    v.visit(page, f"{admin}/studygroup/", GROUP_NAME, UNIT_NAME, "研讨班")
    v.visit(
        page,
        f"{admin}/studygroup/{g.pk}/change/",
        values={"#id_name": GROUP_NAME, "#id_description": GROUP_DESCRIPTION},
    )
    v.visit(page, f"{admin}/post/", CADRE_NAME, CADRE2_NAME, REJECT_REASON, TOPIC_TITLE)
    v.visit(page, f"{admin}/post/?q={quote(SEARCH)}", values={"#searchbar": SEARCH})
    v.visit(page, f"{admin}/post/{post.pk}/change/", "帖子" + ALL, JS_URL, REJECT_REASON)
    v.visit(page, f"{admin}/postreport/", REPORT_DETAIL, CADRE2_NAME)
    v.visit(page, f"{admin}/postreport/{report.pk}/change/", REPORT_DETAIL, "帖子" + ALL[:30])
    hidden = AuditLog.objects.get(action="discussion.post.hide")
    v.visit(page, f"/admin/portal/auditlog/{hidden.pk}/change/", "discussion.post.hide")
    page.close()
