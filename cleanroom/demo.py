"""``cleanroom demo``: the main job end to end on the embedded default.

Two parties pseudonymize synthetic data with a shared salt, upload it to a service started
in-process, and an analyst runs gated queries; the results are printed as tables.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from cleanroom.api import create_app
from cleanroom.pseudonym import hash_file, read_salt
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
             console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cleanroom-demo-") as scratch:
        work = Path(scratch)
        root = data_dir or work / "data"
        files = _prepare_files(work, people=people, seed=seed, console=console)
        client, tokens = _start_service(root)
        with client:
            _upload(client, tokens, files, console)
            results = {title: _query(client, tokens["acme"], sql) for title, sql in QUERIES.items()}
            results.update(_built_ins(client, tokens["acme"]))
        for title, body in results.items():
            _print_result(console, title, body)
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


def _start_service(root: Path) -> tuple[TestClient, dict[str, str]]:
    policies = _policies_dir()
    store = Store(root)
    tokens = {p: store.issue_token(COLLABORATION, p) for p in ("acme", "streamco", "reviewer")}
    return TestClient(create_app(root, policies)), tokens


def _policies_dir() -> Path:
    """The example policy as package data (a copy of policies/acme-streamco.yaml, kept equal
    by a test): the demo runs from any directory of any install."""
    return EXAMPLE_POLICIES


def _upload(client: TestClient, tokens: dict[str, str], files: dict[str, Path],
            console: Console) -> None:
    owners = {"impressions": "streamco", "conversions": "acme"}
    for name, path in files.items():
        response = client.put(f"/v1/collaborations/{COLLABORATION}/datasets/{name}",
                              content=path.read_bytes(),
                              headers={"Authorization": f"Bearer {tokens[owners[name]]}",
                                       "Content-Type": "text/csv"})
        response.raise_for_status()
        body = response.json()
        console.print(f"{owners[name]} uploaded {name}: {body['rows']:,} rows, version {body['version']}")


ATTRIBUTION_MODELS = {"last_touch": "Last touch", "linear": "Linear", "position_based":
                      "Position based (40/20/40)", "markov": "Markov (exact, order 1)",
                      "shapley": "Shapley (simplified)"}
ANALYTICS: dict[str, tuple[str, dict[str, Any]]] = {
    "overlap": ("Audience overlap: exposed people, buyers, both", {"a": "impressions", "b": "conversions"}),
    "reach-frequency": ("Reach and frequency distribution by channel",
                        {"dataset": "impressions", "dimension": "channel", "max_frequency": 4}),
}


def _built_ins(client: TestClient, token: str) -> dict[str, dict[str, Any]]:
    """The built-in attribution models and audience analytics, through the same gate."""
    results = {}
    for model, title in ATTRIBUTION_MODELS.items():
        body = {"model": model, "touchpoints": "impressions", "conversions": "conversions",
                "lookback_days": 30, "dimension": "channel"}
        results[f"Built-in attribution: {title}"] = _post(client, token, "attribution", body)
    for name, (title, options) in ANALYTICS.items():
        results[title] = _post(client, token, f"analytics/{name}", options)
    return results


def _post(client: TestClient, token: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/v1/collaborations/{COLLABORATION}/{route}", json=body,
                           headers={"Authorization": f"Bearer {token}"})
    answer: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"demo request refused: {answer}")
    return answer


def _query(client: TestClient, token: str, sql: str) -> dict[str, Any]:
    response = client.post(f"/v1/collaborations/{COLLABORATION}/queries", json={"sql": sql},
                           headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"demo query refused: {body}")
    return body


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _print_result(console: Console, title: str, body: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left")
    for column in body["columns"]:
        table.add_column(column, justify="left" if column in ("channel", "campaign") else "right")
    for row in body["rows"]:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    console.print(f"  suppressed rows (fewer than the policy's minimum people): "
                  f"{body['suppressed_rows']}\n")
