"""Shared fixtures: a small org tree, users with roles, a programme with lectures.

Services: PostgreSQL is chosen in ``portal/settings_test.py``. Redis-backed tests ask for the
``redis_url`` fixture; with ``CI=true`` (or ``REQUIRE_SERVICES=1``) a missing Redis or
Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django.fixtures import Settings as SettingsWrapper

from courses.models import Lecture, Programme
from portal.models import OrgUnit, Role, User
from tests.factories import (
    LectureFactory,
    ProgrammeFactory,
    RoleFactory,
    UserFactory,
    unit_create,
)
from tests.fakes.oauth import DingtalkOAuthFake, WechatOAuthFake
from tests.fakes.providers import AliyunSmsFake
from tests.fakes.zwdd import ZwddLoginFake, ZwddPlatformFake

REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true" or os.environ.get(
    "REQUIRE_SERVICES", ""
) in ("1", "true")


def service_missing(what: str) -> None:
    """Skip locally, fail in CI: nothing may be skipped for a missing service there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} not available")


@pytest.hookimpl(trylast=True)  # after pytest-django's own reordering
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for the session, which breaks any pytest-asyncio test that runs after it."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("browser") is not None
            or item.nodeid.startswith("tests/browser/")
        )
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: the run must exercise everything."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if REQUIRE_SERVICES and skipped and exitstatus == pytest.ExitCode.OK and reporter:
        reporter.write_line("")
        reporter.write_sep("=", f"CI: {skipped} skipped; nothing may be skipped", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _process_state_fresh() -> Iterator[None]:
    """Every test starts and ends with no process-global caches (``portal.process_state``)."""
    from portal.process_state import process_state_reset_all

    process_state_reset_all()
    yield
    process_state_reset_all()


# Sign-in throttles live in the default cache (Redis in CI), keyed by account or address:
# a test that locks ``cadre1`` must not lock the next test's ``cadre1``.
_THROTTLE_MARKS = (":allauth:rl:", ":adminlogin:", ":zx:429:")


@pytest.fixture(autouse=True)
def _sign_in_throttles_fresh() -> Iterator[None]:
    _throttles_clear()
    yield
    _throttles_clear()


def _throttles_clear() -> None:
    from django.core.cache import cache

    store = getattr(cache, "_cache", None)
    if isinstance(store, dict):  # LocMemCache
        for key in [k for k in store if any(mark in k for mark in _THROTTLE_MARKS)]:
            cache.delete(key.split(":", 2)[2])  # stored as ":<version>:<key>"
        return
    get_client = getattr(store, "get_client", None)
    if get_client is None:
        return
    try:
        client = get_client(None, write=True)
        for mark in _THROTTLE_MARKS:
            keys = list(client.scan_iter(match=f"*{mark}*", count=1000))
            if keys:
                client.delete(*keys)
    except Exception:  # noqa: S110 (Redis down in a test about Redis being down)
        pass


@pytest.fixture
def uploads_run_inline(settings: SettingsWrapper, tmp_path: Path) -> Iterator[None]:
    """Directory uploads under ``tmp_path`` and Celery tasks run inline (an upload's check
    and confirmation happen within the request)."""
    from portal.celery import app as celery_app

    settings.DIRECTORY_UPLOAD_ROOT = str(tmp_path / "uploads")
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A clean real Redis database for this test."""
    import redis

    url: str = settings.TEST_REDIS_URL
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        service_missing("Redis")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        service_missing("Chromium")
    return path


@dataclass
class Tree:
    province: OrgUnit
    hangzhou: OrgUnit
    ningbo: OrgUnit
    xihu: OrgUnit  # a county of Hangzhou
    yuhang: OrgUnit  # another county of Hangzhou
    lingyin: OrgUnit  # a township in Xihu
    village: OrgUnit  # a village in Lingyin
    haishu: OrgUnit  # a county of Ningbo


@pytest.fixture
def tree(db: None) -> Tree:
    province = unit_create(name="浙江省", kind="province", code="330000000000")
    hangzhou = unit_create(name="杭州市", kind="city", parent=province, code="330100000000")
    ningbo = unit_create(name="宁波市", kind="city", parent=province, code="330200000000")
    xihu = unit_create(name="西湖区", kind="county", parent=hangzhou, code="330106000000")
    yuhang = unit_create(name="余杭区", kind="county", parent=hangzhou, code="330110000000")
    lingyin = unit_create(name="灵隐街道", kind="township", parent=xihu, code="330106004000")
    village = unit_create(name="灵隐村", kind="village", parent=lingyin, code="330106004001")
    haishu = unit_create(name="海曙区", kind="county", parent=ningbo, code="330203000000")
    return Tree(province, hangzhou, ningbo, xihu, yuhang, lingyin, village, haishu)


@pytest.fixture
def cadre(tree: Tree) -> User:
    return UserFactory(username="cadre1", full_name="张三", unit=tree.lingyin, phone="13812345678")


@pytest.fixture
def outsider(tree: Tree) -> User:
    return UserFactory(username="outsider", full_name="李四", unit=tree.haishu)


@pytest.fixture
def organiser(tree: Tree) -> User:
    user = UserFactory(username="org-hz", full_name="杭州组织部", unit=tree.hangzhou, is_staff=True)
    RoleFactory(user=user, kind=Role.Kind.ORGANISER, unit=tree.hangzhou)
    return user


@pytest.fixture
def school_staff(tree: Tree) -> User:
    user = UserFactory(username="school-xh", full_name="西湖党校", unit=tree.xihu)
    RoleFactory(user=user, kind=Role.Kind.SCHOOL, unit=tree.xihu)
    return user


@pytest.fixture
def programme(tree: Tree) -> Programme:
    return ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])


@pytest.fixture
def lecture(programme: Programme) -> Lecture:
    return LectureFactory(programme=programme, sequence=1)


# --- 浙政钉 (the sign-in tests and the browser flows) ---------------------------------------
@dataclass
class Zwdd:
    api: ZwddPlatformFake
    login: ZwddLoginFake


@pytest.fixture
def zwdd_sso(settings: SettingsWrapper, redis_url: str) -> Iterator[Zwdd]:
    """浙政钉 configured against local fakes: the API host and the login host are two
    servers, as the production and SaaS test pairs are (configuration alone)."""
    api = ZwddPlatformFake(stall=1.5).start()
    login = ZwddLoginFake(api).start()
    settings.ZWDD_API_BASE = api.url
    settings.ZWDD_LOGIN_BASE = login.url
    settings.ZWDD_CLIENT_ID = api.client_id
    settings.ZWDD_APP_KEY = api.app_key
    settings.ZWDD_APP_SECRET = api.secret
    settings.ZWDD_HTTP_TIMEOUT = 1.0
    settings.NOTIFY_REDIS_URL = redis_url  # the app token is shared through Redis
    yield Zwdd(api, login)
    login.stop()
    api.stop()


@pytest.fixture
def zwdd_cadre(cadre: User, zwdd_sso: Zwdd) -> User:
    """The cadre with the employee code the directory import records, known to 浙政钉."""
    cadre.zwdd_employee_code = "GE_CADRE_1"
    cadre.save(update_fields=["zwdd_employee_code"])
    zwdd_sso.api.add_user("10001", employee_code="GE_CADRE_1", name=cadre.full_name)
    return cadre


@pytest.fixture
def aliyun(settings: SettingsWrapper) -> Iterator[AliyunSmsFake]:
    """SMS through the fake Aliyun SMS API (notices and sign-in codes)."""
    fake = AliyunSmsFake(stall=2.0).start()
    settings.NOTIFY_SMS_PROVIDER = "aliyun"
    settings.NOTIFY_SMS_ENDPOINT = fake.url
    settings.NOTIFY_SMS_ACCESS_KEY_ID = "ak"
    settings.NOTIFY_SMS_ACCESS_KEY_SECRET = fake.secret
    yield fake
    fake.stop()


@pytest.fixture
def dingtalk_sso(settings: SettingsWrapper) -> Iterator[DingtalkOAuthFake]:
    """Public DingTalk sign-in against the fake (login and API hosts on one server)."""
    fake = DingtalkOAuthFake().start()
    settings.DINGTALK_LOGIN_BASE = settings.DINGTALK_API_BASE = fake.url
    settings.DINGTALK_CLIENT_ID = fake.client_id
    settings.DINGTALK_CLIENT_SECRET = fake.client_secret
    yield fake
    fake.stop()


@pytest.fixture
def wechat_sso(settings: SettingsWrapper) -> Iterator[WechatOAuthFake]:
    """WeChat binding through the notices' official account, against the fake."""
    fake = WechatOAuthFake().start()
    settings.WECHAT_OPEN_BASE = settings.NOTIFY_WECHAT_ENDPOINT = fake.url
    settings.NOTIFY_WECHAT_APPID = fake.appid
    settings.NOTIFY_WECHAT_SECRET = fake.secret
    settings.WECHAT_BINDING = True
    yield fake
    fake.stop()
