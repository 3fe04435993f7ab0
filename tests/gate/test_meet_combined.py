"""Met aggregations combined beyond one pair (``cleanroom/gate/meet.py``): three or more met
rows (``a.n - b.n - c.n``, a total minus the sum of another source's rows), a value subquery or
derived table that aggregates a source (``(SELECT SUM(n) FROM a)``), an ORDER BY over met
values, records carried through a second join, and an aggregation across people beside a
value subquery. Each attack decodes the 7-person channel's size (or the one person's revenue) on raw
DuckDB; through the service the decoded value must not come out."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.canary import UNIQUE_REVENUE, CanaryData
from tests.conftest import Harness
from tests.gate.test_meet import assert_exact_as_raw, seven
from tests.gate.test_review_attacks import ask

# Per person, the least channel: the 7-person channel's people have no other ('CANARYCHAN7'
# sorts before every lower-case channel), so the groups below partition everyone but them.
PER = "per AS (SELECT user_key, MIN(channel) AS m FROM impressions GROUP BY user_key)"
ALL = "a AS (SELECT COUNT(*) AS n FROM per)"
LOW = "b AS (SELECT COUNT(*) AS n FROM per WHERE m IN ('display', 'email'))"
HIGH = "c AS (SELECT COUNT(*) AS n FROM per WHERE m IN ('search', 'social', 'video'))"
# Three groups of hundreds each (display, email, the rest): none is dropped by the threshold.
GROUPS = ("g AS (SELECT CASE WHEN m IN ('display', 'email') THEN m ELSE 'other' END AS s, "
          "COUNT(*) AS n FROM per WHERE m <> 'CANARYCHAN7' GROUP BY 1)")
THREE = f"WITH {PER}, {ALL}, {LOW}, {HIGH} "
ROWS = f"WITH {PER}, {ALL}, {GROUPS} "
# Revenue: everyone's, below 300, and from 300 on but for the one person's 777.77.
REV = ("WITH a AS (SELECT SUM(revenue) AS s FROM conversions), "
       "b AS (SELECT SUM(revenue) AS s FROM conversions WHERE revenue < 300), "
       "c AS (SELECT SUM(revenue) AS s FROM conversions WHERE revenue >= 300 "
       "AND NOT revenue BETWEEN 777 AND 778) ")


def _numbers(rows: list[list[Any]]) -> list[float]:
    return [v for row in rows for v in row if isinstance(v, (int, float))]


def _decodes(rows: list[list[Any]], truth: float) -> bool:
    """A released number equals the truth, or the first number minus the others does."""
    found = _numbers(rows)
    if any(abs(v - truth) < 1e-6 for v in found):
        return True
    return len(found) >= 2 and abs(found[0] - sum(found[1:]) - truth) < 1e-6


COUNTS = [
    THREE + "SELECT a.n - b.n - c.n AS d FROM a CROSS JOIN b CROSS JOIN c",
    THREE + "SELECT a.n AS an, b.n AS bn, c.n AS cn FROM a, b, c",
    THREE + "SELECT (SELECT n FROM a) - (SELECT n FROM b) - (SELECT n FROM c) AS d",
    ROWS + "SELECT a.n - SUM(g.n) AS d FROM a CROSS JOIN g GROUP BY a.n",
    ROWS + "SELECT (SELECT n FROM a) - (SELECT SUM(n) FROM g) AS d",
    ROWS + "SELECT a.n - s.t AS d FROM a CROSS JOIN (SELECT SUM(n) AS t FROM g) s",
    ROWS + "SELECT a.n AS an, (SELECT SUM(n) FROM g) AS t FROM a",
]
COUNT_IDS = ["three_ctes_cross_joined", "three_numbers", "three_value_subqueries",
             "total_minus_the_sum_of_rows", "value_subquery_sums_a_source",
             "derived_table_sums_a_source", "value_subquery_beside_a_relation"]


@pytest.mark.parametrize("sql", COUNTS, ids=COUNT_IDS)
def test_combined_met_counts_do_not_decode_the_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = seven(raw)
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], truth)
    body = ask(loaded, canary, sql)
    assert "rows" in body, body  # answered, with cells withheld: not refused
    assert not _decodes(body["rows"], truth), body


@pytest.mark.parametrize("sql", [
    REV + "SELECT a.s - b.s - c.s AS d FROM a CROSS JOIN b CROSS JOIN c",
    REV + "SELECT (SELECT s FROM a) - (SELECT s FROM b) - (SELECT s FROM c) AS d",
], ids=["three_ctes", "three_value_subqueries"])
def test_combined_met_sums_do_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], UNIQUE_REVENUE)
    body = ask(loaded, canary, sql)
    assert "rows" in body, body
    assert not any(isinstance(v, float) and abs(v - UNIQUE_REVENUE) < 0.01
                   for v in _numbers(body["rows"])), body


GUESSES = ("q AS (SELECT 5 AS k UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 "
           "UNION ALL SELECT 9)")
PAIR = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
        "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions "
        f"WHERE channel <> 'CANARYCHAN7'), {GUESSES} ")


@pytest.mark.parametrize("sql", [
    PAIR + "SELECT q.k FROM a CROSS JOIN b CROSS JOIN q ORDER BY abs(a.n - b.n - q.k) LIMIT 1",
    PAIR + "SELECT q.k FROM a CROSS JOIN b CROSS JOIN q ORDER BY abs(a.n - b.n - q.k)",
    PAIR + ", j AS (SELECT q.k FROM a CROSS JOIN b CROSS JOIN q "
    "ORDER BY abs(a.n - b.n - q.k) LIMIT 1) SELECT k FROM j",
], ids=["limit", "order_only", "limit_in_a_cte"])
def test_an_order_by_met_values_does_not_pick_the_difference(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    """The row an ORDER BY over ``a.n - b.n`` puts first must not tell the difference."""
    truth = seven(raw)
    assert raw.execute(sql).fetchall()[0][0] == truth
    body = ask(loaded, canary, sql)
    assert "rows" in body, body
    assert not (body["rows"] and body["rows"][0][0] == truth), body


CHANNELS = ("c AS (SELECT channel, COUNT(DISTINCT user_key) AS n FROM impressions "
            "WHERE channel <> 'CANARYCHAN7' GROUP BY channel)")
TOTALS = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
          "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions), "
          "d AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions WHERE cost > 4), ")


@pytest.mark.parametrize("sql", [
    TOTALS + CHANNELS + " SELECT a.n AS reach, b.n AS buyers, d.n AS dear, "
    "b.n / a.n AS rate FROM a CROSS JOIN b CROSS JOIN d",
    TOTALS + CHANNELS + " SELECT c.channel, c.n / a.n AS share FROM c CROSS JOIN a",
    TOTALS + CHANNELS + " SELECT (SELECT SUM(n) FROM c) AS summed, (SELECT n FROM a) AS reach",
    TOTALS + CHANNELS + " SELECT c.channel, c.n AS n FROM c CROSS JOIN b "
    "ORDER BY c.n - b.n DESC",
], ids=["three_totals", "share_of_total", "sum_of_overlapping_groups", "ordered_far_apart"])
def test_combined_met_values_many_people_apart_are_released_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Sets hundreds apart, and groups that overlap (a person sees several channels, so the
    sum of the channels' people is far above everyone's count), are no combination of a few."""
    expected = [list(r) for r in raw.execute(sql).fetchall()]
    body = ask(loaded, canary, sql)
    assert body.get("withheld_cells") == [], body
    ordered = "ORDER BY" in sql
    rows = body["rows"] if ordered else sorted(body["rows"])
    want = expected if ordered else sorted(expected)
    assert len(rows) == len(want) > 0, (rows, want)
    for row, raw_row in zip(rows, want):
        assert row == [pytest.approx(v) if isinstance(v, float) else v for v in raw_row]


def test_records_carried_through_a_second_join_do_not_decode_the_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """``j`` joins two aggregations hundreds apart; joined again to ``c``, its ``a.n`` minus
    ``c.n`` is the 7-person channel: a join carries its sources' records on."""
    sql = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
           "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions), "
           "c AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions "
           "WHERE channel <> 'CANARYCHAN7'), j AS (SELECT a.n AS an, b.n AS bn FROM a "
           "CROSS JOIN b) SELECT j.an - c.n AS d FROM j CROSS JOIN c")
    truth = seven(raw)
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], truth)
    assert not _decodes(ask(loaded, canary, sql)["rows"], truth)


BESIDE = ("WITH b AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions "
          "WHERE channel <> 'CANARYCHAN7') ")


@pytest.mark.parametrize("sql", [
    BESIDE + "SELECT COUNT(DISTINCT user_key) - (SELECT n FROM b) AS d FROM impressions",
    BESIDE + "SELECT COUNT(DISTINCT user_key) AS n, (SELECT n FROM b) AS m FROM impressions",
], ids=["difference", "both_numbers"])
def test_an_aggregation_beside_a_value_subquery_does_not_decode_the_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = seven(raw)
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], truth)
    body = ask(loaded, canary, sql)
    assert "rows" in body, body
    assert not _decodes(body["rows"], truth), body


def test_a_having_beside_a_value_subquery_is_not_an_equality_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """Whether ``HAVING COUNT(DISTINCT user_key) - (SELECT n FROM b) = d`` keeps the row must
    not tell d: every guess gets the same answer."""
    truth = seven(raw)
    form = BESIDE + ("SELECT 'x' AS g, COUNT(*) AS c FROM impressions "
                     "HAVING COUNT(DISTINCT user_key) - (SELECT n FROM b) = {d}")
    guesses = range(truth - 2, truth + 3)
    assert len({repr(raw.execute(form.format(d=d)).fetchall()) for d in guesses}) > 1
    answers = set()
    for d in guesses:
        body = ask(loaded, canary, form.format(d=d))
        answers.add(repr((body.get("rows"), body.get("withheld_cells"),
                          body.get("suppressed_rows"))))
    assert len(answers) == 1, answers


@pytest.mark.parametrize("sql", [
    "WITH t AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions) SELECT channel, "
    "COUNT(DISTINCT user_key) AS n, COUNT(DISTINCT user_key) / (SELECT n FROM t) AS share "
    "FROM impressions WHERE channel <> 'CANARYCHAN7' GROUP BY channel",
    "WITH t AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions) "
    "SELECT COUNT(DISTINCT user_key) AS buyers, (SELECT n FROM t) AS reach FROM conversions",
    "WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
    "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions), "
    "c AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions WHERE cost > 4), "
    "j AS (SELECT a.n AS an, b.n AS bn FROM a CROSS JOIN b) "
    "SELECT j.an, j.bn, c.n AS cn FROM j CROSS JOIN c",
], ids=["share_per_channel", "buyers_beside_reach", "join_then_third"])
def test_values_beside_an_aggregation_many_people_apart_are_released_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert_exact_as_raw(loaded, canary, raw, sql)


# Records carried through a join of a carrying join (``meet._carried``, recursively): ``j2``
# joins ``j`` (itself a join of two aggregations hundreds apart) to a third; ``j2.an - c.n``
# was the 7-person channel.
CARRIED_TWICE = ("WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
                 "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions), "
                 "e AS (SELECT COUNT(*) AS n FROM impressions WHERE channel = 'social'), "
                 "c AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions "
                 "WHERE channel <> 'CANARYCHAN7'), j AS (SELECT a.n AS an, b.n AS bn FROM a "
                 "CROSS JOIN b), j2 AS (SELECT j.an, j.bn, e.n AS en FROM j CROSS JOIN e) ")


def test_records_carried_through_a_join_of_a_join_do_not_decode_the_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = CARRIED_TWICE + "SELECT j2.an - c.n AS d FROM j2 CROSS JOIN c"
    truth = seven(raw)
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], truth)
    assert not _decodes(ask(loaded, canary, sql)["rows"], truth)


def test_records_carried_twice_many_people_apart_are_released_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = CARRIED_TWICE.replace("WHERE channel <> 'CANARYCHAN7'", "WHERE channel = 'search'") + \
        "SELECT j2.an - c.n AS d, j2.en AS en FROM j2 CROSS JOIN c"
    body = ask(loaded, canary, sql)
    assert body["withheld_cells"] == [] and body["rows"] == [list(r) for r in raw.execute(
        sql).fetchall()], body


def test_records_passed_on_from_a_join_do_not_decode_the_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """``j1`` only passes on the join ``j``'s rows: it passes its records on too."""
    sql = CARRIED_TWICE + ", j1 AS (SELECT an, bn FROM j) SELECT j1.an - c.n AS d FROM j1 CROSS JOIN c"
    sql = sql.replace(") , j1", "), j1")
    truth = seven(raw)
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], truth)
    assert not _decodes(ask(loaded, canary, sql)["rows"], truth)


INLINE = "(SELECT COUNT(DISTINCT user_key) FROM impressions WHERE channel <> 'CANARYCHAN7')"


@pytest.mark.parametrize("sql", [
    f"SELECT COUNT(DISTINCT user_key) - {INLINE} AS d FROM impressions",
    f"SELECT COUNT(DISTINCT user_key) AS n, {INLINE} AS m FROM impressions",
    f"SELECT (SELECT COUNT(DISTINCT user_key) FROM impressions) - {INLINE} AS d",
], ids=["difference", "both_numbers", "two_value_subqueries"])
def test_an_aggregation_beside_an_inline_aggregating_value_subquery_does_not_decode_the_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    """The same attacks as with ``(SELECT n FROM b)`` over a CTE, the subquery's aggregate
    written inline: on raw DuckDB they decode the 7-person channel; through the service they
    came back exact (found by the contract sweep, session 23) until such a subquery was read
    as a CTE's value (``gate/subvalues.py``)."""
    truth = seven(raw)
    assert _decodes([list(r) for r in raw.execute(sql).fetchall()], truth)
    body = ask(loaded, canary, sql)
    assert "rows" in body, body
    assert not _decodes(body["rows"], truth), body
