"""In-person (集中收看) check-in: rotating signed QR codes, scans, and the class roster.

The staff page for (lecture, venue) shows a QR code of a scan URL whose token is
``signing.dumps([lecture, venue, slot])`` with a dedicated salt, where ``slot`` is
``floor(now / ATTENDANCE_CHECKIN_QR_SECONDS)``. A scan is accepted for the current and the
previous slot only, so a code photographed and sent home stops working within two periods.

Every write is one ``INSERT ... ON CONFLICT (user_id, lecture_id) DO UPDATE`` that touches
only the check-in columns (``checked_in_at``, ``venue_id``, ``completed``,
``credit_hours_earned``): the online seconds and ``last_flush_id`` written by the heartbeat
flush (``courses/attendance.py``) are never read-modified-written here, so a check-in and a
flush commute. The first check-in wins (a repeat scan keeps the original time and venue).
Each write re-counts the report summaries in the same transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from courses.attendance.credit import completed_sql, completion_rules
from courses.models import Attendance, Enrolment, Lecture, Venue
from courses.selectors import unit_ancestor_paths
from courses.summaries.sync import attendance_summaries_sync
from portal.errors import CodedError
from portal.models import User
from portal.scopes import Capability, scope_for
from portal.services import audit_log_write

CODE_SALT = "zhixing.courses.attendance.checkin"


class CheckInErrorCode(enum.Enum):
    INVALID_CODE = "invalid_code"
    EXPIRED = "expired"
    OUTSIDE_WINDOW = "outside_window"
    NOT_ENROLLED = "not_enrolled"
    WRONG_VENUE = "wrong_venue"
    NOT_ON_ROSTER = "not_on_roster"


_MESSAGES = {
    CheckInErrorCode.INVALID_CODE: gettext_lazy(
        "This check-in code is not valid. Scan the code shown at the venue again."
    ),
    CheckInErrorCode.EXPIRED: gettext_lazy(
        "This check-in code has expired (codes change regularly). "
        "Scan the code shown at the venue again."
    ),
    CheckInErrorCode.OUTSIDE_WINDOW: gettext_lazy(
        "Check-in for this lecture is open from %(opens)s to %(closes)s."
    ),
    CheckInErrorCode.NOT_ENROLLED: gettext_lazy(
        "You are not enrolled in this lecture's programme, so you cannot check in."
    ),
    CheckInErrorCode.WRONG_VENUE: gettext_lazy(
        "You are not assigned to this venue. Check in at your own venue: %(venue)s."
    ),
    CheckInErrorCode.NOT_ON_ROSTER: gettext_lazy("This cadre is not on this venue's roster."),
}


class CheckInError(CodedError):
    """A refused check-in; ``params`` fill the message's placeholders."""

    code: CheckInErrorCode
    messages = _MESSAGES

    def __init__(self, code: CheckInErrorCode, **params: str) -> None:
        super().__init__(code)
        self.params = params

    @property
    def message(self) -> str:
        text = super().message
        return text % self.params if self.params else text


# ---------------------------------------------------------------------------------------
# Window and tokens
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    opens: datetime
    closes: datetime


def checkin_window(*, lecture: Lecture) -> Window:
    """From ``ATTENDANCE_CHECKIN_OPEN_MINUTES`` before the start to the end plus
    ``ATTENDANCE_GRACE_SECONDS`` (the same grace as online live credit)."""
    return Window(
        opens=lecture.starts_at - timedelta(minutes=int(settings.ATTENDANCE_CHECKIN_OPEN_MINUTES)),
        closes=lecture.compute_ends_at()
        + timedelta(seconds=int(settings.ATTENDANCE_GRACE_SECONDS)),
    )


def checkin_is_open(*, lecture: Lecture, now: datetime | None = None) -> bool:
    """A forced "live" opens check-in, a forced "ended" closes it; otherwise the window."""
    if lecture.status_override == Lecture.Override.LIVE:
        return True
    if lecture.status_override == Lecture.Override.ENDED:
        return False
    window = checkin_window(lecture=lecture)
    return window.opens <= (now or timezone.now()) <= window.closes


def _window_check(lecture: Lecture, now: datetime) -> None:
    if not checkin_is_open(lecture=lecture, now=now):
        window = checkin_window(lecture=lecture)
        fmt = "%Y-%m-%d %H:%M"
        raise CheckInError(
            CheckInErrorCode.OUTSIDE_WINDOW,
            opens=timezone.localtime(window.opens).strftime(fmt),
            closes=timezone.localtime(window.closes).strftime(fmt),
        )


def _slot(now: datetime) -> int:
    return int(now.timestamp()) // int(settings.ATTENDANCE_CHECKIN_QR_SECONDS)


@dataclass(frozen=True)
class Token:
    value: str
    slot: int
    expires_in: float  # seconds until the next code is due


def checkin_token_make(*, lecture_id: int, venue_id: int, now: datetime | None = None) -> Token:
    """The code for the current slot (the same text for everyone asking within the slot)."""
    now = now or timezone.now()
    slot = _slot(now)
    period = int(settings.ATTENDANCE_CHECKIN_QR_SECONDS)
    value = signing.dumps([lecture_id, venue_id, slot], salt=CODE_SALT)
    return Token(value=value, slot=slot, expires_in=(slot + 1) * period - now.timestamp())


def checkin_token_read(*, token: str, now: datetime | None = None) -> tuple[int, int]:
    """``(lecture_id, venue_id)`` of a genuine code of the current or previous slot (or the
    next one, for clock skew between servers)."""
    try:
        data = signing.loads(token, salt=CODE_SALT)
    except signing.BadSignature as exc:
        raise CheckInError(CheckInErrorCode.INVALID_CODE) from exc
    if (
        not isinstance(data, list)
        or len(data) != 3
        or not all(type(v) is int for v in data)  # bools are ints too
    ):
        raise CheckInError(CheckInErrorCode.INVALID_CODE)
    lecture_id, venue_id, slot = data
    current = _slot(now or timezone.now())
    # The next slot too: only the server can sign one, and another web server's clock may
    # run a little ahead of this one's.
    if slot not in (current - 1, current, current + 1):
        raise CheckInError(CheckInErrorCode.EXPIRED)
    return lecture_id, venue_id


def checkin_qr_svg(*, url: str) -> str:
    """The URL as an inline SVG QR code that scales to its container."""
    qr = segno.make(url, error="m")
    return str(
        qr.svg_inline(
            scale=1, border=3, omitsize=True, light="#fff", svgclass="qr-svg", lineclass=None
        )
    )


# ---------------------------------------------------------------------------------------
# Staff side: authorisation and the roster (reads)
# ---------------------------------------------------------------------------------------


def checkin_venue_get_for_staff(
    *, user: User, lecture_id: int, venue_id: int
) -> tuple[Lecture, Venue]:
    """Fetch and authorise: unknown lecture or venue → 404; a venue whose unit is outside
    the caller's CHECK_IN scope → 403; a venue that does not show this lecture → 404."""
    lecture = Lecture.objects.select_related("programme").filter(pk=lecture_id).first()
    if lecture is None:
        raise Http404(_("No such lecture."))
    venue = Venue.objects.select_related("unit").filter(pk=venue_id).first()
    if venue is None:
        raise Http404(_("No such venue."))
    if not scope_for(user=user, capability=Capability.CHECK_IN).contains(venue.unit):
        raise PermissionDenied(_("This venue is outside your area."))
    if not lecture.venues.filter(pk=venue.pk).exists():
        raise Http404(_("This lecture is not shown at this venue."))
    return lecture, venue


def checkin_venue_list_for_staff(*, user: User, lecture: Lecture) -> list[Venue]:
    """The lecture's venues where ``user`` may run check-in (for links)."""
    scope = scope_for(user=user, capability=Capability.CHECK_IN)
    if scope.is_empty:
        return []
    return list(lecture.venues.filter(scope.q("unit__")).order_by("name"))


def _roster(lecture: Lecture, venue: Venue) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(
        programme_id=lecture.programme_id, status=Enrolment.Status.ACTIVE, venue=venue
    )


@dataclass
class RosterLine:
    user_id: int
    name: str
    unit: str
    on_roster: bool
    checked_in_at: datetime | None = None
    venue_id: int | None = None
    venue_name: str = ""
    here: bool = False  # checked in at this venue (not elsewhere)


@dataclass
class Roster:
    lines: list[RosterLine]
    venue_id: int

    @property
    def expected(self) -> int:
        return sum(1 for line in self.lines if line.on_roster)

    @property
    def checked_in(self) -> int:
        return sum(1 for line in self.lines if line.here)


def checkin_roster(*, lecture: Lecture, venue: Venue) -> Roster:
    """The venue's class (active enrolments at the venue) with each cadre's check-in, plus
    cadres without an assigned venue who checked in here."""
    lines: dict[int, RosterLine] = {}
    for enrolment in _roster(lecture, venue).select_related("user", "user__unit"):
        user = enrolment.user
        lines[user.pk] = RosterLine(
            user_id=user.pk,
            name=user.display_name,
            unit=user.unit.name if user.unit else "",
            on_roster=True,
        )
    rows = Attendance.objects.filter(lecture=lecture, checked_in_at__isnull=False).filter(
        Q(venue=venue) | Q(user_id__in=list(lines))
    )
    for row in rows.select_related("user", "user__unit", "venue"):
        line = lines.get(row.user_id)
        if line is None:
            user = row.user
            line = lines[user.pk] = RosterLine(
                user_id=user.pk,
                name=user.display_name,
                unit=user.unit.name if user.unit else "",
                on_roster=False,
            )
        line.checked_in_at = row.checked_in_at
        line.venue_id = row.venue_id
        line.venue_name = row.venue.name if row.venue else ""
        line.here = row.venue_id == venue.pk
    ordered = sorted(lines.values(), key=lambda line: (not line.on_roster, line.name, line.user_id))
    return Roster(lines=ordered, venue_id=venue.pk)


@dataclass(frozen=True)
class Counts:
    checked_in: int
    expected: int
    checked_in_ids: list[int]


def checkin_counts(*, lecture: Lecture, venue: Venue) -> Counts:
    """Live figures for the staff page: cadres checked in here vs the venue's class."""
    ids = sorted(
        Attendance.objects.filter(
            lecture=lecture, venue=venue, checked_in_at__isnull=False
        ).values_list("user_id", flat=True)
    )
    return Counts(checked_in=len(ids), expected=_roster(lecture, venue).count(), checked_in_ids=ids)


# ---------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------

_INSERT_COLUMNS = (
    "user_id, lecture_id, live_seconds, replay_seconds, completed, credit_hours_earned, "
    "last_flush_id, updated_at, checked_in_at, venue_id"
)


def _upsert_sql(source: str) -> str:
    """Insert check-ins from ``source`` (a SELECT yielding user ids as ``uid``), keeping an
    earlier check-in and never touching the flush's columns."""
    t = Attendance._meta.db_table
    return (
        f"INSERT INTO {t} ({_INSERT_COLUMNS}) "  # noqa: S608 (constant identifiers only)
        f"SELECT src.uid, %s, 0, 0, TRUE, %s, '', %s, %s, %s FROM ({source}) AS src "
        "ORDER BY src.uid "
        "ON CONFLICT (user_id, lecture_id) DO UPDATE SET "
        f"checked_in_at = COALESCE({t}.checked_in_at, EXCLUDED.checked_in_at), "
        f"venue_id = CASE WHEN {t}.checked_in_at IS NULL THEN EXCLUDED.venue_id "
        f"ELSE {t}.venue_id END, "
        "completed = TRUE, "
        "credit_hours_earned = EXCLUDED.credit_hours_earned, "
        "updated_at = EXCLUDED.updated_at "
        "RETURNING user_id, checked_in_at, venue_id"
    )


@dataclass(frozen=True)
class CheckIn:
    user_id: int
    checked_in_at: datetime
    venue_id: int | None
    created: bool  # False: the cadre had already checked in (time and venue kept)


def _check_in(
    *, lecture: Lecture, venue_id: int, users: QuerySet[Any], at: datetime
) -> list[CheckIn]:
    """Check in ``users`` (a queryset of ``values(uid=...)``) at the venue."""
    # Lock every existing row of these cadres in user order (the flush locks in the same
    # order, so the two cannot deadlock) and note who had already checked in; rows
    # inserted concurrently keep their own time (COALESCE).
    before = {
        uid
        for uid, checked_in_at in Attendance.objects.select_for_update()
        .filter(lecture=lecture, user_id__in=users.values("uid"))
        .order_by("user_id")
        .values_list("user_id", "checked_in_at")
        if checked_in_at is not None
    }
    source, source_params = users.query.sql_with_params()  # SQL built by the ORM
    params: list[Any] = [lecture.pk, lecture.credit_hours, at, at, venue_id]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(source), [*params, *source_params])
        rows = cursor.fetchall()
    results = [
        CheckIn(
            user_id=uid,
            checked_in_at=when,
            venue_id=vid,
            created=uid not in before and when == at,
        )
        for uid, when, vid in rows
    ]
    if results:
        attendance_summaries_sync(lecture_id=lecture.pk, user_ids=[r.user_id for r in results])
    return results


def _assigned_venue_check(
    *, user: User, enrolment: Enrolment, lecture: Lecture, venue: Venue
) -> None:
    """The cadre's enrolment venue when set; otherwise one of the lecture's venues whose
    unit is the cadre's own unit or one of its ancestors (e.g. the county party school)."""
    if enrolment.venue_id is not None:
        if enrolment.venue_id != venue.pk:
            assigned = enrolment.venue.name if enrolment.venue else ""
            raise CheckInError(CheckInErrorCode.WRONG_VENUE, venue=assigned)
        return
    in_chain = user.unit is not None and venue.unit.path in unit_ancestor_paths(user.unit)
    if not in_chain or not lecture.venues.filter(pk=venue.pk).exists():
        raise CheckInError(CheckInErrorCode.WRONG_VENUE, venue=_("none assigned"))


@dataclass(frozen=True)
class ScanResult:
    lecture: Lecture
    venue: Venue  # the venue of the scanned code
    check_in: CheckIn
    checked_in_venue: Venue | None  # where the cadre is checked in (an earlier scan wins)


@transaction.atomic
def checkin_scan(*, user: User, token: str, now: datetime | None = None) -> ScanResult:
    """A signed-in cadre scanned a venue's code: check them in, or say why not."""
    now = now or timezone.now()
    lecture_id, venue_id = checkin_token_read(token=token, now=now)
    lecture = Lecture.objects.select_related("programme").filter(pk=lecture_id).first()
    venue = Venue.objects.select_related("unit").filter(pk=venue_id).first()
    if lecture is None or venue is None:
        raise CheckInError(CheckInErrorCode.INVALID_CODE)
    _window_check(lecture, now)
    enrolment = (
        Enrolment.objects.select_related("venue")
        .filter(user=user, programme_id=lecture.programme_id, status=Enrolment.Status.ACTIVE)
        .first()
    )
    if enrolment is None:
        raise CheckInError(CheckInErrorCode.NOT_ENROLLED)
    _assigned_venue_check(user=user, enrolment=enrolment, lecture=lecture, venue=venue)
    (result,) = _check_in(
        lecture=lecture,
        venue_id=venue.pk,
        users=User.objects.filter(pk=user.pk).values(uid=F("pk")),
        at=now,
    )
    where = venue if result.venue_id == venue.pk else None
    if where is None and result.venue_id is not None:
        where = Venue.objects.filter(pk=result.venue_id).first()
    return ScanResult(lecture=lecture, venue=venue, check_in=result, checked_in_venue=where)


@transaction.atomic
def checkin_roster_mark(
    *,
    lecture: Lecture,
    venue: Venue,
    by: User,
    user_ids: list[int] | None = None,
    now: datetime | None = None,
) -> list[CheckIn]:
    """Staff tick the venue's class: everyone (``user_ids=None``) or the given cadres, who
    must be on the roster. Already checked-in cadres keep their time and venue."""
    now = now or timezone.now()
    _window_check(lecture, now)
    roster = _roster(lecture, venue)
    if user_ids is not None:
        wanted = sorted(set(user_ids))
        found = set(roster.filter(user_id__in=wanted).values_list("user_id", flat=True))
        if len(found) != len(wanted):
            raise CheckInError(CheckInErrorCode.NOT_ON_ROSTER)
        roster = roster.filter(user_id__in=wanted)
    results = _check_in(
        lecture=lecture, venue_id=venue.pk, users=roster.values(uid=F("user_id")), at=now
    )
    audit_log_write(
        user=by,
        action="checkin.mark",
        target=f"lecture:{lecture.pk}",
        detail={
            "venue": venue.pk,
            "users": [r.user_id for r in results if r.created][:1000],
            "all": user_ids is None,
        },
    )
    return results


@transaction.atomic
def checkin_unmark(*, lecture: Lecture, venue: Venue, user_id: int, by: User) -> bool:
    """Staff take back a check-in at their venue (a mistaken tick): clear the check-in,
    recompute ``completed`` from the online seconds alone, audit it. False if the cadre was
    not checked in at this venue."""
    rule = completion_rules(lecture_ids=[lecture.pk])[lecture.pk]
    t = Attendance._meta.db_table
    done = completed_sql(seconds="live_seconds + replay_seconds")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {t} SET checked_in_at = NULL, venue_id = NULL, "  # noqa: S608
            f"completed = {done}, credit_hours_earned = CASE WHEN {done} THEN %s ELSE 0 END, "
            "updated_at = %s "
            "WHERE user_id = %s AND lecture_id = %s AND venue_id = %s "
            "AND checked_in_at IS NOT NULL RETURNING checked_in_at",
            [
                rule.threshold_seconds,
                rule.threshold_seconds,
                rule.credit_hours,
                timezone.now(),
                user_id,
                lecture.pk,
                venue.pk,
            ],
        )
        changed = cursor.fetchone() is not None
    if not changed:
        return False
    attendance_summaries_sync(lecture_id=lecture.pk, user_ids=[user_id])
    audit_log_write(
        user=by,
        action="checkin.unmark",
        target=f"lecture:{lecture.pk}",
        detail={"venue": venue.pk, "user": user_id},
    )
    return True


def attendance_venue_id(*, user_id: int, lecture_id: int) -> int | None:
    """The venue the cadre checked in to for this lecture, if any (in-hall questions)."""
    return (
        Attendance.objects.filter(
            user_id=user_id, lecture_id=lecture_id, checked_in_at__isnull=False
        )
        .values_list("venue_id", flat=True)
        .first()
    )
