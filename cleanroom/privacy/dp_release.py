"""Release the bounded exact result of a DP query: choose groups privately, noise every cell,
attach 95% confidence intervals, order and limit the noisy rows.

A row appears only if its *noisy* people count reaches both the policy's
``min_users_per_row`` and the private-selection threshold, so neither a rare group nor a
padded one (49 known people plus a target) is revealed by its mere presence. An exact threshold
would leak exactly that: a padded group would appear if and only if the target is in it.
Nothing exact leaves: every aggregate cell is noised; group keys are shown only for groups
selected with noise. A query without group keys has one row whose existence is public. In a
grouped query a count cell is the selection's own noisy people count, which costs no further
epsilon (docs/privacy.md, "The saving"). Row counts, sums and averages are noised from the
bounded exact totals (rows, integer quanta) with the sensitivities their bounds give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from cleanroom.privacy.advice import noise_warnings
from cleanroom.privacy.dp_sql import DPColumn
from cleanroom.privacy.mechanisms import (
    AggregateSpec,
    ContributionBounds,
    NoisePlan,
    NoisyValue,
    PlannedNoise,
    Rng,
    keep_group,
    noise_value,
    plan_noise,
    user_count_noise,
)
from cleanroom.release import json_value

# The mechanism shown for a count that reuses the group selection's noisy people count.
SHARED_COUNT = "geometric (selection count)"


@dataclass(frozen=True)
class DPRelease:
    columns: tuple[str, ...]
    rows: list[list[Any]]
    intervals: list[list[list[float] | None]]  # per cell: [low, high] at 95%, None for keys
    plan: NoisePlan
    truncated: bool = False  # more noisy rows were selected than the row cap lets out


def noise_plan(columns: tuple[DPColumn, ...], *, epsilon: float, max_groups_per_user: int,
               delta: float, max_rows_per_user_group: int = 1,
               min_users: int | None = None) -> NoisePlan:
    """Equal epsilon shares: one per row count and sum, two per avg and, when the query has
    group keys, one for group selection. ``COUNT(DISTINCT user_key)`` is the group's people
    count, which selection already noises with the same mechanism and sensitivity, so in a
    grouped query it releases that noisy count and costs no share of its own. Without group
    keys each person is in the one group, so G is 1. With ``min_users`` the plan carries the
    warnings of ``advice.noise_warnings``.

    >>> plan = noise_plan((DPColumn("k", "group_key"), DPColumn("n", "people")), epsilon=1.0,
    ...                   max_groups_per_user=2, delta=1e-6)
    >>> plan.shares, plan.entries[0].epsilon, plan.entries[0].mechanism
    (1, 1.0, 'geometric (selection count)')
    """
    grouped = any(c.function == "group_key" for c in columns)
    groups = max_groups_per_user if grouped else 1
    aggregates = [c for c in columns if c.function != "group_key"]
    own = [c for c in aggregates if not (grouped and c.function == "people")]
    base = plan_noise([_spec(c, max_rows_per_user_group) for c in own], epsilon=epsilon,
                      max_groups_per_user=groups, selection_delta=delta if grouped else None)
    entries = base.entries
    if base.selection is not None:
        shared = replace(plan_noise([AggregateSpec("count", "count")],
                                    epsilon=base.selection.epsilon,
                                    max_groups_per_user=groups).entries[0], mechanism=SHARED_COUNT)
        planned = iter(base.entries)
        entries = tuple(replace(shared, name=c.name) if c.function == "people" else next(planned)
                        for c in aggregates)
    bounds = ContributionBounds(max_groups_per_user, max_rows_per_user_group, tuple(
        (c.name, c.lower, c.upper) for c in aggregates if c.function in ("sum", "avg")))
    plan = NoisePlan(epsilon, base.shares, entries, base.selection, bounds)
    if min_users is None:
        return plan
    return replace(plan, warnings=noise_warnings(plan, min_users=min_users))


def _spec(column: DPColumn, rows: int) -> AggregateSpec:
    if column.function == "people":
        return AggregateSpec(column.name, "count")
    if column.function == "count":
        return AggregateSpec(column.name, "count", rows=rows)
    return AggregateSpec(column.name, column.function, column.lower,  # type: ignore[arg-type]
                         column.upper, rows=rows, fixed_point=True)


def describe_noise(plan: NoisePlan) -> dict[str, Any]:
    """The plan as the answer and queries/check show it: per aggregate its mechanism,
    sensitivity, share, expected error and 95% half-width; selection; the bounds; warnings."""
    entries = [{"column": e.name, "mechanism": e.mechanism, "sensitivity": e.sensitivity,
                "epsilon": e.epsilon, "expected_abs_error": e.expected_abs_error,
                "ci95_half_width": e.ci_half_width, **_value_range(e)} for e in plan.entries]
    selection = None if plan.selection is None else {
        "epsilon": plan.selection.epsilon, "delta": plan.selection.delta,
        "noisy_people_threshold": plan.selection.threshold}
    described: dict[str, Any] = {"epsilon": plan.epsilon, "aggregates": entries,
                                 "group_selection": selection}
    if plan.bounds is not None:
        described["contribution_bounds"] = {
            "max_groups_per_user": plan.bounds.max_groups_per_user,
            "max_rows_per_user_group": plan.bounds.max_rows_per_user_group,
            "metric_bounds": {name: [lo, hi] for name, lo, hi in plan.bounds.metric_bounds}}
        described["warnings"] = [{"column": w.column, "message": w.message}
                                 for w in plan.warnings]
    return described


def _value_range(entry: PlannedNoise) -> dict[str, Any]:
    """A sum's or average's clamp (a metric's bounds or an expression's public range) and, for
    an average, the sensitivity of its centred sum (``sensitivity`` is its count's)."""
    spec = entry.spec
    if spec.kind == "count" or spec.lower is None or spec.upper is None:
        return {}
    found: dict[str, Any] = {"value_range": [spec.lower, spec.upper]}
    if spec.kind == "avg":
        found["sum_sensitivity"] = spec.sensitivity * (spec.upper - spec.lower) / 2
    return found


def release_dp(rows: Iterable[tuple[Any, ...]], columns: tuple[DPColumn, ...], plan: NoisePlan,
               *, min_users: int, max_groups_per_user: int, rng: Rng,
               order: tuple[tuple[int, bool], ...] = (), limit: int | None = None,
               offset: int = 0, max_rows: int | None = None) -> DPRelease:
    """Select and noise every candidate group, however many there are: failing on their number
    would tell something exact. Ordering, LIMIT and the row cap then apply to the noisy rows
    only (post-processing), groups sorted by key first so nothing depends on DuckDB's order."""
    keys = sum(1 for c in columns if c.function == "group_key")
    select = _selector(plan, max_groups_per_user, min_users, rng)
    released: list[tuple[list[Any], list[list[float] | None]]] = []
    for row in rows:
        people = select(int(row[keys]))
        if people is False:
            continue
        selected = None if people is True else int(people)
        released.append(_noised_row(row, columns, keys, plan, selected, rng))
    released.sort(key=lambda r: tuple(_sort_key(v) for v in r[0][:keys]))
    for index, descending in reversed(order):
        released.sort(key=lambda r: _sort_key(r[0][index]), reverse=descending)
    end = None if limit is None else offset + limit
    chosen = released[offset:end]
    truncated = max_rows is not None and len(chosen) > max_rows
    chosen = chosen[:max_rows] if max_rows is not None else chosen
    return DPRelease(tuple(c.name for c in columns), [r for r, _ in chosen],
                     [i for _, i in chosen], plan, truncated)


def _selector(plan: NoisePlan, groups: int, min_users: int,
              rng: Rng) -> Callable[[int], int | bool]:
    """Per group: its noisy people count if it is selected, False if not; True when the
    query has no group keys (its one row is public)."""
    if plan.selection is None:
        return lambda _: True
    noisy = user_count_noise(epsilon=plan.selection.epsilon, max_groups_per_user=groups, rng=rng)
    floor = max(plan.selection.threshold, float(min_users))

    def select(people: int) -> int | bool:
        count = noisy(people)
        return count if keep_group(count, floor) else False
    return select


def _noised_row(row: tuple[Any, ...], columns: tuple[DPColumn, ...], keys: int, plan: NoisePlan,
                selected: int | None, rng: Rng) -> tuple[list[Any], list[list[float] | None]]:
    """Row layout: the keys, the people count, then a (total, count) pair for every row
    count, sum and average (``dp_sql._outer_select``)."""
    entries = iter(plan.entries)
    people = int(row[keys])
    values: list[Any] = []
    intervals: list[list[float] | None] = []
    key_values = iter(row[:keys])
    pairs = iter(row[keys + 1:])
    for col in columns:
        if col.function == "group_key":
            values.append(json_value(next(key_values)))
            intervals.append(None)
            continue
        entry = next(entries)
        if col.function == "people":
            noisy = (noise_value(entry.spec, people, rng) if selected is None
                     else _shared_count(selected, entry))
        else:
            noisy = noise_value(entry.spec, _exact(col, entry, next(pairs), next(pairs)), rng)
        # A count is a whole number and never negative; its interval is already cut at 0.
        values.append(max(0, round(noisy.value)) if entry.spec.kind == "count"
                      else float(noisy.value))
        intervals.append([float(noisy.ci_low), float(noisy.ci_high)])
    return values, intervals


def _exact(col: DPColumn, entry: PlannedNoise, total: Any, count: Any) -> int | float | tuple[
        int, int]:
    if col.function == "avg":
        return int(total or 0), int(count or 0)
    if col.function == "count" or entry.spec.fixed_point:
        return int(total or 0)  # rows, or a sum of quanta
    return float(total or 0.0)


def _shared_count(selected: int, entry: PlannedNoise) -> NoisyValue:
    """A count released as the selection's noisy people count, with its 95% interval."""
    half = float(entry.ci_half_width or 0.0)
    return NoisyValue(float(selected), max(0.0, selected - half), selected + half)


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)
