"""Second review of gate/siblings.py (attacker's findings): each decoded on raw DuckDB first,
then the service's answer is checked (a failing test is a finding that still holds)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.canary import SMALL_CHANNEL as S
from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask

# Finding 1 (leak): each branch grouped by (campaign, a per-person tag) that the reader does
# not group by, so each branch has several rows per campaign, a partition of its people.
# Everyone split by buyer / not; everyone off the small channel split by a revenue > 250 /
# not. The union of a sibling's rows of one campaign is compared with each row, but a row
# is never joined with the other rows of its own branch: no row is close to anything
# compared (each part is about half of a campaign), and SUM(s * n) is each campaign's 1..3
# people on the 7-person channel.
_TAGS = ("WITH b AS (SELECT user_key, 'buyer' AS tag FROM conversions GROUP BY user_key), "
         "h AS (SELECT user_key, 'hi' AS tag FROM conversions WHERE revenue > 250 GROUP BY "
         "user_key), ")
_ALL = ("SELECT i.campaign, {sel} FROM impressions i LEFT JOIN b ON i.user_key = b.user_key "
        "GROUP BY i.campaign, b.tag")
_OFF = ("SELECT i.campaign, {sel} FROM impressions i LEFT JOIN h ON i.user_key = h.user_key "
        f"WHERE i.channel <> '{S}' GROUP BY i.campaign, h.tag")
SPLIT_ONE_CELL = (
    _TAGS + "u AS (" + _ALL.format(sel="1 AS s, COUNT(DISTINCT i.user_key) AS n") +
    " UNION ALL " + _OFF.format(sel="-1, COUNT(DISTINCT i.user_key)") +
    ") SELECT campaign, SUM(s * n) AS d FROM u GROUP BY campaign")
SPLIT_TWO_CELLS = (
    _TAGS + "u AS (" + _ALL.format(sel="COUNT(DISTINCT i.user_key) AS a, 0 AS b") +
    " UNION ALL " + _OFF.format(sel="0, COUNT(DISTINCT i.user_key)") +
    ") SELECT campaign, SUM(a) AS a, SUM(b) AS b FROM u GROUP BY campaign")


def _rows(columns: list[str], rows: list[Any]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r)) for r in rows]


def _few(rows: list[dict[str, Any]], decode: str) -> dict[str, int]:
    """Each row's number by ``decode`` ("d" or "a-b"), where it is 1..9 people."""
    names = decode.split("-")
    told = {}
    for r in rows:
        values = [r.get(n) for n in names]
        if any(not isinstance(v, int) for v in values):
            continue
        t = values[0] - sum(values[1:])
        if 0 < t < 10:
            told[r["campaign"]] = t
    return told


def _raw(raw: duckdb.DuckDBPyConnection, sql: str, decode: str) -> dict[str, int]:
    result = raw.execute(sql)
    return _few(_rows([d[0] for d in result.description], result.fetchall()), decode)


def _released(loaded: Harness, canary: CanaryData, sql: str, decode: str) -> dict[str, int]:
    body = ask(loaded, canary, sql)
    return _few(_rows(body["columns"], body["rows"]), decode)


# Finding 2 (leak): narrower supports. The unions of siblings' rows are of each row's people
# (the first set of its record), not of each aggregate's: a branch that counts, by CASE or
# FILTER, fewer people than its rows hold escapes them. a: everyone; b: buyers' rows, counting
# those off the small channel; c: the rows of non-buyers and of those with a revenue > 250,
# counting the non-buyers off the small channel. The aggregates' people partition everyone
# off the small channel, but the rows' people sum to everyone plus the > 250 buyers (far),
# and no two sets are close: a - b - c is each campaign's 1..3 people on the small channel.
_NARROW_TAGS = ("WITH bt AS (SELECT user_key, 'buyer' AS tag FROM conversions GROUP BY "
                "user_key), ht AS (SELECT user_key, 'hi' AS tag FROM conversions WHERE "
                "revenue > 250 GROUP BY user_key), ")
_J = ("FROM impressions i LEFT JOIN bt ON i.user_key = bt.user_key LEFT JOIN ht ON "
      "i.user_key = ht.user_key")


def narrow(kind: str) -> str:
    if kind == "case":
        b = f"COUNT(DISTINCT CASE WHEN i.channel <> '{S}' THEN i.user_key END)"
        c = (f"COUNT(DISTINCT CASE WHEN bt.tag IS NULL AND i.channel <> '{S}' THEN i.user_key "
             "END)")
    else:
        b = f"COUNT(DISTINCT i.user_key) FILTER (WHERE i.channel <> '{S}')"
        c = f"COUNT(DISTINCT i.user_key) FILTER (WHERE bt.tag IS NULL AND i.channel <> '{S}')"
    return (_NARROW_TAGS + "u AS ("
            f"SELECT i.campaign, COUNT(DISTINCT i.user_key) AS a, 0 AS b, 0 AS c {_J} GROUP BY "
            f"i.campaign UNION ALL SELECT i.campaign, 0, {b}, 0 {_J} WHERE bt.tag IS NOT NULL "
            f"GROUP BY i.campaign UNION ALL SELECT i.campaign, 0, 0, {c} {_J} WHERE bt.tag IS "
            "NULL OR ht.tag IS NOT NULL GROUP BY i.campaign) "
            "SELECT campaign, SUM(a) AS a, SUM(b) AS b, SUM(c) AS c FROM u GROUP BY campaign")


@pytest.mark.parametrize("kind", ["case", "filter"])
def test_narrower_aggregates_than_rows(loaded: Harness, canary: CanaryData,
                                       raw: duckdb.DuckDBPyConnection, kind: str) -> None:
    sql = narrow(kind)
    truth = _raw(raw, sql, "a-b-c")
    assert len(truth) >= 8, truth
    released = _released(loaded, canary, sql, "a-b-c")
    assert not released, (released, truth)


# The same with the union in a FROM subquery rather than a CTE.
SPLIT_IN_A_SUBQUERY = (
    _TAGS.rstrip(", ") + " SELECT campaign, SUM(s * n) AS d FROM (" +
    _ALL.format(sel="1 AS s, COUNT(DISTINCT i.user_key) AS n") + " UNION ALL " +
    _OFF.format(sel="-1, COUNT(DISTINCT i.user_key)") + ") t GROUP BY campaign")


@pytest.mark.parametrize(("sql", "decode"), [
    pytest.param(SPLIT_ONE_CELL, "d", id="one_cell"),
    pytest.param(SPLIT_TWO_CELLS, "a-b", id="two_cells"),
    pytest.param(SPLIT_IN_A_SUBQUERY, "d", id="in_a_subquery"),
])
def test_branches_split_by_a_tag(loaded: Harness, canary: CanaryData,
                                 raw: duckdb.DuckDBPyConnection, sql: str, decode: str) -> None:
    truth = _raw(raw, sql, decode)
    assert len(truth) >= 8, truth  # raw: each campaign's 1..3 people on the small channel
    released = _released(loaded, canary, sql, decode)
    assert not released, (released, truth)


# The same split with the tag output by each branch (so its rows are told apart): its other
# rows of the campaign are taken into the unions with the row (``siblings._read``), not by
# failing closed (an unread read would withhold the far-apart control below too).
SPLIT_TOLD = (
    _TAGS + "u AS (" + _ALL.replace("i.campaign, {sel}", "i.campaign, b.tag AS tag, {sel}").format(
        sel="1 AS s, COUNT(DISTINCT i.user_key) AS n") + " UNION ALL " +
    _OFF.replace("i.campaign, {sel}", "i.campaign, h.tag, {sel}").format(
        sel="-1, COUNT(DISTINCT i.user_key)") +
    ") SELECT campaign, SUM(s * n) AS d FROM u GROUP BY campaign")
# Far apart: the first branch split so, beside those with a cheap impression (a fifth of
# everyone, one row a campaign: a split row under k people would be dropped, which taints
# its group).
SPLIT_TOLD_FAR = (
    _TAGS + "u AS (" + _ALL.replace("i.campaign, {sel}", "i.campaign, b.tag AS tag, {sel}").format(
        sel="1 AS s, COUNT(DISTINCT i.user_key) AS n") + " UNION ALL SELECT campaign, NULL, -1, "
    "COUNT(DISTINCT user_key) FROM impressions WHERE cost < 1.0 GROUP BY campaign"
    ") SELECT campaign, SUM(s * n) AS d FROM u GROUP BY campaign")


def test_branches_split_by_an_output_tag(loaded: Harness, canary: CanaryData,
                                         raw: duckdb.DuckDBPyConnection) -> None:
    truth = _few(_rows(*_result(raw, SPLIT_TOLD)), "d")
    assert truth, "raw must tell each campaign's few people"
    body = ask(loaded, canary, SPLIT_TOLD)
    assert not _few(_rows(body["columns"], body["rows"]), "d"), body


def test_a_far_split_answers_as_raw(loaded: Harness, canary: CanaryData,
                                    raw: duckdb.DuckDBPyConnection) -> None:
    want = dict(raw.execute(SPLIT_TOLD_FAR).fetchall())
    body = ask(loaded, canary, SPLIT_TOLD_FAR)
    assert body["withheld_cells"] == [], body
    assert all(want[c] == d for c, d in body["rows"]), body


def _result(raw: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[Any]]:
    result = raw.execute(sql)
    return [d[0] for d in result.description], result.fetchall()
