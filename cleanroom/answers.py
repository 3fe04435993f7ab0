"""The typed answers: what the routes return, the OpenAPI response models, and what the CLI and
the client render. Every answer of a question (a query, an attribution model, an analytic)
shares ``Answer``'s keys (CONTRACT.md §3); the keys a planner adds (``model``, ``analytic``,
``noise``, ``cut_points``, ...) are kept as extra keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# The policy file is each collaboration's first version until policy versioning lands; this is
# the one place that says so.
POLICY_VERSION = 1

Cell = Any
Interval = list[float] | None


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    query_id: str
    columns: list[str]
    rows: list[list[Cell]]
    suppressed_rows: int | None  # None under DP: how many groups were held back is exact
    epsilon_spent: float
    row_status: list[str]  # per row: exact, noised or partial
    withheld_cells: list[list[int]]  # [row, column] of each cell the threshold withheld (null)
    confidence_intervals: list[list[Interval]] | None  # per cell under DP, else None
    policy_version: int


class QueryAnswer(Answer):
    pass


class AttributionAnswer(Answer):
    model: str


class AnalyticsAnswer(Answer):
    analytic: str


class CheckAnswer(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    decision: str  # accepted | rejected
    violations: list[dict[str, Any]]
    policy_version: int = POLICY_VERSION


class BudgetAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    party: str
    epsilon_budget: float
    epsilon_spent: float
    epsilon_remaining: float
    history: list[dict[str, Any]]
    policy_version: int = POLICY_VERSION


class AuditAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[dict[str, Any]]
    policy_version: int = POLICY_VERSION
