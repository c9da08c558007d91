"""Phone + SMS code sign-in end to end: allauth's login-by-code, codes sent through the
notifications SMS path to the fake Aliyun SMS API over real HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from portal.models import AuditLog, User
from tests.fakes.providers import AliyunSmsFake
from tests.signin.helpers import signed_in_as

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db
REQUEST = "/accounts/login/code/"
CONFIRM = "/accounts/login/code/confirm/"
PHONE = "13812345678"  # the `cadre` fixture's directory number


@pytest.fixture
def sms(aliyun: AliyunSmsFake, settings: SettingsWrapper) -> Iterator[AliyunSmsFake]:
    settings.NOTIFY_SMS_TEMPLATE_CODES = {"default": "SMS_NOTICE", "login_code": "SMS_LOGIN_CODE"}
    settings.NOTIFY_HTTP_TIMEOUT = 1.0
    cache.clear()  # allauth's rate limits live in the cache
    yield aliyun
    cache.clear()


def _codes(sms: AliyunSmsFake, phone: str = PHONE) -> list[str]:
    return [json.loads(s.text)["code"] for s in sms.sent if s.address == phone]


def _request(client: Client, phone: str, next_url: str = "") -> _MonkeyPatchedWSGIResponse:
    return client.post(REQUEST + (f"?next={next_url}" if next_url else ""), {"phone": phone})


def test_right_code_signs_in_and_keeps_next(
    client: Client, sms: AliyunSmsFake, cadre: User
) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert 'id="sms-code-login"' in page
    response = _request(client, "+86 138-1234-5678", next_url="/notifications/")
    assert response.status_code == 302 and response["Location"].startswith(CONFIRM)
    [code] = _codes(sms)
    assert re.fullmatch(r"\d{6}", code)
    assert sms.requests[-1].form()["TemplateCode"] == "SMS_LOGIN_CODE"
    confirm = client.get(response["Location"]).content.decode()
    assert "138****5678" in confirm and PHONE not in confirm
    done = client.post(response["Location"], {"code": code})
    assert done.status_code == 302 and done["Location"] == "/notifications/"
    assert signed_in_as(client) == cadre.pk


def test_three_wrong_codes_void_the_code(client: Client, sms: AliyunSmsFake, cadre: User) -> None:
    _request(client, PHONE)
    [code] = _codes(sms)
    wrong = "000000" if code != "000000" else "111111"
    for attempt in (1, 2):
        response = client.post(CONFIRM, {"code": wrong})
        assert response.status_code == 200, attempt
        assert 'id="code-errors"' in response.content.decode()
    third = client.post(CONFIRM, {"code": wrong})
    assert third.status_code == 302 and third["Location"] == REQUEST
    after = client.post(CONFIRM, {"code": code})  # the right code no longer counts
    assert after.status_code == 302 and after["Location"] == REQUEST
    assert signed_in_as(client) is None
    failures = AuditLog.objects.filter(action="auth.sign_in_failed").order_by("pk")
    assert [(f.target, f.detail["last_attempt"], f.user_id) for f in failures] == [
        ("login:138****5678", False, None),
        ("login:138****5678", False, None),
        ("login:138****5678", True, None),
    ]
    assert all(f.address == "127.0.0.1" for f in failures)


def test_expired_code_is_refused(client: Client, sms: AliyunSmsFake, cadre: User) -> None:
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        _request(client, PHONE)
        [code] = _codes(sms)
        traveller.shift(timedelta(seconds=301))
        response = client.post(CONFIRM, {"code": code})
        assert response.status_code == 302 and response["Location"] == REQUEST
        assert signed_in_as(client) is None


def test_resend_at_most_once_a_minute_per_phone(
    client: Client, sms: AliyunSmsFake, cadre: User
) -> None:
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        _request(client, PHONE)
        # "No code? Ask again" from the code page, and another browser, same number
        back = client.post("/accounts/login/code/again/")
        assert back.status_code == 302 and back["Location"] == REQUEST
        for browser in (client, Client()):
            response = _request(browser, PHONE)
            assert response.status_code == 200
            assert 'id="phone-errors"' in response.content.decode()
        assert len(_codes(sms)) == 1
        traveller.shift(timedelta(seconds=61))
        response = _request(client, PHONE)
        assert response.status_code == 302
        [_old, new] = _codes(sms)
        assert client.post(CONFIRM, {"code": new}).status_code == 302
        assert signed_in_as(client) == cadre.pk


def _normalised(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r"1\d\d\*\*\*\*\d{4}", "PHONE", html)


def test_unknown_phone_is_indistinguishable_from_a_known_one(
    sms: AliyunSmsFake, cadre: User
) -> None:
    User.objects.create(username="gone", phone="13900000002", is_active=False)
    known, unknown, inactive = Client(), Client(), Client()
    answers = {}
    for name, client, phone in (
        ("known", known, PHONE),
        ("unknown", unknown, "13900000001"),
        ("inactive", inactive, "13900000002"),
    ):
        response = _request(client, phone)
        page = client.get(response["Location"])
        answers[name] = (
            response.status_code,
            response["Location"],
            _normalised(page.content.decode()),
        )
    assert answers["known"] == answers["unknown"] == answers["inactive"]
    assert [s.address for s in sms.sent] == [PHONE]  # nobody else is texted
    # and asking again within the minute answers alike too
    again = {}
    for name, client, phone in (("known", known, PHONE), ("unknown", unknown, "13900000001")):
        client.post("/accounts/login/code/again/")
        response = _request(client, phone)
        again[name] = (
            response.status_code,
            _normalised(response.content.decode()).replace(phone, "N"),
        )
    assert again["known"] == again["unknown"] and again["known"][0] == 200


def test_phone_in_a_bad_format_is_a_form_error(
    client: Client, sms: AliyunSmsFake, db: None
) -> None:
    for bad in ("12345", "23812345678", "1381234567x", "+1 2025550100"):
        response = _request(client, bad)
        assert response.status_code == 200, bad
        assert "请输入有效的11位手机号码" in response.content.decode(), bad
    assert sms.sent == []


def test_provider_failure_looks_the_same_and_is_logged(
    client: Client, sms: AliyunSmsFake, cadre: User, caplog: pytest.LogCaptureFixture
) -> None:
    sms.inject("5xx")
    response = _request(client, PHONE)
    assert response.status_code == 302 and response["Location"].startswith(CONFIRM)
    assert any("not sent" in r.getMessage() for r in caplog.records)
