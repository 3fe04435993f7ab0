"""No silent distortion, and no differencing inside one answer (issue 8, points 3 and 4b).

Each test runs over HTTP and compares with raw DuckDB on the same data: every released cell
equals the raw value, and every cell the threshold changed is NULL, listed in
``withheld_cells``, and its row ``"partial"``. The differencing attacks decode their target
from the answer and check the decoded value is not the truth."""

from __future__ import annotations

import math
from typing import Any

import duckdb

from tests.canary import SMALL_CHANNEL, user_key
from tests.conftest import Harness
from tests.test_release import impressions

HEADER = "user_key,ts,channel,campaign,cost,ip_hash\n"


def flagged(body: dict[str, Any]) -> set[tuple[int, int]]:
    cells = {(i, j) for i, j in body["withheld_cells"]}
    for i, row in enumerate(body["rows"]):
        partial = any(r == i for r, _ in cells)
        assert body["row_status"][i] == ("partial" if partial else "exact"), body
        assert all(row[j] is None for r, j in cells if r == i), body
    return cells


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_a_small_conditional_aggregate_withholds_only_its_cell(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT channel, COUNT(*) AS n, COUNT(*) FILTER (WHERE campaign = 'CANARYCAMP3') AS rare "
           "FROM impressions GROUP BY channel ORDER BY channel")
    body = loaded.query(sql).json()
    truth = {r[0]: r for r in raw.execute(sql).fetchall()}
    assert len(body["rows"]) == 5  # every big channel is kept; the 7-person one is not
    cells = flagged(body)
    for i, row in enumerate(body["rows"]):
        assert row[:2] == list(truth[row[0]][:2])
        assert (i, 2) in cells and row[2] is None
    assert body["suppressed_rows"] == 0  # cells are not rows; the 7-person row is uncounted


def test_count_difference_does_not_decode_a_seven_person_group(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = (f"SELECT COUNT(DISTINCT user_key) AS everyone, "
           f"COUNT(DISTINCT CASE WHEN channel <> '{SMALL_CHANNEL}' THEN user_key END) AS most, "
           f"COUNT(DISTINCT user_key) - COUNT(DISTINCT CASE WHEN channel <> '{SMALL_CHANNEL}' "
           f"THEN user_key END) AS diff FROM impressions")
    truth = raw.execute(sql).fetchone()
    assert truth is not None and truth[2] == 7
    body = loaded.query(sql).json()
    (row,) = body["rows"]
    assert row[0] == truth[0]
    assert row[1] is None and row[2] is None and {(0, 1), (0, 2)} <= flagged(body)
    decoded = None if row[1] is None else row[0] - row[1]
    assert decoded != 7


def test_sum_beside_its_filtered_sum_does_not_decode_one_revenue(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT SUM(revenue) AS total, SUM(revenue) FILTER (WHERE revenue < 500) AS most "
           "FROM conversions")
    truth = raw.execute(sql).fetchone()
    assert truth is not None
    body = loaded.query(sql).json()
    (row,) = body["rows"]
    assert same(row[0], truth[0]) and row[1] is None and (0, 1) in flagged(body)
    decoded = None if row[1] is None else row[0] - row[1]
    assert decoded is None or not same(decoded, truth[0] - truth[1])


def test_a_pair_far_apart_is_released(loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT COUNT(DISTINCT user_key) AS everyone, "
           "COUNT(DISTINCT CASE WHEN channel = 'search' THEN user_key END) AS searchers "
           "FROM impressions")
    body = loaded.query(sql).json()
    assert body["rows"] == [list(raw.execute(sql).fetchone() or ())]
    assert body["row_status"] == ["exact"] and body["withheld_cells"] == []


# -- values withheld inside the query --------------------------------------------------
AMC_UNION = """
WITH imp AS (SELECT campaign, COUNT(*) AS impressions, 0 AS purchases
             FROM impressions GROUP BY campaign),
     conv AS (SELECT i.campaign, 0 AS impressions,
                     {purchases} AS purchases
              FROM impressions i JOIN conversions c ON i.user_key = c.user_key
              GROUP BY i.campaign),
     u AS (SELECT * FROM imp UNION ALL SELECT * FROM conv)
SELECT campaign, SUM(impressions) AS impressions, SUM(purchases) AS purchases
FROM u GROUP BY campaign ORDER BY campaign"""


def test_a_value_withheld_in_a_cte_flags_the_cells_computed_from_it(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """AMC's sponsored-ads UNION template: when a CTE's conditional count stands on too few
    people, the campaigns' purchases are not returned as exact (they came back 0 before)."""
    sql = AMC_UNION.format(purchases=f"COUNT(*) FILTER (WHERE i.channel = '{SMALL_CHANNEL}')")
    body = loaded.query(sql).json()
    truth = {r[0]: r for r in raw.execute(sql).fetchall()}
    cells = flagged(body)
    assert body["rows"]
    for i, row in enumerate(body["rows"]):
        assert (i, 2) in cells  # the purchases the threshold withheld
        assert all(same(v, truth[row[0]][j]) for j, v in enumerate(row) if (i, j) not in cells)


# Both branches drop the 3-person campaign, so no released group lost a row: each reader group
# probes every branch's dropped keys (gate/lost.py), and each branch's own flag is partitioned
# by the keys (it was read relation-wide, and every cell withheld).
def test_an_untouched_cte_answers_exactly(loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = AMC_UNION.format(purchases="COUNT(*)")
    body = loaded.query(sql).json()
    truth = {r[0]: list(r) for r in raw.execute(sql).fetchall() if not r[0].startswith("CANARY")}
    assert body["withheld_cells"] == [] and set(body["row_status"]) == {"exact"}
    assert {r[0]: r for r in body["rows"]} == truth


SHARE = """
WITH g AS (SELECT campaign, COUNT(DISTINCT user_key) AS n FROM impressions GROUP BY campaign),
     t AS (SELECT SUM(n) AS total FROM g)
SELECT g.campaign, g.n * 1.0 / t.total AS share FROM g CROSS JOIN t ORDER BY g.campaign"""


def test_a_share_of_a_total_that_lost_a_group_is_withheld(fresh: Harness) -> None:
    """The overlap share: a total missing a 30-person group (dropped inside the query) is not
    presented as exact; without that group the same query answers exactly. (A relation that
    lost rows taints each row read from it, so here the whole row is withheld.)"""
    assert fresh.upload("impressions", impressions({"a": 80, "b": 71, "mid": 30}),
                        party="streamco").status_code == 201
    body = fresh.query(SHARE).json()
    assert len(body["rows"]) == 2 and body["suppressed_rows"] == 0
    assert all(r[1] is None for r in body["rows"])
    assert {(0, 1), (1, 1)} <= flagged(body)
    assert fresh.upload("impressions", impressions({"a": 80, "b": 71}),
                        party="streamco").status_code == 201
    body = fresh.query(SHARE).json()
    assert body["rows"] == [["a", 80 / 151], ["b", 71 / 151]]
    assert body["row_status"] == ["exact", "exact"]


def test_under_dp_rows_are_noised_and_nothing_is_withheld(loaded: Harness) -> None:
    body = loaded.query("SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel",
                        epsilon=0.5).json()
    assert set(body["row_status"]) <= {"noised"}
    assert body.get("withheld_cells", []) == []


def test_two_union_rows_a_handful_apart_are_not_both_released(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("SELECT 'all' AS who, COUNT(DISTINCT user_key) AS n FROM impressions UNION ALL "
           f"SELECT 'most', COUNT(DISTINCT user_key) FROM impressions "
           f"WHERE channel <> '{SMALL_CHANNEL}' UNION ALL "
           "SELECT 'search', COUNT(DISTINCT user_key) FROM impressions WHERE channel = 'search'")
    truth = {r[0]: r[1] for r in raw.execute(sql).fetchall()}
    assert truth["all"] - truth["most"] == 7
    body = loaded.query(sql).json()
    released = {r[0]: r[1] for r in body["rows"]}
    assert released == {"all": truth["all"], "search": truth["search"]}
    assert body["suppressed_rows"] == 1  # a row of ~1,193 people, withheld and counted


def test_two_union_rows_a_handful_apart_passed_on_from_a_cte_are_not_both_released(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = ("WITH u AS (SELECT 'all' AS who, COUNT(DISTINCT user_key) AS n FROM impressions "
           "UNION ALL SELECT 'most', COUNT(DISTINCT user_key) FROM impressions "
           f"WHERE channel <> '{SMALL_CHANNEL}') SELECT who, n FROM u")
    truth = {r[0]: r[1] for r in raw.execute(sql).fetchall()}
    assert truth["all"] - truth["most"] == 7
    body = loaded.query(sql).json()
    released = {r[0]: r[1] for r in body["rows"] if r[1] is not None}
    assert not {"all", "most"} <= set(released), released


def people_in(campaigns: dict[str, range]) -> bytes:
    lines = [f"{user_key(p)},2026-09-01 10:00:00,search,{c},1.0,x"
             for c, people in campaigns.items() for p in people]
    return (HEADER + "\n".join(lines) + "\n").encode()


UNION = ("SELECT 'a' AS who, COUNT(DISTINCT user_key) AS n FROM impressions WHERE campaign = 'a' "
         "UNION ALL SELECT 'b', COUNT(DISTINCT user_key) FROM impressions WHERE campaign = 'b'")


def test_union_rows_of_overlapping_people_are_compared_on_their_people(fresh: Harness) -> None:
    """Equal counts do not make two rows close: 80 and 80 people sharing 20 differ by 60 each
    way (the sketches prove it); sharing 40, they differ by 40 (fewer than 50) and are not both
    released; nor are 80 and 75 people, one set inside the other."""
    assert fresh.upload("impressions", people_in({"a": range(0, 80), "b": range(60, 140)}),
                        party="streamco").status_code == 201
    assert sorted(fresh.query(UNION).json()["rows"]) == [["a", 80], ["b", 80]]
    assert fresh.upload("impressions", people_in({"a": range(0, 80), "b": range(40, 120)}),
                        party="streamco").status_code == 201
    assert len(fresh.query(UNION).json()["rows"]) == 1
    assert fresh.upload("impressions", people_in({"a": range(0, 80), "b": range(0, 75)}),
                        party="streamco").status_code == 201
    body = fresh.query(UNION).json()
    assert body["rows"] == [["a", 80]] and body["suppressed_rows"] == 1


OUTER = """
WITH a AS (SELECT campaign, COUNT(DISTINCT user_key) AS n FROM impressions GROUP BY campaign),
     s AS (SELECT campaign, channel, COUNT(*) AS m FROM impressions WHERE channel = 'video'
           GROUP BY 1, 2)
SELECT a.campaign, a.n, s.m FROM a LEFT JOIN s ON a.campaign = s.campaign ORDER BY 1"""


def test_a_left_join_to_a_relation_that_dropped_every_row_is_not_exact(fresh: Harness) -> None:
    """s holds one group of 3 people, dropped inside the query (fewer than ceil(k/2), so
    uncounted): the LEFT JOIN then finds nothing, and the NULL in its place is not presented
    as exact; the key and the count of the preserved side are."""
    rows = [f"{user_key(i)},2026-09-01 10:00:00,{'video' if i < 3 else 'search'},a,1.0,x"
            for i in range(80)]
    assert fresh.upload("impressions", (HEADER + "\n".join(rows) + "\n").encode(),
                        party="streamco").status_code == 201
    body = fresh.query(OUTER).json()
    assert body["rows"] == [["a", 80, None]], body
    assert flagged(body) == {(0, 2)}
    rows = [f"{user_key(i)},2026-09-01 10:00:00,search,a,1.0,x" for i in range(80)]
    assert fresh.upload("impressions", (HEADER + "\n".join(rows) + "\n").encode(),
                        party="streamco").status_code == 201
    body = fresh.query(OUTER).json()  # nothing dropped: the same NULL is exact
    assert body["rows"] == [["a", 80, None]] and body["row_status"] == ["exact"], body


def test_two_union_rows_on_the_same_few_people_but_not_the_same_rows_are_not_both_released(
        loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    """Two rows over the same 100-odd people (a sketch holds them all) are not withheld as
    close; but their rows differ by one person's (revenue 777.77) last impression, and the
    difference of their sums would be its cost: the check across the
    rows' data rows withholds it."""
    target = "user_key IN (SELECT user_key FROM conversions WHERE revenue = 777.77)"
    people = ("(user_key IN (SELECT user_key FROM impressions GROUP BY user_key "
              f"HAVING COUNT(*) >= 7) OR {target})")
    check = (f"SELECT COUNT(DISTINCT user_key) FILTER (WHERE {people}), COUNT(*) FILTER (WHERE "
             f"{target}), MAX(ts) FILTER (WHERE {target}) FROM impressions")
    n, rows, last = raw.execute(check).fetchone()  # type: ignore[misc]
    sql = (f"SELECT 'all' AS w, SUM(cost) AS s FROM impressions WHERE {people} UNION ALL "
           f"SELECT 'but', SUM(cost) FROM impressions WHERE {people} AND NOT "
           f"({target} AND ts = TIMESTAMP '{last}')")
    truth, left = raw.execute(f"SELECT SUM(cost) FILTER (WHERE ts = TIMESTAMP '{last}'), "
                              f"COUNT(*) FILTER (WHERE ts <> TIMESTAMP '{last}') FROM "
                              f"impressions WHERE {target}").fetchone()  # type: ignore[misc]
    assert 50 <= n <= 200 and left > 0, (n, rows, left)  # the same people, not the same rows
    raw_sums = dict(raw.execute(sql).fetchall())
    assert abs(raw_sums["all"] - raw_sums["but"] - truth) < 1e-6  # the decoder reads the truth
    body = loaded.query(sql).json()
    sums = {r[0]: r[1] for r in body["rows"] if r[1] is not None}
    decoded = sums["all"] - sums["but"] if {"all", "but"} <= set(sums) else None
    assert decoded is None or abs(decoded - truth) > 1e-6, body
