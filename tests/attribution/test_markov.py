"""The exact Markov model against small chains solved by hand.

Order 1 (lookback 10 days). Paths: u1 A > B converts for 10, u2 A converts for 40, u3 B null,
u5 D null; u4's B touch is older than the null window, so it is no path at all.
  (start) -> A 2/4, B 1/4, D 1/4;  A -> B 1/2, conv 1/2;  B -> conv 1/2, null 1/2;  D -> null.
  P(conv) = 2/4 (1/2 + 1/2 * 1/2) + 1/4 * 1/2 = 1/2.
  Without A: 1/4 * 1/2 = 1/8, removal effect 3/4.  Without B: 2/4 * 1/2 = 1/4, effect 1/2.
  2 conversions split 3/4 : 1/2 -> A 6/5, B 4/5.  D only ever leads to null: no row.
  Value: mean value converting from A is 40, from B 10. E[value] = 2/4 (1/2 * 40 + 1/4 * 10)
  + 1/4 * 1/2 * 10 = 12.5; without A 1.25 (effect 0.9), without B 10 (effect 0.2);
  50 split 0.9 : 0.2 -> A 450/11, B 100/11.

Order 2. Paths: u1 A > A > A > B converts for 30 (windows AA, AA, AB collapse to AA, AB),
u2 A > B null, u3 C > A converts for 10, u4 C converts for 20 (shorter than the order: state "C").
  (start) -> AA, AB, CA, C 1/4 each;  AA -> AB;  AB -> conv 1/2, null 1/2;  CA, C -> conv.
  P(conv) = 3/4; without A (AA, AB, CA) 1/4: effect 2/3; without B (AB) 1/2: 1/3; without C 1/4:
  2/3.  3 conversions -> A 6/5, B 3/5, C 6/5.  E[value] = 1/4 * 30 + 1/4 * 10 + 1/4 * 20 = 15;
  without A 5 (2/3), without B 7.5 (1/2), without C 7.5 (1/2); 60 -> A 24, B 18, C 18.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pytest

from cleanroom.attribution import AttributionResult, AttributionSpec, markov, run_attribution
from cleanroom.attribution.paths import path_ctes, path_params

from .helpers import conversion_table, locked, touch_table

ORDER_1 = (
    [("u1", "2024-01-01 00:00", "A"), ("u1", "2024-01-02 00:00", "B"),
     ("u2", "2024-01-02 00:00", "A"), ("u3", "2024-01-05 00:00", "B"),
     ("u4", "2023-12-01 00:00", "B"), ("u5", "2024-01-04 00:00", "D")],
    [("u1", "2024-01-03 00:00", 10.0), ("u2", "2024-01-03 00:00", 40.0)],
)  # fmt: skip
ORDER_2 = (
    [("u1", "2024-01-01 00:00", "A"), ("u1", "2024-01-02 00:00", "A"),
     ("u1", "2024-01-03 00:00", "A"), ("u1", "2024-01-04 00:00", "B"),
     ("u2", "2024-01-06 00:00", "A"), ("u2", "2024-01-07 00:00", "B"),
     ("u3", "2024-01-01 00:00", "C"), ("u3", "2024-01-02 00:00", "A"),
     ("u4", "2024-01-02 00:00", "C")],
    [("u1", "2024-01-05 00:00", 30.0), ("u3", "2024-01-03 00:00", 10.0),
     ("u4", "2024-01-03 00:00", 20.0)],
)  # fmt: skip


Rows = tuple[Sequence[tuple[str, str, str]], Sequence[tuple[str, str, float | None]]]
Ran = tuple[duckdb.DuckDBPyConnection, AttributionSpec, AttributionResult]


def run(data: Rows, order: int, min_people: int = 1) -> Ran:
    con = locked({"touches": touch_table(data[0]), "conversions": conversion_table(data[1])})
    spec = AttributionSpec("markov", "touches", "conversions", "channel", 10, order=order,
                           min_people=min_people)
    return con, spec, run_attribution(con, spec)


def check(
    result: AttributionResult, rows: list[tuple[str, float, float]], users: list[int]
) -> None:
    assert [r[0] for r in result.rows] == [r[0] for r in rows]
    for got, want in zip(result.rows, rows):
        assert got[1:] == pytest.approx(want[1:], rel=1e-12)
    assert list(result.users) == users


def test_order_1_by_hand() -> None:
    _, _, result = run(ORDER_1, 1)
    check(result, [("A", 6 / 5, 450 / 11), ("B", 4 / 5, 100 / 11)], [2, 1])


def test_order_2_by_hand() -> None:
    _, _, result = run(ORDER_2, 2)
    check(result, [("A", 6 / 5, 24.0), ("B", 3 / 5, 18.0), ("C", 6 / 5, 18.0)], [2, 1, 2])


def test_a_window_on_one_person_is_no_state_at_order_1() -> None:
    """min_people 2: D (u5 alone) is (other), which holds no value; D only led to (null), so
    the credit is the same. min_people 3: every state is (other) and nothing is credited."""
    _, _, result = run(ORDER_1, 1, min_people=2)
    check(result, [("A", 6 / 5, 450 / 11), ("B", 4 / 5, 100 / 11)], [2, 1])
    _, _, result = run(ORDER_1, 1, min_people=3)
    check(result, [], [])


def test_rare_windows_are_one_state_at_order_2_by_hand() -> None:
    """min_people 2: only AB (u1, u2) stands on two people; AA, CA and C are (other).
      u1 other > AB converts for 30, u2 AB null, u3 other converts for 10, u4 other for 20.
      (start) -> other 3/4, AB 1/4;  other -> AB 1/3, conv 2/3;  AB -> conv 1/2, null 1/2.
      P(conv) = 3/4 (2/3 + 1/3 * 1/2) + 1/4 * 1/2 = 3/4. Without A (or B: AB either way;
      (other) holds no value) 3/4 * 2/3 = 1/2, effect 1/3 each; C is in no state: 0.
      Value from other 30/3 = 10 a visit, from AB 30/2 = 15: E = 3/4 (10 + 1/3 * 15) + 1/4 * 15
      = 15; without A or B 3/4 * 10 = 7.5, effect 1/2 each. u3's only credited value is A."""
    con, spec, result = run(ORDER_2, 2, min_people=2)
    check(result, [("A", 3 / 2, 30.0), ("B", 3 / 2, 30.0)], [2, 1])
    chain = markov.build_chain(con.execute(markov.chain_sql(spec), path_params(spec)).fetchall())
    assert set(chain.states) == {(), ("A", "B")}


def test_order_2_chain_collapses_repeated_windows() -> None:
    con, spec, _ = run(ORDER_2, 2)
    sql = f"WITH {path_ctes(spec)},{markov.markov_sql(2)}"
    chain = markov.build_chain(con.execute(sql, path_params(spec)).fetchall())
    index = {s: i for i, s in enumerate(chain.states, 1)}
    assert set(index) == {("A", "A"), ("A", "B"), ("C", "A"), ("C",)}
    assert np.diag(chain.counts).sum() == 0  # no AA -> AA
    assert chain.counts[0, 1:].sum() == 4 and chain.counts[index["A", "A"], index["A", "B"]] == 1
    assert chain.conversions[index["A", "B"]] == 1 and chain.nulls[index["A", "B"]] == 1
    assert chain.values[index["C",]] == 20.0


def test_removal_effects_match_the_fundamental_matrix_by_brute_force() -> None:
    con, spec, _ = run(ORDER_2, 2)
    sql = f"WITH {path_ctes(spec)},{markov.markov_sql(2)}"
    chain = markov.build_chain(con.execute(sql, path_params(spec)).fetchall())
    conv, _ = markov.removal_effects(chain, ["A", "B", "C"])
    assert conv == pytest.approx([2 / 3, 1 / 3, 2 / 3], rel=1e-12)
    for j, channel in enumerate("ABC"):  # redirect the channel's states to null and re-solve
        keep = [0] + [i for i, s in enumerate(chain.states, 1) if channel not in s]
        total = chain.counts.sum(axis=1) + chain.conversions + chain.nulls
        q = (chain.counts / total[:, None])[np.ix_(keep, keep)]
        b = np.linalg.solve(np.eye(len(keep)) - q, (chain.conversions / total)[keep])
        assert 1 - b[0] / 0.75 == pytest.approx(conv[j], rel=1e-12)


def test_a_value_seen_only_on_null_paths_is_credited_when_it_can_lead_to_a_conversion() -> None:
    """Paths: n1 C > A > B null; c1 B > B, c2 B, c3 B convert for 1 each. (start) -> C 1/4,
    B 3/4; C -> A -> B; B -> conv 3/4. P(conv) = 3/4; without A or C: 3/4 * 3/4, effect 1/4;
    without B: 0, effect 1. 3 conversions split 1/4 : 1 : 1/4 -> A 0.5, B 2, C 0.5, as
    ChannelAttribution gives (it simulates journeys through C and A that convert). A and C have
    no converting person, so 0 users."""
    touches = [("n1", "2024-01-10 00:00", "C"), ("n1", "2024-01-10 01:00", "A"),
               ("n1", "2024-01-10 02:00", "B"), ("c1", "2024-01-10 00:00", "B"),
               ("c1", "2024-01-10 01:00", "B"), ("c2", "2024-01-10 00:00", "B"),
               ("c3", "2024-01-10 00:00", "B")]  # fmt: skip
    conversions = [(u, "2024-01-11 00:00", 1.0) for u in ("c1", "c2", "c3")]
    _, _, result = run((touches, conversions), 1)
    check(result, [("A", 0.5, 0.5), ("B", 2.0, 2.0), ("C", 0.5, 0.5)], [0, 3, 0])


def test_too_many_states_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markov, "MAX_STATES", 3)
    with pytest.raises(ValueError, match="too many Markov states"):
        run(ORDER_2, 2)


def test_all_zero_revenue_credits_zero_revenue() -> None:
    touches, conversions = ORDER_1
    _, _, result = run((touches, [(u, t, None) for u, t, _ in conversions]), 1)
    check(result, [("A", 6 / 5, 0.0), ("B", 4 / 5, 0.0)], [2, 1])
