"""``cleanroom hash`` end to end against DuckDB's vectorized SQL doing the same work. A script.

    python bench/bench_hash.py [--rows 2000000] [--repeat 3] [--cores N]

Both sides read the same file (CSV, then Parquet), normalize the e-mail column (trim, lower-case,
null unless some "@" has a character on each side), HMAC-SHA256 it with the same salt and write
the whole file back in the input's format, on the same cores. DuckDB's HMAC is
``sha256(opad || unhex(sha256(ipad || e)))``; the bench checks that both give the same pseudonyms
and prints ids/s for each and the ratio of their times (the median of --repeat runs, the two
sides taking turns so that a change in load hits both). Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SALT = b"bench-salt-0123456789abcdef"
TRIM = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # what str.strip() removes from ASCII text


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=0, help="pin to this many CPUs (0: all)")
    return parser.parse_args()


def make_emails(rows: int) -> list[str]:
    """Distinct addresses in mixed case with stray spaces, so normalization has work to do."""
    rnd = random.Random(20240601)
    domains = ["Example.com", "mail.EXAMPLE.org", "corp.example.net"]
    letters = string.ascii_letters + string.digits + "._"
    return [
        f"{' ' * (i % 2)}{''.join(rnd.choices(letters, k=10))}{i}@{domains[i % 3]}"
        for i in range(rows)
    ]


def write_inputs(folder: Path, rows: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "order_id": pa.array(range(rows), pa.int64()),
            "email": pa.array(make_emails(rows), pa.string()),
            "amount": pa.array([round((i * 7919) % 10000 / 100, 2) for i in range(rows)]),
            "day": pa.array([f"2024-06-{1 + i % 30:02d}" for i in range(rows)]),
        }
    )
    csv_path, parquet_path = folder / "orders.csv", folder / "orders.parquet"
    pv.write_csv(table, csv_path)
    pq.write_table(table, parquet_path)
    return csv_path, parquet_path


def duckdb_sql(src: Path, dst: Path) -> str:
    reader = (f"read_csv('{src}', all_varchar = true)" if src.suffix == ".csv"
              else f"read_parquet('{src}')")
    fmt = "csv" if dst.suffix == ".csv" else "parquet"
    return (
        "COPY (SELECT * EXCLUDE (e) REPLACE ("
        "CASE WHEN regexp_matches(e, '(?s).@.') "
        "THEN sha256($opad || unhex(sha256($ipad || encode(e)))) END AS email) "
        f"FROM (SELECT *, lower(trim(email, '{TRIM}')) AS e FROM {reader})) "
        f"TO '{dst}' (FORMAT {fmt})"
    )


def run_duckdb(src: Path, dst: Path, cores: int) -> None:
    import duckdb

    key = SALT.ljust(64, b"\0")
    pads = {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}
    with duckdb.connect(config={"threads": cores}) as con:
        con.execute(duckdb_sql(src, dst), pads)


def run_ours(src: Path, dst: Path, cores: int) -> None:
    from cleanroom.pseudonym_files import pseudonymize_file

    pseudonymize_file(src, dst, column="email", kind="email", salt=SALT, workers=cores)


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (this process's threads and reaped children: the
    hashing workers). CPU time is the fairer figure on a busy machine, where three processes
    (ours) can get a larger share of the cores than two threads (DuckDB's)."""
    start, cpu = time.perf_counter(), _cpu()
    run()
    return time.perf_counter() - start, _cpu() - cpu


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def same_pseudonyms(ours: Path, theirs: Path) -> bool:
    import duckdb

    reader = "read_csv" if ours.suffix == ".csv" else "read_parquet"
    sql = (f"SELECT count(*) FROM (SELECT email FROM {reader}('{ours}')) a POSITIONAL JOIN "
           f"(SELECT email AS d FROM {reader}('{theirs}')) b WHERE a.email IS DISTINCT FROM b.d")
    with duckdb.connect() as con:
        row = con.execute(sql).fetchone()
    return row is not None and row[0] == 0


def compare(src: Path, rows: int, repeat: int, cores: int) -> None:
    ext = src.suffix
    ours_out, duck_out = src.with_name("ours" + ext), src.with_name("duckdb" + ext)
    ours, duck = [], []
    for _ in range(repeat):  # taking turns: a change in load hits both sides
        duck.append(timed(lambda: run_duckdb(src, duck_out, cores)))
        ours.append(timed(lambda: run_ours(src, ours_out, cores)))
    t_ours, t_duck = (statistics.median(w for w, _ in ours), statistics.median(w for w, _ in duck))
    c_ours, c_duck = (statistics.median(c for _, c in ours), statistics.median(c for _, c in duck))
    size = src.stat().st_size / 1e6
    print(f"{ext[1:]} in, {ext[1:]} out ({size:.0f} MB in), median of {repeat}:")
    print(f"  DuckDB SQL       {rows / t_duck / 1e6:6.2f} M ids/s  ({t_duck:.2f} s, "
          f"{c_duck:.2f} CPU-s)")
    print(f"  cleanroom hash   {rows / t_ours / 1e6:6.2f} M ids/s  ({t_ours:.2f} s, "
          f"{c_ours:.2f} CPU-s)")
    print(f"  ratio (ours / DuckDB): time {t_ours / t_duck:.2f}, CPU {c_ours / c_duck:.2f}   "
          f"same pseudonyms: {same_pseudonyms(ours_out, duck_out)}")


def main() -> None:
    args = parse_args()
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    cores = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.rows:,} e-mails, {cores} of {os.cpu_count()} CPUs; load average at start: {load}")
    with tempfile.TemporaryDirectory() as folder:
        for src in write_inputs(Path(folder), args.rows):
            compare(src, args.rows, args.repeat, cores)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load}", file=sys.stderr)


if __name__ == "__main__":
    main()
