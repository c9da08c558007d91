"""The mainland mobile number as cadres type it: 11 digits, optionally +86 and spaces."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import phone_normalise, phone_validator


class MainlandPhoneField(forms.CharField):
    default_error_messages = {
        "invalid": _("Enter a valid 11-digit mainland mobile number."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "numeric"}),
        )
        super().__init__(**kwargs)
        self.validators.append(phone_validator)

    def to_python(self, value: Any) -> str:
        return phone_normalise(str(super().to_python(value)))
