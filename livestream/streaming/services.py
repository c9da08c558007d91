"""Status from the stream: what the origin's hooks tell the portal, and what follows.

encoder ─push rtmp://…/live/<key>─▶ nginx-rtmp ─on_publish─▶ stream_publish()
    a valid key inside the lecture's window: the lecture goes live (Lecture.
    stream_live_since), ``stream.status`` up to every room, the origin renames the
    stream to lecture-<id> (302 Location); outside the window: a preview session
    that only moderators see; an unknown or rotated key: refused (403)
nginx-rtmp ─on_update every 10 s─▶ stream_update(): a rotated key drops the push
nginx-rtmp ─on_publish_done─▶ stream_publish_done(): ``stream.status`` down, the
    grace period starts (Lecture.stream_down_since)
beat every 10 s ─▶ stream_grace_tick(): STREAM_GRACE_SECONDS after the drop, no new
    push: the lecture ends (stream_ended_at); the hubs' tick sends lecture.status
nginx-rtmp ─on_record_done─▶ recording_done() ─on commit─▶ livestream.replay_build:
    the evening's recordings joined in order into an HLS VOD (ffmpeg remux), set as
    the lecture's replay
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from courses.models import Lecture
from livestream import broadcast
from livestream.models import (
    STREAM_KEY_CHARS,
    Recording,
    StreamKey,
    StreamSession,
    stream_public_name,
)
from livestream.streaming.cdn import cdn_settings, configured_push_url
from livestream.streaming.origin import origin_playlist_url
from portal.models import User
from portal.services import audit_log_write

PUBLIC_PREFIX = "lecture-"


def stream_key_ensure(*, lecture: Lecture) -> StreamKey:
    row, _created = StreamKey.objects.get_or_create(
        lecture=lecture, defaults={"key": secrets.token_hex(STREAM_KEY_CHARS // 2)}
    )
    return row


def stream_key_rotate(*, by: User | None, lecture: Lecture) -> StreamKey:
    """A new key; the old one stops working at once (a push with it is dropped at its next
    heartbeat). Audited."""
    row = stream_key_ensure(lecture=lecture)
    row.key = secrets.token_hex(STREAM_KEY_CHARS // 2)
    row.rotated_at = timezone.now()
    row.save(update_fields=["key", "rotated_at"])
    # a push with the old key: its session ends now, so its next heartbeat is refused and
    # the origin drops it (the lecture's grace period starts, as for any drop)
    _session_end(lecture_id=lecture.pk, now=row.rotated_at)
    audit_log_write(user=by, action="stream.key.rotate", target=lecture, detail={})
    return row


def stream_push_url(*, lecture: Lecture, now: float | None = None) -> str:
    """What the hall's encoder is given (OBS: server = the base, stream key = the rest).
    Our own origin: its ingest and the lecture's secret key. A CDN (STREAM_CDN_PROVIDER):
    the provider's signed push URL for the lecture's public name (the CDN checks it)."""
    config = cdn_settings()
    if config.provider:
        return configured_push_url(
            config=config, stream=stream_public_name(lecture.pk), now=now or time.time()
        )
    key = stream_key_ensure(lecture=lecture).key
    return f"{settings.STREAM_RTMP_URL.rstrip('/')}/{key}"


def _in_window(lecture: Lecture, now: datetime) -> bool:
    early = timedelta(minutes=int(settings.STREAM_EARLY_MINUTES))
    in_grace = lecture.stream_down_since is not None and lecture.stream_ended_at is None
    return lecture.starts_at - early <= now <= lecture.compute_ends_at() or in_grace


def _lecture_of_name(name: str) -> Lecture | None:
    if not name.startswith(PUBLIC_PREFIX) or not name[len(PUBLIC_PREFIX) :].isdigit():
        return None
    return Lecture.objects.filter(pk=int(name[len(PUBLIC_PREFIX) :])).first()


def _stream_event(*, lecture: Lecture, state: str, preview: bool = False) -> None:
    url = origin_playlist_url(lecture_id=lecture.pk)
    broadcast.stream_status(lecture_id=lecture.pk, state=state, url=url, preview=preview)


@dataclass(frozen=True)
class Publish:
    lecture: Lecture
    public_name: str
    preview: bool


def stream_publish(*, key: str, address: str | None, now: datetime | None = None) -> Publish | None:
    """An encoder starts pushing with ``key``: None (refuse) for an unknown key."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            StreamKey.objects.select_for_update().select_related("lecture").filter(key=key).first()
        )
        if row is None or len(key) != STREAM_KEY_CHARS:
            return None
        lecture = Lecture.objects.select_for_update().get(pk=row.lecture_id)
        preview = not _in_window(lecture, now)
        StreamSession.objects.filter(lecture=lecture, ended_at__isnull=True).update(ended_at=now)
        StreamSession.objects.create(
            lecture=lecture, preview=preview, address=address, started_at=now, last_update_at=now
        )
        if not preview:
            if lecture.stream_live_since is None or lecture.stream_ended_at is not None:
                lecture.stream_live_since = now
            lecture.stream_down_since = None
            lecture.stream_ended_at = None
            lecture.save(
                update_fields=["stream_live_since", "stream_down_since", "stream_ended_at"]
            )
        _stream_event(lecture=lecture, state="preview" if preview else "up", preview=preview)
    return Publish(lecture, stream_public_name(lecture.pk), preview)


def stream_publish_by_name(*, name: str, now: datetime | None = None) -> Publish | None:
    """A CDN says the lecture's public name started publishing (the CDN checked the signed
    push URL itself): as ``stream_publish`` with a valid key."""
    lecture = _lecture_of_name(name)
    if lecture is None:
        return None
    key = stream_key_ensure(lecture=lecture).key
    return stream_publish(key=key, address=None, now=now)


def stream_update(*, name: str, now: datetime | None = None) -> bool:
    """The origin's heartbeat for a push: False drops it (no open session: the key was
    rotated, or the session was ended by a newer push)."""
    now = now or timezone.now()
    lecture = _lecture_of_name(name)
    if lecture is None:
        return StreamKey.objects.filter(key=name).exists()  # before the rename took effect
    return bool(
        StreamSession.objects.filter(lecture=lecture, ended_at__isnull=True).update(
            last_update_at=now
        )
    )


def stream_publish_done(*, name: str, now: datetime | None = None) -> Lecture | None:
    """The push stopped: the grace period starts (a reconnect within it stays live)."""
    now = now or timezone.now()
    lecture = _lecture_of_name(name)
    if lecture is None:
        key = StreamKey.objects.filter(key=name).select_related("lecture").first()
        lecture = key.lecture if key is not None else None
    if lecture is None:
        return None
    return _session_end(lecture_id=lecture.pk, now=now)


def _session_end(*, lecture_id: int, now: datetime) -> Lecture:
    """Close the lecture's open push; a live one goes down (its grace period starts)."""
    with transaction.atomic():
        lecture = Lecture.objects.select_for_update().get(pk=lecture_id)
        session = (
            StreamSession.objects.select_for_update()
            .filter(lecture=lecture, ended_at__isnull=True)
            .order_by("-started_at")
            .first()
        )
        if session is None:
            return lecture
        StreamSession.objects.filter(pk=session.pk).update(ended_at=now)
        if not session.preview and lecture.stream_live_since is not None:
            lecture.stream_down_since = now
            lecture.save(update_fields=["stream_down_since"])
            _stream_event(lecture=lecture, state="down")
    return lecture


def stream_grace_tick(*, now: datetime | None = None) -> list[int]:
    """Lectures whose push stopped STREAM_GRACE_SECONDS ago without a new one: they end."""
    now = now or timezone.now()
    limit = now - timedelta(seconds=int(settings.STREAM_GRACE_SECONDS))
    ended = []
    for lecture_id in Lecture.objects.filter(
        stream_down_since__lte=limit, stream_ended_at__isnull=True
    ).values_list("pk", flat=True):
        with transaction.atomic():
            changed = Lecture.objects.filter(
                pk=lecture_id, stream_down_since__lte=limit, stream_ended_at__isnull=True
            ).update(stream_ended_at=now)
            if changed:
                ended.append(lecture_id)
                broadcast.stream_status(
                    lecture_id=lecture_id,
                    state="ended",
                    url=origin_playlist_url(lecture_id=lecture_id),
                    preview=False,
                )
    return ended


def recording_done(*, name: str, path: str, now: datetime | None = None) -> Recording | None:
    """The origin finished a recording: keep it (idempotent by path) and rebuild the
    lecture's replay from all of its recordings, on commit."""
    now = now or timezone.now()
    # the recorder names the file after the public name (lecture-<id>-<unix time>.flv);
    # the hook's ``name`` may still be the key the encoder pushed with
    stem = Path(path).name.rsplit("-", 1)[0] if path else ""
    lecture = _lecture_of_name(stem) or _lecture_of_name(name)
    if lecture is None or not path:
        return None
    # the session that just ended is the one recorded: a preview stays out of the replay
    preview = bool(
        StreamSession.objects.filter(lecture=lecture, started_at__lte=now)
        .order_by("-started_at")
        .values_list("preview", flat=True)
        .first()
    )
    record, _created = Recording.objects.get_or_create(
        path=path, defaults={"lecture": lecture, "recorded_at": now, "preview": preview}
    )
    if not record.preview:
        from livestream.tasks import replay_build

        transaction.on_commit(lambda: replay_build.delay(lecture.pk), robust=True)
    return record
