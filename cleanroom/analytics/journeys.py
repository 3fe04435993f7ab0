"""Journey analytics over touchpoints and conversions: the top paths to conversion and the time
from first touch to conversion.

Both use each person's first conversion and the touches in the lookback window before it
(``converted_at - lookback <= touched_at < converted_at``), the same window as attribution.
"""

from __future__ import annotations

from pydantic import Field

from cleanroom.analytics.base import Context, Options, Table, noise_of
from cleanroom.analytics.checks import (
    MAX_LOOKBACK_DAYS,
    dataset_of,
    dimension_of,
    lookback_seconds,
    quote,
    refuse,
    time_of,
    user_key_of,
)
from cleanroom.planners.base import Plan, Released

# (label, upper bound in seconds); the last bucket is open-ended.
TIME_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("<1h", 3_600), ("1-6h", 21_600), ("6-24h", 86_400), ("1-3d", 259_200),
    ("3-7d", 604_800), ("7-14d", 1_209_600), ("14-30d", 2_592_000), ("30d+", None))
PATH_SEPARATOR = " > "


class JourneyOptions(Options):
    touchpoints: str
    conversions: str
    lookback_days: float = Field(default=30.0, gt=0, le=MAX_LOOKBACK_DAYS)


class PathOptions(JourneyOptions):
    dimension: str
    n: int = Field(default=10, ge=1, le=1000)
    max_length: int = Field(default=5, ge=1, le=50)


def window_ctes(ctx: Context, opts: JourneyOptions, extra: str = "",
                where: str = "") -> str:
    """``first_conversion`` (person, converted_at) and ``touches`` (person, touched_at,
    converted_at, ``extra`` columns of ``t``) in the lookback window before it."""
    t, c = opts.touchpoints, opts.conversions
    dataset_of(ctx.policy, t)
    tuk, cuk = quote(user_key_of(ctx.policy, t)), quote(user_key_of(ctx.policy, c))
    tts, cts = quote(time_of(ctx.policy, t)), quote(time_of(ctx.policy, c))
    secs = lookback_seconds(opts.lookback_days)
    return (f"first_conversion AS (SELECT {cuk} AS person, MIN({cts}) AS converted_at "
            f"FROM {quote(c)} GROUP BY {cuk}), "
            f"touches AS (SELECT t.{tuk} AS person, t.{tts} AS touched_at, f.converted_at{extra} "
            f"FROM {quote(t)} t JOIN first_conversion f ON t.{tuk} = f.person "
            f"WHERE t.{tts} < f.converted_at "
            f"AND t.{tts} >= f.converted_at - INTERVAL {secs} SECOND{where})")


def paths_sql(ctx: Context, opts: PathOptions) -> str:
    """Converting people per path: the last ``max_length`` touches before the first conversion,
    in time order, joined with ' > ' in a per-user CTE."""
    tuk = quote(user_key_of(ctx.policy, opts.touchpoints))
    tts = quote(time_of(ctx.policy, opts.touchpoints))
    column = dimension_of(ctx.policy, opts.touchpoints, opts.dimension)
    if dataset_of(ctx.policy, opts.touchpoints).columns[column].type != "VARCHAR":
        raise refuse("dimension_not_allowed", "a path is built from a VARCHAR dimension")
    dim = f"t.{quote(column)}"
    extra = (f", {dim} AS step, ROW_NUMBER() OVER (PARTITION BY t.{tuk} "
             f"ORDER BY t.{tts} DESC, {dim} DESC) AS back")
    ctes = window_ctes(ctx, opts, extra, f" AND {dim} IS NOT NULL")
    return (f"WITH {ctes}, paths AS (SELECT person, STRING_AGG(step, '{PATH_SEPARATOR}' "
            f"ORDER BY touched_at, step) AS path FROM touches "
            f"WHERE back <= {int(opts.max_length)} GROUP BY person) "
            "SELECT path, COUNT(*) AS converters FROM paths GROUP BY path "
            f"ORDER BY converters DESC, path LIMIT {int(opts.n)}")


def top_paths(ctx: Context, opts: PathOptions) -> Plan:
    """The ``n`` paths with the most converting people, among paths with enough of them."""
    def finish(released: tuple[Released, ...]) -> Table:
        (answer,) = released
        return Table(["path", "converters"], answer.rows, answer.suppressed_rows,
                     answer.row_status, answer.withheld_cells, answer.intervals,
                     noise_of([answer]))
    return Plan(ctx.steps([paths_sql(ctx, opts)]), finish)


def time_sql(ctx: Context, opts: JourneyOptions) -> str:
    """Converting people per bucket of time from their first touch in the window to their
    first conversion."""
    cases = " ".join(f"WHEN seconds < {upper} THEN '{label}'"
                     for label, upper in TIME_BUCKETS if upper is not None)
    return (f"WITH {window_ctes(ctx, opts)}, firsts AS (SELECT person, date_diff('second', "
            "MIN(touched_at), MIN(converted_at)) AS seconds FROM touches GROUP BY person) "
            f"SELECT CASE {cases} ELSE '{TIME_BUCKETS[-1][0]}' END AS time_to_conversion, "
            "COUNT(*) AS converters FROM firsts GROUP BY time_to_conversion")


def time_to_conversion(ctx: Context, opts: JourneyOptions) -> Plan:
    """Released buckets in time order (a bucket with too few people is left out)."""
    return Plan(ctx.steps([time_sql(ctx, opts)]), lambda released: _in_time_order(ctx, *released))


def _in_time_order(ctx: Context, answer: Released) -> Table:
    order = {label: i for i, (label, _) in enumerate(TIME_BUCKETS)}
    moved = sorted(range(len(answer.rows)),
                   key=lambda i: order.get(answer.rows[i][0], len(order)))
    where = {old: new for new, old in enumerate(moved)}
    intervals = answer.cell_intervals()
    return Table(["time_to_conversion", "converters"], [answer.rows[i] for i in moved],
                 answer.suppressed_rows, [answer.row_status[i] for i in moved],
                 sorted([where[r], c] for r, c in answer.withheld_cells),
                 [intervals[i] for i in moved] if ctx.private else None, noise_of([answer]))
