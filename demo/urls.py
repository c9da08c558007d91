from django.urls import URLPattern, URLResolver, path

from demo import hls

app_name = "demo"

urlpatterns: list[URLPattern | URLResolver] = [
    # The demo's sliding-window live HLS playlist (seed_demo points the live lecture here).
    path("demo/hls/live.m3u8", hls.live_playlist, name="live_playlist"),
]
