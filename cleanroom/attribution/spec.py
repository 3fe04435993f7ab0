"""What an attribution request asks for, what it returns, and the checks on its options.

>>> spec = AttributionSpec("linear", "touches", "conversions", "channel", lookback_days=30)
>>> check_spec(spec)
>>> check_spec(AttributionSpec("magic", "touches", "conversions", "channel", 30))
Traceback (most recent call last):
...
ValueError: unknown attribution model
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
)
# Bounds keep the microsecond interval arithmetic far from overflow and the chain small.
MAX_LOOKBACK_DAYS = 3660.0
MAX_HALF_LIFE_DAYS = 3660.0
MAX_ORDER = 4
# A person counts towards a row's people (its threshold, and under DP its selection) only with
# at least this share of their one conversion: otherwise 49 people holding 0.5**180 of a
# credit each would let one converter's totals pass a threshold of 50 (issue 8, 4c).
MIN_CREDIT_SHARE = 0.01


@dataclass(frozen=True)
class AttributionSpec:
    """One attribution request over a touchpoints table and a conversions table."""

    model: str
    touchpoints: str
    conversions: str
    dimension: str
    lookback_days: float
    revenue: str | None = "revenue"
    user_key: str = "user_key"
    ts: str = "ts"
    half_life_days: float = 7.0
    order: int = 1
    # Markov only: a window of touches that fewer distinct people's paths hold is no state of
    # its own but part of the one state (other) (the clean room sets the policy's threshold).
    min_people: int = 1


@dataclass(frozen=True)
class AttributionResult:
    """Credited conversions and revenue per dimension value, sorted by that value.

    ``users[i]`` counts the distinct converting people who gave ``rows[i]`` at least
    ``MIN_CREDIT_SHARE`` of their conversion (a row with some credit but no such person has 0).
    """

    columns: tuple[str, str, str]
    rows: tuple[tuple[object, float, float], ...]
    users: tuple[int, ...]


def check_spec(spec: AttributionSpec) -> None:
    """Raise ValueError (with a fixed message that echoes no value) for a bad option."""
    if spec.model not in MODELS:
        raise ValueError("unknown attribution model")
    for name in ("touchpoints", "conversions", "dimension", "user_key", "ts"):
        _check_identifier(name, getattr(spec, name))
    if spec.revenue is not None:
        _check_identifier("revenue", spec.revenue)
    _check_days("lookback_days", spec.lookback_days, MAX_LOOKBACK_DAYS)
    _check_days("half_life_days", spec.half_life_days, MAX_HALF_LIFE_DAYS)
    if type(spec.order) is not int or not 1 <= spec.order <= MAX_ORDER:
        raise ValueError(f"order must be an integer from 1 to {MAX_ORDER}")
    if type(spec.min_people) is not int or spec.min_people < 1:
        raise ValueError("min_people must be a positive integer")


def _check_identifier(name: str, value: object) -> None:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"{name} must be a non-empty identifier")


def _check_days(name: str, value: object, upper: float) -> None:
    ok = False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ok = math.isfinite(value) and 0 < value <= upper
    if not ok:
        raise ValueError(f"{name} must be a number of days in (0, {upper:g}]")


def days_to_us(days: float) -> int:
    """A number of days as whole microseconds, the unit DuckDB's timestamps use.

    >>> days_to_us(0.5)
    43200000000
    """
    return round(days * 86_400_000_000)
