"""The portal's admin site: every model admin registered on it is audited.

``ZhixingAdminSite.register`` mixes :class:`AuditedAdminMixin` into each admin class —
ours, Django's (groups) and allauth's alike — so every add, change and deletion made in
the admin writes ``portal.AuditLog`` rows through the one write path, with the fields that
changed (old → new, personal data masked) and the client's address. No admin class
carries auditing code of its own. (The equivalent of django-auditlog, for the admin: the
changes made elsewhere are use cases that write their own entry.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal.http import request_address
from portal.models import User, mask_phone
from portal.services import audit_log_write, audit_log_write_many

if TYPE_CHECKING:
    _Base = admin.ModelAdmin[Any]
else:
    _Base = object

# Field names whose values never enter the audit log in clear.
_SECRET_PARTS = ("password", "secret", "token", "key")
_VALUE_MAX_CHARS = 200


def _shown(name: str, value: Any) -> Any:
    if any(part in name for part in _SECRET_PARTS):
        return "***"
    if "phone" in name:
        return mask_phone(str(value or ""))
    if isinstance(value, models.Model):
        return f"{value} (#{value.pk})"[:_VALUE_MAX_CHARS]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return [_shown(name, item) for item in list(value)[:50]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:_VALUE_MAX_CHARS]


def form_changes(form: Any) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields a bound admin form changed."""
    changes: dict[str, list[Any]] = {}
    for name in getattr(form, "changed_data", ()):
        field = form.fields.get(name)
        old = form.get_initial_for_field(field, name) if field is not None else None
        new = form.cleaned_data.get(name)
        if isinstance(old, list) and old and not isinstance(old[0], models.Model):
            # many-to-many initials are primary keys: show the objects the form resolved
            queryset = getattr(field, "queryset", None)
            if queryset is not None:
                old = list(queryset.filter(pk__in=old))
        changes[name] = [_shown(name, old), _shown(name, new)]
    return changes


class AuditedAdminMixin(_Base):
    """Write ``portal.AuditLog`` rows for every admin add / change / delete."""

    def _audit_actor(self, request: HttpRequest) -> User | None:
        user = request.user
        return user if isinstance(user, User) else None

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj._audit_changes = form_changes(form) if change else {}
        super().save_model(request, obj, form, change)

    def _audit(self, request: HttpRequest, obj: models.Model, verb: str, message: Any) -> None:
        detail: dict[str, Any] = {"repr": str(obj)[:_VALUE_MAX_CHARS], "message": message}
        if changes := getattr(obj, "_audit_changes", None):
            detail["changes"] = changes
        audit_log_write(
            user=self._audit_actor(request),
            action=f"{obj._meta.label_lower}.{verb}",
            target=obj,
            detail=detail,
            address=request_address(request),
        )

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "add", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "change", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        audit_log_write_many(
            user=self._audit_actor(request),
            entries=[
                (
                    f"{obj._meta.label_lower}.delete",
                    obj,
                    {"repr": str(obj)[:_VALUE_MAX_CHARS], "message": ""},
                )
                for obj in queryset
            ],
            address=request_address(request),
        )
        return super().log_deletions(request, queryset)


class ZhixingAdminSite(admin.AdminSite):
    site_header = _("Zhixing · cadre online training administration")
    site_title = _("Zhixing · cadre online training administration")
    index_title = _("Administration")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from portal.admin_login import RateLimitedAdminAuthenticationForm

        self.login_form = RateLimitedAdminAuthenticationForm  # rate limit + lockout

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdminMixin):
            admin_class = type(
                admin_class.__name__,
                (AuditedAdminMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)
