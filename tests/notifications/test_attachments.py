"""Announcement attachments: access-checked downloads, safe headers, unguessable names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from notifications import services
from notifications.models import Announcement, AnnouncementAttachment
from portal.models import User
from tests.conftest import Tree

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings: Settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = ""
    return tmp_path


@pytest.fixture
def announcement(tree: Tree) -> Announcement:
    return Announcement.objects.create(
        title="关于开展人工智能专题学习的通知", body="各单位：……", unit=tree.xihu
    )


def _attach(
    announcement: Announcement, filename: str, data: bytes, **kwargs: str
) -> AnnouncementAttachment:
    return AnnouncementAttachment.objects.create(
        announcement=announcement, file=SimpleUploadedFile(filename, data), **kwargs
    )


def _stored(attachment: AnnouncementAttachment) -> str:
    return str(attachment.file.name)


def _url(attachment: AnnouncementAttachment) -> str:
    return reverse("notifications:attachment_download", args=[attachment.pk])


def test_storage_name_is_random_and_the_original_name_is_kept(
    announcement: Announcement, media: Path
) -> None:
    first = _attach(announcement, "学习安排（第一期）.pdf", PDF)
    second = _attach(announcement, "学习安排（第一期）.pdf", PDF)
    assert re.fullmatch(r"announcements/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", _stored(first))
    assert _stored(first) != _stored(second)
    assert first.name == "学习安排（第一期）.pdf"
    assert (media / _stored(first)).read_bytes() == PDF
    odd = _attach(announcement, "../../evil.php.HTML", b"<script>alert(1)</script>")
    assert _stored(odd).endswith(".html")
    assert "evil" not in _stored(odd) and ".." not in _stored(odd)


def test_recipient_downloads_with_safe_headers(
    client: Client, announcement: Announcement, cadre: User
) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    services.announcement_publish(announcement=announcement, by=None)
    client.force_login(cadre)
    response = client.get(_url(attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert (
        "filename*=utf-8''%E5%AD%A6%E4%B9%A0%E5%AE%89%E6%8E%92.pdf"
        in (response["Content-Disposition"])
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_html_or_svg_is_never_served_as_a_page(
    client: Client, announcement: Announcement, cadre: User
) -> None:
    html = _attach(announcement, "page.html", b"<script>alert(1)</script>", name="会议.html")
    svg = _attach(announcement, "logo.svg", b"<svg onload='alert(1)'/>")
    services.announcement_publish(announcement=announcement, by=None)
    client.force_login(cadre)
    for attachment in (html, svg):
        response = client.get(_url(attachment))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")


def test_inbox_page_links_the_guarded_view_not_the_media_url(
    client: Client, announcement: Announcement, cadre: User
) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    services.announcement_publish(announcement=announcement, by=None)
    client.force_login(cadre)
    opened = client.get(
        reverse("notifications:announcement_open", args=[announcement.pk]), follow=True
    )
    html = opened.content.decode()
    assert _url(attachment) in html
    assert "/media/" not in html
    assert _stored(attachment) not in html


def test_another_user_gets_404(
    client: Client, announcement: Announcement, cadre: User, outsider: User
) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    services.announcement_publish(announcement=announcement, by=None)
    client.force_login(outsider)  # Ningbo: not in the Xihu subtree
    assert client.get(_url(attachment)).status_code == 404
    missing = reverse("notifications:attachment_download", args=[attachment.pk + 1000])
    assert client.get(missing).status_code == 404  # the same answer: existence is not told


def test_unpublished_announcement_is_not_downloadable_by_cadres(
    client: Client, announcement: Announcement, cadre: User
) -> None:
    attachment = _attach(announcement, "草稿.pdf", PDF)
    client.force_login(cadre)
    assert client.get(_url(attachment)).status_code == 404


def test_anonymous_is_sent_to_sign_in(client: Client, announcement: Announcement) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    response = client.get(_url(attachment))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_organiser_in_scope_may_download_before_publishing(
    client: Client, announcement: Announcement, organiser: User, tree: Tree
) -> None:
    attachment = _attach(announcement, "草稿.pdf", PDF)
    client.force_login(organiser)  # manages Hangzhou, the announcement is for Xihu
    assert client.get(_url(attachment)).status_code == 200
    elsewhere = Announcement.objects.create(title="宁波通知", body="…", unit=tree.haishu)
    other = _attach(elsewhere, "宁波.pdf", PDF)
    assert client.get(_url(other)).status_code == 404


def test_admin_inline_links_the_guarded_view(
    admin_client: Client, announcement: Announcement
) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    client = admin_client
    page = client.get(reverse("admin:notifications_announcement_change", args=[announcement.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert _url(attachment) in html
    assert f"/media/{_stored(attachment)}" not in html


def test_behind_nginx_the_body_comes_from_an_internal_location(
    client: Client, announcement: Announcement, cadre: User, settings: Settings
) -> None:
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = "/protected-media/"
    attachment = _attach(announcement, "学习安排.docx", b"PK\x03\x04docx")
    services.announcement_publish(announcement=announcement, by=None)
    client.force_login(cadre)
    response = client.get(_url(attachment))
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{_stored(attachment)}"
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml"
    )
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_missing_file_is_404_not_500(
    client: Client, announcement: Announcement, cadre: User, media: Path
) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    services.announcement_publish(announcement=announcement, by=None)
    (media / _stored(attachment)).unlink()
    client.force_login(cadre)
    assert client.get(_url(attachment)).status_code == 404


def test_post_is_not_allowed(client: Client, announcement: Announcement, cadre: User) -> None:
    attachment = _attach(announcement, "学习安排.pdf", PDF)
    services.announcement_publish(announcement=announcement, by=None)
    client.force_login(cadre)
    assert client.post(_url(attachment)).status_code == 405
