"""Write use cases of the discussion: spaces, groups, threads, posts, likes, reports,
moderation and read markers. Events go out on commit (``discussion.broadcast``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import Lecture, Programme
from courses.selectors import (
    lecture_status_q,
    programme_audience_covers,
    user_list_in_unit_subtree,
)
from discussion import broadcast
from discussion.events import event, post_payload, thread_payload
from discussion.exceptions import DiscussionError, DiscussionErrorCode
from discussion.models import (
    CLIENT_ID_MAX_CHARS,
    POST_MAX_CHARS,
    REASON_MAX_CHARS,
    TITLE_MAX_CHARS,
    GroupMember,
    Moderation,
    Participant,
    Post,
    PostLike,
    PostReport,
    ProgrammeDiscussion,
    ReadMarker,
    ReportReason,
    Space,
    StudyGroup,
    Thread,
    UnitActivity,
)
from discussion.selectors import (
    SpaceAccess,
    group_can_manage,
    post_get_visible,
    space_access_get,
    thread_get_in_space,
)
from discussion.text import mention_names, text_clean
from livestream.sensitive import text_is_sensitive
from portal.models import OrgUnit, User
from portal.services import audit_log_write


def _invalid(message: str) -> DiscussionError:
    return DiscussionError(DiscussionErrorCode.INVALID, message)


def _client_id(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > CLIENT_ID_MAX_CHARS:
        raise _invalid(_("Missing or invalid client id."))
    return value


def _post_text(raw: str) -> str:
    if not isinstance(raw, str):
        raise _invalid(_("Write something first."))
    if len(raw) > POST_MAX_CHARS * 4:  # refused before any normalising work
        raise DiscussionError(DiscussionErrorCode.TOO_LONG)
    text = text_clean(raw)
    if not text:
        raise _invalid(_("Write something first."))
    if len(text) > POST_MAX_CHARS:
        raise DiscussionError(DiscussionErrorCode.TOO_LONG)
    return text


def _rate_check(*, user: User, now: datetime) -> None:
    """Per-user posting limits across all spaces (DISCUSSION_POSTS_PER_MINUTE / _HOUR)."""
    for window, limit in (
        (timedelta(minutes=1), int(settings.DISCUSSION_POSTS_PER_MINUTE)),
        (timedelta(hours=1), int(settings.DISCUSSION_POSTS_PER_HOUR)),
    ):
        recent = list(
            Post.objects.filter(author=user, created_at__gt=now - window)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            wait = (recent[-1] + window - now).total_seconds()
            raise DiscussionError(
                DiscussionErrorCode.RATE_LIMITED, retry_after=max(1, math.ceil(wait))
            )


def _moderation(space: Space) -> str:
    row = ProgrammeDiscussion.objects.filter(programme_id=space.programme_id).first()
    return row.moderation if row is not None else Moderation.POST


def _mentions(*, access: SpaceAccess, text: str) -> dict[str, int]:
    """@names of people in the author's own groups (this group, in a group space)."""
    names = mention_names(text)
    if not names:
        return {}
    if access.space.kind == Space.Kind.GROUP:
        group_ids: list[int] = [access.space.group.pk]
    else:
        group_ids = list(
            GroupMember.objects.filter(user=access.user).values_list("group_id", flat=True)
        )
    if not group_ids:
        return {}
    found: dict[str, int] = {}
    for user_id, full_name, username in (
        GroupMember.objects.filter(group_id__in=group_ids, user__is_active=True)
        .exclude(user=access.user)
        .filter(user__full_name__in=names)
        .values_list("user_id", "user__full_name", "user__username")[:50]
    ):
        found.setdefault(full_name or username, user_id)
    return found


def _activity_add(*, space: Space, user: User) -> None:
    """The per-unit summary the reports read: one more post, and a participant when this
    is the person's first post in the space."""
    if user.unit_id is None:
        return
    activity, _created = UnitActivity.objects.get_or_create(space=space, unit_id=user.unit_id)
    first = False
    try:
        with transaction.atomic():
            Participant.objects.create(space=space, user=user)
            first = True
    except IntegrityError:
        pass
    UnitActivity.objects.filter(pk=activity.pk).update(
        posts=F("posts") + 1, participants=F("participants") + (1 if first else 0)
    )


def _thread_counters(thread: Thread, post: Post) -> None:
    # a post approved after review may be older than the thread's newest
    Thread.objects.filter(pk=thread.pk).update(
        post_count=F("post_count") + 1,
        last_post_id=Greatest("last_post_id", post.pk),
        last_post_at=Greatest("last_post_at", post.created_at),
    )
    thread.post_count += 1
    thread.last_post_id = max(thread.last_post_id or 0, post.pk)
    thread.last_post_at = max(filter(None, (thread.last_post_at, post.created_at)))


def _announce_post(*, access: SpaceAccess, thread: Thread, post: Post) -> None:
    space_id = access.space.pk
    if post.status == Post.Status.PUBLISHED:
        broadcast.to_all(
            space_id=space_id,
            payload=event(
                "post.created",
                thread_id=thread.pk,
                post=post_payload(post),
                thread=thread_payload(thread),
            ),
        )
    if post.flagged:
        broadcast.to_moderators(
            space_id=space_id,
            payload=event("post.review", post=post_payload(post, moderator=True)),
        )


@dataclass(frozen=True)
class PostResult:
    post: Post
    created: bool


def post_create(
    *,
    access: SpaceAccess,
    thread_id: int,
    text: str,
    client_id: str,
    parent_id: int | None = None,
    now: datetime | None = None,
    enforce_rate: bool = True,
) -> PostResult:
    """Post in a thread (a reply when ``parent_id`` is given). The same ``client_id``
    twice is one post. A post matching the sensitive-word list is held for review under
    pre-moderation, published and queued for review under post-moderation.
    ``enforce_rate=False`` only for posts that no person is typing (the demo seed)."""
    now = now or timezone.now()
    client_id = _client_id(client_id)
    text = _post_text(text)
    existing = (
        Post.objects.select_related("author", "author__unit", "thread")
        .filter(author=access.user, thread_id=thread_id, client_id=client_id)
        .first()
    )
    if existing is not None and existing.thread.space_id == access.space.pk:
        return PostResult(existing, False)
    if not access.is_open:
        raise DiscussionError(DiscussionErrorCode.CLOSED)
    if enforce_rate:
        _rate_check(user=access.user, now=now)
    flagged = text_is_sensitive(text)
    held = flagged and not access.is_moderator and _moderation(access.space) == Moderation.PRE
    mentions = _mentions(access=access, text=text)
    with transaction.atomic():
        thread = thread_get_in_space(access=access, thread_id=thread_id, lock=True)
        if thread.locked and not access.is_moderator:
            raise DiscussionError(DiscussionErrorCode.LOCKED)
        parent = None
        if parent_id is not None:
            parent = Post.objects.filter(
                pk=parent_id, thread=thread, status=Post.Status.PUBLISHED
            ).first()
            if parent is None:
                raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
        try:
            with transaction.atomic():
                post = Post.objects.create(
                    thread=thread,
                    author=access.user,
                    parent=parent,
                    text=text,
                    status=Post.Status.PENDING if held else Post.Status.PUBLISHED,
                    flagged=flagged,
                    mentions=mentions,
                    client_id=client_id,
                )
        except IntegrityError:  # the same client id raced in from another tab
            again = Post.objects.select_related("author", "author__unit").get(
                author=access.user, thread=thread, client_id=client_id
            )
            return PostResult(again, False)
        post.author = access.user
        if not held:
            _thread_counters(thread, post)
            _activity_add(space=access.space, user=access.user)
        _announce_post(access=access, thread=thread, post=post)
    return PostResult(post, True)


@dataclass(frozen=True)
class ThreadResult:
    thread: Thread
    post: Post
    created: bool


def thread_create(
    *,
    access: SpaceAccess,
    title: str,
    text: str,
    client_id: str,
    now: datetime | None = None,
    enforce_rate: bool = True,
) -> ThreadResult:
    """Start a thread with its first post: anyone in a lecture space, the leaders and staff
    in a study group."""
    if not access.can_start_threads:
        raise DiscussionError(
            DiscussionErrorCode.FORBIDDEN, _("Only the group's leaders start new topics.")
        )
    title = text_clean(title or "").replace("\n", " ")
    if not title:
        raise _invalid(_("Give the topic a title."))
    if len(title) > TITLE_MAX_CHARS:
        raise _invalid(_("A title can have at most 100 characters."))
    client_id = _client_id(client_id)
    _post_text(text)
    existing = (
        Post.objects.select_related("thread", "author", "author__unit")
        .filter(author=access.user, thread__space=access.space, client_id=client_id)
        .first()
    )
    if existing is not None:
        return ThreadResult(existing.thread, existing, False)
    if not access.is_open:
        raise DiscussionError(DiscussionErrorCode.CLOSED)
    with transaction.atomic():
        thread = Thread.objects.create(space=access.space, title=title, author=access.user)
        broadcast.to_all(
            space_id=access.space.pk,
            payload=event("thread.created", thread=thread_payload(thread)),
        )
        result = post_create(
            access=access,
            thread_id=thread.pk,
            text=text,
            client_id=client_id,
            now=now,
            enforce_rate=enforce_rate,
        )
        thread.refresh_from_db()
    return ThreadResult(thread, result.post, True)


def post_like(*, access: SpaceAccess, post_id: int, up: bool) -> tuple[int, bool]:
    """Like (or withdraw a like from) a published post; returns (likes, liked)."""
    with transaction.atomic():
        post = post_get_visible(access=access, post_id=post_id)
        if post.status != Post.Status.PUBLISHED:
            raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
        changed = 0
        if up:
            _like, made = PostLike.objects.get_or_create(post=post, user=access.user)
            changed = 1 if made else 0
        else:
            changed = -PostLike.objects.filter(post=post, user=access.user).delete()[0]
        if changed:
            Post.objects.filter(pk=post.pk).update(like_count=F("like_count") + changed)
        likes = Post.objects.filter(pk=post.pk).values_list("like_count", flat=True).get()
        if changed:
            broadcast.to_all(
                space_id=access.space.pk,
                payload=event("post.likes", thread_id=post.thread_id, post_id=post.pk, likes=likes),
            )
    return likes, up


def post_report(
    *, access: SpaceAccess, post_id: int, reason: str, detail: str = ""
) -> tuple[PostReport, bool]:
    """Report a post to the space's moderators: once per reporter and post (a second report
    by the same person returns the first)."""
    if reason not in ReportReason.values:
        raise _invalid(_("Choose a reason."))
    detail = text_clean(detail or "").replace("\n", " ")
    if len(detail) > REASON_MAX_CHARS:
        raise _invalid(_("A reason can have at most 200 characters."))
    if reason == ReportReason.OTHER and not detail:
        raise _invalid(_("Say what is wrong with this post."))
    post = post_get_visible(access=access, post_id=post_id)
    existing = PostReport.objects.filter(post=post, reporter=access.user).first()
    if existing is not None:
        return existing, False
    hour_ago = timezone.now() - timedelta(hours=1)
    if (
        PostReport.objects.filter(reporter=access.user, created_at__gt=hour_ago).count()
        >= settings.DISCUSSION_REPORTS_PER_HOUR
    ):
        raise DiscussionError(DiscussionErrorCode.RATE_LIMITED, retry_after=600)
    try:
        with transaction.atomic():
            report = PostReport.objects.create(
                post=post, reporter=access.user, reason=reason, detail=detail
            )
            broadcast.to_moderators(
                space_id=access.space.pk,
                payload=event(
                    "post.reported",
                    post_id=post.pk,
                    thread_id=post.thread_id,
                    reason=reason,
                ),
            )
    except IntegrityError:
        return PostReport.objects.get(post=post, reporter=access.user), False
    return report, True


def _require_moderator(access: SpaceAccess) -> None:
    if not access.is_moderator:
        raise DiscussionError(DiscussionErrorCode.FORBIDDEN, _("Only moderators can do that."))


MODERATE_ACTIONS = ("hide", "restore", "approve")


def post_moderate(*, access: SpaceAccess, post_id: int, action: str, reason: str = "") -> Post:
    """Hide a post (with a reason its author sees), restore a hidden one, or approve one
    held for review. Audited; every open page updates live."""
    _require_moderator(access)
    if action not in MODERATE_ACTIONS:
        raise _invalid(_("Unknown action."))
    reason = text_clean(reason or "").replace("\n", " ")
    if action == "hide" and not reason:
        raise _invalid(_("Give the reason the author will see."))
    if len(reason) > REASON_MAX_CHARS:
        raise _invalid(_("A reason can have at most 200 characters."))
    now = timezone.now()
    with transaction.atomic():
        post = (
            Post.objects.select_for_update(of=("self",))
            .select_related("author", "author__unit", "thread")
            .filter(pk=post_id, thread__space=access.space)
            .first()
        )
        if post is None:
            raise DiscussionError(DiscussionErrorCode.NOT_FOUND)
        thread = Thread.objects.select_for_update().get(pk=post.thread_id)
        was_public = post.status == Post.Status.PUBLISHED
        was_held = post.status == Post.Status.PENDING  # never counted yet
        if action == "hide":
            post.status = Post.Status.HIDDEN
            post.hidden_reason, post.hidden_by, post.hidden_at = reason, access.user, now
            PostReport.objects.filter(post=post, outcome=PostReport.Outcome.OPEN).update(
                outcome=PostReport.Outcome.UPHELD, handled_by=access.user, handled_at=now
            )
        else:
            post.status = Post.Status.PUBLISHED
            post.hidden_reason, post.hidden_by, post.hidden_at = "", None, None
        post.reviewed = True
        post.save(update_fields=["status", "hidden_reason", "hidden_by", "hidden_at", "reviewed"])
        is_public = post.status == Post.Status.PUBLISHED
        if is_public and was_held:
            _thread_counters(thread, post)
            _activity_add(space=access.space, user=post.author)
        elif was_public != is_public:
            delta = 1 if is_public else -1
            Thread.objects.filter(pk=thread.pk).update(post_count=F("post_count") + delta)
            thread.post_count += delta
        audit_log_write(
            user=access.user,
            action=f"discussion.post.{action}",
            target=post,
            detail={"space": access.space.pk, "reason": reason},
        )
        space_id = access.space.pk
        if is_public:
            kind = "post.created" if was_held else "post.updated"
            broadcast.to_all(
                space_id=space_id,
                payload=event(
                    kind,
                    thread_id=thread.pk,
                    post=post_payload(post),
                    thread=thread_payload(thread),
                ),
            )
        elif was_public:
            broadcast.to_all(
                space_id=space_id,
                payload=event(
                    "post.hidden",
                    thread_id=thread.pk,
                    post_id=post.pk,
                    thread=thread_payload(thread),
                ),
            )
        if not is_public:  # the author's pages show the reason
            broadcast.to_user(
                space_id=space_id,
                user_id=post.author_id,
                payload=event(
                    "post.updated", thread_id=thread.pk, post=post_payload(post, own=True)
                ),
            )
        broadcast.to_moderators(
            space_id=space_id,
            payload=event("post.reviewed", post=post_payload(post, moderator=True)),
        )
    return post


THREAD_ACTIONS = {
    "pin": ("pinned", True),
    "unpin": ("pinned", False),
    "lock": ("locked", True),
    "unlock": ("locked", False),
}


def thread_moderate(*, access: SpaceAccess, thread_id: int, action: str) -> Thread:
    _require_moderator(access)
    if action not in THREAD_ACTIONS:
        raise _invalid(_("Unknown action."))
    field, value = THREAD_ACTIONS[action]
    with transaction.atomic():
        thread = thread_get_in_space(access=access, thread_id=thread_id, lock=True)
        if getattr(thread, field) != value:
            setattr(thread, field, value)
            thread.save(update_fields=[field])
            audit_log_write(
                user=access.user,
                action=f"discussion.thread.{action}",
                target=thread,
                detail={"space": access.space.pk},
            )
            broadcast.to_all(
                space_id=access.space.pk,
                payload=event("thread.updated", thread=thread_payload(thread)),
            )
    return thread


def report_resolve(*, by: User, report_ids: Iterable[int], outcome: str) -> int:
    """Close reports (admin queue): ``dismissed`` keeps the post, ``upheld`` hides it."""
    if outcome not in (PostReport.Outcome.UPHELD, PostReport.Outcome.DISMISSED):
        raise _invalid(_("Unknown outcome."))
    done = 0
    for report in PostReport.objects.select_related("post", "post__thread").filter(
        pk__in=list(report_ids), outcome=PostReport.Outcome.OPEN
    ):
        access = space_access_get(user=by, space_id=report.post.thread.space_id)
        _require_moderator(access)
        if outcome == PostReport.Outcome.UPHELD:
            reason = str(ReportReason(report.reason).label)
            if report.post.status != Post.Status.HIDDEN:
                post_moderate(access=access, post_id=report.post_id, action="hide", reason=reason)
            PostReport.objects.filter(pk=report.pk, outcome=PostReport.Outcome.OPEN).update(
                outcome=outcome, handled_by=by, handled_at=timezone.now()
            )
        else:
            PostReport.objects.filter(pk=report.pk).update(
                outcome=outcome, handled_by=by, handled_at=timezone.now()
            )
            audit_log_write(user=by, action="discussion.report.dismissed", target=report, detail={})
        done += 1
    return done


def read_mark(
    *, user: User, thread: Thread, last_post_id: int, now: datetime | None = None
) -> None:
    """Move the reader's marker forward (never back) to ``last_post_id``."""
    now = now or timezone.now()
    last_post_id = min(int(last_post_id), thread.last_post_id or 0)
    if last_post_id < 0:
        return
    updated = ReadMarker.objects.filter(
        user=user, thread=thread, last_post_id__lte=last_post_id
    ).update(last_post_id=last_post_id, read_at=now)
    if updated:
        return
    try:
        with transaction.atomic():
            ReadMarker.objects.create(
                user=user, thread=thread, last_post_id=last_post_id, read_at=now
            )
    except IntegrityError:  # exists with a newer marker: only the visit time moves
        ReadMarker.objects.filter(user=user, thread=thread).update(read_at=now)


# -- spaces and groups ---------------------------------------------------------------


def lecture_space_ensure(*, lecture: Lecture) -> Space:
    space, _created = Space.objects.get_or_create(
        lecture=lecture, defaults={"kind": Space.Kind.LECTURE, "programme_id": lecture.programme_id}
    )
    return space


def lecture_space_open(*, by: User, lecture: Lecture, at: datetime | None = None) -> Space:
    """Organisers open a lecture's space before it ends (audited)."""
    space = lecture_space_ensure(lecture=lecture)
    space.opens_at = at or timezone.now()
    space.save(update_fields=["opens_at"])
    audit_log_write(user=by, action="discussion.space.open", target=space, detail={})
    return space


def group_create(
    *,
    by: User,
    programme: Programme,
    unit: OrgUnit,
    name: str,
    description: str = "",
    members_from_unit: bool = True,
) -> StudyGroup:
    """A study group for a unit's cadres (staff over the unit only); with
    ``members_from_unit`` every active user of the unit's subtree joins."""
    name = text_clean(name or "").replace("\n", " ")
    if not name or len(name) > 100:
        raise _invalid(_("Give the group a name of at most 100 characters."))
    with transaction.atomic():
        space = Space.objects.create(kind=Space.Kind.GROUP, programme=programme)
        group = StudyGroup(
            space=space, name=name, description=description, unit=unit, created_by=by
        )
        if not group_can_manage(user=by, group=group):
            raise DiscussionError(
                DiscussionErrorCode.FORBIDDEN, _("This unit is outside your area.")
            )
        if not programme_audience_covers(programme=programme, unit=unit):
            raise _invalid(_("This programme is not for the cadres of that unit."))
        group.save()
        audit_log_write(user=by, action="discussion.group.create", target=group, detail={})
        if members_from_unit:
            group_members_add_from_unit(by=by, group=group, unit=unit)
        lecture_threads_ensure_for_group(group=group)
    return group


def group_members_add(
    *, by: User | None, group: StudyGroup, user_ids: Iterable[int], role: str = "member"
) -> int:
    """Add people (already members keep their role); returns how many joined."""
    if role not in GroupMember.Role.values:
        raise _invalid(_("Unknown role."))
    ids = list(
        User.objects.filter(pk__in=list(user_ids), is_active=True).values_list("pk", flat=True)
    )
    before = GroupMember.objects.filter(group=group).count()
    GroupMember.objects.bulk_create(
        [GroupMember(group=group, user_id=uid, role=role) for uid in ids],
        ignore_conflicts=True,
        batch_size=5000,
    )
    added = GroupMember.objects.filter(group=group).count() - before
    if by is not None and added:
        audit_log_write(
            user=by, action="discussion.group.members_add", target=group, detail={"added": added}
        )
    return added


def group_members_add_from_unit(*, by: User | None, group: StudyGroup, unit: OrgUnit) -> int:
    """Every active user of ``unit``'s subtree joins (bulk; the unit must be inside the
    group's unit)."""
    if not unit.path.startswith(group.unit.path):
        raise _invalid(_("The unit must lie inside the group's unit."))
    ids = user_list_in_unit_subtree(unit=unit).values_list("pk", flat=True)
    return group_members_add(by=by, group=group, user_ids=ids)


def lecture_threads_ensure_for_group(*, group: StudyGroup, now: datetime | None = None) -> int:
    """A thread per ended lecture of the group's programme (idempotent)."""
    now = now or timezone.now()
    have = set(
        Thread.objects.filter(space_id=group.space_id, lecture__isnull=False).values_list(
            "lecture_id", flat=True
        )
    )
    lectures = (
        Lecture.objects.filter(programme_id=group.space.programme_id)
        .filter(lecture_status_q(Lecture.Status.ENDED, now=now))
        .exclude(pk__in=have)
        .order_by("starts_at")
    )
    made = 0
    for lecture in lectures:
        try:
            with transaction.atomic():
                thread = Thread.objects.create(  # a lecture title may be longer
                    space_id=group.space_id, lecture=lecture, title=lecture.title[:TITLE_MAX_CHARS]
                )
        except IntegrityError:
            continue  # made by a concurrent run
        made += 1
        broadcast.to_all(
            space_id=group.space_id,
            payload=event("thread.created", thread=thread_payload(thread)),
        )
    return made


def lecture_threads_ensure(*, now: datetime | None = None) -> int:
    """For every active group: the threads of lectures that ended (beat, every minute)."""
    now = now or timezone.now()
    recent = Lecture.objects.filter(lecture_status_q(Lecture.Status.ENDED, now=now)).filter(
        ends_at__gt=now - timedelta(days=2)
    )
    programme_ids = set(recent.values_list("programme_id", flat=True))
    made = 0
    for group in StudyGroup.objects.select_related("space").filter(
        is_active=True, space__programme_id__in=programme_ids
    ):
        made += lecture_threads_ensure_for_group(group=group, now=now)
    return made
