"""What the public verify page may show of a certificate: the name, the unit's level (never
the unit), the 学时, the date, and whether it was revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from learning.models import SERIAL_CHARS, Certificate
from portal.models import OrgUnit


@dataclass(frozen=True)
class Verified:
    serial: str
    kind_label: str
    name: str
    unit_level: str
    hours: Decimal
    lectures: int
    subject: str  # the year, or the programme's title
    issuer: str
    issued_at: datetime
    revoked_at: datetime | None


def certificate_verify(*, serial: str) -> Verified | None:
    serial = serial.strip().upper()
    if not serial or len(serial) > SERIAL_CHARS or not serial.replace("-", "").isalnum():
        return None
    cert = Certificate.objects.select_related("programme").filter(serial=serial).first()
    if cert is None:
        return None
    subject = cert.programme.title if cert.programme is not None else f"{cert.year}"
    return Verified(
        serial=cert.serial,
        kind_label=str(Certificate.Kind(cert.kind).label),
        name=cert.name,
        unit_level=str(OrgUnit.Kind(cert.unit_level).label)
        if cert.unit_level in OrgUnit.Kind.values
        else "",
        hours=cert.hours,
        lectures=cert.lectures,
        subject=subject,
        issuer=cert.issuer,
        issued_at=cert.issued_at,
        revoked_at=cert.revoked_at,
    )
