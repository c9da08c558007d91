"""Websocket route of the discussion: ``/ws/discussion/<space id>/`` (docs/discussion.md)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from discussion.consumers import DiscussionConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/discussion/<int:space_id>/", DiscussionConsumer.as_asgi()),
]
