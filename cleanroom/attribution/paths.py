"""The SQL that turns touches and conversions into paths, shared by every model.

The CTEs follow the path rules exactly (docs/attribution.md):

* ``conv``: each person's first conversion (smallest ts; among equal ts the larger revenue), its
  revenue as the path value (NULL -> 0);
* ``tp``: touches with a user, a ts and a dimension value (NULL dimension values are not touches);
* ``conv_touch``: a converter's touches with ``conv_ts - lookback <= ts < conv_ts``;
* ``null_touch``: a non-converter's touches in the lookback window that ends at, and includes, the
  latest touch in the data;
* ``path_touch``: both, flagged ``converted``.

Ordering inside a path is always ``ORDER BY ts, d``. Identifiers are quoted; the lookback travels
as the named parameter ``$lookback_us`` (see :func:`path_params`).
"""

from __future__ import annotations

from cleanroom.attribution.spec import AttributionSpec, days_to_us


def quote(name: str) -> str:
    """Quote an identifier for DuckDB.

    >>> print(quote('my "col'))
    "my ""col"
    """
    return '"' + name.replace('"', '""') + '"'


def path_params(spec: AttributionSpec) -> dict[str, int]:
    """The named parameters every path query needs.

    >>> path_params(AttributionSpec("linear", "t", "c", "channel", lookback_days=1))
    {'lookback_us': 86400000000}
    """
    return {"lookback_us": days_to_us(spec.lookback_days)}


def _value_sql(spec: AttributionSpec) -> str:
    if spec.revenue is None:
        return "CAST(0 AS DOUBLE)"
    return f"coalesce(CAST({quote(spec.revenue)} AS DOUBLE), CAST(0 AS DOUBLE))"


def path_ctes(spec: AttributionSpec) -> str:
    """The body of a WITH clause defining conv, tp, conv_touch, null_touch and path_touch."""
    uk, ts, value = quote(spec.user_key), quote(spec.ts), _value_sql(spec)
    return f"""
conv AS (
  SELECT {uk} AS u, min(CAST({ts} AS TIMESTAMP)) AS cts,
         arg_min({value}, (CAST({ts} AS TIMESTAMP), -{value})) AS val
  FROM {quote(spec.conversions)}
  WHERE {uk} IS NOT NULL AND {ts} IS NOT NULL
  GROUP BY {uk}),
tp AS (
  SELECT {uk} AS u, CAST({ts} AS TIMESTAMP) AS ts, {quote(spec.dimension)} AS d
  FROM {quote(spec.touchpoints)}
  WHERE {uk} IS NOT NULL AND {ts} IS NOT NULL AND {quote(spec.dimension)} IS NOT NULL),
conv_touch AS (
  SELECT tp.u, tp.ts, tp.d, conv.cts, conv.val
  FROM tp JOIN conv ON tp.u = conv.u
  WHERE tp.ts >= conv.cts - to_microseconds($lookback_us) AND tp.ts < conv.cts),
null_touch AS (
  SELECT tp.u, tp.ts, tp.d
  FROM tp ANTI JOIN conv ON tp.u = conv.u
  WHERE tp.ts >= (SELECT max(ts) FROM tp) - to_microseconds($lookback_us)),
path_touch AS (
  SELECT u, ts, d, TRUE AS converted, val FROM conv_touch
  UNION ALL
  SELECT u, ts, d, FALSE AS converted, CAST(0 AS DOUBLE) AS val FROM null_touch)
"""


def path_sql(spec: AttributionSpec) -> str:
    """One row per person with a path: user_key, path (a list, in order), converted, value.

    Not used by the models themselves (they aggregate without materialising lists); tests and the
    benchmark use it to hand the very same paths to reference implementations.
    """
    return f"""WITH {path_ctes(spec)}
SELECT u AS user_key, list(d ORDER BY ts, d) AS path, bool_or(converted) AS converted,
       max(val) AS value
FROM path_touch GROUP BY u ORDER BY u"""
