"""Discussion use cases on PostgreSQL: posting, limits, moderation, reports, read state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from courses.models import Lecture, Programme
from discussion import selectors, services
from discussion.exceptions import DiscussionError, DiscussionErrorCode
from discussion.models import (
    Moderation,
    Post,
    PostReport,
    ProgrammeDiscussion,
    ReadMarker,
    StudyGroup,
    Thread,
    UnitActivity,
)
from discussion.text import text_clean, text_parts
from portal.models import AuditLog, User
from tests.discussion.conftest import access_of, lecture_thread
from tests.factories import LectureFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _post(user: User, group: StudyGroup, text: str, cid: str, **kw: Any) -> Post:
    thread = lecture_thread(group)
    return services.post_create(
        access=access_of(user, group), thread_id=thread.pk, text=text, client_id=cid, **kw
    ).post


def test_group_gets_members_of_its_unit_and_a_thread_per_ended_lecture(
    group: StudyGroup, member: User, member2: User, ended_lecture: Lecture, outsider: User
) -> None:
    assert set(group.members.values_list("user_id", flat=True)) == {member.pk, member2.pk}
    thread = lecture_thread(group)
    assert thread.lecture_id == ended_lecture.pk and thread.title == ended_lecture.title
    with pytest.raises(DiscussionError) as exc:
        access_of(outsider, group)
    assert exc.value.code == DiscussionErrorCode.FORBIDDEN


def test_staff_outside_the_unit_cannot_create_a_group(
    tree: Any, programme: Programme, school_staff: User
) -> None:
    with pytest.raises(DiscussionError) as exc:
        services.group_create(by=school_staff, programme=programme, unit=tree.haishu, name="x")
    assert exc.value.code == DiscussionErrorCode.FORBIDDEN
    assert not StudyGroup.objects.exists()


def test_a_post_counts_once_per_client_id_and_updates_the_summaries(
    group: StudyGroup, member: User, tree: Any
) -> None:
    first = _post(member, group, "人工智能治理要先立规矩", "c1")
    again = _post(member, group, "人工智能治理要先立规矩", "c1")
    assert first.pk == again.pk
    _post(member, group, "第二条", "c2")
    thread = lecture_thread(group)
    assert thread.post_count == 2 and thread.last_post_id > first.pk
    activity = UnitActivity.objects.get(space=group.space, unit=tree.lingyin)
    assert (activity.posts, activity.participants) == (2, 1)


def test_text_is_plain_with_links_and_mentions(group: StudyGroup, member: User) -> None:
    post = _post(
        member, group, "<script>alert(1)</script> 见 https://example.org/a?b=1。@王五 看看", "x"
    )
    parts = text_parts(post.text, mentions=post.mentions)
    assert parts[0] == {"t": "text", "v": "<script>alert(1)</script> 见 "}
    assert {"t": "link", "v": "https://example.org/a?b=1"} in parts
    assert any(p["t"] == "mention" and p["v"] == "王五" for p in parts)
    assert not any(p["t"] == "link" and p["v"].startswith("javascript") for p in parts)
    assert text_clean("a\u202eb\u0000c\n\n\n\nd") == "abc\n\nd"


def test_posts_too_long_or_empty_are_refused(group: StudyGroup, member: User) -> None:
    for text, code in (
        ("x" * 2001, DiscussionErrorCode.TOO_LONG),
        ("x" * 10_000_000, DiscussionErrorCode.TOO_LONG),
        ("  \n ", DiscussionErrorCode.INVALID),
    ):
        with pytest.raises(DiscussionError) as exc:
            _post(member, group, text, f"c{len(text)}")
        assert exc.value.code == code
    assert not Post.objects.exists()


def test_posting_rate_limit_per_user(
    group: StudyGroup, member: User, member2: User, settings: Any
) -> None:
    settings.DISCUSSION_POSTS_PER_MINUTE = 3
    for i in range(3):
        _post(member, group, f"第{i}条", f"r{i}")
    with pytest.raises(DiscussionError) as exc:
        _post(member, group, "第四条", "r4")
    assert exc.value.code == DiscussionErrorCode.RATE_LIMITED and exc.value.retry_after >= 1
    _post(member2, group, "别人不受影响", "o1")


def test_a_report_reaches_the_queue_once_per_reporter(
    group: StudyGroup, member: User, member2: User
) -> None:
    post = _post(member, group, "一条帖子", "p1")
    access = access_of(member2, group)
    first, created = services.post_report(access=access, post_id=post.pk, reason="spam")
    again, created_again = services.post_report(access=access, post_id=post.pk, reason="illegal")
    assert created and not created_again and first.pk == again.pk
    assert PostReport.objects.filter(post=post).count() == 1
    with pytest.raises(DiscussionError):
        services.post_report(access=access, post_id=post.pk, reason="nonsense")


def test_hide_with_a_reason_then_restore(
    group: StudyGroup, member: User, member2: User, school_staff: User
) -> None:
    post = _post(member, group, "待隐藏", "h1")
    services.post_report(access=access_of(member2, group), post_id=post.pk, reason="off_topic")
    staff = access_of(school_staff, group)
    assert staff.is_moderator
    with pytest.raises(DiscussionError):
        services.post_moderate(access=staff, post_id=post.pk, action="hide")  # no reason
    with pytest.raises(DiscussionError) as exc:
        services.post_moderate(
            access=access_of(member2, group), post_id=post.pk, action="hide", reason="x"
        )
    assert exc.value.code == DiscussionErrorCode.FORBIDDEN
    services.post_moderate(access=staff, post_id=post.pk, action="hide", reason="与主题无关")
    post.refresh_from_db()
    assert post.status == Post.Status.HIDDEN and post.hidden_reason == "与主题无关"
    assert lecture_thread(group).post_count == 0
    assert PostReport.objects.get(post=post).outcome == PostReport.Outcome.UPHELD
    # the author still sees it, with the reason; the other member does not
    own = selectors.post_list_for_thread(access=access_of(member, group), thread=post.thread)
    assert own[0]["hidden_reason"] == "与主题无关"
    assert (
        selectors.post_list_for_thread(access=access_of(member2, group), thread=post.thread) == []
    )
    services.post_moderate(access=staff, post_id=post.pk, action="restore")
    assert lecture_thread(group).post_count == 1
    assert AuditLog.objects.filter(action="discussion.post.hide", user=school_staff).count() == 1


def test_pre_moderation_holds_sensitive_posts(
    group: StudyGroup,
    member: User,
    member2: User,
    school_staff: User,
    programme: Programme,
    tmp_path: Any,
    settings: Any,
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("敏感词\n", encoding="utf-8")
    settings.LIVE_SENSITIVE_WORDS_FILE = str(words)
    ProgrammeDiscussion.objects.create(programme=programme, moderation=Moderation.PRE)
    post = _post(member, group, "这里有敏感词", "s1")
    assert post.status == Post.Status.PENDING and post.flagged
    thread = lecture_thread(group)
    assert thread.post_count == 0
    assert selectors.post_list_for_thread(access=access_of(member2, group), thread=thread) == []
    review = selectors.review_posts(access=access_of(school_staff, group))
    assert [p["id"] for p in review] == [post.pk]
    services.post_moderate(access=access_of(school_staff, group), post_id=post.pk, action="approve")
    assert lecture_thread(group).post_count == 1
    assert selectors.review_posts(access=access_of(school_staff, group)) == []
    # post-moderation (the default): published at once, still queued for review
    ProgrammeDiscussion.objects.filter(programme=programme).update(moderation=Moderation.POST)
    later = _post(member, group, "又一个敏感词", "s2")
    assert later.status == Post.Status.PUBLISHED and later.flagged


def test_locked_threads_refuse_members_but_not_moderators(
    group: StudyGroup, member: User, school_staff: User
) -> None:
    thread = lecture_thread(group)
    services.thread_moderate(
        access=access_of(school_staff, group), thread_id=thread.pk, action="lock"
    )
    with pytest.raises(DiscussionError) as exc:
        _post(member, group, "还能发吗", "l1")
    assert exc.value.code == DiscussionErrorCode.LOCKED
    _post(school_staff, group, "主持人总结", "l2")


def test_only_leaders_start_topics_in_a_group(
    group: StudyGroup, member: User, member2: User
) -> None:
    with pytest.raises(DiscussionError) as exc:
        services.thread_create(access=access_of(member, group), title="t", text="x", client_id="t1")
    assert exc.value.code == DiscussionErrorCode.FORBIDDEN
    services.group_members_add(by=None, group=group, user_ids=[member2.pk], role="leader")
    group.members.filter(user=member2).update(role="leader")
    result = services.thread_create(
        access=access_of(member2, group),
        title="中青年干部如何当好人工智能管理者",
        text="请大家谈谈",
        client_id="t2",
    )
    assert result.thread.post_count == 1 and result.thread.author_id == member2.pk


def test_lecture_space_opens_when_the_lecture_ends(
    programme: Programme, member: User, organiser: User
) -> None:
    upcoming = LectureFactory(programme=programme, sequence=2)
    space = services.lecture_space_ensure(lecture=upcoming)
    access = selectors.space_access_get(user=member, space_id=space.pk)
    assert not access.is_open
    with pytest.raises(DiscussionError) as exc:
        services.thread_create(access=access, title="早了", text="x", client_id="e1")
    assert exc.value.code == DiscussionErrorCode.CLOSED
    services.lecture_space_open(by=organiser, lecture=upcoming)
    access = selectors.space_access_get(user=member, space_id=space.pk)
    assert access.is_open
    services.thread_create(access=access, title="提前讨论", text="x", client_id="e2")


def test_read_markers_and_unread_counts(group: StudyGroup, member: User, member2: User) -> None:
    posts = [_post(member, group, f"帖子{i}", f"u{i}") for i in range(3)]
    thread = lecture_thread(group)
    assert selectors.unread_by_thread(user=member2, thread_ids=[thread.pk]) == {thread.pk: 3}
    assert selectors.unread_by_thread(user=member, thread_ids=[thread.pk]) == {}  # own posts
    rows = selectors.group_list_for_user(user=member2)
    assert [(r.group.pk, r.unread) for r in rows] == [(group.pk, 3)]
    services.read_mark(user=member2, thread=thread, last_post_id=posts[1].pk)
    services.read_mark(user=member2, thread=thread, last_post_id=posts[0].pk)  # never back
    assert ReadMarker.objects.get(user=member2, thread=thread).last_post_id == posts[1].pk
    assert selectors.unread_by_thread(user=member2, thread_ids=[thread.pk]) == {thread.pk: 1}
    assert ReadMarker.objects.count() == 1  # one row per (user, thread), not per post


def test_lecture_threads_appear_when_lectures_end(group: StudyGroup, programme: Programme) -> None:
    later = LectureFactory(
        programme=programme,
        sequence=2,
        starts_at=timezone.now() - timedelta(minutes=100),
        title="人工智能" * 40,  # 160 characters: a thread title holds 100
    )
    assert services.lecture_threads_ensure() == 1
    assert services.lecture_threads_ensure() == 0
    assert Thread.objects.filter(space=group.space, lecture=later).count() == 1
