"""Benchmark: a DP count of people per channel, beside the exact query and SmartNoise SQL.

    .venv/bin/python bench/bench_dp.py [--events 1000000] [--people 100000] [--runs 20]
        [--seed 7] [--no-smartnoise] [--explain] [--accuracy-draws 1000]

Generates seeded synthetic impressions with DuckDB SQL (six channels of unequal size; every
person's key is a 64-hex SHA-256, like a pseudonymized user_key) into bench/out/*.parquet, then
answers ``SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions GROUP BY channel``:

(a) through the service's own path at epsilon 1: ``plan_private_query`` for a DP policy with
    ``max_groups_per_user = 6`` (there are six channels, so no person ever loses a group and the
    bounded counts equal the exact ones), ``engine.sandbox`` over the Parquet file, ``run``,
    ``release_dp`` with a fresh OS-random generator each run;
(b) exactly, with the same engine settings (the same sandbox view, threads and memory);
(c) with SmartNoise SQL 1.0.10 on its pandas backend, in its own environment
    (bench/.venv-smartnoise, created on first use), with ``user_key`` as private id,
    ``max_ids = 6``, ``censor_dims`` at its default, epsilon 1 and delta 1e-6;
(d) the expected absolute error of the two-sided geometric mechanism at the sensitivity and
    epsilon share our plan states.

(e) ``bench/dp_accuracy.py``: the issue's query (people, rows, sum and average of cost per
    channel) at epsilon 0.2 and 1, bounded once and released ``--accuracy-draws`` times:
    coverage of the plain SQL answer and MAE beside the geometric and Laplace expectations.

(a) and (b) alternate run by run so that machine load hits both alike. Times are medians over
``--runs``, as wall-clock and as process CPU (all threads), which moves less on a shared
machine. Errors are means over runs and channels of |released - exact|. Prints figures,
never asserts them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from dp_accuracy import accuracy  # bench/dp_accuracy.py, beside this script

from cleanroom.engine import Limits, TableSpec, run, run_streaming, sandbox
from cleanroom.pipeline import plan_private_query
from cleanroom.planners.sql import column_spec
from cleanroom.policy import Policy
from cleanroom.privacy.dp_release import release_dp
from cleanroom.privacy.mechanisms import make_rng

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SN_VENV = HERE / ".venv-smartnoise"
SN_PACKAGES = ("smartnoise-sql==1.0.10", "pyarrow")
QUERY = "SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions GROUP BY channel"
EPSILON, DELTA, GROUPS, ROWS = 1.0, 1e-6, 6, 10
SN_MAIN = f"max_ids = {GROUPS}"
# Channel shares in percent, cumulative: search 30, social 25, display 17, video 13, email 10,
# affiliate 5.
CHANNELS = (("search", 30), ("social", 55), ("display", 72), ("video", 85), ("email", 95),
            ("affiliate", 100))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-smartnoise", action="store_true", help="skip SmartNoise SQL")
    parser.add_argument("--smartnoise-all-rows", action="store_true",
                        help="also run SmartNoise with max_ids = the most events of any person")
    parser.add_argument("--accuracy-draws", type=int, default=1000,
                        help="releases per epsilon for coverage and MAE (0: skip)")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of the bounded and the exact query")
    return parser.parse_args()


# -- data and policy -----------------------------------------------------------------------
def generate(events: int, people: int, seed: int) -> Path:
    """Seeded impressions: each event picks a person and a channel by hashing its index."""
    path = OUT / f"impressions-{events}-{people}-{seed}.parquet"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    channel = " ".join(f"WHEN h2 % 100 < {cut} THEN '{name}'" for name, cut in CHANNELS)
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          WITH e AS (SELECT i, hash(i, {seed}) AS h1, hash(i, {seed}, 'c') AS h2
                     FROM range({events}) t(i))
          SELECT sha256('person-{seed}-' || (h1 % {people})::VARCHAR) AS user_key,
                 TIMESTAMP '2024-01-01' + to_seconds((h1 // {people} % 2592000)::BIGINT) AS ts,
                 CASE {channel} END AS channel,
                 'c' || (h2 // 100 % 40)::VARCHAR AS campaign,
                 (h2 // 4000 % 10000) / 100.0 AS cost
          FROM e ORDER BY i
        ) TO '{path}' (FORMAT parquet)""")
    con.close()
    return path


def bench_policy() -> Policy:
    return Policy.model_validate({
        "collaboration": "bench-dp",
        "parties": [{"name": "bench", "roles": ["analyst", "provider"]}],
        "datasets": {"impressions": {"provider": "bench", "columns": {
            "user_key": {"kind": "user_key"},
            "ts": {"kind": "dimension", "type": "TIMESTAMP"},
            "channel": {"kind": "dimension", "type": "VARCHAR"},
            "campaign": {"kind": "dimension", "type": "VARCHAR"},
            "cost": {"kind": "metric", "type": "DOUBLE", "bounds": [0, 100]}}}},
        "query_rules": {"min_users_per_row": 50, "max_groups_per_user": GROUPS,
                        "max_rows_per_user_group": ROWS},
        "privacy": {"differential_privacy": "required", "max_epsilon_per_query": EPSILON,
                    "delta": DELTA}})


def tables(policy: Policy, path: Path) -> list[TableSpec]:
    """The sandbox's view, as ``pipeline.tables_for`` builds it from a store."""
    spec = policy.datasets["impressions"]
    return [TableSpec("impressions", path, tuple(
        column_spec(c, col) for c, col in spec.columns.items()))]


def describe_data(path: Path) -> dict[str, Any]:
    con = duckdb.connect()
    events, people = con.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT user_key) FROM '{path}'").fetchone() or (0, 0)
    most = con.execute(f"SELECT MAX(c), MAX(e) FROM (SELECT COUNT(DISTINCT channel) AS c, "
                       f"COUNT(*) AS e FROM '{path}' GROUP BY user_key)").fetchone() or (0, 0)
    con.close()
    return {"events": events, "people": people, "max_channels_per_person": most[0],
            "max_events_per_person": most[1]}


# -- the two sides we time -----------------------------------------------------------------
Answers = tuple[dict[str, float], float]  # per channel, and the seconds DuckDB took


def ours(policy: Policy, specs: list[TableSpec], limits: Limits) -> Answers:
    """One DP answer through the service's path: plan, sandbox, streamed run and release (the
    "DuckDB" column times the run and the release together, as they overlap)."""
    private = plan_private_query(policy, QUERY, EPSILON)
    q = private.query
    with sandbox(specs, limits) as con:
        start = time.perf_counter()
        release = run_streaming(con, q.sql, limits, lambda rows: release_dp(
            rows, q.columns, private.plan, min_users=policy.query_rules.min_users_per_row,
            max_groups_per_user=policy.query_rules.max_groups_per_user, rng=make_rng(),
            order=q.order, limit=q.limit, offset=q.offset, max_rows=limits.max_rows))
        query_s = time.perf_counter() - start
    return {str(row[0]): float(row[1]) for row in release.rows}, query_s


def exact(specs: list[TableSpec], limits: Limits) -> Answers:
    with sandbox(specs, limits) as con:
        start = time.perf_counter()
        result = run(con, QUERY, limits)
        query_s = time.perf_counter() - start
    return {str(row[0]): float(row[1]) for row in result.rows}, query_s


def timed(fn: Callable[[], Answers]) -> tuple[float, float, dict[str, float], float]:
    """Wall and CPU seconds of the whole call, its answers, and DuckDB's wall seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    answers, query_s = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, answers, query_s


def alternate(policy: Policy, specs: list[TableSpec], runs: int) -> dict[str, list[Any]]:
    limits = Limits()
    exact(specs, limits), ours(policy, specs, limits)  # warm the file cache and imports
    out: dict[str, list[Any]] = {"exact": [], "ours": []}
    for _ in range(runs):
        out["exact"].append(timed(lambda: exact(specs, limits)))
        out["ours"].append(timed(lambda: ours(policy, specs, limits)))
    return out


# -- SmartNoise, in its own environment ----------------------------------------------------
def smartnoise_python() -> Path:
    """bench/.venv-smartnoise/bin/python, creating the environment on first use."""
    python = SN_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {SN_VENV} with {', '.join(SN_PACKAGES)} (first use only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(SN_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *SN_PACKAGES], check=True)
    return python


def smartnoise(path: Path, runs: int, max_ids: int) -> dict[str, Any]:
    command = [str(smartnoise_python()), str(HERE / "smartnoise_runner.py"), str(path),
               "--epsilon", str(EPSILON), "--delta", str(DELTA), "--max-ids", str(max_ids),
               "--runs", str(runs)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- figures -------------------------------------------------------------------------------
def errors(runs: list[dict[str, float]], truth: dict[str, float]) -> tuple[float, float, int]:
    """Mean absolute error over runs and channels, its standard error, and missing cells."""
    diffs = [abs(answers[k] - v) for answers in runs for k, v in truth.items() if k in answers]
    missing = sum(k not in answers for answers in runs for k in truth)
    sem = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.nan
    return statistics.fmean(diffs) if diffs else math.nan, sem, missing


def geometric_mae(epsilon: float, sensitivity: float) -> float:
    """E|Z| for two-sided geometric noise with ratio alpha = exp(-epsilon / sensitivity)."""
    alpha = math.exp(-epsilon / sensitivity)
    return 2 * alpha / (1 - alpha**2)


def median(values: list[float]) -> float:
    return statistics.median(values)


def row(name: str, times: tuple[float | None, ...], mae: float | str, note: str = "") -> None:
    cells = "".join(f"{t * 1e3:9.1f} ms" if t is not None else f"{'-':>12}" for t in times)
    mae_text = mae if isinstance(mae, str) else f"{mae:.2f}"
    print(f"  {name:<40}{cells}  {mae_text:>8}  {note}")


def medians(side: list[Any]) -> tuple[float, float, float]:
    """Median wall, CPU and DuckDB-only wall seconds of one side's runs."""
    return (median([r[0] for r in side]), median([r[1] for r in side]),
            median([r[3] for r in side]))


def report(path: Path, data: dict[str, Any], sides: dict[str, list[Any]],
           sn: dict[str, dict[str, Any]], policy: Policy) -> None:
    truth = sides["exact"][0][2]
    plan = plan_private_query(policy, QUERY, EPSILON).plan
    entry = plan.entries[0]
    ex, our = medians(sides["exact"]), medians(sides["ours"])
    our_mae, our_sem, our_missing = errors([r[2] for r in sides["ours"]], truth)
    geo = geometric_mae(entry.epsilon, entry.sensitivity)
    print(f"\ndata: {path.relative_to(HERE.parent)}: {data['events']:,} events, "
          f"{data['people']:,} people, at most {data['max_channels_per_person']} channels "
          f"per person (max_groups_per_user = {GROUPS}: nobody loses a group)")
    print("exact people per channel: " + ", ".join(f"{k} {int(v):,}" for k, v in
                                                   sorted(truth.items(), key=lambda kv: -kv[1])))
    print(f"our plan: {entry.mechanism}, sensitivity {entry.sensitivity:g}, epsilon share "
          f"{entry.epsilon:g} of {plan.epsilon:g} ({plan.shares} share(s)); selection threshold "
          f"{plan.selection.threshold if plan.selection else '-'}; plan's expected |error| "
          f"{entry.expected_abs_error:.2f}")
    print(f"\n  {'medians':<40}{'wall':>12}{'CPU':>12}{'DuckDB':>12}  {'MAE':>8}")
    row("(b) exact query, fresh sandbox", ex, "0")
    row("(a) ours: plan, sandbox, bounded SQL, noise", our, our_mae,
        f"+-{our_sem:.2f} s.e., {our_missing} missing cells")
    row("(d) geometric at our sensitivity, share", (None, None, None), geo,
        f"eps {entry.epsilon:g}, sensitivity {entry.sensitivity:g}")
    for label, result in sn.items():
        sn_wall, sn_cpu = (median([r[k] for r in result["runs"]]) for k in ("wall_s", "cpu_s"))
        sn_mae, sn_sem, sn_missing = errors([r["answers"] for r in result["runs"]], truth)
        row(f"(c) SmartNoise, {label}", (sn_wall, sn_cpu, None), sn_mae,
            f"+-{sn_sem:.2f} s.e., {sn_missing} missing; +{result['load_s']:.1f} s to load once")
    print("\nratios:")
    print(f"  our time / exact time:      {our[0] / ex[0]:5.2f} wall, {our[1] / ex[1]:5.2f} CPU, "
          f"{our[2] / ex[2]:5.2f} DuckDB only   (aim <= 1.3)")
    print(f"  our MAE / geometric MAE:    {our_mae / geo:5.2f}   (aim <= 1; one s.e. is "
          f"{our_sem / geo:.2f})")
    if SN_MAIN in sn:
        sn_wall, sn_cpu = (median([r[k] for r in sn[SN_MAIN]["runs"]])
                           for k in ("wall_s", "cpu_s"))
        sn_mae = errors([r["answers"] for r in sn[SN_MAIN]["runs"]], truth)[0]
        print(f"  SmartNoise / our time:      {sn_wall / our[0]:5.1f} wall, "
              f"{sn_cpu / our[1]:5.1f} CPU   (aim > 1)")
        print(f"  SmartNoise / our MAE:       {sn_mae / our_mae:5.1f}   (aim > 1)")
        print(f"  SmartNoise's privacy cost (eps, delta): "
              f"{tuple(float(f'{x:.3g}') for x in sn[SN_MAIN]['privacy_cost'])}; "
              f"{sn[SN_MAIN]['versions']}")


def explain(policy: Policy, specs: list[TableSpec]) -> None:
    sql = plan_private_query(policy, QUERY, EPSILON).query.sql
    with sandbox(specs, Limits()) as con:
        for name, text in (("bounded", sql), ("exact", QUERY)):
            print(f"\nEXPLAIN ANALYZE ({name}):\n{sql if name == 'bounded' else ''}")
            print(con.execute("EXPLAIN ANALYZE " + text).fetchall()[0][1])


def main() -> None:
    args = parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"duckdb {duckdb.__version__}; {args.runs} runs each")
    path = generate(args.events, args.people, args.seed)
    policy, specs = bench_policy(), tables(bench_policy(), path)
    if args.explain:
        explain(policy, specs)
    sides = alternate(policy, specs, args.runs)
    data = describe_data(path)
    sn: dict[str, dict[str, Any]] = {}
    if not args.no_smartnoise:
        sn[SN_MAIN] = smartnoise(path, args.runs, GROUPS)
    if args.smartnoise_all_rows:
        most = int(data["max_events_per_person"])
        sn[f"max_ids = {most} (no row dropped)"] = smartnoise(path, args.runs, most)
    report(path, data, sides, sn, policy)
    for epsilon in (0.2, 1.0) if args.accuracy_draws else ():
        accuracy(policy, specs, epsilon=epsilon, draws=args.accuracy_draws, seed=args.seed)
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
