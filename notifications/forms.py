"""The user's own notice settings (``notifications:preferences``)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from courses.models import Programme
from notifications.models import PUSH_CHANNELS, Channel

ORDER_FIELDS = ("choice_1", "choice_2", "choice_3", "choice_4")
ORDER_LABELS = (_("First choice"), _("Second choice"), _("Third choice"), _("Fourth choice"))


def _channel_choices() -> list[tuple[str, Any]]:
    labels = dict(Channel.choices)
    return [("", _("— none —")), *((c, labels[c]) for c in PUSH_CHANNELS)]


class NoticePreferenceForm(forms.Form):
    opted_out = forms.BooleanField(
        label=_("Send me no push notices (in-site inbox only)"), required=False
    )
    programmes = forms.ModelMultipleChoiceField(
        label=_("No push reminders for these programmes"),
        queryset=Programme.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, programmes: QuerySet[Programme], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelMultipleChoiceField, self.fields["programmes"])
        field.queryset = programmes
        for name, label in zip(ORDER_FIELDS, ORDER_LABELS, strict=True):
            self.fields[name] = forms.ChoiceField(
                label=label, choices=_channel_choices(), required=False
            )

    def order_fields_bound(self) -> list[forms.BoundField]:
        return [self[name] for name in ORDER_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        order = [cleaned.get(name) or "" for name in ORDER_FIELDS]
        chosen = [c for c in order if c]
        if len(set(chosen)) != len(chosen):
            raise forms.ValidationError(
                _("Each channel can be chosen only once."), code="channel_repeated"
            )
        cleaned["channel_order"] = chosen  # gaps are closed up
        return cleaned

    @staticmethod
    def initial_for(
        *, channel_order: str, opted_out: bool, programme_ids: set[int]
    ) -> dict[str, Any]:
        order = [c for c in channel_order.split(",") if c in PUSH_CHANNELS]
        initial: dict[str, Any] = {"opted_out": opted_out, "programmes": sorted(programme_ids)}
        for name, channel in zip(ORDER_FIELDS, order, strict=False):
            initial[name] = channel
        return initial
