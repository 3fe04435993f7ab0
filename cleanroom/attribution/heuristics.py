"""The rule-based models: first/last touch, linear, time decay, position based, simplified Shapley.

Each model is three SQL fragments: window columns over a converter's touches (``touch_columns``),
a touch weight (``touch_weight``), and how touch weights of one (person, dimension value) combine
(``group_weight``). Weights are normalised per person, so every converting person with a path
hands out exactly one conversion and exactly their path value.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from cleanroom.attribution.paths import path_ctes, path_params
from cleanroom.attribution.spec import MIN_CREDIT_SHARE, AttributionResult, AttributionSpec

_IN_ORDER = "(PARTITION BY u ORDER BY ts, d)"


@dataclass(frozen=True)
class Weighting:
    """How one heuristic model weighs the touches of a path, as SQL fragments."""

    touch_columns: str = ""
    touch_weight: str = "CAST(1 AS DOUBLE)"
    group_weight: str = "sum(w)"


WEIGHTINGS: dict[str, Weighting] = {
    "first_touch": Weighting(f", row_number() OVER {_IN_ORDER} AS rn", "CAST(rn = 1 AS DOUBLE)"),
    "last_touch": Weighting(
        ", row_number() OVER (PARTITION BY u ORDER BY ts DESC, d DESC) AS rn",
        "CAST(rn = 1 AS DOUBLE)",
    ),
    "linear": Weighting(),
    "position_based": Weighting(
        f", row_number() OVER {_IN_ORDER} AS rn, count(*) OVER (PARTITION BY u) AS n",
        "CASE WHEN n = 1 THEN 1.0::DOUBLE WHEN n = 2 THEN 0.5::DOUBLE"
        " WHEN rn = 1 OR rn = n THEN 0.4::DOUBLE ELSE 0.2::DOUBLE / (n - 2) END",
    ),
    # Measured from the path's latest touch rather than the conversion: the same weights after
    # normalisation, but the latest touch weighs 1, so a long lookback can never divide by 0.
    "time_decay": Weighting(
        ", max(ts) OVER (PARTITION BY u) AS last_ts",
        "pow(0.5::DOUBLE, (epoch_us(last_ts) - epoch_us(ts)) / CAST($half_life_us AS DOUBLE))",
    ),
    "shapley": Weighting(group_weight="CAST(1 AS DOUBLE)"),
}


def heuristic_sql(spec: AttributionSpec, *, ctes: str = "") -> str:
    """Rows (dimension value, conversions, revenue, users), sorted, for a heuristic model;
    ``ctes`` (the body of a WITH clause) define the tables the spec reads, if they are not
    tables already."""
    wt = WEIGHTINGS[spec.model]
    return f"""WITH {ctes + ',' if ctes else ''}{path_ctes(spec)},
touch AS (SELECT u, ts, d, val{wt.touch_columns} FROM conv_touch),
weighed AS (SELECT u, d, val, {wt.touch_weight} AS w FROM touch),
grouped AS (SELECT u, d, any_value(val) AS val, {wt.group_weight} AS w FROM weighed GROUP BY u, d),
credit AS (SELECT d, val, w / sum(w) OVER (PARTITION BY u) AS c FROM grouped)
SELECT d, sum(c) AS conversions, sum(c * val) AS revenue,
       count(*) FILTER (WHERE c >= {MIN_CREDIT_SHARE!r}) AS users
FROM credit GROUP BY d HAVING count(*) FILTER (WHERE c > 0) > 0 ORDER BY d"""


def heuristic_params(spec: AttributionSpec) -> dict[str, float]:
    """Named parameters of :func:`heuristic_sql` (only time decay has one of its own)."""
    params: dict[str, float] = dict(path_params(spec))
    if spec.model == "time_decay":
        params["half_life_us"] = spec.half_life_days * 86_400_000_000.0
    return params


def run_heuristic(con: duckdb.DuckDBPyConnection, spec: AttributionSpec) -> AttributionResult:
    """Run a heuristic model inside DuckDB; only the per-value totals come back."""
    fetched = con.execute(heuristic_sql(spec), heuristic_params(spec)).fetchall()
    return AttributionResult(
        columns=(spec.dimension, "conversions", "revenue"),
        rows=tuple((d, float(conv), float(rev)) for d, conv, rev, _ in fetched),
        users=tuple(int(users) for _, _, _, users in fetched),
    )
