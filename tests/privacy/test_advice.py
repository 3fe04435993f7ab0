"""Warnings before spending: a cell is flagged exactly when its 95% half-width exceeds what a
group of min_users_per_row people can contribute under the bounds."""

from __future__ import annotations

import pytest

from cleanroom.privacy.advice import noise_warnings
from cleanroom.privacy.dp_release import noise_plan
from cleanroom.privacy.dp_sql import DPColumn

COLUMNS = (DPColumn("k", "group_key"), DPColumn("people", "people"), DPColumn("n", "count"),
           DPColumn("spend", "sum", 0.0, 100.0), DPColumn("mean", "avg", 0.0, 100.0))


def plan_at(epsilon: float, rows: int = 10, min_users: int = 50):  # type: ignore[no-untyped-def]
    return noise_plan(COLUMNS, epsilon=epsilon, max_groups_per_user=4, delta=1e-6,
                      max_rows_per_user_group=rows, min_users=min_users)


def test_each_kind_is_held_against_its_own_room() -> None:
    """Rooms for 50 people, G = 4, R = 10: 50 people, 500 rows, 50 * 10 * 100 cost; an
    average against half its range. A huge epsilon flags nothing; a tiny one flags all."""
    assert plan_at(1000.0).warnings == ()
    assert [w.column for w in plan_at(0.01).warnings] == ["people", "n", "spend", "mean"]


@pytest.mark.parametrize("epsilon", [0.05, 0.2, 1.0, 5.0])
def test_a_warning_appears_exactly_when_the_half_width_exceeds_the_room(epsilon: float) -> None:
    plan = plan_at(epsilon)
    flagged = {w.column for w in noise_warnings(plan, min_users=50)}
    rooms = {"people": 50, "n": 50 * 10, "spend": 50 * 10 * 100.0}
    for entry in plan.entries:
        if entry.name in rooms:
            assert (entry.name in flagged) == ((entry.ci_half_width or 0) > rooms[entry.name])
    assert {w.column for w in plan.warnings} == flagged  # the plan carries the same list


def test_more_people_per_row_or_fewer_rows_quiet_the_row_count() -> None:
    """At epsilon 1 (five shares of 0.2) the row count's half-width is about
    ln(20) * G * R / 0.2 = 600 rows: more than 20 people's 200 rows, less than 2,000 people's
    20,000. A policy with a higher threshold gives the noise more room."""
    noisy = {w.column for w in plan_at(1.0, min_users=20).warnings}
    roomy = {w.column for w in plan_at(1.0, min_users=2000).warnings}
    assert "n" in noisy and "n" not in roomy
