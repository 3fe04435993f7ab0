"""Split a SELECT that aggregates or windows over people's rows in two:

- the inner SELECT computes only *atoms* (group keys, aggregates, windows, the columns around
  them, scalar subqueries) plus the hidden person columns;
- the outer SELECT computes what the analyst wrote from those atoms, each expression inside
  TRY, with HAVING and QUALIFY as its WHERE.

So no error can come from arithmetic over a small group's aggregates, and HAVING is decided on
thresholded values only (see ``rewrite.py``).

>>> import sqlglot
>>> from cleanroom.gate.model import SelectPlan, Mode
>>> sel = sqlglot.parse_one("SELECT a, 1 // COUNT(*) AS q FROM t GROUP BY a", read="duckdb")
>>> plan = SelectPlan(Mode.ANON, final=True, group_keys=[sel.args["group"].expressions[0]])
>>> plan.atoms.key_hits[id(sel.expressions[0])] = 0
>>> plan.atoms.aggregates.add(id(sel.expressions[1].this.expression))
>>> print(split(sel, plan).sql("duckdb"))
SELECT __cr_q.__cr_k0 AS "a", TRY(1 // __cr_q.__cr_a1) AS q FROM (SELECT a AS __cr_k0, COUNT(*) AS __cr_a1 FROM t GROUP BY a) AS __cr_q
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from cleanroom.gate.guard import guard, guard_children
from cleanroom.gate.model import SelectPlan
from cleanroom.gate.nodes import CONSTANTS, output_name
from cleanroom.gate.walk import combine, copy_tree, sql_text

INNER = "__cr_q"
_MOVED_ARGS = ("having", "qualify", "order", "limit", "offset", "distinct")


@dataclass
class _Inner:
    """The inner SELECT's projections, and what outer nodes they replace."""

    plan: SelectPlan
    projections: list[exp.Expr] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # a column's SQL -> inner name
    aggregates: dict[str, int] = field(default_factory=dict)  # inner name -> aggregate node id

    def add(self, node: exp.Expr, prefix: str) -> exp.Column:
        name = f"__cr_{prefix}{len(self.projections)}"
        self.projections.append(exp.alias_(node, name, copy=False))
        return exp.column(name, table=INNER)

    def replace(self, node: exp.Expr) -> exp.Expr:
        """Map one outer node to an inner column, or leave it (``transform`` callback)."""
        atoms = self.plan.atoms
        if id(node) in atoms.key_hits:
            return exp.column(f"__cr_k{atoms.key_hits[id(node)]}", table=INNER)
        if id(node) in atoms.aggregates or id(node) in atoms.windows:
            column = self.add(guard_children(node, frozenset(atoms.safe)), "a")
            if id(node) in atoms.aggregates:
                self.aggregates[column.name] = id(node)
            return column
        if isinstance(node, (exp.Subquery, exp.Select)):
            return self.add(node, "v")
        if isinstance(node, exp.Column) and id(node) not in atoms.alias_refs:
            return self._column(node)
        return node

    def _column(self, col: exp.Column) -> exp.Expr:
        if self.plan.group_keys:
            return col  # grouped: columns outside aggregates are group keys, mapped above
        key = sql_text(col)
        if key not in self.columns:
            self.columns[key] = self.add(col, "c").name
        return exp.column(self.columns[key], table=INNER)


def split(sel: exp.Select, plan: SelectPlan, hidden: list[exp.Expr] | None = None, *,
          aggregates: dict[str, int] | None = None) -> exp.Select:
    """Turn ``sel`` (in place) into the inner SELECT and return the outer one, which the caller
    puts where ``sel`` was. ``hidden`` are aliased inner projections the outer passes on;
    ``aggregates`` receives each inner aggregate column's name and its node's id."""
    inner = _Inner(plan)
    outer = exp.Select()
    keys = [guard(copy_tree(k), frozenset(plan.atoms.safe)) for k in plan.group_keys]
    inner.projections += [exp.alias_(copy_tree(k), f"__cr_k{i}", copy=False) for i, k in enumerate(keys)]
    for proj in sel.expressions:
        outer.append("expressions", _outer_projection(proj, inner))
    for arg in _MOVED_ARGS:
        outer.set(arg, _outer_clause(sel.args.get(arg), inner))
    conditions = [outer.args[c].this for c in ("having", "qualify") if outer.args.get(c)]
    if conditions:
        outer.set("where", exp.Where(this=combine(exp.And, *conditions)))
    outer.set("having", None)
    outer.set("qualify", None)
    for node in hidden or []:
        inner.projections.append(node)
    sel.set("expressions", inner.projections)
    if aggregates is not None:
        aggregates.update(inner.aggregates)
    for arg in _MOVED_ARGS:
        sel.set(arg, None)
    if keys:
        sel.set("group", exp.Group(expressions=keys))
    outer.set("from_", exp.From(this=exp.Subquery(this=sel, alias=exp.TableAlias(
        this=exp.to_identifier(INNER)))))
    return outer


def _outer_projection(proj: exp.Expr, inner: _Inner) -> exp.Expr:
    name = output_name(proj)
    alias = proj.args.get("alias") if isinstance(proj, exp.Alias) else None
    value = _outer_value(proj.unalias(), inner)
    ident = alias if isinstance(alias, exp.Identifier) else exp.to_identifier(name, quoted=True)
    return exp.Alias(this=value, alias=ident)


def _outer_clause(clause: exp.Expr | None, inner: _Inner) -> exp.Expr | None:
    if clause is None or isinstance(clause, (exp.Limit, exp.Offset, exp.Distinct)):
        return clause
    if isinstance(clause, exp.Order):
        for ordered in clause.expressions:
            ordered.set("this", _outer_value(ordered.this, inner))
        return clause
    clause.set("this", _outer_value(clause.this, inner))
    return clause


def _outer_value(node: exp.Expr, inner: _Inner) -> exp.Expr:
    value = node.transform(inner.replace, copy=False)
    if isinstance(value, (exp.Column, *CONSTANTS)):
        return value
    return exp.Try(this=value)
