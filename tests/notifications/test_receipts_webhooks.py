"""Receipt webhooks: verified, replay-safe, states updated."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from courses.models import Lecture
from notifications import services
from notifications.models import ChannelBinding, Delivery, Reminder, ReminderKind
from portal.models import User
from tests.fakes.providers import AliyunSmsFake, WechatFake

pytestmark = pytest.mark.django_db
URL_ALIYUN = "/notifications/receipts/aliyun-sms/"
URL_WECHAT = "/notifications/receipts/wechat/"


def _send(lecture: Lecture, channel: str) -> Reminder:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_1H, due_at=timezone.now()
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    services.delivery_dispatch(channel=channel, time_budget=5)
    return reminder


def test_aliyun_report_marks_delivered_and_rejects_replay(
    client: Client,
    lecture: Lecture,
    cohort: list[User],
    aliyun: AliyunSmsFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_ALIYUN_RECEIPT_TOKEN = "s3cret-token"
    reminder = _send(lecture, "sms")
    body = json.dumps(aliyun.reports())
    assert client.post(URL_ALIYUN, body, content_type="application/json").status_code == 403
    assert (
        client.post(f"{URL_ALIYUN}?token=wrong", body, content_type="application/json").status_code
        == 403
    )
    ok = client.post(
        URL_ALIYUN,
        body,
        content_type="application/json",
        headers={"X-Zhixing-Token": "s3cret-token"},
    )
    assert ok.status_code == 200 and ok.json()["code"] == 0
    rows = Delivery.objects.filter(reminder=reminder, channel="sms")
    assert set(rows.values_list("status", flat=True)) == {"delivered"}
    replay = client.post(
        URL_ALIYUN,
        body,
        content_type="application/json",
        headers={"X-Zhixing-Token": "s3cret-token"},
    )
    assert replay.status_code == 409
    bad = client.post(
        URL_ALIYUN,
        "{not json",
        content_type="application/json",
        headers={"X-Zhixing-Token": "s3cret-token"},
    )
    assert bad.status_code == 400


def test_aliyun_failed_report_triggers_fallback_state(
    client: Client,
    lecture: Lecture,
    cohort: list[User],
    aliyun: AliyunSmsFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_ALIYUN_RECEIPT_TOKEN = "t"
    reminder = _send(lecture, "sms")
    reports = aliyun.reports(delivered=False)[:1]
    client.post(f"{URL_ALIYUN}?token=t", json.dumps(reports), content_type="application/json")
    row = Delivery.objects.get(reminder=reminder, channel="sms", address=reports[0]["phone_number"])
    assert row.status == "failed" and row.error_code == "MK:0001"


def _wechat_query(token: str, *, timestamp: int | None = None, nonce: str = "n1") -> str:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    sig = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()  # noqa: S324
    return f"?signature={sig}&timestamp={ts}&nonce={nonce}"


def test_wechat_templatesendjobfinish(
    client: Client,
    lecture: Lecture,
    cohort: list[User],
    wechat: WechatFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["wechat"]
    settings.NOTIFY_WECHAT_TOKEN = "wxtoken"
    ChannelBinding.objects.create(
        user=cohort[0],
        channel="wechat",
        address="oABCDEFGHIJKLMNOPQRST",
        appid=wechat.appid,
        verified=True,
    )
    reminder = _send(lecture, "wechat")
    row = Delivery.objects.get(reminder=reminder, channel="wechat")
    assert row.status == "accepted"
    xml = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
        "<FromUserName><![CDATA[oABCDEFGHIJKLMNOPQRST]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        f"<MsgID>{row.provider_message_id}</MsgID><Status><![CDATA[success]]></Status></xml>"
    )
    unsigned = client.post(URL_WECHAT, xml, content_type="text/xml")
    assert unsigned.status_code == 403
    stale = client.post(
        URL_WECHAT + _wechat_query("wxtoken", timestamp=1_600_000_000), xml, content_type="text/xml"
    )
    assert stale.status_code == 403
    q = _wechat_query("wxtoken", nonce="abc")
    assert client.post(URL_WECHAT + q, xml, content_type="text/xml").status_code == 200
    row.refresh_from_db()
    assert row.status == "delivered"
    assert client.post(URL_WECHAT + q, xml, content_type="text/xml").status_code == 409
    echo = client.get(URL_WECHAT + _wechat_query("wxtoken", nonce="e") + "&echostr=hello")
    assert echo.content == b"hello"
