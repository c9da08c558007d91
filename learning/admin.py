"""Organisers see the certificates of cadres in their area and revoke them (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from learning.models import Certificate
from learning.services import CertificateError, certificate_revoke
from learning.views import verify_url
from portal.admin import ScopedAdminMixin, admin_user


class RevokeForm(ActionForm):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=200, help_text=_("For revoking.")
    )


@admin.register(Certificate)
class CertificateAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "user__unit__"
    action_form = RevokeForm
    actions = ("revoke",)
    list_display = (
        "serial",
        "kind",
        "name",
        "unit_name",
        "year",
        "programme",
        "hours",
        "issued_at",
        "state",
    )
    list_filter = ("kind", "year", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("serial", "name", "user__username")
    date_hierarchy = "issued_at"
    readonly_fields = (
        "serial",
        "kind",
        "user",
        "year",
        "programme",
        "name",
        "unit_name",
        "unit_level",
        "issuer",
        "hours",
        "lectures",
        "issued_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
        "verify_link",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # issued from the study record only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the verify page must keep saying so

    @admin.display(description=_("State"))
    def state(self, obj: Certificate) -> str:
        return gettext("Revoked") if obj.is_revoked else gettext("Valid")

    @admin.display(description=_("Verify page"))
    def verify_link(self, obj: Certificate) -> str:
        url = verify_url(obj.serial)
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.action(description=_("Revoke the selected certificates"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Certificate]) -> None:
        reason = str(request.POST.get("reason", "")).strip()
        if not reason:
            self.message_user(request, gettext("Give a reason for revoking."), messages.ERROR)
            return
        done = 0
        for certificate in queryset:
            try:
                certificate_revoke(certificate=certificate, by=admin_user(request), reason=reason)
                done += 1
            except CertificateError:
                continue  # already revoked
        self.message_user(
            request,
            ngettext("%(n)s certificate revoked.", "%(n)s certificates revoked.", done)
            % {"n": done},
            messages.SUCCESS,
        )
