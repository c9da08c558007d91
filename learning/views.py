"""The cadre's certificates (PDF) and the public verify page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from courses.models import Programme
from learning.evaluations import (
    EvaluationError,
    evaluation_deadline,
    evaluation_get,
    evaluation_save,
    evaluation_summary,
)
from learning.models import COMMENT_MAX_CHARS, INDICATORS, Certificate, Quiz, Rating
from learning.pdf import certificate_pdf
from learning.quizzes import (
    QuizError,
    QuizErrorCode,
    attempt_questions,
    quiz_attempt_start,
    quiz_attempt_submit,
    quiz_for_user,
    quiz_item_analysis,
    quiz_state,
)
from learning.selectors import certificate_verify
from learning.services import (
    CertificateError,
    CertificateErrorCode,
    certificate_for_programme,
    certificate_for_year,
)
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.selectors import room_access_get
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


# ---------------------------------------------------------------------------
# 随堂测验 /lectures/<id>/quiz/ (plain forms: works on any phone, no script needed)
# ---------------------------------------------------------------------------
def _quiz_or_404(request: HttpRequest, lecture_id: int) -> tuple[Quiz, bool]:
    try:
        return quiz_for_user(user=request_user(request), lecture_id=lecture_id)
    except QuizError as error:
        if error.code == QuizErrorCode.FORBIDDEN:
            raise PermissionDenied(error.message) from error
        raise Http404(error.message) from error


def _answers(request: HttpRequest) -> dict[int, list[int]]:
    answers: dict[int, list[int]] = {}
    for key in request.POST:
        if key.startswith("q") and key[1:].isdigit() and len(key) < 20:
            values = request.POST.getlist(key)
            if not all(v.isascii() and v.isdigit() and len(v) < 19 for v in values):
                raise QuizError(QuizErrorCode.INVALID_ANSWER)
            answers[int(key[1:])] = [int(v) for v in values]
    return answers


@login_required
def quiz(request: HttpRequest, lecture_id: int) -> HttpResponse:
    test, moderator = _quiz_or_404(request, lecture_id)
    user = request_user(request)
    error: QuizError | None = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "start":
                quiz_attempt_start(user=user, quiz=test)
            elif request.POST.get("action") == "submit":
                raw = request.POST.get("attempt", "")
                if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
                    raise QuizError(QuizErrorCode.NOT_FOUND)
                quiz_attempt_submit(user=user, attempt_id=int(raw), answers=_answers(request))
            return redirect(request.path)
        except QuizError as caught:
            error = caught
    state = quiz_state(user=user, quiz=test)
    context = {
        "lecture": test.lecture,
        "quiz": test,
        "state": state,
        "moderator": moderator,
        "questions": attempt_questions(attempt=state.current) if state.current else [],
        "error": error,
        "items": quiz_item_analysis(quiz=test) if moderator else [],
    }
    status = 200 if error is None else 409
    return render(request, "learning/quiz.html", context, status=status)


# ---------------------------------------------------------------------------
# 评课 /lectures/<id>/evaluate/
# ---------------------------------------------------------------------------
@login_required
def evaluate(request: HttpRequest, lecture_id: int) -> HttpResponse:
    user = request_user(request)
    try:
        access = room_access_get(user=user, lecture_id=lecture_id)
    except LiveError as refused:
        if refused.code == LiveErrorCode.NOT_FOUND:
            raise Http404(refused.message) from refused
        raise PermissionDenied(refused.message) from refused
    lecture = access.lecture
    error: EvaluationError | None = None
    saved = False
    if request.method == "POST":
        ratings = {}
        for key, _label in INDICATORS:
            raw = request.POST.get(key, "")
            ratings[key] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 1 else 0
        try:
            evaluation_save(
                user=user, lecture=lecture, ratings=ratings, comment=request.POST.get("comment", "")
            )
            return redirect(f"{request.path}?saved=1")
        except EvaluationError as caught:
            error = caught
    else:
        saved = request.GET.get("saved") == "1"
    mine = evaluation_get(user=user, lecture=lecture)
    now = timezone.now()
    context = {
        "lecture": lecture,
        "mine": mine,
        "indicators": [
            (key, label, getattr(mine, key) if mine else None) for key, label in INDICATORS
        ],
        "ratings": [(r.value, r.label) for r in Rating],
        "deadline": evaluation_deadline(lecture),
        "open": lecture.starts_at <= now <= evaluation_deadline(lecture),
        "error": error,
        "saved": saved,
        "comment_max": COMMENT_MAX_CHARS,
        "summary": evaluation_summary(lecture=lecture) if access.is_moderator else None,
        "has_quiz": Quiz.objects.filter(lecture=lecture, is_published=True).exists(),
    }
    return render(request, "learning/evaluate.html", context, status=409 if error else 200)
