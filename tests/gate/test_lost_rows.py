"""Rows a reader never sees (``gate/lost.py``), threshold mode, k = 50: a SELECT that combines
thresholded rows must not present as exact a number short of a row the threshold dropped, when
no row that stands carries the drop's flag. Each case is compared with raw DuckDB on the same
data: every released cell equals the raw value, every other one is NULL, listed in
``withheld_cells``, its row ``"partial"`` (CONTRACT.md §3, issue 8 point 3)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_cells import flagged, same
from tests.gate.test_review_attacks import ask

EVERYONE_ELSE = "SELECT COUNT(*) AS n FROM impressions WHERE campaign <> 'CANARYCAMP3'"
SMALL = "SELECT COUNT(*) AS n FROM impressions WHERE campaign = 'CANARYCAMP3'"
SEVEN = "SELECT COUNT(*) AS n FROM impressions WHERE channel = 'CANARYCHAN7'"

TOTALS = {
    # a total over a UNION ALL whose one branch lost its only row: short of the 3-person
    # campaign's rows, and was exact
    "union_one_branch_lost": f"WITH a AS ({EVERYONE_ELSE}), b AS ({SMALL}) "
                             "SELECT SUM(n) AS n FROM (SELECT n FROM a UNION ALL SELECT n FROM b) u",
    # every branch lost its row: NULL, exact
    "union_every_branch_lost": f"WITH b AS ({SMALL}), c AS ({SEVEN}) "
                               "SELECT SUM(n) AS n FROM (SELECT n FROM b UNION ALL SELECT n FROM c) u",
    # a SELECT that only passes the aggregation on: NULL, exact
    "passed_on": f"WITH b AS ({SMALL}) SELECT SUM(n) AS n FROM (SELECT n FROM b) u",
    "passed_on_by_a_cte": f"WITH b AS ({SMALL}), p AS (SELECT n FROM b) SELECT COUNT(*) AS n FROM p",
    # the aggregations as branches of the union themselves
    "bare_branches": f"SELECT SUM(n) AS n FROM ({EVERYONE_ELSE} UNION ALL {SMALL}) u",
}


def released_as_raw(body: dict[str, Any], truth: dict[Any, tuple[Any, ...]]) -> set[tuple[int, int]]:
    """Every released cell equals raw DuckDB's (rows matched on their first column)."""
    cells = flagged(body)
    for i, row in enumerate(body["rows"]):
        assert row[0] in truth, row
        assert all(same(v, truth[row[0]][j]) for j, v in enumerate(row) if (i, j) not in cells), \
            (row, truth[row[0]])
    return cells


@pytest.mark.parametrize("sql", list(TOTALS.values()), ids=list(TOTALS))
def test_a_total_short_of_a_dropped_row_is_withheld(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = raw.execute(sql).fetchall()
    body = ask(loaded, canary, sql)
    assert len(body["rows"]) == 1 and len(truth) == 1
    value = body["rows"][0][0]
    assert value is None and [0, 0] in body["withheld_cells"], (body, truth)
    assert body["row_status"] == ["partial"]


# Per-channel counts of everyone but the 7-person channel, and the same counts of the 3-person
# campaign (every channel group of it dropped), re-summed by channel: each channel the small
# campaign touched came back short of its rows, exact. A channel it did not touch is exact.
GROUPED = {
    "ctes": ("WITH a AS (SELECT channel, COUNT(*) AS n FROM impressions WHERE channel <> "
             "'CANARYCHAN7' GROUP BY channel), b AS (SELECT channel, COUNT(*) AS n FROM impressions "
             "WHERE campaign = 'CANARYCAMP3' GROUP BY channel), u AS (SELECT * FROM a UNION ALL "
             "SELECT * FROM b) SELECT channel, SUM(n) AS n FROM u GROUP BY channel ORDER BY channel"),
    "bare_branches": ("SELECT channel, SUM(n) AS n FROM (SELECT channel, COUNT(*) AS n FROM "
                      "impressions WHERE channel <> 'CANARYCHAN7' GROUP BY channel UNION ALL "
                      "SELECT channel, COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3' "
                      "GROUP BY channel) u GROUP BY channel ORDER BY channel"),
    # a CTE named after the table it reads (AMC's ``clicks AS (... FROM clicks ...)``): a probe
    # copied into the reader would read the CTE
    "cte_named_as_its_table": (
        "WITH a AS (SELECT channel, COUNT(*) AS n FROM impressions WHERE channel <> "
        "'CANARYCHAN7' GROUP BY channel), impressions AS (SELECT channel, COUNT(*) AS n FROM "
        "impressions WHERE campaign = 'CANARYCAMP3' GROUP BY channel), u AS (SELECT * FROM a "
        "UNION ALL SELECT * FROM impressions) "
        "SELECT channel, SUM(n) AS n FROM u GROUP BY channel ORDER BY channel"),
}


@pytest.mark.parametrize("sql", list(GROUPED.values()), ids=list(GROUPED))
def test_groups_over_a_union_short_of_another_branchs_drop_are_withheld(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = {r[0]: r for r in raw.execute(sql).fetchall()}
    touched = {r[0] for r in raw.execute(
        "SELECT DISTINCT channel FROM impressions WHERE campaign = 'CANARYCAMP3'").fetchall()}
    body = ask(loaded, canary, sql)
    cells = released_as_raw(body, truth)
    channels = [r[0] for r in body["rows"]]
    assert set(channels) == {c for c in truth if c != "CANARYCHAN7"}
    for i, channel in enumerate(channels):
        assert ((i, 1) in cells) == (channel in touched), (channel, body)


def test_a_branch_that_drops_a_key_no_other_branch_holds_costs_nothing(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """AMC's sponsored-ads UNION: both branches drop the 3-person campaign, so no released
    group lost a row; every group answers exactly (it was withheld whole before)."""
    sql = ("WITH imp AS (SELECT campaign, COUNT(*) AS impressions, 0 AS purchases FROM "
           "impressions GROUP BY campaign), conv AS (SELECT i.campaign, 0 AS impressions, "
           "COUNT(*) AS purchases FROM impressions i JOIN conversions c ON i.user_key = "
           "c.user_key GROUP BY i.campaign), u AS (SELECT * FROM imp UNION ALL SELECT * FROM conv) "
           "SELECT campaign, SUM(impressions) AS i, SUM(purchases) AS p FROM u GROUP BY campaign "
           "ORDER BY campaign")
    truth = {r[0]: r for r in raw.execute(sql).fetchall()}
    body = ask(loaded, canary, sql)
    assert released_as_raw(body, truth) == set()
    assert {r[0] for r in body["rows"]} == {c for c in truth if not c.startswith("CANARY")}


def test_a_probe_whose_names_would_change_meaning_fails_closed(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """The aggregation reads a CTE of a nested WITH the reader cannot see: a copy of it in the
    reader would read another relation, so the total counts as short of a dropped row."""
    sql = ("SELECT SUM(n) AS n FROM (WITH p AS (SELECT user_key FROM impressions) SELECT n FROM "
           "(SELECT COUNT(DISTINCT user_key) AS n FROM p) s) t")
    assert raw.execute(sql).fetchall()[0][0] > 50  # nothing was dropped
    body = ask(loaded, canary, sql)
    assert body["rows"] == [[None]] and body["withheld_cells"] == [[0, 0]], body
    # without the nested WITH the same total is probed and released exact
    plain = ("WITH p AS (SELECT user_key FROM impressions) SELECT SUM(n) AS n FROM (SELECT n FROM "
             "(SELECT COUNT(DISTINCT user_key) AS n FROM p) s) t")
    body = ask(loaded, canary, plain)
    assert body["rows"] == [list(raw.execute(plain).fetchall()[0])], body
    assert body["row_status"] == ["exact"]
