"""What one person can change, which is what differential privacy has to bound.

Heuristic models: removing one person moves at most one conversion and their path value in total
(L1 over rows), and at most 1 in each row's user count. The Markov model does not have this
property: a person's path changes the transition probabilities every path is scored with.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cleanroom.attribution import AttributionSpec, run_attribution
from cleanroom.attribution.paths import path_params, path_sql

from .helpers import conversion_table, locked, synthetic, touch_table

HEURISTICS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "shapley")
SPEC = AttributionSpec("linear", "touches", "conversions", "channel", 30)


def totals(tables: dict[str, pa.Table], spec: AttributionSpec) -> dict[Any, tuple[float, ...]]:
    result = run_attribution(locked(tables), spec)
    return {r[0]: (r[1], r[2], float(u)) for r, u in zip(result.rows, result.users)}


def l1(a: dict[Any, tuple[float, ...]], b: dict[Any, tuple[float, ...]], i: int) -> float:
    zero = (0.0, 0.0, 0.0)
    return sum(abs(a.get(k, zero)[i] - b.get(k, zero)[i]) for k in set(a) | set(b))


@pytest.mark.parametrize("model", HEURISTICS)
def test_one_person_moves_at_most_one_conversion_and_their_value(model: str) -> None:
    touches, conversions = synthetic(600, seed=5)
    tables = {"touches": touches, "conversions": conversions}
    spec = replace(SPEC, model=model)
    paths = locked(tables).execute(path_sql(spec), path_params(spec)).fetchall()
    people = [p for p in paths if p[2]][:4] + [p for p in paths if not p[2]][:2]
    full = totals(tables, spec)
    for user, _, converted, value in people:
        without = {name: t.filter(pc.not_equal(t["user_key"], user)) for name, t in tables.items()}
        fewer = totals(without, spec)
        assert l1(full, fewer, 0) <= (1.0 if converted else 0.0) + 1e-9
        assert l1(full, fewer, 1) <= (value if converted else 0.0) + 1e-9
        assert max(abs(full[k][2] - fewer.get(k, (0, 0, 0))[2]) for k in full) <= 1


def test_markov_credit_is_not_bounded_per_person() -> None:
    """One converter on C; adding a converter on E > F > A moves 2 conversions, not 1: the chain
    now gives each of the four channels a removal effect of 1/2, so each gets 0.5 of the 2.
    (Long paths of new channels push this towards 3; random search found nothing above that.)"""
    touches = [("c1", "2024-01-10 00:00", "C")]
    extra = [("x", "2024-01-10 00:00", "E"), ("x", "2024-01-10 01:00", "F"),
             ("x", "2024-01-10 02:00", "A")]  # fmt: skip
    conversions = [("c1", "2024-01-11 00:00", 1.0)]
    spec = replace(SPEC, model="markov")
    before = totals({"touches": touch_table(touches),
                     "conversions": conversion_table(conversions)}, spec)  # fmt: skip
    after = totals({"touches": touch_table(touches + extra),
                    "conversions": conversion_table(conversions + [("x", "2024-01-11 00:00", 1.0)])},
                   spec)  # fmt: skip
    assert before == {"C": (1.0, 1.0, 1.0)}
    assert sorted(after) == ["A", "C", "E", "F"]
    assert all(v[:2] == pytest.approx((0.5, 0.5)) for v in after.values())
    assert l1(before, after, 0) == pytest.approx(2.0) and l1(before, after, 1) == pytest.approx(2.0)
