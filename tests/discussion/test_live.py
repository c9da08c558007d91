"""The discussion socket: members only, live posts, hides, seq recovery."""

from __future__ import annotations

from typing import Any

import pytest

from discussion import broadcast, services
from discussion.models import StudyGroup
from livestream.consumers import run_sync
from portal.models import User
from tests.discussion.conftest import access_of, lecture_thread, socket_open

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _post_sync(user: User, group: StudyGroup, text: str, cid: str) -> int:
    thread = lecture_thread(group)
    return services.post_create(
        access=access_of(user, group), thread_id=thread.pk, text=text, client_id=cid
    ).post.pk


async def test_non_members_and_strangers_are_refused(group: StudyGroup, outsider: User) -> None:
    sock = await socket_open(outsider, group.space_id)
    assert await sock.closed_with() == 4403
    sock = await socket_open(outsider, 999_999)
    assert await sock.closed_with() == 4404


async def test_members_see_posts_and_hides_live(
    group: StudyGroup, member: User, member2: User, school_staff: User
) -> None:
    seq = broadcast.seq_current(space_id=group.space_id)  # what the page was rendered at
    assert seq == 1  # the lecture's thread was announced when the group was made
    a = await socket_open(member2, group.space_id)
    await a.send({"type": "hello", "last_seq": seq})
    assert await a.silent()  # nothing missed: no state, no events
    post_id = await run_sync(_post_sync, user=member, group=group, text="大家好", cid="l1")
    event = await a.recv()
    assert event["type"] == "post.created" and event["post"]["id"] == post_id
    assert event["post"]["parts"] == [{"t": "text", "v": "大家好"}]
    assert event["seq"] == seq + 1

    def hide() -> None:
        services.post_moderate(
            access=access_of(school_staff, group), post_id=post_id, action="hide", reason="测试"
        )

    await run_sync(hide)
    hidden = await a.recv()
    assert hidden == {
        "type": "post.hidden",
        "seq": seq + 2,
        "thread_id": hidden["thread_id"],
        "post_id": post_id,
        "thread": hidden["thread"],
    }
    assert hidden["thread"]["posts"] == 0
    await a.close()


async def test_hello_replays_what_a_page_missed(
    group: StudyGroup, member: User, member2: User
) -> None:
    for i in range(3):
        await run_sync(_post_sync, user=member, group=group, text=f"第{i}条", cid=f"m{i}")
    sock = await socket_open(member2, group.space_id)
    # seq 1 announced the lecture's thread, 2–4 the posts
    await sock.send({"type": "hello", "last_seq": 2})
    got = [await sock.recv(), await sock.recv()]
    assert [e["seq"] for e in got] == [3, 4]
    assert [e["post"]["parts"][0]["v"] for e in got] == ["第1条", "第2条"]
    assert await sock.silent()
    await sock.send({"type": "hello", "last_seq": 99})  # a seq never issued: resync
    assert await sock.recv() == {"type": "state", "seq": 4}
    await sock.send({"type": "hello"})
    assert await sock.recv() == {"type": "state", "seq": 4}
    await sock.close()


async def test_bad_frames_get_errors_and_floods_are_closed(
    group: StudyGroup, member: User, settings: Any
) -> None:
    sock = await socket_open(member, group.space_id)
    await sock.send({"type": "post"})
    assert (await sock.recv())["code"] == "invalid"
    await sock.send({"type": "hello", "last_seq": -1})
    assert (await sock.recv())["code"] == "invalid"
    await sock.comm.send_to(text_data="x" * 5000)
    assert await sock.closed_with() == 1009
    settings.LIVE_FLOOD_FRAMES = 3
    from courses.attendance.hot_settings import hot_settings_forget

    hot_settings_forget()
    sock = await socket_open(member, group.space_id)
    for _ in range(4):
        await sock.send({"type": "hello"})
    assert await sock.closed_with() == 4429
