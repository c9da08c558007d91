"""Playwright + Debian's Chromium fixtures, the axe-core accessibility check, and the
Content-Security-Policy watch: every page of every browser test runs under the enforced
policy, and a violation the browser reports fails the test (``csp_expected`` takes them
over for tests that provoke one on purpose)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in the test's thread, so Django
    would refuse the ORM there (fixtures, the test, the database flush after it). Only the
    browser tests get this exemption, for their whole set-up, call and tear-down:
    everywhere else an ORM call on the event loop fails the suite."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


CSP_VIOLATIONS: list[str] = []


def _watch_csp(context: BrowserContext) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            CSP_VIOLATIONS.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", on_console)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        plain_new_context = browser.new_context

        def new_context(**kwargs: Any) -> BrowserContext:
            context = plain_new_context(**kwargs)
            _watch_csp(context)
            return context

        browser.new_context = new_context  # type: ignore[method-assign]
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def csp_clean() -> Iterator[None]:
    """No page of the test reported a Content-Security-Policy violation."""
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not found, "CSP violations:\n" + "\n".join(found)


@pytest.fixture
def csp_expected() -> Iterator[list[str]]:
    """The violations reported so far in this test, live, for it to assert on (they do
    not fail it: this fixture's tear-down runs before ``csp_clean``'s)."""
    yield CSP_VIOLATIONS
    CSP_VIOLATIONS.clear()


@pytest.fixture(params=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> ViewportSize:
    return PHONE if request.param == "phone" else DESKTOP


def new_page(browser: Browser, viewport: ViewportSize | None = None) -> Page:
    context = browser.new_context(
        viewport=viewport or DESKTOP,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        is_mobile=bool(viewport and viewport["width"] < 500),
        has_touch=bool(viewport and viewport["width"] < 500),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """Run axe-core (vendored from npm) on the page; return serious/critical violations."""
    assert AXE.exists(), f"axe-core is not vendored at {AXE}"
    # Evaluated over the DevTools protocol: an injected <script> would break the CSP.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    # preload: false: axe would copy our stylesheets into inline <style> elements (its CSSOM
    # preload for css-orientation-lock), which the CSP rightly refuses.
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations'], preload: false})"
    )
    found = [v for v in result["violations"] if v.get("impact") in impacts]
    if found:
        summary = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in found
        ]
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    return found


DEMO_PASSWORD = "zhixing-demo"


def sign_in(page: Page, base_url: str, login: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", login)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("networkidle")
