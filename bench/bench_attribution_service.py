"""Benchmark: each attribution model *through the service* beside the bare library and
ChannelAttribution on the same paths.

    .venv/bin/python bench/bench_attribution_service.py [--people 1000000] [--repeat 3]

Uses bench_attribution's seeded data set (1,000,000 people, about 2.4 million touches, five
channels by default). The touches and conversions are written as the store's Parquet dataset
versions (user keys are 64-hex SHA-256 pseudonyms), then every model is asked through
``attribution_service.attribute``: authorization, policy checks, the locked sandbox over the
Parquet files with clamped metric views, the model, the threshold on converting people and the
audit entry — everything the HTTP route does but the JSON. Prints figures, never asserts them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_attribution import best_of, generate, load, our_times, reference_times  # noqa: E402

from cleanroom.attribution import MODELS  # noqa: E402
from cleanroom.attribution_service import AttributionRequest, attribute  # noqa: E402
from cleanroom.pipeline import Service  # noqa: E402
from cleanroom.policy import parse_policy  # noqa: E402
from cleanroom.settings import Settings  # noqa: E402
from cleanroom.store import Identity, Store  # noqa: E402

POLICY = """
collaboration: bench
parties:
  - {name: brand, roles: [analyst, provider]}
  - {name: publisher, roles: [provider]}
datasets:
  touches:
    provider: publisher
    columns:
      user_key: {kind: user_key}
      ts: {kind: dimension, type: TIMESTAMP}
      channel: {kind: dimension, type: VARCHAR}
  conversions:
    provider: brand
    columns:
      user_key: {kind: user_key}
      ts: {kind: dimension, type: TIMESTAMP}
      revenue: {kind: metric, type: DOUBLE, bounds: [0, 1000]}
query_rules: {min_users_per_row: 50}
"""


def publish(con: duckdb.DuckDBPyConnection, store: Store) -> None:
    """Write the bench tables as the store's current dataset versions (64-hex user keys)."""
    scratch = duckdb.connect()
    for name in ("touches", "conversions"):
        table = con.sql(f"SELECT * FROM {name}").to_arrow_table()
        scratch.register("t", table)
        staged = store.staging_path(".parquet")
        scratch.execute(f"COPY (SELECT sha256(user_key) AS user_key, * EXCLUDE (user_key) FROM t) "
                        f"TO '{staged}' (FORMAT parquet)")
        store.publish("bench", name, staged, table.num_rows)
        scratch.unregister("t")


def service_times(root: Path, repeat: int) -> dict[str, float]:
    store = Store(root)
    service = Service.open(store, {"bench": parse_policy(POLICY, source="bench")}, Settings())
    who = Identity("bench", "brand")
    times = {}
    for model in MODELS:
        ask = AttributionRequest(model, "touches", "conversions", "channel", 30.0)
        times[model], answer = best_of(repeat, lambda a=ask: attribute(service, who, "bench", a))
        assert answer.rows, model
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    con = load(*generate(args.people, 7))
    touches = con.execute("SELECT count(*) FROM touches").fetchall()[0][0]
    print(f"{args.people:,} people, {touches:,} touches; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; best of {args.repeat}")
    with tempfile.TemporaryDirectory() as root:
        publish(con, Store(root))
        service = service_times(Path(root), args.repeat)
    library = our_times(con, args.repeat)
    reference = reference_times(con, args.repeat)
    print(f"\n{'model':<16}{'service s':>11}{'library s':>11}{'ChannelAttribution s':>22}")
    for model in MODELS:
        lib = library["markov1" if model == "markov" else model][0]
        print(f"{model:<16}{service[model]:>11.3f}{lib:>11.3f}{reference_cell(reference, model):>22}")
    print(f"\nChannelAttribution's input (aggregated paths from the touches): "
          f"{reference['prep']:.3f} s, charged to neither side above; its first/last/linear are "
          "one heuristic_models call; markov is its default simulation.")


def reference_cell(reference: dict[str, Any], model: str) -> str:
    if model in ("first_touch", "last_touch", "linear"):
        return f"{reference['heuristic_models']:.3f} (all 3)"
    if model == "markov":
        return f"{reference['markov1'][0]:.3f}"
    return "-"


if __name__ == "__main__":
    main()
