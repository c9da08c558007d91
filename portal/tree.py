"""Bulk growth of the org tree beside treebeard: inserting many units at once needs their
materialised paths computed up front and the parents' child counts raised after (the demo
seeder, the directory import). One home for those two rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from django.db.models import F

from portal.models import OrgUnit


def last_child_positions() -> dict[str, int]:
    """For every path that has children: the highest child position used under it."""
    step = OrgUnit.steplen
    last: dict[str, int] = defaultdict(int)
    for path in OrgUnit.objects.values_list("path", flat=True):
        parent = path[:-step]
        last[parent] = max(last[parent], OrgUnit._str2int(path[-step:]))
    return last


def child_path(*, parent_path: str, last: dict[str, int]) -> tuple[str, int]:
    """The next free path below ``parent_path`` ('' for a root) and its depth; ``last``
    (from ``last_child_positions``) is advanced."""
    depth = len(parent_path) // OrgUnit.steplen + 1
    last[parent_path] += 1
    return OrgUnit._get_path(parent_path, depth, last[parent_path]), depth


def numchild_grow(grown: Mapping[str, int]) -> None:
    """Existing parents (by path) gained this many children: one UPDATE per increment."""
    by_increment: dict[int, list[str]] = defaultdict(list)
    for path, added in grown.items():
        by_increment[added].append(path)
    for added, paths in by_increment.items():
        OrgUnit.objects.filter(path__in=paths).update(numchild=F("numchild") + added)
