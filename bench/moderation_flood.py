"""Question flood: near-duplicate grouping of 2,000 Chinese live questions (issue 19 §1).

Usage (from the project root)::

    .venv/bin/python bench/moderation_flood.py [--questions 2000] [--seed 1] [--threshold T]
        [--no-sweep] [--show N] [--json]

Generates a deterministic flood of questions about a lecture on AI with KNOWN duplicate
groups, feeds it in a shuffled arrival order to ``livestream.clusters.ClusterIndex`` (one
lecture's index; no Django, no database) and reports:

* **recall**: the share of planted paraphrases whose cluster is their original's, over all
  of them and by tier: *briefed* (the transformations issue 19 lists: reordered clauses,
  什么时候/何时/多久 and 能/可以 style synonyms, punctuation, 的/了/吗, traditional script,
  full-width characters, greetings), *extra* (those plus noise beyond the brief: another
  name for the subject 大模型/大语言模型, a synonym the normaliser does not know 取代/替代,
  a context clause "我是社区工作者，", a homophone typo 帕金生) and *reworded* (another
  phrasing of the question altogether: "有了X，还需要Y吗" for "X会取代Y吗");
* **false merges**: *fm strict*, the share of the pairs put in one cluster that come from
  different groups (1 - pair precision; the goal is read on this one), and *fm all*, the
  brief's wording (pairs from different groups put in one cluster / all pairs from
  different groups: tiny whatever happens, since most pairs are far apart); *unrel mrg*, the
  share of unrelated questions put in a cluster with anything; *same-topic*, the fm-all rate
  among pairs about the same subject that ask different things ("脑机接口什么时候能用于帕金森
  患者？" vs "脑机接口有哪些伦理风险？");
* **CPU per question**: p50/p99 process CPU time of ``add`` (and *p99 last*, over the last
  10%, with ~2,000 questions in the index); LSH candidates per add (p50/p99);
* **rebuild**: process CPU time to rebuild the index from (id, text) rows (clustered again)
  and from its stored rows (with cluster ids), and whether each equals the incremental one;
* a **sweep**: the chosen threshold with every indexed question scored (search *all*: what
  LSH banding loses) and without the swap veto, then other thresholds, plain Jaccard and
  IDF-weighted.

How the flood is made: 40% of the questions are unrelated (groups of one); the rest are
groups of an original and its paraphrases (a few groups of 20–40, most of 2–8). A group is
one *question frame*: an aspect ("when can X be used for Y", "ethical risks of X", 16 of
them) with its subject X (30, from 脑机接口 to 低空经济) and object Y, or one of six
questions about the session itself (回放, 课件, 学时 …). Each aspect has 3–4 hand-written
phrasings, each with a reordered twin. The original is one phrasing; a paraphrase is that
phrasing (60%), its reordered twin (25%) or another phrasing (15%, *reworded*), then typed
by one asker: noise of the brief's kinds at random, and beyond-the-brief noise with some
chance. Unrelated questions are frames no group uses, in their first phrasing, so most of
them are near misses of some group: same subject, another aspect; or the same sentence
about another subject or object.

Exit 1 when the run itself fails (an exception; rebuilt clusters differ from the incremental
ones), not when a goal is missed. Ends with one summary line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livestream import clusters  # noqa: E402
from livestream.clusters import ClusterIndex  # noqa: E402

RECALL_GOAL = 0.90
FALSE_MERGE_GOAL = 0.05
P99_GOAL_MS = 50.0
REBUILD_GOAL_S = 1.0
REWORDED_SHARE = 0.15  # paraphrases that use another phrasing of the question
REORDERED_SHARE = 0.25  # paraphrases that reorder the original's clauses
SWEEP = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)

# -- the lecture's vocabulary ------------------------------------------------------------

SUBJECTS: dict[str, tuple[str, ...]] = {  # subject → other names people use for it
    "脑机接口": ("脑机接口技术", "脑机接口"),
    "大模型": ("大语言模型", "AI大模型"),
    "生成式人工智能": ("生成式AI", "AIGC"),
    "数据安全": ("数据安全保护",),
    "算力": ("算力资源", "计算能力"),
    "政务大模型": ("政务服务大模型",),
    "自动驾驶": ("无人驾驶",),
    "人脸识别": ("刷脸识别", "人脸识别技术"),
    "智慧城市": ("智能城市",),
    "数字乡村": ("乡村数字化",),
    "算法推荐": ("推荐算法",),
    "个人信息保护": ("个人隐私保护",),
    "数据要素": ("数据要素市场",),
    "国产芯片": ("国产AI芯片",),
    "人形机器人": ("类人机器人",),
    "智能客服": ("AI客服",),
    "深度伪造": ("深度合成", "AI换脸"),
    "开源大模型": ("开源模型",),
    "数字人": ("虚拟数字人",),
    "低空经济": ("无人机经济",),
    "量子计算": ("量子计算机",),
    "工业互联网": ("工业互联网平台",),
    "智慧医疗": ("AI医疗",),
    "ChatGPT": ("chatgpt", "ChatGPT这类产品"),
    "云计算": ("云服务",),
    "区块链": ("区块链技术",),
    "智能制造": ("智慧制造",),
    "数字政府": ("数字政府建设",),
    "城市大脑": ("城市大脑平台",),
    "网络安全": ("网络信息安全",),
}

DOMAINS = (
    "帕金森患者",
    "基层医院",
    "政务服务",
    "乡村学校",
    "应急管理",
    "交通管理",
    "养老服务",
    "社区治理",
)
ROLES = ("基层干部", "窗口工作人员", "医生", "教师", "公务员", "客服人员", "程序员")

# aspect → (slot Y values or None, phrasings). The phrasings of one aspect ask the same
# thing in other words; each is "as first asked|the same with its clauses reordered".
ASPECTS: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = {
    "when": (
        DOMAINS,
        (
            "{x}什么时候能用于{y}？|{y}什么时候能用上{x}？",
            "{x}多久才能真正用到{y}上？|要多久{x}才能真正用到{y}上？",
            "{x}用于{y}，大概还要多久？|大概还要多久，{x}才能用于{y}？",
            "在{y}方面，{x}什么时候可以落地？|{x}什么时候可以在{y}方面落地？",
        ),
    ),
    "ethics": (
        None,
        (
            "{x}有哪些伦理风险？|伦理风险方面，{x}有哪些？",
            "{x}会带来哪些伦理问题？|哪些伦理问题会由{x}带来？",
            "在伦理方面，{x}有什么风险？|{x}在伦理方面有什么风险？",
            "怎么看待{x}带来的伦理风险？|{x}带来的伦理风险，怎么看待？",
        ),
    ),
    "replace": (
        ROLES,
        (
            "{x}会取代{y}吗？|{y}会被{x}取代吗？",
            "{x}将来会不会替代{y}的工作？|{y}的工作将来会不会被{x}替代？",
            "有了{x}，还需要{y}吗？|还需要{y}吗，有了{x}以后？",
        ),
    ),
    "policy": (
        None,
        (
            "国家对{x}有哪些支持政策？|对{x}，国家有哪些支持政策？",
            "{x}方面国家有什么扶持政策？|国家在{x}方面有什么扶持政策？",
            "支持{x}发展的政策有哪些？|有哪些政策支持{x}发展？",
        ),
    ),
    "use": (
        None,
        (
            "基层干部怎样用好{x}？|{x}，基层干部怎样用好？",
            "{x}在基层工作中怎么用？|在基层工作中，{x}怎么用？",
            "我们基层干部如何把{x}用到日常工作中？|日常工作中，我们基层干部如何用好{x}？",
        ),
    ),
    "gap": (
        None,
        (
            "我国{x}和国外的差距有多大？|和国外比，我国{x}的差距有多大？",
            "在{x}上，我们和国外还差多少？|我们和国外在{x}上还差多少？",
            "{x}方面中国与国外差距大吗？|中国与国外在{x}方面差距大吗？",
        ),
    ),
    "privacy": (
        None,
        (
            "{x}会不会泄露个人隐私？|个人隐私会不会被{x}泄露？",
            "使用{x}时个人隐私会被泄露吗？|个人隐私在使用{x}时会被泄露吗？",
            "用{x}的话，隐私会不会被泄露？|隐私会不会被泄露，如果用{x}的话？",
        ),
    ),
    "misuse": (
        None,
        (
            "如何防止{x}被滥用？|{x}被滥用，如何防止？",
            "有什么办法防止滥用{x}？|防止滥用{x}有什么办法？",
            "防止{x}被滥用，有什么措施？|有什么措施防止{x}被滥用？",
        ),
    ),
    "regulate": (
        None,
        (
            "{x}应该怎样监管？|应该怎样监管{x}？",
            "政府该如何监管{x}？|{x}，政府该如何监管？",
            "对{x}的监管应该怎么做？|应该怎么做好对{x}的监管？",
        ),
    ),
    "cases": (
        DOMAINS,
        (
            "{x}在{y}中有哪些成功案例？|在{y}中，{x}有哪些成功案例？",
            "有没有{x}用于{y}的成功案例？|{x}用于{y}，有没有成功案例？",
            "能不能介绍几个{y}中应用{x}的案例？|{y}中应用{x}的案例，能不能介绍几个？",
        ),
    ),
    "energy": (
        None,
        (
            "{x}耗电量大不大？|耗电量大不大，{x}？",
            "{x}是不是很耗电？|是不是{x}很耗电？",
            "{x}的耗电量是不是很大？|耗电量是不是很大，{x}的？",
        ),
    ),
    "learn": (
        None,
        (
            "干部应该怎样学习{x}知识？|{x}知识，干部应该怎样学习？",
            "学习{x}有什么好的方法？|有什么好的方法学习{x}？",
            "{x}的知识该怎么学？|该怎么学{x}的知识？",
        ),
    ),
    "cost": (
        DOMAINS,
        (
            "{y}部署{x}要花多少钱？|部署{x}，{y}要花多少钱？",
            "在{y}用{x}，成本高不高？|用{x}在{y}，成本高不高？",
            "{x}用于{y}的成本大概是多少？|{y}用{x}的成本大概是多少？",
        ),
    ),
    "security": (
        None,
        (
            "{x}存在哪些安全隐患？|哪些安全隐患存在于{x}？",
            "{x}有什么安全风险？|安全风险方面，{x}有什么？",
            "使用{x}会有哪些安全问题？|会有哪些安全问题，使用{x}的话？",
        ),
    ),
    "future": (
        None,
        (
            "{x}未来五年会怎么发展？|未来五年，{x}会怎么发展？",
            "未来几年{x}的发展趋势是什么？|{x}未来几年的发展趋势是什么？",
            "您怎么看{x}接下来几年的发展？|{x}接下来几年的发展，您怎么看？",
        ),
    ),
    "jobs": (
        None,
        (
            "{x}会不会导致大量失业？|大量失业会不会因为{x}出现？",
            "{x}会让很多人失业吗？|很多人会因为{x}失业吗？",
            "{x}普及以后，会有很多人失业吗？|会有很多人失业吗，{x}普及以后？",
        ),
    ),
}

# Questions about the session itself, asked in many words (no subject).
LOGISTICS: tuple[tuple[str, ...], ...] = (
    (
        "直播有回放吗？|有回放吗，这次直播？",
        "错过了直播，还能看回放吗？|还能看回放吗，错过了直播的话？",
    ),
    ("课件能下载吗？|能下载课件吗？", "能不能把课件发给我们？|课件能不能发给我们？"),
    (
        "这节课算多少学时？|多少学时，这节课算？",
        "听完这节课能记几个学时？|能记几个学时，听完这节课？",
    ),
    ("课后有考试吗？|有考试吗，课后？", "学完要不要考试？|要不要考试，学完以后？"),
    ("在哪里签到？|签到在哪里？", "签到入口在哪里？|在哪里找签到入口？"),
    ("直播声音听不清楚|听不清楚直播声音", "声音太小了，听不清|听不清，声音太小了"),
)

# Swaps people make; the first group is known to the normaliser, the second is not.
KNOWN_SWAPS = (
    ("什么时候", ("何时", "多久", "啥时候")),
    ("可以", ("能", "能够")),
    ("能用", ("可以用", "能够用")),
    ("能下载", ("可以下载",)),
    ("能记", ("可以记",)),
    ("怎么", ("如何", "怎样")),
    ("怎样", ("怎么", "如何")),
    ("如何", ("怎么", "怎样")),
    ("哪些", ("什么",)),
    ("有什么", ("有哪些",)),
    ("会不会", ("是否会",)),
    ("人工智能", ("AI",)),
)
UNKNOWN_SWAPS = (
    ("取代", ("替代",)),
    ("替代", ("取代",)),
    ("案例", ("例子", "实例")),
    ("措施", ("办法",)),
    ("方法", ("办法",)),
    ("差距", ("差别",)),
    ("泄露", ("泄漏",)),
    ("隐患", ("风险",)),
    ("政策", ("措施",)),
    ("发展趋势", ("走向",)),
)
TYPOS = (
    ("帕金森", "帕金生"),
    ("接口", "借口"),
    ("模型", "模形"),
    ("伦理", "论理"),
    ("案例", "按例"),
    ("芯片", "新片"),
    ("隐私", "阴私"),
    ("监管", "监官"),
    ("政策", "正策"),
    ("失业", "实业"),
    ("耗电", "好电"),
)
GREETINGS = (
    "老师您好，",
    "老师，",
    "您好！",
    "请问",
    "请问一下，",
    "老师好，我想问一下，",
    "各位老师好，",
    "王老师您好，",
    "想请教一下：",
    "您好，请问",
)
THANKS = ("谢谢！", "谢谢老师", "，谢谢", "感谢解答！", "~")
CONTEXT = (
    "我是社区工作者，",
    "我们单位正在推进数字化转型，",
    "最近看到很多新闻，",
    "我在县里负责信息化工作，",
    "刚才老师讲得很好，",
)
ENDINGS = ("？", "?", "？？", "", "。", "！", "?？")


@dataclass(slots=True)
class Question:
    text: str
    group: int  # planted group (an unrelated question is a group of one)
    # original or unrelated; or a paraphrase: surface, reordered (as in the brief), either
    # of them +extra (with noise beyond the brief), reworded (another phrasing)
    kind: str
    subject: str | None  # for the same-topic near-miss rate
    votes: int = 0

    @property
    def original(self) -> bool:
        return self.kind in ("original", "unrelated")


# -- the flood -----------------------------------------------------------------------------


def _frames(rng: random.Random) -> list[tuple[str | None, tuple[str, ...]]]:
    """Every distinct question the lecture can ask: (subject, its phrasings), shuffled."""
    frames: list[tuple[str | None, tuple[str, ...]]] = []
    for slots, forms in ASPECTS.values():
        for x in SUBJECTS:
            for y in slots or (None,):
                phrasings = tuple(f.format(x=x, y=y) for f in forms)
                frames.append((x, phrasings))
    rng.shuffle(frames)
    return frames


def _s2t_table() -> dict[int, int]:
    """Simplified → traditional: the normaliser's table inverted (it is the only table at
    hand), with the usual traditional form where its first one is a rare variant or where
    the character is the same in both scripts (术 → 術, not 朮; 私 stays 私)."""
    inverse: dict[int, int] = {}
    for t, s in clusters._t2s_table().items():
        inverse.setdefault(s, t)
    usual = "出出 台臺 合合 向向 回回 家家 干幹 才才 教教 术術 真真 私私 致致 里裡 面面 制制"
    for pair in usual.split():
        inverse[ord(pair[0])] = ord(pair[1])
    return inverse


_S2T = _s2t_table()


def _full_width(text: str) -> str:
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text
    )


def _swap(rng: random.Random, text: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    present = [(a, bs) for a, bs in table if a in text]
    if not present:
        return text
    a, bs = rng.choice(present)
    return text.replace(a, rng.choice(bs), 1)


def _vary(
    rng: random.Random, text: str, subject: str | None, *, light: bool = False
) -> tuple[str, bool]:
    """One asker's way of typing ``text``, and whether noise beyond the brief's list (an
    alias of the subject, a synonym the normaliser does not know, a context clause, a typo)
    went into it."""
    scale = 0.3 if light else 1.0  # an original: a little of the brief's noise, none beyond
    extra = False

    def chance(p: float) -> bool:
        return rng.random() < p * scale

    if subject and not light and chance(0.15):
        text, extra = text.replace(subject, rng.choice(SUBJECTS[subject]), 1), True
    if chance(0.5):
        text = _swap(rng, text, KNOWN_SWAPS)
    if not light and chance(0.15):
        swapped = _swap(rng, text, UNKNOWN_SWAPS)
        text, extra = swapped, extra or swapped != text
    body = text.rstrip("？?")
    if chance(0.35):  # particles
        body = rng.choice(
            (
                body + rng.choice("呢啊吧"),
                body.replace("吗", "", 1),
                body.replace("的", "", 1),
                body + "了吗" if not body.endswith("吗") else body,
                body.replace("会", "会不会", 1) if "会不会" not in body else body,
            )
        )
    if chance(0.5):
        body = body.replace("，", rng.choice((",", " ", "", "、")))
    text = body + rng.choice(ENDINGS) if chance(0.6) else body + "？"
    if not light and chance(0.1):
        text, extra = rng.choice(CONTEXT) + text, True
    if chance(0.35):
        text = rng.choice(GREETINGS) + text
    if chance(0.15):
        text = text + rng.choice(THANKS)
    if not light and chance(0.05):
        present = [(a, b) for a, b in TYPOS if a in text]
        if present:
            a, b = rng.choice(present)
            text, extra = text.replace(a, b, 1), True
    if chance(0.15):
        text = text.translate(_S2T)
    if chance(0.15):
        text = _full_width(text)
    if chance(0.1):
        chars = list(text)
        for _ in range(rng.randint(1, 3)):
            chars.insert(rng.randrange(len(chars) + 1), " ")
        text = "".join(chars)
    return text, extra


def flood(n: int, seed: int) -> list[Question]:
    """``n`` questions in arrival order: ~40% unrelated, the rest planted groups."""
    rng = random.Random(seed)
    frames = _frames(rng)
    n_unrelated = round(n * 0.4)
    n_grouped = n - n_unrelated
    sizes: list[int] = []
    for big in (40, 34, 28, 22, 20):
        if sum(sizes) + big <= n_grouped // 3:
            sizes.append(big)
    while sum(sizes) < n_grouped:
        sizes.append(min(rng.choice((2, 2, 3, 3, 4, 5, 6, 8)), n_grouped - sum(sizes)))
    questions: list[Question] = []
    sources: list[tuple[str | None, tuple[str, ...]]] = [(None, forms) for forms in LOGISTICS]
    group = 0
    for size in sizes:
        subject, forms = sources.pop() if sources else frames.pop()
        first = rng.randrange(len(forms))
        asked, reordered = forms[first].split("|")
        varied, _extra = _vary(rng, asked, subject, light=True)
        questions.append(Question(varied, group, "original", subject))
        for _ in range(size - 1):
            roll = rng.random()
            if roll < REWORDED_SHARE and len(forms) > 1:
                other = rng.choice([f for k, f in enumerate(forms) if k != first])
                kind, text = "reworded", rng.choice(other.split("|"))
            elif roll < REWORDED_SHARE + REORDERED_SHARE:
                kind, text = "reordered", reordered
            else:
                kind, text = "surface", asked
            varied, extra = _vary(rng, text, subject)
            if extra and kind != "reworded":
                kind += "+extra"
            questions.append(Question(varied, group, kind, subject))
        group += 1
    if len(frames) < n_unrelated:
        raise SystemExit(f"only {len(frames)} distinct frames left for {n_unrelated} unrelated")
    for _ in range(n_unrelated):
        subject, forms = frames.pop()
        text = rng.choice(forms).split("|")[0]
        questions.append(Question(_vary(rng, text, subject)[0], group, "unrelated", subject))
        group += 1
    rng.shuffle(questions)
    for q in questions:
        q.votes = int(rng.paretovariate(1.5)) - 1
    return questions


# -- measuring -----------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    threshold: float
    idf: bool
    exhaustive: bool
    recall: float
    by_kind: dict[str, float]
    precision: float
    false_merge_all: float
    unrelated_merged: float
    same_topic_merged: float
    clusters: int
    p50_ms: float
    p99_ms: float
    p99_last_ms: float
    candidates_p50: float
    candidates_p99: float
    labels: dict[int, int]
    max_swap: int | None = None


def _tier(kind: str) -> str:
    """A paraphrase's tier: briefed (surface or reordered, with the brief's noise), extra
    (with noise beyond it) or reworded."""
    if kind.endswith("+extra"):
        return "extra"
    return "briefed" if kind in ("surface", "reordered") else kind


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def measure(
    questions: list[Question],
    *,
    threshold: float,
    idf: bool = False,
    max_swap: int | None = clusters.DEFAULT_MAX_SWAP,
    exhaustive: bool = False,
) -> Run:
    index = ClusterIndex(threshold=threshold, use_idf=idf, max_swap=max_swap)
    seen_candidates: list[int] = []
    if exhaustive:
        index._candidates = lambda keys: set(index._entries)  # type: ignore[method-assign]
    else:
        plain = index._candidates

        def counting(keys: tuple[int, ...]) -> set[int]:
            found = plain(keys)
            seen_candidates.append(len(found))
            return found

        index._candidates = counting  # type: ignore[method-assign]
    cpu_ns: list[int] = []
    clock = time.process_time_ns
    for qid, q in enumerate(questions, start=1):
        t0 = clock()
        index.add(qid, q.text, q.votes)
        cpu_ns.append(clock() - t0)
    labels = {qid: index.cluster_of(qid) for qid in range(1, len(questions) + 1)}
    run = _score(questions, labels, threshold, idf, exhaustive, cpu_ns, seen_candidates)
    run.max_swap = max_swap
    return run


def _score(
    questions: list[Question],
    labels: dict[int, int],
    threshold: float,
    idf: bool,
    exhaustive: bool,
    cpu_ns: list[int],
    seen_candidates: list[int],
) -> Run:
    group_of = {qid: q.group for qid, q in enumerate(questions, start=1)}
    original_of: dict[int, int] = {}
    for qid, q in enumerate(questions, start=1):
        if q.original:
            original_of[q.group] = qid
    planted = [qid for qid, q in enumerate(questions, start=1) if not q.original]
    hit = {qid: labels[qid] == labels[original_of[group_of[qid]]] for qid in planted}
    hits = sum(hit.values())
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for qid in planted:
        by_kind[_tier(questions[qid - 1].kind)].append(hit[qid])

    group_sizes = Counter(group_of.values())
    same_group_pairs = sum(_pairs(s) for s in group_sizes.values())
    cross_group_pairs = _pairs(len(questions)) - same_group_pairs
    members: dict[int, list[int]] = defaultdict(list)
    for qid, cid in labels.items():
        members[cid].append(qid)
    together = 0
    wrong = 0
    same_topic_wrong = 0
    unrelated_merged = 0
    for ids in members.values():
        together += _pairs(len(ids))
        per_group = Counter(group_of[q] for q in ids)
        wrong += _pairs(len(ids)) - sum(_pairs(c) for c in per_group.values())
        if len(ids) > 1:
            unrelated_merged += sum(1 for q in ids if group_sizes[group_of[q]] == 1)
        for a, b in combinations(ids, 2):
            qa, qb = questions[a - 1], questions[b - 1]
            if qa.group != qb.group and qa.subject is not None and qa.subject == qb.subject:
                same_topic_wrong += 1
    by_subject = Counter(q.subject for q in questions if q.subject is not None)
    same_topic_pairs = sum(_pairs(c) for c in by_subject.values())
    same_topic_same_group = sum(
        _pairs(c) for (g, s), c in Counter((q.group, q.subject) for q in questions).items() if s
    )
    unrelated = sum(1 for s in group_sizes.values() if s == 1)

    ms = sorted(ns / 1e6 for ns in cpu_ns)
    last = sorted(ns / 1e6 for ns in cpu_ns[-max(1, len(cpu_ns) // 10) :])
    return Run(
        threshold=threshold,
        idf=idf,
        exhaustive=exhaustive,
        recall=hits / len(planted) if planted else 1.0,
        by_kind={kind: sum(v) / len(v) for kind, v in by_kind.items()},
        precision=(together - wrong) / together if together else 1.0,
        false_merge_all=wrong / cross_group_pairs if cross_group_pairs else 0.0,
        unrelated_merged=unrelated_merged / unrelated if unrelated else 0.0,
        same_topic_merged=same_topic_wrong / max(1, same_topic_pairs - same_topic_same_group),
        clusters=len(members),
        p50_ms=_pct(ms, 50),
        p99_ms=_pct(ms, 99),
        p99_last_ms=_pct(last, 99),
        candidates_p50=_pct(sorted(seen_candidates), 50) if seen_candidates else float("nan"),
        candidates_p99=_pct(sorted(seen_candidates), 99) if seen_candidates else float("nan"),
        labels=labels,
    )


def _pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def rebuild_check(
    questions: list[Question], threshold: float, labels: dict[int, int]
) -> dict[str, Any]:
    """Rebuild from (id, text) rows and from stored rows: CPU seconds (median of 3, the
    machine is shared), whether each equals the incremental index, the index's memory."""
    plain_rows = [(qid, q.text) for qid, q in enumerate(questions, start=1)]
    incremental = ClusterIndex(threshold=threshold)
    for qid, q in enumerate(questions, start=1):
        incremental.add(qid, q.text, q.votes)
    stored = incremental.rows()
    clock = time.process_time
    replay_times, restore_times = [], []
    for _ in range(3):
        t0 = clock()
        replayed = ClusterIndex.rebuild(plain_rows, threshold=threshold)
        replay_times.append(clock() - t0)
        t0 = clock()
        restored = ClusterIndex.rebuild(stored, threshold=threshold)
        restore_times.append(clock() - t0)
    replay_s, restore_s = sorted(replay_times)[1], sorted(restore_times)[1]
    replay_labels = {qid: replayed.cluster_of(qid) for qid in labels}
    clusters._feature_hashes.cache_clear()  # count the hash cache too
    tracemalloc.start()
    held = ClusterIndex.rebuild(stored, threshold=threshold)
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return {
        "index_mib": index_bytes / 2**20,
        "replay_s": replay_s,
        "restore_s": restore_s,
        "replay_equal": replay_labels == labels,
        "restore_equal": restored.clusters() == incremental.clusters()
        and restored.rows() == stored,
    }


def _flood_stats(questions: list[Question]) -> str:
    sizes = Counter(q.group for q in questions)
    grouped = [s for s in sizes.values() if s > 1]
    unrelated = sum(1 for s in sizes.values() if s == 1)
    trad = sum(1 for q in questions if any(ord(c) in clusters._t2s_table() for c in q.text))
    wide = sum(1 for q in questions if any(0xFF10 <= ord(c) <= 0xFF5A for c in q.text))
    return (
        f"{len(questions)} questions: {len(grouped)} planted groups ({sum(grouped)} questions,"
        f" {sum(grouped) - len(grouped)} paraphrases, largest {max(grouped, default=0)}),"
        f" {unrelated} unrelated ({unrelated / len(questions):.0%});"
        f" {trad} with traditional characters, {wide} with full-width letters or digits"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=clusters.DEFAULT_THRESHOLD)
    parser.add_argument("--no-sweep", action="store_true", help="only the chosen threshold")
    parser.add_argument("--show", type=int, default=0, help="print N false merges and misses")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.questions < 10:
        parser.error("--questions must be at least 10")

    questions = flood(args.questions, args.seed)
    print(_flood_stats(questions))
    for qid, q in enumerate(questions[:6], start=1):
        print(f"  e.g. #{qid} (group {q.group}): {q.text}")

    warm = ClusterIndex(threshold=args.threshold)  # load the tables before timing
    for qid, q in enumerate(flood(200, args.seed + 1), start=1):
        warm.add(qid, q.text)
    main_run = measure(questions, threshold=args.threshold)
    runs = [main_run]
    if not args.no_sweep:
        runs.append(measure(questions, threshold=args.threshold, exhaustive=True))
        runs.append(measure(questions, threshold=args.threshold, max_swap=None))
        for idf in (False, True):
            for t in SWEEP:
                if not idf and t == args.threshold:
                    continue
                runs.append(measure(questions, threshold=t, idf=idf))
    rebuilt = rebuild_check(questions, args.threshold, main_run.labels)

    header = (
        f"{'threshold':>9} {'score':<7} {'veto':<4} {'search':<6} {'recall':>7} {'briefed':>7}"
        f" {'extra':>7} {'reword':>7} {'pair prec':>9}"
        f" {'fm strict':>9} {'fm all':>8} {'unrel mrg':>9} {'same-topic':>10} {'clusters':>8}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'p99 last':>8} {'cand p50':>8} {'cand p99':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in runs:
        mark = "*" if r is main_run else " "
        print(
            f"{r.threshold:>8.2f}{mark} {'idf' if r.idf else 'jaccard':<7}"
            f" {'off' if r.max_swap is None else r.max_swap:<4}"
            f" {'all' if r.exhaustive else 'lsh':<6} {r.recall:>7.1%}"
            f" {r.by_kind.get('briefed', 1):>7.1%} {r.by_kind.get('extra', 1):>7.1%}"
            f" {r.by_kind.get('reworded', 1):>7.1%} {r.precision:>9.1%}"
            f" {1 - r.precision:>9.1%} {r.false_merge_all:>8.3%} {r.unrelated_merged:>9.1%}"
            f" {r.same_topic_merged:>10.2%} {r.clusters:>8} {r.p50_ms:>7.3f} {r.p99_ms:>7.3f}"
            f" {r.p99_last_ms:>8.3f} {r.candidates_p50:>8.0f} {r.candidates_p99:>8.0f}"
        )
    print()
    print(
        f"rebuild of {len(questions)} (median of 3): from (id, text) rows, clustered again"
        f" {rebuilt['replay_s']:.3f} s CPU (equal to incremental: {rebuilt['replay_equal']});"
        f" from stored rows with cluster ids {rebuilt['restore_s']:.3f} s"
        f" (equal: {rebuilt['restore_equal']}); the index holds"
        f" {rebuilt['index_mib']:.1f} MiB (with the feature-hash cache)"
    )
    if args.show:
        _show(questions, main_run.labels, args.show)

    r = main_run
    goals = [
        ("recall(briefed)>=90%", r.by_kind.get("briefed", 1.0) >= RECALL_GOAL),
        ("false-merge<5%", 1 - r.precision < FALSE_MERGE_GOAL),
        ("p99<50ms", r.p99_last_ms < P99_GOAL_MS),
        ("rebuild<1s", rebuilt["replay_s"] < REBUILD_GOAL_S),
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "questions": len(questions),
                    "seed": args.seed,
                    "runs": [
                        {k: v for k, v in vars_of(run).items() if k != "labels"} for run in runs
                    ],
                    "rebuild": rebuilt,
                },
                ensure_ascii=False,
            )
        )
    print(
        f"{len(questions)} questions, threshold {r.threshold:.2f}: recall"
        f" {r.by_kind.get('briefed', 1.0):.1%} as briefed ({r.recall:.1%} with all kinds),"
        f" false merges {1 - r.precision:.1%} of clustered pairs ({r.false_merge_all:.3%} of"
        f" all cross-group pairs), add p50/p99 {r.p50_ms:.2f}/{r.p99_ms:.2f} ms CPU, rebuild"
        f" {rebuilt['replay_s']:.2f} s; "
        + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in goals)
    )
    if not (rebuilt["replay_equal"] and rebuilt["restore_equal"]):
        print("rebuilt clusters differ from the incremental ones", file=sys.stderr)
        return 1
    return 0


def vars_of(run: Run) -> dict[str, Any]:
    return {f.name: getattr(run, f.name) for f in fields(Run)}


def _show(questions: list[Question], labels: dict[int, int], limit: int) -> None:
    """Print some false merges and some missed paraphrases (to study the errors)."""
    members: dict[int, list[int]] = defaultdict(list)
    for qid, cid in labels.items():
        members[cid].append(qid)
    print("\nfalse merges (cluster: question [group]):")
    shown = 0
    for cid, ids in members.items():
        groups = {questions[q - 1].group for q in ids}
        if len(groups) > 1 and shown < limit:
            shown += 1
            print(f"  cluster {cid}:")
            for member in ids[:8]:
                print(f"    [{questions[member - 1].group}] {questions[member - 1].text}")
    print("\nmissed paraphrases (question → original):")
    original_of = {q.group: qid for qid, q in enumerate(questions, start=1) if q.original}
    shown = 0
    for qid, q in enumerate(questions, start=1):
        o = original_of[q.group]
        if not q.original and labels[qid] != labels[o] and shown < limit:
            shown += 1
            print(f"  {q.text}  →  {questions[o - 1].text}")


if __name__ == "__main__":
    sys.exit(main())
