"""Run one query through SmartNoise SQL's pandas backend and print JSON. A script for bench_dp.py.

It runs in SmartNoise's own environment (bench/.venv-smartnoise: smartnoise-sql pins opendp<0.15,
pandas<3 and antlr4 4.9.3), so it imports nothing from cleanroom and only the standard library,
pandas, pyarrow and snsql::

    bench/.venv-smartnoise/bin/python bench/smartnoise_runner.py EVENTS.parquet \
        --epsilon 1 --delta 1e-6 --max-ids 6 --runs 20

The metadata makes ``user_key`` the private id, bounds each person to ``--max-ids`` rows per
query (SmartNoise's reservoir sample, its default), and leaves ``censor_dims`` at its default
(on: rare groups are dropped below a noisy threshold). Loading the Parquet file into the
backend's SQLite database is timed once; each run's time is ``reader.execute`` alone.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

# Both live only in SmartNoise's environment, not in the project's (where mypy runs).
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import snsql  # type: ignore[import-not-found,unused-ignore]

SCHEMA, TABLE = "bench", "impressions"
QUERY = (f"SELECT channel, COUNT(DISTINCT user_key) AS people FROM {SCHEMA}.{TABLE} "
         "GROUP BY channel")


def metadata(max_ids: int) -> dict[str, object]:
    return {"": {SCHEMA: {TABLE: {
        "max_ids": max_ids,
        "row_privacy": False,
        "user_key": {"type": "string", "private_id": True},
        "channel": {"type": "string"},
    }}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--max-ids", type=int, default=6)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # SmartNoise warns on every query about its own defaults

    start = time.perf_counter()
    frame = pd.read_parquet(args.parquet, columns=["user_key", "channel"])
    privacy = snsql.Privacy(epsilon=args.epsilon, delta=args.delta)
    reader = snsql.from_df(frame, privacy=privacy, metadata=metadata(args.max_ids))
    load_s = time.perf_counter() - start
    cost = reader.get_privacy_cost(QUERY)

    runs = []
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = reader.execute(QUERY)  # a list of rows, the header first
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        runs.append({"wall_s": wall, "cpu_s": cpu,
                     "answers": {str(row[0]): float(row[1]) for row in result[1:]}})
    print(json.dumps({"query": QUERY, "load_s": load_s, "privacy_cost": list(cost),
                      "versions": {"smartnoise-sql": _version("smartnoise-sql"),
                                   "opendp": _version("opendp"), "pandas": pd.__version__},
                      "runs": runs}))


def _version(name: str) -> str:
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
