from django.urls import URLPattern, URLResolver, path

from livestream import dashboard, views

app_name = "livestream"

urlpatterns: list[URLPattern | URLResolver] = [
    path("lectures/<int:lecture_id>/live/", views.room, name="room"),
    path("lectures/<int:lecture_id>/screen/", views.screen, name="screen"),
    path("lectures/<int:lecture_id>/dashboard/", dashboard.dashboard, name="dashboard"),
]
