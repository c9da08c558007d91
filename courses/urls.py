from django.urls import path

from courses import views

app_name = "courses"

urlpatterns = [
    path("courses/", views.catalogue, name="catalogue"),
    path("programmes/<int:programme_id>/", views.programme_detail, name="programme"),
    path("programmes/<int:programme_id>/enrol/", views.enrol, name="enrol"),
    path("programmes/<int:programme_id>/withdraw/", views.withdraw, name="withdraw"),
    path("lectures/<int:lecture_id>/", views.lecture_detail, name="lecture"),
    path("me/study/", views.study_record, name="study_record"),
]
