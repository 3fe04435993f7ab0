"""Values of two intermediate aggregations that meet in one relation (a join of aggregated CTEs
or subqueries, a cross join, value subqueries in one expression): their people are compared,
as the rows of a final set operation's branches are (``release.close_rows``).

``SELECT a.n - b.n FROM a CROSS JOIN b`` over ``a`` = everyone's count and ``b`` = everyone's
but a 7-person channel's is 7, though each row stands on hundreds of people. So each
aggregation whose rows meet another's outputs, per row, a hidden ``__cr_meet``: for its row's
people and each aggregate's, ``{n: count, h: sketch}`` (the ``4k`` smallest person hashes, as
``threshold.sketch``). Where two such sources meet, every set of a source's row is compared
with every set of *every* row of the other source (a superset of the rows it can meet, so a
row repeated by a join, or released in another row of the answer, is compared too): two sets
of at least k people whose counts are within k-1 and whose sketches share at least
``min(max(|A|, |B|), 4k) - k + 1`` hashes may differ by fewer than k people on each side, and
the source whose set is smaller (a tie: the later source) is flagged on that row. The flag is
a taint (``taint.py``): every cell computed from the flagged source is withheld, and so is
what a later relation computes from it. Rows of one aggregation (a self-join) are groups of
one query and are not compared, as the groups of one GROUP BY are not.

A source is an intermediate aggregation across people (a CTE or subquery), or a SELECT that
only passes one on (one source, no join, grouping, DISTINCT, window or aggregate); a value
subquery of that shape too (``(SELECT n FROM a)``). A SELECT or value subquery that
aggregates one such source without grouping (``(SELECT SUM(n) FROM a)``) is a source too,
*summed*: its record is the union of its rows' people (the sum of their counts, the ``4k``
smallest hashes of all their sketches), then every row's own.

Pairs are not enough (``a.n - b.n - c.n`` over everyone and two disjoint groups that hold all
but 7 people is 7; so is ``a.n - SUM(g.n)``): each set is also compared with the union of the
rows' people of each other source, and of all others together; a set within k-1 of the sum of
their counts whose sketch shares ``min(|A|, 4k) - k + 1`` hashes with the union's flags its
source, whatever its size. Other subsets and coefficients are not compared (docs/gate.md).

A row-level join of such sources carries their records on (``list_concat``), so that met
again later it is compared too (``j AS (SELECT a.n, b.n FROM a CROSS JOIN b)`` then ``j.an -
c.n``); and an aggregation across people compares its own row's records with those of the
value subqueries it reads (``COUNT(DISTINCT user_key) - (SELECT n FROM b)``). The flags are
built in ``closeness.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp

from cleanroom.gate.model import SKETCH_SIZE, Mode, SelectPlan
from cleanroom.gate.taint import (
    cte_body,
    sources,
    value_subqueries,
)
from cleanroom.gate.walk import copy_tree, find_all

MEET = "__cr_meet"


@dataclass(frozen=True)
class Source:
    """One relation (alias) or value subquery (``str(id)``) of a SELECT that carries records."""

    key: str
    origin: int  # the aggregation its rows come from
    subquery: exp.Subquery | None = None
    summed: bool = False  # a value subquery that aggregates the rows (its record: the union)
    carried: frozenset[int] = frozenset()  # a join's: the aggregations whose records it carries


def apart(s: Source, t: Source) -> bool:
    """Two sources from different aggregations (rows of one are groups of one query)."""
    return not ({s.origin} | s.carried) & ({t.origin} | t.carried)


@dataclass
class Meets:
    """Where aggregations meet, read before the rewrite moves nodes."""

    bodies: set[int] = field(default_factory=set)  # aggregations that output ``__cr_meet``
    passers: dict[int, str] = field(default_factory=dict)  # SELECT -> alias it passes on
    summers: dict[int, str] = field(default_factory=dict)  # SELECT -> alias it aggregates
    carriers: dict[int, list[str]] = field(default_factory=dict)  # join -> aliases it carries
    besides: dict[int, list[Source]] = field(default_factory=dict)  # aggregation -> values
    readers: dict[int, list[Source]] = field(default_factory=dict)  # SELECT -> its sources
    flags: dict[int, dict[str, exp.Expr]] = field(default_factory=dict)  # filled per reader
    # reader -> relation alias -> its flag, to compute once beside it (``closeness.wrap_flags``)
    wrapped: dict[int, dict[str, exp.Expr]] = field(default_factory=dict)


def find_meets(tree: exp.Expr, plans: dict[int, SelectPlan]) -> Meets:
    meets = Meets()
    if not any(p.mode is Mode.ANONYMIZING and not p.final for p in plans.values()):
        return meets
    for sel in find_all(tree, exp.Select):
        found: list[Source] = []
        chains: list[dict[int, str]] = []
        summers: dict[int, str] = {}
        carriers: dict[int, list[str]] = {}
        for alias, body in sources(sel):
            chain: dict[int, str] = {}
            origin = _origin(body, plans, chain)
            if origin is None:
                origin = _summed(body, plans, chain, summers)
            carried = _carried(body, plans, chain, summers, carriers) if origin is None \
                else None
            if carried:
                found.append(Source(alias, id(body), carried=carried))
                chains.append(chain)
            elif origin is not None:
                found.append(Source(alias, origin))
                chains.append(chain)
        for sub in value_subqueries(sel):
            if isinstance(sub.parent, exp.In):
                continue
            chain = {}
            summed = not _passes(sub.this, plans)
            origin = _summed(sub.this, plans, chain, {}) if summed \
                else _origin(sub.this, plans, chain)
            chain.pop(id(sub.this), None)  # read through a copy: it stays one column
            if origin is None:
                continue
            found.append(Source(str(id(sub)), origin, sub, summed))
            chains.append(chain)
        plan = plans.get(id(sel))
        values = [s for s in found if s.subquery is not None]
        if plan is not None and plan.mode is Mode.ANONYMIZING and values:
            meets.besides[id(sel)] = values  # compared with the aggregation's own sets
            meets.bodies.update(s.origin for s in values)
            for chain in chains:
                meets.passers.update(chain)
        if not any(apart(s, t) for s in found for t in found):
            continue
        meets.readers[id(sel)] = found
        meets.bodies.update(o for s in found for o in (s.carried or {s.origin}))
        meets.summers.update(summers)
        meets.carriers.update(carriers)
        for chain in chains:
            meets.passers.update(chain)
    return meets


def _carried(node: exp.Expr, plans: dict[int, SelectPlan], chain: dict[int, str],
             summers: dict[int, str], carriers: dict[int, list[str]]) -> frozenset[int] | None:
    """The aggregations whose records a row-level join of ANON rows carries (``j AS (SELECT
    a.n, b.n FROM a CROSS JOIN b)``, met again later), recorded in ``carriers``; a source that
    is such a join, or a SELECT that passes one on, carries its records on (``j2 AS (SELECT …
    FROM j CROSS JOIN e)``, ``j1 AS (SELECT an FROM j)``)."""
    if isinstance(node, exp.Subquery):
        node = node.this
    plan = plans.get(id(node))
    if not isinstance(node, exp.Select) or plan is None or plan.mode is not Mode.ANON:
        return None
    if _passes(node, plans):  # ``j1 AS (SELECT an FROM j)``: passes the join's records on
        relation = node.args["from_"].this
        body = _body_of(relation)
        passed = None if body is None else _carried(body, plans, chain, summers, carriers)
        if passed:
            chain[id(node)] = relation.alias_or_name
        return passed
    if not node.args.get("joins") or any(node.args.get(a) for a in (
            "laterals", "group", "having", "distinct", "qualify")) or any(
            isinstance(n, (exp.AggFunc, exp.Window)) for p in node.expressions
            for n in p.walk()):
        return None
    origins: set[int] = set()
    aliases: list[str] = []
    for alias, body in sources(node):
        origin = _origin(body, plans, chain)
        if origin is None:
            origin = _summed(body, plans, chain, summers)
        if origin is not None:
            origins.add(origin)
            aliases.append(alias)
            continue
        inner = _carried(body, plans, chain, summers, carriers)
        if inner:
            origins |= inner
            aliases.append(alias)
    if origins:
        carriers[id(node)] = aliases
    return frozenset(origins) or None


def _summed(node: exp.Expr, plans: dict[int, SelectPlan], chain: dict[int, str],
            summers: dict[int, str]) -> int | None:
    """The aggregation whose rows ``node`` aggregates into one row (an ANON SELECT with
    aggregates, no grouping, over one source that carries records), recorded in ``summers``."""
    if isinstance(node, exp.Subquery):
        node = node.this
    if not isinstance(node, exp.Select) or not _plain_anon(node, plans):
        return None
    nodes = [n for p in node.expressions for n in p.walk()]
    if any(isinstance(n, (exp.Window, exp.Subquery)) for n in nodes) or not any(
            isinstance(n, exp.AggFunc) for n in nodes):
        return None
    relation = node.args["from_"].this
    body = _body_of(relation)
    origin = None if body is None else _origin(body, plans, chain)
    if origin is not None:
        summers[id(node)] = relation.alias_or_name
    return origin


def _origin(node: exp.Expr, plans: dict[int, SelectPlan], chain: dict[int, str]) -> int | None:
    """The aggregation whose rows ``node`` is (following SELECTs that only pass one on)."""
    if isinstance(node, exp.Subquery):
        return _origin(node.this, plans, chain)
    plan = plans.get(id(node))
    if not isinstance(node, exp.Select) or plan is None:
        return None
    if plan.mode is Mode.ANONYMIZING:
        return None if plan.final else id(node)
    if not _passes(node, plans):
        return None
    relation = node.args["from_"].this
    body = _body_of(relation)
    if body is None:
        return None
    origin = _origin(body, plans, chain)
    if origin is not None:
        chain[id(node)] = relation.alias_or_name
    return origin


def _body_of(relation: exp.Expr) -> exp.Expr | None:
    """The query a FROM relation reads: a subquery's, or a CTE's (None: a dataset)."""
    if isinstance(relation, exp.Subquery):
        return relation.this
    return cte_body(relation) if isinstance(relation, exp.Table) else None


def _plain_anon(node: exp.Select, plans: dict[int, SelectPlan]) -> bool:
    """An ANON SELECT over one source: no join, grouping, HAVING, DISTINCT or QUALIFY."""
    plan = plans.get(id(node))
    return plan is not None and plan.mode is Mode.ANON and node.args.get("from_") is not None \
        and not any(node.args.get(a) for a in (
            "joins", "laterals", "group", "having", "distinct", "qualify"))


def _passes(node: exp.Expr, plans: dict[int, SelectPlan]) -> bool:
    """An ANON SELECT that only passes on the rows of its one source."""
    if not isinstance(node, exp.Select) or not _plain_anon(node, plans):
        return False
    return not any(isinstance(n, (exp.AggFunc, exp.Window, exp.Subquery))
                   for p in node.expressions for n in p.walk())


# -- the records, in the aggregation's outer SELECT -------------------------------------------
def records(counts: list[exp.Expr], sketch: exp.Expr) -> exp.Expr:
    """``[{n, h}, ...]``: each compared set's count and its sketch (``sketch[i]``)."""
    items = []
    for i, count in enumerate(counts):
        at = copy_tree(_element(i + 1))
        next(c for c in at.find_all(exp.Column) if c.name == "__cr_sk").replace(copy_tree(sketch))
        items.append(exp.Anonymous(this="struct_pack", expressions=[
            exp.PropertyEQ(this=exp.to_identifier("n"), expression=count),
            exp.PropertyEQ(this=exp.to_identifier("h"), expression=at)]))
    return exp.Array(expressions=items)


@lru_cache(maxsize=64)
def _element(index: int) -> exp.Expr:
    """``__cr_sk[index]`` as DuckDB's parser reads it, parsed once (callers copy it): its
    parse was a thirtieth of the gate's time on the published corpus."""
    return sqlglot.parse_one(f"__cr_sk[{index}]", read="duckdb")


def passed_on(alias: str) -> exp.Expr:
    """A pass-through SELECT's ``__cr_meet``: its source's."""
    return exp.alias_(exp.column(MEET, table=alias, quoted=True), MEET, quoted=True,
                      copy=False)


_UNION = """list_concat([struct_pack(n := CAST(SUM(struct_extract(list_extract(__cr_src, 1), 'n'))
  AS BIGINT), h := list_slice(list_sort(list_distinct(flatten(list(struct_extract(list_extract(
  __cr_src, 1), 'h'))))), 1, {m}))], flatten(list(__cr_src)))"""


@lru_cache(maxsize=8)
def _union_template(k: int) -> exp.Expr:
    return sqlglot.parse_one(_UNION.format(m=SKETCH_SIZE * k), read="duckdb")


def carried_records(aliases: list[str]) -> exp.Expr:
    """A join's ``__cr_meet``: the records of every source it carries (none where an outer
    join's side is missing)."""
    found: exp.Expr = exp.column(MEET, table=aliases[0], quoted=True)
    for alias in aliases[1:]:
        found = exp.Anonymous(this="list_concat", expressions=[
            found, exp.column(MEET, table=alias, quoted=True)])
    return found if len(aliases) > 1 else exp.Anonymous(this="list_concat", expressions=[
        found, exp.Array(expressions=[])])


def summed_records(alias: str, k: int) -> exp.Expr:
    """A summing SELECT's ``__cr_meet`` (an aggregate over its source ``alias``): the union of
    its rows' people (first), then every row's records."""
    found = copy_tree(_union_template(k))
    for col in find_all(found, exp.Column):
        if col.name == "__cr_src" and not col.table:
            col.replace(exp.column(MEET, table=alias, quoted=True))
    return found
