"""Values of two intermediate aggregations that meet in one relation (``cleanroom/gate/meet.py``).

Each attack is run on raw DuckDB, where it decodes the people of a small group (the 7-person
channel, or the few people a campaign loses without it), and through the service, where the
decoded value must not come out. Legitimate joins of aggregations whose people differ by many
come back exact, equal to raw DuckDB."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask, first

K = 50  # tests/fixtures/policies/acme-streamco.yaml: min_users_per_row
EVERYONE = "SELECT COUNT(DISTINCT user_key) AS n FROM impressions"
ALL_BUT = "SELECT COUNT(DISTINCT user_key) AS n FROM impressions WHERE channel <> 'CANARYCHAN7'"
PAIR = f"WITH a AS ({EVERYONE}), b AS ({ALL_BUT}) "
KEYED = ("WITH a AS (SELECT 1 AS k, COUNT(DISTINCT user_key) AS n FROM impressions), "
         "b AS (SELECT 1 AS k, COUNT(DISTINCT user_key) AS n FROM impressions "
         "WHERE channel <> 'CANARYCHAN7') ")


def seven(raw: duckdb.DuckDBPyConnection) -> int:
    found = first(raw, "SELECT COUNT(DISTINCT user_key) FROM impressions "
                       "WHERE channel = 'CANARYCHAN7'")[0]
    assert 0 < found < K
    return int(found)


def decoded_difference(rows: list[list[Any]]) -> set[Any]:
    """What a reader gets from each row: the difference, or both numbers to subtract."""
    found = set()
    for row in rows:
        if len(row) == 1 and row[0] is not None:
            found.add(row[0])
        elif len(row) == 2 and None not in row:
            found.add(row[0] - row[1])
    return found


@pytest.mark.parametrize("sql", [
    KEYED + "SELECT a.n - b.n AS d FROM a LEFT JOIN b ON a.k = b.k",
    KEYED + "SELECT a.n AS an, b.n AS bn FROM a LEFT JOIN b ON a.k = b.k",
    PAIR + "SELECT a.n AS an, b.n AS bn FROM a, b",
    PAIR + "SELECT SUM(a.n) - SUM(b.n) AS d FROM a CROSS JOIN b",
    PAIR + "SELECT x.n - (SELECT n FROM b) AS d FROM a x",
    PAIR + ", a2 AS (SELECT n AS m FROM a) SELECT a2.m - b.n AS d FROM a2, b",
    PAIR + ", j AS (SELECT a.n - b.n AS d FROM a CROSS JOIN b) SELECT d FROM j",
    PAIR + ", j AS (SELECT a.n AS an, b.n AS bn FROM a CROSS JOIN b) SELECT an, bn FROM j",
], ids=["left_join_constant_key", "left_join_both_numbers", "comma_join_both_numbers",
        "sums_over_cross_join", "value_subquery_beside_relation", "through_a_pass_cte",
        "difference_in_a_cte", "both_numbers_through_a_cte"])
def test_two_met_counts_do_not_decode_a_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = seven(raw)
    assert truth in decoded_difference([list(r) for r in raw.execute(sql).fetchall()])
    body = ask(loaded, canary, sql)
    assert "rows" in body, body  # answered, with the cell withheld: not refused
    assert truth not in decoded_difference(body["rows"]), body


def test_two_met_counts_in_rows_of_their_own_do_not_decode_a_seven_person_channel(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """A FULL JOIN that never matches puts each count in a row of its own: the rows of every
    source are compared, not only those that meet in a row."""
    truth = seven(raw)
    sql = PAIR + "SELECT x.n AS xn, y.n AS yn FROM a x FULL JOIN b y ON FALSE"
    numbers = lambda rows: ([r[0] for r in rows if r[0] is not None],  # noqa: E731
                            [r[1] for r in rows if r[1] is not None])
    xs, ys = numbers([list(r) for r in raw.execute(sql).fetchall()])
    assert xs[0] - ys[0] == truth
    body = ask(loaded, canary, sql)
    xs, ys = numbers(body["rows"])
    assert not (xs and ys and xs[0] - ys[0] == truth), body


def test_per_campaign_counts_joined_on_the_campaign_do_not_decode_the_channels_people(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """Joined on a group key, each campaign's two counts differ by the few people the campaign
    has only in the 7-person channel: each such difference must stay withheld."""
    sql = ("WITH a AS (SELECT campaign, COUNT(DISTINCT user_key) AS n FROM impressions "
           "GROUP BY campaign), b AS (SELECT campaign, COUNT(DISTINCT user_key) AS n "
           "FROM impressions WHERE channel <> 'CANARYCHAN7' GROUP BY campaign) "
           "SELECT a.campaign, a.n AS an, b.n AS bn FROM a JOIN b ON a.campaign = b.campaign")
    truth = {c: d for c, d in raw.execute(
        "SELECT a.campaign, a.n - b.n FROM (SELECT campaign, COUNT(DISTINCT user_key) AS n "
        "FROM impressions GROUP BY 1) a JOIN (SELECT campaign, COUNT(DISTINCT user_key) AS n "
        "FROM impressions WHERE channel <> 'CANARYCHAN7' GROUP BY 1) b USING (campaign)"
    ).fetchall()}
    small = {c for c, d in truth.items() if 0 < d < K}
    assert small  # the attack is real: some campaigns lose a few people
    body = ask(loaded, canary, sql)
    released = {row[0]: row for row in body["rows"]}
    assert small <= set(released), body  # the rows are kept, their cells withheld
    for campaign in small:
        _, an, bn = released[campaign]
        assert an is None or bn is None, (campaign, an, bn, truth[campaign])


@pytest.mark.parametrize("form", [
    "SELECT COUNT(*) AS hit FROM a CROSS JOIN b WHERE a.n - b.n = {d}",
    "SELECT a.n AS an FROM a CROSS JOIN b WHERE a.n - b.n = {d}",
    "SELECT a.n AS an FROM a JOIN b ON a.n - b.n = {d}",
    "SELECT 'x' AS g, COUNT(*) AS c FROM a CROSS JOIN b GROUP BY 1 HAVING SUM(a.n - b.n) = {d}",
    "SELECT 1 AS one WHERE (SELECT n FROM a) - (SELECT n FROM b) = {d}",
], ids=["where_count", "where_rows", "join_on", "having", "value_subqueries"])
def test_a_condition_on_met_counts_is_not_an_equality_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, form: str) -> None:
    """Whether a condition on the difference keeps a row must not tell the difference: every
    guess gets the same answer."""
    truth = seven(raw)
    guesses = range(truth - 2, truth + 3)
    raw_answers = {d: raw.execute(PAIR + form.format(d=d)).fetchall() for d in guesses}
    assert len({repr(v) for v in raw_answers.values()}) > 1  # on raw DuckDB it tells
    answers = {}
    for d in guesses:
        body = ask(loaded, canary, PAIR + form.format(d=d))
        answers[d] = repr((body.get("rows"), body.get("withheld_cells")))
    told = [d for d in guesses if list(answers.values()).count(answers[d]) == 1]
    assert truth not in told, answers


def assert_exact_as_raw(loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection,
                        sql: str) -> None:
    """The service answers ``sql`` as raw DuckDB does, nothing withheld (rows in any order)."""
    expected = sorted(list(r) for r in raw.execute(sql).fetchall())
    body = ask(loaded, canary, sql)
    assert body.get("withheld_cells") == [], body
    rows = sorted(body["rows"])
    assert len(rows) == len(expected) > 0, (rows, expected)
    for row, want in zip(rows, expected):
        assert row == [pytest.approx(v) if isinstance(v, float) else v for v in want], (row, want)


@pytest.mark.parametrize("sql", [
    "WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
    "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions) "
    "SELECT a.n AS reach, b.n AS converters, b.n / a.n AS rate FROM a CROSS JOIN b",
    "WITH a AS (SELECT campaign, COUNT(DISTINCT user_key) AS n FROM impressions "
    "WHERE campaign <> 'CANARYCAMP3' GROUP BY campaign), b AS (SELECT campaign, "
    "COUNT(DISTINCT user_key) AS n FROM impressions WHERE cost > 2.5 "
    "AND campaign <> 'CANARYCAMP3' GROUP BY campaign) SELECT a.campaign, a.n AS reach, "
    "b.n AS dear, "
    "b.n / a.n AS share FROM a JOIN b ON a.campaign = b.campaign",
    "WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
    "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions) "
    "SELECT (SELECT n FROM b) / (SELECT n FROM a) AS rate",
    "WITH a AS (SELECT COUNT(DISTINCT user_key) AS n FROM impressions), "
    "b AS (SELECT COUNT(DISTINCT user_key) AS n FROM conversions) "
    "SELECT a.n AS reach FROM a CROSS JOIN b WHERE b.n < a.n",
], ids=["total_and_converters", "per_campaign_share", "value_subqueries", "condition"])
def test_met_counts_many_people_apart_are_released_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert_exact_as_raw(loaded, canary, raw, sql)


# Each met relation's flag is computed once per row, beside its columns (``closeness.FLAG``):
# every cell, condition and ORDER BY key that takes it reads that column (DuckDB evaluated
# each copy of the comparison again: a final SELECT of six cells over two met CTEs ran the
# comparison twelve times a row).
@pytest.mark.parametrize("cells", [1, 4])
def test_a_met_relations_flag_is_compared_once_whatever_the_cells(cells: int) -> None:
    from bench.gate_snapshot import CATALOG
    from cleanroom.gate import check_query

    outputs = ", ".join(["a.n - b.n AS d", "a.n AS x", "b.n AS y", "a.n + b.n AS s"][:cells])
    sql = check_query(f"{PAIR}SELECT {outputs} FROM a CROSS JOIN b WHERE a.n - b.n > 1 "
                      "ORDER BY a.n - b.n", CATALOG, min_users=K).sql.lower()
    assert sql.count("list_intersect") == 4  # each source: the pair test and the union test
    assert sql.count('"__cr_mf"') >= cells + 2  # read by the cells, WHERE and ORDER BY
