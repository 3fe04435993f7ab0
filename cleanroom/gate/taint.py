"""Which relations may carry a threshold's *taint*: a value withheld (NULL) inside the query, or
a row dropped, that changes what is computed from them.

An intermediate aggregation across people withholds the cells that stand on too few people
(and drops the rows that do); from there each relation computed from it carries a hidden
boolean ``__cr_w`` per row, OR-ed over joins, ``bool_or``-ed over aggregates and windows, and
the final output flags every cell computed from a tainted row (``rewrite.py``). Relations no
threshold can reach carry nothing, so most queries' SQL is unchanged.
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import Mode, SelectPlan
from cleanroom.gate.nodes import branch_selects

TAINT = "__cr_w"


def cte_body(table: exp.Table) -> exp.Expr | None:
    """The query a table reference names when it names a CTE in scope (nearest first)."""
    if table.args.get("db") or table.args.get("catalog"):
        return None
    node: exp.Expr | None = table
    while node is not None:
        parent = node.parent
        with_ = parent.args.get("with_") if parent is not None else None
        if with_ is not None:
            for cte in with_.expressions:
                if cte.alias_or_name == table.name and not _inside(table, cte):
                    return cte.this
                if _inside(table, cte):
                    break  # only the CTEs before this one are visible from its body
        node = parent
    return None


def _inside(node: exp.Expr, ancestor: exp.Expr) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent  # type: ignore[assignment]
    return False


def sources(sel: exp.Select) -> list[tuple[str, exp.Expr]]:
    """(alias, defining query) of each derived relation in FROM and JOIN."""
    found: list[tuple[str, exp.Expr]] = []
    from_ = sel.args.get("from_")
    nodes = ([from_.this] if from_ is not None else []) + [j.this for j in sel.args.get("joins") or []]
    for node in nodes:
        if isinstance(node, exp.Subquery):
            found.append((node.alias_or_name, node.this))
        elif isinstance(node, exp.Table):
            body = cte_body(node)
            if body is not None:
                found.append((node.alias_or_name, body))
    return found


def value_subqueries(sel: exp.Select) -> list[exp.Subquery]:
    """Subqueries ``sel`` uses as values or IN lists (not as relations)."""
    relations = {id(n) for n in _relation_nodes(sel)}
    return [s for s in sel.find_all(exp.Subquery)
            if s.parent_select is sel and id(s) not in relations and not _in_cte(s, sel)]


def _relation_nodes(sel: exp.Select) -> list[exp.Expr]:
    from_ = sel.args.get("from_")
    return ([from_.this] if from_ is not None else []) + [j.this for j in sel.args.get("joins") or []]


def _in_cte(node: exp.Expr, sel: exp.Select) -> bool:
    with_ = sel.args.get("with_")
    return with_ is not None and _inside(node, with_)


class TaintMap:
    """Which queries may be tainted, read before the rewrite moves nodes around: for each
    SELECT (by id), the aliases of its tainted sources and its tainted value subqueries (by the
    id of their ``exp.Subquery``, which the rewrite keeps), and which SELECTs carry ``__cr_w``."""

    def __init__(self, tree: exp.Expr, plans: dict[int, SelectPlan]) -> None:
        self.plans = plans
        self.memo: dict[int, bool] = {}
        self.sources: dict[int, list[str]] = {}
        self.values: dict[int, list[int]] = {}
        self.carry: set[int] = set()
        if not any(p.mode is Mode.ANONYMIZING and not p.final for p in plans.values()):
            return  # no intermediate aggregation across people: nothing can be tainted
        for sel in tree.find_all(exp.Select):
            self.sources[id(sel)] = [a for a, body in sources(sel) if self.may(body)]
            self.values[id(sel)] = [id(s) for s in value_subqueries(sel) if self.may(s.this)]
            for _, body in sources(sel):
                self._mark(body)
            for sub in value_subqueries(sel):
                self._mark(sub.this)

    def _mark(self, query: exp.Expr) -> None:
        if not self.may(query):
            return
        for sel in branch_selects(query):
            self.carry.add(id(sel))

    def tainted(self, sel: exp.Select) -> bool:
        return bool(self.sources.get(id(sel)) or self.values.get(id(sel)))

    def may(self, node: exp.Expr) -> bool:
        if id(node) not in self.memo:
            self.memo[id(node)] = False  # a cycle cannot taint (recursive CTEs are refused)
            self.memo[id(node)] = self._compute(node)
        return self.memo[id(node)]

    def _compute(self, node: exp.Expr) -> bool:
        if isinstance(node, exp.Subquery):
            return self.may(node.this)
        if isinstance(node, exp.SetOperation):
            return self.may(node.left) or self.may(node.right)
        if not isinstance(node, exp.Select):
            return False
        plan = self.plans.get(id(node))
        if plan is not None and plan.mode is Mode.ANONYMIZING and not plan.final:
            return True
        return (any(self.may(body) for _, body in sources(node))
                or any(self.may(s.this) for s in value_subqueries(node)))


