"""Every example query is accepted by the gate and answers on the canary data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.canary import CanaryData
from tests.conftest import Harness

EXAMPLES = sorted((Path(__file__).parents[1] / "examples" / "queries").glob("*.sql"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_query_runs(loaded: Harness, canary: CanaryData, path: Path) -> None:
    sql = path.read_text()
    response = loaded.query(sql)
    assert response.status_code == 200, response.text
    assert response.json()["rows"]
    assert canary.leaks(response.text, sql) == []
