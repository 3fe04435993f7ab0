"""Upload throughput and the service's memory, beside DuckDB reading the same file. A script.

    python bench/bench_upload.py [--rows 2000000] [--threads N] [--keep-file]

Makes an impressions CSV of --rows rows (about 120 bytes a row: 50,000,000 rows is about 6 GB),
starts the service in a process of its own (the app ``cleanroom serve`` runs, with limits raised
so that the file is allowed at all), uploads the file over HTTP and prints rows/s, the service's
peak resident memory (VmHWM from /proc) and, for the same file, DuckDB's own ``read_csv``: a
plain count, and read + cast + Parquet COPY (what an upload does), with the service's upload
threads and with every core. Needs free disk of about three times the file. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLAB = "acme-streamco"
COLUMNS = ("user_key", "ts", "channel", "campaign", "cost", "ip_hash")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=0,
                        help="the service's upload threads (0: its default)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the file and store")
    parser.add_argument("--serve", nargs=3, metavar=("DATA", "PORT", "THREADS"),
                        help=argparse.SUPPRESS)  # internal: run the service
    return parser.parse_args()


def make_csv(path: Path, rows: int) -> None:
    """Pseudonymous keys for rows // 4 people, one row per exposure, written by DuckDB."""
    import duckdb

    people = max(1, rows // 4)
    sql = f"""COPY (SELECT sha256(CAST(i % {people} AS VARCHAR)) AS user_key,
        strftime(TIMESTAMP '2026-09-01' + to_seconds(i % 2592000), '%Y-%m-%d %H:%M:%S') AS ts,
        ['search', 'social', 'video', 'display'][1 + i % 4] AS channel,
        'c' || (i % 50) AS campaign, round((i % 10000) / 100.0, 2) AS cost,
        'ip' || (i % 100003) AS ip_hash FROM range({rows}) t(i))
        TO '{path}' (FORMAT csv, HEADER true)"""
    with duckdb.connect() as con:
        con.execute(sql)


def serve(data: Path, port: int, threads: int) -> None:
    """The service as ``cleanroom serve`` runs it, with limits that admit a large file."""
    import dataclasses

    import uvicorn

    from cleanroom.api import create_app
    from cleanroom.settings import Settings, UploadLimits

    upload = UploadLimits(timeout_s=3600.0)
    if threads:
        upload = dataclasses.replace(upload, threads=threads)
    settings = Settings(max_upload_bytes=64 * 1024**3, upload=upload)
    app = create_app(data, ROOT / "policies", settings=settings)
    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss(pid: int) -> int:
    """Bytes: the process's resident high-water mark since it started."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc")


def upload(csv_path: Path, data: Path, threads: int) -> tuple[float, int, dict[str, object]]:
    import httpx

    from cleanroom.store import Store

    port = free_port()
    token = Store(data).issue_token(COLLAB, "streamco")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(data), str(port),
                             str(threads)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}/v1/collaborations/{COLLAB}/datasets/impressions"
        _wait_until_up(port)
        rss_before = peak_rss(proc.pid)
        start = time.perf_counter()
        with csv_path.open("rb") as body, httpx.Client(timeout=None) as client:
            response = client.put(url, content=_chunks(body), headers={
                "Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
        seconds = time.perf_counter() - start
        answer = response.json()
        answer["rss_at_start"] = rss_before
        return seconds, peak_rss(proc.pid), answer
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _chunks(body: object, size: int = 1 << 20):  # type: ignore[no-untyped-def]
    while chunk := body.read(size):  # type: ignore[attr-defined]
        yield chunk


def _wait_until_up(port: int) -> None:
    import httpx

    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the service did not start")


def duckdb_reads(csv_path: Path, out: Path, threads: int, *, copy: bool) -> dict[str, float]:
    """Seconds for DuckDB's read_csv of the file (the options an upload reads it with): a
    count, and (``copy``) read + cast + Parquet COPY of every column, as an upload writes it."""
    import duckdb

    names = ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS)
    reader = (f"read_csv('{csv_path}', header = true, auto_detect = false, delim = ',', "
              "quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
              f"compression = 'none', columns = {{{names}}})")
    typed = ("user_key, CAST(ts AS TIMESTAMP) AS ts, channel, campaign, "
             "CAST(cost AS DOUBLE) AS cost, ip_hash")
    times = {}
    with duckdb.connect(config={"threads": threads, "memory_limit": "1GB"}) as con:
        con.execute("SET TimeZone = 'UTC'")
        start = time.perf_counter()
        con.execute(f"SELECT count(*) FROM {reader}").fetchall()
        times["count"] = time.perf_counter() - start
        if copy:
            start = time.perf_counter()
            con.execute(f"COPY (SELECT {typed} FROM {reader}) TO '{out}' "
                        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
            times["copy"] = time.perf_counter() - start
    out.unlink(missing_ok=True)
    return times


def main() -> None:
    args = parse_args()
    if args.serve:
        data, port, threads = args.serve
        serve(Path(data), int(port), int(threads))
        return
    from cleanroom.settings import UploadLimits

    threads = args.threads or UploadLimits().threads
    cores = len(os.sched_getaffinity(0))
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=args.dir))
    try:
        csv_path = folder / "impressions.csv"
        start = time.perf_counter()
        make_csv(csv_path, args.rows)
        size = csv_path.stat().st_size
        print(f"{args.rows:,} rows, {size / 1e9:.2f} GB CSV (made in "
              f"{time.perf_counter() - start:.0f} s); {cores} CPUs; load {_load()}")
        seconds, rss, answer = upload(csv_path, folder / "data", threads)
        print(f"  upload over HTTP ({threads} upload thread(s)): {seconds:7.1f} s  "
              f"{args.rows / seconds / 1e6:6.2f} M rows/s  answer {answer.get('rows')} rows, "
              f"version {answer.get('version')}")
        print(f"  service peak RSS: {rss / 2**20:.0f} MiB (at start "
              f"{int(answer['rss_at_start']) / 2**20:.0f} MiB; limit 1024 MiB)")  # type: ignore[call-overload]
        shutil.rmtree(folder / "data", ignore_errors=True)
        for n in sorted({threads, cores}):
            times = duckdb_reads(csv_path, folder / "duck.parquet", n, copy=n == threads)
            line = (f"  DuckDB, {n} thread(s): read_csv count {times['count']:6.1f} s "
                    f"{args.rows / times['count'] / 1e6:6.2f} M rows/s")
            if "copy" in times:
                line += (f"; read + cast + Parquet {times['copy']:6.1f} s "
                         f"{args.rows / times['copy'] / 1e6:6.2f} M rows/s; upload time / this "
                         f"{seconds / times['copy']:.2f}")
            print(line)
        print(f"load at the end {_load()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
