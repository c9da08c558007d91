"""The study-group form of the site (party-school staff and organisers without the admin)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import Programme
from courses.selectors import programme_list_published
from portal.models import OrgUnit, User
from portal.scopes import Capability, scope_for

UNIT_CHOICES_MAX = 500
UNIT_DEPTH_BELOW_ROOT = 2  # a county's staff: the county, its townships and villages


class GroupCreateForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    description = forms.CharField(label=_("description"), max_length=300, required=False)
    unit = forms.ModelChoiceField(label=_("unit"), queryset=OrgUnit.objects.none())
    programme = forms.ModelChoiceField(label=_("programme"), queryset=Programme.objects.none())
    members_from_unit = forms.BooleanField(
        label=_("Add every cadre of the unit"), required=False, initial=True
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scope = scope_for(user=user, capability=Capability.MANAGE_GROUPS)
        units = OrgUnit.objects.filter(scope.q()).order_by("path")
        if not scope.everything:
            depth = min((len(p) for p in scope.paths), default=0) // OrgUnit.steplen
            units = units.filter(depth__lte=depth + UNIT_DEPTH_BELOW_ROOT)
        unit_field = self.fields["unit"]
        programme_field = self.fields["programme"]
        assert isinstance(unit_field, forms.ModelChoiceField)  # noqa: S101
        assert isinstance(programme_field, forms.ModelChoiceField)  # noqa: S101
        # a plain queryset (a sliced one cannot validate a choice): the first units by path
        ids = list(units.values_list("pk", flat=True)[:UNIT_CHOICES_MAX])
        unit_field.queryset = OrgUnit.objects.filter(pk__in=ids).order_by("path")
        programme_field.queryset = programme_list_published().order_by("-created_at")
