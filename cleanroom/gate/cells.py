"""Cell-level thresholds for one aggregation across people (see ``rewrite.py``).

The row stands on its plain people count ``__cr_n``. Each aggregate also stands on its own
people (its *support*: those with a row that changes it) and its *parts* (nobody or at least k
each). The inner SELECT counts each distinct requirement once (``__cr_r<i>``), and the people
behind either of two aggregates once per pair of distinct supports (``__cr_u<i>``); the outer
SELECT turns those counts into one withheld flag per aggregate:

- its support stands on fewer than k people, or one of its parts on 1 to k-1;
- or it differs from another aggregate of the row by 1 to k-1 people (|A \\ B| or |B \\ A|), and
  it is the one with fewer people: two released numbers could otherwise be subtracted down to
  a few people (Ads Data Hub's difference check, inside one result).

An aggregate without supports stands on the row's own people, so it costs no count, and its
difference from a support is ``__cr_n - n`` (a support's people are a subset of the row's).

Pairs are not enough (a total beside a partition of everyone but one person): the inner SELECT
also lists each person's row *patterns* (``pattern_list``), for the release to check every
combination of the row's aggregates (``cleanroom/isolation.py``), or, inside the query, for a
blunter rule in SQL (``small_code``: an aggregate whose rows meet a small pattern is withheld).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp

from cleanroom.gate.guard import as_condition, guard
from cleanroom.gate.model import COPY_META, Requirement, SelectPlan
from cleanroom.gate.walk import combine, copy_tree, find_all, sql_text


def either(*nodes: exp.Expr) -> exp.Expr:
    """OR of nodes the caller owns (sqlglot's ``or_`` would copy each)."""
    return combine(exp.Or, *nodes, copy=False)


def both(*nodes: exp.Expr) -> exp.Expr:
    return combine(exp.And, *nodes, copy=False)


Ref = Callable[[str], exp.Expr]  # a count's name -> the expression that reads it
BASE = "__cr_n"


@dataclass
class Counts:
    """The people counts one aggregation needs, as hidden inner projections."""

    plan: SelectPlan
    expressions: dict[str, exp.Expr] = field(default_factory=dict)  # name -> COUNT(...)
    by_condition: dict[str, str] = field(default_factory=dict)  # condition SQL -> name
    people: dict[int, str] = field(default_factory=dict)  # aggregate id -> its support's count
    parts: dict[int, list[str]] = field(default_factory=dict)  # aggregate id -> parts' counts
    conditions: dict[str, exp.Expr] = field(default_factory=dict)  # support name -> condition
    unions: dict[tuple[str, str], str] = field(default_factory=dict)  # supports -> |A u B|
    # aggregate id -> the count of the people it is compared on, when not its support's: an
    # average moves with every non-NULL value, zeros included (its support counts non-zeros).
    compared: dict[int, str] = field(default_factory=dict)
    # aggregate id -> the counts of other row sets its number turns on, each a vector of its
    # own beside ``compared`` (``vector_names``): an average of a branched value sums its
    # non-zero rows (a zero a branch yields adds nothing) but divides by its non-NULL ones,
    # and with the count of those rows released beside it, its sum is a number of its own;
    # a per-person value it sums differs from its unfiltered twin on the people with a row
    # its FILTER left out (``Requirement.vector``, ``sides.py``).
    extra: dict[int, list[str]] = field(default_factory=dict)
    # aggregate id -> how many people hold the value an order statistic returns (``holders``)
    holders: dict[int, str] = field(default_factory=dict)

    def count(self, condition: exp.Expr | None) -> exp.Expr:
        """``COUNT(DISTINCT person)`` of the rows where ``condition`` holds, as
        ``COUNT(DISTINCT CASE WHEN condition THEN person END)``: the same number as a
        ``FILTER``, which DuckDB 2.0 computed about a fifth slower (dp_sum's two counts over
        2M rows: 692 ms CPU with hash() and FILTER, 560 ms so; bench/README.md)."""
        assert self.plan.uid_expr is not None
        if self.plan.one_row_per_person:  # each row is another person (people.py)
            star = exp.Count(this=exp.Star())
            if condition is None:
                return star
            return exp.Filter(this=star, expression=exp.Where(this=condition))
        person = copy_tree(self.plan.uid_expr)
        if condition is not None:
            person = exp.Case(ifs=[exp.If(this=condition, true=person)])
        return exp.Count(this=exp.Distinct(expressions=[person]))

    def named(self, condition: exp.Expr, prefix: str) -> str:
        key = sql_text(condition)
        if key not in self.by_condition:
            name = f"__cr_{prefix}{len(self.expressions)}"
            self.by_condition[key] = name
            self.expressions[name] = self.count(copy_tree(condition))
        return self.by_condition[key]

    def projections(self) -> list[exp.Expr]:
        """The counts as the inner SELECT's hidden projections: the nodes themselves, placed
        once (``threshold.inner_ref`` reads copies of them; copying them here too was a
        fifteenth of the nodes the gate copied)."""
        return [exp.alias_(e, n, quoted=True, copy=False) for n, e in self.expressions.items()]


def plan_counts(plan: SelectPlan, guarded: Callable[[exp.Expr], exp.Expr],
                averages: set[int]) -> Counts:
    """The counts for ``plan``'s aggregates; ``guarded`` readies a value for the SQL (a
    condition is then ``as_condition``); ``averages`` are the ids of the aggregates that are
    averages."""
    def condition_of(c: exp.Expr) -> exp.Expr:
        return as_condition(guarded(c))
    counts = Counts(plan)
    for agg, requirements in plan.requirements.items():
        raw = [r.condition for r in requirements
               if not r.zero_ok and r.holding is None and not r.vector]
        supports = [condition_of(copy_tree(c)) for c in raw]
        if supports:
            condition = supports[0] if len(supports) == 1 else both(*supports)
            counts.people[agg] = counts.named(condition, "r")
            counts.conditions[counts.people[agg]] = condition
            if agg in averages:
                moved = [condition_of(_nonnull_form(c)) for c in raw]
                nonnull = moved[0] if len(moved) == 1 else both(*moved)
                counts.compared[agg] = counts.named(nonnull, "r")
                counts.conditions[counts.compared[agg]] = nonnull
                if any(r.zero_ok and not r.vector for r in requirements):
                    # A branched argument (its zeros are a part, ``aggregates._record_parts``).
                    counts.extra.setdefault(agg, []).append(counts.people[agg])
        counts.parts[agg] = [counts.named(condition_of(copy_tree(r.condition)), "r")
                             for r in requirements if r.zero_ok and not r.vector]
        for r in (r for r in requirements if r.vector):
            vector = condition_of(copy_tree(r.condition))
            name = counts.named(vector, "r")
            counts.conditions[name] = vector
            counts.extra.setdefault(agg, []).append(name)
        for r in (r for r in requirements if r.holding is not None):
            name = f"__cr_r{len(counts.expressions)}"
            counts.expressions[name] = holders(plan, r, guarded)
            counts.holders[agg] = name
    compared = {counts.compared.get(a, n) for a, n in counts.people.items()}
    names = sorted(compared, key=lambda n: int(n[len("__cr_r"):]))
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            union = either(exp.Paren(this=copy_tree(counts.conditions[a])),
                             exp.Paren(this=copy_tree(counts.conditions[b])))
            name = f"__cr_u{len(counts.expressions)}"
            counts.expressions[name] = counts.count(union)
            counts.unions[(a, b)] = name
    return counts


_HOLDERS = sqlglot.parse_one(
    "len(list_distinct(list_transform(list_filter(list(struct_pack(v := __cr_x, p := __cr_p)) "
    "FILTER (WHERE __cr_c), lambda __cr_e: __cr_e.v = __cr_q), lambda __cr_e: __cr_e.p)))",
    read="duckdb")


def holders(plan: SelectPlan, requirement: Requirement,
            guarded: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """How many people of the requirement's rows hold exactly the value its order statistic
    returns: a list of (value, person) over the rows, filtered on the result, people counted.
    The pieces are guarded as the aggregate's own argument is, so both see the same values."""
    assert plan.uid_expr is not None and requirement.holding is not None
    call = requirement.holding
    func = call.this if isinstance(call, exp.Filter) else call
    pieces = {"__cr_x": guarded(copy_tree(func.this)), "__cr_p": copy_tree(plan.uid_expr),
              "__cr_c": as_condition(guarded(copy_tree(requirement.condition))),
              "__cr_q": guarded(copy_tree(call))}
    found = copy_tree(_HOLDERS)
    for col in find_all(found, exp.Column):
        if col.name in pieces and not col.table:
            col.replace(pieces[col.name])
    return found


def _nonnull_form(condition: exp.Expr) -> exp.Expr:
    """The condition with ``(v) <> 0`` read as ``v IS NOT NULL``: who moves an average.

    >>> import sqlglot
    >>> _nonnull_form(sqlglot.parse_one("(x) <> 0 AND (c)")).sql()
    'NOT x IS NULL AND (c)'
    """
    def swap(node: exp.Expr) -> exp.Expr:
        if (isinstance(node, exp.NEQ) and node.expression == exp.Literal.number(0)
                and isinstance(node.this, exp.Paren)):
            return exp.Not(this=exp.Is(this=copy_tree(node.this.this), expression=exp.Null()))
        return node
    return copy_tree(condition).transform(swap)


def guard_condition(plan: SelectPlan, fill: Callable[[exp.Expr], exp.Expr]) -> Callable[
        [exp.Expr], exp.Expr]:
    """A condition with its subqueries put back (``fill``) and guarded."""
    return lambda condition: guard(fill(condition), frozenset(plan.atoms.safe))


# -- flags, over any reading of the counts (inner aggregates or outer columns) --------------
def _lt(value: exp.Expr, k: int) -> exp.Expr:
    return exp.LT(this=value, expression=exp.Literal.number(k))


def _few(value: exp.Expr, k: int) -> exp.Expr:
    """1 to k-1 (never NULL: counts are never NULL)."""
    return exp.Between(this=value, low=exp.Literal.number(1), high=exp.Literal.number(k - 1))


def _people(counts: Counts, agg: int, ref: Ref) -> exp.Expr:
    name = counts.people.get(agg)
    return ref(name if name is not None else BASE)


def own_flag(counts: Counts, agg: int, ref: Ref, k: int) -> exp.Expr | None:
    """The aggregate's own requirements fail (None: it has none but the row's)."""
    flags: list[exp.Expr] = []
    if agg in counts.people:
        flags.append(_lt(ref(counts.people[agg]), k))
    flags += [_few(ref(p), k) for p in counts.parts.get(agg, [])]
    if agg in counts.holders:
        flags.append(_lt(ref(counts.holders[agg]), k))
    return either(*flags) if flags else None


def _close(a: exp.Expr, b: exp.Expr, union: exp.Expr, k: int) -> exp.Expr:
    """|A u B| - |B| or |A u B| - |A| is 1 to k-1. Takes ``a``, ``b`` and ``union`` (fresh
    nodes from ``ref``): copying the counts they stand for was a tenth of the gate's time."""
    return either(_few(exp.Sub(this=copy_tree(union), expression=b), k),
                   _few(exp.Sub(this=union, expression=a), k))


def difference_flag(counts: Counts, agg: int, ref: Ref, k: int, aggs: list[int]) -> exp.Expr | None:
    """``agg`` is the smaller of a pair of the row's aggregates that differ by 1 to k-1 people.
    A tie withholds the one that comes later in ``aggs``. An aggregate on the row's own people
    is never the smaller: a support's people are a subset of the row's."""
    mine = counts.compared.get(agg, counts.people.get(agg))
    if mine is None:
        return None
    flags: list[exp.Expr] = []
    seen: set[str | None] = {mine}
    for other in aggs:
        theirs = counts.compared.get(other, counts.people.get(other))
        if other == agg or theirs in seen:
            continue
        seen.add(theirs)
        me = ref(mine)
        if theirs is None:
            flags.append(_few(exp.Sub(this=ref(BASE), expression=me), k))
            continue
        them = ref(theirs)
        union = ref(counts.unions[(mine, theirs) if (mine, theirs) in counts.unions
                                  else (theirs, mine)])
        smaller = (exp.LTE if aggs.index(agg) > aggs.index(other) else exp.LT)(
            this=copy_tree(me), expression=copy_tree(them))
        flags.append(both(exp.Paren(this=_close(me, them, union, k)), smaller))
    return either(*flags) if flags else None


def withheld(counts: Counts, ref: Ref, k: int, aggs: list[int]) -> dict[int, exp.Expr]:
    """Each aggregate's withheld flag (only those that can be withheld)."""
    flags: dict[int, exp.Expr] = {}
    for agg in aggs:
        parts = [f for f in (own_flag(counts, agg, ref, k),
                             difference_flag(counts, agg, ref, k, aggs)) if f is not None]
        if parts:
            flags[agg] = either(*parts)
    return flags


def bool_or(value: exp.Expr, *, window: bool = False) -> exp.Expr:
    """``COALESCE(bool_or(value), FALSE)``: over a group, or over the relation (a window)."""
    call: exp.Expr = exp.Anonymous(this="bool_or", expressions=[value])
    if window:
        call = exp.Window(this=call, partition_by=[])
    return exp.Coalesce(this=call, expressions=[exp.false()])


def any_of(flags: list[exp.Expr]) -> exp.Expr | None:
    return either(*[copy_tree(f) for f in flags]) if flags else None


def few_people(ref: Ref, floor: int, k: int) -> exp.Expr:
    """A row withheld for standing on ``floor`` to k-1 people: a fact about many people
    (``release.count_withheld``), so it may taint what is computed from its relation."""
    return exp.Between(this=ref(BASE), low=exp.Literal.number(floor),
                       high=exp.Literal.number(k - 1))


# -- combinations of the row's aggregates (a linear system over the row's people) -----------
# Pairs are not enough: a total beside a partition of everyone but one person (``SUM(x)``,
# ``SUM(x) FILTER (WHERE x < 300)``, ``SUM(x) FILTER (WHERE x >= 300 AND NOT <one>)``) is
# hundreds of people apart pair by pair, yet total - low - high is one person. Each aggregate
# sums its rows (those meeting its support's condition), so released numbers combine like
# their rows' indicator vectors: the rows of a group fall into *patterns* (which supports a
# row meets), people into the OR of their rows' patterns, and a combination of aggregates
# that cancels on every pattern of at least k people isolates the few behind the others.
# The inner SELECT lists each person's patterns; a pattern held by 1 to k-1 people is *small*.
PATTERNS = "__cr_x"
MAX_BITS = 16  # patterns are packed below a person's hash: supports beyond are always withheld


Vectors = dict[int, tuple[str | None, ...]]


def vector_names(counts: Counts, aggs: list[int]) -> Vectors:
    """Each aggregate's rows, by the counts naming their conditions (None: every row of the
    group): one set of rows, or more for a number that turns on other rows too
    (``Counts.extra``). An aggregate is released only with all of its vectors: the
    partition ``AVG(revenue)``, ``AVG(CASE WHEN revenue < 300 THEN 0 ELSE revenue END)``,
    ``AVG(CASE WHEN revenue >= 300 AND NOT <one> THEN 0 ELSE revenue END)`` has one vector of
    non-NULL rows, yet its sums (times the count) are a total and two parts of everyone but
    one person (test_review_round3.py)."""
    found: Vectors = {}
    for a in aggs:
        main = counts.compared.get(a, counts.people.get(a))
        found[a] = tuple(dict.fromkeys([main, *counts.extra.get(a, [])]))
    return found


def bits(vectors: Vectors) -> list[str]:
    """The distinct conditions, in a fixed order: bit i of a pattern is condition i."""
    return sorted({n for found in vectors.values() for n in found if n is not None},
                  key=lambda n: int(n[len("__cr_r"):]))


def bit_of(names: list[str], name: str | None) -> int:
    """The pattern bit of one vector (-1: every row of the group)."""
    return -1 if name is None else names.index(name)


def combines(vectors: Vectors) -> bool:
    """Whether two released numbers of the row could be combined: two aggregates, on two
    distinct row sets (one aggregate alone is one number, whatever rows it turns on)."""
    return len(vectors) >= 2 and len({n for found in vectors.values() for n in found}) >= 2


def pattern_list(counts: Counts, names: list[str]) -> exp.Expr:
    """``list(DISTINCT ((hash(person) >> 16) << 16) | pattern)``: each person's patterns.

    The value is ``(hash >> 16) * 65536 + pattern``, kept a UBIGINT: a signed pattern added to
    the unsigned hash would make DuckDB widen every value to HUGEINT, and the DISTINCT, the
    list and the release's ``%`` and ``//`` over it cost about twice as much."""
    assert counts.plan.uid_expr is not None
    pattern: exp.Expr = exp.Literal.number(0)
    for i, name in enumerate(names[:MAX_BITS]):
        term = exp.Case(ifs=[exp.If(this=exp.Paren(this=copy_tree(counts.conditions[name])),
                                    true=exp.Literal.number(1 << i))],
                        default=exp.Literal.number(0))
        pattern = exp.Add(this=pattern, expression=term)
    person = exp.Anonymous(this="hash", expressions=[copy_tree(counts.plan.uid_expr)])
    high = exp.BitwiseLeftShift(this=exp.Paren(this=exp.BitwiseRightShift(
        this=person, expression=exp.Literal.number(16))), expression=exp.Literal.number(16))
    value = exp.BitwiseOr(this=high, expression=exp.Cast(
        this=exp.Paren(this=pattern), to=exp.DataType.build("UBIGINT", dialect="duckdb")))
    return exp.Anonymous(this="list", expressions=[exp.Distinct(expressions=[value])])


_SMALL = """SELECT COALESCE(BIT_OR(p * 2 + 1) FILTER (WHERE n < {k}), 0) FROM (
  SELECT e % 65536 AS p, COUNT(*) AS n FROM UNNEST(__list__) AS __cr_e(e) GROUP BY 1
  UNION ALL
  SELECT pp, COUNT(*) FROM (SELECT BIT_OR(e % 65536) AS pp FROM UNNEST(__list__) AS __cr_e(e)
                            GROUP BY e // 65536) AS __cr_pp GROUP BY 1) AS __cr_s"""


def small_code(patterns: exp.Expr, k: int) -> exp.Expr:
    """One integer per row: bit 0 set when some row pattern or person pattern is small, bit
    i + 1 when a small one meets condition i (``pattern_list``'s bits)."""
    return exp.Subquery(this=_filled(_SMALL.format(k=k), patterns))


def touches_small(code: exp.Expr, bit: int | None) -> exp.Expr:
    """The aggregate's rows include a small pattern (``bit`` None: every row of the group)."""
    shift = 0 if bit is None else bit + 1
    shifted = exp.BitwiseRightShift(this=exp.Paren(this=code), expression=exp.Literal.number(shift))
    return exp.EQ(this=exp.Mod(this=exp.Paren(this=shifted), expression=exp.Literal.number(2)),
                  expression=exp.Literal.number(1))


_HISTOGRAMS = """SELECT STRUCT_PACK(
  r := (SELECT HISTOGRAM(e % 65536) FROM UNNEST(__list__) AS __cr_e(e)),
  p := (SELECT HISTOGRAM(pp) FROM (SELECT BIT_OR(e % 65536) AS pp
        FROM UNNEST(__list__) AS __cr_e(e) GROUP BY e // 65536) AS __cr_pp))"""


@lru_cache(maxsize=64)
def _template(template: str) -> exp.Expr:
    return sqlglot.parse_one(template, read="duckdb")  # parsed once: copied for each use


def _filled(template: str, patterns: exp.Expr) -> exp.Expr:
    query = copy_tree(_template(template))
    spots = [c for c in find_all(query, exp.Column) if c.name == "__list__"]
    for i, col in enumerate(spots):
        # ``patterns`` is the caller's fresh tree: the last spot takes it, the others copies.
        col.replace(patterns if i == len(spots) - 1 else copy_tree(patterns))
    for sel in query.find_all(exp.Select):
        sel.meta[COPY_META] = True
    return query


def histograms(patterns: exp.Expr) -> exp.Expr:
    """``{r: row pattern -> people, p: person pattern -> people}`` (``isolation.RowSystem``)."""
    query = _filled(_HISTOGRAMS, patterns)
    assert isinstance(query, exp.Select)
    return query.expressions[0]
