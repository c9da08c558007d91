"""Organiser admin for the portal app: users, the org tree, roles, the audit log.

Every admin here is limited to the caller's scope (``portal.scopes``): a staff user who is
not a superuser sees and edits only rows inside the subtrees where they manage programmes.
``ScopedAdminMixin`` is shared with ``courses/admin.py``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from treebeard.admin import TreeAdmin
from treebeard.forms import MoveNodeForm, movenodeform_factory

from portal.exports import export_audit_write, export_response
from portal.models import AuditLog, OrgUnit, Role, User, mask_phone
from portal.scopes import Capability, Scope, scope_for

if TYPE_CHECKING:
    _Base = admin.ModelAdmin[Any]
else:
    _Base = object


OUT_OF_SCOPE_CHOICE = _("This unit does not exist or is outside your area.")


def admin_user(request: HttpRequest) -> User:
    """The caller, typed. It may be anonymous (the login page): ``is_superuser`` is then
    False and every scope is empty."""
    return cast(User, request.user)


def request_scope(request: HttpRequest) -> Scope:
    """The caller's MANAGE_PROGRAMMES scope (superusers: everything)."""
    return scope_for(user=admin_user(request), capability=Capability.MANAGE_PROGRAMMES)


def units_in_scope(request: HttpRequest) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(request_scope(request).q()).order_by("path")


class ScopedAdminMixin(_Base):
    """Limit a ModelAdmin to the caller's MANAGE_PROGRAMMES scope.

    ``scope_prefix`` is the lookup from the model to an ``OrgUnit`` (``"unit__"``); the empty
    string means the model is ``OrgUnit`` itself. Objects outside the scope are not listed;
    opening one gives 403 (404 when it does not exist at all), never the admin's redirect.
    """

    scope_prefix: ClassVar[str] = "unit__"
    #: whose subtree counts (study groups: organisers and party-school staff)
    scope_capability: ClassVar[Capability] = Capability.MANAGE_PROGRAMMES

    def admin_scope(self, request: HttpRequest) -> Scope:
        return scope_for(user=admin_user(request), capability=self.scope_capability)

    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        if admin_user(request).is_superuser:
            return qs
        return qs.filter(self.admin_scope(request).q(self.scope_prefix))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scope_filter(request, super().get_queryset(request))

    def obj_in_scope(self, request: HttpRequest, obj: models.Model) -> bool:
        if admin_user(request).is_superuser or obj.pk is None:
            return True
        qs = self.scope_filter(request, type(obj)._default_manager.filter(pk=obj.pk))
        return qs.exists()

    def _scope_open(self, request: HttpRequest) -> bool:
        return admin_user(request).is_superuser or not self.admin_scope(request).is_empty

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) and self._scope_open(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            super().has_view_permission(request, obj)
            and self._scope_open(request)
            and (obj is None or self.obj_in_scope(request, obj))
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return super().has_add_permission(request, *args) and self._scope_open(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            super().has_change_permission(request, obj)
            and self._scope_open(request)
            and (obj is None or self.obj_in_scope(request, obj))
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            super().has_delete_permission(request, obj)
            and self._scope_open(request)
            and (obj is None or self.obj_in_scope(request, obj))
        )

    def guard_object(self, request: HttpRequest, object_id: str) -> None:
        """403 for a row outside the scope, 404 for no row: never show or redirect."""
        if self.get_object(request, unquote(object_id)) is not None:
            return
        try:
            pk = self.model._meta.pk.to_python(unquote(object_id))
            exists = self.model._default_manager.filter(pk=pk).exists()
        except (ValidationError, ValueError, TypeError):
            exists = False
        if exists:
            raise PermissionDenied(gettext("This record belongs to a unit outside your area."))
        raise Http404(gettext("No such record."))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self.guard_object(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.guard_object(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.guard_object(request, object_id)
        return super().history_view(request, object_id, extra_context)

    #: Foreign keys to OrgUnit whose choices are limited to the caller's scope.
    scoped_unit_fields: tuple[str, ...] = ()

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in self.scoped_unit_fields:
            self.limit_to_scope(request, field)
        return field

    def limit_to_scope(self, request: HttpRequest, field: forms.Field | None) -> None:
        """Restrict a unit choice field (FK or M2M) to units in scope, with a clear error."""
        if not isinstance(field, forms.ModelChoiceField) or admin_user(request).is_superuser:
            return
        if field.queryset is not None:
            field.queryset = field.queryset.filter(self.admin_scope(request).q())
        field.error_messages["invalid_choice"] = OUT_OF_SCOPE_CHOICE
        field.error_messages["invalid_pk_value"] = OUT_OF_SCOPE_CHOICE


# ---------------------------------------------------------------------------
# Users and roles
# ---------------------------------------------------------------------------
class RoleInline(admin.TabularInline):
    model = Role
    fk_name = "user"
    extra = 0
    autocomplete_fields = ("unit",)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if (
            db_field.name == "unit"
            and isinstance(field, forms.ModelChoiceField)
            and field.queryset is not None
            and not admin_user(request).is_superuser
        ):
            field.queryset = field.queryset.filter(request_scope(request).q())
            field.error_messages["invalid_choice"] = OUT_OF_SCOPE_CHOICE
        return field


class ZhixingUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class ZhixingUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "full_name", "phone", "unit")


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
    form = ZhixingUserChangeForm
    add_form = ZhixingUserCreationForm
    scope_prefix = "unit__"
    scoped_unit_fields = ("unit",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Personal info"),
            {"fields": ("full_name", "phone", "unit", "job_title", "email", "zwdd_employee_code")},
        ),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "full_name",
                    "phone",
                    "unit",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    list_display = ("username", "full_name", "phone_masked", "unit", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "roles__kind")
    search_fields = ("username", "full_name", "phone", "zwdd_employee_code")
    list_select_related = ("unit",)
    autocomplete_fields = ("unit",)
    inlines = (RoleInline,)

    @admin.display(description=_("mobile phone"), ordering="phone")
    def phone_masked(self, obj: User) -> str:
        return mask_phone(obj.phone)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if not admin_user(request).is_superuser:
            qs = qs.filter(is_superuser=False)
        return qs

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not admin_user(request).is_superuser:
            readonly += ("is_superuser", "groups", "user_permissions")
        return readonly

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if not admin_user(request).is_superuser and "unit" in form.base_fields:
            # A staff user may only create or move users inside their own subtree.
            form.base_fields["unit"].required = True
        return form


@admin.register(Role)
class RoleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "kind", "unit")
    list_filter = ("kind",)
    search_fields = ("user__username", "user__full_name", "unit__name", "unit__code")
    autocomplete_fields = ("user", "unit")
    list_select_related = ("user", "unit")
    scope_prefix = "unit__"
    scoped_unit_fields = ("unit",)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if (
            db_field.name == "user"
            and isinstance(field, forms.ModelChoiceField)
            and field.queryset is not None
            and not admin_user(request).is_superuser
        ):
            field.queryset = field.queryset.filter(
                request_scope(request).q("unit__"), is_superuser=False
            )
        return field


# ---------------------------------------------------------------------------
# The org tree
# ---------------------------------------------------------------------------
class ScopedMoveNodeForm(MoveNodeForm):
    """treebeard's move form limited to a scope: the new parent must lie inside it.

    The "relative to" list leaves out villages (the leaves: most of a province's ~20,000
    units), so the page stays small; a unit goes under a village's township with
    "first child of". The node's current reference is always offered, so that editing a
    unit without moving it validates.
    """

    scope: ClassVar[Scope] = Scope(everything=True, paths=())

    @classmethod
    def mk_dropdown_tree(cls, model: Any, for_node: Any = None) -> list[tuple[Any, Any]]:
        options: list[tuple[Any, Any]] = []
        if cls.scope.everything:
            options.append((None, gettext("-- root --")))
        nodes = (
            OrgUnit.objects.filter(cls.scope.q())
            .exclude(kind=OrgUnit.Kind.VILLAGE)
            .order_by("path")
            .only("pk", "name", "depth", "path")
        )
        own_path = for_node.path if for_node is not None and for_node.pk is not None else None
        for node in nodes:
            if own_path and node.path.startswith(own_path):
                continue  # not into itself or its own subtree
            options.append((node.pk, mark_safe(cls.mk_indent(node.depth) + escape(node.name))))  # noqa: S308
        if for_node is not None and for_node.pk is not None:
            # Keep the node's current reference selectable, so that editing a unit without
            # moving it validates even when that reference lies outside the scope.
            current = cls._current_reference(for_node)
            if current is not None and all(str(pk) != str(current.pk) for pk, _l in options):
                options.insert(0, (current.pk, str(current)))
        return options

    @staticmethod
    def _current_reference(node: OrgUnit) -> OrgUnit | None:
        prev = node.get_prev_sibling()
        return prev if prev is not None else node.get_parent()

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.scope.everything:
            return cleaned
        position = cleaned.get("_position")
        ref_id = cleaned.get("_ref_node_id")
        if not position:
            return cleaned
        unchanged = (
            self.instance.pk is not None
            and str(self.initial.get("_position") or "") == str(position)
            and str(self.initial.get("_ref_node_id") or "") == str(ref_id or "")
        )
        if unchanged:
            return cleaned
        ref = OrgUnit.objects.filter(pk=ref_id).first() if ref_id not in (None, "", "0") else None
        if ref is None:
            new_parent = None
        elif position in ("first-child", "last-child", "sorted-child"):
            new_parent = ref
        else:
            new_parent = ref.get_parent()
        if new_parent is None or not self.scope.contains(new_parent):
            raise ValidationError(
                gettext("The new place of this unit must be inside your area."), code="scope"
            )
        return cleaned


class OrgUnitChangeList(ChangeList):
    """Fetch the parents of a page of units in one query (the tree view asks each row)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        nodes = list(self.result_list)
        step = OrgUnit.steplen
        wanted = {node.path[:-step] for node in nodes if node.depth > 1}
        parents = {p.path: p for p in OrgUnit.objects.filter(path__in=wanted)}
        for node in nodes:
            if node.depth > 1 and node.path[:-step] in parents:
                node._cached_parent_obj = parents[node.path[:-step]]  # treebeard's cache
        self.result_list = nodes


@admin.register(OrgUnit)
class OrgUnitAdmin(ScopedAdminMixin, TreeAdmin):
    form = movenodeform_factory(OrgUnit, form=ScopedMoveNodeForm)
    list_display = ("name", "kind", "code")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    scope_prefix = ""
    # Big trees: never count the whole table for the unfiltered changelist.
    show_full_result_count = False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return OrgUnitChangeList

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        scope = request_scope(request)
        # A per-request subclass: treebeard builds the choices in a classmethod.
        return type(form.__name__, (form,), {"scope": scope})

    def try_to_move_node(
        self, as_child: bool, node: Any, pos: str, request: HttpRequest, target: Any
    ) -> HttpResponse:
        new_parent = target if as_child else target.get_parent()
        if not request_scope(request).contains(new_parent):
            messages.error(request, gettext("The new place of this unit must be inside your area."))
            return HttpResponseBadRequest("outside scope")
        return super().try_to_move_node(as_child, node, pos, request, target)


# ---------------------------------------------------------------------------
# The audit log (read-only)
# ---------------------------------------------------------------------------
class ReadOnlyAdminMixin(ScopedAdminMixin):
    """View only: nobody adds, changes or deletes these rows through the admin."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Superusers read and export the whole log; an auditor (``Role.Kind.AUDITOR``) the
    entries of actors in their subtree, and, when the subtree is a whole tree, the entries
    without an actor (failed sign-ins). Nobody else, organisers included."""

    list_display = ("at", "user", "action", "target", "address")
    list_filter = ("action",)
    search_fields = ("action", "target", "user__username", "user__full_name", "address")
    date_hierarchy = "at"
    list_select_related = ("user",)
    readonly_fields = ("at", "user", "action", "target", "detail", "address")
    scope_prefix = "user__unit__"
    actions = ("export_csv",)

    def _audit_scope(self, request: HttpRequest) -> Scope:
        return scope_for(user=admin_user(request), capability=Capability.READ_AUDIT_LOG)

    def _scope_open(self, request: HttpRequest) -> bool:
        return not self._audit_scope(request).is_empty

    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        scope = self._audit_scope(request)
        if scope.everything:
            return qs
        q = scope.q(self.scope_prefix)
        if any(len(path) == OrgUnit.steplen for path in scope.paths):
            q |= Q(user__isnull=True)
        return qs.filter(q)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_user(request).is_active and self._scope_open(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            admin_user(request).is_active
            and self._scope_open(request)
            and (obj is None or self.obj_in_scope(request, obj))
        )

    @admin.action(description=_("Export the selected entries (CSV)"))
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[AuditLog]
    ) -> StreamingHttpResponse:
        rows = queryset.select_related("user").order_by("at", "pk")
        count = rows.count()
        export_audit_write(
            user=admin_user(request),
            report="audit_log",
            target="portal.auditlog",
            fmt="csv",
            row_count=count,
        )
        return export_response(
            fmt="csv",
            filename=gettext("audit log"),
            headers=[
                gettext("time"),
                gettext("user"),
                gettext("action"),
                gettext("target"),
                gettext("IP address"),
                gettext("detail"),
            ],
            rows=(
                (
                    timezone.localtime(entry.at).isoformat(timespec="seconds"),
                    entry.user.username if entry.user else "",
                    entry.action,
                    entry.target,
                    entry.address or "",
                    json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
                )
                for entry in rows.iterator(chunk_size=2000)
            ),
        )
