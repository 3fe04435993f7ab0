"""A ``UNION`` (without ALL) of value lists, as AMC's sandbox guide lists the ASINs of four
tables (``SELECT tracked_asin FROM t GROUP BY 1 UNION SELECT ...``), read as the
``SELECT DISTINCT * FROM (... UNION ALL ...)`` that means the same and that the gate already
checks: each branch is thresholded on its own, and the distinct keys of what stands are kept.

Only branches that aggregate (GROUP BY or DISTINCT) and project no aggregate, window or
subquery are such lists: their rows are group keys, never thresholded numbers, so the union
compares no two numbers (``aggregate_set_comparison`` still refuses a UNION of aggregates, and
INTERSECT and EXCEPT, whose answers would say what a withheld branch row held).

>>> import sqlglot
>>> t = sqlglot.parse_one("SELECT a FROM t GROUP BY 1 UNION SELECT b FROM u GROUP BY 1")
>>> union_of_lists(t).sql()
'SELECT DISTINCT * FROM (SELECT a FROM t GROUP BY 1 UNION ALL SELECT b FROM u GROUP BY 1)'
"""

from __future__ import annotations

from sqlglot import exp

_MOVED = ("with_", "order", "limit", "offset")


def union_of_lists(tree: exp.Expr) -> exp.Expr:
    """``tree`` with every UNION of value lists read as a DISTINCT over their UNION ALL."""
    while True:
        head = next((u for u in tree.find_all(exp.Union) if _head(u) and _qualifies(u)), None)
        if head is None:
            return tree
        replaced = _as_distinct(head)
        if head is tree:
            tree = replaced
        else:
            head.replace(replaced)


def _head(node: exp.Union) -> bool:
    """The top of a chain ``a UNION b UNION c`` (the links below it are read with it)."""
    return bool(node.args.get("distinct")) and not (
        isinstance(node.parent, exp.Union) and node.parent.args.get("distinct"))


def _qualifies(node: exp.Union) -> bool:
    branches = _links(node) if not _extra(node, allowed=set(_MOVED)) else None
    return branches is not None and all(_lists_values(b) for b in branches)


def _as_distinct(node: exp.Union) -> exp.Select:
    branches = _links(node) or []
    inner: exp.Expr = branches[0]
    for branch in branches[1:]:
        inner = exp.Union(this=inner, expression=branch, distinct=False)
    outer = exp.select(exp.Star()).distinct().from_(exp.Subquery(this=inner))
    for arg in _MOVED:
        if node.args.get(arg) is not None:
            outer.set(arg, node.args[arg])
    return outer


def _links(node: exp.Union) -> list[exp.Select] | None:
    left, right = _branches(node.left), _branches(node.right)
    return None if left is None or right is None else left + right


def _branches(node: exp.Expr) -> list[exp.Select] | None:
    """The SELECTs of a chain of UNIONs (left-deep, as sqlglot parses ``a UNION b UNION c``);
    None when a link has its own ORDER BY, LIMIT or CTEs, or a branch is no plain SELECT."""
    if isinstance(node, exp.Select):
        return [node]
    if not isinstance(node, exp.Union) or _extra(node, allowed=set()):
        return None
    return _links(node)


def _extra(node: exp.Union, *, allowed: set[str]) -> bool:
    known = {"this", "expression", "distinct", *allowed}
    return any(v for k, v in node.args.items() if k not in known)


def _lists_values(select: exp.Select) -> bool:
    if not (select.args.get("group") or select.args.get("distinct")):
        return False
    return not any(p.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Select)
                   for p in select.expressions)
