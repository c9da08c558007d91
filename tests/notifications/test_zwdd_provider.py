"""浙政钉 work notices on the shared gateway signer: signed as the SDK signs, numeric
response codes, one token refetch on 240133, a wrong secret pauses the channel (fatal)."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from notifications.providers.base import ErrorKind, OutMessage, ProviderError
from notifications.providers.zwdd import ZwddProvider
from tests.fakes.zwdd import ZwddPlatformFake


def _messages(*addresses: str) -> list[OutMessage]:
    return [
        OutMessage(
            i, 1, i, address, "提醒", "今晚19:00 人工智能新浪潮", "https://zx/l/1", "day_before"
        )
        for i, address in enumerate(addresses, 1)
    ]


def test_batch_is_sent_signed_and_invalid_receivers_are_permanent(zwdd: ZwddPlatformFake) -> None:
    zwdd.bad = {"999"}
    provider = ZwddProvider()
    results = provider.send_batch(_messages("101", "999"), idempotency_key="biz-1")
    assert [r.ok for r in results] == [True, False]
    assert results[1].error is not None and results[1].error.kind == ErrorKind.PERMANENT
    assert [s.address for s in zwdd.sent] == ["101"]
    assert zwdd.calls("/gettoken.json")[0].method == "GET"
    provider.close()


def test_revoked_token_is_fetched_again_once(zwdd: ZwddPlatformFake) -> None:
    provider = ZwddProvider()
    provider.send_batch(_messages("101"), idempotency_key="biz-1")
    zwdd.inject("token_invalid")
    results = provider.send_batch(_messages("102"), idempotency_key="biz-2")
    assert results[0].ok and zwdd.token_fetches == 2
    provider.close()


def test_wrong_secret_is_fatal_and_throttling_is_throttled(
    zwdd: ZwddPlatformFake, settings: SettingsWrapper
) -> None:
    zwdd.inject("throttle")
    provider = ZwddProvider()
    with pytest.raises(ProviderError) as throttled:
        provider.send_batch(_messages("101"), idempotency_key="biz-1")
    assert throttled.value.kind == ErrorKind.THROTTLED
    settings.NOTIFY_ZWDD_API_SECRET = "wrong"
    with pytest.raises(ProviderError) as fatal:
        ZwddProvider().send_batch(_messages("101"), idempotency_key="biz-2")
    assert fatal.value.kind == ErrorKind.FATAL
    assert fatal.value.code == "zwdd_SignatureDoesNotMatch"
