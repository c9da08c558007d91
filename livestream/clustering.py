"""Near-duplicate questions grouped per lecture (issue 19; the algorithm: clusters.py).

Each server process keeps one ``ClusterIndex`` per lecture, brought up to date from the
database before each assignment (the questions other processes stored since: id order,
so every process sees the same sequence), and stores the assignment on the question row:
the row is the truth, the index a cache that any process can rebuild (< 1 s for 2,000)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from django.db.models import Count

from livestream.clusters import ClusterIndex
from livestream.models import Question
from portal.process_state import process_state_reset

_lock = threading.Lock()
_indexes: dict[int, tuple[ClusterIndex, int]] = {}  # lecture id → (index, last id added)
LECTURES_KEPT = 50
LATE_WINDOW = 200
COUNTED = (Question.Status.PENDING, Question.Status.APPROVED, Question.Status.ANSWERED)


@process_state_reset
def clustering_forget() -> None:
    with _lock:
        _indexes.clear()


def question_cluster_assign(*, question: Question) -> int:
    """The question's cluster id (stored on the row); its own id when it is the first."""
    lecture_id = int(question.lecture_id)
    with _lock:
        index, last = _indexes.get(lecture_id, (ClusterIndex(), 0))
        # a window back from the last id seen: a question another process committed late
        # (its id below one already seen) still joins this process's index
        rows = (
            Question.objects.filter(
                lecture_id=lecture_id, pk__gt=max(0, last - LATE_WINDOW), pk__lte=question.pk
            )
            .exclude(status=Question.Status.REJECTED)
            .order_by("pk")
            .values_list("pk", "text", "votes")
        )
        for pk, text, votes in rows:
            if pk not in index:
                index.add(pk, text, votes)
            last = max(last, pk)
        if len(_indexes) >= LECTURES_KEPT and lecture_id not in _indexes:
            _indexes.pop(next(iter(_indexes)))
        _indexes[lecture_id] = (index, max(last, question.pk))
        cluster = index.cluster_of(question.pk) if question.pk in index else None
    cluster_id = int(cluster) if cluster is not None else int(question.pk)
    Question.objects.filter(pk=question.pk).update(cluster_id=cluster_id)
    question.cluster_id = cluster_id
    return cluster_id


def cluster_sizes(*, lecture_id: int, cluster_ids: Iterable[int]) -> dict[int, int]:
    """Questions per cluster that are still in play (not rejected, not merged away)."""
    ids = [c for c in set(cluster_ids) if c]
    if not ids:
        return {}
    rows = (
        Question.objects.filter(lecture_id=lecture_id, cluster_id__in=ids, status__in=COUNTED)
        .values("cluster_id")
        .annotate(n=Count("id"))
        .values_list("cluster_id", "n")
    )
    return {int(cluster): int(n) for cluster, n in rows if cluster is not None}
