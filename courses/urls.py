from django.urls import path

from courses import views
from courses.reports.views import attendance as report_views

app_name = "courses"

urlpatterns = [
    path("courses/", views.catalogue, name="catalogue"),
    path("programmes/<int:programme_id>/", views.programme_detail, name="programme"),
    path("programmes/<int:programme_id>/enrol/", views.enrol, name="enrol"),
    path("programmes/<int:programme_id>/withdraw/", views.withdraw, name="withdraw"),
    path("lectures/<int:lecture_id>/", views.lecture_detail, name="lecture"),
    path("me/study/", views.study_record, name="study_record"),
    # Attendance reports (docs/reports.md; the path is a contract, ARCHITECTURE.md §7.3)
    path("reports/attendance/", report_views.attendance_report, name="attendance_report"),
    path(
        "reports/attendance/data.json",
        report_views.attendance_report_data,
        name="attendance_report_data",
    ),
]

# Venue check-in (docs/attendance.md; courses/attendance/views.py).
from courses.attendance import views as checkin_views  # noqa: E402

_checkin = "lectures/<int:lecture_id>/venues/<int:venue_id>/check-in/"
urlpatterns += [
    path(_checkin, checkin_views.staff_page, name="checkin_staff"),
    path(f"{_checkin}status/", checkin_views.staff_status, name="checkin_status"),
    path(f"{_checkin}mark/", checkin_views.staff_mark, name="checkin_mark"),
    path(f"{_checkin}unmark/", checkin_views.staff_unmark, name="checkin_unmark"),
    path("check-in/<str:token>/", checkin_views.scan, name="checkin_scan"),
]

# Follow-up lists and the 通报 ranking (docs/reports.md; courses/reports/views/followups.py).
from courses.reports.views import followups as followup_views  # noqa: E402

urlpatterns += [
    path("reports/attendance/follow-up/", followup_views.followup_list, name="followup"),
    path("reports/ranking/", followup_views.ranking, name="ranking"),
    path("reports/study-hours/", followup_views.study_hours, name="study_hours"),
]
