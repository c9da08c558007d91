from django.urls import URLPattern, URLResolver, path

from discussion import views

app_name = "discussion"

urlpatterns: list[URLPattern | URLResolver] = [
    path("lectures/<int:lecture_id>/discussion/", views.lecture_space, name="lecture_space"),
    path(
        "lectures/<int:lecture_id>/discussion/open/",
        views.lecture_space_open,
        name="lecture_space_open",
    ),
    path("groups/", views.group_list, name="groups"),
    path("groups/new/", views.group_create, name="group_new"),
    path("groups/<int:group_id>/", views.group_detail, name="group"),
    path("discussion/threads/<int:thread_id>/", views.thread_page, name="thread"),
    path("api/discussion/spaces/<int:space_id>/threads/", views.api_threads, name="api_threads"),
    path("api/discussion/threads/<int:thread_id>/posts/", views.api_posts, name="api_posts"),
    path("api/discussion/threads/<int:thread_id>/read/", views.api_read, name="api_read"),
    path(
        "api/discussion/threads/<int:thread_id>/moderate/",
        views.api_thread_moderate,
        name="api_thread_moderate",
    ),
    path("api/discussion/posts/<int:post_id>/like/", views.api_post_like, name="api_post_like"),
    path(
        "api/discussion/posts/<int:post_id>/report/", views.api_post_report, name="api_post_report"
    ),
    path(
        "api/discussion/posts/<int:post_id>/moderate/",
        views.api_post_moderate,
        name="api_post_moderate",
    ),
]
