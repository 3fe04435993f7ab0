"""The rows of one answer that share data rows are checked together (``gate/overlap.py``,
``isolation.withheld_across``), threshold mode, k = 50. Each attack is decoded as in
``test_review_attacks.py``: the truth from raw DuckDB, the answer over HTTP, the decoded value
must not be the truth; the legitimate forms release what raw DuckDB returns (accept.sql)."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import TARGET, ask, first

CHANNEL_ROWS = ("SELECT channel, SUM(cost) AS s, COUNT(*) AS n FROM impressions GROUP BY channel "
                "UNION ALL SELECT 'total', SUM(cost), COUNT(*) FROM impressions")


def test_a_total_beside_the_released_groups_does_not_decode_the_withheld_one(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """The total minus every released channel would be the 7-person channel's rows."""
    truth = first(raw, "SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'")[0]
    body = ask(loaded, canary, CHANNEL_ROWS)
    rows = {r[0]: r for r in body["rows"]}
    assert "total" in rows and rows["total"][2] is not None  # the report still answers
    parts = [r[2] for name, r in rows.items() if name != "total"]
    decoded = None if None in parts else rows["total"][2] - sum(parts)
    assert decoded != truth, (decoded, truth)
    assert len(body["withheld_cells"]) == 2  # one channel's two cells, not more


def test_a_partition_inside_grouped_branches_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """all - low - high again, with the parts as groups of one branch."""
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("SELECT 'all' AS w, SUM(revenue) AS s FROM conversions UNION ALL "
           "SELECT CASE WHEN revenue < 300 THEN 'low' ELSE 'high' END, SUM(revenue) "
           f"FROM conversions WHERE NOT ({TARGET}) GROUP BY 1")
    rows = {r[0]: r[1] for r in ask(loaded, canary, sql)["rows"]}
    values = [rows.get(w) for w in ("all", "low", "high")]
    decoded = None if None in values else values[0] - values[1] - values[2]  # type: ignore[operator]
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


def test_a_partition_over_cte_branches_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """all - low - high with each sum in a CTE that a branch only passes on."""
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("WITH a AS (SELECT SUM(revenue) AS s FROM conversions), l AS (SELECT SUM(revenue) "
           "AS s FROM conversions WHERE revenue < 300), h AS (SELECT SUM(revenue) AS s FROM "
           f"conversions WHERE revenue >= 300 AND NOT ({TARGET})) SELECT 'all' AS w, s FROM a "
           "UNION ALL SELECT 'low', s FROM l UNION ALL SELECT 'high', s FROM h")
    rows = {r[0]: r[1] for r in ask(loaded, canary, sql)["rows"]}
    values = [rows.get(w) for w in ("all", "low", "high")]
    decoded = None if None in values else values[0] - values[1] - values[2]  # type: ignore[operator]
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


def test_groups_passed_on_from_a_cte_beside_a_total_do_not_decode_the_withheld_one(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, "SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'")[0]
    sql = ("WITH b AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) "
           "SELECT channel, n FROM b UNION ALL SELECT 'total', COUNT(*) FROM impressions")
    rows = {r[0]: r[1] for r in ask(loaded, canary, sql)["rows"]}
    parts = [n for name, n in rows.items() if name != "total"]
    decoded = None if None in parts or rows.get("total") is None else rows["total"] - sum(parts)
    assert decoded != truth, (decoded, truth)


@pytest.mark.parametrize("form", ["cte", "subquery"])
def test_groups_over_a_union_that_repeats_rows_do_not_decode_one_persons_rows(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, form: str) -> None:
    truth = first(raw, "SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'")[0]
    union = ("SELECT 'a' AS g, user_key FROM impressions UNION ALL SELECT 'b', user_key "
             "FROM impressions WHERE channel <> 'CANARYCHAN7'")
    sql = (f"WITH u AS ({union}) SELECT g, COUNT(*) AS n FROM u GROUP BY g" if form == "cte"
           else f"SELECT g, COUNT(*) AS n FROM ({union}) AS u GROUP BY g")
    rows: dict[str, Any] = {r[0]: r[1] for r in ask(loaded, canary, sql)["rows"]}
    decoded = None if None in (rows.get("a"), rows.get("b")) else rows["a"] - rows["b"]
    assert decoded != truth, (decoded, truth)


def test_cte_rows_passed_on_by_branches_are_compared(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """A pass-through branch (``SELECT n FROM a``) carries its CTE's people: seven apart, one
    of the two rows is withheld and counted; rows of different people are both released."""
    close = ("WITH a AS (SELECT COUNT(*) AS n FROM impressions), b AS (SELECT COUNT(*) AS n "
             "FROM impressions WHERE channel <> 'CANARYCHAN7') SELECT 'a', n FROM a "
             "UNION ALL SELECT 'b', n FROM b")
    assert len(ask(loaded, canary, close)["rows"]) == 1
    apart = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), b AS (SELECT "
             "COUNT(DISTINCT user_key) AS n FROM conversions) SELECT 'a', n FROM a "
             "UNION ALL SELECT 'b', n FROM b")
    truth = [first(raw, f"SELECT COUNT(DISTINCT user_key) FROM {t}")[0]
             for t in ("impressions", "conversions")]
    assert sorted(r[1] for r in ask(loaded, canary, apart)["rows"]) == sorted(truth)


def test_groups_over_a_union_of_different_sources_do_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    sql = ("SELECT g, SUM(revenue) AS s FROM (SELECT 1 AS g, user_key, revenue FROM conversions "
           "UNION ALL SELECT 2 AS g, c.user_key, c.revenue FROM conversions c JOIN (SELECT "
           "DISTINCT user_key FROM conversions) d ON c.user_key = d.user_key "
           f"WHERE NOT (c.{TARGET})) GROUP BY g ORDER BY g")
    rows = ask(loaded, canary, sql)["rows"]
    decoded = rows[0][1] - rows[1][1] if len(rows) == 2 and None not in (rows[0][1], rows[1][1]) \
        else None
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.005), (decoded, truth)


@pytest.mark.parametrize("keys,released", [
    ("c.campaign, c.campaign", True),   # one column of one table in both: groups share no row
    ("c.campaign, c.channel", False),   # another column: one row in two groups
    ("c.campaign, 'x'", False),         # a constant in one branch
])
def test_groups_over_a_union_of_different_sources_are_released_only_when_keyed_alike(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, keys: str,
        released: bool) -> None:
    """A UNION ALL input whose branches join impressions differently cannot be matched row by
    row; its groups are released when every branch keys them by the same column, else every
    cell is withheld (``overlap.keyed_alike``)."""
    one, two = keys.split(", ")
    sql = (f"SELECT k, COUNT(DISTINCT user_key) AS n FROM (SELECT {one} AS k, c.user_key "
           "FROM impressions c UNION ALL SELECT " + two.replace("c.", "i.") + ", i.user_key "
           "FROM impressions i JOIN conversions v ON i.user_key = v.user_key) GROUP BY k "
           "ORDER BY k")
    body = ask(loaded, canary, sql)
    assert body["rows"], body
    cells = [r[1] for r in body["rows"]]
    if released:
        truth = {r[0]: r[1] for r in raw.execute(sql).fetchall()}
        assert all(n is None or n == truth[k] for k, n in body["rows"]) and any(cells), body
    else:
        assert all(n is None for n in cells), body


def test_branches_over_different_sources_of_one_table_withhold_their_aggregates(
        loaded: Harness, canary: CanaryData) -> None:
    """Fail closed: an impressions row and an impressions-and-conversions row cannot be
    matched, so no combination can be checked and no aggregate is released."""
    sql = ("SELECT 'seen' AS w, COUNT(*) AS n FROM impressions UNION ALL SELECT 'joined', COUNT(*) "
           "FROM impressions i JOIN conversions c ON i.user_key = c.user_key")
    body = ask(loaded, canary, sql)
    assert body["rows"] and all(r[1] is None for r in body["rows"]), body
    assert sorted(body["withheld_cells"]) == [[i, 1] for i in range(len(body["rows"]))]


# A branch may pass a CTE's aggregation on through CTEs or subqueries that only pass it on too
# (``passes.links``), and a CTE may rename its columns (``a(c, n)``): the rows are compared and
# their cells checked across all the same.
PASSED_ON = {
    "cte_of_the_cte": "a1 AS (SELECT n FROM a), b1 AS (SELECT n FROM b) "
                      "SELECT n FROM a1 UNION ALL SELECT n FROM b1",
    "two_links_and_a_star": "a1 AS (SELECT n FROM a), a2 AS (SELECT n AS m FROM a1), "
                            "b1 AS (SELECT * FROM b) SELECT m FROM a2 UNION ALL SELECT n FROM b1",
    "subquery_of_the_cte": "a1 AS (SELECT n FROM a) SELECT n FROM a1 "
                           "UNION ALL SELECT n FROM (SELECT n FROM b) AS s",
}


@pytest.mark.parametrize("form", list(PASSED_ON))
def test_cte_counts_passed_on_through_other_ctes_do_not_decode_a_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, form: str) -> None:
    truth = first(raw, "SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'")[0]
    sql = ("WITH a AS (SELECT COUNT(*) AS n FROM impressions), b AS (SELECT COUNT(*) AS n FROM "
           f"impressions WHERE channel <> 'CANARYCHAN7'), {PASSED_ON[form]}")
    rows = [r[0] for r in ask(loaded, canary, sql)["rows"]]
    decoded = rows[0] - rows[1] if len(rows) == 2 and None not in rows else None
    assert decoded != truth, (decoded, truth)


@pytest.mark.parametrize("groups", [
    "WITH a(c, x) AS (SELECT channel, COUNT(*) FROM impressions GROUP BY channel) "
    "SELECT c, x FROM a",
    "WITH a AS (SELECT channel AS c, COUNT(*) AS x FROM impressions GROUP BY channel), "
    "b AS (SELECT c, x FROM a) SELECT c, x FROM b",
    "WITH a(c, x) AS (SELECT channel, COUNT(*) FROM impressions GROUP BY channel), "
    "b(c2, x2) AS (SELECT c, x FROM a) SELECT c2, x2 FROM b",
])
def test_renamed_or_passed_on_groups_beside_a_total_do_not_decode_the_withheld_one(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, groups: str) -> None:
    truth = first(raw, "SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'")[0]
    sql = f"{groups} UNION ALL SELECT 'total', COUNT(*) FROM impressions"
    rows = {r[0]: r[1] for r in ask(loaded, canary, sql)["rows"]}
    parts = [n for name, n in rows.items() if name != "total"]
    decoded = None if None in parts or rows.get("total") is None else rows["total"] - sum(parts)
    assert decoded != truth, (decoded, truth)
    assert rows.get("total") is not None and len(parts) == 5  # the report still answers
