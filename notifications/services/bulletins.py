"""通报 after every lecture (docs/reports.md): scheduled sending of the supervision ranking.

How it travels::

    beat every minute ── notifications.ranking_tick ──▶ ranking_dispatch_due():
        for each active RankingSubscription, the programme's lectures that ended at least
        REPORT_RANKING_DELAY_MINUTES ago (and not before the subscription was made, less
        that delay) without a RankingDispatch yet:
            one transaction: INSERT RankingDispatch (unique per subscription and lecture:
            whoever inserts it sends; a re-run or a second beat finds it and sends nothing)
            + the ranking text (courses.reports.ranking, from the summaries)
            + a Reminder of kind ``ranking``, due now
    notifications.tick ──▶ claims the reminder like any other ─▶ reminder_plan(): the
        audience is ``ranking_audience_user_ids`` ─▶ the outbox (inbox for everyone, plus
        each user's first reachable push channel), dispatch, retries, receipts, sweeper.

Recipients: the leaders of every ranked unit, i.e. the users holding a role that can read
reports (organiser or party-school staff, ``portal.Role``) *at* that unit, plus the
organiser who subscribed. The ranked units are those of ``level`` inside the subscription's
``unit`` (or the organiser's whole report scope), computed when the dispatch is made.
Everyone receives the same bulletin, as a 通报 is one document: the whole ranking in the
inbox, a short pointer on the push channels (SMS shows ``programme``/``title``/``link``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from courses.models import Lecture
from courses.reports.ranking import RankBy, Ranking, ranking_build, ranking_units, started_lectures
from notifications.models import RankingDispatch, RankingSubscription, Reminder, ReminderKind
from portal.models import OrgUnit, Role, User
from portal.scopes import Capability, Scope, scope_for

logger = logging.getLogger(__name__)

READ_REPORT_ROLES: tuple[str, ...] = (Role.Kind.ORGANISER, Role.Kind.SCHOOL)
# The inbox text lists every unit up to this many; beyond, the first and last ten.
SUMMARY_ALL_UNITS = 30
SUMMARY_HEAD = 10


def _delay() -> timedelta:
    return timedelta(minutes=settings.REPORT_RANKING_DELAY_MINUTES)


def subscription_scope(*, subscription: RankingSubscription) -> Scope:
    """Where the subscription ranks: its unit, or the organiser's report scope (now)."""
    user = subscription.created_by
    if user is None or not user.is_active:
        return Scope(everything=False, paths=())
    scope = scope_for(user=user, capability=Capability.READ_REPORTS)
    unit = subscription.unit
    if unit is None:
        return scope
    if not scope.contains(unit):
        return Scope(everything=False, paths=())  # the organiser lost that area
    return Scope(everything=False, paths=(unit.path,))


def ranking_link(*, subscription: RankingSubscription) -> str:
    query: dict[str, Any] = {
        "programme": subscription.programme_id,
        "level": subscription.level,
        "sort": subscription.rank_by,
    }
    if subscription.unit is not None:
        query["unit"] = subscription.unit.code or f"pk:{subscription.unit_id}"
    return f"{settings.SITE_URL.rstrip('/')}{reverse('courses:ranking')}?{urlencode(query)}"


def _percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def ranking_summary_text(*, ranking: Ranking, lecture: Lecture) -> str:
    """The bulletin's text: one line (message texts are whitespace-collapsed)."""
    level = str(OrgUnit.Kind(ranking.level).label)
    by = _("attendance rate") if ranking.rank_by == RankBy.ATTENDANCE else _("completion rate")
    head = _(
        "%(count)d %(level)s units ranked by %(by)s over lectures 1–%(n)s "
        "(rates: attended or completed ÷ enrolled)."
    ) % {"count": len(ranking.rows), "level": level, "by": by, "n": lecture.sequence}
    rows = ranking.rows
    shown = rows if len(rows) <= SUMMARY_ALL_UNITS else rows[:SUMMARY_HEAD] + rows[-SUMMARY_HEAD:]
    parts: list[str] = []
    for i, row in enumerate(shown):
        if len(rows) > SUMMARY_ALL_UNITS and i == SUMMARY_HEAD:
            parts.append("……")
        rank = _("No. %(rank)s") % {"rank": row.rank} if row.rank is not None else "—"
        this = row.points[-1] if row.points else None
        parts.append(
            _(
                "%(rank)s %(unit)s: attendance %(att)s, completion %(done)s "
                "(this lecture %(att_now)s / %(done_now)s)"
            )
            % {
                "rank": rank,
                "unit": row.name,
                "att": _percent(row.attendance_rate),
                "done": _percent(row.completion_rate),
                "att_now": _percent(this.attendance_rate if this else None),
                "done_now": _percent(this.completion_rate if this else None),
            }
        )
    total = _("Overall: attendance %(att)s, completion %(done)s.") % {
        "att": _percent(ranking.total.attendance_rate),
        "done": _percent(ranking.total.completion_rate),
    }
    return f"{head} {'；'.join(parts)}。{total}"


@dataclass
class DispatchResult:
    dispatch_id: int
    reminder_id: int | None
    units: int


def ranking_dispatch_create(
    *, subscription: RankingSubscription, lecture: Lecture, now: datetime | None = None
) -> DispatchResult | None:
    """Make the dispatch of ``subscription`` for ``lecture`` (and its reminder), once.

    Returns ``None`` when it already exists: whoever inserted the unique row sends."""
    now = now or timezone.now()
    with transaction.atomic():
        dispatch, created = RankingDispatch.objects.get_or_create(
            subscription=subscription, lecture=lecture, defaults={"created_at": now}
        )
        if not created:
            return None
        scope = subscription_scope(subscription=subscription)
        units = [] if scope.is_empty else list(ranking_units(scope=scope, level=subscription.level))
        lectures = [
            lec
            for lec in started_lectures(programme=subscription.programme)
            if lec.sequence <= lecture.sequence
        ]
        if lecture not in lectures:
            lectures.append(lecture)
        with translation.override(settings.LANGUAGE_CODE):
            ranking = ranking_build(
                programme=subscription.programme,
                level=subscription.level,
                units=units,
                rank_by=RankBy(subscription.rank_by),
                lectures=lectures,
            )
            summary = ranking_summary_text(ranking=ranking, lecture=lecture)
        dispatch.units = len(units)
        dispatch.summary = summary
        dispatch.payload = {
            "level": subscription.level,
            "paths": list(scope.paths) if not scope.everything else [""],
            "link": ranking_link(subscription=subscription),
            "rows": [
                {
                    "unit": row.unit_id,
                    "rank": row.rank,
                    "attendance_rate": None
                    if row.attendance_rate is None
                    else str(row.attendance_rate),
                    "completion_rate": None
                    if row.completion_rate is None
                    else str(row.completion_rate),
                }
                for row in ranking.rows
            ],
        }
        if units:
            dispatch.reminder = Reminder.objects.create(
                lecture=lecture,
                kind=ReminderKind.RANKING,
                due_at=now,
                created_by=subscription.created_by,
            )
        dispatch.save(update_fields=["units", "summary", "payload", "reminder"])
    logger.info(
        "ranking dispatch %s: subscription %s, lecture %s, %s units",
        dispatch.pk,
        subscription.pk,
        lecture.pk,
        len(units),
    )
    return DispatchResult(dispatch.pk, dispatch.reminder_id, len(units))


def ranking_lectures_due(
    *, subscription: RankingSubscription, now: datetime | None = None
) -> QuerySet[Lecture]:
    """Lectures of the programme ended ≥ the delay ago, after the subscription was made
    (less the delay), still without a dispatch of this subscription."""
    now = now or timezone.now()
    delay = _delay()
    done = RankingDispatch.objects.filter(subscription=subscription, lecture=OuterRef("pk"))
    return (
        Lecture.objects.filter(
            programme_id=subscription.programme_id,
            ends_at__lte=now - delay,
            ends_at__gte=subscription.created_at - delay,
        )
        .exclude(status_override=Lecture.Status.LIVE)
        .exclude(Exists(done))
        .order_by("ends_at")
    )


def ranking_dispatch_due(*, now: datetime | None = None) -> list[DispatchResult]:
    """Beat, every minute: make every dispatch that is due (idempotent)."""
    now = now or timezone.now()
    results: list[DispatchResult] = []
    subscriptions = RankingSubscription.objects.filter(active=True).select_related(
        "programme", "unit", "created_by"
    )
    for subscription in subscriptions:
        for lecture in ranking_lectures_due(subscription=subscription, now=now):
            result = ranking_dispatch_create(subscription=subscription, lecture=lecture, now=now)
            if result is not None:
                results.append(result)
    return results


# ---------------------------------------------------------------------------------------
# Hooks used by the outbox for reminders of kind ``ranking``
# ---------------------------------------------------------------------------------------


def _dispatch_of(reminder: Reminder) -> RankingDispatch | None:
    return RankingDispatch.objects.select_related("subscription").filter(reminder=reminder).first()


def ranking_audience_user_ids(*, reminder: Reminder) -> QuerySet[User, int]:
    """The leaders of the ranked units (a report-reading role at the unit itself) and the
    organiser who subscribed; nobody for a ranking reminder without a dispatch."""
    dispatch = _dispatch_of(reminder)
    if dispatch is None:
        return User.objects.none().values_list("id", flat=True)
    level = dispatch.payload.get("level", dispatch.subscription.level)
    paths = [str(p) for p in dispatch.payload.get("paths", [])]
    within = Q()
    for path in paths:
        within |= Q(unit__path__startswith=path)
    leaders = Role.objects.filter(within, kind__in=READ_REPORT_ROLES, unit__kind=level)
    if not paths:
        leaders = leaders.none()
    who = Q(id__in=leaders.values("user_id"))
    if dispatch.subscription.created_by_id is not None:
        who |= Q(id=dispatch.subscription.created_by_id)
    return User.objects.filter(who, is_active=True).values_list("id", flat=True)


def ranking_message_context(*, reminder: Reminder) -> dict[str, str]:
    """Placeholders of a ranking reminder: ``note`` is the bulletin, ``link`` the page."""
    dispatch = _dispatch_of(reminder)
    if dispatch is None:
        return {}
    return {"note": dispatch.summary, "link": str(dispatch.payload.get("link", ""))}
