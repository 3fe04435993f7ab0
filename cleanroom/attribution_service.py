"""Cross-channel attribution inside the privacy path (docs/analytics.md, "Attribution").

check names against the policy -> sandbox: renamed views (DP: admitted people only)
-> run_attribution -> release (threshold, or noisy selection + noise) -> charge -> audit

Every released row stands on at least ``min_users_per_row`` converting people. Under DP each
admitted person hands out at most one conversion and one clamped revenue in total, and gives
credit to at most ``max_groups_per_user`` rows; the release noises both columns and selects rows
by a noisy people count (``cleanroom.privacy.mechanisms``).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

import duckdb

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
from cleanroom.attribution import MODELS, AttributionResult, AttributionSpec, run_attribution
from cleanroom.attribution.paths import path_ctes, path_params
from cleanroom.engine import guarded, sandbox
from cleanroom.errors import CleanroomError, QueryFailed, Violation
from cleanroom.pipeline import (
    Service,
    audit_decision,
    authorize,
    describe_plan,
    epsilon_for,
    pinned_tables,
)
from cleanroom.policy import Policy
from cleanroom.privacy import dp_release
from cleanroom.privacy.dp_sql import DPColumn
from cleanroom.privacy.mechanisms import (
    AggregateSpec,
    NoisePlan,
    SelectionPlan,
    make_rng,
    plan_noise,
    selection_threshold,
)
from cleanroom.release import count_withheld, json_value
from cleanroom.store import Identity

# Sandbox names with a hyphen can never collide with a dataset (policy names are [a-z_0-9]).
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
class Plan:
    """A checked request: the spec over the sandbox's renamed views, and where they come from."""

    spec: AttributionSpec
    views: tuple[str, str]  # CREATE VIEW statements for touches and conversions
    revenue_bounds: tuple[float, float] | None


def plan_request(policy: Policy, ask: AttributionRequest) -> Plan:
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
    touches = (f"CREATE TEMP VIEW {quote(ALL_TOUCHES)} AS SELECT "
               f"{quote(user_key_of(policy, ask.touchpoints))} AS user_key, "
               f"CAST({quote(t_time)} AS TIMESTAMP) AS ts, {quote(dimension)} AS d "
               f"FROM {quote(ask.touchpoints)}")
    conversions = (f"CREATE TEMP VIEW {quote(CONVERSIONS)} AS SELECT "
                   f"{quote(user_key_of(policy, ask.conversions))} AS user_key, "
                   f"CAST({quote(c_time)} AS TIMESTAMP) AS ts, {value} AS revenue "
                   f"FROM {quote(ask.conversions)}")
    spec = _spec(ask, revenue is not None)
    bounds = None if revenue is None else metric_bounds(policy, ask.conversions, revenue)
    return Plan(spec, (touches, conversions), bounds)


def _spec(ask: AttributionRequest, has_revenue: bool) -> AttributionSpec:
    if not (0 < ask.half_life_days <= 3660) or not 1 <= ask.order <= 4:
        raise refuse("bad_option", "half_life_days must be in (0, 3660] and order in 1..4")
    return AttributionSpec(ask.model, TOUCHES, CONVERSIONS, "d", ask.lookback_days,
                           revenue="revenue" if has_revenue else None,
                           half_life_days=ask.half_life_days, order=ask.order)


def compute(service: Service, policy: Policy, plan: Plan, *,
            max_groups: int | None) -> AttributionResult:
    """Run the model in the sandbox. With ``max_groups`` (DP), only people whose attribution
    window holds at most that many distinct dimension values are admitted."""
    with pinned_tables(service, policy) as tables, sandbox(tables, service.limits) as con, \
            guarded(con, service.limits):
        for statement in plan.views:
            con.execute(statement)
        _admit(con, plan.spec, max_groups)
        try:
            return run_attribution(con, plan.spec)
        except ValueError:
            raise QueryFailed([Violation("attribution", "the model cannot run on this data "
                                         "(for Markov: too many states; lower the order)")]) from None
        except RuntimeError:
            raise QueryFailed([Violation("runtime", "the query failed in the engine")]) from None


def _admit(con: duckdb.DuckDBPyConnection, spec: AttributionSpec, max_groups: int | None) -> None:
    """The touches view the model reads: everyone, or (DP) the admitted people only. The window
    is the library's own ``conv_touch``, so the bound holds for exactly the touches credited."""
    source = quote(ALL_TOUCHES)
    if max_groups is None:
        con.execute(f"CREATE TEMP VIEW {quote(TOUCHES)} AS SELECT * FROM {source}")
        return
    window = replace(spec, touchpoints=ALL_TOUCHES)
    con.execute(f"CREATE TEMP TABLE {quote(ADMITTED)} AS WITH {path_ctes(window)} "
                f"SELECT u FROM conv_touch GROUP BY u HAVING count(DISTINCT d) <= "
                f"{int(max_groups)}", path_params(window))
    con.execute(f"CREATE TEMP VIEW {quote(TOUCHES)} AS SELECT * FROM {source} "
                f"WHERE user_key IN (SELECT u FROM {quote(ADMITTED)})")


def release_exact(result: AttributionResult, min_users: int) -> dict[str, Any]:
    """Rows standing on at least ``min_users`` converting people; the rest withheld and counted
    as ``release.count_withheld`` counts them."""
    kept = [list(r) for r, users in zip(result.rows, result.users) if users >= min_users]
    rows = sorted(([json_value(d), c, v] for d, c, v in kept), key=_by_credit)
    return {"rows": rows, "suppressed_rows": count_withheld(result.users, min_users),
            "row_status": ["exact"] * len(rows), "confidence_intervals": None}


def _by_credit(row: list[Any]) -> tuple[float, str]:
    return (-float(row[1]), str(row[0]))


def dp_plan(policy: Policy, plan: Plan, epsilon: float) -> NoisePlan:
    """Equal shares for conversions (L1 sensitivity 1), revenue (max |bound|) when there is one,
    and row selection (a people count; each person is in at most G rows)."""
    aggregates = [AggregateSpec("conversions", "sum", 0.0, 1.0)]
    if plan.revenue_bounds is not None:
        aggregates.append(AggregateSpec("revenue", "sum", *plan.revenue_bounds))
    delta, groups = policy.privacy.delta, policy.query_rules.max_groups_per_user
    # G = 1 here: one person's credit sums to 1 (and one revenue) over the whole output.
    noise = plan_noise(aggregates, epsilon=epsilon, max_groups_per_user=1, selection_delta=delta)
    share = epsilon / noise.shares
    selection = SelectionPlan(share, delta, selection_threshold(share, delta, groups))
    return replace(noise, selection=selection)


def release_dp(service: Service, policy: Policy, result: AttributionResult,
               noise: NoisePlan) -> dict[str, Any]:
    """Rows whose noisy people count clears max(min_users_per_row, selection threshold), each
    cell noised with its 95% interval (the shared ``privacy.dp_release``); ``suppressed_rows``
    is not released under DP."""
    revenue = len(noise.entries) == 2
    columns = (DPColumn("dimension", "group_key"), DPColumn("conversions", "sum"),
               *((DPColumn("revenue", "sum"),) if revenue else ()))
    # Candidate rows as the shared release reads them: key, people, then (sum, count) pairs.
    rows = [(value, users, conversions, 1, *((money, 1) if revenue else ()))
            for (value, conversions, money), users in zip(result.rows, result.users)]
    release = dp_release.release_dp(
        rows, columns, noise, min_users=policy.query_rules.min_users_per_row,
        max_groups_per_user=policy.query_rules.max_groups_per_user,
        rng=service.rng or make_rng(), order=((1, True),))
    out, intervals = release.rows, release.intervals
    if not revenue:  # no revenue metric: a constant 0, public, not noised
        out = [[*row, 0.0] for row in out]
        intervals = [[*cells, [0.0, 0.0]] for cells in intervals]
    return {"rows": out, "suppressed_rows": None, "row_status": ["noised"] * len(out),
            "confidence_intervals": intervals, "noise": describe_plan(noise)}


def attribute(service: Service, who: Identity, collaboration: str,
              ask: AttributionRequest) -> dict[str, Any]:
    """Answer an attribution request (analysts only); audited as action ``attribution``."""
    policy = authorize(service, who, collaboration, "analyst")
    query_id = uuid.uuid4().hex
    detail: dict[str, Any] = {k: v for k, v in asdict(ask).items() if v is not None}
    try:
        epsilon = epsilon_for(policy, ask.epsilon)
        answer = _answer(service, who, policy, plan_request(policy, ask), epsilon, query_id)
    except CleanroomError as exc:
        audit_decision(service, who, "attribution", exc, query_id=query_id, detail=detail)
        raise
    detail.update(epsilon=epsilon, rows=len(answer["rows"]),
                  suppressed_rows=answer["suppressed_rows"])
    audit_decision(service, who, "attribution", None, query_id=query_id, detail=detail)
    return {"query_id": query_id, "columns": [ask.dimension, "conversions", "revenue"],
            "model": ask.model, **answer}


def _answer(service: Service, who: Identity, policy: Policy, plan: Plan,
            epsilon: float | None, query_id: str) -> dict[str, Any]:
    if epsilon is None:
        result = compute(service, policy, plan, max_groups=None)
        return {**release_exact(result, policy.query_rules.min_users_per_row),
                "epsilon_spent": 0.0}
    if plan.spec.model not in DP_MODELS:
        raise refuse("dp_unsupported", "the markov model has no per-person bound on credit; "
                     "use another model, or no epsilon where the policy allows")
    noise = dp_plan(policy, plan, epsilon)
    groups = policy.query_rules.max_groups_per_user
    # Charged before the model runs: a run that fails (time or memory) has spent its epsilon.
    charge = service.ledger.charge(policy.collaboration, who.party, epsilon,
                                   budget=policy.privacy.epsilon_budget, query_id=query_id)
    result = compute(service, policy, plan, max_groups=groups)
    return {**release_dp(service, policy, result, noise), "epsilon_spent": epsilon,
            "epsilon_remaining": charge.remaining,
            "contribution_bound": {"max_groups_per_user": groups, "conversions_per_person": 1,
                                   "revenue_bounds": plan.revenue_bounds}}
