"""The scope matrix (docs/security.md §6, docs/security.md §6).

A five-level tree (province → city → county → township → village) and, for the county
西湖区 (the target), users of the unit itself, its parent city, its child township and a
sibling county, in every role (organiser, party-school staff, auditor, named moderator,
cadre) and anonymous. Each of them requests every endpoint with the target's objects:
reports, exports, follow-ups, 通报, check-in pages, dashboards, JSON endpoints, the live
socket, and every admin changelist and change page. Access must be granted exactly where
the rule says and refused (403/404, the sign-in redirect for anonymous users, a 4403 or
4401 close on the socket) everywhere else.

The endpoints come from the URLconf and the admin registry: a new URL name or a newly
registered model without an entry below fails ``test_every_endpoint_has_a_matrix_entry``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from courses.models import Attendance, AttendanceOverride, Enrolment, Lecture, Programme, Venue
from directory.models import DirectoryImport
from discussion import services as discussion_services
from discussion.models import PostReport, ProgrammeDiscussion, StudyGroup
from discussion.routing import websocket_urlpatterns as discussion_websocket_urlpatterns
from discussion.selectors import space_access
from learning.models import Certificate, Evaluation, Quiz, QuizQuestion
from livestream.models import Question, StreamKey
from livestream.routing import websocket_urlpatterns
from notifications.models import (
    Announcement,
    AnnouncementAttachment,
    ChannelBinding,
    Delivery,
    InboxMessage,
    NotifyPreference,
    RankingSubscription,
    Reminder,
)
from portal.models import AuditLog, OrgUnit, Role, User
from portal.services import audit_log_write, organiser_permissions_grant
from tests.conftest import Tree
from tests.factories import EnrolmentFactory, LectureFactory, ProgrammeFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("organiser", "school", "auditor", "moderator", "cadre")
RELATIONS = ("own", "parent", "child", "sibling")
UNIT_OF = {"own": "xihu", "parent": "hangzhou", "child": "lingyin", "sibling": "yuhang"}
TARGET_TITLE = "西湖区靶向专题班"

Actor = tuple[str, str]  # (role, relation); ("anonymous", "") for no user
Rule = Callable[[str, str], bool]


# --------------------------------------------------------------------------------------
# Who may: the rules, each in one line
# --------------------------------------------------------------------------------------
def staff(role: str, rel: str) -> bool:
    """Report and check-in staff whose subtree holds the target (itself or above)."""
    return role in ("organiser", "school") and rel in ("own", "parent")


def managers(role: str, rel: str) -> bool:
    return role == "organiser" and rel in ("own", "parent")


def auditors(role: str, rel: str) -> bool:
    return role == "auditor" and rel in ("own", "parent")


def audience(role: str, rel: str) -> bool:
    """Users of the target's subtree (the programme's audience) and its organisers."""
    return rel in ("own", "child") or managers(role, rel)


def moderators(role: str, rel: str) -> bool:
    return managers(role, rel) or (role == "moderator" and rel == "own")


def room(role: str, rel: str) -> bool:
    return audience(role, rel) or moderators(role, rel)


def report_staff(role: str, rel: str) -> bool:
    """Pages that show the caller's own area: every report reader, wherever they sit."""
    return role in ("organiser", "school")


def report_programmes(role: str, rel: str) -> bool:
    """Who may report on the target programme for some unit: staff above it, at it, or
    below it inside its audience (they read their own cadres' attendance in it)."""
    return report_staff(role, rel) and rel in ("own", "parent", "child")


def in_audience(role: str, rel: str) -> bool:
    """The catalogue offers a programme to its audience (organisers find theirs in the
    admin and the reports)."""
    return rel in ("own", "child")


def owner(role: str, rel: str) -> bool:
    """The target cadre alone (their own inbox message)."""
    return role == "cadre" and rel == "own"


def recipient_or_manager(role: str, rel: str) -> bool:
    return owner(role, rel) or managers(role, rel)


def signed_in(role: str, rel: str) -> bool:
    return True


def group_members(role: str, rel: str) -> bool:
    """The target unit's study group: everyone of its subtree is a member (made from the
    unit), and the organisers and party-school staff over it manage it."""
    return rel in ("own", "child") or staff(role, rel)


# --------------------------------------------------------------------------------------
# The world: the tree, a programme per unit, the actors
# --------------------------------------------------------------------------------------
@dataclass
class World:
    tree: Tree
    programmes: dict[str, Programme]
    lectures: dict[str, Lecture]
    venues: dict[str, Venue]
    actors: dict[Actor, User]
    objects: dict[str, models.Model] = field(default_factory=dict)

    @property
    def unit(self) -> OrgUnit:
        return self.tree.xihu

    @property
    def programme(self) -> Programme:
        return self.programmes["own"]

    @property
    def lecture(self) -> Lecture:
        return self.lectures["own"]

    @property
    def venue(self) -> Venue:
        return self.venues["own"]

    @property
    def cadre(self) -> User:
        return self.actors[("cadre", "own")]


def _world(tree: Tree) -> World:
    now = timezone.now()
    programmes: dict[str, Programme] = {}
    lectures: dict[str, Lecture] = {}
    venues: dict[str, Venue] = {}
    actors: dict[Actor, User] = {}
    for rel, attr in UNIT_OF.items():
        unit: OrgUnit = getattr(tree, attr)
        title = TARGET_TITLE if rel == "own" else f"{unit.name}专题班"
        programme = ProgrammeFactory(title=title, organiser_unit=unit, audience=[unit])
        programmes[rel] = programme
        lectures[rel] = LectureFactory(
            programme=programme,
            title=f"{title}第一讲",
            starts_at=now - timedelta(minutes=20),
            duration_minutes=90,
        )
        venues[rel] = Venue.objects.create(
            name=f"{unit.name}党校报告厅", kind=Venue.Kind.PARTY_SCHOOL, unit=unit, capacity=50
        )
        lectures[rel].venues.add(venues[rel])
        for role in ROLES:
            user = UserFactory(
                username=f"{role}-{rel}",
                full_name=f"{unit.name}{role}",
                unit=unit,
                phone=f"139{ROLES.index(role)}{RELATIONS.index(rel)}0000000"[:11],
            )
            if role == "organiser":
                Role.objects.create(user=user, kind=Role.Kind.ORGANISER, unit=unit)
                organiser_permissions_grant(user=user)
                # beyond the group, as a superuser may grant: the scope must still hold
                user.user_permissions.add(*_scoped_model_permissions())
            elif role == "school":
                Role.objects.create(user=user, kind=Role.Kind.SCHOOL, unit=unit)
            elif role == "auditor":
                user.is_staff = True
                user.save(update_fields=["is_staff"])
                Role.objects.create(user=user, kind=Role.Kind.AUDITOR, unit=unit)
            elif role == "moderator":
                lectures[rel].moderators.add(user)
            else:
                EnrolmentFactory(user=user, programme=programme)
            actors[(role, rel)] = user
    world = World(tree, programmes, lectures, venues, actors)
    _objects(world)
    return world


def _scoped_model_permissions() -> list[Permission]:
    wanted = [apps.get_model(label) for label in ADMIN_RULES]
    types = ContentType.objects.get_for_models(*wanted).values()
    return list(Permission.objects.filter(content_type__in=types, codename__startswith="view_"))


def _objects(world: World) -> None:
    """One object of every scoped admin model (and the inbox), all in the target's subtree."""
    cadre, lecture, unit = world.cadre, world.lecture, world.unit
    attendance = Attendance.objects.create(
        user=cadre, lecture=lecture, live_seconds=600, venue=world.venue
    )
    announcement = Announcement.objects.create(title="西湖区通知", body="正文", unit=unit)
    attachment = AnnouncementAttachment.objects.create(
        announcement=announcement, file=ContentFile(b"%PDF-1.4\n", name="notice.pdf"), name="notice"
    )
    reminder = Reminder.objects.create(lecture=lecture, kind="reminder_24h", due_at=timezone.now())
    audit_log_write(user=cadre, action="matrix.probe", target=cadre)
    group = discussion_services.group_create(
        by=world.actors[("school", "own")],
        programme=world.programme,
        unit=unit,
        name="西湖区学习群",
    )
    topic = discussion_services.thread_create(
        access=space_access(user=world.actors[("school", "own")], space=group.space),
        title="西湖区讨论",
        text="请大家谈谈",
        client_id="m-1",
    )
    post = discussion_services.post_create(
        access=space_access(user=cadre, space=group.space),
        thread_id=topic.thread.pk,
        text="一条帖子",
        client_id="m-2",
    ).post
    quiz = Quiz.objects.create(lecture=lecture, opens_at=timezone.now() - timedelta(hours=1))
    world.objects.update(
        {
            "portal.User": cadre,
            "portal.Role": Role.objects.get(user=world.actors[("organiser", "own")]),
            "portal.OrgUnit": unit,
            "portal.AuditLog": AuditLog.objects.get(action="matrix.probe"),
            "courses.Attendance": attendance,
            "courses.AttendanceOverride": AttendanceOverride.objects.create(
                attendance=attendance,
                completed=True,
                reason="matrix",
                by=world.actors[("organiser", "own")],
            ),
            "courses.Programme": world.programme,
            "courses.Lecture": lecture,
            "courses.Venue": world.venue,
            "courses.Enrolment": Enrolment.objects.get(user=cadre, programme=world.programme),
            "notifications.Reminder": reminder,
            "notifications.Delivery": Delivery.objects.create(
                reminder=reminder, user=cadre, channel="sms", address=cadre.phone or ""
            ),
            "notifications.ChannelBinding": ChannelBinding.objects.create(
                user=cadre, channel="wechat", address="o-matrix"
            ),
            "notifications.NotifyPreference": NotifyPreference.objects.create(user=cadre),
            "notifications.Announcement": announcement,
            "notifications.RankingSubscription": RankingSubscription.objects.create(
                programme=world.programme, level="township", unit=unit
            ),
            "directory.DirectoryImport": DirectoryImport.objects.create(
                kind="cadres",
                file=ContentFile(b"x", name="cadres.csv"),
                file_name="cadres.csv",
                unit=unit,
            ),
            "livestream.StreamKey": StreamKey.objects.create(lecture=lecture, key="k" * 32),
            "learning.Quiz": quiz,
            "learning.QuizQuestion": QuizQuestion.objects.create(
                quiz=quiz, kind="single", text="矩阵测验题"
            ),
            "learning.Evaluation": Evaluation.objects.create(
                lecture=lecture,
                user=cadre,
                relevance=4,
                theory=4,
                information=4,
                delivery=4,
                manner=4,
            ),
            "learning.Certificate": Certificate.objects.create(
                serial="ZXMATRIX00000001",
                kind="year",
                user=cadre,
                year=2026,
                name=cadre.full_name,
                unit_name=unit.name,
                unit_level=unit.kind,
                issuer="中共浙江省委组织部",
                hours=4,
                lectures=2,
            ),
            "livestream.Question": Question.objects.create(
                lecture=lecture, author=cadre, text="什么时候开始？", client_id="m-1"
            ),
            "discussion.StudyGroup": group,
            "discussion.Post": post,
            "discussion.PostReport": PostReport.objects.create(
                post=post, reporter=world.actors[("cadre", "child")], reason="spam"
            ),
            "discussion.ProgrammeDiscussion": ProgrammeDiscussion.objects.create(
                programme=world.programme
            ),
            "thread": topic.thread,
            "attachment": attachment,
            "inbox": InboxMessage.objects.create(
                user=cadre, announcement=announcement, title="西湖区通知"
            ),
        }
    )


@pytest.fixture
def world(tree: Tree, settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = ""
    return _world(tree)


def _all_actors() -> Iterator[Actor]:
    for role in ROLES:
        for rel in RELATIONS:
            yield role, rel


# --------------------------------------------------------------------------------------
# The probes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """One request with the target's objects and who must get through.

    ``listing``: a page every eligible user opens (their own area); ``rule`` then says who
    sees the target programme on it, and the others must not see it."""

    rule: Rule
    path: Callable[[World], str]
    method: str = "GET"
    redirects: bool = False  # a 302 is the way in (to the page that shows it)
    data: Callable[[World], dict[str, Any]] = lambda w: {}
    listing: Rule | None = None
    marker: Callable[[World], str | None] = lambda w: TARGET_TITLE
    json: bool = False  # the body is JSON (the discussion API), not a form


def _report(path: str, **extra: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        params = {"unit": w.unit.code, "programme": str(w.programme.pk), **extra}
        return f"{reverse(path)}?" + "&".join(f"{k}={v}" for k, v in params.items())

    return build


def _lecture(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.lecture.pk])


def _checkin(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.lecture.pk, w.venue.pk])


def _group(w: World) -> StudyGroup:
    return cast(StudyGroup, w.objects["discussion.StudyGroup"])


def _thread(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.objects["thread"].pk])


def _discussion_post(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.objects["discussion.Post"].pk])


PROBES: dict[str, Probe | str] = {
    # reports, exports, follow-ups, 通报 (scope by ?unit=)
    "courses:attendance_report": Probe(staff, _report("courses:attendance_report")),
    "courses:attendance_report_data": Probe(staff, _report("courses:attendance_report_data")),
    "courses:followup": Probe(staff, _report("courses:followup")),
    "courses:ranking": Probe(staff, _report("courses:ranking", level="township")),
    "courses:study_hours": Probe(
        staff,
        lambda w: f"{reverse('courses:study_hours')}?unit={w.unit.code}&list=all",
        marker=lambda w: w.cadre.full_name,
    ),
    "portal:reports": Probe(
        report_programmes,
        lambda w: f"{reverse('portal:reports')}?programme={w.programme.pk}",
        listing=report_staff,
    ),
    # check-in (through the venue's unit)
    "courses:checkin_staff": Probe(staff, _checkin("courses:checkin_staff")),
    "courses:checkin_status": Probe(staff, _checkin("courses:checkin_status")),
    "courses:checkin_mark": Probe(staff, _checkin("courses:checkin_mark"), method="POST"),
    "courses:checkin_unmark": Probe(
        staff,
        _checkin("courses:checkin_unmark"),
        method="POST",
        data=lambda w: {"user": str(w.cadre.pk)},
    ),
    # the live room, the projector view, the organisers' dashboard
    "livestream:room": Probe(room, _lecture("livestream:room")),
    "livestream:screen": Probe(room, _lecture("livestream:screen")),
    "livestream:dashboard": Probe(moderators, _lecture("livestream:dashboard")),
    "livestream:speaker": Probe(moderators, _lecture("livestream:speaker")),
    # the lecture's test and rating: the room's rule
    "learning:quiz": Probe(room, _lecture("learning:quiz")),
    "learning:evaluate": Probe(room, _lecture("learning:evaluate")),
    # the catalogue and a programme's pages
    "courses:programme": Probe(
        audience, lambda w: reverse("courses:programme", args=[w.programme.pk])
    ),
    "courses:lecture": Probe(audience, _lecture("courses:lecture")),
    "courses:catalogue": Probe(
        in_audience, lambda w: reverse("courses:catalogue"), listing=signed_in
    ),
    "home": Probe(in_audience, lambda w: reverse("home"), listing=signed_in),
    # a user's own things: the inbox, an announcement's attachment
    "notifications:inbox_open": Probe(
        owner, lambda w: reverse("notifications:inbox_open", args=[w.objects["inbox"].pk])
    ),
    "notifications:announcement_open": Probe(
        owner,
        lambda w: reverse(
            "notifications:announcement_open", args=[w.objects["notifications.Announcement"].pk]
        ),
        redirects=True,
    ),
    "notifications:attachment_download": Probe(
        recipient_or_manager,
        lambda w: reverse("notifications:attachment_download", args=[w.objects["attachment"].pk]),
    ),
    # Pages about the caller alone: every signed-in user, nobody else's data on them.
    "notifications:inbox": Probe(
        owner,
        lambda w: reverse("notifications:inbox"),
        listing=signed_in,
        marker=lambda w: "西湖区通知",
    ),
    "notifications:preferences": Probe(
        owner,
        lambda w: reverse("notifications:preferences"),
        listing=signed_in,
        marker=lambda w: None,
    ),
    "courses:study_record": Probe(
        owner, lambda w: reverse("courses:study_record"), listing=signed_in
    ),
    "portal:profile": Probe(
        owner,
        lambda w: reverse("portal:profile"),
        listing=signed_in,
        marker=lambda w: w.cadre.full_name,
    ),
    "portal:my_data": Probe(
        owner,
        lambda w: reverse("portal:my_data"),
        listing=signed_in,
        marker=lambda w: w.cadre.phone,
    ),
    # the discussion: a lecture's space follows the room, a study group its members
    "discussion:lecture_space": Probe(room, _lecture("discussion:lecture_space")),
    "discussion:lecture_space_open": Probe(
        moderators, _lecture("discussion:lecture_space_open"), method="POST"
    ),
    "discussion:groups": Probe(
        group_members,
        lambda w: reverse("discussion:groups"),
        listing=signed_in,
        marker=lambda w: "西湖区学习群",
    ),
    "discussion:group_new": Probe(
        report_staff, lambda w: reverse("discussion:group_new"), marker=lambda w: None
    ),
    "discussion:group": Probe(
        group_members,
        lambda w: reverse("discussion:group", args=[w.objects["discussion.StudyGroup"].pk]),
    ),
    "discussion:thread": Probe(group_members, _thread("discussion:thread")),
    "discussion:api_threads": Probe(
        group_members,
        lambda w: reverse("discussion:api_threads", args=[_group(w).space_id]),
    ),
    "discussion:api_posts": Probe(group_members, _thread("discussion:api_posts")),
    "discussion:api_read": Probe(
        group_members,
        _thread("discussion:api_read"),
        method="POST",
        json=True,
        data=lambda w: {"last_post_id": w.objects["discussion.Post"].pk},
    ),
    "discussion:api_post_like": Probe(
        group_members,
        _discussion_post("discussion:api_post_like"),
        method="POST",
        json=True,
        data=lambda w: {"up": True},
    ),
    "discussion:api_post_report": Probe(
        group_members,
        _discussion_post("discussion:api_post_report"),
        method="POST",
        json=True,
        data=lambda w: {"reason": "spam"},
    ),
    "discussion:api_thread_moderate": Probe(
        staff,
        _thread("discussion:api_thread_moderate"),
        method="POST",
        json=True,
        data=lambda w: {"action": "pin"},
    ),
    # last: hiding the post takes it away from the members' probes above
    "discussion:api_post_moderate": Probe(
        staff,
        _discussion_post("discussion:api_post_moderate"),
        method="POST",
        json=True,
        data=lambda w: {"action": "hide", "reason": "matrix"},
    ),
    # Not scoped by the tree, each for the reason given (and tested where named).
    "courses:enrol": "the caller enrols themself; audience rule in tests/courses/catalogue",
    "courses:withdraw": "the caller's own enrolment only; tests/courses/catalogue",
    "courses:checkin_scan": "a signed token names the venue; the cadre checks in themself",
    "notifications:inbox_read_all": "marks the caller's own inbox read",
    "notifications:receipt_aliyun_sms": "provider webhook, signed (tests/notifications)",
    "notifications:receipt_wechat": "provider webhook, signed (tests/notifications)",
    "demo:live_playlist": "the demo stream, public by design",
    "livestream:stream_publish": "the origin's hook: token + address (tests/livestream)",
    "livestream:stream_publish_done": "the origin's hook: token + address",
    "livestream:stream_update": "the origin's hook: token + address",
    "livestream:stream_record_done": "the origin's hook: token + address",
    "livestream:stream_cdn_aliyun": "the CDN's callback, signed (tests/livestream)",
    "livestream:stream_cdn_tencent": "the CDN's callback, signed (tests/livestream)",
    "learning:year_certificate": "the caller's own 学时证明 only (tests/learning)",
    "learning:programme_certificate": "the caller's own 结业证书 only (tests/learning)",
    "learning:verify": "public by design: name, unit level, 学时, date (tests/learning)",
    "healthz": "public health probe, no data",
    "healthz_live": "public liveness probe, no data",
    "csp_report": "browsers post CSP reports, no data returned",
    "set_language": "the caller's language cookie",
}
ACCOUNT_PREFIX = "accounts/"  # sign-in flows: about the caller alone (tests/signin)


def _url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str, ns: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = f"{ns}{p.namespace}:" if p.namespace else ns
                walk(p.url_patterns, prefix + str(p.pattern), inner)
            elif p.name and not prefix.startswith(ACCOUNT_PREFIX):
                names.add(f"{ns}{p.name}")

    walk(get_resolver().url_patterns, "", "")
    return {n for n in names if not n.startswith("admin:")}


# The admin: which models are scoped to the organiser's subtree, which are superusers'.
ADMIN_RULES: dict[str, Rule] = {
    "learning.Certificate": managers,
    "learning.Quiz": managers,
    "learning.QuizQuestion": managers,
    "learning.Evaluation": managers,
    "portal.User": managers,
    "portal.Role": managers,
    "portal.OrgUnit": managers,
    "portal.AuditLog": auditors,
    "courses.Attendance": managers,
    "courses.AttendanceOverride": managers,
    "courses.Programme": managers,
    "courses.Lecture": managers,
    "courses.Venue": managers,
    "courses.Enrolment": managers,
    "notifications.Reminder": managers,
    "notifications.Delivery": managers,
    "notifications.ChannelBinding": managers,
    "notifications.NotifyPreference": managers,
    "notifications.Announcement": managers,
    "notifications.RankingSubscription": managers,
    "directory.DirectoryImport": managers,
    "livestream.Question": managers,
    "livestream.StreamKey": managers,
    "discussion.StudyGroup": managers,  # and party-school staff, when given admin access
    "discussion.Post": managers,
    "discussion.PostReport": managers,
    "discussion.ProgrammeDiscussion": managers,
}
# Registered models without a unit: superusers' alone, or shared reference data.
ADMIN_UNSCOPED = {
    "auth.Group": "superusers (permissions)",
    "account.EmailAddress": "superusers (allauth)",
    "socialaccount.SocialApp": "superusers (provider secrets)",
    "socialaccount.SocialToken": "superusers (tokens)",
    "socialaccount.SocialAccount": "superusers (linked accounts)",
    "courses.Speaker": "speakers are shared by every programme (no personal data)",
    "notifications.MessageTemplate": "superusers (notice templates)",
    "notifications.ChannelState": "superusers (channel switches)",
}


def test_every_endpoint_has_a_matrix_entry() -> None:
    missing = _url_names() - set(PROBES)
    stale = set(PROBES) - _url_names()
    assert not missing, f"endpoints without a scope-matrix entry: {sorted(missing)}"
    assert not stale, f"matrix entries for endpoints that are gone: {sorted(stale)}"
    registered = {m._meta.label for m in admin.site._registry}
    unlisted = registered - set(ADMIN_RULES) - set(ADMIN_UNSCOPED)
    assert not unlisted, f"admin models without a scope-matrix entry: {sorted(unlisted)}"
    assert not (set(ADMIN_RULES) | set(ADMIN_UNSCOPED)) - registered


# --------------------------------------------------------------------------------------
# Running the matrix
# --------------------------------------------------------------------------------------
REFUSED = (403, 404)


def _client(world: World, actor: Actor) -> Client:
    client = Client()
    if actor in world.actors:
        client.force_login(world.actors[actor])
    return client


def _refused_anonymous(status: int, location: str) -> bool:
    return status in (401, *REFUSED) or (status == 302 and location.startswith("/accounts/login/"))


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return str(response.content.decode(errors="replace"))


def test_every_page_export_and_json_endpoint_keeps_to_scope(world: World) -> None:
    wrong: list[str] = []
    for name, probe in PROBES.items():
        if isinstance(probe, str):
            continue
        path = probe.path(world)
        for actor in [*_all_actors(), ("anonymous", "")]:
            client = _client(world, actor)
            if probe.method == "POST" and probe.json:
                body = json.dumps(probe.data(world))
                response = client.post(path, body, content_type="application/json")
            elif probe.method == "POST":
                response = client.post(path, probe.data(world))
            else:
                response = client.get(path)
            status, location = response.status_code, response.get("Location", "")
            body = _body(response) if status == 200 else ""
            where = f"{name} as {actor[0]}@{actor[1] or '-'} → {status} {location}"
            if actor[0] == "anonymous":
                if not _refused_anonymous(status, location):
                    wrong.append(f"{where}: anonymous got through")
                continue
            role, rel = actor
            if probe.listing is not None:
                if not probe.listing(role, rel):
                    if status not in REFUSED:
                        wrong.append(f"{where}: should be refused")
                    continue
                marker = probe.marker(world)
                if status != 200:
                    wrong.append(f"{where}: should open")
                elif marker is not None and (marker in body) != probe.rule(role, rel):
                    wrong.append(
                        f"{where}: {'shows' if marker in body else 'hides'} the target's data"
                    )
                continue
            allowed = probe.rule(role, rel)
            redirected = status == 302 and (probe.method == "POST" or probe.redirects)
            through = 200 <= status < 300 or redirected
            if allowed and not through:
                wrong.append(f"{where}: should get through")
            if not allowed and status not in REFUSED:
                wrong.append(f"{where}: should be refused")
    assert not wrong, "\n".join(wrong)


def _admin_url(label: str, view: str, *args: Any) -> str:
    app_label, model = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model}_{view}", args=args)


def test_every_admin_changelist_and_change_page_keeps_to_scope(world: World) -> None:
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True, unit=None)
    wrong: list[str] = []
    for label in sorted(ADMIN_RULES.keys() | ADMIN_UNSCOPED.keys()):
        rule = ADMIN_RULES.get(label)
        obj = world.objects.get(label)
        changelist = _admin_url(label, "changelist")
        if label == "portal.AuditLog":  # every probe signs in: find the target entry
            changelist += "?q=matrix.probe"
        change = _admin_url(label, "change", obj.pk) if obj is not None else None
        root = Client()
        root.force_login(superuser)
        assert root.get(changelist).status_code == 200, label
        if change is not None:
            assert root.get(change).status_code == 200, label
        for actor in [*_all_actors(), ("anonymous", "")]:
            client = _client(world, actor)
            listed = client.get(changelist)
            opened = client.get(change) if change is not None else None
            where = f"{label} as {actor[0]}@{actor[1] or '-'}"
            user = world.actors.get(actor)
            if user is None or not user.is_staff:
                for response in (listed, opened):
                    if response is not None and not (
                        response.status_code == 302
                        and response["Location"].startswith(reverse("admin:login"))
                    ):
                        wrong.append(f"{where}: not staff, got {response.status_code}")
                continue
            allowed = rule is not None and rule(*actor)
            if opened is not None:
                if allowed and opened.status_code != 200:
                    wrong.append(f"{where}: change page {opened.status_code}, should open")
                if not allowed and opened.status_code not in REFUSED:
                    wrong.append(f"{where}: change page {opened.status_code}, should be refused")
            if rule is None:
                if listed.status_code not in REFUSED and not (
                    label == "courses.Speaker" and actor[0] == "organiser"
                ):
                    wrong.append(f"{where}: changelist {listed.status_code}, superusers' only")
                continue
            if listed.status_code == 200 and change is not None:
                shown = change in listed.content.decode()
                if shown != allowed:
                    wrong.append(f"{where}: changelist {'lists' if shown else 'hides'} the target")
            elif allowed:
                wrong.append(f"{where}: changelist {listed.status_code}, should open")
    assert not wrong, "\n".join(wrong)


def _socket_wrong(world: World, router: URLRouter, path: str, rule: Rule) -> list[str]:
    """Every actor opens the socket: those of ``rule`` stay connected (a state or silence,
    after a hello), the others are closed 4401/4403."""

    async def close_code(user: User | None) -> int | None:
        # the session → user step is tested on the full stack (tests/livestream/test_asgi_stack)
        comm = WebsocketCommunicator(router, path)
        comm.scope["user"] = user if user is not None else AnonymousUser()
        connected, _sub = await comm.connect()
        assert connected  # accepted, then the state or a close with the protocol's code
        await comm.send_to(text_data='{"type":"hello"}')
        out = await comm.receive_output(5)
        await comm.disconnect()
        return int(out["code"]) if out["type"] == "websocket.close" else None

    wrong: list[str] = []
    for actor in [*_all_actors(), ("anonymous", "")]:
        code = async_to_sync(close_code)(world.actors.get(actor))
        allowed = actor[0] != "anonymous" and rule(*actor)
        if allowed and code is not None:
            wrong.append(f"{actor}: closed {code}, should connect")
        if not allowed and code not in (4401, 4403):
            wrong.append(f"{actor}: {'connected' if code is None else code}, should be refused")
    return wrong


def test_the_live_socket_keeps_to_scope(world: World) -> None:
    path = f"/ws/lectures/{world.lecture.pk}/"
    wrong = _socket_wrong(world, URLRouter(websocket_urlpatterns), path, room)
    assert not wrong, "\n".join(wrong)


def test_the_discussion_socket_keeps_to_scope(world: World) -> None:
    path = f"/ws/discussion/{_group(world).space_id}/"
    wrong = _socket_wrong(world, URLRouter(discussion_websocket_urlpatterns), path, group_members)
    assert not wrong, "\n".join(wrong)
