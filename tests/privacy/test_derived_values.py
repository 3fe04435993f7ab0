"""Sums and averages of derived per-person values under DP (issue 8, point 5), through HTTP.

Each expression's public range (``gate/ranges.py``: metric bounds, constants, functions) is
the clamp the bounded SQL applies to every row, and the range the noise is calibrated on. The
data (1,500 people, 4 channels, 1-4 impressions per person and channel, one conversion each)
never reaches the bounds (R = 4 rows per person and channel, G = 4 channels), so the bounded
answer is the plain SQL answer, computed here by DuckDB on the same files.

Tolerances. Each query runs ``RUNS`` = 20 times at epsilon 8 (a share of 4 for the value, 4
for group selection), seeded, 80 cells per expression:

- every 95% interval must hold the truth in at least 70 of 80 cells (a correct interval
  misses more than 10 with probability below 1%; a clamp narrower than the values gives a
  bias of many noise scales and misses nearly all);
- for sums, the mean absolute error over 80 cells must lie within [0.6, 1.6] times the plan's
  expected absolute error: |Laplace| has a standard deviation equal to its mean, so the mean
  of 80 has a relative standard error of 0.11, and the band is over 3.6 of them either side.
  A sensitivity off by a factor of 2 (R or G left out, or a range read wrong) fails it.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from tests.conftest import POLICIES, Harness, make_client
from tests.test_api_access import assert_error

RUNS, EPSILON, GROUPS, ROWS = 20, 8.0, 4, 4
JOINED = "FROM impressions i JOIN conversions c ON i.user_key = c.user_key GROUP BY i.channel"
DAYS = "date_diff('day', i.ts, c.ts)"
PER_PERSON = ("per_person AS (SELECT user_key, LEAST(SUM(revenue), 1000) AS total "
              "FROM conversions GROUP BY user_key)")
# (name, SQL, the expression's public range: what the clamp and the noise must use)
CASES = [
    ("scaled", f"SELECT i.channel, SUM(c.revenue * 0.01) AS v {JOINED}", (0.0, 10.0)),
    ("unit", "SELECT channel, SUM(cost / 100000) AS v FROM impressions GROUP BY channel",
     (0.0, 1e-4)),
    ("branch", "SELECT channel, SUM(CASE WHEN campaign = 'camp0' THEN cost ELSE 0 END) AS v "
     "FROM impressions GROUP BY channel", (0.0, 10.0)),
    ("coalesce", f"SELECT i.channel, SUM(COALESCE(c.revenue, 0) + i.cost) AS v {JOINED}",
     (0.0, 1010.0)),
    ("duration", f"SELECT i.channel, AVG(LEAST(GREATEST({DAYS}, 0), 30)) AS v {JOINED}",
     (0.0, 30.0)),
    ("decay", f"SELECT i.channel, SUM(POWER(0.5, GREATEST({DAYS}, 0) / 7.0)) AS v {JOINED}",
     (0.0, 1.0)),
    ("decayed_revenue", "SELECT i.channel, SUM(c.revenue * POWER(0.5, GREATEST("
     f"{DAYS}, 0) / 7.0)) AS v {JOINED}", (0.0, 1000.0)),
    # dbt's attribution playbook: a per-person total (clamped where it is made) times a
    # weight computed in a CTE, summed by source.
    ("weighted_total", f"WITH {PER_PERSON}, touches AS (SELECT i.channel, t.total * "
     "(1.0 / COUNT(*) OVER (PARTITION BY i.user_key)) AS linear_revenue FROM impressions i "
     "JOIN per_person t ON i.user_key = t.user_key) SELECT channel, SUM(linear_revenue) AS v "
     "FROM touches GROUP BY channel", (0.0, 1000.0)),
]
IMPRESSIONS = """
    SELECT sha256('p' || p) AS user_key,
           TIMESTAMP '2026-09-01' + INTERVAL (((p * 7 + c * 3 + r) % 20)) DAY AS ts,
           'ch' || c AS channel, 'camp' || (p % 2) AS campaign,
           0.1 + ((p * 31 + c * 17 + r * 7) % 491) / 100.0 AS cost, 'x' AS ip_hash
    FROM range(1500) t(p), range(4) s(c), range(4) q(r)
    WHERE r <= (p + c) % 4 AND (c = 0 OR (p + c) % 3 <> 0)"""
# One conversion each, after every impression; every 11th person's revenue is NULL.
CONVERSIONS = """
    SELECT sha256('p' || p) AS user_key, TIMESTAMP '2026-09-25' AS ts,
           CASE WHEN p % 11 = 0 THEN NULL ELSE (p % 97) * 10.0 END AS revenue, 'o' AS order_id
    FROM range(1500) t(p)"""


def _policy_dir(root: Path) -> Path:
    policies = root / "policies"
    policies.mkdir()
    text = (POLICIES / "acme-streamco.yaml").read_text()
    text = text.replace("bounds: [0, 100]", "bounds: [0, 10]").replace(
        "min_users_per_row: 50", f"min_users_per_row: 50\n  max_groups_per_user: {GROUPS}\n"
        f"  max_rows_per_user_group: {ROWS}").replace(
        "max_epsilon_per_query: 1.0", f"max_epsilon_per_query: {EPSILON}").replace(
        "epsilon_budget: 10.0", "epsilon_budget: 10000.0")
    (policies / "acme-streamco.yaml").write_text(text)
    (policies / "other-collab.yaml").write_text((POLICIES / "other-collab.yaml").read_text())
    return policies


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> tuple[Harness, duckdb.DuckDBPyConnection]:
    root = tmp_path_factory.mktemp("derived")
    harness = make_client(root / "data", policies=_policy_dir(root), dp_seed=13)
    con = duckdb.connect()
    for name, body, party in (("impressions", IMPRESSIONS, "streamco"),
                              ("conversions", CONVERSIONS, "acme")):
        path = root / f"{name}.csv"
        con.execute(f"COPY ({body}) TO '{path}' (HEADER)")
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv_auto('{path}')")
        assert harness.upload(name, path.read_bytes(), party=party).status_code == 201
    return harness, con


@cache
def _truth(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, float]:
    return {key: float(value) for key, value in con.execute(sql).fetchall()}


def _answer(harness: Harness, sql: str) -> dict[str, Any]:
    response = harness.query(sql, epsilon=EPSILON)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("name", "sql", "bounds"), CASES, ids=[c[0] for c in CASES])
def test_a_derived_value_is_answered_on_its_range(service: tuple[Harness, Any], name: str,
                                                  sql: str, bounds: tuple[float, float]) -> None:
    harness, con = service
    truth = _truth(con, sql)
    assert len(truth) == GROUPS
    # The clamp never binds on this data: the truth lies inside what the range allows.
    low, high = bounds
    errors, covered = [], 0
    for _ in range(RUNS):
        body = _answer(harness, sql)
        assert body["epsilon_spent"] == EPSILON and set(body["row_status"]) == {"noised"}
        assert len(body["rows"]) == GROUPS
        for (key, value), (_, cell) in zip(body["rows"], body["confidence_intervals"]):
            errors.append(abs(value - truth[key]))
            covered += cell[0] <= truth[key] <= cell[1]
    entry = body["noise"]["aggregates"][0]
    assert entry["value_range"] == [low, high]
    assert body["noise"]["contribution_bounds"]["metric_bounds"] == {"v": [low, high]}
    if "AVG" in sql:  # the count's sensitivity; the centred sum's is its range's half-width
        assert entry["sensitivity"] == GROUPS * ROWS
        assert math.isclose(entry["sum_sensitivity"], GROUPS * ROWS * (high - low) / 2)
        assert all(low <= row[1] <= high for row in body["rows"])
    else:  # ranges that hold 0: the width times R rows in G groups
        assert math.isclose(entry["sensitivity"], GROUPS * ROWS * (high - low))
        ratio = float(np.mean(errors)) / entry["expected_abs_error"]
        assert 0.6 <= ratio <= 1.6, ratio
    assert covered >= 70, covered


@pytest.mark.parametrize("sql", [
    f"SELECT i.channel, AVG({DAYS}) AS v {JOINED}",
    f"SELECT i.channel, SUM(POWER(0.5, {DAYS} / 7.0)) AS v {JOINED}",
    f"SELECT i.channel, SUM(c.revenue / NULLIF({DAYS}, 0)) AS v {JOINED}",
    "WITH per_person AS (SELECT user_key, SUM(revenue) AS total FROM conversions GROUP BY "
    "user_key) SELECT i.channel, SUM(t.total * 0.5) AS v FROM impressions i JOIN per_person t "
    "ON i.user_key = t.user_key GROUP BY i.channel",
])
def test_a_value_without_a_finite_range_is_refused_with_the_rewrite(
        service: tuple[Harness, Any], sql: str) -> None:
    harness, _ = service
    before = _spent(harness)
    body = assert_error(harness.query(sql, epsilon=1.0), 422, "query_rejected")
    (found,) = body["error"]["violations"]
    assert found["rule"] == "dp_unsupported"
    assert "LEAST(GREATEST(" in found["message"]
    assert _spent(harness) == before  # refused before any charge


def _spent(harness: Harness) -> float:
    return float(harness.client.get("/v1/collaborations/acme-streamco/budget",
                                    headers=harness.auth("acme")).json()["epsilon_spent"])


def test_a_null_value_is_left_out_not_counted_at_the_lower_bound(
        service: tuple[Harness, Any]) -> None:
    """DuckDB's GREATEST skips NULLs, so a bare clamp would add every NULL revenue as 500
    (bounds [500, 1000] here are made by the expression) and count it in the average."""
    harness, con = service
    sql = (f"SELECT i.channel, AVG(c.revenue * 0.5 + 500) AS v {JOINED}")
    truth = _truth(con, sql)
    body = _answer(harness, sql)
    assert body["noise"]["aggregates"][0]["value_range"] == [500.0, 1000.0]
    with_nulls = _truth(con, f"SELECT i.channel, AVG(COALESCE(c.revenue * 0.5 + 500, 500)) "
                             f"AS v {JOINED}")
    for (key, value), (_, cell) in zip(body["rows"], body["confidence_intervals"]):
        assert cell[0] <= truth[key] <= cell[1]
        assert abs(value - truth[key]) < abs(with_nulls[key] - truth[key]) / 2


def test_threshold_mode_still_refuses_a_power_of_a_rows_value(
        service: tuple[Harness, Any]) -> None:
    """Without noise a power packs: with a half-life of 0.05 days a few people's rows weigh 1
    and everyone else's next to 0 (issue 8, 4c). Only the noised answer takes it."""
    harness, _ = service
    sql = (f"SELECT i.channel, SUM(POWER(0.5, GREATEST({DAYS}, 0) / 0.05)) AS v {JOINED}")
    body = assert_error(harness.query(sql), 422, "query_rejected")
    assert {v["rule"] for v in body["error"]["violations"]} == {"not_summable"}
