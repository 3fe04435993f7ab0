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
subquery of that shape too (``(SELECT n FROM a)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp

from cleanroom.gate.model import COPY_META, SKETCH_SIZE, Mode, SelectPlan
from cleanroom.gate.taint import (
    Reader,
    cte_body,
    outer_sides,
    single_source,
    sources,
    using_columns,
    value_subqueries,
)
from cleanroom.gate.walk import combine, copy_tree, find_all

MEET = "__cr_meet"


@dataclass(frozen=True)
class Source:
    """One relation (alias) or value subquery (``str(id)``) of a SELECT that carries records."""

    key: str
    origin: int  # the aggregation its rows come from
    subquery: exp.Subquery | None = None


@dataclass
class Meets:
    """Where aggregations meet, read before the rewrite moves nodes."""

    bodies: set[int] = field(default_factory=set)  # aggregations that output ``__cr_meet``
    passers: dict[int, str] = field(default_factory=dict)  # SELECT -> alias it passes on
    readers: dict[int, list[Source]] = field(default_factory=dict)  # SELECT -> its sources
    flags: dict[int, dict[str, exp.Expr]] = field(default_factory=dict)  # filled per reader


def find_meets(tree: exp.Expr, plans: dict[int, SelectPlan]) -> Meets:
    meets = Meets()
    if not any(p.mode is Mode.ANONYMIZING and not p.final for p in plans.values()):
        return meets
    for sel in find_all(tree, exp.Select):
        found: list[Source] = []
        chains: list[dict[int, str]] = []
        for alias, body in sources(sel):
            chain: dict[int, str] = {}
            origin = _origin(body, plans, chain)
            if origin is not None:
                found.append(Source(alias, origin))
                chains.append(chain)
        for sub in value_subqueries(sel):
            if isinstance(sub.parent, exp.In) or not _passes(sub.this, plans):
                continue
            chain = {}
            origin = _origin(sub.this, plans, chain)
            chain.pop(id(sub.this), None)  # read through a copy: it stays one column
            if origin is None:
                continue
            found.append(Source(str(id(sub)), origin, sub))
            chains.append(chain)
        if len({s.origin for s in found}) < 2:
            continue
        meets.readers[id(sel)] = found
        meets.bodies.update(s.origin for s in found)
        for chain in chains:
            meets.passers.update(chain)
    return meets


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
    body = relation.this if isinstance(relation, exp.Subquery) else (
        cte_body(relation) if isinstance(relation, exp.Table) else None)
    if body is None:
        return None
    origin = _origin(body, plans, chain)
    if origin is not None:
        chain[id(node)] = relation.alias_or_name
    return origin


def _passes(node: exp.Expr, plans: dict[int, SelectPlan]) -> bool:
    """An ANON SELECT that only passes on the rows of its one source."""
    plan = plans.get(id(node))
    if not isinstance(node, exp.Select) or plan is None or plan.mode is not Mode.ANON:
        return False
    if node.args.get("from_") is None or any(node.args.get(a) for a in (
            "joins", "laterals", "group", "having", "distinct", "qualify")):
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


# -- the flags, in the SELECT where sources meet ----------------------------------------------
# Subqueries may not stand inside a lambda: the other source's records (always a subquery) are
# the outer list, and a value subquery's own records are read through a one-row derived table.
_CLOSE = """list_bool_or(list_transform(__cr_theirs, lambda __cr_my: list_bool_or(list_transform(
  __cr_mine, lambda __cr_mx: CASE WHEN __cr_mx.n >= {k} AND __cr_my.n >= {k}
    AND abs(__cr_mx.n - __cr_my.n) < {k}
  THEN len(list_intersect(__cr_mx.h, __cr_my.h)) >= least(greatest(__cr_mx.n, __cr_my.n), {m})
    - {k} + 1 AND (__cr_mx.n < __cr_my.n OR (__cr_mx.n = __cr_my.n AND {later}))
  ELSE FALSE END))))"""


@lru_cache(maxsize=32)
def _close_template(k: int, later: bool) -> exp.Expr:
    return sqlglot.parse_one(_CLOSE.format(k=k, m=SKETCH_SIZE * k, later=str(later).upper()),
                             read="duckdb")


def _close(mine: exp.Expr, theirs: exp.Expr, k: int, copies: set[int], *, later: bool
           ) -> exp.Expr:
    found = copy_tree(_close_template(k, later))
    inside = isinstance(mine, exp.Subquery)
    for col in find_all(found, exp.Column):
        if col.name == "__cr_mine" and not col.table:
            col.replace(exp.column("__cr_m", table="__cr_mv", quoted=True) if inside
                        else copy_tree(mine))
        elif col.name == "__cr_theirs" and not col.table:
            col.replace(copy_tree(theirs))
    if not inside:
        return found
    row = exp.select(exp.alias_(copy_tree(mine), "__cr_m", quoted=True, copy=False))
    probe = exp.select(found).from_(exp.Subquery(this=row, alias=exp.TableAlias(
        this=exp.to_identifier("__cr_mv"))))
    return exp.Subquery(this=_marked(probe, copies))


def meet_flags(sel: exp.Select, meets: Meets, k: int, copies: set[int]) -> dict[str, exp.Expr]:
    """Per source of ``sel`` (alias, or ``str(id)`` of a value subquery): true on a row whose
    record of that source is close to some record of another source (and the smaller)."""
    found = meets.readers.get(id(sel))
    if found is None:
        return {}
    if id(sel) in meets.flags:
        return meets.flags[id(sel)]
    relations = {n.alias_or_name: n for n in _relations(sel)}
    mine = {s.key: _own(s, copies) for s in found}
    every = {s.key: _every(s, relations, copies) for s in found}
    flags: dict[str, exp.Expr] = {}
    for i, s in enumerate(found):
        tests = [_close(mine[s.key], every[t.key], k, copies, later=i > j)
                 for j, t in enumerate(found) if t.origin != s.origin]
        flags[s.key] = exp.Coalesce(this=exp.Paren(this=combine(exp.Or, *tests, copy=False)),
                                    expressions=[exp.false()])
    meets.flags[id(sel)] = flags
    return flags


def met_reader(sel: exp.Select, clean: dict[str, set[str]], keys: set[str], *,
               on: bool = False) -> Callable[[exp.Expr], bool]:
    """Whether a condition of ``sel`` reads a value (not an exact group key) of a source that
    meets another, or one of its value subqueries (``keys``: ``meet_flags``'s). ``on``: a
    join's ON, decided on the rows that stand (before any NULL fill: clean keys are exact)."""
    reader = Reader(clean, set(), set(), keys) if on else Reader(
        clean, outer_sides(sel), using_columns(sel), keys, only=single_source(sel))

    def reads(node: exp.Expr) -> bool:
        if any(str(id(s)) in keys for s in node.find_all(exp.Subquery)):
            return True
        hit = reader.reached(node)
        return hit is None or bool(hit & keys)
    return reads


def _relations(sel: exp.Select) -> list[exp.Expr]:
    from_ = sel.args.get("from_")
    return ([from_.this] if from_ is not None else []) + [j.this for j in sel.args.get("joins") or []]


def _own(source: Source, copies: set[int]) -> exp.Expr:
    if source.subquery is None:
        return exp.column(MEET, table=source.key, quoted=True)
    return _value_records(source.subquery, copies)


def _every(source: Source, relations: dict[str, exp.Expr], copies: set[int]) -> exp.Expr:
    """Every record of the source's relation (all its rows, whatever the reader keeps)."""
    if source.subquery is not None:
        return _value_records(source.subquery, copies)
    relation = relations[source.key]
    read: exp.Expr
    read = exp.Table(this=copy_tree(relation.this)) if isinstance(relation, exp.Table) \
        else copy_tree(relation)
    read.set("alias", exp.TableAlias(this=exp.to_identifier("__cr_ml")))
    # Qualified: an unqualified name reads as "any source" to ``taint.Reader``.
    flat = exp.Anonymous(this="flatten", expressions=[exp.Anonymous(
        this="list", expressions=[exp.column(MEET, table="__cr_ml", quoted=True)])])
    probe = exp.select(flat).from_(read)
    return exp.Subquery(this=_marked(probe, copies))


def _value_records(sub: exp.Subquery, copies: set[int]) -> exp.Expr:
    """``(SELECT <source>.__cr_meet FROM <source> WHERE ...)``: the value subquery's row's."""
    body = copy_tree(sub.this)
    relation = body.args["from_"].this
    body.set("expressions", [exp.column(MEET, table=relation.alias_or_name, quoted=True)])
    return exp.Subquery(this=_marked(body, copies))


def _marked(node: exp.Expr, copies: set[int]) -> exp.Expr:
    for sel in node.find_all(exp.Select):
        sel.meta[COPY_META] = True
        copies.add(id(sel))
    return node
