"""An uploaded directory file and what became of it (the admin's "directory imports")."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import OrgUnit


def _private_storage() -> FileSystemStorage:
    # Personal data: never under MEDIA_ROOT (nginx serves that), only the admin reads it.
    return FileSystemStorage(location=settings.DIRECTORY_UPLOAD_ROOT)


class DirectoryImport(models.Model):
    class Kind(models.TextChoices):
        UNITS = "units", _("units file")
        CADRES = "cadres", _("cadres file")

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked: waiting for confirmation")
        REJECTED = "rejected", _("Has errors: nothing applied")
        APPLYING = "applying", _("Importing")
        APPLIED = "applied", _("Imported")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    file = models.FileField(_("file"), storage=_private_storage, upload_to="%Y/%m/")
    file_name = models.CharField(_("file name"), max_length=200)
    deactivate_missing = models.BooleanField(
        _("deactivate cadres the file no longer lists"), default=False
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The uploader's area (their first scope root); None for a superuser's upload.
    unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CHECKING
    )
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.JSONField(_("bad rows"), default=list, blank=True)  # the first ERRORS_KEPT
    error_count = models.PositiveIntegerField(_("bad rows"), default=0)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    applied_at = models.DateTimeField(_("imported"), null=True, blank=True)

    ERRORS_KEPT = 2000

    class Meta:
        verbose_name = _("directory import")
        verbose_name_plural = _("directory imports")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.file_name}"
