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


class Typed(BaseModel):
    """An answer model that code written against the old answer dicts can still read by key
    (``answer["rows"]``), extra keys included.

    >>> a = CheckAnswer(decision="accepted", violations=[], sql="SELECT 1")
    >>> a["decision"], a["sql"], a["policy_version"]
    ('accepted', 'SELECT 1', 1)
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields or key in (self.model_extra or {}):
            return getattr(self, key)
        raise KeyError(key)


class Answer(Typed):
    """What every answer to a question carries (CONTRACT.md §3)."""

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


class UploadAnswer(Typed):
    """A dataset's new current version (CONTRACT.md §3)."""

    dataset: str
    rows: int
    version: int


class AnalyticsList(Typed):
    analytics: list[dict[str, Any]]


class Health(Typed):
    status: str


class CheckAnswer(Typed):
    decision: str  # accepted | rejected
    violations: list[dict[str, Any]]
    policy_version: int = POLICY_VERSION


class BudgetAnswer(Typed):
    party: str
    epsilon_budget: float
    epsilon_spent: float
    epsilon_remaining: float
    history: list[dict[str, Any]]
    policy_version: int = POLICY_VERSION


class AuditAnswer(Typed):
    entries: list[dict[str, Any]]
    next_cursor: str | None = None  # pass as ``cursor`` for the page after; None: no more
    policy_version: int = POLICY_VERSION
