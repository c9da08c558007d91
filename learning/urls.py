from django.urls import URLPattern, URLResolver, path

from learning import views

app_name = "learning"

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/study/certificate.pdf", views.year_certificate, name="year_certificate"),
    path(
        "me/study/programmes/<int:programme_id>/certificate.pdf",
        views.programme_certificate,
        name="programme_certificate",
    ),
    path("verify/<str:serial>/", views.verify, name="verify"),
    path("lectures/<int:lecture_id>/quiz/", views.quiz, name="quiz"),
    path("lectures/<int:lecture_id>/evaluate/", views.evaluate, name="evaluate"),
]
