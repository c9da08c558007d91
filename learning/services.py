"""Certificates: issued from the study record (the one credit rule), revoked by organisers.

A download issues a certificate only when the figures changed since the cadre's last one
(same 学时 and lectures: the same serial again), so a cadre who downloads twice gets one
serial, and a cadre who studied more gets a new one while the old stays valid for what it
said. Revoking is audited; the verify page then says revoked."""

from __future__ import annotations

import enum
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from courses.attendance.credit import attendance_study_record
from courses.attendance.rules import study_hour_rule_for
from courses.models import Lecture, Programme
from learning.models import SERIAL_CHARS, Certificate
from portal.errors import CodedError
from portal.models import OrgUnit, User
from portal.services import audit_log_write

# no 0/O, 1/I/L: a serial is read aloud and typed from paper
SERIAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class CertificateErrorCode(enum.Enum):
    NOTHING_EARNED = "nothing_earned"
    NOT_COMPLETED = "not_completed"
    INVALID_YEAR = "invalid_year"
    ALREADY_REVOKED = "already_revoked"


class CertificateError(CodedError):
    messages = {
        CertificateErrorCode.NOTHING_EARNED: _("You have no study hours in this year yet."),
        CertificateErrorCode.NOT_COMPLETED: _("The programme's completion rule is not met yet."),
        CertificateErrorCode.INVALID_YEAR: _("The year must be a four-digit calendar year."),
        CertificateErrorCode.ALREADY_REVOKED: _("This certificate is already revoked."),
    }


def serial_new() -> str:
    body = "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(SERIAL_CHARS - 4))
    return f"ZX{body[:4]}-{body[4:8]}-{body[8:]}"[:SERIAL_CHARS]


def certificate_issuer(*, programme: Programme | None) -> str:
    """The issuing organisation department: the programme's organising unit, for a year
    the setting CERTIFICATE_ISSUER, else the tree root's organisation department."""
    if programme is not None:
        return programme.organiser_unit.name
    configured = str(getattr(settings, "CERTIFICATE_ISSUER", "") or "")
    if configured:
        return configured
    root = OrgUnit.get_first_root_node()
    return f"中共{root.name}委组织部" if root is not None else "知行干部网络学院"


def _issue(
    *,
    user: User,
    kind: str,
    year: int | None,
    programme: Programme | None,
    hours: Decimal,
    lectures: int,
) -> Certificate:
    latest = (
        Certificate.objects.filter(
            user=user, kind=kind, year=year, programme=programme, revoked_at__isnull=True
        )
        .order_by("-issued_at", "-pk")
        .first()
    )
    if latest is not None and latest.hours == hours and latest.lectures == lectures:
        return latest
    unit = user.unit
    for _attempt in range(5):  # a serial collision is astronomically rare; retry anyway
        try:
            with transaction.atomic():
                return Certificate.objects.create(
                    serial=serial_new(),
                    kind=kind,
                    user=user,
                    year=year,
                    programme=programme,
                    name=user.display_name,
                    unit_name=unit.name if unit is not None else "",
                    unit_level=unit.kind if unit is not None else "",  # shown as its label
                    issuer=certificate_issuer(programme=programme),
                    hours=hours,
                    lectures=lectures,
                )
        except IntegrityError:
            continue
    raise RuntimeError("could not draw a free certificate serial")


def certificate_for_year(*, user: User, year: int) -> Certificate:
    """The cadre's 学时证明 of a calendar year (``NOTHING_EARNED`` with no 学时 in it)."""
    if not 2000 <= year <= 2100:
        raise CertificateError(CertificateErrorCode.INVALID_YEAR)
    record = attendance_study_record(user=user)
    total = next((t for t in record.by_year if t.label == str(year)), None)
    if total is None or total.credit_hours <= 0:
        raise CertificateError(CertificateErrorCode.NOTHING_EARNED)
    return _issue(
        user=user,
        kind=Certificate.Kind.YEAR,
        year=year,
        programme=None,
        hours=total.credit_hours,
        lectures=total.completed,
    )


def programme_completion(*, user: User, programme: Programme) -> tuple[int, int, Decimal]:
    """(lectures completed, lectures required, 学时 earned) of the cadre in the programme."""
    record = attendance_study_record(user=user)
    lines = [line for line in record.lines if line.lecture.programme_id == programme.pk]
    rule = study_hour_rule_for(programme=programme)
    required = rule.certificate_min_lectures or Lecture.objects.filter(programme=programme).count()
    done = sum(1 for line in lines if line.completed)
    return done, required, sum((line.credit_hours for line in lines), Decimal("0"))


def certificate_for_programme(*, user: User, programme: Programme) -> Certificate:
    """The 结业证书 once the programme's completion rule is met (``NOT_COMPLETED`` else)."""
    done, required, hours = programme_completion(user=user, programme=programme)
    if done < required or done == 0:
        raise CertificateError(
            CertificateErrorCode.NOT_COMPLETED,
            _(
                "The programme's completion rule is not met yet: "
                "%(done)s of %(required)s lectures completed."
            )
            % {"done": done, "required": required},
        )
    return _issue(
        user=user,
        kind=Certificate.Kind.PROGRAMME,
        year=None,
        programme=programme,
        hours=hours,
        lectures=done,
    )


@transaction.atomic
def certificate_revoke(*, certificate: Certificate, by: User, reason: str) -> Certificate:
    locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
    if locked.revoked_at is not None:
        raise CertificateError(CertificateErrorCode.ALREADY_REVOKED)
    locked.revoked_at, locked.revoked_by = timezone.now(), by
    locked.revoke_reason = reason.strip()[:200]
    locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_log_write(
        user=by,
        action="learning.certificate.revoke",
        target=locked,
        detail={"serial": locked.serial, "reason": locked.revoke_reason},
    )
    return locked
