"""Benchmark the SQL gate. Prints figures; asserts nothing about time.

1. The gate's time per query (parse, analyse, rewrite, verify, render), median over
   tests/gate/accept.sql, beside sqlglot's bare parse of the same queries; and the same median
   over the published clean-room corpus (tests/gate/published.sql, the queries the gate accepts,
   on its six-dataset policy).
2. A thresholded last-touch attribution on 10 million exposure rows (about 1 million people,
   generated with DuckDB SQL into Parquet) end to end through check_query + sandbox + release,
   beside the same SQL run straight on DuckDB over the same Parquet files.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_gate.py [--rows 10000000] [--people 1000000]``
Aims: gate under 10 ms a query (5 ms on the published corpus); the thresholded query within 1.5x
of raw DuckDB.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb
import sqlglot
import sqlglot.expressions.core

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cleanroom.engine import ColumnSpec, Limits, TableSpec, run, sandbox
from cleanroom.errors import CleanroomError
from cleanroom.gate import Catalog, K, check_query
from cleanroom.pipeline import catalog_for
from cleanroom.policy import load_policies
from cleanroom.release import release_thresholded
from cleanroom.settings import tune_gc
from tests.gate.corpus import load
from tests.published_data import COLLAB as PUBLISHED_COLLAB
from tests.published_data import POLICIES as PUBLISHED_POLICIES

CATALOG = Catalog.of({
    "impressions": {"user_key": K.UID, "ts": K.DIM, "channel": K.DIM, "campaign": K.DIM,
                    "cost": K.MET, "ip_hash": K.BANNED},
    "conversions": {"user_key": K.UID, "ts": K.DIM, "revenue": K.MET, "order_id": K.BANNED},
})
# The thresholded query is the accept corpus's own last-touch attribution.
LAST_TOUCH = next(e.sql for e in load("accept.sql") if e.name == "last_touch_attribution_row_number")
MIN_USERS = 50


def best_of(fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter
            ) -> float:
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def cpu_best_of(fn: Callable[[], object], repeat: int) -> float:
    """CPU time of this process (the gate is one Python thread): on a machine shared with
    other jobs it moves far less with their load than wall time does."""
    return best_of(fn, repeat, time.process_time)


def bench_gate() -> None:
    queries = [e.sql for e in load("accept.sql")]
    gate = [best_of(partial(check_query, q, CATALOG, min_users=MIN_USERS), 7) for q in queries]
    parse = [best_of(partial(sqlglot.parse_one, q, read="duckdb"), 7) for q in queries]
    print(f"gate, {len(queries)} accept-corpus queries (best of 7 each):")
    print(f"  check_query   median {statistics.median(gate) * 1e3:6.2f} ms   "
          f"max {max(gate) * 1e3:6.2f} ms")
    print(f"  sqlglot parse median {statistics.median(parse) * 1e3:6.2f} ms   "
          f"max {max(parse) * 1e3:6.2f} ms")
    print(f"  ratio (median) {statistics.median(gate) / statistics.median(parse):.1f}x")
    bench_published_gate()


def _accepted(sql: str, catalog: Catalog) -> bool:
    try:
        check_query(sql, catalog, min_users=MIN_USERS)
    except CleanroomError:
        return False
    return True


def bench_published_gate() -> None:
    """The gate's time on other people's SQL: the accepted queries of tests/gate/published.sql."""
    catalog = catalog_for(load_policies(PUBLISHED_POLICIES)[PUBLISHED_COLLAB])
    entries = load("published.sql")
    queries = [e.sql for e in entries if _accepted(e.sql, catalog)]
    if not queries:
        print("published corpus: no query accepted")
        return
    gate = [best_of(partial(check_query, q, catalog, min_users=MIN_USERS), 7) for q in queries]
    cpu = [cpu_best_of(partial(check_query, q, catalog, min_users=MIN_USERS), 7) for q in queries]
    build = "compiled (sqlglotc)" if not str(sqlglot.expressions.core.__file__).endswith(".py") \
        else "pure Python"
    print(f"gate, published corpus: {len(queries)} of {len(entries)} queries accepted (best of 7 each), "
          f"load average {os.getloadavg()[0]:.1f}, sqlglot {sqlglot.__version__} {build}:")
    print(f"  check_query   median {statistics.median(gate) * 1e3:6.2f} ms   "
          f"max {max(gate) * 1e3:6.2f} ms   (aim: median <= 5 ms)")
    print(f"  CPU time      median {statistics.median(cpu) * 1e3:6.2f} ms   "
          f"max {max(cpu) * 1e3:6.2f} ms")
    # Best-of-7 hides the collector's pauses (the best run is one without a full collection);
    # a service checks each query once: the mean CPU time over plain passes shows them.
    passes = 3
    start = time.process_time()
    for _ in range(passes):
        for q in queries:
            check_query(q, catalog, min_users=MIN_USERS)
    loop = (time.process_time() - start) / (passes * len(queries))
    print(f"  plain loop    mean CPU {loop * 1e3:6.2f} ms a query ({passes} passes, each query once)")


def rss_mib() -> tuple[float, float]:
    """This process's resident set now and at its peak (VmRSS, VmHWM), MiB; 0 off Linux."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    except OSError:
        return 0.0, 0.0
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def generate(folder: Path, rows: int, people: int) -> dict[str, Path]:
    """Exposures spread over 30 days and 6 channels; a third of the people convert once."""
    con = duckdb.connect()
    paths = {"impressions": folder / "impressions.parquet",
             "conversions": folder / "conversions.parquet"}
    con.execute(f"""COPY (
        SELECT sha256(CAST(hash(i) % {people} AS VARCHAR)) AS user_key,
               TIMESTAMP '2026-09-01' + to_seconds(CAST(hash(i, 1) % 2592000 AS BIGINT)) AS ts,
               ['search', 'social', 'display', 'video', 'email', 'ctv'][CAST(1 + hash(i, 2) % 6 AS BIGINT)] AS channel,
               'campaign-' || CAST(hash(i, 3) % 40 AS VARCHAR) AS campaign,
               round(CAST(hash(i, 4) % 500 AS DOUBLE) / 100, 2) AS cost,
               'ip' || CAST(hash(i, 5) % 100000 AS VARCHAR) AS ip_hash
        FROM range({rows}) r(i)) TO '{paths["impressions"]}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT sha256(CAST(p AS VARCHAR)) AS user_key,
               TIMESTAMP '2026-09-02' + to_seconds(CAST(hash(p, 6) % 2592000 AS BIGINT)) AS ts,
               round(CAST(hash(p, 7) % 50000 AS DOUBLE) / 100, 2) AS revenue,
               'o' || CAST(p AS VARCHAR) AS order_id
        FROM range({people}) r(p) WHERE hash(p, 8) % 3 = 0) TO '{paths["conversions"]}' (FORMAT parquet)""")
    return paths


def specs(paths: dict[str, Path]) -> list[TableSpec]:
    imp = TableSpec("impressions", paths["impressions"], (
        ColumnSpec("user_key", "VARCHAR", user_key=True), ColumnSpec("ts", "TIMESTAMP"),
        ColumnSpec("channel", "VARCHAR"), ColumnSpec("campaign", "VARCHAR"),
        ColumnSpec("cost", "DOUBLE", (0.0, 100.0))))
    conv = TableSpec("conversions", paths["conversions"], (
        ColumnSpec("user_key", "VARCHAR", user_key=True), ColumnSpec("ts", "TIMESTAMP"),
        ColumnSpec("revenue", "DOUBLE", (0.0, 1000.0))))
    return [imp, conv]


def thresholded(paths: dict[str, Path], limits: Limits) -> int:
    checked = check_query(LAST_TOUCH, CATALOG, min_users=MIN_USERS)
    with sandbox(specs(paths), limits) as con:
        exact = run(con, checked.sql, limits)
    release = release_thresholded(exact, people_column=checked.people_column,
                                  min_users=MIN_USERS, limit=checked.limit, offset=checked.offset,
                                  cell_flags=checked.cell_flags, compare_rows=checked.compare_rows)
    return len(release.rows)


def raw(paths: dict[str, Path], limits: Limits) -> int:
    con = duckdb.connect(config={"threads": limits.threads, "memory_limit": limits.memory_limit})
    for name, path in paths.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    rows = con.execute(LAST_TOUCH).fetchall()
    con.close()
    return len(rows)


def bench_end_to_end(rows: int, people: int, repeat: int) -> None:
    limits = Limits(timeout_s=3600.0, memory_limit="8GB", threads=2, max_rows=100_000)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = generate(Path(tmp), rows, people)
        made = time.perf_counter() - start
        con = duckdb.connect()
        counts = {n: con.execute(f"SELECT COUNT(*), COUNT(DISTINCT user_key) FROM '{p}'").fetchall()[0]
                  for n, p in paths.items()}
        sizes = {n: p.stat().st_size / 1e6 for n, p in paths.items()}
        con.close()
        print(f"\nlast-touch attribution, generated in {made:.1f} s:")
        for name, (n, distinct) in counts.items():
            print(f"  {name:12s} {n:>11,} rows  {distinct:>9,} people  {sizes[name]:7.1f} MB parquet")
        raw(paths, limits)  # warm the file cache
        # Alternate the two so a busy machine slows both alike; keep the best of each.
        t_raw, t_gate = float("inf"), float("inf")
        for _ in range(repeat):
            t_raw = min(t_raw, best_of(lambda: raw(paths, limits), 1))
            t_gate = min(t_gate, best_of(lambda: thresholded(paths, limits), 1))
        print(f"  raw DuckDB                          {t_raw:7.2f} s (best of {repeat})")
        print(f"  check_query + sandbox + release     {t_gate:7.2f} s (best of {repeat})")
        print(f"  ratio {t_gate / t_raw:.2f}x (aim: within 1.5x), threads={limits.threads}")
        print("\nrewritten SQL:\n" + check_query(LAST_TOUCH, CATALOG, min_users=MIN_USERS).sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--untuned-gc", action="store_true",
                        help="leave Python's default GC settings (A/B runs only)")
    args = parser.parse_args()
    if args.untuned_gc:
        print(f"GC untuned (Python's defaults, thresholds {gc.get_threshold()})")
    else:
        print(f"GC tuned as `cleanroom serve` runs it: cleanroom.settings.tune_gc() -> thresholds "
              f"{tune_gc()}, {gc.get_freeze_count():,} start-up objects frozen")
    bench_gate()
    now, peak = rss_mib()
    print(f"RSS {now:.1f} MiB, peak {peak:.1f} MiB")
    if not args.skip_end_to_end:
        bench_end_to_end(args.rows, args.people, args.repeat)


if __name__ == "__main__":
    main()
