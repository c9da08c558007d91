"""Organisers see the certificates of cadres in their area and revoke them (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from courses.models import Lecture
from learning.forms import QuizForm
from learning.models import Certificate, Evaluation, Quiz, QuizChoice, QuizQuestion
from learning.quizzes import quiz_import_xlsx, quiz_item_analysis
from learning.services import CertificateError, certificate_revoke
from learning.views import verify_url
from portal.admin import ScopedAdminMixin, admin_user


class RevokeForm(ActionForm):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=200, help_text=_("For revoking.")
    )


@admin.register(Certificate)
class CertificateAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "user__unit__"
    action_form = RevokeForm
    actions = ("revoke",)
    list_display = (
        "serial",
        "kind",
        "name",
        "unit_name",
        "year",
        "programme",
        "hours",
        "issued_at",
        "state",
    )
    list_filter = ("kind", "year", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("serial", "name", "user__username")
    date_hierarchy = "issued_at"
    readonly_fields = (
        "serial",
        "kind",
        "user",
        "year",
        "programme",
        "name",
        "unit_name",
        "unit_level",
        "issuer",
        "hours",
        "lectures",
        "issued_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
        "verify_link",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # issued from the study record only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the verify page must keep saying so

    @admin.display(description=_("State"))
    def state(self, obj: Certificate) -> str:
        return gettext("Revoked") if obj.is_revoked else gettext("Valid")

    @admin.display(description=_("Verify page"))
    def verify_link(self, obj: Certificate) -> str:
        url = verify_url(obj.serial)
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.action(description=_("Revoke the selected certificates"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Certificate]) -> None:
        reason = str(request.POST.get("reason", "")).strip()
        if not reason:
            self.message_user(request, gettext("Give a reason for revoking."), messages.ERROR)
            return
        done = 0
        for certificate in queryset:
            try:
                certificate_revoke(certificate=certificate, by=admin_user(request), reason=reason)
                done += 1
            except CertificateError:
                continue  # already revoked
        self.message_user(
            request,
            ngettext("%(n)s certificate revoked.", "%(n)s certificates revoked.", done)
            % {"n": done},
            messages.SUCCESS,
        )


# ---------------------------------------------------------------------------
# Tests and ratings: organisers over the lecture's programme
# ---------------------------------------------------------------------------
class QuizQuestionInline(admin.StackedInline):
    model = QuizQuestion
    extra = 1
    fields = ("position", "kind", "text", "choices_link")
    readonly_fields = ("choices_link",)
    show_change_link = True

    @admin.display(description=_("Choices"))
    def choices_link(self, obj: QuizQuestion) -> str:
        if obj.pk is None:
            return gettext("Save first, then enter the choices.")
        choices = " / ".join(("✔ " if c.correct else "") + c.text for c in obj.choices.all())
        return choices or gettext("No choices yet.")


@admin.register(Quiz)
class QuizAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "lecture__programme__organiser_unit__"
    list_display = ("lecture", "pass_percent", "attempts_allowed", "opens_at", "is_published")
    list_filter = ("is_published",)
    search_fields = ("lecture__title", "lecture__programme__title")
    autocomplete_fields = ("lecture",)
    inlines = (QuizQuestionInline,)
    readonly_fields = ("item_analysis",)
    fields = (
        "lecture",
        ("pass_percent", "attempts_allowed"),
        ("opens_at", "closes_at"),
        "shuffle",
        "is_published",
        "xlsx",
        "item_analysis",
    )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "lecture" and not admin_user(request).is_superuser:
            # only lectures of the organiser's own programmes
            prefix = "programme__organiser_unit__"
            kwargs["queryset"] = Lecture.objects.filter(self.admin_scope(request).q(prefix))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = QuizForm
        return super().get_form(request, obj, change, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        upload = form.cleaned_data.get("xlsx")
        if upload:
            added = quiz_import_xlsx(quiz=form.instance, rows=form.xlsx_rows)
            self.message_user(
                request,
                ngettext("%(n)s question imported.", "%(n)s questions imported.", added)
                % {"n": added},
                messages.SUCCESS,
            )

    @admin.display(description=_("Item analysis"))
    def item_analysis(self, obj: Quiz) -> str:
        if obj.pk is None:
            return "—"
        lines = [
            format_html(
                "<li>{}：{}% ({})</li>",
                stat.question.text[:40],
                round(stat.correct_share * 100),
                ngettext("%(n)s answer", "%(n)s answers", stat.answered) % {"n": stat.answered},
            )
            for stat in quiz_item_analysis(quiz=obj)
        ]
        return format_html("<ul>{}</ul>", format_html_join("", "{}", ((line,) for line in lines)))


class QuizChoiceInline(admin.TabularInline):
    model = QuizChoice
    extra = 4
    fields = ("position", "text", "correct")


@admin.register(QuizQuestion)
class QuizQuestionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "quiz__lecture__programme__organiser_unit__"
    list_display = ("text", "quiz", "kind", "position")
    search_fields = ("text",)
    inlines = (QuizChoiceInline,)
    fields = ("quiz", "position", "kind", "text")
    autocomplete_fields = ("quiz",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "quiz" and not admin_user(request).is_superuser:
            prefix = "lecture__programme__organiser_unit__"
            kwargs["queryset"] = Quiz.objects.filter(self.admin_scope(request).q(prefix))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Evaluation)
class EvaluationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Each cadre's rating (organisers; the speaker sees the anonymous summary)."""

    scope_prefix = "lecture__programme__organiser_unit__"
    list_display = (
        "lecture",
        "user",
        "relevance",
        "theory",
        "information",
        "delivery",
        "manner",
        "flagged",
        "updated_at",
    )
    list_filter = ("flagged", "relevance")
    search_fields = ("lecture__title", "user__full_name", "comment")
    readonly_fields = (
        "lecture",
        "user",
        "relevance",
        "theory",
        "information",
        "delivery",
        "manner",
        "comment",
        "flagged",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False
