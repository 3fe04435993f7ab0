"""Rewrite the checked tree into the SQL that runs: pure ``exp.Expr -> exp.Expr`` passes.

- ``thresholds``: every aggregation across people counts the people behind each row (and behind
  each conditional aggregate); intermediate ones keep only rows with enough, the final one
  outputs the count as ``__cr_n`` for the release stage to suppress and count.
- ``propagate_people``: every relation of people's rows carries ``__cr_uid`` so the next
  aggregation can count people even when the analyst did not project user_key.
- ``neutralize_errors``: casts become TRY_CAST and arithmetic that can raise is wrapped in
  TRY(...), so no run-time error depends on one person's data.

``verify_rewrite`` re-checks the result: every aggregation across people is thresholded.
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import Mode, QueryShape, SelectPlan

PEOPLE = "__cr_n"
UID = "__cr_uid"
_RAISING = (exp.IntDiv, exp.Mod, exp.Pow, exp.Mul, exp.Add, exp.Sub, exp.Neg, exp.DateFromParts)


def people_count(plan: SelectPlan) -> exp.Expr:
    """COUNT(DISTINCT person), the smallest over the select's conditional aggregates too."""
    assert plan.uid_expr is not None
    base = exp.Count(this=exp.Distinct(expressions=[plan.uid_expr.copy()]))
    counts: list[exp.Expr] = [base]
    for support in plan.supports:
        counts.append(exp.Filter(this=base.copy(), expression=exp.Where(this=support.copy())))
    # A plain LEAST: sqlglot's exp.Least renders NULL-handling CASEs that repeat each count.
    return counts[0] if len(counts) == 1 else exp.Anonymous(this="LEAST", expressions=counts)


def thresholds(tree: exp.Expr, shape: QueryShape, *, min_users: int) -> exp.Expr:
    for select in list(tree.find_all(exp.Select)):
        plan = shape.plans[id(select)]
        if plan.mode is not Mode.ANONYMIZING:
            continue
        if plan.distinct_to_group:
            select.set("distinct", None)
            select.set("group", exp.Group(expressions=[p.unalias().copy() for p in select.expressions]))
        count = people_count(plan)
        if plan.final:
            select.append("expressions", exp.alias_(count, PEOPLE, quoted=True))
        else:
            floor = exp.GTE(this=count, expression=exp.Literal.number(min_users))
            having = select.args.get("having")
            cond = floor if having is None else exp.and_(exp.Paren(this=having.this), floor)
            select.set("having", exp.Having(this=cond))
    return tree


def propagate_people(tree: exp.Expr, shape: QueryShape) -> exp.Expr:
    for select in list(tree.find_all(exp.Select)):
        plan = shape.plans[id(select)]
        if not plan.propagate_uid or plan.uid_expr is None:
            continue
        select.append("expressions", exp.alias_(plan.uid_expr.copy(), UID, quoted=True))
        if plan.cte_alias is not None and plan.cte_alias.columns:
            plan.cte_alias.append("columns", exp.to_identifier(UID, quoted=True))
    return tree


def neutralize_errors(tree: exp.Expr) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
            return exp.TryCast(this=node.this, to=node.args["to"])
        if isinstance(node, _RAISING) and _row_level(node) and not isinstance(node.parent, exp.Try):
            if any(isinstance(n, exp.Interval) for n in node.iter_expressions()):
                return node
            return exp.Try(this=node)
        return node
    return tree.transform(fix, copy=False)


def _row_level(node: exp.Expr) -> bool:
    return not any(isinstance(n, (exp.AggFunc, exp.Window, exp.Subquery, exp.Select))
                   for n in node.walk())


def verify_rewrite(tree: exp.Expr, shape: QueryShape, *, min_users: int) -> None:
    """Every aggregation across people is thresholded; fail closed otherwise."""
    for select in tree.find_all(exp.Select):
        plan = shape.plans.get(id(select))
        if plan is None:
            raise RuntimeError("a SELECT appeared that the gate did not check")
        if plan.mode is not Mode.ANONYMIZING:
            continue
        if plan.final:
            names = [p.alias_or_name for p in select.expressions]
            ok = names and names[-1] == PEOPLE
        else:
            having = select.args.get("having")
            ok = having is not None and any(
                isinstance(n, exp.GTE) and n.expression == exp.Literal.number(min_users)
                and _is_people_count(n.this) for n in having.walk())
        if not ok:
            raise RuntimeError("an aggregation across people is not thresholded")


def _is_people_count(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous) and node.name.upper() == "LEAST":
        return all(_is_people_count(e) for e in node.expressions)
    inner = node.this if isinstance(node, exp.Filter) else node
    return isinstance(inner, exp.Count) and isinstance(inner.this, exp.Distinct)
