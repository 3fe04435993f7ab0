"""Benchmark: 50 concurrent clients against a real ``cleanroom serve`` on loopback.

    .venv/bin/python bench/bench_load.py [--clients 50] [--seconds 40] [--people 20000]
        [--repo PATH]

Starts ``cleanroom serve`` from ``--repo`` (default: this checkout; give another checkout to
compare before and after) on a fresh data directory with the contract's example policy,
uploads seeded synthetic impressions and conversions, then runs ``--clients`` clients for
``--seconds``, each sending one request after another, drawn with fixed weights: /healthz,
exact queries, DP queries (epsilon 0.5), /queries/check, /budget, last-touch attribution,
and an occasional re-upload of the conversions. Prints throughput, status counts and
p50/p95/p99 latency per route, and the server's peak memory (VmHWM) and peak thread count.
Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import duckdb
import httpx

HERE = Path(__file__).resolve().parent.parent
C = "acme-streamco"
POLICY = """collaboration: acme-streamco
parties:
  - {name: acme, roles: [analyst, provider]}
  - {name: streamco, roles: [provider]}
datasets:
  impressions:
    provider: streamco
    columns:
      user_key: {kind: user_key}
      ts: {kind: dimension, type: TIMESTAMP}
      channel: {kind: dimension, type: VARCHAR}
      campaign: {kind: dimension, type: VARCHAR}
      cost: {kind: metric, type: DOUBLE, bounds: [0, 100]}
      ip_hash: {kind: banned, type: VARCHAR}
  conversions:
    provider: acme
    columns:
      user_key: {kind: user_key}
      ts: {kind: dimension, type: TIMESTAMP}
      revenue: {kind: metric, type: DOUBLE, bounds: [0, 1000]}
      order_id: {kind: banned, type: VARCHAR}
query_rules: {min_users_per_row: 50}
privacy: {differential_privacy: optional, max_epsilon_per_query: 1.0, epsilon_budget: 10000.0}
"""
EXACT = ("SELECT channel, COUNT(DISTINCT user_key) AS people, SUM(cost) AS spend "
         "FROM impressions GROUP BY channel")
JOINED = ("SELECT i.channel, COUNT(DISTINCT c.user_key) AS buyers FROM impressions i "
          "JOIN conversions c ON i.user_key = c.user_key GROUP BY i.channel")
ATTRIBUTION = {"model": "last_touch", "touchpoints": "impressions", "conversions": "conversions",
               "dimension": "channel", "lookback_days": 30, "revenue": "revenue"}
ROUTES = {"healthz": 20, "query": 25, "query_join": 10, "query_dp": 10, "check": 10,
          "budget": 10, "attribution": 12, "upload": 3}


def make_data(folder: Path, people: int) -> dict[str, bytes]:
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE imp AS SELECT sha256((i % {people})::VARCHAR) AS user_key,
        TIMESTAMP '2026-09-01' + INTERVAL (hash(i) % (30 * 86400)) SECOND AS ts,
        ['search','social','video','display','email','affiliate'][(1 + hash(i * 7) % 6)::BIGINT] AS channel,
        'c' || (hash(i * 3) % 5) AS campaign, (hash(i * 11) % 10000) / 100.0 AS cost,
        'ip' || i AS ip_hash FROM range({people * 3}) t(i)""")
    con.execute(f"""CREATE TABLE conv AS SELECT sha256((i * 5)::VARCHAR) AS user_key,
        TIMESTAMP '2026-09-20' + INTERVAL (hash(i) % (10 * 86400)) SECOND AS ts,
        (hash(i * 13) % 50000) / 100.0 AS revenue, 'o' || i AS order_id
        FROM range({people // 5}) t(i)""")
    out = {}
    for name, table in (("impressions", "imp"), ("conversions", "conv")):
        path = folder / f"{name}.csv"
        con.execute(f"COPY {table} TO '{path}' (HEADER, DELIMITER ',')")
        out[name] = path.read_bytes()
    return out


def start_server(repo: Path, data_dir: Path, policies: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen([sys.executable, "-m", "cleanroom.cli", "serve", "--data-dir",
                             str(data_dir), "--policies", str(policies), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=repo)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "serving on" not in line:
        raise SystemExit(f"serve did not start: {line}")
    return proc, line.split()[-1]


def tokens(repo: Path, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return {party: subprocess.run(
        [sys.executable, "-m", "cleanroom.cli", "token", "issue", "--data-dir", str(data_dir),
         "--collaboration", C, "--party", party], capture_output=True, text=True, env=env,
        check=True, cwd=repo).stdout.strip() for party in ("acme", "streamco")}


class Sampler(threading.Thread):
    """Peak resident memory and thread count of the server process."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_threads, self.hwm_kb, self.done = pid, 0, 0, False

    def run(self) -> None:
        while not self.done:
            status = Path(f"/proc/{self.pid}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            self.peak_threads = max(self.peak_threads, int(fields["Threads"]))
            self.hwm_kb = int(fields["VmHWM"].split()[0])
            time.sleep(0.1)


async def one(client: httpx.AsyncClient, route: str, auth: dict[str, dict[str, str]],
              body: bytes) -> int:
    acme = auth["acme"]
    if route == "healthz":
        return (await client.get("/healthz")).status_code
    if route == "budget":
        return (await client.get(f"/v1/collaborations/{C}/budget", headers=acme)).status_code
    if route == "check":
        return (await client.post(f"/v1/collaborations/{C}/queries/check", headers=acme,
                                  json={"sql": EXACT})).status_code
    if route == "attribution":
        return (await client.post(f"/v1/collaborations/{C}/attribution", headers=acme,
                                  json=ATTRIBUTION)).status_code
    if route == "upload":
        return (await client.put(f"/v1/collaborations/{C}/datasets/conversions", content=body,
                                 headers={**acme, "Content-Type": "text/csv"})).status_code
    sql = JOINED if route == "query_join" else EXACT
    payload: dict[str, Any] = {"sql": sql}
    if route == "query_dp":
        payload["epsilon"] = 0.5
    response = await client.post(f"/v1/collaborations/{C}/queries", headers=acme, json=payload)
    if route != "query_dp" and response.status_code == 200 and not response.json()["rows"]:
        return -200  # an empty exact answer: every group here stands on enough people
    return response.status_code


async def client_loop(url: str, auth: dict[str, dict[str, str]], body: bytes, until: float,
                      seed: int, log: list[tuple[str, int, float]]) -> None:
    rng = random.Random(seed)
    names, weights = list(ROUTES), list(ROUTES.values())
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while time.monotonic() < until:
            route = rng.choices(names, weights)[0]
            began = time.perf_counter()
            try:
                status = await one(client, route, auth, body)
            except httpx.HTTPError:
                status = 0
            log.append((route, status, time.perf_counter() - began))


def report(log: list[tuple[str, int, float]], seconds: float, sampler: Sampler) -> None:
    print(f"{len(log)} requests in {seconds:.0f} s: {len(log) / seconds:.1f} req/s")
    print(f"server peak RSS {sampler.hwm_kb / 1024:.0f} MB, peak threads {sampler.peak_threads}")
    print(f"{'route':12} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    by_route: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for route, status, took in log:
        by_route[route].append(took * 1e3)
        statuses[route][status] += 1
    for route in ROUTES:
        times = sorted(by_route[route])
        if not times:
            continue
        q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
        print(f"{route:12} {len(times):6d} {q[49]:8.0f} {q[94]:8.0f} {q[98]:8.0f}  "
              f"{dict(sorted(statuses[route].items()))}")


PROBE = """
import json, sys, time, httpx
url, until, out = sys.argv[1], float(sys.argv[2]), []
with httpx.Client(base_url=url, timeout=60) as client:
    while time.time() < until:
        began = time.perf_counter()
        client.get("/healthz")
        out.append(time.perf_counter() - began)
        time.sleep(0.05)
print(json.dumps(out))
"""


def probe(url: str, seconds: float) -> subprocess.Popen[str]:
    """/healthz from a process of its own: its latency is the server's, not our event loop's."""
    return subprocess.Popen([sys.executable, "-c", PROBE, url, str(time.time() + seconds)],
                            stdout=subprocess.PIPE, text=True)


def print_probe(proc: subprocess.Popen[str]) -> None:
    out, _ = proc.communicate()
    times = sorted(t * 1e3 for t in json.loads(out))
    q = statistics.quantiles(times, n=100, method="inclusive")
    print(f"{'healthz*':12} {len(times):6d} {q[49]:8.0f} {q[94]:8.0f} {q[98]:8.0f}  "
          "(* probed from a separate process, one request at a time)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--repo", type=Path, default=HERE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "policies").mkdir()
        (root / "policies" / f"{C}.yaml").write_text(POLICY)
        files = make_data(root, args.people)
        keys = tokens(args.repo, root / "data")
        auth = {p: {"Authorization": f"Bearer {t}"} for p, t in keys.items()}
        proc, url = start_server(args.repo, root / "data", root / "policies")
        try:
            for name, party in (("impressions", "streamco"), ("conversions", "acme")):
                done = httpx.put(f"{url}/v1/collaborations/{C}/datasets/{name}", timeout=120,
                                 content=files[name],
                                 headers={**auth[party], "Content-Type": "text/csv"})
                assert done.status_code == 201, done.text
            sampler = Sampler(proc.pid)
            sampler.start()
            log: list[tuple[str, int, float]] = []
            began = time.monotonic()
            until = began + args.seconds

            async def run_all() -> None:
                await asyncio.gather(*(client_loop(url, auth, files["conversions"], until, i, log)
                                       for i in range(args.clients)))
            prober = probe(url, args.seconds)
            asyncio.run(run_all())
            elapsed = time.monotonic() - began
            sampler.done = True
            sampler.join()
            print(f"repo {args.repo}, {args.clients} clients, {args.people} people")
            report(log, elapsed, sampler)
            print_probe(prober)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
