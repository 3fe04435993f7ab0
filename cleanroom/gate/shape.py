"""What the final output's columns are, for the noise plan: group keys and plain aggregates."""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import Aggregate, K


def final_aggregates(tree: exp.Expr, tables: dict[str, dict[str, K]]) -> tuple[Aggregate, ...]:
    """Classify each output column of a final aggregating SELECT.

    >>> import sqlglot
    >>> t = sqlglot.parse_one("SELECT c, COUNT(DISTINCT user_key) n, SUM(r) s FROM t GROUP BY c")
    >>> [a.function for a in final_aggregates(t, {})]
    ['group_key', 'count_distinct', 'sum']
    """
    if not isinstance(tree, exp.Select):
        return ()
    return tuple(_classify(proj) for proj in tree.expressions)


def _classify(proj: exp.Expr) -> Aggregate:
    name = proj.alias_or_name
    node = proj.unalias()
    if isinstance(node, exp.Count):
        arg = node.this
        if isinstance(arg, exp.Distinct):
            return Aggregate(name, "count_distinct", _arg_name(arg.expressions[0]))
        if isinstance(arg, exp.Star):
            return Aggregate(name, "count")
        if isinstance(arg, exp.Column):
            return Aggregate(name, "count", arg.name)
        return Aggregate(name, "expression")  # e.g. COUNT(CASE ...): a conditional count
    if isinstance(node, (exp.Sum, exp.Avg)):
        return Aggregate(name, "sum" if isinstance(node, exp.Sum) else "avg", _arg_name(node.this))
    if node.find(exp.AggFunc) is None and node.find(exp.Subquery) is None:
        return Aggregate(name, "group_key")
    return Aggregate(name, "expression")


def _arg_name(node: exp.Expr) -> str | None:
    return node.name if isinstance(node, exp.Column) else None
