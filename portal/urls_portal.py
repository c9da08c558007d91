from django.urls import path

from courses.reports.views import home as reports_home
from portal import views

app_name = "portal"

urlpatterns = [
    path("accounts/profile/", views.profile, name="profile"),
    path("me/data/", views.my_data, name="my_data"),
    path("reports/", reports_home.reports_home, name="reports"),
]
