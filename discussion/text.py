"""Post text: plain text with auto-linked URLs and @mentions, never HTML.

A post is stored as typed; what the browser shows is built from ``text_parts``: a list of
text, link and mention parts that the page inserts as text nodes and ``<a>`` elements whose
``href`` is always an http(s) URL or the portal's own path. Nothing in a post is markup.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Literal, TypedDict

# A URL ends at whitespace or at CJK punctuation (a Chinese sentence goes on right after it).
_URL = re.compile(r"https?://[^\s<>\"'\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+", re.IGNORECASE)
_MENTION = re.compile(r"@([^\s@,，。:：;；!！?？、()（）<>]{1,30})")
_TRAILING = ".,;:!?)]}'\""
# Control characters (other than newline and tab) and bidi overrides are dropped on input.
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_KEEP = {"\n", "\t", "\u200d"}


class Part(TypedDict, total=False):
    t: Literal["text", "link", "mention"]
    v: str
    user: int


def text_clean(raw: str) -> str:
    """Normalise what a person typed: NFC, no control or format characters (bidi
    overrides, zero-width tricks), at most two blank lines in a row, trimmed."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(
        ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in _DROP_CATEGORIES
    )
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def mention_names(text: str) -> set[str]:
    return {m.group(1) for m in _MENTION.finditer(text)}


def text_parts(text: str, *, mentions: Mapping[str, int] | None = None) -> list[Part]:
    """Split ``text`` into parts; ``mentions`` maps the display names that resolved (people
    in the author's groups) to user ids; other ``@`` words stay text."""
    mentions = mentions or {}
    spans: list[tuple[int, int, Part]] = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url), {"t": "link", "v": url}))
    for match in _MENTION.finditer(text):
        name = match.group(1)
        user_id = mentions.get(name)
        if user_id is None:
            continue
        start, end = match.span()
        if any(s < end and start < e for s, e, _p in spans):
            continue  # inside a URL
        spans.append((start, end, {"t": "mention", "v": name, "user": user_id}))
    spans.sort(key=lambda s: s[0])
    parts: list[Part] = []
    at = 0
    for start, end, part in spans:
        if start > at:
            parts.append({"t": "text", "v": text[at:start]})
        parts.append(part)
        at = end
    if at < len(text):
        parts.append({"t": "text", "v": text[at:]})
    return parts
