"""The rows of a final set operation, as the answer's check across rows sees them
(``overlap.py``): the branches that only pass on an aggregation of a CTE or subquery, what
they carry of it, and where the answer's patterns go once every aggregation is rewritten."""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.inline import constant_joins
from cleanroom.gate.model import Mode, QueryShape
from cleanroom.gate.overlap import OVERLAP, Overlap, matched, patterns
from cleanroom.gate.threshold import COMPARED, SKETCH
from cleanroom.gate.walk import copy_tree


def pass_through(shape: QueryShape, branch: exp.Select) -> exp.Select | None:
    """The aggregation across people a final branch only passes on (``SELECT n FROM a`` for a
    CTE ``a`` that aggregates people; no grouping, DISTINCT or window, and no join but of
    relations of constants, ``inline.constant_joins``), maybe through
    CTEs or subqueries that only pass it on too (``links``): its rows are that aggregation's,
    so they carry its people and sketches to be compared with the other branches' rows
    (``release.close_rows``)."""
    chain = links(shape, branch)
    return chain[-1] if chain else None


def links(shape: QueryShape, branch: exp.Select) -> list[exp.Select]:
    """The SELECTs from ``branch`` (excluded) down to the aggregation it passes on (last), each
    only passing on the next one's rows; empty when it passes on none."""
    chain: list[exp.Select] = []
    node: exp.Select | None = branch
    while node is not None and len(chain) < 64:  # a cycle would be refused before
        body = _passed(shape, node)
        if body is None:
            return []
        chain.append(body)
        found = shape.plans.get(id(body))
        if found is not None and found.mode is Mode.ANONYMIZING:
            return chain
        node = body
    return []


def _passed(shape: QueryShape, sel: exp.Select) -> exp.Select | None:
    """The one relation an anonymous SELECT only passes the rows of."""
    plan = shape.plans.get(id(sel))
    source = sel.args.get("from_")
    if plan is None or plan.mode is not Mode.ANON or source is None or any(
            sel.args.get(a) for a in ("group", "having", "distinct", "qualify")):
        return None
    if sel.args.get("joins") and constant_joins(sel) is None:
        return None  # a relation of constants joined (``inline.constant_joins``) adds no one
    if any(isinstance(n, (exp.AggFunc, exp.Window)) for p in sel.expressions for n in p.walk()):
        return None
    body: exp.Expr | None = source.this.this if isinstance(source.this, exp.Subquery) else None
    if isinstance(source.this, exp.Table) and not source.this.db:
        body = next((c.this for c in shape.tree.find_all(exp.CTE)
                     if c.alias_or_name == source.this.name), None)
    return body if isinstance(body, exp.Select) and id(body) in shape.plans else None


def fill_patterns(overlap: Overlap) -> None:
    """The answer's patterns (``overlap.py``) on the first row of the first aggregation that
    outputs its cells; the other rows carry NULL (one scan, not one per row or branch)."""
    if not overlap.carriers:
        return
    if not overlap.strict and overlap.keyed and not matched(overlap):
        # A UNION ALL input whose branches read different sources over the same tables: rows
        # cannot be matched, but each is in the group of its own key's value (``keyed_alike``),
        # so groups share no data row and are not checked across, as a plain GROUP BY's are
        # not. Keyed otherwise, the patterns below are NULL and every cell is withheld.
        for carrier in overlap.carriers:
            cell = carrier.find_ancestor(exp.Alias)
            if cell is not None:
                cell.set("this", exp.null())
        return
    first = exp.EQ(this=exp.Window(this=exp.RowNumber(), partition_by=[]),
                   expression=exp.Literal.number(1))
    overlap.carriers[0].replace(exp.Case(ifs=[exp.If(this=first, true=patterns(overlap))]))
    for carrier in overlap.carriers[1:]:
        carrier.replace(exp.Cast(this=exp.null(), to=exp.DataType.build(
            "STRUCT(p UBIGINT[], n BIGINT)[]", dialect="duckdb")))


def passed_cells(sel: exp.Select, source: str, width: int, overlap: Overlap) -> exp.Expr:
    """A pass-through branch's ``__cr_o``: its source's, each column depending on the
    aggregates of the source columns it reads (``c``, by the source's own column order)."""
    passed = exp.column(OVERLAP, table=source, quoted=True)
    relation = sel.args["from_"].this
    holder = relation if isinstance(relation, exp.Subquery) else overlap.ctes.get(relation.name)
    body = holder.this if holder is not None else None
    names = [p.alias_or_name.lower() for p in body.expressions] \
        if isinstance(body, exp.Select) else []
    alias = holder.args.get("alias") if holder is not None else None
    # ``a(c, x) AS (SELECT channel, COUNT(*) ...)``: the relation's columns are c and x.
    renamed = [c.name.lower() for c in alias.columns] if alias is not None else []
    names[:len(renamed)] = renamed
    deps: list[exp.Expr] = []
    for proj in sel.expressions[:width]:
        read = [names.index(c.name.lower()) for c in proj.find_all(exp.Column)
                if c.name.lower() in names]
        lists: list[exp.Expr] = [exp.Anonymous(this="list_extract", expressions=[
            exp.Dot.build([copy_tree(passed), exp.to_identifier("c")]), exp.Literal.number(i + 1)])
            for i in read]
        empty = exp.Cast(this=exp.Array(expressions=[]), to=exp.DataType.build("INTEGER[]"))
        deps.append(exp.Anonymous(this="flatten", expressions=[exp.Array(
            expressions=[empty, *lists])]))
    fields: dict[str, exp.Expr] = {n: exp.Dot.build([copy_tree(passed), exp.to_identifier(n)])
                                  for n in "ifnhs"}
    fields["c"] = exp.Array(expressions=deps)
    return exp.Anonymous(this="struct_pack", expressions=[
        exp.PropertyEQ(this=exp.to_identifier(n), expression=fields[n]) for n in "ifnchs"])


def pass_on(sel: exp.Select, overlap: Overlap) -> list[exp.Expr]:
    """What a link of a pass-through chain (``links``) adds to its projections: its source's
    people and sketches, and its cells, each column depending on what it reads of the source."""
    source = sel.args["from_"].this.alias_or_name
    width = len(sel.expressions)
    return [exp.alias_(exp.column(COMPARED, table=source, quoted=True), COMPARED, quoted=True,
                       copy=False),
            exp.alias_(exp.column(SKETCH, table=source, quoted=True), SKETCH, quoted=True,
                       copy=False),
            exp.alias_(passed_cells(sel, source, width, overlap), OVERLAP, quoted=True,
                       copy=False)]
