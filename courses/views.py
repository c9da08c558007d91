"""Catalogue, programme and lecture pages; enrolment actions."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from courses import selectors, services
from courses.attendance.checkin import checkin_venue_list_for_staff
from courses.exceptions import EnrolmentError, EnrolmentErrorCode
from courses.forms import CatalogueFilterForm
from courses.models import Lecture
from portal import selectors as portal_selectors
from portal.http import request_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My lectures: live and upcoming lectures of my programmes, recent replays."""
    user = request_user(request)
    return render(
        request,
        "portal/home.html",
        {
            "upcoming": selectors.lecture_list_for_home(user=user),
            "recent": selectors.lecture_list_recent_for_home(user=user),
            "open_programmes": selectors.programme_list_for_user(user=user)
            .exclude(pk__in=selectors.programme_ids_enrolled(user=user))
            .order_by("-created_at")[:5],
            "staff_links": portal_selectors.staff_links(user=user),
        },
    )


@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    programmes = list(selectors.programme_list_for_user(user=user).order_by("-created_at"))
    form = CatalogueFilterForm(
        request.GET or None, programmes=[(p.pk, p.title) for p in programmes]
    )
    filters: dict[str, object] = {}
    if form.is_bound and form.is_valid():
        filters = {
            "text": form.cleaned_data["q"],
            "category": form.cleaned_data["category"],
            "status": form.cleaned_data["status"],
            "programme_id": form.cleaned_data["programme"],
        }
    lectures = selectors.lecture_search(user=user, **filters)  # type: ignore[arg-type]
    page = Paginator(lectures, 20).get_page(request.GET.get("page"))
    enrolled_ids = selectors.programme_ids_enrolled(user=user)
    return render(
        request,
        "courses/catalogue.html",
        {
            "form": form,
            "page": page,
            "programmes": programmes,
            "enrolled_ids": enrolled_ids,
        },
    )


@login_required
def programme_detail(request: HttpRequest, programme_id: int) -> HttpResponse:
    user = request_user(request)
    programme = selectors.programme_get_for_viewer(user=user, programme_id=programme_id)
    lectures = selectors.lecture_queryset().filter(programme=programme).order_by("sequence")
    return render(
        request,
        "courses/programme_detail.html",
        {
            "programme": programme,
            "lectures": lectures,
            "enrolment": selectors.enrolment_get_active(user=user, programme_id=programme.pk),
            "in_audience": selectors.user_in_audience(user=user, programme=programme),
        },
    )


@login_required
def lecture_detail(request: HttpRequest, lecture_id: int) -> HttpResponse:
    user = request_user(request)
    lecture = selectors.lecture_get_for_viewer(user=user, lecture_id=lecture_id)
    enrolment = selectors.enrolment_get_active(user=user, programme_id=lecture.programme_id)
    return render(
        request,
        "courses/lecture_detail.html",
        {
            "lecture": lecture,
            "programme": lecture.programme,
            "status": lecture.status,
            "enrolment": enrolment,
            "in_audience": selectors.user_in_audience(user=user, programme=lecture.programme),
            "can_moderate": selectors.lecture_is_moderator(user=user, lecture=lecture),
            "checkin_venues": checkin_venue_list_for_staff(user=user, lecture=lecture),
            "Status": Lecture.Status,
        },
    )


def _back(request: HttpRequest, programme_id: int) -> HttpResponse:
    target = request.POST.get("next", "")
    # Only a path on this site: ``/\\evil.example`` and ``//evil.example`` are refused too.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("courses:programme", programme_id=programme_id)


@require_POST
@login_required
def enrol(request: HttpRequest, programme_id: int) -> HttpResponse:
    user = request_user(request)
    programme = get_object_or_404(selectors.programme_list_published(), pk=programme_id)
    try:
        result = services.enrolment_create(user=user, programme=programme)
    except EnrolmentError as exc:
        messages.error(request, exc.message)
        if exc.code == EnrolmentErrorCode.NOT_IN_AUDIENCE:
            return redirect("courses:catalogue")
    else:
        if result.created:
            messages.success(request, _("You are enrolled in “%s”.") % programme.title)
        else:
            messages.info(request, _("You were already enrolled in “%s”.") % programme.title)
    return _back(request, programme.pk)


@require_POST
@login_required
def withdraw(request: HttpRequest, programme_id: int) -> HttpResponse:
    user = request_user(request)
    programme = get_object_or_404(selectors.programme_list_visible(user=user), pk=programme_id)
    try:
        services.enrolment_withdraw(user=user, programme=programme)
    except EnrolmentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You have withdrawn from “%s”.") % programme.title)
    return _back(request, programme.pk)


@login_required
def study_record(request: HttpRequest) -> HttpResponse:
    """The signed-in cadre's own study record (学习档案): only ever the caller's rows."""
    from courses.attendance.credit import attendance_study_record
    from courses.reports.annual import annual_target

    record = attendance_study_record(user=request_user(request))
    year = timezone.localtime().year
    this_year = next((t for t in record.by_year if t.label == str(year)), None)
    earned = this_year.credit_hours if this_year is not None else Decimal("0")
    target = annual_target()
    return render(
        request,
        "courses/study_record.html",
        {
            "record": record,
            "year": year,
            "year_hours": earned,
            "target": target,
            "year_short": max(target - earned, Decimal("0")),
            "year_percent": min(100, int(earned * 100 / target)) if target else 100,
        },
    )
