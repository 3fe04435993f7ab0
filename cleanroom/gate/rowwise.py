"""Which sources a SELECT reads row by row (``TaintMap.rowwise``): there a row that an
intermediate aggregation dropped elsewhere in its relation changes no row the reader computes
from another one, so the reader takes each row's own taint (``__cr_ow``: its withheld cells, the
tainted rows it read) instead of its relation's, and where it found no row, the relation's probe
(``reach.read_taint``).
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import Mode
from cleanroom.gate.taint import (
    Reader,
    TaintMap,
    column_owners,
    cte_of,
    outer_sides,
    using_columns,
)
from cleanroom.gate.walk import sql_text


def read_rowwise(taints: TaintMap, sel: exp.Select, alias: str, body: exp.Expr) -> bool:
    """Whether ``sel`` reads each row of the intermediate aggregation ``body`` on its own,
    so that a row ``body`` dropped changes no row that ``sel`` computes from another one:

    - ``sel`` is a final SELECT of rows (no aggregate, window, DISTINCT, LIMIT): a dropped
      row of an inner join only removes output rows, and on the NULL side of an outer join
      a row that found nothing takes the relation's probe (``read_taint``); or
    - ``sel`` LEFT JOINs ``body`` on an equality to every group key of it (exact keys):
      each of its rows meets at most the one row raw DuckDB would join, or none, and then
      the probe stands in.

    Either way the rows ``body`` keeps must be rows raw DuckDB has (no LIMIT, OFFSET or
    DISTINCT applied after the threshold)."""
    plan = taints.plans.get(id(body))
    if not isinstance(body, exp.Select) or plan is None or plan.mode is not \
            Mode.ANONYMIZING or plan.final:
        return False
    if any(body.args.get(a) for a in ("limit", "offset", "distinct")):
        return False
    return _row_reader(taints, sel, alias) or _keyed_left_join(taints, sel, alias, body)


def _row_reader(taints: TaintMap, sel: exp.Select, alias: str) -> bool:
    plan = taints.plans.get(id(sel))
    if plan is None or not plan.final or plan.mode is not Mode.ANON or taints.values.get(id(sel)):
        return False
    if isinstance(sel.parent, (exp.SetOperation, exp.Subquery)) or any(sel.args.get(a) for a in (
            "group", "having", "qualify", "distinct", "limit", "offset")):
        return False
    if any(isinstance(n, (exp.Window, exp.AggFunc)) for p in sel.expressions for n in p.walk()):
        return False
    # Which rows stand (WHERE, ON) must not turn on a cell that may be withheld.
    tainted = set(taints.sources.get(id(sel), []))
    clean = taints.clean.get(id(sel), {})
    where = sel.args.get("where")
    if where is not None and Reader(clean, outer_sides(sel), using_columns(sel), tainted,
                                    owners=column_owners(sel)).reached(where) != set():
        return False
    on_reader = Reader(clean, set(), set(), tainted)
    return all(on_reader.reached(j.args["on"]) == set() for j in sel.args.get("joins") or []
               if j.args.get("on") is not None)


def _keyed_left_join(taints: TaintMap, sel: exp.Select, alias: str, body: exp.Select) -> bool:
    join = next((j for j in sel.args.get("joins") or [] if j.this.alias_or_name == alias), None)
    if join is None or (join.side or "").upper() != "LEFT" or join.args.get("on") is None:
        return False
    if body.args.get("having") or body.args.get("qualify"):
        return False
    holder = cte_of(join.this) if isinstance(join.this, exp.Table) else join.this
    renamed = holder.args.get("alias") if holder is not None else None
    if isinstance(renamed, exp.TableAlias) and renamed.columns:
        return False  # ``WITH r(a, b)``: the names read are not the body's own
    keys = _group_names(body)
    clean = taints.clean_of(body)
    if keys is None or not keys <= clean:
        return False
    on = join.args["on"]
    equal: set[str] = set()
    for conjunct in on.flatten() if isinstance(on, exp.And) else [on]:
        if not isinstance(conjunct, exp.EQ):
            continue
        for mine, other in ((conjunct.this, conjunct.expression),
                            (conjunct.expression, conjunct.this)):
            if isinstance(mine, exp.Column) and mine.table == alias and all(
                    c.table and c.table != alias for c in other.find_all(exp.Column)):
                equal.add(mine.name.lower())
    return keys <= equal


def _group_names(body: exp.Select) -> set[str] | None:
    """The output names of every GROUP BY key of ``body`` (None: a key is not output, or the
    grouping is not one plain list); no GROUP BY: an empty set (one row at most)."""
    group = body.args.get("group")
    if group is None:
        return set()
    if any(group.args.get(a) for a in ("rollup", "cube", "grouping_sets", "totals")):
        return None
    names: set[str] = set()
    texts = [sql_text(p.unalias() if isinstance(p, exp.Alias) else p, None) for p in body.expressions]
    for key in group.expressions:
        if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(texts):
            names.add(body.expressions[int(key.name) - 1].alias_or_name.lower())
            continue
        # By its text only: a name could be an alias or a source column (DuckDB binds it to
        # the column first), so a key written by alias is not read as a key here.
        hits = [i for i, t in enumerate(texts) if t == sql_text(key, None)]
        if not hits:
            return None
        names.add(body.expressions[hits[0]].alias_or_name.lower())
    return names
