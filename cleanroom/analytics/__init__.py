"""Built-in audience analytics, each ordinary SQL through the gate (docs/analytics.md).

``run_analytic(service, who, collaboration, name, body)`` checks the analyst and validates the
options against the analytic's model; the analytic is a planner (it checks every name against
the policy and emits gated SQL steps), and the request goes through ``pipeline.answer`` like any
query: thresholds or noise, one budget charge, audited as action ``analytics``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from cleanroom.analytics.audience import OverlapOptions, ReachOptions, overlap, reach_frequency
from cleanroom.analytics.base import Context, Options
from cleanroom.analytics.journeys import JourneyOptions, PathOptions, time_to_conversion, top_paths
from cleanroom.analytics.rfm import RfmOptions, rfm
from cleanroom.answers import AnalyticsAnswer
from cleanroom.errors import InvalidRequest, NotFound, Violation
from cleanroom.field_errors import field_message
from cleanroom.gate.rules import RULES
from cleanroom.gate.suggest import suggestion
from cleanroom.pipeline import Request, Service, answer, authorize
from cleanroom.planners.base import Finish, Plan, Released, Table
from cleanroom.policy import Policy
from cleanroom.store import Identity


@dataclass(frozen=True)
class Analytic:
    """A named analytic: the model of its options and the function that answers it."""

    name: str
    options: type[Options]
    run: Callable[[Context, Any], Plan]  # the planner
    summary: str


ANALYTICS: dict[str, Analytic] = {a.name: a for a in (
    Analytic("overlap", OverlapOptions, overlap, "distinct people in A, in B and in both"),
    Analytic("reach-frequency", ReachOptions, reach_frequency,
             "people reached, average frequency and the frequency distribution per value"),
    Analytic("top-paths", PathOptions, top_paths, "the top paths to a first conversion"),
    Analytic("time-to-conversion", JourneyOptions, time_to_conversion,
             "time from the first touch in the lookback window to the first conversion"),
    Analytic("rfm", RfmOptions, rfm, "recency, frequency and monetary quintile segments"),
)}


def parse_options(model: type[Options], body: Any) -> Options:
    """The request's options, or ``invalid_request`` naming each bad field (never its value)."""
    try:
        return model.model_validate(body if isinstance(body, dict) else {"": body})
    except ValidationError as exc:
        if not isinstance(body, dict):
            errors: list[Any] = [{"type": "model_attributes_type", "loc": ("body",)}]
        else:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        violations = [Violation("invalid_field", field_message(e), hint=RULES["invalid_field"].hint)
                      for e in errors]
        raise InvalidRequest(violations) from None


def run_analytic(service: Service, who: Identity, collaboration: str, name: str,
                 body: Any) -> AnalyticsAnswer:
    """Run analytic ``name`` with the options in ``body`` through the one door; the answer has
    the query route's keys plus ``analytic`` and the analytic's own."""
    authorize(service, who, collaboration, "analyst")
    analytic = ANALYTICS.get(name)
    if analytic is None:
        raise NotFound(message="no such analytic" + suggestion(name, ANALYTICS, "analytics"))
    detail: dict[str, Any] = {"analytic": name}
    try:
        options: Options | None = parse_options(analytic.options, body)
    except InvalidRequest as exc:  # refused by the planner, so audited like every request
        options, invalid = None, exc
    if options is not None:
        detail["options"] = options.model_dump(mode="json", exclude_none=True)

    def planner(policy: Policy, epsilon: float | None) -> Plan:
        if options is None:
            raise invalid
        plan = analytic.run(Context(policy, epsilon), options)
        return replace(plan, finish=_named(name, plan.finish))
    epsilon = None if options is None else options.epsilon
    result = answer(service, who, collaboration,
                    Request("analytics", epsilon, detail, planner, AnalyticsAnswer))
    assert isinstance(result, AnalyticsAnswer)
    return result


def _named(name: str, finish: Finish) -> Finish:
    """``finish``, its table (at whichever stage) carrying the analytic's name."""
    def named(released: tuple[Released, ...]) -> Table | Plan:
        out = finish(released)
        if isinstance(out, Plan):
            return replace(out, finish=_named(name, out.finish))
        return replace(out, extra={"analytic": name, **out.extra})
    return named


def describe() -> list[dict[str, Any]]:
    """Each analytic's name, summary and options (for a listing route)."""
    return [{"name": a.name, "summary": a.summary,
             "options": sorted(a.options.model_fields)} for a in ANALYTICS.values()]


__all__ = ["ANALYTICS", "Analytic", "describe", "run_analytic"]
