"""Read use cases of the discussion: who may enter a space, threads, posts, unread counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from courses.models import Lecture
from courses.selectors import enrolment_get_active, lecture_is_moderator, user_in_audience
from discussion.events import PostPayload, ThreadPayload, post_payload, thread_payload
from discussion.exceptions import DiscussionError, DiscussionErrorCode
from discussion.models import (
    GroupMember,
    Post,
    PostLike,
    PostReport,
    ReadMarker,
    Space,
    StudyGroup,
    Thread,
    UnitActivity,
)
from portal.models import User
from portal.scopes import Capability, scope_for

Role = Literal["member", "moderator"]
POSTS_PAGE = 200


@dataclass(frozen=True)
class SpaceAccess:
    """An authorised seat in a discussion space."""

    user: User
    space: Space
    role: Role
    leader: bool = False  # a study group's leader (moderates it, starts topic threads)

    @property
    def is_moderator(self) -> bool:
        return self.role == "moderator"

    @property
    def can_start_threads(self) -> bool:
        """Lecture spaces: everyone in them; study groups: leaders and staff."""
        return self.space.kind == Space.Kind.LECTURE or self.is_moderator

    @property
    def is_open(self) -> bool:
        return self.is_moderator or space_is_open(space=self.space)


def space_is_open(*, space: Space, now: datetime | None = None) -> bool:
    """A lecture space opens when the lecture ends (or when organisers opened it)."""
    if space.kind != Space.Kind.LECTURE:
        return True
    now = now or timezone.now()
    if space.opens_at is not None and space.opens_at <= now:
        return True
    lecture = space.lecture
    return lecture is not None and lecture.status_at(now) == Lecture.Status.ENDED


def _space_queryset() -> QuerySet[Space]:
    return Space.objects.select_related(
        "programme",
        "programme__organiser_unit",
        "lecture",
        "lecture__programme",
        "lecture__programme__organiser_unit",
        "group",
        "group__unit",
    )


def group_can_manage(*, user: User, group: StudyGroup) -> bool:
    """Organisers and party-school staff over the group's unit manage it."""
    return scope_for(user=user, capability=Capability.MANAGE_GROUPS).contains(group.unit)


def space_access(*, user: User, space: Space) -> SpaceAccess:
    """Authorise ``user`` in ``space``. Raises ``DiscussionError`` NOT_SIGNED_IN / NOT_FOUND /
    FORBIDDEN: lecture spaces follow the live room's rule (moderators; cadres enrolled in
    the programme or in its audience), study groups admit their members, their leaders
    and the staff over their unit."""
    if not user.is_authenticated or not user.is_active:
        raise DiscussionError(DiscussionErrorCode.NOT_SIGNED_IN)
    if space.kind == Space.Kind.LECTURE:
        lecture = space.lecture
        if lecture is None:
            raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
        if lecture_is_moderator(user=user, lecture=lecture):
            return SpaceAccess(user=user, space=space, role="moderator")
        programme = lecture.programme
        if not programme.is_published:
            raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
        if enrolment_get_active(user=user, programme_id=programme.pk) is not None or (
            user_in_audience(user=user, programme=programme)
        ):
            return SpaceAccess(user=user, space=space, role="member")
        raise DiscussionError(DiscussionErrorCode.FORBIDDEN)
    group = getattr(space, "group", None)
    if group is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    manager = group_can_manage(user=user, group=group)
    if not group.is_active and not manager:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    role = GroupMember.objects.filter(group=group, user=user).values_list("role", flat=True).first()
    leader = role == GroupMember.Role.LEADER
    if manager or leader:
        return SpaceAccess(user=user, space=space, role="moderator", leader=leader)
    if role is not None:
        return SpaceAccess(user=user, space=space, role="member")
    raise DiscussionError(DiscussionErrorCode.FORBIDDEN)


def space_access_get(*, user: User, space_id: int) -> SpaceAccess:
    space = _space_queryset().filter(pk=space_id).first()
    if space is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    return space_access(user=user, space=space)


def space_get_for_lecture(*, lecture_id: int) -> Space | None:
    return _space_queryset().filter(lecture_id=lecture_id).first()


def group_space_access_get(*, user: User, group_id: int) -> SpaceAccess:
    space = _space_queryset().filter(group__pk=group_id).first()
    if space is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    return space_access(user=user, space=space)


def thread_access_get(*, user: User, thread_id: int) -> tuple[SpaceAccess, Thread]:
    thread = Thread.objects.select_related("author").filter(pk=thread_id).first()
    if thread is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    access = space_access_get(user=user, space_id=thread.space_id)
    thread.space = access.space
    return access, thread


def thread_get_in_space(*, access: SpaceAccess, thread_id: int, lock: bool = False) -> Thread:
    qs = Thread.objects.filter(pk=thread_id, space=access.space)
    if lock:
        qs = qs.select_for_update()
    thread = qs.first()
    if thread is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    return thread


def _visible_posts(access: SpaceAccess) -> Q:
    if access.is_moderator:
        return Q()
    return Q(status=Post.Status.PUBLISHED) | Q(author=access.user)


def post_get_visible(*, access: SpaceAccess, post_id: int) -> Post:
    post = (
        Post.objects.select_related("thread", "author", "author__unit")
        .filter(_visible_posts(access), pk=post_id, thread__space=access.space)
        .first()
    )
    if post is None:
        raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
    return post


def post_payloads(*, access: SpaceAccess, posts: Iterable[Post]) -> list[PostPayload]:
    posts = list(posts)
    liked = set(
        PostLike.objects.filter(user=access.user, post__in=posts).values_list("post_id", flat=True)
    )
    return [
        post_payload(
            p,
            liked=p.pk in liked,
            moderator=access.is_moderator,
            own=p.author_id == access.user.pk,
        )
        for p in posts
    ]


def post_list_for_thread(
    *, access: SpaceAccess, thread: Thread, after_id: int = 0, limit: int = POSTS_PAGE
) -> list[PostPayload]:
    """The thread's posts the reader may see, oldest first (``after_id``: only newer)."""
    posts = (
        Post.objects.select_related("author", "author__unit")
        .filter(_visible_posts(access), thread=thread, pk__gt=after_id)
        .order_by("pk")[:limit]
    )
    return post_payloads(access=access, posts=posts)


def _unread_subquery(user: User) -> Subquery:
    marker = ReadMarker.objects.filter(user=user, thread=OuterRef("thread_id")).values(
        "last_post_id"
    )[:1]
    return Subquery(marker)


def unread_by_thread(*, user: User, thread_ids: Iterable[int]) -> dict[int, int]:
    """Published posts by others newer than the reader's marker, per thread (one query on
    the (thread, status, id) index; no row per user per post anywhere)."""
    ids = list(thread_ids)
    if not ids:
        return {}
    rows = (
        Post.objects.filter(thread_id__in=ids, status=Post.Status.PUBLISHED)
        .exclude(author=user)
        .annotate(seen=Coalesce(_unread_subquery(user), 0))
        .filter(pk__gt=F("seen"))
        .values("thread_id")
        .annotate(n=Count("id"))
        .values_list("thread_id", "n")
    )
    return dict(rows)


def thread_list_for_space(*, access: SpaceAccess) -> list[ThreadPayload]:
    threads = list(
        Thread.objects.select_related("author")
        .filter(space=access.space)
        .order_by("-pinned", F("last_post_at").desc(nulls_last=True), "-pk")[:200]
    )
    unread = unread_by_thread(user=access.user, thread_ids=[t.pk for t in threads])
    return [thread_payload(t, unread=unread.get(t.pk, 0)) for t in threads]


@dataclass(frozen=True)
class GroupRow:
    group: StudyGroup
    unread: int
    members: int
    role: str  # member / leader / staff
    posts: int = 0  # the group's summary (UnitActivity), for leaders and staff
    participants: int = 0


def group_list_for_user(*, user: User) -> list[GroupRow]:
    """The groups ``user`` belongs to (then those they manage), with unread counts."""
    memberships = dict(
        GroupMember.objects.filter(user=user, group__is_active=True).values_list("group_id", "role")
    )
    managed_ids: set[int] = set()
    scope = scope_for(user=user, capability=Capability.MANAGE_GROUPS)
    if not scope.is_empty:
        managed_ids = set(
            StudyGroup.objects.filter(scope.q("unit__")).values_list("pk", flat=True)[:500]
        )
    ids = set(memberships) | managed_ids
    groups = list(
        StudyGroup.objects.filter(pk__in=ids)
        .select_related("unit", "space")
        .annotate(n_members=Count("members"))
    )
    thread_space = dict(
        Thread.objects.filter(space__group__in=groups).values_list("pk", "space_id")
    )
    unread_threads = unread_by_thread(user=user, thread_ids=thread_space)
    unread_space: dict[int, int] = {}
    for thread_id, n in unread_threads.items():
        space_id = thread_space[thread_id]
        unread_space[space_id] = unread_space.get(space_id, 0) + n
    activity = {
        space_id: (posts or 0, people or 0)
        for space_id, posts, people in UnitActivity.objects.filter(
            space_id__in=[g.space_id for g in groups]
        )
        .values("space_id")
        .annotate(p=Sum("posts"), n=Sum("participants"))
        .values_list("space_id", "p", "n")
    }
    rows = [
        GroupRow(
            group=g,
            unread=unread_space.get(g.space_id, 0) if g.pk in memberships else 0,
            members=g.n_members,
            role=memberships.get(g.pk, "staff"),
            posts=activity.get(g.space_id, (0, 0))[0],
            participants=activity.get(g.space_id, (0, 0))[1],
        )
        for g in groups
    ]
    # members' groups first (by creation: the demo's township group leads), then managed
    rows.sort(key=lambda r: (r.role == "staff", r.group.created_at, r.group.pk))
    return rows


def review_posts(*, access: SpaceAccess, limit: int = 100) -> list[PostPayload]:
    """For moderators: posts awaiting review (held or flagged, not yet reviewed)."""
    if not access.is_moderator:
        raise DiscussionError(DiscussionErrorCode.FORBIDDEN)
    posts = (
        Post.objects.select_related("author", "author__unit")
        .filter(thread__space=access.space, flagged=True, reviewed=False)
        .exclude(status=Post.Status.HIDDEN)
        .order_by("pk")[:limit]
    )
    return post_payloads(access=access, posts=posts)


def report_counts_open(*, access: SpaceAccess) -> dict[int, int]:
    """Open reports per post of the space (moderators' badges)."""
    if not access.is_moderator:
        return {}
    return dict(
        PostReport.objects.filter(post__thread__space=access.space, outcome=PostReport.Outcome.OPEN)
        .values("post_id")
        .annotate(n=Count("id"))
        .values_list("post_id", "n")
    )
