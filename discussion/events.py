"""What pages and sockets receive: posts and threads as JSON-ready dicts (docs/discussion.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from django.urls import reverse

from discussion.models import Post, Thread
from discussion.text import Part, text_parts


class PostPayload(TypedDict, total=False):
    id: int
    thread_id: int
    parent_id: int | None
    author: str
    author_id: int
    unit: str
    parts: list[Part]
    status: str
    likes: int
    liked: bool
    created_at: str
    flagged: bool
    hidden_reason: str


class ThreadPayload(TypedDict, total=False):
    id: int
    space_id: int
    title: str
    author: str
    lecture_id: int | None
    pinned: bool
    locked: bool
    posts: int
    last_post_at: str | None
    url: str
    unread: int


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def post_payload(
    post: Post, *, liked: bool = False, moderator: bool = False, own: bool = False
) -> PostPayload:
    """A post for one reader: moderators (and the author, for their own hidden post) see
    the flag and the reason; nobody else ever receives a hidden or pending post."""
    author = post.author
    payload: PostPayload = {
        "id": post.pk,
        "thread_id": post.thread_id,
        "parent_id": post.parent_id,
        "author": author.display_name,
        "author_id": author.pk,
        "unit": author.unit.name if author.unit_id and author.unit else "",
        "parts": text_parts(post.text, mentions=post.mentions or {}),
        "status": post.status,
        "likes": post.like_count,
        "liked": liked,
        "created_at": iso(post.created_at) or "",
    }
    if moderator:
        payload["flagged"] = post.flagged
    if moderator or own:
        payload["hidden_reason"] = post.hidden_reason
    return payload


def thread_payload(thread: Thread, *, unread: int | None = None) -> ThreadPayload:
    payload: ThreadPayload = {
        "id": thread.pk,
        "space_id": thread.space_id,
        "title": thread.title,
        "author": thread.author.display_name if thread.author_id and thread.author else "",
        "lecture_id": thread.lecture_id,
        "pinned": thread.pinned,
        "locked": thread.locked,
        "posts": thread.post_count,
        "last_post_at": iso(thread.last_post_at),
        "url": reverse("discussion:thread", args=[thread.pk]),
    }
    if unread is not None:
        payload["unread"] = unread
    return payload


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}
