"""An organiser uploads a cadres file in the admin (Chromium): the check's counts, then the
confirmation, then the imported result; a file with a row outside their city is refused
with the bad row shown and downloadable."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser
from pytest_django.live_server_helper import LiveServer

from portal.models import OrgUnit, User
from portal.services import organiser_permissions_grant
from tests.browser.conftest import DEMO_PASSWORD, axe_violations, new_page, screenshot
from tests.conftest import Tree

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HEADER = "干部编号,姓名,手机号,单位编码,浙政钉账号,职级,状态\n"


@pytest.fixture(autouse=True)
def eager(uploads_run_inline: None) -> None:
    pass


def test_organiser_uploads_checks_and_confirms(
    browser: Browser, live_server: LiveServer, organiser: User, tree: Tree, tmp_path: Path
) -> None:
    for unit, code in ((tree.lingyin, "LY"), (tree.haishu, "HS")):
        OrgUnit.objects.filter(pk=unit.pk).update(directory_code=code)
    organiser_permissions_grant(user=organiser)
    good = tmp_path / "cadres.csv"
    good.write_text(HEADER + "G1,张三,13800000001,LY,,,\nG2,李四,,LY,,,\n", encoding="utf-8")
    bad = tmp_path / "ningbo.csv"
    bad.write_text(HEADER + "G3,王五,,HS,,,\n", encoding="utf-8")

    page = new_page(browser)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", organiser.username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/admin/directory/directoryimport/add/")
    page.select_option("#id_kind", "cadres")
    page.set_input_files("#id_file", str(bad))
    page.click("input[name=_save]")
    page.wait_for_selector("#import-result")
    assert "单位 HS 不在您的管理范围内。" in page.locator(".import-errors").inner_text()
    assert page.locator("#confirm-import-button").count() == 0
    with page.expect_download() as download:
        page.click("#import-report")
    assert "HS" in Path(download.value.path()).read_text(encoding="utf-8-sig")

    page.goto(f"{live_server.url}/admin/directory/directoryimport/add/")
    page.select_option("#id_kind", "cadres")
    page.set_input_files("#id_file", str(good))
    page.click("input[name=_save]")
    page.wait_for_selector("#confirm-import-button")
    assert page.locator(".import-counts tbody td").nth(1).inner_text() == "2"  # created
    assert not User.objects.filter(cadre_no="G1").exists()
    assert axe_violations(page) == []
    screenshot(page, "admin-directory-checked")
    page.click("#confirm-import-button")
    page.wait_for_selector("text=已导入")
    assert User.objects.filter(cadre_no__in=["G1", "G2"]).count() == 2
    page.context.close()
