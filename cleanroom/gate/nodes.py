"""Small helpers over sqlglot nodes shared by the gate's stages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from cleanroom.gate.scope import Scope
from cleanroom.gate.walk import copy_tree, sql_text

CONSTANTS = (exp.Literal, exp.Null, exp.Boolean, exp.DataType, exp.Var, exp.CurrentDate,
             exp.CurrentTimestamp)


def arguments(func: exp.Expr) -> list[exp.Expr]:
    """The value arguments of a function, looking through DISTINCT and ORDER BY.

    >>> import sqlglot
    >>> f = sqlglot.parse_one("SELECT string_agg(c, '>' ORDER BY ts)", read="duckdb").selects[0]
    >>> [a.sql() for a in arguments(f)]
    ['c', 'ts', "'>'"]
    """
    args: list[exp.Expr] = []
    for value in func.args.values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, exp.Distinct):
                args.extend(v.expressions)
            elif isinstance(v, exp.Order):
                args.extend([v.this] if v.this is not None else [])
                args.extend(o.this for o in v.expressions)
            elif isinstance(v, exp.PropertyEQ):  # a struct's field: its name is no value
                args.append(v.expression)
            elif isinstance(v, exp.Expr):
                args.append(v)
    return args


def qualify(node: exp.Expr, scope: Scope) -> exp.Expr:
    """A copy of ``node`` whose columns name their source, for use in rewritten SQL."""
    def fix(sub: exp.Expr) -> exp.Expr:
        if isinstance(sub, exp.Column) and not isinstance(sub.this, exp.Star):
            return scope.qualified(sub) or sub
        return sub
    # One copy: ``transform`` would copy the copy again.
    return copy_tree(node).transform(fix, copy=False)


def qualify_apart(node: exp.Expr, scope: Scope, subqueries: dict[str, exp.Expr]) -> exp.Expr:
    """Like ``qualify``, but each subquery is left out as a placeholder named in
    ``subqueries``: the rewriter puts in a copy of the subquery once it has been rewritten."""
    originals = [n for n in node.walk() if isinstance(n, exp.Subquery)]
    copy = qualify(node, scope)
    for original, copied in zip(originals, [n for n in copy.walk() if isinstance(n, exp.Subquery)]):
        key = f"cr_subquery_{id(original)}"
        subqueries[key] = original
        copied.replace(exp.Placeholder(this=key))
    return copy


class KeyMap(dict[str, tuple[int, Any]]):
    """Group keys by their ``canonical`` text, and the node classes among them: a node of
    another class renders other text, so it need not be rendered to be looked up (rendering
    every node of a projection against the keys was a fifth of the gate's time)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: set[type] = set()


def might_be_key(node: exp.Expr, keys: Mapping[str, Any]) -> bool:
    classes = getattr(keys, "classes", None)
    return classes is None or type(node) in classes


def canonical(node: exp.Expr, scope: Scope) -> str:
    """Compare expressions by what they compute: columns qualified by their source."""
    return sql_text(qualify(node, scope), copy=False)  # qualify made a copy


def the_person(node: exp.Expr, scope: Scope) -> bool:
    """``node`` is the expression the gate itself takes for each row's person when it is not one
    column: ``COALESCE(a.user_key, b.user_key)`` over ``a FULL JOIN b ON a.user_key =
    b.user_key`` (``joins.py``: the side present, or either when both are, equal by the ON).
    Written out in that order (the AMC incremental-reach template), it is that person column."""
    uid = scope.uid_expr
    return isinstance(node, exp.Coalesce) and isinstance(uid, exp.Coalesce) and \
        canonical(node, scope) == sql_text(uid)


def condition_of(condition: exp.Expr) -> exp.Expr:
    """The boolean inside a FILTER (WHERE ...)."""
    return condition.this if isinstance(condition, exp.Where) else condition


def output_name(proj: exp.Expr) -> str:
    """The name of an output column: its alias, its column name, or the expression's text."""
    if isinstance(proj, exp.Alias):
        return proj.alias
    if isinstance(proj, exp.Column) and not isinstance(proj.this, exp.Star):
        return proj.name
    return sql_text(proj)


def set_leaves(node: exp.Expr) -> list[exp.Expr]:
    """The branches of a set operation, through parenthesised set operations in it
    (``(a UNION ALL b) UNION ALL c``: review round 6, its rows were not compared); each a
    SELECT, VALUES or a subquery."""
    if isinstance(node, exp.SetOperation):
        return set_leaves(node.this) + set_leaves(node.expression)
    if bare_subquery(node) and isinstance(node.this, exp.SetOperation):
        return set_leaves(node.this)
    return [node]


def bare_subquery(node: exp.Expr) -> bool:
    """A subquery that only brackets its query (no alias, no clause of its own)."""
    return isinstance(node, exp.Subquery) and not any(
        v for k, v in node.args.items() if k != "this")


def branch_selects(node: exp.Expr) -> list[exp.Select]:
    """The SELECTs a query is made of: itself, or each branch of its set operations."""
    if isinstance(node, exp.Subquery):
        return branch_selects(node.this)
    if isinstance(node, exp.SetOperation):
        return branch_selects(node.left) + branch_selects(node.right)
    return [node] if isinstance(node, exp.Select) else []
