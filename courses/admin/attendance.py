"""Attendance in the organiser admin: raw rows read-only, corrections as audited overrides.

Raw ``Attendance`` rows are written only by the heartbeat flush and the venue check-in
(``docs/attendance.md``); here nobody, not even a superuser, adds, edits or deletes one. A
correction is a new ``AttendanceOverride`` row (completed yes/no and a reason) made through
``courses.attendance.credit.attendance_override_create``, which also re-counts the report summaries
and writes the audit log; the newest correction decides the effective "completed".

Scope (non-superusers; MANAGE_PROGRAMMES, i.e. organisers). A row is in scope when

* the cadre's unit lies in one of the caller's subtrees (the cadre's organisation department
  answers for its cadres' study hours, as in the reports), **or**
* the lecture belongs to a programme whose organising unit lies in the caller's scope (the
  organiser answers for their lectures, as in the enrolment admin).

Viewing and correcting use the same scope. A row outside it is not listed, and opening it
(page, history, correction page) by URL gives 403 (404 if it does not exist). Party-school
staff (READ_REPORTS / CHECK_IN only) have no admin access at all, as everywhere in this admin.

1.5M rows: the list is ordered by the primary key (newest first, index scan + LIMIT), counts
only a few pages ahead of the one shown (``LookaheadPaginator``), never the whole table, joins
the displayed relations in the page query, and offers no column sorting. Filter choices come from
the small programme and lecture tables, never from a scan of attendance rows.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from courses.attendance.credit import attendance_override_create
from courses.models import Attendance, AttendanceOverride, Lecture, Programme
from courses.summaries.sync import completed_effective
from portal.admin import ReadOnlyAdminMixin, admin_user, request_scope
from portal.models import OrgUnit, mask_phone
from portal.scopes import Scope

PAGES_AHEAD = 4  # pages counted past the requested one
CORRECT_PERMISSION = "courses.add_attendanceoverride"
REASON_REQUIRED = _("Give a reason for the correction.")

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


def attendance_scope_q(scope: Scope, prefix: str = "") -> Q:
    """Attendance rows (``<prefix>`` leads to an ``Attendance``) inside ``scope``: the
    cadre's unit in scope, or the lecture's programme organised inside it."""
    if scope.everything:
        return Q()
    if scope.is_empty:
        return Q(pk__in=[])
    lectures = Lecture.objects.filter(scope.q("programme__organiser_unit__")).values("pk")
    return scope.q(f"{prefix}user__unit__") | Q(**{f"{prefix}lecture__in": lectures})


def _relevant_programmes(scope: Scope) -> QuerySet[Programme]:
    """Programmes whose attendance the caller may see rows of: organised in the scope, or
    with an audience unit above or inside it (a province programme for a city organiser)."""
    qs = Programme.objects.all()
    if scope.everything:
        return qs
    step = OrgUnit.steplen
    ancestors = {p[:n] for p in scope.paths for n in range(step, len(p) + 1, step)}
    audience = scope.q("audience__") | Q(audience__path__in=sorted(ancestors))
    organised = Programme.objects.filter(scope.q("organiser_unit__")).values("pk")
    inside = Programme.objects.filter(audience).values("pk")
    return qs.filter(Q(pk__in=organised) | Q(pk__in=inside))


class LookaheadPaginator(Paginator):
    """Counts only a few pages past the requested one (``PAGES_AHEAD``), never the whole
    (scoped, filtered) table: a county's rows are ~1% of a province's, and counting them all
    means reading the table. The page list then ends with "more than N"."""

    def __init__(self, *args: Any, current_page: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = (max(current_page, 1) + PAGES_AHEAD) * int(self.per_page)

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by().values("pk")[: self.limit + 1]  # type: ignore[attr-defined]
        return int(rows.count())


class LookaheadAdminMixin(_AdminBase):
    """A changelist that counts with ``LookaheadPaginator``."""

    show_full_result_count = False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        try:
            page = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            page = 1
        return LookaheadPaginator(
            queryset, per_page, orphans, allow_empty_first_page, current_page=page
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LookaheadChangeList


class LookaheadChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        limit = getattr(self.paginator, "limit", None)
        self.count_capped = limit is not None and self.result_count > limit
        self.count_cap = limit


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------
class ProgrammeFilter(admin.SimpleListFilter):
    title = _("programme")
    parameter_name = "programme"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        programmes = _relevant_programmes(request_scope(request)).order_by("-created_at")
        return [(str(p.pk), p.title) for p in programmes.only("pk", "title")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            lectures = Lecture.objects.filter(programme_id=int(value)).values("pk")
            return queryset.filter(lecture_id__in=lectures)
        return queryset


class LectureFilter(admin.SimpleListFilter):
    title = _("lecture")
    parameter_name = "lecture"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        lectures = Lecture.objects.filter(
            programme__in=_relevant_programmes(request_scope(request))
        )
        programme = request.GET.get(ProgrammeFilter.parameter_name, "")
        if programme.isdigit():
            lectures = lectures.filter(programme_id=int(programme))
        lectures = lectures.select_related("programme").order_by("-starts_at")
        return [(str(lec.pk), str(lec)) for lec in lectures[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(lecture_id=int(value))
        return queryset


class InPersonFilter(admin.SimpleListFilter):
    title = _("in person")
    parameter_name = "in_person"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return (("1", _("Yes")), ("0", _("No")))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("0", "1"):
            return queryset.filter(checked_in_at__isnull=self.value() == "0")
        return queryset


class CorrectedFilter(admin.SimpleListFilter):
    title = _("corrected")
    parameter_name = "corrected"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return (("1", _("Yes")), ("0", _("No")))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("0", "1"):
            corrected = AttendanceOverride.objects.values("attendance_id")
            if self.value() == "1":
                return queryset.filter(pk__in=corrected)
            return queryset.exclude(pk__in=corrected)
        return queryset


# ---------------------------------------------------------------------------
# The correction form and the read-only list of corrections
# ---------------------------------------------------------------------------
class AttendanceCorrectionForm(forms.Form):
    completed = forms.TypedChoiceField(
        label=_("Completed"),
        choices=((1, _("Yes: count as completed")), (0, _("No: count as not completed"))),
        coerce=lambda v: str(v) == "1",
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose whether the lecture counts as completed.")},
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("Required; kept with the correction and in the audit log."),
        error_messages={"required": REASON_REQUIRED},
        widget=forms.TextInput(attrs={"size": 60, "maxlength": 200}),
    )


class AttendanceOverrideInline(admin.TabularInline):
    """Corrections of one row, newest first; never added, changed or deleted here."""

    model = AttendanceOverride
    extra = 0
    can_delete = False
    fields = ("at", "completed", "reason", "by")
    readonly_fields = fields
    ordering = ("-at", "-pk")
    verbose_name_plural = _("corrections (newest decides)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AttendanceOverride]:
        return super().get_queryset(request).select_related("by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---------------------------------------------------------------------------
# Attendance
# ---------------------------------------------------------------------------
RAW_FIELDS = (
    "user",
    "lecture",
    "live_seconds",
    "replay_seconds",
    "first_seen_at",
    "last_seen_at",
    "venue",
    "checked_in_at",
    "completed",
    "credit_hours_earned",
    "updated_at",
)


@admin.register(Attendance)
class AttendanceAdmin(LookaheadAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "cadre",
        "phone",
        "unit",
        "lecture",
        "live_minutes",
        "replay_minutes",
        "venue",
        "checked_in_at",
        "completed",
        "effective_completed",
        "credit_hours",
    )
    list_display_links = ("cadre",)
    list_filter = (ProgrammeFilter, LectureFilter, "completed", InPersonFilter, CorrectedFilter)
    search_fields = ("user__full_name", "=user__username")
    list_select_related = ("user", "user__unit", "lecture", "lecture__programme", "venue")
    ordering = ("-pk",)
    sortable_by = ()
    readonly_fields = (*RAW_FIELDS, "effective_completed", "credit_hours")
    fieldsets = (
        (None, {"fields": ("user", "lecture")}),
        (
            _("Online"),
            {"fields": ("live_seconds", "replay_seconds", "first_seen_at", "last_seen_at")},
        ),
        (_("In person"), {"fields": ("venue", "checked_in_at")}),
        (
            _("Result"),
            {
                "fields": (
                    "completed",
                    "credit_hours_earned",
                    "effective_completed",
                    "credit_hours",
                    "updated_at",
                )
            },
        ),
    )
    inlines = (AttendanceOverrideInline,)

    # -- scope -----------------------------------------------------------------------
    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        if admin_user(request).is_superuser:
            return qs
        return qs.filter(attendance_scope_q(request_scope(request)))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attendance]:
        return (
            super()
            .get_queryset(request)
            .select_related("user", "user__unit", "lecture", "lecture__programme", "venue")
            .annotate(effective_=completed_effective())
        )

    # -- columns ---------------------------------------------------------------------
    @admin.display(description=_("cadre"))
    def cadre(self, obj: Attendance) -> str:
        return obj.user.full_name or obj.user.username

    @admin.display(description=_("mobile phone"))
    def phone(self, obj: Attendance) -> str:
        return mask_phone(obj.user.phone)

    @admin.display(description=_("unit"))
    def unit(self, obj: Attendance) -> str:
        return str(obj.user.unit or "")

    @admin.display(description=_("live minutes"))
    def live_minutes(self, obj: Attendance) -> int:
        return int(obj.live_seconds) // 60

    @admin.display(description=_("replay minutes"))
    def replay_minutes(self, obj: Attendance) -> int:
        return int(obj.replay_seconds) // 60

    @admin.display(description=_("effectively completed"), boolean=True)
    def effective_completed(self, obj: Attendance) -> bool:
        return bool(getattr(obj, "effective_", obj.completed))

    @admin.display(description=_("study hours"))
    def credit_hours(self, obj: Attendance) -> Decimal:
        return obj.lecture.credit_hours if self.effective_completed(obj) else Decimal("0")

    # -- corrections -----------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/correct/",
                self.admin_site.admin_view(self.correct_view),
                name="{}_{}_correct".format(*info),
            ),
            *super().get_urls(),
        ]

    def may_correct(self, request: HttpRequest, obj: Attendance) -> bool:
        return admin_user(request).has_perm(CORRECT_PERMISSION) and self.has_view_permission(
            request, obj
        )

    def _row_for_correction(self, request: HttpRequest, object_id: str) -> Attendance:
        self.guard_object(request, object_id)  # 403 outside the scope, 404 unknown
        obj = self.get_object(request, object_id)
        if obj is None or not self.may_correct(request, obj):
            raise PermissionDenied
        return obj

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None:
            context.setdefault("subtitle", _row_title(obj))
        if obj is not None and self.may_correct(request, obj):
            context["correction_form"] = AttendanceCorrectionForm()
            context["correct_url"] = reverse("admin:courses_attendance_correct", args=[obj.pk])
        return super().change_view(request, object_id, form_url, context)

    def correct_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._row_for_correction(request, object_id)
        if request.method == "POST":
            form = AttendanceCorrectionForm(request.POST)
            if form.is_valid():
                try:
                    attendance_override_create(
                        attendance=obj,
                        completed=form.cleaned_data["completed"],
                        reason=form.cleaned_data["reason"],
                        by=admin_user(request),
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.message_user(
                        request,
                        gettext("The correction is saved; reports count it from now on."),
                        messages.SUCCESS,
                    )
                    return redirect(reverse("admin:courses_attendance_change", args=[obj.pk]))
        else:
            form = AttendanceCorrectionForm()
        return TemplateResponse(
            request,
            "admin/courses/attendance/correct.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "media": self.media + form.media,
                "form": form,
                "title": gettext("Correct the attendance"),
                "row_title": _row_title(obj),
                "form_id": "attendance_correct_form",
                "submit_label": gettext("Save the correction"),
                "effective": self.effective_completed(obj),
                "overrides": obj.overrides.select_related("by").order_by("-at", "-pk"),
            },
        )


def _row_title(obj: Attendance) -> str:
    return f"{obj.user.full_name or obj.user.username} · {obj.lecture}"


@admin.register(AttendanceOverride)
class AttendanceOverrideAdmin(LookaheadAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every correction in scope, newest first (read-only; add one from the attendance page)."""

    list_display = ("at", "cadre", "lecture", "completed", "reason", "by")
    list_select_related = ("attendance__user", "attendance__lecture__programme", "by")
    search_fields = ("attendance__user__full_name", "=attendance__user__username", "reason")
    list_filter = ("completed",)
    ordering = ("-at", "-pk")
    sortable_by = ()
    readonly_fields = ("attendance", "completed", "reason", "by", "at")

    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        if admin_user(request).is_superuser:
            return qs
        return qs.filter(attendance_scope_q(request_scope(request), prefix="attendance__"))

    @admin.display(description=_("cadre"))
    def cadre(self, obj: AttendanceOverride) -> str:
        user = obj.attendance.user
        return user.full_name or user.username

    @admin.display(description=_("lecture"))
    def lecture(self, obj: AttendanceOverride) -> str:
        return str(obj.attendance.lecture)
