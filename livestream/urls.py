from django.urls import URLPattern, URLResolver, path

from livestream import dashboard, demo_hls, views

app_name = "livestream"

urlpatterns: list[URLPattern | URLResolver] = [
    # The demo's sliding-window live HLS playlist (seed_demo points the live lecture here).
    path("demo/hls/live.m3u8", demo_hls.live_playlist, name="demo_live_playlist"),
    path("lectures/<int:lecture_id>/live/", views.room, name="room"),
    path("lectures/<int:lecture_id>/screen/", views.screen, name="screen"),
    path("lectures/<int:lecture_id>/dashboard/", dashboard.dashboard, name="dashboard"),
]
