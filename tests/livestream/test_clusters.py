"""livestream.clusters: near-duplicate grouping of live questions (pure Python, no DB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livestream.clusters import ClusterIndex, Row, features, normalise

ROOT = Path(__file__).resolve().parents[2]
ASKED = "脑机接口什么时候能用于帕金森患者？"


def _index(*texts: str) -> tuple[ClusterIndex, list[int]]:
    """An index fed ``texts`` as questions 1, 2, …; the cluster id of each."""
    index = ClusterIndex()
    return index, [index.add(qid, text).cluster_id for qid, text in enumerate(texts, start=1)]


# -- normalise ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # full-width letters, digits and punctuation → half-width, lower case
        ("ＡＩ和５Ｇ会改变政务服务吗？", "ai和5g会改变政务服务"),
        ("ChatGPT　能用于公文写作吗", "chatgpt能用于公文写作"),
        # traditional → simplified
        ("腦機接口什麼時候能用於帕金森患者？", "脑机接口什么时候能用于帕金森患者"),
        ("數據安全與個人隱私", "数据安全与个人隐私"),
        # greetings, salutations and particles go
        ("老师您好，请问一下，大模型会取代基层干部吗？", "大模型会取代基层干部"),
        ("王老师您好！数据要素的价值怎么评估呢？谢谢老师", "数据要素价值怎么评估"),
        ("各位老师好，我想问一下：算力够了吧？", "算力够"),
        # punctuation, spaces, emoji and symbols go
        ("大 模 型……会不会“失控”？？！👍", "大模型会不会失控"),
        ("【提问】算力～算法～数据", "提问算力算法数据"),
        # negations stay
        ("为什么基层还用不上大模型？", "为什么基层还用不上大模型"),
        ("没有网络的地方怎么办", "没有网络地方怎么办"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_of_only_greetings_is_empty() -> None:
    assert normalise("老师您好！！谢谢老师～") == ""
    assert features("老师您好") == frozenset()


def test_synonyms_give_the_same_features() -> None:
    assert features("脑机接口什么时候能用于帕金森患者") == features(
        "脑机接口何时可以用于帕金森病人"
    )
    assert features("大模型会不会取代基层干部") == features("大模型是否会取代基层干部吗")
    assert features("数据安全怎么保障") == features("数据安全如何保障")


# -- clustering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paraphrase",
    [
        "老师您好，脑机接口何时可以用于帕金森患者呢？",  # greeting, synonyms, particle
        "腦機接口什麼時候能用於帕金森患者？",  # traditional
        "脑机接口多久能用于帕金森病人",  # synonyms, no punctuation
        "脑机接口 什么时候能 用于帕金森患者 ?？",  # spaces, mixed punctuation
        "帕金森患者什么时候能用上脑机接口？",  # reordered
        "对于帕金森患者，脑机接口什么时候能用上？",  # reordered clauses
        "想请教一下：脑机接口什么时候可以用于帕金生患者？谢谢！",  # greeting + typo
    ],
)
def test_paraphrase_joins_the_original(paraphrase: str) -> None:
    index, (first, second) = _index(ASKED, paraphrase)
    assert second == first == 1
    assert index.members(1) == [1, 2]


@pytest.mark.parametrize(
    ("original", "paraphrase"),
    [
        ("大模型会取代基层干部吗？", "大模型会不会取代基层干部"),
        ("大模型会取代基层干部吗？", "基层干部会被大模型取代吗？"),
        ("大模型用于政务服务，大概还要多久？", "大概还要多久，大模型才能用于政务服务？"),
        ("ChatGPT会泄露个人隐私吗", "ＣｈａｔＧＰＴ会不会泄露个人隐私？？"),
        ("直播有回放吗？", "请问一下，直播有回放吗？谢谢老师！"),
        ("人工智能会让很多人失业吗", "AI会让很多人失业吗？"),
    ],
)
def test_paraphrase_pairs_cluster_together(original: str, paraphrase: str) -> None:
    _, (first, second) = _index(original, paraphrase)
    assert second == first


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # same topic, another question
        (ASKED, "脑机接口有哪些伦理风险？"),
        (ASKED, "脑机接口什么时候能用于基层医院？"),
        ("大模型有哪些伦理风险？", "大模型有哪些安全风险？"),
        # same question, another subject or object
        ("大模型有哪些伦理风险？", "脑机接口有哪些伦理风险？"),
        ("大模型会取代医生吗？", "大模型会取代教师吗？"),
        ("数据安全方面国家有哪些政策？", "数据要素方面国家有哪些政策？"),
        ("国产芯片和国外的差距有多大？", "量子计算和国外的差距有多大？"),
        # unrelated
        (ASKED, "课件能下载吗？"),
        ("直播有回放吗？", "这节课算多少学时？"),
    ],
)
def test_near_misses_stay_apart(one: str, other: str) -> None:
    index, (first, second) = _index(one, other)
    assert (first, second) == (1, 2)
    assert index.similarity(one, other) < index.threshold


def test_a_flood_of_variants_makes_one_cluster_per_question() -> None:
    questions = {
        "when": [ASKED, "老师您好，脑机接口何时能用于帕金森病人？", "腦機接口多久能用於帕金森患者"],
        "ethics": [
            "脑机接口有哪些伦理风险？",
            "请问脑机接口有什么伦理风险呢",
            "腦機接口有哪些倫理風險",
        ],
        "llm": [
            "大模型会取代基层干部吗",
            "大模型会不会取代基层干部？？",
            "基层干部会被大模型取代吗",
        ],
        "replay": ["直播有回放吗？", "直播有回放吗", "请问直播有回放吗谢谢"],
    }
    index = ClusterIndex()
    qid = 0
    expected: dict[str, set[int]] = {}
    for name, texts in questions.items():
        for text in texts:
            qid += 1
            index.add(qid, text)
            expected.setdefault(name, set()).add(qid)
    got = {frozenset(ids) for ids in index.clusters().values()}
    assert got == {frozenset(ids) for ids in expected.values()}


def test_assignment_reports_cluster_size_and_match() -> None:
    index = ClusterIndex()
    first = index.add(10, ASKED)
    assert (first.cluster_id, first.size, first.matched, first.score) == (10, 1, None, 0.0)
    second = index.add(11, "老师您好，" + ASKED)
    assert (second.cluster_id, second.size, second.matched) == (10, 2, 10)
    assert second.score == pytest.approx(1.0)


def test_empty_questions_each_stand_alone() -> None:
    _, ids = _index("老师您好！", "老师好", "？？？")
    assert ids == [1, 2, 3]


def test_adding_an_id_twice_is_refused() -> None:
    index, _ = _index(ASKED)
    with pytest.raises(ValueError, match="already indexed"):
        index.add(1, "别的问题")


# -- representative, merge, remove ------------------------------------------------------------


def test_representative_is_the_most_voted() -> None:
    index = ClusterIndex()
    index.add(1, ASKED, votes=2)
    index.add(2, "老师您好，" + ASKED, votes=7)
    index.add(3, "脑机接口何时能用于帕金森患者", votes=1)
    assert index.representative(1) == 2
    index.set_votes(3, 9)
    assert index.representative(1) == 3


def test_representative_among_equal_votes_is_the_fullest_then_the_oldest() -> None:
    index = ClusterIndex()
    index.add(1, "老师您好！！脑机接口何时能用于帕金森患者？？")  # 14 characters once normalised
    index.add(2, "脑机接口什么时候能用于帕金森患者")  # 16
    index.add(3, "腦機接口什麼時候能用於帕金森患者？")  # 16, later
    assert index.cluster_of(2) == index.cluster_of(3) == 1
    assert index.representative(1) == 2


def test_merge_moves_every_question_and_later_paraphrases_follow() -> None:
    index, ids = _index(
        ASKED, "脑机接口治疗帕金森离临床还有多远", "腦機接口什麼時候能用於帕金森患者"
    )
    assert ids == [1, 2, 1]  # the second one is too far from the first for the index
    merged = index.merge(2, into_cluster=1)
    assert (merged.cluster_id, merged.size) == (1, 3)
    assert index.clusters() == {1: [1, 2, 3]}
    # a paraphrase of the merged question now joins the cluster it was merged into
    assert index.add(4, "脑机接口治疗帕金森离临床还有多远呢").cluster_id == 1
    assert index.merge(1, into_cluster=1).size == 4


def test_merge_of_an_unknown_cluster_raises() -> None:
    index, _ = _index(ASKED)
    with pytest.raises(KeyError):
        index.merge(99, into_cluster=1)


def test_remove_keeps_the_cluster_id_and_forgets_the_text() -> None:
    index, _ = _index(ASKED, "老师您好，" + ASKED, "课件能下载吗？")
    index.remove(1)  # the cluster's first question
    assert 1 not in index
    assert index.clusters() == {1: [2], 3: [3]}
    assert index.representative(1) == 2
    assert index.add(4, "请问" + ASKED).cluster_id == 1
    index.remove(3)
    assert 3 not in index.clusters()
    # nothing is left to match a paraphrase of the removed question
    assert index.add(5, "课件可以下载吗").cluster_id == 5
    with pytest.raises(KeyError):
        index.remove(3)


# -- rebuild --------------------------------------------------------------------------------


def _flood(n: int) -> list[str]:
    """``n`` questions: templates × subjects, each asked a few ways."""
    subjects = ["脑机接口", "大模型", "数据安全", "算力", "政务服务", "人脸识别", "自动驾驶"]
    subjects += ["智慧城市", "数字乡村", "算法推荐", "国产芯片", "人形机器人", "智能客服"]
    templates = [
        "{x}什么时候能用于基层？",
        "{x}有哪些伦理风险？",
        "国家对{x}有哪些支持政策？",
        "基层干部怎样用好{x}？",
        "{x}会不会泄露个人隐私？",
        "如何防止{x}被滥用？",
        "{x}应该怎样监管？",
        "{x}未来五年会怎么发展？",
    ]
    noise = ["{q}", "老师您好，{q}", "请问{q}谢谢", "{q}呢", "{q}？？"]
    out: list[str] = []
    i = 0
    while len(out) < n:
        x = subjects[i % len(subjects)]
        template = templates[(i // len(subjects)) % len(templates)]
        variant = noise[(i // (len(subjects) * len(templates))) % len(noise)]
        text = variant.format(q=template.format(x=x))
        if i // (len(subjects) * len(templates) * len(noise)):
            text = f"{text}（第{i}问）"
        out.append(text)
        i += 1
    return out


def test_templated_flood_groups_each_question_and_nothing_else() -> None:
    """13 subjects × 8 questions, each typed 5 ways: 104 clusters of 5, although every
    question shares its sentence with 12 others about another subject."""
    texts = _flood(520)
    index = ClusterIndex.rebuild(list(enumerate(texts, start=1)))
    groups = {frozenset(qid for qid in range(1, 521) if (qid - 1) % 104 == g) for g in range(104)}
    assert {frozenset(ids) for ids in index.clusters().values()} == groups


def test_rebuild_from_id_and_text_equals_the_incremental_index() -> None:
    texts = _flood(300)
    incremental = ClusterIndex()
    for qid, text in enumerate(texts, start=1):
        incremental.add(qid, text)
    assert len(incremental.clusters()) < len(texts)  # there is something to group
    rebuilt = ClusterIndex.rebuild([(qid, text) for qid, text in enumerate(texts, start=1)])
    assert rebuilt.clusters() == incremental.clusters()
    # row order does not matter: rebuild replays in id order
    shuffled = list(enumerate(texts, start=1))[::-1]
    assert ClusterIndex.rebuild(shuffled).clusters() == incremental.clusters()


def test_rebuild_from_stored_rows_keeps_merges_removals_and_votes() -> None:
    index, _ = _index(
        ASKED, "脑机接口治疗帕金森离临床还有多远", "课件能下载吗？", "老师您好，" + ASKED
    )
    index.merge(2, into_cluster=1)
    index.remove(1)
    index.set_votes(3, 5)
    stored = json.loads(json.dumps(index.rows()))  # as the caller would keep them
    rebuilt = ClusterIndex.rebuild(stored)
    assert rebuilt.clusters() == index.clusters() == {1: [2, 4], 3: [3]}
    assert rebuilt.rows() == index.rows()
    assert rebuilt.rows()[1] == Row(3, "课件能下载吗？", 5, 3)
    # and it goes on clustering as the original would
    assert rebuilt.add(5, "请问" + ASKED).cluster_id == index.add(5, "请问" + ASKED).cluster_id == 1


def test_rebuild_in_another_process_gives_the_same_clusters() -> None:
    """Hashes are SHAKE-128, not ``hash()``: another PYTHONHASHSEED changes nothing."""
    texts = _flood(200)
    here = ClusterIndex.rebuild(list(enumerate(texts, start=1))).clusters()
    script = (
        "import json, sys\n"
        "from livestream.clusters import ClusterIndex\n"
        "texts = json.load(sys.stdin)\n"
        "index = ClusterIndex.rebuild(list(enumerate(texts, start=1)))\n"
        "print(json.dumps(index.clusters()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=60,
    )
    there = {int(k): v for k, v in json.loads(done.stdout).items()}
    assert there == here


# -- speed ----------------------------------------------------------------------------------


def test_add_is_fast_at_ci_size() -> None:
    """500 questions: p99 of ``add`` well under 50 ms of CPU (it is ~1 ms on a dev machine;
    the bound leaves room for a loaded 2-core CI runner), rebuild well under a second."""
    texts = _flood(500)
    ClusterIndex().add(0, texts[0])  # load the character tables outside the timing
    index = ClusterIndex()
    cpu_ms: list[float] = []
    for qid, text in enumerate(texts, start=1):
        started = time.process_time_ns()
        index.add(qid, text)
        cpu_ms.append((time.process_time_ns() - started) / 1e6)
    cpu_ms.sort()
    p99 = cpu_ms[int(len(cpu_ms) * 0.99) - 1]
    assert p99 < 50.0, f"p99 add {p99:.2f} ms"
    started_s = time.process_time()
    ClusterIndex.rebuild(list(enumerate(texts, start=1)))
    assert time.process_time() - started_s < 1.0
