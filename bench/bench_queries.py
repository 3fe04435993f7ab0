"""Benchmark: a realistic query set through the service, beside raw DuckDB. Prints figures;
asserts nothing about time.

    PYTHONPATH=. .venv/bin/python bench/bench_queries.py [--sizes 10M] [--runs 5]
    PYTHONPATH=. .venv/bin/python bench/bench_queries.py --sizes 1M,10M,50M   # the scale curve

**Data**, per size N (exposure rows): N impressions over N/10 people (64-hex SHA-256 keys, like
pseudonymized user_keys), six channels, 40 campaigns, 30 days; N/5 CTV exposures of a second
provider over an overlapping half of the people; about N/10 conversions. DuckDB SQL generates
the rows straight into Parquet the way an upload stages them (zstd, 122,880-row groups), then
``Store.publish`` makes them the current dataset versions.

**Each query** is timed three ways, medians of ``--runs`` after a warm-up, the three sides
alternating run by run so that load from other jobs hits them alike:

- *raw*: the analyst's SQL on raw DuckDB over in-memory tables (the same rows, same threads);
- *exact*: the same SQL through ``pipeline.run_sql`` (authorize, gate, lease, sandbox,
  threshold, audit: the code the HTTP route calls), no epsilon;
- *dp*: the same SQL with ``epsilon`` (bounded contributions, noise), for the DP queries;
- *raw+people*, for ``dp_sum`` only: raw DuckDB with ``COUNT(DISTINCT user_key)`` beside the
  sum, the people count a threshold needs and the analyst's SQL does not ask for (``COUNTED``).

Peak memory is the process's resident high-water mark (VmHWM) during each call, reset before
it (``/proc/self/clear_refs``), so it includes what the raw tables hold in memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cleanroom.engine import Limits  # noqa: E402
from cleanroom.pipeline import Service, run_sql  # noqa: E402
from cleanroom.policy import parse_policy  # noqa: E402
from cleanroom.settings import Settings  # noqa: E402
from cleanroom.store import Identity, Store  # noqa: E402

C = "bench-queries"
POLICY = f"""
collaboration: {C}
parties:
  - {{name: brand, roles: [analyst, provider]}}
  - {{name: publisher, roles: [provider]}}
  - {{name: streamer, roles: [provider]}}
datasets:
  impressions:
    provider: publisher
    columns:
      user_key: {{kind: user_key}}
      ts: {{kind: dimension, type: TIMESTAMP}}
      channel: {{kind: dimension, type: VARCHAR}}
      campaign: {{kind: dimension, type: VARCHAR}}
      cost: {{kind: metric, type: DOUBLE, bounds: [0, 100]}}
  ctv:
    provider: streamer
    columns:
      user_key: {{kind: user_key}}
      ts: {{kind: dimension, type: TIMESTAMP}}
      network: {{kind: dimension, type: VARCHAR}}
  conversions:
    provider: brand
    columns:
      user_key: {{kind: user_key}}
      ts: {{kind: dimension, type: TIMESTAMP}}
      revenue: {{kind: metric, type: DOUBLE, bounds: [0, 1000]}}
query_rules: {{min_users_per_row: 50}}
privacy: {{differential_privacy: optional, max_epsilon_per_query: 1.0, epsilon_budget: 1.0e9}}
"""


def _touch(order: str) -> str:
    return f"""WITH touches AS (
    SELECT c.user_key, i.channel, c.revenue,
           ROW_NUMBER() OVER (PARTITION BY c.user_key, c.ts ORDER BY i.ts {order}) AS rn
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key
     AND i.ts <= c.ts AND i.ts >= c.ts - INTERVAL 30 DAY
)
SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(*) AS conversions,
       SUM(revenue) AS revenue
FROM touches WHERE rn = 1 GROUP BY channel"""


QUERIES: dict[str, str] = {
    "last_touch_30d": _touch("DESC"),
    "first_touch_30d": _touch("ASC"),
    "reach_frequency": """SELECT channel, COUNT(DISTINCT user_key) AS reach,
       COUNT(*) AS impressions, COUNT(*) * 1.0 / COUNT(DISTINCT user_key) AS frequency
FROM impressions GROUP BY channel""",
    "overlap_providers": """WITH a AS (SELECT DISTINCT user_key FROM impressions),
     b AS (SELECT DISTINCT user_key FROM ctv)
SELECT COUNT(*) AS both_providers FROM a JOIN b ON a.user_key = b.user_key""",
    "time_to_conversion": """WITH first_seen AS (
    SELECT user_key, MIN(ts) AS first_ts, arg_min(channel, ts) AS first_channel
    FROM impressions GROUP BY user_key
)
SELECT f.first_channel, COUNT(DISTINCT c.user_key) AS converters,
       AVG(date_diff('hour', f.first_ts, c.ts)) AS avg_hours
FROM first_seen f JOIN conversions c ON f.user_key = c.user_key
WHERE c.ts >= f.first_ts AND c.ts <= f.first_ts + INTERVAL 30 DAY
GROUP BY f.first_channel""",
    "dp_count": """SELECT channel, COUNT(DISTINCT user_key) AS people
FROM impressions GROUP BY channel""",
    "dp_sum": "SELECT channel, SUM(cost) AS spend FROM impressions GROUP BY channel",
}
DP = ("dp_count", "dp_sum")
# A second baseline where the analyst's SQL counts no people: raw DuckDB doing the work a
# threshold cannot skip, the distinct people behind each group. It does not replace the
# ratio to raw; it shows what that ratio is made of (the exact side counts people and the
# people whose cost is non-zero, the sum's support).
COUNTED = {"dp_sum": "SELECT channel, SUM(cost) AS spend, COUNT(DISTINCT user_key) AS people "
                     "FROM impressions GROUP BY channel"}
EPSILON = 1.0


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


# -- data ----------------------------------------------------------------------------------
GENERATORS = {
    "impressions": """SELECT sha256(CAST(hash(i) % {people} AS VARCHAR)) AS user_key,
        TIMESTAMP '2026-09-01' + to_seconds(CAST(hash(i, 1) % 2592000 AS BIGINT)) AS ts,
        ['search','social','display','video','email','ctv'][CAST(1 + hash(i, 2) % 6 AS BIGINT)]
            AS channel,
        'campaign-' || CAST(hash(i, 3) % 40 AS VARCHAR) AS campaign,
        round(CAST(hash(i, 4) % 500 AS DOUBLE) / 100, 2) AS cost
        FROM range({rows}) r(i)""",
    "ctv": """SELECT sha256(CAST(hash(i, 9) % {people} + {people} // 2 AS VARCHAR)) AS user_key,
        TIMESTAMP '2026-09-01' + to_seconds(CAST(hash(i, 10) % 2592000 AS BIGINT)) AS ts,
        'network-' || CAST(hash(i, 11) % 12 AS VARCHAR) AS network
        FROM range({rows} // 5) r(i)""",
    "conversions": """SELECT sha256(CAST(hash(i, 6) % ({people} // 3) AS VARCHAR)) AS user_key,
        TIMESTAMP '2026-09-08' + to_seconds(CAST(hash(i, 7) % 2592000 AS BIGINT)) AS ts,
        round(CAST(hash(i, 8) % 50000 AS DOUBLE) / 100, 2) AS revenue
        FROM range({rows} // 10) r(i)""",
}


def publish(store: Store, rows: int) -> dict[str, tuple[Path, int]]:
    """Generate each dataset into a staged Parquet file, as an upload writes it, and publish."""
    con = duckdb.connect(config={"threads": 2})
    made = {}
    for name, template in GENERATORS.items():
        staged = store.staging_path(".parquet")
        sql = template.format(rows=rows, people=max(rows // 10, 100))
        con.execute(f"COPY ({sql}) TO '{staged}' "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
        (count,) = con.execute(f"SELECT COUNT(*) FROM read_parquet('{staged}')").fetchone() or (0,)
        version = store.publish(C, name, staged, count)
        made[name] = (version.path, count)
    con.close()
    return made


def raw_connection(made: dict[str, tuple[Path, int]], limits: Limits) -> duckdb.DuckDBPyConnection:
    """In-memory tables, then the same working memory as the service's sandbox on top of what
    they hold: DuckDB counts its in-memory tables against ``memory_limit``, and at 50M rows they
    take 6.8 GiB, which left raw DuckDB's joins to spill under the bare limit (57 s wall, 34 s
    CPU for last-touch, where the sandbox reading native copies took 26 s)."""
    con = duckdb.connect(":memory:", config={"threads": limits.threads})
    for name, (path, _) in made.items():
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}')")
    held = con.execute("SELECT SUM(memory_usage_bytes) FROM duckdb_memory()").fetchone()
    budget = int((held[0] if held else 0) or 0) + _bytes(limits.memory_limit)
    con.execute(f"SET memory_limit = '{budget}B'")
    return con


def _bytes(size: str) -> int:
    """'12GB' / '8GiB' / '512MB' as bytes (DuckDB's units: KB, MB, GB are 1000-based)."""
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "B": 1}
    text = size.strip().upper()
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(text)


# -- measuring -----------------------------------------------------------------------------
def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


@dataclass
class Timed:
    """Wall and CPU seconds of each run (CPU: every thread of this process, DuckDB's too; on a
    shared machine it moves far less with other jobs' load than wall time does)."""

    times: list[float]
    cpu: list[float] = field(default_factory=list)
    peak: int = 0

    def add(self, fn: Callable[[], Any]) -> Any:
        _reset_peak()
        start, used = time.perf_counter(), _cpu()
        out = fn()
        self.times.append(time.perf_counter() - start)
        self.cpu.append(_cpu() - used)
        self.peak = max(self.peak, _rss("VmHWM"))
        return out

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def measure(name: str, sql: str, con: duckdb.DuckDBPyConnection, service: Service,
            runs: int) -> dict[str, Timed]:
    who = Identity(C, "brand")
    sides: dict[str, Callable[[], Any]] = {
        "raw": lambda: con.execute(sql).fetchall(),
        "exact": lambda: run_sql(service, who, C, sql)}
    if name in DP:
        sides["dp"] = lambda: run_sql(service, who, C, sql, EPSILON)
    if name in COUNTED:
        sides["raw_people"] = lambda: con.execute(COUNTED[name]).fetchall()
    for fn in sides.values():  # warm-up: file cache, the verifier's checksum, plan caches
        fn()
    timed = {side: Timed([]) for side in sides}
    for _ in range(runs):
        for side, fn in sides.items():
            timed[side].add(fn)
    return timed


def bench_size(rows: int, runs: int, limits: Limits) -> dict[str, dict[str, Timed]]:
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "out") as tmp:
        store = Store(Path(tmp))
        start = time.perf_counter()
        made = publish(store, rows)
        generated = time.perf_counter() - start
        sizes = ", ".join(f"{n} {c:,} rows {p.stat().st_size / 1e6:.0f} MB"
                          for n, (p, c) in made.items())
        print(f"\n== {rows:,} exposure rows (generated and published in {generated:.1f} s: "
              f"{sizes}); load average {os.getloadavg()[0]:.2f}")
        before = _rss("VmRSS")
        con = raw_connection(made, limits)
        print(f"raw in-memory tables: +{(_rss('VmRSS') - before) / 2**20:.0f} MiB resident")
        service = Service.open(store, {C: parse_policy(POLICY, source="bench")},
                               Settings(limits=limits))
        results = {}
        for name, sql in QUERIES.items():
            results[name] = timed = measure(name, sql, con, service, runs)
            print(_line(name, timed), flush=True)
        con.close()
        return results


def _line(name: str, timed: dict[str, Timed]) -> str:
    raw = timed["raw"]
    cells = [f"{name:<20}", f"raw {raw.median * 1e3:7.0f} ms (cpu {raw.median_cpu * 1e3:6.0f})"]
    for side in ("exact", "dp"):
        if side in timed:
            t = timed[side]
            aim = 1.3 if side == "exact" else 1.5
            cells.append(f"{side} {t.median * 1e3:7.0f} ms {t.median / raw.median:5.2f}x "
                         f"(cpu {t.median_cpu * 1e3:6.0f} {t.median_cpu / raw.median_cpu:5.2f}x; "
                         f"aim {aim})")
    if "raw_people" in timed:
        t, exact = timed["raw_people"], timed["exact"]
        cells.append(f"raw+people {t.median * 1e3:7.0f} ms (cpu {t.median_cpu * 1e3:6.0f}; "
                     f"exact/it {exact.median_cpu / t.median_cpu:5.2f}x cpu)")
    peaks = " / ".join(f"{timed[s].peak / 2**20:.0f}" for s in timed)
    cells.append(f"peak RSS {'/'.join(timed)} {peaks} MiB")
    return "  ".join(cells)


def summary(curve: dict[int, dict[str, dict[str, Timed]]]) -> None:
    print(f"\n== scale curve (medians; ratio to raw; peak RSS MiB); load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'query':<20}{'rows':>12}{'raw ms':>9}{'exact ms':>9}{'x':>6}{'cpu x':>6}"
          f"{'dp ms':>9}{'x':>6}{'cpu x':>6}{'raw MiB':>8}{'exact MiB':>10}{'dp MiB':>7}")
    for name in QUERIES:
        for rows, results in curve.items():
            t = results[name]
            raw, exact, dp = t["raw"], t["exact"], t.get("dp")
            print(f"{name:<20}{rows:>12,}{raw.median * 1e3:>9.0f}{exact.median * 1e3:>9.0f}"
                  f"{exact.median / raw.median:>6.2f}{exact.median_cpu / raw.median_cpu:>6.2f}"
                  + (f"{dp.median * 1e3:>9.0f}{dp.median / raw.median:>6.2f}"
                     f"{dp.median_cpu / raw.median_cpu:>6.2f}" if dp else f"{'':>21}")
                  + f"{raw.peak / 2**20:>8.0f}{exact.peak / 2**20:>10.0f}"
                  + (f"{dp.peak / 2**20:>7.0f}" if dp else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10M", help="exposure rows, e.g. 1M,10M,50M")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument("--only", default="", help="comma-separated query names")
    args = parser.parse_args()
    if args.only:
        for name in [n for n in QUERIES if n not in args.only.split(",")]:
            del QUERIES[name]
    limits = Limits(timeout_s=3600.0, memory_limit=args.memory_limit, threads=args.threads)
    print(f"{os.cpu_count()} cores, threads={limits.threads}, memory_limit={limits.memory_limit}; "
          f"medians of {args.runs} after a warm-up")
    curve = {}
    for size in args.sizes.split(","):
        rows = parse_size(size)
        curve[rows] = bench_size(rows, args.runs, limits)
    summary(curve)


if __name__ == "__main__":
    main()
