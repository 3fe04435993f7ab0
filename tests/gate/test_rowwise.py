"""Rows read one by one (``taint.TaintMap.rowwise``) and per-person sub-keys passed on by a CTE
(``Rel.row_origins``), against raw DuckDB on the canary tables (k = 50).

An intermediate aggregation that drops a group taints what is computed from its relation, unless
each reader row meets at most the one row raw DuckDB would join: then only a row that found none
takes the drop's taint. Each query here is answered over HTTP and every released cell that is not
withheld must equal raw DuckDB's. For the dangerous forms (a join that fans out, an inner join
under an aggregate, a per-row SELECT that is aggregated later) the decoder first shows that the
drop changes the numbers (the query over the same rows without the dropped group), so a cell
released unflagged there would be a wrong number presented as exact.
"""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import TARGET, ask, first
from tests.gate.test_review_mechanisms import TARGET_DAYS

# People with a cost above 4.7 per channel: display 55, email 47, search 53, social 57, video 57,
# the canary channel 3. The gate drops email (25 to 49 people: a drop that taints its relation)
# and the canary channel; ``kept`` is the same relation as the gate leaves it.
BIG = ("big AS (SELECT channel, COUNT(DISTINCT user_key) AS buyers FROM impressions "
       "WHERE cost > 4.7 GROUP BY 1)")
KEPT = BIG.replace("GROUP BY 1)",
                                               "GROUP BY 1 HAVING COUNT(DISTINCT user_key) >= 50)")
CHANS = "chans AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1)"


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _released(loaded: Harness, canary: CanaryData, sql: str) -> dict[str, Any]:
    body = ask(loaded, canary, sql)
    assert "rows" in body, body
    return body


def _raw(raw: duckdb.DuckDBPyConnection, sql: str) -> list[list[Any]]:
    return [[_plain(v) for v in row] for row in raw.execute(sql).fetchall()]


def assert_exact_or_withheld(body: dict[str, Any], truth: list[list[Any]]) -> int:
    """Every released row is a raw row, cell for cell, but for the cells listed as withheld
    (null, their row partial); returns how many cells were withheld."""
    withheld = {(r, c) for r, c in body["withheld_cells"]}
    used: set[int] = set()
    for r, row in enumerate(body["rows"]):
        skip = {c for rr, c in withheld if rr == r}
        assert all(row[c] is None for c in skip) and (not skip or body["row_status"][r] == "partial")
        hit = next((i for i, t in enumerate(truth) if i not in used and len(t) == len(row)
                    and all(_same(v, w) for c, (v, w) in enumerate(zip(row, t)) if c not in skip)),
                   None)
        assert hit is not None, f"released row {row} (withheld {sorted(skip)}) is not raw: {truth}"
        used.add(hit)
    return len(withheld)


def _differs(raw: duckdb.DuckDBPyConnection, sql: str) -> bool:
    """The drop changes the answer: the same query over the relation as the gate leaves it."""
    return sorted(map(str, _raw(raw, sql))) != sorted(map(str, _raw(raw, sql.replace(BIG, KEPT))))


# -- safe: each reader row meets at most the one row raw DuckDB joins ----------------------
def test_a_row_by_row_left_join_withholds_only_the_row_that_found_nothing(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = (f"WITH {CHANS}, {BIG} SELECT c.channel, c.n, b.buyers FROM chans c "
           "LEFT JOIN big b ON b.channel = c.channel")
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) == 1
    by = {row[0]: row for row in body["rows"]}
    assert by["email"][2] is None  # raw: 47, dropped inside: withheld, never NULL as if exact
    assert [by[c][2] for c in ("display", "search", "social", "video")] == [55, 53, 57, 57]


def test_a_row_by_row_inner_join_releases_the_rows_that_stand(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = (f"WITH {CHANS}, {BIG} SELECT c.channel, c.n, b.buyers FROM chans c "
           "JOIN big b ON b.channel = c.channel")
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) == 0
    assert sorted(row[0] for row in body["rows"]) == ["display", "search", "social", "video"]


def test_a_keyed_left_join_under_an_aggregate_flags_the_groups_that_read_a_drop(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = (f"WITH {BIG} SELECT i.campaign, b.buyers, COUNT(DISTINCT i.user_key) AS people "
           "FROM impressions i LEFT JOIN big b ON b.channel = i.channel GROUP BY 1, 2")
    assert _differs(raw, sql)
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) > 0
    # The campaigns of the channels big keeps read no dropped row: released whole.
    exact = [row for row, status in zip(body["rows"], body["row_status"]) if status == "exact"]
    assert {row[0].split("-")[0] for row in exact} >= {"display", "search", "social", "video"}


# -- dangerous: a drop changes rows the reader computes from other rows --------------------
DANGEROUS = {
    # an inner join drops the readers' rows of the dropped channels from the count
    "inner_join_under_an_aggregate": (f"WITH {BIG} SELECT COUNT(DISTINCT i.user_key) AS people "
                                      "FROM impressions i JOIN big b ON b.channel = i.channel"),
    # row by row, but the rows are summed later: the total misses the dropped channel
    "row_by_row_then_summed": (f"WITH {CHANS}, {BIG}, j AS (SELECT c.channel, b.buyers "
                               "FROM chans c JOIN big b ON b.channel = c.channel) "
                               "SELECT SUM(buyers) AS total, COUNT(*) AS channels FROM j"),
    # an outer join row by row, summed later: the dropped channel's row reads NULL
    "left_join_then_summed": (f"WITH {CHANS}, {BIG}, j AS (SELECT c.channel, b.buyers "
                              "FROM chans c LEFT JOIN big b ON b.channel = c.channel) "
                              "SELECT SUM(buyers) AS total, COUNT(*) AS channels FROM j"),
}


@pytest.mark.parametrize("name", list(DANGEROUS))
def test_a_drop_that_changes_other_rows_withholds_them(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    sql = DANGEROUS[name]
    assert _differs(raw, sql)  # the attack is real: unflagged, a cell would be wrong
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) > 0 or not body["rows"]


@pytest.mark.parametrize("on", ["b.channel <> i.channel", "b.channel = i.channel"])
def test_a_join_that_can_fan_out_is_refused(loaded: Harness, canary: CanaryData, on: str) -> None:
    """Each reader row meeting several rows of big (every other channel; or, of (channel,
    campaign) groups, each campaign of its channel) would miss the dropped ones in every sum:
    the gate refuses people's rows joined to an aggregation on less than all its keys."""
    groups = BIG if "<>" in on else BIG.replace("SELECT channel,", "SELECT channel, campaign,") \
        .replace("GROUP BY 1)", "GROUP BY 1, 2)")
    sql = (f"WITH {groups} SELECT i.channel, b.buyers, COUNT(DISTINCT i.user_key) AS people "
           f"FROM impressions i LEFT JOIN big b ON {on} GROUP BY 1, 2")
    body = ask(loaded, canary, sql)
    assert body.get("error", {}).get("code") == "query_rejected", body


# -- per-person sub-keys passed on by a CTE --------------------------------------------------
def test_a_session_key_passed_on_by_a_cte_counts_as_raw(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("WITH s AS (SELECT DISTINCT user_key, CAST(ts AS DATE) AS d, channel FROM impressions) "
           "SELECT channel, COUNT(DISTINCT CONCAT(s.user_key, '-', s.d)) AS sessions, "
           "COUNT(DISTINCT s.user_key) AS people FROM s GROUP BY 1")
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) == 0 and len(body["rows"]) == 5


@pytest.mark.parametrize("cte", [
    # a computed suffix
    "SELECT user_key, CASE WHEN channel = 'CANARYCHAN7' THEN CAST(ts AS DATE) END AS day "
    "FROM impressions",
    # the suffix from another table's row than the user_key
    f"SELECT i.user_key, CAST(c.ts AS DATE) AS day FROM impressions i LEFT JOIN conversions c "
    f"ON c.user_key = i.user_key AND c.{TARGET}",
    # a set operation's columns come from two rows
    "SELECT user_key, CAST(ts AS DATE) AS day FROM impressions UNION ALL "
    "SELECT user_key, CAST(ts AS DATE) FROM conversions",
])
def test_a_sub_key_from_a_cte_that_computes_or_mixes_its_parts_is_refused(
        loaded: Harness, canary: CanaryData, cte: str) -> None:
    sql = (f"WITH u AS ({cte}) SELECT COUNT(DISTINCT u.user_key) AS n, "
           "COUNT(DISTINCT CONCAT(u.user_key, '-', u.day)) AS p FROM u")
    body = ask(loaded, canary, sql)
    assert {v["rule"] for v in body["error"]["violations"]} == {"user_key_transform"}


@pytest.mark.parametrize("person", ["u", "i"])
def test_a_cte_of_one_persons_rows_left_joined_does_not_count_their_days(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, person: str) -> None:
    """The LEFT JOIN attack of ``test_review_mechanisms`` through a CTE that passes both parts:
    the sub-key's people are the CTE's (one person), so the count is withheld; with the
    user_key of the other side the parts come from two rows, and it is refused."""
    truth = first(raw, TARGET_DAYS)[0]
    sql = ("WITH u AS (SELECT i.user_key, CAST(i.ts AS DATE) AS day FROM impressions i "
           f"JOIN conversions c ON c.user_key = i.user_key WHERE c.{TARGET}) "
           "SELECT COUNT(DISTINCT i.user_key) AS n, "
           f"COUNT(DISTINCT CONCAT({person}.user_key, '-', u.day)) AS p "
           "FROM impressions i LEFT JOIN u ON u.user_key = i.user_key")
    n, p = first(raw, sql)
    assert truth > 1 and truth in (p - 1, p - n + 1)  # the attack is real ("-" counts once)
    body = ask(loaded, canary, sql)
    rows = body.get("rows") or []
    decoded = ({rows[0][1], rows[0][1] - 1, rows[0][1] - rows[0][0] + 1}
               if rows and None not in rows[0] else set())
    assert truth not in decoded, (rows, truth)


# -- an outer join of two aggregations, grouped by its join key (taint._joined_keys) --------
# Per (channel, campaign), the gate drops every CANARYCHAN7 group and the CANARYCAMP3 groups
# of display, search, social and video (1 to 3 people each); per channel, CANARYCHAN7 (7).
PAIRS = "g AS (SELECT channel, campaign, COUNT(*) AS n FROM impressions GROUP BY 1, 2)"
PAIRS_KEPT = PAIRS.replace("GROUP BY 1, 2)",
                           "GROUP BY 1, 2 HAVING COUNT(DISTINCT user_key) >= 50)")
CHANNELS = "c AS (SELECT channel, COUNT(*) AS m FROM impressions GROUP BY 1)"
CHANNELS_KEPT = CHANNELS.replace("GROUP BY 1)", "GROUP BY 1 HAVING COUNT(DISTINCT user_key) >= 50)")


def _drop_changes(raw: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """The rows (as text) whose raw numbers the gate's drops change."""
    kept = sql.replace(PAIRS, PAIRS_KEPT).replace(CHANNELS, CHANNELS_KEPT)
    return set(map(str, _raw(raw, sql))) - set(map(str, _raw(raw, kept)))


@pytest.mark.parametrize("key", ["COALESCE(g.channel, c.channel)", "COALESCE(c.channel, g.channel)"])
def test_an_outer_join_grouped_by_its_key_flags_only_the_keys_that_lost_a_row(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, key: str) -> None:
    """A row g dropped would have met only c's row of its channel: only that channel's group
    changes (display, search, social, video lose their CANARYCAMP3 row); email's is exact."""
    sql = (f"WITH {PAIRS}, {CHANNELS} SELECT {key} AS channel, SUM(n) AS n, MAX(m) AS m "
           "FROM g FULL OUTER JOIN c ON g.channel = c.channel GROUP BY 1")
    assert len(_drop_changes(raw, sql)) >= 4  # unflagged, those sums would be wrong
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) > 0
    by = {row[0]: (row, status) for row, status in zip(body["rows"], body["row_status"])}
    assert by["email"][1] == "exact" and by["email"][0][1] > 0
    assert all(by[c][0][1] is None for c in ("display", "search", "social", "video"))


@pytest.mark.parametrize("group", [
    "g.campaign LIKE 'email%'",  # email's campaigns also lost CANARYCHAN7's rows, off the key
    "c.m > 0",  # the other side's value, true on every channel
])
def test_an_outer_join_grouped_off_its_key_flags_every_group(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, group: str) -> None:
    sql = (f"WITH {PAIRS}, {CHANNELS} SELECT {group} AS part, SUM(n) AS n "
           "FROM g FULL OUTER JOIN c ON g.channel = c.channel GROUP BY 1")
    assert _drop_changes(raw, sql)
    body = _released(loaded, canary, sql)
    assert_exact_or_withheld(body, _raw(raw, sql))
    assert body["rows"] and all(row[1] is None for row in body["rows"])


def test_unqualified_names_of_a_full_join_take_their_own_sources_taint(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """``n`` and ``buyers`` each name one source's column (``taint.column_owners``): the email
    row that big dropped keeps its channel and ``n``, and withholds ``buyers`` alone."""
    sql = (f"WITH {CHANS}, {BIG} SELECT COALESCE(c.channel, b.channel) AS channel, n, buyers "
           "FROM chans c FULL OUTER JOIN big b ON b.channel = c.channel")
    body = _released(loaded, canary, sql)
    assert assert_exact_or_withheld(body, _raw(raw, sql)) == 1
    by = {row[0]: row for row in body["rows"]}
    assert by["email"][1] > 0 and by["email"][2] is None


# -- people's rows inner-joined to an aggregation on its key (taint._group_join_keys) --------
@pytest.mark.parametrize("group, exact", [
    ("i.channel", True),  # a dropped channel meets only its own group, which is gone whole
    ("c.channel", True),  # the same key, from the aggregation's side of the join
    ("i.campaign", False),  # a campaign spans channels: it lost CANARYCHAN7's rows
])
def test_rows_joined_to_an_aggregation_on_its_key_are_tainted_only_off_that_key(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, group: str,
        exact: bool) -> None:
    sql = (f"WITH {CHANNELS} SELECT {group} AS k, COUNT(DISTINCT i.user_key) AS people "
           "FROM impressions i JOIN c ON c.channel = i.channel GROUP BY 1")
    body = _released(loaded, canary, sql)
    assert_exact_or_withheld(body, _raw(raw, sql))
    if exact:
        assert body["rows"] and set(body["row_status"]) == {"exact"}
        assert sorted(r[0] for r in body["rows"]) == ["display", "email", "search", "social",
                                                      "video"]
    else:
        assert _drop_changes(raw, sql)  # unflagged, those counts would be wrong
        assert body["rows"] and all(row[1] is None for row in body["rows"])
        assert all(row[0] is not None for row in body["rows"])  # the key reads no drop


@pytest.mark.parametrize("other, exact", [("INTEGER", True), ("DOUBLE", False)])
def test_a_join_key_confines_a_drop_only_between_keys_of_one_type(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, other: str,
        exact: bool) -> None:
    """An equality of an INTEGER and a DOUBLE casts one side (two wide integers can equal one
    double, and meet two groups): only keys of one type confine the drop to their partition
    (``types.same_type_comparisons``); else every row takes the drop, as before."""
    sql = ("WITH g AS (SELECT CAST(channel = 'email' AS INTEGER) AS e, campaign, COUNT(*) AS n "
           "FROM impressions GROUP BY 1, 2), "
           f"c AS (SELECT CAST(channel = 'email' AS {other}) AS e, COUNT(*) AS m "
           "FROM impressions GROUP BY 1) "
           "SELECT COALESCE(g.e, c.e) AS e, SUM(n) AS n FROM g FULL OUTER JOIN c ON g.e = c.e "
           "GROUP BY 1")
    body = _released(loaded, canary, sql)
    assert_exact_or_withheld(body, _raw(raw, sql))
    status = {row[0]: s for row, s in zip(body["rows"], body["row_status"])}
    assert status[0] == "partial"  # the non-email channels lost CANARYCAMP3's groups
    assert status[1] == ("exact" if exact else "partial")
