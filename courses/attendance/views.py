"""Venue check-in pages: the staff page with the rotating QR code, and the cadre's scan.

The scan URL checks the cadre in on GET: it is what a phone camera opens, the token in it is
a capability that lapses within two QR periods, and a repeat is a no-op (see
docs/attendance.md, "Venue check-in").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from courses.attendance import checkin
from courses.attendance.checkin import CheckInError, CheckInErrorCode
from courses.models import Lecture, Venue
from portal.http import request_user
from portal.models import User

# A refused scan's HTTP status, by reason.
_SCAN_STATUS = {
    CheckInErrorCode.INVALID_CODE: 400,
    CheckInErrorCode.EXPIRED: 410,
    CheckInErrorCode.OUTSIDE_WINDOW: 403,
    CheckInErrorCode.NOT_ENROLLED: 403,
    CheckInErrorCode.WRONG_VENUE: 403,
    CheckInErrorCode.NOT_ON_ROSTER: 403,
}


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _qr(request: HttpRequest, lecture: Lecture, venue: Venue) -> dict[str, object]:
    """The current code (or ``open: False`` outside the check-in window)."""
    period = int(settings.ATTENDANCE_CHECKIN_QR_SECONDS)
    if not checkin.checkin_is_open(lecture=lecture):
        return {"open": False, "svg": "", "url": "", "expires_in": period}
    token = checkin.checkin_token_make(lecture_id=lecture.pk, venue_id=venue.pk)
    url = request.build_absolute_uri(reverse("courses:checkin_scan", args=[token.value]))
    return {
        "open": True,
        "svg": checkin.checkin_qr_svg(url=url),
        "url": url,
        "slot": token.slot,
        "expires_in": round(token.expires_in, 3),
    }


@never_cache
@login_required
@require_GET
def staff_page(request: HttpRequest, lecture_id: int, venue_id: int) -> HttpResponse:
    post = _staff_request(request, lecture_id, venue_id)
    lecture, venue = post.lecture, post.venue
    return render(
        request,
        "courses/checkin/staff.html",
        {
            "lecture": lecture,
            "venue": venue,
            "window": checkin.checkin_window(lecture=lecture),
            "qr": _qr(request, lecture, venue),
            "roster": checkin.checkin_roster(lecture=lecture, venue=venue),
            "period": int(settings.ATTENDANCE_CHECKIN_QR_SECONDS),
        },
    )


@never_cache
@login_required
@require_GET
def staff_status(request: HttpRequest, lecture_id: int, venue_id: int) -> JsonResponse:
    """What the staff page polls: the current code and the live counts."""
    post = _staff_request(request, lecture_id, venue_id)
    lecture, venue = post.lecture, post.venue
    counts = checkin.checkin_counts(lecture=lecture, venue=venue)
    return JsonResponse(
        {
            **_qr(request, lecture, venue),
            "checked_in": counts.checked_in,
            "expected": counts.expected,
            "checked_in_ids": counts.checked_in_ids,
        }
    )


def _posted_user_id(request: HttpRequest) -> int | None:
    value = request.POST.get("user", "")
    return int(value) if value.isdigit() and len(value) < 12 else None


@dataclass(frozen=True)
class _StaffRequest:
    user: User
    lecture: Lecture
    venue: Venue
    one: int | None  # the posted cadre, if any (POST)

    def back(self) -> HttpResponse:
        return redirect("courses:checkin_staff", lecture_id=self.lecture.pk, venue_id=self.venue.pk)


def _staff_request(request: HttpRequest, lecture_id: int, venue_id: int) -> _StaffRequest:
    """A venue staff member's request, authorised through the venue (with the posted cadre)."""
    user = request_user(request)
    lecture, venue = checkin.checkin_venue_get_for_staff(
        user=user, lecture_id=lecture_id, venue_id=venue_id
    )
    return _StaffRequest(user, lecture, venue, _posted_user_id(request))


@login_required
@require_POST
def staff_mark(request: HttpRequest, lecture_id: int, venue_id: int) -> HttpResponse:
    """Tick the whole class (no ``user``) or one cadre of it."""
    post = _staff_request(request, lecture_id, venue_id)
    user, lecture, venue, one = post.user, post.lecture, post.venue, post.one
    back = post.back()
    if request.POST.get("user") and one is None:
        messages.error(request, _("Choose a cadre of the roster."))
        return back
    try:
        done = checkin.checkin_roster_mark(
            lecture=lecture, venue=venue, by=user, user_ids=None if one is None else [one]
        )
    except CheckInError as exc:
        messages.error(request, exc.message)
        return back
    added = sum(1 for r in done if r.created)
    messages.success(
        request,
        ngettext("%(n)d cadre checked in.", "%(n)d cadres checked in.", added) % {"n": added},
    )
    return back


@login_required
@require_POST
def staff_unmark(request: HttpRequest, lecture_id: int, venue_id: int) -> HttpResponse:
    """Take back one cadre's check-in at this venue (audited)."""
    post = _staff_request(request, lecture_id, venue_id)
    if post.one is not None and checkin.checkin_unmark(
        lecture=post.lecture, venue=post.venue, user_id=post.one, by=post.user
    ):
        messages.success(request, _("The check-in was taken back."))
    else:
        messages.error(request, _("This cadre is not checked in at this venue."))
    return post.back()


@never_cache
@login_required
@require_GET
def scan(request: HttpRequest, token: str) -> HttpResponse:
    """The URL in the QR code: check the signed-in cadre in, or say why not."""
    try:
        result = checkin.checkin_scan(user=request_user(request), token=token)
    except CheckInError as exc:
        status = _SCAN_STATUS[exc.code]
        if _wants_json(request):
            return JsonResponse(
                {"ok": False, "code": exc.code.value, "message": exc.message}, status=status
            )
        return render(
            request,
            "courses/checkin/scan.html",
            {"error": exc, "code": exc.code.value},
            status=status,
        )
    check_in = result.check_in
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "code": "checked_in" if check_in.created else "already_checked_in",
                "lecture": result.lecture.pk,
                "venue": check_in.venue_id,
                "checked_in_at": check_in.checked_in_at.isoformat(),
            }
        )
    return render(
        request,
        "courses/checkin/scan.html",
        {
            "lecture": result.lecture,
            "venue": result.venue,
            "check_in": check_in,
            "checked_in_at": timezone.localtime(check_in.checked_in_at),
            "checked_in_venue": result.checked_in_venue,
        },
    )
