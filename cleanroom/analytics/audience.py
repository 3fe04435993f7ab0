"""Audience analytics: overlap between two datasets, and reach and frequency by a dimension."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cleanroom.analytics.base import (
    Context,
    Interval,
    Options,
    Table,
    noise_of,
    statuses,
    total_suppressed,
)
from cleanroom.analytics.checks import dataset_of, dimension_of, quote, user_key_of
from cleanroom.planners.base import Plan, Released


class OverlapOptions(Options):
    a: str
    b: str


class ReachOptions(Options):
    dataset: str
    dimension: str
    max_frequency: int = Field(default=10, ge=2, le=100)


def overlap_sql(ctx: Context, opts: OverlapOptions) -> list[str]:
    """Distinct people in A, in B, and in both (joined on the user_key). Exact: one row of
    three counts over A's and B's people FULL JOINed, so that the gate compares them as
    aggregates of one row: where ``|B| - |A∩B|`` is a few people, the later one is withheld
    (three queries gave both, and their difference). Under DP: three queries, each noised."""
    a, b = dataset_of(ctx.policy, opts.a), dataset_of(ctx.policy, opts.b)
    ua, ub = quote(a.user_key), quote(b.user_key)
    ta, tb = quote(opts.a), quote(opts.b)
    if ctx.epsilon is None:
        return [f"SELECT COUNT(DISTINCT x.{ua}) AS a, COUNT(DISTINCT y.{ub}) AS b, "
                f"COUNT(DISTINCT CASE WHEN x.{ua} IS NOT NULL AND y.{ub} IS NOT NULL "
                f"THEN x.{ua} END) AS ab FROM (SELECT DISTINCT {ua} FROM {ta}) AS x "
                f"FULL JOIN (SELECT DISTINCT {ub} FROM {tb}) AS y ON x.{ua} = y.{ub}"]
    return [f"SELECT COUNT(DISTINCT {ua}) AS people FROM {ta}",
            f"SELECT COUNT(DISTINCT {ub}) AS people FROM {tb}",
            f"SELECT COUNT(DISTINCT x.{ua}) AS people FROM {ta} x JOIN {tb} y ON x.{ua} = y.{ub}"]


def overlap(ctx: Context, opts: OverlapOptions) -> Plan:
    """One row per segment (A, B, A and B); exact, a segment's people are null and flagged
    where they stand on too few people or would give away a few others'."""
    labels = [opts.a, opts.b, f"{opts.a} & {opts.b}"]

    def finish(answers: tuple[Released, ...]) -> Table:
        if len(answers) == 1:
            return _one_row_overlap(labels, answers[0])
        rows: list[list[Any]] = []
        intervals: list[list[Interval]] = []
        status: list[str] = []
        for label, answer in zip(labels, answers):
            for row, cells, state in zip(answer.rows, answer.cell_intervals(), answer.row_status):
                rows.append([label, row[0]])
                intervals.append([None, cells[0]])
                status.append(state)
        return Table(["segment", "people"], rows, total_suppressed(answers), status, [],
                     intervals if ctx.private else None, noise_of(answers))
    return Plan(ctx.steps(overlap_sql(ctx, opts)), finish)


def _one_row_overlap(labels: list[str], answer: Released) -> Table:
    """The exact answer's one row as a row per segment (none when the row is withheld)."""
    if not answer.rows:
        return Table(["segment", "people"], [], answer.suppressed_rows, [], [])
    withheld = {c for r, c in answer.withheld_cells if r == 0}
    rows = [[label, answer.rows[0][i]] for i, label in enumerate(labels)]
    status = ["partial" if i in withheld else "exact" for i in range(len(labels))]
    return Table(["segment", "people"], rows, answer.suppressed_rows, status,
                 [[i, 1] for i in sorted(withheld)])


def reach_sql(ctx: Context, opts: ReachOptions) -> list[str]:
    """Exact: one query, a row per dimension value with its people, average frequency and
    people per frequency (``frequency_sql``). Under DP: people per dimension value, and people
    per (value, frequency), each person's count capped at ``max_frequency`` in a per-user CTE
    (the DP planner noises plain counts, not FILTERed ones)."""
    ds = quote(opts.dataset)
    uk = quote(user_key_of(ctx.policy, opts.dataset))
    dim = quote(dimension_of(ctx.policy, opts.dataset, opts.dimension))
    cap = int(opts.max_frequency)
    if ctx.epsilon is None:
        return [frequency_sql(ds, uk, dim, cap)]
    per_user = (f"WITH per_user AS (SELECT {uk}, {dim} AS dim_value, "
                f"LEAST(COUNT(*), {cap}) AS frequency FROM {ds} GROUP BY {uk}, {dim}) ")
    return [f"SELECT {dim} AS dim_value, COUNT(DISTINCT {uk}) AS people FROM {ds} "
            "GROUP BY dim_value",
            per_user + "SELECT dim_value, frequency, COUNT(*) AS people FROM per_user "
            "GROUP BY dim_value, frequency"]


# Each bucket is a support of its own, and the gate counts the people behind every pair of
# supports (its difference check), so a query's cost grows with the square of its buckets (cap
# 10: about 7 times the two plain queries it replaces; cap 16: minutes). Buckets past this one
# are not computed: they are null and listed as withheld, and the combination check still
# covers them (people minus the computed buckets is one more number of the row).
MAX_EXACT_BUCKETS = 10


def frequency_sql(ds: str, uk: str, dim: str, cap: int) -> str:
    """The exact reach and frequency query: every bucket is an aggregate of the same row as
    ``people``, so the gate's cell checks protect them together (``release.py``): a bucket on
    too few people is withheld, and so is any bucket that, with ``people`` and the other
    released buckets, would give away a withheld one by subtraction (``isolation.py``). A
    per-user row per (person, value) makes ``COUNT(*)`` a count of people.

    >>> sql = frequency_sql('"t"', '"u"', '"d"', 2)
    >>> sql[sql.index("SELECT dim_value"):]  # doctest: +NORMALIZE_WHITESPACE
    'SELECT dim_value, COUNT(*) AS people, SUM(CASE WHEN frequency = 1 THEN exposures
    WHEN exposures = 2 THEN exposures ELSE exposures END) / COUNT(*) AS avg_frequency,
    COUNT(*) FILTER (WHERE frequency = 1) AS "freq_1", COUNT(*) FILTER (WHERE frequency = 2) AS
    "freq_2+" FROM per_user GROUP BY dim_value'
    """
    buckets = ", ".join(f'COUNT(*) FILTER (WHERE frequency = {f}) AS "{bucket_name(f, cap)}"'
                        for f in range(1, min(cap, MAX_EXACT_BUCKETS) + 1))
    return (f"WITH per_user AS (SELECT {uk}, {dim} AS dim_value, COUNT(*) AS exposures, "
            f"LEAST(COUNT(*), {cap}) AS frequency FROM {ds} GROUP BY {uk}, {dim}) "
            f"SELECT dim_value, COUNT(*) AS people, {exposures_sum(cap)} / COUNT(*) AS "
            f"avg_frequency, {buckets} FROM per_user GROUP BY dim_value")


def exposures_sum(cap: int) -> str:
    """``SUM(exposures)`` split into one CASE branch per computed bucket, one for exactly
    ``cap`` and one for the rest: each branch is a part (``gate/parts.py``) that must stand on
    nobody or on k people, else the average is withheld. A plain ``SUM(exposures)`` beside the
    people and the released buckets gave the withheld tail's exposures, and since most of the
    tail sits at its lowest frequency, a few people's excess exposures
    (``tests/test_analytics_frequency.py``).

    >>> exposures_sum(3)  # doctest: +NORMALIZE_WHITESPACE
    'SUM(CASE WHEN frequency = 1 THEN exposures WHEN frequency = 2 THEN exposures
    WHEN exposures = 3 THEN exposures ELSE exposures END)'
    """
    top = min(cap - 1, MAX_EXACT_BUCKETS)
    branches = [f"WHEN frequency = {f} THEN exposures" for f in range(1, top + 1)]
    if cap <= MAX_EXACT_BUCKETS:
        branches.append(f"WHEN exposures = {cap} THEN exposures")
    return f"SUM(CASE {' '.join(branches)} ELSE exposures END)"


def bucket_name(frequency: int, cap: int) -> str:
    return f"freq_{frequency}+" if frequency == cap else f"freq_{frequency}"


def reach_frequency(ctx: Context, opts: ReachOptions) -> Plan:
    """One row per released dimension value: people, average frequency, then people per
    frequency 1..N-1 and N+; a bucket that was not released is null, never 0 (and its row
    partial). Exact answers are released as the gate's cells; DP ones are put together from
    the two noised queries."""
    finish = _exact_table if ctx.epsilon is None else _noised_table
    return Plan(ctx.steps(reach_sql(ctx, opts)),
                lambda released: finish(ctx, opts, *released))


def _columns(opts: ReachOptions) -> list[str]:
    cap = opts.max_frequency
    return [opts.dimension, "people", "avg_frequency",
            *(bucket_name(f, cap) for f in range(1, cap + 1))]


def _exact_table(ctx: Context, opts: ReachOptions, reach: Released) -> Table:
    """The released rows as they are, the buckets past ``MAX_EXACT_BUCKETS`` null and withheld;
    ``suppressed_cells`` is the number of null buckets (each listed in ``withheld_cells``)."""
    width = len(_columns(opts))
    missing = width - len(reach.columns)
    rows = [[*row, *([None] * missing)] for row in reach.rows]
    cells = sorted([*reach.withheld_cells,
                    *([i, j] for i in range(len(rows)) for j in range(width - missing, width))])
    status = ["partial" if missing else s for s in reach.row_status]
    buckets = sum(1 for _, column in cells if column >= 3)
    return Table(_columns(opts), rows, reach.suppressed_rows, status, cells, None,
                 {"suppressed_cells": buckets})


def _noised_table(ctx: Context, opts: ReachOptions, reach: Released,
                  distribution: Released) -> Table:
    cap = opts.max_frequency
    buckets: dict[tuple[Any, int], tuple[int, Interval]] = {
        (row[0], int(row[1])): (row[2], cells[2])
        for row, cells in zip(distribution.rows, distribution.cell_intervals())}
    rows, intervals = [], []
    for row, cells in zip(reach.rows, reach.cell_intervals()):
        counts = [buckets.get((row[0], f), (None, None)) for f in range(1, cap + 1)]
        rows.append([row[0], row[1], average_frequency([c for c, _ in counts]),
                     *(c for c, _ in counts)])
        intervals.append([None, cells[1], None, *(i for _, i in counts)])
    extra = {"suppressed_cells": distribution.suppressed_rows, **noise_of([reach, distribution])}
    return Table(_columns(opts), rows, reach.suppressed_rows, statuses(ctx, rows), [],
                 intervals, extra)


def average_frequency(counts: list[int | float | None]) -> float | None:
    """Mean exposures per person from the released buckets 1..N (N+ counted as N, so a lower
    bound there); null buckets are left out, and None if none was released.

    >>> average_frequency([10, None, 5])
    1.6666666666666667
    """
    released = [(f, max(0.0, float(c))) for f, c in enumerate(counts, 1) if c is not None]
    people = sum(c for _, c in released)
    return None if people <= 0 else sum(f * c for f, c in released) / people
