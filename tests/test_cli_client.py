"""The client commands (CONTRACT.md §5) as a user types them, against a live ``cleanroom serve``
on loopback: CLEANROOM_URL / CLEANROOM_TOKEN, every command, the formats, readable errors and
the exit codes (0 done, 1 refused or failed, 2 wrong usage)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cleanroom import formats
from tests.canary import CanaryData
from tests.conftest import COLLAB
from tests.live import CLI, Live, free_port, start

BY_CHANNEL = ("SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions "
              "GROUP BY channel ORDER BY channel")
CHANNELS = ["display", "email", "search", "social", "video"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, canary: CanaryData) -> Iterator[Live]:
    running = start(tmp_path_factory.mktemp("cli-client"), canary)
    yield next(running)
    running.close()


@pytest.fixture(scope="module")
def uploaded(live: Live) -> Live:
    for dataset, party in (("impressions", "streamco"), ("conversions", "acme")):
        done = cr(live, party, "upload", "-c", COLLAB, "--dataset", dataset,
                  str(live.files[dataset]))
        assert done.returncode == 0, done.stderr
        assert f"dataset: {dataset}\n" in done.stdout and "version: 1" in done.stdout
    return live


def cr(live: Live, party: str, *args: str, stdin: str | None = None,
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env=live.env(party), input=stdin)


def test_version() -> None:
    from cleanroom import __version__

    done = subprocess.run([*CLI, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"cleanroom {__version__}"


def test_upload_prints_dataset_rows_version(uploaded: Live, canary: CanaryData) -> None:
    done = cr(uploaded, "acme", "upload", "-c", COLLAB, "--dataset", "conversions",
              str(uploaded.files["conversions"]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["dataset: conversions",
                                        f"rows: {canary.conversions.num_rows}", "version: 2"]


def test_query_piped_is_csv(uploaded: Live) -> None:
    done = cr(uploaded, "acme", "query", "-c", COLLAB, BY_CHANNEL)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "channel,people" and [line.split(",")[0] for line in lines[1:]] == CHANNELS


def test_query_as_table(uploaded: Live) -> None:
    done = cr(uploaded, "acme", "query", "-c", COLLAB, "--format", "table", BY_CHANNEL)
    assert done.returncode == 0, done.stderr
    assert "channel" in done.stdout and "people" in done.stdout and "5 rows (5 exact)" in done.stdout
    assert all(c in done.stdout for c in CHANNELS) and "┃" in done.stdout  # rich's box


def test_query_json_and_file_and_stdin(uploaded: Live, tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text(BY_CHANNEL)
    by_file = cr(uploaded, "acme", "query", "-c", COLLAB, "--format", "json", "--file", str(sql))
    by_stdin = cr(uploaded, "acme", "query", "-c", COLLAB, "--format", "json", "-",
                  stdin=BY_CHANNEL)
    for done in (by_file, by_stdin):
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert body["columns"] == ["channel", "people"] and body["row_status"] == ["exact"] * 5


def test_query_to_files_in_every_format(uploaded: Live, tmp_path: Path) -> None:
    rows: dict[str, list[list[object]]] = {}
    for ext in ("csv", "json", "arrow", "parquet"):
        out = tmp_path / f"answer.{ext}"
        done = cr(uploaded, "acme", "query", "-c", COLLAB, "--output", str(out), BY_CHANNEL)
        assert done.returncode == 0, done.stderr
        media = {"csv": formats.CSV, "json": formats.JSON, "arrow": formats.ARROW,
                 "parquet": formats.PARQUET}[ext]
        rows[ext] = formats.decode(out.read_bytes(), media, {})["rows"]
    assert all(r == rows["json"] for r in rows.values()) and len(rows["json"]) == 5
    meta = pq.read_table(tmp_path / "answer.parquet").schema.metadata[formats.META_KEY]
    assert json.loads(meta)["row_status"] == ["exact"] * 5


def test_partial_rows_are_marked(uploaded: Live) -> None:
    sql = ("SELECT channel, COUNT(DISTINCT user_key) AS people, SUM(CASE WHEN campaign = "
           "'CANARYCAMP3' THEN cost END) AS rare FROM impressions GROUP BY channel")
    table = cr(uploaded, "acme", "query", "-c", COLLAB, "--format", "table", sql)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("withheld") == 5 and "status" in table.stdout
    assert "partial" in table.stdout
    csv = cr(uploaded, "acme", "query", "-c", COLLAB, "--format", "csv", sql)
    assert "partial" in csv.stderr and "withheld" in csv.stderr


def test_a_refusal_is_readable_and_exits_1(uploaded: Live) -> None:
    done = cr(uploaded, "acme", "query", "-c", COLLAB, "SELECT channel,\n user_key FROM impressions")
    assert done.returncode == 1 and done.stdout == ""
    assert "query_rejected" in done.stderr and "user_key_output" in done.stderr
    assert "line 2" in done.stderr and "hint:" in done.stderr
    assert '{"error"' not in done.stderr


def test_check_shows_the_sql_that_would_run(uploaded: Live) -> None:
    accepted = cr(uploaded, "acme", "check", "-c", COLLAB, BY_CHANNEL)
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted" in accepted.stdout and "SQL that would run" in accepted.stdout
    assert "impressions" in accepted.stdout.split("SQL that would run")[1]
    rejected = cr(uploaded, "acme", "check", "-c", COLLAB, "SELECT user_key FROM conversions")
    assert rejected.returncode == 1 and "user_key_output" in rejected.stderr
    assert "line 1, column 8" in rejected.stderr


def test_datasets_budget_audit_tables(uploaded: Live, canary: CanaryData) -> None:
    datasets = cr(uploaded, "reviewer", "datasets", "-c", COLLAB)
    assert datasets.returncode == 0, datasets.stderr
    assert "impressions" in datasets.stdout and "streamco" in datasets.stdout
    assert f"{canary.impressions.num_rows:,}" in datasets.stdout and "cost (metric)" in datasets.stdout
    # epsilon 1: groups of ~650 people are selected for release all but surely
    noised = cr(uploaded, "acme", "query", "-c", COLLAB, "--epsilon", "1", "--format", "table",
                BY_CHANNEL)
    assert noised.returncode == 0 and noised.stdout.count("noised") >= 2  # a row + the summary
    assert re.search(r"~[\d,]+ \[[\d,]+, [\d,]+\]", noised.stdout)  # the value and its interval
    budget = cr(uploaded, "acme", "budget", "-c", COLLAB)
    assert budget.returncode == 0, budget.stderr
    assert "epsilon_remaining" in budget.stdout and "charges" in budget.stdout
    audit = cr(uploaded, "reviewer", "audit", "-c", COLLAB, "--action", "upload")
    assert audit.returncode == 0, audit.stderr
    actions = set(re.findall(r"│ (\w+)\s+│ (?:accepted|rejected|refused|failed)", audit.stdout))
    assert actions == {"upload"}


def test_attribution_and_analytics_commands(uploaded: Live) -> None:
    done = cr(uploaded, "acme", "attribution", "-c", COLLAB, "--model", "linear", "--touchpoints",
              "impressions", "--conversions", "conversions", "--dimension", "channel",
              "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("channel,")
    overlap = cr(uploaded, "acme", "analytics", "overlap", "-c", COLLAB, "--a", "impressions",
                 "--b", "conversions", "--format", "table")
    assert overlap.returncode == 0 and "impressions & conversions" in overlap.stdout


def test_policy_command_surfaces_the_missing_route(uploaded: Live) -> None:
    done = cr(uploaded, "reviewer", "policy", "show", "-c", COLLAB)
    assert done.returncode == 1 and "not_found" in done.stderr and "404" in done.stderr


@pytest.mark.parametrize("args", [
    ["query", "-c", COLLAB],  # no SQL
    ["query", "-c", COLLAB, "--file", "x.sql", "SELECT 1"],  # both
    ["query", "-c", COLLAB, "--format", "xml", "SELECT 1"],
    ["upload", "-c", COLLAB, "--dataset", "conversions", "conversions.txt"],
    ["query", "SELECT 1"],  # no collaboration
])
def test_wrong_usage_exits_2(live: Live, args: list[str]) -> None:
    done = cr(live, "acme", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)


def test_no_token_is_wrong_usage(live: Live) -> None:
    env = {k: v for k, v in live.env("acme").items() if k != "CLEANROOM_TOKEN"}
    done = subprocess.run([*CLI, "budget", "-c", COLLAB], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 2 and "--token" in done.stderr


def test_bad_token_and_unreachable_service_exit_1(live: Live) -> None:
    env = {**live.env("acme"), "CLEANROOM_TOKEN": "crt_wrong"}
    bad = subprocess.run([*CLI, "budget", "-c", COLLAB], capture_output=True, text=True,
                         timeout=60, env=env)
    assert bad.returncode == 1 and "unauthorized" in bad.stderr and "401" in bad.stderr
    down = cr(live, "acme", "budget", "-c", COLLAB, "--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1 and "cannot reach" in down.stderr


def test_upload_parquet_with_a_progress_bar(tmp_path: Path, canary: CanaryData) -> None:
    """A Parquet file (type from the extension) of over 1 MiB: the bar is drawn on stderr,
    stdout keeps the three lines. Its own service: the data it uploads is 40 times the canary's."""
    import pyarrow as pa

    big = pa.concat_tables([canary.impressions] * 40)
    path = tmp_path / "impressions.parquet"
    pq.write_table(big, path, compression="none")
    assert path.stat().st_size > 1024 * 1024
    running = start(tmp_path / "srv", canary)
    server = next(running)
    try:
        done = cr(server, "streamco", "upload", "-c", COLLAB, "--dataset", "impressions", str(path))
        info = json.loads(cr(server, "streamco", "datasets", "-c", COLLAB, "--json").stdout)
    finally:
        running.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["dataset: impressions", f"rows: {big.num_rows}",
                                        "version: 1"]
    assert info["datasets"]["impressions"]["rows"] == big.num_rows
    assert "uploading" in done.stderr and "MB" in done.stderr
