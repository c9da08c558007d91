"""What the live rooms hold about a person, for their download (portal.privacy)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from livestream.models import Question, Vote
from portal.models import User
from portal.privacy import personal_data_section


@personal_data_section("questions")
def questions_section(user: User) -> dict[str, Any]:
    asked = Question.objects.filter(author=user).select_related("lecture").order_by("created_at")
    return {
        "asked": [
            {
                "lecture": q.lecture.title,
                "text": q.text,
                "anonymous": q.anonymous,
                "status": q.get_status_display(),
                "reject_reason": q.reject_reason,
                "votes": q.votes,
                "asked_at": timezone.localtime(q.created_at).isoformat(timespec="seconds"),
            }
            for q in asked
        ],
        "votes_given": Vote.objects.filter(user=user).count(),
    }
