"""Build (or refresh) the demo world: org tree, demo accounts, cadres, the AI programme.

Everything is idempotent: units, speakers, venues, the programme and its lectures are
matched by natural keys, generated cadres by their usernames (``gb000001`` …). A second run
inserts nothing new and only moves the lectures so that they are again laid out relative to
"now" (some ended, one live, the rest upcoming).

Speed (``--cadres 296000`` must take well under 90 s on PostgreSQL): the tree is inserted
with precomputed treebeard paths, every generated cadre shares one password hash, and the
big tables are written with ``bulk_create`` (or ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from courses.models import Enrolment, Lecture, Programme, Speaker, Venue
from courses.summaries.rebuild import summaries_rebuild
from courses.summaries.sync import headcounts_changed
from demo import live, people
from demo import programme as data
from demo.attendance import Which, demo_attendance_seed
from demo.discussion import discussion_seed
from demo.learning import learning_seed
from demo.notices import notices_history_seed
from demo.tree import NodeSpec, tree_merge, tree_spec
from portal.bulk import copy_rows, copy_supported
from portal.models import OrgUnit, Role, User
from portal.services import organiser_group_ensure

DEMO_PASSWORD = "zhixing-demo"  # noqa: S105 (documented demo password, ARCHITECTURE §7.2)
DEMO_ZWDD_EMPLOYEE_CODE = "GE_CADRE_DEMO"  # ARCHITECTURE §7.2
CADRE_USERNAME_PREFIX = "gb"  # 干部: gb000001, gb000002, …
CADRE_SEED = 296000
ENROLLED_SHARE = 0.7
PHONE_SHARE = 0.85
# Where generated cadres work: share of cadres per kind of unit (most at the grass roots).
LEVEL_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("province", 0.004),
    ("city", 0.03),
    ("county", 0.12),
    ("institution", 0.016),  # organisation departments and party schools
    ("township", 0.33),
    ("village", 0.50),
)
# Share of enrolled cadres at each level who watch together at a party-school venue.
VENUE_SHARE = {
    "province": 0.4,
    "city": 0.4,
    "county": 0.35,
    "institution": 0.5,
    "township": 0.05,
    "village": 0.0,
}


class SeedError(Exception):
    """The demo cannot be seeded into this database (message says why)."""


@dataclass
class SeedReport:
    units_created: int = 0
    units_existing: int = 0
    codes_dropped: list[str] = field(default_factory=list)
    cadres_created: int = 0
    cadres_existing: int = 0
    enrolments_created: int = 0
    lectures: int = 0
    attendance_lectures: int = 0
    attendance_created: int = 0
    notices_sent: int = 0
    posts_created: int = 0
    ratings_created: int = 0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LectureSlot:
    sequence: int
    starts_at: datetime
    duration_minutes: int


def lecture_schedule(*, now: datetime) -> list[LectureSlot]:
    """Ten weekly evening lectures around ``now``: 1–5 ended, 6 live now, 7–10 upcoming.

    The live lecture started ``LIVE_STARTED_MINUTES_AGO`` minutes ago and lasts
    ``LIVE_DURATION_MINUTES``; the others start at 19:00 local time a whole number of weeks
    before or after the live one's day.
    """
    tz = timezone.get_default_timezone()
    live_start = (now - timedelta(minutes=data.LIVE_STARTED_MINUTES_AGO)).replace(
        second=0, microsecond=0
    )
    live_day = timezone.localtime(live_start, tz).date()
    slots: list[LectureSlot] = []
    for sequence in range(1, len(data.LECTURES) + 1):
        if sequence == data.LIVE_SEQUENCE:
            slots.append(LectureSlot(sequence, live_start, data.LIVE_DURATION_MINUTES))
            continue
        day = live_day + timedelta(weeks=sequence - data.LIVE_SEQUENCE)
        starts_at = datetime(day.year, day.month, day.day, data.LECTURE_HOUR, tzinfo=tz)
        slots.append(LectureSlot(sequence, starts_at, data.LECTURE_MINUTES))
    return slots


def demo_live_playlist_url() -> str:
    return reverse("demo:live_playlist")


def demo_replay_url() -> str:
    # The unhashed static path: the VOD playlist refers to its segments by relative names.
    return f"{settings.STATIC_URL}demo/hls/vod.m3u8"


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------
def demo_seed(
    *,
    cadres: int,
    now: datetime | None = None,
    log: Callable[[str], None] | None = None,
    attendance: Which | None = None,
) -> SeedReport:
    """Seed (or refresh) the demo in one transaction; with ``attendance``, also generated
    attendance of the ended lectures (and the live one so far) or of ``"all"`` ten
    (``demo/attendance.py``)."""
    now = now or timezone.now()
    say = log or (lambda _msg: None)
    report = SeedReport()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        t = time.perf_counter()
        report.timings[name] = t - clock
        clock = t
        say(f"  {name}: {report.timings[name]:.1f} s")

    with transaction.atomic():
        spec = tree_spec()
        merged = tree_merge(spec)
        report.units_created = merged.created
        report.units_existing = merged.existing
        report.codes_dropped = merged.codes_dropped
        unit_ids = dict(OrgUnit.objects.values_list("path", "id"))
        lap("org tree")

        accounts = _demo_accounts(spec, unit_ids)
        lap("demo accounts")

        venues = _venues(spec, unit_ids)
        programme = _programme(spec, unit_ids, accounts["organiser"], venues, now, report)
        enrolment, _ = Enrolment.objects.get_or_create(
            user=accounts["cadre"],
            programme=programme,
            defaults={"source": Enrolment.Source.SELF, "enrolled_at": now},
        )
        if not enrolment.is_active:  # the contract says the demo cadre is enrolled
            enrolment.status = Enrolment.Status.ACTIVE
            enrolment.withdrawn_at = None
            enrolment.save(update_fields=["status", "withdrawn_at"])
        lap("programme")

        _cadres(spec, unit_ids, venues, programme, cadres, now, report, lap)
        live.enrolment_ensure(user=accounts["cadre2"], programme=programme, now=now)
        live.study_record_seed(user=accounts["cadre"], programme=programme, now=now)
        first_cadres = list(
            User.objects.filter(username__startswith=CADRE_USERNAME_PREFIX).order_by("username")[
                :40
            ]
        )
        live.live_questions_seed(
            lecture=programme.lectures.get(sequence=data.LIVE_SEQUENCE),
            askers=[*first_cadres[:12], accounts["cadre2"]],
            voters=[*first_cadres, accounts["cadre2"]],
            venue=next(iter(venues.values()), None),
        )
        lap("the demo cadres' record and the live Q&A")
        lingyin = spec.child("杭州市").child("西湖区").child("灵隐街道")
        report.posts_created = discussion_seed(
            programme=programme,
            township=OrgUnit.objects.get(pk=unit_ids[lingyin.path]),
            school=accounts["school"],
            cadre=accounts["cadre"],
            cadre2=accounts["cadre2"],
            speakers=first_cadres[:3],
            now=now,
        )
        lap(f"study group and lecture discussions ({report.posts_created} posts new)")
        report.ratings_created = learning_seed(
            programme=programme, cadre=accounts["cadre"], raters=first_cadres[:20], now=now
        )
        lap(f"tests and ratings ({report.ratings_created} ratings new)")
        if attendance is not None:
            generated = demo_attendance_seed(programme=programme, which=attendance, now=now)
            report.attendance_lectures = generated.lectures
            report.attendance_created = generated.created
            lap(f"insert attendance ({generated.created} of {generated.generated} rows new)")
        report.notices_sent = notices_history_seed(programme=programme, now=now)
        lap(f"notices that went out ({report.notices_sent} reminders)")
        # The cadres and enrolments went in by COPY, past the services: recount.
        summaries_rebuild(programme_ids=[programme.pk])
        headcounts_changed()
        lap("report summaries")
    return report


# ---------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------
def _account(
    username: str, *, unit_id: int | None, full_name: str, job_title: str, **flags: Any
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, full_name=full_name, job_title=job_title, **flags)
        user.unit_id = unit_id
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user
    desired: dict[str, Any] = {"unit_id": unit_id, **flags}
    changed = [name for name, value in desired.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, desired[name])
    if not user.is_active:
        user.is_active = True
        changed.append("is_active")
    if not user.check_password(DEMO_PASSWORD):  # the documented password must work
        user.set_password(DEMO_PASSWORD)
        changed.append("password")
    if changed:
        user.save(update_fields=changed)
    return user


def _demo_accounts(spec: NodeSpec, unit_ids: dict[str, int]) -> dict[str, User]:
    hangzhou = spec.child("杭州市")
    xihu = hangzhou.child("西湖区")
    lingyin = xihu.child("灵隐街道")
    admin = _account(
        "admin",
        unit_id=None,
        full_name="系统管理员",
        job_title="平台管理员",
        is_staff=True,
        is_superuser=True,
    )
    organiser = _account(
        "organiser",
        unit_id=unit_ids[spec.org_department.path],
        full_name="陈伟",
        job_title="干部教育处处长",
        is_staff=True,
    )
    organiser.groups.add(organiser_group_ensure())
    Role.objects.get_or_create(
        user=organiser, kind=Role.Kind.ORGANISER, unit_id=unit_ids[spec.path]
    )
    school = _account(
        "school",
        unit_id=unit_ids[xihu.party_school.path],
        full_name="周丽",
        job_title="教务科科长",
    )
    Role.objects.get_or_create(user=school, kind=Role.Kind.SCHOOL, unit_id=unit_ids[xihu.path])
    cadre = _account(
        "cadre",
        unit_id=unit_ids[lingyin.path],
        full_name="王小明",
        job_title="党政办科员",
    )
    if cadre.phone is None and not User.objects.filter(phone="13800000001").exists():
        cadre.phone = "13800000001"
        cadre.save(update_fields=["phone"])
    # The 浙政钉 employee code a directory import would record (links 浙政钉 sign-in).
    if (
        cadre.zwdd_employee_code is None
        and not User.objects.filter(zwdd_employee_code=DEMO_ZWDD_EMPLOYEE_CODE).exists()
    ):
        cadre.zwdd_employee_code = DEMO_ZWDD_EMPLOYEE_CODE
        cadre.save(update_fields=["zwdd_employee_code"])
    cadre2 = _account(  # a colleague in the same township, for two-person flows
        "cadre2",
        unit_id=unit_ids[lingyin.path],
        full_name="李晓红",
        job_title="组织委员",
    )
    return {
        "admin": admin,
        "organiser": organiser,
        "school": school,
        "cadre": cadre,
        "cadre2": cadre2,
    }


# ---------------------------------------------------------------------------
# Programme, speakers, venues, lectures
# ---------------------------------------------------------------------------
def _venues(spec: NodeSpec, unit_ids: dict[str, int]) -> dict[str, Venue]:
    """A party-school venue for the province, each city and each county, by area path."""
    areas: list[tuple[NodeSpec, str, int]] = [(spec, "浙江省委党校知行厅", 600)]
    for city in spec.children:
        if city.kind != OrgUnit.Kind.CITY:
            continue
        areas.append((city, f"{city.name}委党校报告厅", 300))
        areas.extend(
            (county, f"{county.name}委党校报告厅", 150)
            for county in city.children
            if county.kind == OrgUnit.Kind.COUNTY
        )
    existing = {
        (v.unit_id, v.name): v
        for v in Venue.objects.filter(
            unit_id__in=[unit_ids[a.party_school.path] for a, *_ in areas]
        )
    }
    venues: dict[str, Venue] = {}
    missing: list[Venue] = []
    for area, name, capacity in areas:
        unit_id = unit_ids[area.party_school.path]
        venue = existing.get((unit_id, name))
        if venue is None:
            venue = Venue(
                name=name,
                kind=Venue.Kind.PARTY_SCHOOL,
                unit_id=unit_id,
                capacity=capacity,
                address=area.party_school.name,
            )
            missing.append(venue)
        venues[area.path] = venue
    Venue.objects.bulk_create(missing)
    if any(v.pk is None for v in missing):  # databases that cannot return ids
        ids = {
            (v.unit_id, v.name): v.pk
            for v in Venue.objects.filter(unit_id__in=[v.unit_id for v in missing])
        }
        for v in missing:
            v.pk = ids[(v.unit_id, v.name)]
    return venues


def _speakers() -> dict[str, Speaker]:
    speakers: dict[str, Speaker] = {}
    for item in data.SPEAKERS:
        speaker, _ = Speaker.objects.get_or_create(
            name=item.name,
            organisation=item.organisation,
            defaults={"title": item.title, "bio": item.bio},
        )
        speakers[item.name] = speaker
    return speakers


def _programme(
    spec: NodeSpec,
    unit_ids: dict[str, int],
    organiser: User,
    venues: dict[str, Venue],
    now: datetime,
    report: SeedReport,
) -> Programme:
    organiser_unit_id = unit_ids[spec.org_department.path]
    programme = (
        Programme.objects.filter(title=data.PROGRAMME_TITLE, organiser_unit_id=organiser_unit_id)
        .order_by("pk")
        .first()
    )
    if programme is None:
        programme = Programme.objects.create(
            title=data.PROGRAMME_TITLE,
            description=data.PROGRAMME_DESCRIPTION,
            organiser_unit_id=organiser_unit_id,
            enrolment_mode=Programme.EnrolmentMode.VOLUNTARY,
            replays_count=True,
            is_published=True,
        )
    programme.audience.add(unit_ids[spec.path])

    speakers = _speakers()
    live_url = demo_live_playlist_url()
    replay_url = demo_replay_url()
    existing = {lecture.sequence: lecture for lecture in programme.lectures.all()}
    lectures: list[Lecture] = []
    for slot, item in zip(lecture_schedule(now=now), data.LECTURES, strict=True):
        ended = slot.sequence < data.LIVE_SEQUENCE
        values = {
            "starts_at": slot.starts_at,
            "duration_minutes": slot.duration_minutes,
            "ends_at": slot.starts_at + timedelta(minutes=slot.duration_minutes),
            "stream_url": live_url,
            "replay_url": replay_url if ended else "",
            "status_override": "",
        }
        lecture = existing.get(slot.sequence)
        if lecture is None:
            lecture = Lecture(
                programme=programme,
                sequence=slot.sequence,
                title=item.title,
                summary=item.summary,
                category=item.category,
                **values,
            )
            lecture.save()  # validated below, once every lecture has its new time
        else:
            # Move with .update() first and validate the final layout afterwards: moving one
            # lecture at a time could briefly overlap another one's old slot.
            Lecture.objects.filter(pk=lecture.pk).update(**values)
        lectures.append(lecture)
        if not lecture.speakers.exists():
            lecture.speakers.add(speakers[item.speaker])

    venue_ids = [v.pk for v in venues.values()]
    for lecture in lectures:
        lecture.refresh_from_db()
        lecture.full_clean()
        lecture.venues.add(*venue_ids)
        lecture.moderators.add(organiser)
    report.lectures = len(lectures)
    return programme


# ---------------------------------------------------------------------------
# Generated cadres
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Post:
    """A unit a generated cadre may work in."""

    unit_id: int
    titles: Sequence[str]
    venue_id: int | None
    venue_share: float


def _posts(
    spec: NodeSpec, unit_ids: dict[str, int], venues: dict[str, Venue]
) -> list[tuple[float, list[_Post]]]:
    pools: dict[str, list[_Post]] = {level: [] for level, _w in LEVEL_WEIGHTS}
    for node in spec.walk():
        level: str = node.kind
        titles_key: str = node.kind
        if node.kind in (OrgUnit.Kind.ORG_DEPARTMENT, OrgUnit.Kind.PARTY_SCHOOL):
            level = "institution"
        elif node.kind == OrgUnit.Kind.TOWNSHIP:
            titles_key = "street" if node.name.endswith("街道") else "town"
        elif node.kind == OrgUnit.Kind.VILLAGE:
            titles_key = "community" if node.name.endswith("社区") else "village"
        area = node.area or spec
        venue = venues.get(area.path)
        pools[level].append(
            _Post(
                unit_id=unit_ids[node.path],
                titles=people.JOB_TITLES[titles_key],
                venue_id=venue.pk if venue else None,
                venue_share=VENUE_SHARE[level],
            )
        )
    return [(weight, pools[level]) for level, weight in LEVEL_WEIGHTS]


@dataclass
class _CadreRow:
    username: str
    full_name: str
    phone: str | None
    unit_id: int
    job_title: str
    enrolled: bool
    venue_id: int | None
    enrolled_days_before: float


def _cadre_rows(
    spec: NodeSpec, unit_ids: dict[str, int], venues: dict[str, Venue], count: int
) -> Iterator[_CadreRow]:
    """The first ``count`` generated cadres; cadre i is the same whatever ``count`` is."""
    rng = random.Random(CADRE_SEED)  # noqa: S311 (demo data, not secrets)
    levels = _posts(spec, unit_ids, venues)
    level_cum = list(itertools.accumulate(w for w, _p in levels))
    level_pools = [pool for _w, pool in levels]
    surname_cum = list(itertools.accumulate(people.SURNAME_WEIGHTS))
    surnames, given = people.SURNAMES, people.GIVEN_CHARS
    n_given = len(given)
    rand = rng.random
    for i in range(1, count + 1):
        pool = level_pools[bisect.bisect(level_cum, rand() * level_cum[-1])]
        post = pool[int(rand() * len(pool))]
        name = surnames[bisect.bisect(surname_cum, rand() * surname_cum[-1])]
        name += given[int(rand() * n_given)]
        second = given[int(rand() * n_given)]
        if rand() < people.TWO_CHAR_GIVEN_SHARE:
            name += second
        has_phone = rand() < PHONE_SHARE
        title = post.titles[int(rand() * len(post.titles))]
        enrolled = rand() < ENROLLED_SHARE
        at_venue = rand() < post.venue_share
        days_before = rand() * 10
        yield _CadreRow(
            username=f"{CADRE_USERNAME_PREFIX}{i:06d}",
            full_name=name,
            # A bijection of i onto 8 digits: unique, and stable across runs.
            phone=f"199{(i * 73_939_133 + 10_000_019) % 100_000_000:08d}" if has_phone else None,
            unit_id=post.unit_id,
            job_title=title,
            enrolled=enrolled,
            venue_id=post.venue_id if enrolled and at_venue else None,
            enrolled_days_before=days_before,
        )


def _cadres(
    spec: NodeSpec,
    unit_ids: dict[str, int],
    venues: dict[str, Venue],
    programme: Programme,
    count: int,
    now: datetime,
    report: SeedReport,
    lap: Callable[[str], None],
) -> None:
    existing_usernames = set(
        User.objects.filter(username__regex=rf"^{CADRE_USERNAME_PREFIX}\d{{6}}$").values_list(
            "username", flat=True
        )
    )
    taken_phones = set(User.objects.exclude(phone=None).values_list("phone", flat=True))
    rows = [
        row
        for row in _cadre_rows(spec, unit_ids, venues, count)
        if row.username not in existing_usernames
    ]
    report.cadres_existing = count - len(rows)
    for row in rows:
        if row.phone in taken_phones:
            row.phone = None
    lap(f"generate {len(rows)} cadres")
    if not rows:
        return

    password = make_password(DEMO_PASSWORD)
    if copy_supported():
        user_ids = _users_copy(rows, password, now)
    else:
        user_ids = _users_bulk(rows, password, now)
    report.cadres_created = len(rows)
    lap("insert cadres")

    first_start = lecture_schedule(now=now)[0].starts_at
    enrolments = [
        (
            user_id,
            row.venue_id,
            Enrolment.Source.ASSIGNED if row.venue_id else Enrolment.Source.SELF,
            first_start - timedelta(days=row.enrolled_days_before),
        )
        for row, user_id in zip(rows, user_ids, strict=True)
        if row.enrolled
    ]
    if copy_supported():
        _enrolments_copy(enrolments, programme.pk)
    else:
        Enrolment.objects.bulk_create(
            (
                Enrolment(
                    user_id=user_id,
                    programme_id=programme.pk,
                    venue_id=venue_id,
                    source=source,
                    status=Enrolment.Status.ACTIVE,
                    enrolled_at=enrolled_at,
                )
                for user_id, venue_id, source, enrolled_at in enrolments
            ),
            batch_size=5000,
            ignore_conflicts=True,
        )
    report.enrolments_created = len(enrolments)
    lap("insert enrolments")


def _users_bulk(rows: list[_CadreRow], password: str, now: datetime) -> list[int]:
    users = [
        User(
            username=row.username,
            password=password,
            full_name=row.full_name,
            phone=row.phone,
            unit_id=row.unit_id,
            job_title=row.job_title,
            date_joined=now,
        )
        for row in rows
    ]
    User.objects.bulk_create(users, batch_size=2000)
    if all(u.pk is not None for u in users):
        return [u.pk for u in users]
    ids = dict(
        User.objects.filter(username__in=[r.username for r in rows]).values_list("username", "id")
    )
    return [ids[r.username] for r in rows]


def _users_copy(rows: list[_CadreRow], password: str, now: datetime) -> list[int]:
    """Insert users with COPY, in the order of ``rows``; returns their ids."""
    copy_rows(
        table=User,
        columns=(
            "username",
            "password",
            "full_name",
            "phone",
            "unit_id",
            "job_title",
            "date_joined",
            "first_name",
            "last_name",
            "email",
            "is_superuser",
            "is_staff",
            "is_active",
        ),
        rows=(
            (
                r.username,
                password,
                r.full_name,
                r.phone or None,
                r.unit_id,
                r.job_title,
                now,
                "",
                "",
                "",
                False,
                False,
                True,
            )
            for r in rows
        ),
    )
    ids = dict(
        User.objects.filter(username__regex=rf"^{CADRE_USERNAME_PREFIX}\d{{6}}$").values_list(
            "username", "id"
        )
    )
    return [ids[r.username] for r in rows]


def _enrolments_copy(
    enrolments: Sequence[tuple[int, int | None, str, datetime]], programme_id: int
) -> None:
    active = Enrolment.Status.ACTIVE
    copy_rows(
        table=Enrolment,
        columns=("user_id", "programme_id", "venue_id", "source", "status", "enrolled_at"),
        rows=(
            (user_id, programme_id, venue_id, str(source), str(active), enrolled_at)
            for user_id, venue_id, source, enrolled_at in enrolments
        ),
    )
