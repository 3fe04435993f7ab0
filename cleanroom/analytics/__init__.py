"""Built-in audience analytics, each ordinary SQL through the gate (docs/analytics.md).

``run_analytic(service, who, collaboration, name, body)`` checks the analyst, validates the
options against the analytic's model and every name against the policy, runs the analytic's
gated batch (thresholds, DP, one budget charge) and audits it as action ``analytics``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cleanroom.analytics.audience import OverlapOptions, ReachOptions, overlap, reach_frequency
from cleanroom.analytics.base import Context, Options, Table
from cleanroom.analytics.journeys import JourneyOptions, PathOptions, time_to_conversion, top_paths
from cleanroom.analytics.rfm import RfmOptions, rfm
from cleanroom.errors import CleanroomError, InvalidRequest, NotFound, Violation
from cleanroom.pipeline import Service, audit_decision, authorize, epsilon_for
from cleanroom.store import Identity


@dataclass(frozen=True)
class Analytic:
    """A named analytic: the model of its options and the function that answers it."""

    name: str
    options: type[Options]
    run: Callable[[Context, Any], Table]
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
        violations = [Violation("invalid_field", f"{'.'.join(str(p) for p in e['loc'])}: "
                                f"{e['type']}") for e in exc.errors()]
        raise InvalidRequest(violations) from None


def run_analytic(service: Service, who: Identity, collaboration: str, name: str,
                 body: Any) -> dict[str, Any]:
    """Run analytic ``name`` with the options in ``body``; the answer has the query route's
    keys (query_id, columns, rows, suppressed_rows, epsilon_spent, row_status,
    confidence_intervals) plus the analytic's own."""
    policy = authorize(service, who, collaboration, "analyst")
    analytic = ANALYTICS.get(name)
    if analytic is None:
        raise NotFound()
    query_id = uuid.uuid4().hex
    detail: dict[str, Any] = {"analytic": name}
    try:
        options = parse_options(analytic.options, body)
        detail["options"] = options.model_dump(mode="json", exclude_none=True)
        epsilon = epsilon_for(policy, options.epsilon)
        table = analytic.run(Context(service, who, policy, epsilon, query_id), options)
    except CleanroomError as exc:
        audit_decision(service, who, "analytics", exc, query_id=query_id, detail=detail)
        raise
    detail.update(epsilon=epsilon, rows=len(table.rows), suppressed_rows=table.suppressed_rows)
    audit_decision(service, who, "analytics", None, query_id=query_id, detail=detail)
    return answer(query_id, name, table, epsilon)


def answer(query_id: str, name: str, table: Table, epsilon: float | None) -> dict[str, Any]:
    status = "exact" if epsilon is None else "noised"
    return {"query_id": query_id, "analytic": name, "columns": table.columns,
            "rows": table.rows, "suppressed_rows": table.suppressed_rows,
            "epsilon_spent": 0.0 if epsilon is None else epsilon,
            "row_status": [status] * len(table.rows),
            "confidence_intervals": table.intervals, **table.extra}


def describe() -> list[dict[str, Any]]:
    """Each analytic's name, summary and options (for a listing route)."""
    return [{"name": a.name, "summary": a.summary,
             "options": sorted(a.options.model_fields)} for a in ANALYTICS.values()]


__all__ = ["ANALYTICS", "Analytic", "describe", "run_analytic"]
