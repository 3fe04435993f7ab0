"""Know before you spend: which cells of a noise plan would be mostly noise.

A cell is flagged when its 95% half-width is wider than everything the policy's bounds let a
group of ``min_users_per_row`` people contribute to it: at the smallest group that can be shown,
the interval would then be wider than the answer can be. Everything here is computed from the
plan (epsilon, sensitivities, bounds), never from data, so it is shown in ``queries/check`` before
any budget is spent, and again with the answer.
"""

from __future__ import annotations

from cleanroom.privacy.discrete import ratio_half_width
from cleanroom.privacy.mechanisms import (
    CONFIDENCE,
    NoisePlan,
    NoiseWarning,
    PlannedNoise,
    avg_noise,
)


def noise_warnings(plan: NoisePlan, *, min_users: int) -> tuple[NoiseWarning, ...]:
    """One warning per aggregate whose noise swamps what a smallest shown group can hold.

    >>> from cleanroom.privacy.mechanisms import AggregateSpec, plan_noise
    >>> plan = plan_noise([AggregateSpec("spend", "sum", 0, 100, rows=10)], epsilon=0.05,
    ...                   max_groups_per_user=8)
    >>> [w.column for w in noise_warnings(plan, min_users=50)]
    ['spend']
    """
    groups = plan.bounds.max_groups_per_user if plan.bounds and plan.selection else 1
    found = []
    for entry in plan.entries:
        half, room = _half_width(entry, min_users), _room(entry, groups, min_users)
        if half > room:
            what = (f"half the metric's range ({room:.4g}) for a group of {min_users} people"
                    if entry.spec.kind == "avg" else f"all that a group of {min_users} people "
                    f"can add under the policy's bounds ({room:.4g})")
            found.append(NoiseWarning(entry.name, (
                f"the 95% interval (about ±{half:.4g}) is wider than {what}: the answer would be "
                "mostly noise. A larger epsilon, narrower metric bounds or smaller contribution "
                "bounds would help.")))
    return tuple(found)


def _half_width(entry: PlannedNoise, min_users: int) -> float:
    if entry.spec.kind == "avg":  # depends on the cell's count: take the smallest shown group
        return ratio_half_width(avg_noise(entry.spec), float(min_users), CONFIDENCE)
    return float(entry.ci_half_width or 0.0)


def _room(entry: PlannedNoise, groups: int, min_users: int) -> float:
    """The most ``min_users`` people can put in one cell: a count's or sum's per-cell
    sensitivity (R rows, each at most max |bound|) times the people; an avg's half range."""
    spec = entry.spec
    if spec.kind == "avg":
        return (float(spec.upper or 0.0) - float(spec.lower or 0.0)) / 2
    return min_users * spec.sensitivity / groups
