"""Pages and the JSON API of the discussion: parse, authorise, call one use case, answer.

Pages: the lecture space, the study groups list, a group, a thread. The API answers JSON
with ``{"error": {"code", "message"}}`` and the matching HTTP status on refusal
(docs/discussion.md); writes are POST with the CSRF token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import Lecture
from discussion import broadcast, selectors, services
from discussion.events import post_payload, thread_payload
from discussion.exceptions import DiscussionError, DiscussionErrorCode
from discussion.forms import GroupCreateForm
from discussion.models import POST_MAX_CHARS, TITLE_MAX_CHARS, Post, ReportReason, Space
from discussion.selectors import SpaceAccess
from livestream.selectors import question_list_visible
from portal.http import request_user
from portal.scopes import Capability, has_capability

# A JSON body larger than this is refused unread (a post is at most 2,000 characters).
BODY_MAX_BYTES = 32 * 1024


def _page_error(exc: DiscussionError) -> Exception:
    if exc.code == DiscussionErrorCode.NOT_FOUND:
        return Http404(exc.message)
    return PermissionDenied(exc.message)


def _page_access(fn: Callable[[], SpaceAccess]) -> SpaceAccess:
    try:
        return fn()
    except DiscussionError as exc:
        raise _page_error(exc) from exc


def _error_response(exc: DiscussionError) -> JsonResponse:
    error: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
    if exc.retry_after:
        error["retry_after"] = exc.retry_after
    response = JsonResponse({"error": error}, status=exc.http_status)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _body(request: HttpRequest) -> dict[str, Any]:
    length = request.headers.get("Content-Length") or "0"
    if not length.isdigit() or int(length) > BODY_MAX_BYTES:
        raise DiscussionError(DiscussionErrorCode.TOO_LONG)
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DiscussionError(DiscussionErrorCode.INVALID) from exc
    if not isinstance(data, dict):
        raise DiscussionError(DiscussionErrorCode.INVALID)
    return data


def _int(value: Any, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DiscussionError(DiscussionErrorCode.INVALID)
    try:
        number = int(value)
    except ValueError as exc:
        raise DiscussionError(DiscussionErrorCode.INVALID) from exc
    if not 0 <= number < 2**62:
        raise DiscussionError(DiscussionErrorCode.INVALID)
    return number


def _str(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DiscussionError(DiscussionErrorCode.INVALID)
    return value


def api(fn: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """JSON answers for signed-out callers and refusals (never a redirect to a page)."""

    @wraps(fn)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not request.user.is_authenticated:
            return _error_response(DiscussionError(DiscussionErrorCode.NOT_SIGNED_IN))
        try:
            return fn(request, *args, **kwargs)
        except DiscussionError as exc:
            return _error_response(exc)

    return never_cache(wrapper)


def _messages() -> dict[str, str]:
    """Chinese texts for the script."""
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected"),
        "reconnecting": _("Connection lost; reconnecting in %(seconds)s s…"),
        "close_4403": _("This discussion is for its members only."),
        "close_4401": _("Your sign-in has expired. Please sign in again."),
        "close_4404": _("This discussion does not exist."),
        "like": _("Like"),
        "liked": _("Liked"),
        "reply": _("Reply"),
        "report": _("Report"),
        "reported": _("Reported. Thank you; a moderator will look at it."),
        "hide": _("Hide"),
        "restore": _("Restore"),
        "approve": _("Approve"),
        "hide_prompt": _("Reason for hiding (the author will see it):"),
        "hidden_own": _("Hidden by a moderator: %(reason)s"),
        "pending_own": _("Awaiting review; only you and the moderators see it."),
        "flagged": _("Sensitive words"),
        "reply_to": _("Replying to %(name)s"),
        "cancel": _("Cancel"),
        "sent": _("Posted."),
        "held": _("Posted; it will appear once a moderator has reviewed it."),
        "empty": _("No posts yet. Start the conversation!"),
        "no_threads": _("No topics yet."),
        "unread": _("%(n)s new"),
        "posts": _("%(n)s posts"),
        "pinned": _("Pinned"),
        "locked": _("Locked"),
        "pin": _("Pin"),
        "unpin": _("Unpin"),
        "lock": _("Lock"),
        "unlock": _("Unlock"),
        "new_posts": _("New posts below"),
        "error": _("Something went wrong; please try again."),
        "too_long": _("A post can have at most 2000 characters."),
    }


def _report_reasons() -> list[dict[str, str]]:
    return [{"value": str(v), "label": str(label)} for v, label in ReportReason.choices]


def _space_context(request: HttpRequest, access: SpaceAccess, **extra: Any) -> dict[str, Any]:
    space = access.space
    seq = broadcast.seq_current(space_id=space.pk)  # before the reads: later events replay
    threads = selectors.thread_list_for_space(access=access)
    return {
        "access": access,
        "space": space,
        "is_open": access.is_open,
        "space_open_for_all": selectors.space_is_open(space=space),
        "title_max": TITLE_MAX_CHARS,
        "post_max": POST_MAX_CHARS,
        "config": {
            "page": "space",
            "spaceId": space.pk,
            "seq": seq,
            "wsPath": f"/ws/discussion/{space.pk}/",
            "threads": threads,
            "threadsUrl": reverse("discussion:api_threads", args=[space.pk]),
            "role": access.role,
            "me": access.user.pk,
            "canStart": access.can_start_threads and access.is_open,
            "csrf": get_token(request),
            "maxChars": POST_MAX_CHARS,
            "messages": _messages(),
        },
        **extra,
    }


def _lecture_access(request: HttpRequest, lecture_id: int) -> tuple[Lecture, SpaceAccess]:
    """The caller's seat in a lecture's space: authorised first (on an unsaved space when
    the lecture has none yet), then the space is made, so a refusal writes nothing."""
    lecture = get_object_or_404(
        Lecture.objects.select_related("programme", "programme__organiser_unit"), pk=lecture_id
    )
    user = request_user(request)
    space = selectors.space_get_for_lecture(lecture_id=lecture.pk) or Space(
        kind=Space.Kind.LECTURE, lecture=lecture, programme=lecture.programme
    )
    access = _page_access(lambda: selectors.space_access(user=user, space=space))
    if space.pk is None:
        space = services.lecture_space_ensure(lecture=lecture)
        access = _page_access(lambda: selectors.space_access(user=user, space=space))
    return lecture, access


@login_required
@require_GET
def lecture_space(request: HttpRequest, lecture_id: int) -> HttpResponse:
    """/lectures/<id>/discussion/: the Q&A archive (answered first), then the threads."""
    lecture, access = _lecture_access(request, lecture_id)
    questions = question_list_visible(lecture=lecture)
    questions.sort(key=lambda q: (q.status != "answered", -q.votes, -q.pk))
    context = _space_context(request, access, lecture=lecture, questions=questions)
    return render(request, "discussion/space.html", context)


@login_required
@require_POST
def lecture_space_open(request: HttpRequest, lecture_id: int) -> HttpResponse:
    """A moderator opens the lecture's space before the lecture ends (audited)."""
    lecture, access = _lecture_access(request, lecture_id)
    if not access.is_moderator:
        raise PermissionDenied(_("Only moderators can do that."))
    services.lecture_space_open(by=access.user, lecture=lecture)
    messages.success(request, _("The discussion is open."))
    return redirect("discussion:lecture_space", lecture_id=lecture.pk)


@login_required
@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    rows = selectors.group_list_for_user(user=user)
    can_create = has_capability(user=user, capability=Capability.MANAGE_GROUPS)
    return render(request, "discussion/groups.html", {"rows": rows, "can_create": can_create})


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    """/groups/new/: organisers and party-school staff make a group for a unit they manage."""
    user = request_user(request)
    if not has_capability(user=user, capability=Capability.MANAGE_GROUPS):
        raise PermissionDenied(_("Only organisers and party-school staff set up study groups."))
    form = GroupCreateForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(
                by=user,
                programme=form.cleaned_data["programme"],
                unit=form.cleaned_data["unit"],
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                members_from_unit=form.cleaned_data["members_from_unit"],
            )
        except DiscussionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The study group is set up."))
            return redirect("discussion:group", group_id=group.pk)
    return render(request, "discussion/group_new.html", {"form": form})


@login_required
@require_GET
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    user = request_user(request)
    access = _page_access(lambda: selectors.group_space_access_get(user=user, group_id=group_id))
    return render(
        request, "discussion/space.html", _space_context(request, access, group=access.space.group)
    )


@login_required
@require_GET
def thread_page(request: HttpRequest, thread_id: int) -> HttpResponse:
    user = request_user(request)
    try:
        access, thread = selectors.thread_access_get(user=user, thread_id=thread_id)
    except DiscussionError as exc:
        raise _page_error(exc) from exc
    space = access.space
    seq = broadcast.seq_current(space_id=space.pk)
    posts = selectors.post_list_for_thread(access=access, thread=thread)
    services.read_mark(user=user, thread=thread, last_post_id=thread.last_post_id)
    review = selectors.review_posts(access=access) if access.is_moderator else []
    back = (
        reverse("discussion:lecture_space", args=[space.lecture_id])
        if space.kind == Space.Kind.LECTURE
        else reverse("discussion:group", args=[space.group.pk])
    )
    context = {
        "access": access,
        "space": space,
        "thread": thread,
        "back": back,
        "post_max": POST_MAX_CHARS,
        "config": {
            "page": "thread",
            "spaceId": space.pk,
            "threadId": thread.pk,
            "seq": seq,
            "wsPath": f"/ws/discussion/{space.pk}/",
            "thread": thread_payload(thread),
            "posts": posts,
            "review": review,
            "reports": selectors.report_counts_open(access=access),
            "me": user.pk,
            "role": access.role,
            "open": access.is_open,
            "postsUrl": reverse("discussion:api_posts", args=[thread.pk]),
            "readUrl": reverse("discussion:api_read", args=[thread.pk]),
            "threadModerateUrl": reverse("discussion:api_thread_moderate", args=[thread.pk]),
            "postUrl": reverse("discussion:api_post_like", args=[0]).replace("/0/like/", "/"),
            "reasons": _report_reasons(),
            "csrf": get_token(request),
            "maxChars": POST_MAX_CHARS,
            "messages": _messages(),
        },
    }
    return render(request, "discussion/thread.html", context)


# -- JSON API ------------------------------------------------------------------------


@api
@require_http_methods(["GET", "POST"])
def api_threads(request: HttpRequest, space_id: int) -> JsonResponse:
    user = request_user(request)
    access = selectors.space_access_get(user=user, space_id=space_id)
    if request.method == "GET":
        seq = broadcast.seq_current(space_id=space_id)
        return JsonResponse({"seq": seq, "threads": selectors.thread_list_for_space(access=access)})
    data = _body(request)
    result = services.thread_create(
        access=access,
        title=_str(data.get("title")),
        text=_str(data.get("text")),
        client_id=_str(data.get("client_id")),
    )
    return JsonResponse(
        {
            "thread": thread_payload(result.thread),
            "post": post_payload(result.post, own=True),
            "created": result.created,
        },
        status=201 if result.created else 200,
    )


@api
@require_http_methods(["GET", "POST"])
def api_posts(request: HttpRequest, thread_id: int) -> JsonResponse:
    user = request_user(request)
    access, thread = selectors.thread_access_get(user=user, thread_id=thread_id)
    if request.method == "GET":
        seq = broadcast.seq_current(space_id=access.space.pk)
        after = _int(request.GET.get("after", "0")) or 0
        posts = selectors.post_list_for_thread(access=access, thread=thread, after_id=after)
        return JsonResponse({"seq": seq, "thread": thread_payload(thread), "posts": posts})
    data = _body(request)
    result = services.post_create(
        access=access,
        thread_id=thread.pk,
        text=_str(data.get("text")),
        client_id=_str(data.get("client_id")),
        parent_id=_int(data.get("parent_id"), optional=True),
    )
    return JsonResponse(
        {
            "post": post_payload(result.post, own=True, moderator=access.is_moderator),
            "created": result.created,
        },
        status=201 if result.created else 200,
    )


@api
@require_POST
def api_read(request: HttpRequest, thread_id: int) -> JsonResponse:
    user = request_user(request)
    _access, thread = selectors.thread_access_get(user=user, thread_id=thread_id)
    data = _body(request)
    services.read_mark(user=user, thread=thread, last_post_id=_int(data.get("last_post_id")) or 0)
    return JsonResponse({"ok": True})


@api
@require_POST
def api_thread_moderate(request: HttpRequest, thread_id: int) -> JsonResponse:
    user = request_user(request)
    access, thread = selectors.thread_access_get(user=user, thread_id=thread_id)
    data = _body(request)
    thread = services.thread_moderate(
        access=access, thread_id=thread.pk, action=_str(data.get("action"))
    )
    return JsonResponse({"thread": thread_payload(thread)})


def _post_access(request: HttpRequest, post_id: int) -> SpaceAccess:
    space_id = Post.objects.filter(pk=post_id).values_list("thread__space_id", flat=True).first()
    if space_id is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    return selectors.space_access_get(user=request_user(request), space_id=space_id)


@api
@require_POST
def api_post_like(request: HttpRequest, post_id: int) -> JsonResponse:
    access = _post_access(request, post_id)
    data = _body(request)
    up = data.get("up", True)
    if not isinstance(up, bool):
        raise DiscussionError(DiscussionErrorCode.INVALID)
    likes, liked = services.post_like(access=access, post_id=post_id, up=up)
    return JsonResponse({"post_id": post_id, "likes": likes, "liked": liked})


@api
@require_POST
def api_post_report(request: HttpRequest, post_id: int) -> JsonResponse:
    access = _post_access(request, post_id)
    data = _body(request)
    report, created = services.post_report(
        access=access,
        post_id=post_id,
        reason=_str(data.get("reason")),
        detail=_str(data.get("detail")),
    )
    return JsonResponse(
        {"report_id": report.pk, "created": created}, status=201 if created else 200
    )


@api
@require_POST
def api_post_moderate(request: HttpRequest, post_id: int) -> JsonResponse:
    access = _post_access(request, post_id)
    data = _body(request)
    post = services.post_moderate(
        access=access,
        post_id=post_id,
        action=_str(data.get("action")),
        reason=_str(data.get("reason")),
    )
    return JsonResponse({"post": post_payload(post, moderator=True)})
