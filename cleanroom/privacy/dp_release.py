"""Release the bounded exact result of a DP query: choose groups privately, noise every cell,
attach 95% confidence intervals, order and limit the noisy rows.

A row appears only if its *noisy* people count reaches both the policy's
``min_users_per_row`` and the private-selection threshold, so neither a rare group nor a
padded one (49 known people plus a target) is revealed by its mere presence. An exact threshold
would leak exactly that: a padded group would appear if and only if the target is in it.
Nothing exact leaves: every aggregate cell is noised; group keys are shown only for groups
selected with noise. A query without group keys has one row whose existence is public. In a
grouped query a count cell is the selection's own noisy people count, which costs no further
epsilon (docs/privacy.md, "The saving").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from cleanroom.privacy.dp_sql import DPColumn
from cleanroom.privacy.mechanisms import (
    AggregateSpec,
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
               delta: float) -> NoisePlan:
    """Equal epsilon shares: one per sum, two per avg and, when the query has group keys, one
    for group selection. Under DP a count is the group's people count, which selection already
    noises with the same mechanism and sensitivity, so in a grouped query every count releases
    that noisy count and costs no share of its own; without group keys a count has its share.

    >>> plan = noise_plan((DPColumn("k", "group_key"), DPColumn("n", "count")), epsilon=1.0,
    ...                   max_groups_per_user=2, delta=1e-6)
    >>> plan.shares, plan.entries[0].epsilon, plan.entries[0].mechanism
    (1, 1.0, 'geometric (selection count)')
    """
    grouped = any(c.function == "group_key" for c in columns)
    aggregates = [c for c in columns if c.function != "group_key"]
    own = [c for c in aggregates if not (grouped and c.function == "count")]
    base = plan_noise([_spec(c) for c in own], epsilon=epsilon,
                      max_groups_per_user=max_groups_per_user,
                      selection_delta=delta if grouped else None)
    if base.selection is None:
        return base
    shared = replace(plan_noise([AggregateSpec("count", "count")], epsilon=base.selection.epsilon,
                                max_groups_per_user=max_groups_per_user).entries[0],
                     mechanism=SHARED_COUNT)
    planned = iter(base.entries)
    entries = tuple(replace(shared, name=c.name) if c.function == "count" else next(planned)
                    for c in aggregates)
    return NoisePlan(epsilon, base.shares, entries, base.selection)


def _spec(column: DPColumn) -> AggregateSpec:
    if column.function == "count":
        return AggregateSpec(column.name, "count")
    return AggregateSpec(column.name, column.function, column.lower,  # type: ignore[arg-type]
                         column.upper)


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
    entries = iter(plan.entries)
    people = int(row[keys])
    values: list[Any] = []
    intervals: list[list[float] | None] = []
    key_values = iter(row[:keys])
    exact_sums = iter(row[keys + 1:])
    for col in columns:
        if col.function == "group_key":
            values.append(json_value(next(key_values)))
            intervals.append(None)
            continue
        entry = next(entries)
        if col.function == "count":
            noisy = (noise_value(entry.spec, people, rng) if selected is None
                     else _shared_count(selected, entry))
            values.append(max(0, round(noisy.value)))
        else:
            total, count = float(next(exact_sums) or 0.0), int(next(exact_sums) or 0)
            exact: Any = total if col.function == "sum" else (total, count)
            noisy = noise_value(entry.spec, exact, rng)
            values.append(float(noisy.value))
        intervals.append([float(noisy.ci_low), float(noisy.ci_high)])
    return values, intervals


def _shared_count(selected: int, entry: PlannedNoise) -> NoisyValue:
    """A count released as the selection's noisy people count, with its 95% interval."""
    half = float(entry.ci_half_width or 0.0)
    return NoisyValue(float(selected), max(0.0, selected - half), selected + half)


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)
