"""Hand-computed cases for the rule-based models and the path rules they share.

The data set (lookback 10 days, half-life 1 day) and each person's path:

  u1  A 01-01, B 01-02, C 01-03; converts 01-04 for 100           -> A B C, value 100
  u2  B 01-05; converts 01-06 with NULL revenue                   -> B, value 0
  u3  X 12-30 23:59 (one minute too old), C 12-31 00:00 (exactly at the lookback edge),
      A 01-05, Y 01-10 00:00 (at the conversion: excluded), Z 01-11 (after);
      converts 01-10 for 50, and again 01-20 for 1000 (ignored)   -> C A, value 50
  u4  converts 01-03 for 70 without any touch                     -> dropped
  u5  B and A both at 01-07 12:00 (a tie: ordered by value); converts 01-08 for 10 -> A B
  u6  A 01-01, A 01-02, B 01-03; converts 01-04 for 30            -> A A B (repeats kept)
  u7  V 01-09, never converts                                      -> no credit anywhere
  u8  B 01-10, C 01-11, C 01-12, A 01-13 12:00; converts 01-14 for 20 -> B C C A
  u9  W 01-01; converts 02-01 for 80 (touch outside the lookback)  -> dropped
"""

from __future__ import annotations

from fractions import Fraction as F

import duckdb
import pytest

from cleanroom.attribution import AttributionSpec, run_attribution

from .helpers import conversion_table, locked, touch_table

TOUCHES = [
    ("u1", "2024-01-01 00:00", "A"), ("u1", "2024-01-02 00:00", "B"),
    ("u1", "2024-01-03 00:00", "C"),
    ("u2", "2024-01-05 00:00", "B"),
    ("u3", "2023-12-30 23:59", "X"), ("u3", "2023-12-31 00:00", "C"),
    ("u3", "2024-01-05 00:00", "A"), ("u3", "2024-01-10 00:00", "Y"),
    ("u3", "2024-01-11 00:00", "Z"),
    ("u5", "2024-01-07 12:00", "B"), ("u5", "2024-01-07 12:00", "A"),
    ("u6", "2024-01-01 00:00", "A"), ("u6", "2024-01-02 00:00", "A"),
    ("u6", "2024-01-03 00:00", "B"),
    ("u7", "2024-01-09 00:00", "V"),
    ("u8", "2024-01-10 00:00", "B"), ("u8", "2024-01-11 00:00", "C"),
    ("u8", "2024-01-12 00:00", "C"), ("u8", "2024-01-13 12:00", "A"),
    ("u9", "2024-01-01 00:00", "W"),
]  # fmt: skip
CONVERSIONS = [
    ("u1", "2024-01-04 00:00", 100.0), ("u2", "2024-01-06 00:00", None),
    ("u3", "2024-01-20 00:00", 1000.0), ("u3", "2024-01-10 00:00", 50.0),
    ("u4", "2024-01-03 00:00", 70.0), ("u5", "2024-01-08 00:00", 10.0),
    ("u6", "2024-01-04 00:00", 30.0), ("u8", "2024-01-14 00:00", 20.0),
    ("u9", "2024-02-01 00:00", 80.0),
]  # fmt: skip
VALUES = {"u1": 100, "u2": 0, "u3": 50, "u5": 10, "u6": 30, "u8": 20}

# Per person: the share of their one conversion each channel receives.
CREDITS: dict[str, dict[str, dict[str, float | F]]] = {
    "first_touch": {
        "u1": {"A": 1},
        "u2": {"B": 1},
        "u3": {"C": 1},
        "u5": {"A": 1},
        "u6": {"A": 1},
        "u8": {"B": 1},
    },
    "last_touch": {
        "u1": {"C": 1},
        "u2": {"B": 1},
        "u3": {"A": 1},
        "u5": {"B": 1},
        "u6": {"B": 1},
        "u8": {"A": 1},
    },
    "linear": {
        "u1": {"A": F(1, 3), "B": F(1, 3), "C": F(1, 3)},
        "u2": {"B": 1},
        "u3": {"C": F(1, 2), "A": F(1, 2)},
        "u5": {"A": F(1, 2), "B": F(1, 2)},
        "u6": {"A": F(2, 3), "B": F(1, 3)},
        "u8": {"B": F(1, 4), "C": F(1, 2), "A": F(1, 4)},
    },
    "position_based": {  # 40/20/40; one touch 1, two touches 0.5 each; middles share 0.2
        "u1": {"A": F(4, 10), "B": F(2, 10), "C": F(4, 10)},
        "u2": {"B": 1},
        "u3": {"C": F(1, 2), "A": F(1, 2)},
        "u5": {"A": F(1, 2), "B": F(1, 2)},
        "u6": {"A": F(6, 10), "B": F(4, 10)},
        "u8": {"B": F(4, 10), "C": F(1, 10) + F(1, 10), "A": F(4, 10)},
    },
    "shapley": {  # equal split over the distinct channels of the path
        "u1": {"A": F(1, 3), "B": F(1, 3), "C": F(1, 3)},
        "u2": {"B": 1},
        "u3": {"C": F(1, 2), "A": F(1, 2)},
        "u5": {"A": F(1, 2), "B": F(1, 2)},
        "u6": {"A": F(1, 2), "B": F(1, 2)},
        "u8": {"B": F(1, 3), "C": F(1, 3), "A": F(1, 3)},
    },
}
# Time decay, half-life one day: weight 2 ** -(days before the conversion), normalised per path.
_U8 = 2**-4 + 2**-3 + 2**-2 + 2**-0.5
CREDITS["time_decay"] = {
    "u1": {"A": F(1, 7), "B": F(2, 7), "C": F(4, 7)},  # 3, 2 and 1 days before
    "u2": {"B": 1},
    "u3": {"C": F(1, 33), "A": F(32, 33)},  # 10 and 5 days: 2**-10 : 2**-5
    "u5": {"A": F(1, 2), "B": F(1, 2)},
    "u6": {"A": F(3, 7), "B": F(4, 7)},  # 2**-3 + 2**-2 : 2**-1
    "u8": {"B": 2**-4 / _U8, "C": (2**-3 + 2**-2) / _U8, "A": 2**-0.5 / _U8},  # A: 12 h
}


def expected_rows(model: str) -> tuple[list[tuple[str, float, float]], list[int]]:
    totals: dict[str, list[float]] = {}
    for user, shares in CREDITS[model].items():
        for channel, share in shares.items():
            row = totals.setdefault(channel, [0.0, 0.0, 0])
            row[0] += float(share)
            row[1] += float(share) * VALUES[user]
            row[2] += 1
    names = sorted(totals)
    return [(c, totals[c][0], totals[c][1]) for c in names], [int(totals[c][2]) for c in names]


def spec(model: str, revenue: str | None = "revenue") -> AttributionSpec:
    return AttributionSpec(
        model, "touches", "conversions", "channel", 10, revenue=revenue, half_life_days=1.0
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return locked({"touches": touch_table(TOUCHES), "conversions": conversion_table(CONVERSIONS)})


@pytest.mark.parametrize("model", sorted(CREDITS))
def test_hand_computed(con: duckdb.DuckDBPyConnection, model: str) -> None:
    result = run_attribution(con, spec(model))
    rows, users = expected_rows(model)
    assert result.columns == ("channel", "conversions", "revenue")
    assert [r[0] for r in result.rows] == [r[0] for r in rows]
    for got, want in zip(result.rows, rows):
        assert got[1:] == pytest.approx(want[1:], rel=1e-12)
    assert list(result.users) == users


@pytest.mark.parametrize("model", sorted(CREDITS) + ["markov"])
def test_totals_are_one_conversion_and_the_value_per_person(
    con: duckdb.DuckDBPyConnection, model: str
) -> None:
    result = run_attribution(con, spec(model))
    assert sum(r[1] for r in result.rows) == pytest.approx(len(VALUES), rel=1e-12)
    assert sum(r[2] for r in result.rows) == pytest.approx(sum(VALUES.values()), rel=1e-12)
    assert not {"V", "W", "X", "Y", "Z"} & {r[0] for r in result.rows}


def test_no_revenue_column_gives_zero_revenue(con: duckdb.DuckDBPyConnection) -> None:
    result = run_attribution(con, spec("linear", revenue=None))
    assert [r[2] for r in result.rows] == [0.0, 0.0, 0.0]
    assert sum(r[1] for r in result.rows) == pytest.approx(len(VALUES))


def test_first_conversion_tie_takes_the_larger_revenue_and_later_ones_are_ignored() -> None:
    con = locked({
        "touches": touch_table([("u1", "2024-01-01 00:00", "A")]),
        "conversions": conversion_table([
            ("u1", "2024-01-02 00:00", 5.0), ("u1", "2024-01-02 00:00", 7.0),
            ("u1", "2024-01-03 00:00", 900.0),
        ]),
    })  # fmt: skip
    assert run_attribution(con, spec("first_touch")).rows == (("A", 1.0, 7.0),)


def test_null_dimension_values_are_not_touches() -> None:
    touches = touch_table([("u1", "2024-01-01 00:00", "A"), ("u1", "2024-01-01 06:00", None)])
    con = locked({"touches": touches,
                  "conversions": conversion_table([("u1", "2024-01-02 00:00", 1.0)])})  # fmt: skip
    assert run_attribution(con, spec("last_touch")).rows == (("A", 1.0, 1.0),)


def test_no_converter_with_a_path_gives_no_rows() -> None:
    con = locked({
        "touches": touch_table([("u1", "2024-01-05 00:00", "A")]),
        "conversions": conversion_table([("u1", "2024-01-04 00:00", 1.0)]),
    })  # fmt: skip
    for model in ("linear", "markov"):
        assert run_attribution(con, spec(model)).rows == ()


def test_date_timestamps_and_integer_revenue_are_accepted() -> None:
    con = locked({})
    con.execute("CREATE TABLE touches AS SELECT 'u1' AS user_key, DATE '2024-01-01' AS ts, "
                "'A' AS channel")  # fmt: skip
    con.execute("CREATE TABLE conversions AS SELECT 'u1' AS user_key, DATE '2024-01-02' AS ts, "
                "3 AS revenue")  # fmt: skip
    assert run_attribution(con, spec("time_decay")).rows == (("A", 1.0, 3.0),)
