"""The attribution planner: a request for one model becomes a plan over the sandbox's datasets,
its SQL built by the attribution library (``cleanroom.attribution``) and released by the same
code as every query.

Names and options are checked against the policy first. The datasets are renamed in CTEs
(touches: user_key, ts, d; conversions: user_key, ts, revenue), so the library's SQL reads the
sandbox's clamped views and nothing else. Exact: one step whose rows carry each value's people
count as the hidden last column, thresholded by ``release.release_thresholded``; Markov first
reads its transition counts (an internal step, never released), solves the chain in numpy and
then releases its credit through such a step. DP: each admitted person (at most
``max_groups_per_user`` values in their window) hands out one conversion and one clamped revenue;
the step is released by ``privacy.dp_release`` with noisy row selection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import sqlglot
from sqlglot import exp

from cleanroom.analytics.checks import (
    dataset_of,
    dimension_of,
    lookback_seconds,
    metric_bounds,
    metric_of,
    quote,
    refuse,
    time_of,
    user_key_of,
)
from cleanroom.attribution import MODELS, AttributionSpec
from cleanroom.attribution.heuristics import heuristic_params, heuristic_sql
from cleanroom.attribution.markov import chain_sql, credit_params, credit_sql, solve
from cleanroom.attribution.paths import path_ctes
from cleanroom.attribution.spec import check_spec
from cleanroom.errors import QueryFailed, Violation
from cleanroom.gate.ranges import Range, range_of
from cleanroom.gate.rewrite import PEOPLE
from cleanroom.planners.base import ExactStep, InternalStep, NoisedStep, Plan, Released, Table
from cleanroom.planners.sql import describe_plan
from cleanroom.policy import Policy
from cleanroom.privacy.dp_sql import DPColumn, DPQuery
from cleanroom.privacy.mechanisms import (
    AggregateSpec,
    NoisePlan,
    SelectionPlan,
    plan_noise,
    selection_threshold,
)

# CTE names with a hyphen can never collide with a dataset (policy names are [a-z_0-9]).
TOUCHES, ALL_TOUCHES, CONVERSIONS, ADMITTED = "cr-touches", "cr-all-touches", "cr-conv", "cr-admitted"
# Markov credit is not bounded per person (tests/attribution/test_sensitivity.py).
DP_MODELS = frozenset(MODELS) - {"markov"}


@dataclass(frozen=True)
class AttributionRequest:
    """What the analyst asked for; names are checked against the policy by ``plan_request``."""

    model: str
    touchpoints: str
    conversions: str
    dimension: str
    lookback_days: float
    epsilon: float | None = None
    revenue: str | None = None
    half_life_days: float = 7.0
    order: int = 1


@dataclass(frozen=True)
class CheckedRequest:
    """The spec over the renamed CTEs, and the CTEs that rename the datasets."""

    spec: AttributionSpec
    sources: tuple[str, str]  # CTE bodies: all touches, conversions
    revenue_bounds: tuple[float, float] | None

    def ctes(self, max_groups: int | None = None) -> str:
        """The WITH-clause entries the library's SQL reads: every touch, or (DP) only those of
        people whose attribution window holds at most ``max_groups`` values. The window is the
        library's own ``conv_touch``, so the bound holds for exactly the touches credited."""
        touches, conversions = self.sources
        entries = [f"{quote(ALL_TOUCHES)} AS ({touches})", f"{quote(CONVERSIONS)} AS ({conversions})"]
        admitted = ""
        if max_groups is not None:
            window = replace(self.spec, touchpoints=ALL_TOUCHES)
            entries.append(f"{quote(ADMITTED)} AS (WITH {path_ctes(window)} SELECT u FROM "
                           f"conv_touch GROUP BY u HAVING count(DISTINCT d) <= {int(max_groups)})")
            admitted = f" WHERE user_key IN (SELECT u FROM {quote(ADMITTED)})"
        entries.append(f"{quote(TOUCHES)} AS (SELECT * FROM {quote(ALL_TOUCHES)}{admitted})")
        return ", ".join(entries)


def plan_request(policy: Policy, ask: AttributionRequest) -> CheckedRequest:
    """Check every name and option against the policy before any SQL is built."""
    if ask.model not in MODELS:
        raise refuse("unknown_model", f"the model must be one of {', '.join(MODELS)}")
    lookback_seconds(ask.lookback_days)
    dimension = dimension_of(policy, ask.touchpoints, ask.dimension)
    dataset_of(policy, ask.conversions)
    revenue = metric_of(policy, ask.conversions, ask.revenue)
    t_time, c_time = time_of(policy, ask.touchpoints), time_of(policy, ask.conversions)
    if dimension == t_time:
        raise refuse("dimension_not_allowed", "the timestamp orders touches; it is not credited")
    value = "CAST(NULL AS DOUBLE)" if revenue is None else f"CAST({quote(revenue)} AS DOUBLE)"
    touches = (f"SELECT {quote(user_key_of(policy, ask.touchpoints))} AS user_key, "
               f"CAST({quote(t_time)} AS TIMESTAMP) AS ts, {quote(dimension)} AS d "
               f"FROM {quote(ask.touchpoints)}")
    conversions = (f"SELECT {quote(user_key_of(policy, ask.conversions))} AS user_key, "
                   f"CAST({quote(c_time)} AS TIMESTAMP) AS ts, {value} AS revenue "
                   f"FROM {quote(ask.conversions)}")
    bounds = None if revenue is None else metric_bounds(policy, ask.conversions, revenue)
    spec = _spec(ask, revenue is not None, policy.query_rules.min_users_per_row)
    return CheckedRequest(spec, (touches, conversions), bounds)


def _spec(ask: AttributionRequest, has_revenue: bool, min_users: int) -> AttributionSpec:
    """The library's spec; Markov's states stand on ``min_users`` people (or are (other)), so
    no state is one person's: neither its cap nor which states exist can tell one path."""
    if not (0 < ask.half_life_days <= 3660) or not 1 <= ask.order <= 4:
        raise refuse("bad_option", "half_life_days must be in (0, 3660] and order in 1..4")
    spec = AttributionSpec(ask.model, TOUCHES, CONVERSIONS, "d", ask.lookback_days,
                           revenue="revenue" if has_revenue else None,
                           half_life_days=ask.half_life_days, order=ask.order,
                           min_people=min_users)
    try:
        check_spec(spec)
    except ValueError:
        raise refuse("bad_option", "an option is out of range") from None
    return spec


def plan_attribution(policy: Policy, ask: AttributionRequest, epsilon: float | None) -> Plan:
    """The plan of one attribution request (``epsilon`` None: exact, thresholded)."""
    checked = plan_request(policy, ask)
    spec = checked.spec
    if epsilon is None:
        if spec.model == "markov":
            return Plan((InternalStep(chain_sql(spec, ctes=checked.ctes()),
                                      heuristic_params(spec)),), _MarkovCredit(checked, ask))
        step = ExactStep(released_sql(heuristic_sql(spec, ctes=checked.ctes())),
                         (ask.dimension, "conversions", "revenue"), PEOPLE,
                         params=heuristic_params(spec), trusted=True)
        return Plan((step,), _Exact(ask))
    if spec.model not in DP_MODELS:
        raise refuse("dp_unsupported", "the markov model has no per-person bound on credit; "
                     "use another model, or no epsilon where the policy allows")
    return _private_plan(policy, checked, ask, epsilon)


def released_sql(model_sql: str) -> str:
    """The model's rows as released: the people count last (hidden), by credit."""
    return (f"SELECT d, conversions, revenue, users AS {PEOPLE} FROM ({model_sql}) "
            "ORDER BY conversions DESC, d")


@dataclass(frozen=True)
class _Exact:
    ask: AttributionRequest

    def __call__(self, released: tuple[Released, ...]) -> Table:
        (r,) = released
        return Table([self.ask.dimension, "conversions", "revenue"], r.rows, r.suppressed_rows,
                     r.row_status, r.withheld_cells, None, {"model": self.ask.model})


@dataclass(frozen=True)
class _MarkovCredit:
    """Solve the chain from its (internal) transition counts, then release the credit with the
    people behind each value, counted in the engine like every other model's."""

    checked: CheckedRequest
    ask: AttributionRequest

    def __call__(self, released: tuple[Released, ...]) -> Table | Plan:
        (chain,) = released
        assert chain.internal is not None
        try:
            credit = solve(chain.internal.rows)
        except ValueError:
            raise QueryFailed([Violation("attribution", "the model cannot run on this data "
                                         "(for Markov: too many states; lower the order)")]) from None
        spec = self.checked.spec
        step = ExactStep(released_sql(credit_sql(spec, ctes=self.checked.ctes())),
                         (self.ask.dimension, "conversions", "revenue"), PEOPLE,
                         params=credit_params(spec, credit), trusted=True)
        if not credit.values:  # nothing credited: no row to release
            return Table([self.ask.dimension, "conversions", "revenue"], [], 0, [], [], None,
                         {"model": self.ask.model})
        return Plan((step,), _Exact(self.ask))


# A touch's credit ``c = w / sum(w) OVER (PARTITION BY u)``: a share of its person's one
# conversion, whatever the model's weight (a time-decay power, 40/20/40, 1 / n).
CREDIT = Range(0.0, 1.0)


def credited_ranges(revenue_bounds: tuple[float, float] | None) -> tuple[tuple[str, Range], ...]:
    """The public ranges (``gate/ranges.py``) of what the model sums per touch, ``c`` and
    ``c * val``, with val the clamped revenue: with bounds [50, 100] a credited revenue lies in
    [0, 100], not [50, 100]. One person's credits add up to one conversion, so over the whole
    answer they move each sum by at most the range's magnitude (G = R = 1 in the plan).

    >>> credited_ranges((50.0, 100.0))[1]
    ('revenue', Range(lo=0.0, hi=100.0, integer=False))
    """
    known = {"c": CREDIT, **({} if revenue_bounds is None else {"val": Range(*revenue_bounds)})}
    def look(node: exp.Expr) -> Range | None:
        return known.get(node.name) if isinstance(node, exp.Column) else None
    sums = [("conversions", "c")] + ([("revenue", "c * val")] if revenue_bounds else [])
    found = tuple((name, range_of(sqlglot.parse_one(sql, read="duckdb"), look))
                  for name, sql in sums)
    if any(r is None or not r.bounded for _, r in found):
        raise ValueError("a credited value without a finite range")
    return tuple((name, r) for name, r in found if r is not None)


def dp_plan(policy: Policy, checked: CheckedRequest, epsilon: float) -> NoisePlan:
    """Equal shares for conversions (L1 sensitivity 1), revenue (max |bound|) when there is one,
    and row selection (a people count; each person is in at most G rows)."""
    aggregates = [AggregateSpec(name, "sum", r.lo, r.hi)
                  for name, r in credited_ranges(checked.revenue_bounds)]
    delta, groups = policy.privacy.delta, policy.query_rules.max_groups_per_user
    # G = 1 here: one person's credit sums to 1 (and one revenue) over the whole output.
    noise = plan_noise(aggregates, epsilon=epsilon, max_groups_per_user=1, selection_delta=delta)
    share = epsilon / noise.shares
    selection = SelectionPlan(share, delta, selection_threshold(share, delta, groups))
    return replace(noise, selection=selection)


def _private_plan(policy: Policy, checked: CheckedRequest, ask: AttributionRequest,
                  epsilon: float) -> Plan:
    """Candidate rows as ``dp_release`` reads them: key, people, then (sum, count) pairs."""
    noise = dp_plan(policy, checked, epsilon)
    revenue = checked.revenue_bounds is not None
    columns = (DPColumn(ask.dimension, "group_key"), *(
        DPColumn(name, "sum", r.lo, r.hi) for name, r in credited_ranges(checked.revenue_bounds)))
    groups = policy.query_rules.max_groups_per_user
    model = heuristic_sql(checked.spec, ctes=checked.ctes(groups))
    pairs = ", conversions, 1" + (", revenue, 1" if revenue else "")
    query = DPQuery(f"SELECT d, users{pairs} FROM ({model})", columns, 1, ((1, True),), None, 0)
    bound = {"max_groups_per_user": groups, "conversions_per_person": 1,
             "revenue_bounds": checked.revenue_bounds}
    step = NoisedStep(query, noise, epsilon, heuristic_params(checked.spec),
                      bounded_by_gate=False)
    return Plan((step,), _Private(ask, revenue, bound))


@dataclass(frozen=True)
class _Private:
    ask: AttributionRequest
    revenue: bool
    bound: dict[str, Any]

    def __call__(self, released: tuple[Released, ...]) -> Table:
        (r,) = released
        rows, intervals = r.rows, r.cell_intervals()
        if not self.revenue:  # no revenue metric: a constant 0, public, not noised
            rows = [[*row, 0.0] for row in rows]
            intervals = [[*cells, [0.0, 0.0]] for cells in intervals]
        return Table([self.ask.dimension, "conversions", "revenue"], rows, None, r.row_status,
                     [], intervals, {"model": self.ask.model, "noise": r.noise,
                                     "contribution_bound": self.bound})


__all__ = ["AttributionRequest", "CheckedRequest", "describe_plan", "dp_plan",
           "plan_attribution", "plan_request"]
