"""Join keys that confine a threshold's drop to one key's partition (``taint.TaintMap``).

A relation that an intermediate aggregation feeds carries the aggregation's drop flag; where a
reader meets the aggregation's rows only through an equality on its exact keys, and groups by
that key, a dropped row changes only the reader's group of its own key, so the flag may be
partitioned by it (``threshold._partition_keys``). Both sides of the equality must have one
known type (``types.same_type_comparisons``): a cast that is not one to one (a wide BIGINT read
as a DOUBLE) lets one value meet two keys.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cleanroom.gate.walk import find_all


def joined_keys(sel: exp.Select, alias: str, clean: set[str], typed: set[int]
                ) -> frozenset[str] | None:
    """Exact keys ``k`` of source ``alias``, on the NULL side of the one outer join of a
    SELECT that groups the joined rows, that the join's ON equates with a column ``o.x`` of the
    other side and that the GROUP BY groups by as ``COALESCE`` of the two (either order). A
    row the source dropped would have met only rows whose ``o.x`` is its ``k``, or stood alone
    with it, so it falls only in groups of its own key; each row of such a group carries the
    flag of its partition by ``k`` (the source's row present) or the relation's probe (missing,
    ``reach.read_taint``). The flag is the one ``taint._combined_keys`` gives: a drop beside a
    row of its partition that stands. ``typed``: the equalities whose sides have one type. None:
    any row (no join key grouped, a window, a total)."""
    joins = sel.args.get("joins") or []
    group = sel.args.get("group")
    if len(joins) != 1 or group is None or sel.args.get("laterals") or any(
            find_all(p, exp.Window, stop=exp.Select) for p in sel.expressions):
        return None
    on = joins[0].args.get("on")
    if on is None or joins[0].args.get("using") or joins[0].args.get("method"):
        return None
    items = [positional(sel, g) for g in group.expressions]
    return _keyed(on, alias, clean, typed, lambda mine, other: any(
        _groups_key(i, mine, other) for i in items))


def group_join_keys(sel: exp.Select, alias: str, clean: set[str], typed: set[int]
                    ) -> frozenset[str] | None:
    """Exact keys ``k`` of an aggregation ``alias`` that a SELECT over people's rows
    inner-joins on ``alias.k = o.x`` and groups by (``alias.k`` or ``o.x``: equal on every
    row the join keeps). A group the aggregation dropped meets only the rows of its own key,
    so it removes whole groups of the reader, never a row of a group that stands: the drop
    flag may be confined to its partition by ``k`` (``taint._combined_keys``'s flag), instead of
    every row. None: any row (an outer or cross join, a window, no join key grouped)."""
    join = next((j for j in sel.args.get("joins") or [] if j.this.alias_or_name == alias), None)
    group = sel.args.get("group")
    if join is None or group is None or join.side or (join.kind or "").upper() not in (
            "", "INNER") or join.args.get("using") or join.args.get("method") or any(
            find_all(p, exp.Window, stop=exp.Select) for p in sel.expressions):
        return None
    on = join.args.get("on")
    if on is None:
        return None
    items = [positional(sel, g) for g in group.expressions]
    return _keyed(on, alias, clean, typed, lambda mine, other: any(
        _same_column(i, mine) or _same_column(i, other) for i in items))


def _keyed(on: exp.Expr, alias: str, clean: set[str], typed: set[int],
           grouped: Callable[[exp.Column, exp.Column], bool]) -> frozenset[str] | None:
    """The clean columns ``k`` of ``alias`` in equalities ``alias.k = o.x`` of ``on`` whose
    sides have one type and that ``grouped(alias.k, o.x)`` says the reader groups by."""
    found: set[str] = set()
    for conjunct in on.flatten() if isinstance(on, exp.And) else [on]:
        if not isinstance(conjunct, exp.EQ) or id(conjunct) not in typed:
            continue  # sides of one type: the equality casts neither, two keys meet no row
        for mine, other in ((conjunct.this, conjunct.expression),
                            (conjunct.expression, conjunct.this)):
            if isinstance(mine, exp.Column) and _plain_column(mine, alias) and \
                    isinstance(other, exp.Column) and _plain_column(other, other.table) and \
                    other.table != alias and mine.name.lower() in clean and grouped(mine, other):
                found.add(mine.name.lower())
    return frozenset(found) or None


def _same_column(a: exp.Expr, b: exp.Column) -> bool:
    return isinstance(a, exp.Column) and a.table == b.table \
        and a.name.lower() == b.name.lower() and not a.args.get("db")


def _plain_column(node: exp.Expr, table: str) -> bool:
    return isinstance(node, exp.Column) and bool(table) and node.table == table \
        and isinstance(node.this, exp.Identifier) and not node.args.get("db")


def _groups_key(item: exp.Expr, mine: exp.Column, other: exp.Column) -> bool:
    """``item`` is ``COALESCE`` of ``mine`` and ``other`` (either order)."""
    same = _same_column
    if not isinstance(item, exp.Coalesce) or len(item.expressions) != 1:
        return False
    pair = (item.this, item.expressions[0])
    return (same(pair[0], mine) and same(pair[1], other)) or \
        (same(pair[0], other) and same(pair[1], mine))


def positional(sel: exp.Select, item: exp.Expr) -> exp.Expr:
    """``GROUP BY 2``: the second projection's expression."""
    if isinstance(item, exp.Literal) and item.is_int and 1 <= int(item.name) <= len(
            sel.expressions):
        proj = sel.expressions[int(item.name) - 1]
        return proj.unalias() if isinstance(proj, exp.Alias) else proj
    return item
