"""Organiser admin for reminders: scope, counts, actions, CSV, test-to-me."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from courses.models import Lecture
from notifications import services
from notifications.models import Delivery, InboxMessage, Reminder, ReminderKind
from portal.models import User
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory
from tests.fakes.providers import AliyunSmsFake

pytestmark = pytest.mark.django_db


@pytest.fixture
def organiser_client(client: Client, organiser: User) -> Client:
    organiser.user_permissions.set(
        Permission.objects.filter(content_type__app_label="notifications")
    )
    client.force_login(organiser)
    return client


def _sent_reminder(lecture: Lecture) -> Reminder:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_1H, due_at=timezone.now()
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    services.delivery_dispatch(channel="inbox", time_budget=5)
    services.delivery_dispatch(channel="sms", time_budget=5)
    return reminder


def test_organiser_sees_only_own_programmes(
    organiser_client: Client, lecture: Lecture, tree: Tree
) -> None:
    mine = Reminder.objects.create(
        lecture=lecture, kind="custom", due_at=timezone.now() + timedelta(hours=2)
    )
    other_programme = ProgrammeFactory(organiser_unit=tree.ningbo, audience=[tree.ningbo])
    other = Reminder.objects.create(
        lecture=LectureFactory(programme=other_programme),
        kind="custom",
        due_at=timezone.now() + timedelta(hours=2),
    )
    page = organiser_client.get(reverse("admin:notifications_reminder_changelist"))
    assert page.status_code == 200
    ids = [r.pk for r in page.context["cl"].queryset]
    assert ids == [mine.pk]
    denied = organiser_client.get(reverse("admin:notifications_reminder_change", args=[other.pk]))
    assert denied.status_code == 403


def test_change_page_shows_counts_and_preview(
    organiser_client: Client, lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    reminder = _sent_reminder(lecture)
    page = organiser_client.get(reverse("admin:notifications_reminder_change", args=[reminder.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert lecture.title in html
    assert "5" in html


def test_a_sending_reminder_refreshes_its_page_without_inline_script(
    organiser_client: Client, lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    reminder = _sent_reminder(lecture)
    Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.DISPATCHING)
    page = organiser_client.get(reverse("admin:notifications_reminder_change", args=[reminder.pk]))
    html = page.content.decode()
    assert re.search(r'<script src="[^"]*/js/admin-refresh\.js" data-seconds="10"></script>', html)
    assert not re.search(r"<script>(?!\s*</script>)", html)  # the CSP runs no inline code


def test_past_time_is_a_form_error(organiser_client: Client, lecture: Lecture) -> None:
    response = organiser_client.post(
        reverse("admin:notifications_reminder_add"),
        {
            "lecture": lecture.pk,
            "kind": "custom",
            "note": "x",
            "due_at_0": "2020-01-01",
            "due_at_1": "10:00",
        },
    )
    assert response.status_code == 200
    assert "due_at" in response.context["adminform"].form.errors
    assert not Reminder.objects.exists()


def test_failures_csv_and_resend(
    organiser_client: Client, lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.bad.add(cohort[0].phone or "")
    reminder = _sent_reminder(lecture)
    # A provider's text a spreadsheet would run as a formula (full-width ＠ too) stays text.
    Delivery.objects.filter(reminder=reminder, status="failed").update(
        error_detail="＠SUM(1+1)\n=cmd"
    )
    url = reverse("admin:notifications_reminder_changelist")
    response = organiser_client.post(
        url, {"action": "export_failures", "_selected_action": [reminder.pk]}
    )
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in body
    assert "139****0000" in body or "****" in body
    assert "'＠SUM(1+1)" in body
    assert ",＠SUM" not in body
    aliyun.bad.clear()
    organiser_client.post(url, {"action": "resend_failed", "_selected_action": [reminder.pk]})
    assert Delivery.objects.filter(reminder=reminder, status="queued").count() == 1


def test_cancel_action(organiser_client: Client, lecture: Lecture, cohort: list[User]) -> None:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_1H, due_at=timezone.now()
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    organiser_client.post(
        reverse("admin:notifications_reminder_changelist"),
        {"action": "cancel_reminders", "_selected_action": [reminder.pk]},
    )
    reminder.refresh_from_db()
    assert reminder.status == "cancelled"
    assert not Delivery.objects.filter(reminder=reminder, status="queued").exists()


def test_send_a_test_to_me(organiser_client: Client, organiser: User, lecture: Lecture) -> None:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_24H, due_at=timezone.now() + timedelta(hours=1)
    )
    organiser_client.post(
        reverse("admin:notifications_reminder_changelist"),
        {"action": "send_test_to_me", "_selected_action": [reminder.pk]},
    )
    test = InboxMessage.objects.get(user=organiser)
    assert test.title.startswith("[测试]")
    assert not Delivery.objects.exists()  # a test is not the reminder's delivery
