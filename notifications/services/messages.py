"""Messages: the text of a reminder on a channel, from its template."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from notifications.models import Channel, MessageTemplate, Reminder, ReminderKind
from notifications.rendering import default_source, format_time, render_text

logger = logging.getLogger(__name__)


def _digest_context(*, reminder: Reminder) -> dict[str, str]:
    """A digest is about no lecture: its title is fixed, its link is the groups page."""
    # The notice goes out in the site's language, whoever renders it (worker, admin preview).
    with translation.override(settings.LANGUAGE_CODE):
        title = gettext("New posts in your study groups")
    return {
        "title": title,
        "time": "",
        "speaker": "",
        "link": f"{settings.SITE_URL.rstrip('/')}/groups/",
        "programme": "",
        "note": reminder.note,
    }


def message_context(*, reminder: Reminder) -> dict[str, str]:
    lecture = reminder.lecture
    if lecture is None:  # only digests (reminder_lecture_unless_digest)
        return _digest_context(reminder=reminder)
    speakers = "、".join(s.name for s in lecture.speakers.all())
    context = {
        "title": lecture.title,
        "time": format_time(lecture.starts_at),
        "speaker": speakers,
        "link": f"{settings.SITE_URL.rstrip('/')}/lectures/{lecture.pk}/",
        "programme": lecture.programme.title,
        "note": reminder.note,
    }
    if reminder.kind == ReminderKind.RANKING:  # 通报: the bulletin and the ranking page
        from notifications.services.bulletins import ranking_message_context

        context.update(ranking_message_context(reminder=reminder))
    return context


def message_source(*, channel: str, kind: str) -> tuple[str, str]:
    template_channel = channel if channel != Channel.INBOX else Channel.INBOX
    row = MessageTemplate.objects.filter(channel=template_channel, kind=kind).first()
    if row is not None:
        return row.subject, row.body
    return default_source(channel=channel, kind=kind)


@dataclass(frozen=True)
class MessageText:
    subject: str
    body: str
    link: str
    params: dict[str, str]


def message_render(*, reminder: Reminder, channel: str) -> MessageText:
    context = message_context(reminder=reminder)
    subject_src, body_src = message_source(channel=channel, kind=reminder.kind)
    subject = render_text(subject_src, context, channel="push") if subject_src else ""
    body = render_text(body_src, context, channel=channel)
    return MessageText(
        subject=subject or context["title"], body=body, link=context["link"], params=context
    )
