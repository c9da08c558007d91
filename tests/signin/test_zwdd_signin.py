"""浙政钉 sign-in against the fake platform over real HTTP (redirect mode, in-app 免登,
refusals); the browser flows are in tests/browser/test_zwdd_browser.py."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.management import call_command
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from notifications.models import ChannelBinding
from portal.models import AuditLog, User
from tests.conftest import Zwdd
from tests.factories import UserFactory
from tests.signin.helpers import signed_in_as

pytestmark = pytest.mark.django_db(transaction=False)
CALLBACK = "/accounts/zwdd/login/callback/"


def _start(client: Client, zwdd_sso: Zwdd, next_url: str = "") -> str:
    """Press 浙政钉扫码登录: allauth redirects to the platform's QR page; returns the state."""
    response = client.post("/accounts/zwdd/login/" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302
    location = response["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == zwdd_sso.login.url
    assert parts.path == "/oauth2/auth.htm"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["response_type"] == "code"
    assert q["client_id"] == zwdd_sso.api.client_id  # the app code, not the AppKey
    assert q["scope"] == "get_user_info"
    assert q["authType"] == "QRCODE"
    assert q["redirect_uri"] == f"http://testserver{CALLBACK}"
    page = httpx.get(location)  # the platform accepts these parameters
    assert page.status_code == 200 and "确认登录" in page.text
    return q["state"]


def test_first_scan_links_by_employee_code_then_by_account(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    state = _start(client, zwdd_sso)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 302, response.content.decode()[:500]
    assert signed_in_as(client) == zwdd_cadre.pk
    account = SocialAccount.objects.get(provider="zwdd")
    assert (account.uid, account.user_id) == ("10001", zwdd_cadre.pk)
    # the accountId is the cadre's work-notice address from now on
    binding = ChannelBinding.objects.get(user=zwdd_cadre, channel="zwdd")
    assert (binding.address, binding.verified) == ("10001", True)
    assert AuditLog.objects.filter(
        action="signin.zwdd_bound", target=f"portal.user:{zwdd_cadre.pk}"
    ).exists()
    assert User.objects.count() == 1  # linked, nothing created

    # Next week: the binding is what matches, even if the directory's code changed.
    User.objects.filter(pk=zwdd_cadre.pk).update(zwdd_employee_code="GE_RENAMED")
    other = Client()
    state = _start(other, zwdd_sso)
    response = other.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 302
    assert signed_in_as(other) == zwdd_cadre.pk
    # one app token for both sign-ins: fetched once, shared through Redis
    assert zwdd_sso.api.token_fetches == 1


def test_next_url_is_kept(client: Client, zwdd_sso: Zwdd, zwdd_cadre: User) -> None:
    state = _start(client, zwdd_sso, next_url="/notifications/")
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response["Location"] == "/notifications/"


def test_unknown_cadre_sees_whom_to_contact_and_no_account_is_made(
    client: Client, zwdd_sso: Zwdd, cadre: User, settings: SettingsWrapper
) -> None:
    settings.SIGNIN_CONTACT = "省委组织部干部教育处（0571-87000000）"
    zwdd_sso.api.add_user("20002", employee_code="GE_NOBODY", name="王五")
    state = _start(client, zwdd_sso)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("20002"), "state": state})
    assert response.status_code == 403
    text = response.content.decode()
    assert "未找到您的干部档案" in text and "省委组织部干部教育处" in text
    assert signed_in_as(client) is None
    assert not SocialAccount.objects.exists()
    assert User.objects.count() == 1


def test_deactivated_cadre_cannot_sign_in_first_or_later(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    User.objects.filter(pk=zwdd_cadre.pk).update(is_active=False)
    state = _start(client, zwdd_sso)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 403 and "该账号已停用" in response.content.decode()
    assert signed_in_as(client) is None

    User.objects.filter(pk=zwdd_cadre.pk).update(is_active=True)
    state = _start(client, zwdd_sso)
    client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    client.logout()
    User.objects.filter(pk=zwdd_cadre.pk).update(is_active=False)
    state = _start(client, zwdd_sso)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 403 and signed_in_as(client) is None


def test_two_accounts_claiming_one_employee_code_are_refused_and_logged(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    state = _start(client, zwdd_sso)
    client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    client.logout()
    zwdd_sso.api.add_user("30003", employee_code="GE_CADRE_1", name="冒名")
    state = _start(client, zwdd_sso)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("30003"), "state": state})
    assert response.status_code == 403
    assert "已绑定其他浙政钉账号" in response.content.decode()
    assert signed_in_as(client) is None
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == ["10001"]
    entry = AuditLog.objects.get(action="signin.zwdd_conflict")
    assert entry.detail == {"claim": "GE_CADRE_1", "account_id": "30003"}


def test_tampered_replayed_or_missing_state_and_code_are_refused(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    state = _start(client, zwdd_sso)
    tampered = client.get(
        CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state + "x"}
    )
    assert tampered.status_code == 401 and "未能完成登录" in tampered.content.decode()
    assert signed_in_as(client) is None
    # another browser cannot use this browser's state
    stranger = Client()
    stolen = stranger.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert "未能完成登录" in stolen.content.decode() and signed_in_as(stranger) is None
    no_code = client.get(CALLBACK, {"state": state})
    assert "未能完成登录" in no_code.content.decode()

    state = _start(client, zwdd_sso)
    code = zwdd_sso.api.issue_code("10001")
    assert client.get(CALLBACK, {"code": code, "state": state}).status_code == 302
    client.logout()
    replay = client.get(CALLBACK, {"code": code, "state": state})  # the state is spent
    assert "未能完成登录" in replay.content.decode() and signed_in_as(client) is None
    assert not zwdd_sso.api.calls("/rpc/oauth2/getuserinfo_bycode.json")[1:]  # one exchange only


def test_expired_or_used_code_asks_to_scan_again(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    state = _start(client, zwdd_sso)
    code = zwdd_sso.api.issue_code("10001", ttl=-1)
    response = client.get(CALLBACK, {"code": code, "state": state})
    assert response.status_code == 400
    assert "请重新扫码" in response.content.decode()
    assert signed_in_as(client) is None
    bad = client.get(CALLBACK, {"code": "<script>", "state": _start(client, zwdd_sso)})
    assert (
        bad.status_code == 400 and not zwdd_sso.api.calls("/rpc/oauth2/getuserinfo_bycode.json")[1:]
    )


def test_revoked_app_token_is_fetched_again_once(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    state = _start(client, zwdd_sso)
    client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    client.logout()
    zwdd_sso.api.inject("token_invalid")
    state = _start(client, zwdd_sso)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 302 and signed_in_as(client) == zwdd_cadre.pk
    assert zwdd_sso.api.token_fetches == 2


def test_wrong_secret_is_a_logged_configuration_error_and_a_polite_page(
    client: Client,
    zwdd_sso: Zwdd,
    zwdd_cadre: User,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.ZWDD_APP_SECRET = "not-the-secret"
    state = _start(client, zwdd_sso)
    with caplog.at_level(logging.ERROR, logger="signin.zwdd.client"):
        response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 503
    assert "浙政钉登录暂不可用" in response.content.decode()
    assert any("misconfigured" in r.getMessage() for r in caplog.records)
    assert not SocialAccount.objects.exists() and signed_in_as(client) is None


@pytest.mark.parametrize("fault", ["html", "timeout", "5xx"])
def test_platform_that_answers_html_or_nothing_leaves_nothing_half_linked(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User, fault: str
) -> None:
    state = _start(client, zwdd_sso)
    zwdd_sso.api.inject(fault)
    response = client.get(CALLBACK, {"code": zwdd_sso.api.issue_code("10001"), "state": state})
    assert response.status_code == 503
    assert "请稍后重试" in response.content.decode() or "稍后" in response.content.decode()
    assert not SocialAccount.objects.exists()
    assert not ChannelBinding.objects.exists()
    assert signed_in_as(client) is None


def test_in_app_auth_code_signs_in_and_keeps_the_lecture_link(
    client: Client, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    # the 浙政钉 app opened /lectures/…/live/ from a work notice; the page posts the authCode
    page = client.get("/accounts/login/?next=/lectures/1/live/")
    assert 'id="zwdd-app-form"' in page.content.decode()
    response = client.post(
        "/accounts/zwdd/login/app/",
        {"authCode": zwdd_sso.api.issue_code("10001"), "next": "/lectures/1/live/"},
    )
    assert response.status_code == 302 and response["Location"] == "/lectures/1/live/"
    assert signed_in_as(client) == zwdd_cadre.pk
    call = zwdd_sso.api.calls("/rpc/oauth2/dingtalk_app_user.json")[0]
    assert set(call.form()) == {"access_token", "auth_code"}
    # a used authCode does not sign in again
    client.logout()
    again = client.post("/accounts/zwdd/login/app/", {"authCode": call.form()["auth_code"]})
    assert again.status_code == 400 and signed_in_as(client) is None
    # the exchange is a POST with the page's CSRF token
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/zwdd/login/app/", {"authCode": "x"}).status_code == 403


def test_sign_in_page_shows_zwdd_first_only_when_configured(
    client: Client, zwdd_sso: Zwdd, settings: SettingsWrapper
) -> None:
    text = client.get("/accounts/login/").content.decode()
    assert "浙政钉扫码登录" in text
    assert text.index("浙政钉扫码登录") < text.index('name="password"')
    assert 'src="/accounts/zwdd/login/embed/"' in text
    assert f'data-origin="{zwdd_sso.login.url}"' in text

    settings.ZWDD_APP_SECRET = ""
    text = client.get("/accounts/login/").content.decode()
    assert "浙政钉扫码登录" not in text
    assert client.post("/accounts/zwdd/login/").status_code == 404


def test_embed_start_sends_the_frame_to_the_platform_in_embed_mode(
    client: Client, zwdd_sso: Zwdd
) -> None:
    response = client.get("/accounts/zwdd/embed/".replace("embed", "login/embed"))
    assert response.status_code == 302
    q = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    assert q["embedMode"] == "true" and q["authType"] == "QRCODE" and q["state"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert httpx.get(response["Location"]).status_code == 200


def test_check_warns_about_half_configured_zwdd(
    settings: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.ZWDD_APP_KEY = "key"
    settings.ZWDD_APP_SECRET = ""
    settings.ZWDD_CLIENT_ID = "key"
    settings.ZWDD_API_BASE = "openplatform.dg-work.cn"
    call_command("check")
    err = capsys.readouterr().err
    assert "signin.W001" in err
    assert "ZWDD_APP_SECRET is not set" in err
    assert "ZWDD_API_BASE is not an http(s) URL" in err
    assert "应用标识" in err


def test_saas_test_pair_by_configuration_alone(settings: SettingsWrapper) -> None:
    from signin.selectors import zwdd_login_origin, zwdd_problems

    settings.ZWDD_LOGIN_BASE = "https://login.dg-work.cn"
    settings.ZWDD_API_BASE = "https://openplatform.dg-work.cn"
    settings.ZWDD_CLIENT_ID, settings.ZWDD_APP_KEY, settings.ZWDD_APP_SECRET = "app", "k", "s"
    assert zwdd_problems() == []
    assert zwdd_login_origin() == "https://login.dg-work.cn"


def test_password_sign_in_still_works_for_staff(client: Client, zwdd_sso: Zwdd, db: None) -> None:
    UserFactory(username="staff1")
    response = client.post("/accounts/login/", {"login": "staff1", "password": "zhixing-demo"})
    assert response.status_code == 302
