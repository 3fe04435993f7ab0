"""A final SELECT that passes on a set operation is read as that set operation
(``cleanroom/gate/inline.py``): the answer stays the same on raw DuckDB, the shapes it must not
touch stay as written, and the rows so exposed are compared across branches by the release."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cleanroom.gate.inline import inline_passed_sets
from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask

SMALL = "CANARYCHAN7"  # the channel seen by 7 people (tests/canary.py)


@pytest.fixture(scope="module")
def db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i % 7 AS a, i % 3 AS b, i AS v, "
                "CASE WHEN i % 2 = 0 THEN 'x' ELSE 'y' END AS s FROM range(60) r(i)")
    return con


TYPES = {"t": {"a": "BIGINT", "b": "BIGINT", "v": "BIGINT", "s": "VARCHAR"}}

INLINED = {
    "union_all_renamed": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                         "SELECT b, SUM(v) FROM t GROUP BY b) SELECT n AS m, k FROM u",
    "filter_order_limit": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                          "SELECT b, COUNT(v) FROM t GROUP BY b) SELECT k, n FROM u WHERE n > 8 "
                          "ORDER BY n DESC, k LIMIT 4 OFFSET 1",
    "qualified_star_and_order": "SELECT x.* FROM (SELECT s, COUNT(*) AS n FROM t GROUP BY s "
                                "UNION ALL SELECT 'all', COUNT(*) FROM t) AS x ORDER BY x.n DESC, 1",
    "order_by_expression": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                           "SELECT b, COUNT(*) FROM t GROUP BY b) SELECT k, n AS n FROM u "
                           "ORDER BY -u.n, k",
    "order_by_all": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                    "SELECT k FROM u ORDER BY ALL DESC",
    "star_exclude": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                    "SELECT b, COUNT(*) FROM t GROUP BY b) SELECT * EXCLUDE (k) FROM u ORDER BY n",
    "expression_over_union_all": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a "
                                 "UNION ALL SELECT b, COUNT(*) FROM t GROUP BY b) "
                                 "SELECT k, n * 100 AS pct FROM u ORDER BY 1, 2",
    "star_of_a_subquery": "SELECT * FROM (SELECT s, COUNT(*) AS n FROM t GROUP BY s UNION ALL "
                          "SELECT 'all', COUNT(*) FROM t) AS x WHERE n > 1 ORDER BY n",
    "column_list_of_the_cte": "WITH u(k, n) AS (SELECT a, COUNT(*) FROM t GROUP BY a UNION ALL "
                              "SELECT b, COUNT(*) FROM t GROUP BY b) SELECT u.k, u.n FROM u",
    "union_distinct_every_column": "WITH u AS (SELECT a AS k FROM t UNION SELECT b FROM t) "
                                   "SELECT k FROM u WHERE k < 5 ORDER BY k",
    "except_permuted": "WITH u AS (SELECT a, b FROM t EXCEPT SELECT b, a FROM t) "
                       "SELECT b, a FROM u ORDER BY 1, 2",
    "intersect_all": "WITH u AS (SELECT a, b FROM t INTERSECT ALL SELECT b, a FROM t) "
                     "SELECT a, b FROM u WHERE a > 0 ORDER BY a, b",
    "three_branches": "WITH u AS (SELECT 'a' AS w, COUNT(*) AS n FROM t UNION ALL "
                      "SELECT 'b', COUNT(*) FROM t WHERE a = 1 UNION ALL SELECT 'c', SUM(v) "
                      "FROM t) SELECT w, n FROM u ORDER BY w",
    "kept_cte_read_elsewhere": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t), "
                               "w AS (SELECT COUNT(*) AS c FROM u) SELECT k FROM u",
    "subquery_without_a_name": "SELECT * FROM (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a "
                               "UNION ALL SELECT b, COUNT(*) FROM t GROUP BY b) ORDER BY k, n",
    # A set operation casts each column to one type for all its branches: an expression or a
    # filter pushed into a branch reads the branch's column cast to it (review round 6).
    "filter_over_a_sum_beside_a_count": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY "
                                        "a UNION ALL SELECT b, SUM(v) FROM t GROUP BY b) "
                                        "SELECT k, n FROM u WHERE n > 8",
    "integer_division_beside_a_double": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY "
                                        "a UNION ALL SELECT b, AVG(v) FROM t GROUP BY b) "
                                        "SELECT k, n // 7 AS m FROM u",
    "text_filter_of_an_integer_beside_text": "WITH u AS (SELECT a AS k FROM t UNION ALL "
                                             "SELECT s FROM t) SELECT k FROM u WHERE k < '5'",
    "cast_in_a_nested_pass": "SELECT * FROM (SELECT k, n // 7 AS m FROM (SELECT a AS k, COUNT(*) "
                             "AS n FROM t GROUP BY a UNION ALL SELECT b, AVG(v) FROM t GROUP BY b) "
                             "AS p WHERE n > 1) AS q ORDER BY k, m",
    "nested_set_operation": "WITH u AS ((SELECT a AS k FROM t UNION SELECT b FROM t) UNION ALL "
                            "SELECT a + 1 FROM t) SELECT k FROM u WHERE k > 2 ORDER BY k",
    "passed_twice": "SELECT * FROM (SELECT * FROM (SELECT a FROM t UNION ALL SELECT b FROM t) "
                    "AS p WHERE a > 1) AS q ORDER BY a",
    # A value subquery in the filter that reads none of the relation's columns: evaluated in
    # every branch, the same value (round 6: left as written, its rows were not compared).
    "value_subquery_in_filter": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a "
                                "UNION ALL SELECT b, SUM(v) FROM t GROUP BY b) SELECT k, n FROM u "
                                "WHERE n > (SELECT AVG(v) FROM t) ORDER BY k, n",
    "in_subquery_in_filter": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                             "SELECT k FROM u WHERE k IN (SELECT b FROM t WHERE v > 3)",
    "exists_beside_a_cast": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                            "SELECT b, AVG(v) FROM t GROUP BY b) SELECT k, n // 7 AS m FROM u "
                            "WHERE EXISTS (SELECT 1 FROM t AS x WHERE x.v // 7 = 3) AND n // 7 > 0",
    # The branch's k is cast to text; the subquery's own x.k is not (cast, '10' < '5').
    "subquery_column_of_a_cast_name": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT s FROM t) "
                                      "SELECT k FROM u WHERE k < '5' AND EXISTS (SELECT 1 FROM "
                                      "(SELECT v AS k FROM t WHERE v > 9) AS x WHERE x.k < '5')",
    "subquery_reading_the_cte": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                                "SELECT k FROM u WHERE k > (SELECT AVG(w.k) FROM u AS w)",
    # A join of relations of constants distributes over a UNION ALL (each branch joins them).
    "cross_join_of_constants": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a "
                               "UNION ALL SELECT b, SUM(v) FROM t GROUP BY b) SELECT k, n, one "
                               "FROM u, (SELECT 1 AS one) AS o ORDER BY k, n",
    "cross_join_repeats_rows": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                               "SELECT k * x AS m FROM u CROSS JOIN (VALUES (1), (2)) AS v(x)",
    "left_join_on_a_cast": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT s FROM t) "
                           "SELECT k, x FROM u LEFT JOIN (VALUES (1), (2)) AS v(x) "
                           "ON k < '3' AND x = 1",
    "inner_join_drops_rows": "SELECT x.k, c.w FROM (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                             "AS x JOIN (VALUES (2), (3)) AS c(w) ON x.k = c.w",
    # A WITH inside the subquery read: moved to the query's own WITH.
    "with_inside_a_subquery": "SELECT * FROM (WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t "
                              "GROUP BY a UNION ALL SELECT b, SUM(v) FROM t GROUP BY b) "
                              "SELECT * FROM u) AS v ORDER BY k, n",
    "with_inside_beside_an_outer_with": "WITH w AS (SELECT a, v FROM t WHERE v > 5) SELECT k FROM "
                                        "(WITH u AS (SELECT a AS k FROM w UNION ALL SELECT v FROM "
                                        "w) SELECT k FROM u WHERE k > 1) AS q ORDER BY k",
    # DISTINCT (or GROUP BY every column) over a UNION ALL of aggregates: their UNION.
    "distinct_over_aggregates": "WITH u AS (SELECT a % 2 AS k, COUNT(*) AS n FROM t GROUP BY 1 "
                                "UNION ALL SELECT b % 2, COUNT(*) FROM t GROUP BY 1) "
                                "SELECT DISTINCT k, n FROM u",
    "group_by_every_column_over_aggregates": "WITH u AS (SELECT a % 2 AS k, COUNT(*) AS n FROM t "
                                             "GROUP BY 1 UNION ALL SELECT 1, 30) SELECT n, k FROM "
                                             "u GROUP BY k, n ORDER BY n",
    "group_by_positions_over_aggregates": "WITH u AS (SELECT s AS k, COUNT(*) AS n FROM t GROUP BY "
                                          "s UNION ALL SELECT 'x', 30) SELECT k, n + 1 AS m FROM u "
                                          "GROUP BY 1, 2",
}

# A final UNION ALL whose branches pass on a UNION ALL: each such branch is that UNION ALL,
# parenthesised (DuckDB then casts its columns to its own branches' types first).
FLATTENED = {
    "set_operation_above": "WITH u AS (SELECT a AS k, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                           "SELECT b, SUM(v) FROM t GROUP BY b) SELECT k, n FROM u UNION ALL "
                           "SELECT 9, 0 ORDER BY k, n",
    "set_operation_below": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                           "SELECT 'z' AS w, 1 AS k UNION ALL SELECT 'u', k + 1 FROM u WHERE k > 1",
    "double_then_text": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT v / 2 FROM t) "
                        "SELECT k FROM u UNION ALL SELECT 'x'",
    "integer_then_double_expression": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT AVG(v) "
                                      "FROM t GROUP BY b) SELECT k // 2 AS h FROM u UNION ALL "
                                      "SELECT 0.5",
    "two_readers": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT s FROM t) SELECT k FROM u "
                   "UNION ALL SELECT k FROM u WHERE k < '3' UNION ALL SELECT 2",
    "every_cte_inlined": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t) "
                         "SELECT k FROM u UNION ALL SELECT 7 ORDER BY k",
    "under_an_intersect_in_a_cte": "WITH u AS (SELECT a AS k FROM t UNION ALL SELECT b FROM t), "
                                   "w AS (SELECT a FROM t INTERSECT SELECT b FROM t) "
                                   "SELECT k FROM u UNION ALL SELECT a FROM w",
    "subquery_reader": "SELECT k FROM (SELECT a AS k FROM t UNION ALL SELECT b FROM t) AS x "
                       "UNION ALL SELECT 1.5 ORDER BY 1",
}

LEFT_AS_WRITTEN = {
    # UNION compares whole rows: projecting one column after it is not projecting before it.
    "union_distinct_subset": "WITH u AS (SELECT a, b FROM t UNION SELECT b, a FROM t) "
                             "SELECT a FROM u",
    "order_by_a_dropped_column": "WITH u AS (SELECT a, b FROM t UNION ALL SELECT b, a FROM t) "
                                 "SELECT a FROM u ORDER BY b",
    "aggregate_over_the_union": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                                "SELECT COUNT(*) FROM u",
    "distinct_over_the_union": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                               "SELECT DISTINCT a FROM u",
    "join": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
            "SELECT u.a FROM u JOIN t ON u.a = t.a",
    # Joins that do not distribute, or relations that are not constants.
    "join_of_a_cte_of_constants": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t), "
                                  "o AS (SELECT 1 AS one) SELECT a, one FROM u, o",
    "right_join_of_constants": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                               "SELECT a, x FROM u RIGHT JOIN (VALUES (1)) AS v(x) ON a = x",
    "full_join_of_constants": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                              "SELECT a, x FROM u FULL JOIN (VALUES (1)) AS v(x) ON a = x",
    "join_of_a_constant_under_a_union": "WITH u AS (SELECT a FROM t UNION SELECT b FROM t) "
                                        "SELECT a, x FROM u, (VALUES (1), (1)) AS v(x)",
    "lateral_reference_in_the_join": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                                     "SELECT a, m FROM u, (SELECT u.a + 1 AS m) AS o",
    "star_over_a_join": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                        "SELECT * FROM u, (SELECT 1 AS one) AS o",
    "a_name_of_both_sides": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                            "SELECT o.a FROM u, (SELECT 1 AS a) AS o",
    "limit_inside": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t LIMIT 3) "
                    "SELECT a FROM u",
    "subquery_in_filter": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                          "SELECT a FROM u WHERE a > (SELECT AVG(a) FROM t)",
    "window": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
              "SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM u",
    "recursive": "WITH RECURSIVE u AS (SELECT 1 AS a UNION ALL SELECT a + 1 FROM u WHERE a < 3) "
                 "SELECT a FROM u",
    # A subquery that may read the relation's column (correlated): its type would differ.
    "correlated_subquery": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                           "SELECT a FROM u WHERE EXISTS (SELECT 1 FROM t AS x WHERE x.v = u.a)",
    "unqualified_name_in_subquery": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                                    "SELECT a FROM u WHERE a IN (SELECT a FROM t)",
    # DISTINCT over rows that aggregate nothing: thresholded as written.
    "distinct_over_rows": "WITH u AS (SELECT a, b FROM t UNION ALL SELECT b, a FROM t) "
                          "SELECT DISTINCT a, b FROM u",
    "distinct_on": "WITH u AS (SELECT a, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                   "SELECT b, COUNT(*) FROM t GROUP BY b) SELECT DISTINCT ON (a) a, n FROM u",
    "group_by_a_column_not_projected": "WITH u AS (SELECT a, COUNT(*) AS n FROM t GROUP BY a "
                                       "UNION ALL SELECT b, COUNT(*) FROM t GROUP BY b) "
                                       "SELECT a FROM u GROUP BY a, n",
    "group_by_with_having": "WITH u AS (SELECT a, COUNT(*) AS n FROM t GROUP BY a UNION ALL "
                            "SELECT b, COUNT(*) FROM t GROUP BY b) SELECT a, n FROM u "
                            "GROUP BY a, n HAVING a > 1",
    "distinct_over_intersect": "WITH u AS (SELECT a, COUNT(*) AS n FROM t GROUP BY a INTERSECT "
                               "ALL SELECT b, COUNT(*) FROM t GROUP BY b) SELECT DISTINCT a, n FROM u",
    # A WITH inside whose name the query reads elsewhere: not moved.
    "with_inside_a_name_read_outside": "WITH u AS (SELECT 1 AS k) SELECT * FROM (WITH u AS "
                                       "(SELECT a AS k FROM t UNION ALL SELECT b FROM t) SELECT * "
                                       "FROM u) AS v",
    # (a UNION ALL b) UNION c: the UNION compares whole rows of every branch.
    "union_above": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) SELECT a FROM u "
                   "UNION SELECT 1",
    "union_all_below_a_union": "WITH u AS (SELECT a FROM t UNION SELECT b FROM t) SELECT a FROM u "
                               "UNION ALL SELECT 1",
}


def _rows(con: duckdb.DuckDBPyConnection, tree: exp.Expr) -> list[tuple[object, ...]]:
    return con.execute(tree.sql("duckdb")).fetchall()


@pytest.mark.parametrize("query", INLINED.values(), ids=INLINED.keys())
def test_the_set_operation_is_final_and_the_answer_unchanged(
        db: duckdb.DuckDBPyConnection, query: str) -> None:
    before = sqlglot.parse_one(query, read="duckdb")
    after = inline_passed_sets(before.copy(), TYPES)
    assert isinstance(after, exp.SetOperation), after.sql("duckdb")
    ordered = before.args.get("order") is not None
    want, got = _rows(db, before), _rows(db, after)
    assert (got if ordered else sorted(got, key=repr)) == \
        (want if ordered else sorted(want, key=repr))
    assert [c for c in db.execute(after.sql("duckdb")).description] and \
        [d[0] for d in db.execute(after.sql("duckdb")).description] == \
        [d[0] for d in db.execute(before.sql("duckdb")).description]


@pytest.mark.parametrize("query", FLATTENED.values(), ids=FLATTENED.keys())
def test_a_union_all_read_in_a_union_all_is_its_branch_and_the_answer_unchanged(
        db: duckdb.DuckDBPyConnection, query: str) -> None:
    before = sqlglot.parse_one(query, read="duckdb")
    after = inline_passed_sets(before.copy(), TYPES)
    inner = [s for s in after.find_all(exp.Subquery)
             if isinstance(s.this, exp.Union) and isinstance(s.parent, exp.Union)]
    assert isinstance(after, exp.Union) and inner, after.sql("duckdb")
    assert not any(t.name == "u" for t in after.find_all(exp.Table)
                   if t.find_ancestor(exp.With) is None), after.sql("duckdb")
    test_the_set_operation_is_final_and_the_answer_unchanged(db, query)


def test_the_union_of_aggregates_a_distinct_is_read_as_is_refused(
        loaded: Harness, canary: CanaryData) -> None:
    """``SELECT DISTINCT`` over a UNION ALL of counts says which counts are equal, as their
    UNION would: it is read as that UNION, refused as it is (``aggregate_set_comparison``)."""
    body = ask(loaded, canary, f"WITH u AS ({PAIR}) SELECT DISTINCT who, n FROM u")
    rules = [v["rule"] for v in body["error"]["violations"]]
    assert rules == ["aggregate_set_comparison"], body
    assert "DISTINCT" in body["error"]["violations"][0]["message"], body


@pytest.mark.parametrize("query", LEFT_AS_WRITTEN.values(), ids=LEFT_AS_WRITTEN.keys())
def test_shapes_it_cannot_keep_are_left_as_written(query: str) -> None:
    before = sqlglot.parse_one(query, read="duckdb")
    assert inline_passed_sets(before.copy(), TYPES).sql("duckdb") == before.sql("duckdb")


PAIR = ("SELECT 'all' AS who, COUNT(DISTINCT user_key) AS n FROM impressions UNION ALL "
        f"SELECT 'most', COUNT(DISTINCT user_key) FROM impressions WHERE channel <> '{SMALL}'")


# Written as the rewrite reads a join of constants: each branch joins them (passes.py).
JOINED = " UNION ALL ".join(
    f"SELECT who, n FROM ({b}) AS u(who, n) CROSS JOIN (VALUES (1), (2)) AS v(x)" for b in (
        "SELECT 'all', COUNT(DISTINCT user_key) FROM impressions",
        f"SELECT 'most', COUNT(DISTINCT user_key) FROM impressions WHERE channel <> '{SMALL}'"))


@pytest.mark.parametrize("sql", [
    f"WITH u AS ({PAIR}) SELECT who, n FROM u WHERE n > 0 ORDER BY who",
    f"SELECT * FROM ({PAIR}) AS u",
    f"WITH u AS ({PAIR}), v AS (SELECT 1 AS one) SELECT n, who FROM u",
    f"SELECT * FROM ({PAIR}) ORDER BY who",
    JOINED,
], ids=["filtered_and_ordered", "subquery_star", "beside_another_cte", "subquery_without_a_name",
        "branches_joining_constants"])
def test_two_passed_on_rows_seven_people_apart_are_not_both_released(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = dict(raw.execute(PAIR).fetchall())
    assert truth["all"] - truth["most"] == 7  # the decoder reads the small channel's people
    body = ask(loaded, canary, sql)
    names = body["columns"]
    released = {r[names.index("who")]: r[names.index("n")] for r in body["rows"]
                if r[names.index("n")] is not None}
    assert not {"all", "most"} <= set(released), body
    assert released and all(truth[w] == n for w, n in released.items()), body
