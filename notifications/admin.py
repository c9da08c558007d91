"""Organiser admin for notices.

Per reminder: counts by channel and state (live while sending), failures as CSV, resend
failed, cancel, a preview of every channel's text and "send a test to me". Per user: the
delivery history (Deliveries filtered by user). Everything is limited to the programmes
the caller manages (``portal.admin.ScopedAdminMixin`` over the programme's organising unit,
the same rule as ``courses.selectors.programme_list_managed``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from courses.models import Lecture
from courses.selectors import programme_list_managed
from notifications import selectors, services
from notifications.exceptions import NotifyError
from notifications.models import (
    Announcement,
    AnnouncementAttachment,
    Channel,
    ChannelBinding,
    ChannelState,
    Delivery,
    MessageTemplate,
    NotifyPreference,
    RankingDispatch,
    RankingSubscription,
    Reminder,
    ReminderKind,
)
from notifications.providers.base import ProviderError
from notifications.rendering import render_text, sample_context
from portal.admin import ScopedAdminMixin, admin_user
from portal.exports import export_response
from portal.models import mask_phone
from portal.services import audit_log_write

PROGRAMME_SCOPE = "lecture__programme__organiser_unit__"


def _paused_warning(request: HttpRequest) -> None:
    for state in ChannelState.objects.filter(paused=True):
        messages.error(
            request,
            gettext(
                "The %(channel)s channel is paused after a provider error (%(reason)s). "
                "Fix the account, then resume it under Channel states."
            )
            % {"channel": state.get_channel_display(), "reason": state.reason},
        )


class ReminderForm(forms.ModelForm):
    class Meta:
        model = Reminder
        fields = ("lecture", "kind", "due_at", "note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # 通报 reminders are made by ranking subscriptions (below), digests by the discussion
        # app (notifications/services/digests.py), never by hand.
        machine_made = (ReminderKind.RANKING, ReminderKind.DIGEST)
        kind = self.fields.get("kind")
        if isinstance(kind, forms.ChoiceField):
            own = self.instance.kind if self.instance.pk else None
            kind.choices = [
                c for c in ReminderKind.choices if c[0] not in machine_made or c[0] == own
            ]
        # The column is nullable for digests only: anything made here is about a lecture.
        lecture = self.fields.get("lecture")
        if lecture is not None:
            lecture.required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        due_at = data.get("due_at")
        lecture: Lecture | None = data.get("lecture")
        kind = data.get("kind")
        changed = not self.instance.pk or "due_at" in self.changed_data
        if due_at and changed and due_at < timezone.now():
            self.add_error("due_at", gettext("The reminder time is in the past."))
        if (
            lecture is not None
            and kind in (ReminderKind.REMINDER_24H, ReminderKind.REMINDER_1H)
            and Reminder.objects.filter(lecture=lecture, kind=kind)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("kind", gettext("This lecture already has a reminder of this kind."))
        if self.instance.pk and self.instance.status != Reminder.Status.SCHEDULED:
            raise ValidationError(gettext("Only scheduled reminders can be edited."))
        return data


@admin.register(Reminder)
class ReminderAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = PROGRAMME_SCOPE
    form = ReminderForm
    list_display = ("lecture", "kind", "due_at", "status", "recipients", "progress")
    list_filter = ("status", "kind")
    search_fields = ("lecture__title", "lecture__programme__title")
    date_hierarchy = "due_at"
    readonly_fields = (
        "status",
        "recipients",
        "planned_at",
        "finished_at",
        "counts",
        "preview",
        "addressed_to",
    )
    actions = ("cancel_reminders", "resend_failed", "export_failures", "send_test_to_me")
    list_select_related = ("lecture", "lecture__programme")

    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        qs = super().scope_filter(request, qs)
        if admin_user(request).is_superuser:
            return qs
        # A digest has no programme, so no organiser's area holds it: said outright rather
        # than left to the scope filter's join, which an unrestricted scope (no filter)
        # would not make.
        return qs.exclude(lecture__isnull=True)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.kind == ReminderKind.DIGEST:
            fields = ["kind", "due_at", "note", "addressed_to"]
        else:
            fields = ["lecture", "kind", "due_at", "note"]
        if obj is not None:
            fields += ["status", "recipients", "planned_at", "finished_at", "counts", "preview"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Digests are shown, never edited: their audience is not a field of this form.
        if obj is not None and obj.kind == ReminderKind.DIGEST:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("addressed to"))
    def addressed_to(self, obj: Reminder) -> str:
        n = obj.explicit_recipients.count()
        return ngettext("%(n)d person", "%(n)d people", n) % {"n": n}

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        user = admin_user(request)
        if db_field.name == "lecture" and field is not None and not user.is_superuser:
            field.queryset = Lecture.objects.filter(programme__in=programme_list_managed(user=user))
            field.error_messages["invalid_choice"] = gettext(
                "This lecture does not exist or is outside your area."
            )
        return field

    def save_model(self, request: HttpRequest, obj: Reminder, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = admin_user(request)
        super().save_model(request, obj, form, change)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _paused_warning(request)
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("progress"))
    def progress(self, obj: Reminder) -> str:
        counts = selectors.reminder_counts(reminder_id=obj.pk)
        total: dict[str, int] = {}
        for states in counts.values():
            for state, n in states.items():
                total[state] = total.get(state, 0) + n
        labels = dict(Delivery.Status.choices)
        return " · ".join(f"{labels.get(s, s)} {n}" for s, n in sorted(total.items()))

    @admin.display(description=_("by channel and state"))
    def counts(self, obj: Reminder) -> SafeString:
        counts = selectors.reminder_counts(reminder_id=obj.pk)
        if not counts:
            return format_html("<p>{}</p>", gettext("Nothing planned yet."))
        labels = dict(Delivery.Status.choices)
        channels = dict(Channel.choices)
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            (
                (
                    channels.get(ch, ch),
                    " · ".join(f"{labels.get(s, s)} {n}" for s, n in sorted(states.items())),
                )
                for ch, states in sorted(counts.items())
            ),
        )
        failures_url = reverse("admin:notifications_delivery_changelist")
        html = format_html(
            '<table>{}</table><p><a href="{}?reminder__id__exact={}&amp;status__exact=failed">'
            "{}</a></p>",
            rows,
            failures_url,
            obj.pk,
            gettext("Failed deliveries"),
        )
        if obj.status in (Reminder.Status.PLANNING, Reminder.Status.DISPATCHING):
            # live progress: the change page reloads itself while the reminder is sending
            html += format_html(
                '<p class="help">{}</p><script src="{}" data-seconds="10"></script>',
                gettext("Sending… this page refreshes every 10 seconds."),
                static("js/admin-refresh.js"),
            )
        return html

    @admin.display(description=_("preview"))
    def preview(self, obj: Reminder) -> SafeString:
        items = []
        for channel in [Channel.INBOX.value, *settings.NOTIFY_CHANNELS]:
            text = services.message_render(reminder=obj, channel=channel)
            items.append((dict(Channel.choices).get(channel, channel), text.subject, text.body))
        return format_html(
            "<dl>{}</dl>",
            format_html_join("", "<dt>{} · {}</dt><dd>{}</dd>", items),
        )

    # -- actions -------------------------------------------------------------------------------
    @admin.action(description=_("Cancel the selected reminders"))
    def cancel_reminders(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        cancelled = 0
        for reminder in queryset:
            try:
                services.reminder_cancel(reminder_id=reminder.pk, by=admin_user(request))
                cancelled += 1
            except NotifyError as exc:
                messages.error(request, f"{reminder}: {exc.message}")
        if cancelled:
            messages.success(
                request,
                ngettext("%(n)d reminder cancelled.", "%(n)d reminders cancelled.", cancelled)
                % {"n": cancelled},
            )

    @admin.action(description=_("Resend failed deliveries"))
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        total = sum(
            services.reminder_resend_failed(reminder_id=r.pk, by=admin_user(request))
            for r in queryset
        )
        if total:
            from notifications.tasks import dispatch_kick

            dispatch_kick()
        messages.success(
            request,
            ngettext("%(n)d delivery queued again.", "%(n)d deliveries queued again.", total)
            % {"n": total},
        )

    @admin.action(description=_("Export failed deliveries (CSV)"))
    def export_failures(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> Any:
        rows = (
            Delivery.objects.filter(reminder__in=queryset, status=Delivery.Status.FAILED)
            .select_related("user", "reminder")
            .order_by("reminder_id", "id")
        )
        services_audit(request, "notify.export_failures", [r.pk for r in queryset])

        headers = [
            gettext("reminder"),
            gettext("user"),
            gettext("full name"),
            gettext("channel"),
            gettext("address"),
            gettext("attempts"),
            gettext("error code"),
            gettext("error detail"),
            gettext("updated"),
        ]

        def _rows() -> Iterator[list[Any]]:
            for d in rows.iterator(chunk_size=2000):
                address = mask_phone(d.address) if d.channel == Channel.SMS else d.address
                yield [
                    d.reminder_id,
                    d.user.username,
                    d.user.display_name,
                    d.channel,
                    address,
                    d.attempts,
                    d.error_code,
                    d.error_detail,
                    timezone.localtime(d.updated_at).strftime("%Y-%m-%d %H:%M:%S"),
                ]

        return export_response(
            fmt="csv", filename="failed-deliveries", headers=headers, rows=_rows()
        )

    @admin.action(description=_("Send a test to me"))
    def send_test_to_me(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        user = admin_user(request)
        for reminder in queryset[:5]:
            for channel in [Channel.INBOX.value, *settings.NOTIFY_CHANNELS]:
                try:
                    services.notice_send_test(reminder=reminder, user=user, channel=channel)
                    messages.success(
                        request,
                        gettext("Test of “%(reminder)s” sent on %(channel)s.")
                        % {"reminder": reminder, "channel": channel},
                    )
                except NotifyError as exc:
                    messages.warning(request, f"{channel}: {exc.message}")
                except ProviderError as exc:
                    messages.error(request, f"{channel}: {exc.code} {exc.detail}")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "channel/<str:channel>/resume/",
                self.admin_site.admin_view(self.resume_channel),
                name="notifications_channel_resume",
            ),
            *super().get_urls(),
        ]

    def resume_channel(self, request: HttpRequest, channel: str) -> HttpResponse:
        if request.method != "POST" or not admin_user(request).is_superuser:
            raise PermissionDenied
        services.channel_resume(channel=channel, by=admin_user(request))
        return redirect("admin:notifications_reminder_changelist")


def services_audit(request: HttpRequest, action: str, ids: list[int]) -> None:

    audit_log_write(
        user=admin_user(request), action=action, target="reminders", detail={"ids": ids[:100]}
    )


@admin.register(Delivery)
class DeliveryAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The outbox, read-only: per-user history is this list filtered by user."""

    scope_prefix = "reminder__" + PROGRAMME_SCOPE
    list_display = (
        "reminder",
        "user",
        "channel",
        "hop",
        "status",
        "attempts",
        "error_code",
        "updated_at",
    )
    list_filter = ("status", "channel")
    search_fields = ("user__username", "user__full_name", "=user__phone")
    list_select_related = ("reminder", "reminder__lecture", "user")
    show_full_result_count = False

    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        qs = super().scope_filter(request, qs)
        if admin_user(request).is_superuser:
            return qs
        return qs.exclude(reminder__lecture__isnull=True)  # digests: superusers only

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ("channel", "kind", "subject", "body")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("channel", "kind", "updated_at")
    readonly_fields = ("sample",)
    fields = ("channel", "kind", "subject", "body", "sample")

    @admin.display(description=_("preview with sample data"))
    def sample(self, obj: MessageTemplate) -> str:
        if not obj.pk:
            return ""
        return render_text(obj.body, sample_context(), channel=obj.channel)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_user(request).is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_user(request).is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return admin_user(request).is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_user(request).is_superuser


@admin.register(ChannelBinding)
class ChannelBindingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "user__unit__"
    list_display = ("user", "channel", "masked_address", "appid", "verified")
    list_filter = ("channel", "verified")
    search_fields = ("user__username", "user__full_name")
    raw_id_fields = ("user",)

    @admin.display(description=_("address"))
    def masked_address(self, obj: ChannelBinding) -> str:
        return mask_phone(obj.address) if obj.channel == Channel.SMS else obj.address


@admin.register(NotifyPreference)
class NotifyPreferenceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "user__unit__"
    list_display = ("user", "channel_order", "opted_out")
    raw_id_fields = ("user",)
    search_fields = ("user__username", "user__full_name")

    def save_model(
        self, request: HttpRequest, obj: NotifyPreference, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if obj.opted_out:  # the admin's save is one transaction: withdraw in it
            services.delivery_withdraw_opted_out(
                user=obj.user, programme_ids=None, by=admin_user(request)
            )


@admin.register(ChannelState)
class ChannelStateAdmin(admin.ModelAdmin):
    list_display = ("channel", "paused", "reason", "paused_at")
    actions = ("resume",)

    @admin.action(description=_("Resume the selected channels"))
    def resume(self, request: HttpRequest, queryset: QuerySet[ChannelState]) -> None:
        for state in queryset:
            services.channel_resume(channel=state.channel, by=admin_user(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_user(request).is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_user(request).is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_user(request).is_superuser


class _ProtectedLink:
    def __init__(self, url: str, text: str) -> None:
        self.url = url
        self.text = text

    def __str__(self) -> str:
        return self.text


class ProtectedFileWidget(AdminFileWidget):
    """Links the current file through the access-checked download view, not its media URL."""

    def format_value(self, value: Any) -> Any:
        value = super().format_value(value)
        instance = getattr(value, "instance", None)
        pk = getattr(instance, "pk", None)
        if value and pk:
            url = reverse("notifications:attachment_download", args=[pk])
            return _ProtectedLink(url, str(instance))
        return value


class AttachmentInline(admin.TabularInline):
    model = AnnouncementAttachment
    extra = 1
    formfield_overrides = {
        models.FileField: {"widget": ProtectedFileWidget},
    }


@admin.register(Announcement)
class AnnouncementAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "unit__"
    list_display = ("title", "unit", "published_at", "published_by")
    readonly_fields = ("published_at", "published_by")
    inlines = (AttachmentInline,)
    actions = ("publish",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "unit":
            self.limit_to_scope(request, field)
        return field

    @admin.action(description=_("Publish to the inboxes of the unit's subtree"))
    def publish(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        for announcement in queryset:
            n = services.announcement_publish(announcement=announcement, by=admin_user(request))
            messages.success(
                request,
                gettext("“%(title)s” delivered to %(n)d inboxes.")
                % {"title": announcement.title, "n": n},
            )


# ---------------------------------------------------------------------------
# 通报 (ranking) subscriptions (notifications/services/bulletins.py)
# ---------------------------------------------------------------------------
class RankingSubscriptionForm(forms.ModelForm):
    class Meta:
        model = RankingSubscription
        fields = ("programme", "level", "unit", "rank_by", "active")

    def clean(self) -> dict[str, Any]:
        from courses.reports.ranking import level_is_below

        data = super().clean() or {}
        unit = data.get("unit")
        level = data.get("level")
        if unit is not None and level and not level_is_below(level=level, unit=unit):
            self.add_error(
                "level", gettext("There are no units of this level inside the chosen unit.")
            )
        programme = data.get("programme")
        if programme is not None and level and data.get("active"):
            clash = RankingSubscription.objects.filter(
                programme=programme, level=level, unit=unit, active=True
            ).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    gettext("An active subscription for this programme, level and unit exists.")
                )
        return data


class RankingDispatchInline(admin.TabularInline):
    model = RankingDispatch
    extra = 0
    can_delete = False
    fields = ("lecture", "created_at", "units", "reminder", "summary")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RankingSubscription)
class RankingSubscriptionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Send the ranking after every lecture; limited to the programmes the caller manages."""

    scope_prefix = "programme__organiser_unit__"
    form = RankingSubscriptionForm
    list_display = ("programme", "level", "unit", "rank_by", "active", "created_by", "sent")
    list_filter = ("active", "level")
    list_select_related = ("programme", "unit", "created_by")
    search_fields = ("programme__title",)
    inlines = (RankingDispatchInline,)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        user = admin_user(request)
        if db_field.name == "programme" and field is not None and not user.is_superuser:
            field.queryset = programme_list_managed(user=user)
            field.error_messages["invalid_choice"] = gettext(
                "This programme does not exist or is outside your area."
            )
        if db_field.name == "unit":
            self.limit_to_scope(request, field)
        return field

    def save_model(
        self, request: HttpRequest, obj: RankingSubscription, form: Any, change: bool
    ) -> None:
        if not change:
            obj.created_by = admin_user(request)
        super().save_model(request, obj, form, change)

    @admin.display(description=_("sent after lectures"))
    def sent(self, obj: RankingSubscription) -> int:
        return obj.dispatches.count()
