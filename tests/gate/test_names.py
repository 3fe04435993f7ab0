"""An answer's header is raw DuckDB's: unaliased expressions named as DuckDB names them
(``count_star()``, ``sum("cost")``), a CTE's column as its alias was spelled, whatever case the
final SELECT reads it in; the same through /queries, under DP and through /check."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import Harness

NAMED = {
    "unaliased": "SELECT channel, COUNT(*), COUNT(DISTINCT user_key), SUM(cost) "
                 "FROM impressions GROUP BY 1",
    "cte_alias_case": "WITH t AS (SELECT channel AS Chan, COUNT(DISTINCT user_key) AS UniqueIDs "
                      "FROM impressions GROUP BY 1) SELECT chan, uniqueids FROM t",
    "arithmetic": "SELECT channel AS Channel_Name, SUM(cost) / 100, COUNT(*) * 2 "
                  "FROM impressions GROUP BY 1",
    "union_branches": "SELECT 'imp' AS Source, COUNT(DISTINCT user_key) FROM impressions "
                      "UNION ALL SELECT 'conv', COUNT(DISTINCT user_key) FROM conversions",
}


def _raw_names(raw: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [d[0] for d in raw.execute(sql).description or ()]


@pytest.mark.parametrize("name", NAMED)
def test_header_is_raw_duckdbs(loaded: Harness, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    sql = NAMED[name]
    expected = _raw_names(raw, sql)
    answer = loaded.query(sql)
    assert answer.status_code == 200, answer.text
    assert answer.json()["columns"] == expected
    assert loaded.check(sql).json()["columns"] == expected


def test_header_under_dp_is_raw_duckdbs(loaded: Harness, raw: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT channel, COUNT(DISTINCT user_key), SUM(cost) FROM impressions GROUP BY 1"
    answer = loaded.query(sql, epsilon=0.5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["columns"] == _raw_names(raw, sql)
