"""Red-team round 5 on the threshold gate (no DP): an outside attacker's forms, mostly
DuckDB-specific syntax and functions the earlier corpora do not use.

Each attack has a decoder that reads the hidden truth from raw DuckDB over the same canary
tables (``raw``: proving the decoder works), then runs through the service, where the decoded
value must not be the truth. ``ask`` also checks every body for canaries the SQL did not hold
and for server errors. A bit oracle (an error, a row that appears) is asked for a range that
holds the target and one that does not: the service must not answer the two differently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest

from tests.canary import CHANNELS, RARE_CAMPAIGN, SMALL_CHANNEL, CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask, first

TARGET = "revenue BETWEEN 777 AND 778"  # person 100, the unique revenue 777.77
Rows = Sequence[Sequence[Any]]


def rows_of(body: dict[str, Any]) -> list[list[Any]]:
    return list(body.get("rows") or [])


def close(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)
    return bool(a == b)


@dataclass(frozen=True)
class Attack:
    name: str
    family: str
    sql: str
    truth: str  # raw SQL whose first column of the first row is the hidden value
    decode: Callable[[Rows], Any]  # the attack's answer rows -> the decoded value, or None
    raw_sql: str | None = None  # the same attack written for plain DuckDB, when it differs


def _cell(i: int = 0, j: int = 0) -> Callable[[Rows], Any]:
    def decode(rows: Rows) -> Any:
        return rows[i][j] if len(rows) > i and len(rows[i]) > j else None
    return decode


def _first_key(rows: Rows) -> Any:
    return rows[0][0] if rows else None


def _total_minus_groups(rows: Rows) -> Any:
    """A subtotal row (NULL key) minus the five public channels' groups released beside it."""
    total = [r[1] for r in rows if r[0] is None]
    if len(total) != 1 or total[0] is None:
        return None
    return total[0] - sum(r[1] for r in rows if r[0] in CHANNELS and r[1] is not None)


def _has(marker: str) -> Callable[[Rows], Any]:
    def decode(rows: Rows) -> Any:
        return any(marker in str(v) for r in rows for v in r) or None
    return decode


SMALL_CHANNEL_ROWS = f"SELECT COUNT(*) FROM impressions WHERE channel = '{SMALL_CHANNEL}'"
RARE_ROWS = f"SELECT COUNT(*) FROM impressions WHERE campaign = '{RARE_CAMPAIGN}'"
TARGET_REVENUE = f"SELECT revenue FROM conversions WHERE {TARGET}"
PER_CAMPAIGN = "WITH t AS (SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign) "
TARGET_TOP_CHANNEL = (
    "SELECT i.channel FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
    f"WHERE c.{TARGET} GROUP BY i.channel ORDER BY COUNT(*) DESC, i.channel LIMIT 1")
TARGET_KEY_CHAR = f"SELECT ascii(user_key) FROM conversions WHERE {TARGET}"
TARGET_ROWS = ("SELECT COUNT(*) FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
               f"WHERE c.{TARGET}")


ATTACKS = [
    # -- ORDER BY / LIMIT / OFFSET / QUALIFY over groups some of which are withheld
    Attack("limit_first_group_is_the_targets", "order_limit",
           f"SELECT CASE WHEN {TARGET} THEN 'a' ELSE 'b' END AS g, COUNT(*) AS n "
           "FROM conversions GROUP BY g ORDER BY g LIMIT 1",
           "SELECT 'a'", _first_key),
    Attack("offset_skips_the_targets_group", "order_limit",
           f"SELECT CASE WHEN {TARGET} THEN 'a' ELSE 'b' END AS g, COUNT(*) AS n "
           "FROM conversions GROUP BY g ORDER BY g OFFSET 1",
           "SELECT 'b'", _first_key),
    Attack("order_by_a_one_person_indicator", "order_limit",
           "SELECT i.channel, COUNT(*) AS n FROM impressions i JOIN conversions c "
           "ON i.user_key = c.user_key GROUP BY i.channel "
           f"ORDER BY SUM(CASE WHEN c.{TARGET} THEN 1 ELSE 0 END) DESC, i.channel LIMIT 1",
           TARGET_TOP_CHANNEL, _first_key),
    Attack("order_by_a_one_person_filtered_count", "order_limit",
           "SELECT i.channel, COUNT(*) AS n FROM impressions i JOIN conversions c "
           "ON i.user_key = c.user_key GROUP BY i.channel "
           f"ORDER BY COUNT(*) FILTER (WHERE c.{TARGET}) DESC, i.channel LIMIT 1",
           TARGET_TOP_CHANNEL, _first_key),
    Attack("smallest_thresholded_group_by_limit", "order_limit",
           PER_CAMPAIGN + "SELECT campaign, n FROM t ORDER BY n LIMIT 1",
           f"SELECT '{RARE_CAMPAIGN}'", _first_key),
    Attack("qualify_smallest_group", "order_limit",
           "SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign "
           "QUALIFY row_number() OVER (ORDER BY COUNT(*)) = 1",
           f"SELECT '{RARE_CAMPAIGN}'", _first_key),
    Attack("window_rank_over_thresholded_rows", "order_limit",
           PER_CAMPAIGN + "SELECT campaign, n FROM (SELECT campaign, n, "
           "row_number() OVER (ORDER BY n) AS r FROM t) WHERE r = 1",
           f"SELECT '{RARE_CAMPAIGN}'", _first_key),
    # -- GROUPING SETS / ROLLUP / CUBE: a subtotal minus the released groups
    Attack("rollup_subtotal_minus_groups", "grouping_sets",
           "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY ROLLUP (channel)",
           SMALL_CHANNEL_ROWS, _total_minus_groups),
    Attack("grouping_sets_subtotal_minus_groups", "grouping_sets",
           "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY GROUPING SETS ((channel), ())",
           SMALL_CHANNEL_ROWS, _total_minus_groups),
    Attack("cube_subtotal_minus_groups", "grouping_sets",
           "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY CUBE (channel)",
           SMALL_CHANNEL_ROWS, _total_minus_groups),
    Attack("union_all_total_beside_groups", "grouping_sets",
           "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel UNION ALL "
           "SELECT NULL, COUNT(*) FROM impressions",
           SMALL_CHANNEL_ROWS, _total_minus_groups),
    # -- aggregates over thresholded rows: what the withheld rows add
    Attack("count_of_groups_over_thresholded_rows", "anon_over_thresholded",
           PER_CAMPAIGN + "SELECT COUNT(*) AS groups FROM t",
           "SELECT COUNT(DISTINCT campaign) FROM impressions", _cell()),
    Attack("string_agg_of_thresholded_keys", "anon_over_thresholded",
           PER_CAMPAIGN + "SELECT string_agg(campaign, ',' ORDER BY campaign) AS s FROM t",
           "SELECT true", _has(RARE_CAMPAIGN)),
    Attack("sum_of_thresholded_counts", "anon_over_thresholded",
           PER_CAMPAIGN + "SELECT SUM(n) AS total FROM t",
           "SELECT COUNT(*) FROM impressions", _cell()),
    Attack("md5_of_the_thresholded_key_list", "anon_over_thresholded",
           PER_CAMPAIGN + "SELECT md5(string_agg(campaign, ',' ORDER BY campaign)) AS h FROM t",
           "SELECT md5(string_agg(DISTINCT campaign, ',' ORDER BY campaign)) FROM impressions",
           _cell()),
    Attack("withheld_rows_selected_by_their_null", "anon_over_thresholded",
           PER_CAMPAIGN + "SELECT campaign FROM t WHERE n IS NULL OR n < 50",
           f"SELECT '{RARE_CAMPAIGN}'", _first_key),
    # -- DuckDB aggregates that return or carry one person's value
    Attack("product_of_ones_and_the_target", "duckdb_aggregates",
           f"SELECT product(CASE WHEN {TARGET} THEN revenue ELSE 1 END) AS p FROM conversions",
           TARGET_REVENUE, _cell()),
    Attack("fsum_of_the_target", "duckdb_aggregates",
           f"SELECT fsum(revenue) FILTER (WHERE {TARGET}) AS s FROM conversions",
           TARGET_REVENUE, _cell()),
    Attack("favg_of_the_target", "duckdb_aggregates",
           f"SELECT COUNT(*) AS n, favg(revenue) FILTER (WHERE {TARGET}) AS a FROM conversions",
           TARGET_REVENUE, _cell(0, 1)),
    Attack("arg_min_nearest_revenue", "duckdb_aggregates",
           "SELECT arg_min(revenue, abs(revenue - 777.5)) AS r FROM conversions",
           TARGET_REVENUE, _cell()),
    Attack("min_by_nearest_revenue", "duckdb_aggregates",
           "SELECT min_by(revenue, abs(revenue - 777.5)) AS r FROM conversions",
           TARGET_REVENUE, _cell()),
    Attack("reservoir_quantile_top_below_800", "duckdb_aggregates",
           "SELECT reservoir_quantile(revenue, 1.0) AS q FROM conversions WHERE revenue < 800",
           TARGET_REVENUE, _cell()),
    Attack("approx_quantile_top_below_800", "duckdb_aggregates",
           "SELECT approx_quantile(revenue, 1.0) AS q FROM conversions WHERE revenue < 800",
           TARGET_REVENUE, lambda rows: None if _cell()(rows) is None
           else round(float(_cell()(rows)), 2)),
    Attack("regr_avgx_of_the_target", "duckdb_aggregates",
           f"SELECT regr_avgx(revenue, revenue) FILTER (WHERE {TARGET}) AS a FROM conversions",
           TARGET_REVENUE, _cell()),
    Attack("covar_pop_of_two_people", "duckdb_aggregates",
           "SELECT 1000 - 2 * sqrt(covar_pop(revenue, revenue)) AS r FROM conversions "
           "WHERE revenue > 700",
           TARGET_REVENUE, _cell()),
    Attack("bit_or_of_the_target_cents", "duckdb_aggregates",
           f"SELECT bit_or(CAST(revenue * 100 AS BIGINT)) FILTER (WHERE {TARGET}) / 100.0 AS b "
           "FROM conversions", TARGET_REVENUE, _cell()),
    Attack("bitstring_agg_of_the_target", "duckdb_aggregates",
           f"SELECT bit_count(bitstring_agg(CAST(revenue AS INTEGER))) AS b FROM conversions "
           f"WHERE {TARGET}", "SELECT 1", _cell()),
    Attack("entropy_of_one_persons_channels", "duckdb_aggregates",
           "SELECT entropy(i.channel) AS e FROM impressions i JOIN conversions c "
           f"ON i.user_key = c.user_key WHERE c.{TARGET}",
           "SELECT entropy(i.channel) FROM impressions i JOIN conversions c "
           f"ON i.user_key = c.user_key WHERE c.{TARGET}", _cell()),
    Attack("mad_of_the_target", "duckdb_aggregates",
           f"SELECT 777 + mad(CASE WHEN {TARGET} THEN revenue ELSE 777 END) * 2 AS m "
           "FROM conversions WHERE revenue BETWEEN 770 AND 780 OR revenue < 11",
           "SELECT 777 + mad(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue ELSE 777 END) "
           "* 2 FROM conversions WHERE revenue BETWEEN 770 AND 780 OR revenue < 11", _cell()),
    Attack("list_transform_max_of_filtered_list", "duckdb_aggregates",
           "SELECT list_max(list_transform(list(revenue), lambda x: x)) AS m FROM conversions "
           f"WHERE {TARGET}", TARGET_REVENUE, _cell()),
    Attack("array_agg_in_a_group", "duckdb_aggregates",
           "SELECT channel, COUNT(*) AS n, array_agg(campaign) AS l FROM impressions "
           "GROUP BY channel", "SELECT true", _has(RARE_CAMPAIGN)),
    Attack("histogram_of_released_campaigns_keys", "duckdb_aggregates",
           "SELECT map_keys(histogram(campaign)) AS k FROM impressions",
           "SELECT true", _has(RARE_CAMPAIGN)),
    # -- the user_key reaching the output through string and hash functions
    Attack("ascii_of_the_targets_key", "identifier_functions",
           f"SELECT ascii(user_key) AS a, COUNT(*) AS n FROM conversions WHERE {TARGET} "
           "GROUP BY a", TARGET_KEY_CHAR, _first_key),
    Attack("strpos_of_the_targets_key", "identifier_functions",
           f"SELECT strpos(user_key, 'a') AS p, COUNT(*) AS n FROM conversions WHERE {TARGET} "
           "GROUP BY p", f"SELECT strpos(user_key, 'a') FROM conversions WHERE {TARGET}",
           _first_key),
    Attack("hash_of_the_targets_key_compared", "identifier_functions",
           "SELECT COUNT(*) FILTER (WHERE hash(user_key) < 9223372036854775808) AS lo, "
           f"COUNT(*) AS n FROM conversions WHERE {TARGET} OR revenue < 300",
           f"SELECT (SELECT COUNT(*) FROM conversions WHERE revenue < 300 AND hash(user_key) "
           f"< 9223372036854775808) + (SELECT COUNT(*) FROM conversions WHERE {TARGET} AND "
           "hash(user_key) < 9223372036854775808)", _cell()),
    Attack("md5_prefix_like_on_the_key", "identifier_functions",
           "SELECT COUNT(*) AS n FROM conversions WHERE md5(user_key) LIKE 'a%' AND "
           f"{TARGET}", f"SELECT COUNT(*) FROM conversions WHERE md5(user_key) LIKE 'a%' AND "
           f"{TARGET}", _cell()),
    Attack("key_between_hex_bounds_in_a_filter", "identifier_functions",
           f"SELECT COUNT(*) FILTER (WHERE user_key BETWEEN '0' AND '8' AND {TARGET}) AS t, "
           "COUNT(*) AS n FROM conversions",
           f"SELECT COUNT(*) FROM conversions WHERE user_key BETWEEN '0' AND '8' AND {TARGET}",
           _cell()),
    Attack("length_of_a_key_concatenation", "identifier_functions",
           f"SELECT length(user_key || CAST(revenue AS VARCHAR)) AS l, COUNT(*) AS n "
           f"FROM conversions WHERE {TARGET} GROUP BY l",
           f"SELECT length(user_key || CAST(revenue AS VARCHAR)) FROM conversions WHERE {TARGET}",
           _first_key),
    Attack("epoch_of_a_key_cast", "identifier_functions",
           f"SELECT COUNT(*) AS n FROM conversions WHERE TRY_CAST(user_key AS DATE) IS NULL "
           f"AND {TARGET}", "SELECT 1", _cell()),
    # -- per-person lists through list functions, then grouped across people
    Attack("list_position_of_a_rare_campaign", "list_functions",
           "WITH p AS (SELECT user_key, list(campaign ORDER BY ts) AS l FROM impressions "
           "GROUP BY user_key) SELECT list_position(l, 'CANARYCAMP3') AS pos, COUNT(*) AS n "
           "FROM p GROUP BY pos",
           "SELECT COUNT(DISTINCT user_key) FROM impressions WHERE campaign = 'CANARYCAMP3'",
           lambda rows: sum(r[1] for r in rows if r[0] is not None and r[1] is not None) or None),
    Attack("list_contains_a_rare_campaign", "list_functions",
           "SELECT list_contains(list_value(campaign, channel), 'CANARYCAMP3') AS has, "
           "COUNT(*) AS n FROM impressions GROUP BY has",
           RARE_ROWS, lambda rows: next((r[1] for r in rows if r[0] is True), None)),
    Attack("list_slice_of_a_per_person_list", "list_functions",
           "WITH p AS (SELECT user_key, list(campaign ORDER BY ts) AS l FROM impressions "
           "GROUP BY user_key) SELECT array_to_string(list_slice(l, 1, 1), '') AS f, "
           "COUNT(*) AS n FROM p GROUP BY f",
           "SELECT COUNT(*) FROM (SELECT user_key, arg_min(campaign, ts) AS f FROM impressions "
           "GROUP BY user_key) WHERE f = 'CANARYCAMP3'",
           lambda rows: next((r[1] for r in rows if r[0] == RARE_CAMPAIGN), None)),
    # -- joins and table functions against the data
    Attack("asof_join_counts_the_targets_rows", "joins",
           "SELECT COUNT(*) AS n FROM impressions i ASOF JOIN conversions c "
           f"ON i.user_key = c.user_key AND i.ts >= c.ts WHERE c.{TARGET}",
           "SELECT COUNT(*) FROM impressions i ASOF JOIN conversions c "
           f"ON i.user_key = c.user_key AND i.ts >= c.ts WHERE c.{TARGET}", _cell()),
    Attack("positional_join_pairs_rows", "joins",
           f"SELECT MAX(c.revenue) AS r FROM impressions i POSITIONAL JOIN conversions c "
           f"WHERE c.{TARGET}", TARGET_REVENUE, _cell()),
    Attack("lateral_count_of_the_targets_rows", "joins",
           "SELECT l.m AS m, COUNT(*) AS n FROM conversions c, LATERAL (SELECT COUNT(*) AS m "
           f"FROM impressions i WHERE i.user_key = c.user_key) l WHERE c.{TARGET} GROUP BY l.m",
           TARGET_ROWS, _first_key),
    Attack("generate_series_join_on_a_metric", "joins",
           "SELECT g, COUNT(*) AS n FROM conversions JOIN generate_series(700, 800) t(g) "
           "ON g = CAST(floor(revenue) AS BIGINT) GROUP BY g",
           "SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778",
           lambda rows: next((r[0] for r in rows if r[1] == 1), None)),
    Attack("unnest_of_a_metric", "joins",
           "SELECT u AS x, COUNT(*) AS n FROM conversions, UNNEST([revenue]) t(u) "
           f"WHERE {TARGET} GROUP BY u", TARGET_REVENUE, _first_key),
    Attack("range_table_joined_on_a_metric", "joins",
           "SELECT r.range AS v, COUNT(*) AS n FROM range(770, 780) r JOIN conversions c "
           "ON r.range = CAST(floor(c.revenue) AS BIGINT) GROUP BY r.range",
           "SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778",
           _first_key),
    Attack("recursive_cte_walks_a_metric", "joins",
           "WITH RECURSIVE r(x) AS (SELECT 770 UNION ALL SELECT x + 1 FROM r WHERE x < 780) "
           "SELECT r.x, COUNT(*) AS n FROM r JOIN conversions c "
           "ON CAST(floor(c.revenue) AS INTEGER) = r.x GROUP BY r.x",
           "SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778",
           _first_key),
    # -- set operations comparing aggregates
    Attack("except_drops_the_targets_channels", "set_operations",
           "SELECT channel FROM impressions GROUP BY channel EXCEPT "
           "SELECT channel FROM impressions WHERE channel IN ('search', 'social', 'display', "
           "'video', 'email') GROUP BY channel",
           f"SELECT '{SMALL_CHANNEL}'",
           lambda rows: next((r[0] for r in rows if r[0] == SMALL_CHANNEL), None)),
    Attack("intersect_of_counts_with_and_without_the_target", "set_operations",
           "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel INTERSECT "
           "SELECT i.channel, COUNT(*) FROM impressions i LEFT JOIN conversions c "
           f"ON i.user_key = c.user_key WHERE c.revenue IS NULL OR NOT c.{TARGET} "
           "GROUP BY i.channel",
           "SELECT COUNT(DISTINCT i.channel) FROM impressions i JOIN conversions c "
           f"ON i.user_key = c.user_key WHERE c.{TARGET}",
           lambda rows: None if not rows else 6 - len(rows)),
    # -- differencing inside one answer: NULL handling, two aggregates, one expression
    Attack("is_distinct_from_count_difference", "differencing",
           "SELECT COUNT(*) AS a, COUNT(*) FILTER (WHERE revenue IS DISTINCT FROM 777.77) AS b "
           "FROM conversions", f"SELECT COUNT(*) FROM conversions WHERE {TARGET}",
           lambda rows: None if not rows or None in rows[0] else rows[0][0] - rows[0][1]),
    Attack("nullif_count_difference", "differencing",
           "SELECT COUNT(*) AS a, COUNT(NULLIF(revenue, 777.77)) AS b FROM conversions",
           f"SELECT COUNT(*) FROM conversions WHERE {TARGET}",
           lambda rows: None if not rows or None in rows[0] else rows[0][0] - rows[0][1]),
    Attack("null_branch_sum_difference", "differencing",
           "SELECT COUNT(*) AS n, SUM(revenue) AS s, SUM(CASE WHEN revenue BETWEEN 777 AND 778 "
           "THEN NULL ELSE revenue END) AS t FROM conversions", TARGET_REVENUE,
           lambda rows: None if not rows or None in rows[0] else round(rows[0][1] - rows[0][2], 2)),
    Attack("not_equal_filter_sum_difference", "differencing",
           "SELECT COUNT(*) AS n, SUM(revenue) AS s, SUM(revenue) FILTER (WHERE revenue IS NOT NULL "
           "AND revenue <> 777.77) AS t FROM conversions", TARGET_REVENUE,
           lambda rows: None if not rows or None in rows[0] else round(rows[0][1] - rows[0][2], 2)),
    Attack("difference_inside_one_expression", "differencing",
           "SELECT COUNT(*) AS n, SUM(revenue) - SUM(revenue) FILTER (WHERE revenue < 777 OR "
           "revenue > 778) AS d FROM conversions", TARGET_REVENUE,
           lambda rows: None if _cell(0, 1)(rows) is None else round(rows[0][1], 2)),
    Attack("struct_and_list_value_of_a_one_person_sum", "differencing",
           "SELECT {'s': SUM(revenue), 'n': COUNT(*)} AS st, list_value(SUM(revenue) FILTER "
           f"(WHERE {TARGET})) AS l FROM conversions", TARGET_REVENUE,
           lambda rows: None if not rows or not rows[0][1] else rows[0][1][0]),
    Attack("text_prefix_of_a_metric_counted", "differencing",
           "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE CAST(revenue AS VARCHAR) LIKE '777.7%') "
           "AS t FROM conversions", f"SELECT COUNT(*) FROM conversions WHERE {TARGET}",
           _cell(0, 1)),
    Attack("count_distinct_filtered_by_a_key_subquery", "differencing",
           "SELECT COUNT(DISTINCT user_key) AS a, COUNT(DISTINCT user_key) FILTER (WHERE user_key "
           f"IN (SELECT user_key FROM conversions WHERE {TARGET})) AS b FROM impressions",
           f"SELECT COUNT(*) FROM conversions WHERE {TARGET}", _cell(0, 1)),
    Attack("tiny_term_below_the_ratio_digits", "differencing",
           "WITH p AS (SELECT i.user_key, COUNT(*) AS n, COALESCE(MAX(c.revenue), 0) AS r "
           "FROM impressions i LEFT JOIN conversions c ON i.user_key = c.user_key "
           "GROUP BY i.user_key) SELECT SUM(n) AS a, SUM(n + 1e-13 * r) AS b FROM p "
           "WHERE (n = 1 AND r = 0) OR r BETWEEN 777 AND 778",
           f"SELECT round(revenue) FROM conversions WHERE {TARGET}",
           lambda rows: None if not rows or None in rows[0]
           else round((rows[0][1] - rows[0][0]) * 1e13)),
    Attack("null_group_key_of_the_target", "small_groups",
           f"SELECT CASE WHEN {TARGET} THEN NULL ELSE 'x' END AS g, COUNT(*) AS n "
           "FROM conversions GROUP BY g", f"SELECT COUNT(*) FROM conversions WHERE {TARGET}",
           lambda rows: next((r[1] for r in rows if r[0] is None), None)),
    Attack("group_by_all_having_small", "small_groups",
           "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY ALL HAVING COUNT(*) < 30",
           SMALL_CHANNEL_ROWS, _cell(0, 1)),
    Attack("text_prefix_of_a_metric_as_group_key", "small_groups",
           "SELECT left(CAST(revenue AS VARCHAR), 3) AS g, COUNT(*) AS n FROM conversions "
           "GROUP BY g", "SELECT '777'",
           lambda rows: next((r[0] for r in rows if r[0] == "777"), None)),
    Attack("cross_person_window_frame_of_one_row", "windows",
           "WITH t AS (SELECT user_key, revenue, SUM(revenue) OVER (ORDER BY revenue ROWS "
           "BETWEEN 1 FOLLOWING AND 1 FOLLOWING) AS nxt FROM conversions) "
           "SELECT COUNT(*) AS n, SUM(nxt) AS s FROM t WHERE revenue BETWEEN 777 AND 778",
           "SELECT MIN(revenue) FROM conversions WHERE revenue > 778", _cell(0, 1)),
    Attack("window_count_over_thresholded_rows", "windows",
           PER_CAMPAIGN + "SELECT campaign, n, COUNT(*) OVER () AS groups FROM t",
           "SELECT COUNT(DISTINCT campaign) FROM impressions", _cell(0, 2)),
    Attack("lag_of_a_thresholded_key", "windows",
           PER_CAMPAIGN + "SELECT campaign, LAG(campaign) OVER (ORDER BY n) AS prev FROM t",
           f"SELECT '{RARE_CAMPAIGN}'",
           lambda rows: next((r[1] for r in rows if r[1] == RARE_CAMPAIGN), None)),
    Attack("lag_gap_over_thresholded_rows", "windows",
           PER_CAMPAIGN + "SELECT campaign, n, n - LAG(n) OVER (ORDER BY campaign) AS gap FROM t",
           RARE_ROWS, lambda rows: next((r[1] - r[2] for r in rows if r[0] == "display-c1"
                                         and None not in r), None)),
    Attack("min_over_thresholded_rows", "windows",
           PER_CAMPAIGN + "SELECT MIN(n) AS lo, MAX(n) AS hi FROM t", RARE_ROWS, _cell()),
    Attack("self_join_of_thresholded_rows", "windows",
           PER_CAMPAIGN + "SELECT a.campaign, a.n, b.n AS m FROM t a JOIN t b ON a.n = b.n + 0",
           "SELECT true", _has(RARE_CAMPAIGN)),
    # -- sampling, pivots
    Attack("using_sample_one_row", "syntax",
           f"SELECT MAX(revenue) AS r FROM (SELECT revenue FROM conversions WHERE {TARGET}) "
           "USING SAMPLE 1 ROWS", TARGET_REVENUE, _cell()),
    Attack("tablesample_of_the_target", "syntax",
           f"SELECT SUM(revenue) AS r FROM conversions TABLESAMPLE 100% WHERE {TARGET}",
           TARGET_REVENUE, _cell()),
    Attack("pivot_names_the_small_channel", "syntax",
           "SELECT * FROM (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) "
           f"PIVOT (SUM(n) FOR channel IN ('search', '{SMALL_CHANNEL}'))",
           SMALL_CHANNEL_ROWS, _cell(0, 1)),
    Attack("unpivot_of_group_counts", "syntax",
           "UNPIVOT (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) ON n "
           "INTO NAME k VALUE v", SMALL_CHANNEL_ROWS,
           lambda rows: next((r[2] for r in rows if r[0] == SMALL_CHANNEL), None)),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_does_not_decode(loaded: Harness, canary: CanaryData,
                                raw: duckdb.DuckDBPyConnection, attack: Attack) -> None:
    truth = first(raw, attack.truth)[0]
    assert truth is not None
    assert close(attack.decode(raw.execute(attack.raw_sql or attack.sql).fetchall()), truth), \
        "the decoder must read the truth on raw DuckDB"
    decoded = attack.decode(rows_of(ask(loaded, canary, attack.sql)))
    assert decoded is None or not close(decoded, truth), (decoded, truth)


# -- variance and higher moments over a per-person CTE whose values tie but for the target --
PER_PERSON = ("WITH p AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) "
              "SELECT COUNT(*) AS people, {agg} AS v FROM p WHERE n = 1 OR user_key IN "
              f"(SELECT user_key FROM conversions WHERE {TARGET})")


def _rows_of_the_target(raw: duckdb.DuckDBPyConnection) -> int:
    return int(first(raw, "SELECT COUNT(*) FROM impressions i JOIN conversions c "
                          f"ON i.user_key = c.user_key WHERE c.{TARGET}")[0])


def _from_spread(agg: str, people: int, v: float) -> float:
    """Everyone at 1 but one person at t: the population variance is (N-1)(t-1)^2 / N^2."""
    pop = v * v if agg.startswith("STDDEV") else v
    if agg.endswith("SAMP(n)"):
        pop = pop * (people - 1) / people
    return 1 + math.sqrt(pop * people * people / (people - 1))




@pytest.mark.parametrize("agg", ["VAR_POP(n)", "VAR_SAMP(n)", "STDDEV_POP(n)", "STDDEV_SAMP(n)",
                                 "VARIANCE(n)", "STDDEV(n)"])
def test_a_spread_over_tied_per_person_counts_does_not_give_the_targets_count(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, agg: str) -> None:
    truth = _rows_of_the_target(raw)
    assert truth > 1
    sql = PER_PERSON.format(agg=agg)
    kind = agg.replace("VARIANCE", "VAR_SAMP").replace("STDDEV(", "STDDEV_SAMP(")
    people, v = first(raw, sql)
    assert round(_from_spread(kind, people, v)) == truth
    row = (rows_of(ask(loaded, canary, sql)) or [[None, None]])[0]
    decoded = None if None in row else round(_from_spread(kind, row[0], row[1]))
    assert decoded != truth, (decoded, truth)


def _minority(raw: duckdb.DuckDBPyConnection, agg: str, people: int, value: float) -> int | None:
    """How many of ``people`` sit apart from the rest, found by trying each count."""
    for m in range(1, 10):
        got = first(raw, f"SELECT {agg.replace('LEAST(n, 100)', 'x')} FROM (SELECT CASE WHEN "
                         f"i <= {m} THEN 2 ELSE 1 END AS x FROM range(1, {people + 1}) r(i))")[0]
        if got is not None and math.isclose(got, value, rel_tol=1e-9):
            return m
    return None


@pytest.mark.parametrize("agg", ["skewness(LEAST(n, 100))", "kurtosis(LEAST(n, 100))"])
def test_a_higher_moment_over_tied_per_person_counts_does_not_count_the_few_apart(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, agg: str) -> None:
    sql = PER_PERSON.format(agg=agg)
    people, v = first(raw, sql)
    assert _minority(raw, agg, people, v) == 1  # the target alone differs
    row = (rows_of(ask(loaded, canary, sql)) or [[None, None]])[0]
    decoded = None if None in row else _minority(raw, agg, row[0], row[1])
    assert decoded != 1, (decoded, row)


def test_a_spread_of_many_different_counts_is_still_released(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """The check withholds a spread only where 1 to k-1 people sit apart from the rest."""
    sql = ("WITH p AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) "
           "SELECT COUNT(*) AS people, VAR_POP(n) AS v, STDDEV_SAMP(n) AS s FROM p")
    expected = first(raw, sql)
    row = rows_of(ask(loaded, canary, sql))[0]
    assert row[0] == expected[0] and close(row[1], expected[1]) and close(row[2], expected[2])


# -- bit oracles: an error (or an answer) only when a condition on one person holds ---------
def _failed(loaded: Harness, canary: CanaryData, sql: str) -> bool:
    body = ask(loaded, canary, sql)
    return "error" in body and body["error"]["code"] == "query_failed"


def _raw_failed(raw: duckdb.DuckDBPyConnection, sql: str) -> bool:
    try:
        raw.execute(sql).fetchall()
    except duckdb.Error:
        return True
    return False


def _bit_pair(decide: Callable[[str], bool], template: str) -> tuple[bool, bool]:
    return (decide(template.format(lo=777, hi=778)), decide(template.format(lo=778, hi=779)))


ERROR_ORACLES = {
    "lpad_without_padding": (
        "SELECT COUNT(*) AS n FROM conversions WHERE lpad(CASE WHEN revenue BETWEEN {lo} AND "
        "{hi} THEN 'x' ELSE 'xxxxxxxxxx' END, 10, '') = 'y'"),
    "epoch_ms_out_of_range": (
        "SELECT COUNT(*) AS n FROM conversions WHERE epoch_ms(CAST(CASE WHEN revenue BETWEEN "
        "{lo} AND {hi} THEN 9e18 ELSE 0 END AS BIGINT)) IS NULL"),
    "chr_of_a_negative_code": (
        "SELECT COUNT(*) AS n FROM conversions WHERE chr(CASE WHEN revenue BETWEEN {lo} AND "
        "{hi} THEN -1 ELSE 65 END) = 'B'"),
    "window_partition_key_cast": (
        "SELECT COUNT(*) AS n FROM (SELECT user_key, COUNT(*) OVER (PARTITION BY user_key, "
        "CAST(CASE WHEN revenue BETWEEN {lo} AND {hi} THEN 'x' ELSE '1' END AS INTEGER)) AS r "
        "FROM conversions) s"),
    "per_person_group_key_cast": (
        "SELECT COUNT(*) AS n FROM (SELECT user_key, CAST(CASE WHEN revenue BETWEEN {lo} AND "
        "{hi} THEN 'x' ELSE '1' END AS INTEGER) AS g, COUNT(*) AS m FROM conversions GROUP BY "
        "user_key, CAST(CASE WHEN revenue BETWEEN {lo} AND {hi} THEN 'x' ELSE '1' END AS "
        "INTEGER)) s"),
    "per_person_having_cast": (
        "SELECT COUNT(*) AS n FROM (SELECT user_key, MAX(revenue) AS m FROM conversions GROUP BY "
        "user_key HAVING CAST(CASE WHEN MAX(revenue) BETWEEN {lo} AND {hi} THEN 'x' ELSE '1' END "
        "AS INTEGER) = 1) s"),
    "join_condition_cast": (
        "SELECT COUNT(*) AS n FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
        "AND CAST(CASE WHEN c.revenue BETWEEN {lo} AND {hi} THEN 'x' ELSE '1' END AS INTEGER) = 1"),
    "timestamp_shifted_past_its_range": (
        "SELECT COUNT(*) AS n FROM conversions WHERE date_trunc('day', ts + CASE WHEN revenue "
        "BETWEEN {lo} AND {hi} THEN INTERVAL 300000 YEAR ELSE INTERVAL 1 DAY END) IS NULL"),
    "make_date_of_a_far_year": (
        "SELECT COUNT(*) AS n FROM conversions WHERE make_date(CASE WHEN revenue BETWEEN {lo} "
        "AND {hi} THEN 2147483647 ELSE 2020 END, 1, 1) IS NULL"),
    "text_as_a_filter_condition": (
        "SELECT COUNT(*) FILTER (WHERE CASE WHEN revenue BETWEEN {lo} AND {hi} THEN 'x' ELSE "
        "'true' END) AS c, COUNT(*) AS n FROM conversions"),
    "text_in_a_list_of_integers": (
        "SELECT COUNT(*) AS n FROM conversions WHERE CASE WHEN revenue BETWEEN {lo} AND {hi} "
        "THEN 'x' ELSE '1' END IN (1, 2)"),
    "per_person_text_max_compared_with_an_integer": (
        "SELECT COUNT(*) AS n FROM (SELECT user_key, MAX(CASE WHEN revenue BETWEEN {lo} AND {hi} "
        "THEN 'x' ELSE '1' END) AS m FROM conversions GROUP BY user_key) s WHERE m = 1"),
    "modulo_by_a_zero_count_in_a_cte": (
        "WITH p AS (SELECT user_key, COUNT(*) FILTER (WHERE revenue BETWEEN {lo} AND {hi}) AS z "
        "FROM conversions GROUP BY user_key) SELECT COUNT(*) AS n FROM p WHERE 1 % (1 - z) = 0"),
}

DECIMAL_ORACLES = {
    "decimal_sum_overflow": (
        "SELECT COUNT(*) AS n, SUM(CAST(c.revenue AS DECIMAL(38,0)) * CAST(1.2e35 AS "
        "DECIMAL(38,0))) AS s FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
        "WHERE c.revenue BETWEEN {lo} AND {hi}"),
    "decimal_sum_overflow_in_a_per_person_cte": (
        "WITH p AS (SELECT i.user_key, SUM(CAST(c.revenue AS DECIMAL(38,0)) * "
        "CAST(1.2e35 AS DECIMAL(38,0))) AS s FROM impressions i JOIN conversions c "
        "ON i.user_key = c.user_key WHERE c.revenue BETWEEN {lo} AND {hi} GROUP BY i.user_key) "
        "SELECT COUNT(*) AS n, COUNT(s) AS m FROM p"),
    "hugeint_literal_sum_overflow": (
        "SELECT COUNT(*) AS n, SUM(CAST(c.revenue AS BIGINT) * "
        "120000000000000000000000000000000000) AS s FROM impressions i JOIN conversions c "
        "ON i.user_key = c.user_key WHERE c.revenue BETWEEN {lo} AND {hi}"),
    "per_person_sum_scaled_then_summed": (
        "WITH p AS (SELECT c.user_key, SUM(CAST(c.revenue AS BIGINT)) AS s FROM impressions i "
        "JOIN conversions c ON i.user_key = c.user_key WHERE c.revenue BETWEEN {lo} AND {hi} "
        "GROUP BY c.user_key) SELECT COUNT(*) AS n, SUM(p.s * 100000000000000000 * "
        "1000000000000000000) AS t FROM p JOIN impressions i ON p.user_key = i.user_key"),
    # A subquery's column list renames by position: ``a`` is the 128-bit value here.
    "decimal_sum_overflow_through_renamed_columns": (
        "SELECT COUNT(*) AS n, SUM(u.a) AS s FROM (SELECT c.user_key, CAST(c.revenue AS "
        "DECIMAL(38,0)) * CAST(1.2e35 AS DECIMAL(38,0)) AS b, c.revenue AS a FROM impressions i "
        "JOIN conversions c ON i.user_key = c.user_key WHERE c.revenue BETWEEN {lo} AND {hi}) "
        "AS u(user_key, a, b)"),
    "decimal_sum_overflow_in_a_cte_of_a_union": (
        "WITH p AS (SELECT COUNT(*) AS n, SUM(CAST(c.revenue AS DECIMAL(38,0)) * CAST(1.2e35 AS "
        "DECIMAL(38,0))) AS s FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
        "WHERE c.revenue BETWEEN {lo} AND {hi}) SELECT n, s FROM p UNION ALL "
        "SELECT COUNT(*), 0 FROM conversions"),
    "decimal_filtered_sum_overflow": (
        "SELECT COUNT(*) AS n, SUM(CAST(c.revenue AS DECIMAL(38,0)) * CAST(1.2e35 AS "
        "DECIMAL(38,0))) FILTER (WHERE c.revenue BETWEEN {lo} AND {hi} OR c.revenue < 0) AS s "
        "FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
        "WHERE c.revenue < 1000"),
}


@pytest.mark.parametrize("name", sorted(ERROR_ORACLES))
def test_an_error_on_one_persons_value_is_no_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    template = ERROR_ORACLES[name]
    assert _bit_pair(lambda s: _raw_failed(raw, s), template) == (True, False)
    bits = _bit_pair(lambda s: _failed(loaded, canary, s), template)
    assert bits[0] == bits[1], bits


@pytest.mark.parametrize("name", sorted(DECIMAL_ORACLES))
def test_an_aggregate_overflow_on_one_persons_rows_is_no_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    template = DECIMAL_ORACLES[name]
    assert _bit_pair(lambda s: _raw_failed(raw, s), template) == (True, False)
    bits = _bit_pair(lambda s: _failed(loaded, canary, s), template)
    assert bits[0] == bits[1], bits


# -- STDDEV (DuckDB's alias of STDDEV_SAMP) was allowed without the summed-value rules ----------
def _sample_variance(values: list[tuple[float, int]]) -> float:
    n = sum(c for _, c in values)
    mean = sum(v * c for v, c in values) / n
    return sum(c * (v - mean) ** 2 for v, c in values) / (n - 1)


def _decode_window(n: int, top: float, win: float) -> float | None:
    """``top``: the sample stddev of revenue clamped to [999, 1000]; ``win``: clamped to
    [776, 778]. Everyone sits at a bound of the window but one person: solve for them."""
    above = next((m for m in range(0, 20) if math.isclose(
        math.sqrt(_sample_variance([(999, n - m), (1000, m)])) if m else 0.0, top,
        abs_tol=1e-9)), None)
    if above is None:
        return None
    grid = [776 + i / 100 for i in range(1, 200)]
    best = min(grid, key=lambda t: abs(math.sqrt(_sample_variance(
        [(776, n - 1 - above), (778, above), (t, 1)])) - win))
    return best if abs(math.sqrt(_sample_variance(
        [(776, n - 1 - above), (778, above), (best, 1)])) - win) < 1e-6 else None


@pytest.mark.parametrize("agg", ["STDDEV", "STDDEV_SAMP"])
def test_a_stddev_of_a_clamp_window_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, agg: str) -> None:
    truth = first(raw, TARGET_REVENUE)[0]
    sql = (f"SELECT COUNT(*) AS n, {agg}(GREATEST(LEAST(revenue, 1000), 999)) AS top, "
           f"{agg}(GREATEST(LEAST(revenue, 778), 776)) AS win FROM conversions")
    n, top, win = first(raw, sql)
    assert math.isclose(_decode_window(n, top, win) or 0, truth, abs_tol=0.006)
    row = (rows_of(ask(loaded, canary, sql)) or [[None, None, None]])[0]
    decoded = None if None in row else _decode_window(*row)
    assert decoded is None or not math.isclose(decoded, truth, abs_tol=0.006), (decoded, truth)


def _three_values(people: int, total: float, var: float) -> int | None:
    """Everyone at 1 or at 7 but the target at t: the count, the sum and the variance are three
    sums (people, SUM(n), SUM(n^2)); try each count c at 7."""
    squares = var * people + total * total / people
    for c in range(people):
        t = total - (people - 1 - c) - 7 * c
        if 0 < t < 100 and math.isclose((people - 1 - c) + 49 * c + t * t, squares, abs_tol=1e-6):
            return round(t)
    return None


def test_a_spread_beside_its_sum_over_two_crowds_does_not_give_the_targets_count(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = _rows_of_the_target(raw)
    sql = ("WITH p AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) "
           "SELECT COUNT(*) AS people, SUM(n) AS s, VAR_POP(n) AS v FROM p WHERE n IN (1, 7) "
           f"OR user_key IN (SELECT user_key FROM conversions WHERE {TARGET})")
    assert _three_values(*first(raw, sql)) == truth
    row = (rows_of(ask(loaded, canary, sql)) or [[None, None, None]])[0]
    decoded = None if None in row else _three_values(*row)
    assert decoded != truth, (decoded, truth)
