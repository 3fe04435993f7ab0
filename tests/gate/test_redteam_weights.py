"""Red-team round 4: two sums over the same people whose weights differ on a few of them.

The combination check (``cleanroom/isolation.py``) reads every aggregate of a row as a sum of
one value over its support: it compares *which* people and rows each aggregate stands on, not
*what* it adds for each. ``SUM(n)`` and ``COUNT(*)`` over a per-person CTE stand on the same
people, so they pass; but with ``WHERE n = 1 OR <the target>`` every other person adds 1 to
both, and ``SUM(n) - COUNT(*)`` is the target's own number of rows minus one.
``SUM(LEAST(n, 1))`` (every part of it on everyone) does the same. Each attack is decoded on
raw DuckDB (where it reads the truth) and through the service. Closed over rows that are each
another person (``cleanroom/gate/weights.py``); the two attacks over several rows a person
stay open (docs/gate.md, *Magnitude separation with summable numbers*): strict xfails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData, user_key
from tests.conftest import Harness
from tests.gate.test_redteam_shares import _exact_rows
from tests.gate.test_review_attacks import ask

OPEN = ("leak (docs/gate.md: magnitude separation): two sums over the same people whose "
        "per-person weights agree on all but a few give those few people's value")
# Person 101 (revenue clamped to 1000) beside everyone with one impression.
PER_PERSON = ("WITH t AS (SELECT i.user_key, COUNT(*) AS n, MAX(c.revenue) AS r FROM impressions i "
              "LEFT JOIN conversions c ON i.user_key = c.user_key GROUP BY i.user_key) ")
TARGET_ROWS = f"SELECT COUNT(*) FROM impressions WHERE user_key = '{user_key(101)}'"
# The 3-person campaign's people beside everyone with one impression.
CAMPAIGN = ("WITH t AS (SELECT user_key, COUNT(*) AS n, bool_or(campaign = 'CANARYCAMP3') AS x "
            "FROM impressions GROUP BY user_key) ")
CAMPAIGN_ROWS = ("SELECT COUNT(*) FROM impressions WHERE user_key IN (SELECT user_key FROM "
                 "impressions WHERE campaign = 'CANARYCAMP3')")


def _minus_plus(extra: int) -> Callable[[list[Any]], Any]:
    """(a, b): a - b + extra, or None when either is withheld."""
    def decode(row: list[Any]) -> Any:
        a, b = row[0], row[1]
        return None if a is None or b is None else a - b + extra
    return decode


ATTACKS: list[tuple[str, str, str, Callable[[list[Any]], Any]]] = [
    ("sum_of_counts_beside_count", TARGET_ROWS,
     PER_PERSON + "SELECT SUM(n) AS a, COUNT(*) AS b FROM t WHERE n = 1 OR r > 900",
     _minus_plus(1)),
    ("sum_of_counts_beside_its_clamp", TARGET_ROWS,
     PER_PERSON + "SELECT SUM(n) AS a, SUM(LEAST(n, 1)) AS b FROM t WHERE n = 1 OR r > 900",
     _minus_plus(1)),
    ("three_person_campaign", CAMPAIGN_ROWS,
     CAMPAIGN + "SELECT SUM(n) AS a, COUNT(*) AS b FROM t "
     "WHERE n = 1 OR x", lambda row: None if None in row[:2] else row[0] - row[1] + 3),
    # A duration that is 1 for everyone seen on 2026-09-01 beside their number: the target's
    # (person 101's) search impression's day.
    ("day_beside_count", "SELECT date_diff('day', TIMESTAMP '2026-08-31', ts) FROM impressions "
     f"WHERE channel = 'search' AND user_key = '{user_key(101)}'",
     "SELECT SUM(date_diff('day', TIMESTAMP '2026-08-31', i.ts)) AS a, COUNT(*) AS b "
     "FROM impressions i LEFT JOIN conversions c ON i.user_key = c.user_key "
     "WHERE date_trunc('day', i.ts) = TIMESTAMP '2026-09-01' "
     "OR (c.revenue > 900 AND i.channel = 'search')", _minus_plus(1)),
    # Rows beside people, no per-person CTE: everyone's first row, and the campaign's rows (the
    # campaign's rows that are not their person's first).
    ("rows_beside_people", "SELECT COUNT(*) FROM (SELECT campaign, ROW_NUMBER() OVER (PARTITION "
     "BY user_key ORDER BY ts) AS rn FROM impressions) WHERE rn > 1 AND campaign = 'CANARYCAMP3'",
     "WITH r AS (SELECT user_key, campaign, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY "
     "ts) AS rn FROM impressions) SELECT COUNT(*) AS a, COUNT(DISTINCT user_key) AS b FROM r "
     "WHERE rn = 1 OR campaign = 'CANARYCAMP3'", _minus_plus(0)),
]


# Closed where each row of the aggregation is another person (a per-person CTE): the
# release withholds one of two sums whose per-person values agree on all but 1 to k-1 people
# (``cleanroom/gate/weights.py``). Open where a person has several rows: the exact test needs
# a per-(group, person) partial first (docs/gate.md).
STILL_OPEN = {"day_beside_count", "rows_beside_people"}


@pytest.mark.parametrize("truth_sql,sql,decode", [
    pytest.param(*a[1:], id=a[0], marks=[pytest.mark.xfail(strict=True, reason=OPEN)]
                 if a[0] in STILL_OPEN else []) for a in ATTACKS])
def test_two_sums_over_the_same_people_do_not_give_a_few_peoples_rows(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, truth_sql: str,
        sql: str, decode: Callable[[list[Any]], Any]) -> None:
    truth = raw.execute(truth_sql).fetchone()[0]  # type: ignore[index]
    raw_rows = [list(r) for r in raw.execute(sql).fetchall()]
    assert len(raw_rows) == 1 and decode(raw_rows[0]) == truth  # the decoder reads the truth
    body = ask(loaded, canary, sql)
    assert len(body["rows"]) == 1, body
    assert decode(_exact_rows(body)[0]) != truth, body


def test_the_pair_is_withheld_as_a_flagged_cell(loaded: Harness, canary: CanaryData) -> None:
    """The later of the pair is null, listed in ``withheld_cells``, its row partial."""
    body = ask(loaded, canary, ATTACKS[0][2])
    assert body["rows"][0][1] is None and [0, 1] in body["withheld_cells"], body
    assert body["row_status"] == ["partial"], body


def test_sums_whose_weights_differ_on_many_people_are_released(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """Over everyone with at most three impressions, many people hold each count: the sum
    beside the count is released whole (the check withholds only a difference on a few)."""
    sql = PER_PERSON + "SELECT SUM(n) AS a, COUNT(*) AS b FROM t WHERE n <= 3"
    body = ask(loaded, canary, sql)
    assert body["rows"] == [list(r) for r in raw.execute(sql).fetchall()], body
    assert body["row_status"] == ["exact"], body
