"""The demo org tree: a deterministic spec, merged into the database in bulk.

The tree (≈ 20,000 units) is built by computing django-treebeard materialised paths
ourselves and inserting them with ``bulk_create``; ``add_child`` in a loop would take
minutes. Running it again matches existing units by (parent, name, kind) and inserts only
what is missing, so it is idempotent and also merges with a tree that already holds some of
these units.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from demo import places
from portal.models import OrgUnit
from portal.tree import child_path, last_child_positions, numchild_grow

TREE_SEED = 330000

Kind = OrgUnit.Kind


@dataclass
class NodeSpec:
    name: str
    kind: str
    code: str | None = None
    children: list[NodeSpec] = field(default_factory=list)
    # The nearest city/county/province above (or this node itself) — for party-school venues.
    area: NodeSpec | None = None
    path: str = ""  # filled in by ``tree_merge``

    def walk(self) -> Iterator[NodeSpec]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def child(self, name: str) -> NodeSpec:
        for node in self.children:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def org_department(self) -> NodeSpec:
        return next(c for c in self.children if c.kind == Kind.ORG_DEPARTMENT)

    @property
    def party_school(self) -> NodeSpec:
        return next(c for c in self.children if c.kind == Kind.PARTY_SCHOOL)


def _code(prefix: str) -> str:
    return prefix.ljust(12, "0")


def _institutions(parent: NodeSpec) -> list[NodeSpec]:
    """组织部 and 党校 of a province, city or county (no administrative code)."""
    return [
        NodeSpec(f"{parent.name}委组织部", Kind.ORG_DEPARTMENT, area=parent),
        NodeSpec(f"{parent.name}委党校", Kind.PARTY_SCHOOL, area=parent),
    ]


def _place_name(rng: random.Random, taken: set[str], suffix: str) -> str:
    while True:
        name = rng.choice(places.PLACE_FIRST) + rng.choice(places.PLACE_SECOND) + suffix
        if name not in taken:
            taken.add(name)
            return name


def _township_names(rng: random.Random, county: str, code: str) -> list[str]:
    known = places.TOWNSHIPS.get(code)
    if known:
        return list(known)
    if county.endswith("区"):
        count, shares = rng.randint(8, 16), (0.6, 0.95)  # streets, towns, then townships
    elif county.endswith("市"):
        count, shares = rng.randint(12, 22), (0.3, 0.85)
    else:
        count, shares = rng.randint(10, 20), (0.15, 0.6)
    taken: set[str] = set()
    names: list[str] = []
    for _ in range(count):
        r = rng.random()
        suffix = "街道" if r < shares[0] else "镇" if r < shares[1] else "乡"
        names.append(_place_name(rng, taken, suffix))
    return names


def _township(rng: random.Random, name: str, code: str, county: NodeSpec) -> NodeSpec:
    node = NodeSpec(name, Kind.TOWNSHIP, code, area=county)
    taken: set[str] = set()
    if name.endswith("街道"):
        plan = [(places.VILLAGE_SUFFIX_URBAN, rng.randint(5, 12))]
    elif name.endswith("镇"):
        plan = [
            (places.VILLAGE_SUFFIX_URBAN, rng.randint(1, 3)),
            (places.VILLAGE_SUFFIX_RURAL, rng.randint(8, 18)),
        ]
    else:
        plan = [(places.VILLAGE_SUFFIX_RURAL, rng.randint(6, 14))]
    for suffix, count in plan:
        first = 1 if suffix == places.VILLAGE_SUFFIX_URBAN else 201
        for n in range(count):
            node.children.append(
                NodeSpec(
                    _place_name(rng, taken, suffix),
                    Kind.VILLAGE,
                    f"{code[:9]}{first + n:03d}",
                    area=county,
                )
            )
    return node


def _county(rng: random.Random, name: str, code6: str) -> NodeSpec:
    county = NodeSpec(name, Kind.COUNTY, _code(code6))
    county.area = county
    county.children = _institutions(county)
    serial = {"街道": 1, "镇": 101, "乡": 201}
    for township in _township_names(rng, name, code6):
        suffix = "街道" if township.endswith("街道") else township[-1]
        code = f"{code6}{serial[suffix]:03d}000"
        serial[suffix] += 1
        county.children.append(_township(rng, township, code, county))
    return county


def tree_spec() -> NodeSpec:
    """The whole demo tree, the same on every call."""
    rng = random.Random(TREE_SEED)  # noqa: S311 (demo data, not secrets)
    province = NodeSpec(places.PROVINCE[0], Kind.PROVINCE, _code(places.PROVINCE[1]))
    province.area = province
    province.children = _institutions(province)
    for city_name, city_code, counties in places.CITIES:
        city = NodeSpec(city_name, Kind.CITY, _code(city_code))
        city.area = city
        city.children = _institutions(city)
        city.children.extend(_county(rng, name, code) for name, code in counties)
        province.children.append(city)
    return province


@dataclass
class MergeResult:
    created: int
    existing: int
    codes_dropped: list[str]  # codes already used elsewhere: those new units got no code


def tree_merge(root: NodeSpec) -> MergeResult:
    """Insert the missing part of ``root`` and fill in ``path`` on every spec node."""
    children_of: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    last_pos = last_child_positions()
    codes: dict[str, str] = {}
    steplen = OrgUnit.steplen
    for path, name, kind, code in OrgUnit.objects.values_list("path", "name", "kind", "code"):
        parent = path[:-steplen]
        children_of[parent].setdefault((name, kind), path)
        if code:
            codes[code] = path

    new_rows: list[OrgUnit] = []
    grown: dict[str, int] = defaultdict(int)  # existing parent path → children added
    dropped: list[str] = []
    existing = 0

    def place(node: NodeSpec, parent_path: str, depth: int, parent_is_new: bool) -> None:
        nonlocal existing
        path = None
        if not parent_is_new:
            if node.code and node.code in codes and codes[node.code][:-steplen] == parent_path:
                path = codes[node.code]
            else:
                path = children_of[parent_path].get((node.name, node.kind))
        is_new = path is None
        if path is None:
            path, _depth = child_path(parent_path=parent_path, last=last_pos)
            code = node.code
            if code and code in codes:
                dropped.append(code)
                code = None
            if code:
                codes[code] = path
            new_rows.append(
                OrgUnit(
                    path=path,
                    depth=depth,
                    numchild=len(node.children),
                    name=node.name,
                    kind=node.kind,
                    code=code,
                )
            )
            if not parent_is_new and parent_path:
                grown[parent_path] += 1
        else:
            existing += 1
        node.path = path
        for child in node.children:
            place(child, path, depth + 1, is_new)

    place(root, "", 1, False)
    OrgUnit.objects.bulk_create(new_rows, batch_size=5000)
    numchild_grow(grown)
    return MergeResult(created=len(new_rows), existing=existing, codes_dropped=dropped)
