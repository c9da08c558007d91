"""Study groups, membership, the report queue and hidden posts in the admin, each scoped:
groups by their unit (organisers and party-school staff, MANAGE_GROUPS), posts and reports
by the space they belong to."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from courses.models import Programme
from discussion import services
from discussion.exceptions import DiscussionError
from discussion.models import GroupMember, Post, PostReport, ProgrammeDiscussion, StudyGroup
from discussion.selectors import space_access_get
from portal.admin import ScopedAdminMixin, admin_user
from portal.scopes import Capability, scope_for


def _space_scope_q(request: HttpRequest, prefix: str) -> Q:
    """Rows of spaces the caller moderates: lecture spaces of the programmes they organise,
    study groups over their units."""
    user = admin_user(request)
    programmes = scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES)
    groups = scope_for(user=user, capability=Capability.MANAGE_GROUPS)
    return programmes.q(f"{prefix}programme__organiser_unit__") & Q(
        **{f"{prefix}kind": "lecture"}
    ) | groups.q(f"{prefix}group__unit__") & Q(**{f"{prefix}kind": "group"})


class GroupMemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "added_at")
    readonly_fields = ("added_at",)


class StudyGroupForm(forms.ModelForm):
    programme = forms.ModelChoiceField(
        queryset=Programme.objects.all(),
        label=_("programme"),
        help_text=_("Each lecture of the programme gets a thread in the group when it ends."),
    )
    members_from_unit = forms.BooleanField(
        label=_("Add every cadre of the unit"), required=False, initial=True
    )

    class Meta:
        model = StudyGroup
        fields = ("name", "description", "unit", "is_active")


@admin.register(StudyGroup)
class StudyGroupAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_capability = Capability.MANAGE_GROUPS
    scope_prefix = "unit__"
    scoped_unit_fields = ("unit",)
    form = StudyGroupForm
    list_display = ("name", "unit", "programme", "members_count", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "unit__name")
    autocomplete_fields = ("unit",)
    inlines: ClassVar[list[Any]] = [GroupMemberInline]
    actions = ("add_unit_members",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("unit", "space__programme")
            .annotate(n_members=Count("members"))
        )

    @admin.display(description=_("programme"))
    def programme(self, obj: StudyGroup) -> str:
        return str(obj.space.programme)

    @admin.display(description=_("members"), ordering="n_members")
    def members_count(self, obj: Any) -> int:
        return int(obj.n_members)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:  # the programme of an existing group does not change
            form.base_fields.pop("programme", None)
            form.base_fields.pop("members_from_unit", None)
        return form

    def save_model(self, request: HttpRequest, obj: StudyGroup, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # the unit choice is already limited to the caller's scope (scoped_unit_fields)
        group = services.group_create(
            by=admin_user(request),
            programme=form.cleaned_data["programme"],
            unit=obj.unit,
            name=obj.name,
            description=obj.description,
            members_from_unit=form.cleaned_data.get("members_from_unit", False),
        )
        obj.pk = group.pk
        obj.space_id = group.space_id
        obj.created_at = group.created_at

    @admin.action(description=_("Add every cadre of the group's unit"), permissions=["change"])
    def add_unit_members(self, request: HttpRequest, queryset: QuerySet[StudyGroup]) -> None:
        added = 0
        for group in queryset.select_related("unit"):
            added += services.group_members_add_from_unit(
                by=admin_user(request), group=group, unit=group.unit
            )
        self.message_user(
            request,
            ngettext("%(n)d member added.", "%(n)d members added.", added) % {"n": added},
            messages.SUCCESS,
        )


@admin.register(ProgrammeDiscussion)
class ProgrammeDiscussionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_prefix = "programme__organiser_unit__"
    list_display = ("programme", "moderation")
    raw_id_fields = ("programme",)


class _SpaceScoped(ScopedAdminMixin):
    space_prefix: ClassVar[str] = "thread__space__"

    def scope_filter(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        if admin_user(request).is_superuser:
            return qs
        return qs.filter(_space_scope_q(request, self.space_prefix))

    def _scope_open(self, request: HttpRequest) -> bool:
        user = admin_user(request)
        return (
            user.is_superuser
            or not scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES).is_empty
            or not scope_for(user=user, capability=Capability.MANAGE_GROUPS).is_empty
        )


@admin.register(PostReport)
class PostReportAdmin(_SpaceScoped, admin.ModelAdmin):
    """The report queue: open reports first; uphold (hides the post) or dismiss."""

    space_prefix = "post__thread__space__"
    list_display = ("post_text", "reason", "detail", "reporter", "outcome", "created_at")
    list_filter = ("outcome", "reason")
    list_select_related = ("post", "reporter")
    readonly_fields = (
        "post",
        "reporter",
        "reason",
        "detail",
        "outcome",
        "handled_by",
        "handled_at",
        "created_at",
    )
    actions = ("uphold", "dismiss")
    ordering = ("outcome", "-created_at")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    @admin.display(description=_("post"))
    def post_text(self, obj: PostReport) -> str:
        return obj.post.text[:80]

    def _resolve(self, request: HttpRequest, queryset: QuerySet[PostReport], outcome: str) -> None:
        try:
            done = services.report_resolve(
                by=admin_user(request),
                report_ids=list(queryset.values_list("pk", flat=True)),
                outcome=outcome,
            )
        except DiscussionError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(n)d report handled.", "%(n)d reports handled.", done) % {"n": done},
            messages.SUCCESS,
        )

    @admin.action(description=_("Uphold: hide the posts"), permissions=["change"])
    def uphold(self, request: HttpRequest, queryset: QuerySet[PostReport]) -> None:
        self._resolve(request, queryset, PostReport.Outcome.UPHELD)

    @admin.action(description=_("Dismiss: keep the posts"), permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[PostReport]) -> None:
        self._resolve(request, queryset, PostReport.Outcome.DISMISSED)


@admin.register(Post)
class PostAdmin(_SpaceScoped, admin.ModelAdmin):
    """Posts, filterable to the hidden ones with their reasons (moderation happens on the
    discussion pages; restoring here goes through the same use case)."""

    list_display = ("text_short", "author", "thread", "status", "flagged", "hidden_reason")
    list_filter = ("status", "flagged", "reviewed")
    search_fields = ("text",)
    list_select_related = ("author", "thread")
    readonly_fields = (
        "thread",
        "author",
        "parent",
        "text",
        "status",
        "flagged",
        "reviewed",
        "hidden_reason",
        "hidden_by",
        "hidden_at",
        "like_count",
        "mentions",
        "client_id",
        "created_at",
    )
    actions = ("restore",)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    @admin.display(description=_("text"))
    def text_short(self, obj: Post) -> str:
        return obj.text[:80]

    @admin.action(description=_("Restore the hidden posts"), permissions=["change"])
    def restore(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        done = 0
        for post in queryset.filter(status=Post.Status.HIDDEN).select_related("thread"):
            try:
                access = space_access_get(user=admin_user(request), space_id=post.thread.space_id)
                services.post_moderate(access=access, post_id=post.pk, action="restore")
            except DiscussionError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            done += 1
        self.message_user(
            request,
            ngettext("%(n)d post restored.", "%(n)d posts restored.", done) % {"n": done},
            messages.SUCCESS,
        )
