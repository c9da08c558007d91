"""The in-site inbox: the notice list, opening a notice (marks it read), announcements."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.models import Announcement, InboxMessage
from portal.models import User


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    page = Paginator(selectors.inbox_list(user=user), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "unread": selectors.inbox_unread_count(user=user)},
    )


@login_required
def inbox_open(request: HttpRequest, message_id: int) -> HttpResponse:
    user = _user(request)
    try:
        message = services.inbox_mark_read(user=user, message_id=message_id)
    except InboxMessage.DoesNotExist:
        return render(request, "404.html", status=404)
    announcement = None
    if message.announcement_id:
        announcement = Announcement.objects.prefetch_related("attachments").get(
            pk=message.announcement_id
        )
    return render(
        request,
        "notifications/inbox_detail.html",
        {"message": message, "announcement": announcement},
    )


@login_required
def announcement_open(request: HttpRequest, announcement_id: int) -> HttpResponse:
    user = _user(request)
    message = get_object_or_404(InboxMessage, user=user, announcement_id=announcement_id)
    return redirect("notifications:inbox_open", message_id=message.pk)


@login_required
@require_POST
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    services.inbox_mark_all_read(user=_user(request))
    return redirect("notifications:inbox")
