"""The sandbox around accepted SQL: a runaway query ends as query_failed under the time limit
while the service keeps answering; inside the sandbox files, network and settings are closed."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cleanroom.engine import ColumnSpec, Limits, TableSpec, sandbox
from tests.canary import CanaryData
from tests.conftest import Harness, make_client

# Accepted by the gate (every join is on user_key) but n^13 rows per person.
EXPLODE = ("SELECT COUNT(*) AS n FROM impressions a "
           + " ".join(f"JOIN impressions t{i} ON a.user_key = t{i}.user_key" for i in range(12)))
# A Cartesian product of thresholded aggregates (24 hours): 24^8 rows.
WIDE = ("WITH a AS (SELECT date_part('hour', ts) AS h, COUNT(*) AS n FROM impressions GROUP BY 1) "
        "SELECT COUNT(*) AS pairs FROM a a0 "
        + " ".join(f"CROSS JOIN a a{i}" for i in range(1, 8)))


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory, canary: CanaryData) -> Any:
    root = tmp_path_factory.mktemp("slow")
    files = canary.write(root / "files")
    harness = make_client(root / "data", limits=Limits(timeout_s=1.0))
    for name, party in (("impressions", "streamco"), ("conversions", "acme")):
        assert harness.upload(name, files[name].read_bytes(), party=party).status_code == 201
    with harness.client:
        yield harness


def test_runaway_join_fails_cleanly_while_the_service_answers(slow: Harness) -> None:
    assert slow.check(EXPLODE).json()["decision"] == "accepted"
    outcome: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: outcome.update(r=slow.query(EXPLODE)))
    started = time.monotonic()
    worker.start()
    time.sleep(0.2)
    assert slow.client.get("/healthz").status_code == 200
    other = slow.query("SELECT COUNT(*) AS n FROM conversions")
    assert other.status_code == 200 and other.json()["rows"]
    worker.join(timeout=30)
    assert not worker.is_alive()
    response = outcome["r"]
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "query_failed"
    assert time.monotonic() - started < 15


def test_cartesian_product_of_aggregates_times_out(slow: Harness) -> None:
    response = slow.query(WIDE)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "query_failed"
    assert slow.query("SELECT COUNT(*) AS n FROM impressions").status_code == 200


@pytest.fixture
def locked(tmp_path: Path) -> Any:
    path = tmp_path / "t.parquet"
    duckdb.connect().execute(f"COPY (SELECT 'k' AS user_key, 1.5 AS cost) TO '{path}' (FORMAT parquet)")
    spec = TableSpec("t", path, (ColumnSpec("user_key", "VARCHAR"),
                                 ColumnSpec("cost", "DOUBLE", (0.0, 1.0))))
    with sandbox([spec], Limits(timeout_s=5.0)) as con:
        yield con


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM glob('/*')",
    "COPY (SELECT 1) TO '/tmp/cleanroom-sandbox-escape.csv'",
    "ATTACH '/tmp/cleanroom-sandbox-escape.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET memory_limit = '100GB'",
    "SET threads = 64",
    "RESET allowed_paths",
])
def test_sandbox_blocks_files_network_and_settings(locked: duckdb.DuckDBPyConnection,
                                                   sql: str) -> None:
    with pytest.raises(duckdb.Error):
        locked.execute(sql).fetchall()
    assert not Path("/tmp/cleanroom-sandbox-escape.csv").exists()


def test_sandbox_views_clamp_metrics(locked: duckdb.DuckDBPyConnection) -> None:
    assert locked.execute("SELECT cost FROM t").fetchall() == [(1.0,)]
