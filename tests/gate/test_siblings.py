"""Rows of aggregations that a ``UNION ALL`` sets beside each other, read by a SELECT that
groups them by keys alike in every branch (the AMC union templates): ``gate/siblings.py``
compares each aggregation's rows with its siblings' (every row, the union of all rows, and
the union of the rows of the same keys). Each attack is decoded against raw DuckDB over the
canary tables: raw gives each campaign's 1 to 3 people on the 7-person channel, and no
released number may.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from tests.canary import SMALL_CHANNEL as S
from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask

BUYERS = "user_key IN (SELECT user_key FROM conversions)"
NOT_BUYERS = "user_key NOT IN (SELECT user_key FROM conversions)"
# name -> (SQL, how to decode each row of raw DuckDB's answer into the few people it tells)
ATTACKS: dict[str, tuple[str, str]] = {
    # One cell adds two branches' counts, one of them without the small channel.
    "one_cell": (
        "WITH u AS (SELECT campaign, 1 AS s, COUNT(DISTINCT user_key) AS n FROM impressions "
        "GROUP BY campaign UNION ALL SELECT campaign, -1, COUNT(DISTINCT user_key) FROM "
        f"impressions WHERE channel <> '{S}' GROUP BY campaign) "
        "SELECT campaign, SUM(s * n) AS d FROM u GROUP BY campaign", "d"),
    # The AMC shape: each branch's count in its own zero-filled column, side by side.
    "two_cells": (
        "WITH u AS (SELECT campaign, COUNT(DISTINCT user_key) AS a, 0 AS b FROM impressions "
        "GROUP BY campaign UNION ALL SELECT campaign, 0, COUNT(DISTINCT user_key) FROM "
        f"impressions WHERE channel <> '{S}' GROUP BY campaign) "
        "SELECT campaign, SUM(a) AS a, SUM(b) AS b FROM u GROUP BY campaign", "a-b"),
    # Branches that pass on aggregations of their own CTEs.
    "passed_on": (
        "WITH x AS (SELECT campaign, COUNT(DISTINCT user_key) AS n FROM impressions GROUP BY "
        "campaign), y AS (SELECT campaign, COUNT(DISTINCT user_key) AS n FROM impressions "
        f"WHERE channel <> '{S}' GROUP BY campaign) SELECT campaign, SUM(a) AS a, SUM(b) AS b "
        "FROM (SELECT campaign, n AS a, 0 AS b FROM x UNION ALL SELECT campaign, 0, n FROM y) "
        "GROUP BY campaign", "a-b"),
    # The grouping in a CTE, read by the final SELECT.
    "grouped_in_a_cte": (
        "WITH u AS (SELECT campaign, 1 AS s, COUNT(DISTINCT user_key) AS n FROM impressions "
        "GROUP BY campaign UNION ALL SELECT campaign, -1, COUNT(DISTINCT user_key) FROM "
        f"impressions WHERE channel <> '{S}' GROUP BY campaign), g AS (SELECT campaign, "
        "SUM(s * n) AS d FROM u GROUP BY campaign) SELECT campaign, d FROM g", "d"),
    # Three branches: everyone, and two parts (buyers, the others) without the small channel.
    # No two rows are close; each part's row against the other's is far: only the union of
    # the parts' rows of the same campaign is close to everyone's.
    "partition_in_one_cell": (
        "WITH u AS (SELECT campaign, 1 AS s, COUNT(DISTINCT user_key) AS n FROM impressions "
        "GROUP BY campaign UNION ALL SELECT campaign, -1, COUNT(DISTINCT user_key) FROM "
        f"impressions WHERE channel <> '{S}' AND {BUYERS} GROUP BY campaign UNION ALL "
        f"SELECT campaign, -1, COUNT(DISTINCT user_key) FROM impressions WHERE channel <> '{S}'"
        f" AND {NOT_BUYERS} GROUP BY campaign) SELECT campaign, SUM(s * n) AS d FROM u "
        "GROUP BY campaign", "d"),
    "partition_in_three_cells": (
        "WITH u AS (SELECT campaign, COUNT(DISTINCT user_key) AS a, 0 AS b, 0 AS c FROM "
        "impressions GROUP BY campaign UNION ALL SELECT campaign, 0, COUNT(DISTINCT user_key),"
        f" 0 FROM impressions WHERE channel <> '{S}' AND {BUYERS} GROUP BY campaign UNION ALL "
        "SELECT campaign, 0, 0, COUNT(DISTINCT user_key) FROM impressions WHERE channel <> "
        f"'{S}' AND {NOT_BUYERS} GROUP BY campaign) SELECT campaign, SUM(a) AS a, SUM(b) AS b, "
        "SUM(c) AS c FROM u GROUP BY campaign", "a-b-c"),
}
# One campaign's rows under two keys: a branch grouped by another column under the key's
# name (its rows land in another group of the reader, and are released in another row).
OTHER_KEY = (
    "WITH u AS (SELECT channel AS k, COUNT(DISTINCT user_key) AS n FROM impressions WHERE "
    "campaign = 'social-c1' GROUP BY channel UNION ALL SELECT campaign, COUNT(DISTINCT "
    f"user_key) FROM impressions WHERE campaign = 'social-c1' AND channel <> '{S}' "
    "GROUP BY campaign) SELECT k, SUM(n) AS n FROM u GROUP BY k")
# Far apart: everyone per campaign beside those with a cheap (or a dear) impression.
FAR = {
    "two": "WITH u AS (SELECT campaign, COUNT(DISTINCT user_key) AS a, 0 AS b FROM impressions "
           "GROUP BY campaign UNION ALL SELECT campaign, 0, COUNT(*) FROM impressions WHERE "
           "cost < 1.0 GROUP BY campaign) SELECT campaign, SUM(a) AS a, SUM(b) AS b FROM u "
           "GROUP BY campaign",
    "three": "WITH u AS (SELECT campaign, COUNT(DISTINCT user_key) AS a, 0 AS b, 0 AS c FROM "
             "impressions GROUP BY campaign UNION ALL SELECT campaign, 0, COUNT(DISTINCT "
             "user_key), 0 FROM impressions WHERE cost < 1.0 GROUP BY campaign UNION ALL "
             "SELECT campaign, 0, 0, COUNT(DISTINCT user_key) FROM impressions WHERE cost > 4.0"
             " GROUP BY campaign) SELECT campaign, SUM(a) AS a, SUM(b) AS b, SUM(c) AS c FROM u"
             " GROUP BY campaign",
}


def _told(row: dict[str, Any], decode: str) -> Any:
    """What a row tells by ``decode``: a column, or a difference of columns (None if any is
    withheld)."""
    names = decode.split("-")
    values = [row.get(n) for n in names]
    if any(v is None for v in values):
        return None
    return values[0] - sum(values[1:])


def _rows(columns: list[str], rows: list[Any]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r)) for r in rows]


@pytest.mark.parametrize("name", ATTACKS)
def test_siblings_close_in_a_group_are_withheld(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    sql, decode = ATTACKS[name]
    result = raw.execute(sql)
    truth = _rows([d[0] for d in result.description], result.fetchall())
    told = [_told(r, decode) for r in truth]
    assert any(isinstance(t, int) and 0 < t < 10 for t in told), truth  # raw tells them
    body = ask(loaded, canary, sql)
    released = [_told(r, decode) for r in _rows(body["columns"], body["rows"])]
    assert not any(isinstance(t, int) and 0 < t < 10 for t in released), body
    # The campaigns stay: only the numbers are withheld, and each row is flagged.
    assert {r[0] for r in body["rows"]} >= {r["campaign"] for r in truth
                                            if r["campaign"] != "CANARYCAMP3"}, body
    assert body["withheld_cells"] and set(body["row_status"]) == {"partial"}, body


def test_a_sibling_under_another_key_is_compared(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = dict(raw.execute(OTHER_KEY).fetchall())
    assert 0 < truth["social-c1"] - truth["social"] + truth.get(S, 0) or \
        truth["social"] != truth["social-c1"], truth
    body = ask(loaded, canary, OTHER_KEY)
    released = {k: n for k, n in body["rows"] if n is not None}
    assert not ({"social", "social-c1"} <= set(released)), body


@pytest.mark.parametrize("name", FAR)
def test_siblings_far_apart_answer_as_raw(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    want = sorted(raw.execute(FAR[name]).fetchall(), key=repr)
    body = ask(loaded, canary, FAR[name])
    assert body.get("withheld_cells") == [], body
    got = sorted((tuple(r) for r in body["rows"]), key=repr)
    # The 3-person campaign's rows are dropped in every branch (counted, not shown).
    want = [w for w in want if w[0] != "CANARYCAMP3"]
    assert len(got) == len(want), (got, want)
    for row, expected in zip(got, want):
        assert all(a == b or (isinstance(a, float) and math.isclose(a, b))
                   for a, b in zip(row, expected)), (got, want)


# More siblings than are compared subset by subset (``siblings.SIBLINGS``): every row counts
# as close, its numbers withheld, its keys kept (fail closed: two decoys would otherwise push
# a partition past the pairs compared).
# Six far-apart parts: each campaign's people with an impression in one of six cost ranges.
MANY = "WITH u AS (" + " UNION ALL ".join(
    f"SELECT campaign, COUNT(DISTINCT user_key) AS n{i} FROM impressions WHERE cost >= "
    f"{0.1 + 0.8 * i:.1f} AND cost < {0.9 + 0.8 * i:.1f} GROUP BY campaign" for i in range(6)
) + ") SELECT campaign, SUM(n0) AS n FROM u GROUP BY campaign"


def test_too_many_siblings_are_withheld(loaded: Harness, canary: CanaryData,
                                        raw: duckdb.DuckDBPyConnection) -> None:
    campaigns = {c for c, _ in raw.execute(MANY).fetchall()} - {"CANARYCAMP3"}
    body = ask(loaded, canary, MANY)
    assert {r[0] for r in body["rows"]} == campaigns, body
    assert all(r[1] is None for r in body["rows"]), body
