"""``cleanroom demo``: the main job end to end on the embedded default.

Two parties pseudonymize synthetic data with a shared salt, upload it with the Python client
to a service started in-process on a loopback port, and an analyst runs gated queries; the
answers are printed as rich tables (the CLI's renderer).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import uvicorn
from rich.console import Console

from cleanroom.api import create_app
from cleanroom.client import Client
from cleanroom.client_answers import Answer
from cleanroom.pseudonym import hash_file, read_salt
from cleanroom.render import answer_table
from cleanroom.store import Store
from cleanroom.synthetic import generate

COLLABORATION = "acme-streamco"

QUERIES = {
    "Reach and frequency by channel": """
        SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(*) AS impressions,
               ROUND(COUNT(*) / COUNT(DISTINCT user_key), 2) AS avg_frequency,
               ROUND(SUM(cost), 2) AS spend
        FROM impressions GROUP BY channel ORDER BY people DESC""",
    "Converters by channel seen (7-day lookback)": """
        SELECT i.channel, COUNT(DISTINCT c.user_key) AS converters,
               ROUND(SUM(c.revenue) / COUNT(*), 2) AS revenue_per_exposure
        FROM impressions i JOIN conversions c ON c.user_key = i.user_key
         AND i.ts < c.ts AND i.ts >= c.ts - INTERVAL 7 DAY
        GROUP BY i.channel ORDER BY converters DESC""",
    "Last-touch attribution written in SQL": """
        WITH first_conversion AS (
            SELECT user_key, MIN(ts) AS conv_ts, ARG_MIN(revenue, ts) AS revenue
            FROM conversions GROUP BY user_key),
        touches AS (
            SELECT f.user_key, i.channel, f.revenue,
                   ROW_NUMBER() OVER (PARTITION BY f.user_key ORDER BY i.ts DESC, i.channel) AS rn
            FROM first_conversion f JOIN impressions i
              ON i.user_key = f.user_key AND i.ts < f.conv_ts
             AND i.ts >= f.conv_ts - INTERVAL 30 DAY)
        SELECT channel, COUNT(*) AS conversions, ROUND(SUM(revenue), 2) AS revenue
        FROM touches WHERE rn = 1 GROUP BY channel ORDER BY conversions DESC""",
    "Reach by campaign (a thirty-person pilot is withheld)": """
        SELECT campaign, COUNT(DISTINCT user_key) AS people
        FROM impressions WHERE channel = 'display' GROUP BY campaign ORDER BY campaign""",
}


def run_demo(*, people: int = 60_000, seed: int = 7, data_dir: Path | None = None,
             console: Console | None = None) -> dict[str, Answer]:
    console = console or Console()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cleanroom-demo-") as scratch:
        work = Path(scratch)
        root = data_dir or work / "data"
        files = _prepare_files(work, people=people, seed=seed, console=console)
        with _service(root) as (url, tokens):
            _upload(url, tokens, files, console)
            with Client(url, tokens["acme"], collaboration=COLLABORATION) as acme:
                results = {title: acme.query(sql) for title, sql in QUERIES.items()}
                results.update(_built_ins(acme))
        for title, answer in results.items():
            _print_result(console, title, answer)
    console.print(f"[bold green]demo finished in {time.perf_counter() - started:.1f} s[/]")
    return results


def _prepare_files(work: Path, *, people: int, seed: int, console: Console) -> dict[str, Path]:
    """Each party exports its data and pseudonymizes the email column with the shared salt."""
    data = generate(people, seed=seed)
    salt_file = work / "collaboration.salt"
    salt_file.write_text(secrets.token_hex(32))
    salt = read_salt(salt_file)
    files = {}
    for name, table in (("impressions", data.impressions), ("conversions", data.conversions)):
        raw = work / f"{name}-raw.csv"
        pacsv.write_csv(table.rename_columns(["user_key", *table.column_names[1:]]), raw)
        files[name] = work / f"{name}.csv"
        hash_file(raw, files[name], column="user_key", kind="email", salt=salt)
        raw.unlink()
    console.print(f"synthetic data: {people:,} people, {data.impressions.num_rows:,} exposures "
                  f"(streamco), {data.conversions.num_rows:,} orders (acme); emails pseudonymized "
                  "with HMAC-SHA256 and a shared salt")
    return files


EXAMPLE_POLICIES = Path(__file__).parent / "examples"


@contextmanager
def _service(root: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The service on a free loopback port, in a thread; the parties reach it through the
    Python client, as they would a deployed one."""
    store = Store(root)
    tokens = {p: store.issue_token(COLLABORATION, p) for p in ("acme", "streamco", "reviewer")}
    server = uvicorn.Server(uvicorn.Config(create_app(root, _policies_dir()), host="127.0.0.1",
                                           port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="cleanroom-demo", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the demo service did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _policies_dir() -> Path:
    """The example policy as package data (a copy of policies/acme-streamco.yaml, kept equal
    by a test): the demo runs from any directory of any install."""
    return EXAMPLE_POLICIES


def _upload(url: str, tokens: dict[str, str], files: dict[str, Path], console: Console) -> None:
    owners = {"impressions": "streamco", "conversions": "acme"}
    for name, path in files.items():
        with Client(url, tokens[owners[name]]) as provider:
            done = provider.upload(COLLABORATION, name, path)
        console.print(f"{owners[name]} uploaded {name}: {done.rows:,} rows, version {done.version}")


ATTRIBUTION_MODELS = {"last_touch": "Last touch", "linear": "Linear", "position_based":
                      "Position based (40/20/40)", "markov": "Markov (exact, order 1)",
                      "shapley": "Shapley (simplified)"}
ANALYTICS: dict[str, tuple[str, dict[str, Any]]] = {
    "overlap": ("Audience overlap: exposed people, buyers, both", {"a": "impressions", "b": "conversions"}),
    "reach-frequency": ("Reach and frequency distribution by channel",
                        {"dataset": "impressions", "dimension": "channel", "max_frequency": 4}),
}


def _built_ins(acme: Client) -> dict[str, Answer]:
    """The built-in attribution models and audience analytics, through the same gate."""
    results = {}
    for model, title in ATTRIBUTION_MODELS.items():
        results[f"Built-in attribution: {title}"] = acme.attribution(
            None, model, "impressions", "conversions", "channel", lookback_days=30)
    for name, (title, options) in ANALYTICS.items():
        results[title] = acme.analytics(name, options)
    return results


def _print_result(console: Console, title: str, answer: Answer) -> None:
    console.print(answer_table(answer, title=title))
    console.print(f"  suppressed rows (fewer than the policy's minimum people): "
                  f"{answer.suppressed_rows}\n")
