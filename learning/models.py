"""The learning record's documents (issue 18): 学时证明 and 结业证书 with a serial anyone
can check at ``/verify/<serial>/``. A certificate is a snapshot: what it said when it was
issued (name, unit, 学时, lectures) stays as issued; new study earns a new certificate."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from courses.models import Programme

SERIAL_CHARS = 16


class Certificate(models.Model):
    class Kind(models.TextChoices):
        YEAR = "year", _("Study-hour certificate (year)")
        PROGRAMME = "programme", _("Programme certificate")

    serial = models.CharField(_("serial number"), max_length=SERIAL_CHARS, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cadre"),
        on_delete=models.CASCADE,
        related_name="certificates",
    )
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    # as issued (the verify page shows these, whatever changed since)
    name = models.CharField(_("name"), max_length=150)
    unit_name = models.CharField(_("unit"), max_length=200, blank=True)
    unit_level = models.CharField(_("unit level"), max_length=40, blank=True)  # OrgUnit.Kind
    issuer = models.CharField(_("issued by"), max_length=200)
    hours = models.DecimalField(_("study hours"), max_digits=7, decimal_places=2)
    lectures = models.PositiveIntegerField(_("lectures completed"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoke_reason = models.CharField(_("reason for revoking"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ("-issued_at", "-pk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="year", year__isnull=False, programme__isnull=True)
                    | models.Q(kind="programme", programme__isnull=False)
                ),
                name="certificate_kind_subject",
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "kind", "year"], name="certificate_user_year"),
        ]

    def __str__(self) -> str:
        return self.serial

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
