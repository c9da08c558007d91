"""Near-duplicate grouping of a lecture's live questions (issue 19 §1).

Thousands of questions arrive during a big lecture and many are one question in other words
("脑机接口什么时候能用于帕金森患者？" asked forty ways). ``ClusterIndex`` groups them as they
arrive, one index per lecture, so moderators see one row per question with a count.

Pure Python, no Django: the caller owns persistence and locking (an index is not thread-safe;
keep one per lecture in the process that moderates it, or guard it with a lock).

How two questions are compared (``bench/moderation_flood.py`` measured each choice; figures
in ``bench/README-moderation.md``):

1. ``normalise``: NFKC (full-width → half-width), lower case, traditional → simplified
   (``zh_t2s.txt``, 2,566 everyday characters), punctuation, symbols and spaces dropped,
   then greetings and particles (老师您好, 请问, 一下, 的, 了, 吗 …) dropped. Negations
   (不, 没) stay.
2. ``_canonical``: A-not-A questions lose the "not A" (会不会 → 会, 有没有 → 有), 是否 goes
   (it asks what 吗 asks), and interchangeable question words and modals take one spelling
   (什么时候/何时/多久 → 何时, 可以/能够 → 能, 怎么/怎样 → 如何, 哪些 → 什么 …).
3. Features: the token bigrams and trigrams of that text (a token is one CJK character or
   one run of Latin letters/digits, so "chatgpt" is one token).
4. Candidates: MinHash (``NUM_PERM`` 32-bit hashes per question, from SHAKE-128 so they are
   the same in every process) with LSH banding (``BANDS`` bands of ``ROWS`` values): two
   questions whose feature sets have Jaccard similarity s share a band with probability
   1 - (1 - s^ROWS)^BANDS (0.95 at s = 0.3, 0.9999 at s = 0.5).
5. Score: the exact Jaccard similarity of the two feature sets (``use_idf=True`` weighs
   features by inverse document frequency instead; measured, not better).
6. Veto: n-grams cannot tell "大模型有哪些伦理风险" from "脑机接口有哪些伦理风险" (the same
   sentence around another subject), so a pair in which *each* side has content characters
   the other lacks, more than ``max_swap`` of them in all, never matches (see
   ``ClusterIndex._vetoed``). Additions, removals, reorderings, a typo or a one-character
   synonym pass; another subject, object or aspect ("伦理" for "安全") does not.

A new question joins the cluster of its best-scoring, unvetoed earlier question when the
score reaches ``threshold``, else starts a cluster of its own. ``add`` never merges two
existing clusters (only ``merge`` does, on a moderator's word), so one ambiguous question
cannot chain two clusters together.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from math import fsum
from pathlib import Path
from sys import intern
from typing import Any, NamedTuple

__all__ = [
    "BANDS",
    "DEFAULT_MAX_SWAP",
    "DEFAULT_THRESHOLD",
    "NUM_PERM",
    "ROWS",
    "Assignment",
    "ClusterIndex",
    "Row",
    "features",
    "normalise",
]

NUM_PERM = 64
BANDS = 32
ROWS = NUM_PERM // BANDS
DEFAULT_THRESHOLD = 0.3  # chosen with bench/moderation_flood.py (bench/README-moderation.md)
DEFAULT_MAX_SWAP = 2

_T2S_FILE = Path(__file__).with_name("zh_t2s.txt")

# Greetings and set phrases that carry no question. Matched (longest first) after punctuation
# and spaces are gone, so "老师，您好" is caught as "老师您好".
_PHRASES = (
    "各位老师好",
    "老师您好",
    "老师你好",
    "我想请教一下",
    "我想问一下",
    "想请教一下",
    "想问一下",
    "请教一下",
    "我想请问",
    "我想请教",
    "我想问",
    "请问一下",
    "问一下",
    "谢谢老师",
    "感谢老师",
    "感谢解答",
    "谢谢解答",
    "感谢回答",
    "谢谢回答",
    "老师好",
    "想请问",
    "想请教",
    "请教",
    "您好",
    "你好",
    "请问",
    "想问",
    "一下",
    "谢谢",
    "感谢",
    "老师",
    "大家好",
)
# Sentence-final and structural particles that do not change what is asked. Not 么 (什么,
# 怎么), not 不/没/别 (negations), not 是 (是否).
_PARTICLES = "的了吗呢吧啊呀嘛哈哦呗啦哇噢"

# Interchangeable spellings of question words and modals → one spelling. Applied to the
# normalised text, longest match first.
_SYNONYMS = {
    "何时": ("什么时候", "啥时候", "什么时间", "多长时间", "多久", "几时", "何时"),
    "能": ("能否", "可否", "可以", "能够"),
    "如何": ("怎么样", "怎么", "怎样", "如何"),
    "": ("是否",),  # "是否会取代" asks what "会取代吗" asks
    "什么": ("哪些", "哪方面", "啥"),
    "为何": ("为什么", "为啥", "为何"),
    "目前": ("现在", "当前", "现阶段", "眼下"),
    "患者": ("病人", "病患"),
    "ai": ("人工智能",),
}

_DROP_CATEGORIES = ("P", "S", "Z", "C")  # punctuation, symbols, separators, control/format
_TOKEN = re.compile(r"[a-z0-9]+|.", re.DOTALL)
# A-not-A questions ask what "A吗" asks: 会不会 → 会, 能不能 → 能, 有没有 → 有.
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")
# Characters that shape a sentence rather than say what it is about; the swap veto
# (``ClusterIndex._vetoed``) ignores them, so "把X用到工作中" against "工作中用好X" is a
# reordering, not another question.
_FUNCTION_CHARS = frozenset(
    "把被让使因为用到在于中上里会将要就才都也还又和与及对给从以后时这那我们您你有是个好得地着过"
)


@cache
def _t2s_table() -> dict[int, int]:
    table: dict[int, int] = {}
    for line in _T2S_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        for pair in line.split():
            if len(pair) == 2:
                table[ord(pair[0])] = ord(pair[1])
    return table


@cache
def _drop_table() -> dict[int, None]:
    """Code points (BMP) of punctuation, symbols, spaces and controls, for ``str.translate``."""
    return {
        cp: None
        for cp in range(0x10000)
        if unicodedata.category(chr(cp)).startswith(_DROP_CATEGORIES)
        and not 0xD800 <= cp <= 0xDFFF
        and unicodedata.category(chr(cp)) != "Co"
    }


# "王老师您好" / "李老师，请问": a surname before 老师 at the start goes with the greeting.
_SALUTATION_RE = re.compile(r"^[\u4e00-\u9fff]{1,2}?老师(?:您好|你好|好|(?=请问|想问|我想|想请))")
_PHRASE_RE = re.compile(
    "|".join(map(re.escape, sorted(_PHRASES, key=len, reverse=True))) + f"|[{_PARTICLES}]"
)
_SYNONYM_OF = {spelling: canon for canon, spellings in _SYNONYMS.items() for spelling in spellings}
_SYNONYM_RE = re.compile("|".join(map(re.escape, sorted(_SYNONYM_OF, key=len, reverse=True))))


def normalise(text: str) -> str:
    """The text as compared: NFKC, lower case, simplified script, no punctuation, spaces,
    greetings or modal particles. ``normalise("老师您好，腦機接口什麼時候能用於帕金森患者？")``
    is ``"脑机接口什么时候能用于帕金森患者"``."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_t2s_table()).translate(_drop_table())
    # Drop astral-plane symbols (emoji) that the BMP table does not cover.
    if any(ord(ch) > 0xFFFF for ch in text):
        text = "".join(
            ch
            for ch in text
            if ord(ch) <= 0xFFFF or not unicodedata.category(ch).startswith(_DROP_CATEGORIES)
        )
    return _PHRASE_RE.sub("", _SALUTATION_RE.sub("", text))


def _canonical(normalised: str) -> str:
    return _SYNONYM_RE.sub(lambda m: _SYNONYM_OF[m.group(0)], _A_NOT_A.sub(r"\1", normalised))


def features(text: str) -> frozenset[str]:
    """The token bigrams and trigrams of the normalised, canonical text (a short text also
    contributes its single tokens, so "ai" still has a feature)."""
    return _analyse(normalise(text))[0]


def _analyse(normalised: str) -> tuple[frozenset[str], frozenset[str]]:
    """The features of a normalised text, and its content tokens as a multiset (the second
    乡 of "数字乡村用于乡村学校" is "乡\x1f2"), function characters left out."""
    # Interned: a lecture's questions share most of their strings (a third of the memory).
    tokens = list(map(intern, _TOKEN.findall(_canonical(normalised))))
    n = len(tokens)
    if n == 0:
        return frozenset(), frozenset()
    grams = {intern("\x1f".join(tokens[i : i + 2])) for i in range(n - 1)}
    grams.update(intern("\x1f".join(tokens[i : i + 3])) for i in range(n - 2))
    if n < 3:
        grams.update(tokens)
    content: set[str] = set()
    for token in tokens:
        if token in _FUNCTION_CHARS:
            continue
        if token in content:
            k = 2
            while f"{token}\x1f{k}" in content:
                k += 1
            token = intern(f"{token}\x1f{k}")
        content.add(token)
    return frozenset(grams), frozenset(content)


_UINT32 = next(code for code in "IL" if array(code).itemsize == 4)


@lru_cache(maxsize=1 << 14)  # ~6 MiB when full
def _feature_hashes(feature: str) -> array[int]:
    """``NUM_PERM`` independent 32-bit hashes of one feature, stable across processes."""
    return array(_UINT32, hashlib.shake_128(feature.encode("utf-8")).digest(4 * NUM_PERM))


def _signature(feats: Iterable[str]) -> tuple[int, ...]:
    """The MinHash signature: per hash function, the least value over the features."""
    rows = [_feature_hashes(f) for f in feats]
    if not rows:
        return ()
    return tuple(map(min, zip(*rows, strict=True)))


def _band_keys(sig: tuple[int, ...]) -> tuple[int, ...]:
    """One bucket key per band: the band's ``ROWS`` 32-bit values packed into one int."""
    if not sig:
        return ()
    keys = []
    for b in range(0, NUM_PERM, ROWS):
        key = 0
        for v in sig[b : b + ROWS]:
            key = (key << 32) | v
        keys.append(key)
    return tuple(keys)


class Assignment(NamedTuple):
    """Where ``add`` put a question: its cluster (the id of the cluster's first question),
    the cluster's size now, and the question it matched with its score (``None`` and 0.0
    when it started a cluster)."""

    cluster_id: int
    size: int
    matched: int | None = None
    score: float = 0.0


class Row(NamedTuple):
    """One question as the caller stores it, enough to rebuild an index."""

    question_id: int
    text: str
    votes: int = 0
    cluster_id: int | None = None


@dataclass(slots=True)
class _Entry:
    text: str
    votes: int
    feats: frozenset[str]
    tokens: frozenset[str]
    keys: tuple[int, ...]  # one LSH bucket key per band
    cluster_id: int
    quality: int  # length of the normalised text, for ``representative``


class ClusterIndex:
    """The questions of one lecture, grouped into clusters of near-duplicates.

    ``threshold``: the least score (Jaccard similarity of the features) for a question to
    join another's cluster. ``max_swap``: two questions that each have content tokens the
    other lacks, more than this many in all, never match whatever their score (``None``: no
    such veto; see ``_vetoed``). ``use_idf=True`` weighs features by inverse document
    frequency over the lecture's questions (measured: no better, twice the CPU).
    """

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        max_swap: int | None = DEFAULT_MAX_SWAP,
        use_idf: bool = False,
    ) -> None:
        self.threshold = threshold
        self.max_swap = max_swap
        self.use_idf = use_idf
        self._entries: dict[int, _Entry] = {}
        self._clusters: dict[int, set[int]] = {}
        self._buckets: list[dict[int, list[int]]] = [{} for _ in range(BANDS)]
        self._df: dict[str, int] = {}  # feature → how many indexed questions have it
        self._logs: list[float] = [0.0]  # log(k + 1) by k

    # -- queries -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._entries

    def cluster_of(self, question_id: int) -> int:
        return self._entries[question_id].cluster_id

    def members(self, cluster_id: int) -> list[int]:
        """The cluster's question ids, oldest first."""
        return sorted(self._clusters[cluster_id])

    def clusters(self) -> dict[int, list[int]]:
        """Every cluster id with its question ids, oldest first."""
        return {cid: sorted(ids) for cid, ids in sorted(self._clusters.items())}

    def representative(self, cluster_id: int) -> int:
        """The question to show for the cluster: the most voted; among equals, the one with
        the most to say once greetings, particles and punctuation are gone; then the oldest."""
        entries = self._entries
        return max(
            self._clusters[cluster_id],
            key=lambda q: (entries[q].votes, entries[q].quality, -q),
        )

    def similarity(self, text_a: str, text_b: str) -> float:
        """The score ``add`` would give the two texts, with this index's feature weights;
        0.0 when the swap veto keeps them apart."""
        (fa, ta), (fb, tb) = _analyse(normalise(text_a)), _analyse(normalise(text_b))
        if not fa or not fb or self._vetoed(ta, tb):
            return 0.0
        common = fa & fb
        if not self.use_idf:
            return len(common) / (len(fa) + len(fb) - len(common))
        top, logs = self._weights()
        df = self._df

        def weight(feats: frozenset[str]) -> float:
            return len(feats) * top - fsum(logs[df.get(f, 0) + 1] for f in feats)

        w_common = weight(common)
        return w_common / (weight(fa) + weight(fb) - w_common)

    # -- changes -------------------------------------------------------------------------

    def add(self, question_id: int, text: str, votes: int = 0) -> Assignment:
        """Index a question and put it into the cluster of its best match among the earlier
        questions, or into a new cluster of its own (its id is the cluster's)."""
        if question_id in self._entries:
            raise ValueError(f"question {question_id} is already indexed")
        normalised = normalise(text)
        feats, tokens = _analyse(normalised)
        keys = _band_keys(_signature(feats))
        candidates = self._candidates(keys)
        self._count(feats, +1)  # weighs features as a rebuilt index (it included) would
        matched, score = self._best_match(feats, tokens, candidates)
        cluster_id = question_id if matched is None else self._entries[matched].cluster_id
        self._entries[question_id] = _Entry(
            text, votes, feats, tokens, keys, cluster_id, len(normalised)
        )
        self._clusters.setdefault(cluster_id, set()).add(question_id)
        for band, key in zip(self._buckets, keys, strict=False):
            band.setdefault(key, []).append(question_id)
        return Assignment(cluster_id, len(self._clusters[cluster_id]), matched, score)

    def set_votes(self, question_id: int, votes: int) -> None:
        self._entries[question_id].votes = votes

    def merge(self, from_cluster: int, into_cluster: int) -> Assignment:
        """Move every question of ``from_cluster`` into ``into_cluster`` (a moderator's
        decision); later paraphrases of any of them join ``into_cluster``."""
        target = self._clusters[into_cluster]
        if from_cluster != into_cluster:
            moved = self._clusters.pop(from_cluster)
            for q in moved:
                self._entries[q].cluster_id = into_cluster
            target |= moved
        return Assignment(into_cluster, len(target))

    def remove(self, question_id: int) -> None:
        """Forget a question (deleted or rejected). Its cluster keeps its id, even when the
        question was the cluster's first, so the ids moderators see stay valid."""
        entry = self._entries.pop(question_id)
        for band, key in zip(self._buckets, entry.keys, strict=False):
            bucket = band[key]
            bucket.remove(question_id)
            if not bucket:
                del band[key]
        self._count(entry.feats, -1)
        members = self._clusters[entry.cluster_id]
        members.discard(question_id)
        if not members:
            del self._clusters[entry.cluster_id]

    # -- persistence ---------------------------------------------------------------------

    def rows(self) -> list[Row]:
        """The index as rows, oldest first, for ``rebuild`` (lists of plain values once
        JSON-encoded)."""
        return [Row(q, e.text, e.votes, e.cluster_id) for q, e in sorted(self._entries.items())]

    @classmethod
    def rebuild(
        cls,
        rows: Iterable[Sequence[Any]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        max_swap: int | None = DEFAULT_MAX_SWAP,
        use_idf: bool = False,
    ) -> ClusterIndex:
        """An index from stored rows: ``(id, text)``, ``(id, text, votes)`` or ``(id, text,
        votes, cluster_id)``. Rows without a cluster id are clustered again by ``add`` in id
        order, which gives the clusters of an index that was fed the same questions in that
        order; rows with one keep it (moderators' merges survive a restart) and are indexed
        without being scored."""
        index = cls(threshold=threshold, max_swap=max_swap, use_idf=use_idf)
        for row in sorted((Row(*row) for row in rows), key=lambda r: r.question_id):
            if row.cluster_id is None:
                index.add(row.question_id, row.text, row.votes)
            else:
                index._restore(row)
        return index

    # -- internals -----------------------------------------------------------------------

    def _restore(self, row: Row) -> None:
        normalised = normalise(row.text)
        feats, tokens = _analyse(normalised)
        keys = _band_keys(_signature(feats))
        self._count(feats, +1)
        cluster_id = row.cluster_id if row.cluster_id is not None else row.question_id
        self._entries[row.question_id] = _Entry(
            row.text, row.votes, feats, tokens, keys, cluster_id, len(normalised)
        )
        self._clusters.setdefault(cluster_id, set()).add(row.question_id)
        for band, key in zip(self._buckets, keys, strict=False):
            band.setdefault(key, []).append(row.question_id)

    def _candidates(self, keys: tuple[int, ...]) -> set[int]:
        """Indexed questions that share at least one band with ``keys``."""
        found: set[int] = set()
        for band, key in zip(self._buckets, keys, strict=False):
            bucket = band.get(key)
            if bucket:
                found.update(bucket)
        return found

    def _vetoed(self, a: frozenset[str], b: frozenset[str]) -> bool:
        """Whether the two token sets differ by a substitution larger than ``max_swap``:
        each has tokens the other lacks, more than ``max_swap`` of them in all (a Latin or
        digit word counts two). Additions ("我是社区工作者"), removals and reorderings pass,
        and so does one character for another (a typo, 取代/替代); another subject or object
        ("数据安全"/"数据要素", "医生"/"教师", "伦理"/"安全") does not."""
        most = self.max_swap
        if most is None:
            return False
        only_a = a - b
        if not only_a:
            return False
        only_b = b - a
        if not only_b:
            return False
        # each token counts at least one, so the count alone often settles it
        return len(only_a) + len(only_b) > most or _units(only_a) + _units(only_b) > most

    def _best_match(
        self, feats: frozenset[str], tokens: frozenset[str], candidates: set[int]
    ) -> tuple[int | None, float]:
        """The best-scoring candidate at or above the threshold that the swap veto allows
        (the oldest among equals), and its score; ``(None, 0.0)`` when there is none."""
        entries = self._entries
        threshold = self.threshold
        scored: list[tuple[float, int]] = []
        if self.use_idf:
            top, logs = self._weights()
            log_of, df_of = logs.__getitem__, self._df.__getitem__
            w_new = len(feats) * top - fsum(map(log_of, map(df_of, feats)))
            for q in candidates:
                other = entries[q].feats
                common = feats & other
                if common:
                    w_common = len(common) * top - fsum(map(log_of, map(df_of, common)))
                    w_other = len(other) * top - fsum(map(log_of, map(df_of, other)))
                    score = w_common / (w_new + w_other - w_common)
                    if score >= threshold:
                        scored.append((-score, q))
        else:
            n = len(feats)
            ids = list(candidates)
            others = [entries[q].feats for q in ids]
            shared = map(len, map(feats.intersection, others))
            for q, in_both, size in zip(ids, shared, map(len, others), strict=True):
                union = n + size - in_both
                if in_both and in_both >= threshold * union:
                    scored.append((-in_both / union, q))
        for neg_score, q in sorted(scored):
            if not self._vetoed(tokens, entries[q].tokens):
                return q, -neg_score
        return None, 0.0

    def _weights(self) -> tuple[float, list[float]]:
        """IDF weights: a feature that ``df`` of the lecture's ``n`` questions have (the one
        being scored included) weighs ``log((n + 1) / (df + 1)) + 1``, i.e. ``top -
        logs[df]``: 1 when every question has it, ``1 + log((n + 1) / 2)`` when one has."""
        n = len(self._entries) + 1
        logs = self._logs
        while len(logs) <= n + 1:
            logs.append(math.log(len(logs) + 1))
        return logs[n] + 1.0, logs

    def _count(self, feats: frozenset[str], delta: int) -> None:
        df = self._df
        for f in feats:
            left = df.get(f, 0) + delta
            if left:
                df[f] = left
            else:
                del df[f]


def _units(tokens: frozenset[str]) -> int:
    """Characters count one, Latin or digit words two (a repeat keeps its word's count)."""
    return sum(1 if len(t) == 1 or t[1] == "\x1f" else 2 for t in tokens)
