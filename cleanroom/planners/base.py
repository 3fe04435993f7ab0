"""What a planner hands the pipeline: a frozen ``Plan`` of steps, each saying what SQL to run and
which one release rule lets its rows out, and a ``finish`` that shapes the released tables into
the answer (or into the next stage's plan, for requests whose second query depends on the
first one's released rows, like RFM).

Steps come in four kinds:

- ``SqlStep``: SQL that the gate checks like an analyst's (free SQL and the analytics); the
  pipeline's check stage turns it into an ``ExactStep`` or a ``NoisedStep``;
- ``ExactStep``: checked SQL whose last column is the hidden people count of each row, released
  by ``release.release_thresholded``;
- ``NoisedStep``: bounded SQL with its noise plan, verified, then released by
  ``privacy.dp_release``;
- ``InternalStep``: rows only the planner's ``finish`` reads and never releases (Markov's
  transition counts, which ``finish`` solves into the credit of an ``ExactStep``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cleanroom.engine import ExactResult
from cleanroom.privacy.dp_sql import DPQuery
from cleanroom.privacy.mechanisms import NoisePlan

Interval = list[float] | None
Params = Mapping[str, Any]


@dataclass(frozen=True)
class SqlStep:
    sql: str
    epsilon: float | None = None  # this query's share of the request's epsilon


@dataclass(frozen=True)
class ExactStep:
    sql: str
    columns: tuple[str, ...]  # the released columns; the result has the people count after them
    people_column: str | None
    limit: int | None = None
    offset: int = 0
    params: Params | None = None
    mode: str = "anonymizing"
    trusted: bool = False  # a planner's own SQL, not checked by the gate (verify re-reads it)
    cell_flags: int = 0  # hidden per-column withheld flags before the people count (gate)
    compare_rows: bool = False  # a final set operation: rows of branches are compared
    named_by: str | None = None  # the analyst's SQL: the engine names the columns as for it
    screen: str | None = None  # run first, kept if it certifies every row (gate/screen.py)
    tables: tuple[str, ...] = ()  # the datasets the gate saw it read (for the audit)


@dataclass(frozen=True)
class NoisedStep:
    query: DPQuery
    noise: NoisePlan
    epsilon: float
    params: Params | None = None
    bounded_by_gate: bool = True  # the gate's contribution bounding (verify re-checks it)
    named_by: str | None = None  # the analyst's SQL: the engine names the columns as for it
    tables: tuple[str, ...] = ()  # the datasets the gate saw it read (for the audit)


@dataclass(frozen=True)
class InternalStep:
    sql: str
    params: Params | None = None


Step = SqlStep | ExactStep | NoisedStep | InternalStep
Checked = ExactStep | NoisedStep | InternalStep


@dataclass(frozen=True)
class Released:
    """One step's rows as they may leave (or, for an internal step, as ``finish`` reads them)."""

    columns: list[str]
    rows: list[list[Any]]
    suppressed_rows: int | None
    row_status: list[str]
    withheld_cells: list[list[int]]
    intervals: list[list[Interval]] | None = None
    noise: dict[str, Any] | None = None
    truncated: bool | None = None
    internal: ExactResult | None = None

    def cell_intervals(self) -> list[list[Interval]]:
        """Per-row cell intervals (all None for an exact answer)."""
        if self.intervals is None:
            return [[None] * len(self.columns) for _ in self.rows]
        return [list(cells) for cells in self.intervals]


@dataclass(frozen=True)
class Table:
    """A finished answer's table: what every answer shares, plus a planner's own keys."""

    columns: list[str]
    rows: list[list[Any]]
    suppressed_rows: int | None
    row_status: list[str]
    withheld_cells: list[list[int]] = field(default_factory=list)
    intervals: list[list[Interval]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Finish = Callable[[tuple[Released, ...]], "Table | Plan"]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    finish: Finish


def only(released: tuple[Released, ...]) -> Table:
    """The ``finish`` of a one-step plan whose table is the answer as released."""
    (r,) = released
    extra: dict[str, Any] = {}
    if r.noise is not None:
        extra["noise"] = r.noise
    if r.truncated is not None:
        extra["truncated"] = r.truncated
    return Table(r.columns, r.rows, r.suppressed_rows, r.row_status, r.withheld_cells,
                 r.intervals, extra)


def statuses(rows: list[list[Any]], noised: bool) -> list[str]:
    return ["noised" if noised else "exact"] * len(rows)
