"""Questions in the admin (read-mostly: moderation happens in the live console)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from livestream.models import Question, StreamKey
from livestream.streaming.services import stream_key_ensure, stream_key_rotate, stream_push_url
from portal.admin import ScopedAdminMixin, admin_user


@admin.register(Question)
class QuestionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # Not in the organisers' group by default; whoever is granted it sees only the
    # questions of the programmes their scope organises.
    scope_prefix = "lecture__programme__organiser_unit__"
    list_display = ("text", "lecture", "author", "status", "flagged", "votes", "created_at")
    list_filter = ("status", "flagged", "highlighted")
    search_fields = ("text",)
    raw_id_fields = ("lecture", "author")
    readonly_fields = ("client_id", "votes", "created_at", "approved_at", "answered_at")
    date_hierarchy = "created_at"

    list_select_related = ("lecture", "author")


@admin.register(StreamKey)
class StreamKeyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A lecture's push key, for the organisers of its programme only: the push URL with
    an OBS / ffmpeg hint, and a rotate action (the old key stops at once)."""

    scope_prefix = "lecture__programme__organiser_unit__"
    list_display = ("lecture", "rotated_at")
    list_select_related = ("lecture",)
    search_fields = ("lecture__title",)
    raw_id_fields = ("lecture",)
    actions = ("rotate",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # adding: choose the lecture; the key is made for it
            return ("lecture",)
        return ("lecture", "push_url", "encoder_hint", "rotated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("lecture", "push_url", "encoder_hint", "rotated_at")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        queryset = getattr(field, "queryset", None)
        if db_field.name == "lecture" and field is not None and queryset is not None:
            if not admin_user(request).is_superuser:
                scope = self.admin_scope(request)
                field.queryset = queryset.filter(scope.q("programme__organiser_unit__"))
        return field

    def save_model(self, request: HttpRequest, obj: StreamKey, form: Any, change: bool) -> None:
        if not change:
            made = stream_key_ensure(lecture=obj.lecture)
            obj.pk, obj.key, obj.rotated_at = made.pk, made.key, made.rotated_at
            return
        super().save_model(request, obj, form, change)

    @admin.display(description=gettext_lazy("push URL"))
    def push_url(self, obj: StreamKey) -> str:
        return stream_push_url(lecture=obj.lecture)

    @admin.display(description=gettext_lazy("encoder settings"))
    def encoder_hint(self, obj: StreamKey) -> str:
        url = stream_push_url(lecture=obj.lecture)
        server, _sep, key = url.rpartition("/")
        return _(
            "OBS: Settings → Stream → Custom; server %(server)s, stream key %(key)s. "
            "ffmpeg: ffmpeg -re -i INPUT -c:v libx264 -preset veryfast -g 50 -c:a aac "
            "-f flv %(url)s"
        ) % {"server": server, "key": key, "url": url}

    @admin.action(
        description=gettext_lazy("Issue a new push key (the old one stops working)"),
        permissions=["change"],
    )
    def rotate(self, request: HttpRequest, queryset: QuerySet[StreamKey]) -> None:
        for row in queryset.select_related("lecture"):
            stream_key_rotate(by=admin_user(request), lecture=row.lecture)
        self.message_user(request, _("New push keys issued."), messages.SUCCESS)
