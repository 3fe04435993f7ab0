"""Review attacks on the gate's newest mechanisms (threshold mode, k = 50): running counts,
group joins, quantiles, per-person sub-keys, CTE definitions, the combination check and typed
comparisons. Written as in ``test_review_attacks.py``: the hidden truth comes from raw DuckDB,
the attack goes over HTTP, the answer is decoded, and the decoded value must not be the truth.
``xfail(strict=True, reason="leak: ...")`` marks a leak the gate lets through (listed in
docs/gate.md, *Families not fully closed*); the others pin doors that held."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import TARGET, ask, assert_clamp_window_hides, first, one_row

CHAN7_ROWS = "SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'"
TARGET_DAYS = ("SELECT COUNT(DISTINCT CAST(i.ts AS DATE)) FROM impressions i JOIN conversions c "
               f"ON c.user_key = i.user_key WHERE c.{TARGET}")


def _rows(body: dict[str, Any]) -> list[list[Any]]:
    return list(body.get("rows") or [])


# -- running counts ------------------------------------------------------------------------
def test_a_running_count_beside_plain_counts_does_not_decode_a_small_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("WITH r AS (SELECT DISTINCT channel, COUNT(user_key) OVER (ORDER BY channel) AS n "
           "FROM impressions) SELECT r.channel, r.n, p.m FROM r JOIN (SELECT channel, COUNT(*) "
           "AS m FROM impressions GROUP BY channel) p ON r.channel = p.channel ORDER BY r.channel")
    truth = first(raw, CHAN7_ROWS)[0]
    rows = _rows(ask(loaded, canary, sql))
    decoded = rows[0][1] - rows[0][2] if rows and None not in rows[0][1:] else None
    assert decoded != truth, (decoded, truth)


def test_running_counts_beside_plain_counts_in_a_union_do_not_decode_a_small_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT DISTINCT channel, COUNT(user_key) OVER (ORDER BY channel) AS n FROM "
           "impressions UNION ALL SELECT channel, COUNT(*) FROM impressions GROUP BY channel")
    truth = first(raw, CHAN7_ROWS)[0]
    by: dict[str, list[Any]] = {}
    for channel, n in _rows(ask(loaded, canary, sql)):
        by.setdefault(channel, []).append(n)
    told = by.get("display", [])  # first released key after the withheld CANARYCHAN7
    decoded = max(told) - min(told) if len(told) == 2 and None not in told else None
    assert decoded != truth, (decoded, truth)


def test_a_running_count_partitioned_into_small_groups_releases_none_of_them(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT DISTINCT channel, campaign, COUNT(user_key) OVER (PARTITION BY channel "
           "ORDER BY campaign) AS n FROM impressions")
    small = {tuple(r[:2]) for r in raw.execute(
        "SELECT channel, campaign FROM impressions GROUP BY ALL "
        "HAVING COUNT(DISTINCT user_key) < 50").fetchall()}
    assert small  # the attack is real: partitions of 1 to 15 rows exist
    rows = _rows(ask(loaded, canary, sql))
    assert rows and not small & {tuple(r[:2]) for r in rows}, rows
    truth = {tuple(r) for r in raw.execute(sql).fetchall()}
    assert {tuple(r) for r in rows} <= truth  # every released count is the raw one


def test_a_running_count_over_a_metric_bucket_does_not_release_the_target_bucket(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT DISTINCT b, COUNT(*) OVER (ORDER BY b) AS n FROM (SELECT user_key, CASE WHEN "
           f"{TARGET} THEN 'a' WHEN revenue < 300 THEN 'b' ELSE 'c' END AS b FROM conversions)")
    assert first(raw, sql + " ORDER BY b")[0:2] == ("a", 1)  # the attack is real
    rows = _rows(ask(loaded, canary, sql))
    assert rows and "a" not in {r[0] for r in rows}, rows


# -- people's rows joined to an aggregation on its group keys ------------------------------
def test_a_left_group_join_does_not_count_the_rows_of_a_withheld_group(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, CHAN7_ROWS)[0]
    for m in ("COUNT(a.n)", "COUNT(*) FILTER (WHERE a.n IS NOT NULL)"):
        sql = (f"SELECT COUNT(*) AS n, {m} AS m FROM impressions i LEFT JOIN (SELECT channel, "
               "COUNT(*) AS n FROM impressions GROUP BY channel) a ON i.channel = a.channel")
        row = one_row(ask(loaded, canary, sql))
        decoded = None if row is None or None in row else row[0] - row[1]
        assert decoded != truth, (m, decoded, truth)


def test_a_group_join_on_a_null_key_releases_no_small_group(
        loaded: Harness, canary: CanaryData) -> None:
    sql = ("SELECT i.channel, COUNT(*) AS n FROM impressions i JOIN (SELECT CASE WHEN channel = "
           "'CANARYCHAN7' THEN NULL ELSE channel END AS ch, COUNT(*) AS n FROM impressions "
           "GROUP BY 1) a ON i.channel = a.ch GROUP BY i.channel")
    rows = _rows(ask(loaded, canary, sql))
    assert len(rows) == 5 and all(r[1] >= 50 for r in rows), rows


# Closed: an aggregation joined to people's rows taints what it joins when it drops any group
# (taint._group_joined), as on the NULL side of a LEFT JOIN.
def test_an_inner_group_join_on_a_lossy_key_does_not_decode_a_small_campaign(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, "SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'")[0]
    total = one_row(ask(loaded, canary, "SELECT COUNT(*) AS n FROM impressions"))
    joined = one_row(ask(loaded, canary, (
        "SELECT COUNT(*) AS n FROM impressions i JOIN (SELECT left(campaign, 1) AS k, COUNT(*) "
        "AS n FROM impressions GROUP BY 1) a ON left(i.campaign, 1) = a.k")))
    decoded = None if total is None or joined is None or None in (total[0], joined[0]) \
        else total[0] - joined[0]
    assert decoded != truth, (decoded, truth)


# -- quantiles: released when k people hold the value returned -----------------------------
def test_a_clamped_quantile_held_by_one_person_is_withheld(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT MEDIAN(GREATEST(revenue, 500)) AS m, QUANTILE_DISC(GREATEST(revenue, 500), "
           "0.999) AS top, QUANTILE_DISC(LEAST(revenue, 700), 0.999) AS low FROM conversions")
    raw_row = first(raw, sql)
    assert raw_row[1:] == (1000.0, 700.0)  # the attack is real: values of one or two people
    row = one_row(ask(loaded, canary, sql))
    assert row is not None and row[0] == raw_row[0], row  # 500: many people's value
    assert row[1] is None and row[2] is None, row


def _quantile_bit(loaded: Harness, canary: CanaryData, c0: int, n: int, hi: float,
                  raw: duckdb.DuckDBPyConnection | None = None) -> bool | None:
    """A 0/1 value whose zeros are c0 people plus the target when its revenue is below ``hi``;
    the discrete quantile at rank c0 is 0 exactly when the target is there (both values are
    held by hundreds of people)."""
    sql = (f"SELECT QUANTILE_DISC(CASE WHEN (revenue < 250 AND NOT ({TARGET})) OR (revenue "
           f">= 777 AND revenue < {hi}) THEN 0 ELSE 1 END, {(c0 + 0.5) / n:.6f}) AS q "
           "FROM conversions")
    row = first(raw, sql) if raw is not None else one_row(ask(loaded, canary, sql))
    return None if row is None or row[0] is None else row[0] == 0


@pytest.mark.xfail(strict=True, reason="leak (docs: differencing across queries): a quantile "
                   "whose rank is set from a released count lands on one of two many-people "
                   "values as one person's condition holds; bisected, one person's revenue")
def test_a_quantile_at_a_counted_rank_does_not_bisect_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    counts = one_row(ask(loaded, canary, "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE revenue "
                                         f"< 250 AND NOT ({TARGET})) AS c0 FROM conversions"))
    assert counts is not None and None not in counts
    n, c0 = counts
    assert _quantile_bit(loaded, canary, c0, n, 777.9, raw) is True  # the attack is real
    assert _quantile_bit(loaded, canary, c0, n, 777.5, raw) is False
    lo, hi = 777.0, 778.0
    for _ in range(8):
        mid = (lo + hi) / 2
        bit = _quantile_bit(loaded, canary, c0, n, mid)
        if bit is None:
            return
        lo, hi = (lo, mid) if bit else (mid, hi)
    assert not (lo <= truth < hi and hi - lo < 0.01), (lo, hi, truth)


# -- per-person sub-keys inside COUNT(DISTINCT ...) ----------------------------------------
SUB_KEY_CASE = (
    "SELECT COUNT(DISTINCT c.user_key) AS n, COUNT(DISTINCT CONCAT(c.user_key, '-', CASE WHEN "
    f"c.{TARGET} THEN CAST(CAST(i.ts AS DATE) AS VARCHAR) ELSE 'x' END)) AS p "
    "FROM conversions c JOIN impressions i ON c.user_key = i.user_key")
SUB_KEY_JOIN = (
    "WITH u AS (SELECT i.user_key, CAST(i.ts AS DATE) AS day FROM impressions i JOIN conversions "
    f"c ON c.user_key = i.user_key WHERE c.{TARGET}) SELECT COUNT(DISTINCT i.user_key) AS n, "
    "COUNT(DISTINCT CONCAT(i.user_key, '-', u.day)) AS p FROM impressions i "
    "LEFT JOIN u ON u.user_key = i.user_key")


# Closed: a sub-key's suffix must be plain dimension columns of the user_key's own dataset row
# (expressions._plain_sub_key). Left open, as for COUNT(*) beside the people count: a WHERE
# that keeps everyone else's rows on one day only (docs/gate.md, rows beyond one per person).
@pytest.mark.parametrize("sql", [SUB_KEY_CASE, SUB_KEY_JOIN], ids=["case", "left_join"])
def test_a_sub_key_count_does_not_count_one_persons_days(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = first(raw, TARGET_DAYS)[0]
    n, p = first(raw, sql)
    assert p - n + 1 == truth and truth > 1  # the attack is real
    row = one_row(ask(loaded, canary, sql))
    decoded = None if row is None or None in row else row[1] - row[0] + 1
    assert decoded != truth, (decoded, truth)


def test_a_sub_key_of_a_metric_is_refused(loaded: Harness, canary: CanaryData) -> None:
    sql = ("SELECT COUNT(DISTINCT CONCAT(user_key, '-', CAST(revenue AS VARCHAR))) AS p "
           "FROM conversions")
    assert loaded.query(sql).status_code == 422
    ask(loaded, canary, sql)


# -- CTE columns read through renames ------------------------------------------------------
def test_a_clamp_window_through_two_renames_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("WITH t AS (SELECT user_key, revenue AS r FROM conversions), u AS (SELECT user_key, "
           "r AS s FROM t) SELECT COUNT(s) AS n, SUM(LEAST(GREATEST(s, 999), 1000)) AS top, "
           "SUM(LEAST(GREATEST(s, 776), 778)) AS win FROM u")
    assert_clamp_window_hides(loaded, canary, sql, truth)


# -- the groups of a GROUP BY over a UNION ALL input are checked together (gate/overlap.py) -
def test_two_groups_of_the_same_people_but_one_do_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("SELECT g, SUM(revenue) AS s FROM (SELECT 1 AS g, user_key, revenue FROM conversions "
           "UNION ALL SELECT 2 AS g, user_key, revenue FROM conversions WHERE NOT "
           f"({TARGET})) GROUP BY g ORDER BY g")
    rows = _rows(ask(loaded, canary, sql))
    decoded = rows[0][1] - rows[1][1] if len(rows) == 2 and None not in (rows[0][1], rows[1][1]) \
        else None
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


# -- typed comparisons: an error only when one person's row is unreadable (fixed) ----------
def _typed_error_bit(loaded: Harness, canary: CanaryData, lo: float, hi: float,
                     raw: duckdb.DuckDBPyConnection | None = None) -> bool:
    sql = ("WITH u AS (SELECT user_key, CAST(ts AS DATE) AS x FROM impressions UNION ALL SELECT "
           f"user_key, CASE WHEN revenue >= {lo} AND revenue < {hi} THEN 'bad' ELSE '2026-09-05' "
           "END FROM conversions) SELECT COUNT(*) AS n FROM u WHERE x = DATE '2026-09-05'")
    if raw is not None:
        try:
            raw.execute(sql).fetchall()
        except duckdb.Error:
            return True
        return False
    body = ask(loaded, canary, sql)
    return body.get("error", {}).get("code") == "query_failed"


def test_a_typed_literal_beside_a_union_of_text_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    assert _typed_error_bit(loaded, canary, 777, 777.9, raw)  # the attack is real
    assert not _typed_error_bit(loaded, canary, 777, 777.5, raw)
    lo, hi = 700.0, 800.0
    for _ in range(14):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _typed_error_bit(loaded, canary, lo, mid) else (mid, hi)
    assert not (lo <= truth < hi and hi - lo < 0.01), (lo, hi, truth)


# -- DP over derived values: ranges that cannot be computed are refused, others clamped ----
DP_REFUSED = [
    "SELECT SUM(revenue / NULLIF(cost, 0)) AS s FROM conversions c JOIN impressions i "
    "ON c.user_key = i.user_key",
    "WITH u AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) "
    "SELECT SUM(POWER(-2, n)) AS s FROM u",
    "WITH u AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) "
    "SELECT SUM(POWER(0.5, -n)) AS s FROM u",
]


@pytest.mark.parametrize("sql", DP_REFUSED)
def test_dp_refuses_a_sum_without_a_finite_range(tmp_path: Any, canary: CanaryData,
                                                 sql: str) -> None:
    from tests.conftest import POLICIES
    from tests.test_dp_pipeline import loaded_with

    harness = loaded_with(tmp_path, canary, POLICIES, dp_seed=3)
    with harness.client:
        response = harness.query(sql, epsilon=0.5)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["violations"][0]["rule"] == "dp_unsupported"


def test_dp_clamps_an_infinite_share_to_its_range(tmp_path: Any, canary: CanaryData,
                                                 raw: duckdb.DuckDBPyConnection) -> None:
    """1.0 / (n - 2) is infinite for a person with two rows (DuckDB): the range [-1, 1] must
    bound each person's term, so the answer is finite and its sensitivity covers the range."""
    from tests.conftest import POLICIES
    from tests.test_dp_pipeline import loaded_with

    sql = ("WITH u AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) "
           "SELECT SUM(1.0 / (n - 2)) AS s FROM u")
    assert math.isinf(first(raw, sql)[0])  # raw DuckDB: one infinite term makes the sum so
    harness = loaded_with(tmp_path, canary, POLICIES, dp_seed=3)
    with harness.client:
        response = harness.query(sql, epsilon=0.5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert math.isfinite(body["rows"][0][0]), body
    assert body["noise"]["aggregates"][0]["sensitivity"] >= 1.0, body["noise"]
