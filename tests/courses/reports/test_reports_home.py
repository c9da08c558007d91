"""The reports home opens on the current programme with its key figures for the viewer's
area, and a picker when the area has several programmes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.models import User
from tests.courses.reports.followup_support import World, world_fixture  # noqa: F401 (fixture)
from tests.factories import LectureFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(client: Client, school_staff: User) -> Client:
    client.force_login(school_staff)
    return client


def test_the_home_shows_the_current_programme_figures_for_my_area(
    school: Client, world: World
) -> None:
    response = school.get(reverse("portal:reports"))
    assert response.status_code == 200
    figures: Any = response.context["figures"]
    assert figures.programme == world.programme
    assert figures.unit == world.tree.xihu  # the party school's county
    # 西湖区: a, b, c enrolled of a, b, c, d and the staff member; two lectures started;
    # attended a×2, b×2 of 3×2; completed a×2, b×1.
    assert (figures.enrolled, figures.headcount, figures.lectures_counted) == (3, 5, 2)
    assert figures.shown == {
        "enrolment_rate": "60.0%",
        "attendance_rate": "66.7%",
        "completion_rate": "50.0%",
    }
    assert [n for n, _a, _c in figures.trend_shown] == [1, 2]
    assert figures.followups["not_enrolled"] == 2
    html = response.content.decode()
    assert 'id="fig-attendance">66.7%<' in html
    assert "待督促" in html
    assert f"kind=not_enrolled&amp;unit={world.tree.xihu.code}" in html


def test_a_picker_when_the_area_has_several_programmes(school: Client, world: World) -> None:
    hangzhou = world.tree.hangzhou
    other = ProgrammeFactory(title="另一个专题", organiser_unit=hangzhou, audience=[hangzhou])
    LectureFactory(programme=other, sequence=1, starts_at=timezone.now() + timedelta(days=9))
    response = school.get(reverse("portal:reports"))
    assert response.context["figures"].programme == world.programme  # the one under way
    assert f'href="?programme={other.pk}"' in response.content.decode()
    chosen = school.get(reverse("portal:reports"), {"programme": other.pk})
    assert chosen.context["figures"].programme == other
    assert chosen.context["figures"].shown["attendance_rate"] == "—"  # nothing started
