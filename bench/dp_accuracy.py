"""Accuracy of the DP answers to the issue's query: coverage and MAE per aggregate.

``SELECT channel, COUNT(DISTINCT user_key), COUNT(*), SUM(cost), AVG(cost) ... GROUP BY channel``
is bounded once by the service's rewrite (``plan_private_query``, the engine's sandbox) and
released ``draws`` times with a seeded generator. Each released cell and its 95% interval are
held against the *plain* SQL answer on the same data. Beside each MAE: the expectation of the
two-sided geometric mechanism (2a / (1 - a^2), a = exp(-eps / sensitivity)) and of Laplace
(b = sensitivity / eps) at the sensitivity and epsilon share the plan states (in the metric's
units for a sum; an average's error depends on its count, so it has none).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from cleanroom.engine import Limits, TableSpec, run, sandbox
from cleanroom.pipeline import plan_private_query
from cleanroom.policy import Policy
from cleanroom.privacy.dp_release import release_dp
from cleanroom.privacy.mechanisms import make_rng

QUERY = ("SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(*) AS n, SUM(cost) AS spend, "
         "AVG(cost) AS mean FROM impressions GROUP BY channel")


def accuracy(policy: Policy, specs: list[TableSpec], *, epsilon: float, draws: int,
             seed: int) -> None:
    private = plan_private_query(policy, QUERY, epsilon)
    q, plan = private.query, private.plan
    with sandbox(specs, Limits()) as con:
        bounded = run(con, q.sql, Limits()).rows
        plain = {row[0]: row[1:] for row in run(con, QUERY, Limits()).rows}
    rng, errors, hits = make_rng(seed), [[] for _ in plan.entries], [[] for _ in plan.entries]
    shown = 0
    for _ in range(draws):
        release = release_dp(bounded, q.columns, plan,
                             min_users=policy.query_rules.min_users_per_row,
                             max_groups_per_user=policy.query_rules.max_groups_per_user, rng=rng)
        for row, cells in zip(release.rows, release.intervals):
            shown += 1
            for j, (value, truth, cell) in enumerate(zip(row[1:], plain[row[0]], cells[1:])):
                errors[j].append(abs(float(value) - float(truth)))
                hits[j].append(cell is not None and cell[0] <= float(truth) <= cell[1])
    bounds = plan.bounds
    print(f"\naccuracy at epsilon {epsilon:g}: {draws} releases, {shown:,} cells shown of "
          f"{draws * len(plain):,}; bounds G = {bounds.max_groups_per_user if bounds else '-'}, "
          f"R = {bounds.max_rows_per_user_group if bounds else '-'}, cost in "
          f"{[list(b[1:]) for b in (bounds.metric_bounds if bounds else ())][:1]}")
    _rows_lost(bounded, plain)
    print(f"  {'aggregate':<10}{'mechanism':<36}{'sens.':>8}{'eps':>7}{'coverage':>10}"
          f"{'MAE':>12}{'geometric':>12}{'Laplace':>12}")
    for j, entry in enumerate(plan.entries):
        geo, lap = _expectations(entry)
        print(f"  {entry.name:<10}{entry.mechanism:<36}{entry.sensitivity:>8g}"
              f"{entry.epsilon:>7.3g}{statistics.fmean(hits[j]):>10.4f}"
              f"{statistics.fmean(errors[j]):>12.4g}{geo:>12}{lap:>12}")
    for warning in plan.warnings:
        print(f"  warning ({warning.column}): {warning.message}")


def _expectations(entry: Any) -> tuple[str, str]:
    """Geometric and Laplace E|noise| at the plan's sensitivity and share, in output units."""
    if entry.spec.kind == "avg":
        return "-", "-"
    if entry.spec.kind == "sum":  # fixed point: the geometric runs on 2**20 quanta per bound
        quantum = max(abs(entry.spec.lower), abs(entry.spec.upper)) / 2**20
        units = entry.sensitivity / quantum
        alpha = math.exp(-entry.epsilon / units)
        geo = quantum * 2 * alpha / (1 - alpha**2)
    else:
        alpha = math.exp(-entry.epsilon / entry.sensitivity)
        geo = 2 * alpha / (1 - alpha**2)
    return f"{geo:.4g}", f"{entry.sensitivity / entry.epsilon:.4g}"


def _rows_lost(bounded: list[tuple[Any, ...]], plain: dict[Any, tuple[Any, ...]]) -> None:
    """How much the contribution bounds cut (rows and people), so 'bounds do not bind' is seen."""
    kept_rows = sum(int(r[2]) for r in bounded)
    all_rows = sum(int(v[1]) for v in plain.values())
    kept_people = sum(int(r[1]) for r in bounded)
    all_people = sum(int(v[0]) for v in plain.values())
    print(f"  bounding kept {kept_rows:,} of {all_rows:,} rows and {kept_people:,} of "
          f"{all_people:,} person-groups")
