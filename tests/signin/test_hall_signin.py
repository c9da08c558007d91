"""19:00 at a county hall, one NAT address: a hundred cadres sign in with 浙政钉 and a
hundred with an SMS code within a minute, none refused (password: tests/portal/
test_sign_in_surge.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import Tree, Zwdd
from tests.factories import UserFactory
from tests.fakes.providers import AliyunSmsFake

pytestmark = pytest.mark.django_db
HALL = "10.20.30.40"


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    cache.clear()  # allauth's rate limits live in the cache
    yield
    cache.clear()


def test_a_hall_of_100_signs_in_with_zwdd_from_one_address(zwdd_sso: Zwdd, tree: Tree) -> None:
    for i in range(100):
        UserFactory(username=f"zw{i:03d}", unit=tree.lingyin, zwdd_employee_code=f"GE_{i:03d}")
        zwdd_sso.api.add_user(str(50000 + i), employee_code=f"GE_{i:03d}", name=f"干部{i}")
    signed_in = 0
    for i in range(100):
        client = Client(REMOTE_ADDR=HALL)
        start = client.post("/accounts/zwdd/login/")
        assert start.status_code == 302, start.status_code
        state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
        code = zwdd_sso.api.issue_code(str(50000 + i))
        done = client.get("/accounts/zwdd/login/callback/", {"code": code, "state": state})
        assert done.status_code == 302, (i, done.status_code)
        signed_in += "_auth_user_id" in client.session
    assert signed_in == 100
    assert zwdd_sso.api.token_fetches == 1  # one app token for the whole hall


def test_a_hall_of_100_signs_in_with_sms_codes_from_one_address(
    aliyun: AliyunSmsFake, tree: Tree
) -> None:
    phones = [f"1370000{i:04d}" for i in range(100)]
    for i, phone in enumerate(phones):
        UserFactory(username=f"sms{i:03d}", unit=tree.lingyin, phone=phone)
    signed_in = 0
    for phone in phones:
        client = Client(REMOTE_ADDR=HALL)
        sent = client.post("/accounts/login/code/", {"phone": phone})
        assert sent.status_code == 302, (phone, sent.status_code)
        code = next(json.loads(s.text)["code"] for s in aliyun.sent if s.address == phone)
        done = client.post("/accounts/login/code/confirm/", {"code": code})
        assert done.status_code == 302, (phone, done.status_code)
        signed_in += "_auth_user_id" in client.session
    assert signed_in == 100
