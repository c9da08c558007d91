"""Signed CDN push/play URLs (livestream.streaming.cdn): the providers' own worked examples."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from livestream.streaming.cdn import (
    CdnSettings,
    aliyun_auth_key,
    cdn_settings,
    configured_play_urls,
    configured_push_url,
    expires_at_for,
    play_urls,
    push_url,
    tencent_tx_secret,
    tencent_tx_time,
)

BEIJING = timezone(timedelta(hours=8))


# --- Aliyun ApsaraVideo Live, type A -------------------------------------------------------
# Worked example ("示例说明") on 推/播流地址鉴权, https://help.aliyun.com/document_detail/199349.htm
# (zh page, also at https://alibabacloud.com/help/zh/live/user-guide/url-signing): URL
# rtmp://demo.aliyundoc.com/video/standard, key "aliyunliveexp1234", URL made 2021-05-28
# 16:49:57 Beijing time with a 40-minute validity, rand = uid = 0 → timestamp 1622194197
# (17:29:57), signed string "/video/standard-1622194197-0-0-aliyunliveexp1234", and
# HashValue = md5sum(...) = "5552ff52b5e..." (the stored copy of the page we read stops
# there; the rest of the digest below is md5 of that published string).
ALIYUN_DOC_KEY = "aliyunliveexp1234"
ALIYUN_DOC_TIMESTAMP = 1622194197
ALIYUN_DOC_SIGNED = "/video/standard-1622194197-0-0-aliyunliveexp1234"
ALIYUN_DOC_HASH_PREFIX = "5552ff52b5e"
ALIYUN_DOC_HASH = "5552ff52b5e4e20387c6dc18afce206b"


def test_aliyun_doc_example_timestamp_is_the_published_beijing_time() -> None:
    made = datetime(2021, 5, 28, 16, 49, 57, tzinfo=BEIJING)
    assert expires_at_for(now=made.timestamp(), ttl_seconds=40 * 60) == ALIYUN_DOC_TIMESTAMP


def test_aliyun_doc_example_auth_key_reproduced() -> None:
    auth_key = aliyun_auth_key(
        path="/video/standard", expires_at=ALIYUN_DOC_TIMESTAMP, key=ALIYUN_DOC_KEY
    )
    assert auth_key == f"1622194197-0-0-{ALIYUN_DOC_HASH}"
    assert auth_key.split("-")[3].startswith(ALIYUN_DOC_HASH_PREFIX)
    # The digest is md5 of exactly the string the doc prints, byte for byte.
    assert (
        hashlib.md5(ALIYUN_DOC_SIGNED.encode(), usedforsecurity=False).hexdigest()
        == ALIYUN_DOC_HASH
    )


def test_aliyun_doc_example_push_url_reproduced() -> None:
    url = push_url(
        provider="aliyun",
        stream="standard",
        app="video",
        push_domain="demo.aliyundoc.com",
        key=ALIYUN_DOC_KEY,
        expires_at=ALIYUN_DOC_TIMESTAMP,
    )
    assert (
        url == f"rtmp://demo.aliyundoc.com/video/standard?auth_key=1622194197-0-0-{ALIYUN_DOC_HASH}"
    )


def test_type_a_nonzero_rand_goes_between_timestamp_and_uid() -> None:
    # Not Aliyun's page: Huawei Cloud Live documents the same "type A" string with a non-zero
    # rand and prints the full digest ("鉴权方式A", https://huaweicloud.com/guide/
    # productsdesc-bms_46afc49632ab0b1b591f7dcabb7f9812support1): md5sum("/livetest/huawei1.flv-
    # 1592639100-477b3bbc253f467b8def6711128c7bec-0-GCTbw44s6MPLh4GqgDpnfuFHgy25Enly")
    # = dd1b5ffa00cf26acec0c169ae1cfabea.
    auth_key = aliyun_auth_key(
        path="/livetest/huawei1.flv",
        expires_at=1592639100,
        key="GCTbw44s6MPLh4GqgDpnfuFHgy25Enly",
        rand="477b3bbc253f467b8def6711128c7bec",
    )
    assert auth_key == (
        "1592639100-477b3bbc253f467b8def6711128c7bec-0-dd1b5ffa00cf26acec0c169ae1cfabea"
    )


def test_aliyun_play_urls_sign_each_format_path() -> None:
    urls = play_urls(
        provider="aliyun",
        stream="lecture-42",
        expires_at=1700000000,
        play_domain="live.example.cn",
        key="playkey",
    )
    assert set(urls) == {"hls", "flv", "rtmp"}
    for name, (scheme, path) in {
        "hls": ("https", "/live/lecture-42.m3u8"),
        "flv": ("https", "/live/lecture-42.flv"),
        "rtmp": ("rtmp", "/live/lecture-42"),
    }.items():
        parts = urlsplit(urls[name])
        assert (parts.scheme, parts.netloc, parts.path) == (scheme, "live.example.cn", path)
        (auth_key,) = parse_qs(parts.query)["auth_key"]
        digest = hashlib.md5(
            f"{path}-1700000000-0-0-playkey".encode(), usedforsecurity=False
        ).hexdigest()
        assert auth_key == f"1700000000-0-0-{digest}"
    # One hash per path: an HLS token must not open the FLV stream.
    assert len({urlsplit(u).query for u in urls.values()}) == 3


# --- Tencent CSS -------------------------------------------------------------------------------
# "Hotlink Protection URL Calculation", https://www.tencentcloud.com/document/product/267/31560
# (zh: https://cloud.tencent.com/document/product/267/32735): KEY
# e12c46f2612d5106e2034781ab261ca3, StreamName "test", txTime 5C271099 (2018-12-29 14:13:45
# Beijing = 1546064025 in the 2021 revision of the page) →
# txSecret = MD5(e12c46f2612d5106e2034781ab261ca3test5C271099) = f85a2ab363fe4deaffef9754d79da6fe,
# push URL rtmp://livepush.tcloud.com/live/test?txSecret=...&txTime=5C271099.
TENCENT_DOC_KEY = "e12c46f2612d5106e2034781ab261ca3"
TENCENT_DOC_EXPIRES_AT = 1546064025
TENCENT_DOC_SECRET = "f85a2ab363fe4deaffef9754d79da6fe"


def test_tencent_doc_example_tx_time_reproduced() -> None:
    assert int(datetime(2018, 12, 29, 14, 13, 45, tzinfo=BEIJING).timestamp()) == 1546064025
    assert tencent_tx_time(expires_at=TENCENT_DOC_EXPIRES_AT) == "5C271099"
    # The current revision's txTime example: 2023-09-14 13:33:21 → 1694669601 → 65029b21
    # (printed lower-case there; we send upper-case and sign the same string we send).
    assert tencent_tx_time(expires_at=1694669601) == "65029B21"


def test_tencent_doc_example_tx_secret_reproduced() -> None:
    secret = tencent_tx_secret(
        key=TENCENT_DOC_KEY, stream="test", expires_at=TENCENT_DOC_EXPIRES_AT
    )
    assert secret == TENCENT_DOC_SECRET


def test_tencent_doc_example_push_url_reproduced() -> None:
    url = push_url(
        provider="tencent",
        stream="test",
        push_domain="livepush.tcloud.com",
        key=TENCENT_DOC_KEY,
        expires_at=TENCENT_DOC_EXPIRES_AT,
    )
    assert url == (
        "rtmp://livepush.tcloud.com/live/test?txSecret=f85a2ab363fe4deaffef9754d79da6fe"
        "&txTime=5C271099"
    )


def test_tencent_play_urls_signed_with_play_key() -> None:
    urls = play_urls(
        provider="tencent",
        stream="test",
        expires_at=TENCENT_DOC_EXPIRES_AT,
        play_domain="play.example.cn",
        key=TENCENT_DOC_KEY,
    )
    query = f"?txSecret={TENCENT_DOC_SECRET}&txTime=5C271099"
    # Tencent signs the stream name only, so every format carries the same secret.
    assert urls == {
        "hls": f"https://play.example.cn/live/test.m3u8{query}",
        "flv": f"https://play.example.cn/live/test.flv{query}",
        "rtmp": f"rtmp://play.example.cn/live/test{query}",
    }


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_play_urls_unsigned_without_play_key(provider: str) -> None:
    urls = play_urls(provider=provider, stream="s1", expires_at=1700000000, play_domain="p.cn")
    assert urls == {
        "hls": "https://p.cn/live/s1.m3u8",
        "flv": "https://p.cn/live/s1.flv",
        "rtmp": "rtmp://p.cn/live/s1",
    }


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_push_url_refuses_an_empty_key(provider: str) -> None:
    with pytest.raises(ValueError, match="signing key"):
        push_url(provider=provider, stream="s1", expires_at=1700000000, push_domain="p.cn", key="")


# --- Expiry -------------------------------------------------------------------------------------


def test_expires_at_for_adds_ttl_to_whole_seconds() -> None:
    assert expires_at_for(now=1700000000.9, ttl_seconds=86400) == 1700086400


@pytest.mark.parametrize("ttl", [0, -1, True, 1.5])
def test_expires_at_for_refuses_bad_ttl(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        expires_at_for(now=1700000000, ttl_seconds=ttl)


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_expiry_is_written_as_given(provider: str) -> None:
    url = push_url(
        provider=provider, stream="s1", expires_at=1700003600, push_domain="p.cn", key="k"
    )
    query = parse_qs(urlsplit(url).query)
    if provider == "aliyun":
        assert query["auth_key"][0].split("-")[0] == "1700003600"
    else:
        assert int(query["txTime"][0], 16) == 1700003600


@pytest.mark.parametrize(
    "expires_at",
    [0, -5, True, 1700000000.0, "1700000000", 1700000000_000, 2**32],
    ids=["zero", "negative", "bool", "float", "str", "milliseconds", "after-2106"],
)
@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_implausible_expiry_refused(provider: str, expires_at: Any) -> None:
    with pytest.raises(ValueError, match="expires_at"):
        push_url(provider=provider, stream="s1", expires_at=expires_at, push_domain="p.cn", key="k")
    with pytest.raises(ValueError, match="expires_at"):
        play_urls(provider=provider, stream="s1", expires_at=expires_at, play_domain="p.cn")


# --- Names, domains, providers --------------------------------------------------------------


@pytest.mark.parametrize("provider", ["", "Aliyun", "qiniu", "huawei"])
def test_unknown_provider_refused(provider: str) -> None:
    with pytest.raises(ValueError, match="unknown stream CDN provider"):
        push_url(provider=provider, stream="s1", expires_at=1700000000, push_domain="p.cn", key="k")
    with pytest.raises(ValueError, match="unknown stream CDN provider"):
        play_urls(provider=provider, stream="s1", expires_at=1700000000, play_domain="p.cn")


@pytest.mark.parametrize(
    "stream",
    ["", "a b", "a/b", "a?x=1", "a#b", "a%20b", "a.m3u8", "讲座1", "a\n", "x" * 129],
)
@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_stream_names_that_need_quoting_are_refused(provider: str, stream: str) -> None:
    # Refused rather than percent-encoded: we can't know whether the CDN would hash the raw or
    # the decoded path, and a wrong guess is a 403 in production.
    with pytest.raises(ValueError, match="stream name"):
        push_url(
            provider=provider, stream=stream, expires_at=1700000000, push_domain="p.cn", key="k"
        )
    with pytest.raises(ValueError, match="stream name"):
        play_urls(provider=provider, stream=stream, expires_at=1700000000, play_domain="p.cn")


@pytest.mark.parametrize("stream", ["s1", "lecture_42", "lecture-42", "A" * 128])
def test_plain_stream_names_accepted(stream: str) -> None:
    url = push_url(
        provider="tencent", stream=stream, expires_at=1700000000, push_domain="p.cn", key="k"
    )
    assert urlsplit(url).path == f"/live/{stream}"


@pytest.mark.parametrize("app", ["", "a/b", "li ve", "live.x"])
def test_app_names_that_need_quoting_are_refused(app: str) -> None:
    with pytest.raises(ValueError, match="app name"):
        push_url(
            provider="aliyun",
            stream="s1",
            app=app,
            expires_at=1700000000,
            push_domain="p.cn",
            key="k",
        )


@pytest.mark.parametrize(
    "domain", ["", "rtmp://push.example.cn", "push.example.cn/live", "push example.cn", "-x.cn"]
)
def test_domain_must_be_a_bare_host(domain: str) -> None:
    with pytest.raises(ValueError, match="push domain"):
        push_url(provider="aliyun", stream="s1", expires_at=1700000000, push_domain=domain, key="k")


def test_domain_may_carry_a_port() -> None:
    url = push_url(
        provider="aliyun", stream="s1", expires_at=1700000000, push_domain="push.cn:1935", key="k"
    )
    assert url.startswith("rtmp://push.cn:1935/live/s1?auth_key=")


@pytest.mark.parametrize("field", ["rand", "uid"])
def test_aliyun_rand_and_uid_cannot_contain_the_separator(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        aliyun_auth_key(path="/live/s1", expires_at=1700000000, key="k", **{field: "a-b"})


# --- Settings -----------------------------------------------------------------------------------


def _clear_cdn_settings(settings: Any) -> None:
    """Drop any STREAM_CDN_* the project settings define, so defaults are what is tested."""
    for name in [n for n in dir(django_settings) if n.startswith("STREAM_CDN_")]:
        delattr(settings, name)


def test_cdn_settings_defaults_when_nothing_is_set(settings: Any) -> None:
    _clear_cdn_settings(settings)
    config = cdn_settings()
    assert config == CdnSettings(
        provider="",
        push_domain="",
        play_domain="",
        app="live",
        push_key="",
        play_key="",
        url_ttl_seconds=86400,
    )
    assert not config.enabled
    with pytest.raises(ValueError, match="switched off"):
        configured_push_url(config=config, stream="s1", now=1700000000)


def test_cdn_settings_read_and_used(settings: Any) -> None:
    settings.STREAM_CDN_PROVIDER = "Tencent"
    settings.STREAM_CDN_PUSH_DOMAIN = "livepush.tcloud.com"
    settings.STREAM_CDN_PLAY_DOMAIN = "play.example.cn"
    settings.STREAM_CDN_APP = "live"
    settings.STREAM_CDN_PUSH_KEY = TENCENT_DOC_KEY + "\n"
    settings.STREAM_CDN_PLAY_KEY = ""
    settings.STREAM_CDN_URL_TTL_SECONDS = "3600"
    config = cdn_settings()
    assert config.provider == "tencent"
    assert config.push_key == TENCENT_DOC_KEY
    assert config.url_ttl_seconds == 3600
    with pytest.raises(AttributeError):
        config.provider = "aliyun"  # type: ignore[misc]
    assert configured_push_url(config=config, stream="test", now=TENCENT_DOC_EXPIRES_AT - 3600) == (
        "rtmp://livepush.tcloud.com/live/test?txSecret=f85a2ab363fe4deaffef9754d79da6fe"
        "&txTime=5C271099"
    )
    assert configured_play_urls(config=config, stream="test", now=0)["hls"] == (
        "https://play.example.cn/live/test.m3u8"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"STREAM_CDN_PROVIDER": "qiniu"}, "STREAM_CDN_PROVIDER"),
        ({"STREAM_CDN_URL_TTL_SECONDS": "a day"}, "not an integer"),
        ({"STREAM_CDN_URL_TTL_SECONDS": 0}, "must be positive"),
        ({"STREAM_CDN_PROVIDER": "aliyun"}, "STREAM_CDN_PUSH_DOMAIN, STREAM_CDN_PLAY_DOMAIN"),
        (
            {
                "STREAM_CDN_PROVIDER": "aliyun",
                "STREAM_CDN_PUSH_DOMAIN": "https://push.cn",
                "STREAM_CDN_PLAY_DOMAIN": "play.cn",
                "STREAM_CDN_PUSH_KEY": "k",
            },
            "bare host",
        ),
    ],
)
def test_cdn_settings_fail_loudly(settings: Any, overrides: dict[str, Any], message: str) -> None:
    _clear_cdn_settings(settings)
    for name, value in overrides.items():
        setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        cdn_settings()
