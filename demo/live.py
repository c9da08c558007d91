"""What the demo's evening looks like from a seat: the demo cadres' enrolments, the demo
cadre's own study record, and a believable Q&A in the live lecture.

Deterministic and idempotent: every question has a fixed ``client_id``, every vote and
attendance row a natural key, so a second ``seed_demo`` adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from courses.models import Attendance, Enrolment, Lecture, Programme, Venue
from livestream.clustering import question_cluster_assign
from livestream.models import Question, Vote
from livestream.sensitive import text_is_sensitive
from portal.models import User

# (text, status, highlighted, votes, anonymous); the author is a generated cadre, in turn.
QUESTIONS: tuple[tuple[str, str, bool, int, bool], ...] = (
    ("大模型生成的材料能直接用于公文起草吗？需要注意哪些保密要求？", "answered", False, 38, False),
    ("基层乡镇没有专业技术人员，怎样起步用好人工智能？", "approved", True, 31, False),
    ("人工智能辅助审批出了差错，责任如何界定？", "approved", False, 24, True),
    ("能否推荐几款适合政务场景、通过安全评估的国产大模型？", "approved", False, 17, False),
    ("村里的老年人不会用手机，数字化服务如何兼顾他们？", "approved", False, 12, False),
    ("课后能否提供今天讲座的课件和案例材料？", "approved", False, 9, False),
    ("浙政钉里的智能助手和今天讲的是同一类技术吗？", "approved", False, 6, False),
    ("人工智能会不会取代一部分基层岗位？", "pending", False, 0, False),
    ("有人说法轮功网站也在用人工智能宣传，怎么辨别？", "pending", False, 0, False),
    ("讲座的回放什么时候可以看？", "pending", False, 0, True),
    # near-duplicates of the 8th: the console shows them as one cluster ("相似 ×3")
    ("人工智能会不会替代一部分基层的岗位？", "pending", False, 0, False),
    ("老师您好，人工智能会取代部分基层岗位吗", "pending", False, 0, False),
)
CLIENT_PREFIX = "demo-q-"
SPEAKER_LIST = (1, 2, 3)  # indices above: the moderators' list for the speaker, in order
IN_HALL = 9  # asked from a venue (a 台下 question)


def enrolment_ensure(*, user: User, programme: Programme, now: datetime) -> None:
    enrolment, _created = Enrolment.objects.get_or_create(
        user=user,
        programme=programme,
        defaults={"source": Enrolment.Source.SELF, "enrolled_at": now},
    )
    if not enrolment.is_active:
        enrolment.status = Enrolment.Status.ACTIVE
        enrolment.withdrawn_at = None
        enrolment.save(update_fields=["status", "withdrawn_at"])


def study_record_seed(*, user: User, programme: Programme, now: datetime) -> int:
    """The demo cadre watched every ended lecture to the end (and so earned its 学时).
    Returns the rows created."""
    created = 0
    for lecture in programme.lectures.order_by("sequence"):
        if lecture.status_at(now) != Lecture.Status.ENDED:
            continue
        seconds = lecture.duration_minutes * 60 - 300  # joined five minutes late
        _row, made = Attendance.objects.get_or_create(
            user=user,
            lecture=lecture,
            defaults={
                "live_seconds": seconds,
                "replay_seconds": 0,
                "first_seen_at": lecture.starts_at + timedelta(minutes=5),
                "last_seen_at": lecture.starts_at + timedelta(seconds=300 + seconds),
                "completed": seconds >= lecture.completion_seconds,
                "credit_hours_earned": lecture.credit_hours
                if seconds >= lecture.completion_seconds
                else 0,
                "last_flush_id": "demo",
            },
        )
        created += int(made)
    return created


def live_questions_seed(
    *, lecture: Lecture, askers: list[User], voters: list[User], venue: Venue | None = None
) -> int:
    """The live lecture's Q&A: published questions with votes (one answered, one on the
    big screen, three on the speaker's list) and a few still in the moderators' queue, one
    flagged by the sensitive-word list, three near-duplicates, one asked at ``venue``.
    Returns the questions created."""
    if not askers:
        return 0
    created = 0
    now = lecture.starts_at + timedelta(minutes=10)
    for i, (text, status, highlighted, votes, anonymous) in enumerate(QUESTIONS):
        question, made = Question.objects.get_or_create(
            lecture=lecture,
            author=askers[i % len(askers)],
            client_id=f"{CLIENT_PREFIX}{i}",
            defaults={
                "text": text,
                "status": status,
                "highlighted": highlighted,
                "anonymous": anonymous,
                "flagged": text_is_sensitive(text),
                "approved_at": now if status != "pending" else None,
                "answered_at": now + timedelta(minutes=5) if status == "answered" else None,
            },
        )
        created += int(made)
        if made and votes:
            Vote.objects.bulk_create(
                [Vote(question=question, user=user) for user in voters[:votes]],
                ignore_conflicts=True,
            )
            question.votes = Vote.objects.filter(question=question, up=True).count()
            question.save(update_fields=["votes"])
        if made:
            question.speaker_position = SPEAKER_LIST.index(i) + 1 if i in SPEAKER_LIST else None
            question.venue = venue if i == IN_HALL else None
            question.save(update_fields=["speaker_position", "venue"])
            if status == "pending":
                question_cluster_assign(question=question)
    return created
