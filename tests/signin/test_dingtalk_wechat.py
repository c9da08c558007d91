"""Public DingTalk sign-in (linked by the verified mobile number) and WeChat binding for
notices (connect from the preferences page), against fakes over real HTTP."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from notifications.models import ChannelBinding
from portal.models import User
from tests.fakes.oauth import DingtalkOAuthFake, WechatOAuthFake
from tests.fakes.providers import AliyunSmsFake
from tests.signin.helpers import signed_in_as

pytestmark = pytest.mark.django_db


def _dingtalk_start(client: Client, fake: DingtalkOAuthFake) -> str:
    response = client.post("/accounts/dingtalk/login/")
    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{fake.url}/oauth2/auth"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["prompt"] == "consent" and q["client_id"] == fake.client_id
    assert httpx.get(response["Location"]).status_code == 200
    return q["state"]


def test_dingtalk_links_by_verified_mobile_then_by_open_id(
    client: Client, dingtalk_sso: DingtalkOAuthFake, cadre: User
) -> None:
    dingtalk_sso.add_user("open-1", nick="张三", mobile=cadre.phone or "")
    assert "钉钉" in client.get("/accounts/login/").content.decode()
    state = _dingtalk_start(client, dingtalk_sso)
    done = client.get(
        "/accounts/dingtalk/login/callback/",
        {"authCode": dingtalk_sso.issue_code("open-1"), "state": state},
    )
    assert done.status_code == 302, done.content.decode()[:300]
    assert signed_in_as(client) == cadre.pk
    assert SocialAccount.objects.get(provider="dingtalk").uid == "open-1"

    User.objects.filter(pk=cadre.pk).update(phone="13900000009")  # the binding now decides
    other = Client()
    state = _dingtalk_start(other, dingtalk_sso)
    other.get(
        "/accounts/dingtalk/login/callback/",
        {"authCode": dingtalk_sso.issue_code("open-1"), "state": state},
    )
    assert signed_in_as(other) == cadre.pk


@pytest.mark.parametrize("case", ["no_permission", "foreign_number", "unknown_number"])
def test_dingtalk_without_a_usable_mobile_is_unmatched(
    client: Client, dingtalk_sso: DingtalkOAuthFake, cadre: User, case: str
) -> None:
    if case == "no_permission":
        dingtalk_sso.mobile_permission = False
        dingtalk_sso.add_user("open-2", nick="张三", mobile=cadre.phone or "")
    elif case == "foreign_number":
        dingtalk_sso.add_user("open-2", nick="张三", mobile=cadre.phone or "", state_code="852")
    else:
        dingtalk_sso.add_user("open-2", nick="王五", mobile="13900000001")
    state = _dingtalk_start(client, dingtalk_sso)
    response = client.get(
        "/accounts/dingtalk/login/callback/",
        {"authCode": dingtalk_sso.issue_code("open-2"), "state": state},
    )
    assert response.status_code == 403
    text = response.content.decode()
    assert "未找到您的干部档案" in text and "钉钉账号" in text
    assert not SocialAccount.objects.exists() and signed_in_as(client) is None


def test_dingtalk_refusing_the_code_is_an_error_page_and_nothing_is_linked(
    client: Client, dingtalk_sso: DingtalkOAuthFake, cadre: User
) -> None:
    dingtalk_sso.add_user("open-1", nick="张三", mobile=cadre.phone or "")
    state = _dingtalk_start(client, dingtalk_sso)
    response = client.get(
        "/accounts/dingtalk/login/callback/", {"authCode": "forged", "state": state}
    )
    assert "未能完成登录" in response.content.decode()
    assert not SocialAccount.objects.exists() and signed_in_as(client) is None


def _wechat_round_trip(client: Client, start: str, fake: WechatOAuthFake) -> Any:
    location = start
    assert location.endswith("#wechat_redirect")
    q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert q["appid"] == fake.appid and q["scope"] == "snsapi_base"
    hop = httpx.get(location.split("#")[0], follow_redirects=False)  # WeChat's silent hop
    assert hop.status_code == 302
    back = urlsplit(hop.headers["location"])
    return client.get(back.path, dict(parse_qs(back.query)))


def test_wechat_is_bound_from_the_preferences_page_and_then_signs_in(
    client: Client, wechat_sso: WechatOAuthFake, cadre: User
) -> None:
    client.force_login(cadre)
    page = client.get("/me/notifications/").content.decode()
    assert 'id="bind-wechat"' in page
    start = client.post(
        "/accounts/weixin/login/", {"process": "connect", "next": "/me/notifications/"}
    )
    assert start.status_code == 302
    back = _wechat_round_trip(client, start["Location"], wechat_sso)
    # Binding a notice channel is sensitive: the password first (re-authentication),
    # then the binding the WeChat round trip brought resumes by itself.
    assert back.status_code == 302 and back["Location"] == "/accounts/reauthenticate/"
    assert not ChannelBinding.objects.filter(user=cadre, channel="wechat").exists()
    done = client.post(back["Location"], {"password": "zhixing-demo"})
    assert done.status_code == 302 and done["Location"] == "/me/notifications/"
    binding = ChannelBinding.objects.get(user=cadre, channel="wechat")
    assert (binding.address, binding.appid, binding.verified) == (
        wechat_sso.current_openid,
        wechat_sso.appid,
        True,
    )
    # Inside WeChat the bound cadre can now sign in with it.
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 MicroMessenger/8.0.50")
    assert 'id="signin-weixin"' in phone.get("/accounts/login/").content.decode()
    start = phone.post("/accounts/weixin/login/")
    _wechat_round_trip(phone, start["Location"], wechat_sso)
    assert signed_in_as(phone) == cadre.pk


def test_an_unbound_wechat_cannot_sign_in(
    client: Client, wechat_sso: WechatOAuthFake, cadre: User
) -> None:
    start = client.post("/accounts/weixin/login/")
    response = _wechat_round_trip(client, start["Location"], wechat_sso)
    assert response.status_code == 403
    assert signed_in_as(client) is None and not SocialAccount.objects.exists()


def test_without_configuration_there_are_no_buttons(client: Client, cadre: User) -> None:
    text = client.get("/accounts/login/").content.decode()
    assert "signin-dingtalk" not in text and "zwdd-signin" not in text
    client.force_login(cadre)
    assert 'id="bind-wechat"' not in client.get("/me/notifications/").content.decode()


def test_a_cadre_without_a_password_confirms_a_binding_with_an_sms_code(
    client: Client,
    wechat_sso: WechatOAuthFake,
    aliyun: AliyunSmsFake,
    cadre: User,
    settings: SettingsWrapper,
) -> None:
    settings.NOTIFY_SMS_TEMPLATE_CODES = {"default": "SMS_NOTICE", "login_code": "SMS_LOGIN_CODE"}
    cadre.set_unusable_password()
    cadre.save()
    client.force_login(cadre)
    start = client.post(
        "/accounts/weixin/login/", {"process": "connect", "next": "/me/notifications/"}
    )
    back = _wechat_round_trip(client, start["Location"], wechat_sso)
    # no password: straight to the code, sent only when the cadre asks for it
    assert back.status_code == 302 and back["Location"] == "/accounts/reauthenticate/code/"
    ask = client.get(back["Location"])
    assert ask.status_code == 200 and "138****" in ask.content.decode()
    assert not [s for s in aliyun.sent if s.address == cadre.phone]
    sent = client.post(back["Location"], {"recipient": "13812345678"})
    assert sent.status_code == 302
    confirm_url = sent["Location"]
    assert confirm_url.startswith("/accounts/reauthenticate/code/confirm/")
    codes = [json.loads(s.text)["code"] for s in aliyun.sent if s.address == cadre.phone]
    assert len(codes) == 1
    page = client.get(confirm_url).content.decode()
    assert "13812345678" not in page and "138****5678" in page
    wrong = client.post(confirm_url, {"code": "000000" if codes[0] != "000000" else "111111"})
    assert wrong.status_code == 200
    assert not ChannelBinding.objects.filter(user=cadre, channel="wechat").exists()
    done = client.post(confirm_url, {"code": codes[0]})
    assert done.status_code == 302 and done["Location"] == "/me/notifications/"
    assert ChannelBinding.objects.filter(user=cadre, channel="wechat", verified=True).exists()
