"""Magnitude packing (issue 8, 4a): one sum over everyone that carries a small group's size or
metric in its high digits. Every attack in attacks.sql with a ``decode: N`` line is run twice:
straight on DuckDB, where floor(answer / N) must equal the hidden truth (the attack is real),
and through the service, where it must be refused or release nothing that decodes to it."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from tests.conftest import Harness
from tests.gate.corpus import Entry, load

PACKING = [e for e in load("attacks.sql") if e.get("decode")]


def _decode(value: Any, scale: float) -> int | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return math.floor(value / scale)


def test_packing_corpus_covers_the_variants() -> None:
    assert len(PACKING) >= 15


@pytest.mark.parametrize("entry", PACKING, ids=[e.name for e in PACKING])
def test_packed_value_is_not_decoded(loaded: Harness, raw: duckdb.DuckDBPyConnection,
                                     entry: Entry) -> None:
    scale = float(entry.get("decode"))
    truth = raw.execute(entry.get("truth")).fetchone()[0]
    assert truth and _decode(raw.execute(entry.sql).fetchone()[0], scale) == truth
    response = loaded.query(entry.sql)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        return
    decoded = [_decode(v, scale) for row in response.json()["rows"] for v in row]
    assert truth not in decoded, decoded
