"""Issue 15 §7, bad input at scale: ``livestream.protocol.parse`` on any text whatever.

Whatever a socket sends — arbitrary unicode, lone surrogates, huge or deeply nested JSON,
NaN, numbers beyond int64, duplicate keys, frames of the right shape with the wrong types —
``parse`` returns a well-formed command within the documented bounds
(docs/live-protocol.md) or raises a ``LiveError`` with a protocol code and a Chinese
message; nothing else ever leaks. Seeded and bounded (``derandomize``, no example
database), so CI runs the same examples every time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from livestream import protocol
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import CLIENT_ID_MAX_CHARS, QUESTION_MAX_CHARS
from livestream.services import MODERATION_ACTIONS, REASON_MAX_CHARS

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=1500,
    suppress_health_check=[HealthCheck.too_slow],
)
ROUND_TRIP = settings(FUZZ, max_examples=600)

TYPES = (
    "hello",
    "question.ask",
    "question.vote",
    "question.moderate",
    "question.merge",
    "question.claim",
    "speaker.order",
    "heartbeat",
    "attention.answer",
)
FIELDS = (
    "type",
    "last_seq",
    "text",
    "anonymous",
    "client_id",
    "question_id",
    "up",
    "action",
    "reason",
    "playing",
    "replay",
    "check_id",
    "into_id",
    "release",
    "cluster",
    "question_ids",
)
PARSE_CODES = {LiveErrorCode.INVALID, LiveErrorCode.TOO_LONG, LiveErrorCode.NOT_FOUND}
CJK = re.compile(r"[\u4e00-\u9fff]")
# What PostgreSQL cannot store in a text column (NUL), and what is not Unicode text at all
# (a lone surrogate, which a JSON "\ud800" escape produces).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# -- strategies -----------------------------------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_char = st.one_of(st.characters(), surrogates, st.sampled_from("\x00\t\n\r \u3000\u200b\ufeff"))
any_text = st.text(any_char, max_size=40)
# what people type: printable text of any script (no NUL, no lone surrogates)
plain_text = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)
# long text without asking hypothesis to draw thousands of characters one by one
long_text = st.builds(
    lambda piece, times: piece * times,
    st.text(any_char, min_size=1, max_size=4),
    st.sampled_from([60, 64, 65, 199, 200, 201, 299, 300, 301, 1000, 5000]),
)
edge_ints = st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 10**30])
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    edge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    long_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
# a value of about the right kind for a field, and sometimes the wrong kind
field_values = st.one_of(
    json_values,
    st.sampled_from(MODERATION_ACTIONS),
    st.sampled_from(["1", "true", "True", "null", "", " ", "1.0", "0x10", "１"]),
)
type_values = st.one_of(
    st.sampled_from(TYPES),  # mostly a real type: what follows the type is what is tested
    st.sampled_from(TYPES),
    st.sampled_from(TYPES),
    st.sampled_from(["HELLO", "hello ", " heartbeat", "question", "question.ask\x00", ""]),
    json_values,
)


def _dump(value: Any, *, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


# per field: a value of the documented kind (within or just beyond its bounds)
TYPED: dict[str, st.SearchStrategy[Any]] = {
    "last_seq": st.one_of(st.integers(-2, 2**64), edge_ints),
    "text": st.one_of(plain_text, plain_text, any_text, long_text),
    "anonymous": st.booleans(),
    "client_id": st.one_of(plain_text, plain_text, any_text, long_text),
    "question_id": st.one_of(st.integers(-2, 2**64), edge_ints),
    "up": st.booleans(),
    "action": st.sampled_from(MODERATION_ACTIONS),
    "reason": st.one_of(plain_text, plain_text, any_text, long_text),
    "playing": st.booleans(),
    "replay": st.booleans(),
    "check_id": st.one_of(plain_text, plain_text, any_text, long_text),
    "into_id": st.one_of(st.integers(-2, 2**64), edge_ints),
    "release": st.booleans(),
    "cluster": st.booleans(),
    "question_ids": st.lists(st.one_of(st.integers(-2, 2**64), edge_ints), max_size=120),
}
FIELDS_OF = {
    "hello": ("last_seq",),
    "question.ask": ("text", "anonymous", "client_id"),
    "question.vote": ("question_id", "up"),
    "question.moderate": ("question_id", "action", "reason", "cluster"),
    "question.merge": ("question_id", "into_id"),
    "question.claim": ("question_id", "release", "cluster"),
    "speaker.order": ("question_ids",),
    "heartbeat": ("playing", "replay"),
    "attention.answer": ("check_id",),
}


@st.composite
def shaped_frames(draw: Callable[..., Any]) -> str:
    """JSON objects built from the real names: a real or bogus ``type``, mostly its own
    fields (each of the documented kind, or of any kind), some other real fields and
    unknown ones, in any order, keys possibly repeated, ASCII-escaped or not."""
    kind = draw(type_values)
    pairs: list[tuple[str, Any]] = []
    if draw(st.integers(0, 9)):  # mostly with a type, sometimes without
        pairs.append(("type", kind))
    own = FIELDS_OF.get(kind, ()) if isinstance(kind, str) else ()
    names = [name for name in own if draw(st.integers(0, 5))]  # each dropped 1 in 6
    names += draw(st.lists(st.sampled_from(FIELDS), max_size=2))
    for name in names:
        typed = name in TYPED and draw(st.integers(0, 3))  # 3 in 4 of the right kind
        pairs.append((name, draw(TYPED[name] if typed else field_values)))
    pairs += draw(st.lists(st.tuples(any_text, json_values), max_size=2))
    pairs = draw(st.permutations(pairs))
    ascii_only = draw(st.booleans())
    separator = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    body = separator[0].join(
        _dump(k, ascii_only=ascii_only) + separator[1] + _dump(v, ascii_only=ascii_only)
        for k, v in pairs
    )
    return "{" + body + "}"


def _nested(depth: int, opener: str, closer: str, inner: str) -> str:
    return opener * depth + inner + closer * depth


deep_json = st.builds(
    _nested,
    st.integers(1, 100_000),
    st.sampled_from(["[", '{"a":', '{"type":"hello","last_seq":[']),
    st.sampled_from(["]", "}", "]}"]),
    st.sampled_from(["", "1", "null", '"x"']),
)


def _mutate(text: str, at: int, insert: str, drop: int) -> str:
    at %= len(text) + 1
    return text[:at] + insert + text[at + drop :]


# a real frame (the heartbeat fast path's, or another real one) with a small edit
near_misses = st.builds(
    _mutate,
    st.sampled_from(
        [
            *protocol._HEARTBEATS,
            '{"type":"hello","last_seq":12}',
            '{"type":"question.ask","text":"请问","anonymous":false,"client_id":"c1"}',
            '{"type":"question.vote","question_id":7,"up":true}',
            '{"type":"question.moderate","question_id":7,"action":"reject","reason":"重复"}',
            '{"type":"attention.answer","check_id":"a.b.c"}',
        ]
    ),
    st.integers(0, 200),
    st.text(any_char, max_size=3),
    st.integers(0, 3),
)

any_frame = st.one_of(
    any_text,
    st.text(max_size=300),
    long_text,
    st.builds(_dump, json_values, ascii_only=st.booleans()),
    shaped_frames(),
    deep_json,
    near_misses,
)

# -- the properties -------------------------------------------------------------------------


def _id_ok(value: object) -> bool:
    return type(value) is int and 0 < value < 2**63


def _text_ok(value: object) -> bool:
    return isinstance(value, str) and not UNSTORABLE.search(value)


def assert_well_formed(command: protocol.Command) -> None:
    """What every accepted command guarantees the consumer and the services."""
    if isinstance(command, protocol.Hello):
        assert command.last_seq is None or (type(command.last_seq) is int and command.last_seq >= 0)
    elif isinstance(command, protocol.Ask):
        assert _text_ok(command.text) and _text_ok(command.client_id)
        assert 1 <= len(command.text.strip()) <= QUESTION_MAX_CHARS
        assert 1 <= len(command.client_id) <= CLIENT_ID_MAX_CHARS
        assert type(command.anonymous) is bool
    elif isinstance(command, protocol.VoteCmd):
        assert _id_ok(command.question_id) and type(command.up) is bool
    elif isinstance(command, protocol.Moderate):
        assert _id_ok(command.question_id)
        assert command.action in MODERATION_ACTIONS
        assert _text_ok(command.reason) and len(command.reason.strip()) <= REASON_MAX_CHARS
        assert type(command.cluster) is bool
        assert not command.cluster or command.action == "reject"
    elif isinstance(command, protocol.Merge):
        assert _id_ok(command.question_id) and _id_ok(command.into_id)
        assert command.question_id != command.into_id
    elif isinstance(command, protocol.Claim):
        assert _id_ok(command.question_id)
        assert type(command.release) is bool and type(command.cluster) is bool
    elif isinstance(command, protocol.SpeakerOrder):
        assert type(command.question_ids) is list and len(command.question_ids) <= 100
        assert all(_id_ok(i) for i in command.question_ids)
    elif isinstance(command, protocol.Heartbeat):
        assert type(command.playing) is bool and type(command.replay) is bool
    elif isinstance(command, protocol.AttentionAnswer):
        assert _text_ok(command.check_id)
        assert 1 <= len(command.check_id) <= CLIENT_ID_MAX_CHARS
    else:  # pragma: no cover - parse returned something that is not a command
        pytest.fail(f"not a command: {command!r}")


def parse_checked(text: str) -> protocol.Command | LiveError:
    """``parse``'s answer: a well-formed command or a coded error with a Chinese message.
    Any other exception propagates and fails the test."""
    try:
        command = protocol.parse(text)
    except LiveError as exc:
        error = exc
    else:
        assert_well_formed(command)
        event(f"accepted {type(command).__name__}")  # see --hypothesis-show-statistics
        return command
    event(f"refused {error.code.value}")
    assert error.code in PARSE_CODES, error
    with translation.override("zh-hans"):
        assert CJK.search(error.message), error.message
    return error


@FUZZ
@given(text=any_frame)
@example(text='{"type":"question.ask","text":"a\\u0000b","client_id":"c1"}')
@example(text='{"type":"question.ask","text":"问\\ud800","client_id":"c1"}')
@example(text='{"type":"question.ask","text":"问","client_id":"\\udfff"}')
@example(text='{"type":"question.moderate","question_id":1,"action":"reject","reason":"\\u0000"}')
@example(text='{"type":"attention.answer","check_id":"\\ud83d"}')
@example(text='{"type":"question.vote","question_id":9223372036854775808,"up":true}')
@example(text='{"type":"question.vote","question_id":1e3,"up":true}')
@example(text='{"type":"hello","last_seq":NaN}')
@example(text='{"type":"hello","last_seq":-Infinity}')
@example(text='{"type":"hello","last_seq":' + "9" * 5000 + "}")
@example(text='{"type":"heartbeat","playing":true,"playing":"no"}')
@example(text="[" * 200_000)
@example(text='"\ud800"')
def test_parse_returns_a_command_or_a_coded_error(text: str) -> None:
    parse_checked(text)


@FUZZ
@given(text=shaped_frames())
def test_frames_of_the_real_shape_with_any_values(text: str) -> None:
    parse_checked(text)


def test_duplicate_keys_take_the_last_value() -> None:
    # as JSON.parse does in the browser: the frame means what the player meant
    assert protocol.parse('{"type":"heartbeat","playing":"no","playing":true}') == (
        protocol.Heartbeat(playing=True, replay=False)
    )
    with pytest.raises(LiveError) as err:
        protocol.parse('{"type":"heartbeat","playing":true,"playing":"no"}')
    assert err.value.code == LiveErrorCode.INVALID


@pytest.mark.parametrize(
    ("field", "frame"),
    [
        ("text", {"type": "question.ask", "text": "请问\x00", "client_id": "c1"}),
        ("text", {"type": "question.ask", "text": "请问\ud800", "client_id": "c1"}),
        ("client_id", {"type": "question.ask", "text": "请问", "client_id": "c\x00"}),
        ("client_id", {"type": "question.ask", "text": "请问", "client_id": "\udc00"}),
        (
            "reason",
            {"type": "question.moderate", "question_id": 1, "action": "reject", "reason": "\x00"},
        ),
        ("check_id", {"type": "attention.answer", "check_id": "\ud83d"}),
    ],
)
def test_text_postgresql_cannot_store_is_the_senders_error(
    field: str, frame: dict[str, Any]
) -> None:
    """NUL (PostgreSQL refuses it in text) and lone surrogates (not Unicode text; psycopg
    cannot encode them) used to pass, failing later in the write — answered ``busy`` and
    logged as a server error, so the client retried forever."""
    with pytest.raises(LiveError) as err, translation.override("zh-hans"):
        protocol.parse(json.dumps(frame))  # ASCII escapes, as a browser may send them
    assert err.value.code == LiveErrorCode.INVALID
    with translation.override("zh-hans"):
        assert f"“{field}”" in err.value.message and CJK.search(err.value.message)


# -- round trip -----------------------------------------------------------------------------

storable_char = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
nonblank = st.text(storable_char, min_size=1).filter(lambda s: s.strip() != "")
ids = st.integers(1, 2**63 - 1)
short_id = st.text(storable_char, min_size=1, max_size=CLIENT_ID_MAX_CHARS)

commands: st.SearchStrategy[protocol.Command] = st.one_of(
    st.builds(protocol.Hello, last_seq=st.none() | st.integers(0, 2**63 - 1)),
    st.builds(
        protocol.Ask,
        text=nonblank.filter(lambda s: len(s.strip()) <= QUESTION_MAX_CHARS),
        anonymous=st.booleans(),
        client_id=short_id,
    ),
    st.builds(protocol.VoteCmd, question_id=ids, up=st.booleans()),
    st.builds(
        protocol.Moderate,
        question_id=ids,
        action=st.sampled_from(MODERATION_ACTIONS),
        reason=st.text(storable_char, max_size=REASON_MAX_CHARS),
    ),
    st.builds(protocol.Heartbeat, playing=st.booleans(), replay=st.booleans()),
    st.builds(protocol.AttentionAnswer, check_id=short_id),
    st.builds(protocol.Merge, question_id=ids, into_id=ids).filter(
        lambda m: m.question_id != m.into_id
    ),
    st.builds(protocol.Claim, question_id=ids, release=st.booleans(), cluster=st.booleans()),
    st.builds(protocol.SpeakerOrder, question_ids=st.lists(ids, max_size=100)),
    st.builds(
        protocol.Moderate,
        question_id=ids,
        action=st.just("reject"),
        reason=st.text(storable_char, max_size=REASON_MAX_CHARS),
        cluster=st.just(True),
    ),
)
WIRE = {
    protocol.Hello: "hello",
    protocol.Ask: "question.ask",
    protocol.VoteCmd: "question.vote",
    protocol.Moderate: "question.moderate",
    protocol.Heartbeat: "heartbeat",
    protocol.AttentionAnswer: "attention.answer",
    protocol.Merge: "question.merge",
    protocol.Claim: "question.claim",
    protocol.SpeakerOrder: "speaker.order",
}
# optional fields a client may leave out (or send as null) when they hold the default
OPTIONAL_DEFAULTS: dict[str, object] = {
    "last_seq": None,
    "anonymous": False,
    "reason": "",
    "replay": False,
    "release": False,
    "cluster": False,
}


@st.composite
def encoded(draw: Callable[..., Any]) -> tuple[protocol.Command, str]:
    command = draw(commands)
    frame: dict[str, object] = {"type": WIRE[type(command)], **vars(command)}
    for name, default in OPTIONAL_DEFAULTS.items():
        if name in frame and frame[name] == default:
            how = draw(st.sampled_from(["keep", "drop", "null"]))
            if how == "drop":
                del frame[name]
            elif how == "null":
                frame[name] = None
    frame.update(draw(st.dictionaries(st.sampled_from(["x", "seq", "ts", "v"]), json_values)))
    items = draw(st.permutations(list(frame.items())))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps(dict(items), ensure_ascii=draw(st.booleans()), separators=separators)
    return command, text


@ROUND_TRIP
@given(case=encoded())
def test_valid_commands_round_trip(case: tuple[protocol.Command, str]) -> None:
    command, text = case
    assert protocol.parse(text) == command
