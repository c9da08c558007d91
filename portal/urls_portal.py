from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("accounts/profile/", views.profile, name="profile"),
    path("reports/", views.reports_home, name="reports"),
]
