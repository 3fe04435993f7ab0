"""ChannelAttribution's Markov model, solved exactly instead of by simulation.

DuckDB turns paths into transition counts between states; only that small matrix comes to numpy.
A state is a window of ``order`` consecutive touches (a shorter path is one shorter state);
consecutive identical states collapse. Each path walks (start) -> states -> (conversion | null),
converters' paths to (conversion), non-converters' to (null), each path counting once. A window
that fewer than ``spec.min_people`` distinct people's paths hold is the one state (other), the
empty window, which holds no value (the clean room sets the policy's threshold): which states
exist, and so whether the cap refuses the chain, never depends on one person.

With Q the transient part of the transition matrix, N = (I - Q)^-1 the fundamental matrix and
b = N r (r: one-step probability of converting from each state), b[start] = P(conversion). Sending
the states K that contain a channel to (null) leaves, by the Schur complement,
P'(conversion) = b[start] - N[start, K] N[K, K]^-1 b[K], so the removal effect is
N[start, K] N[K, K]^-1 b[K] / b[start], with no subtraction and one matrix inverse in all.
Revenue uses r_v = (value of conversions ending in a state) / (visits to that state), i.e. the
conversion probability times the mean value of the paths converting there, as ChannelAttribution
draws a conversion's value from the paths that converted from its last state.

>>> chain = Chain(states=(("a",), ("b",)),
...               counts=np.array([[0, 2, 1], [0, 0, 1], [0, 0, 0]], dtype=float),
...               conversions=np.array([0, 1, 1.0]), nulls=np.array([0, 0, 1.0]),
...               values=np.array([0, 40, 10.0]))
>>> [round(float(x), 6) for x in removal_effects(chain, ["a", "b"])[0]]
[0.75, 0.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
from threadpoolctl import threadpool_limits

from cleanroom.attribution.paths import path_ctes, path_params
from cleanroom.attribution.spec import MIN_CREDIT_SHARE, AttributionResult, AttributionSpec

# A dense inverse of this size takes about a second on two cores and 72 MB. (other) is not
# counted: the cap is on the states that stand on ``min_people`` people.
MAX_STATES = 3000
_TRANSITION, _END, _USERS = 0, 1, 2


@dataclass(frozen=True)
class Chain:
    """Transition counts of the path Markov chain; index 0 is (start), i >= 1 is states[i - 1]."""

    states: tuple[tuple[object, ...], ...]
    counts: np.ndarray  # (S+1, S+1) transitions between (start) and states
    conversions: np.ndarray  # (S+1,) paths converting from each state
    nulls: np.ndarray  # (S+1,) paths ending in (null) from each state
    values: np.ndarray  # (S+1,) summed value of the paths converting from each state


def markov_sql(order: int, *, min_people: int = 1) -> str:
    """Rows (kind, src, dst, n, n_conv, value): transitions, path ends, and users per value.

    A window that fewer than ``min_people`` distinct people's paths hold is not a state of its
    own: every such window is the one state ``(other)``, an empty list, which holds no value.
    So which states exist, and how many, never depends on one person (docs/attribution.md).
    """
    items = ["d"] + [f"l{i}" for i in range(1, order)]
    leads = "".join(f", lead(d, {i}) OVER w AS l{i}" for i in range(1, order))
    state = f"[{', '.join(items)}]"
    if order > 1:  # a path shorter than the order is a single shorter state
        state = f"list_filter({state}, lambda x: x IS NOT NULL)"
    keep = f"greatest(n - {order} + 1, 1)"
    return f"""
seq AS (
  SELECT u, converted, val, row_number() OVER w AS rn, count(*) OVER (PARTITION BY u) AS n,
         d{leads}
  FROM path_touch WINDOW w AS (PARTITION BY u ORDER BY ts, d)),
win AS (
  SELECT u, rn, converted, val, rn = {keep} AS is_last, {state} AS s
  FROM seq WHERE rn <= {keep}),
held AS (
  SELECT s, count(DISTINCT u) >= {int(min_people)} AS held FROM win GROUP BY s),
merged AS (
  SELECT win.u, win.rn, win.converted, win.val, win.is_last,
         CASE WHEN held.held THEN win.s ELSE list_filter(win.s, lambda x: false) END AS s
  FROM win JOIN held ON win.s = held.s),
state AS (
  SELECT converted, val, is_last, s, lag(s) OVER (PARTITION BY u ORDER BY rn) AS prev
  FROM merged)
SELECT {_TRANSITION} AS kind, prev AS src, s AS dst, count(*) AS n, 0 AS n_conv,
       CAST(0 AS DOUBLE) AS value
FROM state WHERE prev IS NULL OR prev <> s GROUP BY prev, s
UNION ALL
SELECT {_END}, s, NULL, count(*), count(*) FILTER (WHERE converted),
       coalesce(sum(val) FILTER (WHERE converted), 0)
FROM state WHERE is_last GROUP BY s
UNION ALL
SELECT {_USERS}, [d], NULL, count(DISTINCT u) FILTER (WHERE converted), 0, 0
FROM path_touch GROUP BY d
ORDER BY kind, src NULLS FIRST, dst NULLS FIRST"""


def build_chain(rows: list[tuple[Any, ...]]) -> Chain:
    """Collect the transition and end rows of :func:`markov_sql` into count arrays."""
    # States in order of first appearance in DuckDB's sorted output: deterministic numerics.
    states = list(dict.fromkeys(tuple(r[2]) for r in rows if r[0] == _TRANSITION))
    # (other), the empty window, is one state whatever it merged: the cap counts the others.
    if len([s for s in states if s]) > MAX_STATES:
        raise ValueError("too many Markov states; use a lower order")
    index = {s: i for i, s in enumerate(states, 1)}
    size = len(states) + 1
    counts, conversions, nulls, values = (np.zeros((size, size)), *np.zeros((3, size)))
    for kind, src, dst, n, n_conv, value in rows:
        if kind == _TRANSITION:
            counts[index[tuple(src)] if src is not None else 0, index[tuple(dst)]] += n
        elif kind == _END:
            i = index[tuple(src)]
            conversions[i], nulls[i], values[i] = n_conv, n - n_conv, value
    return Chain(tuple(states), counts, conversions, nulls, values)


def live_states(chain: Chain) -> np.ndarray:
    """Indices (start first) that can still reach (conversion); the rest are (null) in all but
    name, and leaving them out makes a channel seen only on such states exactly worthless."""
    live = chain.conversions > 0
    step = chain.counts > 0
    while not np.array_equal(grown := live | (step @ live), live):
        live = grown
    return np.flatnonzero(live)


def absorption(chain: Chain, live: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the live states: the fundamental matrix N, and N @ r for conversions and for value."""
    total = (chain.counts.sum(axis=1) + chain.conversions + chain.nulls)[live]
    q = chain.counts[np.ix_(live, live)] / total[:, None]
    fundamental = np.linalg.inv(np.eye(len(live)) - q)
    conv, value = chain.conversions[live] / total, chain.values[live] / total
    return fundamental, fundamental @ conv, fundamental @ value


def removal_effects(chain: Chain, channels: list[object]) -> tuple[np.ndarray, np.ndarray]:
    # The matrices are small (at most a few thousand states): BLAS threads only contend with
    # DuckDB's for the cores (an order-3 solve went from 2 ms to 0.1 s with them).
    with threadpool_limits(limits=1):
        return _removal_effects(chain, channels)


def _removal_effects(chain: Chain, channels: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """Removal effects of each channel on P(conversion) and on expected value."""
    effects = np.zeros((len(channels), 2))
    live = live_states(chain)
    if len(live) == 0:
        return effects[:, 0], effects[:, 1]
    fundamental, conv, value = absorption(chain, live)
    states = [chain.states[i - 1] for i in live[1:]]
    for j, channel in enumerate(channels):
        k = [i for i, s in enumerate(states, 1) if channel in s]
        if k:
            sub = np.linalg.solve(fundamental[np.ix_(k, k)], np.column_stack([conv[k], value[k]]))
            effects[j] = fundamental[0, k] @ sub
    start = np.array([conv[0], value[0]])
    effects = np.divide(effects, start, out=np.zeros_like(effects), where=start != 0)
    return effects[:, 0], effects[:, 1]


def _shares(total: float, weights: np.ndarray) -> np.ndarray:
    """``total`` split proportionally to ``weights`` (all zero when the weights sum to zero)."""
    denominator = float(weights.sum())
    return total * weights / denominator if denominator != 0 else np.zeros_like(weights)


@dataclass(frozen=True)
class MarkovCredit:
    """The solved chain: per credited value, its conversions, revenue and removal effect."""

    values: tuple[object, ...]
    conversions: tuple[float, ...]
    revenue: tuple[float, ...]
    effects: tuple[float, ...]


def chain_sql(spec: AttributionSpec, *, ctes: str = "") -> str:
    """The transition, end and per-value rows of the chain (``ctes`` as in heuristic_sql);
    windows on fewer than ``spec.min_people`` people are the one state (other)."""
    return (f"WITH {ctes + ',' if ctes else ''}{path_ctes(spec)},"
            f"{markov_sql(spec.order, min_people=spec.min_people)}")


def solve(rows: list[tuple[Any, ...]]) -> MarkovCredit:
    """Credit conversions and revenue by removal effect, from the rows of :func:`chain_sql`.

    As in ChannelAttribution, a value seen only on non-converting paths is credited when the
    chain can carry it to a conversion.
    """
    values = [r[1][0] for r in rows if r[0] == _USERS]
    chain = build_chain(rows)
    conv_effect, value_effect = removal_effects(chain, values)
    conversions = _shares(float(chain.conversions.sum()), conv_effect)
    revenue = _shares(float(chain.values.sum()), value_effect)
    kept = [j for j in range(len(values)) if conv_effect[j] > 0]
    return MarkovCredit(tuple(values[j] for j in kept), tuple(float(conversions[j]) for j in kept),
                        tuple(float(revenue[j]) for j in kept),
                        tuple(float(conv_effect[j]) for j in kept))


def credit_sql(spec: AttributionSpec, *, ctes: str = "") -> str:
    """Per credited value: its conversions and revenue (parameters), and the converting people
    whose share of it reaches ``MIN_CREDIT_SHARE``. A converter's share of a value on their
    path is its removal effect over the sum of the effects of the distinct values on the path
    (what Markov would credit them if their path alone were scored)."""
    return f"""WITH {ctes + ',' if ctes else ''}{path_ctes(spec)},
credited AS (SELECT unnest($values) AS d, unnest($conversions) AS conversions,
                    unnest($revenue) AS revenue, unnest($effects) AS e),
person AS (SELECT DISTINCT u, d FROM conv_touch),
share AS (SELECT p.u, p.d, c.e / sum(c.e) OVER (PARTITION BY p.u) AS s
          FROM person p JOIN credited c ON p.d = c.d)
SELECT c.d, any_value(c.conversions) AS conversions, any_value(c.revenue) AS revenue,
       count(share.u) FILTER (WHERE share.s >= {MIN_CREDIT_SHARE!r}) AS users
FROM credited c LEFT JOIN share ON share.d = c.d GROUP BY c.d ORDER BY c.d"""


def credit_params(spec: AttributionSpec, credit: MarkovCredit) -> dict[str, Any]:
    return {**path_params(spec), "values": list(credit.values),
            "conversions": list(credit.conversions), "revenue": list(credit.revenue),
            "effects": list(credit.effects)}


def run_markov(con: duckdb.DuckDBPyConnection, spec: AttributionSpec) -> AttributionResult:
    """Fit the chain in DuckDB, solve it in numpy, credit conversions by removal effect, and
    count the people behind each value in DuckDB.

    A value seen only on non-converting paths can be credited; its row then has 0 users.
    """
    credit = solve(con.execute(chain_sql(spec), path_params(spec)).fetchall())
    if not credit.values:
        return AttributionResult((spec.dimension, "conversions", "revenue"), (), ())
    rows = con.execute(credit_sql(spec), credit_params(spec, credit)).fetchall()
    return AttributionResult(
        columns=(spec.dimension, "conversions", "revenue"),
        rows=tuple((d, float(conv), float(rev)) for d, conv, rev, _ in rows),
        users=tuple(int(users) for *_, users in rows),
    )
