"""Pages of the live room: the room (player + Q&A, moderator console) and the projector."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _

from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import QUESTION_MAX_CHARS
from livestream.selectors import (
    RoomAccess,
    lecture_payload,
    lecture_stream_url,
    room_access_get,
)
from livestream.streaming.origin import origin_playlist_url
from portal.csp import csp_allow_media


def _access(request: HttpRequest, lecture_id: int) -> RoomAccess:
    try:
        return room_access_get(user=request.user, lecture_id=lecture_id)  # type: ignore[arg-type]
    except LiveError as exc:
        if exc.code == LiveErrorCode.NOT_FOUND:
            raise Http404(exc.message) from exc
        raise PermissionDenied(
            _("This lecture is for cadres of other units; your unit is not in its audience.")
        ) from exc


def _messages() -> dict[str, str]:
    """Chinese texts for the scripts (error codes, close codes, labels)."""
    return {
        "invalid": _("That request was not understood."),
        "too_long": _("A question can have at most 300 characters."),
        "rate_limited": _("You are going too fast; please wait a moment."),
        "forbidden": _("You are not allowed to do that."),
        "not_found": _("That question or lecture does not exist."),
        "close_4401": _("Your sign-in has expired. Please sign in again."),
        "close_4403": _("You are not in this lecture's audience."),
        "close_4404": _("This lecture does not exist."),
        "close_4429": _("Too many messages; reconnecting shortly."),
        "close_1009": _("The message was too large."),
        "close_4408": _("Your connection fell behind; catching up…"),
        "connecting": _("Connecting…"),
        "connected": _("Connected"),
        "reconnecting": _("Connection lost; reconnecting in %(seconds)s s…"),
        "anonymous": _("Anonymous"),
        "pending": _("Awaiting review"),
        "published": _("Published"),
        "answered": _("Answered"),
        "highlighted": _("On screen"),
        "rejected": _("Your question was not published."),
        "rejected_reason": _("Your question was not published: %(reason)s"),
        "accepted": _("Sent. Your question will appear once a moderator approves it."),
        "upvote": _("Upvote"),
        "upvoted": _("Upvoted"),
        "no_questions": _("No questions yet. Be the first to ask!"),
        "queue_empty": _("Nothing waiting for review."),
        "flagged": _("Sensitive words"),
        "approve": _("Approve"),
        "reject": _("Reject"),
        "answer": _("Mark answered"),
        "highlight": _("Put on screen"),
        "unhighlight": _("Take off screen"),
        "reject_prompt": _("Reason for rejecting (the asker will see it):"),
        "starts_in": _("Starts in %(time)s"),
        "live": _("Live"),
        "ended": _("Ended"),
        "scheduled": _("Upcoming"),
        "replay": _("Replay"),
        "no_replay": _("The replay will be available here later."),
        "no_stream": _("The stream has not been set up yet."),
        "play_error": _("The video cannot be played in this browser."),
        "days": _("%(n)s d"),
        "waiting_screen": _("Questions put on screen by the moderator appear here."),
        "viewers": _("%(n)s watching"),
        "stream_down": _("Signal interrupted; recovering…"),
        "preview": _("Preview: only organisers and moderators see this push."),
        "stalled": _("Buffering…"),
        "quality_auto": _("Auto"),
        "merged": _("Your question was merged into a similar one: %(text)s"),
        "similar": _("Similar ×%(n)s"),
        "merge": _("Merge into the first"),
        # the shared queue and the speaker's list (issue 19)
        "claimed": _("Another moderator is handling this question."),
        "claim": _("Claim"),
        "release": _("Release"),
        "claimed_by": _("%(name)s is handling it"),
        "claimed_mine": _("You are handling it"),
        "reject_cluster": _("Reject all %(n)s"),
        "reject_cluster_prompt": _(
            "Reason for rejecting every question of this group (each asker will see it):"
        ),
        "venue": _("In the hall · %(venue)s"),
        "add_to_list": _("Add to the speaker's list"),
        "on_list": _("On the speaker's list"),
        "move_up": _("Move up"),
        "move_down": _("Move down"),
        "remove": _("Remove"),
        "list_empty": _("No questions on the speaker's list yet."),
        "now_answering": _("Now answering"),
        "filter_all": _("All"),
        "filter_flagged": _("Sensitive words"),
        "filter_similar": _("With similar questions"),
        "filter_hall": _("From venues"),
        "filter_free": _("Not claimed"),
        "filter_city": _("From %(city)s"),
        "shown_of": _("%(shown)s of %(total)s shown"),
    }


def _context(request: HttpRequest, access: RoomAccess, **extra: Any) -> dict[str, Any]:
    lecture = access.lecture
    payload = lecture_payload(lecture=lecture)
    return {
        "lecture": lecture,
        "access": access,
        "ended": payload["status"] == "ended",  # the room is an archive: no ask box
        "question_max": QUESTION_MAX_CHARS,
        "live_config": {
            "lectureId": lecture.pk,
            "wsPath": f"/ws/lectures/{lecture.pk}/",
            "role": access.role,
            "lecture": payload,
            "streamUrl": payload.get("stream_url") or lecture.stream_url,
            "replayUrl": lecture.replay_url,
            # loaded by livestream.js only where the browser has no native HLS
            "hlsScript": static("vendor/hls.js/hls.light.min.js"),
            "maxChars": QUESTION_MAX_CHARS,
            "heartbeatSeconds": int(settings.ATTENDANCE_HEARTBEAT_SECONDS),
            "messages": _messages(),
            "userId": request.user.pk,
            "speakerListMax": int(settings.LIVE_SPEAKER_LIST_MAX),
            **extra,
        },
    }


@login_required
def room(request: HttpRequest, lecture_id: int) -> HttpResponse:
    access = _access(request, lecture_id)
    response = render(request, "livestream/room.html", _context(request, access))
    lecture = access.lecture
    # the origin too, always: a push (or a preview, or the automatic replay) may start
    # while the page is open
    sources = (
        lecture.stream_url,
        lecture.replay_url,
        lecture_stream_url(lecture=lecture),
        origin_playlist_url(lecture_id=lecture.pk),
    )
    csp_allow_media(response, sources)
    return response


@login_required
def screen(request: HttpRequest, lecture_id: int) -> HttpResponse:
    """The projector view: the highlighted question, large."""
    access = _access(request, lecture_id)
    return render(request, "livestream/screen.html", _context(request, access, screen=True))


@login_required
def speaker(request: HttpRequest, lecture_id: int) -> HttpResponse:
    """The speaker's view (a tablet at the lectern): the question being answered and the
    moderators' ordered list, nothing else. For the lecture's moderators (the speaker's
    account is one, or a moderator hands over the tablet)."""
    access = _access(request, lecture_id)
    if not access.is_moderator:
        raise PermissionDenied(_("The speaker's view is for the lecture's moderators."))
    context = _context(request, access, screen=True, speaker=True)
    return render(request, "livestream/speaker.html", context)
