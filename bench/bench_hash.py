"""Throughput of local pseudonymization (cleanroom.pseudonym). A script, not a test.

    python bench/bench_hash.py [--rows 2000000] [--repeat 3] [--all-cores]

By default the process is pinned to one CPU before pyarrow or DuckDB start any thread, so every
figure is a one-core figure; --all-cores lifts that. Each figure is the best of --repeat runs, as
wall-clock ids/s and as ids per CPU-second (all threads), which moves less when the machine is
shared. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

SALT = b"bench-salt-0123456789abcdef"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one CPU")
    return parser.parse_args()


def measure(run: Callable[[], Any], ids: int, repeat: int) -> tuple[float, float, Any]:
    """Best wall-clock ids/s and best ids per CPU-second over ``repeat`` runs, and a result."""
    best_wall = best_cpu = 0.0
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best_wall, best_cpu = max(best_wall, ids / wall), max(best_cpu, ids / max(cpu, 1e-9))
    return best_wall, best_cpu, result


def report(name: str, wall: float, cpu: float, note: str = "") -> None:
    print(f"  {name:<44} {wall / 1e6:6.2f} M ids/s  {cpu / 1e6:6.2f} M ids/CPU-s  {note}")


def make_emails(rows: int) -> list[str]:
    """Distinct addresses in mixed case with stray spaces, so normalization has work to do."""
    rnd = random.Random(20240601)
    domains = ["Example.com", "mail.EXAMPLE.org", "corp.example.net"]
    letters = string.ascii_letters + string.digits + "._"
    return [
        f"{' ' * (i % 2)}{''.join(rnd.choices(letters, k=10))}{i}@{domains[i % 3]}"
        for i in range(rows)
    ]


def write_inputs(folder: Path, emails: list[str]) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    rows = len(emails)
    table = pa.table(
        {
            "order_id": pa.array(range(rows), pa.int64()),
            "email": pa.array(emails, pa.string()),
            "amount": pa.array([round((i * 7919) % 10000 / 100, 2) for i in range(rows)]),
            "day": pa.array([f"2024-06-{1 + i % 30:02d}" for i in range(rows)]),
        }
    )
    csv_path, parquet_path = folder / "orders.csv", folder / "orders.parquet"
    pv.write_csv(table, csv_path)
    pq.write_table(table, parquet_path)
    return csv_path, parquet_path


def bench_hashers(emails: list[str], repeat: int) -> None:
    import hashlib
    import hmac

    from cleanroom.pseudonym import Hasher, normalize

    encoded = [normalize(e, "email").encode() for e in emails]  # type: ignore[union-attr]
    ids, hasher = len(encoded), Hasher(SALT)
    base_wall, base_cpu, expected = measure(
        lambda: [hmac.new(SALT, v, hashlib.sha256).hexdigest() for v in encoded], ids, repeat
    )
    wall, cpu, got = measure(lambda: hasher.hexdigests(encoded), ids, repeat)
    print(f"hashing {ids:,} normalized e-mail addresses (one thread):")
    report("baseline: hmac.new(...).hexdigest() loop", base_wall, base_cpu)
    report("Hasher (precomputed pads)", wall, cpu, f"x{cpu / base_cpu:.2f} vs baseline")
    print(f"  identical to hmac.new: {got == expected}")
    wall, cpu, _ = measure(lambda: hasher.hash_many(emails, "email"), ids, repeat)
    report("Hasher.hash_many (normalize + hash)", wall, cpu, f"x{cpu / base_cpu:.2f}")
    bench_duckdb(encoded, expected, repeat)


def bench_duckdb(encoded: list[bytes], expected: list[str], repeat: int) -> None:
    """The vectorized SQL HMAC of shared/PITFALLS.md, for comparison; hash_file does not use it."""
    import duckdb
    import pyarrow as pa

    key = SALT.ljust(64, b"\0")
    ipad, opad = bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
    con = duckdb.connect(config={"threads": len(os.sched_getaffinity(0))})
    con.register("ids", pa.table({"v": pa.array(encoded, pa.binary())}))
    sql = "SELECT sha256($opad || unhex(sha256($ipad || v))) AS h FROM ids"

    def run() -> list[str]:
        table = con.sql(sql, params={"ipad": ipad, "opad": opad}).to_arrow_table()
        result: list[str] = table.column("h").to_pylist()
        return result

    wall, cpu, got = measure(run, len(encoded), repeat)
    threads = len(os.sched_getaffinity(0))
    report(f"DuckDB SQL HMAC, {threads} thread(s)", wall, cpu, f"identical: {got == expected}")


def bench_files(csv_path: Path, parquet_path: Path, rows: int, repeat: int) -> None:
    from cleanroom.pseudonym import hash_file

    out = csv_path.parent
    for src, dst in [(csv_path, out / "out.csv"), (parquet_path, out / "out.parquet")]:
        run = partial(hash_file, src, dst, column="email", kind="email", salt=SALT)
        wall, cpu, _ = measure(run, rows, repeat)
        size = src.stat().st_size / 1e6
        report(f"hash_file {src.suffix[1:]} -> {dst.suffix[1:]} ({size:.0f} MB in)", wall, cpu)


def main() -> None:
    args = parse_args()
    if not args.all_cores:
        # Before pyarrow and DuckDB are imported, so their worker threads inherit the pin.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cores = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CPUs used: {cores} of {os.cpu_count()}; load average at start: {load}")
    emails = make_emails(args.rows)
    bench_hashers(emails, args.repeat)
    with tempfile.TemporaryDirectory() as folder:
        csv_path, parquet_path = write_inputs(Path(folder), emails)
        print(f"hash_file on {args.rows:,} rows x 4 columns (order_id, email, amount, day):")
        bench_files(csv_path, parquet_path, args.rows, args.repeat)


if __name__ == "__main__":
    main()
