"""Root URLconf. Paths in ARCHITECTURE.md §7.3 are a contract."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from courses import views as course_views
from portal import csp_report, health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("signin.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz/", health.healthz, name="healthz"),
    path("healthz/live/", health.healthz_live, name="healthz_live"),
    path("csp-report/", csp_report.csp_report, name="csp_report"),
    path("", include("demo.urls")),
    path("", include("livestream.urls")),
    path("", include("discussion.urls")),
    path("", include("learning.urls")),
    path("", include("notifications.urls")),
    path("", include("courses.urls")),
    path("", include("portal.urls_portal")),
    path("", course_views.home, name="home"),
]
# A busy or unreachable database is a 503 with Retry-After, anything else the 500 page.
handler500 = "portal.overload.server_error"
handler429 = "portal.ratelimit.too_many_requests"  # allauth's rate limits

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
