"""Forms of the organiser admin's intermediate pages and inline formsets."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.admin.sites import AdminSite
from django.contrib.admin.widgets import AdminSplitDateTime, AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from courses.models import (
    Lecture,
    Programme,
    StudyHourRule,
    Venue,
    default_study_hour_bands,
    validate_stream_url,
)
from courses.selectors import programme_audience_covers, user_list_in_unit_subtree
from courses.services import WeeklySeries
from portal.models import OrgUnit
from portal.scopes import Scope

MAX_CHARS_ATTRS = {"data-max-chars": str(settings.LECTURE_DESCRIPTION_MAX_CHARS)}


class LabelledSplitDateTime(AdminSplitDateTime):
    """The admin's date + time inputs, each with an accessible name (Django leaves both
    unlabelled, which axe-core reports as critical)."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(name, value, attrs)
        for sub, label in zip(
            context["widget"]["subwidgets"], (gettext("Date"), gettext("Time")), strict=False
        ):
            sub["attrs"]["aria-label"] = label
        return context


class WeeklySeriesForm(forms.Form):
    """N lectures every 7 days from a date and time (the admin's weekly-series page)."""

    first_starts_at = forms.SplitDateTimeField(
        label=_("First lecture starts at"), widget=LabelledSplitDateTime
    )
    count = forms.IntegerField(label=_("Number of lectures"), min_value=1, max_value=52, initial=10)
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=1, max_value=24 * 60, initial=90
    )
    title_template = forms.CharField(
        label=_("Title template"),
        max_length=200,
        initial=_("Lecture {n}"),
        help_text=_("{n} is replaced by the lecture number."),
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=Lecture.Category.choices, initial=Lecture.Category.GENERAL
    )
    credit_hours = forms.DecimalField(
        label=_("Study-hour credit per lecture"),
        max_digits=4,
        decimal_places=1,
        min_value=Decimal("0"),
        initial=Decimal("2.0"),
    )
    stream_url = forms.CharField(
        label=_("Live stream URL (HLS)"),
        max_length=500,
        required=False,
        validators=[validate_stream_url],
        widget=forms.TextInput(attrs={"class": "vURLField"}),
    )

    def clean_title_template(self) -> str:
        template: str = self.cleaned_data["title_template"]
        try:
            template.format(n=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValidationError(
                gettext("The title template may only use {n} for the lecture number."),
                code="template",
            ) from exc
        return template

    def series(self) -> WeeklySeries:
        data = self.cleaned_data
        return WeeklySeries(
            first_starts_at=data["first_starts_at"],
            count=data["count"],
            duration_minutes=data["duration_minutes"],
            title_template=data["title_template"],
            category=data["category"],
            credit_hours=data["credit_hours"],
            stream_url=data["stream_url"],
        )


class CohortAssignForm(forms.Form):
    """Enrol every active user of a unit's subtree, optionally at one of the venues."""

    unit = forms.ModelChoiceField(
        label=_("Unit"),
        queryset=OrgUnit.objects.none(),
        help_text=_("All active users of this unit and the units below it are enrolled."),
        error_messages={"invalid_choice": _("This unit does not exist or is outside your area.")},
    )
    venue = forms.ModelChoiceField(
        label=_("Venue"),
        queryset=Venue.objects.none(),
        required=False,
        help_text=_("Optional: where the cohort watches together (a venue of this programme)."),
        error_messages={"invalid_choice": _("The venue is not one of this programme's venues.")},
    )

    def __init__(
        self,
        *args: Any,
        programme: Programme,
        scope: Scope,
        admin_site: AdminSite,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.programme = programme
        unit_field = cast(forms.ModelChoiceField, self.fields["unit"])
        unit_field.widget = AutocompleteSelect(
            Programme._meta.get_field("organiser_unit"), admin_site
        )
        unit_field.queryset = OrgUnit.objects.filter(scope.q())  # after the widget: choices
        venue_field = cast(forms.ModelChoiceField, self.fields["venue"])
        venue_field.queryset = (
            Venue.objects.filter(lectures__programme=programme)
            .filter(scope.q("unit__"))
            .distinct()
            .order_by("name")
        )

    def clean_unit(self) -> OrgUnit:
        unit: OrgUnit = self.cleaned_data["unit"]
        if not programme_audience_covers(programme=self.programme, unit=unit):
            raise ValidationError(
                gettext("This unit is not in the programme's audience."), code="audience"
            )
        return unit

    def cohort(self) -> QuerySet[Any]:
        return user_list_in_unit_subtree(unit=self.cleaned_data["unit"]).only("pk")


class LectureInlineFormSet(BaseInlineFormSet):
    """Inline lectures are checked together: two rows of one save may not overlap."""

    def _construct_form(self, i: int, **kwargs: Any) -> Any:
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        # The rows of this save are checked against each other in ``clean`` below, so the
        # model's own check must not compare them with their old, stored times.
        if not hasattr(self, "_row_pks"):
            self._row_pks = frozenset(obj.pk for obj in self.get_queryset() if obj.pk)
        form.instance.overlap_checked_elsewhere = self._row_pks
        return form

    def add_fields(self, form: Any, index: Any) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs["aria-label"] = gettext("Delete")

    def clean(self) -> None:
        super().clean()
        rows: list[tuple[datetime, datetime, Any, forms.BaseForm]] = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or (self.can_delete and data.get("DELETE")):
                continue
            starts_at = data.get("starts_at")
            minutes = data.get("duration_minutes")
            if starts_at is None or not minutes or minutes < 1:
                continue
            rows.append((starts_at, starts_at + timedelta(minutes=minutes), data, form))
        rows.sort(key=lambda row: row[0])
        clashes = 0
        for i, (_start_a, end_a, data_a, _form_a) in enumerate(rows):
            for start_b, _end_b, _data_b, form_b in rows[i + 1 :]:
                if start_b >= end_a:
                    break
                clashes += 1
                form_b.add_error(
                    "starts_at",
                    gettext("This time overlaps lecture %(seq)s “%(title)s” of the programme.")
                    % {"seq": data_a.get("sequence", "?"), "title": data_a.get("title", "")},
                )
        if clashes:
            raise ValidationError(
                gettext("Some lectures overlap each other; see the marked rows."),
                code="overlap",
            )


BAND_LINE = re.compile(r"^\s*(\d+)\s*[=＝:：]\s*(\d+(?:\.\d+)?)\s*$")


class StudyHourRuleForm(forms.ModelForm):
    """The rule with its minute bands as lines "minutes = study hours" (organisers type
    them; the model keeps them as a list)."""

    bands_text = forms.CharField(
        label=_("Minute bands"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 24}),
        help_text=_(
            "One band a line: the lecture's length in minutes (at least) = the study hours it "
            "earns, e.g. “30 = 1”, “15 = 0.5”, “0 = 0.25”. Used when lectures earn study "
            "hours by their length."
        ),
    )

    class Meta:
        model = StudyHourRule
        fields = ("basis", "cap_hours", "test_bonus_hours", "certificate_min_lectures")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bands = self.instance.bands if self.instance.pk else default_study_hour_bands()
        self.fields["bands_text"].initial = "\n".join(f"{m} = {h}" for m, h in bands)

    def clean_bands_text(self) -> list[list[Any]]:
        bands: list[list[Any]] = []
        for number, line in enumerate(self.cleaned_data["bands_text"].splitlines(), start=1):
            if not line.strip():
                continue
            match = BAND_LINE.match(line)
            if match is None:
                raise forms.ValidationError(
                    _("Line %(n)s is not “minutes = study hours”.") % {"n": number}
                )
            if Decimal(match[2]) > 99 or any(b[0] == int(match[1]) for b in bands):
                raise forms.ValidationError(
                    _("Line %(n)s: each length once, at most 99 study hours.") % {"n": number}
                )
            bands.append([int(match[1]), match[2]])
        if not bands:
            raise forms.ValidationError(_("Give at least one band."))
        return sorted(bands, key=lambda band: -int(band[0]))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "bands_text" in data:  # the model's own clean (after this) validates them
            self.instance.bands = data["bands_text"]
        return data
