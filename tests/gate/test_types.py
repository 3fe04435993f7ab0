"""Comparisons whose sides have compatible types run without TRY (so DuckDB can join on them,
push them down, and turn ``ROW_NUMBER() ... = 1`` into a top-N); every other one keeps it, and
what can raise inside a comparison is still guarded. The typed SQL runs on data that makes the
guarded parts fail, and answers."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cleanroom.engine import ColumnSpec, Limits, TableSpec, run, sandbox
from cleanroom.gate import Catalog, K, check_query

KINDS = {"impressions": {"user_key": K.UID, "ts": K.DIM, "day": K.DIM, "channel": K.DIM,
                         "label": K.DIM},
         "conversions": {"user_key": K.UID, "ts": K.DIM, "revenue": K.MET}}
TYPES = {"impressions": {"user_key": "VARCHAR", "ts": "TIMESTAMP", "day": "DATE",
                         "channel": "VARCHAR", "label": "VARCHAR"},
         "conversions": {"user_key": "VARCHAR", "ts": "TIMESTAMP", "revenue": "DOUBLE"}}
TYPED = Catalog.of(KINDS, {"conversions": {"revenue": (0.0, 1000.0)}}, types=TYPES)
UNTYPED = Catalog.of(KINDS, {"conversions": {"revenue": (0.0, 1000.0)}})
LAST_TOUCH = """WITH t AS (
    SELECT c.user_key, i.channel, ROW_NUMBER() OVER (PARTITION BY c.user_key ORDER BY i.ts DESC) AS rn
    FROM impressions i JOIN conversions c
      ON i.user_key = c.user_key AND i.ts <= c.ts AND i.ts >= c.ts - INTERVAL 30 DAY)
SELECT channel, COUNT(DISTINCT user_key) AS people FROM t WHERE rn = 1 GROUP BY channel"""


def sql(query: str, catalog: Catalog = TYPED) -> str:
    return check_query(query, catalog, min_users=2).sql


def test_typed_join_and_row_number_filter_run_bare() -> None:
    out = sql(LAST_TOUCH)
    assert "ON i.user_key = c.user_key AND i.ts <= c.ts AND i.ts >= TRY(c.ts - INTERVAL" in out
    assert "WHERE rn = 1" in out


def test_without_types_every_comparison_stays_guarded() -> None:
    out = sql(LAST_TOUCH, UNTYPED)
    assert "TRY(i.ts <= c.ts)" in out and "TRY(rn = 1)" in out


@pytest.mark.parametrize("condition", [
    "i.ts = i.day",          # TIMESTAMP and DATE: a DATE out of TIMESTAMP's range raises
    "i.channel = i.ts",      # VARCHAR read as TIMESTAMP
    "i.day < c.ts",
    "i.ts <= c.ts + i.channel",  # unknown: what the sum's type is
    "c.revenue = 1.5",       # DOUBLE and a DECIMAL literal: not in the known-safe set
])
def test_comparisons_of_other_types_keep_their_try(condition: str) -> None:
    out = sql("SELECT COUNT(DISTINCT i.user_key) AS n FROM impressions i "
              f"JOIN conversions c ON i.user_key = c.user_key WHERE {condition}")
    assert "WHERE TRY(" in out


def test_a_cte_column_of_another_type_keeps_its_try() -> None:
    out = sql("WITH d AS (SELECT user_key, CAST(day AS VARCHAR) AS ts FROM impressions) "
              "SELECT COUNT(DISTINCT d.user_key) AS n FROM d JOIN conversions c "
              "ON d.user_key = c.user_key WHERE d.ts < c.ts")
    assert "WHERE TRY(d.ts < c.ts)" in out


def test_a_subquery_column_list_renames_by_position() -> None:
    """``u(b, a, c)`` makes ``b`` the inner ``a`` (a DATE): ``b = c`` compares a DATE with a
    TIMESTAMP and keeps its TRY (it was typed by the inner names, TIMESTAMP = TIMESTAMP)."""
    out = sql("SELECT COUNT(DISTINCT u.user_key) AS n FROM (SELECT user_key, day AS a, ts AS b, "
              "ts AS c FROM impressions) AS u(user_key, b, a, c) WHERE b = c AND a = c")
    assert "WHERE TRY(b = c) AND a = c" in out


def test_the_ctes_of_a_set_operation_are_typed() -> None:
    """A WITH over a UNION ALL: its CTEs' comparisons are typed like a SELECT's."""
    out = sql(f"{LAST_TOUCH} UNION ALL SELECT channel, COUNT(DISTINCT user_key) FROM t "
              "WHERE rn = 2 GROUP BY channel")
    assert "AND i.ts <= c.ts AND" in out and "WHERE rn = 2" in out


def test_min_of_a_timestamp_is_a_timestamp() -> None:
    out = sql("WITH f AS (SELECT user_key, MIN(ts) AS first_ts FROM impressions GROUP BY user_key) "
              "SELECT COUNT(DISTINCT c.user_key) AS n FROM f JOIN conversions c "
              "ON f.user_key = c.user_key WHERE c.ts >= f.first_ts")
    assert "WHERE c.ts >= f.first_ts" in out


def test_typed_sql_answers_where_its_guarded_parts_fail(tmp_path: Path) -> None:
    """c.ts - 30 days leaves TIMESTAMP's range for the earliest timestamp, and a label that is
    not a date cannot be compared with one: both yield NULL, never an engine error."""
    con = duckdb.connect()
    imp, conv = tmp_path / "i.parquet", tmp_path / "c.parquet"
    con.execute(f"""COPY (SELECT 'u' || (i % 5) AS user_key,
        CASE WHEN i = 0 THEN TIMESTAMP '290309-12-22 (BC) 00:00:00' ELSE TIMESTAMP '2026-09-01' END AS ts,
        DATE '2026-09-01' AS day, 'search' AS channel, 'not a date' AS label
        FROM range(10) t(i)) TO '{imp}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT 'u' || i AS user_key,
        CASE WHEN i = 0 THEN TIMESTAMP '290309-12-22 (BC) 00:00:00' ELSE TIMESTAMP '2026-09-02' END AS ts,
        10.0 AS revenue FROM range(5) t(i)) TO '{conv}' (FORMAT parquet)""")
    specs = [TableSpec("impressions", imp, tuple(ColumnSpec(c, t) for c, t in TYPES["impressions"].items())),
             TableSpec("conversions", conv, (ColumnSpec("user_key", "VARCHAR"),
                                             ColumnSpec("ts", "TIMESTAMP"),
                                             ColumnSpec("revenue", "DOUBLE", (0.0, 1000.0))))]
    queries = [LAST_TOUCH, "SELECT COUNT(DISTINCT i.user_key) AS n FROM impressions i JOIN "
               "conversions c ON i.user_key = c.user_key WHERE i.label = c.ts"]
    with sandbox(specs, Limits(timeout_s=10.0)) as sand:
        for query in queries:
            result = run(sand, sql(query), Limits(timeout_s=10.0))
            assert result.rows


# -- the branch types of a set operation (``types._output_type``) -----------------------------
# Every column type the policy can declare, and the small types functions return.
PROBE_COLUMNS = {"i": "INTEGER", "b": "BIGINT", "h": "HUGEINT", "d": "DOUBLE", "v": "VARCHAR",
                 "ts": "TIMESTAMP", "dt": "DATE", "bo": "BOOLEAN", "dec": "DECIMAL(18,2)",
                 "ti": "TINYINT"}
ATOMS = [*PROBE_COLUMNS, "1", "2.5", "1e3", "NULL", "'a'", "3000000000", "-1", "0.25", "true"]
UNARY = ["abs({})", "round({})", "round({}, 2)", "floor({})", "ceil({})", "trunc({})", "ln({})",
         "sqrt({})", "exp({})", "log({})", "log10({})", "-{}", "({})", "length({})", "lower({})",
         "year({})", "month({})", "extract(dow from {})", "extract(epoch from {})",
         "date_trunc('day', {})", "strftime({}, '%Y')", "sign({})", "{}::DOUBLE",
         "CAST({} AS BIGINT)", "week({})", "concat({}, 'x')", "trim({})", "NOT {}"]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / {}", "{} // {}", "{} % {}", "coalesce({}, {})",
          "greatest({}, {})", "least({}, {})", "nullif({}, {})", "CASE WHEN bo THEN {} ELSE {} END",
          "if(bo, {}, {})", "{} || {}", "power({}, {})", "{} > {}", "CASE WHEN bo THEN {} END",
          "{} + INTERVAL 1 DAY", "date_diff('day', {}, {})"]
AGGREGATES = ["sum({})", "avg({})", "median({})", "quantile_cont({}, 0.5)", "stddev({})",
              "var_pop({})", "min({})", "max({})", "count({})", "count_if({})",
              "approx_count_distinct({})", "sum({}) over ()", "lag({}) over ()"]


def _probe_expressions() -> list[str]:
    import itertools
    import random

    level = {u.format(a) for u in UNARY for a in ATOMS}
    level |= {b.format(x, y) for b in BINARY for x, y in itertools.product(ATOMS, ATOMS)}
    picks = random.Random(7)
    pool = sorted(level)
    nested = {f.format(*(picks.choice(pool) for _ in range(2)))
              for f in picks.choices(UNARY + BINARY, k=1500)}
    over = {g.format(picks.choice(pool)) for g in AGGREGATES for _ in range(60)}
    return sorted({*ATOMS, *level, *nested, *over})


def test_branch_types_never_disagree_with_duckdb() -> None:
    """The types a set operation's branches are cast by (``inline.py``) are DuckDB's own, or
    unknown (then the query is refused): a wrong one would change the answer."""
    import sqlglot

    from cleanroom.gate import types

    raw = duckdb.connect()
    raw.execute("CREATE TABLE t (" + ", ".join(f"{c} {t}" for c, t in PROBE_COLUMNS.items()) + ")")
    raw.execute("INSERT INTO t VALUES (1, 2, 3, 4.5, 'x', TIMESTAMP '2026-01-01', "
                "DATE '2026-01-01', true, 1.25, 3)")
    sources = {"t": {c: types._norm(t) for c, t in PROBE_COLUMNS.items()}}
    wrong, known, valid = [], 0, 0
    for expression in _probe_expressions():
        try:
            truth = raw.execute(f"SELECT typeof(x) FROM (SELECT {expression} AS x FROM t)"
                                ).fetchone()[0].strip('"')  # type: ignore[index]
        except duckdb.Error:
            continue
        valid += 1
        node = sqlglot.parse_one(f"SELECT {expression} AS x FROM t", read="duckdb")
        got = types._output_type(node.expressions[0].unalias(), sources)
        known += got is not None
        if got is not None and got != truth:
            wrong.append((expression, got, truth))
    assert not wrong, wrong[:20]
    assert valid > 3000 and known > valid // 2, (valid, known)  # most of them are known
