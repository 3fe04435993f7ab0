"""Every legitimate query in accept.sql is accepted and returns the same numbers as the same
SQL run straight on DuckDB, but for the rows that stand on fewer than 50 people.

Floats are compared with a relative tolerance of 1e-9: the rewrite may sum the same values in
another order (DuckDB aggregates in parallel), which changes only the last bits."""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb
import pytest

from cleanroom.release import json_value
from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.corpus import Entry, load

ACCEPT = load("accept.sql")


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(json_value(value)))


class _Withheld:
    """A cell the release withheld (null, listed in withheld_cells): it matches any raw value."""


WITHHELD = _Withheld()


def _same(a: Any, b: Any) -> bool:
    if a is WITHHELD:
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _matched(released: list[list[Any]], raw_rows: list[list[Any]], *, ordered: bool) -> bool:
    """Each released row equals a distinct raw row (in the same order when ``ordered``)."""
    used: set[int] = set()
    start = 0
    for row in released:
        candidates = range(start, len(raw_rows)) if ordered else range(len(raw_rows))
        hit = next((i for i in candidates if i not in used and _same(row, raw_rows[i])), None)
        if hit is None:
            return False
        used.add(hit)
        start = hit + 1
    return True


def test_accept_corpus_is_large_enough() -> None:
    assert len(ACCEPT) >= 40


@pytest.mark.parametrize("entry", ACCEPT, ids=[e.name for e in ACCEPT])
def test_accepted_with_correct_numbers(loaded: Harness, raw: duckdb.DuckDBPyConnection,
                                       canary: CanaryData, entry: Entry) -> None:
    response = loaded.query(entry.sql)
    assert response.status_code == 200, response.text
    body = response.json()
    assert canary.leaks(response.text, entry.sql) == []
    raw_rows = [[_plain(v) for v in row] for row in raw.execute(entry.sql).fetchall()]
    released, suppressed = body["rows"], body["suppressed_rows"]
    # "partial: N" states the rows released with withheld cells (cell-level release).
    partial = [i for i, status in enumerate(body["row_status"]) if status == "partial"]
    assert len(partial) == int(entry.get("partial", "0")), body
    for row, column in body["withheld_cells"]:
        assert row in partial and released[row][column] is None
        released[row][column] = WITHHELD
    if entry.get("limit"):
        assert _matched(released, raw_rows, ordered=True) and len(released) == len(raw_rows)
        return
    # "suppressed: N" states the rows withheld; suppressed_rows counts only those standing on at
    # least half the threshold (release.count_withheld; pinned in tests/test_release.py).
    withheld = int(entry.get("suppressed", "0"))
    assert 0 <= suppressed <= withheld
    expected = len(raw_rows) - int(entry.get("dropped", "0")) + int(entry.get("held_back", "0"))
    assert len(released) + withheld == expected
    assert _matched(released, raw_rows, ordered=bool(entry.get("ordered"))), (released, raw_rows)
