"""Public ranges of per-row values: what an expression can compute, from metric bounds, literals
and functions, never from the data.

``range_of`` gives ``Range(lo, hi)`` (endpoints may be infinite) or ``None`` when nothing is
known. It decides which derived per-row values may be summed across people (a bounded one is a
derived metric) and is the sensitivity a DP release may use. ``constant_of`` folds constants,
date arithmetic on one column included: ``date_diff('day', ts, ts + INTERVAL 3 DAY)`` is 3.

>>> import sqlglot
>>> cols = {"cost": Range(0, 100), "n": Range(0, math.inf, integer=True)}
>>> look = lambda c: cols.get(c.name) if isinstance(c, exp.Column) else None
>>> def r(sql): return range_of(sqlglot.parse_one(sql, read="duckdb"), look)
>>> r("cost / 100000"), r("COALESCE(cost, 0) * 0.4")
(Range(lo=0.0, hi=0.001, integer=False), Range(lo=0.0, hi=40.0, integer=False))
>>> r("CASE WHEN n = 1 THEN 0.4 ELSE 0.2 / (n - 2) END")
Range(lo=-0.2, hi=0.4, integer=False)
>>> r("cost / cost") is None, r("date_diff('day', ts, ts + INTERVAL 1000000 DAY)").lo
(True, 1000000.0)
>>> r("POWER(0.5, GREATEST(date_diff('day', ts, t2), 0) / 7.0)"), r("POWER(0.5, n)").hi
(Range(lo=0.0, hi=1.0, integer=False), 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from cleanroom.gate.walk import sql_text


@dataclass(frozen=True)
class Range:
    """Every value lies in [lo, hi] (or is NULL); ``integer`` when every value is a whole number."""

    lo: float
    hi: float
    integer: bool = False
    # A column made by a CASE of constants (and at most one uniform other branch, ``other``):
    # the constants it takes, so that a later sum can count each as a part (``parts.py``).
    values: tuple[float, ...] | None = field(default=None, repr=False)
    other: bool = field(default=False, repr=False)
    # A per-person total (a per-user SUM) of values in this range: its own range is unbounded,
    # but two totals of values on the same scale are on the same scale (``values.union_column``).
    total_of: tuple[float, float] | None = field(default=None, repr=False)
    # A metric stored as a whole number and clamped to [0, 1] (AMC's impressions, a 0/1
    # conversions column): each value is 0 or 1. ``tally``: a per-person SUM of one, which
    # counts the person's rows where it is 1 (COUNT(*) FILTER (WHERE m = 1)). Neither changes
    # what a range is (not compared): only group keys and scalar functions read them.
    indicator: bool = field(default=False, repr=False, compare=False)
    tally: bool = field(default=False, repr=False, compare=False)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)

    @property
    def empty(self) -> bool:  # only NULL
        return self.lo > self.hi

    @property
    def magnitude(self) -> float:
        return max(abs(self.lo), abs(self.hi))


NULL = Range(math.inf, -math.inf, integer=True)
Lookup = Callable[[exp.Expr], "Range | None"]

_SECONDS = {"microsecond": 1e-6, "millisecond": 1e-3, "second": 1.0, "minute": 60.0,
            "hour": 3600.0, "day": 86400.0, "week": 604800.0}
_INTEGER_TYPES = {"BIGINT", "INT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "UINT"}
_NUMERIC_TYPES = _INTEGER_TYPES | {"DOUBLE", "FLOAT", "DECIMAL", "REAL", "BIGDECIMAL"}


def point(value: float) -> Range:
    return Range(value, value, integer=float(value).is_integer())


def hull(ranges: list[Range | None]) -> Range | None:
    if any(r is None or r.values is not None for r in ranges):
        return None
    known = [r for r in ranges if r is not None and not r.empty]
    if not known:
        return NULL
    totals = {r.total_of for r in known}
    if len(totals) > 1 and any(t is not None for t in totals):
        return None  # totals of values on different scales: no common scale to carry
    return Range(min(r.lo for r in known), max(r.hi for r in known),
                 all(r.integer for r in known), total_of=totals.pop(),
                 tally=all(r.tally for r in known))  # counts in every branch: a count


def constant_of(node: exp.Expr) -> float | None:
    """The number a constant expression computes, or None when it is not a known constant (a
    CASE of one value is that value on some rows only, NULL on the others).

    >>> import sqlglot
    >>> constant_of(sqlglot.parse_one("CASE WHEN c THEN 5 END")) is None
    True
    """
    if node.find(exp.Case, exp.If, exp.Coalesce, exp.Nullif) is not None:
        return None
    found = range_of(node, lambda _: None)
    if found is None or found.empty or found.lo != found.hi:
        return None
    return found.lo


def range_of(node: exp.Expr, column: Lookup) -> Range | None:
    """The public range of ``node``; ``column`` gives a column's, or that of any node this
    module does not know (None: unknown)."""
    while isinstance(node, (exp.Paren, exp.Alias)):
        node = node.this
    if isinstance(node, exp.Column):
        return column(node)
    inner = _plain(column)
    for kinds, handler in _HANDLERS:
        if isinstance(node, kinds):
            return handler(node, inner)
    return column(node)  # a node only the caller knows (an aggregate, a window)


def _plain(column: Lookup) -> Lookup:
    """Inside an expression a column that carries values has no range: computing on it would
    keep its bounds and lose its values (the parts a later sum must count)."""
    def look(node: exp.Expr) -> Range | None:
        found = column(node)
        return None if found is not None and found.values is not None else found
    return look


def _literal(node: exp.Expr, column: Lookup) -> Range | None:
    assert isinstance(node, exp.Literal)
    if node.is_string:
        return None
    try:
        return point(float(node.name))
    except ValueError:
        return None


def _neg(node: exp.Expr, column: Lookup) -> Range | None:
    inner = range_of(node.this, column)
    return None if inner is None else Range(-inner.hi, -inner.lo, inner.integer)


def _binary(node: exp.Expr, column: Lookup) -> Range | None:
    shift = _time_difference(node)
    if shift is not None:
        return point(shift)
    a, b = range_of(node.this, column), range_of(node.expression, column)
    if a is None or b is None:
        return None
    if a.empty or b.empty:
        return NULL
    integer = a.integer and b.integer
    if isinstance(node, exp.Add):
        return Range(a.lo + b.lo, a.hi + b.hi, integer)
    if isinstance(node, exp.Sub):
        return Range(a.lo - b.hi, a.hi - b.lo, integer)
    if isinstance(node, exp.Mul):
        return _span([_times(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)], integer)
    return _divide(a, b)


def _times(x: float, y: float) -> float:
    return 0.0 if x == 0 or y == 0 else x * y  # 0 * inf is 0 here: a zero factor stays zero


def _span(values: list[float], integer: bool) -> Range | None:
    if any(math.isnan(v) for v in values):
        return None
    return Range(min(values), max(values), integer)


def _divide(a: Range, b: Range) -> Range | None:
    if b.lo > 0 or b.hi < 0:
        return _span([x / y if math.isfinite(y) else 0.0 for x in (a.lo, a.hi)
                      for y in (b.lo, b.hi)], False)
    if b.integer and a.bounded:
        # A whole-number divisor is at least 1 away from zero (a zero divisor gives inf in
        # DuckDB, as 1.0 / n does for a count of nothing).
        return Range(-a.magnitude if b.lo < 0 or a.lo < 0 else 0.0, a.magnitude, False)
    return None


def _hull_of(values: list[exp.Expr | None], column: Lookup) -> Range | None:
    return hull([NULL if v is None else range_of(v, column) for v in values])


def _case(node: exp.Expr, column: Lookup) -> Range | None:
    if isinstance(node, exp.If):
        return _hull_of([node.args.get("true"), node.args.get("false")], column)
    outputs = [w.args.get("true") for w in node.args.get("ifs") or []]
    return _hull_of([*outputs, node.args.get("default")], column)


def _coalesce(node: exp.Expr, column: Lookup) -> Range | None:
    return _hull_of([node.this, *node.expressions], column)


def _extreme(node: exp.Expr, column: Lookup) -> Range | None:
    found = [_numeric(v, column) for v in [node.this, *node.expressions]]
    if any(r is None for r in found):
        return None
    known = [r for r in found if r is not None and not r.empty]
    if not known:
        return NULL
    pick = max if isinstance(node, exp.Greatest) else min
    return Range(pick(r.lo for r in known), pick(r.hi for r in known),
                 all(r.integer for r in known))


def _numeric(node: exp.Expr, column: Lookup) -> Range | None:
    """A clamp's argument: a duration between two timestamps has no public range, but it is a
    whole number, so ``LEAST(GREATEST(date_diff('day', a, b), 0), 30)`` lies in [0, 30]."""
    found = range_of(node, column)
    if found is None and isinstance(node, exp.DateDiff):
        return Range(-math.inf, math.inf, integer=True)
    return found


def _unary(node: exp.Expr, column: Lookup) -> Range | None:
    inner = range_of(node.this, column)
    if inner is None or inner.empty:
        return inner
    if isinstance(node, exp.Abs):
        low = 0.0 if inner.lo <= 0 <= inner.hi else min(abs(inner.lo), abs(inner.hi))
        return Range(low, inner.magnitude, inner.integer)
    if isinstance(node, exp.Sign):
        return Range(-1.0 if inner.lo < 0 else 0.0, 1.0 if inner.hi > 0 else 0.0, True)
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
        return Range(inner.lo - 1, inner.hi + 1, False) if inner.bounded else None
    return Range(_down(inner.lo), _up(inner.hi), True)  # round, floor, ceil


def _nullif(node: exp.Expr, column: Lookup) -> Range | None:
    return range_of(node.this, column)


def _cast(node: exp.Expr, column: Lookup) -> Range | None:
    to = node.args.get("to")
    target = str(to.this.value).upper() if isinstance(to, exp.DataType) else ""
    if target not in _NUMERIC_TYPES:
        return None
    found = range_of(node.this, column)
    if found is None or target not in _INTEGER_TYPES or found.empty:
        return found
    return Range(_down(found.lo), _up(found.hi), True)


def _down(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _up(x: float) -> float:
    return float(math.ceil(x)) if math.isfinite(x) else x


def _date_diff(node: exp.Expr, column: Lookup) -> Range | None:
    """A duration between a timestamp and itself shifted by constants is a constant (within the
    unit's rounding); between two different timestamps nothing public bounds it."""
    unit = _unit_seconds(node.args.get("unit"))
    late, early = _time_shift(node.this), _time_shift(node.expression)
    if unit is None or late is None or early is None or late[0] != early[0]:
        return None
    exact = (late[1] - early[1]) / unit
    return Range(float(math.floor(exact)), float(math.ceil(exact)), True)


def duration_shift(node: exp.Expr) -> float | None:
    """The constant part of a duration between two different timestamps shifted by constant
    intervals: ``date_diff('day', c.ts, i.ts + INTERVAL 1000000 DAY)`` is a duration plus
    1000000 (the constant is a part of its own in a sum)."""
    if not isinstance(node, exp.DateDiff):
        return None
    unit = _unit_seconds(node.args.get("unit"))
    late, early = _time_shift(node.this), _time_shift(node.expression)
    if unit is None or late is None or early is None or late[0] == early[0]:
        return None
    return (late[1] - early[1]) / unit


def _time_difference(node: exp.Expr) -> float | None:
    """epoch(t + INTERVAL n ...) - epoch(t): seconds between two shifts of one timestamp."""
    if not isinstance(node, exp.Sub):
        return None
    a, b = node.this, node.expression
    if not (isinstance(a, exp.TimeToUnix) and isinstance(b, exp.TimeToUnix)):
        return None
    late, early = _time_shift(a.this), _time_shift(b.this)
    if late is None or early is None or late[0] != early[0]:
        return None
    return late[1] - early[1]


def _time_shift(node: exp.Expr | None) -> tuple[str, float] | None:
    """(the shifted expression's SQL, seconds shifted) for ``x``, ``x ± INTERVAL``, date_add."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, (exp.Add, exp.Sub, exp.DateAdd, exp.DateSub)):
        seconds = _interval_seconds(node.expression)
        base = _time_shift(node.this)
        if seconds is None or base is None:
            return None
        sign = -1.0 if isinstance(node, (exp.Sub, exp.DateSub)) else 1.0
        return base[0], base[1] + sign * seconds
    if isinstance(node, exp.Column):
        return sql_text(node).lower(), 0.0
    return None


def _interval_seconds(node: exp.Expr | None) -> float | None:
    if not isinstance(node, exp.Interval) or not isinstance(node.this, exp.Literal):
        return None
    words = node.name.strip().split()
    unit = _unit_seconds(node.args.get("unit")) if len(words) == 1 else (
        _SECONDS.get(words[1].lower().rstrip("s")) if len(words) == 2 else None)
    try:
        return None if unit is None else float(words[0]) * unit
    except ValueError:
        return None


def _unit_seconds(unit: exp.Expr | None) -> float | None:
    name = unit.name.lower().rstrip("s") if isinstance(unit, (exp.Var, exp.Literal)) else ""
    return _SECONDS.get(name)


def _power(node: exp.Expr, column: Lookup) -> Range | None:
    """``POWER(b, x)`` for a constant base b > 0 is monotone in x (the time-decay weight
    ``POWER(0.5, days / 7.0)`` lies in (0, 1] when days >= 0); any other base is unknown."""
    base, power = constant_of(node.this), range_of(node.expression, column)
    if base is None or not base > 0 or power is None:
        return None
    if power.empty:
        return NULL
    ends = sorted(_raised(base, x) for x in (power.lo, power.hi))
    return Range(ends[0], ends[1], base == 1)


def _raised(base: float, x: float) -> float:
    if base == 1:
        return 1.0
    try:
        return math.pow(base, x)  # b ** -inf is inf for b < 1 and 0 for b > 1
    except OverflowError:
        return math.inf


def _null(node: exp.Expr, column: Lookup) -> Range | None:
    return NULL


def _boolean(node: exp.Expr, column: Lookup) -> Range | None:
    return Range(0.0, 1.0, True)


_HANDLERS: tuple[tuple[type | tuple[type, ...], Callable[[exp.Expr, Lookup], Range | None]],
                 ...] = (
    (exp.Literal, _literal),
    (exp.Null, _null),
    (exp.Boolean, _boolean),
    (exp.Neg, _neg),
    ((exp.Add, exp.Sub, exp.Mul, exp.Div), _binary),
    ((exp.Case, exp.If), _case),
    (exp.Coalesce, _coalesce),
    ((exp.Greatest, exp.Least), _extreme),
    ((exp.Abs, exp.Sign, exp.Round, exp.Floor, exp.Ceil), _unary),
    (exp.Nullif, _nullif),
    ((exp.Cast, exp.TryCast), _cast),
    (exp.DateDiff, _date_diff),
    (exp.Pow, _power),
)
