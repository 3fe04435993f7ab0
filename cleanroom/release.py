"""Release an exact result: drop every row that stands on too few people, count them, and
make values JSON-safe. Differential privacy, when asked for, is applied by ``privacy``.

Counting withheld rows is itself a disclosure: if every withheld row were counted, a query that
groups by a constant would say whether *anyone* matches its WHERE clause (0 or 1 withheld row),
and a campaign seen by three people could be spelled out one LIKE prefix at a time. So only
withheld rows that stand on at least half the threshold are counted: the count then says that
some group has between ``ceil(k/2)`` and ``k - 1`` people, a fact about many people, never
whether a handful match a condition. Smaller groups are withheld without being counted.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cleanroom.engine import ExactResult


@dataclass(frozen=True)
class Release:
    columns: tuple[str, ...]
    rows: list[list[Any]]
    suppressed_rows: int
    # Per row "exact" or "partial", and the [row, column] of each withheld (null) cell; the
    # defaults say every released row is exact, as whole-row suppression makes it.
    row_status: list[str] = field(default_factory=list, repr=False)
    withheld_cells: list[list[int]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.row_status:
            object.__setattr__(self, "row_status", ["exact"] * len(self.rows))


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


def release_thresholded(result: ExactResult, *, people_column: str | None, min_users: int,
                        limit: int | None = None, offset: int = 0) -> Release:
    """Keep rows whose hidden people count reaches ``min_users``; LIMIT applies after that.

    >>> r = ExactResult(("c", "n", "__cr_n"), [("a", 60, 60), ("b", 30, 30), ("c", 3, 3)])
    >>> release_thresholded(r, people_column="__cr_n", min_users=50)
    Release(columns=('c', 'n'), rows=[['a', 60]], suppressed_rows=1)
    """
    if people_column is None:
        rows = [list(r) for r in result.rows]
        columns = result.columns
        suppressed = 0
    else:
        columns = result.columns[:-1]
        rows = [list(r[:-1]) for r in result.rows if (r[-1] or 0) >= min_users]
        suppressed = count_withheld((r[-1] for r in result.rows), min_users)
    end = None if limit is None else offset + limit
    return Release(columns, [[json_value(v) for v in r] for r in rows[offset:end]], suppressed)


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
