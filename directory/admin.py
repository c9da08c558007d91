"""The organisers' directory uploads: a file for their own subtree is checked in the
background (counts and bad rows, downloadable), applied once they confirm, with progress."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from directory.models import DirectoryImport
from directory.report import report_csv
from directory.services import (
    directory_upload_confirm,
    directory_upload_create,
    upload_progress_key,
)
from directory.templates_xlsx import template_xlsx
from portal.admin import ScopedAdminMixin, admin_user

MAX_UPLOAD_BYTES = 200 * 2**20
RUNNING = (DirectoryImport.Status.CHECKING, DirectoryImport.Status.APPLYING)


class DirectoryImportForm(forms.ModelForm):
    class Meta:
        model = DirectoryImport
        fields = ("kind", "file", "deactivate_missing")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = str(getattr(upload, "name", "")).lower()
        if not name.endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."), code="type")
        if getattr(upload, "size", 0) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 200 MB."), code="size")
        return upload


@admin.register(DirectoryImport)
class DirectoryImportAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = DirectoryImportForm
    list_display = ("created_at", "kind", "file_name", "by", "status", "summary")
    list_filter = ("kind", "status")
    change_form_template = "admin/directory/directoryimport/change_form.html"

    @admin.display(description=_("result"))
    def summary(self, obj: DirectoryImport) -> str:
        c = obj.counts or {}
        if not c:
            return "—"
        return (
            f"created={c.get('created', 0)} updated={c.get('updated', 0)} "
            f"moved={c.get('moved', 0)} deactivated={c.get('deactivated', 0)} "
            f"unchanged={c.get('unchanged', 0)} errors={c.get('errors', 0)}"
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return (
            "kind",
            "file_name",
            "deactivate_missing",
            "by",
            "unit",
            "status",
            "created_at",
            "applied_at",
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("kind", "file", "deactivate_missing")
        return self.get_readonly_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a record: its page is read-only, confirming is its own action

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        row = directory_upload_create(
            by=admin_user(request),
            kind=obj.kind,
            upload=form.cleaned_data["file"],
            deactivate_missing=obj.deactivate_missing,
        )
        obj.pk, obj.file_name = row.pk, row.file_name
        obj._state.adding = False

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        # The record's own page: the check's result appears there (it refreshes while running).
        messages.info(
            request, _("The file is being checked; nothing is changed until you confirm.")
        )
        return redirect("admin:directory_directoryimport_change", obj.pk)

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="{}_{}_confirm".format(*info),
            ),
            path(
                "<path:object_id>/report/",
                self.admin_site.admin_view(self.report_view),
                name="{}_{}_report".format(*info),
            ),
            path(
                "template/<str:kind>/",
                self.admin_site.admin_view(self.template_view),
                name="{}_{}_template".format(*info),
            ),
            path(
                "<path:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="{}_{}_progress".format(*info),
            ),
            *super().get_urls(),
        ]

    def _row(self, request: HttpRequest, object_id: str) -> DirectoryImport:
        self.guard_object(request, object_id)  # 403 outside the area, 404 unknown
        obj = self.get_object(request, object_id)
        if obj is None:  # guard_object has answered for missing or foreign rows
            raise Http404
        return obj

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self._row(request, object_id)
        context = {
            **(extra_context or {}),
            "import_row": obj,
            "running": obj.status in RUNNING,
            "rows_done": cache.get(upload_progress_key(obj.pk)),
            "bad_rows": obj.errors[:200],
            "can_confirm": obj.status == DirectoryImport.Status.CHECKED
            and self.has_add_permission(request),
            "confirm_url": reverse("admin:directory_directoryimport_confirm", args=[obj.pk]),
            "report_url": reverse("admin:directory_directoryimport_report", args=[obj.pk]),
        }
        return super().change_view(request, object_id, form_url, context)

    def confirm_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._row(request, object_id)
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        if directory_upload_confirm(row=obj, by=admin_user(request)):
            messages.success(request, _("The import has started."))
        else:
            messages.warning(request, _("This file cannot be imported (again)."))
        return redirect("admin:directory_directoryimport_change", obj.pk)

    def report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._row(request, object_id)
        response = HttpResponse(report_csv(obj.errors), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="directory-import-{obj.pk}-errors.csv"'
        )
        return response

    def template_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        if kind not in DirectoryImport.Kind.values or not self.has_view_permission(request):
            raise Http404
        response = HttpResponse(
            template_xlsx(kind),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        name = "units-template.xlsx" if kind == "units" else "cadres-template.xlsx"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        obj = self._row(request, object_id)
        return JsonResponse(
            {
                "status": obj.status,
                "rows": cache.get(upload_progress_key(obj.pk)),
                "counts": obj.counts,
                "errors": obj.error_count,
            }
        )
