"""No run-time error may depend on people's data: every row-level expression that could raise
(a cast, an implicit cast in a comparison, integer division by zero, an overflow, a date out
of range, an invalid pattern) runs inside ``TRY(...)``, which yields NULL instead.

DuckDB refuses TRY around aggregates, windows and scalar subqueries, so the rewriter first
moves those into an inner SELECT (``hoist.py``); here they are looked through.

>>> import sqlglot
>>> guard(sqlglot.parse_one("a = 1 AND b = 'x'", read="duckdb")).sql()
"TRY(a = 1) AND b = 'x'"
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import COPY_META, NUMERIC_NONZERO
from cleanroom.gate.nodes import CONSTANTS
from cleanroom.gate.walk import find_all

_OPAQUE = (exp.Subquery, exp.Select, exp.SetOperation, exp.AggFunc, exp.Window)
_CLAUSES = (exp.Distinct, exp.Order, exp.Ordered, exp.Where, exp.IgnoreNulls, exp.RespectNulls,
            exp.WindowSpec, exp.Filter, exp.Window, exp.AggFunc)
_WRAPPERS = (exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls)
# Conditions whose value is a BOOLEAN already: comparisons, IN, IS, LIKE, AND / OR, NOT.
_BOOLEANS = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean)
_STRING_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)


def guard(node: exp.Expr, safe: frozenset[int] = frozenset()) -> exp.Expr:
    """``node`` with every part that could raise wrapped in TRY; ``safe`` names comparisons
    known not to raise themselves (user_key = user_key, which joins must keep bare, and
    comparisons of compatible types, ``types.py``): only their operands are guarded."""
    if id(node) in safe or node.meta.get(NUMERIC_NONZERO):
        return guard_children(node, safe)
    if _is_safe(node, safe):
        return node
    if isinstance(node, exp.And):
        for side in ("this", "expression"):
            node.set(side, guard_condition(node.args[side], safe))
        return node
    if isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        node.set("this", guard(node.this, safe))
        return node
    if any(isinstance(n, _OPAQUE) for n in node.walk()):
        lifted = _lift_subqueries(node)
        if lifted is not None:
            return lifted
        guard_children(node, safe)
        return node
    return exp.Try(this=_null_divisors(node))


LIFTED = "__cr_unionflags_s"  # the one-row relation a guarded scalar subquery is read from


def _lift_subqueries(node: exp.Expr) -> exp.Expr | None:
    """``node`` guarded although it reads scalar subqueries, which DuckDB refuses inside TRY:
    ``x = (SELECT COUNT(*) ...)`` casts each row's text ``x`` to a number outside any TRY, so
    one person's unreadable value would fail the query (an existence oracle). The subqueries
    become the columns of a one-row relation and ``node`` is read from it, guarded:
    ``(SELECT TRY(x = s.v0) FROM (SELECT (SELECT COUNT(*) ...) AS v0) AS s)``, the same value
    (a scalar subquery is one value whichever row reads it; correlated ones are refused), NULL
    where the comparison would raise. None: ``node`` is a subquery itself, or reads an
    aggregate, a window or a list (``IN (SELECT ...)``, ``EXISTS``), which stay as they are.

    >>> import sqlglot
    >>> lifted = _lift_subqueries(sqlglot.parse_one("x = (SELECT 1)", read="duckdb"))
    >>> print(lifted.sql().replace('"__cr_unionflags_', "").replace('"', ""))
    (SELECT TRY(x = s.v0) FROM (SELECT (SELECT 1) AS v0) AS s)
    """
    if isinstance(node, _OPAQUE):
        return None
    found = [n for n in node.walk(prune=lambda n: isinstance(n, _OPAQUE))
             if isinstance(n, _OPAQUE)]
    if not all(isinstance(n, exp.Subquery) and n.arg_key != "query" for n in found):
        return None
    values: list[exp.Expr] = []
    for i, sub in enumerate(found):
        name = f"__cr_unionflags_v{i}"
        sub.replace(exp.column(name, table=LIFTED, quoted=True))
        values.append(exp.alias_(sub, name, quoted=True, copy=False))
    one_row = exp.Select(expressions=values)
    body = exp.select(exp.Try(this=_null_divisors(node)), copy=False).from_(
        exp.Subquery(this=one_row, alias=exp.TableAlias(this=exp.to_identifier(LIFTED, quoted=True))),
        copy=False)
    for sel in (one_row, body):
        sel.meta[COPY_META] = True
    return exp.Subquery(this=body)


def _null_divisors(node: exp.Expr) -> exp.Expr:
    """``x / NULLIF(d, 0)``: DuckDB divides by zero into inf (NaN for 0 / 0) without raising,
    and TRY keeps that; one person's zero count then makes a sum of shares ``1.0 / n`` inf
    and a SKEWNESS raise (test_review_round3.py). NULL instead, as a guarded integer division
    by zero gives: it adds nothing to a sum, and ``ranges.py``'s claim that a whole-number
    divisor is at least 1 away from zero holds."""
    for div in list(node.find_all(exp.Div)):
        divisor = div.expression
        if isinstance(divisor, exp.Literal) and not divisor.is_string and _nonzero(divisor):
            continue
        div.set("expression", exp.Nullif(this=divisor, expression=exp.Literal.number(0)))
    return node


def _nonzero(literal: exp.Literal) -> bool:
    try:
        return float(literal.name) != 0.0
    except ValueError:
        return False


def guard_condition(node: exp.Expr, safe: frozenset[int] = frozenset()) -> exp.Expr:
    """``guard`` for a value used as a condition (WHERE, ON, HAVING, QUALIFY, FILTER, a side
    of AND). A value that is not a BOOLEAN already is cast to one there row by row, outside
    any TRY, which raises on a text value one person's row made unreadable (``WHERE x`` or
    ``WHERE lower(x)`` over a CTE's ``CASE ... 'bad' ... 'true'``, test_review_round3.py): it
    is read as ``TRY_CAST(... AS BOOLEAN)``, the same wherever it reads at all."""
    return as_condition(guard(node, safe))


def as_condition(guarded: exp.Expr) -> exp.Expr:
    """A guarded value made a condition: as it is when it is a BOOLEAN already (a comparison,
    IN, IS, LIKE, AND / OR, NOT), else ``TRY_CAST(... AS BOOLEAN)`` (a column, ``lower(x)``,
    ``COALESCE(x, 'true')``, a CASE: DuckDB would cast it outside any TRY)."""
    inner = guarded
    while isinstance(inner, (exp.Paren, exp.Try)):
        inner = inner.this
    if isinstance(inner, _BOOLEANS):
        return guarded
    return exp.TryCast(this=guarded, to=exp.DataType.build("BOOLEAN"))


def guard_children(node: exp.Expr, safe: frozenset[int] = frozenset()) -> exp.Expr:
    """Guard the value arguments of an aggregate, window or other node that TRY cannot wrap."""
    if isinstance(node, (exp.Subquery, exp.Select, exp.SetOperation)):
        return node  # a separate SELECT, rewritten on its own
    for key, value in list(node.args.items()):
        items = value if isinstance(value, list) else [value]
        for index, child in enumerate(items):
            if not isinstance(child, exp.Expr) or isinstance(child, exp.Var):
                continue
            if isinstance(child, _CLAUSES) or (key == "this" and isinstance(node, _WRAPPERS)):
                guard_children(child, safe)
                continue
            guarded = (guard_condition if isinstance(node, exp.Where) else guard)(child, safe)
            if guarded is not child:
                node.set(key, guarded, index if isinstance(value, list) else None)
    return node


def _is_safe(node: exp.Expr, safe: frozenset[int]) -> bool:
    if isinstance(node, (exp.Column, exp.Star, exp.Interval, *CONSTANTS)):
        return True
    if id(node) in safe or node.meta.get(NUMERIC_NONZERO):
        return all(_is_safe(child, safe) for child in node.iter_expressions())
    if isinstance(node, exp.Not):  # NOT x casts a bare x to BOOLEAN: not safe alone
        return not isinstance(node.this.unnest(), exp.Column) and _is_safe(node.this, safe)
    if isinstance(node, exp.Paren):
        return _is_safe(node.this, safe)
    if isinstance(node, exp.Is):
        # IS NULL never raises; IS TRUE / IS FALSE cast the column to BOOLEAN row by row, which
        # raises on a text value one person's row made unreadable (test_review_round3.py).
        return isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Null)
    if isinstance(node, _STRING_COMPARISONS):
        sides = (node.this, node.expression)
        return (any(isinstance(s, exp.Column) for s in sides)
                and any(_string_literal(s) for s in sides))
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column):
        return not node.args.get("query") and all(_string_literal(e) for e in node.expressions)
    return False


def _string_literal(node: exp.Expr) -> bool:
    """A bare string literal is cast to the column's type once, when the query is bound. A
    typed one (``DATE '2026-09-05'``, a CAST) is not: DuckDB casts the column to its type row
    by row, which raises on a VARCHAR column (a UNION of a DATE and a text branch) that one
    person's row made unreadable. Typed literals are left bare only where ``types.py`` knows
    both sides' types."""
    return isinstance(node, exp.Literal) and node.is_string


def try_casts(tree: exp.Expr) -> exp.Expr:
    """Every CAST becomes TRY_CAST (a failed cast yields NULL, and never echoes a value)."""
    try_cast_all(find_all(tree, exp.Cast))
    return tree


def try_cast_all(casts: list[exp.Cast]) -> None:
    """``try_casts`` over casts already found (a walk that looks for other nodes too)."""
    for cast in casts:
        if not isinstance(cast, exp.TryCast):
            cast.replace(exp.TryCast(this=cast.this, to=cast.args["to"]))
