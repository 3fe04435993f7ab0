"""What every built-in analytic shares: its options, the context it plans in, and the table it
finishes with. An analytic is a planner: it builds SQL from checked names and numbers as
``SqlStep``s, which the pipeline checks with the gate like an analyst's SQL, thresholds or
noises, and charges once; its ``finish`` only combines released rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cleanroom.planners.base import Interval, Released, SqlStep, Table
from cleanroom.policy import Policy

__all__ = ["Context", "Interval", "Options", "Table", "noise_of", "statuses", "total_suppressed",
           "withheld"]


class Options(BaseModel):
    """Options common to every analytic; each analytic adds its own (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    epsilon: float | None = Field(default=None, gt=0, strict=True)


@dataclass(frozen=True)
class Context:
    """One analytic request: under which policy, with which epsilon (None: exact)."""

    policy: Policy
    epsilon: float | None

    @property
    def min_users(self) -> int:
        return self.policy.query_rules.min_users_per_row

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    def steps(self, sqls: list[str], *, epsilon: float | None = None) -> tuple[SqlStep, ...]:
        """Gated steps sharing ``epsilon`` (default: the request's) equally."""
        total = self.epsilon if epsilon is None else epsilon
        share = None if total is None else total / len(sqls)
        return tuple(SqlStep(sql, share) for sql in sqls)


def total_suppressed(released: tuple[Released, ...] | list[Released]) -> int | None:
    """Rows held back over several steps; None under DP (that count is not released)."""
    counts = [r.suppressed_rows for r in released]
    return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


def noise_of(released: tuple[Released, ...] | list[Released]) -> dict[str, Any]:
    """The noise plans of DP steps, for the answer (empty if exact)."""
    plans = [r.noise for r in released if r.noise is not None]
    return {"noise": plans} if plans else {}


def statuses(ctx: Context, rows: list[list[Any]],
             cells: list[list[int]] | None = None) -> list[str]:
    """Per row: noised under DP; otherwise partial where a cell was withheld, else exact."""
    if ctx.private:
        return ["noised"] * len(rows)
    partial = {i for i, _ in cells or []}
    return ["partial" if i in partial else "exact" for i in range(len(rows))]


def withheld(ctx: Context, rows: list[list[Any]], columns: range) -> list[list[int]]:
    """[row, column] of every null cell among ``columns`` of an exact answer."""
    if ctx.private:
        return []
    return [[i, j] for i, row in enumerate(rows) for j in columns if row[j] is None]
