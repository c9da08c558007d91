"""Websocket routes: ``/ws/lectures/<id>/`` (docs/live-protocol.md)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from livestream.consumers import LiveRoomConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/lectures/<int:lecture_id>/", LiveRoomConsumer.as_asgi()),
]
