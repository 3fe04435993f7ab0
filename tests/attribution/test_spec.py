"""Bad options and bad tables raise ValueError; DuckDB failures a fixed RuntimeError. No message
ever carries a value from the request or the data (a canary string checks it)."""

from __future__ import annotations

import math
from dataclasses import replace

import duckdb
import pytest

from cleanroom.attribution import MODELS, AttributionSpec, heuristics, run_attribution

from .helpers import conversion_table, locked, touch_table

CANARY = "canary-7f3a"
GOOD = AttributionSpec("linear", "touches", "conversions", "channel", 30)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return locked({
        "touches": touch_table([("u1", "2024-01-01 00:00", CANARY)]),
        "conversions": conversion_table([("u1", "2024-01-02 00:00", 1.0)]),
    })  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"model": CANARY},
        {"lookback_days": 0}, {"lookback_days": -1.0}, {"lookback_days": math.nan},
        {"lookback_days": math.inf}, {"lookback_days": True}, {"lookback_days": "30"},
        {"lookback_days": 1e6},
        {"half_life_days": 0.0}, {"half_life_days": math.nan}, {"half_life_days": None},
        {"order": 0}, {"order": 5}, {"order": 1.0}, {"order": True},
        {"min_people": 0}, {"min_people": 2.0}, {"min_people": True},
        {"touchpoints": ""}, {"dimension": None}, {"revenue": ""},
        {"touchpoints": CANARY}, {"conversions": CANARY},
        {"dimension": CANARY}, {"revenue": CANARY}, {"user_key": CANARY}, {"ts": CANARY},
        {"ts": "channel"},
    ],
)  # fmt: skip
def test_bad_options_raise_value_error(
    con: duckdb.DuckDBPyConnection, change: dict[str, object]
) -> None:
    with pytest.raises(ValueError) as info:
        run_attribution(con, replace(GOOD, **change))  # type: ignore[arg-type]
    assert CANARY not in str(info.value)


def test_every_model_runs(con: duckdb.DuckDBPyConnection) -> None:
    for model in MODELS:
        result = run_attribution(con, replace(GOOD, model=model))
        assert result.rows == ((CANARY, 1.0, 1.0),) and result.users == (1,)


def test_unusable_types_are_value_errors() -> None:
    con = locked({})
    con.execute(f"CREATE TABLE t AS SELECT 1 AS user_key, TIMESTAMP '2024-01-01' AS ts, 'a' AS channel,"
                f" '{CANARY}' AS revenue")  # fmt: skip
    con.execute(
        "CREATE TABLE c AS SELECT 'u1' AS user_key, TIMESTAMP '2024-01-02' AS ts, "
        f"'{CANARY}' AS revenue, '2024-01-01' AS day, TIMESTAMPTZ '2024-01-01' AS tz"
    )
    base = AttributionSpec("linear", "c", "c", "revenue", 30)
    for spec in (
        replace(base, touchpoints="t"),  # user_key types differ
        base,  # revenue is text
        replace(base, ts="day", revenue=None),  # a text ts
        replace(base, ts="tz", revenue=None),  # a zoned ts depends on the session's time zone
    ):
        with pytest.raises(ValueError) as info:
            run_attribution(con, spec)
        assert CANARY not in str(info.value)


def test_duckdb_failures_are_wrapped_without_their_message(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heuristics, "heuristic_sql", lambda spec: f"SELECT error('{CANARY}')")
    with pytest.raises(RuntimeError) as info:
        run_attribution(con, GOOD)
    assert str(info.value) == "attribution query failed"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_quoted_identifiers_are_used_verbatim() -> None:
    con = locked({})
    con.execute(
        'CREATE TABLE "odd ""name""" ("who key" VARCHAR, "when" TIMESTAMP, "by what" VARCHAR)'
    )
    con.execute("INSERT INTO \"odd \"\"name\"\"\" VALUES ('u1', TIMESTAMP '2024-01-01', 'a')")
    con.execute('CREATE TABLE "conv ersions" ("who key" VARCHAR, "when" TIMESTAMP, "re venue" INT)')
    con.execute("INSERT INTO \"conv ersions\" VALUES ('u1', TIMESTAMP '2024-01-02', 5)")
    spec = AttributionSpec("markov", 'odd "name"', "conv ersions", "by what", 30,
                           revenue="re venue", user_key="who key", ts="when")  # fmt: skip
    assert run_attribution(con, spec).rows == (("a", 1.0, 5.0),)
