"""The SQL gate: parse -> analyse -> rewrite -> verify -> render.

Only the SQL rendered from the checked, rewritten tree ever runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from cleanroom.gate.analyse import Catalog, analyse_query
from cleanroom.gate.model import Aggregate, K, Mode, QueryShape
from cleanroom.gate.parse import parse_query
from cleanroom.gate.rewrite import (  # noqa: F401  (rewrite_query, verify_rewrite: imported here before)
    PEOPLE,
    final_branches,
    rewrite_checked,
    rewrite_query,
    verify_rewrite,
)
from cleanroom.gate.screen import screen_of
from cleanroom.gate.sets import meet_sets, places_of, sets_to_meet
from cleanroom.gate.subvalues import hoist_value_subqueries
from cleanroom.gate.walk import copy_tree, find_all, sql_text


@dataclass(frozen=True)
class CheckedQuery:
    """A query the gate accepted: the SQL to run and how to release its rows."""

    sql: str
    columns: tuple[str, ...]
    mode: Mode
    people_column: str | None  # the hidden per-row count of people, last column, if any
    limit: int | None
    offset: int
    aggregates: tuple[Aggregate, ...]
    tables: tuple[str, ...]
    # Hidden per-cell flags (true: withheld) between the columns and the people count: one
    # per output column, or none when no cell can be withheld.
    cell_flags: int = 0
    # A final set operation: a hidden list of each row's people (branch first) after the flags,
    # for the release to compare rows of different branches.
    compare_rows: bool = False
    # The same query with its people counts as certified lower bounds and ``__cr_cert`` last,
    # to run first (``gate/screen.py``); None: the exact SQL only.
    screen: str | None = None


def check_query(sql: str, catalog: Catalog, *, min_users: int) -> CheckedQuery:
    """Check an analyst's SQL against the catalog; raise QueryRejected listing every violation.

    >>> cat = Catalog.of({"t": {"user_key": K.UID, "channel": K.DIM}})
    >>> check_query("SELECT channel, COUNT(*) AS n FROM t GROUP BY channel", cat, min_users=50).sql
    'SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS n, "__cr_q"."__cr_n" FROM (SELECT channel AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "t"."user_key") AS "__cr_n" FROM t GROUP BY channel) AS __cr_q'
    """
    tree = hoist_value_subqueries(parse_query(sql, catalog.types), catalog.tables)
    # Analysis normalizes the tree in place (a lookup's join becomes CASEs, dropping the set
    # operation of constants it joined): the set operations to read as met are matched to
    # this copy's by identity, not by their count in a walk (``sets.places_of``).
    before = find_all(tree, exp.SetOperation)
    fresh = copy_tree(tree) if before else None  # most queries have none: no copy
    shape = analyse_query(tree, catalog)
    places = places_of(sets_to_meet(shape), before) if fresh is not None else []
    if fresh is not None and places:  # read as their branches met (``sets.py``)
        meet_sets(fresh, places, catalog.types)
        shape = analyse_query(fresh, catalog)
    branches = bool(final_branches(shape))
    released = shape.final_mode is Mode.ANONYMIZING or branches
    limit, offset = _take_limit(shape) if released else (None, 0)
    tree, _ = rewrite_checked(shape, min_users=min_users)  # rewrite, then verify
    sql, flags = sql_text(tree, copy=False), _flags(tree)
    # The exact SQL is rendered: the tree may become its screen.
    screen = screen_of(tree, min_users, datasets=frozenset(catalog.tables)) \
        if released and not branches else None
    return CheckedQuery(sql, shape.columns, shape.final_mode, PEOPLE if released else None,
                        limit, offset, shape.final_aggregates, shape.tables, flags, branches,
                        None if screen is None else sql_text(screen, copy=False))


def _flags(tree: exp.Expr) -> int:
    while isinstance(tree, (exp.SetOperation, exp.Subquery)):
        tree = tree.left if isinstance(tree, exp.SetOperation) else tree.this
    names = [p.alias_or_name for p in tree.expressions] if isinstance(tree, exp.Select) else []
    return sum(1 for n in names if n.startswith("__cr_w") and n[6:].isdigit())


def _take_limit(shape: QueryShape) -> tuple[int | None, int]:
    """The final LIMIT/OFFSET apply after suppression, so the release stage applies them."""
    values = []
    for arg in ("limit", "offset"):
        clause = shape.tree.args.get(arg)
        values.append(int(clause.expression.name) if clause is not None else None)
        shape.tree.set(arg, None)
    return values[0], values[1] or 0


__all__ = ["Catalog", "CheckedQuery", "K", "Mode", "check_query"]
