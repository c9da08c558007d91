"""学时证明 and 结业证书 (issue 18 §5): the PDF read back with poppler (name, 学时, serial),
its QR decoded by zbar to the verify URL, the public verify page (genuine / revoked / not
found, the unit only as its level), revoking from the admin (audited)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from courses.models import Attendance, Lecture, Programme, StudyHourRule
from learning.models import Certificate
from learning.services import certificate_for_year, certificate_revoke
from portal.models import AuditLog, User
from tests.factories import LectureFactory

pytestmark = pytest.mark.django_db


def _completed(user: User, lecture: Lecture) -> None:
    Attendance.objects.create(
        user=user,
        lecture=lecture,
        live_seconds=lecture.duration_minutes * 60,
        completed=True,
        credit_hours_earned=lecture.credit_hours,
    )


@pytest.fixture
def studied(cadre: User, programme: Programme) -> list[Lecture]:
    """Two lectures of this year, both completed by the cadre (2 × 2.0 学时)."""
    start = timezone.localtime().replace(month=3, day=2, hour=19, minute=0, second=0)
    lectures = [
        LectureFactory(programme=programme, sequence=i + 1, starts_at=start + timedelta(days=7 * i))
        for i in range(2)
    ]
    for lecture in lectures:
        _completed(cadre, lecture)
    return lectures


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return out.stdout


def _qr(pdf: bytes, tmp_path: Path) -> str:
    """Render the page with poppler and decode its QR code with zbar (real readers)."""
    path = tmp_path / "q.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")], check=True)
    page = next(tmp_path.glob("page*.png"))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(page)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_tools_are_installed() -> None:
    for tool in ("pdftotext", "pdftoppm", "zbarimg"):
        assert shutil.which(tool), f"{tool} missing: run scripts/system-deps.sh"


def test_the_year_certificate_reads_back_and_its_qr_is_the_verify_url(
    client: Client, cadre: User, studied: list[Lecture], tmp_path: Path, settings: Any
) -> None:
    settings.SITE_URL = "https://zhixing.example.gov.cn"
    year = timezone.localtime().year
    client.force_login(cadre)
    response = client.get(f"/me/study/certificate.pdf?year={year}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    certificate = Certificate.objects.get(user=cadre)
    text = _text(response.content, tmp_path)
    assert "学时证明" in text and cadre.display_name in text
    assert "4 学时" in text and certificate.serial in text and str(year) in text
    assert "中共浙江省委组织部" in text  # the tree root's organisation department
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "c.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "yes" in fonts.splitlines()[-1].split()  # embedded (a subset)
    assert _qr(response.content, tmp_path) == (
        f"https://zhixing.example.gov.cn/verify/{certificate.serial}/"
    )
    # downloading again: the same certificate, not a new serial
    again = client.get(f"/me/study/certificate.pdf?year={year}")
    assert again.status_code == 200 and Certificate.objects.filter(user=cadre).count() == 1


def test_more_study_issues_a_new_serial_and_the_old_stays_valid(
    cadre: User, studied: list[Lecture], programme: Programme
) -> None:
    year = timezone.localtime().year
    first = certificate_for_year(user=cadre, year=year)
    extra = LectureFactory(
        programme=programme, sequence=3, starts_at=studied[-1].starts_at + timedelta(days=7)
    )
    _completed(cadre, extra)
    second = certificate_for_year(user=cadre, year=year)
    assert second.serial != first.serial and second.hours == Decimal("6.0")
    assert Certificate.objects.get(pk=first.pk).revoked_at is None


def test_the_verify_page_shows_only_name_level_hours_and_date(
    client: Client, cadre: User, studied: list[Lecture], organiser: User
) -> None:
    certificate = certificate_for_year(user=cadre, year=timezone.localtime().year)
    html = client.get(f"/verify/{certificate.serial}/").content.decode()  # no sign-in
    assert "真实有效" in html and cadre.display_name in html
    assert cadre.unit is not None and cadre.phone
    assert "乡镇（街道）" in html and cadre.unit.name not in html  # the level, never the unit
    assert "4" in html and certificate.serial in html
    assert cadre.phone not in html
    # lower case and surrounding spaces still find it (typed from paper)
    assert client.get(f"/verify/{certificate.serial.lower()}/").status_code == 200
    certificate_revoke(certificate=certificate, by=organiser, reason="学时记录有误")
    revoked = client.get(f"/verify/{certificate.serial}/")
    assert revoked.status_code == 200 and "已撤销" in revoked.content.decode()
    forged = client.get("/verify/ZX23-4567-89AB/")
    assert forged.status_code == 404 and "未找到" in forged.content.decode()
    assert client.get("/verify/" + "A" * 300 + "/").status_code == 404


def test_no_study_hours_or_a_bad_year_is_refused_in_chinese(
    client: Client, cadre: User, studied: list[Lecture]
) -> None:
    client.force_login(cadre)
    nothing = client.get("/me/study/certificate.pdf?year=2001")
    assert nothing.status_code == 409 and "暂无学时" in nothing.content.decode()
    assert client.get("/me/study/certificate.pdf?year=２０２６").status_code == 400
    assert client.get("/me/study/certificate.pdf?year=26").status_code == 400
    assert not Certificate.objects.exists()


def test_the_programme_certificate_waits_for_the_completion_rule(
    client: Client, cadre: User, studied: list[Lecture], programme: Programme, tmp_path: Path
) -> None:
    unfinished = LectureFactory(programme=programme, sequence=3)  # not yet attended
    client.force_login(cadre)
    url = f"/me/study/programmes/{programme.pk}/certificate.pdf"
    refused = client.get(url)
    assert refused.status_code == 409 and "2/3" in refused.content.decode().replace(" ", "")
    StudyHourRule.objects.create(programme=programme, certificate_min_lectures=2)
    response = client.get(url)
    assert response.status_code == 200
    flat = "".join(_text(response.content, tmp_path).split())  # lines wrap anywhere
    assert "结业证书" in flat and "".join(programme.title.split()) in flat
    assert "准予结业" in flat and "完成2讲" in flat
    assert programme.organiser_unit.name in flat  # issued by the organising department
    assert unfinished.pk  # still not attended: two of three suffice under the rule
    assert client.get("/me/study/programmes/999999/certificate.pdf").status_code == 404


def test_organisers_revoke_from_the_admin_with_a_reason(
    client: Client, cadre: User, studied: list[Lecture], organiser: User
) -> None:
    from portal.services import organiser_permissions_grant

    organiser_permissions_grant(user=organiser)
    certificate = certificate_for_year(user=cadre, year=timezone.localtime().year)
    client.force_login(organiser)
    changelist = "/admin/learning/certificate/"
    assert certificate.serial in client.get(changelist).content.decode()
    data = {"action": "revoke", "_selected_action": [certificate.pk], "reason": ""}
    client.post(changelist, data)
    assert Certificate.objects.get(pk=certificate.pk).revoked_at is None  # a reason first
    data["reason"] = "重复出具"
    client.post(changelist, data)
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None and certificate.revoke_reason == "重复出具"
    entry = AuditLog.objects.get(action="learning.certificate.revoke")
    assert entry.detail["serial"] == certificate.serial
