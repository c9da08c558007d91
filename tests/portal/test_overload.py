"""A busy or unreachable database answers 503 with Retry-After, never a 500 (issue 12 §2)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.db import OperationalError
from django.test import RequestFactory

from portal.overload import server_error
from tests.livestream.servers import daphne, free_port, production_env


def _answer(exc: Exception) -> object:
    request = RequestFactory().get("/courses/")
    try:
        raise exc
    except Exception:
        return server_error(request)  # Django calls handler500 inside its except block


def test_a_database_error_is_503_with_retry_after() -> None:
    response = _answer(OperationalError("query_wait_timeout"))
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response["Retry-After"] == "5"  # type: ignore[index]
    assert "请稍候" in response.content.decode()  # type: ignore[attr-defined]


def test_any_other_error_keeps_the_500_page() -> None:
    response = _answer(ValueError("a bug"))
    assert response.status_code == 500  # type: ignore[attr-defined]
    assert not response.has_header("Retry-After")  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_portal_whose_database_is_down_says_busy(tmp_path: Path) -> None:
    env = production_env(
        redis_url="",
        prefix="zxbusy:",
        extra={
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing",
            "SECURE_SSL_REDIRECT": "false",
        },
    )
    for key in ("REDIS_URL", "LIVE_REDIS_URL"):
        env[key] = ""
    with daphne(env, log=tmp_path / "daphne.log") as port:
        # a signed-in request: its session is a database row the portal cannot read
        response = httpx.get(
            f"http://127.0.0.1:{port}/courses/", cookies={"sessionid": "x" * 32}, timeout=20
        )
    assert response.status_code == 503, response.text[:500]
    assert response.headers["retry-after"] == "5"
    assert "访问人数较多" in response.text
