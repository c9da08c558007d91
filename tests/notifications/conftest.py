"""Fixtures for notices: provider fakes on loopback, an enrolled cohort, fast settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from courses.models import Enrolment, Lecture, Programme
from notifications import services
from notifications.models import Reminder, ReminderKind
from notifications.providers.console import ConsoleProvider
from portal.models import User
from tests.conftest import Tree
from tests.factories import EnrolmentFactory, UserFactory
from tests.fakes.providers import DingtalkFake, TencentSmsFake, WechatFake
from tests.fakes.zwdd import ZwddPlatformFake


@pytest.fixture(autouse=True)
def notify_settings(settings: SettingsWrapper) -> SettingsWrapper:
    settings.NOTIFY_REDIS_URL = ""
    settings.NOTIFY_CHANNELS = ["sms"]
    settings.NOTIFY_SMS_PROVIDER = "console"
    settings.NOTIFY_HTTP_TIMEOUT = 1.0
    settings.NOTIFY_SMS_RATE = 0
    settings.NOTIFY_WECHAT_RATE = 0
    settings.NOTIFY_DINGTALK_RATE = 0
    settings.NOTIFY_ZWDD_RATE = 0
    settings.NOTIFY_BACKOFF_BASE = 0.01
    settings.NOTIFY_BACKOFF_CAP = 0.02
    settings.NOTIFY_DISPATCH_SECONDS = 10
    settings.NOTIFY_RECONCILE_AFTER = 0
    settings.NOTIFY_WECHAT_APPID = "wx0123456789abcdef"
    settings.SITE_URL = "https://zx.example.org"
    ConsoleProvider.sent.clear()
    return settings


@pytest.fixture
def tencent(settings: SettingsWrapper) -> Iterator[TencentSmsFake]:
    fake = TencentSmsFake(stall=2.0).start()
    settings.NOTIFY_SMS_PROVIDER = "tencent"
    settings.NOTIFY_SMS_ENDPOINT = fake.url
    settings.NOTIFY_SMS_ACCESS_KEY_ID = "sid"
    settings.NOTIFY_SMS_ACCESS_KEY_SECRET = "skey"
    yield fake
    fake.stop()


@pytest.fixture
def wechat(settings: SettingsWrapper) -> Iterator[WechatFake]:
    fake = WechatFake(stall=2.0).start()
    settings.NOTIFY_WECHAT_PROVIDER = "wechat"
    settings.NOTIFY_WECHAT_ENDPOINT = fake.url
    settings.NOTIFY_WECHAT_APPID = fake.appid
    settings.NOTIFY_WECHAT_SECRET = "wechat-secret"
    yield fake
    fake.stop()


@pytest.fixture
def dingtalk(settings: SettingsWrapper) -> Iterator[DingtalkFake]:
    fake = DingtalkFake(stall=2.0).start()
    settings.NOTIFY_DINGTALK_PROVIDER = "dingtalk"
    settings.NOTIFY_DINGTALK_ENDPOINT = fake.url
    settings.NOTIFY_DINGTALK_APP_KEY = "dk"
    settings.NOTIFY_DINGTALK_APP_SECRET = "ds"
    settings.NOTIFY_DINGTALK_AGENT_ID = "1001"
    yield fake
    fake.stop()


@pytest.fixture
def zwdd(settings: SettingsWrapper) -> Iterator[ZwddPlatformFake]:
    fake = ZwddPlatformFake(stall=2.0).start()
    settings.NOTIFY_ZWDD_PROVIDER = "zwdd"
    settings.NOTIFY_ZWDD_ENDPOINT = fake.url
    settings.NOTIFY_ZWDD_API_KEY = fake.app_key
    settings.NOTIFY_ZWDD_API_SECRET = fake.secret
    settings.NOTIFY_ZWDD_TENANT_ID = "196729"
    yield fake
    fake.stop()


def cohort_create(*, programme: Programme, tree: Tree, n: int, prefix: str = "c") -> list[User]:
    users = []
    for i in range(n):
        user = UserFactory(username=f"{prefix}{i}", unit=tree.lingyin, phone=f"139{i:08d}")
        EnrolmentFactory(user=user, programme=programme, status=Enrolment.Status.ACTIVE)
        users.append(user)
    return users


@pytest.fixture
def cohort(programme: Programme, tree: Tree) -> list[User]:
    return cohort_create(programme=programme, tree=tree, n=5)


def reminder_plan_now(lecture: Lecture, kind: str = ReminderKind.REMINDER_1H) -> Reminder:
    """A reminder due now, claimed and planned (its outbox rows exist)."""
    reminder = Reminder.objects.create(lecture=lecture, kind=kind, due_at=timezone.now())
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    return reminder
