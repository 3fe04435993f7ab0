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
    withheld,
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
    """Distinct people in A, in B, and in both (joined on the user_key)."""
    a, b = dataset_of(ctx.policy, opts.a), dataset_of(ctx.policy, opts.b)
    ua, ub = quote(a.user_key), quote(b.user_key)
    ta, tb = quote(opts.a), quote(opts.b)
    return [f"SELECT COUNT(DISTINCT {ua}) AS people FROM {ta}",
            f"SELECT COUNT(DISTINCT {ub}) AS people FROM {tb}",
            f"SELECT COUNT(DISTINCT x.{ua}) AS people FROM {ta} x JOIN {tb} y ON x.{ua} = y.{ub}"]


def overlap(ctx: Context, opts: OverlapOptions) -> Plan:
    """One row per segment (A, B, A and B) that stands on enough people."""
    labels = [opts.a, opts.b, f"{opts.a} & {opts.b}"]

    def finish(answers: tuple[Released, ...]) -> Table:
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


def reach_sql(ctx: Context, opts: ReachOptions) -> list[str]:
    """People per dimension value, and people per (value, frequency) with the per-person count
    capped at ``max_frequency`` in a per-user CTE."""
    ds = quote(opts.dataset)
    uk = quote(user_key_of(ctx.policy, opts.dataset))
    dim = quote(dimension_of(ctx.policy, opts.dataset, opts.dimension))
    cap = int(opts.max_frequency)
    # Exact answers also count exposures, for the true average frequency (under DP a COUNT(*)
    # counts people, so the average comes from the noisy distribution instead).
    exposures = ", COUNT(*) AS exposures" if ctx.epsilon is None else ""
    reach = (f"SELECT {dim} AS dim_value, COUNT(DISTINCT {uk}) AS people{exposures} FROM {ds} "
             f"GROUP BY dim_value")
    distribution = (f"WITH per_user AS (SELECT {uk}, {dim} AS dim_value, "
                    f"LEAST(COUNT(*), {cap}) AS frequency FROM {ds} GROUP BY {uk}, {dim}) "
                    "SELECT dim_value, frequency, COUNT(*) AS people FROM per_user "
                    "GROUP BY dim_value, frequency")
    return [reach, distribution]


def reach_frequency(ctx: Context, opts: ReachOptions) -> Plan:
    """One row per released dimension value: people, average frequency, then people per
    frequency 1..N-1 and N+; a bucket that was not released is null, never 0 (and its row
    partial)."""
    return Plan(ctx.steps(reach_sql(ctx, opts)),
                lambda released: _reach_table(ctx, opts, *released))


def _reach_table(ctx: Context, opts: ReachOptions, reach: Released,
                 distribution: Released) -> Table:
    cap = opts.max_frequency
    buckets: dict[tuple[Any, int], tuple[int, Interval]] = {
        (row[0], int(row[1])): (row[2], cells[2])
        for row, cells in zip(distribution.rows, distribution.cell_intervals())}
    rows, intervals = [], []
    for row, cells in zip(reach.rows, reach.cell_intervals()):
        counts = [buckets.get((row[0], f), (None, None)) for f in range(1, cap + 1)]
        if ctx.epsilon is None:
            counts = secondary_suppression(row[1], counts, ctx.policy.query_rules.min_users_per_row)
            average = row[2] / row[1] if row[1] else None
        else:
            average = average_frequency([c for c, _ in counts])
        rows.append([row[0], row[1], average, *(c for c, _ in counts)])
        intervals.append([None, cells[1], None, *(i for _, i in counts)])
    columns = [opts.dimension, "people", "avg_frequency",
               *(f"freq_{f}" for f in range(1, cap)), f"freq_{cap}+"]
    extra = {"suppressed_cells": distribution.suppressed_rows, **noise_of([reach, distribution])}
    nulls = withheld(ctx, rows, range(3, 3 + cap))
    return Table(columns, rows, reach.suppressed_rows, statuses(ctx, rows, nulls), nulls,
                 intervals if ctx.private else None, extra)


def secondary_suppression(people: int, counts: list[tuple[Any, Any]],
                          min_users: int) -> list[tuple[Any, Any]]:
    """Withhold more buckets until the people they hide together are none or at least
    ``min_users``: otherwise ``people`` minus the released buckets is a withheld count.

    >>> secondary_suppression(200, [(120, None), (76, None), (None, None)], 50)
    [(120, None), (None, None), (None, None)]
    >>> secondary_suppression(100, [(60, None), (36, None), (None, None)], 50)
    [(None, None), (None, None), (None, None)]
    >>> secondary_suppression(100, [(60, None), (40, None)], 50)
    [(60, None), (40, None)]
    """
    out = list(counts)
    hidden = people - sum(c for c, _ in out if c is not None)
    for index in sorted((i for i, (c, _) in enumerate(out) if c is not None),
                        key=lambda i: out[i][0]):
        if hidden == 0 or hidden >= min_users:
            break
        hidden += out[index][0]
        out[index] = (None, None)
    return out


def average_frequency(counts: list[int | float | None]) -> float | None:
    """Mean exposures per person from the released buckets 1..N (N+ counted as N, so a lower
    bound there); null buckets are left out, and None if none was released.

    >>> average_frequency([10, None, 5])
    1.6666666666666667
    """
    released = [(f, max(0.0, float(c))) for f, c in enumerate(counts, 1) if c is not None]
    people = sum(c for _, c in released)
    return None if people <= 0 else sum(f * c for f, c in released) / people
