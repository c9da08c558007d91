"""Personal data (docs/security.md §5): ``purge_personal_data`` removes what is past its retention
and nothing younger, from every app that registered a purge, daily; a cadre downloads what
the portal holds about them (and nobody else's)."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from courses.models import Attendance, Lecture
from courses.services import enrolment_create
from directory.models import DirectoryImport
from livestream.models import Question
from notifications.models import ChannelBinding, Delivery, Reminder, WebhookReplay
from portal.logs import PhoneMaskFilter
from portal.masking import phones_masked
from portal.models import AuditLog, User, UserSession
from portal.privacy import purge_personal_data
from portal.services import audit_log_write
from tests.conftest import Tree

pytestmark = pytest.mark.django_db


def _old_audit_entry(days: int) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO portal_auditlog (at, action, target, detail) "
            "VALUES (%s, 'auth.sign_in', '', '{}') RETURNING id",
            [timezone.now() - timedelta(days=days)],
        )
        return int(cur.fetchone()[0])


def test_the_purge_removes_only_what_is_past_retention(
    tree: Tree, cadre: User, capsys: pytest.CaptureFixture[str]
) -> None:
    now = timezone.now()
    # audit: a year and a day old goes, half a year stays
    expired_entry, kept_entry = _old_audit_entry(366), _old_audit_entry(200)
    recent = audit_log_write(user=cadre, action="auth.sign_in", target=cadre)
    # sign-in records of sessions that cannot be alive any more
    UserSession.objects.create(user=cadre, session_key="a" * 32)
    UserSession.objects.filter(session_key="a" * 32).update(created_at=now - timedelta(days=30))
    UserSession.objects.create(user=cadre, session_key="b" * 32)
    # webhook keys
    WebhookReplay.objects.create(key="old", created_at=now - timedelta(days=8))
    WebhookReplay.objects.create(key="new")
    # a directory upload a month and a day old: its file goes, the row stays
    upload = DirectoryImport.objects.create(
        kind="cadres",
        file_name="名册.csv",
        unit=tree.province,
        status=DirectoryImport.Status.APPLIED,
        errors=[{"line": 2}],
    )
    upload.file.save("名册.csv", ContentFile("干部编号,姓名\n1,张三\n".encode()), save=True)
    stored = Path(upload.file.path)
    assert stored.exists()
    DirectoryImport.objects.filter(pk=upload.pk).update(created_at=now - timedelta(days=31))

    call_command("purge_personal_data")
    line = capsys.readouterr().out.strip()
    counts = dict(part.split("=") for part in line.split())
    assert counts["audit_log"] == "1" and counts["sessions"] == "1"
    assert counts["webhook_keys"] == "1" and counts["directory_uploads"] == "1"
    assert set(counts) >= {"deliveries"}

    assert set(AuditLog.objects.values_list("pk", flat=True)) >= {kept_entry, recent.pk}
    assert not AuditLog.objects.filter(pk=expired_entry).exists()
    assert list(UserSession.objects.values_list("session_key", flat=True)) == ["b" * 32]
    assert list(WebhookReplay.objects.values_list("key", flat=True)) == ["new"]
    upload.refresh_from_db()
    assert not stored.exists() and not upload.file and upload.errors == []
    assert upload.file_name == "名册.csv"  # the record of the import stays

    again = purge_personal_data()
    assert set(again.values()) == {0}  # idempotent


def test_deliveries_past_retention_go_unless_in_flight(lecture: Lecture, cadre: User) -> None:
    old = timezone.now() - timedelta(days=settings.DELIVERY_RETENTION_DAYS + 1)
    reminder = Reminder.objects.create(lecture=lecture, kind="custom", due_at=timezone.now())
    done, queued, fresh = (
        Delivery.objects.create(
            reminder=reminder,
            user=cadre,
            channel=channel,
            address=address,
            status=status,
            created_at=created_at,
        )
        for channel, address, status, created_at in (
            ("sms", "13812345678", Delivery.Status.DELIVERED, old),
            ("wechat", "openid", Delivery.Status.QUEUED, old),
            ("zwdd", "E1", Delivery.Status.DELIVERED, timezone.now()),
        )
    )
    assert purge_personal_data()["deliveries"] == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {queued.pk, fresh.pk}
    assert not Delivery.objects.filter(pk=done.pk).exists()


def test_the_purge_runs_daily_and_the_audit_retention_cannot_go_below_six_months() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["purge-personal-data"]
    assert entry["task"] == "portal.purge_personal_data"
    assert settings.AUDIT_RETENTION_DAYS >= 184
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django, os; django.setup()"],
        env={
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "AUDIT_RETENTION_DAYS": "90",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode != 0 and "AUDIT_RETENTION_DAYS must be at least 184" in result.stderr


def test_a_cadre_downloads_what_the_portal_holds_about_them(
    client: Client, cadre: User, lecture: Lecture, outsider: User
) -> None:
    enrolment_create(user=cadre, programme=lecture.programme)
    Attendance.objects.create(user=cadre, lecture=lecture, live_seconds=1800)
    Question.objects.create(lecture=lecture, author=cadre, text="我的提问", client_id="c1")
    Question.objects.create(lecture=lecture, author=outsider, text="别人的提问", client_id="c2")
    ChannelBinding.objects.create(user=cadre, channel="sms", address="13812345678")
    client.force_login(cadre)
    response = client.get(reverse("portal:my_data"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert data["account"]["phone"] == "13812345678"  # the owner's own: unmasked
    assert data["account"]["unit"].endswith("灵隐街道")
    assert [e["programme"] for e in data["enrolments"]] == [lecture.programme.title]
    assert data["attendance"][0]["live_seconds"] == 1800
    assert [q["text"] for q in data["questions"]["asked"]] == ["我的提问"]
    assert data["notices"]["bindings"][0]["address"] == "13812345678"
    assert "sign_ins" in data and "linked_accounts" in data
    assert "别人的提问" not in response.content.decode()
    assert AuditLog.objects.filter(user=cadre, action="privacy.download").count() == 1
    client.logout()
    assert client.get(reverse("portal:my_data")).status_code == 302  # signed in only


def test_log_lines_never_carry_a_phone_number_in_clear() -> None:
    handlers = cast(dict[str, dict[str, Any]], settings.LOGGING["handlers"])
    assert all("phones" in handler.get("filters", []) for handler in handlers.values())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PhoneMaskFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("tests.phone_mask")
    log.addHandler(handler)
    try:
        log.warning("sms to %s failed (+86 13912345678, order 2000000000000001)", "13812345678")
        try:
            raise ValueError("bad phone 15012345678")
        except ValueError:
            log.exception("delivery")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "138****5678" in text and "139****5678" in text and "150****5678" in text
    assert "13812345678" not in text and "15012345678" not in text
    assert "2000000000000001" in text  # a longer number is not a phone
    assert phones_masked("id 413812345678901") == "id 413812345678901"
