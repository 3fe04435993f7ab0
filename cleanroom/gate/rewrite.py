"""Rewrite the checked tree into the SQL that runs: one pass per SELECT, innermost first.

- An aggregation across people counts the people behind each row (and behind each conditional
  aggregate: its *supports*). An intermediate one keeps only rows with enough; the final one
  outputs the count as ``__cr_n`` for the release stage to suppress and count. HAVING on the
  final one never hides a row that is below the threshold (``HAVING c OR __cr_n < k``), so
  the count of suppressed rows cannot reveal what HAVING found in a small group.
- A relation of people's rows carries ``__cr_uid`` so the next aggregation can count people
  even when the analyst did not project user_key.
- Every SELECT over people's rows runs its row-level expressions inside TRY and, when it
  aggregates or windows, is split so the expressions over aggregates run inside TRY too
  (``hoist.py``, ``guard.py``). Every CAST becomes TRY_CAST.

``verify_rewrite`` re-checks the result: every aggregation across people is thresholded.
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.guard import guard, try_casts
from cleanroom.gate.hoist import INNER, split
from cleanroom.gate.model import Mode, QueryShape, SelectPlan

PEOPLE = "__cr_n"
UID = "__cr_uid"


def people_count(plan: SelectPlan, copies: set[int] | None = None) -> exp.Expr:
    """COUNT(DISTINCT person), the smallest over the select's aggregates' requirements too.

    A support counts the same people over a subset of the rows, so it is never larger than
    the plain count: with supports, the plain count is left out (one distinct count less). A
    part that stands on nobody imposes nothing (NULL, which LEAST skips); one that stands on a
    few makes the row's count that few. Subqueries in a requirement are copies of ones already
    rewritten (their ids go to ``copies``)."""
    assert plan.uid_expr is not None
    base = exp.Count(this=exp.Distinct(expressions=[plan.uid_expr.copy()]))
    counts: list[exp.Expr] = []
    for req in plan.supports:
        condition = guard(_with_subqueries(req.condition.copy(), plan, copies),
                          frozenset(plan.atoms.safe))
        count: exp.Expr = exp.Filter(this=base.copy(), expression=exp.Where(this=condition))
        if req.zero_ok:
            count = exp.Nullif(this=count, expression=exp.Literal.number(0))
        counts.append(count)
    if not any(not req.zero_ok for req in plan.supports):
        counts.insert(0, base)
    # A plain LEAST: sqlglot's exp.Least renders NULL-handling CASEs that repeat each count.
    return counts[0] if len(counts) == 1 else exp.Anonymous(this="LEAST", expressions=counts)


def _with_subqueries(support: exp.Expr, plan: SelectPlan, copies: set[int] | None) -> exp.Expr:
    for spot in list(support.find_all(exp.Placeholder)):
        original = plan.subqueries.get(str(spot.this))
        if original is None:
            raise RuntimeError("a support refers to an unknown subquery")
        copied = original.copy()
        if copies is not None:
            copies.update(id(s) for s in copied.find_all(exp.Select))
        replaced = spot.replace(copied)
        support = replaced if spot is support else support
    return support


def rewrite_query(shape: QueryShape, *, min_users: int) -> tuple[exp.Expr, set[int]]:
    """The SQL tree to run, and the ids of the SELECTs the rewrite added (split outers and
    copies of subqueries already rewritten)."""
    tree = shape.tree
    outers: set[int] = set()
    # Breadth-first order reversed: every SELECT is rewritten after the ones inside it.
    for select in reversed(list(tree.find_all(exp.Select))):
        plan = shape.plans[id(select)]
        spot = exp.Placeholder()
        if select is not tree:
            select.replace(spot)  # the split re-parents the select: remember where it stood
        replacement = _rewrite_select(select, plan, outers, min_users=min_users)
        if replacement is not select:
            outers.add(id(replacement))
        if select is tree:
            tree = replacement
        else:
            spot.replace(replacement)
    return try_casts(tree), outers


def _rewrite_select(sel: exp.Select, plan: SelectPlan, copies: set[int], *,
                    min_users: int) -> exp.Select:
    if plan.mode is Mode.ANON:
        return sel
    safe = frozenset(plan.atoms.safe)
    _guard_rows(sel, safe)
    hidden: list[exp.Expr] = []
    if plan.propagate_uid and plan.uid_expr is not None:
        hidden.append(exp.alias_(plan.uid_expr.copy(), UID, quoted=True))
        if plan.cte_alias is not None and plan.cte_alias.columns:
            plan.cte_alias.append("columns", exp.to_identifier(UID, quoted=True))
    if plan.mode is Mode.ANONYMIZING:
        hidden.append(exp.alias_(people_count(plan, copies), PEOPLE, quoted=True, copy=False))
        if plan.distinct_to_group:
            sel.set("distinct", None)
    if not _needs_split(sel, plan):
        _guard_values(sel, safe)
        sel.set("expressions", sel.expressions + hidden)
        return sel
    outer = split(sel, plan, hidden)
    for node in hidden:
        outer.append("expressions", exp.column(node.alias_or_name, table=INNER, quoted=True))
    if plan.mode is Mode.ANONYMIZING:
        _threshold(outer, plan, min_users=min_users)
    return outer


def _needs_split(sel: exp.Select, plan: SelectPlan) -> bool:
    return plan.mode in (Mode.ANONYMIZING, Mode.PER_USER) or bool(plan.atoms.windows)


def _guard_rows(sel: exp.Select, safe: frozenset[int]) -> None:
    where = sel.args.get("where")
    if where is not None:
        where.set("this", guard(where.this, safe))
    for join in sel.args.get("joins") or []:
        if join.args.get("on") is not None:
            join.set("on", guard(join.args["on"], safe))


def _guard_values(sel: exp.Select, safe: frozenset[int]) -> None:
    for proj in sel.expressions:
        if isinstance(proj, exp.Alias):
            proj.set("this", guard(proj.this, safe))
        else:
            proj.replace(guard(proj, safe))
    for clause in ("qualify", "having"):
        if sel.args.get(clause) is not None:
            sel.args[clause].set("this", guard(sel.args[clause].this, safe))
    for ordered in (sel.args["order"].expressions if sel.args.get("order") else []):
        ordered.set("this", guard(ordered.this, safe))


def _threshold(outer: exp.Select, plan: SelectPlan, *, min_users: int) -> None:
    people = exp.column(PEOPLE, table=INNER, quoted=True)
    where = outer.args.get("where")
    if plan.final:
        # The final rows below the threshold are all kept, to be suppressed and counted.
        if where is not None:
            below = exp.LT(this=people, expression=exp.Literal.number(min_users))
            outer.set("where", exp.Where(this=exp.or_(exp.Paren(this=where.this), below)))
        return
    outer.expressions.pop()  # an intermediate relation does not pass its count on
    floor = exp.GTE(this=people, expression=exp.Literal.number(min_users))
    condition = floor if where is None else exp.and_(floor, exp.Paren(this=where.this))
    outer.set("where", exp.Where(this=condition))


def verify_rewrite(tree: exp.Expr, shape: QueryShape, outers: set[int], *, min_users: int) -> None:
    """Every aggregation across people is thresholded; fail closed otherwise."""
    for select in tree.find_all(exp.Select):
        if id(select) in outers:
            continue
        plan = shape.plans.get(id(select))
        if plan is None:
            raise RuntimeError("a SELECT appeared that the gate did not check")
        if plan.mode is Mode.ANONYMIZING and not _thresholded(select, plan, min_users):
            raise RuntimeError("an aggregation across people is not thresholded")


def _thresholded(inner: exp.Select, plan: SelectPlan, min_users: int) -> bool:
    counted = [p for p in inner.expressions if p.alias_or_name == PEOPLE]
    if len(counted) != 1 or not _is_people_count(counted[0].unalias()):
        return False
    wrapper = inner.parent
    outer = inner.parent_select
    if not isinstance(wrapper, exp.Subquery) or wrapper.alias != INNER or outer is None:
        return False
    if plan.final:
        return outer.expressions[-1].alias_or_name == PEOPLE
    where = outer.args.get("where")
    first = where.this.flatten() if where is not None and isinstance(where.this, exp.And) else [
        where.this if where is not None else None]
    return any(isinstance(n, exp.GTE) and n.expression == exp.Literal.number(min_users)
               and isinstance(n.this, exp.Column) and n.this.name == PEOPLE for n in first)


def _is_people_count(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous) and node.name.upper() == "LEAST":
        return all(_is_people_count(e) for e in node.expressions)
    if isinstance(node, exp.Nullif):
        return _is_people_count(node.this)
    inner = node.this if isinstance(node, exp.Filter) else node
    return isinstance(inner, exp.Count) and isinstance(inner.this, exp.Distinct)


# -- for the differential-privacy stage, which rewrites the final SELECT itself ----------
def rewrite_inner(shape: QueryShape, *, min_users: int) -> exp.Select:
    """Rewrite every SELECT but the final one, as ``rewrite_query`` does, and guard the final
    one's WHERE and JOIN conditions: the DP stage builds its own aggregation from them."""
    tree = shape.tree
    assert isinstance(tree, exp.Select)
    outers: set[int] = set()
    for select in reversed(list(tree.find_all(exp.Select))):
        if select is tree:
            continue
        spot = exp.Placeholder()
        select.replace(spot)
        replacement = _rewrite_select(select, shape.plans[id(select)], outers, min_users=min_users)
        spot.replace(replacement)
    _guard_rows(tree, frozenset(shape.plans[id(tree)].atoms.safe))
    try_casts(tree)  # in place: the final SELECT stays the node the DP stage reads
    return tree
