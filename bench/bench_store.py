"""Benchmark: what checksums cost on a large dataset version.

    .venv/bin/python bench/bench_store.py [--rows 10000000]

Writes a conversions-shaped Parquet file (64-hex user_key, timestamp, revenue, order_id; zstd,
as uploads are stored) of ``--rows`` rows into bench/out/, publishes it through ``Store``, then
times: the SHA-256 at publish (one read that also fsyncs), the first ``lease`` of a fresh
process's store (hashes the file), a cached ``lease`` (stat only), and a DuckDB full scan of the
same file for scale. Prints figures, never asserts them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb

from cleanroom.store import Store
from cleanroom.store.files import checksum_file
from cleanroom.store.leases import LeaseRegistry, registry_for

OUT = Path(__file__).parent / "out"


def make_file(rows: int) -> Path:
    path = OUT / f"conversions-{rows}.parquet"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        duckdb.sql(f"""COPY (SELECT sha256(i::VARCHAR) AS user_key,
            TIMESTAMP '2026-09-01' + INTERVAL (i % 86400) SECOND AS ts,
            (i % 1000)::DOUBLE AS revenue, 'ORD' || i AS order_id FROM range({rows}) t(i))
            TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)""")
    return path


def timed(action: object, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    source = make_file(args.rows)
    size = source.stat().st_size
    data = OUT / "store-bench"
    shutil.rmtree(data, ignore_errors=True)
    store = Store(data)
    staged = store.staging_path(".parquet")
    shutil.copyfile(source, staged)
    began = time.perf_counter()
    version = store.publish("c", "conversions", staged, args.rows)
    publish_s = time.perf_counter() - began
    hash_s = timed(lambda: checksum_file(version.path))

    def fresh_lease() -> None:  # a new process: an empty verification cache
        registry_for(data).verifier = LeaseRegistry().verifier
        with store.lease("c"):
            pass

    def cached_lease() -> None:
        with store.lease("c"):
            pass
    first_s = timed(fresh_lease)
    cached_s = timed(cached_lease, runs=50)
    scan_s = timed(lambda: duckdb.sql(f"SELECT count(*), sum(revenue), count(DISTINCT user_key) "
                                      f"FROM read_parquet('{version.path}')").fetchall(), runs=3)
    mb = size / 1e6
    print(f"file: {args.rows:,} rows, {mb:.1f} MB")
    print(f"publish (hash + fsync + rename + commit): {publish_s * 1e3:.0f} ms")
    print(f"sha256 of the file: {hash_s * 1e3:.0f} ms ({mb / hash_s:.0f} MB/s)")
    print(f"first lease in a process (verifies): {first_s * 1e3:.0f} ms")
    print(f"later leases (cached by inode, size, mtime, ctime): {cached_s * 1e3:.2f} ms")
    print(f"for scale, one DuckDB scan (count, sum, count distinct): {scan_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
