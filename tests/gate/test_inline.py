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
    "limit_inside": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t LIMIT 3) "
                    "SELECT a FROM u",
    "subquery_in_filter": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
                          "SELECT a FROM u WHERE a > (SELECT AVG(a) FROM t)",
    "window": "WITH u AS (SELECT a FROM t UNION ALL SELECT b FROM t) "
              "SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM u",
    "recursive": "WITH RECURSIVE u AS (SELECT 1 AS a UNION ALL SELECT a + 1 FROM u WHERE a < 3) "
                 "SELECT a FROM u",
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


@pytest.mark.parametrize("query", LEFT_AS_WRITTEN.values(), ids=LEFT_AS_WRITTEN.keys())
def test_shapes_it_cannot_keep_are_left_as_written(query: str) -> None:
    before = sqlglot.parse_one(query, read="duckdb")
    assert inline_passed_sets(before.copy(), TYPES).sql("duckdb") == before.sql("duckdb")


PAIR = ("SELECT 'all' AS who, COUNT(DISTINCT user_key) AS n FROM impressions UNION ALL "
        f"SELECT 'most', COUNT(DISTINCT user_key) FROM impressions WHERE channel <> '{SMALL}'")


@pytest.mark.parametrize("sql", [
    f"WITH u AS ({PAIR}) SELECT who, n FROM u WHERE n > 0 ORDER BY who",
    f"SELECT * FROM ({PAIR}) AS u",
    f"WITH u AS ({PAIR}), v AS (SELECT 1 AS one) SELECT n, who FROM u",
    f"SELECT * FROM ({PAIR}) ORDER BY who",
], ids=["filtered_and_ordered", "subquery_star", "beside_another_cte", "subquery_without_a_name"])
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
