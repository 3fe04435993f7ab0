"""Every attack in attacks.sql goes through the HTTP service: whatever the status, the body
holds no canary the SQL did not contain, a refusal has the contract's error shape, nothing
answers 5xx; attacks marked ``rejected`` are refused by the gate, those marked ``no_rows``
release no value (no row, or only NULLs where a thresholded scalar subquery stood), those marked
``withheld`` release no value in the columns they name (each such cell NULL and listed in
``withheld_cells``; the row's other cells may stand). At the end,
the audit log holds no canary either."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.canary import CanaryData
from tests.conftest import COLLAB, Harness
from tests.gate.corpus import Entry, expand, load

ATTACKS = load("attacks.sql")
FAMILIES = {"direct_projection", "hidden_projection", "shorthand", "member_aggregate", "targeting",
            "identifier_groups", "small_groups", "subthreshold_expressions", "oracles",
            "files_catalog_state", "joins_not_on_user_key", "resource_exhaustion",
            "metric_extraction", "naming", "other"}
SENT: list[str] = []


def assert_error_shape(body: dict[str, Any]) -> None:
    """The contract's refusal: {"error": {"code", "message", "violations": [{"rule", "message"}]}}."""
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert isinstance(error["violations"], list)
    for v in error["violations"]:
        assert isinstance(v["rule"], str) and isinstance(v["message"], str)


def test_attack_corpus_covers_every_family() -> None:
    counts = Counter(e.get("family") for e in ATTACKS)
    assert set(counts) == FAMILIES
    assert len(ATTACKS) >= 150
    assert min(counts.values()) >= 10


@pytest.mark.parametrize("entry", ATTACKS, ids=[e.name for e in ATTACKS])
def test_attack_leaks_nothing(loaded: Harness, canary: CanaryData, entry: Entry) -> None:
    sql = expand(entry.sql)
    SENT.append(sql)
    response = loaded.query(sql)
    assert response.status_code < 500, response.text
    assert canary.leaks(response.text, sql) == []
    body = response.json()
    if response.status_code != 200:
        assert_error_shape(body)
    expect = entry.get("expect")
    if expect == "rejected":
        assert response.status_code == 422 and body["error"]["code"] == "query_rejected", body
    elif expect == "no_rows":
        released = [v for row in body.get("rows", []) for v in row if v is not None]
        assert response.status_code != 200 or released == [], body
    elif expect == "withheld":
        assert_withheld(response.status_code, body, entry.get("withheld").split(","))
    else:
        assert expect == "", expect


def assert_withheld(status: int, body: dict[str, Any], names: list[str]) -> None:
    """Every cell of the named columns is NULL, flagged, and its row partial."""
    if status != 200:
        return
    columns = [body["columns"].index(n.strip()) for n in names]
    flagged = {tuple(c) for c in body["withheld_cells"]}
    for i, row in enumerate(body["rows"]):
        for j in columns:
            assert row[j] is None and (i, j) in flagged, body
            assert body["row_status"][i] == "partial", body


def test_audit_log_leaks_nothing(loaded: Harness, canary: CanaryData) -> None:
    response = loaded.client.get(f"/v1/collaborations/{COLLAB}/audit",
                                 headers=loaded.auth("reviewer"))
    assert response.status_code == 200
    # The analysts' own SQL is theirs: every query any test sent on this session-wide harness
    # (other modules too, in whatever order) is taken out of the text, the rest must hold none.
    sent = "\n".join(SENT + [str(e["detail"].get("sql", "")) for e in response.json()["entries"]
                             if isinstance(e.get("detail"), dict)])
    assert canary.leaks(response.text, sent) == []
