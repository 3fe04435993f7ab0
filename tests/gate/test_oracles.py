"""No oracles: two queries that differ only in a condition about one person (canary person
100 has revenue 777.77 and nobody has 1777.77; 3 people saw CANARYCAMP3, nobody saw NOPE)
get answers of the same status and shape, and the same body when they fail: no run-time error
depends on one person's data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness

PAIRS = {
    "case_casts_bad_text": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions
        WHERE CASE WHEN revenue = {rev} THEN CAST('bad' AS INTEGER) ELSE 1 END = 1 GROUP BY g""",
    "case_implicit_cast": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions
        WHERE (CASE WHEN revenue = {rev} THEN 'bad' ELSE '1' END) = 1 GROUP BY g""",
    "integer_division_by_zero": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions
        WHERE 1 // (CASE WHEN revenue = {rev} THEN 0 ELSE 1 END) = 1 GROUP BY g""",
    "modulo_by_zero_in_per_user_cte": """WITH u AS (SELECT user_key,
            SUM(CASE WHEN revenue = {rev} THEN 1 ELSE 0 END) AS hit FROM conversions GROUP BY user_key)
        SELECT COUNT(*) AS n FROM u WHERE 10 % (1 - hit) >= 0""",
    "overflow": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions
        WHERE (CASE WHEN revenue = {rev} THEN 9223372036854775807 ELSE 1 END) + 1 > 0 GROUP BY g""",
    "date_out_of_range": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions
        WHERE make_date(2026, CASE WHEN revenue = {rev} THEN 13 ELSE 1 END, 1) IS NOT NULL GROUP BY g""",
    "invalid_pattern": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions
        WHERE regexp_matches('a', CASE WHEN revenue = {rev} THEN '(' ELSE 'a' END) GROUP BY g""",
    "small_group_aggregate_overflow": """SELECT campaign,
        CASE WHEN campaign = '{camp}' THEN COUNT(*) * 3074457345618258602 END AS x
        FROM impressions GROUP BY campaign""",
    "small_group_division": """SELECT campaign,
        100 // (COUNT(*) - CASE WHEN campaign = '{camp}' THEN 6 ELSE 0 END) AS x
        FROM impressions GROUP BY campaign""",
    "having_on_a_few_people": """SELECT 'x' AS g, COUNT(*) AS n FROM conversions GROUP BY g
        HAVING SUM(revenue) FILTER (WHERE revenue = {rev}) > 0""",
    "window_cast_in_per_user_rows": """WITH t AS (SELECT user_key, revenue,
            LAG(CASE WHEN revenue = {rev} THEN 'bad' ELSE '1' END) OVER (PARTITION BY user_key ORDER BY ts) AS p,
            CAST(CASE WHEN revenue = {rev} THEN 'bad' ELSE '1' END AS INTEGER) AS q
            FROM conversions)
        SELECT COUNT(*) AS n FROM t WHERE q = 1""",
    # A final SELECT passing on a CTE's UNION ALL is read as that set operation
    # (gate/inline.py): its branches' conditions stay guarded.
    "renamed_columns_of_a_passed_on_union": """WITH u AS (SELECT 'x' AS g, COUNT(*) AS n
            FROM conversions WHERE (CASE WHEN revenue = {rev} THEN 'bad' ELSE '1' END) = 1
            UNION ALL SELECT 'y', COUNT(*) FROM conversions) SELECT g, n FROM u""",
    # One NULL in a NOT IN list makes every row's condition NULL: the list of user_keys must
    # not hold the NULL that one person's outer join yields.
    "not_in_list_with_a_null_key": """SELECT 'x' AS g, COUNT(*) AS n FROM impressions
        WHERE user_key NOT IN (SELECT b.user_key FROM conversions a LEFT JOIN impressions b
            ON a.user_key = b.user_key AND b.channel = 'NOPE' WHERE a.revenue = {rev}) GROUP BY g""",
    "correlated_not_in_with_a_null_key": """SELECT 'x' AS g, COUNT(*) AS n FROM impressions i
        WHERE i.user_key NOT IN (SELECT b.user_key FROM conversions a LEFT JOIN impressions b
            ON a.user_key = b.user_key AND b.channel = 'NOPE'
            WHERE a.revenue = {rev} AND a.ts > i.ts - INTERVAL 1000 DAY) GROUP BY g""",
}


def _shape(response: Any) -> Any:
    body = response.json()
    if response.status_code != 200:
        return response.status_code, body
    return response.status_code, body["columns"], len(body["rows"]), body["suppressed_rows"]


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_condition_on_one_person_is_not_observable(loaded: Harness, name: str) -> None:
    target = loaded.query(PAIRS[name].format(rev="777.77", camp="CANARYCAMP3"))
    nobody = loaded.query(PAIRS[name].format(rev="1777.77", camp="NOPE"))
    assert target.status_code == 200, target.text
    assert _shape(target) == _shape(nobody)
