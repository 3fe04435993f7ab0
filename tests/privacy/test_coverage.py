"""Do the 95% intervals hold? Seeded coverage of the *plain SQL* answer, per aggregate.

One synthetic table (2,000 people, 4 channels, 1-4 rows per person and channel, costs in
[0.1, 5]) is bounded once by the real DP rewrite with bounds that do not bind (G = 4 channels,
R = 4 rows per channel, or 16 without group keys, cost in [0, 10]); the release then runs 400
times per query with a seeded generator, noising every cell afresh. Each aggregate so gets
1,600 grouped intervals (4 channels x 400) plus, for the ungrouped query, 1,200 intervals of
its own, each held against the plain SQL answer (DuckDB's COUNT(DISTINCT), COUNT(*), SUM, AVG
on the raw rows).

Tolerance: with n = 1,600 intervals the standard error of a 95% coverage is
sqrt(0.95 * 0.05 / 1,600) = 0.0054, so the asked band [0.93, 0.97] is 3.7 standard errors
either side of 0.95 (a correct interval fails it with probability about 2e-4; the seeds are
fixed, so the test is deterministic). The count intervals are exact discrete quantiles, which
reach a little above 95% (by at most P(|Z| = k)); here the noise is fine-grained, so that
is a few tenths of a percent.
"""

from __future__ import annotations

from functools import cache

import duckdb
import numpy as np
import pytest

from cleanroom.pipeline import plan_private_query
from cleanroom.policy import Policy, load_policies
from cleanroom.privacy.dp_release import release_dp
from cleanroom.privacy.mechanisms import AggregateSpec, make_rng, noise_value, plan_noise
from tests.conftest import POLICIES, with_person_counts

RUNS = 400
GROUPED = ("SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(*) AS n, "
           "SUM(cost) AS spend, AVG(cost) AS mean FROM impressions GROUP BY channel")
TOTAL = ("SELECT COUNT(DISTINCT user_key) AS people, COUNT(*) AS n, SUM(cost) AS spend, "
         "AVG(cost) AS mean FROM impressions")
DATA = """
    SELECT 'u' || p AS user_key, TIMESTAMP '2026-09-01' AS ts, 'ch' || c AS channel,
           'camp' AS campaign, 0.1 + ((p * 31 + c * 17 + r * 7) % 491) / 100.0 AS cost
    FROM range(2000) t(p), range(4) s(c), range(4) q(r)
    WHERE r <= (p + c) % 4 AND (c = 0 OR (p + c) % 3 <> 0)"""
LOW, HIGH = 0.93, 0.97


def policy(rows: int) -> Policy:
    base = load_policies(POLICIES)["acme-streamco"]
    datasets = dict(base.datasets)
    cost = datasets["impressions"].columns["cost"].model_copy(update={"bounds": (0.0, 10.0)})
    columns = {**datasets["impressions"].columns, "cost": cost}
    datasets["impressions"] = datasets["impressions"].model_copy(update={"columns": columns})
    rules = base.query_rules.model_copy(update={"max_groups_per_user": 4,
                                                "max_rows_per_user_group": rows})
    return base.model_copy(update={"datasets": datasets, "query_rules": rules})


@cache
def database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE impressions AS {DATA}")
    with_person_counts(con, "impressions")
    return con


@cache
def coverage(sql: str, epsilon: float, seed: int) -> dict[str, float]:
    """Share of intervals that cover the plain SQL answer, per output column. Without group
    keys a person's rows all fall in the one group: R = 16 (4 channels x 4) does not bind."""
    con = database()
    private = plan_private_query(policy(4 if "GROUP BY" in sql else 16), sql, epsilon)
    q = private.query
    bounded = con.execute(q.sql).fetchall()
    plain = {tuple(r[:q.key_count]): r[q.key_count:] for r in con.execute(sql).fetchall()}
    rng = make_rng(seed)
    hits = {c.name: [] for c in q.columns if c.function != "group_key"}
    for _ in range(RUNS):
        release = release_dp(bounded, q.columns, private.plan, min_users=50,
                             max_groups_per_user=4, rng=rng)
        assert len(release.rows) == len(plain)  # every group far above the threshold
        for row, cells in zip(release.rows, release.intervals):
            truth = plain[tuple(row[:q.key_count])]
            for col, cell, value in zip(q.columns[q.key_count:], cells[q.key_count:], truth):
                assert cell is not None
                hits[col.name].append(cell[0] <= float(value) <= cell[1])
    return {name: float(np.mean(h)) for name, h in hits.items()}


@pytest.mark.parametrize("column", ["people", "n", "spend", "mean"])
def test_grouped_intervals_cover_the_plain_sql_answer(column: str) -> None:
    """1,600 intervals per aggregate at epsilon 1 (five shares of 0.2)."""
    assert LOW <= coverage(GROUPED, 1.0, 1)[column] <= HIGH


@pytest.mark.parametrize("column", ["people", "n", "spend", "mean"])
def test_ungrouped_intervals_cover_the_plain_sql_answer(column: str) -> None:
    """One cell per release, so three seeds of 400 make 1,200 intervals (standard error
    0.0063: the band is 3.2 of them)."""
    shares = [coverage(TOTAL, 0.5, seed)[column] for seed in (2, 3, 4)]
    assert LOW <= float(np.mean(shares)) <= HIGH


def test_the_noisy_answers_estimate_rows_not_people() -> None:
    """The issue's bias: COUNT(*) answered the people count. Over 300 releases the mean noisy
    COUNT(*) and SUM must sit on the plain answers: within 4 standard errors of the mean
    (Laplace scale b has standard deviation b * sqrt(2); b = 80 rows and 800 cost here), while
    rows are more than twice the people, thousands of standard errors away."""
    con, private = database(), plan_private_query(policy(16), TOTAL, 1.0)
    bounded = con.execute(private.query.sql).fetchall()
    people, rows, spend, _ = con.execute(TOTAL).fetchone() or (0, 0, 0, 0)
    rng = make_rng(9)
    released = np.array([release_dp(bounded, private.query.columns, private.plan, min_users=50,
                                    max_groups_per_user=4, rng=rng).rows[0][:3]
                         for _ in range(300)], dtype=float)
    assert rows > 2 * people
    n_scale, spend_scale = (e.expected_abs_error or 0.0 for e in private.plan.entries[1:3])
    assert abs(released[:, 1].mean() - rows) < 4 * n_scale * np.sqrt(2 / 300)
    assert abs(released[:, 2].mean() - float(spend)) < 4 * spend_scale * np.sqrt(2 / 300)


@pytest.mark.parametrize("truth", [0, 3])
def test_cutting_counts_and_sums_at_zero_never_loses_coverage(truth: int) -> None:
    """Near zero the noise often goes negative. The released count and sum are cut at 0 (their
    bounds make them non-negative) and so are their intervals: 2,000 draws each must still
    cover at least 95% (minus 3 standard errors, 0.015), contain the released value, and never
    reach below 0."""
    count, total = plan_noise(
        [AggregateSpec("n", "count", rows=4), AggregateSpec("s", "sum", 0, 10, rows=4,
                                                             fixed_point=True)],
        epsilon=0.5, max_groups_per_user=2).entries
    rng, quantum = make_rng(17 + truth), 10 / 2**20
    for spec, exact, value in ((count.spec, truth, truth),
                               (total.spec, truth * 2**20, truth * 10.0)):
        draws = [noise_value(spec, exact, rng) for _ in range(2_000)]
        if spec.kind == "count":  # the release rounds and cuts the count's value
            draws = [d.__class__(max(0, round(d.value)), d.ci_low, d.ci_high) for d in draws]
        assert all(0 <= d.ci_low <= d.value <= d.ci_high for d in draws)
        assert np.mean([d.ci_low <= value <= d.ci_high for d in draws]) >= 0.95 - 0.015
        assert quantum > 0


def test_the_avg_interval_is_no_wider_than_it_must_be() -> None:
    """Against the old union-bound box (99.5% coverage): the ratio interval must not be
    conservative beyond the band either, at a small group (60 people) with a mean near the
    middle and one near a bound."""
    spec = plan_noise([AggregateSpec("m", "avg", 0, 10, rows=1)], epsilon=1.0,
                      max_groups_per_user=1).entries[0].spec
    rng = make_rng(23)
    for mean in (5.5, 1.0):
        centred = round((mean - 5) * 60 * 2**20 / 5)
        truth = 5 + centred * 5 / 2**20 / 60
        draws = [noise_value(spec, (centred, 60), rng) for _ in range(1_600)]
        assert LOW <= np.mean([d.ci_low <= truth <= d.ci_high for d in draws]) <= HIGH


DERIVED = ("SELECT channel, SUM(cost * 0.4 + 1) AS shifted, AVG(LEAST(cost, 3)) AS capped, "
           "SUM(CASE WHEN cost > 2 THEN cost / 1000 ELSE 0 END) AS branch "
           "FROM impressions GROUP BY channel")


@pytest.mark.parametrize("column", ["shifted", "capped", "branch"])
def test_derived_values_cover_the_plain_sql_answer(column: str) -> None:
    """Sums and averages of expressions, noised on their public ranges ([1, 5], [0, 3] and
    [0, 0.01] with cost's bounds [0, 10]): 1,600 intervals each at epsilon 1, the same band."""
    private = plan_private_query(policy(4), DERIVED, 1.0)
    assert [(c.lower, c.upper) for c in private.query.columns[1:]] == [
        (1.0, 5.0), (0.0, 3.0), (0.0, 0.01)]
    assert LOW <= coverage(DERIVED, 1.0, 5)[column] <= HIGH
