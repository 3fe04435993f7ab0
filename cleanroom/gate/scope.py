"""Name resolution for one SELECT: its sources, their columns, and DuckDB's shorthands.

Everything that expands to columns (``*``, ``t.*``, ``* EXCLUDE``, ``#n``) is rewritten into
explicit column references here, so the later rules see every column that flows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate.constants import Lookup
from cleanroom.gate.model import K, Rel
from cleanroom.gate.rules import violation
from cleanroom.gate.suggest import unknown
from cleanroom.gate.walk import copy_tree, find_all


def position(node: exp.Expr) -> tuple[int | None, int | None]:
    r"""Line and column (1-based, where the token starts) of a node in the analyst's SQL, from
    its first token that has one; nodes the gate made carry the position of what they replace.

    >>> import sqlglot
    >>> position(sqlglot.parse_one("SELECT a,\n  user_key FROM t").expressions[1])
    (2, 3)
    """
    for sub in node.walk():
        meta = sub.meta if hasattr(sub, "meta") else {}
        if meta and "line" in meta:
            width = int(meta.get("end", 0)) - int(meta.get("start", 0))
            return meta.get("line"), max(1, int(meta.get("col", 1)) - width)
    parent = node.parent
    return position(parent) if parent is not None else (None, None)


def at(code: str, node: exp.Expr, detail: str | None = None) -> Violation:
    line, col = position(node)
    return violation(code, detail, line=line, col=col)


def _unknown(col: exp.Column, name: str, valid: Iterable[str], detail: str) -> Violation:
    """An unknown column, with the names of this scope's sources to choose from."""
    line, column = position(col)
    ident = col.this
    quoted = not col.table and isinstance(ident, exp.Identifier) and bool(ident.args.get("quoted"))
    return unknown("unknown_column", name, valid, line=line, col=column, quoted=quoted,
                   detail=detail)


@dataclass
class Scope:
    """The sources visible in one SELECT, in FROM order."""

    sources: dict[str, Rel] = field(default_factory=dict)
    using: set[str] = field(default_factory=set)
    uid_expr: exp.Expr | None = None
    aliases: dict[str, exp.Expr] = field(default_factory=dict)  # projection aliases
    nullable: set[str] = field(default_factory=set)  # sources on the outer side of a join
    # Columns equal to the person on every row (``people.py``), the person column first
    people: tuple[exp.Expr, ...] = ()
    lookups: list[Lookup] = field(default_factory=list)  # constant relations joined to people
    # USING columns of RIGHT/FULL joins: DuckDB reads the bare name as COALESCE of the sides
    merged: dict[str, exp.Expr] = field(default_factory=dict)
    # The enclosing SELECT's scope, for a correlated user_key IN (subquery), and the ids of
    # the columns that resolved there
    outer: Scope | None = None
    outer_refs: set[int] = field(default_factory=set)
    running: set[int] = field(default_factory=set)  # windows that are running counts (running.py)

    @property
    def bearing(self) -> bool:
        return any(rel.bearing for rel in self.sources.values())

    def resolve(self, col: exp.Column) -> tuple[str, K] | Violation:
        """The (source alias, kind) a column reference names, or why it names none; a name
        this SELECT's sources do not have may name the enclosing SELECT's (one level)."""
        found = self._resolve_here(col)
        if self.outer is None or not isinstance(found, Violation) or found.rule != "unknown_column":
            return found
        if col.table and col.table in self.sources:
            return found
        around = self.outer._resolve_here(col)
        if isinstance(around, Violation):
            return found
        self.outer_refs.add(id(col))
        return around

    def _resolve_here(self, col: exp.Column) -> tuple[str, K] | Violation:
        name, table = col.name, col.table
        if col.args.get("db") or col.args.get("catalog"):
            return at("unsupported_syntax", col, "nested field access")
        if table:
            rel = self.sources.get(table)
            if rel is not None and rel.duplicated(name):
                return at("ambiguous_column", col, f"{table}.{name}")
            kind = rel.kind(name) if rel else None
            if kind:
                return table, kind
            return _unknown(col, name if rel else table, rel.names() if rel else self.sources,
                            f"{table}.{name}")
        if any(rel.duplicated(name) for rel in self.sources.values()):
            return at("ambiguous_column", col, name)
        hits = [(alias, rel.kind(name)) for alias, rel in self.sources.items() if rel.kind(name)]
        if len(hits) > 1 and name not in self.using:
            return at("ambiguous_column", col, name)
        if hits:
            return hits[0][0], hits[0][1]  # type: ignore[return-value]
        if name in self.sources:
            return at("whole_row", col, name)
        return _unknown(col, name, [n for rel in self.sources.values() for n in rel.names()], name)

    def qualified(self, col: exp.Column) -> exp.Expr | None:
        """The column named by its source, or the COALESCE a merged USING column stands for."""
        found = self.resolve(col)
        if isinstance(found, Violation):
            return None
        if not col.table and col.name in self.merged:
            return copy_tree(self.merged[col.name])
        return exp.column(col.name, table=found[0], quoted=True)


def expand_stars(select: exp.Select, scope: Scope) -> list[Violation]:
    """Replace ``*``, ``t.*`` and ``* EXCLUDE (...)`` with explicit, qualified columns."""
    problems: list[Violation] = []
    projections: list[exp.Expr] = []
    for proj in select.expressions:
        star = _star_of(proj)
        if star is None:
            if isinstance(proj, exp.Columns) or proj.find(exp.Columns):
                problems.append(at("columns_expression", proj, "COLUMNS(...)"))
            projections.append(proj)
            continue
        if star.args.get("replace") or star.args.get("rename") or star.args.get("ilike"):
            problems.append(at("columns_expression", proj, "* REPLACE"))
            continue
        table = proj.table if isinstance(proj, exp.Column) else None
        # sqlglot names EXCLUDE ``except_`` (it was ``except``): read either, never neither.
        excluded = {e.name for e in star.args.get("except_") or star.args.get("except") or []}
        expanded, missing = _expand(scope, table, excluded)
        if missing:
            problems.append(at("unknown_column", proj, table))
        projections.extend(_place(expanded, proj))
    select.set("expressions", projections)
    return problems


def _star_of(proj: exp.Expr) -> exp.Star | None:
    if isinstance(proj, exp.Star):
        return proj
    if isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star):
        return proj.this
    return None


def _expand(scope: Scope, table: str | None, excluded: set[str]) -> tuple[list[exp.Expr], bool]:
    if table and table not in scope.sources:
        return [], True
    out: list[exp.Expr] = []
    seen: set[str] = set()
    for alias, rel in scope.sources.items():
        if table and alias != table:
            continue
        for name in rel.names():
            if name in excluded or (name in scope.using and name in seen):
                continue
            seen.add(name)
            # A merged USING column stays a bare name: DuckDB reads it as the COALESCE.
            merged = name in scope.merged and not table
            column = exp.column(name, table=None if merged else alias, quoted=True)
            out.append(exp.alias_(column, name, quoted=True, copy=False))
    return out, False


def _place(nodes: list[exp.Expr], like: exp.Expr) -> list[exp.Expr]:
    """Give generated nodes the position of the shorthand they replace, for error messages."""
    line, col = position(like)
    for node in nodes:
        for ident in node.find_all(exp.Identifier):
            ident.meta.update(line=line, col=col, start=0, end=0)
    return nodes


def resolve_positional(select: exp.Select) -> list[Violation]:
    """``#n`` names the n-th projection (DuckDB): replace it with that projection's expression."""
    problems: list[Violation] = []
    for node in find_all(select, exp.PositionalColumn, stop=exp.Select):
        index = int(node.this.name) if isinstance(node.this, exp.Literal) else 0
        if node.parent_select is not select:
            continue
        if not 1 <= index <= len(select.expressions) or index - 1 == _index_of(select, node):
            problems.append(at("unsupported_syntax", node, f"#{index}"))
            continue
        node.replace(_place([copy_tree(select.expressions[index - 1].unalias())], node)[0])
    return problems


def _index_of(select: exp.Select, node: exp.Expr) -> int:
    for i, proj in enumerate(select.expressions):
        if any(sub is node for sub in proj.walk()):
            return i
    return -1
