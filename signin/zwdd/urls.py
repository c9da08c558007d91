from django.urls import include, path

from signin.zwdd import views

# allauth's /accounts/zwdd/login/ and /accounts/zwdd/login/callback/ (contract, the names
# allauth's default_urlpatterns gives them), plus the embedded frame's start and the
# in-app exchange.
urlpatterns = [
    path(
        "zwdd/",
        include(
            [
                path("login/", views.oauth2_login, name="zwdd_login"),
                path("login/callback/", views.oauth2_callback, name="zwdd_callback"),
                path("login/embed/", views.embed_start, name="zwdd_embed"),
                path("login/app/", views.app_login, name="zwdd_app_login"),
            ]
        ),
    )
]
