"""Two additive aggregates of one row whose per-person values agree on all but a few people.

The combination check (``cells.py``, ``isolation.py``) compares *which* people each aggregate
stands on. Two sums over the same people can still differ in *what* they add for a few of
them: ``SUM(n)`` beside ``COUNT(*)`` ``WHERE n = 1 OR <the target>`` adds 1 to both for every
other person, so ``SUM(n) - COUNT(*)`` is the target's own ``n - 1``. For any ratio r,
``A - r * B`` sums over the people whose values ``a_p != r * b_p`` only; so the pair is a
difference on a few people when, for the most common ratio, 1 to k-1 people disagree (people
with ``a_p = b_p = 0`` agree with every ratio; ``b_p = 0, a_p != 0`` is a ratio of its own).

The exact test needs each person's values. Built here for rows that are each another person
(``SelectPlan.rows_per_person``: a per-person CTE, or sources inner-joined on their person):
a row's values are its person's, so the test is one ``histogram`` of the row's ratios per
pair, a hash aggregate like the row's ``COUNT(DISTINCT user_key)``. Rows with several rows
per person would need a per-(group, person) partial first: not built (docs/gate.md).

A spread or a higher moment (``VAR_POP``, ``STDDEV_SAMP``, ``skewness``, ...) is a function of
the same sums (its count, ``SUM(x)``, ``SUM(x^2)``, ...): over ``n = 1 OR <the target>`` the
variance is ``(N-1)(t-1)^2 / N^2``, the target's own ``t`` given N. So it is paired with its own
count too (the people whose x differs from the most common x), and withheld when 1 to k-1 do.
Beside ``SUM(x)`` and ``COUNT(*)`` a variance is three sums of one row, and some combination
``r0 + r1*x + r2*x^2`` is zero on every value but the roots of a quadratic: where everyone
holds one of two values (many people each) but the target, the three give the target's x. So
a spread is also withheld when 1 to k-1 people hold none of the ``ROOTS`` most common values
(2 for a variance, whose sums reach x^2; 3 for skewness, 4 for kurtosis).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cleanroom.gate.functions import MOMENTS, SPREADS, function_key
from cleanroom.gate.model import SelectPlan
from cleanroom.gate.walk import combine, copy_tree, sql_text

DIGITS = 12  # ratios are compared rounded to this many significant digits (float noise)
PREFIX = "__cr_g"
# Pairs checked in one row: each is a histogram over the group's rows, so a row of m sums costs
# m(m-1)/2 of them (24 sums: 276 histograms, 11 s over 100,000 people). Past the cap the later
# aggregate of every pair left is withheld, as conditions past 16 are (``cells.py``): fail
# closed. The corpora's widest row has 4 pairs.
MAX_PAIRS = 28
# The sums a spread or moment is a function of reach x^d: a combination of them vanishes on at
# most d values (its roots).
ROOTS = {"Skewness": 3, "Kurtosis": 4}


def _zero() -> exp.Expr:
    return exp.Literal.number(0)


def _indicator(condition: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=_zero())


def _not_null(value: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.Is(this=value, expression=exp.Null()))


def _number(value: exp.Expr) -> exp.Expr:
    """A summed value as a DOUBLE, NULL (nothing added) as 0."""
    cast = exp.TryCast(this=value, to=exp.DataType.build("DOUBLE"))
    return exp.Coalesce(this=cast, expressions=[_zero()])


def row_values(node: exp.Expr, plan: SelectPlan) -> list[exp.Expr] | None:
    """What one row adds to each of the aggregate's sums (an average: its sum and its count),
    or None when it is not a sum of per-row values (MIN, MAX, a DISTINCT other than the
    person's, ...): fresh trees.

    >>> import sqlglot
    >>> plan = SelectPlan(mode=None, final=True, uid_expr=exp.column("user_key"))  # type: ignore[arg-type]
    >>> for v in row_values(sqlglot.parse_one("AVG(x) FILTER (WHERE c)"), plan):
    ...     print(v.sql())
    CASE WHEN c THEN COALESCE(TRY_CAST(x AS DOUBLE), 0) ELSE 0 END
    CASE WHEN c THEN CASE WHEN NOT x IS NULL THEN 1 ELSE 0 END ELSE 0 END
    >>> row_values(sqlglot.parse_one("MAX(x)"), plan) is None
    True
    """
    condition = None
    if isinstance(node, exp.Filter):
        condition, node = node.expression.this, node.this
    values = _plain(node, plan)
    if values is None or condition is None:
        return values
    return [exp.Case(ifs=[exp.If(this=copy_tree(condition), true=v)], default=_zero())
            for v in values]


def spread(node: exp.Expr) -> bool:
    """A variance, a standard deviation or a higher moment (maybe with a FILTER): a function
    of its argument's sums and its count, paired with its own count too.

    >>> import sqlglot
    >>> spread(sqlglot.parse_one("VAR_POP(x) FILTER (WHERE c)")), spread(sqlglot.parse_one("SUM(x)"))
    (True, False)
    """
    if isinstance(node, exp.Filter):
        node = node.this
    return function_key(node) in SPREADS | MOMENTS


def _plain(node: exp.Expr, plan: SelectPlan) -> list[exp.Expr] | None:
    if spread(node) and isinstance(node.this, exp.Expr) and not isinstance(node.this, exp.Distinct):
        return [_number(copy_tree(node.this)), _indicator(_not_null(copy_tree(node.this)))]
    arg = node.this if isinstance(node, (exp.Sum, exp.Avg, exp.Count)) else None
    if arg is None:
        return None
    if isinstance(arg, exp.Distinct):
        person = plan.uid_expr
        only = arg.expressions[0] if len(arg.expressions) == 1 else None
        if not (isinstance(node, exp.Count) and isinstance(only, exp.Column)
                and isinstance(person, exp.Column) and only.name == person.name):
            return None  # a sum of distinct values is no sum of the rows'
        return [_indicator(_not_null(copy_tree(only)))]  # one row a person: its person
    if isinstance(node, exp.Sum):
        return [_number(copy_tree(arg))]
    if isinstance(node, exp.Count):
        if isinstance(arg, exp.Star):
            return [exp.Literal.number(1)]
        return [_indicator(_not_null(copy_tree(arg)))]
    return [_number(copy_tree(arg)), _indicator(_not_null(copy_tree(arg)))]


def ratio_key(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """The row's ratio a / b rounded to ``DIGITS`` significant digits; NULL when both are 0
    (it agrees with every ratio), +infinity when only b is."""
    def zero(v: exp.Expr) -> exp.Expr:
        return exp.EQ(this=copy_tree(v), expression=_zero())
    quotient = exp.Div(this=copy_tree(a), expression=copy_tree(b))
    magnitude = exp.Floor(this=exp.Log(this=exp.Literal.number(10), expression=exp.Abs(
        this=copy_tree(quotient))))
    # A quotient past the doubles (inf) or below them (0) has no magnitude: TRY_CAST gives
    # NULL, and the key is the quotient itself (never a run-time error on one person's values,
    # never NULL, which would agree with every ratio).
    places = exp.Sub(this=exp.Literal.number(DIGITS - 1), expression=exp.TryCast(
        this=magnitude, to=exp.DataType.build("INTEGER")))
    return exp.Case(ifs=[
        exp.If(this=exp.And(this=zero(a), expression=zero(b)), true=exp.Null()),
        exp.If(this=zero(b), true=exp.Cast(this=exp.Literal.string("inf"),
                                           to=exp.DataType.build("DOUBLE"))),
        exp.If(this=zero(a), true=exp.Literal.number(0)),
    ], default=exp.Coalesce(this=exp.Round(this=quotient, decimals=places),
                            expressions=[copy_tree(quotient)]))


def disagreeing(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """How many rows (people) of the group disagree with the most common ratio: the sum of
    ``histogram(ratio)``'s counts less its largest (rows with both 0 have no ratio); DuckDB
    computes the one histogram once."""
    def counts() -> exp.Expr:
        return exp.Anonymous(this="map_values", expressions=[
            exp.Anonymous(this="histogram", expressions=[ratio_key(a, b)])])
    total = exp.Anonymous(this="list_sum", expressions=[counts()])
    most = exp.Anonymous(this="list_max", expressions=[counts()])
    return exp.Coalesce(this=exp.Sub(this=total, expression=most), expressions=[_zero()])


def outside_common(value: exp.Expr, present: exp.Expr, roots: int) -> exp.Expr:
    """How many rows (people) hold none of the ``roots`` most common values of ``value`` (rows
    where ``present`` is 0, a NULL, hold none at all and are not counted)."""
    def counts() -> exp.Expr:
        return exp.Anonymous(this="map_values", expressions=[
            exp.Anonymous(this="histogram", expressions=[ratio_key(value, present)])])
    total = exp.Anonymous(this="list_sum", expressions=[counts()])
    common = exp.Anonymous(this="list_sum", expressions=[exp.Anonymous(
        this="list_slice", expressions=[exp.Anonymous(this="list_reverse_sort",
                                                      expressions=[counts()]),
                                        exp.Literal.number(1), exp.Literal.number(roots)])])
    return exp.Coalesce(this=exp.Sub(this=total, expression=common), expressions=[_zero()])


def pairs(values: dict[int, list[exp.Expr]], selfs: frozenset[int] = frozenset()
          ) -> list[tuple[int, int, exp.Expr, exp.Expr]]:
    """(earlier aggregate, later aggregate, a, b) for each pair of per-row values of two
    aggregates that do not provably agree (the same value, or both constants); an aggregate
    of ``selfs`` (a spread) is also paired with itself, its sum with its count."""
    found = []
    order = list(values)
    texts = {id(v): sql_text(v) for found_values in values.values() for v in found_values}
    for i, x in enumerate(order):
        if x in selfs:
            own = values[x]
            found += [(x, x, a, b) for j, a in enumerate(own) for b in own[j + 1:]
                      if texts[id(a)] != texts[id(b)] and not (a.is_number and b.is_number)]
        for y in order[i + 1:]:
            for a in values[x]:
                for b in values[y]:
                    if texts[id(a)] == texts[id(b)] or (a.is_number and b.is_number):
                        continue
                    found.append((x, y, a, b))
    return found


def weight_flags(inner: exp.Select, plan: SelectPlan, names: dict[str, int], order: list[int],
                 k: int, ref: Callable[[str], exp.Expr]) -> dict[int, exp.Expr]:
    """Add ``__cr_g<i>`` (disagreeing people) to ``inner`` for each pair of its additive
    aggregates, and return the flags that withhold the later of a pair with 1 to k-1:
    read through ``ref`` (the outer columns)."""
    if not plan.rows_per_person:
        return {}
    nodes = {names[p.alias_or_name]: p.unalias() for p in inner.expressions
             if p.alias_or_name in names}
    values: dict[int, list[exp.Expr]] = {}
    for agg in order:
        found = row_values(nodes[agg], plan) if agg in nodes else None
        if found is not None:
            values[agg] = found
    selfs = frozenset(agg for agg in values if spread(nodes[agg]))
    flags: dict[int, list[exp.Expr]] = {}
    for i, (_, later, a, b) in enumerate(pairs(values, selfs)):
        if i >= MAX_PAIRS:
            flags.setdefault(later, []).append(exp.true())
            continue
        name = f"{PREFIX}{i}"
        inner.append("expressions", exp.alias_(disagreeing(a, b), name, quoted=True, copy=False))
        few = exp.Between(this=ref(name),
                          low=exp.Literal.number(1), high=exp.Literal.number(k - 1))
        flags.setdefault(later, []).append(few)
    # In the row's order (``values``'), not by id: the SQL is then the same in every process.
    for j, agg in enumerate(a for a in values if a in selfs):
        name = f"{PREFIX}s{j}"
        value, present = values[agg][0], values[agg][1]
        roots = ROOTS.get(function_key(_unfiltered(nodes[agg])), 2)
        inner.append("expressions", exp.alias_(outside_common(value, present, roots), name,
                                               quoted=True, copy=False))
        flags.setdefault(agg, []).append(exp.Between(
            this=ref(name), low=exp.Literal.number(1), high=exp.Literal.number(k - 1)))
    return {agg: combine(exp.Or, *found, copy=False) for agg, found in flags.items()}


def _unfiltered(node: exp.Expr) -> exp.Expr:
    return node.this if isinstance(node, exp.Filter) else node
