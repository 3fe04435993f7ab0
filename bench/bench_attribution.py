"""Benchmark: the attribution models in DuckDB beside ChannelAttribution on the same paths.

    .venv/bin/python bench/bench_attribution.py [--people 1000000] [--repeat 3] [--seed 7]

Builds a seeded synthetic data set (1,000,000 people and about 2.4 million touches over five
channels by default) in an in-memory, locked-down DuckDB, then times each model through
``run_attribution`` (best of ``--repeat``). The same paths, aggregated the way ChannelAttribution
expects them ("a > b > c", conversions, nulls, value), go to its ``heuristic_models`` (first,
last and linear in one call) and to its ``markov_model`` with default settings (simulation).
Preparing that input is timed separately and charged to neither side. Prints figures, never
asserts them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleanroom.attribution import (
    MODELS,
    AttributionSpec,
    markov,
    run_attribution,
)
from cleanroom.attribution.paths import path_ctes, path_params, path_sql
from cleanroom.synthetic import JOURNEY_CHANNELS
from cleanroom.synthetic import journeys as make_journeys

CHANNELS = np.array(JOURNEY_CHANNELS)
LOOKBACK_DAYS = 30.0


def generate(n_people: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Journeys as integer person ids: Markov-chain channels, hourly timestamps, conversions."""
    rng = np.random.default_rng(seed)
    j = make_journeys(n_people, rng)
    person, channel, hours, starts, n_touch = j.person, j.channel, j.hours, j.starts, j.n_touch
    seen = np.zeros((n_people, len(CHANNELS)))
    np.add.at(seen, (person, channel), 1)
    logit = -2.2 + 0.9 * (seen[:, 2] > 0) + 0.6 * (seen[:, 3] > 0) + 0.15 * n_touch
    who = np.nonzero(rng.random(n_people) < 1 / (1 + np.exp(-logit)))[0]
    last = hours[starts + n_touch - 1]
    conv_hours = last[who] + np.rint(rng.exponential(30, who.size)).astype(np.int64)
    mid = rng.random(who.size) < 0.15  # some convert in the middle of their journey
    conv_hours[mid] = hours[
        starts[who[mid]] + (rng.random(mid.sum()) * n_touch[who[mid]]).astype(int)
    ]
    touches = pa.table({"pid": person, "hour": hours, "channel": CHANNELS[channel]})
    revenue = np.round(rng.lognormal(3.5, 0.8, who.size), 2)
    conversions = pa.table({"pid": who, "hour": conv_hours,
                            "revenue": pa.array(revenue, mask=rng.random(who.size) < 0.05)})  # fmt: skip
    return touches, conversions


def load(touches: pa.Table, conversions: pa.Table) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with VARCHAR user keys and TIMESTAMPs, locked down like the service."""
    con = duckdb.connect()
    for name, table in (("touches", touches), ("conversions", conversions)):
        con.register("arrow_in", table)
        rest = "channel" if name == "touches" else "revenue"
        con.execute(
            f"CREATE TABLE {name} AS SELECT printf('p%08d', pid) AS user_key, "
            f"TIMESTAMP '2024-01-01' + to_hours(hour) AS ts, {rest} FROM arrow_in"
        )
        con.unregister("arrow_in")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def journeys(con: duckdb.DuckDBPyConnection, spec: AttributionSpec) -> Any:
    """The paths of ``spec``, aggregated into ChannelAttribution's input frame."""
    sql = f"""SELECT array_to_string(path, ' > ') AS path,
                     count(*) FILTER (WHERE converted) AS conv,
                     count(*) FILTER (WHERE NOT converted) AS null,
                     sum(value) AS value
              FROM ({path_sql(spec)}) GROUP BY 1 ORDER BY 1"""
    return con.execute(sql, path_params(spec)).df()


def quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``fn`` with ChannelAttribution's prints swallowed."""

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return fn()

    return run


def reference_times(con: duckdb.DuckDBPyConnection, repeat: int) -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca  # prints a banner on import
    spec = AttributionSpec("markov", "touches", "conversions", "channel", LOOKBACK_DAYS)
    prep, frame = best_of(1, lambda: journeys(con, spec))
    converting = frame[frame["conv"] > 0]
    heur, _ = best_of(repeat, quiet(lambda: ca.heuristic_models(
        converting, "path", "conv", var_value="value", flg_pro=False)))  # fmt: skip
    out: dict[str, Any] = {"prep": prep, "paths": len(frame), "heuristic_models": heur}
    for order in (1, 2, 3):  # default settings: 1e5 simulations per step, seed 0
        run = partial(ca.markov_model, frame, "path", "conv", var_value="value", var_null="null",
                      order=order, flg_pro=False)  # fmt: skip
        out[f"markov{order}"] = best_of(1, quiet(run))
    return out


def our_times(con: duckdb.DuckDBPyConnection, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in MODELS:
        for order in (1, 2, 3) if model == "markov" else (1,):
            spec = AttributionSpec(model, "touches", "conversions", "channel", LOOKBACK_DAYS,
                                   order=order)  # fmt: skip
            key = f"markov{order}" if model == "markov" else model
            out[key] = best_of(repeat, partial(run_attribution, con, spec))
            if model == "markov":
                out[f"solve{order}"] = markov_solve_time(con, spec, repeat)
    return out


def markov_solve_time(con: duckdb.DuckDBPyConnection, spec: AttributionSpec, repeat: int) -> float:
    """The numpy part of the Markov model alone: chain from the counts, exact removal effects."""
    rows = con.execute(f"WITH {path_ctes(spec)},{markov.markov_sql(spec.order)}",
                       path_params(spec)).fetchall()  # fmt: skip
    channels = [r[1][0] for r in rows if r[0] == 2]
    seconds, _ = best_of(repeat, lambda: markov.removal_effects(markov.build_chain(rows), channels))
    return seconds


def max_relative_gap(ours: Any, reference: Any) -> float:
    ref = reference.set_index("channel_name")["total_conversions"]
    return max(abs(conv / ref[d] - 1) for d, conv, _ in ours.rows)


def report(ours: dict[str, Any], ref: dict[str, Any]) -> None:
    prep = ref["prep"]
    print(f"\n{'model':<16}{'ours':>8}{'CA':>8}{'CA+input':>10}{'ratio':>8}  note")
    for key, value in ours.items():
        if key.startswith("solve"):
            continue
        seconds, result = value
        theirs, note = None, ""
        if key in ("first_touch", "last_touch", "linear"):
            theirs, note = ref["heuristic_models"], "CA: one call gives first, last and linear"
        elif key.startswith("markov"):
            theirs, reference = ref[key]
            note = f"CA simulates; max |ours/CA - 1| = {max_relative_gap(result, reference):.2%}"
        label = "markov order " + key[-1] if key.startswith("markov") else key
        cells = (
            ("-", "-", "-")
            if theirs is None
            else (f"{theirs:.3f}", f"{theirs + prep:.3f}", f"{(theirs + prep) / seconds:.1f}x")
        )
        print(f"{label:<16}{seconds:>8.3f}{cells[0]:>8}{cells[1]:>10}{cells[2]:>8}  {note}")
    print(
        f"\nTimes in seconds. ours: run_attribution from the raw tables. CA: ChannelAttribution on "
        f"{ref['paths']:,} aggregated paths; CA+input adds the {prep:.2f} s DuckDB took to build "
        f"them. ratio = (CA+input) / ours."
    )
    print(f"\n{'markov order':<14}{'exact solve (numpy)':>21}{'CA simulation':>15}{'ratio':>9}")
    for order in (1, 2, 3):
        solve, simulate = ours[f"solve{order}"], ref[f"markov{order}"][0]
        print(f"{order:<14}{solve:>21.4f}{simulate:>15.3f}{simulate / solve:>8.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    con = load(*generate(args.people, args.seed))
    touches, convs = (con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                      for t in ("touches", "conversions"))  # fmt: skip
    print(
        f"{args.people:,} people, {touches:,} touches, {convs:,} conversions; "
        f"built in {time.perf_counter() - start:.1f} s; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; duckdb {duckdb.__version__}; "
        f"lookback {LOOKBACK_DAYS:g} days; best of {args.repeat}"
    )
    ours = our_times(con, args.repeat)
    report(ours, reference_times(con, args.repeat))


if __name__ == "__main__":
    main()
