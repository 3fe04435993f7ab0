"""Release an exact result: drop every row that stands on too few people, count them, and
make values JSON-safe. Differential privacy, when asked for, is applied by ``privacy``.

Counting withheld rows is itself a disclosure: if every withheld row were counted, a query that
groups by a constant would say whether *anyone* matches its WHERE clause (0 or 1 withheld row),
and a campaign seen by three people could be spelled out one LIKE prefix at a time. So only
withheld rows that stand on at least half the threshold are counted: the count then says that
some group has between ``ceil(k/2)`` and ``k - 1`` people, a fact about many people, never
whether a handful match a condition. Smaller groups are withheld without being counted.

A released row may still lose cells: the gate flags each cell whose aggregate stands on too few
people, differs from another of the row by a few, or was computed from a value the threshold
withheld inside the query (hidden boolean columns, ``gate/threshold.py``). Those cells are
returned as NULL, listed in ``withheld_cells`` as ``[row, column]``, and their row is
``"partial"``. Cells are not rows: ``suppressed_rows`` counts only withheld rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cleanroom.engine import ExactResult
from cleanroom.errors import QueryFailed, Violation
from cleanroom.gate.model import SKETCH_SIZE
from cleanroom.isolation import BASE, RowSystem, withheld_across, withheld_aggregates

EXACT, PARTIAL = "exact", "partial"


@dataclass(frozen=True)
class Release:
    columns: tuple[str, ...]
    rows: list[list[Any]]
    suppressed_rows: int
    row_status: tuple[str, ...] = ()  # one per row: "exact" or "partial"
    withheld_cells: tuple[tuple[int, int], ...] = ()  # (row, column) of each NULLed cell


def counted_floor(min_users: int) -> int:
    """The fewest people a withheld row must stand on to be counted in ``suppressed_rows``.

    >>> counted_floor(50), counted_floor(3)
    (25, 2)
    """
    return (min_users + 1) // 2


def count_withheld(people: Iterable[int | None], min_users: int) -> int:
    """How many withheld rows ``suppressed_rows`` reports (see the module's docstring).

    >>> count_withheld([60, 49, 25, 24, 3, 0, None], 50)
    2
    """
    floor = counted_floor(min_users)
    return sum(1 for n in people if floor <= (n or 0) < min_users)


@dataclass(frozen=True)
class Gathered:
    """An exact step's rows as the release reads them (``gather``)."""

    result: ExactResult
    withheld: int  # rows dropped on the way that ``suppressed_rows`` counts
    dropped: int  # rows dropped on the way: under the threshold


def gather(columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]], *, counted: bool,
           min_users: int, max_rows: int) -> Gathered:
    """An exact step's rows, as they stream from the engine, reduced to what the release reads:
    the rows on ``min_users`` people (every row when ``counted`` is False: each is released),
    at most ``max_rows`` of them (``too_many_rows`` past it), the first row that carries the
    answer's patterns whatever its people (``_patterns``), and of the other rows only how many
    ``suppressed_rows`` counts. The cap counts only rows a release could let out, so a group of
    one person never decides whether the answer fails (``tests/test_row_cap_oracle.py``).

    >>> g = gather(("c", "__cr_n"), [("a", 60), ("b", 30), ("c", 3)], counted=True,
    ...            min_users=50, max_rows=1)
    >>> g.result.rows, g.withheld, g.dropped
    ([('a', 60)], 1, 2)
    """
    at = columns.index(OVERLAP) if OVERLAP in columns else None
    kept: list[tuple[Any, ...]] = []
    shown = withheld = dropped = 0
    carried = at is None  # whether the patterns' row has been met
    for row in rows:
        carrier = not carried and at is not None and _carries(row[at])
        carried = carried or carrier
        if not counted or (row[-1] or 0) >= min_users:
            shown += 1
            if shown > max_rows:
                raise QueryFailed([Violation("too_many_rows",
                                             f"the result has over {max_rows} rows")])
        else:
            dropped += 1
            if not carrier:  # a kept carrier is counted by the release itself
                withheld += count_withheld([row[-1]], min_users)
                continue
        kept.append(row)
    return Gathered(ExactResult(columns, kept), withheld, dropped)


def _carries(found: Any) -> bool:
    return found is not None and found["s"] is not None


def release_thresholded(result: ExactResult, *, people_column: str | None, min_users: int,
                        limit: int | None = None, offset: int = 0,
                        cell_flags: int = 0, compare_rows: bool = False,
                        withheld: int = 0) -> Release:
    """Keep rows whose hidden people count reaches ``min_users``; withhold flagged cells;
    LIMIT applies after that. ``withheld``: rows ``gather`` already dropped and counted.

    >>> r = ExactResult(("c", "n", "__cr_n"), [("a", 60, 60), ("b", 30, 30), ("c", 3, 3)])
    >>> release_thresholded(r, people_column="__cr_n", min_users=50).rows
    [['a', 60]]
    >>> r = ExactResult(("c", "n", "s", "__cr_w0", "__cr_w1", "__cr_w2", "__cr_n"),
    ...                 [("a", 60, 7.5, False, False, True, 60)])
    >>> out = release_thresholded(r, people_column="__cr_n", min_users=50, cell_flags=3)
    >>> out.rows, out.row_status, out.withheld_cells
    ([['a', 60, None]], ('partial',), ((0, 2),))
    """
    systems = SYSTEM in result.columns
    across = OVERLAP in result.columns
    hidden = cell_flags + 2 * compare_rows + systems + across + (people_column is not None)
    width = len(result.columns) - hidden
    kept, people = _kept(result, width, people_column is not None, min_users)
    suppressed = withheld + (count_withheld(people, min_users) if people_column is not None else 0)
    if systems:
        at = result.columns.index(SYSTEM)
        kept, dropped = _isolate(kept, width, cell_flags, at, min_users)
        suppressed += dropped
    if compare_rows:
        close = close_rows([r[width + cell_flags] for r in kept], min_users,
                           [r[width + cell_flags + 1] for r in kept])
        kept = [r for i, r in enumerate(kept) if i not in close]
        suppressed += len(close)
    if across:
        at = result.columns.index(OVERLAP)
        kept, dropped = _across(kept, width, cell_flags, at, min_users,
                                _patterns(result.rows, at))
        suppressed += dropped
    end = None if limit is None else offset + limit
    rows, status, cells = [], [], []
    for i, raw in enumerate(kept[offset:end]):
        flags = raw[width:width + cell_flags]
        row = [None if flags and flags[j] else json_value(v) for j, v in enumerate(raw[:width])]
        cells += [(i, j) for j in range(width) if flags and flags[j]]
        status.append(PARTIAL if any(flags) else EXACT)
        rows.append(row)
    return Release(result.columns[:width], rows, suppressed, tuple(status), tuple(cells))


SYSTEM = "__cr_x"  # gate/cells.PATTERNS: the row's patterns and aggregates


def _isolate(rows: list[tuple[Any, ...]], width: int, cell_flags: int, at: int, k: int
             ) -> tuple[list[tuple[Any, ...]], int]:
    """Withhold the aggregates (and the cells computed from them) that some combination of
    the row's released numbers would isolate to a few people (``isolation.py``); a row whose
    HAVING or ORDER BY read one is withheld whole, and counted."""
    kept: list[tuple[Any, ...]] = []
    for row in rows:
        found = row[at]
        if found is None:
            kept.append(row)
            continue
        withheld = withheld_aggregates(system_of(found), k)
        if withheld & set(found["h"]):
            continue
        flags = list(row[width:width + cell_flags])
        for j, deps in enumerate(found["c"]):
            if withheld & set(deps):
                flags[j] = True
        kept.append((*row[:width], *flags, *row[width + cell_flags:]))
    return kept, len(rows) - len(kept)


def system_of(found: dict[str, Any]) -> RowSystem:
    """The hidden ``__cr_x`` value as a ``RowSystem`` (a condition without a bit: withheld)."""
    histograms = found["m"] or {}
    bits = [tuple(b) for b in found["v"]]  # each aggregate's vectors (``cells.vector_names``)
    flagged = [bool(f) or min(b, default=BASE) < BASE for f, b in zip(found["f"], bits)]
    return RowSystem(rows=histograms.get("r") or {}, people=histograms.get("p") or {},
                     flagged=flagged, counts=[int(n or 0) for n in found["n"]],
                     bits=[tuple(max(v, BASE) for v in b) for b in bits])


OVERLAP = "__cr_o"  # gate/overlap.OVERLAP: a row's cells across the answer's rows


def _patterns(rows: list[tuple[Any, ...]], at: int) -> list[dict[str, Any]] | None:
    """The answer's row patterns, carried by one row (kept or not); None: none to be had."""
    return next((r[at]["s"] for r in rows if r[at] is not None and r[at]["s"] is not None),
                None)


def _across(rows: list[tuple[Any, ...]], width: int, cell_flags: int, at: int, k: int,
            patterns: list[dict[str, Any]] | None) -> tuple[list[tuple[Any, ...]], int]:
    """Withhold the cells some combination of the answer's released numbers across rows would
    isolate (``isolation.withheld_across``); a row whose HAVING or ORDER BY read one is
    withheld whole, and counted."""
    released: list[tuple[tuple[int, ...], int]] = []
    for row in rows:
        found, withheld_now = row[at], row[width:width + cell_flags]
        for a, vectors in enumerate(found["i"] if found is not None else ()):
            shown = any(a in deps and not withheld_now[j] for j, deps in enumerate(found["c"]))
            if not found["f"][a] and (shown or a in found["h"]):
                released.append((tuple(vectors), int(found["n"][a] or 0)))
    withheld = withheld_across(released, patterns, k) if released else set()
    kept: list[tuple[Any, ...]] = []
    for row in rows:
        found = row[at]
        lost = {a for a, cs in enumerate(found["i"]) if set(cs) & withheld} if found else set()
        if lost & set(found["h"] if found else ()):
            continue
        flags = list(row[width:width + cell_flags])
        for j, deps in enumerate(found["c"] if lost else ()):
            if lost & set(deps):
                flags[j] = True
        kept.append((*row[:width], *flags, *row[width + cell_flags:]))
    return kept, len(rows) - len(kept)




def close_rows(people: list[list[int] | None], min_users: int,
               sketches: list[list[list[int] | None] | None] | None = None) -> set[int]:
    """Rows (indexes) withheld so that no two rows of different branches of a set operation
    are released whose people might differ by 1 to k-1 (Ads Data Hub's difference check).

    Each row's list is ``[branch, people of the row, people of each aggregate]`` and, beside it,
    a sketch of each of those sets (its ``m = 4k`` smallest person hashes). Two sets A and B
    whose differences both stand on fewer than k people have counts within k-1 of each other,
    and share the ``min(max(|A|, |B|), m) - k + 1`` smallest hashes of their intersection (each
    ranks within m in both). So a pair of rows is released when, for every pair of their sets,
    the counts are k apart or the sketches share fewer hashes than that. Of a close pair the one
    on fewer people is withheld (ties: the later row); a row on nobody's data (None) is never
    compared. Without sketches, counts alone decide (conservative). Two sets of the same
    people (a sketch then holds all of them, fewer than m) differ by no one: not close.

    >>> sorted(close_rows([[0, 1200], [1, 1193], [1, 700], [0, 60], None], 50))
    [1]
    >>> sorted(close_rows([[0, 60], [1, 60]], 50, [[[1, 2]], [[3, 4]]]))
    []
    >>> sorted(close_rows([[0, 2], [1, 2]], 1, [[[1, 2]], [[1, 2]]]))
    []
    >>> sorted(close_rows([[0, 2], [1, 2]], 3, [[[1, 2]], [[1, 3]]]))
    [1]
    """
    order = sorted((i for i, p in enumerate(people) if p), key=lambda i: (
        -min(people[i][1:]), i))  # type: ignore[index]
    withheld: set[int] = set()
    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1:]:
            if a in withheld or b in withheld:
                continue
            pa, pb = people[a], people[b]
            assert pa is not None and pb is not None
            if pa[0] == pb[0]:
                continue
            sa = sketches[a] if sketches is not None else None
            sb = sketches[b] if sketches is not None else None
            if any(_close(pa[1 + i], pb[1 + j], _at(sa, i), _at(sb, j), min_users)
                   for i in range(len(pa) - 1) for j in range(len(pb) - 1)):
                withheld.add(b)
    return withheld


def _at(sketch: list[list[int] | None] | None, i: int) -> set[int] | None:
    if sketch is None or i >= len(sketch) or sketch[i] is None:
        return None
    return set(sketch[i] or ())


def _close(x: int, y: int, sx: set[int] | None, sy: set[int] | None, k: int) -> bool:
    if abs(x - y) >= k:
        return False
    if sx is None or sy is None:
        return True
    if x == y == len(sx) and sx == sy:
        return False  # the sketches hold every person: the same people, no difference
    return len(sx & sy) >= min(max(x, y), SKETCH_SIZE * k) - k + 1


def _kept(result: ExactResult, width: int, counted: bool, min_users: int
          ) -> tuple[list[tuple[Any, ...]], list[int | None]]:
    if not counted:
        return list(result.rows), []
    people = [r[-1] for r in result.rows]
    return [r for r in result.rows if (r[-1] or 0) >= min_users], people


def json_value(value: Any) -> Any:
    """A JSON-safe form of a DuckDB value (timestamps as ISO 8601, decimals as floats)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value
