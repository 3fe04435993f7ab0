"""RFM segments in two gated steps.

Quintile cut points across people cannot come out of one gated query (a window across people
is refused), so:

1. release histograms of recency (days before ``as_of``), frequency (orders) and monetary (the
   metric's per-person sum) in fixed, public buckets, thresholded or noised like any query;
2. derive approximate quintile cut points from those released histograms (post-processing:
   suppressed buckets count as empty, noisy counts below 0 as 0);
3. one gated query scores everyone 1..5 on each axis with CASE on the cut points and counts
   people (and sums the metric) per (R, F, M) segment.

Under DP the request's epsilon is charged once, before the first step runs; each step spends
half of it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from pydantic import field_validator

from cleanroom.analytics.base import Context, Options, Table, noise_of
from cleanroom.analytics.checks import (
    metric_bounds,
    metric_of,
    number,
    quote,
    refuse,
    time_of,
    timestamp_literal,
    user_key_of,
)
from cleanroom.planners.base import Plan, Released

RECENCY_EDGES = (0, 1, 2, 3, 5, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 120, 150, 180,
                 270, 365, 730)
MAX_ORDERS = 20
MONETARY_BUCKETS = 40  # over [low, low + 2 * (high - low)] of the metric's bounds
QUANTILES = (0.2, 0.4, 0.6, 0.8)


class RfmOptions(Options):
    dataset: str
    metric: str | None = None
    as_of: dt.datetime | None = None

    @field_validator("as_of")
    @classmethod
    def _plausible(cls, value: dt.datetime | None) -> dt.datetime | None:
        # Years near 1 or 9999 overflow when shifted to UTC or by a day.
        if value is not None and not 1900 <= value.year <= 2200:
            raise ValueError("as_of must fall between the years 1900 and 2200")
        return value


def as_of_moment(opts: RfmOptions, *, today: dt.date | None = None) -> dt.datetime:
    """``as_of`` as naive UTC; by default the end of today (UTC).

    >>> as_of_moment(RfmOptions(dataset="c"), today=dt.date(2026, 9, 1))
    datetime.datetime(2026, 9, 2, 0, 0)
    """
    if opts.as_of is None:
        day = today or dt.datetime.now(dt.UTC).date()
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    moment = opts.as_of
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def per_user_cte(ctx: Context, opts: RfmOptions, metric: str, as_of: dt.datetime) -> str:
    ds, when = quote(opts.dataset), timestamp_literal(as_of)
    uk, ts = quote(user_key_of(ctx.policy, opts.dataset)), quote(time_of(ctx.policy, opts.dataset))
    return (f"per_user AS (SELECT {uk}, date_diff('day', MAX({ts}), {when}) AS recency_days, "
            f"LEAST(COUNT(*), {MAX_ORDERS}) AS orders, SUM({quote(metric)}) AS {quote(metric)} "
            f"FROM {ds} WHERE {ts} <= {when} GROUP BY {uk})")


def monetary_edges(bounds: tuple[float, float]) -> list[float]:
    """
    >>> monetary_edges((0.0, 1000.0))[:3], len(monetary_edges((0.0, 1000.0)))
    ([0.0, 50.0, 100.0], 41)
    """
    low, high = bounds
    width = (high - low) / (MONETARY_BUCKETS / 2)
    return [low + width * k for k in range(MONETARY_BUCKETS + 1)]


def bucket_case(column: str, edges: list[float]) -> str:
    """A CASE labelling each value with its bucket's lower edge (constants only).

    >>> bucket_case("x", [0, 1, 2])
    'CASE WHEN x < 1 THEN 0 WHEN x < 2 THEN 1 ELSE 2 END'
    """
    whens = " ".join(f"WHEN {column} < {number(hi)} THEN {number(lo)}"
                     for lo, hi in itertools.pairwise(edges))
    return f"CASE {whens} ELSE {number(edges[-1])} END"


def histogram_sql(cte: str, column: str, edges: list[float]) -> str:
    return (f"WITH {cte} SELECT {bucket_case(column, edges)} AS bucket, COUNT(*) AS people "
            "FROM per_user GROUP BY bucket")


def cut_points(rows: list[list[Any]], edges: list[float]) -> list[float | None]:
    """Upper edges of the buckets where the released histogram's cumulative share first
    reaches 20, 40, 60 and 80%; None when that is the open last bucket or nothing was released.

    >>> cut_points([[0, 10], [1, 10], [2, 10], [3, 10], [4, 10]], [0, 1, 2, 3, 4, 5])
    [1, 2, 3, 4]
    """
    counts = {float(r[0]): max(0.0, float(r[1] or 0)) for r in rows if r[0] is not None}
    total = sum(counts.values())
    uppers = [*edges[1:], None]
    cuts: list[float | None] = []
    for q in QUANTILES:
        running, cut = 0.0, None
        for lower, upper in zip(edges, uppers):
            running += counts.get(float(lower), 0.0)
            if total > 0 and running >= q * total:
                cut = upper
                break
        cuts.append(cut)
    return cuts


def score_case(column: str, cuts: list[float | None], *, reverse: bool = False) -> str:
    """1 + the number of cut points at or below the value (5 - that for recency).

    >>> score_case("f", [2, 3, None, None])
    'CASE WHEN f >= 3 THEN 3 WHEN f >= 2 THEN 2 ELSE 1 END'
    """
    known = [c for c in cuts if c is not None]
    whens = [f"WHEN {column} >= {number(c)} THEN {(5 - k) if reverse else (k + 1)}"
             for k, c in reversed(list(enumerate(known, 1)))]
    default = 5 if reverse else 1
    return f"CASE {' '.join(whens)} ELSE {default} END" if whens else str(default)


def rfm(ctx: Context, opts: RfmOptions) -> Plan:
    """Histograms, then cut points, then people and the metric per (R, F, M) segment: a plan
    whose second stage is planned from the first one's released rows."""
    metric = metric_of(ctx.policy, opts.dataset, opts.metric)
    if metric is None:
        raise refuse("not_a_metric", f"{opts.dataset} needs one metric (name it with 'metric')")
    cte = per_user_cte(ctx, opts, metric, as_of_moment(opts))
    edges = {"recency_days": [float(e) for e in RECENCY_EDGES],
             "orders": [float(f) for f in range(1, MAX_ORDERS + 1)],
             quote(metric): monetary_edges(metric_bounds(ctx.policy, opts.dataset, metric))}
    half = None if ctx.epsilon is None else ctx.epsilon / 2
    uk = user_key_of(ctx.policy, opts.dataset)

    def segments(histograms: tuple[Released, ...]) -> Plan:
        cuts = [cut_points(h.rows, e) for h, e in zip(histograms, edges.values())]
        extra = {"cut_points": dict(zip(("recency_days", "orders", metric), cuts)),
                 "histogram_suppressed_rows": [h.suppressed_rows for h in histograms]}

        def finish(released: tuple[Released, ...]) -> Table:
            (answer,) = released
            return Table(["recency_score", "frequency_score", "monetary_score", "people", metric],
                         answer.rows, answer.suppressed_rows, answer.row_status,
                         answer.withheld_cells, answer.intervals,
                         {**extra, **noise_of([*histograms, answer])})
        # Under DP a person's total is summed clamped to the metric's bounds, said in the SQL
        # (its public range, and so the noise's sensitivity; a total has none of its own).
        clamp = None if half is None else metric_bounds(ctx.policy, opts.dataset, metric)
        return Plan(ctx.steps([segments_sql(cte, uk, metric, cuts, clamp=clamp)], epsilon=half),
                    finish)
    return Plan(ctx.steps([histogram_sql(cte, c, e) for c, e in edges.items()], epsilon=half),
                segments)


def segments_sql(cte: str, user_key: str, metric: str, cuts: list[list[float | None]], *,
                 clamp: tuple[float, float] | None = None) -> str:
    """Score each person 1..5 on R, F and M by the cut points; people and the metric per segment
    (each person's total clamped to ``clamp`` when given)."""
    m = quote(metric)
    total = m if clamp is None else f"LEAST(GREATEST({m}, {number(clamp[0])}), {number(clamp[1])})"
    scores = (f"{score_case('recency_days', cuts[0], reverse=True)} AS recency_score, "
              f"{score_case('orders', cuts[1])} AS frequency_score, "
              f"{score_case(m, cuts[2])} AS monetary_score")
    return (f"WITH {cte}, scored AS (SELECT {quote(user_key)}, {m}, {scores} "
            "FROM per_user) "
            "SELECT recency_score, frequency_score, monetary_score, COUNT(*) AS people, "
            f"SUM({total}) AS {m} FROM scored GROUP BY recency_score, frequency_score, monetary_score "
            "ORDER BY recency_score DESC, frequency_score DESC, monetary_score DESC")
