"""Portal domain: the org tree, users and their roles (scope roots)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node

from portal.masking import mask_phone

phone_validator = RegexValidator(
    r"^1[3-9]\d{9}$", _("Enter a valid 11-digit mainland mobile number.")
)
unit_code_validator = RegexValidator(
    r"^\d{12}$", _("An administrative division code has exactly 12 digits.")
)


# Sent after a unit (with its subtree) moved to another parent: unit_id, old_ancestor_ids.
unit_moved = Signal()


class OrgUnit(MP_Node):
    """A node of the province's organisation tree (materialised path, django-treebeard).

    Territorial units form the five levels; organisation departments, party schools and
    bureaus hang below the territorial unit they belong to.
    """

    class Kind(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County / district")
        TOWNSHIP = "township", _("Township / street")
        VILLAGE = "village", _("Village / community")
        ORG_DEPARTMENT = "org_department", _("Organisation department")
        PARTY_SCHOOL = "party_school", _("Party school")
        BUREAU = "bureau", _("Bureau / agency")

    TERRITORIAL: ClassVar[tuple[str, ...]] = (
        Kind.PROVINCE,
        Kind.CITY,
        Kind.COUNTY,
        Kind.TOWNSHIP,
        Kind.VILLAGE,
    )

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    code = models.CharField(
        _("administrative code"),
        max_length=12,
        unique=True,
        null=True,
        blank=True,
        validators=[unit_code_validator],
        help_text=_("The 12-digit administrative division code, where one exists."),
    )
    # The organisation departments' own unit code (单位编码): the key of the directory import.
    directory_code = models.CharField(
        _("unit code (directory)"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("单位编码 in the directory files; set by the import."),
    )

    class Meta:
        verbose_name = _("organisation unit")
        verbose_name_plural = _("organisation units")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["kind", "depth"], name="orgunit_kind_depth"),
            # LIKE 'prefix%' subtree queries on PostgreSQL with a non-C collation.
            models.Index(
                fields=["path"], name="orgunit_path_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_territorial(self) -> bool:
        return self.kind in self.TERRITORIAL

    def contains(self, other: OrgUnit) -> bool:
        """True when ``other`` is this unit or inside its subtree."""
        return other.path.startswith(self.path)

    def move(self, target: Any, pos: str | None = None) -> None:
        """treebeard's move, then ``unit_moved`` in the same transaction (the report
        summaries roll counts up to ancestors and must follow the unit)."""
        old_ancestors = [int(pk) for pk in self.get_ancestors().values_list("pk", flat=True)]
        with transaction.atomic():
            super().move(target, pos)
            unit_moved.send(sender=OrgUnit, unit_id=int(self.pk), old_ancestor_ids=old_ancestors)


class User(AbstractUser):
    """A cadre, an organiser or party-school staff. Scope comes from ``Role`` rows."""

    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(
        _("mobile phone"),
        max_length=11,
        unique=True,
        null=True,
        blank=True,
        validators=[phone_validator],
    )
    unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    job_title = models.CharField(_("position"), max_length=100, blank=True)
    # 干部编号: the key of a cadre in the directory import (docs/directory.md); empty for staff made
    # by hand.
    cadre_no = models.CharField(
        _("cadre number"), max_length=32, unique=True, null=True, blank=True
    )
    # db_default: bulk loaders (the demo seeder's COPY) need not name it
    rank = models.CharField(_("rank"), max_length=50, blank=True, default="", db_default="")  # 职级
    # The 浙政钉 employee code (from the directory import): a first 浙政钉 sign-in is
    # linked to the cadre by it; afterwards by the bound accountId (signin/).
    zwdd_employee_code = models.CharField(
        _("浙政钉 employee code"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Set by the directory import; links the first 浙政钉 sign-in."),
    )

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]
    # As loaded from the database: a save that deactivates the user or changes the
    # password ends their sessions (portal/sessions/revoke.py).
    _loaded_access: tuple[bool, str] | None = None

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> User:
        user: User = super().from_db(db, field_names, values, **kwargs)
        loaded = user.__dict__
        if "is_active" in loaded and "password" in loaded:
            user._loaded_access = (bool(user.is_active), str(user.password))
        return user

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


_PHONE_SEPARATORS = re.compile(r"[\s\-()]")


def phone_normalise(value: str) -> str:
    """``+86 138-1234-5678`` → ``13812345678`` (anything else is returned stripped)."""
    digits = _PHONE_SEPARATORS.sub("", value or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    return digits


class Role(models.Model):
    """A staff role over a subtree of the org tree (the scope root)."""

    class Kind(models.TextChoices):
        ORGANISER = "organiser", _("Organiser (organisation department)")
        SCHOOL = "school", _("Party-school staff")
        AUDITOR = "auditor", _("Auditor (reads the audit log of the subtree)")

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="roles"
    )
    kind = models.CharField(_("role"), max_length=20, choices=Kind.choices)
    unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("scope root"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The role covers this unit and everything below it."),
    )

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "kind", "unit"], name="role_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_kind_display()} · {self.unit}"


class AuditLogImmutable(Exception):
    """The audit log is append-only: entries are never changed or deleted by the app."""


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditLogImmutable("audit log entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutable("audit log entries are removed only by purge_personal_data")


class AuditLog(models.Model):
    """Who did what, when, from where: sign-ins, admin changes, exports, moderation,
    notices, attendance corrections, directory imports, SSO bindings (docs/security.md).

    Append-only: the app never updates or deletes an entry (the model and its queryset
    refuse; on PostgreSQL a trigger refuses too, and keeps every entry for at least 184
    days); the retention purge is the only deletion."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        User, verbose_name=_("user"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target = models.CharField(_("target"), max_length=200, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ("-at",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogImmutable("audit log entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutable("audit log entries are removed only by purge_personal_data")


class UserSession(models.Model):
    """Which sessions a user holds (recorded at sign-in), so deactivating them can end
    every one (Django's session table is not indexed by user)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("user session")
        verbose_name_plural = _("user sessions")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user"], name="usersession_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.session_key[:6]}…"


# Sent (on commit) after a user's sessions were ended: deactivated, password changed.
# Receivers close what the session table does not hold (livestream: open websockets).
user_sessions_ended = Signal()
