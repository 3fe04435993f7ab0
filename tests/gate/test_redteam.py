"""Red-team attacks in threshold mode (issue 8, point 4): sums over an aggregation's released
rows beside a total in the same answer.

An intermediate aggregation drops the groups under k. A SELECT that combines its remaining
rows (``SUM(n)``, ``COUNT(*)``, ``MAX``, a window) returns the total *minus* the dropped groups,
and beside the same total (a value subquery, a cross join, a ``UNION ALL`` branch) the
difference is the dropped group's own number: the 7-person channel's 24 rows, or its people's
revenue. Before, a drop of fewer than ``ceil(k/2)`` people did not taint the relation, so the
combined number came back marked exact. Each attack is decoded on raw DuckDB (where the
truth is computed) and through the service, where no exact cell may decode it, and every cell
the service marks exact must equal raw DuckDB's."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from tests.canary import SMALL_CHANNEL, CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask, first

ROWS = f"SELECT COUNT(*) FROM impressions WHERE channel = '{SMALL_CHANNEL}'"
REVENUE = ("SELECT SUM(c.revenue) FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
           f"WHERE i.channel = '{SMALL_CHANNEL}'")
PER_CHANNEL = "g AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel)"
JOINED = "impressions i JOIN conversions c ON i.user_key = c.user_key"
PER_CHANNEL_REVENUE = f"g AS (SELECT i.channel, SUM(c.revenue) AS s FROM {JOINED} GROUP BY i.channel)"


def _difference(rows: list[list[Any]]) -> list[Any]:
    """A one-cell answer is the difference itself."""
    return [rows[0][0]] if len(rows) == 1 and len(rows[0]) == 1 else []


def _branches(rows: list[list[Any]]) -> list[Any]:
    """('all', total) and ('sum', combined): their difference."""
    found = {r[0]: r[1] for r in rows if len(r) == 2}
    total, combined = found.get("all"), found.get("sum")
    return [total - combined] if isinstance(total, (int, float)) and isinstance(
        combined, (int, float)) else []


def _window(rows: list[list[Any]]) -> list[Any]:
    """(channel, n, SUM(n) OVER (), total): total minus the window's sum."""
    return [r[3] - r[2] for r in rows if r[2] is not None and r[3] is not None]


ATTACKS: list[tuple[str, str, str, Callable[[list[list[Any]]], list[Any]]]] = [
    ("value_subquery_of_a_sum", ROWS,
     f"WITH {PER_CHANNEL}, t AS (SELECT COUNT(*) AS n FROM impressions) "
     "SELECT t.n - (SELECT SUM(n) FROM g) AS d FROM t", _difference),
    ("cross_join_of_a_sum_cte", ROWS,
     f"WITH {PER_CHANNEL}, t AS (SELECT COUNT(*) AS n FROM impressions), "
     "s AS (SELECT SUM(n) AS n FROM g) SELECT t.n - s.n AS d FROM t, s", _difference),
    ("union_all_branch_sums_the_groups", ROWS,
     f"WITH {PER_CHANNEL} SELECT 'all' AS k, COUNT(*) AS n FROM impressions "
     "UNION ALL SELECT 'sum', SUM(n) FROM g", _branches),
    ("window_total_beside_a_total", ROWS,
     f"WITH {PER_CHANNEL} SELECT channel, n, SUM(n) OVER () AS w, "
     "(SELECT COUNT(*) FROM impressions) AS t FROM g", _window),
    ("revenue_of_a_channels_people", REVENUE,
     f"WITH {PER_CHANNEL_REVENUE}, t AS (SELECT SUM(c.revenue) AS s FROM {JOINED}) "
     "SELECT t.s - SUM(g.s) AS d FROM t, g GROUP BY t.s", _difference),
    ("sum_passed_through_a_union", ROWS,
     f"WITH {PER_CHANNEL}, u AS (SELECT channel, n FROM g UNION ALL SELECT channel, n FROM g), "
     "t AS (SELECT COUNT(*) * 2 AS n FROM impressions) "
     "SELECT t.n - (SELECT SUM(n) FROM u) AS d FROM t", _difference),
    ("per_channel_sum_over_channel_campaign_groups",
     "SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'",
     "WITH g AS (SELECT channel, campaign, COUNT(*) AS n FROM impressions GROUP BY 1, 2), "
     "r AS (SELECT channel, SUM(n) AS s FROM g GROUP BY channel) "
     "SELECT (SELECT COUNT(*) FROM impressions) - (SELECT SUM(s) FROM r) AS d", _difference),
]


def _close(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(
        a, b, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize("truth_sql,sql,decode", [a[1:] for a in ATTACKS],
                         ids=[a[0] for a in ATTACKS])
def test_a_sum_over_released_groups_beside_a_total_does_not_decode_a_dropped_group(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, truth_sql: str,
        sql: str, decode: Callable[[list[list[Any]]], list[Any]]) -> None:
    truth = first(raw, truth_sql)[0]
    # On raw DuckDB nothing is dropped: the difference is 0, and the attack's number, the
    # total minus the dropped groups, is what the service would have returned.
    assert truth and all(_close(v, 0) for v in decode([list(r) for r in raw.execute(sql).fetchall()]))
    body = ask(loaded, canary, sql)
    assert "rows" in body, body  # answered, the combined number withheld: not refused
    assert not any(_close(v, truth) for v in decode(body["rows"])), body


@pytest.mark.parametrize("sql", [
    f"WITH {PER_CHANNEL} SELECT COUNT(*) AS groups FROM g",
    f"WITH {PER_CHANNEL} SELECT SUM(n) AS n FROM g",
    f"WITH {PER_CHANNEL} SELECT MIN(n) AS n FROM g",
    f"WITH {PER_CHANNEL} SELECT channel, n, LAG(n) OVER (ORDER BY n) AS prev FROM g",
    "WITH g AS (SELECT campaign, COUNT(*) AS n FROM impressions "
    "WHERE campaign = 'CANARYCAMP3' GROUP BY campaign) SELECT COUNT(*) AS groups FROM g",
    "WITH g AS (SELECT campaign, COUNT(*) AS n FROM impressions "
    "WHERE campaign = 'CANARYCAMP3' GROUP BY campaign) SELECT SUM(n) AS n FROM g",
    f"WITH g AS (SELECT channel, COUNT(*) AS n FROM impressions WHERE channel = '{SMALL_CHANNEL}' "
    "GROUP BY channel) SELECT COUNT(*) AS groups, SUM(n) AS n FROM g",
], ids=["count_of_groups", "sum_of_groups", "min_of_groups", "lag_over_groups",
        "count_of_groups_all_dropped", "sum_of_groups_all_dropped", "both_over_a_lost_channel"])
def test_a_number_combined_from_released_groups_is_exact_or_withheld(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    """A number the threshold changed is never presented as exact: the 7-person channel is
    dropped inside the query, so a count, sum or minimum over the remaining groups (and a
    LAG whose first row lost its predecessor) differs from raw DuckDB and must be withheld."""
    truth = [list(r) for r in raw.execute(sql).fetchall()]
    body = ask(loaded, canary, sql)
    flagged = {tuple(c) for c in body["withheld_cells"]}
    for i, row in enumerate(body["rows"]):
        exact = [(j, v) for j, v in enumerate(row) if (i, j) not in flagged]
        assert any(all(_close(v, t[j]) or v == t[j] for j, v in exact) for t in truth), body


def test_a_total_over_no_group_at_all_stays_exact(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """Where no group exists (nothing dropped), the total over the lost-rows probe is 0 and
    exact, as raw DuckDB has it: the probe flags drops, not an empty relation."""
    sql = ("WITH g AS (SELECT campaign, COUNT(*) AS n FROM impressions "
           "WHERE campaign = 'NO-SUCH-CAMPAIGN' GROUP BY campaign) SELECT COUNT(*) AS groups FROM g")
    assert raw.execute(sql).fetchall() == [(0,)]
    body = loaded.query(sql).json()
    assert body["rows"] == [[0]] and not body.get("withheld_cells"), body


def test_a_total_over_a_relation_that_lost_every_row_is_withheld(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """The 3-person campaign's only group is dropped inside the query: raw DuckDB counts 1
    group, the gate's rows have none, so the count is withheld, never 0 exact."""
    sql = ("WITH g AS (SELECT campaign, COUNT(*) AS n FROM impressions "
           "WHERE campaign = 'CANARYCAMP3' GROUP BY campaign) SELECT COUNT(*) AS groups FROM g")
    assert raw.execute(sql).fetchall() == [(1,)]
    body = loaded.query(sql).json()
    assert body["rows"] and (0, 0) in {tuple(c) for c in body["withheld_cells"]}, body


def test_a_group_that_lost_no_row_stays_exact(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """The drop is confined to its partition: per channel, the sum over (channel, campaign)
    groups is exact for every channel the 3-person campaign never ran in, and withheld for
    those it did (each of them lost that campaign's row)."""
    sql = ("WITH g AS (SELECT channel, campaign, COUNT(*) AS n FROM impressions GROUP BY 1, 2) "
           "SELECT channel, SUM(n) AS s FROM g GROUP BY channel ORDER BY channel")
    hit = {r[0] for r in raw.execute("SELECT DISTINCT channel FROM impressions "
                                     "WHERE campaign = 'CANARYCAMP3'").fetchall()}
    truth = dict(raw.execute("SELECT channel, COUNT(*) FROM impressions GROUP BY 1").fetchall())
    body = loaded.query(sql).json()
    assert body["rows"] and 0 < len(hit) < len(body["rows"]), (hit, body)
    flagged = {tuple(c) for c in body["withheld_cells"]}
    for i, (channel, s) in enumerate(body["rows"]):
        if channel in hit:
            assert s is None and (i, 1) in flagged, body
        else:
            assert s == truth[channel] and (i, 1) not in flagged, body
