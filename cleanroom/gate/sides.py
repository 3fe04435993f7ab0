"""The hidden sides of per-person values: which of a person's rows a FILTER or a branch split
(issue 8, 4a: each branch of a CASE / IF / FILTER is a part, wherever it is computed).

``COUNT(*) + COUNT(*) FILTER (WHERE <one person's row>) AS n``, computed per person, is 2 for
that person and 1 for everyone else; ``SUM(r * n) - SUM(r)`` across people was that person's
revenue. ``SUM(cost) FILTER (WHERE campaign <> '<3 people>')`` per person, summed across
people beside ``SUM(cost)``, was those three people's cost. Inside one aggregate across people
each branch is a part (``parts.py``); computed per person (a GROUP BY user_key, or a window
over one person's rows) and summed later, the branch is out of sight. So such a per-person
value carries hidden columns of its relation, for each condition that splits the rows it reads:
whether the person has a row the branch takes (``__cr_wt_p<i>``, ``bool_or(c)``) and one it
leaves out (``__cr_wt_f<i>``, ``bool_or(c IS NOT TRUE)``); a window's, over its partition.
A relation of people's rows that reads the value passes them on. An aggregate across people
that sums a value reading it (``aggregates._side_parts``) counts the people it sums with a row
taken as a part (nobody or at least k), and those with a row left out as a vector of its own
for the combination check (``cells.vector_names``): its number differs from its unfiltered
twin's on them. A set operation does not match sides across its branches: such a column is
not summable after it (``analyse._set_operation``).

>>> import sqlglot
>>> from cleanroom.gate.model import K, Rel
>>> from cleanroom.gate.scope import Scope
>>> rel = Rel([("user_key", K.UID), ("ts", K.DIM), ("c", K.DIM)], bearing=True,
...           uid_column="user_key", base=True)
>>> class R:  # the little of ``ExpressionRules`` the sides read
...     scope = Scope(sources={"t": rel}, uid_expr=exp.column("user_key", "t", quoted=True))
...     subqueries: dict = {}
...     carried = defined = staticmethod(lambda col: None)
>>> sel = sqlglot.parse_one("SELECT user_key, COUNT(*) FILTER (WHERE c = 'x') AS n FROM t "
...                         "GROUP BY user_key", read="duckdb")
>>> sides, hidden = plan_sides(sel, R(), per_user=True)
>>> sides
{'n': ('__cr_wt_p0', '__cr_wt_f1')}
>>> [h.sql() for _, h in hidden]
['BOOL_OR(("t"."c" = \\'x\\'))', 'BOOL_OR(TRY(NOT ("t"."c" = \\'x\\') IS TRUE))']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate.functions import unwrap_nulls
from cleanroom.gate.guard import guard, guard_condition
from cleanroom.gate.nodes import arguments, condition_of, output_name, qualify_apart
from cleanroom.gate.parts import parts_of, render
from cleanroom.gate.walk import combine, copy_tree, sql_text

if TYPE_CHECKING:
    from cleanroom.gate.expressions import ExpressionRules

TAKEN = "__cr_wt_p"  # a hidden side column: the person has a row a branch or FILTER takes
LEFT = "__cr_wt_f"  # a hidden side column: the person has a row it leaves out
Wrap = Callable[[exp.Expr], exp.Expr]  # a row's condition -> a value of the SELECT's row
Side = tuple[str, exp.Expr]  # (TAKEN or LEFT, value)


def plan_sides(sel: exp.Select, rules: ExpressionRules, *, per_user: bool
               ) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, exp.Expr]]]:
    """For a SELECT of people's rows: the hidden side columns each output column carries (by
    lower-case name), and the hidden projections (name, value) that compute them."""
    by_text: dict[str, str] = {}
    hidden: list[tuple[str, exp.Expr]] = []
    sides: dict[str, tuple[str, ...]] = {}
    row: Wrap = _bool_or if per_user else _itself
    for proj in sel.expressions:
        names: list[str] = []
        for prefix, value in _sides(proj.unalias(), rules, row, per_user=per_user):
            text = prefix + sql_text(value)
            if text not in by_text:
                by_text[text] = f"{prefix}{len(hidden)}"
                hidden.append((by_text[text], value))
            names.append(by_text[text])
        if names:
            sides[output_name(proj).lower()] = tuple(dict.fromkeys(names))
    return sides, hidden


def taken(name: str) -> bool:
    """A side of rows a branch takes (else one of rows it leaves out)."""
    return name.startswith(TAKEN)


def read_sides(rules: ExpressionRules, node: exp.Expr) -> list[Side]:
    """The side columns (qualified) of the columns ``node`` reads from its sources."""
    found: list[Side] = []
    for col in _columns(node):
        resolved = rules.scope.resolve(col)
        if isinstance(resolved, Violation):
            continue
        rel = rules.scope.sources.get(resolved[0])
        for name in rel.sides.get(col.name.lower(), ()) if rel is not None else ():
            found.append((TAKEN if taken(name) else LEFT,
                          exp.column(name, table=resolved[0], quoted=True)))
    return found


def _columns(node: exp.Expr) -> list[exp.Column]:
    found = node.walk(prune=lambda n: isinstance(n, (exp.Subquery, exp.Select)))
    return [n for n in found if isinstance(n, exp.Column)]


def _sides(node: exp.Expr, rules: ExpressionRules, wrap: Wrap, *, per_user: bool
           ) -> list[Side]:
    if isinstance(node, (exp.Subquery, exp.Select)):
        return []
    if isinstance(node, exp.Window):
        return _call(node.this, rules, _over(node, rules))
    if per_user and isinstance(node, (exp.Filter, exp.AggFunc)):
        return _call(node, rules, wrap)
    if isinstance(node, exp.Column):
        return [(kind, wrap(v)) for kind, v in read_sides(rules, node)]
    return [s for child in node.iter_expressions()
            for s in _sides(child, rules, wrap, per_user=per_user)]


def _call(node: exp.Expr, rules: ExpressionRules, wrap: Wrap) -> list[Side]:
    """An aggregate's (or a window's) sides: both sides of its FILTER and of each branch of
    its arguments, then those of the columns it reads."""
    func, where = (node.this, node.expression) if isinstance(node, exp.Filter) else (node, None)
    func = unwrap_nulls(func)
    def copy(sub: exp.Expr) -> exp.Expr:
        return qualify_apart(sub, rules.scope, rules.subqueries)
    conditions = [copy(condition_of(where))] if where is not None else []
    for arg in arguments(func) if isinstance(func, exp.Func) else []:
        conditions += _branches(arg, rules, copy)
    found: list[Side] = []
    for condition in conditions:
        left = render(("not_true", (condition,)), copy_tree)
        found += [(TAKEN, wrap(guard_condition(exp.Paren(this=condition)))),
                  (LEFT, wrap(guard_condition(left)))]
    for arg in func.iter_expressions():
        found += [(kind, wrap(v)) for kind, v in read_sides(rules, arg)]
    return found


def _branches(arg: exp.Expr, rules: ExpressionRules, copy: Wrap) -> list[exp.Expr]:
    """The conditions of the branches of a per-person aggregate's argument (a plain value's
    non-zero test is none: it splits no rows the value does not)."""
    if isinstance(arg, exp.Star):
        return []
    found = parts_of(arg, rules.carried, rules.defined) or []
    conditions = []
    for part in found:
        kept = [c for c in part.conditions if c[0] != "nonzero"]
        if kept:
            conditions.append(combine(exp.And, *[render(c, copy) for c in kept], copy=False))
    return conditions


def _bool_or(value: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="bool_or", expressions=[value])


def _itself(value: exp.Expr) -> exp.Expr:
    return value


def _over(window: exp.Window, rules: ExpressionRules) -> Wrap:
    """A window's sides, over its whole partition (its frame reads some of those rows)."""
    parts = [guard(qualify_apart(p, rules.scope, rules.subqueries))
             for p in window.args.get("partition_by") or []]
    return lambda value: exp.Window(this=_bool_or(value), partition_by=[copy_tree(p) for p in parts])
