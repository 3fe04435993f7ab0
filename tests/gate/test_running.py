"""Running counts (gate/running.py) and people's rows joined to aggregated rows (joins.py).

A running count is released row by row only where the row's own group stands on k people, so
two released running counts always differ by k people or more; every released number is the
raw one. The joins: on every GROUP BY key of the aggregated side, or refused."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest

from cleanroom.errors import QueryRejected
from cleanroom.gate import Catalog, K, check_query
from cleanroom.release import json_value
from tests.conftest import Harness

K_MIN = 50
CATALOG = Catalog.of({
    "impressions": {"user_key": K.UID, "ts": K.DIM, "channel": K.DIM, "campaign": K.DIM,
                     "cost": K.MET},
    "conversions": {"user_key": K.UID, "ts": K.DIM, "revenue": K.MET},
}, {"impressions": {"cost": (0, 100)}, "conversions": {"revenue": (0, 1000)}})

FIRST_SEEN = ("WITH f AS (SELECT user_key, MIN(CAST(ts AS DATE)) AS d, MIN(channel) AS ch "
              "FROM impressions GROUP BY 1) ")
# (running-count SQL, the same keys' own groups with their people, on raw DuckDB)
RUNNING = [
    (FIRST_SEEN + "SELECT DISTINCT d, COUNT(user_key) OVER (ORDER BY d) AS c FROM f",
     FIRST_SEEN + "SELECT d, COUNT(*) FROM f GROUP BY 1"),
    (FIRST_SEEN + "SELECT DISTINCT ch, d, COUNT(*) OVER (PARTITION BY ch ORDER BY d DESC) AS c "
     "FROM f",
     FIRST_SEEN + "SELECT ch, d, COUNT(*) FROM f GROUP BY 1, 2"),
    ("SELECT DISTINCT channel, date_trunc('week', ts) AS w, "
     "COUNT(*) OVER (PARTITION BY channel ORDER BY date_trunc('week', ts)) AS c FROM impressions",
     "SELECT channel, date_trunc('week', ts), COUNT(DISTINCT user_key) FROM impressions "
     "GROUP BY 1, 2"),
]


def _key(row: list[Any] | tuple[Any, ...]) -> str:
    return json.dumps([json_value(v) for v in row])


@pytest.mark.parametrize("sql,groups", RUNNING, ids=["by_day", "partitioned_desc", "rows_by_week"])
def test_running_count_releases_raw_rows_whose_own_group_stands(
        loaded: Harness, raw: duckdb.DuckDBPyConnection, sql: str, groups: str) -> None:
    response = loaded.query(sql)
    assert response.status_code == 200, response.text
    body = response.json()
    people = {_key(r[:-1]): r[-1] for r in raw.execute(groups).fetchall()}
    expected = {_key(r[:-1]): r[-1] for r in raw.execute(sql).fetchall()
                if people[_key(r[:-1])] >= K_MIN}
    released = {_key(r[:-1]): r[-1] for r in body["rows"]}
    assert released == expected
    assert len(released) < len(people)  # some group is small: the test bites


def test_consecutive_released_running_counts_differ_by_k_people(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """Differencing two released rows never isolates fewer than k people."""
    sql = FIRST_SEEN + "SELECT DISTINCT d, COUNT(user_key) OVER (ORDER BY d) AS c FROM f ORDER BY 1"
    rows = loaded.query(sql).json()["rows"]
    raw_rows = raw.execute(sql).fetchall()
    assert len(rows) >= 2
    assert min(b[1] - a[1] for a, b in zip(rows, rows[1:])) >= K_MIN
    # On raw DuckDB some day's step is smaller: the withholding is what closes it.
    assert min(b[1] - a[1] for a, b in zip(raw_rows, raw_rows[1:])) < K_MIN


@pytest.mark.parametrize("order", ["DESC", "ASC"])
def test_an_inner_running_count_is_tainted_from_its_first_small_group_on(
        loaded: Harness, raw: duckdb.DuckDBPyConnection, order: str) -> None:
    """In a CTE a running count meets other numbers of the same query (threshold.py,
    ``_running_lost``): the rows before the first withheld group (CANARYCHAN7, 7 people: last
    in DESC, first in ASC) come out as raw DuckDB has them, every later row's count withheld."""
    sql = (f"WITH r AS (SELECT DISTINCT channel, COUNT(*) OVER (ORDER BY channel {order}) AS n "
           f"FROM impressions) SELECT channel, n FROM r ORDER BY channel {order}")
    body = loaded.query(sql).json()
    raw_rows = [list(r) for r in raw.execute(sql).fetchall()]
    small = [r[0] for r in raw_rows].index("CANARYCHAN7")
    expected = [r for i, r in enumerate(raw_rows) if i != small]
    withheld = {tuple(c) for c in body["withheld_cells"]}
    assert len(body["rows"]) == len(expected)
    for i, (row, want) in enumerate(zip(body["rows"], expected)):
        assert ((i, 1) in withheld) == (i >= small), (i, withheld)
        assert all(row[c] == want[c] for c in range(2) if (i, c) not in withheld), (row, want)


def test_an_inner_running_count_after_a_withheld_cell_is_withheld(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """A group kept whose running cell is withheld (its support: the three-person campaign's
    rows in that channel) counts in every later row too: display's running count minus
    display's own count would be the campaign's rows in the channels before it."""
    count = "COUNT(CASE WHEN channel = 'display' OR campaign = 'CANARYCAMP3' THEN 1 END)"
    sql = (f"WITH r AS (SELECT DISTINCT channel, {count} OVER (ORDER BY channel DESC) AS n "
           "FROM impressions) SELECT channel, n FROM r ORDER BY 1 DESC")
    running = dict(raw.execute(sql).fetchall())
    own = raw.execute(f"SELECT {count} FROM impressions WHERE channel = 'display'").fetchone()
    assert own is not None and 0 < running["display"] - own[0] < K_MIN  # the attack is real
    body = loaded.query(sql).json()
    assert body["rows"] and all(row[1] is None for row in body["rows"]), body


@pytest.mark.parametrize("sql", [
    "SELECT channel, COUNT(*) OVER (ORDER BY channel) AS n FROM impressions",
    "SELECT DISTINCT channel, COUNT(*) OVER (ORDER BY ts) AS n FROM impressions",
    "SELECT DISTINCT channel, COUNT(*) OVER (PARTITION BY campaign ORDER BY channel) AS n "
    "FROM impressions",
    "SELECT DISTINCT channel, COUNT(*) OVER (ORDER BY channel ROWS BETWEEN UNBOUNDED PRECEDING "
    "AND CURRENT ROW) AS n FROM impressions",
    "SELECT DISTINCT channel, SUM(cost) OVER (ORDER BY channel) AS n FROM impressions",
    "SELECT DISTINCT channel, COUNT(DISTINCT user_key) OVER (ORDER BY channel) AS n FROM impressions",
    "SELECT DISTINCT channel, COUNT(*) FILTER (WHERE cost > 1) OVER (ORDER BY channel) AS n "
    "FROM impressions",
    "SELECT DISTINCT channel, COUNT(*) OVER (ORDER BY channel) AS a, "
    "COUNT(cost) OVER (ORDER BY channel) AS b FROM impressions",
    "SELECT DISTINCT channel, COUNT(*) OVER (ORDER BY channel) + 1 AS n FROM impressions",
], ids=["no_distinct", "order_not_output", "partition_not_output", "rows_frame", "sum",
        "count_distinct", "filter", "two_windows", "window_in_expression"])
def test_other_windows_over_people_stay_refused(sql: str) -> None:
    with pytest.raises(QueryRejected) as caught:
        check_query(sql, CATALOG, min_users=K_MIN)
    assert "cross_user_window" in {v.rule for v in caught.value.violations}


REACH = ("WITH r AS (SELECT channel, campaign, COUNT(DISTINCT user_key) AS reach "
         "FROM impressions GROUP BY 1, 2) ")


@pytest.mark.parametrize("sql,rule", [
    (REACH + "SELECT i.channel, r.reach, COUNT(*) AS n FROM impressions i "
     "LEFT JOIN r ON r.channel = i.channel AND r.campaign = i.campaign GROUP BY 1, 2", None),
    (REACH + "SELECT i.channel, COUNT(*) AS n FROM impressions i "
     "JOIN r ON r.channel = i.channel GROUP BY 1", "mixed_join"),
    (REACH + "SELECT r.channel, COUNT(*) AS n FROM r JOIN impressions i "
     "ON r.channel = i.channel AND r.campaign = i.campaign GROUP BY 1", "mixed_join"),
    (REACH + "SELECT i.channel, COUNT(*) AS n FROM impressions i FULL JOIN r "
     "ON r.channel = i.channel AND r.campaign = i.campaign GROUP BY 1", "mixed_join"),
    (REACH + "SELECT i.channel, SUM(r.reach) AS n FROM impressions i "
     "JOIN r ON r.channel = i.channel AND r.campaign = i.campaign GROUP BY 1", "not_summable"),
], ids=["all_keys", "fewer_keys", "aggregated_first", "full_join", "joined_number_summed"])
def test_people_join_aggregated_rows_on_every_group_key(sql: str, rule: str | None) -> None:
    if rule is None:
        assert check_query(sql, CATALOG, min_users=K_MIN).sql
        return
    with pytest.raises(QueryRejected) as caught:
        check_query(sql, CATALOG, min_users=K_MIN)
    assert rule in {v.rule for v in caught.value.violations}


def test_a_window_over_one_persons_rows_is_not_read_as_a_running_count() -> None:
    """Beside user_key, DISTINCT ... COUNT(*) OVER (PARTITION BY user_key ...) stays a per-person
    window (a CTE column a later aggregation sums), as before running counts were read."""
    sql = ("WITH r AS (SELECT DISTINCT user_key, channel, COUNT(*) OVER (PARTITION BY user_key "
           "ORDER BY channel) AS n FROM impressions) SELECT channel, SUM(n) AS s FROM r GROUP BY 1")
    checked = check_query(sql, CATALOG, min_users=K_MIN)
    assert "SUM(COUNT(" not in checked.sql.upper()
