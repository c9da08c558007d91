"""The one 浙政钉 gateway signer (portal.zwdd) against the fake's independent check: the
platform sorts keys case-insensitively and signs values unencoded; anything else fails."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from portal import zwdd as gateway
from tests.fakes.zwdd import ZwddPlatformFake

PARAMS = {"appkey": "zk", "appsecret": "zwdd-secret", "Zone": "东区", "alpha": "a b&c=d"}


@pytest.fixture
def fake() -> Iterator[ZwddPlatformFake]:
    server = ZwddPlatformFake().start()
    yield server
    server.stop()


def _get(fake: ZwddPlatformFake, headers: dict[str, str]) -> dict[str, object]:
    response = httpx.get(f"{fake.url}/gettoken.json", params=PARAMS, headers=headers)
    data: dict[str, object] = response.json()
    return data


def test_signed_headers_are_accepted_and_carry_the_sdk_fields(fake: ZwddPlatformFake) -> None:
    headers = gateway.signed_headers(
        app_key="zk", secret="zwdd-secret", method="GET", path="/gettoken.json", params=PARAMS
    )
    assert headers["X-Hmac-Auth-Version"] == "1.0"
    assert re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$", headers["X-Hmac-Auth-Timestamp"]
    )
    assert headers["X-Hmac-Auth-IP"] and re.match(
        r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", headers["X-Hmac-Auth-MAC"]
    )
    answer = _get(fake, headers)
    assert answer["success"] is True, answer


def _signed_by(canonical: str, headers: dict[str, str]) -> dict[str, str]:
    to_sign = "\n".join(
        [
            "GET",
            headers["X-Hmac-Auth-Timestamp"],
            headers["X-Hmac-Auth-Nonce"],
            "/gettoken.json",
            canonical,
        ]
    )
    digest = hmac.new(b"zwdd-secret", to_sign.encode(), hashlib.sha256).digest()
    return {**headers, "X-Hmac-Auth-Signature": base64.b64encode(digest).decode()}


@pytest.mark.parametrize(
    "canonical",
    [
        # a case-sensitive sort puts "Zone" before "alpha"
        "&".join(f"{k}={PARAMS[k]}" for k in sorted(PARAMS)),
        # URL-encoded values
        "&".join(f"{k}={quote(PARAMS[k])}" for k in sorted(PARAMS, key=str.lower)),
    ],
    ids=["case-sensitive-sort", "url-encoded-values"],
)
def test_other_canonical_forms_fail(fake: ZwddPlatformFake, canonical: str) -> None:
    base = gateway.signed_headers(
        app_key="zk", secret="zwdd-secret", method="GET", path="/gettoken.json", params=PARAMS
    )
    answer = _get(fake, _signed_by(canonical, base))
    assert answer == {
        "success": False,
        "errorCode": "SignatureDoesNotMatch",
        "errorMsg": "signature does not match",
    }
    # and the right canonical form, by hand, passes: the check is not simply "ours"
    right = "&".join(f"{k}={PARAMS[k]}" for k in sorted(PARAMS, key=str.lower))
    assert _get(fake, _signed_by(right, base))["success"] is True


def test_repeated_parameters_are_signed_once_per_value_in_order() -> None:
    params = {"tenantId": "1", "organizationCodes": ["GO_b", "GO_a"], "Alpha": "x"}
    assert gateway.canonical_params(params) == (
        "Alpha=x&organizationCodes=GO_b&organizationCodes=GO_a&tenantId=1"
    )
    assert gateway.request_kwargs("POST", params) == {
        "data": {"tenantId": "1", "organizationCodes": ["GO_b", "GO_a"], "Alpha": "x"}
    }


def test_envelope_levels() -> None:
    assert gateway.envelope_data({"success": True, "content": {"success": True, "data": 1}}) == 1
    with pytest.raises(gateway.GatewayError) as outer:
        gateway.envelope_data({"success": False, "errorCode": "SignatureDoesNotMatch"})
    assert outer.value.gateway and outer.value.is_configuration
    with pytest.raises(gateway.GatewayError) as inner:
        gateway.envelope_data(
            {"success": True, "content": {"success": False, "responseCode": "240111"}}
        )
    assert inner.value.code == "240111" and not inner.value.gateway
    with pytest.raises(gateway.GatewayError) as odd:
        gateway.envelope_data(["not", "an", "envelope"])
    assert odd.value.code == gateway.BAD_RESPONSE
