"""Name checks shared by the built-in analytics and attribution: every dataset and column a
request names is looked up in the policy before any SQL is built, and refused with a rule code
that names only what the analyst wrote (never a data value).

>>> from cleanroom.policy import parse_policy
>>> policy = parse_policy(EXAMPLE, source="example")
>>> dimension_of(policy, "impressions", "channel")
'channel'
>>> dimension_of(policy, "impressions", "cost")
Traceback (most recent call last):
...
cleanroom.errors.QueryRejected: the query breaks the collaboration's rules
"""

from __future__ import annotations

import math
from datetime import datetime

from cleanroom.errors import QueryRejected, Violation
from cleanroom.gate.rules import RULES
from cleanroom.gate.suggest import suggestion
from cleanroom.policy import Dataset, Kind, Policy

TIME_TYPES = frozenset({"TIMESTAMP", "DATE"})
MAX_LOOKBACK_DAYS = 3660.0

EXAMPLE = """
collaboration: example
parties: [{name: a, roles: [analyst, provider]}]
datasets:
  impressions:
    provider: a
    columns:
      user_key: {kind: user_key}
      ts: {kind: dimension, type: TIMESTAMP}
      channel: {kind: dimension, type: VARCHAR}
      cost: {kind: metric, type: DOUBLE, bounds: [0, 100]}
query_rules: {min_users_per_row: 10}
"""


def refuse(rule: str, message: str) -> QueryRejected:
    """A refusal with one violation (``query_rejected``, 422) of a registered rule, with its
    hint (an unregistered code is a KeyError: every code is in ``cleanroom.gate.rules``)."""
    return QueryRejected([Violation(rule, message, hint=RULES[rule].hint)])


def quote(name: str) -> str:
    """A quoted identifier (names are checked against the policy first; this is belt and braces).

    >>> quote('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def dataset_of(policy: Policy, name: str) -> Dataset:
    """The policy's dataset called ``name``, or ``unknown_dataset``."""
    found = policy.datasets.get(name)
    if found is None:
        raise refuse("unknown_dataset", f"{name!r} is not a dataset of this collaboration"
                     + suggestion(name, policy.datasets, "datasets"))
    return found


def _column_kind(policy: Policy, dataset: str, column: str) -> Kind:
    columns = dataset_of(policy, dataset).columns
    found = columns.get(column)
    if found is None:
        readable = [n for n, c in columns.items() if c.kind is not Kind.BANNED]
        raise refuse("unknown_column", f"{dataset} has no column {column!r}"
                     + suggestion(column, readable, "columns"))
    if found.kind is Kind.BANNED:
        raise refuse("banned_column", f"{dataset}.{column} is banned by the policy")
    return found.kind


def dimension_of(policy: Policy, dataset: str, column: str) -> str:
    """``column`` if it is a dimension of ``dataset``: never a user_key, a metric or banned."""
    kind = _column_kind(policy, dataset, column)
    if kind is not Kind.DIMENSION:
        raise refuse("dimension_not_allowed",
                     f"{dataset}.{column} is a {kind.value}, not a dimension")
    return column


def metric_of(policy: Policy, dataset: str, column: str | None) -> str | None:
    """``column`` if it is a metric of ``dataset``; when None, the dataset's only metric (or None
    if it has none or several)."""
    if column is None:
        metrics = [n for n, c in dataset_of(policy, dataset).columns.items()
                   if c.kind is Kind.METRIC]
        return metrics[0] if len(metrics) == 1 else None
    if _column_kind(policy, dataset, column) is not Kind.METRIC:
        raise refuse("not_a_metric", f"{dataset}.{column} is not a metric")
    return column


def metric_bounds(policy: Policy, dataset: str, column: str) -> tuple[float, float]:
    bounds = dataset_of(policy, dataset).columns[column].bounds
    assert bounds is not None  # the policy loader requires bounds on every metric
    return float(bounds[0]), float(bounds[1])


def time_of(policy: Policy, dataset: str) -> str:
    """The dataset's timestamp dimension: its only TIMESTAMP/DATE dimension, or the one named
    ``ts`` when there are several; ``no_timestamp`` otherwise."""
    columns = dataset_of(policy, dataset).columns
    times = [n for n, c in columns.items() if c.kind is Kind.DIMENSION and c.type in TIME_TYPES]
    if len(times) == 1:
        return times[0]
    if "ts" in times:
        return "ts"
    raise refuse("no_timestamp", f"{dataset} has no single timestamp dimension")


def user_key_of(policy: Policy, dataset: str) -> str:
    return dataset_of(policy, dataset).user_key


def lookback_seconds(days: float) -> int:
    """A lookback window in whole seconds, or ``bad_lookback``.

    >>> lookback_seconds(1.5)
    129600
    """
    if not (isinstance(days, (int, float)) and math.isfinite(days)
            and 0 < days <= MAX_LOOKBACK_DAYS):
        raise refuse("bad_lookback", f"lookback_days must be in (0, {MAX_LOOKBACK_DAYS:g}]")
    return max(1, round(days * 86_400))


def timestamp_literal(moment: datetime) -> str:
    """A SQL timestamp literal rendered from a parsed datetime (digits only, never raw text).

    >>> timestamp_literal(datetime(2026, 9, 1, 13, 45))
    "TIMESTAMP '2026-09-01 13:45:00'"
    """
    return f"TIMESTAMP '{moment.strftime('%Y-%m-%d %H:%M:%S')}'"


def number(value: float) -> str:
    """A finite number as SQL text.

    >>> number(2.5), number(3)
    ('2.5', '3')
    """
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return repr(int(value)) if float(value).is_integer() else repr(float(value))
