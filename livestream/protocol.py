"""Client frames of the live protocol: typed, size- and schema-checked.

``parse(text)`` returns one of the command dataclasses or raises ``ProtocolError`` with a
protocol error code; it never raises anything else, whatever the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import CLIENT_ID_MAX_CHARS, QUESTION_MAX_CHARS
from livestream.services import MODERATION_ACTIONS, REASON_MAX_CHARS

ProtocolError = LiveError

# NUL (PostgreSQL refuses it in text) and lone surrogates (a JSON "\ud800" escape: not
# Unicode text, psycopg cannot encode it) would fail only at the write, as a server error.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Hello:
    last_seq: int | None


@dataclass(frozen=True)
class Ask:
    text: str
    anonymous: bool
    client_id: str


@dataclass(frozen=True)
class VoteCmd:
    question_id: int
    up: bool


@dataclass(frozen=True)
class Moderate:
    question_id: int
    action: str
    reason: str
    cluster: bool = False  # reject: the whole cluster at once


@dataclass(frozen=True)
class Claim:
    question_id: int
    release: bool
    cluster: bool


@dataclass(frozen=True)
class SpeakerOrder:
    question_ids: list[int]


@dataclass(frozen=True)
class Merge:
    question_id: int
    into_id: int


@dataclass(frozen=True)
class Heartbeat:
    playing: bool
    replay: bool


@dataclass(frozen=True)
class AttentionAnswer:
    check_id: str


Command = (
    Hello | Ask | VoteCmd | Moderate | Merge | Claim | SpeakerOrder | Heartbeat | AttentionAnswer
)
SPEAKER_IDS_MAX = 100  # a frame's list; the setting (LIVE_SPEAKER_LIST_MAX) is checked later


def _invalid(message: str | None = None) -> LiveError:
    return LiveError(LiveErrorCode.INVALID, message)


def _field(frame: dict[str, Any], name: str, kind: type, *, required: bool = True) -> Any:
    if name not in frame or frame[name] is None:
        if required:
            raise _invalid(_("Missing field “%(name)s”.") % {"name": name})
        return None
    value = frame[name]
    # bool is an int in Python: never accept True as an id, nor 1 as a bool.
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _invalid(_("Field “%(name)s” must be a whole number.") % {"name": name})
    if kind is bool and not isinstance(value, bool):
        raise _invalid(_("Field “%(name)s” must be true or false.") % {"name": name})
    if kind is str and not isinstance(value, str):
        raise _invalid(_("Field “%(name)s” must be text.") % {"name": name})
    if kind is list and not isinstance(value, list):
        raise _invalid(_("Field “%(name)s” must be a list of question ids.") % {"name": name})
    if kind is str and _UNSTORABLE.search(value):
        raise _invalid(
            _("Field “%(name)s” contains a character that is not allowed.") % {"name": name}
        )
    return value


def _id(frame: dict[str, Any], name: str) -> int:
    value: int = _field(frame, name, int)
    if not 0 < value < 2**63:
        raise LiveError(LiveErrorCode.NOT_FOUND, _("This question does not exist."))
    return value


# The heartbeat frames real clients send, byte for byte (the player's JSON.stringify, and
# Python's json.dumps spacing): answered without JSON parsing (bench/README.md). Any
# other text, however close, goes through the full parse below, so errors are unchanged.
_HEARTBEATS: dict[str, Heartbeat] = {
    json.dumps(frame, separators=separators): Heartbeat(
        playing=bool(frame["playing"]), replay=bool(frame.get("replay"))
    )
    for separators in ((",", ":"), (", ", ": "))
    for frame in (
        *({"type": "heartbeat", "playing": p} for p in (True, False)),
        *(
            {"type": "heartbeat", "playing": p, "replay": r}
            for p in (True, False)
            for r in (True, False)
        ),
    )
}


def parse(text: str) -> Command:
    known = _HEARTBEATS.get(text)
    if known is not None:
        return known
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _invalid(_("The message is not valid JSON.")) from exc
    if not isinstance(frame, dict):
        raise _invalid(_("The message must be a JSON object."))
    kind = frame.get("type")
    if kind == "hello":
        last_seq = _field(frame, "last_seq", int, required=False)
        if last_seq is not None and last_seq < 0:
            raise _invalid()
        return Hello(last_seq=last_seq)
    if kind == "question.ask":
        text_value: str = _field(frame, "text", str)
        client_id: str = _field(frame, "client_id", str)
        anonymous = _field(frame, "anonymous", bool, required=False)
        if len(text_value.strip()) > QUESTION_MAX_CHARS:
            raise LiveError(LiveErrorCode.TOO_LONG)
        if not text_value.strip():
            raise _invalid(_("Please type your question."))
        if not client_id or len(client_id) > CLIENT_ID_MAX_CHARS:
            raise _invalid(
                _("Field “%(name)s” must be 1 to 64 characters.") % {"name": "client_id"}
            )
        return Ask(text=text_value, anonymous=bool(anonymous), client_id=client_id)
    if kind == "question.vote":
        return VoteCmd(question_id=_id(frame, "question_id"), up=_field(frame, "up", bool))
    if kind == "question.moderate":
        question_id = _id(frame, "question_id")
        action: str = _field(frame, "action", str)
        if action not in MODERATION_ACTIONS:
            raise _invalid(_("Unknown moderation action."))
        reason: str = _field(frame, "reason", str, required=False) or ""
        if len(reason.strip()) > REASON_MAX_CHARS:
            raise LiveError(LiveErrorCode.TOO_LONG, _("A reason can have at most 200 characters."))
        cluster = bool(_field(frame, "cluster", bool, required=False))
        if cluster and action != "reject":
            raise _invalid(_("Only a rejection applies to a whole cluster."))
        return Moderate(question_id=question_id, action=action, reason=reason, cluster=cluster)
    if kind == "question.claim":
        return Claim(
            question_id=_id(frame, "question_id"),
            release=bool(_field(frame, "release", bool, required=False)),
            cluster=bool(_field(frame, "cluster", bool, required=False)),
        )
    if kind == "speaker.order":
        ids = _field(frame, "question_ids", list)
        if len(ids) > SPEAKER_IDS_MAX:
            raise _invalid()
        for value in ids:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
                raise _invalid(
                    _("Field “%(name)s” must be a list of question ids.") % {"name": "question_ids"}
                )
        return SpeakerOrder(question_ids=list(ids))
    if kind == "question.merge":
        question_id = _id(frame, "question_id")
        into_id = _id(frame, "into_id")
        if question_id == into_id:
            raise _invalid(_("A question cannot be merged into itself."))
        return Merge(question_id=question_id, into_id=into_id)
    if kind == "heartbeat":
        playing: bool = _field(frame, "playing", bool)
        replay = _field(frame, "replay", bool, required=False)
        return Heartbeat(playing=playing, replay=bool(replay))
    if kind == "attention.answer":
        check_id: str = _field(frame, "check_id", str)
        if not check_id or len(check_id) > CLIENT_ID_MAX_CHARS:
            raise _invalid(_("Field “%(name)s” must be 1 to 64 characters.") % {"name": "check_id"})
        return AttentionAnswer(check_id=check_id)
    raise _invalid(_("Unknown message type."))
