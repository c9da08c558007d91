"""The cadre's certificates (PDF) and the public verify page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from courses.models import Programme
from learning.models import Certificate
from learning.pdf import certificate_pdf
from learning.selectors import certificate_verify
from learning.services import (
    CertificateError,
    CertificateErrorCode,
    certificate_for_programme,
    certificate_for_year,
)
from portal.exports import content_disposition
from portal.http import request_user


def verify_url(serial: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("learning:verify", args=[serial])


def _pdf(certificate: Certificate) -> HttpResponse:
    body = certificate_pdf(certificate=certificate, verify_url=verify_url(certificate.serial))
    response = HttpResponse(body, content_type="application/pdf")
    name = "结业证书" if certificate.kind == Certificate.Kind.PROGRAMME else "学时证明"
    response["Content-Disposition"] = content_disposition(f"{name}-{certificate.serial}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


def _refused(request: HttpRequest, error: CertificateError) -> HttpResponse:
    status = 400 if error.code == CertificateErrorCode.INVALID_YEAR else 409
    return render(
        request,
        "learning/refused.html",
        {"message": error.message, "code": error.code_value},
        status=status,
    )


@login_required
@require_GET
def year_certificate(request: HttpRequest) -> HttpResponse:
    """``/me/study/certificate.pdf?year=2026``: the caller's own 学时证明, never another's."""
    raw = request.GET.get("year", "").strip() or str(timezone.localtime().year)
    try:
        if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
            raise CertificateError(CertificateErrorCode.INVALID_YEAR)
        certificate = certificate_for_year(user=request_user(request), year=int(raw))
    except CertificateError as error:
        return _refused(request, error)
    return _pdf(certificate)


@login_required
@require_GET
def programme_certificate(request: HttpRequest, programme_id: int) -> HttpResponse:
    """``/me/study/programmes/<id>/certificate.pdf``: the 结业证书 once the rule is met."""
    programme = get_object_or_404(
        Programme.objects.select_related("organiser_unit"), pk=programme_id
    )
    try:
        certificate = certificate_for_programme(user=request_user(request), programme=programme)
    except CertificateError as error:
        return _refused(request, error)
    return _pdf(certificate)


@require_GET
def verify(request: HttpRequest, serial: str) -> HttpResponse:
    """``/verify/<serial>/``: public; shows only the name, the unit's level, the 学时 and
    the date (or that the certificate was revoked); an unknown serial is a 404."""
    found = certificate_verify(serial=serial)
    if found is None:
        response = render(
            request, "learning/verify.html", {"found": None, "serial": serial[:40]}, status=404
        )
    else:
        response = render(request, "learning/verify.html", {"found": found, "serial": found.serial})
    response["X-Robots-Tag"] = "noindex"
    return response
