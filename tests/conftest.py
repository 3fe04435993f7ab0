"""Shared fixtures: one ``make_client(**settings)`` factory for API tests, and a session-wide
service loaded with canary data for read-only query tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cleanroom.api import create_app
from cleanroom.settings import Settings
from cleanroom.store import Store
from tests.canary import CanaryData, make_canary_data

POLICIES = Path(__file__).parent / "fixtures" / "policies"
COLLAB = "acme-streamco"


@dataclass
class Harness:
    client: TestClient
    tokens: dict[str, str]
    data_dir: Path

    def auth(self, party: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[party]}"}

    def upload(self, dataset: str, body: bytes, *, party: str, content_type: str = "text/csv",
               collab: str = COLLAB) -> Any:
        return self.client.put(f"/v1/collaborations/{collab}/datasets/{dataset}", content=body,
                               headers={**self.auth(party), "Content-Type": content_type})

    def query(self, sql: str, *, party: str = "acme", epsilon: float | None = None,
              collab: str = COLLAB) -> Any:
        body: dict[str, Any] = {"sql": sql}
        if epsilon is not None:
            body["epsilon"] = epsilon
        return self.client.post(f"/v1/collaborations/{collab}/queries", json=body,
                                headers=self.auth(party))

    def check(self, sql: str, *, party: str = "acme") -> Any:
        return self.client.post(f"/v1/collaborations/{COLLAB}/queries/check", json={"sql": sql},
                                headers=self.auth(party))


def make_client(data_dir: Path, *, policies: Path = POLICIES, **settings: Any) -> Harness:
    """A service on ``data_dir`` with a token for every party of the test policies."""
    app = create_app(data_dir, policies, settings=Settings(**settings))
    store = Store(data_dir)
    tokens = {p: store.issue_token(COLLAB, p) for p in ("acme", "streamco", "reviewer")}
    tokens["globex"] = store.issue_token("other-collab", "globex")
    return Harness(TestClient(app, raise_server_exceptions=False), tokens, data_dir)


@pytest.fixture(scope="session")
def canary() -> CanaryData:
    return make_canary_data()


@pytest.fixture(scope="session")
def loaded(tmp_path_factory: pytest.TempPathFactory, canary: CanaryData) -> Iterator[Harness]:
    """A service with the canary data uploaded by its providers (read-only use)."""
    root = tmp_path_factory.mktemp("loaded")
    files = canary.write(root / "files")
    harness = make_client(root / "data")
    for name, party in (("impressions", "streamco"), ("conversions", "acme")):
        response = harness.upload(name, files[name].read_bytes(), party=party)
        assert response.status_code == 201, response.text
    with harness.client:
        yield harness


@pytest.fixture
def fresh(tmp_path: Path) -> Harness:
    return make_client(tmp_path / "data")


def with_person_counts(con: Any, table: str, counted: tuple[str, ...] = ("channel", "campaign"),
                       key: str = "user_key") -> None:
    """The stats view of a plain table (``hidden.py``: what a sandbox gives DP bounding), for
    tests that run a bounded query on a connection of their own."""
    from cleanroom.engine.duckdb import counted_view_sql
    from cleanroom.hidden import stats_view

    columns = [r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()]
    con.execute(counted_view_sql(stats_view(table), f"SELECT * FROM {table}", columns, key,
                                 tuple(c for c in counted if c in columns)))
