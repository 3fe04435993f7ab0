"""Rows a reader never sees: the intermediate aggregations whose dropped rows reach it.

A SELECT over thresholded rows that combines them (``taint._combines_rows``) reads each of its
source's rows with that row's flag. A row the threshold dropped carries no flag, so the flag
must come from a row that stands: for a source that is one aggregation, its other rows carry
its drop flag (``__cr_d``), and a total over it probes it (``rewrite._with_lost_rows``). Two
shapes leave no such row (``tests/gate/test_lost_rows.py``):

- a total over a relation that *passes on* an aggregation (``SELECT SUM(n) FROM (SELECT n FROM
  b)``) whose every row was dropped: ``SUM`` is NULL, presented as exact where raw DuckDB has
  the count;
- a ``UNION ALL`` (at any depth) whose branches read different aggregations: a branch that
  dropped a group taints its own rows, but the reader's group of that key may hold another
  branch's rows only (per-channel counts of everyone but the 7-person channel, UNION ALL the
  same counts of a 3-person campaign, re-summed by channel: each channel short of the
  campaign's rows, exact).

For those, each such aggregation (a *leaf*: reached through SELECTs over thresholded rows,
derived tables, CTEs, joins and set operations) is probed for whether it dropped any row,
``(SELECT bool_or(__cr_d) FROM <its inner SELECT>)`` (``reach.dropped_probe``), and the
reader's flag ORs every probe: the existence bit that any outer join over the same
aggregation already carries.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cleanroom.gate.model import COPY_META, Mode, SelectPlan
from cleanroom.gate.nodes import branch_selects
from cleanroom.gate.taint import (
    _inside,
    _named_projections,
    _output_names,
    cte_of,
    single_source,
    sources,
)
from cleanroom.gate.walk import copy_tree, sql_text

LEAF = "leaf"  # the prefix of a leaf's probe name (``reach.fill_probes``)
DROP_ROW = "__cr_dk"  # in a keyed leaf's inner SELECT: this row was dropped


Names = tuple[str, ...] | None  # key columns, in the reader's order (None: not followed)


def leaves(node: exp.Expr, plans: dict[int, SelectPlan], may: Callable[[exp.Expr], bool], *,
           names: Names = None, sets: dict[int, list[str | None]] | None = None
           ) -> list[tuple[exp.Select, bool, Names]]:
    """The intermediate aggregations across people whose rows reach ``node``, each with
    whether a set operation lies between and, for key columns ``names`` of ``node``, the
    leaf's own names of them: followed through SELECTs that pass their one source's rows on
    (each key a column as it is) and set operations whose key columns have one known type in
    every branch (``sets``, from ``types.py``); None where they cannot be followed."""
    found: dict[int, tuple[exp.Select, bool, Names]] = {}
    _walk(node, _Walk(plans, may, sets or {}, found), False, names, set())
    return list(found.values())


class _Walk:
    def __init__(self, plans: dict[int, SelectPlan], may: Callable[[exp.Expr], bool],
                 sets: dict[int, list[str | None]],
                 found: dict[int, tuple[exp.Select, bool, Names]]) -> None:
        self.plans, self.may, self.sets, self.found = plans, may, sets, found


def _walk(node: exp.Expr, walk: _Walk, via_set: bool, names: Names,
          seen: set[tuple[int, bool, Names]]) -> None:
    if (id(node), via_set, names) in seen:
        return
    seen.add((id(node), via_set, names))
    if isinstance(node, exp.Subquery):
        _walk(node.this, walk, via_set, names, seen)
        return
    if isinstance(node, exp.SetOperation):
        for branch, mine in zip(branch_selects(node), branch_names(node, names, walk.sets)):
            _walk(branch, walk, True, mine, seen)
        return
    if not isinstance(node, exp.Select) or not walk.may(node):
        return
    plan = walk.plans.get(id(node))
    if plan is not None and plan.mode is Mode.ANONYMIZING and not plan.final:
        known = walk.found.get(id(node))
        if known is not None:  # reached twice: keys only if both ways agree
            via_set, names = via_set or known[1], names if names == known[2] else None
        walk.found[id(node)] = (node, via_set, names)
        return
    if plan is None or plan.mode is not Mode.ANON:
        return
    passed = _passed(node, names)
    for alias, body in sources(node):
        _walk(body, walk, via_set, passed[1] if passed and passed[0] == alias else None, seen)


def branch_names(node: exp.SetOperation, names: Names, sets: dict[int, list[str | None]]
                  ) -> list[Names]:
    branches = branch_selects(node)
    out = _output_names(node)
    types = sets.get(id(node))
    if names is None or out is None or types is None or len(set(out)) != len(out) or any(
            n not in out or types[out.index(n)] is None for n in names):
        return [None] * len(branches)
    positions = [out.index(n) for n in names]
    found: list[Names] = []
    for branch in branches:
        mine = _output_names(branch)
        found.append(tuple(mine[p] for p in positions)
                     if mine is not None and len(mine) == len(out) else None)
    return found


def _passed(sel: exp.Select, names: Names) -> tuple[str, tuple[str, ...]] | None:
    """(its one source, that source's names of key columns ``names``) when ``sel`` passes that
    source's rows on, each key column as it is (``taint._passed_keys``, in order)."""
    only = single_source(sel)
    if names is None or only is None or any(sel.args.get(a) for a in (
            "group", "having", "qualify", "distinct", "limit", "offset")) or any(
            isinstance(n, (exp.AggFunc, exp.Window, exp.Subquery))
            for p in sel.expressions for n in p.walk()):
        return None
    mine = _named_projections(sel, only)
    out = [n for n, _ in mine] if mine is not None else []
    if mine is None or len(set(out)) != len(out):
        return None
    found = []
    for name in names:
        column = mine[out.index(name)][1] if name in out else None
        if column is None:
            return None
        found.append(column)
    return only, tuple(found)


def needs_probes(reader: exp.Select, body: exp.Expr,
                 reached: list[tuple[exp.Select, bool, Names]]) -> bool:
    """Whether a reader that combines ``body``'s rows needs its leaves probed: a total, or a
    set operation between it and some leaf. Not for a source that is one aggregation (its
    rows carry its drops, and ``_with_lost_rows`` probes it for a total)."""
    if not reached or (len(reached) == 1 and reached[0][0] is body):
        return False
    if any(via_set for _, via_set, _ in reached):
        return True
    return reader.args.get("group") is None and any(
        isinstance(n, exp.AggFunc) and not isinstance(n.parent, exp.Window)
        for p in reader.expressions for n in p.walk(prune=lambda n: isinstance(n, exp.Subquery)))


def leaf_probe(leaf: exp.Expr, at: exp.Anonymous, hoisted: dict[int, str]) -> None:
    """Replace marker ``at`` by its probe of the rewritten aggregation ``leaf``: whether it
    dropped any row or, with keys, a row of the reader's keys. Its inner SELECT is copied into
    a CTE of its own placed just before the CTE that holds the leaf, so that every name in it
    means what it meant there (a later CTE may be named after the table it reads: AMC's
    ``clicks AS (... FROM clicks ...)``), and read by name; a leaf in no CTE is copied in
    place. Where a name would change meaning, or the probe's CTE is not in scope, the leaf
    counts as having dropped a row (fail closed)."""
    inner = _inner(leaf)
    if inner is None:
        at.replace(exp.true())
        return
    anchor = _anchor(leaf)
    if anchor is not None and not _same_names(inner, None, within=anchor):
        at.replace(exp.true())
        return
    copied = copy_tree(inner)
    for sel in copied.find_all(exp.Select):
        sel.meta[COPY_META] = True
    if anchor is None:
        source: exp.Expr = exp.Subquery(this=copied, alias=exp.TableAlias(
            this=exp.to_identifier("__cr_tr")))
    else:
        name = hoisted.get(id(leaf))
        if name is None:
            name = hoisted[id(leaf)] = f"__cr_l{len(hoisted)}"
            with_ = anchor.parent
            assert isinstance(with_, exp.With)
            cte = exp.CTE(this=copied, alias=exp.TableAlias(this=exp.to_identifier(name)))
            with_.set("expressions", [*with_.expressions[:anchor.index], cte,
                                      *with_.expressions[anchor.index:]])
        source = exp.Table(this=exp.to_identifier(name))
    probe = _probe(at, source, leaf, inner)
    at.replace(probe)
    if anchor is None and not _same_names(inner, copied):
        probe.replace(exp.true())
    elif isinstance(source, exp.Table):
        resolved = cte_of(source)
        if resolved is None or resolved.alias_or_name != source.name:
            probe.replace(exp.true())
    # What a probe reads is the drops and the keys, not the reads of siblings' records beside
    # them (``siblings.py``: each a subquery as large as the rest), left out once the names
    # are checked (they hold tables of their own).
    copied.set("expressions", [p for p in copied.expressions
                               if not p.alias_or_name.startswith(("__cr_mn", "__cr_mb"))])


def _probe(at: exp.Anonymous, source: exp.Expr, leaf: exp.Expr, inner: exp.Select
           ) -> exp.Expr:
    """``(SELECT bool_or(__cr_d) FROM source)``, or with keys ``{k: reader key} IN (SELECT
    {k: leaf key} FROM source WHERE __cr_dk)``: the key columns' types agree (``types.py``)."""
    args = at.expressions
    keys = _leaf_keys(leaf, inner, args[2].name.split(",")) if len(args) > 3 else None
    if keys is None or not any(p.alias_or_name == DROP_ROW for p in inner.expressions):
        read = exp.select(exp.Coalesce(this=exp.Anonymous(this="bool_or", expressions=[
            exp.column("__cr_d", quoted=True)]), expressions=[exp.false()])).from_(source, copy=False)
        read.meta[COPY_META] = True
        return exp.Subquery(this=read)
    mine = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(f"k{i}"), expression=c)
                                   for i, c in enumerate(args[3:])])
    theirs = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(f"k{i}"),
                                                    expression=exp.column(k, quoted=True))
                                     for i, k in enumerate(keys)])
    read = exp.select(theirs).from_(source, copy=False).where(exp.column(DROP_ROW, quoted=True),
                                                               copy=False)
    read.meta[COPY_META] = True
    return exp.Coalesce(this=exp.In(this=mine, query=exp.Subquery(this=read)),
                        expressions=[exp.false()])


def _leaf_keys(leaf: exp.Expr, inner: exp.Select, names: list[str]) -> list[str] | None:
    """The inner SELECT's aliases of the group keys behind ``leaf``'s output ``names``."""
    group = inner.args.get("group")
    keys = {sql_text(g, None) for g in group.expressions} if group is not None else set()
    by_alias = {p.alias_or_name: p.this for p in inner.expressions if isinstance(p, exp.Alias)}
    found = []
    for name in names:
        proj = next((p for p in leaf.expressions if p.alias_or_name.lower() == name), None)
        ref = proj.this if isinstance(proj, exp.Alias) else None
        if not (isinstance(ref, exp.Column) and ref.name in by_alias
                and sql_text(by_alias[ref.name], None) in keys):
            return None
        found.append(ref.name)
    return found


def _inner(leaf: exp.Expr) -> exp.Select | None:
    from_ = leaf.args.get("from_") if isinstance(leaf, exp.Select) else None
    inner = from_.this if from_ is not None else None
    if isinstance(inner, exp.Subquery) and inner.alias == "__cr_q" and isinstance(
            inner.this, exp.Select) and any(p.alias_or_name == "__cr_d"
                                            for p in inner.this.expressions):
        return inner.this
    return None


def _anchor(node: exp.Expr) -> exp.CTE | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.CTE):
        parent = parent.parent
    return parent


def _same_names(inner: exp.Select, copied: exp.Select | None, *,
                within: exp.CTE | None = None) -> bool:
    """Whether every table name of ``copied`` (a copy of ``inner``, placed) names what it
    names in ``inner``; with ``within``, whether a copy placed just before that CTE would
    (only a CTE between ``inner`` and ``within`` would change meaning there)."""
    mine = list(inner.find_all(exp.Table))
    if copied is None:
        for table in mine:
            target = cte_of(table)
            if target is not None and within is not None and _inside(target, within) \
                    and not _inside(target, inner):
                return False
        return True
    theirs = list(copied.find_all(exp.Table))
    return len(mine) == len(theirs) and all(_same_target(a, b, inner)
                                            for a, b in zip(mine, theirs))


def _same_target(original: exp.Table, copy: exp.Table, inner: exp.Expr) -> bool:
    """The same base table or CTE; a CTE inside the copied SELECT itself is its copy's."""
    a, b = cte_of(original), cte_of(copy)
    if a is None or b is None:
        return a is b
    return a is b or (_inside(a, inner) and a.alias_or_name == b.alias_or_name)


def marker(leaf: int, keys: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
           ) -> exp.Expr:
    """Stands for a leaf's probe until the whole query is rewritten (a sibling CTE may be
    rewritten after its reader); ``keys``: the reader's source alias, its key columns, and
    the leaf's names of them."""
    from cleanroom.gate.reach import PROBE

    args: list[exp.Expr] = [exp.Literal.string(f"{LEAF}{leaf}"), exp.Literal.string("lost")]
    if keys is not None:
        alias, mine, theirs = keys
        args += [exp.Literal.string(",".join(theirs)),
                 *[exp.column(n, table=alias, quoted=True) for n in mine]]
    return exp.Coalesce(this=exp.Anonymous(this=PROBE, expressions=args),
                        expressions=[exp.false()])
