"""Questions in the admin (read-mostly: moderation happens in the live console)."""

from __future__ import annotations

from django.contrib import admin

from livestream.models import Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "lecture", "author", "status", "flagged", "votes", "created_at")
    list_filter = ("status", "flagged", "highlighted")
    search_fields = ("text",)
    raw_id_fields = ("lecture", "author")
    readonly_fields = ("client_id", "votes", "created_at", "approved_at", "answered_at")
    date_hierarchy = "created_at"

    list_select_related = ("lecture", "author")
