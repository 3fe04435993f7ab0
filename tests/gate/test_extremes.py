"""MIN and MAX across people are the order statistics QUANTILE_DISC(x, 0.0) and (x, 1.0): they
are released only when at least k people hold the value returned (``aggregates._quantile``,
``cells.holders``), else NULL and flagged. Each attack is run on raw DuckDB first (it must
really read one person's value) and then through the service. Per-person MIN/MAX stay plain."""

from __future__ import annotations

import duckdb
import pytest

from cleanroom.gate import Catalog, check_query
from cleanroom.gate import K as Kind
from tests.canary import RARE_CAMPAIGN, UNIQUE_REVENUE
from tests.conftest import Harness

K = 50  # min_users_per_row of tests/fixtures/policies/acme-streamco.yaml


def _holders(raw: duckdb.DuckDBPyConnection, sql: str, table: str, column: str,
             where: str = "TRUE") -> int:
    """How many people hold the value ``sql`` returns, on raw DuckDB."""
    value = raw.execute(sql).fetchone()[0]
    return raw.execute(f"SELECT COUNT(DISTINCT user_key) FROM {table} WHERE ({where}) "
                       f"AND {column} = ?", [value]).fetchone()[0]


@pytest.mark.parametrize("sql, table, column, where", [
    # a filter on the metric puts person 100 (777.77) at the top
    ("SELECT MAX(revenue) AS v FROM conversions WHERE revenue < 800",
     "conversions", "revenue", "revenue < 800"),
    # person 101's revenue is clamped to the bound 1000, which nobody else reaches
    ("SELECT MAX(revenue) AS v FROM conversions", "conversions", "revenue", "TRUE"),
    # one person at the bottom once everyone under 10 is filtered out, by an upper bound
    ("SELECT MIN(revenue) FILTER (WHERE revenue > 777) AS v FROM conversions",
     "conversions", "revenue", "revenue > 777"),
    # the first time the rare campaign was seen: one of its three people
    (f"SELECT MIN(ts) AS v FROM impressions WHERE campaign = '{RARE_CAMPAIGN}'",
     "impressions", "ts", f"campaign = '{RARE_CAMPAIGN}'"),
])
def test_extreme_held_by_few_is_withheld(loaded: Harness, raw: duckdb.DuckDBPyConnection,
                                         sql: str, table: str, column: str, where: str) -> None:
    truth = raw.execute(sql).fetchone()[0]
    assert truth is not None and _holders(raw, sql, table, column, where) < K
    response = loaded.query(sql)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        return
    body = response.json()
    released = [v for row in body["rows"] for v in row]
    # the cell is NULL and flagged, or the row itself stands on fewer than k people
    assert released in ([None], []), body
    assert not released or [0, 0] in body["withheld_cells"]


def test_top_revenue_of_one_person_is_not_released(loaded: Harness,
                                                   raw: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT MAX(revenue) AS v FROM conversions WHERE revenue < 800"
    assert raw.execute(sql).fetchone()[0] == UNIQUE_REVENUE
    assert str(UNIQUE_REVENUE) not in loaded.query(sql).text


def test_extreme_held_by_many_is_released_equal_to_duckdb(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """The first and last week of a channel's impressions are held by many people (a week is
    shared), and MIN of a rounded cost is 0 for hundreds: released, equal to raw DuckDB."""
    sql = ("SELECT channel, MIN(date_trunc('week', ts)) AS first_week, "
           "MAX(date_trunc('week', ts)) AS last_week, MIN(round(cost)) AS low "
           "FROM impressions GROUP BY channel HAVING COUNT(DISTINCT user_key) >= 400 "
           "ORDER BY channel")
    expected = raw.execute(sql).fetchall()
    assert expected
    body = loaded.query(sql).json()
    assert body["withheld_cells"] == [], body
    got = [(r[0], r[1], r[2], r[3]) for r in body["rows"]]
    assert [r[0] for r in got] == [r[0] for r in expected]
    for row, want in zip(got, expected):
        assert row[1].startswith(want[1].date().isoformat()), (row, want)
        assert row[2].startswith(want[2].date().isoformat()), (row, want)
        assert row[3] == want[3]


CATALOG = Catalog.of({"t": {"user_key": Kind.UID, "ts": Kind.DIM, "channel": Kind.DIM}})
PER_PERSON = ("WITH f AS (SELECT user_key, MIN(ts) AS first_ts, MAX(ts) AS last_ts "
              "FROM t GROUP BY user_key) SELECT COUNT(*) AS n, "
              "AVG(date_diff('day', first_ts, last_ts)) AS span FROM f")


def test_only_the_extreme_across_people_counts_its_holders() -> None:
    across = check_query("SELECT channel, MIN(ts) AS first_ts FROM t GROUP BY channel",
                         CATALOG, min_users=50).sql
    assert "list_distinct" in across.lower() and "MIN(" in across
    plain = check_query(PER_PERSON, CATALOG, min_users=50).sql
    assert "list_distinct" not in plain.lower() and "MIN(ts)" in plain, plain


def test_per_person_extreme_stays_plain(loaded: Harness) -> None:
    """MIN(ts) inside GROUP BY user_key is one person's own value: no holders count is built
    (the rewritten SQL has no list of holders), and the answer stands."""
    sql = ("WITH f AS (SELECT user_key, MIN(ts) AS first_ts, MAX(ts) AS last_ts "
           "FROM impressions GROUP BY user_key) "
           "SELECT COUNT(*) AS n, AVG(date_diff('day', first_ts, last_ts)) AS span FROM f")
    response = loaded.query(sql)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rows"][0][0] > K and body["withheld_cells"] == []


@pytest.mark.parametrize("sql", [
    "SELECT channel, MIN(ts) AS first_ts FROM impressions GROUP BY channel",
    "SELECT MAX(revenue) AS top FROM conversions",
])
def test_extreme_is_not_answered_under_differential_privacy(loaded: Harness, sql: str) -> None:
    response = loaded.query(sql, epsilon=0.5)
    assert response.status_code == 422, response.text
    rules = {v["rule"] for v in response.json()["error"]["violations"]}
    assert "dp_unsupported" in rules


@pytest.mark.parametrize("sql, rule", [
    ("SELECT MIN(user_key) AS u FROM impressions", "user_key_aggregate"),
    ("SELECT MAX(ip_hash) AS h FROM impressions", None),
])
def test_extreme_of_a_key_or_banned_column_is_refused(loaded: Harness, sql: str,
                                                      rule: str | None) -> None:
    response = loaded.query(sql)
    assert response.status_code == 422, response.text
    if rule is not None:
        rules = {v["rule"] for v in response.json()["error"]["violations"]}
        assert rule in rules, rules


def test_extreme_inside_a_cte_is_still_refused() -> None:
    """Open (docs/gate.md): inside a CTE a withheld cell's flag does not reach the rows of a
    final set operation, so there MIN/MAX across people stay member_aggregate."""
    from cleanroom.errors import QueryRejected

    sql = ("WITH d AS (SELECT channel, COUNT(*) AS n, MIN(ts) AS f FROM t GROUP BY channel) "
           "SELECT * FROM d UNION ALL SELECT * FROM d")
    with pytest.raises(QueryRejected) as raised:
        check_query(sql, CATALOG, min_users=50)
    assert "member_aggregate" in {v.rule for v in raised.value.violations}
