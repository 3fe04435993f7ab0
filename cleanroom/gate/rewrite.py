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

from dataclasses import dataclass, field

from sqlglot import exp

from cleanroom.gate import cells
from cleanroom.gate.cells import either
from cleanroom.gate.closeness import beside_records, flag_reads, met_keys, met_reader, wrap_flags
from cleanroom.gate.guard import guard, guard_condition, try_cast_all, try_casts
from cleanroom.gate.hoist import INNER, split
from cleanroom.gate.lost import LEAF, marker
from cleanroom.gate.meet import MEET, Meets, carried_records, find_meets, passed_on, summed_records
from cleanroom.gate.model import COPY_META, Mode, QueryShape, SelectPlan
from cleanroom.gate.nodes import branch_selects
from cleanroom.gate.overlap import OVERLAP, Overlap, union_input
from cleanroom.gate.passes import fill_patterns, links, pass_on, pass_through, passed_cells
from cleanroom.gate.reach import (
    PROBE,
    dropped_probe,
    fill_probes,
    final_cell_taints,
    read_taint,
)
from cleanroom.gate.sets import Siblings, sibling_aggregations
from cleanroom.gate.siblings import fill_siblings, sibling_markers
from cleanroom.gate.taint import (
    TAINT,
    Reader,
    TaintMap,
    may_taint,
    outer_sides,
    single_source,
    using_columns,
)
from cleanroom.gate.threshold import COMPARED, SKETCH, Thresholds, own_records, threshold
from cleanroom.gate.types import safe_comparisons, same_type_comparisons
from cleanroom.gate.walk import copy_tree, find_all
from cleanroom.gate.wide import bound_wide_sums

PEOPLE = "__cr_n"
UID = "__cr_uid"


def _with_subqueries(support: exp.Expr, plan: SelectPlan, copies: set[int] | None) -> exp.Expr:
    for spot in list(support.find_all(exp.Placeholder)):
        original = plan.subqueries.get(str(spot.this))
        if original is None:
            raise RuntimeError("a support refers to an unknown subquery")
        copied = _mark_copy(copy_tree(original))
        if copies is not None:
            copies.update(id(s) for s in copied.find_all(exp.Select))
        replaced = spot.replace(copied)
        support = replaced if spot is support else support
    return support


COPY = COPY_META


def _mark_copy(node: exp.Expr) -> exp.Expr:
    for sel in node.find_all(exp.Select):
        sel.meta[COPY] = True
    return node


@dataclass
class _Run:
    """What one rewrite shares between its SELECTs."""

    limits: Thresholds
    taint: TaintMap
    copies: set[int] = field(default_factory=set)  # SELECTs the rewrite added
    branches: dict[int, int] = field(default_factory=dict)  # final set operation's branches
    overlap: Overlap = field(default_factory=lambda: Overlap({}))  # rows sharing data rows
    # An aggregation a final branch only passes on (``pass_through``) -> that branch's index.
    passes: dict[int, int] = field(default_factory=dict)
    passers: set[int] = field(default_factory=set)  # the branches that pass one on
    links: set[int] = field(default_factory=set)  # SELECTs between a passer and its aggregation
    ordered: bool = False  # a final set operation with ORDER BY
    meets: Meets = field(default_factory=Meets)  # aggregations whose rows meet (``meet.py``)
    # SELECTs ordered by met values -> the flag of any of its met sources (``_keep_met_rows``)
    met_ordered: dict[int, exp.Expr] = field(default_factory=dict)
    # Aggregations a UNION ALL sets beside each other (``sets.sibling_aggregations``) -> the
    # groups of the others their rows are compared with; each one rewritten, and its records.
    siblings: dict[int, list[Siblings]] = field(default_factory=dict)
    sibling_nodes: dict[int, exp.Expr] = field(default_factory=dict)
    sibling_records: dict[int, tuple[exp.Expr, int]] = field(default_factory=dict)


def rewrite_query(shape: QueryShape, *, min_users: int) -> tuple[exp.Expr, set[int]]:
    """The SQL tree to run, and the ids of the SELECTs the rewrite added (split outers and
    copies of subqueries already rewritten)."""
    tree, copies, _ = _rewrite(shape, min_users)
    return tree, copies


def rewrite_checked(shape: QueryShape, *, min_users: int) -> tuple[exp.Expr, set[int]]:
    """``rewrite_query`` then ``verify_rewrite``, the casts and the SELECTs found in one walk
    of the rewritten tree (each walk of it was a twentieth of the gate's time)."""
    tree, copies, selects = _rewrite(shape, min_users)
    _verify(selects, shape, copies, min_users)
    return tree, copies


def _rewrite(shape: QueryShape, min_users: int) -> tuple[exp.Expr, set[int], list[exp.Select]]:
    tree = shape.tree
    run = _run(shape, min_users, _typed_comparisons(shape))
    for index, branch in enumerate(final_branches(shape)):
        run.branches[id(branch)] = index
        shape.plans[id(branch)].final = True  # released as it is, like a final SELECT
        chain = links(shape, branch)
        if chain:
            run.passes[id(chain[-1])] = index
            run.passers.add(id(branch))
            run.links.update(id(s) for s in chain[:-1])
    for select in _selects(tree):
        replacement = _rewrite_in_place(select, shape.plans[id(select)], run)
        if select is tree:
            tree = replacement
    fill_patterns(run.overlap)
    fill_siblings(tree, run.sibling_nodes, run.sibling_records, run.limits.min_users, run.copies)
    tree = fill_probes(tree, run.taint.probes, run.taint.leaf_nodes)
    bound_wide_sums(tree, shape.types or {})  # no SUM may overflow on one person's rows
    found = find_all(tree, exp.Cast, exp.Select)
    try_cast_all([n for n in found if isinstance(n, exp.Cast)])
    # A cast becomes a TRY_CAST over the same child: the SELECTs stay where they were found.
    return tree, run.copies, [n for n in found if isinstance(n, exp.Select)]


def _crosses(sel: exp.Select, plan: SelectPlan, run: _Run, branch: int | None) -> Overlap | None:
    """Whether this aggregation's rows may share data rows with other released rows: a branch
    of a final set operation, or a final aggregation over a UNION ALL input."""
    if branch is not None or id(sel) in run.passes:
        run.overlap.strict = True
        run.overlap.ordered = run.ordered
        return run.overlap
    source = sel.args.get("from_")
    if not plan.final or source is None or sel.args.get("joins"):
        return None
    return run.overlap if union_input(run.overlap, source.this) is not None else None


def final_branches(shape: QueryShape) -> list[exp.Select]:
    """The branches of a final set operation that aggregates people, passes on an aggregation
    or reads one (a threshold inside the query may have withheld what a branch reads): each is
    released like a final SELECT (its rows thresholded, counted and flagged cell by cell)."""
    if not isinstance(shape.tree, exp.SetOperation):
        return []
    found = branch_selects(shape.tree)
    plans = [shape.plans.get(id(s)) for s in found]
    memo: dict[int, bool] = {}
    if not any(p is not None and p.mode is Mode.ANONYMIZING for p in plans) and not any(
            pass_through(shape, s) is not None or may_taint(s, shape.plans, memo)
            for s in found):
        return []
    return found


def _typed_comparisons(shape: QueryShape) -> dict[int, list[str | None]]:
    """Comparisons that cannot raise (``types.py``) keep only their operands guarded; the
    output types of each set operation (``lost.py`` compares its keys only where known)."""
    if not shape.types:
        return {}
    typed = safe_comparisons(shape.tree, shape.types)
    for plan in shape.plans.values() if typed else ():
        plan.atoms.safe |= typed
    return typed.sets


def _run(shape: QueryShape, min_users: int, sets: dict[int, list[str | None]]) -> _Run:
    ctes = {c.alias_or_name: c for c in shape.tree.find_all(exp.CTE)}
    ordered = isinstance(shape.tree, exp.SetOperation) and shape.tree.args.get("order") is not None
    same = same_type_comparisons(shape.tree, shape.types) if shape.types else set()
    taint = TaintMap(shape.tree, shape.plans, same_types=same, sets=sets)
    return _Run(Thresholds(min_users, (min_users + 1) // 2), taint,
                overlap=Overlap(ctes), ordered=ordered, meets=find_meets(shape.tree, shape.plans),
                siblings=sibling_aggregations(shape, sets))


def _selects(tree: exp.Expr) -> list[exp.Select]:
    # Breadth-first order reversed: every SELECT is rewritten after the ones inside it.
    return list(reversed(find_all(tree, exp.Select)))


def _rewrite_in_place(select: exp.Select, plan: SelectPlan, run: _Run) -> exp.Select:
    spot = exp.Placeholder()
    parent = select.parent
    if parent is not None:
        select.replace(spot)  # the split re-parents the select: remember where it stood
    replacement = _rewrite_select(select, plan, run)
    if replacement is not select:
        run.copies.add(id(replacement))
    if id(select) in run.siblings:  # its rows are compared with its siblings' (``fill_siblings``)
        run.sibling_nodes[id(select)] = replacement
    if id(select) in run.taint.leaf_ids:  # probed where its dropped rows are read (lost.py)
        run.taint.leaf_nodes[f"{LEAF}{id(select)}"] = replacement
    if parent is not None:
        spot.replace(replacement)
    return replacement


def _rewrite_select(sel: exp.Select, plan: SelectPlan, run: _Run) -> exp.Select:
    taint = _row_taint(sel, run)
    carry = id(sel) in run.taint.carry
    branch = run.branches.get(id(sel))
    if plan.mode is Mode.ANON:
        done = _rewrite_anon(sel, plan, taint, run, carry=carry, branch=branch)
        wrap_flags(sel, run.meets)  # after every reader of its FROM (``closeness.flag_reads``)
        return done
    safe = frozenset(plan.atoms.safe)
    _guard_rows(sel, safe)
    _keep_met_rows(sel, run)
    hidden: list[exp.Expr] = []
    if plan.propagate_uid and plan.uid_expr is not None:
        hidden.append(exp.alias_(copy_tree(plan.uid_expr), UID, quoted=True, copy=False))
        _name_hidden(plan, UID)
    for name, value in plan.sides:  # sides.py: whether a person has rows on each side
        side = _with_subqueries(copy_tree(value), plan, run.copies)  # guarded already
        hidden.append(exp.alias_(side, name, quoted=True, copy=False))
        _name_hidden(plan, name)
    if carry and plan.mode is not Mode.ANONYMIZING:
        value = taint if taint is not None else exp.false()
        if plan.mode is Mode.PER_USER:
            value = cells.bool_or(value)
        hidden.append(exp.alias_(value, TAINT, quoted=True))
        _name_hidden(plan, TAINT)
    if plan.mode is Mode.ANONYMIZING and plan.distinct_to_group:
        sel.set("distinct", None)
    if not _needs_split(sel, plan):
        _guard_values(sel, safe)
        sel.set("expressions", sel.expressions + hidden)
        return sel
    counts, cross = None, _crosses(sel, plan, run, branch)
    if plan.mode is Mode.ANONYMIZING:
        fill = lambda c: _with_subqueries(c, plan, run.copies)  # noqa: E731
        counts = cells.plan_counts(plan, cells.guard_condition(plan, fill), _averages(sel, plan))
    names: dict[str, int] = {}
    keyed = _outer_keys(sel, run) if plan.mode is Mode.ANONYMIZING else frozenset()
    # Read before the split renames the projections: the keys' values, for reads by key.
    siblings = sibling_markers(run.siblings.get(id(sel), []), sel)
    outer = split(sel, plan, hidden, aggregates=names)
    for node in hidden:
        outer.append("expressions", exp.column(node.alias_or_name, table=INNER, quoted=True))
    if counts is not None:
        # Read through an outer join, a relation that drops any row is tainted (see taint.py);
        # joined to people's rows, any row with non-NULL keys (a NULL key meets no row).
        limits = Thresholds(run.limits.min_users, 1,
                            partition=run.taint.partitions.get(id(sel)),
                            wide_floor=run.limits.floor,
                            drops=id(sel) in run.taint.keyed_leaves) \
            if id(sel) in run.taint.outer_read \
            else Thresholds(run.limits.min_users, 1, keyed=True) \
            if id(sel) in run.taint.group_read else run.limits
        passed = run.passes.get(id(sel))
        threshold(sel, outer, plan, counts, names, limits=limits, taint=taint, branch=branch,
                  overlap=cross, passed=passed,
                  own=id(sel) in run.taint.rowwise_bodies, keyed=keyed,
                  meet=id(sel) in run.meets.bodies, beside=_beside(sel, run),
                  siblings=siblings)
        if siblings:
            run.sibling_records[id(sel)] = own_records(counts)
    return outer


def _beside(sel: exp.Select, run: _Run) -> list[exp.Expr] | None:
    """The records of the value subqueries the aggregation reads (``meet.beside_records``)."""
    if id(sel) not in run.meets.besides:
        return None
    return beside_records(id(sel), run.meets, run.limits.min_users, run.copies)


def _outer_keys(sel: exp.Select, run: _Run) -> frozenset[int]:
    """Projections that read a tainted source on the NULL side of an outer join (an
    unqualified name: any source), by index."""
    sides = outer_sides(sel) & set(run.taint.sources.get(id(sel), []))
    if not sides:
        return frozenset()
    return frozenset(i for i, p in enumerate(sel.expressions) if any(
        not c.table or c.table in sides for c in p.find_all(exp.Column)))


def _averages(sel: exp.Select, plan: SelectPlan) -> set[int]:
    found: set[int] = set()
    if not plan.requirements:
        return found
    for node in sel.walk():
        if id(node) in plan.atoms.aggregates:
            func = node.this if isinstance(node, exp.Filter) else node
            if isinstance(func, exp.Avg) or (isinstance(func, exp.Anonymous)
                                             and func.name.lower() == "mean"):
                found.add(id(node))
    return found


def _name_hidden(plan: SelectPlan, name: str) -> None:
    if plan.cte_alias is not None and plan.cte_alias.columns:
        plan.cte_alias.append("columns", exp.to_identifier(name, quoted=True))


def _needs_split(sel: exp.Select, plan: SelectPlan) -> bool:
    return plan.mode in (Mode.ANONYMIZING, Mode.PER_USER) or bool(plan.atoms.windows)


# -- taint -------------------------------------------------------------------------------
def _row_taint(sel: exp.Select, run: _Run) -> exp.Expr | None:
    """Whether a row of ``sel``'s sources is tainted, before ``sel`` computes anything."""
    found: list[exp.Expr] = [_read(sel, a, run) for a in run.taint.sources.get(id(sel), [])]
    wanted = set(run.taint.values.get(id(sel), []))
    for sub in [s for s in sel.find_all(exp.Subquery) if id(s) in wanted] if wanted else []:
        found.append(_value_taint(sub, run))
        met = _met(sel, str(id(sub)), run)
        if met is not None:
            found.append(met)
    return either(*found) if found else None


def _read(sel: exp.Select, alias: str, run: _Run) -> exp.Expr:
    read = read_taint(sel, alias, run.taint.holders.get((id(sel), alias)), run.taint.probes,
                      rowwise=(id(sel), alias) in run.taint.rowwise)
    met = _met(sel, alias, run)
    return read if met is None else either(read, met)


def _keep_met_rows(sel: exp.Select, run: _Run) -> None:
    """A condition that reads the values of sources that meet (``meet.py``) keeps every row
    where one is flagged: whether ``a.n - b.n = 7`` keeps a row would tell the difference the
    flag withholds. Such a row is tainted whole (the condition reads a tainted source)."""
    flags = _met_flags(sel, run)
    if not flags:
        return
    clean = run.taint.clean.get(id(sel), {})
    reads = met_reader(sel, clean, set(flags))
    reads_on = met_reader(sel, clean, set(flags), on=True)
    anyone = lambda: either(*[copy_tree(f) for f in flags.values()])  # noqa: E731
    where = sel.args.get("where")
    if where is not None and reads(where.this):
        where.set("this", either(exp.Paren(this=where.this), anyone()))
    for join in sel.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None and reads_on(on):
            join.set("on", either(exp.Paren(this=on), anyone()))
    grouped = _aggregates(sel)
    for clause in ("having", "qualify"):
        found = sel.args.get(clause)
        if found is not None and reads(found.this):
            kept = cells.bool_or(anyone()) if grouped else anyone()
            found.set("this", either(exp.Paren(this=found.this), kept))
    order = sel.args.get("order")
    read = met_keys(Reader(clean, outer_sides(sel), using_columns(sel), set(flags),
                           only=single_source(sel)), set(flags))
    for ordered in order.expressions if order is not None else ():
        # Where a flag stands the key is NULL: which row comes first (or is kept by LIMIT)
        # does not follow the values the flag withholds; its cells take the row's flag.
        key = _order_key(sel, ordered.this)
        hit = read(key)
        if hit:
            some = either(*[copy_tree(flags[h]) for h in sorted(hit)])
            flag = cells.bool_or(some) if grouped else some
            run.met_ordered[id(sel)] = copy_tree(flag)
            ordered.set("this", exp.Case(ifs=[exp.If(this=flag, true=exp.null())],
                                         default=key))


def _order_key(sel: exp.Select, key: exp.Expr) -> exp.Expr:
    """An ORDER BY key as an expression: ``ORDER BY 2`` is the second projection's, ``ORDER
    BY total`` the projection's so named (the alias comes first, as in DuckDB)."""
    if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(
            sel.expressions):
        return copy_tree(sel.expressions[int(key.name) - 1].unalias())
    if isinstance(key, exp.Column) and not key.table:
        named = [p for p in sel.expressions if isinstance(p, exp.Alias)
                 and p.alias_or_name.lower() == key.name.lower()]
        if len(named) == 1:
            return copy_tree(named[0].unalias())
    return key


def _met(sel: exp.Select, key: str, run: _Run) -> exp.Expr | None:
    """The source's flag where intermediate aggregations meet in ``sel`` (``meet.py``)."""
    return _met_flags(sel, run).get(key)


def _met_flags(sel: exp.Select, run: _Run) -> dict[str, exp.Expr]:
    """Each met source's flag, read once per row where ``sel`` is not split."""
    plan = run.taint.plans.get(id(sel))
    return flag_reads(sel, run.meets, run.limits.min_users, run.copies,
                      wrap=plan is not None and plan.mode is Mode.ANON)


def _value_taint(sub: exp.Subquery, run: _Run) -> exp.Expr:
    """A subquery used as a value is tainted when any of its rows is; it then gives up its
    hidden column (it must stay one column)."""
    copied = _mark_copy(copy_tree(sub.this))
    run.copies.update(id(s) for s in copied.find_all(exp.Select))
    for branch in branch_selects(sub.this):
        if branch.expressions and branch.expressions[-1].alias_or_name == TAINT:
            branch.expressions.pop()
    probe = exp.select(cells.bool_or(exp.column(TAINT, quoted=True))).from_(
        exp.Subquery(this=copied, alias=exp.TableAlias(this=exp.to_identifier("__cr_tv"))))
    probe.meta[COPY] = True
    # An IN list that lost every row has none left to carry the flag: read its aggregation
    # before the threshold filters it, as on an outer join's NULL side.
    dropped = dropped_probe(sub.this) if isinstance(sub.parent, exp.In) else None
    return either(exp.Subquery(this=probe), dropped) if dropped is not None \
        else exp.Subquery(this=probe)


def _rewrite_anon(sel: exp.Select, plan: SelectPlan, taint: exp.Expr | None, run: _Run, *,
                  carry: bool, branch: int | None) -> exp.Select:
    """Over thresholded rows: nothing to threshold, only taint to pass on (or to flag), and
    the people and cells of an aggregation a final branch passes on through ``sel``."""
    keyed = [marker(leaf, keys) for leaf, keys in run.taint.lost.get(id(sel), []) if keys]
    if keyed:  # a row's keys that some aggregation dropped a row of (lost.py)
        taint = either(taint, *keyed) if taint is not None else either(*keyed)
    if id(sel) in run.links:
        for node in pass_on(sel, run.overlap):
            sel.append("expressions", node)
            _name_hidden(plan, node.alias_or_name)
    if id(sel) in run.meets.passers:
        sel.append("expressions", passed_on(run.meets.passers[id(sel)]))
    if id(sel) in run.meets.carriers:
        sel.append("expressions", exp.alias_(carried_records(run.meets.carriers[id(sel)]),
                                              MEET, quoted=True, copy=False))
    if id(sel) in run.meets.summers:
        sel.append("expressions", exp.alias_(summed_records(
            run.meets.summers[id(sel)], run.limits.min_users), MEET, quoted=True, copy=False))
    _keep_met_rows(sel, run)
    if not (carry or branch is not None or (plan.final and taint is not None)):
        return sel
    value = taint if taint is not None else exp.false()
    if _aggregates(sel):
        value = cells.bool_or(value)
        if taint is not None and not sel.args.get("group"):
            value = _with_lost_rows(sel, value, run)
    if _own(sel, exp.Window) or sel.args.get("distinct"):
        # Windows read every row, and DISTINCT must not split rows by their taint.
        value = cells.bool_or(value, window=True)
    lost = [marker(leaf) for leaf, keys in run.taint.lost.get(id(sel), []) if keys is None]
    if lost:  # drops no row of its sources carries (lost.py)
        value = either(value, *lost)
    if not (plan.final or branch is not None):
        sel.append("expressions", exp.alias_(value, TAINT, quoted=True))
        return sel
    width = len(sel.expressions)
    reach = {a: _read(sel, a, run) for a in run.taint.sources.get(id(sel), [])}
    # A key read from a thresholded row stays exact (in a final SELECT or a branch of one).
    per_cell = final_cell_taints(sel, run.taint, reach, value) if taint is not None else None
    ordered = run.met_ordered.get(id(sel))
    if per_cell is not None and ordered is not None:
        # The row's place follows its met values: every cell takes their flags.
        per_cell = [either(c, copy_tree(ordered)) for c in per_cell]
    for j in range(width):
        # Each cell's taint is its own fresh tree; the row's one is shared by every cell
        # (placed nowhere else: the last cell takes it).
        flag = per_cell[j] if per_cell is not None else value if j == width - 1 \
            else copy_tree(value)
        sel.append("expressions", exp.alias_(flag, f"__cr_w{j}", quoted=True, copy=False))
    if branch is not None:
        source = sel.args["from_"].this.alias_or_name if id(sel) in run.passers else None
        # A row beside aggregated ones, standing on nobody's data, or on an aggregation's.
        nobody = exp.Cast(this=exp.null(), to=exp.DataType.build("BIGINT[]"))
        hashes = exp.Cast(this=exp.null(), to=exp.DataType.build("UBIGINT[][]", dialect="duckdb"))
        sel.append("expressions", exp.alias_(
            nobody if source is None else exp.column(COMPARED, table=source, quoted=True),
            COMPARED, quoted=True, copy=False))
        sel.append("expressions", exp.alias_(
            hashes if source is None else exp.column(SKETCH, table=source, quoted=True),
            SKETCH, quoted=True, copy=False))
        cross = exp.null() if source is None else passed_cells(sel, source, width, run.overlap)
        sel.append("expressions", exp.alias_(cross, OVERLAP, quoted=True, copy=False))
        sel.append("expressions", exp.alias_(exp.Literal.number(run.limits.min_users), PEOPLE,
                                             quoted=True, copy=False))
    return sel


def _with_lost_rows(sel: exp.Select, value: exp.Expr, run: _Run) -> exp.Expr:
    """A total over a source that combines its rows (``taint._combines_rows``, any drop
    taints it) that lost *every* row has no row left to carry the flag: ``COUNT(*)`` would be
    0, exact. So its aggregation is read before its threshold filters it, as on an outer
    join's NULL side (``reach.dropped_probe``, filled in at the end): the same existence bit
    the flag of any surviving row carries."""
    found = [value]
    for alias in run.taint.sources.get(id(sel), []):
        holder = run.taint.holders.get((id(sel), alias))
        if holder is None:
            continue
        run.taint.probes[str(id(holder))] = holder
        found.append(exp.Coalesce(this=exp.Anonymous(this=PROBE, expressions=[
            exp.Literal.string(str(id(holder))), exp.Literal.string("lost")]),
            expressions=[exp.false()]))
    return either(*found) if len(found) > 1 else value


def _aggregates(sel: exp.Select) -> bool:
    if sel.args.get("group") or sel.args.get("having"):
        return True
    return any(not isinstance(n.parent, exp.Window) for n in _own(sel, exp.AggFunc))


def _own(sel: exp.Select, kind: type[exp.Expr]) -> list[exp.Expr]:
    """Nodes of ``kind`` in ``sel``'s projections and QUALIFY, not inside a subquery."""
    clauses = [*sel.expressions, sel.args.get("qualify")]
    return [n for c in clauses if c is not None
            for n in c.walk(prune=lambda n: isinstance(n, exp.Subquery)) if isinstance(n, kind)]


def _guard_rows(sel: exp.Select, safe: frozenset[int]) -> None:
    where = sel.args.get("where")
    if where is not None:
        where.set("this", guard_condition(where.this, safe))
    for join in sel.args.get("joins") or []:
        if join.args.get("on") is not None:
            join.set("on", guard_condition(join.args["on"], safe))


def _guard_values(sel: exp.Select, safe: frozenset[int]) -> None:
    for proj in sel.expressions:
        if isinstance(proj, exp.Alias):
            proj.set("this", guard(proj.this, safe))
        else:
            proj.replace(guard(proj, safe))
    for clause in ("qualify", "having"):
        if sel.args.get(clause) is not None:
            sel.args[clause].set("this", guard_condition(sel.args[clause].this, safe))
    for ordered in (sel.args["order"].expressions if sel.args.get("order") else []):
        ordered.set("this", guard(ordered.this, safe))


def verify_rewrite(tree: exp.Expr, shape: QueryShape, outers: set[int], *, min_users: int) -> None:
    """Every aggregation across people is thresholded; fail closed otherwise."""
    _verify(find_all(tree, exp.Select), shape, outers, min_users)


def _verify(selects: list[exp.Select], shape: QueryShape, outers: set[int], min_users: int
            ) -> None:
    for select in selects:
        if id(select) in outers or select.meta.get(COPY):
            continue
        plan = shape.plans.get(id(select))
        if plan is None:
            raise RuntimeError("a SELECT appeared that the gate did not check")
        if plan.mode is Mode.ANONYMIZING and not _thresholded(select, plan, min_users):
            raise RuntimeError("an aggregation across people is not thresholded")


def _thresholded(inner: exp.Select, plan: SelectPlan, min_users: int) -> bool:
    counted = [p for p in inner.expressions if p.alias_or_name == PEOPLE]
    rows = plan.one_row_per_person and len(counted) == 1 and counted[0].unalias() == exp.Count(
        this=exp.Star())  # every row another person (people.one_row_per_person)
    if len(counted) != 1 or not (rows or _is_people_count(counted[0].unalias())):
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
    run = _run(shape, min_users, _typed_comparisons(shape))
    for select in _selects(tree):
        if select is not tree:
            _rewrite_in_place(select, shape.plans[id(select)], run)
    fill_siblings(tree, run.sibling_nodes, run.sibling_records, run.limits.min_users, run.copies)
    fill_probes(tree, run.taint.probes, run.taint.leaf_nodes)
    # The inner SELECTs' sums; the DP stage's own aggregation of the final one clamps them.
    bound_wide_sums(tree, shape.types or {}, inner_only=True)
    _guard_rows(tree, frozenset(shape.plans[id(tree)].atoms.safe))
    try_casts(tree)  # in place: the final SELECT stays the node the DP stage reads
    return tree
