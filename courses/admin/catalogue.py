"""Organiser admin: programmes with inline lectures, lectures, speakers, venues, enrolments.

Scope: a staff user who is not a superuser sees and edits only programmes whose organising
unit lies in their MANAGE_PROGRAMMES scope (``courses.selectors.programme_list_managed``);
lectures and enrolments follow their programme, venues their unit. Unit, programme, venue
and user choices are limited the same way, so a row outside the scope can neither be opened
(403) nor chosen (a form error).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from courses.admin.forms import (
    MAX_CHARS_ATTRS,
    CohortAssignForm,
    LabelledSplitDateTime,
    LectureInlineFormSet,
    StudyHourRuleForm,
    WeeklySeriesForm,
)
from courses.attendance.rules import study_hour_rule_apply
from courses.exceptions import EnrolmentError, ScheduleError
from courses.models import Enrolment, Lecture, Programme, Speaker, StudyHourRule, Venue
from courses.selectors import lecture_status_q, programme_list_managed
from courses.services import enrolment_assign_bulk, lecture_schedule_weekly_series
from courses.summaries.sync import enrolment_summaries_forget, enrolment_summaries_sync
from portal.admin import (
    OUT_OF_SCOPE_CHOICE,
    ScopedAdminMixin,
    admin_user,
    request_scope,
)
from portal.services import audit_log_write

OUT_OF_SCOPE_PROGRAMME = _("This programme does not exist or is outside your area.")
OUT_OF_SCOPE_VENUE = _("This venue does not exist or is outside your area.")
OUT_OF_SCOPE_USER = _("This user does not exist or is outside your area.")
TEXT_FIELDS = ("description", "summary", "bio")


def _restrict(field: forms.Field | None, queryset: QuerySet[Any], message: Any) -> None:
    if not isinstance(field, forms.ModelChoiceField):
        return
    field.queryset = queryset
    field.error_messages["invalid_choice"] = message
    field.error_messages["invalid_pk_value"] = message


DATETIME_OVERRIDES: dict[Any, dict[str, Any]] = {
    models.DateTimeField: {"widget": LabelledSplitDateTime}
}


class CoursesAdminMixin(ScopedAdminMixin):
    """Scope-limited choices for every FK / M2M of the courses models."""

    formfield_overrides = DATETIME_OVERRIDES

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in TEXT_FIELDS and field is not None:
            field.widget.attrs.update(MAX_CHARS_ATTRS)
        return field

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        limit_choices(db_field.name, field, request)
        return field

    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField | None:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        limit_choices(db_field.name, field, request)
        return field


def limit_choices(name: str, field: forms.Field | None, request: HttpRequest) -> None:
    """Limit the choices of a courses FK / M2M to the caller's scope."""
    user = admin_user(request)
    if not isinstance(field, forms.ModelChoiceField) or user.is_superuser:
        return
    base = field.queryset
    if base is None:
        return
    scope = request_scope(request)
    if name in ("organiser_unit", "audience", "unit"):
        _restrict(field, base.filter(scope.q()), OUT_OF_SCOPE_CHOICE)
    elif name == "programme":
        _restrict(field, programme_list_managed(user=user), OUT_OF_SCOPE_PROGRAMME)
    elif name in ("venue", "venues"):
        _restrict(field, base.filter(scope.q("unit__")), OUT_OF_SCOPE_VENUE)
    elif name in ("user", "moderators"):
        _restrict(
            field,
            base.filter(scope.q("unit__"), is_superuser=False),
            OUT_OF_SCOPE_USER,
        )


# ---------------------------------------------------------------------------
# Programmes with inline lectures
# ---------------------------------------------------------------------------
class LectureInline(admin.TabularInline):
    model = Lecture
    formset = LectureInlineFormSet
    extra = 0
    ordering = ("sequence",)
    show_change_link = True
    fields = (
        "sequence",
        "title",
        "category",
        "starts_at",
        "duration_minutes",
        "speakers",
        "stream_url",
        "replay_url",
        "credit_hours",
        "status_override",
    )
    autocomplete_fields = ("speakers",)
    formfield_overrides = DATETIME_OVERRIDES

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and not isinstance(field.widget, LabelledSplitDateTime):
            # A table row has column headings but no <label>s: name each input.
            field.widget.attrs.setdefault("aria-label", capfirst(str(db_field.verbose_name)))
        return field


class StudyHourRuleInline(admin.StackedInline):
    """The programme's 学时 rule, on the programme's page (saving applies it: audited)."""

    model = StudyHourRule
    form = StudyHourRuleForm
    extra = 1
    max_num = 1
    verbose_name = _("study-hour rule")
    verbose_name_plural = _("study-hour rule")
    fields = ("basis", "bands_text", "cap_hours", "test_bonus_hours", "certificate_min_lectures")


@admin.register(Programme)
class ProgrammeAdmin(CoursesAdminMixin, admin.ModelAdmin):
    scope_prefix = "organiser_unit__"
    list_display = (
        "title",
        "organiser_unit",
        "enrolment_mode",
        "is_published",
        "lecture_count",
        "created_at",
    )
    list_filter = (
        "enrolment_mode",
        "is_published",
        "replays_count",
        ("organiser_unit", RelatedOnlyFieldListFilter),
    )
    search_fields = ("title", "organiser_unit__name")
    autocomplete_fields = ("organiser_unit", "audience")
    date_hierarchy = "created_at"
    inlines = (StudyHourRuleInline, LectureInline)
    actions = ("schedule_weekly_series", "assign_cohort")
    fieldsets = (
        (None, {"fields": ("title", "description", "organiser_unit", "audience")}),
        (_("Enrolment"), {"fields": ("enrolment_mode", "replays_count", "is_published")}),
        (_("Attendance"), {"fields": ("attention_check_minutes",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Programme]:
        qs = programme_list_managed(user=admin_user(request)).annotate(
            lecture_total=Count("lectures")
        )
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """A new programme starts at the organiser's own unit (the root of their scope)."""
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        scope = request_scope(request)
        if not scope.everything and len(scope.paths) == 1:
            root = scope.roots()[0]
            initial.setdefault("organiser_unit", root.pk)
            initial.setdefault("audience", [root.pk])
        return initial

    @admin.display(description=_("Number of lectures"), ordering="lecture_total")
    def lecture_count(self, obj: Programme) -> int:
        return int(getattr(obj, "lecture_total", 0))

    def save_model(self, request: HttpRequest, obj: Programme, form: Any, change: bool) -> None:
        # The form already refuses units outside the scope; this is the last line of defence.
        if not request_scope(request).contains(obj.organiser_unit):
            raise PermissionDenied(gettext("This unit is outside your area."))
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # the rule, the replay setting or a lecture may have changed: credit follows
        applied = study_hour_rule_apply(programme=form.instance, by=admin_user(request))
        if applied.lectures_changed or applied.rows_changed:
            self.message_user(
                request,
                gettext(
                    "Study hours recomputed under the programme's rule: %(lectures)s lectures, "
                    "%(rows)s attendance records changed."
                )
                % {"lectures": len(applied.lectures_changed), "rows": applied.rows_changed},
                messages.INFO,
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is not Lecture:
            return
        user = admin_user(request)
        for lecture in formset.new_objects:
            audit_log_write(user=user, action="courses.lecture.add", target=lecture)
        for lecture, fields in formset.changed_objects:
            audit_log_write(
                user=user,
                action="courses.lecture.change",
                target=lecture,
                detail={"fields": list(fields)},
            )
        for lecture in formset.deleted_objects:
            audit_log_write(
                user=user,
                action="courses.lecture.delete",
                target=f"courses.lecture:{lecture.pk}",
                detail={"repr": str(lecture)[:200]},
            )

    # -- intermediate pages ------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        extra = [
            path(
                "<path:object_id>/schedule-series/",
                self.admin_site.admin_view(self.schedule_series_view),
                name="{}_{}_schedule_series".format(*info),
            ),
            path(
                "<path:object_id>/assign-cohort/",
                self.admin_site.admin_view(self.assign_cohort_view),
                name="{}_{}_assign_cohort".format(*info),
            ),
        ]
        return extra + super().get_urls()

    def _programme_for_change(self, request: HttpRequest, object_id: str) -> Programme:
        """The programme if the caller may change it; 403 / 404 otherwise."""
        self.guard_object(request, object_id)
        programme = self.get_object(request, object_id)
        if programme is None or not self.has_change_permission(request, programme):
            raise PermissionDenied
        return programme

    def _page(
        self, request: HttpRequest, programme: Programme, template: str, context: dict[str, Any]
    ) -> TemplateResponse:
        form = context["form"]
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": programme,
                "media": self.media + form.media,
                "lectures": programme.lectures.order_by("sequence"),
                **context,
            },
        )

    def schedule_series_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        programme = self._programme_for_change(request, object_id)
        lecture_admin = self.admin_site.get_model_admin(Lecture)
        if not lecture_admin.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = WeeklySeriesForm(request.POST)
            if form.is_valid():
                try:
                    created = lecture_schedule_weekly_series(
                        programme=programme,
                        series=form.series(),
                        scheduled_by=admin_user(request),
                    )
                except ScheduleError as exc:
                    form.add_error(None, exc.message)
                else:
                    first, last = created[0], created[-1]
                    self.message_user(
                        request,
                        ngettext(
                            "Scheduled %(count)d weekly lecture: no. %(first)s on %(start)s.",
                            "Scheduled %(count)d weekly lectures: nos. %(first)s–%(last)s, "
                            "%(start)s to %(end)s.",
                            len(created),
                        )
                        % {
                            "count": len(created),
                            "first": first.sequence,
                            "last": last.sequence,
                            "start": _local(first),
                            "end": _local(last),
                        },
                        messages.SUCCESS,
                    )
                    return redirect(
                        reverse(
                            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                            args=[programme.pk],
                        )
                    )
        else:
            form = WeeklySeriesForm(initial=_series_initial(programme))
        return self._page(
            request,
            programme,
            "admin/courses/programme/schedule_series.html",
            {
                "form": form,
                "title": gettext("Schedule a weekly series"),
                "form_id": "schedule_series_form",
                "submit_label": gettext("Schedule"),
            },
        )

    def assign_cohort_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        programme = self._programme_for_change(request, object_id)
        enrolment_admin = self.admin_site.get_model_admin(Enrolment)
        if not enrolment_admin.has_add_permission(request):
            raise PermissionDenied
        form_kwargs = {
            "programme": programme,
            "scope": request_scope(request),
            "admin_site": self.admin_site,
        }
        if request.method == "POST":
            form = CohortAssignForm(request.POST, **form_kwargs)  # type: ignore[arg-type]
            if form.is_valid():
                cohort = form.cohort()
                if not cohort.exists():
                    form.add_error("unit", gettext("This unit has no active users."))
                else:
                    try:
                        count = enrolment_assign_bulk(
                            programme=programme,
                            users=cohort,
                            venue=form.cleaned_data["venue"],
                            assigned_by=admin_user(request),
                        )
                    except EnrolmentError as exc:
                        form.add_error("venue", exc.message)
                    else:
                        self.message_user(
                            request,
                            ngettext(
                                "%(count)d user of %(unit)s is now enrolled.",
                                "%(count)d users of %(unit)s are now enrolled.",
                                count,
                            )
                            % {"count": count, "unit": form.cleaned_data["unit"]},
                            messages.SUCCESS,
                        )
                        return redirect(
                            reverse("admin:courses_enrolment_changelist")
                            + f"?programme__id__exact={programme.pk}"
                        )
        else:
            form = CohortAssignForm(**form_kwargs)  # type: ignore[arg-type]
        return self._page(
            request,
            programme,
            "admin/courses/programme/assign_cohort.html",
            {
                "form": form,
                "title": gettext("Assign a cohort"),
                "form_id": "assign_cohort_form",
                "submit_label": gettext("Assign"),
            },
        )

    # -- actions -------------------------------------------------------------------------
    def _single(self, request: HttpRequest, queryset: QuerySet[Programme]) -> Programme | None:
        if queryset.count() != 1:
            self.message_user(
                request,
                gettext("Select exactly one programme for this action."),
                messages.WARNING,
            )
            return None
        return queryset.first()

    def _to_page_of_one(
        self, request: HttpRequest, queryset: QuerySet[Programme], url_name: str
    ) -> HttpResponse | None:
        """An action that opens a page about exactly one selected programme."""
        programme = self._single(request, queryset)
        if programme is None:
            return None
        return HttpResponseRedirect(reverse(url_name, args=[programme.pk]))

    @admin.action(description=_("Schedule a weekly series"), permissions=["change"])
    def schedule_weekly_series(
        self, request: HttpRequest, queryset: QuerySet[Programme]
    ) -> HttpResponse | None:
        return self._to_page_of_one(request, queryset, "admin:courses_programme_schedule_series")

    @admin.action(description=_("Assign a cohort (a unit's cadres)"), permissions=["change"])
    def assign_cohort(
        self, request: HttpRequest, queryset: QuerySet[Programme]
    ) -> HttpResponse | None:
        return self._to_page_of_one(request, queryset, "admin:courses_programme_assign_cohort")


def _local(lecture: Lecture) -> str:
    return str(formats.date_format(timezone.localtime(lecture.starts_at), "Y-m-d H:i"))


def _series_initial(programme: Programme) -> dict[str, Any]:
    """Suggest the week after the last lecture, at the same time."""
    last = programme.lectures.order_by("-starts_at").first()
    if last is None:
        return {}
    return {
        "first_starts_at": timezone.localtime(last.starts_at) + timedelta(days=7),
        "duration_minutes": last.duration_minutes,
        "category": last.category,
        "credit_hours": last.credit_hours,
    }


# ---------------------------------------------------------------------------
# Lectures
# ---------------------------------------------------------------------------
class LectureStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return Lecture.Status.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in Lecture.Status.values:
            return queryset.filter(lecture_status_q(value))
        return queryset


@admin.register(Lecture)
class LectureAdmin(CoursesAdminMixin, admin.ModelAdmin):
    scope_prefix = "programme__organiser_unit__"
    list_display = ("programme", "sequence", "title", "starts_at", "status_display", "category")
    list_display_links = ("sequence", "title")
    list_filter = (
        LectureStatusFilter,
        "category",
        ("programme", RelatedOnlyFieldListFilter),
    )
    search_fields = ("title", "programme__title", "speakers__name")
    autocomplete_fields = ("programme", "speakers", "venues", "moderators")
    date_hierarchy = "starts_at"
    list_select_related = ("programme",)
    ordering = ("starts_at",)
    fieldsets = (
        (None, {"fields": ("programme", "sequence", "title", "summary", "category", "speakers")}),
        (
            _("Time"),
            {"fields": ("starts_at", "duration_minutes", "status_override")},
        ),
        (
            _("Streaming and credit"),
            {"fields": ("stream_url", "replay_url", "credit_hours", "completion_ratio")},
        ),
        (_("Venues and moderators"), {"fields": ("venues", "moderators")}),
    )

    @admin.display(description=_("status"))
    def status_display(self, obj: Lecture) -> str:
        return obj.get_status_display_now()


# ---------------------------------------------------------------------------
# Speakers, venues
# ---------------------------------------------------------------------------
@admin.register(Speaker)
class SpeakerAdmin(admin.ModelAdmin):
    """A shared directory: everyone with access may list and add speakers; a speaker may be
    changed or deleted only by someone whose scope covers all the speaker's lectures."""

    list_display = ("name", "title", "organisation")
    search_fields = ("name", "organisation", "title")

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in TEXT_FIELDS and field is not None:
            field.widget.attrs.update(MAX_CHARS_ATTRS)
        return field

    def _covers(self, request: HttpRequest, obj: Speaker | None) -> bool:
        user = admin_user(request)
        if obj is None or user.is_superuser:
            return True
        outside = Lecture.objects.filter(speakers=obj).exclude(
            request_scope(request).q("programme__organiser_unit__")
        )
        return not outside.exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._covers(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._covers(request, obj)


@admin.register(Venue)
class VenueAdmin(CoursesAdminMixin, admin.ModelAdmin):
    scope_prefix = "unit__"
    list_display = ("name", "kind", "unit", "capacity")
    list_filter = ("kind",)
    search_fields = ("name", "address", "unit__name")
    autocomplete_fields = ("unit",)
    list_select_related = ("unit",)


# ---------------------------------------------------------------------------
# Enrolments
# ---------------------------------------------------------------------------
class EnrolmentAdminForm(forms.ModelForm):
    class Meta:
        model = Enrolment
        fields = ("user", "programme", "venue", "source", "status", "enrolled_at", "withdrawn_at")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        venue, programme = cleaned.get("venue"), cleaned.get("programme")
        if (
            venue is not None
            and programme is not None
            and not Venue.objects.filter(pk=venue.pk, lectures__programme=programme).exists()
        ):
            self.add_error("venue", gettext("The venue is not one of this programme's venues."))
        return cleaned


@admin.register(Enrolment)
class EnrolmentAdmin(CoursesAdminMixin, admin.ModelAdmin):
    form = EnrolmentAdminForm
    scope_prefix = "programme__organiser_unit__"
    list_display = ("user", "programme", "venue", "source", "status", "enrolled_at")
    list_filter = (
        "status",
        "source",
        ("programme", RelatedOnlyFieldListFilter),
        ("venue", RelatedOnlyFieldListFilter),
    )
    search_fields = ("user__username", "user__full_name", "programme__title")
    autocomplete_fields = ("user", "programme", "venue")
    date_hierarchy = "enrolled_at"
    list_select_related = ("user", "programme", "venue")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Moving an enrolment to another cadre or programme would bypass the report
        # summaries; withdraw it and enrol again instead.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "user", "programme") if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Enrolment, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            enrolment_summaries_sync(programme_id=obj.programme_id, user_ids=[obj.user_id])

    def delete_model(self, request: HttpRequest, obj: Enrolment) -> None:
        with transaction.atomic():
            enrolment_summaries_forget(enrolments=Enrolment.objects.filter(pk=obj.pk))
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Enrolment]) -> None:
        with transaction.atomic():
            enrolment_summaries_forget(enrolments=queryset)
            super().delete_queryset(request, queryset)
