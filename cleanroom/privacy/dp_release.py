"""Release the bounded exact result of a DP query: choose groups privately, noise every cell,
attach 95% confidence intervals, order and limit the noisy rows.

A row appears only if its *noisy* people count reaches both the policy's
``min_users_per_row`` and the private-selection threshold, so neither a rare group nor a
padded one (49 known people plus a target) is revealed by its mere presence. An exact threshold
would leak exactly that: a padded group would appear if and only if the target is in it.
Nothing exact leaves: every aggregate cell is noised; group keys are shown only for groups
selected with noise. A query without group keys has one row whose existence is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleanroom.engine import ExactResult
from cleanroom.privacy.dp_sql import DPColumn
from cleanroom.privacy.mechanisms import (
    AggregateSpec,
    NoisePlan,
    Rng,
    keep_group,
    noise_value,
    noisy_user_count,
    plan_noise,
)
from cleanroom.release import json_value


@dataclass(frozen=True)
class DPRelease:
    columns: tuple[str, ...]
    rows: list[list[Any]]
    intervals: list[list[list[float] | None]]  # per cell: [low, high] at 95%, None for keys
    plan: NoisePlan


def noise_plan(columns: tuple[DPColumn, ...], *, epsilon: float, max_groups_per_user: int,
               delta: float) -> NoisePlan:
    """Equal epsilon shares per aggregate (two for AVG), plus one for group selection when the
    query has group keys."""
    specs = [AggregateSpec(c.name, c.function, *( (c.lower, c.upper) if c.function != "count"
                                                 else (None, None)))  # type: ignore[arg-type]
             for c in columns if c.function != "group_key"]
    grouped = any(c.function == "group_key" for c in columns)
    return plan_noise(specs, epsilon=epsilon, max_groups_per_user=max_groups_per_user,
                      selection_delta=delta if grouped else None)


def release_dp(result: ExactResult, columns: tuple[DPColumn, ...], plan: NoisePlan, *,
               min_users: int, max_groups_per_user: int, rng: Rng,
               order: tuple[tuple[int, bool], ...] = (), limit: int | None = None,
               offset: int = 0) -> DPRelease:
    keys = sum(1 for c in columns if c.function == "group_key")
    released: list[tuple[list[Any], list[list[float] | None]]] = []
    for row in result.rows:
        if not _selected(int(row[keys]), plan, max_groups_per_user, min_users, rng):
            continue
        released.append(_noised_row(row, columns, keys, plan, rng))
    for index, descending in reversed(order):
        released.sort(key=lambda r: _sort_key(r[0][index]), reverse=descending)
    end = None if limit is None else offset + limit
    chosen = released[offset:end]
    return DPRelease(tuple(c.name for c in columns), [r for r, _ in chosen],
                     [i for _, i in chosen], plan)


def _selected(people: int, plan: NoisePlan, groups: int, min_users: int, rng: Rng) -> bool:
    if plan.selection is None:
        return True
    noisy = noisy_user_count(people, epsilon=plan.selection.epsilon,
                             max_groups_per_user=groups, rng=rng)
    return keep_group(noisy, max(plan.selection.threshold, float(min_users)))


def _noised_row(row: tuple[Any, ...], columns: tuple[DPColumn, ...], keys: int, plan: NoisePlan,
                rng: Rng) -> tuple[list[Any], list[list[float] | None]]:
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
            noisy = noise_value(entry.spec, people, rng)
            values.append(max(0, int(round(noisy.value))))
        else:
            total, count = float(next(exact_sums) or 0.0), int(next(exact_sums) or 0)
            exact: Any = total if col.function == "sum" else (total, count)
            noisy = noise_value(entry.spec, exact, rng)
            values.append(float(noisy.value))
        intervals.append([float(noisy.ci_low), float(noisy.ci_high)])
    return values, intervals


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)
