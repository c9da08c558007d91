"""The user's own notice settings: channel order, opt-outs (global and per programme),
masked bindings; and what planning and fallback make of them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from courses.models import Lecture, Programme
from notifications import selectors, services
from notifications.exceptions import NotifyError, NotifyErrorCode
from notifications.models import (
    ChannelBinding,
    Delivery,
    NotifyPreference,
    ProgrammeOptOut,
)
from portal.models import User
from tests.conftest import Tree
from tests.factories import EnrolmentFactory, LectureFactory, ProgrammeFactory
from tests.notifications.conftest import reminder_plan_now

pytestmark = pytest.mark.django_db

URL = "notifications:preferences"


@pytest.fixture
def enrolled(cadre: User, programme: Programme) -> User:
    EnrolmentFactory(user=cadre, programme=programme)
    return cadre


def _post(client: Client, **data: object) -> object:
    payload: dict[str, object] = {"choice_1": "", "choice_2": "", "choice_3": "", "choice_4": ""}
    payload.update(data)
    return client.post(reverse(URL), payload)


def test_page_requires_login(client: Client) -> None:
    response = client.get(reverse(URL))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_page_shows_masked_bindings_in_chinese(
    client: Client, enrolled: User, settings: Settings, programme: Programme
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "wechat", "sms"]
    ChannelBinding.objects.create(
        user=enrolled, channel="dingtalk", address="manager4711", verified=True
    )
    ChannelBinding.objects.create(
        user=enrolled, channel="wechat", address="oABCDEFGHIJKLMN", appid="wxother", verified=True
    )
    client.force_login(enrolled)
    html = client.get(reverse(URL)).content.decode()
    assert "通知设置" in html
    assert "138****5678" in html and "13812345678" not in html
    assert "man****711" in html and "manager4711" not in html
    assert "oAB****LMN" in html and "oABCDEFGHIJKLMN" not in html
    assert "使用中" in html  # DingTalk and SMS
    assert programme.title in html
    # the other appid's openid is not usable: the route is DingTalk then SMS
    assert "站内信 → 钉钉 → 短信" in html


def test_inbox_and_profile_link_the_page(client: Client, cadre: User) -> None:
    client.force_login(cadre)
    url = reverse(URL)
    assert url in client.get(reverse("notifications:inbox")).content.decode()
    assert url in client.get(reverse("portal:profile")).content.decode()


def test_saving_order_and_opt_outs(client: Client, enrolled: User, programme: Programme) -> None:
    client.force_login(enrolled)
    response = _post(
        client,
        choice_1="sms",
        choice_2="",
        choice_3="wechat",
        opted_out="on",
        programmes=[programme.pk],
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    preference = NotifyPreference.objects.get(user=enrolled)
    assert preference.channel_order == "sms,wechat"  # gaps closed up
    assert preference.opted_out
    assert selectors.programme_opt_out_ids(user=enrolled) == {programme.pk}
    page = client.get(reverse(URL)).content.decode()
    assert "通知设置已保存" in page
    # clearing everything goes back to the site default
    _post(client)
    preference.refresh_from_db()
    assert preference.channel_order == "" and not preference.opted_out
    assert not ProgrammeOptOut.objects.filter(user=enrolled).exists()


def test_repeated_channel_is_a_chinese_form_error(client: Client, enrolled: User) -> None:
    client.force_login(enrolled)
    response = _post(client, choice_1="sms", choice_2="sms")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "每个渠道只能选择一次" in response.content.decode()  # type: ignore[attr-defined]
    assert not NotifyPreference.objects.filter(user=enrolled).exists()


def test_unknown_channel_and_foreign_programme_are_form_errors(
    client: Client, enrolled: User, tree: Tree
) -> None:
    other = ProgrammeFactory(organiser_unit=tree.ningbo, audience=[tree.ningbo])
    client.force_login(enrolled)
    bad_channel = _post(client, choice_1="fax").content.decode()  # type: ignore[attr-defined]
    assert "选择一个有效的选项" in bad_channel
    bad_programme = _post(client, programmes=[other.pk]).content.decode()  # type: ignore[attr-defined]
    assert "选择一个有效的选项" in bad_programme
    assert not ProgrammeOptOut.objects.exists()


def test_service_rejects_bad_input_with_codes(enrolled: User, tree: Tree) -> None:
    other = ProgrammeFactory(organiser_unit=tree.ningbo, audience=[tree.ningbo])
    cases: list[tuple[dict[str, object], NotifyErrorCode]] = [
        ({"channel_order": ["fax"]}, NotifyErrorCode.BAD_CHANNEL),
        ({"channel_order": ["sms", "sms"]}, NotifyErrorCode.CHANNEL_REPEATED),
        ({"programme_opt_outs": [other.pk]}, NotifyErrorCode.NOT_YOUR_PROGRAMME),
    ]
    for override, code in cases:
        kwargs: dict[str, object] = {
            "channel_order": [],
            "opted_out": False,
            "programme_opt_outs": [],
            **override,
        }
        with pytest.raises(NotifyError) as excinfo:
            services.notify_preference_update(user=enrolled, **kwargs)  # type: ignore[arg-type]
        assert excinfo.value.code == code


def test_page_is_only_about_the_signed_in_user(
    client: Client, enrolled: User, outsider: User
) -> None:
    ChannelBinding.objects.create(user=outsider, channel="dingtalk", address="other-user-99")
    client.force_login(enrolled)
    assert "oth****-99" not in client.get(reverse(URL)).content.decode()


def test_programme_opt_out_stops_push_but_not_the_inbox(
    enrolled: User, lecture: Lecture, programme: Programme, tree: Tree
) -> None:
    services.notify_preference_update(
        user=enrolled, channel_order=[], opted_out=False, programme_opt_outs=[programme.pk]
    )
    other_programme = ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])
    EnrolmentFactory(user=enrolled, programme=other_programme)
    other_lecture = LectureFactory(programme=other_programme, sequence=1)
    opted = reminder_plan_now(lecture)
    kept = reminder_plan_now(other_lecture)
    assert set(
        Delivery.objects.filter(reminder=opted, user=enrolled).values_list("channel", flat=True)
    ) == {"inbox"}
    assert set(
        Delivery.objects.filter(reminder=kept, user=enrolled).values_list("channel", flat=True)
    ) == {"inbox", "sms"}


def test_programme_opt_out_also_stops_fallbacks(
    enrolled: User, lecture: Lecture, programme: Programme, settings: Settings
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    ChannelBinding.objects.create(user=enrolled, channel="dingtalk", address="d1", verified=True)
    reminder = reminder_plan_now(lecture)
    row = Delivery.objects.get(reminder=reminder, user=enrolled, channel="dingtalk")
    Delivery.objects.filter(pk=row.pk).update(status=Delivery.Status.FAILED)
    services.notify_preference_update(
        user=enrolled, channel_order=[], opted_out=False, programme_opt_outs=[programme.pk]
    )
    assert services.delivery_fallback(delivery_ids=[row.pk]) == 0
    assert not Delivery.objects.filter(reminder=reminder, user=enrolled, channel="sms").exists()


def test_channel_order_is_used_by_planning(
    enrolled: User, lecture: Lecture, settings: Settings
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    ChannelBinding.objects.create(user=enrolled, channel="dingtalk", address="d1", verified=True)
    services.notify_preference_update(
        user=enrolled, channel_order=["sms", "dingtalk"], opted_out=False, programme_opt_outs=[]
    )
    assert services.notice_route_for_user(user=enrolled) == ["sms", "dingtalk"]
    reminder = reminder_plan_now(lecture)
    assert set(
        Delivery.objects.filter(reminder=reminder, user=enrolled).values_list("channel", flat=True)
    ) == {"inbox", "sms"}
