"""The SQL a taint becomes where it is read (see ``taint.py``): per cell of a final SELECT over
thresholded rows, and, on the NULL side of an outer join, a probe of whether the source dropped
rows (filled in once the whole query is rewritten, since a sibling CTE may be rewritten after
its reader)."""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.lost import leaf_probe
from cleanroom.gate.model import COPY_META
from cleanroom.gate.taint import (
    OWN_TAINT,
    TAINT,
    Reader,
    TaintMap,
    column_owners,
    outer_sides,
    relation_nodes,
    single_source,
    using_columns,
)
from cleanroom.gate.walk import combine, copy_tree, find_all


def cell_taints(sel: exp.Select, taints: TaintMap, reach: dict[str, exp.Expr]
                ) -> list[exp.Expr] | None:
    """Per projection of a SELECT over thresholded rows (no aggregate, window, DISTINCT,
    LIMIT), the taint of the sources it reads, by alias in ``reach``; None when which rows
    stand (WHERE, ON) or a value subquery may be tainted: then every cell takes the row's."""
    if taints.values.get(id(sel)) or any(sel.args.get(a) for a in (
            "group", "having", "qualify", "distinct", "limit", "offset")):
        return None
    if any(isinstance(n, (exp.Window, exp.AggFunc)) for p in sel.expressions for n in p.walk()):
        return None
    clean = taints.clean.get(id(sel), {})
    reader = Reader(clean, outer_sides(sel), using_columns(sel), set(reach),
                    only=single_source(sel), owners=column_owners(sel))
    where = sel.args.get("where")
    if where is not None and reader.reached(where) != set():  # None: cannot tell
        return None
    # ON is decided on the rows that stand (before any NULL fill): clean keys are exact there.
    on_reader = Reader(clean, set(), set(), set(reach))
    if any(on_reader.reached(j.args["on"]) != set() for j in sel.args.get("joins") or []
           if j.args.get("on") is not None):
        return None
    found: list[exp.Expr] = []
    for proj in sel.expressions:
        hit = reader.reached(proj)
        if hit is None:
            return None
        found.append(combine(exp.Or, *[copy_tree(reach[a]) for a in sorted(hit)], copy=False)
                     if hit else exp.false())
    return found


PROBE = "__cr_probe"  # stands for a probe until the rewrite is done (``fill_probes``)


def read_taint(sel: exp.Select, alias: str, holder: exp.Expr | None = None,
               probes: dict[str, exp.Expr] | None = None, *, rowwise: bool = False) -> exp.Expr:
    """The taint of a row of source ``alias`` as ``sel`` reads it. On the NULL side of an outer
    join a row may be missing because its relation dropped it: there the relation's own flag
    stands in, ``(SELECT bool_or(__cr_w) FROM <relation>)``. A source read row by row
    (``TaintMap.rowwise``) gives its row's own taint, ``__cr_ow``, without its relation's drops."""
    own = exp.column(OWN_TAINT if rowwise else TAINT, table=alias, quoted=True)
    relation = next((n for n in relation_nodes(sel) if n.alias_or_name == alias), None)
    if alias not in outer_sides(sel) or relation is None:
        return exp.Coalesce(this=own, expressions=[exp.false()])
    if holder is not None and probes is not None:
        # The source may be rewritten after ``sel`` (sibling CTEs): probe it at the end.
        probes[str(id(holder))] = holder
        marker = exp.Anonymous(this=PROBE, expressions=[exp.Literal.string(str(id(holder)))])
        return exp.Coalesce(this=own, expressions=[marker, exp.false()])
    if isinstance(relation, exp.Table):
        source: exp.Expr = exp.Table(this=copy_tree(relation.this))
    else:
        source = copy_tree(relation)
        source.set("alias", exp.TableAlias(this=exp.to_identifier("__cr_tr")))
        for inner in source.find_all(exp.Select):
            inner.meta[COPY_META] = True
    probe = exp.select(exp.Coalesce(this=exp.Anonymous(this="bool_or", expressions=[
        exp.column(TAINT, quoted=True)]), expressions=[exp.false()])).from_(source)
    probe.meta[COPY_META] = True
    return exp.Coalesce(this=own, expressions=[exp.Subquery(this=probe), exp.false()])


def final_cell_taints(sel: exp.Select, taints: TaintMap, reach: dict[str, exp.Expr],
                      value: exp.Expr) -> list[exp.Expr] | None:
    """Per projection of a final SELECT over thresholded rows, its taint (None: ``value``,
    the row's, for every cell): per source read without aggregates, else none for the exact
    group keys (``TaintMap.clean_of``) and the group's taint for the rest."""
    if not any(isinstance(n, exp.AggFunc) for p in sel.expressions for n in p.walk()) \
            and not sel.args.get("group"):
        return cell_taints(sel, taints, reach)
    if any(isinstance(n, exp.Window) for p in sel.expressions for n in p.walk()):
        return None
    clean = taints.clean_memo.get(id(sel), set())
    return [exp.false() if p.alias_or_name.lower() in clean else copy_tree(value)
            for p in sel.expressions]


def dropped_probe(body: exp.Expr) -> exp.Expr | None:
    """For an aggregation read on the NULL side of an outer join (or as an IN list): whether it
    dropped any row, read before its rows are filtered (``SELECT bool_or(__cr_d) FROM <its
    inner SELECT>``), so that the flag stands even when it dropped every row."""
    from_ = body.args.get("from_") if isinstance(body, exp.Select) else None
    inner = from_.this if from_ is not None else None
    if not (isinstance(inner, exp.Subquery) and inner.alias == "__cr_q"
            and isinstance(inner.this, exp.Select)
            and any(p.alias_or_name == "__cr_d" for p in inner.this.expressions)):
        return None
    copied = copy_tree(inner)
    copied.set("alias", exp.TableAlias(this=exp.to_identifier("__cr_tr")))
    for sel in copied.find_all(exp.Select):
        sel.meta[COPY_META] = True
    probe = exp.select(exp.Coalesce(this=exp.Anonymous(this="bool_or", expressions=[
        exp.column("__cr_d", quoted=True)]), expressions=[exp.false()])).from_(copied)
    probe.meta[COPY_META] = True
    return exp.Subquery(this=probe)


def fill_probes(tree: exp.Expr, probes: dict[str, exp.Expr],
                leaves: dict[str, exp.Expr] | None = None) -> exp.Expr:
    """Replace each probe marker by its probe over the rewritten source: whether the
    aggregation dropped any row (``dropped_probe``), else whether any of its rows is tainted.
    ``leaves``: the rewritten aggregations a reader probes for rows it never sees (``lost.py``);
    one that cannot be probed counts as having dropped a row (fail closed)."""
    if not probes and not leaves:
        return tree  # markers are made only beside their probe (``read_taint``, ``lost.py``)
    hoisted: dict[int, str] = {}
    for _ in range(8):  # a probe copies its source, which may hold markers not yet filled
        markers = [m for m in find_all(tree, exp.Anonymous) if m.name == PROBE]
        if not markers:
            break
        for marker in markers:
            name = marker.expressions[0].name
            if leaves and name in leaves:
                leaf_probe(leaves[name], marker, hoisted)  # never the whole tree
                continue
            tree = _fill(tree, marker, probes)
    return tree


def _fill(tree: exp.Expr, marker: exp.Expr, probes: dict[str, exp.Expr]) -> exp.Expr:
    name = marker.expressions[0].name
    if len(marker.expressions) > 1:  # only whether it lost rows (``rewrite._with_lost_rows``)
        holder = probes[name]
        found = dropped_probe(holder.this)
        wrapper, either_ = marker.parent, marker.parent and marker.parent.parent
        if found is None and isinstance(wrapper, exp.Coalesce) and isinstance(
                either_, exp.Or) and wrapper is either_.expression:
            either_.replace(either_.this)  # nothing to probe: the flag stays as it was
            return tree
        probe = found or exp.false()
    else:
        holder = probes[name]
        probe = dropped_probe(holder.this) or _tainted_probe(holder)
    if marker is tree:
        return probe
    marker.replace(probe)
    return tree


def _tainted_probe(holder: exp.Expr) -> exp.Expr:
    source: exp.Expr
    if isinstance(holder, exp.CTE):
        source = exp.Table(this=exp.to_identifier(holder.alias_or_name))
    else:
        source = exp.Subquery(this=copy_tree(holder.this),
                              alias=exp.TableAlias(this=exp.to_identifier("__cr_tr")))
        for sel in source.find_all(exp.Select):
            sel.meta[COPY_META] = True
    probe = exp.select(exp.Coalesce(this=exp.Anonymous(this="bool_or", expressions=[
        exp.column(TAINT, quoted=True)]), expressions=[exp.false()])).from_(source)
    probe.meta[COPY_META] = True
    return exp.Subquery(this=probe)
