"""``manage.py send_notices``: summary output and exit status."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from courses.models import Lecture
from notifications.models import Delivery, Reminder
from portal.models import User
from tests.fakes.providers import AliyunSmsFake

pytestmark = pytest.mark.django_db


def test_send_now_and_wait_prints_counts(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    out = StringIO()
    call_command(
        "send_notices",
        "--lecture",
        str(lecture.pk),
        "--kind",
        "reminder_1h",
        "--now",
        "--wait",
        "--timeout",
        "20",
        stdout=out,
    )
    text = out.getvalue()
    assert "reminder_1h" in text
    assert "sms       accepted=5" in text
    assert "inbox     delivered=5" in text
    assert len(aliyun.sent) == 5
    # again: nothing is sent twice
    call_command(
        "send_notices",
        "--lecture",
        str(lecture.pk),
        "--kind",
        "reminder_1h",
        "--now",
        "--wait",
        "--timeout",
        "20",
        stdout=StringIO(),
    )
    assert len(aliyun.sent) == 5


def test_failures_exit_non_zero(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.bad.add(cohort[0].phone or "")
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command(
            "send_notices",
            "--lecture",
            str(lecture.pk),
            "--kind",
            "invitation",
            "--now",
            "--wait",
            "--timeout",
            "20",
            stdout=out,
        )
    assert exc.value.returncode == 1
    assert "failed=1" in out.getvalue()
    assert Delivery.objects.filter(status="failed").count() == 1


def test_without_kind_schedules_defaults(lecture: Lecture) -> None:
    out = StringIO()
    call_command("send_notices", "--lecture", str(lecture.pk), stdout=out)
    assert Reminder.objects.filter(lecture=lecture).count() == 2
    assert "reminder_24h" in out.getvalue()


def test_unknown_lecture(db: None) -> None:
    with pytest.raises(CommandError) as exc:
        call_command("send_notices", "--lecture", "999999")
    assert exc.value.returncode == 2
