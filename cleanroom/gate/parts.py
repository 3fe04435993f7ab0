"""The parts of a summed expression: which rows add which term (magnitude packing, issue 8 4a).

``SUM(CASE WHEN campaign = 'tiny' THEN 1000000 ELSE 1 END)`` stands on everyone, yet its
millions count the tiny campaign's rows. So a summed expression is split into *parts*: each
CASE / IF / COALESCE / NULLIF branch, each term of a sum, each constant value, each factor's
branches in a product. A part is the rows that take that branch with a non-zero term; it must
stand on nobody or on at least k people (``ExpressionRules.require(..., zero_ok=True)``).
Constants are folded (``ranges.constant_of``): ``date_diff('day', ts, ts + INTERVAL 9 DAY)``
is the constant 9 in whichever branch it stands.

>>> import sqlglot
>>> def n(sql): return len(parts_of(sqlglot.parse_one(sql, read="duckdb")) or [])
>>> n("CASE WHEN c = 'tiny' THEN 1000000 ELSE 1 END"), n("cost * 0.4"), n("IF(c, m, 0)")
(2, 1, 1)
>>> uniform(parts_of(sqlglot.parse_one("CASE WHEN c THEN m * 1000 ELSE m END")))
False
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from sqlglot import exp

from cleanroom.gate.ranges import Range, constant_of, duration_shift
from cleanroom.gate.walk import combine, copy_tree

Carried = Callable[[exp.Column], "Range | None"]
Defined = Callable[[exp.Column], "exp.Expr | None"]
# How the columns of the current scope were made: a CASE of constants carries its values.
_CARRIED: ContextVar[Carried | None] = ContextVar("carried", default=None)
# A column whose definition reads only columns passed on with it: its parts are the definition's.
_DEFINED: ContextVar[Defined | None] = ContextVar("defined", default=None)
# Definitions read through definitions (CTE after CTE): past this many, fail closed (a cycle
# or a chain this long is no query anyone writes, and must not end in a RecursionError).
MAX_DEFINED_DEPTH = 32
_DEPTH: ContextVar[int] = ContextVar("defined_depth", default=0)

MAX_PARTS = 32
_CONDITIONAL = (exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least)

# A condition on a row, kept as (operation, nodes of the analyst's tree) so that it can be
# rendered later from qualified copies: the analyst's tree is never re-parented.
Cond = tuple[str, tuple[exp.Expr, ...]]


@dataclass(frozen=True)
class Part:
    conditions: tuple[Cond, ...]
    scale: float | None  # the constant factor on ``leaf`` (None: scaled by a row's value)
    leaf: exp.Expr | None  # None: a constant term whose value is ``scale``

    def scaled(self, factor: float) -> Part:
        return Part(self.conditions, None if self.scale is None else self.scale * factor,
                    self.leaf)

    def under(self, conditions: tuple[Cond, ...]) -> Part:
        return Part(conditions + self.conditions, self.scale, self.leaf)


class TooManyParts(Exception):
    pass


def parts_of(node: exp.Expr, carried: Carried | None = None,
             defined: Defined | None = None) -> list[Part] | None:
    """The parts of ``node`` (None when there are more than ``MAX_PARTS``). ``carried`` gives
    a column's range: one made by a CASE of constants splits into a part per value;
    ``defined`` a column's definition over columns of the same rows (its parts are its own)."""
    token, token_defined = _CARRIED.set(carried), _DEFINED.set(defined)
    try:
        return _parts(node)
    except TooManyParts:
        return None
    finally:
        _CARRIED.reset(token)
        _DEFINED.reset(token_defined)


def uniform(parts: list[Part] | None) -> bool:
    """Can a per-row value be summed later without its parts (outside an aggregate across
    people, where none can be recorded)? Only with one part, or terms of one scale (m1 + m2)."""
    if parts is None:
        return False
    if len(parts) <= 1:
        return True
    scales = {abs(p.scale) for p in parts if p.scale is not None}
    return all(p.leaf is not None and p.scale is not None for p in parts) and len(scales) == 1


def render(cond: Cond, copy: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """One condition as SQL over copies of its nodes (``copy`` qualifies them)."""
    op, nodes = cond
    first = exp.Paren(this=copy(nodes[0]))
    if op == "holds":
        return first
    if op == "not_true":
        return exp.Is(this=first, expression=exp.Boolean(this=True)).not_()
    if op == "is_null":
        return exp.Is(this=first, expression=exp.Null())
    if op == "equals":
        return exp.EQ(this=first, expression=exp.Paren(this=copy(nodes[1])))
    if op == "differs":
        return exp.NullSafeNEQ(this=first, expression=exp.Paren(this=copy(nodes[1])))
    if op == "other":  # none of the carried values (a float that compares unequal lands here)
        listed = exp.In(this=first, expressions=[copy(n) for n in nodes[1:]]).not_()
        return combine(exp.And, listed, exp.NEQ(this=copy_tree(first), expression=exp.Literal.number(0)))
    return exp.NEQ(this=first, expression=exp.Literal.number(0))  # nonzero


def _checked(found: list[Part]) -> list[Part]:
    if len(found) > MAX_PARTS:
        raise TooManyParts()
    return found


def _parts(node: exp.Expr) -> list[Part]:
    while isinstance(node, (exp.Paren, exp.Alias)):
        node = node.this
    if isinstance(node, exp.Null):
        return []
    value = constant_of(node)
    if value is not None:
        return [] if value == 0 else [Part((), value, None)]
    for kinds, handler in _HANDLERS:
        if isinstance(node, kinds):
            return _checked(handler(node))
    define = _DEFINED.get()
    definition = define(node) if define is not None and isinstance(node, exp.Column) else None
    if definition is not None:
        return _expanded(definition)
    look = _CARRIED.get()
    if look is not None and isinstance(node, exp.Column):
        made = look(node)
        if made is not None and made.values is not None:
            return _checked(_carried(node, made.values))
    return [Part((("nonzero", (node,)),), 1.0, node)]


def _expanded(definition: exp.Expr) -> list[Part]:
    depth = _DEPTH.get()
    if depth >= MAX_DEFINED_DEPTH:
        raise TooManyParts()
    token = _DEPTH.set(depth + 1)
    try:
        return _parts(definition)
    finally:
        _DEPTH.reset(token)


def _carried(column: exp.Column, values: tuple[float, ...]) -> list[Part]:
    """A column made by a CASE of constants: a part per non-zero value, and one for the rest."""
    literals = [exp.Literal.number(repr(v)) for v in values]
    found = [Part((("equals", (column, lit)),), v, None) for v, lit in zip(values, literals) if v]
    return [*found, Part((("other", (column, *literals)),), 1.0, column)]


def _sum(node: exp.Expr) -> list[Part]:
    right = _parts(node.expression)
    if isinstance(node, exp.Sub):
        right = [p.scaled(-1.0) for p in right]
    return _parts(node.this) + right


def _neg(node: exp.Expr) -> list[Part]:
    return [p.scaled(-1.0) for p in _parts(node.this)]


def _product(node: exp.Expr) -> list[Part]:
    a, b = node.this, node.expression
    ca, cb = constant_of(a), constant_of(b)
    if isinstance(node, exp.Mul) and ca is not None:
        return [p.scaled(ca) for p in _parts(b)] if ca else []
    if cb is not None and cb != 0:
        return [p.scaled(cb if isinstance(node, exp.Mul) else 1.0 / cb) for p in _parts(a)]
    if cb == 0 and isinstance(node, exp.Mul):
        return []
    if isinstance(node, exp.Div) and b.find(*_CONDITIONAL) is None:
        # A divisor's terms do not distribute (1 / (n - 2) is one value): only its branches.
        return _cross(node, [_parts(a), [Part((("nonzero", (b,)),), 1.0, b)]])
    return _cross(node, [_parts(a), _parts(b)])


def _cross(node: exp.Expr, factors: list[list[Part]]) -> list[Part]:
    """Every combination of the factors' parts: the rows where each factor takes its branch."""
    combos: list[tuple[Cond, ...]] = [()]
    for found in factors:
        combos = _checked_conds([c + p.conditions for c in combos for p in found])
    return [Part(c, None, node) for c in combos]


def _checked_conds(found: list[tuple[Cond, ...]]) -> list[tuple[Cond, ...]]:
    if len(found) > MAX_PARTS:
        raise TooManyParts()
    return found


def _case(node: exp.Expr) -> list[Part]:
    if isinstance(node, exp.If):
        branches: list[tuple[Cond, exp.Expr]] = [(("holds", (node.this,)), node.args["true"])]
        default = node.args.get("false")
    else:
        subject = node.this
        branches = [((("equals", (subject, w.this)) if subject is not None
                      else ("holds", (w.this,))), w.args["true"])
                    for w in node.args.get("ifs") or []]
        default = node.args.get("default")
    found: list[Part] = []
    before: tuple[Cond, ...] = ()
    for cond, output in branches:
        found += [p.under(before + (cond,)) for p in _parts(output)]
        before += (("differs" if cond[0] == "equals" else "not_true", cond[1]),)
    if default is not None:
        found += [p.under(before) for p in _parts(default)]
    return found


def _coalesce(node: exp.Expr) -> list[Part]:
    found: list[Part] = []
    before: tuple[Cond, ...] = ()
    for arg in [node.this, *node.expressions]:
        found += [p.under(before) for p in _parts(arg)]
        before += (("is_null", (arg,)),)
    return found


def _nullif(node: exp.Expr) -> list[Part]:
    return [p.under((("differs", (node.this, node.expression)),)) for p in _parts(node.this)]


def _extreme(node: exp.Expr) -> list[Part]:
    """GREATEST / LEAST take one argument's value (NULLs skipped): each argument's parts, on the
    rows where it is the one taken (a tie counts in both). A clamp is no exception: the rows a
    narrow window ``LEAST(GREATEST(revenue, 776), 778)`` passes through are a part of their own
    (a review decoded one person's revenue when the clamp counted as one part)."""
    found: list[Part] = []
    for arg in [node.this, *node.expressions]:
        found += [p.under((("equals", (arg, node)),)) for p in _parts(arg)]
    return found


def _duration(node: exp.Expr) -> list[Part]:
    leaf = Part((("nonzero", (node,)),), 1.0, node)
    shift = duration_shift(node)
    return [leaf, Part((), shift, None)] if shift else [leaf]


def _unary(node: exp.Expr) -> list[Part]:
    inner = node.this
    if isinstance(inner, (exp.Predicate, exp.Not, exp.And, exp.Or)):
        return [Part((("holds", (inner,)),), 1.0, node)]
    return [Part(p.conditions, None, node) for p in _parts(inner)]


def _power(node: exp.Expr) -> list[Part]:
    """A power of a row's value has no parts to count: ``POWER(0.5, days / 0.05)`` is 1 on the
    few rows with days = 0 and next to 0 on everyone else's, so its sum would count those few
    (the threshold refuses it; a noised answer clamps it to its range instead)."""
    raise TooManyParts()


_HANDLERS: tuple[tuple[type | tuple[type, ...], Callable[[exp.Expr], list[Part]]], ...] = (
    ((exp.Add, exp.Sub), _sum),
    (exp.Neg, _neg),
    ((exp.Mul, exp.Div), _product),
    ((exp.Case, exp.If), _case),
    (exp.Coalesce, _coalesce),
    (exp.Nullif, _nullif),
    ((exp.Greatest, exp.Least), _extreme),
    (exp.DateDiff, _duration),
    ((exp.Abs, exp.Sign, exp.Round, exp.Floor, exp.Ceil, exp.Cast, exp.TryCast), _unary),
    (exp.Pow, _power),
)
