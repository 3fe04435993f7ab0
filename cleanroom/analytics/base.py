"""What every built-in analytic shares: its options, the gated batch it runs, and the table it
returns. An analytic only builds SQL from checked names and numbers; the gate, the thresholds,
the noise and the one budget charge all come from ``pipeline.run_batch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cleanroom import pipeline
from cleanroom.pipeline import Service
from cleanroom.policy import Policy
from cleanroom.store import Identity

Interval = list[float] | None


class Options(BaseModel):
    """Options common to every analytic; each analytic adds its own (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    epsilon: float | None = Field(default=None, gt=0, strict=True)


@dataclass(frozen=True)
class Context:
    """One analytic request: who asks, under which policy, with which epsilon (None: exact)."""

    service: Service
    who: Identity
    policy: Policy
    epsilon: float | None
    query_id: str

    @property
    def min_users(self) -> int:
        return self.policy.query_rules.min_users_per_row

    def batch(self, sqls: list[str], *, epsilon: float | None = None) -> list[dict[str, Any]]:
        """Run gated SQL as one request: the epsilon (default: the request's) is split equally
        between the queries and charged once, before anything is released."""
        share = self.epsilon if epsilon is None else epsilon
        return pipeline.run_batch(self.service, self.who, self.policy, sqls, share,
                                  self.query_id)


@dataclass(frozen=True)
class Table:
    """An analytic's answer: rows only where enough people stand behind them.

    ``intervals`` mirrors ``rows`` cell by cell (95% intervals under DP, None for labels and for
    values derived after release); it is None for exact answers.
    """

    columns: list[str]
    rows: list[list[Any]]
    suppressed_rows: int | None
    intervals: list[list[Interval]] | None
    extra: dict[str, Any] = field(default_factory=dict)


def row_intervals(answer: dict[str, Any]) -> list[list[Interval]]:
    """Per-row cell intervals of a batch answer (all None for an exact answer)."""
    found = answer.get("confidence_intervals")
    if found is None:
        return [[None] * len(answer["columns"]) for _ in answer["rows"]]
    return [list(cells) for cells in found]


def total_suppressed(answers: list[dict[str, Any]]) -> int | None:
    """Rows held back over several answers; None under DP (that count is not released)."""
    counts = [a["suppressed_rows"] for a in answers]
    return None if any(c is None for c in counts) else sum(counts)


def is_private(answers: list[dict[str, Any]]) -> bool:
    return any(a.get("confidence_intervals") is not None for a in answers)


def noise_of(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Noise plans and the remaining budget of DP answers, for the response (empty if exact)."""
    plans = [a["noise"] for a in answers if "noise" in a]
    if not plans:
        return {}
    return {"noise": plans, "epsilon_remaining": answers[-1].get("epsilon_remaining")}
