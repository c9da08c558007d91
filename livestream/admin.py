"""Questions in the admin (read-mostly: moderation happens in the live console)."""

from __future__ import annotations

from django.contrib import admin

from livestream.models import Question
from portal.admin import ScopedAdminMixin


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
