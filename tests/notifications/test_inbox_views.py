"""The in-site inbox page, marking read, the unread count, announcements."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from notifications import services
from notifications.context_processors import inbox as inbox_processor
from notifications.models import Announcement, InboxMessage
from portal.models import User
from tests.conftest import Tree

pytestmark = pytest.mark.django_db


def test_inbox_lists_and_marks_read_when_opened(
    client: Client, cadre: User, outsider: User
) -> None:
    mine = InboxMessage.objects.create(user=cadre, title="明天开讲：<b>大模型</b>", body="正文")
    theirs = InboxMessage.objects.create(user=outsider, title="别人的通知")
    client.force_login(cadre)
    page = client.get(reverse("notifications:inbox"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;b&gt;大模型&lt;/b&gt;" in html  # user text as text
    assert "别人的通知" not in html
    assert "1 条未读消息" in html
    opened = client.get(reverse("notifications:inbox_open", args=[mine.pk]))
    assert opened.status_code == 200
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.get(reverse("notifications:inbox_open", args=[theirs.pk])).status_code == 404


def test_unread_count_context_processor(rf: object, cadre: User) -> None:
    InboxMessage.objects.create(user=cadre, title="a")
    InboxMessage.objects.create(user=cadre, title="b")
    request = rf.get("/")  # type: ignore[attr-defined]
    request.user = cadre
    assert int(str(inbox_processor(request)["inbox_unread"])) == 2


def test_inbox_requires_login(client: Client) -> None:
    response = client.get(reverse("notifications:inbox"))
    assert response.status_code == 302


def test_announcement_published_to_subtree(
    client: Client, tree: Tree, cadre: User, outsider: User
) -> None:
    announcement = Announcement.objects.create(
        title="关于开展人工智能专题学习的通知", body="各单位：……", unit=tree.xihu
    )
    assert services.announcement_publish(announcement=announcement, by=None) == 1
    assert services.announcement_publish(announcement=announcement, by=None) == 0  # idempotent
    message = InboxMessage.objects.get(user=cadre, announcement=announcement)
    assert not InboxMessage.objects.filter(user=outsider).exists()
    client.force_login(cadre)
    response = client.get(reverse("notifications:announcement_open", args=[announcement.pk]))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "各单位" in page.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None
