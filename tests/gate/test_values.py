"""Value-level rules that the corpora do not show by themselves: units named like a column,
the argument ranges recorded for DP, and what DuckDB does with a share of nothing."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from cleanroom.errors import QueryRejected
from cleanroom.gate import Catalog, K, check_query
from cleanroom.gate.analyse import _Analyser
from cleanroom.gate.expressions import Ctx, ExpressionRules
from cleanroom.gate.model import Atoms, Mode

HOURLY = Catalog.of({"visits": {"user_key": K.UID, "ts": K.DIM, "hour": K.DIM, "spend": K.MET}},
                    {"visits": {"spend": (0.0, 50.0)}})


def _rules(table: str = "visits") -> ExpressionRules:
    """The rules of one SELECT over ``table``, as the analyser builds them."""
    analyser = _Analyser(HOURLY)
    select = sqlglot.parse_one(f"SELECT 1 FROM {table}", read="duckdb")
    scope = analyser.read_from(select, {}, Atoms())
    return ExpressionRules(scope, subquery=lambda n: analyser.subquery(n, {}))


@pytest.mark.parametrize("sql", [
    "SELECT AVG(date_diff(hour, ts, ts)) FROM visits",
    "SELECT date_trunc(hour, ts) AS d, COUNT(*) AS n FROM visits GROUP BY 1",
])
def test_unit_named_like_a_column_is_refused(sql: str) -> None:
    with pytest.raises(QueryRejected) as caught:
        check_query(sql, HOURLY, min_users=50)
    assert "unit_not_constant" in {v.rule for v in caught.value.violations}


def test_quoted_unit_beside_a_column_of_that_name_runs() -> None:
    check_query("SELECT AVG(date_diff('hour', ts, ts + INTERVAL 3 HOUR)) AS h FROM visits",
                HOURLY, min_users=50)


def test_bounded_argument_ranges_are_recorded() -> None:
    rules = _rules()
    node = sqlglot.parse_one("SUM(spend * 0.4)", read="duckdb")
    assert rules.check(node, Ctx(Mode.ANONYMIZING)) is K.SAFE
    found = rules.argument_ranges[id(node)]
    assert (found.lo, found.hi) == (0.0, 20.0)
    unbounded = sqlglot.parse_one("SUM(date_diff('day', ts, TIMESTAMP '2026-01-01'))", read="duckdb")
    rules.check(unbounded, Ctx(Mode.ANONYMIZING))
    assert id(unbounded) not in rules.argument_ranges


def test_parts_are_recorded_for_each_branch() -> None:
    rules = _rules()
    node = sqlglot.parse_one("SUM(CASE WHEN hour = '1' THEN 1000000 ELSE 1 END)", read="duckdb")
    rules.check(node, Ctx(Mode.ANONYMIZING))
    parts = [r for r in rules.requirements[id(node)] if r.zero_ok]
    assert len(parts) == 2


def test_a_share_of_nothing_is_infinite_in_duckdb() -> None:
    # docs/gate.md names this as open: SUM(1.0 / n) over a count n of zero says so.
    assert duckdb.sql("SELECT 1.0 / 0").fetchall()[0][0] == float("inf")
