"""Date parts, units and formats must be constants the analyst wrote (issue 8, 4d).

sqlglot reads ``date_trunc(campaign, ts)`` and ``extract(user_key FROM ts)`` as the unit
keywords CAMPAIGN and USER_KEY, so a column in a unit position would silently become a
keyword; ``time_bucket(col, ts)`` and ``date_part(channel, ts)`` would read a column per row. A
unit must be a known date part (quoted or not) that names no column in scope, an interval a
constant, a format a string literal.

>>> import sqlglot
>>> def bad(sql):
...     found = check_units(sqlglot.parse_one(f"SELECT {sql}", read="duckdb").selects[0], None)
...     return found is not None
>>> bad("date_trunc('day', ts)"), bad("date_trunc(campaign, ts)"), bad("date_part(channel, ts)")
(False, True, True)
>>> bad("extract(user_key FROM ts)"), bad("time_bucket(col, ts)"), bad("date_diff('hour', a, b)")
(True, True, False)
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cleanroom.gate.scope import Scope

UNITS = frozenset("""
microsecond microseconds us usec usecs millisecond milliseconds ms msec msecs second seconds s sec
secs minute minutes m min mins hour hours h hr hrs day days d dayofmonth week weeks w weekofyear
month months mon mons quarter quarters year years y yr yrs decade decades dec century centuries
c millennium millennia mil dow dayofweek weekday isodow doy dayofyear isoyear yearweek epoch era
julian timezone timezone_hour timezone_minute
""".split())


def check_units(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    """The argument of ``node`` that is not a constant unit, interval or format, if any."""
    for kinds, check in _CHECKS:
        if isinstance(node, kinds):
            return check(node, scope)
    if isinstance(node, exp.Anonymous) and str(node.name).lower() in ("date_part", "datepart"):
        return _date_part(node.expressions[0] if node.expressions else None, scope)
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "try_strptime":
        return _format(node.expressions[1] if len(node.expressions) > 1 else None)
    return None


def _unit(unit: exp.Expr | None, scope: Scope | None) -> exp.Expr | None:
    if unit is None:
        return None
    if not isinstance(unit, (exp.Var, exp.Literal)) or str(unit.name).lower() not in UNITS:
        return unit
    if isinstance(unit, exp.Var) and _names_column(unit, scope):
        return unit  # a column named like a unit: refused rather than read as the keyword
    return None


def _names_column(unit: exp.Expr, scope: Scope | None) -> bool:
    if scope is None:
        return False
    name = str(unit.name).lower()
    return any(rel.kind(name) is not None for rel in scope.sources.values())


def _date_part(part: exp.Expr | None, scope: Scope | None) -> exp.Expr | None:
    if isinstance(part, exp.Array):
        return next((p for p in part.expressions if _string_unit(p) is not None), None)
    return _string_unit(part) if part is not None else None


def _string_unit(part: exp.Expr) -> exp.Expr | None:
    ok = isinstance(part, exp.Literal) and part.is_string and part.name.lower() in UNITS
    return None if ok else part


def _format(fmt: exp.Expr | None) -> exp.Expr | None:
    return None if fmt is None or (isinstance(fmt, exp.Literal) and fmt.is_string) else fmt


def _trunc(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    return _unit(node.args.get("unit"), scope)


def _diff(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    unit = node.args.get("unit")
    quoted = bool(node.args.get("date_part_boundary"))  # sqlglot marks a quoted 'day'
    return _unit(unit, None if quoted else scope)


def _extract(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    part = node.this
    return _unit(part, None if isinstance(part, exp.Literal) else scope)


def _interval_first(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    return None if isinstance(node.this, exp.Interval) else node.this


def _interval_second(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    return None if isinstance(node.expression, exp.Interval) else node.expression


def _to_str(node: exp.Expr, scope: Scope | None) -> exp.Expr | None:
    return _format(node.args.get("format"))


_CHECKS: tuple[tuple[type | tuple[type, ...],
                     Callable[[exp.Expr, Scope | None], exp.Expr | None]], ...] = (
    (exp.TimestampTrunc, _trunc),
    (exp.DateDiff, _diff),
    (exp.Extract, _extract),
    (exp.DateBin, _interval_first),
    ((exp.DateAdd, exp.DateSub), _interval_second),
    (exp.TimeToStr, _to_str),
)
