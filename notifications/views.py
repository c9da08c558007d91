"""The in-site inbox: the notice list, opening a notice (marks it read), announcements and
their attachments (access-checked downloads), and the user's own notice settings."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications import selectors, services
from notifications.attachments import attachment_response
from notifications.exceptions import NotifyError
from notifications.forms import NoticePreferenceForm
from notifications.models import Announcement, Channel, InboxMessage
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


@login_required
@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    """An announcement attachment, for its recipients and the organisers in scope only."""
    attachment = selectors.attachment_get_for_user(user=_user(request), attachment_id=attachment_id)
    return attachment_response(attachment=attachment)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Which push channels in which order, opt-outs, and the user's (masked) bindings."""
    user = _user(request)
    programmes = selectors.programme_list_for_notice_prefs(user=user)
    if request.method == "POST":
        form = NoticePreferenceForm(request.POST, programmes=programmes)
        if form.is_valid():
            try:
                services.notify_preference_update(
                    user=user,
                    channel_order=form.cleaned_data["channel_order"],
                    opted_out=form.cleaned_data["opted_out"],
                    programme_opt_outs=[p.pk for p in form.cleaned_data["programmes"]],
                )
            except NotifyError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Your notice settings have been saved."))
                return redirect("notifications:preferences")
    else:
        preference = selectors.notify_preference_get(user=user)
        form = NoticePreferenceForm(
            initial=NoticePreferenceForm.initial_for(
                channel_order=preference.channel_order if preference else "",
                opted_out=preference.opted_out if preference else False,
                programme_ids=selectors.programme_opt_out_ids(user=user),
            ),
            programmes=programmes,
        )
    labels = dict(Channel.choices)
    return render(
        request,
        "notifications/preferences.html",
        {
            "form": form,
            "bindings": selectors.binding_list_for_user(user=user),
            "route": [labels[c] for c in services.notice_route_for_user(user=user)],
            "default_order": [
                labels[c] for c in settings.NOTIFY_DEFAULT_CHANNEL_ORDER if c in labels
            ],
            "enabled": [labels[c] for c in settings.NOTIFY_CHANNELS if c in labels],
            "wechat_bind_url": _wechat_bind_url(),
        },
    )


def _wechat_bind_url() -> str:
    """allauth's WeChat login URL in connect mode (signin.weixin), when WeChat binding is
    configured: the official account of the template messages."""
    if not (
        settings.WECHAT_BINDING and settings.NOTIFY_WECHAT_APPID and settings.NOTIFY_WECHAT_SECRET
    ):
        return ""
    try:
        return reverse("weixin_login")
    except NoReverseMatch:
        return ""
