"""Security headers (docs/security.md §1): a Content-Security-Policy without inline script or style
on every response, widened only where a page needs it, and no inline code in any template
(the browser tests then run every page under the enforced policy: tests/browser/conftest.py).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from courses.models import Lecture
from courses.services import enrolment_create
from portal import csp_report
from portal.csp import policy_config, url_origin
from portal.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _policy(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def _assert_strict(policy: dict[str, list[str]]) -> None:
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]


def test_every_kind_of_response_carries_the_policy(
    client: Client, cadre: User, lecture: Lecture
) -> None:
    enrolment_create(user=cadre, programme=lecture.programme)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    anonymous = {
        "sign-in page": reverse("account_login"),
        "health JSON": reverse("healthz"),
        "redirect to sign-in": reverse("home"),
        "404 page": "/no-such-page/",
    }
    for name, path in anonymous.items():
        response = client.get(path)
        _assert_strict(_policy(response))
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["X-Frame-Options"] == "DENY", name
        assert "camera=()" in response["Permissions-Policy"], name
    client.force_login(cadre)
    for path in (
        reverse("home"),
        reverse("courses:catalogue"),
        reverse("courses:lecture", args=[lecture.pk]),
        reverse("livestream:room", args=[lecture.pk]),
        reverse("notifications:inbox"),
        reverse("portal:profile"),
        reverse("admin:index"),  # a cadre is sent to the admin's sign-in page
    ):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        _assert_strict(_policy(response))
    client.force_login(admin)
    for path in (reverse("admin:index"), reverse("admin:portal_user_changelist")):
        response = client.get(path)
        assert response.status_code == 200
        _assert_strict(_policy(response))


def test_a_bad_host_and_a_stale_form_get_the_policy_too(client: Client) -> None:
    bad = client.get("/", HTTP_HOST="evil.example")
    assert bad.status_code == 400
    _assert_strict(_policy(bad))
    strict = Client(enforce_csrf_checks=True)
    stale = strict.post(reverse("account_login"), {"login": "x", "password": "y"})
    assert stale.status_code == 403
    _assert_strict(_policy(stale))
    assert "表单已过期" in stale.content.decode()  # our page, not Django's inline-styled one


def test_the_live_room_may_play_its_own_stream_host_only(
    client: Client, cadre: User, lecture: Lecture
) -> None:
    lecture.stream_url = "https://live.cdn.example/hall/index.m3u8"
    lecture.replay_url = "https://vod.cdn.example/r/1.m3u8"
    lecture.save()
    enrolment_create(user=cadre, programme=lecture.programme)
    client.force_login(cadre)
    policy = _policy(client.get(reverse("livestream:room", args=[lecture.pk])))
    _assert_strict(policy)
    for directive in ("connect-src", "media-src"):
        assert "https://live.cdn.example" in policy[directive]
        assert "https://vod.cdn.example" in policy[directive]
    other = _policy(client.get(reverse("courses:catalogue")))
    assert "https://live.cdn.example" not in other["connect-src"]


def test_hosts_named_by_settings_join_their_directives(settings: SettingsWrapper) -> None:
    settings.ZWDD_LOGIN_BASE = "https://login.zwdd.example/"
    settings.ZWDD_JSAPI_URL = "https://g.zwdd.example/jsapi/2.0.js"
    settings.CSP_STREAM_SOURCES = ["https://cdn.example", "not a url"]
    config = policy_config()
    assert config["frame-src"] == ["'self'", "https://login.zwdd.example"]
    assert "https://login.zwdd.example" in config["form-action"]
    assert config["script-src"][-1] == "https://g.zwdd.example"
    assert "https://cdn.example" in config["connect-src"]
    assert "https://cdn.example" in config["media-src"]
    assert url_origin("/relative/path") is None and url_origin("javascript:alert(1)") is None


def test_the_zwdd_frame_alone_may_be_framed_by_our_own_page(
    client: Client, zwdd_sso: object
) -> None:
    response = client.get(reverse("zwdd_embed"))
    assert response.status_code == 302
    assert _policy(response)["frame-ancestors"] == ["'self'"]
    assert _policy(client.get(reverse("account_login")))["frame-ancestors"] == ["'none'"]


def test_violation_reports_are_logged_and_bounded(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    report = (
        '{"csp-report": {"document-uri": "https://zx.example/lectures/1/live/?token=x",'
        ' "violated-directive": "script-src", "blocked-uri": "inline",'
        ' "script-sample": "alert(document.cookie)"}}'
    )
    csp_report._window.update(start=0.0, count=0, dropped=0)
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        for _ in range(csp_report.LOG_PER_MINUTE + 5):
            response = client.post(
                reverse("csp_report"), report, content_type="application/csp-report"
            )
            assert response.status_code == 204
    logged = [r.getMessage() for r in caplog.records if r.name == "portal.csp"]
    assert len(logged) == csp_report.LOG_PER_MINUTE
    assert "script-src blocked inline on https://zx.example/lectures/1/live/" in logged[0]
    assert "token" not in logged[0]  # no query string (personal data) in the log
    junk = client.post(reverse("csp_report"), "{", content_type="application/json")
    assert junk.status_code == 400
    assert client.get(reverse("csp_report")).status_code == 405


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>"),
    "style element": re.compile(r"<style\b"),
    "style attribute": re.compile(r"\sstyle=\""),
    "event handler attribute": re.compile(r"\son[a-z]+=\"", re.IGNORECASE),
    "javascript: URL": re.compile(r"href=\"javascript:", re.IGNORECASE),
}


def test_no_template_holds_inline_script_or_style() -> None:
    base = Path(settings.BASE_DIR)
    skip = {".venv", "node_modules", "test-artifacts", "tests", "bench", "migrations"}
    templates = [
        path
        for path in base.rglob("*.html")
        if "templates" in path.parts and not skip & set(path.parts)
    ]
    assert len(templates) > 40
    # HTML built in Python (admin displays with format_html) counts as a template too
    templates += [path for path in base.rglob("*.py") if not skip & set(path.parts)]
    found = [
        f"{path.relative_to(base)}: {name}"
        for path in templates
        for name, pattern in INLINE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
