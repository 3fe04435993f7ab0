"""Cross-channel attribution through the one door (docs/analytics.md, "Attribution").

``attribute`` answers a request through ``pipeline.answer`` with the attribution planner
(``planners.attribution``): the same authorization, epsilon, single budget charge, release
(threshold or noise) and audit as every query. ``compute`` runs a model without releasing it,
for tests that compare released rows with the truth.
"""

from __future__ import annotations

from dataclasses import asdict

from cleanroom.answers import AttributionAnswer
from cleanroom.attribution import AttributionResult
from cleanroom.attribution.heuristics import heuristic_params, heuristic_sql
from cleanroom.attribution.markov import chain_sql, credit_params, credit_sql, solve
from cleanroom.pipeline import Request, Service, answer, pinned_tables
from cleanroom.planners.attribution import (
    DP_MODELS,
    AttributionRequest,
    CheckedRequest,
    plan_attribution,
    plan_request,
)
from cleanroom.policy import Policy
from cleanroom.store import Identity


def attribute(service: Service, who: Identity, collaboration: str,
              ask: AttributionRequest) -> AttributionAnswer:
    """Answer an attribution request (analysts only); audited as action ``attribution``."""
    detail = {k: v for k, v in asdict(ask).items() if v is not None}
    request = Request("attribution", ask.epsilon, detail,
                      lambda policy, epsilon: plan_attribution(policy, ask, epsilon),
                      AttributionAnswer)
    result = answer(service, who, collaboration, request)
    assert isinstance(result, AttributionAnswer)
    return result


def compute(service: Service, policy: Policy, checked: CheckedRequest, *,
            max_groups: int | None) -> AttributionResult:
    """The model's unreleased rows and people counts (with ``max_groups``: DP's admitted people
    only). Never returned by a route."""
    spec = checked.spec
    with pinned_tables(service, policy) as tables, \
            service.engine.session(tables, service.limits) as session:
        if spec.model == "markov":
            credit = solve(session.stream(chain_sql(spec, ctes=checked.ctes(max_groups)), list,
                                          params=heuristic_params(spec)))
            sql, params = credit_sql(spec, ctes=checked.ctes(max_groups)), credit_params(spec, credit)
        else:
            sql, params = heuristic_sql(spec, ctes=checked.ctes(max_groups)), heuristic_params(spec)
        rows = session.stream(sql, list, params=params)
    return AttributionResult((spec.dimension, "conversions", "revenue"),
                             tuple((d, float(c), float(v)) for d, c, v, _ in rows),
                             tuple(int(u) for *_, u in rows))


__all__ = ["DP_MODELS", "AttributionRequest", "attribute", "compute", "plan_request"]
