"""The verifier of a noised step re-derives ``dp_sql._within``'s form (the people whose stored
counts put them within the bounds summed per group without ranking, a group's people counted
up to a cap): the planned SQL verifies, and each way of letting someone past a bound, or of
overstating a group's capped people, is refused before anything runs."""

from __future__ import annotations

import pytest

from cleanroom.errors import QueryRejected
from cleanroom.planners.base import NoisedStep
from cleanroom.planners.sql import plan_private_query
from cleanroom.planners.verify import verify_noised
from cleanroom.policy import load_policies
from tests.conftest import POLICIES

SQL = "SELECT channel, SUM(cost) AS spend, COUNT(*) AS n FROM impressions GROUP BY channel"
TOTAL = "SELECT SUM(cost) AS spend FROM impressions WHERE channel = 'search'"

# (what the planner wrote, what a wrong planner might write): each lets a person past a bound
# or counts a group's people above what they are.
TAMPERS = {
    "rows_bound_loosened": ("__cr_pm_channel <= 10", "__cr_pm_channel <= 11"),
    "groups_bound_loosened": ("__cr_pd_channel <= 8", "__cr_pd_channel <= 9"),
    "everyone_within": ("AS __cr_safe FROM", "OR TRUE AS __cr_safe FROM"),
    "safe_not_carried": (", __cr_safe FROM __cr_rows", ", TRUE AS __cr_safe FROM __cr_rows"),
    "ranked_people_are_within": ("WHERE NOT __cr_safe)", "WHERE __cr_safe)"),
    "within_sums_everyone": ("FROM __cr_clamped WHERE __cr_safe GROUP BY",
                             "FROM __cr_clamped GROUP BY"),
    "few_counts_rows": ("COUNT(DISTINCT r.__cr_uid)", "COUNT(r.__cr_uid)"),
    "few_threshold_lowered": ("__cr_n < {rows_cap})", "__cr_n < {cap})"),
    "default_below_cap": ("COALESCE(f.__cr_p, {cap})", "COALESCE(f.__cr_p, 88)"),
    "cap_above_default": ("LEAST(SUM(__cr_p), {cap})", "LEAST(SUM(__cr_p), {rows_cap})"),
    "slow_people_counted_twice": ("1 AS __cr_p FROM __cr_slow", "2 AS __cr_p FROM __cr_slow"),
}


def _step(sql: str) -> NoisedStep:
    private = plan_private_query(load_policies(POLICIES)["acme-streamco"], sql, 1.0)
    return NoisedStep(private.query, private.plan, 1.0, tables=private.tables)


@pytest.mark.parametrize("sql", [SQL, TOTAL], ids=["grouped", "total"])
def test_the_planned_form_verifies(sql: str) -> None:
    step = _step(sql)
    assert "__cr_within" in step.query.sql and "__cr_slow" in step.query.sql
    verify_noised(step)  # raises if not


@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_tampered_form_is_refused(tamper: str) -> None:
    step = _step(SQL)
    cap = int(step.query.sql.split("LEAST(SUM(__cr_p), ")[1].split(")")[0])
    planned, wrong = (t.format(cap=cap, rows_cap=10 * cap) for t in TAMPERS[tamper])
    assert step.query.sql.count(planned) == 1, planned
    bad = NoisedStep(step.query.__class__(**{**step.query.__dict__,
                                            "sql": step.query.sql.replace(planned, wrong)}),
                     step.noise, 1.0, tables=step.tables)
    with pytest.raises(QueryRejected) as caught:
        verify_noised(bad)
    assert {v.rule for v in caught.value.violations} == {"dp_unsupported"}


def test_a_people_column_is_counted_exactly() -> None:
    """A released people count is the selection's noisy exact count: no cap, every person
    ranked (``COUNT(*)`` of the bounded rows)."""
    step = _step("SELECT channel, COUNT(DISTINCT user_key) AS people, SUM(cost) AS s "
                 "FROM impressions GROUP BY channel")
    assert "__cr_within" not in step.query.sql and "COUNT(*) AS __cr_people" in step.query.sql
    verify_noised(step)
