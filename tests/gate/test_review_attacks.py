"""Review attacks on the threshold gate after the cells / values / constants merge.

Each attack computes the hidden truth on raw DuckDB over the canary tables, sends the attack
over HTTP, decodes the answer and asserts the decoded value is not the truth. A test marked
``xfail(strict=True, reason="leak: ...")`` is a leak the current gate lets through (the lead
fixes the gate and drops the mark); the others pin doors that held. Every response is also
checked for canary markers and for server errors."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness

TARGET = "revenue BETWEEN 777 AND 778"  # the person with the unique revenue 777.77


def ask(loaded: Harness, canary: CanaryData, sql: str) -> dict[str, Any]:
    response = loaded.query(sql)
    assert response.status_code in (200, 422), response.text
    assert not canary.leaks(response.text, sql), response.text
    assert "duckdb" not in response.text.lower() and "Error:" not in response.text, response.text
    return response.json()


def first(raw: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = raw.execute(sql).fetchone()
    assert row is not None
    return row


def one_row(body: dict[str, Any]) -> list[Any] | None:
    rows = body.get("rows") or []
    return rows[0] if len(rows) == 1 else None


# -- magnitude parts: a clamp is taken as one part -------------------------------------------
@pytest.mark.parametrize("agg", ["SUM", "AVG"])
def test_a_narrow_clamp_window_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, agg: str) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = (f"SELECT COUNT(revenue) AS n, "
           f"{agg}(LEAST(GREATEST(revenue, 999), 1000)) AS top, "
           f"{agg}(LEAST(GREATEST(revenue, 776), 778)) AS win FROM conversions")
    assert_clamp_window_hides(loaded, canary, sql, truth, averaged=agg == "AVG")


def assert_clamp_window_hides(loaded: Harness, canary: CanaryData, sql: str, truth: float, *,
                              averaged: bool = False) -> None:
    """``sql`` answers (n, top, win): people, a sum (or average) clamped to [999, 1000] and one
    clamped to [776, 778]. Decoded, they would give the one revenue inside the window."""
    row = one_row(ask(loaded, canary, sql))
    if row is None or row[1] is None or row[2] is None:
        return
    n, top, win = row
    if averaged:
        top, win = top * n, win * n
    above = round(top - 999 * n)  # people clamped at 1000 (they give 778 in the window)
    decoded = win - 776 * (n - 1 - above) - 778 * above
    assert not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


def test_two_clamps_apart_do_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("SELECT COUNT(revenue) AS n, SUM(LEAST(revenue, 1000)) - SUM(LEAST(revenue, 999)) AS top, "
           "SUM(LEAST(revenue, 778)) - SUM(LEAST(revenue, 776)) AS gap FROM conversions")
    row = one_row(ask(loaded, canary, sql))
    if row is None or row[1] is None or row[2] is None:
        return
    _, top, gap = row
    above = round(top)  # people at 1000: each adds 1 to top and 2 to gap
    decoded = 776 + gap - 2 * above
    assert not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


# -- COUNT(DISTINCT x) counts values, not people -------------------------------------------
def _distinct_bit(loaded: Harness, canary: CanaryData, lo: float, hi: float) -> bool | None:
    sql = (f"SELECT COUNT(DISTINCT CASE WHEN revenue >= {lo} AND revenue < {hi} THEN 'a' "
           f"ELSE 'b' END) AS d FROM conversions")
    row = one_row(ask(loaded, canary, sql))
    return None if row is None or row[0] is None else row[0] == 2


def test_count_distinct_of_a_label_does_not_bisect_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    lo, hi = 700.0, 800.0  # one person (the target) in it, the analyst learns by the same bit
    for _ in range(14):
        mid = (lo + hi) / 2
        bit = _distinct_bit(loaded, canary, lo, mid)
        if bit is None:
            return
        lo, hi = (lo, mid) if bit else (mid, hi)
    assert not (lo <= truth < hi and hi - lo < 0.01), (lo, hi, truth)


def test_count_distinct_does_not_count_one_persons_days(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw,
        "SELECT COUNT(DISTINCT CAST(i.ts AS DATE)) FROM impressions i JOIN conversions c "
        f"ON i.user_key = c.user_key WHERE c.{TARGET}")[0]
    sql = (f"SELECT COUNT(DISTINCT CASE WHEN c.{TARGET} THEN CAST(i.ts AS DATE) "
           "ELSE DATE '1999-01-01' END) AS d FROM impressions i JOIN conversions c "
           "ON i.user_key = c.user_key")
    row = one_row(ask(loaded, canary, sql))
    decoded = None if row is None or row[0] is None else row[0] - 1
    assert decoded != truth, (decoded, truth)


def test_count_distinct_does_not_reveal_a_three_person_campaign(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    where = "WHERE campaign LIKE 'search%' OR campaign LIKE 'CANARYC%'"
    truth = first(raw, f"SELECT COUNT(*) FROM (SELECT campaign FROM impressions {where} "
                        "GROUP BY campaign HAVING COUNT(DISTINCT user_key) < 50)")[0]
    assert truth == 1
    groups = ask(loaded, canary, f"SELECT campaign, COUNT(*) AS n FROM impressions {where} "
                 "GROUP BY campaign")
    row = one_row(ask(loaded, canary,
                      f"SELECT COUNT(DISTINCT campaign) AS d FROM impressions {where}"))
    decoded = None if row is None or row[0] is None else row[0] - len(groups["rows"])
    assert decoded != truth, (decoded, truth)


def test_a_lookup_label_counted_distinct_is_not_an_existence_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    probe = "CANARYCAMP3"
    truth = first(raw, f"SELECT COUNT(*) > 0 FROM impressions WHERE campaign = '{probe}'"
                        )[0]
    sql = ("SELECT COUNT(DISTINCT COALESCE(v.l, 'z')) AS d FROM impressions "
           f"LEFT JOIN (VALUES ('{probe}', 'a')) v(k, l) ON campaign = v.k")
    row = one_row(ask(loaded, canary, sql))
    decoded = None if row is None or row[0] is None else row[0] == 2
    assert decoded != truth, (decoded, truth)


# -- a partition of everyone but one beside the total (closed: combinations, isolation.py)
PARTITION_ROW = (
    "SELECT SUM(revenue) AS total, SUM(revenue) FILTER (WHERE revenue < 300) AS low, "
    f"SUM(revenue) FILTER (WHERE revenue >= 300 AND NOT ({TARGET})) AS high FROM conversions")
PARTITION_UNION = (
    "SELECT 'all' AS w, SUM(revenue) AS s FROM conversions UNION ALL "
    "SELECT 'low', SUM(revenue) FROM conversions WHERE revenue < 300 UNION ALL "
    f"SELECT 'high', SUM(revenue) FROM conversions WHERE revenue >= 300 AND NOT ({TARGET})")


def test_a_partition_of_everyone_but_one_is_not_released_beside_the_total(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    row = one_row(ask(loaded, canary, PARTITION_ROW))
    decoded = None if row is None or None in row else row[0] - row[1] - row[2]
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


# Four sums none of which is covered by the others' union, yet B + C - D - E = -2 x target:
# a check of each aggregate against the union of the rest would miss it (the rank test does not).
CROSSED = (
    "SELECT SUM(revenue) FILTER (WHERE revenue < 300) AS b, "
    f"SUM(revenue) FILTER (WHERE revenue >= 300 AND NOT ({TARGET})) AS c, "
    "SUM(revenue) FILTER (WHERE revenue < 150 OR (revenue >= 300 AND revenue < 450) "
    f"OR ({TARGET})) AS d, "
    "SUM(revenue) FILTER (WHERE (revenue >= 150 AND revenue < 300) OR (revenue >= 450 AND NOT "
    f"({TARGET})) OR ({TARGET})) AS e FROM conversions")


def test_crossed_sums_do_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    b, c, d, e = first(raw, CROSSED)
    assert math.isclose((d + e - b - c) / 2, truth, abs_tol=0.005)  # the attack is real
    row = one_row(ask(loaded, canary, CROSSED))
    decoded = None if row is None or None in row else (row[2] + row[3] - row[0] - row[1]) / 2
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


def test_costs_of_a_three_person_campaign_are_not_decoded_from_a_split(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """Everyone's rows split in two halves that leave out one small campaign's rows: its people
    also saw other campaigns, so every set of people here is large; its rows are not."""
    sql = ("SELECT SUM(cost) AS total, SUM(cost) FILTER (WHERE campaign < 'm' AND "
           "campaign <> 'CANARYCAMP3') AS a, SUM(cost) FILTER (WHERE campaign >= 'm') AS b "
           "FROM impressions")
    truth = first(raw, "SELECT SUM(cost) FROM impressions WHERE campaign = 'CANARYCAMP3'")[0]
    total, a, b = first(raw, sql)
    assert math.isclose(total - a - b, truth)  # the attack is real
    row = one_row(ask(loaded, canary, sql))
    decoded = None if row is None or None in row else row[0] - row[1] - row[2]
    assert decoded is None or not math.isclose(decoded, truth), (decoded, truth)


# Closed: the rows of an answer that share data rows are checked together (gate/overlap.py).
def test_a_partition_over_union_branches_is_not_released_beside_the_total(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    rows: dict[str, Any] = {r[0]: r[1] for r in ask(loaded, canary, PARTITION_UNION)["rows"]}
    values: list[Any] = [rows.get(w) for w in ("all", "low", "high")]
    decoded = None if None in values else values[0] - values[1] - values[2]
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


# -- withheld flags as an oracle on one person ---------------------------------------------
@pytest.mark.xfail(strict=True, reason="leak (docs: 'the withheld flag says whether a difference "
                   "is empty or small, 1 bit'): a part's flag repeated by bisection reads one "
                   "person's conversion day")
def test_a_part_flag_does_not_bisect_one_persons_conversion_day(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT date_diff('day', TIMESTAMP '2026-09-01', ts) FROM conversions "
                        f"WHERE {TARGET}")[0]
    lo, hi = 0, 40
    while hi - lo > 1:
        mid = (lo + hi) // 2
        sql = (f"SELECT COUNT(*) AS n, SUM(CASE WHEN {TARGET} AND ts < TIMESTAMP '2026-09-01' "
               f"+ INTERVAL {mid} DAY THEN 2 ELSE 1 END) AS s FROM conversions")
        body = ask(loaded, canary, sql)
        if one_row(body) is None:
            return
        withheld = [0, 1] in body["withheld_cells"]
        lo, hi = (lo, mid) if withheld else (mid, hi)
    assert lo != truth, (lo, truth)


# -- same people, different rows (closed: row patterns); two intermediate aggregations -----
def test_rows_of_a_three_person_campaign_are_not_decoded(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, "SELECT COUNT(*), SUM(cost) FROM impressions "
                        "WHERE campaign = 'CANARYCAMP3'")
    sql = ("SELECT COUNT(*) AS a, COUNT(*) FILTER (WHERE campaign <> 'CANARYCAMP3') AS b, "
           "SUM(cost) AS c, SUM(cost) FILTER (WHERE campaign <> 'CANARYCAMP3') AS d "
           "FROM impressions")
    row = one_row(ask(loaded, canary, sql))
    if row is None or None in (row[1], row[3]):
        return
    assert row[0] - row[1] != truth[0] or not math.isclose(row[2] - row[3], truth[1])


# Closed: a branch that passes on a CTE's aggregation carries its people and sketches.
def test_two_cte_counts_in_a_union_do_not_decode_a_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
           "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions "
           "WHERE channel <> 'CANARYCHAN7') SELECT n FROM a UNION ALL SELECT n FROM b")
    truth = first(raw, "SELECT COUNT(DISTINCT user_key) FROM impressions "
                        "WHERE channel = 'CANARYCHAN7'")[0]
    rows = ask(loaded, canary, sql)["rows"]
    decoded = rows[0][0] - rows[1][0] if len(rows) == 2 and None not in (rows[0][0], rows[1][0]) \
        else None
    assert decoded != truth, (decoded, truth)


# Closed (meet.py): two intermediate aggregations whose rows meet in one relation have their
# people compared; the smaller source's cells, and every cell computed from it, are withheld.
@pytest.mark.parametrize("combine", ["SELECT a.n - b.n AS d FROM a CROSS JOIN b",
                                     "SELECT (SELECT n FROM a) - (SELECT n FROM b) AS d"],
                         ids=["join", "value_subqueries"])
def test_two_cte_counts_in_one_row_do_not_decode_a_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, combine: str) -> None:
    sql = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
           "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions "
           f"WHERE channel <> 'CANARYCHAN7') {combine}")
    truth = first(raw, "SELECT COUNT(DISTINCT user_key) FROM impressions "
                        "WHERE channel = 'CANARYCHAN7'")[0]
    assert first(raw, sql)[0] == truth  # the attack is real
    row = one_row(ask(loaded, canary, sql))
    assert row is None or row[0] != truth, (row, truth)


# Closed: UNION / INTERSECT / EXCEPT without ALL over aggregated rows is refused
# (aggregate_set_comparison), inside the query and as the final set operation.
def test_an_inner_intersect_of_two_counts_is_not_an_equality_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, "SELECT COUNT(DISTINCT user_key) FROM impressions "
                  "WHERE channel = 'CANARYCHAN7'")[0]
    decoded = None
    for d in range(5, 10):
        sql = (f"WITH a AS (SELECT COUNT(DISTINCT user_key) - {d} AS n FROM impressions "
               "INTERSECT SELECT COUNT(DISTINCT user_key) FROM impressions "
               "WHERE channel <> 'CANARYCHAN7') SELECT COUNT(*) AS k FROM a")
        row = one_row(ask(loaded, canary, sql))
        if row is not None and row[0] == 1:
            decoded = d
    assert decoded != truth, (decoded, truth)


def test_a_clamp_window_over_a_per_user_cte_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("WITH u AS (SELECT user_key, MAX(revenue) AS m FROM conversions GROUP BY user_key) "
           "SELECT COUNT(*) AS n, SUM(LEAST(GREATEST(m, 999), 1000)) AS top, "
           "SUM(LEAST(GREATEST(m, 776), 778)) AS win FROM u")
    assert_clamp_window_hides(loaded, canary, sql, truth)


# -- an interval of mixed signs: an error only when one person's row reaches it -------------
def _error_bit(loaded: Harness, canary: CanaryData, lo: float, hi: float, width: str) -> bool:
    sql = (f"SELECT COUNT(*) AS n FROM conversions WHERE CASE WHEN revenue >= {lo} AND "
           f"revenue < {hi} THEN time_bucket(INTERVAL '{width}', ts) ELSE ts END "
           "IS NOT NULL")
    body = ask(loaded, canary, sql)
    return body.get("error", {}).get("code") == "query_failed"


@pytest.mark.parametrize("width", ["1 day -24 hour", "1 month -30 day"])
def test_a_mixed_sign_bucket_width_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, width: str) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    lo, hi = 700.0, 800.0
    for _ in range(14):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _error_bit(loaded, canary, lo, mid, width) else (mid, hi)
    assert not (lo <= truth < hi and hi - lo < 0.01), (lo, hi, truth)


# -- doors that held ---------------------------------------------------------------------
HELD = {
    # a cell computed from a withheld aggregate, in the select, HAVING, ORDER BY and a CTE
    "case_on_withheld": "SELECT COUNT(*) AS n, CASE WHEN COUNT(*) FILTER (WHERE campaign = "
                        "'CANARYCAMP3') > 5 THEN 'y' ELSE 'n' END AS f FROM impressions",
    "is_null_of_withheld": "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE campaign = "
                           "'CANARYCAMP3') IS NULL AS f FROM impressions",
    "having_withheld": "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel "
                       "HAVING COUNT(*) FILTER (WHERE campaign = 'CANARYCAMP3') > 0",
    "order_limit_withheld": "SELECT channel, COUNT(*) FILTER (WHERE campaign = 'CANARYCAMP3') AS r "
                            "FROM impressions GROUP BY channel ORDER BY r DESC, channel LIMIT 2",
    "cte_order_limit_withheld": "WITH t AS (SELECT channel, COUNT(*) AS n, COUNT(*) FILTER (WHERE "
                                "campaign = 'CANARYCAMP3') AS r FROM impressions GROUP BY channel "
                                "ORDER BY r DESC NULLS LAST, channel LIMIT 1) SELECT channel FROM t",
    "cte_having_withheld": "WITH t AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY "
                           "channel HAVING COUNT(*) FILTER (WHERE campaign = 'CANARYCAMP3') > 0) "
                           "SELECT channel FROM t",
    # HAVING binds a bare name to the group key column (DuckDB's binding)
    "having_alias": "SELECT channel AS campaign, COUNT(*) AS n FROM impressions GROUP BY channel "
                    "HAVING campaign = 'CANARYCHAN7'",
    # correlated IN on one person's rows
    # a final EXCEPT / INTERSECT compares the hidden columns too, so it never matches
    "final_intersect": "SELECT COUNT(DISTINCT user_key) - 7 AS n FROM impressions INTERSECT "
                       "SELECT COUNT(DISTINCT user_key) FROM impressions "
                       "WHERE channel <> 'CANARYCHAN7'",
    "having_alias_of_withheld": "SELECT channel, COUNT(*) AS n, COUNT(*) FILTER (WHERE campaign = "
                                "'CANARYCAMP3') AS r FROM impressions GROUP BY channel HAVING r > 0",
    # MAX is QUANTILE_DISC(x, 1.0): the top of a clamp window around person 100 is theirs
    "extreme_of_a_clamp_window": "SELECT MAX(LEAST(GREATEST(revenue, 776), 778)) AS m "
                                 "FROM conversions",
    "correlated_in": f"SELECT COUNT(*) AS n FROM impressions i WHERE i.user_key IN (SELECT "
                     f"c.user_key FROM conversions c WHERE c.{TARGET} AND c.ts > i.ts)",
}


@pytest.mark.parametrize("name", sorted(HELD))
def test_a_withheld_value_is_not_told_by_the_answer(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    sql = HELD[name]
    truth = raw.execute(sql).fetchall()
    body = ask(loaded, canary, sql)
    if "rows" not in body:
        return
    withheld = {(i, j) for i, j in body["withheld_cells"]}
    told = [tuple(v for j, v in enumerate(r) if (i, j) not in withheld)
            for i, r in enumerate(body["rows"])]
    # the answer is not the raw answer: its small values are withheld (or its rows dropped)
    assert truth == [] or [list(t) for t in truth] != body["rows"], (truth, told)


def test_a_one_person_ratio_of_rows_is_withheld(loaded: Harness, canary: CanaryData) -> None:
    sql = ("SELECT COUNT(DISTINCT user_key) AS n FROM impressions i WHERE i.user_key NOT IN "
           f"(SELECT c.user_key FROM conversions c WHERE c.{TARGET})")
    body = ask(loaded, canary, sql)
    assert body["rows"] in ([], [[1199]])  # 1,200 people minus the target is a count of many


REFUSED = [
    "SELECT COUNT(*) AS n FROM conversions WHERE CASE WHEN revenue BETWEEN 777 AND 778 THEN "
    "time_bucket(INTERVAL '-1 day', ts) ELSE ts END IS NOT NULL",
    "SELECT COUNT(*) AS n FROM impressions i, conversions c WHERE i.user_key = c.user_key "
    "OR c.revenue > 0",
    "SELECT COUNT(DISTINCT revenue BETWEEN 777 AND 777.8) AS d FROM conversions",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_refused(loaded: Harness, canary: CanaryData, sql: str) -> None:
    assert loaded.query(sql).status_code == 422
    ask(loaded, canary, sql)


def test_the_audit_of_these_attacks_holds_no_canary(loaded: Harness, canary: CanaryData) -> None:
    """Runs last in this file: every audited query names only the canaries its own SQL did."""

    response = loaded.client.get("/v1/collaborations/acme-streamco/audit",
                                 headers=loaded.auth("reviewer"))
    assert response.status_code == 200, response.text
    for entry in response.json()["entries"]:
        detail = entry.get("detail") or {}
        sql = detail.get("sql", "") if isinstance(detail, dict) else ""
        assert canary.entry_leaks(entry, sql) == [], entry
