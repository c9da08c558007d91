"""The demo's discussion (issue 16 §7): the demo cadre's township study group with ``cadre``
and ``cadre2`` as members and a thread per ended lecture with a few posts in it, and a few
posts in each ended lecture's own space. Idempotent: fixed client ids, found on re-runs."""

from __future__ import annotations

from datetime import datetime

from courses.models import Lecture, Programme
from discussion import services
from discussion.models import GroupMember, StudyGroup, Thread
from discussion.selectors import space_access
from portal.models import OrgUnit, User

GROUP_NAME = "灵隐街道学习群"
GROUP_TOPIC = "中青年干部如何当好人工智能管理者"
GROUP_POSTS = (
    ("cadre2", "这一讲讲到数据要素，我们街道的网格数据能不能先用起来？"),
    ("cadre", "同意。先从社区养老服务的需求统计试点，@李晓红 下周一起碰一下？"),
    ("cadre2", "好的。讲义里提到的案例在 https://www.zj.gov.cn 上能查到。"),
)
SPACE_TOPIC = "这一讲的收获与疑问"
SPACE_POSTS = (
    "讲到的大模型落地场景很实用，准备在窗口服务里试一试。",
    "关于数据安全的部分希望能再展开讲讲，基层最担心这个。",
    "建议把案例整理成手册，方便我们组织学习时使用。",
)


def discussion_seed(
    *,
    programme: Programme,
    township: OrgUnit,
    school: User,
    cadre: User,
    cadre2: User,
    speakers: list[User],
    now: datetime,
) -> int:
    """Returns the posts created (0 on a re-run)."""
    group = StudyGroup.objects.filter(name=GROUP_NAME, unit=township).first()
    if group is None:
        group = services.group_create(
            by=school, programme=programme, unit=township, name=GROUP_NAME, members_from_unit=False
        )
    services.group_members_add(by=None, group=group, user_ids=[cadre.pk, cadre2.pk])
    GroupMember.objects.filter(group=group, user=cadre2).update(role=GroupMember.Role.LEADER)
    services.lecture_threads_ensure_for_group(group=group, now=now)
    made = 0
    people = {"cadre": cadre, "cadre2": cadre2}
    leader = space_access(user=cadre2, space=group.space)
    topic = services.thread_create(
        access=leader,
        title=GROUP_TOPIC,
        text="请大家结合本职工作谈谈。",
        client_id="demo-group-topic",
        enforce_rate=False,
    )
    made += int(topic.created)
    threads = list(
        Thread.objects.filter(space=group.space, lecture__isnull=False).order_by(
            "lecture__starts_at"
        )
    )
    for thread in threads:
        for i, (who, text) in enumerate(GROUP_POSTS):
            result = services.post_create(
                access=space_access(user=people[who], space=group.space),
                thread_id=thread.pk,
                text=text,
                client_id=f"demo-group-{thread.pk}-{i}",
                enforce_rate=False,
            )
            made += int(result.created)
    ended = [
        lecture
        for lecture in programme.lectures.order_by("sequence")
        if lecture.status_at(now) == Lecture.Status.ENDED
    ]
    authors = [cadre2, *speakers] or [cadre2]
    for lecture in ended:
        space = services.lecture_space_ensure(lecture=lecture)
        space = type(space).objects.select_related("lecture__programme").get(pk=space.pk)
        first = services.thread_create(
            access=space_access(user=authors[0], space=space),
            title=SPACE_TOPIC,
            text=SPACE_POSTS[0],
            client_id=f"demo-space-{lecture.pk}",
            enforce_rate=False,
        )
        made += int(first.created)
        for i, text in enumerate(SPACE_POSTS[1:], start=1):
            author = authors[i % len(authors)]
            result = services.post_create(
                access=space_access(user=author, space=space),
                thread_id=first.thread.pk,
                text=text,
                client_id=f"demo-space-{lecture.pk}-{i}",
                enforce_rate=False,
            )
            made += int(result.created)
    return made
