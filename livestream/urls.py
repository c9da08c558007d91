from django.urls import URLPattern, URLResolver, path

from livestream import dashboard, views
from livestream.streaming import cdn_hooks, hooks

app_name = "livestream"

urlpatterns: list[URLPattern | URLResolver] = [
    path("lectures/<int:lecture_id>/live/", views.room, name="room"),
    path("lectures/<int:lecture_id>/screen/", views.screen, name="screen"),
    path("lectures/<int:lecture_id>/speaker/", views.speaker, name="speaker"),
    path("lectures/<int:lecture_id>/dashboard/", dashboard.dashboard, name="dashboard"),
    # the origin's callbacks (docs/streaming.md)
    path("streaming/hooks/publish/", hooks.publish, name="stream_publish"),
    path("streaming/hooks/publish-done/", hooks.publish_done, name="stream_publish_done"),
    path("streaming/hooks/update/", hooks.update, name="stream_update"),
    path("streaming/hooks/record-done/", hooks.record_done, name="stream_record_done"),
    path("streaming/hooks/cdn/aliyun/", cdn_hooks.aliyun, name="stream_cdn_aliyun"),
    path("streaming/hooks/cdn/tencent/", cdn_hooks.tencent, name="stream_cdn_tencent"),
]
