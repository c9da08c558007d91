from django.urls import path

from signin import views

# Under /accounts/, beside allauth's URLs (additions, docs/signin.md).
urlpatterns = [
    path("login/code/again/", views.login_code_again, name="signin_login_code_again"),
]
