"""Constant relations (``VALUES`` lists, ``SELECT`` of literals and their ``UNION ALL``) and
joins of people's rows to them.

A constant relation holds no one's data. Joined to people's rows it is a *lookup*: a label or
weight picked by a condition on the row, exactly what ``CASE WHEN cond THEN constant`` does.
So the gate does not join it: each of its columns becomes that CASE (first matching row
wins), and an inner join also keeps only the rows that match some row of the list. A person's
row therefore stays one row (no fan-out can weigh some people above others), and every rule
that applies to a CASE over constants applies to the lookup.

>>> import sqlglot
>>> from sqlglot import exp

from cleanroom.gate.model import Rel
>>> values = sqlglot.parse_one("SELECT 1 FROM (VALUES ('a', 1), ('b', 0)) v(k, w)").args["from_"].this
>>> [[c.sql() for c in row] for row in constant_rows(values)]
[["'a'", '1'], ["'b'", '0']]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from cleanroom.gate.model import Rel
from cleanroom.gate.walk import combine, copy_tree, sql_text

MAX_ROWS = 1000  # rows of one constant relation
MAX_COLUMNS = 64
MAX_INLINED_NODES = 20_000  # what the CASEs of one lookup may add to the tree

Rows = tuple[tuple[exp.Expr, ...], ...]


def constant_cell(node: exp.Expr) -> bool:
    """A literal, NULL, a boolean, a negative number or a typed literal (``DATE '...'``)."""
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal) and not node.this.is_string
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return isinstance(node.this, exp.Literal) and isinstance(node.args.get("to"), exp.DataType)
    return isinstance(node, (exp.Literal, exp.Null, exp.Boolean))


def constant_rows(values: exp.Values) -> Rows | None:
    """The cells of a VALUES list, or None when it is not a small list of constants."""
    rows: list[tuple[exp.Expr, ...]] = []
    for row in values.expressions:
        cells = tuple(row.expressions) if isinstance(row, exp.Tuple) else (row,)
        if not all(constant_cell(c) for c in cells):
            return None
        rows.append(cells)
    widths = {len(r) for r in rows}
    if not rows or len(rows) > MAX_ROWS or len(widths) != 1 or widths.pop() > MAX_COLUMNS:
        return None
    return tuple(rows)


def value_names(values: exp.Values, width: int) -> list[str]:
    """DuckDB names a VALUES list's columns by its alias, then ``col0``, ``col1``, ..."""
    alias = values.args.get("alias")
    names = [c.name for c in (alias.columns if isinstance(alias, exp.TableAlias) else [])]
    return [names[i] if i < len(names) else f"col{i}" for i in range(width)]


def literal_row(select: exp.Select) -> tuple[exp.Expr, ...] | None:
    """``SELECT 'a' AS k, 1 AS w`` (no FROM, nothing else): one constant row."""
    allowed = {"expressions"}
    if any(v not in (None, [], False) for k, v in select.args.items() if k not in allowed):
        return None
    cells = tuple(p.unalias() for p in select.expressions)
    return cells if cells and all(constant_cell(c) for c in cells) else None


def constant_result(sel: exp.Select, sources: list[Rel]) -> Rows | None:
    """The rows of a SELECT that only lists constants or a constant relation's columns."""
    if sel.args.get("from_") is None:
        row = literal_row(sel)
        return (row,) if row is not None else None
    extra = {k for k, v in sel.args.items() if v not in (None, [], False)} - {
        "expressions", "from_", "with_"}
    distinct = sel.args.get("distinct")
    if distinct is not None and not distinct.args.get("on"):
        extra.discard("distinct")  # a metadata lookup (ADH's SELECT DISTINCT id, name ...)
    if extra or len(sources) != 1 or sources[0].rows is None:
        return None
    names = [n.lower() for n, _ in sources[0].columns]
    picked = [p.unalias() for p in sel.expressions]
    # Each output is one of the relation's columns or a literal label (AMC's campaign lists
    # tagged with a category: SELECT campaign_id, 'Display' AS category FROM display).
    if not picked or not all(isinstance(p, exp.Column) and p.name.lower() in names
                             or not isinstance(p, exp.Column) and constant_cell(p)
                             for p in picked):
        return None
    rows = tuple(tuple(row[names.index(p.name.lower())] if isinstance(p, exp.Column) else p
                       for p in picked) for row in sources[0].rows)
    return _distinct(rows) if distinct is not None else rows


def _distinct(rows: Rows) -> Rows:
    """The rows SELECT DISTINCT keeps, first of each in order. Rows are the same when every
    cell is the same literal (``_key_value``: numbers by value, other cells by their text).
    Cells DuckDB would find equal and this does not (``DATE '2026-09-01'`` beside a TIMESTAMP of
    that day, each NULL) are kept twice: a lookup on them then sees a key that is not distinct
    and is refused (``distinct_keys``), never one that matches a row DuckDB dropped."""
    seen: set[tuple[tuple[str, object], ...]] = set()
    kept: list[tuple[exp.Expr, ...]] = []
    for i, row in enumerate(rows):
        key = tuple(_key_value(cell, i) for cell in row)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return tuple(kept)


def _key_value(cell: exp.Expr, index: int) -> tuple[str, object]:
    if isinstance(cell, exp.Null):
        return ("null", index)  # NULL never equals anything: it matches no row
    if isinstance(cell, exp.Literal) and not cell.is_string:
        return ("number", float(cell.name))
    if isinstance(cell, exp.Neg):
        return ("number", -float(cell.this.name))
    return (type(cell).__name__, sql_text(cell))


def distinct_keys(rows: Rows, columns: list[int]) -> bool:
    """Do the key columns tell every row apart (so a row matches at most one, as in DuckDB)?"""
    seen = {tuple(_key_value(row[c], i) for c in columns) for i, row in enumerate(rows)}
    return bool(columns) and len(seen) == len(rows)


@dataclass(frozen=True)
class Lookup:
    """People's rows joined to a constant relation ``alias`` on ``on``."""

    alias: str
    names: tuple[str, ...]
    rows: Rows
    on: exp.Expr
    inner: bool

    def condition(self, index: int, names_of: Callable[[exp.Column], str | None]) -> exp.Expr:
        """The ON condition for the ``index``-th row: its columns replaced by its cells."""
        row = self.rows[index]

        def cell(node: exp.Expr) -> exp.Expr:
            name = names_of(node) if isinstance(node, exp.Column) else None
            return copy_tree(row[self.names.index(name)]) if name is not None else node
        return exp.Paren(this=copy_tree(self.on).transform(cell))

    def case(self, name: str, conditions: list[exp.Expr]) -> exp.Expr:
        """The value of column ``name`` for a people's row: the first matching row's cell."""
        column = self.names.index(name)
        ifs = [exp.If(this=copy_tree(cond), true=copy_tree(row[column]))
               for cond, row in zip(conditions, self.rows)]
        return exp.Paren(this=exp.Case(ifs=ifs))

    def any_row(self, conditions: list[exp.Expr]) -> exp.Expr:
        """An inner join keeps the rows that match some row of the list."""
        return exp.Paren(this=combine(exp.Or, *[copy_tree(c) for c in conditions]))

    def size(self, references: int) -> int:
        return len(self.rows) * (references + 1) * (sum(1 for _ in self.on.walk()) + 2)
